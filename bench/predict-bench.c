/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The predictor against mcelog's and rasdaemon's threshold rules on histories of the simulated
 * board (src/simboard/model.c) over days of simulated time and many seeds: precision, recall and
 * lead time of "an uncorrected error within 24 h" at equal false-alarm rates and a calibration
 * table (and plot), on training seeds and on held-out seeds apart; --fit fits the model's
 * coefficients on the training seeds only. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict/predict.h"
#include "simboard/model.h"

#define NCOMP (SB_NPMD + SB_NMC)
#define OBS_MS 60000LL         /* the HealthLog's view: one event per minute per component with errors */
#define EVAL_MS (15 * 60000LL) /* a prediction every 15 minutes */
#define DAY_MS (86400000LL)
#define EXPOSURE_H ((double)EVAL_MS / 3600e3)

typedef struct {
    double x[PR_NFEAT];
    int cls;
    int y;          /* an uncorrected error within 24 h */
    int y_next;     /* one before the next prediction (15 min): what the present's hazard is fitted to */
    double p;       /* the model's P(UE within 24 h) */
    int64_t ce_24h; /* the rules' score */
    int comp;
    int seed;
    int64_t t_ms;
    int64_t next_ue_ms; /* the next uncorrected error of the component (-1: none) */
    bool margin;        /* the component had a margins file */
} sample;

/* Which samples an evaluation looks at: a class (-1 any), with or without margins (-1 either). */
static int g_margin = -1;
static bool keep(const sample *s, int cls) {
    return (cls < 0 || s->cls == cls) && (g_margin < 0 || s->margin == (g_margin == 1));
}

typedef struct {
    sample *s;
    size_t n, cap;
} samples;

static uint64_t rng_state;
static double urand(void) {
    return sb_uniform(&rng_state);
}

static void push(samples *v, const sample *s) {
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 4096;
        v->s = realloc(v->s, v->cap * sizeof(*v->s));
        if (!v->s) {
            perror("realloc");
            exit(1);
        }
    }
    v->s[v->n++] = *s;
}

/* Each component's operating point for the run, as an exploring allocator might set it against
 * the StressLog's margins: mostly inside them, some past them (corrected errors at the daily
 * peak of load and temperature), some far past them (uncorrected ones at the peak). */
static double pick(double a_lo, double a_hi, double b_lo, double b_hi, double c_lo, double c_hi) {
    double u = urand(), w = urand();
    return u < 0.5 ? a_lo + (a_hi - a_lo) * w : u < 0.8 ? b_lo + (b_hi - b_lo) * w : c_lo + (c_hi - c_lo) * w;
}

static void components(pr_component *c) {
    memset(c, 0, NCOMP * sizeof(*c));
    for (int p = 0; p < SB_NPMD; p++) {
        snprintf(c[p].name, PR_NAME_MAX, "pmd%d", p);
        c[p].kind = PR_COMP_PMD;
        c[p].cpus[0] = 2 * p;
        c[p].cpus[1] = 2 * p + 1;
        c[p].ncpus = 2;
        c[p].have_margin = true;
        c[p].temp_c = NAN;
    }
    for (int k = 0; k < SB_NMC; k++) {
        pr_component *x = &c[SB_NPMD + k];
        snprintf(x->name, PR_NAME_MAX, "mc%d", k);
        x->kind = PR_COMP_CHANNEL;
        sb_dimm_label(k, 0, x->dimms[0], PR_NAME_MAX);
        sb_dimm_label(k, 1, x->dimms[1], PR_NAME_MAX);
        x->ndimms = 2;
        x->have_margin = true;
        x->up = true;
        x->temp_c = NAN;
    }
}

/* One seed's history: the board over @days, an event per minute per component with errors, a
 * prediction every 15 minutes; the samples whose 24 h future is inside the run. */
