/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-healthd's sources: EDAC counters and RAS trace records as pending events, sensor samples,
 * and the SMBIOS memory devices. */
#include <dirent.h>
#include <fcntl.h>

#include "uni-healthd.h"

/* ---------------------------------------------------------------------------------------------
 * EDAC counters
 * ------------------------------------------------------------------------------------------- */

/* An edac_device counter's event: a cache's errors are CPU errors of the cores that share the
 * cache (cacheinfo), recorded on the first of them (an event has one core; the location names
 * them all), or on no core when every CPU shares it; any other device's are platform errors. */
static void edac_device_event(hd *h, pending *p, const edac_counter *c, int64_t delta, const char *why) {
    static const char *const component[4] = {NULL, "l1", "l2", "l3"};
    hl_event *e = &p->r.ev;
    uint8_t map[HD_MAX_CPUS / 8];
    char cores[160] = "", what[16] = "EDAC device";
    unsigned n = 0;
    bool all = false;

    e->component = component[c->cache_level];
    e->class = e->component ? "cpu" : "platform";
    if (e->component && edac_cache_cpus(h->sys_fd, c, map, HD_MAX_CPUS, &n, &all) == 0 && !all) {
        for (unsigned i = 0; i < HD_MAX_CPUS; i++)
            if (map[i / 8] & (1u << (i % 8))) {
                HL_SET(e, cpu, (int64_t)i);
                break;
            }
        /* A list too long for the location field names its first CPU and how many more. */
        if (format_cpu_list(map, HD_MAX_CPUS, cores, sizeof(cores)) < 0 || strlen(cores) > 24)
            snprintf(cores, sizeof(cores), "%lld and %u more", (long long)e->cpu, n - 1);
    }
    if (*cores)
        snprintf(p->r.location, sizeof(p->r.location), "%.60s (CPU%s %.24s)", c->location, n == 1 ? "" : "s", cores);
    else
        snprintf(p->r.location, sizeof(p->r.location), "%s", c->location);
    e->location = p->r.location;
    if (e->component)
        snprintf(what, sizeof(what), "L%d cache", c->cache_level);
    snprintf(p->r.message, sizeof(p->r.message), "%lld %s error%s in %s %s (%s)", (long long)delta,
             c->uncorrected ? "uncorrected" : "corrected", delta == 1 ? "" : "s", what, p->r.location, why);
    e->message = p->r.message;
}

static void edac_event(hd *h, const edac_counter *c, int64_t delta, int64_t when, const char *why) {
    pending *p = pending_new(&h->pend, &h->npend);
    hl_event *e;
    if (!p) {
        log_error("out of memory");
        return;
    }
    e = &p->r.ev;
    e->source = "edac";
    e->severity = c->uncorrected ? "uncorrected" : "corrected";
    HL_SET(e, time_ms, when);
    HL_SET(e, count, delta);
    HL_SET(e, counted, 1);
    snprintf(p->r.detail, sizeof(p->r.detail), "EDAC counter %s", c->key);
    e->detail = p->r.detail;
    if (c->mc < 0) {
        edac_device_event(h, p, c, delta, why);
        return;
    }
    e->class = "memory";
    e->component = "dram";
    HL_SET(e, mc, c->mc);
    if (c->label) {
        snprintf(p->r.dimm, sizeof(p->r.dimm), "%s", c->label);
        e->dimm = p->r.dimm;
    }
    snprintf(p->r.location, sizeof(p->r.location), "%s", c->location);
    e->location = p->r.location;
    snprintf(p->r.message, sizeof(p->r.message), "%lld %s error%s %s%s (%s)", (long long)delta,
             c->uncorrected ? "uncorrected" : "corrected", delta == 1 ? "" : "s",
             c->label ? "on DIMM " : "not placed on a DIMM", c->label ? c->label : "", why);
    e->message = p->r.message;
}

static void upsert_edac_dimms(hd *h, const edac_scan *s) {
    if (s->nd == h->ndimms)
        return;
    for (size_t i = 0; i < s->nd; i++) {
        hl_dimm d = {.source = (char *)"edac",
                     .label = s->d[i].label,
                     .location = s->d[i].location,
                     .mem_type = s->d[i].mem_type,
                     .size_mb = s->d[i].size_mb,
                     .set = 1ull << 3};
        if (hl_upsert_dimm(h->db, &d) < 0)
            log_warning("recording DIMM %s: %s", s->d[i].label, hl_errmsg(h->db));
    }
    h->ndimms = s->nd;
}

/* Counter increases become events. While ras:mc_event is traced the same memory errors arrive
 * as trace records (placed, with addresses): the memory controllers' counters are then only
 * followed, except for what they counted while no trace was recording (before the first start,
 * after a reboot, while the daemon was down without a live instance). The edac_devices' errors
 * have no tracepoint: their counters are all there is. */
