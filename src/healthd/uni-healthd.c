/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-healthd: the health daemon (spec sections 1.1 and 2.3). It watches the host's hardware
 * error sources (EDAC counters in sysfs, the RAS tracepoints), records every event in the
 * HealthLog with the VMs it may have touched, samples the sensors the spec puts there, reads the
 * memory modules' speed once, and takes the first-level actions. One writer of the HealthLog: an
 * event is acknowledged (logged "committed") only once its transaction is on disk. */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include "uni-healthd.h"

#define OFF(f) offsetof(hd_config, f)
static const key_def keys[] = {
    {"db", K_STR, OFF(db), 0, 0},
    {"procfs", K_STR, OFF(procfs), 0, 0},
    {"sysfs", K_STR, OFF(sysfs), 0, 0},
    {"tracefs", K_STR, OFF(tracefs), 0, 0},
    {"interval_ms", K_LONG, OFF(interval_ms), 10, 3600000},
    {"sensor_interval_ms", K_LONG, OFF(sensor_interval_ms), 0, 86400000},
    {"retention_days", K_LONG, OFF(retention_days), 0, 36500},
    {"retention_max_events", K_LONG, OFF(retention_max_events), 0, 1000000000},
    {"sensor_retention_days", K_LONG, OFF(sensor_retention_days), 0, 36500},
    {"page_ce_threshold", K_LONG, OFF(page_ce_threshold), 0, 1000000000},
    {"page_ce_window_s", K_LONG, OFF(page_ce_window_s), 1, 31536000},
    {"page_action", K_STR, OFF(page_action), 0, 0},
    {"dimm_ce_threshold", K_LONG, OFF(dimm_ce_threshold), 0, 1000000000},
    {"dimm_ce_window_s", K_LONG, OFF(dimm_ce_window_s), 1, 31536000},
    {"dimm_action", K_STR, OFF(dimm_action), 0, 0},
    {"core_ce_threshold", K_LONG, OFF(core_ce_threshold), 0, 1000000000},
    {"core_ce_window_s", K_LONG, OFF(core_ce_window_s), 1, 31536000},
    {"core_action", K_STR, OFF(core_action), 0, 0},
    {"trace", K_BOOL, OFF(trace), 0, 0},
    {"edac", K_BOOL, OFF(edac), 0, 0},
    {"vm_links", K_BOOL, OFF(vm_links), 0, 0},
    {"import_rasdaemon", K_STR, OFF(import_rasdaemon), 0, 0},
    {"log_level", K_LEVEL, OFF(level), 0, 0},
    {"syslog", K_BOOL, OFF(syslog), 0, 0},
    {"pid_file", K_STR, OFF(pid_file), 0, 0},
};
static const settings_def settings = {"uni-healthd", keys, ELEMENTSOF(keys)};

static const char *const keys_help =
    "  db = PATH                 the HealthLog (default " HL_DEFAULT_PATH ")\n"
    "  procfs, sysfs = DIR       the trees to read (default /proc, /sys)\n"
    "  tracefs = DIR             (default /sys/kernel/tracing, else /sys/kernel/debug/tracing;\n"
    "                            SYSFS/kernel/tracing when sysfs is not /sys)\n"
    "  interval_ms = MS          EDAC polling and trace draining (default 1000)\n"
    "  sensor_interval_ms = MS   temperatures and power into the HealthLog (default 60000; 0 off)\n"
    "  retention_days = N        events older are deleted (default 365; 0 keeps them)\n"
    "  retention_max_events = N  at most this many events, the oldest go first (default 1000000; 0 no limit)\n"
    "  sensor_retention_days = N sensor samples older are deleted (default 7)\n"
    "  page_ce_threshold = N, page_ce_window_s = S, page_action = log|soft_offline\n"
    "                            (default 50 corrected errors in 86400 s, log)\n"
    "  dimm_ce_threshold = N, dimm_ce_window_s = S, dimm_action = log   (default 1000 in 86400 s)\n"
    "  core_ce_threshold = N, core_ce_window_s = S, core_action = log|degrade|offline\n"
    "                            (default 18 in 86400 s, log); a threshold of 0 turns the rule off\n"
    "  trace = yes|no, edac = yes|no   the sources (default yes)\n"
    "  vm_links = yes|no         link errors to the VMs they may have touched (default yes)\n"
    "  import_rasdaemon = PATH   import a rasdaemon database at start (new rows only)\n"
    "  log_level = error|warning|info|debug   syslog = yes|no   pid_file = FILE\n";