static void run_seed(const pr_config *cf, int seed, double days, samples *out) {
    sb_model m;
    int set_mv[SB_NPMD], set_ref[SB_NMC];
    double vmin0[SB_NPMD], ret0[SB_NMC], aging[NCOMP];
    pr_component comp[NCOMP];
    pr_result res[NCOMP];
    pr_event *ev = NULL;
    size_t nev = 0, cap = 0, first_eval;
    int64_t end = (int64_t)(days * DAY_MS), *ue_t[NCOMP] = {0};
    size_t nue[NCOMP] = {0};
    double phase[SB_NPMD];

    sb_init(&m, (uint64_t)seed);
    rng_state = (uint64_t)seed * 7919u + 17u;
    components(comp);
    for (int p = 0; p < SB_NPMD; p++) {
        m.gov[p] = SB_GOV_ONDEMAND; /* the frequency follows the load: the safe voltage moves with it */
        phase[p] = 2 * M_PI * urand();
        /* The StressLog's safe voltage at 2.4 GHz: the truth's step, never below it. */
        comp[p].safe = ceil(m.vmin2400_mv[p] / 5) * 5;
        /* Half the components have no margins file behind them (the StressLog has not run). */
        comp[p].have_margin = urand() < 0.5;
        set_mv[p] = (int)fmax(
            SB_PMD_MV_MIN, fmin(SB_PMD_MV_NOMINAL, round((m.vmin2400_mv[p] + pick(5, 25, -10, 5, -20, -10)) / 5) * 5));
        /* On odd seeds the part ages: its safe voltage rises by up to 6 mV a day (the StressLog's
         * value does not follow: it was found at the start); even seeds do not age. */
        vmin0[p] = m.vmin2400_mv[p];
        aging[p] = seed % 2 ? 6 * urand() : 0;
    }
    for (int k = 0; k < SB_NMC; k++) {
        /* The StressLog's refresh limit: the weakest cell at 45 C (an idle board), less 10 %. */
        comp[SB_NPMD + k].safe = floor(m.retention45_ms[k] * 0.9);
        comp[SB_NPMD + k].have_margin = urand() < 0.5;
        set_ref[k] =
            (int)fmax(SB_REFRESH_MIN, fmin(SB_REFRESH_MAX, round(m.retention45_ms[k] * pick(0.3, 0.9, 0.9, 2, 2, 4))));
        /* Weak cells multiply: the weakest retention falls by up to 15 % a day (odd seeds). */
        ret0[k] = m.retention45_ms[k];
        aging[SB_NPMD + k] = seed % 2 ? 0.15 * urand() : 0;
    }
    first_eval = out->n;
    for (int64_t t = 0; t < end; t += OBS_MS) {
        /* A diurnal load with noise, every minute; the operating point, or nominal for the rest of
         * the run after an uncorrected error (the operator's answer). */
        for (int c = 0; c < SB_NCPU; c++) {
            double d = 0.5 + 0.5 * sin(2 * M_PI * (double)t / DAY_MS + phase[c / 2]);
            m.load[c] = fmax(0.02, fmin(1.0, 0.1 + 0.75 * d + 0.1 * (urand() - 0.5)));
        }
        for (int p = 0; p < SB_NPMD; p++)
            m.vmin2400_mv[p] = vmin0[p] + aging[p] * (double)t / DAY_MS;
        for (int k = 0; k < SB_NMC; k++)
            m.retention45_ms[k] = ret0[k] * exp(-aging[SB_NPMD + k] * (double)t / DAY_MS);
        for (int i = 0; i < NCOMP; i++) {
            bool back = nue[i] > 0;
            if (i < SB_NPMD)
                m.pmd_mv[i] = back ? SB_PMD_MV_NOMINAL : set_mv[i];
            else
                m.refresh_ms[i - SB_NPMD] = back ? SB_REFRESH_NOMINAL : set_ref[i - SB_NPMD];
            comp[i].current = i < SB_NPMD ? m.pmd_mv[i] : m.refresh_ms[i - SB_NPMD];
        }
        /* The board's error rates (model.c) are constant within the minute: one draw each, with
         * the model's own Poisson draw. */
        for (int i = 0; i < NCOMP; i++) {
            double ce_rate = i < SB_NPMD ? sb_pmd_ce_rate(&m, i) : sb_mc_ce_rate(&m, i - SB_NPMD);
            double ue_rate = i < SB_NPMD ? sb_pmd_ue_rate(&m, i) : sb_mc_ue_rate(&m, i - SB_NPMD);
            for (int kind = 0; kind < 2; kind++) {
                uint64_t d = sb_poisson(&rng_state, (kind ? ue_rate : ce_rate) * OBS_MS / 1000.0);
                pr_event *e;
                if (!d)
                    continue;
                if (nev == cap) {
                    cap = cap ? cap * 2 : 4096;
                    ev = realloc(ev, cap * sizeof(*ev));
                    if (!ev)
                        exit(1);
                }
                e = &ev[nev++];
                memset(e, 0, sizeof(*e));
                e->time_ms = t + OBS_MS;
                e->count = (int64_t)d;
                e->kind = kind ? PR_EV_UE : PR_EV_CE;
                e->downtime_ms = -1;
                if (i < SB_NPMD) {
                    e->cpu = 2 * i;
                    e->l2 = true;
                } else {
                    e->cpu = -1;
                    e->memory = true;
                    snprintf(e->dimm, sizeof(e->dimm), "%s", comp[i].dimms[0]);
                }
                if (kind) {
                    ue_t[i] = realloc(ue_t[i], (nue[i] + 1) * sizeof(int64_t));
                    ue_t[i][nue[i]++] = t + OBS_MS;
                }
            }
        }
        if ((t + OBS_MS) % EVAL_MS == 0 && t + OBS_MS >= (int64_t)(cf->window_s * 1000) && t + OBS_MS + DAY_MS <= end) {
            char err[200];
            if (pr_predict(cf, comp, NCOMP, ev, nev, t + OBS_MS, 0, res, NULL, err, sizeof(err)) < 0) {
                fprintf(stderr, "predict: %s\n", err);
                exit(1);
            }
            for (int i = 0; i < NCOMP; i++) {
                sample s = {.cls = i < SB_NPMD ? PR_CLASS_CPU : PR_CLASS_MEM,
                            .p = pr_p_within(res[i].hazard_per_h, 86400),
                            .ce_24h = res[i].ce_24h,
                            .comp = i,
                            .seed = seed,
                            .t_ms = t + OBS_MS,
                            .next_ue_ms = -1,
                            .margin = comp[i].have_margin};
                memcpy(s.x, res[i].x, sizeof(s.x));
                push(out, &s);
            }
            /* Keep a little more than the two days the features read. */
            if (nev > 40000) {
                size_t k = 0;
                for (size_t j = 0; j < nev; j++)
                    if (ev[j].time_ms > t - 2 * DAY_MS - (int64_t)(cf->window_s * 1000))
                        ev[k++] = ev[j];
                nev = k;
            }
        }
    }
    /* The labels, from the component's uncorrected errors. */
    for (size_t j = first_eval; j < out->n; j++) {
        sample *s = &out->s[j];
        for (size_t k = 0; k < nue[s->comp]; k++)
            if (ue_t[s->comp][k] > s->t_ms) {
                s->next_ue_ms = ue_t[s->comp][k];
                s->y = ue_t[s->comp][k] <= s->t_ms + DAY_MS;
                s->y_next = ue_t[s->comp][k] <= s->t_ms + EVAL_MS;
                break;
            }
    }
    for (int i = 0; i < NCOMP; i++)
        free(ue_t[i]);
    free(ev);
}

