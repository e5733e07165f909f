/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-stresslog's search: each target stepped from nominal toward its limit through the public
 * API, a stress workload at each step, the errors the HealthLog recorded meanwhile, the verdict
 * of the step, progress on a terminal (plain lines otherwise), the budget and the signals. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stresslog/stresslog.h"
#include "util/util.h"

/* Set when the HealthLog does not count a cpufreq domain's errors (its sweep runs on the
 * workload's verdicts alone). */
static bool errors_invisible;

const char *const sl_verdict_names[V_NVERDICT] = {"clean", "ce", "ue", "sdc", "hang", "crash", "error"};

/* The worst signal decides: a workload that could not run is no verdict on the hardware. */
sl_verdict sl_decide(unsigned long long ce, unsigned long long ue, const sl_workload_result *w,
                     unsigned long long ce_threshold) {
    if (w && w->error)
        return V_ERROR;
    if (w && w->crash)
        return V_CRASH;
    if (w && w->hang)
        return V_HANG;
    if (w && w->sdc)
        return V_SDC;
    if (ue)
        return V_UE;
    if (ce > ce_threshold)
        return V_CE;
    return V_CLEAN;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps @s seconds unless a signal asks to stop. */
static void pause_s(double s) {
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - floor(s)) * 1e9)};
    while (!sl_stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Waits for the HealthLog to hold the errors of the stress that just ended: until uni-healthd
 * has committed three times (with its sensors sampled every cycle, that is one whole cycle begun
 * after the stress: the first two may both be the end of a cycle begun before it), at most
 * --settle seconds. Where the connection cannot wait on the HealthLog (over uniserverd), or
 * uni-healthd commits only when there are errors, it is the whole --settle. */
static void settle(uniConnectPtr conn, double seconds) {
    double end = now_s() + seconds;
    for (int changes = 0; changes < 3 && !sl_stop;) {
        double left = end - now_s();
        int r;
        if (left <= 0)
            return;
        r = uniHealthLogWait(conn, (int)(left * 1000) + 1, 0);
        if (r < 0) {
            pause_s(left);
            return;
        }
        if (r == 0)
            return;
        changes++;
    }
}

/* Sets @value of @t's parameter (with its frequency, for a PMD's voltage). */
int sl_apply(uniConnectPtr conn, const sl_target *t, long long value) {
    if (t->kind == SL_KIND_CPUFREQ) {
        char f[32];
        snprintf(f, sizeof(f), "%lldMHz", value);
        return uniNodeSetFrequency(conn, t->cores[0], f, 0) < 0 ? -1 : 0;
    }
    uniOppSetting set[2] = {{t->param, value}, {"frequency_mhz", t->freq_mhz}};
    return uniNodeSetOperatingPoint(conn, t->domain, set, t->freq_mhz > 0 ? 2 : 1, 0);
}

static double num(const uniSample *s) {
    return s->type == UNI_VALUE_U64 ? (double)s->value.u : s->type == UNI_VALUE_DOUBLE ? s->value.d : NAN;
}

/* The domain's corrected and uncorrected errors so far, as the HealthLog counts them: per core
 * for a CPU domain (an X-Gene2 PMD's cache errors are its first core's), per DIMM for a channel. */
static int count_errors(uniRecordPtr rec, const sl_target *t, unsigned long long *ce, unsigned long long *ue, char *why,
                        size_t len) {
    const char *tmpl = t->kind == UNI_OPP_MEMORY ? "host.errors.dimm.D.ce.count" : "host.errors.core.N.ce.count";
    int n = t->kind == UNI_OPP_MEMORY ? t->nmembers : t->ncores;
    *ce = *ue = 0;
    for (int i = 0; i < n; i++) {
        char kce[96], kue[96];
        const uniSample *a, *b;
        if (t->kind == UNI_OPP_MEMORY) {
            snprintf(kce, sizeof(kce), "host.errors.dimm.%s.ce.count", t->members[i]);
            snprintf(kue, sizeof(kue), "host.errors.dimm.%s.ue.count", t->members[i]);
        } else {
            snprintf(kce, sizeof(kce), "host.errors.core.%d.ce.count", t->cores[i]);
            snprintf(kue, sizeof(kue), "host.errors.core.%d.ue.count", t->cores[i]);
        }
        a = uniRecordLookup(rec, kce);
        b = uniRecordLookup(rec, kue);
        if (!a || !b) {
            const char *r = uniRecordAbsentReason(rec, tmpl);
            snprintf(why, len, "%s", r ? r : "the HealthLog does not count this domain's errors");
            return -ENODATA;
        }
        *ce += (unsigned long long)num(a);
        *ue += (unsigned long long)num(b);
    }
    return 0;
}

static uniRecordPtr sample(uniConnectPtr conn) {
    const char *sel[] = {"errors", "temp", "power", "cpu", NULL};
    uniRecordPtr rec = NULL;
    if (uniNodeGetStats(conn, sel, &rec, UNI_NODE_STATS_BEST_EFFORT) < 0)
        return NULL;
    return rec;
}

/* A host record with the domain's error counts. A HealthLog busy with uni-healthd's commit is
 * absent from one record and there in the next: a few tries before giving up. A domain whose
 * errors are not counted at all (a cpufreq domain without a HealthLog) counts zero. */
static uniRecordPtr counted_sample(uniConnectPtr conn, const sl_target *t, unsigned long long *ce,
                                   unsigned long long *ue, char *why, size_t len) {
    for (int tries = 0; tries < 50; tries++) {
        uniRecordPtr rec = sample(conn);
        if (!rec) {
            snprintf(why, len, "%s", uniGetLastError()->message);
        } else if (count_errors(rec, t, ce, ue, why, len) == 0) {
            return rec;
        } else if (t->kind == SL_KIND_CPUFREQ && errors_invisible) {
            *ce = *ue = 0;
            return rec;
        } else {
            uniRecordFree(rec);
        }
        pause_s(0.1);
    }
    return NULL;
}

/* Temperatures, power and the domain's cores' utilisation of a step, as JSON members. */
static void conditions(uniRecordPtr rec, const sl_target *t, char *buf, size_t len) {
    static const char *const keys[][2] = {{"temp_c", "host.temp.cpu_avg_c"},
                                          {"power_cpu_w", "host.power.cpu_w"},
                                          {"power_mem_w", "host.power.mem_w"},
                                          {"power_total_w", "host.power.total_w"}};
    size_t o = 0;
    for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
        const uniSample *s = uniRecordLookup(rec, keys[i][1]);
        double v = s ? num(s) : NAN;
        o += (size_t)snprintf(buf + o, len - o, ",\"%s\":", keys[i][0]);
        o += (size_t)(isfinite(v) ? snprintf(buf + o, len - o, "%.2f", v) : snprintf(buf + o, len - o, "null"));
    }
    o += (size_t)snprintf(buf + o, len - o, ",\"util_pct\":{");
    for (int c = 0; c < t->ncores && o < len; c++) {
        char key[64];
        const uniSample *s;
        double v;
        snprintf(key, sizeof(key), "host.cpu.%d.util_pct", t->cores[c]);
        s = uniRecordLookup(rec, key);
        v = s ? num(s) : NAN;
        o += (size_t)snprintf(buf + o, len - o, "%s\"%d\":", c ? "," : "", t->cores[c]);
        o += (size_t)(isfinite(v) ? snprintf(buf + o, len - o, "%.1f", v) : snprintf(buf + o, len - o, "null"));
    }
    if (o < len)
        o += (size_t)snprintf(buf + o, len - o, "}");
    /* Perf counters: the host record has none host-wide; per VM they are dom.perf.* (not a stress). */
    if (o < len)
        snprintf(buf + o, len - o, ",\"perf\":null");
}