static void usage(FILE *f) {
    fprintf(f,
            "usage: uni-healthd --db PATH [OPTIONS]\n"
            "\n"
            "The uniserver health daemon: hardware errors (EDAC counters, RAS tracepoints), sensors and\n"
            "memory speed into the HealthLog, first-level actions on thresholds.\n"
            "\n"
            "  --db PATH                the HealthLog (default " HL_DEFAULT_PATH ")\n"
            "  --procfs DIR, --sysfs DIR, --tracefs DIR   other trees (fixtures)\n"
            "  --interval MS            polling interval (default 1000)\n"
            "  --once                   one pass (EDAC, trace, sensors, SMBIOS), then exit\n"
            "  --import-rasdaemon PATH  import an existing rasdaemon database\n"
            "  -f, --foreground         stay in the foreground, log to stderr\n"
            "  -c, --config FILE        settings file (default " HD_DEFAULT_CONFIG " when it exists)\n"
            "      --set KEY=VALUE      any setting below\n"
            "      --log-level LEVEL    error, warning, info (default), debug (logs each commit)\n"
            "      --pid-file FILE\n"
            "  -h, --help, -V, --version\n"
            "\nSettings (file or --set; flags win):\n%s"
            "\nStop it with SIGTERM. Read the HealthLog: unish healthlog --summary\n",
            keys_help);
}

typedef struct {
    char *key;
    int64_t value;
} state_update;

typedef struct {
    hd_config *cfg;
    hl_db *db;
    int proc_fd, sys_fd;
    trace_src trace;
    bool have_trace;
    bool edac_present;
    unsigned edac_skipped; /* unreadable edac_device counters last time (logged when it changes) */
    act_config act;
    uv_loop_t *loop;
    uv_timer_t timer;
    uv_signal_t sigterm, sigint;
    pending **pend;
    size_t npend;
    state_update *upd;
    size_t nupd;
    uniConnectPtr sensors;
    int64_t next_sensor_ms, next_retention_ms, last_seen_ms, boot_ms, last_seen_written;
    bool rebooted;
    unsigned ncpu;
    uint64_t committed, malformed, commit_failures;
    size_t ndimms;
} hd;

/* ---------------------------------------------------------------------------------------------
 * Pending events and state
 * ------------------------------------------------------------------------------------------- */

pending *pending_new(pending ***list, size_t *n) {
    pending **nl = realloc(*list, (*n + 1) * sizeof(*nl));
    pending *p;
    if (!nl)
        return NULL;
    *list = nl;
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    nl[(*n)++] = p;
    return p;
}

void pending_free(pending **list, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static int state_later(hd *h, const char *key, int64_t value) {
    state_update *n = realloc(h->upd, (h->nupd + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    h->upd = n;
    if (!(n[h->nupd].key = strdup(key)))
        return -ENOMEM;
    n[h->nupd++].value = value;
    return 0;
}

static void state_drop(hd *h) {
    for (size_t i = 0; i < h->nupd; i++)
        free(h->upd[i].key);
    free(h->upd);
    h->upd = NULL;
    h->nupd = 0;
}

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
             c->uncorrected ? "uncorrected" : "corrected", delta == 1 ? "" : "s", c->label ? "on DIMM " : "not placed on a DIMM",
             c->label ? c->label : "", why);
    e->message = p->r.message;
}

static void upsert_edac_dimms(hd *h, const edac_scan *s) {
    if (s->nd == h->ndimms)
        return;
    for (size_t i = 0; i < s->nd; i++) {
        hl_dimm d = {.source = (char *)"edac", .label = s->d[i].label, .location = s->d[i].location,
                     .mem_type = s->d[i].mem_type, .size_mb = s->d[i].size_mb, .set = 1ull << 3};
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
static void edac_cycle(hd *h, bool startup, int64_t now) {
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
            log_warning("EDAC: %u edac_device counter%s skipped: %s%s", s.nskipped, s.nskipped == 1 ? "" : "s", s.skipped,
                        s.nskipped > 1 ? " ..." : "");
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
                           h->rebooted ? "counted by EDAC since boot" : "counted by EDAC since boot, before uni-healthd first ran");
        } else if ((int64_t)c->value < base) {
            if (c->value > 0)
                edac_event(h, c, (int64_t)c->value, now, "counted by EDAC since its counters were reset");
        } else if ((int64_t)c->value > base) {
            int64_t d = (int64_t)c->value - base;
            if (startup && !c_gap)
                edac_event(h, c, d, h->last_seen_ms > 0 ? h->last_seen_ms : now, "counted by EDAC while uni-healthd was not running");
            else if (!startup && !c_traced)
                edac_event(h, c, d, now, "EDAC counter");
        }
        if (!have || (int64_t)c->value != base)
            (void)state_later(h, key, (int64_t)c->value);
    }
    edac_scan_free(&s);
}

