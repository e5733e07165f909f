/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The predictor: pure functions from a HealthLog history slice, the StressLog's margins and each
 * domain's operating point and temperature to each component's and the node's failure
 * probabilities, risk classes and reasons (docs/predictor.md has the model and its limits). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "healthlog/healthlog.h"
#include "util/margins.h"

#define PR_MAX_HORIZONS 8
#define PR_NAME_MAX 32
#define PR_MAX_CPUS 64
#define PR_MAX_DIMMS 8
#define PR_REASON_MAX 200

/* The two coefficient sets: the caches of a CPU domain, and memory (DIMMs, channels). */
enum { PR_CLASS_CPU, PR_CLASS_MEM, PR_NCLASS };

/* The features of the hazard model, in the order of pr_coef.b. */
enum {
    PR_F_RATE,   /* ln(1 + corrected errors per hour over the window) */
    PR_F_TREND,  /* ln((1 + short-window rate) / (1 + window rate)): rising > 0 */
    PR_F_STORM,  /* 1 while the short window holds a storm */
    PR_F_REPEAT, /* ln(1 + addresses corrected twice or more in the window) */
    PR_F_MARGIN, /* how far past the StressLog's safe value: mV below it (voltage), doublings (refresh) */
    PR_F_TEMP,   /* (temperature - 45 C) / 10 C */
    PR_F_UE,     /* 1 when an uncorrected error happened in the window */
    PR_F_DAY,    /* ln(1 + corrected errors in the last day (day_s, 24 h)): yesterday's peak remembered */
    PR_F_PEAK,   /* ln(1 + the highest corrected errors per hour of the day's 24 hours, or of the window) */
    PR_F_HOURS,  /* the share of the day's 24 hours with corrected errors (0 to 1) */
    PR_F_DOD,    /* ln(1 + errors in the window) - ln(1 + in the same window a day earlier): signed */
    PR_F_GROWTH, /* ln(1 + errors in the last day) - ln(1 + in the day before), within -2 to 2: signed */
    PR_F_NEXT,   /* two days of history, errors in the day: ln(1 + the peak hour's rate) + growth; else 0 */
    PR_F_KNOWN,  /* 1 where x_next is known (two days of history, errors in the day), else 0 */
    PR_NFEAT
};

/* The model of a class (docs/predictor.md): P(an uncorrected error within 24 h) =
 *     1 - exp(-24 h x prior) x exp(-hold_h x exp(s0 + sum s[i] x[i])) x (1 - logistic(b0 + sum b[i] x[i]))
 * the prior (the field rate of a part without errors), the present (a hazard per hour fitted to the
 * next 15 minutes, held for hold_h hours: a storm, a high rate now) and the day ahead (a logistic
 * regression fitted to the 24 h question on the day's history, 0 without evidence: no error in
 * the day, no margin crossed, no temperature above 45 C). As one hazard held over the day, per
 * hour: prior + (hold_h x exp(s0 + s.x) + ln(1 + exp(b0 + b.x))) / 24 h. */
typedef struct {
    double prior_per_h;
    double b0;
    double b[PR_NFEAT]; /* the day ahead (logistic) */
    double s0;
    double s[PR_NFEAT]; /* the present (log-hazard per hour) */
    double hold_h;      /* how long the present's hazard is held, hours */
} pr_coef;

/* The hazard of @k at features @x, per hour (the 24 h probability as a constant hazard). */
double pr_hazard(const pr_coef *k, const double x[PR_NFEAT]);
/* Whether @x holds evidence the day ahead's term reads (else that term is 0). */
bool pr_evidence(const double x[PR_NFEAT]);

typedef struct {
    double horizons_s[PR_MAX_HORIZONS]; /* P(uncorrected error within each), > 0 */
    int nhorizons;
    double window_s;      /* the rate's window (default 3600) */
    double short_s;       /* the storm and trend window (default 300), at most window_s */
    double day_s;         /* the day of the 24 h features (default 86400), at least window_s */
    int64_t storm_count;  /* corrected errors in the short window that make a storm (default 10) */
    double threshold;     /* the node is unreliable when P(failure within 24 h) >= this (default 0.05) */
    double prior_mtbf_h;  /* the node's failure rate before its own history: one per this (default 8760) */
    double failure_gap_s; /* uncorrected errors closer than this are one failure (default 600) */
    pr_coef coef[PR_NCLASS];
} pr_config;

typedef enum { PR_COMP_PMD, PR_COMP_L2, PR_COMP_CORE, PR_COMP_DIMM, PR_COMP_CHANNEL } pr_comp_kind;