typedef struct {
    double started, step_wall;
    int steps_done, steps_max;
    unsigned long long ce, ue;
    bool tty;
} progress;

static void show(const sl_options *o, progress *p, const sl_target *t, const sl_step *s, bool final) {
    double el = now_s() - p->started;
    double eta = p->steps_done ? (el / p->steps_done) * (p->steps_max - p->steps_done) : 0;
    char cond[32] = "";
    if (o->quiet)
        return;
    if (t->freq_mhz)
        snprintf(cond, sizeof(cond), "@%lldMHz", t->freq_mhz);
    if (p->tty) {
        int width = 24, fill = p->steps_max ? (int)(width * p->steps_done / p->steps_max) : 0;
        printf("\r\033[K[%.*s%*s] %s %s%s step %d %lld %s  %d:%02d elapsed, ETA <= %d:%02d  ce %llu ue %llu", fill,
               "########################", width - fill, "", t->domain, t->param, cond, t->nsteps, s->value, t->unit,
               (int)el / 60, (int)el % 60, (int)eta / 60, (int)eta % 60, p->ce, p->ue);
        if (final)
            printf("\n");
        fflush(stdout);
    } else if (final) {
        printf("%s %s%s %lld %s: %s (ce %llu, ue %llu, sdc %llu, crash %llu)  [%d/%d steps, %.0f s]\n", t->domain,
               t->param, cond, s->value, t->unit, sl_verdict_names[s->verdict], s->ce, s->ue, s->sdc, s->crash,
               p->steps_done, p->steps_max, el);
        fflush(stdout);
    }
}

