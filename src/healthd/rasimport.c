/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Import of an existing rasdaemon database (its SQLite file, /var/lib/rasdaemon/ras-mc_event.db):
 * the tables mc_event, mce_record, aer_event, arm_event, non_standard_event and mf_event, read by
 * column name (rasdaemon's columns changed across versions; a missing one is NULL), each row one
 * HealthLog event with source "rasdaemon". The last imported id of each table is kept in the
 * HealthLog's state, so importing again adds only the new rows. */
#include <sqlite3.h>
#include <time.h>

#include "uni-healthd.h"

int rasdaemon_time(const char *s, int64_t *ret) {
    struct tm tm;
    const char *end;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
    if (!end)
        return -EBADMSG;
    t = timegm(&tm);
    while (*end == ' ')
        end++;
    /* "+0100": the zone the row was written in. */
    if ((*end == '+' || *end == '-') && strlen(end) >= 5) {
        unsigned hh, mm;
        char h[3] = {end[1], end[2], 0}, m[3] = {end[3], end[4], 0};
        if (safe_atou(h, &hh) < 0 || safe_atou(m, &mm) < 0 || hh > 14 || mm > 59)
            return -EBADMSG;
        t -= (time_t)(*end == '+' ? 1 : -1) * (time_t)(hh * 3600 + mm * 60);
    } else if (*end)
        return -EBADMSG;
    *ret = (int64_t)t * 1000;
    return 0;
}

typedef struct {
    sqlite3_stmt *st;
    int ncol;
} row;

static int col(const row *r, const char *name) {
    for (int i = 0; i < r->ncol; i++)
        if (streq(sqlite3_column_name(r->st, i), name))
            return i;
    return -1;
}

static bool get_i(const row *r, const char *name, int64_t *ret) {
    int i = col(r, name);
    if (i < 0 || sqlite3_column_type(r->st, i) == SQLITE_NULL)
        return false;
    *ret = sqlite3_column_int64(r->st, i);
    return true;
}

static const char *get_s(const row *r, const char *name) {
    int i = col(r, name);
    return i < 0 ? NULL : (const char *)sqlite3_column_text(r->st, i);
}

static void copy(char *dst, size_t len, const char *s) {
    snprintf(dst, len, "%s", s ? s : "");
}

/* rasdaemon's words for severities: "Corrected", "Uncorrected", "Uncorrected (Non-Fatal)", ... */
static const char *severity_of(const char *t) {
    if (!t)
        return NULL;
    if (strcasestr(t, "fatal") && !strcasestr(t, "non-fatal"))
        return "fatal";
    if (strcasestr(t, "uncorrect"))
        return "uncorrected";
    if (strcasestr(t, "correct"))
        return "corrected";
    if (strcasestr(t, "deferred"))
        return "deferred";
    return "info";
}

/* One row of table @table into @o. */
static void convert(const char *table, const row *rw, ras_record *o) {
    int64_t v, id = 0;
    hl_event *e = &o->ev;

    memset(o, 0, sizeof(*o));
    (void)get_i(rw, "id", &id);
    e->source = "rasdaemon";
    HL_SET(e, counted, 1);
    HL_SET(e, count, 1);
    if (streq(table, "mc_event")) {
        const char *label = get_s(rw, "label");
        e->class = "memory";
        e->component = "dram";
        e->severity = severity_of(get_s(rw, "err_type"));
        if (get_i(rw, "err_count", &v) && v > 0)
            HL_SET(e, count, v);
        if (get_i(rw, "mc", &v))
            HL_SET(e, mc, v);
        if (label && *label && !strstr(label, "any memory") && !strstr(label, "unknown memory") &&
            !strstr(label, " or ")) {
            copy(o->dimm, sizeof(o->dimm), label);
            hl_label_sanitize(o->dimm);
            e->dimm = o->dimm;
        }
        if (get_i(rw, "address", &v) && v)
            HL_SET(e, address, v);
        if (get_i(rw, "syndrome", &v) && v)
            HL_SET(e, syndrome, v);
        copy(o->message, sizeof(o->message), get_s(rw, "err_msg"));
        e->bits = ras_bits_from_text(o->message);
        snprintf(o->location, sizeof(o->location), "mc%lld layers %lld:%lld:%lld",
                 (long long)(get_i(rw, "mc", &v) ? v : -1), (long long)(get_i(rw, "top_layer", &v) ? v : -1),
                 (long long)(get_i(rw, "middle_layer", &v) ? v : -1),
                 (long long)(get_i(rw, "lower_layer", &v) ? v : -1));
        e->location = o->location;
    } else if (streq(table, "mce_record")) {
        int64_t status = 0, mcgcap = 0, vendor = MCA_VENDOR_UNKNOWN, addr = 0;
        mca_decoded d;
        (void)get_i(rw, "status", &status);
        (void)get_i(rw, "mcgcap", &mcgcap);
        (void)get_i(rw, "cpuvendor", &vendor);
        mca_decode((uint64_t)status, (uint64_t)mcgcap, 0, (int)vendor, &d);
        e->component = d.component;
        e->class = hl_class_of_component(d.component);
        e->severity = d.severity;
        HL_SET(e, mca_status, status);
        if (get_i(rw, "cpu", &v))
            HL_SET(e, cpu, v);
        if (get_i(rw, "socketid", &v))
            HL_SET(e, socket, v);
        if (get_i(rw, "bank", &v))
            HL_SET(e, bank, v);
        if (d.addrv && get_i(rw, "addr", &addr))
            HL_SET(e, address, addr);
        if (d.miscv && get_i(rw, "misc", &v))
            HL_SET(e, mca_misc, v);
        if (d.have_count && d.corrected_count > 0)
            HL_SET(e, count, (int64_t)d.corrected_count);
        copy(o->message, sizeof(o->message), d.desc);
        snprintf(o->detail, sizeof(o->detail), "%s%s%s", get_s(rw, "error_msg") ? get_s(rw, "error_msg") : "",
                 get_s(rw, "mcistatus_msg") ? "; " : "", get_s(rw, "mcistatus_msg") ? get_s(rw, "mcistatus_msg") : "");
    } else if (streq(table, "aer_event")) {
        e->class = "pcie";
        e->component = "pcie";
        e->severity = severity_of(get_s(rw, "err_type"));
        copy(o->device, sizeof(o->device), get_s(rw, "dev_name"));
        e->device = o->device;
        snprintf(o->message, sizeof(o->message), "PCIe %s error on %s: %s", e->severity ? e->severity : "", o->device,
                 get_s(rw, "err_msg") ? get_s(rw, "err_msg") : "");
    } else if (streq(table, "arm_event")) {
        e->class = "cpu";
        e->component = "core";
        if (get_i(rw, "error_count", &v) && v > 0)
            HL_SET(e, count, v);
        snprintf(o->message, sizeof(o->message), "ARM processor error on MPIDR 0x%llx",
                 (unsigned long long)(get_i(rw, "mpidr", &v) ? v : 0));
    } else if (streq(table, "non_standard_event")) {
        e->class = "platform";
        e->severity = severity_of(get_s(rw, "severity"));
        snprintf(o->message, sizeof(o->message), "non-standard error section %s%s%s",
                 get_s(rw, "sec_type") ? get_s(rw, "sec_type") : "?", get_s(rw, "fru_text") ? " from " : "",
                 get_s(rw, "fru_text") ? get_s(rw, "fru_text") : "");
    } else { /* mf_event */
        e->class = "memory";
        e->severity = "info";
        HL_SET(e, counted, 0);
        snprintf(o->message, sizeof(o->message), "the kernel's memory-failure recovery of page frame %s (%s): %s",
                 get_s(rw, "pfn") ? get_s(rw, "pfn") : "?", get_s(rw, "page_type") ? get_s(rw, "page_type") : "?",
                 get_s(rw, "action_result") ? get_s(rw, "action_result") : "?");
    }
    e->message = *o->message ? o->message : NULL;
    {
        size_t l = strlen(o->detail);
        snprintf(o->detail + l, sizeof(o->detail) - l, "%srasdaemon %s id %lld", l ? "; " : "", table, (long long)id);
    }
    e->detail = o->detail;
}

int64_t rasdaemon_import(hl_db *db, const char *path, char *why, size_t wl) {
    static const char *const tables[] = {"mc_event",  "mce_record",         "aer_event",
                                         "arm_event", "non_standard_event", "mf_event"};
    sqlite3 *src = NULL;
    int64_t total = 0;
    int r = 0;
    bool mem = false, cpu = false;

    if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(why, wl, "%s: %s", path, src ? sqlite3_errmsg(src) : "cannot open");
        sqlite3_close(src);
        return -ENOENT;
    }
    sqlite3_busy_timeout(src, 5000);
    if ((r = hl_begin(db)) < 0) {
        snprintf(why, wl, "%s", hl_errmsg(db));
        sqlite3_close(src);
        return r;
    }
    for (size_t t = 0; t < ELEMENTSOF(tables) && r >= 0; t++) {
        char sql[160], key[PATH_MAX + 64];
        row rw = {0};
        int64_t last = 0, id;
        ras_record rec;
        int rc;

        snprintf(sql, sizeof(sql), "SELECT * FROM %s WHERE id > ? ORDER BY id", tables[t]);
        if (sqlite3_prepare_v2(src, sql, -1, &rw.st, NULL) != SQLITE_OK)
            continue; /* this rasdaemon did not have the table */
        if (t == 0)
            mem = true;
        else if (t == 1 || t == 3)
            cpu = true;
        snprintf(key, sizeof(key), "import.rasdaemon:%s:%s", path, tables[t]);
        (void)hl_state_get(db, key, &last);
        sqlite3_bind_int64(rw.st, 1, last);
        rw.ncol = sqlite3_column_count(rw.st);
        while ((rc = sqlite3_step(rw.st)) == SQLITE_ROW && r >= 0) {
            const char *ts = get_s(&rw, "timestamp");
            int64_t ms;
            convert(tables[t], &rw, &rec);
            if (!ts || rasdaemon_time(ts, &ms) < 0) {
                int64_t w;
                ms = get_i(&rw, "walltime", &w) ? w * 1000 : 0;
            }
            HL_SET(&rec.ev, time_ms, ms);
            r = hl_insert_event(db, &rec.ev);
            if (r >= 0 && get_i(&rw, "id", &id))
                last = id;
            total++;
        }
        if (r >= 0 && rc != SQLITE_DONE && rc != SQLITE_ROW) {
            snprintf(why, wl, "%s: reading %s: %s", path, tables[t], sqlite3_errmsg(src));
            r = -EIO;
        }
        sqlite3_finalize(rw.st);
        if (r >= 0)
            r = hl_state_set(db, key, last);
    }
    /* The imported host had these sources: its counts are real zeros, not unknowns. */
    if (r >= 0 && mem)
        r = hl_state_set(db, "cap.memory.imported", 1);
    if (r >= 0 && cpu)
        r = hl_state_set(db, "cap.cpu.imported", 1);
    if (r < 0) {
        if (!*why)
            snprintf(why, wl, "%s", hl_errmsg(db));
        hl_rollback(db);
        sqlite3_close(src);
        return r;
    }
    sqlite3_close(src);
    if ((r = hl_commit(db)) < 0) {
        snprintf(why, wl, "%s", hl_errmsg(db));
        return r;
    }
    return total;
}
