/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-stresslog's command line: parsing and checking every option before anything is touched,
 * and the arithmetic of steps and guard bands on a parameter's grid of settable values. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stresslog/stresslog.h"
#include "util/util.h"

static void usage(FILE *f) {
    fprintf(f, "usage: uni-stresslog [OPTION]...\n"
               "\n"
               "Finds each operating-point domain's safe margin by stress test: steps a PMD's voltage (at each\n"
               "frequency asked for), a memory channel's refresh period, or a cpufreq domain's frequency from\n"
               "nominal toward its limit, runs a stress workload on the domain at each step and stops the domain\n"
               "at its first failure signal (an uncorrected error, corrected errors above a threshold, data\n"
               "corruption, a crash or a hang of the workload). The safe value is the last clean step plus a\n"
               "guard band. Writes the margins file (JSON, docs/stresslog.md) and the raw StressLog (JSON lines).\n"
               "Every domain goes back to nominal at the end, on SIGINT/SIGTERM, and on the next start after a\n"
               "kill (the journal).\n"
               "\n"
               "  -c, --connect URI        the host (default uniserver:///system; a read-write connection)\n"
               "      --domain NAME        test this domain only (pmd2, mc1, cpu0; repeatable or a comma list)\n"
               "      --param NAME         parameters to step (voltage_mv, refresh_ms; default voltage_mv on\n"
               "                           CPU domains, refresh_ms on memory channels)\n"
               "      --frequencies LIST   MHz, comma-separated: the frequencies a PMD's voltage is searched at\n"
               "                           (default its nominal), or the frequencies a cpufreq domain sweeps\n"
               "      --step PARAM=N       step of a parameter: voltage_mv=5 (default the hardware's step),\n"
               "                           refresh_ms=10%% (default; or a number of ms)\n"
               "      --guard-steps N      the safe value is N steps back from the last clean one (default 1)\n"
               "      --guard-band PARAM=N a guard band in the parameter's unit instead (voltage_mv=10)\n"
               "      --dwell S            seconds of stress per repeat on a CPU domain (default 10)\n"
               "      --memory-dwell S     seconds of stress per repeat on a memory channel (default 60)\n"
               "      --repeats N          repeats per step (default 3)\n"
               "      --settle S           wait after a step for the HealthLog to record its errors (default 2.5)\n"
               "      --ce-threshold N     corrected errors per step tolerated (default 0)\n"
               "      --budget S           stop cleanly after S seconds of wall time, partial results marked\n"
               "      --workload W         stress-ng (default), microvirus (per cache level; channels: stress-ng),\n"
               "                           simboard:DIR (uni-simboard's load), none\n"
               "      --margins FILE       the margins file (default /var/lib/uniserver/margins.json)\n"
               "      --log FILE           the raw StressLog (default /var/lib/uniserver/stresslog.jsonl)\n"
               "      --journal FILE       what was set, for recovery (default /var/lib/uniserver/stresslog.journal)\n"
               "      --report DIR         also write DIR/report.md with PNG plots (gnuplot)\n"
               "      --resume             continue from the raw log after an interruption\n"
               "      --dry-run            print the plan and its estimated time; change nothing\n"
               "      --force              test domains whose cores run VMs\n"
               "  -q, --quiet              no progress\n"
               "  -h, --help               this help\n"
               "\n"
               "Exit status: 0 done, 1 failure (domains restored), 2 bad input (nothing changed), 3 nothing to\n"
               "characterise here (the reason is printed), 4 budget exhausted (partial), 5 interrupted.\n"
               "uni-stresslog(8) and docs/stresslog.md say more.\n");
}

_printf_(1, 2) static int bad(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "uni-stresslog: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (INVALID_ARG)\n");
    return -EINVAL;
}

/* A number; negative ones are parsed so that they are refused with a clear message. */
static int number(const char *s, double *ret) {
    char *end;
    errno = 0;
    *ret = strtod(s, &end);
    return errno || end == s || *end || !isfinite(*ret) ? -EINVAL : 0;
}

