/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-healthd's internals: settings, the tracefs source, the pending events of a cycle, actions,
 * the rasdaemon import, and the daemon's state with its commits and sources. The pure parsers are
 * in healthd.h. */
#pragma once

#include <uv.h>

#include "healthd.h"
#include "util/log.h"
#include "util/settings.h"

#define HD_DEFAULT_CONFIG "/etc/uniserver/uni-healthd.conf"
#define TRACE_INSTANCE "uni-healthd"
#define HD_MAX_CPUS 8192 /* CPU bitmaps (as the local driver's) */

/* ---- settings (config.c) ---- */
typedef struct {
    char *db, *procfs, *sysfs, *tracefs, *pid_file, *import_rasdaemon;
    char *page_action, *dimm_action, *core_action;
    long interval_ms, sensor_interval_ms;
    long retention_days, retention_max_events, sensor_retention_days;
    long page_ce_threshold, page_ce_window_s, dimm_ce_threshold, dimm_ce_window_s, core_ce_threshold, core_ce_window_s;
    bool trace, edac, vm_links, syslog, foreground, once;
    bool move_damaged; /* a damaged HealthLog is moved aside and a new one started (else refused) */
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

/* ---- the pending events of one cycle (commit.c) ---- */
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
    int sys_fd; /* the configured sysfs root: soft_offline_page, cpuN/online */
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

/* ---- config.c: the settings table, --help, defaults ---- */
extern const settings_def hd_settings;
void hd_usage(FILE *f);
void hd_config_defaults(hd_config *c);
/* Fill what the file and flags left unset, and check the action names. */
int hd_config_finish(hd_config *c, act_config *a);

/* ---- the daemon's state (uni-healthd.c runs it) ---- */
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
    char spool_why[600]; /* the action spool's last refusal (logged once) */
} hd;

/* ---- commit.c: the HealthLog's side of a cycle ---- */
/* Set a state key in the next commit. */
int hd_state_later(hd *h, const char *key, int64_t value);
void hd_state_drop(hd *h);
/* Commit the pending events and state, then act on the thresholds they crossed. */
void hd_flush(hd *h, int64_t now);
/* Delete what is older than the retention settings, in batches. */
void hd_retention(hd *h, int64_t now);

/* ---- sources.c: what becomes events, samples and DIMM rows ---- */
/* The EDAC counters' increases as pending events (@startup: the first pass after a start). */
void hd_edac_cycle(hd *h, bool startup, int64_t now);
/* trace_sink and on_lost of the RAS tracepoints: records, and lost pages, as pending events. */
int hd_trace_sink(void *u, const trace_format *f, int event, const uint8_t *rec, size_t len, int cpu);
void hd_trace_lost(void *u, int cpu);
void hd_reboot_event(hd *h, int64_t last_seen_ms, int64_t stopped_ms);
void hd_sample_sensors(hd *h, int64_t now);
void hd_read_smbios(hd *h);