/* One step: set the value, stress the domain, wait for the HealthLog, count, decide. */
static int run_step(uniConnectPtr conn, const sl_options *o, sl_target *t, long long value, sl_step *s, char *extra,
                    size_t len) {
    unsigned long long ce0, ue0, ce1, ue1;
    double dwell = t->kind == UNI_OPP_MEMORY ? o->memory_dwell_s : o->dwell_s;
    sl_workload_result w = {0};
    uniRecordPtr r0, r1;
    char why[512];

    memset(s, 0, sizeof(*s));
    s->value = value;
    if (sl_apply(conn, t, value) < 0) {
        fprintf(stderr, "\nuni-stresslog: %s %s=%lld: %s\n", t->domain, t->param, value, uniGetLastError()->message);
        return -EIO;
    }
    /* The errors of what ran before this step (the previous step's stress, a killed run's last
     * step before the recovery) must be in the HealthLog before the baseline is read, or they
     * would be this step's: a resumed search failed at nominal on them. */
    settle(conn, o->settle_s);
    /* The baseline must be read: a count missing here would make every earlier error this step's. */
    if ((r0 = counted_sample(conn, t, &ce0, &ue0, why, sizeof(why))) == NULL) {
        fprintf(stderr, "\nuni-stresslog: %s: cannot read its error counts before the step: %s\n", t->domain, why);
        return -EIO;
    }
    uniRecordFree(r0);
    for (int k = 0; k < o->repeats && !sl_stop; k++) {
        sl_workload_result one = {0};
        sl_workload_run(o, t, dwell, &one);
        w.sdc += one.sdc;
        w.crash += one.crash;
        w.hang += one.hang;
        if (one.error) {
            w.error = true;
            snprintf(w.detail, sizeof(w.detail), "%s", one.detail);
        }
        /* A workload failure ends the step: the step has failed, more stress teaches nothing. */
        if (one.error || one.sdc || one.crash || one.hang)
            break;
    }
    settle(conn, o->settle_s);
    if ((r1 = counted_sample(conn, t, &ce1, &ue1, why, sizeof(why))) == NULL) {
        fprintf(stderr, "\nuni-stresslog: %s: cannot read its error counts after the step: %s\n", t->domain, why);
        return -EIO;
    }
    s->ce = ce1 >= ce0 ? ce1 - ce0 : 0;
    s->ue = ue1 >= ue0 ? ue1 - ue0 : 0;
    conditions(r1, t, extra, len);
    uniRecordFree(r1);
    s->sdc = w.sdc;
    s->crash = w.crash;
    s->hang = w.hang;
    s->verdict = sl_decide(s->ce, s->ue, &w, o->ce_threshold);
    if (w.error)
        fprintf(stderr, "\nuni-stresslog: %s: the workload could not run: %s\n", t->domain, w.detail);
    return 0;
}