static int positive(const char *opt, const char *s, double *ret, bool zero_ok) {
    if (number(s, ret) < 0)
        return bad("%s takes a number", opt);
    if (*ret < 0 || (!zero_ok && *ret == 0)) {
        fprintf(stderr, "uni-stresslog: %s must be %s, not '%s' (INVALID_ARG)\n", opt,
                zero_ok ? "zero or more" : "more than zero", s);
        return -EINVAL;
    }
    return 0;
}

static int split_list(char *s, const char **out, int max, int *n) {
    for (char *save = NULL, *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (*n == max)
            return -E2BIG;
        out[(*n)++] = t;
    }
    return 0;
}

static int param_value(const char *opt, char *arg, sl_options *o, bool guard) {
    char *eq = strchr(arg, '=');
    double v;
    size_t len;
    bool pct;

    if (!eq)
        return bad("%s takes PARAM=VALUE (voltage_mv=5)", opt);
    *eq++ = 0;
    len = strlen(eq);
    pct = len > 0 && eq[len - 1] == '%';
    if (pct)
        eq[len - 1] = 0;
    if (number(eq, &v) < 0) {
        fprintf(stderr, "uni-stresslog: %s %s takes a number, not '%s' (INVALID_ARG)\n", opt, arg, eq);
        return -EINVAL;
    }
    if (guard ? v < 0 : v <= 0) {
        fprintf(stderr, "uni-stresslog: %s %s=%s: must be %s (INVALID_ARG)\n", opt, arg, eq,
                guard ? "zero or more" : "more than zero");
        return -EINVAL;
    }
    if (streq(arg, "voltage_mv") && !pct) {
        if (guard)
            o->guard_abs[0] = v;
        else
            o->step_voltage = v;
    } else if (streq(arg, "refresh_ms") && !guard) {
        o->step_refresh_is_pct = pct;
        if (pct)
            o->step_refresh_pct = v;
        else
            o->step_refresh_ms = v;
    } else if (streq(arg, "refresh_ms") && !pct) {
        o->guard_abs[1] = v;
    } else if (streq(arg, "frequency_mhz") && !guard && !pct) {
        o->step_freq = v;
    } else {
        fprintf(stderr, "uni-stresslog: %s: '%s%s' is not a parameter this option takes (INVALID_ARG)\n", opt, arg,
                pct ? " in %" : "");
        return -EINVAL;
    }
    return 0;
}

