/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HealthLog's queries: events by filter, counts, links to VMs, and events as the API's
 * records. */
#include "healthlog_internal.h"

/* ---------------------------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------------------------- */

void hl_filter_init(hl_filter *f) {
    memset(f, 0, sizeof(*f));
    f->cpu = -1;
    f->since_ms = INT64_MIN;
}

typedef struct {
    int kind; /* 0 int, 1 text */
    int64_t i;
    const char *s;
} bindv;

static void where(const hl_filter *f, sbuf *b, bindv *v, int *nv) {
    hl_sb_add(b, " WHERE 1");
    if (f->since_ms != INT64_MIN) {
        hl_sb_add(b, " AND time_ms >= ?");
        v[(*nv)++] = (bindv){0, f->since_ms, NULL};
    }
    if (f->after_id > 0) {
        hl_sb_add(b, " AND id > ?");
        v[(*nv)++] = (bindv){0, f->after_id, NULL};
    }
    if (f->class) {
        hl_sb_add(b, f->with_actions ? " AND (class = ? OR class = 'action')" : " AND class = ?");
        v[(*nv)++] = (bindv){1, 0, f->class};
    }
    if (f->action) {
        hl_sb_add(b, " AND action = ?");
        v[(*nv)++] = (bindv){1, 0, f->action};
    }
    if (f->dimm) {
        hl_sb_add(b, " AND dimm = ?");
        v[(*nv)++] = (bindv){1, 0, f->dimm};
    }
    if (f->cpu >= 0) {
        hl_sb_add(b, " AND cpu = ?");
        v[(*nv)++] = (bindv){0, f->cpu, NULL};
    }
    if (f->addr_hi > f->addr_lo) {
        hl_sb_add(b, " AND address >= ? AND address < ?");
        v[(*nv)++] = (bindv){0, f->addr_lo, NULL};
        v[(*nv)++] = (bindv){0, f->addr_hi, NULL};
    }
    if (f->severities == HL_SEV_CORRECTED)
        hl_sb_add(b, " AND severity = 'corrected'");
    else if (f->severities == HL_SEV_UNCORRECTED)
        hl_sb_add(b, " AND severity IN ('uncorrected', 'deferred', 'fatal')");
    if (f->counted_only)
        hl_sb_add(b, " AND counted = 1");
}

static int prepare_filtered(hl_db *db, sbuf *b, const bindv *v, int nv, sqlite3_stmt **st) {
    int r;
    if (b->oom)
        return -ENOMEM;
    if ((r = hl_prepare(db, b->s, st)) < 0)
        return r;
    for (int i = 0; i < nv; i++) {
        if (v[i].kind == 0)
            sqlite3_bind_int64(*st, i + 1, v[i].i);
        else
            sqlite3_bind_text(*st, i + 1, v[i].s, -1, SQLITE_STATIC);
    }
    return 0;
}

void hl_events_free(hl_event *ev, size_t n) {
    for (size_t i = 0; ev && i < n; i++)
        hl_event_clear(&ev[i]);
    free(ev);
}

int hl_query(hl_db *db, const hl_filter *f, hl_event **ret, size_t *ret_n) {
    sbuf b = {0};
    bindv v[12];
    int nv = 0, rc, r;
    sqlite3_stmt *st = NULL;
    hl_event *ev = NULL;
    size_t n = 0, cap = 0;

    hl_sb_add(&b, "SELECT ");
    hl_select_list(db, TAB_EVENTS, &b);
    hl_sb_add(&b, " FROM events");
    where(f, &b, v, &nv);
    hl_sb_add(&b, f->after_id > 0 ? " ORDER BY id" : " ORDER BY time_ms, id");
    if (f->limit)
        hl_sb_add(&b, " LIMIT %zu", f->limit + 1);
    r = prepare_filtered(db, &b, v, nv, &st);
    free(b.s);
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (f->limit && n == f->limit) {
            r = -E2BIG;
            break;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            hl_event *ne = realloc(ev, nc * sizeof(*ne));
            if (!ne) {
                r = -ENOMEM;
                break;
            }
            ev = ne;
            cap = nc;
        }
        memset(&ev[n], 0, sizeof(ev[n]));
        if ((r = hl_read_row(st, TAB_EVENTS, &ev[n])) < 0) {
            hl_event_clear(&ev[n]);
            break;
        }
        n++;
    }
    if (r >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = hl_sql_fail(db, rc, "events");
    sqlite3_finalize(st);
    for (size_t i = 0; r >= 0 && i < n; i++)
        if (db->present[TAB_LINKS])
            r = hl_links_text(db, ev[i].id, (char **)&ev[i].vms);
    if (r < 0) {
        hl_events_free(ev, n);
        return r;
    }
    *ret = ev;
    *ret_n = n;
    return 0;
}