/* ---- fitting, on the training seeds only (predict.h has the model):
 * 1. the present: a hazard per hour, prior + exp(s0 + s.x), by maximum likelihood of an
 *    uncorrected error before the next prediction (15 minutes later);
 * 2. the day ahead: the logistic term, by maximum likelihood of one within 24 h given the prior and
 *    the present's hazard held for hold_h hours; hold_h the best of a grid ---- */

/* What the fit may do with each coefficient: 0 keep it (the board cannot show it: no addresses, no
 * DIMM temperature; an uncorrected error sends the component back to nominal), 1 fit it at or
 * above 0 (more evidence never lowers the risk), 2 fit it with either sign (a change from a day
 * before: both ways are evidence), 3 at or below 0 (two days known: the growth is then in
 * x_next). A sample without evidence (pr_evidence) has the prior and the present alone: the day
 * ahead's fit leaves it out. */
static const int now_fitted[PR_NFEAT] = {[PR_F_RATE] = 1, [PR_F_TREND] = 1, [PR_F_MARGIN] = 1};
static const int day_fitted[PR_NFEAT] = {
    [PR_F_RATE] = 1,  [PR_F_TREND] = 1, [PR_F_MARGIN] = 1, [PR_F_STORM] = 1, [PR_F_DAY] = 1,  [PR_F_PEAK] = 1,
    [PR_F_HOURS] = 1, [PR_F_DOD] = 2,   [PR_F_GROWTH] = 2, [PR_F_NEXT] = 1,  [PR_F_KNOWN] = 3};
#define RIDGE 1.0 /* the penalty on each fitted day coefficient's square: memory has few uncorrected errors */

static double dot(double c0, const double *c, const double *x) {
    for (int f = 0; f < PR_NFEAT; f++)
        c0 += c[f] * x[f];
    return c0;
}