int sl_parse_options(int argc, char **argv, sl_options *o) {
    enum {
        O_DOMAIN = 256,
        O_PARAM,
        O_FREQS,
        O_STEP,
        O_GSTEPS,
        O_GBAND,
        O_DWELL,
        O_MDWELL,
        O_REPEATS,
        O_SETTLE,
        O_CE,
        O_BUDGET,
        O_WORKLOAD,
        O_MARGINS,
        O_LOG,
        O_JOURNAL,
        O_REPORT,
        O_RESUME,
        O_DRY,
        O_FORCE,
    };
    static const struct option longopts[] = {
        {"connect", required_argument, NULL, 'c'},
        {"domain", required_argument, NULL, O_DOMAIN},
        {"param", required_argument, NULL, O_PARAM},
        {"frequencies", required_argument, NULL, O_FREQS},
        {"step", required_argument, NULL, O_STEP},
        {"guard-steps", required_argument, NULL, O_GSTEPS},
        {"guard-band", required_argument, NULL, O_GBAND},
        {"dwell", required_argument, NULL, O_DWELL},
        {"memory-dwell", required_argument, NULL, O_MDWELL},
        {"repeats", required_argument, NULL, O_REPEATS},
        {"settle", required_argument, NULL, O_SETTLE},
        {"ce-threshold", required_argument, NULL, O_CE},
        {"budget", required_argument, NULL, O_BUDGET},
        {"workload", required_argument, NULL, O_WORKLOAD},
        {"margins", required_argument, NULL, O_MARGINS},
        {"log", required_argument, NULL, O_LOG},
        {"journal", required_argument, NULL, O_JOURNAL},
        {"report", required_argument, NULL, O_REPORT},
        {"resume", no_argument, NULL, O_RESUME},
        {"dry-run", no_argument, NULL, O_DRY},
        {"force", no_argument, NULL, O_FORCE},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double v;
    int c;

    *o = (sl_options){
        .uri = "uniserver:///system",
        .step_refresh_pct = 10,
        .step_refresh_is_pct = true,
        .step_freq = 0,
        .guard_steps = 1,
        .guard_abs = {-1, -1},
        .dwell_s = 10,
        .memory_dwell_s = 60,
        .settle_s = 2.5,
        .repeats = 3,
        .workload = "stress-ng",
        .margins = "/var/lib/uniserver/margins.json",
        .log = "/var/lib/uniserver/stresslog.jsonl",
        .journal = "/var/lib/uniserver/stresslog.journal",
    };
    while ((c = getopt_long(argc, argv, "c:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->uri = optarg;
            break;
        case O_DOMAIN:
            if (split_list(optarg, o->domains, (int)ELEMENTSOF(o->domains), &o->ndomains) < 0)
                return bad("--domain: too many domains (%s)", optarg);
            break;
        case O_PARAM:
            if (split_list(optarg, o->params, (int)ELEMENTSOF(o->params), &o->nparams) < 0)
                return bad("--param: too many parameters (%s)", optarg);
            for (int i = 0; i < o->nparams; i++)
                if (!streq(o->params[i], "voltage_mv") && !streq(o->params[i], "refresh_ms"))
                    return bad("--param: '%s' is not a parameter uni-stresslog steps (voltage_mv, refresh_ms)",
                               o->params[i]);
            break;
        case O_FREQS: {
            const char *f[SL_MAX_FREQS];
            int n = 0;
            if (split_list(optarg, f, SL_MAX_FREQS, &n) < 0)
                return bad("--frequencies: too many (%s)", optarg);
            for (int i = 0; i < n; i++) {
                if (number(f[i], &v) < 0 || v <= 0 || v != floor(v))
                    return bad("--frequencies: '%s' is not a frequency in MHz", f[i]);
                o->freqs[o->nfreqs++] = (long long)v;
            }
            break;
        }
        case O_STEP:
            if (param_value("--step", optarg, o, false) < 0)
                return -EINVAL;
            break;
        case O_GBAND:
            if (param_value("--guard-band", optarg, o, true) < 0)
                return -EINVAL;
            break;
        case O_GSTEPS:
            if (positive("--guard-steps", optarg, &v, true) < 0 || v != floor(v) || v > 100)
                return bad("--guard-steps takes a whole number of steps 0-100, not '%s'", optarg);
            o->guard_steps = (int)v;
            break;
        case O_DWELL:
            if (positive("--dwell", optarg, &o->dwell_s, false) < 0)
                return -EINVAL;
            break;
        case O_MDWELL:
            if (positive("--memory-dwell", optarg, &o->memory_dwell_s, false) < 0)
                return -EINVAL;
            break;
        case O_REPEATS:
            if (positive("--repeats", optarg, &v, false) < 0 || v != floor(v) || v > 1000)
                return bad("--repeats takes a whole number 1-1000, not '%s'", optarg);
            o->repeats = (int)v;
            break;
        case O_SETTLE:
            if (positive("--settle", optarg, &o->settle_s, true) < 0)
                return -EINVAL;
            break;
        case O_CE:
            if (positive("--ce-threshold", optarg, &v, true) < 0 || v != floor(v))
                return bad("--ce-threshold takes a whole number, not '%s'", optarg);
            o->ce_threshold = (unsigned long long)v;
            break;
        case O_BUDGET:
            if (positive("--budget", optarg, &o->budget_s, false) < 0)
                return -EINVAL;
            break;
        case O_WORKLOAD:
            if (!streq(optarg, "stress-ng") && !streq(optarg, "none") && !streq(optarg, "microvirus") &&
                !startswith(optarg, "simboard:"))
                return bad("--workload: '%s' is not stress-ng, microvirus, simboard:DIR or none", optarg);
            o->workload = optarg;
            break;
        case O_MARGINS:
            o->margins = optarg;
            break;
        case O_LOG:
            o->log = optarg;
            break;
        case O_JOURNAL:
            o->journal = optarg;
            break;
        case O_REPORT:
            o->report_dir = optarg;
            break;
        case O_RESUME:
            o->resume = true;
            break;
        case O_DRY:
            o->dry_run = true;
            break;
        case O_FORCE:
            o->force = true;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -EINVAL;
        }
    }
    if (optind != argc)
        return bad("unexpected argument '%s'", argv[optind]);
    return 0;
}

/* ---- the grid of settable values ---- */

/* @v rounded onto the parameter's grid (min + k x step), up (@toward > 0) or down. */
long long sl_round_to_grid(const sl_target *t, double v, int toward) {
    double step = t->hw_step > 1 ? (double)t->hw_step : 1.0;
    double k = (v - (double)t->min) / step;
    k = toward > 0 ? ceil(k - 1e-9) : floor(k + 1e-9);
    return t->min + (long long)k * (long long)step;
}

static bool within(const sl_target *t, long long v) {
    return v >= t->min && v <= t->max;
}

/* The value after @v toward the limit, or LLONG_MIN past the limit (or past the sweep's end). */
long long sl_next_value(const sl_options *o, const sl_target *t, long long v) {
    long long n;

    if (t->kind == SL_KIND_CPUFREQ) {
        for (int i = 0; i + 1 < t->nfreqs; i++)
            if (t->freqs[i] == v)
                return t->freqs[i + 1];
        return LLONG_MIN;
    }
    if (t->dir < 0) {
        double step = o->step_voltage > 0 ? o->step_voltage : (double)(t->hw_step > 1 ? t->hw_step : 1);
        /* Rounded up (toward nominal): never a bigger step than asked. */
        n = sl_round_to_grid(t, (double)v - step, +1);
        if (n >= v)
            n = v - (t->hw_step > 1 ? t->hw_step : 1);
    } else {
        double target =
            o->step_refresh_is_pct ? (double)v * (1.0 + o->step_refresh_pct / 100.0) : (double)v + o->step_refresh_ms;
        n = sl_round_to_grid(t, target, -1);
        if (n <= v)
            n = v + (t->hw_step > 1 ? t->hw_step : 1);
    }
    return within(t, n) ? n : LLONG_MIN;
}

/* The first value of a target's sequence: its nominal, or the sweep's lowest frequency. */
static long long first_value(const sl_target *t) {
    return t->kind == SL_KIND_CPUFREQ ? t->freqs[0] : t->nominal;
}

/* The safe value: @last_clean moved back toward nominal by the guard band. */
long long sl_guard_value(const sl_options *o, const sl_target *t, long long last_clean) {
    int g = streq(t->param, "voltage_mv") ? 0 : streq(t->param, "refresh_ms") ? 1 : -1;
    long long seq[SL_MAX_STEPS], safe;
    int n = 0, at = -1;

    if (g >= 0 && o->guard_abs[g] >= 0) {
        safe = sl_round_to_grid(t, (double)last_clean - t->dir * o->guard_abs[g], -t->dir);
        /* Never past nominal on the safe side either: nominal is the vendor's value. */
        if (t->dir < 0 && safe > t->nominal)
            safe = t->nominal;
        if (t->dir > 0 && safe < t->nominal)
            safe = t->nominal;
        return safe;
    }
    for (long long v = first_value(t); v != LLONG_MIN && n < SL_MAX_STEPS; v = sl_next_value(o, t, v)) {
        if (v == last_clean)
            at = n;
        seq[n++] = v;
        if (at >= 0)
            break;
    }
    if (at < 0)
        return last_clean;
    return seq[at >= o->guard_steps ? at - o->guard_steps : 0];
}

/* A guard band that would put the safe value past the domain's limits is refused. */
int sl_check_guard(const sl_options *o, const sl_target *t) {
    int g = streq(t->param, "voltage_mv") ? 0 : streq(t->param, "refresh_ms") ? 1 : -1;
    if (g < 0 || o->guard_abs[g] < 0)
        return 0;
    if (o->guard_abs[g] > (double)(t->max - t->min)) {
        fprintf(stderr,
                "uni-stresslog: --guard-band %s=%g %s is wider than %s's whole range %lld-%lld %s: no value "
                "could be safe (OUT_OF_RANGE)\n",
                t->param, o->guard_abs[g], t->unit, t->domain, t->min, t->max, t->unit);
        return -ERANGE;
    }
    return 0;
}