/* ---------------------------------------------------------------------------------------------
 * Trace records
 * ------------------------------------------------------------------------------------------- */

static int trace_sink_fn(void *u, const trace_format *f, int event, const uint8_t *rec, size_t len, int cpu) {
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

static void on_lost(void *u, int cpu) {
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
    snprintf(p->r.message, sizeof(p->r.message), "the RAS trace ring buffer of CPU %d overflowed: events were lost", cpu);
    p->r.ev.message = p->r.message;
    log_warning("%s", p->r.message);
}

/* ---------------------------------------------------------------------------------------------
 * Committing
 * ------------------------------------------------------------------------------------------- */

/* The VMs event @e may have touched, as links of event @id. @vms is discovered once per commit. */
static int insert_links(hd *h, const hl_event *e, vm_info **vms, size_t *nvm, bool *discovered) {
    bool cpu = e->class && streq(e->class, "cpu") && HL_HAS(e, cpu);
    bool mem = e->class && streq(e->class, "memory") && HL_HAS(e, address);
    _cleanup_free_ vm_hit *hits = NULL;
    size_t nhits = 0;
    int r;

    if (!h->cfg->vm_links || (!cpu && !mem))
        return 0;
    if (!*discovered) {
        *discovered = true;
        if (vmlink_discover(h->proc_fd, vms, nvm) < 0)
            *nvm = 0;
    }
    if (*nvm == 0)
        return 0;
    r = cpu ? vmlink_cpu(h->proc_fd, *vms, *nvm, (int)e->cpu, h->ncpu, &hits, &nhits)
            : vmlink_memory(h->proc_fd, *vms, *nvm, (uint64_t)e->address, &hits, &nhits);
    if (r == -EPERM) {
        log_debug("cannot read the page frames of QEMU processes (needs CAP_SYS_ADMIN): memory error %lld not linked to VMs",
                  (long long)e->id);
        return 0;
    }
    for (size_t k = 0; r >= 0 && k < nhits; k++) {
        const vm_info *v = &(*vms)[hits[k].vm];
        hl_link l = {.event_id = e->id, .vm = v->name, .pid = v->pid, .how = (char *)hits[k].how, .set = 1ull << 0 | 1ull << 2};
        if (hits[k].vcpu >= 0) {
            l.vcpu = hits[k].vcpu;
            l.set |= 1ull << 3;
        }
        r = hl_insert_link(h->db, &l);
    }
    return r < 0 && r != -ENOENT && r != -ESRCH ? r : 0;
}

/* One transaction: the pending events (with their VM links), the counters' new baselines and
 * the last-seen time. Only when it is committed are the events acknowledged. */
static int commit_pending(hd *h, int64_t now) {
    vm_info *vms = NULL;
    size_t nvm = 0;
    bool discovered = false;
    int64_t first = 0, last = 0;
    int r;

    if (h->npend == 0 && h->nupd == 0 && now - h->last_seen_written < 60000)
        return 0;
    if ((r = hl_begin(h->db)) < 0)
        goto fail;
    for (size_t i = 0; i < h->npend && r >= 0; i++) {
        hl_event *e = &h->pend[i]->r.ev;
        if ((r = hl_insert_event(h->db, e)) < 0)
            break;
        if (!first)
            first = e->id;
        last = e->id;
        r = insert_links(h, e, &vms, &nvm, &discovered);
    }
    for (size_t i = 0; i < h->nupd && r >= 0; i++)
        r = hl_state_set(h->db, h->upd[i].key, h->upd[i].value);
    if (r >= 0)
        r = hl_state_set(h->db, "healthd.last_seen_ms", now);
    if (r < 0) {
        hl_rollback(h->db);
        goto fail;
    }
    if ((r = hl_commit(h->db)) < 0)
        goto fail;
    vm_info_free(vms, nvm);
    state_drop(h);
    h->last_seen_written = now;
    h->committed += h->npend;
    if (h->npend)
        log_debug("committed %zu events (ids %lld-%lld, %llu since start)", h->npend, (long long)first, (long long)last,
                  (unsigned long long)h->committed);
    if (h->commit_failures)
        log_info("the HealthLog takes events again after %llu failed commits", (unsigned long long)h->commit_failures);
    h->commit_failures = 0;
    return (int)h->npend;
fail:
    vm_info_free(vms, nvm);
    h->commit_failures++;
    if (h->commit_failures == 1 || h->commit_failures % 60 == 0)
        log_error("cannot commit %zu events to %s: %s (kept for the next try)", h->npend, h->cfg->db, hl_errmsg(h->db));
    /* Records read from the kernel are not sent again: keep them. Counter increases are found
     * again next time (their baselines were not committed). */
    {
        size_t k = 0;
        for (size_t i = 0; i < h->npend; i++) {
            if (h->pend[i]->from_trace) {
                h->pend[i]->r.ev.set &= ~(1ull << HL_F_id);
                h->pend[k++] = h->pend[i];
            } else
                free(h->pend[i]);
        }
        h->npend = k;
    }
    state_drop(h);
    return r;
}

/* The thresholds after committed errors. The actions are events of their own transaction, each
 * inserted before the next error is checked, so that one object is acted on once. */
static void run_actions(hd *h, pending **done, size_t ndone, int64_t now) {
    pending **acts = NULL;
    size_t nacts = 0, inserted = 0;
    int r;

    if ((r = hl_begin(h->db)) < 0) {
        log_error("cannot check thresholds in %s: %s", h->cfg->db, hl_errmsg(h->db));
        return;
    }
    for (size_t i = 0; i < ndone && r >= 0; i++) {
        r = actions_check(h->db, &h->act, &done[i]->r.ev, now, &acts, &nacts);
        for (; r >= 0 && inserted < nacts; inserted++)
            if ((r = hl_insert_event(h->db, &acts[inserted]->r.ev)) >= 0)
                log_info("action: %s", acts[inserted]->r.ev.message);
    }
    if (r < 0)
        hl_rollback(h->db);
    else
        r = hl_commit(h->db);
    if (r < 0)
        log_error("cannot record %zu actions in %s: %s", nacts, h->cfg->db, hl_errmsg(h->db));
    pending_free(acts, nacts);
}

static void flush(hd *h, int64_t now) {
    pending **done;
    size_t ndone;
    if (commit_pending(h, now) <= 0)
        return;
    done = h->pend;
    ndone = h->npend;
    h->pend = NULL;
    h->npend = 0;
    run_actions(h, done, ndone, now);
    pending_free(done, ndone);
}

/* ---------------------------------------------------------------------------------------------
 * Sensors, SMBIOS, retention
 * ------------------------------------------------------------------------------------------- */

/* Temperatures and power through the library's own collectors (hwmon, RAPL, thermal zones). */
static void sample_sensors(hd *h, int64_t now) {
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
            if (s->type == UNI_VALUE_STRING || startswith(uniRecordGetDescriptor(rec, s->metric)->key, "host.source.") ||
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
static void read_smbios(hd *h) {
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
                hl_dimm d = {.source = (char *)"smbios", .label = label, .location = m.bank, .mem_type = (char *)m.type,
                             .size_mb = m.size_mb, .speed_mts = m.speed_mts, .configured_mts = m.configured_mts,
                             .manufacturer = m.manufacturer, .part = m.part, .set = 1ull << 3 | 1ull << 5 | 1ull << 6};
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

static void retention(hd *h, int64_t now) {
    int64_t min_t = h->cfg->retention_days > 0 ? now - h->cfg->retention_days * 86400000ll : INT64_MIN;
    int64_t smin_t = h->cfg->sensor_retention_days > 0 ? now - h->cfg->sensor_retention_days * 86400000ll : INT64_MIN;
    int64_t total = 0;
    /* At most ten batches a cycle: the writer never stalls long; the rest goes next hour. */
    for (int i = 0; i < 10; i++) {
        int64_t n;
        if (hl_begin(h->db) < 0)
            break;
        n = hl_retention(h->db, min_t, h->cfg->retention_max_events, smin_t, 10000);
        if (n < 0 || hl_commit(h->db) < 0) {
            hl_rollback(h->db);
            log_warning("retention: %s", hl_errmsg(h->db));
            break;
        }
        total += n;
        if (n < 10000)
            break;
    }
    if (total)
        log_info("retention: %lld old rows deleted", (long long)total);
}

/* ---------------------------------------------------------------------------------------------
 * The cycle and the loop
 * ------------------------------------------------------------------------------------------- */

static void cycle(hd *h, bool startup, bool final) {
    int64_t now = wall_ms();
    if (h->have_trace)
        trace_src_drain(&h->trace, final, trace_sink_fn, h);
    if (h->cfg->edac)
        edac_cycle(h, startup, now);
    flush(h, now);
    if (h->cfg->sensor_interval_ms > 0 && now >= h->next_sensor_ms) {
        sample_sensors(h, now);
        h->next_sensor_ms = now + h->cfg->sensor_interval_ms;
    }
    if (now >= h->next_retention_ms) {
        retention(h, now);
        h->next_retention_ms = now + 3600000;
    }
}

static void on_timer(uv_timer_t *t) {
    cycle(t->data, false, false);
}

static void on_trace_readable(uv_poll_t *p, int status, int events) {
    hd *h = p->data;
    (void)status;
    (void)events;
    /* A page is ready on some CPU: take it now rather than at the next interval. */
    trace_src_drain(&h->trace, false, trace_sink_fn, h);
    flush(h, wall_ms());
}

static void on_signal(uv_signal_t *s, int signum) {
    hd *h = s->data;
    log_info("signal %d: stopping", signum);
    uv_stop(h->loop);
}

static int64_t boot_time_ms(int proc_fd) {
    char buf[8192];
    ssize_t n = read_file_at(proc_fd, "stat", buf, sizeof(buf));
    const char *p;
    uint64_t v;
    if (n < 0 || !(p = strstr(buf, "\nbtime ")))
        return 0;
    p += 7;
    return safe_atou64_n(p, strcspn(p, "\n"), &v) == 0 ? (int64_t)v * 1000 : 0;
}

static int open_dir(const char *dir, const char *what) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        log_error("%s root %s: %s", what, dir, strerror(errno));
    return fd;
}

static int hd_start(hd *h) {
    char why[1024] = "";
    int64_t v;
    int r;

    if ((h->proc_fd = open_dir(h->cfg->procfs, "procfs")) < 0 || (h->sys_fd = open_dir(h->cfg->sysfs, "sysfs")) < 0)
        return -1;
    h->ncpu = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    r = hl_open(h->cfg->db, HL_OPEN_WRITE, &h->db, why, sizeof(why));
    if (r < 0) {
        log_error("%s", why);
        return -1;
    }
    /* A reboot resets the EDAC counters and empties the trace buffers. */
    h->boot_ms = boot_time_ms(h->proc_fd);
    if (hl_state_get(h->db, "boot.btime_ms", &v) == 0 && h->boot_ms && v != h->boot_ms)
        h->rebooted = true;
    if (hl_state_get(h->db, "healthd.last_seen_ms", &v) == 0)
        h->last_seen_ms = v;
    if (h->cfg->trace) {
        const char *dir = h->cfg->tracefs;
        if ((r = trace_src_open(&h->trace, dir, why, sizeof(why))) < 0) {
            log_info("RAS tracepoints: %s", why);
            trace_src_close(&h->trace);
        } else {
            char list[256] = "";
            size_t l = 0;
            h->have_trace = true;
            h->trace.on_lost = on_lost;
            for (int i = 0; i < TRACE_NEVENTS; i++)
                if (h->trace.live[i])
                    l += (size_t)snprintf(list + l, sizeof(list) - l, "%s%s", l ? ", " : "", trace_event_name(i));
            log_info("RAS tracepoints in %s: %s on %zu CPUs", dir, list, h->trace.ncpus);
        }
    }
    h->act.sys_fd = h->sys_fd;
    h->act.sysfs = h->cfg->sysfs;
    if (h->cfg->import_rasdaemon) {
        int64_t n = rasdaemon_import(h->db, h->cfg->import_rasdaemon, why, sizeof(why));
        if (n < 0)
            log_error("importing rasdaemon's %s: %s", h->cfg->import_rasdaemon, why);
        else
            log_info("imported %lld events from rasdaemon's %s", (long long)n, h->cfg->import_rasdaemon);
    }
    read_smbios(h);
    {
        /* The first EDAC pass tells whether there is a memory controller, or a cache that
         * counts its errors (an edac_device named after a cache level). */
        edac_scan s;
        bool edac = h->cfg->edac && edac_read(h->sys_fd, &s) == 0, edac_mem = false, edac_cpu = false;
        unsigned ndev = 0;
        int64_t imp_mem = 0, imp_cpu = 0;
        if (edac) {
            edac_mem = s.nmc > 0;
            ndev = s.ndev;
            for (size_t i = 0; i < s.n; i++)
                edac_cpu |= s.c[i].mc < 0 && s.c[i].cache_level > 0;
            edac_scan_free(&s);
        }
        (void)hl_state_get(h->db, "cap.memory.imported", &imp_mem);
        (void)hl_state_get(h->db, "cap.cpu.imported", &imp_cpu);
        /* What this host can report: counts are zeros where a source exists, absent where none. */
        (void)state_later(h, "cap.memory", edac_mem || (h->have_trace && (h->trace.live[TRACE_MC_EVENT] || h->trace.live[TRACE_MCE_RECORD])) || imp_mem);
        (void)state_later(h, "cap.cpu", edac_cpu || (h->have_trace && (h->trace.live[TRACE_MCE_RECORD] || h->trace.live[TRACE_ARM_EVENT])) || imp_cpu);
        if (h->boot_ms)
            (void)state_later(h, "boot.btime_ms", h->boot_ms);
        if (edac)
            log_info("EDAC: %s, %u edac_device%s%s", edac_mem ? "memory controllers" : "no memory controller", ndev,
                     ndev == 1 ? "" : "s", edac_cpu ? " (CPU caches)" : "");
        else
            log_info("EDAC: none");
    }
    if (h->cfg->sensor_interval_ms > 0) {
        _cleanup_free_ char *uri = NULL;
        /* The library's local driver reads the same trees; it never opens the HealthLog for
         * the temp and power groups. */
        if (asprintf(&uri, "uniserver:///system?procfs=%s&sysfs=%s", h->cfg->procfs, h->cfg->sysfs) > 0)
            h->sensors = uniConnectOpen(uri, 0);
        if (!h->sensors)
            log_warning("sensors: %s", uniGetLastError() ? uniGetLastError()->message : "cannot open");
    }
    cycle(h, true, h->cfg->once);
    return 0;
}

static void hd_stop(hd *h) {
    if (h->db)
        flush(h, wall_ms());
    pending_free(h->pend, h->npend);
    state_drop(h);
    if (h->have_trace)
        trace_src_close(&h->trace);
    uniConnectClose(h->sensors);
    hl_close(h->db);
    closep(&h->proc_fd);
    closep(&h->sys_fd);
}

static int run_loop(hd *h) {
    h->loop = uv_default_loop();
    uv_timer_init(h->loop, &h->timer);
    h->timer.data = h;
    uv_timer_start(&h->timer, on_timer, (uint64_t)h->cfg->interval_ms, (uint64_t)h->cfg->interval_ms);
    uv_signal_init(h->loop, &h->sigterm);
    uv_signal_init(h->loop, &h->sigint);
    h->sigterm.data = h->sigint.data = h;
    uv_signal_start(&h->sigterm, on_signal, SIGTERM);
    uv_signal_start(&h->sigint, on_signal, SIGINT);
    for (size_t i = 0; h->have_trace && i < h->trace.ncpus; i++) {
        trace_cpu *c = &h->trace.cpus[i];
        /* epoll refuses regular files (fixtures): those are read at the interval only. */
        if (uv_poll_init(h->loop, &c->poll, c->fd) == 0) {
            c->poll.data = h;
            c->polling = true;
            uv_poll_start(&c->poll, UV_READABLE, on_trace_readable);
        }
    }
    log_info("uni-healthd ready: HealthLog %s, every %ld ms", h->cfg->db, h->cfg->interval_ms);
    uv_run(h->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, NULL);
    uv_close((uv_handle_t *)&h->sigterm, NULL);
    uv_close((uv_handle_t *)&h->sigint, NULL);
    for (size_t i = 0; h->have_trace && i < h->trace.ncpus; i++)
        if (h->trace.cpus[i].polling)
            uv_close((uv_handle_t *)&h->trace.cpus[i].poll, NULL);
    uv_run(h->loop, UV_RUN_DEFAULT);
    uv_loop_close(h->loop);
    return 0;
}

static void defaults(hd_config *c) {
    memset(c, 0, sizeof(*c));
    c->interval_ms = 1000;
    c->sensor_interval_ms = 60000;
    c->retention_days = 365;
    c->retention_max_events = 1000000;
    c->sensor_retention_days = 7;
    c->page_ce_threshold = 50;
    c->page_ce_window_s = 86400;
    c->dimm_ce_threshold = 1000;
    c->dimm_ce_window_s = 86400;
    c->core_ce_threshold = 18;
    c->core_ce_window_s = 86400;
    c->trace = c->edac = c->vm_links = true;
    c->level = LOG_LEVEL_INFO;
}

/* Fill what the file and flags left unset, and check the action names. */
static int finish_config(hd_config *c, act_config *a) {
    static const struct {
        const char *what;
        size_t off;
    } acts[] = {{"page", offsetof(act_config, page)}, {"dimm", offsetof(act_config, dimm)}, {"core", offsetof(act_config, core)}};
    char **names[] = {&c->page_action, &c->dimm_action, &c->core_action};
    const long thr[] = {c->page_ce_threshold, c->dimm_ce_threshold, c->core_ce_threshold};
    const long win[] = {c->page_ce_window_s, c->dimm_ce_window_s, c->core_ce_window_s};

    if (!c->db)
        c->db = strdup(HL_DEFAULT_PATH);
    if (!c->procfs)
        c->procfs = strdup("/proc");
    if (!c->sysfs)
        c->sysfs = strdup("/sys");
    if (!c->tracefs) {
        struct stat st;
        if (!streq(c->sysfs, "/sys")) {
            if (asprintf(&c->tracefs, "%s/kernel/tracing", c->sysfs) < 0)
                c->tracefs = NULL;
        } else
            c->tracefs = strdup(stat("/sys/kernel/tracing/events", &st) == 0 ? "/sys/kernel/tracing" : "/sys/kernel/debug/tracing");
    }
    if (!c->db || !c->procfs || !c->sysfs || !c->tracefs)
        return -ENOMEM;
    /* A daemon works from /: relative paths are made absolute first. */
    {
        char **paths[] = {&c->db, &c->procfs, &c->sysfs, &c->tracefs, &c->import_rasdaemon, &c->pid_file};
        char cwd[PATH_MAX];
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
            char *abs;
            if (!*paths[i] || (*paths[i])[0] == '/')
                continue;
            if (!getcwd(cwd, sizeof(cwd)) || asprintf(&abs, "%s/%s", cwd, *paths[i]) < 0)
                return -ENOMEM;
            free(*paths[i]);
            *paths[i] = abs;
        }
    }
    for (size_t i = 0; i < ELEMENTSOF(acts); i++) {
        act_rule *r = (act_rule *)((char *)a + acts[i].off);
        if (!*names[i] && !(*names[i] = strdup("log")))
            return -ENOMEM;
        if (act_parse(acts[i].what, *names[i], &r->action) < 0) {
            fprintf(stderr, "uni-healthd: %s_action = '%s': %s\n", acts[i].what, *names[i],
                    i == 0 ? "log or soft_offline" : i == 1 ? "log" : "log, degrade or offline");
            return -EINVAL;
        }
        r->threshold = thr[i];
        r->window_ms = (int64_t)win[i] * 1000;
    }
    return 0;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"db", required_argument, NULL, 1},          {"procfs", required_argument, NULL, 2},
        {"sysfs", required_argument, NULL, 3},       {"tracefs", required_argument, NULL, 4},
        {"interval", required_argument, NULL, 5},    {"import-rasdaemon", required_argument, NULL, 6},
        {"log-level", required_argument, NULL, 7},   {"pid-file", required_argument, NULL, 8},
        {"syslog", no_argument, NULL, 9},            {"once", no_argument, NULL, 'o'},
        {"foreground", no_argument, NULL, 'f'},      {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},       {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},         {NULL, 0, NULL, 0},
    };
    static const char *const keyof[] = {[1] = "db", [2] = "procfs", [3] = "sysfs", [4] = "tracefs", [5] = "interval_ms",
                                        [6] = "import_rasdaemon", [7] = "log_level", [8] = "pid_file", [9] = "syslog"};
    hd_config cfg;
    hd h = {.proc_fd = -1, .sys_fd = -1};
    const char *config_path = NULL;
    char *set_keys[64], *set_vals[64];
    int nset = 0, o, rc = 0;

    defaults(&cfg);
    while ((o = getopt_long(argc, argv, "fc:s:hV", opts, NULL)) != -1) {
        switch (o) {
        case 'f':
            cfg.foreground = true;
            break;
        case 'o':
            cfg.once = true;
            break;
        case 'c':
            config_path = optarg;
            break;
        case 's': {
            char *eq = strchr(optarg, '=');
            if (!eq || nset >= 64) {
                fprintf(stderr, "uni-healthd: --set KEY=VALUE, not '%s'\n", optarg);
                return 2;
            }
            *eq = 0;
            set_keys[nset] = optarg;
            set_vals[nset++] = eq + 1;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("uni-healthd (uniserver) %d.%d.%d\n", UNI_VERSION_MAJOR, UNI_VERSION_MINOR, UNI_VERSION_MICRO);
            return 0;
        default:
            if (o >= 1 && o <= 9 && nset < 64) {
                set_keys[nset] = (char *)keyof[o];
                set_vals[nset++] = optarg ? optarg : (char *)"yes";
                break;
            }
            fprintf(stderr, "Try 'uni-healthd --help'.\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "uni-healthd: unexpected argument '%s'\nTry 'uni-healthd --help'.\n", argv[optind]);
        return 2;
    }
    if (settings_apply(&settings, &cfg, config_path, HD_DEFAULT_CONFIG, set_keys, set_vals, nset) < 0 ||
        finish_config(&cfg, &h.act) < 0) {
        settings_free(&settings, &cfg);
        return 2;
    }
    h.cfg = &cfg;
    log_set_ident("uni-healthd");
    log_setup(cfg.level, cfg.syslog || (!cfg.foreground && !cfg.once));
    if (!cfg.foreground && !cfg.once && daemon(0, 0) < 0) {
        fprintf(stderr, "uni-healthd: cannot become a daemon: %s\n", strerror(errno));
        settings_free(&settings, &cfg);
        return 1;
    }
    if (cfg.pid_file && pid_file_write(cfg.pid_file) < 0) {
        settings_free(&settings, &cfg);
        return 1;
    }
    if (hd_start(&h) < 0)
        rc = 1;
    else if (!cfg.once)
        rc = run_loop(&h);
    hd_stop(&h);
    if (cfg.pid_file)
        unlink(cfg.pid_file);
    settings_free(&settings, &cfg);
    return rc;
}