void hd_edac_cycle(hd *h, bool startup, int64_t now) {
    edac_scan s;
    bool traced = h->have_trace && h->trace.live[TRACE_MC_EVENT];
    bool trace_saw_gap = traced && h->trace.was_enabled[TRACE_MC_EVENT] && !h->rebooted;
    int r = edac_read(h->sys_fd, &s);

    if (r < 0) {
        if (startup && r != -ENOENT)
            log_warning("EDAC: %s/devices/system/edac: %s", h->cfg->sysfs, strerror(-r));
        h->edac_present = false;
        return;
    }
    h->edac_present = true;
    if (s.nskipped != h->edac_skipped) {
        if (s.nskipped)
            log_warning("EDAC: %u edac_device counter%s skipped: %s%s", s.nskipped, s.nskipped == 1 ? "" : "s",
                        s.skipped, s.nskipped > 1 ? " ..." : "");
        h->edac_skipped = s.nskipped;
    }
    if (s.nd != h->ndimms && hl_begin(h->db) == 0) {
        upsert_edac_dimms(h, &s);
        if (hl_commit(h->db) < 0)
            h->ndimms = 0;
    }
    for (size_t i = 0; i < s.n; i++) {
        const edac_counter *c = &s.c[i];
        bool c_traced = traced && c->mc >= 0, c_gap = trace_saw_gap && c->mc >= 0;
        char key[336];
        int64_t base = 0;
        bool have;

        snprintf(key, sizeof(key), "edac:%s", c->key);
        have = hl_state_get(h->db, key, &base) == 0 && !(startup && h->rebooted);
        if (!have) {
            if (c->value > 0)
                edac_event(h, c, (int64_t)c->value, h->boot_ms,
                           h->rebooted ? "counted by EDAC since boot"
                                       : "counted by EDAC since boot, before uni-healthd first ran");
        } else if ((int64_t)c->value < base) {
            if (c->value > 0)
                edac_event(h, c, (int64_t)c->value, now, "counted by EDAC since its counters were reset");
        } else if ((int64_t)c->value > base) {
            int64_t d = (int64_t)c->value - base;
            if (startup && !c_gap)
                edac_event(h, c, d, h->last_seen_ms > 0 ? h->last_seen_ms : now,
                           "counted by EDAC while uni-healthd was not running");
            else if (!startup && !c_traced)
                edac_event(h, c, d, now, "EDAC counter");
        }
        if (!have || (int64_t)c->value != base)
            (void)hd_state_later(h, key, (int64_t)c->value);
    }
    edac_scan_free(&s);
}

/* ---------------------------------------------------------------------------------------------
 * Trace records
 * ------------------------------------------------------------------------------------------- */

int hd_trace_sink(void *u, const trace_format *f, int event, const uint8_t *rec, size_t len, int cpu) {
    hd *h = u;
    pending *p = pending_new(&h->pend, &h->npend);
    int64_t wt;
    int r;

    (void)cpu;
    if (!p)
        return -ENOMEM;
    r = ras_record_convert(f, rec, len, h->trace.live[TRACE_MC_EVENT], &p->r);
    if (r < 0) {
        /* A record that does not hold its fields: counted and logged, not stored. */
        h->npend--;
        free(p);
        h->malformed++;
        if (h->malformed < 10 || h->malformed % 1000 == 0)
            log_warning("malformed %s record (%zu bytes) on CPU %d (%llu so far)", trace_event_name(event), len, cpu,
                        (unsigned long long)h->malformed);
        return 0;
    }
    p->from_trace = true;
    /* The machine check's own wall time where it has one, else now (within one interval). */
    if (event == TRACE_MCE_RECORD && trace_get_int(trace_field_find(f, "walltime"), rec, len, &wt) == 0 && wt > 0)
        HL_SET(&p->r.ev, time_ms, wt * 1000);
    else
        HL_SET(&p->r.ev, time_ms, wall_ms());
    return 0;
}

void hd_trace_lost(void *u, int cpu) {
    hd *h = u;
    pending *p = pending_new(&h->pend, &h->npend);
    if (!p)
        return;
    p->from_trace = true;
    p->r.ev.source = "healthd";
    p->r.ev.class = "platform";
    p->r.ev.severity = "info";
    HL_SET(&p->r.ev, time_ms, wall_ms());
    HL_SET(&p->r.ev, counted, 0);
    HL_SET(&p->r.ev, cpu, cpu);
    snprintf(p->r.message, sizeof(p->r.message), "the RAS trace ring buffer of CPU %d overflowed: events were lost",
             cpu);
    p->r.ev.message = p->r.message;
    log_warning("%s", p->r.message);
}

/* A reboot found at start (the boot time changed): an event with the downtime, from the daemon's
 * last sign of life to the boot, for the node's MTBF and MTTR (docs/predictor.md). Planned when
 * the daemon recorded its stop before it (a shutdown stops it); unplanned (severity fatal: a
 * crash, a panic, a power cut) when it did not. Not counted as an error. */
