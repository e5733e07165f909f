/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The predictor's model: each component's features from its HealthLog events and margin, the
 * hazard of an uncorrected error, the baseline rules (mcelog, rasdaemon), and the node's failure
 * probability, MTBF and MTTR. No I/O: the local driver gives it what it read. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict.h"

const char *const pr_risk_names[4] = {"low", "elevated", "high", "critical"};

/* The baselines, as their projects ship them: mcelog's memory-ce-threshold "10 / 24h" (per DIMM)
 * and rasdaemon's CPU_CE_THRESHOLD 18 and PAGE_CE_THRESHOLD 50 over a 24 h cycle. */
#define MCELOG_CE_24H 10
#define RASDAEMON_CPU_CE_24H 18
#define RASDAEMON_PAGE_CE_24H 50

void pr_config_default(pr_config *c) {
    /* docs/predictor.md, "The coefficients": fitted by bench/predict-bench --fit on the training
     * seeds 1-20 and 41-100 of the simulated board (the held-out seeds 21-40 report them), in
     * the order of the features (predict.h): the day ahead (prior, b0, b), the present (s0, s)
     * and how long the present is held (hours). prior_per_h: about one uncorrected error per part
     * in 50 years, an assumption. Not fitted (the board has no addresses, no DIMM temperature):
     * a repeated page multiplies the odds by e, 10 C more by 2; the present's storm by 10. Memory
     * rests on few uncorrected errors (a dozen in the training seeds): its fit is a near step at a
     * few thousand corrected errors per hour, the board's, not a field value. */
    static const pr_coef cpu = {2.3e-6,
                                -3.791,
                                {0, 0.2174, 0, 1, 0.1574, 0, 0, 0, 0, 0.278, 0.2707, -0.02253, 3.72, -33.81},
                                -21.88,
                                {1.701, 3.828, 2.3, 0, 0.08152, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                                2};
    static const pr_coef mem = {2.3e-6,
                                -142,
                                {6.184, 0, 4.925, 1, 0, 0.69, 0, 0.6682, 11.63, 0, 1.543, 5.973, 0, -2.299},
                                -32.79,
                                {3.52, 0, 2.3, 0, 0.2759, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                                0};
    memset(c, 0, sizeof(*c));
    c->horizons_s[0] = 3600;
    c->horizons_s[1] = 86400;
    c->horizons_s[2] = 7 * 86400;
    c->nhorizons = 3;
    c->window_s = 3600;
    c->short_s = 300;
    c->day_s = 86400;
    c->storm_count = 10;
    c->threshold = 0.05;
    c->prior_mtbf_h = 8760;
    c->failure_gap_s = 600;
    c->coef[PR_CLASS_CPU] = cpu;
    c->coef[PR_CLASS_MEM] = mem;
}

int pr_config_check(const pr_config *c, char *err, size_t errlen) {
    if (c->nhorizons < 1 || c->nhorizons > PR_MAX_HORIZONS) {
        snprintf(err, errlen, "%d horizons: give 1 to %d", c->nhorizons, PR_MAX_HORIZONS);
        return -EINVAL;
    }
    for (int i = 0; i < c->nhorizons; i++)
        if (!(c->horizons_s[i] > 0) || !isfinite(c->horizons_s[i])) {
            snprintf(err, errlen, "horizon %g s: a horizon is a positive number of seconds", c->horizons_s[i]);
            return -EINVAL;
        }
    if (!(c->window_s >= 1) || !isfinite(c->window_s)) {
        snprintf(err, errlen, "window %g s: give at least 1 s", c->window_s);
        return -EINVAL;
    }
    if (!(c->day_s >= c->window_s) || !isfinite(c->day_s)) {
        snprintf(err, errlen, "day %g s: give the window (%g s) or more", c->day_s, c->window_s);
        return -EINVAL;
    }
    if (!(c->short_s >= 1) || c->short_s > c->window_s) {
        snprintf(err, errlen, "short window %g s: give 1 s to the window (%g s)", c->short_s, c->window_s);
        return -EINVAL;
    }
    if (c->storm_count < 1) {
        snprintf(err, errlen, "storm count %lld: give at least 1", (long long)c->storm_count);
        return -EINVAL;
    }
    if (!(c->threshold > 0 && c->threshold < 1)) {
        snprintf(err, errlen, "reliability threshold %g: a probability strictly between 0 and 1", c->threshold);
        return -EINVAL;
    }
    if (!(c->prior_mtbf_h > 0) || !(c->failure_gap_s >= 0)) {
        snprintf(err, errlen, "prior MTBF %g h, failure gap %g s: give positive values", c->prior_mtbf_h,
                 c->failure_gap_s);
        return -EINVAL;
    }
    return 0;
}

int pr_parse_horizons(pr_config *c, const char *s, char *err, size_t errlen) {
    pr_config t = *c;
    const char *p = s;
    t.nhorizons = 0;
    while (p && *p) {
        char *end;
        double v = strtod(p, &end), mult = 1;
        if (end == p) {
            snprintf(err, errlen, "horizon '%.40s': not a number (give e.g. 1h,24h,7d)", p);
            return -EINVAL;
        }
        switch (*end) {
        case 's':
            mult = 1, end++;
            break;
        case 'm':
            mult = 60, end++;
            break;
        case 'h':
            mult = 3600, end++;
            break;
        case 'd':
            mult = 86400, end++;
            break;
        default:
            break;
        }
        if (*end && *end != ',') {
            snprintf(err, errlen, "horizon '%.40s': unknown unit (s, m, h or d)", p);
            return -EINVAL;
        }
        if (t.nhorizons == PR_MAX_HORIZONS) {
            snprintf(err, errlen, "more than %d horizons in '%.60s'", PR_MAX_HORIZONS, s);
            return -EINVAL;
        }
        t.horizons_s[t.nhorizons++] = v * mult;
        p = *end ? end + 1 : end;
    }
    if (pr_config_check(&t, err, errlen) < 0)
        return -EINVAL;
    *c = t;
    return 0;
}

static bool str_is(const char *a, const char *b) {
    return a && strcmp(a, b) == 0;
}

int pr_event_from_hl(const hl_event *e, pr_event *r) {
    bool ue = str_is(e->severity, "uncorrected") || str_is(e->severity, "deferred") || str_is(e->severity, "fatal");
    memset(r, 0, sizeof(*r));
    if (!HL_HAS(e, time_ms))
        return -ENOENT;
    r->time_ms = e->time_ms;
    r->cpu = HL_HAS(e, cpu) ? (int)e->cpu : -1;
    r->downtime_ms = -1;
    /* A reboot uni-healthd found (source healthd, detail "reboot: ...", its downtime where
     * known): unplanned when the daemon did not record its stop before it (severity fatal). */
    if (str_is(e->source, "healthd") && e->detail && strncmp(e->detail, "reboot:", 7) == 0) {
        r->kind = str_is(e->severity, "fatal") ? PR_EV_UNPLANNED_REBOOT : PR_EV_REBOOT;
        r->downtime_ms = HL_HAS(e, downtime_ms) ? e->downtime_ms : -1;
        r->count = 1;
        return 0;
    }
    if (!(HL_HAS(e, counted) && e->counted) || !(ue || str_is(e->severity, "corrected")))
        return -ENOENT;
    r->kind = ue ? PR_EV_UE : PR_EV_CE;
    r->count = HL_HAS(e, count) && e->count > 0 ? e->count : 1;
    r->memory = str_is(e->class, "memory");
    r->l2 = str_is(e->component, "l2");
    if (!r->memory && !str_is(e->class, "cpu"))
        return -ENOENT;
    if (HL_HAS(e, address)) {
        r->have_addr = true;
        r->addr = (uint64_t)e->address;
    }
    if (e->dimm)
        snprintf(r->dimm, sizeof(r->dimm), "%s", e->dimm);
    return 0;
}

bool pr_evidence(const double x[PR_NFEAT]) {
    return x[PR_F_DAY] > 0 || x[PR_F_MARGIN] > 0 || x[PR_F_TEMP] > 0 || x[PR_F_UE] > 0;
}

/* ln(1 + e^eta) = -ln(1 - logistic(eta)), without overflow; 0 without evidence. */
static double day_term(const pr_coef *k, const double x[PR_NFEAT]) {
    double eta = k->b0;
    if (!pr_evidence(x))
        return 0;
    for (int f = 0; f < PR_NFEAT; f++)
        eta += k->b[f] * x[f];
    eta = fmin(eta, 30.0);
    return eta > 0 ? eta + log1p(exp(-eta)) : log1p(exp(eta));
}

static double now_term(const pr_coef *k, const double x[PR_NFEAT]) {
    double now = k->s0;
    for (int f = 0; f < PR_NFEAT; f++)
        now += k->s[f] * x[f];
    return k->hold_h * exp(fmin(now, 30.0));
}

double pr_hazard(const pr_coef *k, const double x[PR_NFEAT]) {
    return k->prior_per_h + (now_term(k, x) + day_term(k, x)) / 24.0;
}

double pr_p_within(double hazard_per_h, double horizon_s) {
    return -expm1(-hazard_per_h * horizon_s / 3600.0);
}

static bool is_memory(pr_comp_kind k) {
    return k == PR_COMP_DIMM || k == PR_COMP_CHANNEL;
}

/* Is @e one of @c's errors? */
static bool owns(const pr_component *c, const pr_event *e) {
    if (e->kind != PR_EV_CE && e->kind != PR_EV_UE)
        return false;
    if (is_memory(c->kind)) {
        if (!e->memory)
            return false;
        for (int i = 0; i < c->ndimms; i++)
            if (strcmp(e->dimm, c->dimms[i]) == 0)
                return true;
        return false;
    }
    if (e->memory || (c->kind == PR_COMP_L2 && !e->l2))
        return false;
    for (int i = 0; i < c->ncpus; i++)
        if (e->cpu == c->cpus[i])
            return true;
    return false;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Addresses (by 4 KiB page, the unit rasdaemon and the kernel's soft offline act on) corrected
 * twice or more, and the most errors on one page. */
static void repeats(const pr_component *c, const pr_event *ev, size_t nev, int64_t from_ms, int64_t now_ms,
                    int *ret_pages, int64_t *ret_max) {
    uint64_t *pages = NULL;
    size_t n = 0;
    int rep = 0;
    int64_t best = 0;
    for (size_t i = 0; i < nev; i++)
        if (ev[i].have_addr && ev[i].kind == PR_EV_CE && ev[i].time_ms > from_ms && ev[i].time_ms <= now_ms &&
            owns(c, &ev[i]))
            n += (size_t)(ev[i].count < 64 ? ev[i].count : 64);
    if (n && (pages = malloc(n * sizeof(*pages)))) {
        size_t k = 0;
        for (size_t i = 0; i < nev; i++)
            if (ev[i].have_addr && ev[i].kind == PR_EV_CE && ev[i].time_ms > from_ms && ev[i].time_ms <= now_ms &&
                owns(c, &ev[i]))
                for (int64_t j = 0; j < ev[i].count && j < 64; j++)
                    pages[k++] = ev[i].addr >> 12;
        qsort(pages, k, sizeof(*pages), cmp_u64);
        for (size_t i = 0; i < k;) {
            size_t j = i;
            while (j < k && pages[j] == pages[i])
                j++;
            if (j - i >= 2)
                rep++;
            if ((int64_t)(j - i) > best)
                best = (int64_t)(j - i);
            i = j;
        }
        free(pages);
    }
    *ret_pages = rep;
    *ret_max = best;
}

static double margin_feature(const pr_component *c) {
    if (!c->have_margin || !(c->safe > 0) || !(c->current > 0))
        return 0;
    if (c->up) /* a period past the safe one: doublings beyond it */
        return c->current > c->safe ? log2(c->current / c->safe) : 0;
    return c->current < c->safe ? c->safe - c->current : 0;
}

static pr_risk risk_of(double p24) {
    return p24 >= 0.5 ? PR_RISK_CRITICAL : p24 >= 0.1 ? PR_RISK_HIGH : p24 >= 0.01 ? PR_RISK_ELEVATED : PR_RISK_LOW;
}

static void fmt_window(char *buf, size_t len, double s) {
    if (s >= 3600 && fmod(s, 3600) == 0)
        snprintf(buf, len, "%g h", s / 3600);
    else if (s >= 60 && fmod(s, 60) == 0)
        snprintf(buf, len, "%g min", s / 60);
    else
        snprintf(buf, len, "%g s", s);
}

/* The human reason: the term that adds most to the hazard, in the field's words. */
/* The reason's group of each feature: the corrected errors (their rate, trend, the day's count,
 * peak, hours and changes) are one; a storm takes the trend that makes it; x_known is no evidence. */
static int reason_group(int f, const double *x) {
    switch (f) {
    case PR_F_TREND:
        return x[PR_F_STORM] > 0 ? PR_F_STORM : PR_F_RATE;
    case PR_F_DAY:
    case PR_F_PEAK:
    case PR_F_HOURS:
    case PR_F_DOD:
    case PR_F_GROWTH:
    case PR_F_NEXT:
        return PR_F_RATE;
    case PR_F_KNOWN:
        return -1;
    default:
        return f;
    }
}

/* The human reason: the group of features without which the hazard would fall most, in the
 * field's words. */
static void explain(const pr_config *cf, const pr_component *c, pr_result *r, const pr_coef *k) {
    double best = 0, h = pr_hazard(k, r->x);
    int which = -1;
    char w[32], sw[32], dw[32];
    fmt_window(w, sizeof(w), cf->window_s);
    fmt_window(dw, sizeof(dw), cf->day_s);
    fmt_window(sw, sizeof(sw), cf->short_s);
    for (int g = 0; g < PR_NFEAT; g++) {
        double x[PR_NFEAT], drop;
        bool any = false;
        for (int f = 0; f < PR_NFEAT; f++) {
            bool in = reason_group(f, r->x) == g && r->x[f] != 0;
            x[f] = in ? 0 : r->x[f];
            any |= in;
        }
        if (!any)
            continue;
        drop = h - pr_hazard(k, x);
        if (drop > best * (1 + 1e-9)) {
            best = drop;
            which = g;
        }
    }
    switch (which) {
    case PR_F_UE:
        snprintf(r->reason, sizeof(r->reason), "%lld uncorrected error%s in the last %s on %s", (long long)r->ue_window,
                 r->ue_window == 1 ? "" : "s", w, c->name);
        break;
    case PR_F_STORM:
        snprintf(r->reason, sizeof(r->reason), "CE storm: %lld in %s on %s", (long long)r->ce_short, sw, c->name);
        break;
    case PR_F_MARGIN:
        if (c->up)
            snprintf(r->reason, sizeof(r->reason), "%s: %s %g ms, %.1fx the StressLog's safe value (%g ms)", c->name,
                     "refresh period", c->current, c->current / c->safe, c->safe);
        else
            snprintf(r->reason, sizeof(r->reason), "undervolted %g mV below StressLog's safe value (%g mV) on %s",
                     c->safe - c->current, c->safe, c->name);
        break;
    case PR_F_REPEAT:
        snprintf(r->reason, sizeof(r->reason), "%g page%s of %s corrected repeatedly in %s", expm1(r->x[PR_F_REPEAT]),
                 expm1(r->x[PR_F_REPEAT]) > 1.5 ? "s" : "", c->name, w);
        break;
    case PR_F_TEMP:
        snprintf(r->reason, sizeof(r->reason), "%s at %.0f C", c->name, c->temp_c);
        break;
    case PR_F_RATE:
    case PR_F_TREND:
        snprintf(r->reason, sizeof(r->reason), "%lld corrected error%s in %s (%lld in %s) on %s%s",
                 (long long)r->ce_window, r->ce_window == 1 ? "" : "s", w, (long long)r->ce_24h, dw, c->name,
                 r->x[PR_F_TREND] > 0.7 ? ", rising" : "");
        break;
    default:
        snprintf(r->reason, sizeof(r->reason), "no errors in %s on %s", w, c->name);
    }
}

/* The counts of @c's errors the features are made of, over the two days before @now_ms. */
typedef struct {
    int64_t prev_day;    /* corrected errors in the day before the last */
    int64_t yday_window; /* in the window a day ago */
    int64_t bins[24];    /* in each 24th of the last day, the newest first */
} day_counts;

static void count_events(const pr_config *cf, const pr_component *c, const pr_event *ev, size_t nev, int64_t now_ms,
                         pr_result *r, day_counts *d) {
    int64_t day = (int64_t)(cf->day_s * 1000), win = (int64_t)(cf->window_s * 1000);
    int64_t w_from = now_ms - win, s_from = now_ms - (int64_t)(cf->short_s * 1000);
    for (size_t i = 0; i < nev; i++) {
        const pr_event *e = &ev[i];
        int64_t age = now_ms - e->time_ms;
        if (age < 0 || age >= 2 * day || !owns(c, e))
            continue;
        if (e->kind != PR_EV_CE) {
            if (e->time_ms > w_from)
                r->ue_window += e->count;
            continue;
        }
        if (age >= day) {
            d->prev_day += e->count;
            if (age < day + win)
                d->yday_window += e->count;
            continue;
        }
        r->ce_24h += e->count;
        d->bins[age * 24 / day] += e->count;
        if (e->time_ms > w_from)
            r->ce_window += e->count;
        if (e->time_ms > s_from)
            r->ce_short += e->count;
    }
}

static void rate_component(const pr_config *cf, const pr_component *c, const pr_event *ev, size_t nev, int64_t now_ms,
                           int64_t start_ms, pr_result *r) {
    const pr_coef *k = &cf->coef[is_memory(c->kind) ? PR_CLASS_MEM : PR_CLASS_CPU];
    int64_t w_from = now_ms - (int64_t)(cf->window_s * 1000);
    /* A history younger than the window: the rate is over what it covers (at least the short
     * window, so that the first errors of a new HealthLog are not a rate of a second). */
    double hist_s = (double)(now_ms - start_ms) / 1000.0;
    double cover_s = fmin(cf->window_s, fmax(cf->short_s, hist_s));
    double short_rate, peak, bin_h = cf->day_s / 24.0 / 3600.0;
    int pages = 0, hours = 0;
    int64_t page_max = 0;
    day_counts d = {0};

    memset(r, 0, sizeof(*r));
    count_events(cf, c, ev, nev, now_ms, r, &d);
    repeats(c, ev, nev, w_from, now_ms, &pages, &page_max);
    r->ce_rate_per_h = (double)r->ce_window * 3600.0 / cover_s;
    short_rate = (double)r->ce_short * 3600.0 / cf->short_s;
    peak = r->ce_rate_per_h;
    for (int b = 0; b < 24; b++) {
        peak = fmax(peak, (double)d.bins[b] / bin_h);
        hours += d.bins[b] > 0;
    }
    r->x[PR_F_RATE] = log1p(r->ce_rate_per_h);
    r->x[PR_F_TREND] = fmax(0, log1p(short_rate) - log1p(r->ce_rate_per_h));
    r->x[PR_F_STORM] = r->ce_short >= cf->storm_count;
    r->x[PR_F_REPEAT] = log1p(pages);
    r->x[PR_F_MARGIN] = margin_feature(c);
    r->x[PR_F_TEMP] = isfinite(c->temp_c) ? fmax(0, (c->temp_c - 45.0) / 10.0) : 0;
    r->x[PR_F_UE] = r->ue_window > 0;
    r->x[PR_F_DAY] = log1p((double)r->ce_24h);
    r->x[PR_F_PEAK] = log1p(peak);
    r->x[PR_F_HOURS] = hours / 24.0;
    /* The comparisons with a day earlier only where the history reaches back that far: a
     * history younger than that is not a day without errors. */
    if (hist_s >= cf->day_s + cf->window_s)
        r->x[PR_F_DOD] = log1p((double)r->ce_window) - log1p((double)d.yday_window);
    if (hist_s >= 2 * cf->day_s) {
        /* Errors from nothing are no rate of growth: at most e^2 a day either way. */
        r->x[PR_F_GROWTH] = fmax(-2, fmin(2, log1p((double)r->ce_24h) - log1p((double)d.prev_day)));
        /* Tomorrow's peak, where the day had errors to project: x_known then moves the threshold. */
        if (r->ce_24h > 0) {
            r->x[PR_F_NEXT] = r->x[PR_F_PEAK] + r->x[PR_F_GROWTH];
            r->x[PR_F_KNOWN] = 1;
        }
    }
    r->hazard_per_h = pr_hazard(k, r->x);
    for (int h = 0; h < cf->nhorizons; h++)
        r->p_ue[h] = pr_p_within(r->hazard_per_h, cf->horizons_s[h]);
    r->risk = risk_of(pr_p_within(r->hazard_per_h, 86400));
    r->mcelog = r->ce_24h >= MCELOG_CE_24H;
    r->rasdaemon = is_memory(c->kind) ? page_max >= RASDAEMON_PAGE_CE_24H : r->ce_24h >= RASDAEMON_CPU_CE_24H;
    explain(cf, c, r, k);
}

static int cmp_time(const void *a, const void *b) {
    int64_t x = ((const pr_event *)a)->time_ms, y = ((const pr_event *)b)->time_ms;
    return x < y ? -1 : x > y;
}

/* The node: its failures (episodes of uncorrected errors, unplanned reboots) over the history,
 * and the hazard now: its own history's rate (with a prior of one failure per prior_mtbf_h) plus
 * every component's. */
/* Is @c part of another component of @all (a PMD's L2, a channel's DIMM)? The node counts each
 * error once. */
static bool nested(const pr_component *all, size_t n, const pr_component *c) {
    if (c->kind == PR_COMP_L2)
        return true;
    if (c->kind != PR_COMP_DIMM)
        return false;
    for (size_t i = 0; i < n; i++)
        if (all[i].kind == PR_COMP_CHANNEL)
            for (int j = 0; j < all[i].ndimms; j++)
                if (strcmp(all[i].dimms[j], c->dimms[0]) == 0)
                    return true;
    return false;
}

static int rate_node(const pr_config *cf, const pr_component *comps, const pr_result *res, size_t n, const pr_event *ev,
                     size_t nev, int64_t now_ms, int64_t start_ms, pr_node *node) {
    pr_event *f = NULL;
    size_t nf = 0;
    double down_ms = 0, worst = 0;
    int64_t last = INT64_MIN;
    size_t worst_i = 0;

    memset(node, 0, sizeof(*node));
    node->observed_h = fmax(0, (double)(now_ms - start_ms) / 3600e3);
    if (nev && !(f = malloc(nev * sizeof(*f))))
        return -ENOMEM;
    for (size_t i = 0; i < nev; i++)
        if (ev[i].time_ms <= now_ms && ev[i].kind != PR_EV_CE)
            f[nf++] = ev[i];
    if (nf)
        qsort(f, nf, sizeof(*f), cmp_time);
    for (size_t i = 0; i < nf; i++) {
        if (f[i].kind == PR_EV_REBOOT || f[i].kind == PR_EV_UNPLANNED_REBOOT) {
            if (f[i].downtime_ms >= 0) {
                node->nreboots++;
                down_ms += (double)f[i].downtime_ms;
            }
            if (f[i].kind == PR_EV_REBOOT)
                continue;
        } else if (last != INT64_MIN && f[i].time_ms - last < (int64_t)(cf->failure_gap_s * 1000)) {
            last = f[i].time_ms; /* the same episode */
            continue;
        }
        node->nfailures++;
        last = f[i].time_ms;
    }
    free(f);
    node->mtbf_h = node->nfailures ? node->observed_h / node->nfailures : NAN;
    node->mttr_min = node->nreboots ? down_ms / node->nreboots / 60e3 : NAN;
    node->hazard_per_h = (node->nfailures + 1.0) / (node->observed_h + cf->prior_mtbf_h);
    for (size_t i = 0; i < n; i++) {
        if (nested(comps, n, &comps[i]))
            continue;
        node->hazard_per_h += res[i].hazard_per_h;
        if (res[i].hazard_per_h > worst) {
            worst = res[i].hazard_per_h;
            worst_i = i;
        }
    }
    for (int h = 0; h < cf->nhorizons; h++)
        node->p_fail[h] = pr_p_within(node->hazard_per_h, cf->horizons_s[h]);
    {
        double p24 = pr_p_within(node->hazard_per_h, 86400);
        node->unreliable = p24 >= cf->threshold;
        if (n && worst > 0.5 * node->hazard_per_h)
            snprintf(node->reason, sizeof(node->reason), "P(failure in 24 h) %.3g %s %g: %.150s", p24,
                     node->unreliable ? ">=" : "<", cf->threshold, res[worst_i].reason);
        else
            snprintf(node->reason, sizeof(node->reason),
                     "P(failure in 24 h) %.3g %s %g: %d failure%s in %.1f h of history", p24,
                     node->unreliable ? ">=" : "<", cf->threshold, node->nfailures, node->nfailures == 1 ? "" : "s",
                     node->observed_h);
    }
    return 0;
}

int pr_predict(const pr_config *c, const pr_component *comps, size_t n, const pr_event *ev, size_t nev, int64_t now_ms,
               int64_t history_start_ms, pr_result *ret, pr_node *node, char *err, size_t errlen) {
    int r = pr_config_check(c, err, errlen);
    if (r < 0)
        return r;
    if (history_start_ms > now_ms)
        history_start_ms = now_ms;
    for (size_t i = 0; i < n; i++)
        rate_component(c, &comps[i], ev, nev, now_ms, history_start_ms, &ret[i]);
    if (node && (r = rate_node(c, comps, ret, n, ev, nev, now_ms, history_start_ms, node)) < 0)
        snprintf(err, errlen, "out of memory");
    return r;
}

int pr_component_p_ue(const pr_component *comps, const pr_result *res, size_t n, const char *name, double horizon_s,
                      double *ret, char *err, size_t errlen) {
    if (!(horizon_s > 0) || !isfinite(horizon_s)) {
        snprintf(err, errlen, "horizon %g s: a horizon is a positive number of seconds", horizon_s);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        if (name && strcmp(comps[i].name, name) == 0) {
            *ret = pr_p_within(res[i].hazard_per_h, horizon_s);
            return 0;
        }
    snprintf(err, errlen, "unknown component '%s' (%zu known%s%s%s)", name ? name : "(null)", n, n ? ": " : "",
             n ? comps[0].name : "", n > 1 ? " ..." : "");
    return -ENOENT;
}

const uni_margin *pr_margin_find(const uni_margins *m, const char *domain, const char *param, double freq_mhz) {
    const uni_margin *best = NULL;
    for (size_t i = 0; m && i < m->n; i++) {
        const uni_margin *c = &m->m[i];
        if (c->has_safe && strcmp(c->domain, domain) == 0 && strcmp(c->param, param) == 0 &&
            (!best || fabs((double)c->freq_mhz - freq_mhz) < fabs((double)best->freq_mhz - freq_mhz)))
            best = c;
    }
    return best;
}