/* A component the predictor rates: which HealthLog events are its own, and its domain's
 * operating point against the StressLog's safe value where both are known. */
typedef struct {
    char name[PR_NAME_MAX]; /* "pmd2", "pmd2_l2", "core5", "DIMM2A", "mc2": one key segment */
    pr_comp_kind kind;
    int cpus[PR_MAX_CPUS]; /* CPU components: the cores whose errors count */
    int ncpus;
    char dimms[PR_MAX_DIMMS][PR_NAME_MAX]; /* memory components: the DIMM labels */
    int ndimms;
    bool have_margin; /* current and safe are known */
    bool up;          /* the margin extends upward (refresh period), else downward (voltage) */
    double current;   /* the parameter now (voltage_mv, refresh_ms) */
    double safe;      /* the StressLog's safe value for it */
    double temp_c;    /* NAN when unknown */
} pr_component;

/* A HealthLog event as the predictor reads it. */
enum { PR_EV_CE, PR_EV_UE, PR_EV_REBOOT, PR_EV_UNPLANNED_REBOOT };
typedef struct {
    int64_t time_ms;
    int64_t count;
    int kind;    /* PR_EV_* */
    int cpu;     /* -1: none */
    bool l2;     /* a CPU error in the L2 */
    bool memory; /* a memory (DRAM) error */
    bool have_addr;
    uint64_t addr;
    int64_t downtime_ms; /* reboots: how long the host was down (-1: unknown) */
    char dimm[PR_NAME_MAX];
} pr_event;

typedef enum { PR_RISK_LOW, PR_RISK_ELEVATED, PR_RISK_HIGH, PR_RISK_CRITICAL } pr_risk;
extern const char *const pr_risk_names[4];

typedef struct {
    double x[PR_NFEAT];
    double hazard_per_h;                            /* of an uncorrected error */
    double p_ue[PR_MAX_HORIZONS];                   /* within each horizon of the config */
    double ce_rate_per_h;                           /* corrected errors per hour over the window */
    int64_t ce_window, ce_short, ce_24h, ue_window; /* ce_24h: over the day (day_s) */
    pr_risk risk;
    char reason[PR_REASON_MAX];
    bool mcelog, rasdaemon; /* the baseline rules' alarms */
} pr_result;

typedef struct {
    double p_fail[PR_MAX_HORIZONS];
    double hazard_per_h;
    double observed_h; /* the history the HealthLog covers */
    int nfailures;     /* uncorrected-error episodes and unplanned reboots */
    int nreboots;      /* reboots with a known downtime */
    double mtbf_h;     /* NAN when no failure was seen */
    double mttr_min;   /* NAN when no reboot's downtime is known */
    bool unreliable;
    char reason[PR_REASON_MAX];
} pr_node;

/* The defaults above, with the coefficients docs/predictor.md gives. */
void pr_config_default(pr_config *c);
/* -EINVAL with @err naming the value when @c is not usable (a horizon 0 or negative ...). */
int pr_config_check(const pr_config *c, char *err, size_t errlen);
/* Parse "1h,24h,7d" (units s, m, h, d; a bare number is seconds) into @c's horizons. -EINVAL. */
int pr_parse_horizons(pr_config *c, const char *s, char *err, size_t errlen);

/* An HealthLog event as the predictor reads it: 0, or -ENOENT for an event it does not use. */
int pr_event_from_hl(const hl_event *e, pr_event *ret);

/* Rate every component and the node at @now_ms from @ev (any order; the slice must cover two
 * days and the window where it can) over a history that began at @history_start_ms. @ret has @n
 * entries. -EINVAL (a bad config, @err says why). */
int pr_predict(const pr_config *c, const pr_component *comps, size_t n, const pr_event *ev, size_t nev, int64_t now_ms,
               int64_t history_start_ms, pr_result *ret, pr_node *node, char *err, size_t errlen);

/* P(uncorrected error within @horizon_s) of the component named @name in @res: -EINVAL for a
 * horizon 0 or negative, -ENOENT for a name that is not one of @comps; @err says which. */
int pr_component_p_ue(const pr_component *comps, const pr_result *res, size_t n, const char *name, double horizon_s,
                      double *ret, char *err, size_t errlen);
double pr_p_within(double hazard_per_h, double horizon_s);

/* ---- the StressLog's margins, as util/margins.c (their one reader) parsed them ---- */
/* The margin of @domain's @param that has a safe value, the one searched at the frequency nearest
 * @freq_mhz; NULL when there is none (no search, or not even nominal was clean). */
const uni_margin *pr_margin_find(const uni_margins *m, const char *domain, const char *param, double freq_mhz);