int hl_count(hl_db *db, const hl_filter *f, int64_t *ret) {
    sbuf b = {0};
    bindv v[12];
    int nv = 0, rc, r;
    sqlite3_stmt *st = NULL;

    hl_sb_add(&b, "SELECT coalesce(sum(coalesce(count, 1)), 0) FROM events");
    where(f, &b, v, &nv);
    r = prepare_filtered(db, &b, v, nv, &st);
    free(b.s);
    if (r < 0)
        return r;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *ret = sqlite3_column_int64(st, 0);
    else
        r = hl_sql_fail(db, rc, "count");
    sqlite3_finalize(st);
    return r;
}

int hl_vm_counts(hl_db *db, const char *vm, int64_t since_ms, int64_t *ret_ce, int64_t *ret_ue) {
    sqlite3_stmt *st = NULL;
    int r, rc;

    /* The errors (not actions, not informational events) linked to the VM named @vm. */
    r = hl_prepare(db,
                   "SELECT coalesce(sum(CASE WHEN severity = 'corrected' THEN coalesce(count, 1) ELSE 0 END), 0), "
                   "coalesce(sum(CASE WHEN severity IN ('uncorrected', 'deferred', 'fatal') THEN coalesce(count, 1) "
                   "ELSE 0 END), 0) FROM events WHERE time_ms >= ?2 AND (class IS NULL OR class <> 'action') "
                   "AND id IN (SELECT event_id FROM links WHERE vm = ?1)",
                   &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, vm, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, since_ms);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *ret_ce = sqlite3_column_int64(st, 0);
        *ret_ue = sqlite3_column_int64(st, 1);
    } else
        r = hl_sql_fail(db, rc, "per-VM counts");
    sqlite3_finalize(st);
    return r;
}

void hl_links_free(hl_link *l, size_t n) {
    for (size_t i = 0; l && i < n; i++)
        hl_free_row(TAB_LINKS, &l[i]);
    free(l);
}

int hl_links_for(hl_db *db, int64_t id, hl_link **ret, size_t *ret_n) {
    hl_link *l = NULL;
    size_t n = 0;
    int r = 0, rc;

    if (!db->links_get) {
        sbuf b = {0};
        hl_sb_add(&b, "SELECT ");
        hl_select_list(db, TAB_LINKS, &b);
        hl_sb_add(&b, " FROM links WHERE event_id = ? ORDER BY rowid");
        r = b.oom ? -ENOMEM : hl_prepare(db, b.s, &db->links_get);
        free(b.s);
        if (r < 0)
            return r;
    }
    sqlite3_reset(db->links_get);
    sqlite3_bind_int64(db->links_get, 1, id);
    while ((rc = sqlite3_step(db->links_get)) == SQLITE_ROW) {
        hl_link *nl = realloc(l, (n + 1) * sizeof(*nl));
        if (!nl) {
            r = -ENOMEM;
            break;
        }
        l = nl;
        memset(&l[n], 0, sizeof(l[n]));
        if ((r = hl_read_row(db->links_get, TAB_LINKS, &l[n++])) < 0)
            break;
    }
    sqlite3_reset(db->links_get);
    if (r < 0) {
        hl_links_free(l, n);
        return r;
    }
    *ret = l;
    *ret_n = n;
    return 0;
}

int hl_links_text(hl_db *db, int64_t id, char **ret) {
    hl_link *l = NULL;
    size_t n = 0;
    sbuf b = {0};
    int r = hl_links_for(db, id, &l, &n);

    *ret = NULL;
    if (r < 0 || n == 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        hl_sb_add(&b, "%s%s (pid %lld): %s", i ? "; " : "", l[i].vm ? l[i].vm : "?", (long long)l[i].pid,
                  l[i].how ? l[i].how : "?");
        if ((l[i].set >> 3) & 1)
            hl_sb_add(&b, " vcpu %lld", (long long)l[i].vcpu);
    }
    hl_links_free(l, n);
    if (b.oom) {
        free(b.s);
        return -ENOMEM;
    }
    *ret = b.s;
    return 0;
}