static double logistic(double z) {
    return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

/* The present's hazard per hour, without the prior. */
static double now_hazard(const pr_coef *k, const double *x) {
    return exp(fmin(dot(k->s0, k->s, x), 30));
}

static double loglik_now(const pr_coef *k, const samples *v, int cls) {
    double ll = 0;
    for (size_t i = 0; i < v->n; i++) {
        const sample *s = &v->s[i];
        double lam;
        if (s->cls != cls)
            continue;
        lam = EXPOSURE_H * (k->prior_per_h + now_hazard(k, s->x));
        ll += s->y_next ? log(fmax(-expm1(-lam), 1e-300)) : -lam;
    }
    return ll;
}

/* Coordinate ascent: a golden-section search of each fitted coefficient in turn (s0 in [-60, 10],
 * the others in [0, 20]), rounds until nothing moves. */
static void fit_now(pr_coef *k, const samples *v, int cls) {
    const double g = 0.6180339887;
    for (int round = 0; round < 40; round++) {
        double moved = 0;
        for (int j = 0; j <= PR_NFEAT; j++) {
            double *w = j ? &k->s[j - 1] : &k->s0, lo = j ? 0 : -60, hi = j ? 20 : 10, old = *w;
            double a, b, fa, fb, f0;
            if (j && !now_fitted[j - 1])
                continue;
            f0 = loglik_now(k, v, cls);
            a = hi - g * (hi - lo);
            b = lo + g * (hi - lo);
            *w = a;
            fa = loglik_now(k, v, cls);
            *w = b;
            fb = loglik_now(k, v, cls);
            for (int it = 0; it < 40; it++) {
                if (fa > fb) {
                    hi = b, b = a, fb = fa;
                    a = hi - g * (hi - lo);
                    *w = a;
                    fa = loglik_now(k, v, cls);
                } else {
                    lo = a, a = b, fa = fb;
                    b = lo + g * (hi - lo);
                    *w = b;
                    fb = loglik_now(k, v, cls);
                }
            }
            *w = (lo + hi) / 2;
            if (loglik_now(k, v, cls) < f0)
                *w = old; /* the search fell into another local maximum: keep the better */
            moved = fmax(moved, fabs(*w - old));
        }
        if (moved < 1e-3)
            break;
    }
}

/* P(UE within 24 h) = 1 - q (1 - logistic(eta)), q what the prior and the present leave. */
static double q_of(const pr_coef *k, const double *x) {
    return exp(-24 * k->prior_per_h - k->hold_h * now_hazard(k, x));
}

/* The penalised log-likelihood of the 24 h labels. */
static double loglik_day(const pr_coef *k, const samples *v, int cls) {
    double ll = 0;
    for (size_t i = 0; i < v->n; i++) {
        const sample *s = &v->s[i];
        double miss;
        if (s->cls != cls || !pr_evidence(s->x))
            continue;
        miss = q_of(k, s->x) * (1 - logistic(dot(k->b0, k->b, s->x)));
        ll += log(fmax(s->y ? 1 - miss : miss, 1e-300));
    }
    for (int f = 0; f < PR_NFEAT; f++)
        ll -= 0.5 * RIDGE * k->b[f] * k->b[f];
    return ll;
}

/* Solve @a x = @g (n x n, symmetric positive definite) in place by Cholesky; -1 when it is not. */
static int solve(double *a, double *g, int n) {
    for (int j = 0; j < n; j++) {
        double d = a[j * n + j];
        for (int k = 0; k < j; k++)
            d -= a[j * n + k] * a[j * n + k];
        if (!(d > 1e-12))
            return -1;
        a[j * n + j] = sqrt(d);
        for (int i = j + 1; i < n; i++) {
            double v = a[i * n + j];
            for (int k = 0; k < j; k++)
                v -= a[i * n + k] * a[j * n + k];
            a[i * n + j] = v / a[j * n + j];
        }
    }
    for (int i = 0; i < n; i++) { /* L y = g */
        for (int k = 0; k < i; k++)
            g[i] -= a[i * n + k] * g[k];
        g[i] /= a[i * n + i];
    }
    for (int i = n - 1; i >= 0; i--) { /* L' x = y */
        for (int k = i + 1; k < n; k++)
            g[i] -= a[k * n + i] * g[k];
        g[i] /= a[i * n + i];
    }
    return 0;
}

/* Fisher scoring on the free day coefficients (b0 and the fitted ones not held at their bound of
 * 0), halving a step that does not raise the penalised likelihood; a coefficient a step takes
 * below 0 is held there (an active set), and one held whose gradient pulls up is freed. */
static void fit_day(pr_coef *k, const samples *v, int cls) {
    enum { NP = PR_NFEAT + 1 };
    bool held[PR_NFEAT] = {0};
    for (int it = 0; it < 100; it++) {
        int idx[NP], n = 0;
        double a[NP * NP] = {0}, m[NP * NP], g[NP] = {0}, gfull[NP] = {0}, ll0 = loglik_day(k, v, cls), step = 1;
        double moved;
        pr_coef t = *k;
        for (size_t i = 0; i < v->n; i++) {
            const sample *s = &v->s[i];
            double x[NP], sg, q, p, dp, wgt, res;
            if (s->cls != cls || !pr_evidence(s->x))
                continue;
            x[0] = 1;
            memcpy(x + 1, s->x, sizeof(s->x));
            sg = logistic(dot(k->b0, k->b, s->x));
            q = q_of(k, s->x);
            p = fmin(fmax(1 - q * (1 - sg), 1e-12), 1 - 1e-12);
            dp = q * sg * (1 - sg); /* dP / d eta */
            res = (s->y - p) / (p * (1 - p)) * dp;
            wgt = dp * dp / (p * (1 - p));
            for (int j = 0; j < NP; j++)
                gfull[j] += res * x[j];
            for (int r = 0; r < NP; r++)
                for (int c = 0; c <= r; c++)
                    a[r * NP + c] += wgt * x[r] * x[c];
        }
        for (int f = 0; f < PR_NFEAT; f++) {
            gfull[f + 1] -= RIDGE * k->b[f];
            if (held[f] && (day_fitted[f] == 1 ? gfull[f + 1] > 1e-6 : gfull[f + 1] < -1e-6))
                held[f] = false;
        }
        for (int j = 0; j < NP; j++)
            if (j == 0 || (day_fitted[j - 1] && !held[j - 1]))
                idx[n++] = j;
        for (int r = 0; r < n; r++) {
            g[r] = gfull[idx[r]];
            for (int c = 0; c <= r; c++) {
                int hi = idx[r] > idx[c] ? idx[r] : idx[c], lo = idx[r] > idx[c] ? idx[c] : idx[r];
                m[r * n + c] = m[c * n + r] = a[hi * NP + lo] + (r == c && idx[r] ? RIDGE : 0);
            }
        }
        if (solve(m, g, n) < 0)
            break;
        for (int half = 0; half < 30; half++, step /= 2) {
            t = *k;
            for (int r = 0; r < n; r++) {
                double *c = idx[r] ? &t.b[idx[r] - 1] : &t.b0;
                *c += step * g[r];
                if (idx[r] && day_fitted[idx[r] - 1] == 1 && *c < 0)
                    *c = 0;
                if (idx[r] && day_fitted[idx[r] - 1] == 3 && *c > 0)
                    *c = 0;
            }
            if (loglik_day(&t, v, cls) >= ll0)
                break;
        }
        moved = fabs(t.b0 - k->b0);
        for (int f = 0; f < PR_NFEAT; f++) {
            moved = fmax(moved, fabs(t.b[f] - k->b[f]));
            if ((day_fitted[f] == 1 || day_fitted[f] == 3) && t.b[f] == 0)
                held[f] = true;
        }
        *k = t;
        if (moved < 1e-6)
            break;
    }
}

/* Both parts, and how long the present's hazard is held: the grid's best on the training seeds. */
static void fit(pr_coef *k, const samples *v, int cls) {
    static const double holds[] = {0, 0.25, 0.5, 1, 2, 4, 8, 24};
    pr_coef best = *k, start;
    double best_ll = -INFINITY;
    fit_now(k, v, cls);
    start = *k;
    for (size_t h = 0; h < sizeof(holds) / sizeof(holds[0]); h++) {
        pr_coef t = start;
        double ll;
        t.hold_h = holds[h];
        t.b0 = -5; /* where the likelihood has a slope */
        fit_day(&t, v, cls);
        ll = loglik_day(&t, v, cls);
        printf("    hold the present's hazard %5.2f h: penalised log-likelihood of the 24 h labels %.1f\n", holds[h],
               ll);
        if (ll > best_ll) {
            best_ll = ll;
            best = t;
        }
    }
    *k = best;
}

/* Each sample's P(UE within 24 h) under @cf, the model as uniserver ships or as just fitted. */
static void score_all(const pr_config *cf, samples *v) {
    for (size_t i = 0; i < v->n; i++)
        v->s[i].p = pr_p_within(pr_hazard(&cf->coef[v->s[i].cls], v->s[i].x), 86400);
}

/* ---- evaluation ---- */

typedef struct {
    size_t tp, fp, tn, fn;
} confusion;

static confusion confuse(const samples *v, int cls, int which, double thr) {
    confusion c = {0};
    for (size_t i = 0; i < v->n; i++) {
        const sample *s = &v->s[i];
        bool alarm;
        if (!keep(s, cls))
            continue;
        alarm = which == 0 ? s->p >= thr : (double)s->ce_24h >= thr;
        if (alarm)
            s->y ? c.tp++ : c.fp++;
        else
            s->y ? c.fn++ : c.tn++;
    }
    return c;
}

static double fpr(confusion c) {
    return c.fp + c.tn ? (double)c.fp / (double)(c.fp + c.tn) : 0;
}

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static bool alarm_of(const sample *s, int which, double thr) {
    return which == 0 ? s->p >= thr : (double)s->ce_24h >= thr;
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Lead time: for each uncorrected error that had an alarm in the 24 h before it, how long
 * before it the first of those alarms came. The median over the errors, in minutes. */
static double median_lead_min(const samples *v, int cls, int which, double thr, size_t *ret_n) {
    double *lead = malloc(v->n * sizeof(double)), med = NAN;
    int64_t seen_ue[NCOMP];
    int seen_seed = -1;
    size_t n = 0;
    for (size_t i = 0; lead && i < v->n; i++) {
        const sample *s = &v->s[i];
        if (s->seed != seen_seed) {
            seen_seed = s->seed;
            for (int c = 0; c < NCOMP; c++)
                seen_ue[c] = -1;
        }
        /* Samples come in time order: the first alarm for an error is the earliest. */
        if (!keep(s, cls) || !s->y || !alarm_of(s, which, thr) || seen_ue[s->comp] == s->next_ue_ms)
            continue;
        seen_ue[s->comp] = s->next_ue_ms;
        lead[n++] = (double)(s->next_ue_ms - s->t_ms) / 60000.0;
    }
    if (n) {
        qsort(lead, n, sizeof(double), cmp_dbl);
        med = lead[n / 2];
    }
    *ret_n = n;
    free(lead);
    return med;
}

static double score(const sample *s, int which) {
    return which == 0 ? s->p : (double)s->ce_24h;
}

/* The threshold of a score (0 the model's P, 1 the corrected errors in 24 h: the rules' family)
 * whose false-alarm rate is the largest not above @target. */
static double threshold_at_fpr(const samples *v, int cls, int which, double target) {
    size_t n = 0, neg = 0, fp = 0;
    double *p = malloc(v->n * sizeof(double)), thr = 1e300;
    for (size_t i = 0; p && i < v->n; i++)
        if (keep(&v->s[i], cls) && !v->s[i].y) {
            p[n++] = score(&v->s[i], which);
            neg++;
        }
    if (!p)
        return thr;
    qsort(p, n, sizeof(double), cmp_desc);
    for (size_t i = 0; i < n; i++) {
        /* All negatives with p >= p[i] alarm. */
        size_t j = i;
        while (j + 1 < n && p[j + 1] == p[i])
            j++;
        fp = j + 1;
        if ((double)fp / (double)neg > target)
            break;
        thr = p[i];
        i = j;
    }
    free(p);
    return thr;
}

static void report(const char *name, const samples *v, int cls, int which, double thr) {
    confusion c = confuse(v, cls, which, thr);
    size_t nl;
    double lead = median_lead_min(v, cls, which, thr, &nl);
    double prec = c.tp + c.fp ? (double)c.tp / (double)(c.tp + c.fp) : NAN;
    double rec = c.tp + c.fn ? (double)c.tp / (double)(c.tp + c.fn) : NAN;
    printf("  %-34s threshold %-9.3g false alarms %6.2f %%  precision %5.3f  recall %5.3f  median lead %6.0f min "
           "(%zu errors)\n",
           name, thr, 100 * fpr(c), prec, rec, lead, nl);
}

static void compare(const samples *v, int cls, const char *cname, double rule_thr, const char *rule) {
    confusion rc = confuse(v, cls, 1, rule_thr);
    double t = threshold_at_fpr(v, cls, 0, fpr(rc));
    char what[64];
    snprintf(what, sizeof(what), "%s (%s)", rule, cname);
    report(what, v, cls, 1, rule_thr);
    snprintf(what, sizeof(what), "predictor at equal false alarms");
    report(what, v, cls, 0, t);
}

/* Where a fixed rule cannot go: both scores at a low false-alarm rate. */
static void compare_at(const samples *v, int cls, double target) {
    char what[64];
    snprintf(what, sizeof(what), "CE count in 24 h at %g %% false alarms", 100 * target);
    report(what, v, cls, 1, threshold_at_fpr(v, cls, 1, target));
    snprintf(what, sizeof(what), "predictor at %g %% false alarms", 100 * target);
    report(what, v, cls, 0, threshold_at_fpr(v, cls, 0, target));
}

static int calibration(const samples *v, const char *dir) {
    static const double edges[] = {0, 1e-4, 1e-3, 1e-2, 0.05, 0.1, 0.3, 0.6, 0.9, 1.0001};
    enum { NB = sizeof(edges) / sizeof(edges[0]) - 1 };
    double sp[NB] = {0}, sy[NB] = {0};
    size_t n[NB] = {0};
    char path[512];
    FILE *f = NULL;
    printf("\ncalibration: P(uncorrected error within 24 h) predicted against observed\n");
    printf("  %-14s %9s %12s %12s\n", "bin", "samples", "mean P", "observed");
    for (size_t i = 0; i < v->n; i++)
        for (int b = 0; b < NB; b++)
            if (v->s[i].p >= edges[b] && v->s[i].p < edges[b + 1]) {
                sp[b] += v->s[i].p;
                sy[b] += v->s[i].y;
                n[b]++;
                break;
            }
    if (dir) {
        snprintf(path, sizeof(path), "%s/predictor-calibration.dat", dir);
        if (!(f = fopen(path, "w"))) {
            fprintf(stderr, "%s: %s\n", path, strerror(errno));
            return -1;
        }
        fprintf(f, "# mean_predicted observed samples (predict-bench)\n");
    }
    for (int b = 0; b < NB; b++) {
        if (!n[b])
            continue;
        printf("  [%-5.3g, %-5.3g) %9zu %12.4g %12.4g\n", edges[b], fmin(edges[b + 1], 1), n[b], sp[b] / n[b],
               sy[b] / n[b]);
        if (f)
            fprintf(f, "%g %g %zu\n", sp[b] / n[b], sy[b] / n[b], n[b]);
    }
    if (f)
        fclose(f);
    return 0;
}

/* Every table of one set of seeds, under the coefficients its samples were scored with. */
static int evaluate(const samples *v, const char *what, const char *dir) {
    size_t pos = 0;
    for (size_t i = 0; i < v->n; i++)
        pos += (size_t)v->s[i].y;
    printf("\n==== %s: %zu predictions (every 15 min per PMD and channel), %zu with an uncorrected error within "
           "24 h\n",
           what, v->n, pos);
    printf("\nCPU domains (PMDs): mcelog's 10 corrected errors per 24 h, rasdaemon's CPU_CE_THRESHOLD 18 per 24 h\n");
    compare(v, PR_CLASS_CPU, "pmd", 10, "mcelog 10/24h");
    compare(v, PR_CLASS_CPU, "pmd", 18, "rasdaemon CPU 18/24h");
    compare_at(v, PR_CLASS_CPU, 0.05);
    compare_at(v, PR_CLASS_CPU, 0.01);
    for (g_margin = 0; g_margin <= 1; g_margin++) {
        printf("  the PMDs %s a margins file:\n", g_margin ? "with" : "without");
        compare(v, PR_CLASS_CPU, "pmd", 10, "mcelog 10/24h");
    }
    g_margin = -1;
    printf(
        "\nmemory channels: mcelog's 10 per DIMM per 24 h (here per channel); rasdaemon's PAGE_CE_THRESHOLD 50 needs "
        "addresses, which the board's EDAC counters do not give: it never fires\n");
    compare(v, PR_CLASS_MEM, "channel", 10, "mcelog 10/24h");
    compare_at(v, PR_CLASS_MEM, 0.05);
    return calibration(v, dir);
}

static int dump_samples(const char *path, const samples *a, const samples *b) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "seed,comp,cls,t_h,y,next_ue_h,margin,p,ce_24h");
    for (int j = 0; j < PR_NFEAT; j++)
        fprintf(f, ",x%d", j);
    fprintf(f, "\n");
    for (int h = 0; h < 2; h++) {
        const samples *v = h ? b : a;
        for (size_t i = 0; i < v->n; i++) {
            const sample *s = &v->s[i];
            fprintf(f, "%d,%d,%d,%.2f,%d,%.2f,%d,%.6g,%lld", s->seed, s->comp, s->cls, (double)s->t_ms / 3600e3, s->y,
                    s->next_ue_ms < 0 ? -1.0 : (double)s->next_ue_ms / 3600e3, s->margin, s->p, (long long)s->ce_24h);
            for (int j = 0; j < PR_NFEAT; j++)
                fprintf(f, ",%.6g", s->x[j]);
            fprintf(f, "\n");
        }
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* Seeds as "A-B,C,D-E": up to 8 ranges. */
typedef struct {
    int a[8], b[8], n;
} seed_set;

static int parse_seeds(const char *s, seed_set *ret) {
    seed_set r = {.n = 0};
    const char *p = s;
    while (*p) {
        char *end;
        long x = strtol(p, &end, 10), y;
        if (end == p || x < 0 || x > 1000000 || r.n == 8)
            return -1;
        y = x;
        if (*end == '-') {
            const char *t = end + 1;
            y = strtol(t, &end, 10);
            if (end == t || y < x || y > 1000000)
                return -1;
        }
        if (*end && *end != ',')
            return -1;
        r.a[r.n] = (int)x;
        r.b[r.n++] = (int)y;
        p = *end ? end + 1 : end;
    }
    if (!r.n)
        return -1;
    *ret = r;
    return 0;
}

static bool seed_in(const seed_set *s, int seed) {
    for (int i = 0; i < s->n; i++)
        if (seed >= s->a[i] && seed <= s->b[i])
            return true;
    return false;
}

static void seeds_text(const seed_set *s, char *buf, size_t len) {
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < s->n && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, i ? ", %d-%d" : "%d-%d", s->a[i], s->b[i]);
}

static void print_coef(const char *name, const pr_coef *k) {
    printf("  static const pr_coef %s = {%.3g, %.4g, {", name, k->prior_per_h, k->b0);
    for (int f = 0; f < PR_NFEAT; f++)
        printf("%s%.4g", f ? ", " : "", k->b[f]);
    printf("}, %.4g, {", k->s0);
    for (int f = 0; f < PR_NFEAT; f++)
        printf("%s%.4g", f ? ", " : "", k->s[f]);
    printf("}, %g};\n", k->hold_h);
}

int main(int argc, char **argv) {
    seed_set tr = {{1, 41}, {20, 100}, 2}, te = {{21}, {40}, 1};
    char trs[128], tes[128];
    double days = 5;
    bool do_fit = false;
    const char *dir = NULL, *dump = NULL;
    int r;
    pr_config cf;
    samples train = {0}, test = {0};

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--days") && i + 1 < argc)
            days = atof(argv[++i]);
        else if (!strcmp(argv[i], "--train") && i + 1 < argc && parse_seeds(argv[i + 1], &tr) == 0)
            i++;
        else if (!strcmp(argv[i], "--test") && i + 1 < argc && parse_seeds(argv[i + 1], &te) == 0)
            i++;
        else if (!strcmp(argv[i], "--fit"))
            do_fit = true;
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--dump") && i + 1 < argc)
            dump = argv[++i];
        else {
            fprintf(
                stderr,
                "usage: predict-bench [--train A-B,..] [--test C-D,..] [--days D] [--fit] [--out DIR] [--dump CSV]\n"
                "  the predictor against mcelog's and rasdaemon's rules on the simulated board's histories:\n"
                "  the training seeds (default 1-20,41-100: the shipped coefficients were fitted on them) and\n"
                "  the held-out seeds (default 21-40) are reported apart; --fit fits the coefficients on the\n"
                "  training seeds and reports with them instead; --out writes the held-out calibration data;\n"
                "  --dump writes every sample (seed, component, time, label, features) for analysis\n");
            return 2;
        }
    }
    for (int i = 0; i < te.n; i++)
        for (int s = te.a[i]; s <= te.b[i]; s++)
            if (seed_in(&tr, s)) {
                fprintf(stderr, "predict-bench: seed %d is both a training and a held-out seed\n", s);
                return 2;
            }
    if (days < 2.5) {
        fprintf(stderr, "predict-bench: give at least 2.5 days\n");
        return 2;
    }
    pr_config_default(&cf);
    for (int i = 0; i < tr.n; i++)
        for (int s = tr.a[i]; s <= tr.b[i]; s++)
            run_seed(&cf, s, days, &train);
    for (int i = 0; i < te.n; i++)
        for (int s = te.a[i]; s <= te.b[i]; s++)
            run_seed(&cf, s, days, &test);
    seeds_text(&tr, trs, sizeof(trs));
    seeds_text(&te, tes, sizeof(tes));
    printf("predict-bench: the simulated board over %.1f days; training seeds %s, held-out seeds %s\n", days, trs, tes);
    if (do_fit) {
        printf("\nfitted on the training seeds %s (paste into pr_config_default):\n", trs);
        for (int cls = 0; cls < PR_NCLASS; cls++) {
            double before = loglik_day(&cf.coef[cls], &train, cls);
            printf("  %s:\n", cls ? "memory" : "cpu");
            fit(&cf.coef[cls], &train, cls);
            printf("    penalised log-likelihood of the 24 h labels %.1f -> %.1f\n", before,
                   loglik_day(&cf.coef[cls], &train, cls));
            print_coef(cls ? "mem" : "cpu", &cf.coef[cls]);
        }
    }
    score_all(&cf, &train);
    score_all(&cf, &test);
    if (dump && (dump_samples(dump, &train, &test) < 0))
        return 1;
    evaluate(&train,
             do_fit ? "training seeds (in sample: the fit saw them)"
                    : "training seeds (in sample: the shipped coefficients were fitted on them)",
             NULL);
    r = evaluate(&test, "HELD-OUT seeds (the fit never saw them)", dir);
    free(train.s);
    free(test.s);
    return r < 0 ? 1 : 0;
}