void hd_reboot_event(hd *h, int64_t last_seen_ms, int64_t stopped_ms) {
    pending *p;
    bool planned = stopped_ms > 0 && stopped_ms >= last_seen_ms;
    int64_t alive = planned ? stopped_ms : last_seen_ms;
    static const char unplanned[] = " (uni-healthd did not record its stop: a crash, a panic or a power cut)";
    if (!h->rebooted || !h->boot_ms || !(p = pending_new(&h->pend, &h->npend)))
        return;
    p->r.ev.source = "healthd";
    p->r.ev.class = "platform";
    p->r.ev.severity = planned ? "info" : "fatal";
    HL_SET(&p->r.ev, time_ms, h->boot_ms);
    HL_SET(&p->r.ev, counted, 0);
    if (alive > 0 && alive <= h->boot_ms)
        HL_SET(&p->r.ev, downtime_ms, h->boot_ms - alive);
    /* The predictor (docs/predictor.md) knows a reboot by its source and this detail. */
    snprintf(p->r.detail, sizeof(p->r.detail), "reboot: boot %lld ms, last seen %lld ms, stop recorded %lld ms",
             (long long)h->boot_ms, (long long)last_seen_ms, (long long)stopped_ms);
    p->r.ev.detail = p->r.detail;
    if (alive > 0 && alive <= h->boot_ms)
        snprintf(p->r.message, sizeof(p->r.message), "%s reboot: down %.1f min before this boot%s",
                 planned ? "planned" : "unplanned", (double)(h->boot_ms - alive) / 60e3, planned ? "" : unplanned);
    else
        snprintf(p->r.message, sizeof(p->r.message), "%s reboot: down for an unknown time before this boot%s",
                 planned ? "planned" : "unplanned", planned ? "" : unplanned);
    p->r.ev.message = p->r.message;
    log_info("%s", p->r.message);
}

/* ---------------------------------------------------------------------------------------------
 * Sensors, SMBIOS
 * ------------------------------------------------------------------------------------------- */

/* Temperatures and power through the library's own collectors (hwmon, RAPL, thermal zones). */
void hd_sample_sensors(hd *h, int64_t now) {
    static const char *const groups[] = {"temp", "power", NULL};
    uniRecordPtr rec = NULL;
    int n, r;

    if (!h->sensors || uniNodeGetStats(h->sensors, groups, &rec, UNI_NODE_STATS_BEST_EFFORT) < 0)
        return;
    n = uniRecordNumSamples(rec);
    if ((r = hl_begin(h->db)) == 0) {
        for (int i = 0; i < n && r >= 0; i++) {
            const uniSample *s = uniRecordGetSample(rec, i);
            char key[256];
            hl_sample hs = {.time_ms = now, .key = key, .set = 1ull << 0 | 1ull << 2};
            if (s->type == UNI_VALUE_STRING ||
                startswith(uniRecordGetDescriptor(rec, s->metric)->key, "host.source.") ||
                uniRecordFormatKey(rec, i, key, sizeof(key)) < 0)
                continue;
            hs.value = s->type == UNI_VALUE_U64 ? (double)s->value.u : s->value.d;
            r = hl_insert_sample(h->db, &hs);
        }
        r = r < 0 ? (hl_rollback(h->db), r) : hl_commit(h->db);
    }
    if (r < 0)
        log_warning("cannot record sensor samples: %s", hl_errmsg(h->db));
    uniRecordFree(rec);
}

/* SMBIOS type 17: every memory device, once per start (the memory speed comes from here). */
void hd_read_smbios(hd *h) {
    _cleanup_close_ int dfd = openat(h->sys_fd, "firmware/dmi/entries", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct dirent **ents = NULL;
    int n, found = 0, r = 0;

    if (dfd < 0)
        return;
    n = scandirat(dfd, ".", &ents, NULL, versionsort);
    if (n > 0 && hl_begin(h->db) == 0) {
        for (int i = 0; i < n; i++) {
            char path[300];
            uint8_t raw[4096];
            ssize_t l;
            dmi_memdev m;
            if (!startswith(ents[i]->d_name, "17-"))
                continue;
            snprintf(path, sizeof(path), "%s/raw", ents[i]->d_name);
            l = read_file_at(dfd, path, (char *)raw, sizeof(raw));
            if (l < 0 || dmi_parse_type17(raw, (size_t)l, &m) < 0) {
                log_warning("SMBIOS %s: %s", ents[i]->d_name, l < 0 ? strerror((int)-l) : "not a memory device record");
                continue;
            }
            {
                char label[64];
                hl_dimm d = {.source = (char *)"smbios",
                             .label = label,
                             .location = m.bank,
                             .mem_type = (char *)m.type,
                             .size_mb = m.size_mb,
                             .speed_mts = m.speed_mts,
                             .configured_mts = m.configured_mts,
                             .manufacturer = m.manufacturer,
                             .part = m.part,
                             .set = 1ull << 3 | 1ull << 5 | 1ull << 6};
                snprintf(label, sizeof(label), "%.60s", *m.locator ? m.locator : ents[i]->d_name);
                hl_label_sanitize(label);
                if (r >= 0)
                    r = hl_upsert_dimm(h->db, &d);
                found++;
            }
        }
        r = r < 0 ? (hl_rollback(h->db), r) : hl_commit(h->db);
        if (r < 0)
            log_warning("cannot record SMBIOS memory devices: %s", hl_errmsg(h->db));
        else if (found)
            log_info("SMBIOS: %d memory device records", found);
    }
    for (int i = 0; i < n; i++)
        free(ents[i]);
    free(ents);
}