int hl_mem_speed(hl_db *db, int64_t *ret) {
    sqlite3_stmt *st = NULL;
    int r, rc;
    if (!(db->present[TAB_DIMMS] & (1ull << 6)))
        return -ENOENT;
    if ((r = hl_prepare(db,
                        "SELECT min(CASE WHEN configured_mts > 0 THEN configured_mts ELSE speed_mts END) FROM dimms "
                        "WHERE source = 'smbios' AND size_mb > 0 AND (configured_mts > 0 OR speed_mts > 0)",
                        &st)) < 0)
        return r;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *ret = sqlite3_column_int64(st, 0);
        r = 0;
    } else
        r = rc == SQLITE_ROW || rc == SQLITE_DONE ? -ENOENT : hl_sql_fail(db, rc, "dimms");
    sqlite3_finalize(st);
    return r;
}

int64_t hl_data_version(hl_db *db) {
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (hl_prepare(db, "PRAGMA data_version", &st) < 0)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* ---------------------------------------------------------------------------------------------
 * Events as records
 * ------------------------------------------------------------------------------------------- */

#define KIND_I64 UNI_METRIC_GAUGE
#define KIND_STR UNI_METRIC_TEXT
const uniMetricDesc uni_event_catalog[HL_NFIELDS] = {
#define HL_DESC_(n, id_, ct, col, unit_, help_)                                                                        \
    [id_] = {.id = id_,                                                                                                \
             .key = "event." #n,                                                                                       \
             .kind = KIND_##ct,                                                                                        \
             .unit = unit_,                                                                                            \
             .group = "event",                                                                                         \
             .spec = "3.2.2",                                                                                          \
             .source = "HealthLog",                                                                                    \
             .help = help_},
    UNI_EVENT_FIELDS(HL_DESC_)
#undef HL_DESC_
};

int hl_event_to_record(const hl_event *e, uniRecordPtr *ret) {
    uniRecordPtr rec = uni_record_new(uni_event_catalog, HL_NFIELDS);
    int r = 0;
    if (!rec)
        return -ENOMEM;
    if (HL_HAS(e, time_ms))
        rec->timestamp = e->time_ms;
#define HL_REC_I64_(n) (HL_HAS(e, n) ? rec_u64(rec, HL_F_##n, -1, NULL, (uint64_t)e->n) : 0)
#define HL_REC_STR_(n) (e->n ? rec_str(rec, HL_F_##n, -1, NULL, e->n) : 0)
#define HL_REC_(n, id, ct, ...)                                                                                        \
    if (r >= 0)                                                                                                        \
        r = HL_REC_##ct##_(n);
    UNI_EVENT_FIELDS(HL_REC_)
#undef HL_REC_
#undef HL_REC_I64_
#undef HL_REC_STR_
    if (r < 0) {
        uniRecordFree(rec);
        return r;
    }
    *ret = rec;
    return 0;
}

int hl_query_records(hl_db *db, const uni_healthlog_query *q, uniRecordPtr **ret) {
    hl_filter f;
    hl_event *ev = NULL;
    size_t n = 0;
    uniRecordPtr *list;
    int r;

    hl_filter_init(&f);
    f.class = q->cpu ? "cpu" : "memory";
    f.dimm = q->cpu ? NULL : q->dimm;
    f.cpu = q->cpu ? q->core : -1;
    f.since_ms = q->since_ms > 0 ? q->since_ms : INT64_MIN;
    f.with_actions = q->flags & UNI_HEALTHLOG_ACTIONS;
    if ((q->flags & (UNI_HEALTHLOG_CORRECTED | UNI_HEALTHLOG_UNCORRECTED)) == UNI_HEALTHLOG_CORRECTED)
        f.severities = HL_SEV_CORRECTED;
    else if ((q->flags & (UNI_HEALTHLOG_CORRECTED | UNI_HEALTHLOG_UNCORRECTED)) == UNI_HEALTHLOG_UNCORRECTED)
        f.severities = HL_SEV_UNCORRECTED;
    f.limit = UNI_HEALTHLOG_MAX_EVENTS;
    if ((r = hl_query(db, &f, &ev, &n)) < 0)
        return r;
    list = calloc(n + 1, sizeof(*list));
    for (size_t i = 0; list && i < n && r >= 0; i++)
        r = hl_event_to_record(&ev[i], &list[i]);
    hl_events_free(ev, n);
    if (!list || r < 0) {
        uniRecordListFree(list);
        return r < 0 ? r : -ENOMEM;
    }
    *ret = list;
    return (int)n;
}

void hl_label_sanitize(char *s) {
    for (; s && *s; s++)
        if (*s == '.' || *s == ' ' || *s == '\t' || *s == '\n' || *s == '/')
            *s = '_';
}