/* Whether the HealthLog counts @t's errors; a voltage or refresh search is blind without them. */
static int check_error_source(uniConnectPtr conn, const sl_target *t) {
    unsigned long long ce, ue;
    char why[512];
    uniRecordPtr rec = sample(conn);
    int r;
    if (!rec)
        return -EIO;
    r = count_errors(rec, t, &ce, &ue, why, sizeof(why));
    uniRecordFree(rec);
    if (r < 0) {
        if (t->kind == SL_KIND_CPUFREQ) {
            errors_invisible = true;
            fprintf(stderr,
                    "uni-stresslog: %s: corrected and uncorrected errors are not visible (%s): the verdict "
                    "is the workload's alone\n",
                    t->domain, why);
            return 0;
        }
        fprintf(stderr,
                "uni-stresslog: %s: cannot see its corrected and uncorrected errors (%s); run uni-healthd and "
                "give the connection its HealthLog (?healthlog=PATH) (NO_SOURCE)\n",
                t->domain, why);
        return -ENODATA;
    }
    return 0;
}

int sl_run(uniConnectPtr conn, const sl_options *o, sl_target *t, int n) {
    progress p = {.started = now_s(), .tty = isatty(STDOUT_FILENO)};
    int rc = 0;

    for (int k = 0; k < n; k++)
        if (check_error_source(conn, &t[k]) < 0)
            return -ENODATA;
    for (int k = 0; k < n; k++)
        if (!t[k].done)
            p.steps_max += sl_max_steps(o, &t[k]) - t[k].nsteps;
    for (int k = 0; k < n && rc == 0 && !sl_stop; k++) {
        sl_target *tg = &t[k];
        long long v;
        if (tg->done)
            continue;
        if (tg->nsteps == 0)
            v = tg->kind == SL_KIND_CPUFREQ ? tg->freqs[0] : tg->nominal;
        else
            v = sl_next_value(o, tg, tg->steps[tg->nsteps - 1].value);
        if (v == LLONG_MIN) {
            tg->done = true;
            snprintf(tg->status, sizeof(tg->status), "limit");
            sl_log_result(o, tg);
            continue;
        }
        if (sl_journal_note(o, conn, tg) < 0 || sl_workload_begin(o, tg) < 0) {
            rc = -EIO;
            break;
        }
        while (v != LLONG_MIN && !sl_stop && tg->nsteps < SL_MAX_STEPS) {
            char extra[1024] = "";
            double t0 = now_s(), est = p.steps_done ? p.step_wall / p.steps_done : sl_step_seconds(o, tg);
            sl_step *s = &tg->steps[tg->nsteps];
            if (o->budget_s > 0 && (t0 - p.started) + est > o->budget_s) {
                tg->partial = true;
                snprintf(tg->status, sizeof(tg->status), "budget");
                break;
            }
            if (run_step(conn, o, tg, v, s, extra, sizeof(extra)) < 0) {
                rc = -EIO;
                snprintf(tg->status, sizeof(tg->status), "error");
                tg->partial = true;
                break;
            }
            if (sl_stop && s->verdict == V_CLEAN) /* an interrupted step proves nothing */
                break;
            tg->nsteps++;
            tg->measured = (long long)time(NULL);
            p.steps_done++;
            p.step_wall += now_s() - t0;
            p.ce += s->ce;
            p.ue += s->ue;
            sl_log_step(tg, s, extra);
            show(o, &p, tg, s, !p.tty || s->verdict != V_CLEAN);
            if (s->verdict == V_ERROR) {
                rc = -EIO;
                snprintf(tg->status, sizeof(tg->status), "error");
                tg->partial = true;
                break;
            }
            if (s->verdict != V_CLEAN) {
                tg->done = true;
                tg->failed_nominal = tg->nsteps == 1;
                snprintf(tg->status, sizeof(tg->status), "failure");
                break;
            }
            v = sl_next_value(o, tg, v);
            if (v == LLONG_MIN) {
                tg->done = true;
                snprintf(tg->status, sizeof(tg->status), "limit");
            }
        }
        if (sl_stop && !tg->done) {
            tg->partial = true;
            snprintf(tg->status, sizeof(tg->status), "stopped");
        }
        sl_workload_end(o);
        if (sl_restore_all(conn, o) < 0)
            rc = -EIO;
        if (tg->done || tg->partial)
            sl_log_result(o, tg);
        if (!tg->done && tg->partial && !sl_stop && rc == 0) /* the budget: the others are partial too */
            for (int j = k + 1; j < n; j++)
                if (!t[j].done) {
                    t[j].partial = true;
                    snprintf(t[j].status, sizeof(t[j].status), "budget");
                }
    }
    if (p.tty && !o->quiet)
        printf("\n");
    return rc;
}
