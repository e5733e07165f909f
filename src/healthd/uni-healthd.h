/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-healthd's internals: settings, the tracefs source, the pending events of a cycle, actions
 * and the rasdaemon import. The pure parsers are in healthd.h. */
#pragma once

#include <uv.h>

#include "healthd.h"
#include "util/log.h"
#include "util/settings.h"

#define HD_DEFAULT_CONFIG "/etc/uniserver/uni-healthd.conf"
#define TRACE_INSTANCE "uni-healthd"
#define HD_MAX_CPUS 8192 /* CPU bitmaps (as the local driver's) */

/* ---- settings (uni-healthd.c) ---- */
typedef struct {
    char *db, *procfs, *sysfs, *tracefs, *pid_file, *import_rasdaemon;
    char *page_action, *dimm_action, *core_action;
    long interval_ms, sensor_interval_ms;
    long retention_days, retention_max_events, sensor_retention_days;
    long page_ce_threshold, page_ce_window_s, dimm_ce_threshold, dimm_ce_window_s, core_ce_threshold, core_ce_window_s;
    bool trace, edac, vm_links, syslog, foreground, once;
    log_level level;
} hd_config;

/* ---- tracefs.c ---- */
enum {
    TRACE_MC_EVENT,
    TRACE_MCE_RECORD,
    TRACE_AER_EVENT,
    TRACE_ARM_EVENT,
    TRACE_NON_STANDARD_EVENT,
    TRACE_MEMORY_FAILURE_EVENT,
    TRACE_NEVENTS
};
const char *trace_event_name(int i);
typedef struct {
    int cpu, fd;
    uint8_t *buf; /* one page being filled */
    size_t have;
    uv_poll_t poll;
    bool polling;
} trace_cpu;
typedef int (*trace_sink)(void *u, const trace_format *f, int event, const uint8_t *rec, size_t len, int cpu);
typedef struct {
    int root_fd, inst_fd;
    trace_page_layout layout;
    trace_format *fmts;
    int fmt_event[TRACE_NEVENTS];
    size_t nfmts;
    trace_cpu *cpus;
    size_t ncpus;
    bool live[TRACE_NEVENTS];        /* enabled in our instance now */
    bool was_enabled[TRACE_NEVENTS]; /* already enabled at start: recorded while we were down */
    uint64_t pages, records, malformed, lost_pages, foreign, read_errors;
    void (*on_lost)(void *u, int cpu);
} trace_src;
int trace_src_open(trace_src *t, const char *dir, char *why, size_t wl);
/* Read every whole page waiting on every CPU and hand each record to @sink. @final: also a
 * partial page left at the end (one-shot runs). Returns the pages read. */
int trace_src_drain(trace_src *t, bool final, trace_sink sink, void *u);
void trace_src_close(trace_src *t);

/* ---- the pending events of one cycle (uni-healthd.c) ---- */
typedef struct {
    ras_record r;    /* the event and its strings */
    bool from_trace; /* kept for the next commit when one fails (the kernel will not resend it);
                      * counter-derived events are derived again instead */
} pending;

/* ---- actions.c: first-level actions on thresholds ---- */
typedef enum { ACT_LOG, ACT_SOFT_OFFLINE, ACT_DEGRADE, ACT_OFFLINE } act_kind;
typedef struct {
    int64_t threshold; /* corrected errors within the window; 0: off */
    int64_t window_ms;
    act_kind action;
} act_rule;
typedef struct {
    act_rule page, dimm, core;
    int sys_fd;       /* the configured sysfs root: soft_offline_page, cpuN/online */
    const char *sysfs;
} act_config;
/* Parse "log", "soft_offline", "degrade", "offline" for a rule of @what ("page", "dimm", "core"). */
int act_parse(const char *what, const char *s, act_kind *ret);
/* After @ev (a committed, counted, corrected error) check the thresholds of its page, DIMM and
 * core; each crossing acts (once per object and window) and becomes an action event appended to
 * @out (strings owned by the pending entries). */
int actions_check(hl_db *db, const act_config *c, const hl_event *ev, int64_t now_ms, pending ***out, size_t *nout);

/* ---- rasimport.c ---- */
/* Import the events of a rasdaemon SQLite database (mc_event, mce_record, aer_event, arm_event,
 * non_standard_event, mf_event) not imported before; returns how many, or -errno with @why. */
int64_t rasdaemon_import(hl_db *db, const char *path, char *why, size_t wl);
/* "2024-01-15 10:20:30 +0100" (rasdaemon's timestamps) to ms since the Epoch. */
int rasdaemon_time(const char *s, int64_t *ret);

pending *pending_new(pending ***list, size_t *n);
void pending_free(pending **list, size_t n);
