/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-stresslog's shared types: the options, the targets (one domain's parameter at one
 * condition), a step's evidence, and the functions its files share (prefix sl_). */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include <uniserver/uniserver.h>

#define SL_MAX_CORES 256
#define SL_MAX_MEMBERS 16
#define SL_MAX_STEPS 4096
#define SL_MAX_FREQS 32
#define SL_MARGINS_VERSION 1

/* Exit statuses (docs/uni-stresslog.8). */
enum {
    SL_EXIT_OK = 0,
    SL_EXIT_FAILED = 1,  /* a call failed while running; the domains were restored */
    SL_EXIT_USAGE = 2,   /* bad input: nothing was changed */
    SL_EXIT_CANNOT = 3,  /* the host offers nothing to characterise (with the reason) */
    SL_EXIT_PARTIAL = 4, /* the budget ran out: partial results, marked */
    SL_EXIT_STOPPED = 5, /* SIGINT/SIGTERM: partial results, domains restored */
};

/* A domain kind beyond the API's: a cpufreq clock domain (a host without an operating-point
 * interface), named "cpuN" after one of its cores. */
#define SL_KIND_CPUFREQ 3

/* What ended a step. Ordered by severity: the worst signal of a step is its verdict. */
typedef enum { V_CLEAN, V_CE, V_UE, V_SDC, V_HANG, V_CRASH, V_ERROR, V_NVERDICT } sl_verdict;
extern const char *const sl_verdict_names[V_NVERDICT];

/* What a workload run reports (stress-ng's exit status, the board's sim/failures). */
typedef struct {
    unsigned long long sdc, crash, hang;
    bool error; /* it could not run (stress-ng exit 3: no resources, or not started) */
    char detail[160];
} sl_workload_result;

/* One step: the value tried and what was seen. */
typedef struct {
    long long value;
    unsigned long long ce, ue, sdc, crash, hang;
    sl_verdict verdict;
} sl_step;

/* One search: a domain's parameter stepped from nominal toward its limit at one condition. */
typedef struct {
    char domain[32];
    int kind; /* UNI_OPP_CPU, UNI_OPP_MEMORY, SL_KIND_CPUFREQ */
    int cores[SL_MAX_CORES], ncores;
    char members[SL_MAX_MEMBERS][32];
    int nmembers;
    char param[32], unit[8];
    long long nominal, min, max, hw_step;
    long long freq_mhz;            /* the frequency the voltage is searched at (cpu domains), else 0 */
    int dir;                       /* -1: toward min (voltage), +1: toward max (refresh, frequency) */
    long long freqs[SL_MAX_FREQS]; /* cpufreq sweep: the frequencies, ascending */
    int nfreqs;

    /* Results. */
    sl_step steps[SL_MAX_STEPS];
    int nsteps;
    bool done;           /* a failure, the limit, or the sweep's end was reached */
    bool partial;        /* stopped before done (budget, signal) */
    bool failed_nominal; /* the very first step failed */
    char status[32];     /* "failure", "limit", "budget", "stopped", "error" */
    long long measured;  /* Unix time the last step ended (the raw log's, on --resume); 0: no step */
} sl_target;

typedef struct {
    const char *uri;
    const char *domains[64];
    int ndomains;
    const char *params[8];
    int nparams;
    long long freqs[SL_MAX_FREQS];
    int nfreqs;
    double step_voltage, step_refresh_pct, step_refresh_ms, step_freq;
    bool step_refresh_is_pct;
    int guard_steps;
    double guard_abs[2]; /* [0] voltage_mv, [1] refresh_ms; < 0: unset */
    double dwell_s, memory_dwell_s, settle_s, budget_s;
    int repeats;
    unsigned long long ce_threshold;
    const char *workload;   /* "stress-ng", "simboard:DIR" or "none" */
    const char *margins;    /* the margins file */
    const char *log;        /* the raw StressLog (JSON lines) */
    const char *journal;    /* what it set, for recovery */
    const char *report_dir; /* markdown + PNG, or NULL */
    bool dry_run, resume, force, quiet;
} sl_options;

extern volatile sig_atomic_t sl_stop;

/* options.c */
int sl_parse_options(int argc, char **argv, sl_options *o);
long long sl_round_to_grid(const sl_target *t, double v, int toward);
long long sl_next_value(const sl_options *o, const sl_target *t, long long v);
long long sl_guard_value(const sl_options *o, const sl_target *t, long long last_clean);
int sl_check_guard(const sl_options *o, const sl_target *t);

/* plan.c */
int sl_build_plan(uniConnectPtr conn, const sl_options *o, sl_target **ret, int *ret_n);
int sl_check_vms(uniConnectPtr conn, const sl_target *t, int n, bool force);
int sl_max_steps(const sl_options *o, const sl_target *t);
double sl_step_seconds(const sl_options *o, const sl_target *t);
void sl_print_plan(FILE *f, const sl_options *o, const sl_target *t, int n);

/* verdict and the run (run.c) */
sl_verdict sl_decide(unsigned long long ce, unsigned long long ue, const sl_workload_result *w,
                     unsigned long long ce_threshold);
int sl_run(uniConnectPtr conn, const sl_options *o, sl_target *t, int n);
int sl_apply(uniConnectPtr conn, const sl_target *t, long long value);

/* workload.c */
int sl_workload_check(const sl_options *o, char *why, size_t len);
int sl_workload_begin(const sl_options *o, const sl_target *t);
int sl_workload_run(const sl_options *o, const sl_target *t, double seconds, sl_workload_result *r);
void sl_workload_end(const sl_options *o);
int sl_stress_ng_verdict(int status, sl_workload_result *r);

/* output.c: the raw log, resume, the margins file, the report */
const char *sl_target_key(const sl_target *t, char *buf, size_t len);
int sl_log_open(const sl_options *o);
void sl_log_step(const sl_target *t, const sl_step *s, const char *extra_json);
void sl_log_result(const sl_options *o, const sl_target *t);
void sl_log_close(void);
int sl_resume(const sl_options *o, sl_target *t, int n);
int sl_write_margins(const sl_options *o, const sl_target *t, int n, bool complete);
int sl_write_report(const sl_options *o, const sl_target *t, int n);
int sl_check_writable(const char *path, char *why, size_t len);

/* journal.c: what was set, and recovery after a kill */
int sl_journal_recover(const sl_options *o);
int sl_journal_note(const sl_options *o, uniConnectPtr conn, const sl_target *t);
int sl_restore_all(uniConnectPtr conn, const sl_options *o);
