/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's glue to uni-healthd's HealthLog: the error metrics, the queries and the wait. */
#include <poll.h>

#include "local_driver.h"
#include "local_internal.h"

/* Open the HealthLog read-only when first needed, and again until it exists. -ENOENT/-ENODATA
 * when there is none (yet), with the reason in @why. */
int ensure_healthlog(local_state *s, char *why, size_t len) {
    uint64_t now;
    bool recent;
    int r;
    if (s->hl)
        return 0;
    now = uni_clock_ns();
    recent = s->hl_missing_ns && now - s->hl_missing_ns < 200000000;
    /* A sample looks for it twice (the VMs' records, the host's): once is enough, and without
     * setting up a reader to find it missing. */
    if (recent || (access(s->hl_path, F_OK) < 0 && errno == ENOENT))
        r = -ENOENT;
    else
        r = hl_open(s->hl_path, 0, &s->hl, why, len);
    if (r != -ENOENT)
        s->hl_missing_ns = 0;
    else if (!recent)
        s->hl_missing_ns = now;
    if (r == -ENOENT)
        snprintf(why, len, "no HealthLog at %s: start uni-healthd --db %s (or give ?healthlog=PATH)", s->hl_path,
                 s->hl_path);
    return r;
}

/* Is the HealthLog's writer alive? uni-healthd writes healthd.last_seen_ms at least every
 * healthd.heartbeat_ms (60 s, or its interval when longer) and healthd.stopped_ms when it stops;
 * a HealthLog older than two heartbeats, or whose writer stopped, has no writer. Returns the
 * source down (source_down) with the reason, or nothing when the writer is alive. */
static void check_writer(local_state *s) {
    int64_t now = uni_clock_wall_ms(), seen = 0, beat = 0, stopped = 0;

    if (hl_state_get(s->hl, "healthd.last_seen_ms", &seen) < 0) {
        source_down(s, SRC_HEALTHLOG, "uni-healthd has never written the HealthLog %s: is it running?", s->hl_path);
        return;
    }
    if (hl_state_get(s->hl, "healthd.heartbeat_ms", &beat) < 0 || beat <= 0)
        beat = 60000; /* a writer from before the heartbeat was recorded: its fixed minute */
    if (hl_state_get(s->hl, "healthd.stopped_ms", &stopped) == 0 && stopped >= seen)
        source_down(s, SRC_HEALTHLOG, "uni-healthd stopped %lld s ago: the HealthLog %s has no writer",
                    (long long)((now - stopped) / 1000), s->hl_path);
    else if (now - seen > 2 * beat)
        source_down(s, SRC_HEALTHLOG,
                    "uni-healthd last wrote the HealthLog %s %lld s ago (it writes at least every %lld s): is it "
                    "running?",
                    s->hl_path, (long long)((now - seen) / 1000), (long long)(beat / 1000));
}

int healthlog_ready(local_state *s, char *why, size_t len) {
    int r = ensure_healthlog(s, why, len);
    if (r == -ENOENT || r == -ENODATA) {
        source_down(s, SRC_HEALTHLOG, "%s", why);
        return 0;
    }
    if (r < 0) {
        uni_error_errno(r, "%s", why);
        return -1;
    }
    check_writer(s);
    return 1;
}

/* The error metrics and the memory speed, from the HealthLog. No HealthLog, or one whose writer
 * is not running, does not fail the call: the source is down (its alert fires), and the metrics
 * are absent and say how to get them (or, from a stale HealthLog, what it last knew). */
int collect_healthlog(local_state *s, uniRecordPtr rec) {
    char why[1024];
    unsigned caps = 0;
    int r = healthlog_ready(s, why, sizeof(why));

    if (r == 0) {
        for (unsigned m = 0; m < UNI_NMETRICS; m++)
            if (uni_catalog_group[m] == UNI_GROUP_ERRORS)
                rec_absent(rec, m, "%s", why);
        rec_absent(rec, UNI_M_HOST_MEM_SPEED_MHZ, "%s", why);
        return 0;
    }
    if (r < 0)
        return -1;
    r = hl_collect(s->hl, rec, uni_clock_wall_ms(), s->online, s->ncpu, &caps);
    if (r < 0) {
        uni_error_errno(r, "HealthLog %s", hl_errmsg(s->hl));
        /* Reopen next time: the file may have been replaced. */
        hl_close(s->hl);
        s->hl = NULL;
        return -1;
    }
    rec_absent(rec, UNI_M_HOST_MEM_SPEED_MHZ,
               "no memory speed in the HealthLog %s (uni-healthd reads SMBIOS type 17 from sysfs "
               "firmware/dmi/entries/17-*/raw, root only)",
               s->hl_path);
    {
        const char *no_mem = "uni-healthd has no source of memory errors on this host (no EDAC memory controller, no "
                             "ras:mc_event or mce:mce_record tracepoint)";
        const char *no_cpu =
            "uni-healthd has no source of CPU errors on this host (no mce:mce_record or ras:arm_event tracepoint)";
        bool have_mem = caps & HL_CAP_MEMORY, have_cpu = caps & HL_CAP_CPU;
        for (unsigned m = 0; m < UNI_NMETRICS; m++) {
            const char *key = uni_catalog[m].key;
            bool comp = startswith(key, "host.errors.C.");
            if (uni_catalog_group[m] != UNI_GROUP_ERRORS)
                continue;
            if (m == UNI_M_HOST_ERRORS_DIMM_D_CE_COUNT || m == UNI_M_HOST_ERRORS_DIMM_D_UE_COUNT)
                rec_absent(rec, m,
                           "no DIMM known to the HealthLog %s (no EDAC memory controller, no error with a DIMM label)",
                           s->hl_path);
            else if (comp && have_mem != have_cpu) /* the spec's components of the class without a source */
                rec_absent_partial(rec, m, "%s; HealthLog %s", have_mem ? no_cpu : no_mem, s->hl_path);
            else if (startswith(key, "host.errors.mem.") || comp)
                rec_absent(rec, m, "%s; HealthLog %s", no_mem, s->hl_path);
            else
                rec_absent(rec, m, "%s; HealthLog %s", no_cpu, s->hl_path);
        }
    }
    return 0;
}

