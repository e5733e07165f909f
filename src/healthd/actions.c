/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* First-level actions (spec section 1.1): corrected errors of one page, DIMM or core counted in a
 * sliding window; when a count reaches its threshold, the configured action runs once per object
 * and window: log only (the default), soft-offline the page (sysfs
 * devices/system/memory/soft_offline_page, as rasdaemon's page isolation does), mark the core
 * degraded, or take it offline (devices/system/cpu/cpuN/online). Every action is an event in the
 * HealthLog, with what was done and whether it worked. */
#include <fcntl.h>

#include "uni-healthd.h"

int act_parse(const char *what, const char *s, act_kind *ret) {
    if (streq(s, "log"))
        *ret = ACT_LOG;
    else if (streq(what, "page") && streq(s, "soft_offline"))
        *ret = ACT_SOFT_OFFLINE;
    else if (streq(what, "core") && streq(s, "degrade"))
        *ret = ACT_DEGRADE;
    else if (streq(what, "core") && streq(s, "offline"))
        *ret = ACT_OFFLINE;
    else
        return -EINVAL;
    return 0;
}

/* Appending: the kernel's attribute takes each write, a fixture file keeps them all. */
static int write_sysfs(int sys_fd, const char *path, const char *value) {
    return write_file_at(sys_fd, path, value, O_APPEND);
}

static const char *window_text(int64_t ms, char *buf, size_t len) {
    if (ms % 3600000 == 0)
        snprintf(buf, len, "%lld h", (long long)(ms / 3600000));
    else if (ms % 60000 == 0)
        snprintf(buf, len, "%lld min", (long long)(ms / 60000));
    else
        snprintf(buf, len, "%lld s", (long long)(ms / 1000));
    return buf;
}

/* Has an action about this object been taken within the window (or ever, for a page that was
 * soft-offlined: it is gone)? */
static int acted(hl_db *db, hl_filter *f, const char *action, int64_t since) {
    int64_t n = 0;
    hl_filter a = *f;
    a.class = "action";
    a.action = action;
    a.with_actions = false;
    a.severities = 0;
    a.counted_only = false;
    a.since_ms = since;
    a.limit = 0;
    if (hl_count(db, &a, &n) < 0)
        return 0;
    return n > 0;
}

static pending *action_event(pending ***out, size_t *nout, const hl_event *ev, int64_t now_ms, const char *action,
                             int64_t count) {
    pending *p = pending_new(out, nout);
    if (!p)
        return NULL;
    p->r.ev.source = "healthd";
    p->r.ev.class = "action";
    p->r.ev.component = ev->component;
    p->r.ev.severity = "info";
    p->r.ev.action = action;
    HL_SET(&p->r.ev, time_ms, now_ms);
    HL_SET(&p->r.ev, count, count);
    HL_SET(&p->r.ev, counted, 0);
    p->r.ev.message = p->r.message;
    p->r.ev.detail = p->r.detail;
    return p;
}

int actions_check(hl_db *db, const act_config *c, const hl_event *ev, int64_t now_ms, pending ***out, size_t *nout) {
    static const char *const act_names[] = {"log", "soft_offline", "degrade", "offline"};
    char win[32];
    int64_t n;
    hl_filter f;

    if (!ev->severity || !streq(ev->severity, "corrected") || !HL_HAS(ev, counted) || !ev->counted || !ev->class)
        return 0;
    /* A page: its corrected errors at any address within it. */
    if (c->page.threshold > 0 && streq(ev->class, "memory") && HL_HAS(ev, address)) {
        long page = sysconf(_SC_PAGESIZE);
        int64_t base = ev->address & ~(int64_t)((page > 0 ? page : 4096) - 1);
        hl_filter_init(&f);
        f.addr_lo = base;
        f.addr_hi = base + (page > 0 ? page : 4096);
        f.since_ms = now_ms - c->page.window_ms;
        f.severities = HL_SEV_CORRECTED;
        f.counted_only = true;
        if (hl_count(db, &f, &n) == 0 && n >= c->page.threshold &&
            !acted(db, &f, c->page.action == ACT_SOFT_OFFLINE ? "soft_offline_page" : "page_threshold",
                   c->page.action == ACT_SOFT_OFFLINE ? INT64_MIN : now_ms - c->page.window_ms)) {
            pending *p = action_event(out, nout, ev, now_ms,
                                      c->page.action == ACT_SOFT_OFFLINE ? "soft_offline_page" : "page_threshold", n);
            if (!p)
                return -ENOMEM;
            HL_SET(&p->r.ev, address, base);
            if (ev->dimm) {
                snprintf(p->r.dimm, sizeof(p->r.dimm), "%s", ev->dimm);
                p->r.ev.dimm = p->r.dimm;
            }
            if (c->page.action == ACT_SOFT_OFFLINE) {
                char v[32];
                int r;
                snprintf(v, sizeof(v), "0x%llx\n", (unsigned long long)base);
                r = write_sysfs(c->sys_fd, "devices/system/memory/soft_offline_page", v);
                snprintf(p->r.message, sizeof(p->r.message),
                         "page 0x%llx had %lld corrected errors in %s (threshold %lld): %s", (unsigned long long)base,
                         (long long)n, window_text(c->page.window_ms, win, sizeof(win)), (long long)c->page.threshold,
                         r < 0 ? "soft-offlining it failed" : "soft-offlined");
                snprintf(p->r.detail, sizeof(p->r.detail),
                         "wrote 0x%llx to %s/devices/system/memory/soft_offline_page: %s", (unsigned long long)base,
                         c->sysfs, r < 0 ? strerror(-r) : "ok");
            } else {
                snprintf(p->r.message, sizeof(p->r.message),
                         "page 0x%llx had %lld corrected errors in %s (threshold %lld): logged",
                         (unsigned long long)base, (long long)n, window_text(c->page.window_ms, win, sizeof(win)),
                         (long long)c->page.threshold);
                snprintf(p->r.detail, sizeof(p->r.detail), "page_action = %s", act_names[c->page.action]);
            }
        }
    }
    /* A DIMM: log only (the decision to replace it is the operator's). */
    if (c->dimm.threshold > 0 && ev->dimm) {
        hl_filter_init(&f);
        f.dimm = ev->dimm;
        f.since_ms = now_ms - c->dimm.window_ms;
        f.severities = HL_SEV_CORRECTED;
        f.counted_only = true;
        if (hl_count(db, &f, &n) == 0 && n >= c->dimm.threshold &&
            !acted(db, &f, "dimm_threshold", now_ms - c->dimm.window_ms)) {
            pending *p = action_event(out, nout, ev, now_ms, "dimm_threshold", n);
            if (!p)
                return -ENOMEM;
            snprintf(p->r.dimm, sizeof(p->r.dimm), "%s", ev->dimm);
            p->r.ev.dimm = p->r.dimm;
            snprintf(p->r.message, sizeof(p->r.message),
                     "DIMM %s had %lld corrected errors in %s (threshold %lld): logged", ev->dimm, (long long)n,
                     window_text(c->dimm.window_ms, win, sizeof(win)), (long long)c->dimm.threshold);
            snprintf(p->r.detail, sizeof(p->r.detail), "dimm_action = log");
        }
    }
    /* A core: its corrected CPU errors. */
    if (c->core.threshold > 0 && streq(ev->class, "cpu") && HL_HAS(ev, cpu)) {
        hl_filter_init(&f);
        f.cpu = ev->cpu;
        f.class = "cpu";
        f.since_ms = now_ms - c->core.window_ms;
        f.severities = HL_SEV_CORRECTED;
        f.counted_only = true;
        if (hl_count(db, &f, &n) == 0 && n >= c->core.threshold) {
            hl_filter a = f;
            const char *what = c->core.action == ACT_OFFLINE   ? "core_offline"
                               : c->core.action == ACT_DEGRADE ? "core_degraded"
                                                               : "core_threshold";
            a.class = NULL;
            if (!acted(db, &a, what, c->core.action == ACT_LOG ? now_ms - c->core.window_ms : INT64_MIN)) {
                pending *p = action_event(out, nout, ev, now_ms, what, n);
                char path[96];
                int r = 0;
                if (!p)
                    return -ENOMEM;
                HL_SET(&p->r.ev, cpu, ev->cpu);
                if (c->core.action == ACT_OFFLINE) {
                    snprintf(path, sizeof(path), "devices/system/cpu/cpu%lld/online", (long long)ev->cpu);
                    r = write_sysfs(c->sys_fd, path, "0\n");
                    snprintf(p->r.detail, sizeof(p->r.detail), "wrote 0 to %s/%s: %s", c->sysfs, path,
                             r < 0 ? strerror(-r) : "ok");
                } else
                    snprintf(p->r.detail, sizeof(p->r.detail), "core_action = %s", act_names[c->core.action]);
                snprintf(p->r.message, sizeof(p->r.message),
                         "core %lld had %lld corrected errors in %s (threshold %lld): %s", (long long)ev->cpu,
                         (long long)n, window_text(c->core.window_ms, win, sizeof(win)), (long long)c->core.threshold,
                         c->core.action == ACT_OFFLINE   ? (r < 0 ? "taking it offline failed" : "taken offline")
                         : c->core.action == ACT_DEGRADE ? "marked degraded"
                                                         : "logged");
            }
        }
    }
    return 0;
}