int local_healthlog_query(uniConnectPtr conn, const uni_healthlog_query *q, uniRecordPtr **ret) {
    local_state *s = conn->priv;
    char why[1024];
    int r = ensure_healthlog(s, why, sizeof(why));

    if (r < 0) {
        uni_error_errno(r, "%s", why);
        return -1;
    }
    r = hl_query_records(s->hl, q, ret);
    if (r == -E2BIG)
        uni_error_set(UNI_ERR_OUT_OF_RANGE, "more than %d events in %s match: give a later since_ms",
                      UNI_HEALTHLOG_MAX_EVENTS, s->hl_path);
    else if (r < 0) {
        uni_error_errno(r, "HealthLog %s", hl_errmsg(s->hl));
        hl_close(s->hl);
        s->hl = NULL;
    }
    return r < 0 ? -1 : r;
}

/* Has anything been committed since the previous wait? The notification comes with the write of
 * the WAL, a moment before the commit is visible: the data version says when it is. */
static int wait_changed(local_state *s) {
    int64_t v;
    if (!s->hl_wait && hl_open(s->hl_path, 0, &s->hl_wait, NULL, 0) < 0)
        return 0; /* not there yet: its creation will wake us */
    v = hl_data_version(s->hl_wait);
    if (!s->have_wait_version) {
        s->wait_version = v;
        s->have_wait_version = true;
        return 0;
    }
    if (v == s->wait_version)
        return 0;
    s->wait_version = v;
    return 1;
}

int local_healthlog_wait(uniConnectPtr conn, int timeout_ms) {
    local_state *s = conn->priv;
    struct pollfd p = {.events = POLLIN};
    uint64_t deadline = now_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000;
    int r = 0;

    pthread_mutex_lock(&s->watch_lock);
    if (s->hl_watch < 0)
        s->hl_watch = hl_watch_open(s->hl_path);
    p.fd = s->hl_watch;
    if (p.fd < 0) {
        uni_error_errno(p.fd, "watching the HealthLog %s (its directory must exist)", s->hl_path);
        r = -1;
    }
    while (r == 0 && !(r = wait_changed(s))) {
        uint64_t now = now_ns();
        int left = timeout_ms < 0 ? -1 : now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
        if (timeout_ms >= 0 && left == 0)
            break;
        r = poll(&p, 1, left);
        if (r < 0 && errno == EINTR) {
            r = 0;
            continue;
        }
        if (r < 0) {
            uni_error_errno(-errno, "waiting for the HealthLog %s", s->hl_path);
            r = -1;
            break;
        }
        if (r == 0)
            break;
        r = hl_watch_drain(p.fd, s->hl_path);
        if (r < 0) {
            uni_error_errno(r, "HealthLog %s", s->hl_path);
            r = -1;
            break;
        }
        /* The commit follows its write within the writer's fsync. */
        for (int i = 0; r == 1 && i < 100; i++) {
            if (wait_changed(s))
                break;
            if (i == 99)
                r = 0;
            else
                usleep(2000);
        }
        if (r == 1) {
            pthread_mutex_unlock(&s->watch_lock);
            return 1;
        }
    }
    pthread_mutex_unlock(&s->watch_lock);
    return r < 0 ? -1 : r;
}

const char *uni_local_healthlog_path(uniConnectPtr conn) {
    return conn->driver == &uni_local_driver ? ((local_state *)conn->priv)->hl_path : NULL;
}

/* A change a control call made: an action event in the HealthLog, through its spool (uni-healthd
 * imports it; docs/healthlog.md, "Control actions"). No HealthLog on this host: nothing to record
 * into (the audit hook, uniserverd's log, still has it). */
void local_audit(uniConnectPtr conn, const uni_audit_event *ev) {
    local_state *s = conn->priv;
    char msg[1400], detail[1200];
    const char *attr;
    unsigned core;
    hl_event e = {0};

    if (!s || !s->hl_path)
        return;
    attr = ev->attribute ? strrchr(ev->attribute, '/') : NULL;
    attr = attr ? attr + 1 : ev->attribute ? ev->attribute : "";
    snprintf(msg, sizeof(msg), "%s %s: '%s' -> '%s'%s%s%s by %s", ev->object, attr, ev->before ? ev->before : "",
             ev->after ? ev->after : "", ev->rollback ? " (a rollback)" : "", ev->error ? ": FAILED: " : "",
             uni_audit_error_text(ev->error), ev->caller);
    snprintf(detail, sizeof(detail), "%s; %s", ev->attribute, ev->uri ? ev->uri : conn->uri);
    HL_SET(&e, time_ms, uni_clock_wall_ms());
    e.source = "control";
    e.class = "action";
    e.severity = "info";
    e.action = ev->call;
    e.message = msg;
    e.detail = detail;
    e.reason = ev->reason;
    HL_SET(&e, counted, 0);
    if (sscanf(ev->object, "core %u", &core) == 1)
        HL_SET(&e, cpu, (int64_t)core);
    (void)hl_spool_append(s->hl_path, &e);
}
