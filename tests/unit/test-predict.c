/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The predictor (src/predict/) on constructed histories: nothing, a steady trickle, a storm, a
 * repeat at one page, an undervolted PMD, a quiet night after a peak, a growing peak, uncorrected
 * errors and reboots for the node; the
 * probabilities move the way docs/predictor.md says, the baselines fire where their rules say,
 * and bad input is refused with the reason and changes nothing. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "predict/predict.h"
#include "testutil.h"

#define NOW (1700000000000LL)
#define MIN (60000LL)
#define HOUR (3600000LL)

enum { PMD2, PMD2_L2, DIMM0A, NCOMPS };

static void comps(pr_component *c) {
    memset(c, 0, NCOMPS * sizeof(*c));
    snprintf(c[PMD2].name, PR_NAME_MAX, "pmd2");
    c[PMD2].kind = PR_COMP_PMD;
    c[PMD2].cpus[0] = 4;
    c[PMD2].cpus[1] = 5;
    c[PMD2].ncpus = 2;
    c[PMD2].temp_c = NAN;
    c[PMD2_L2] = c[PMD2];
    snprintf(c[PMD2_L2].name, PR_NAME_MAX, "pmd2_l2");
    c[PMD2_L2].kind = PR_COMP_L2;
    snprintf(c[DIMM0A].name, PR_NAME_MAX, "DIMM0A");
    c[DIMM0A].kind = PR_COMP_DIMM;
    snprintf(c[DIMM0A].dimms[0], PR_NAME_MAX, "DIMM0A");
    c[DIMM0A].ndimms = 1;
    c[DIMM0A].temp_c = NAN;
}

typedef struct {
    pr_event ev[4096];
    size_t n;
} hist;

static void cpu_ce(hist *h, int64_t t, int cpu, int64_t count, bool l2) {
    pr_event *e = &h->ev[h->n++];
    memset(e, 0, sizeof(*e));
    e->time_ms = t;
    e->count = count;
    e->kind = PR_EV_CE;
    e->cpu = cpu;
    e->l2 = l2;
    e->downtime_ms = -1;
}

static void dimm_ce(hist *h, int64_t t, const char *dimm, uint64_t addr, int kind) {
    pr_event *e = &h->ev[h->n++];
    memset(e, 0, sizeof(*e));
    e->time_ms = t;
    e->count = 1;
    e->kind = kind;
    e->cpu = -1;
    e->memory = true;
    e->have_addr = true;
    e->addr = addr;
    e->downtime_ms = -1;
    snprintf(e->dimm, sizeof(e->dimm), "%s", dimm);
}

static void reboot(hist *h, int64_t t, int64_t down_ms, bool planned) {
    pr_event *e = &h->ev[h->n++];
    memset(e, 0, sizeof(*e));
    e->time_ms = t;
    e->count = 1;
    e->kind = planned ? PR_EV_REBOOT : PR_EV_UNPLANNED_REBOOT;
    e->cpu = -1;
    e->downtime_ms = down_ms;
}

/* Rate the three components over a week of history; returns the node. */
static pr_node rate(const pr_config *cf, const pr_component *c, const hist *h, pr_result *res) {
    pr_node node;
    char err[200] = "";
    assert_int_equal(pr_predict(cf, c, NCOMPS, h->ev, h->n, NOW, NOW - 7 * 24 * HOUR, res, &node, err, sizeof(err)), 0);
    return node;
}

static double p24(const pr_result *r) {
    return pr_p_within(r->hazard_per_h, 86400);
}

static void test_nothing(void **state) {
    pr_config cf;
    pr_component c[NCOMPS];
    pr_result r[NCOMPS];
    hist *h = calloc(1, sizeof(*h));
    pr_node node;
    (void)state;
    pr_config_default(&cf);
    comps(c);
    node = rate(&cf, c, h, r);
    for (int i = 0; i < NCOMPS; i++) {
        /* The prior alone: about one uncorrected error in 50 years. */
        assert_true(p24(&r[i]) > 1e-5 && p24(&r[i]) < 1e-3);
        assert_true(r[i].p_ue[0] < r[i].p_ue[1] && r[i].p_ue[1] < r[i].p_ue[2]); /* 1 h < 24 h < 7 d */
        assert_int_equal(r[i].risk, PR_RISK_LOW);
        assert_false(r[i].mcelog);
        assert_false(r[i].rasdaemon);
        assert_true(strstr(r[i].reason, "no errors in 1 h on ") != NULL);
    }
    assert_false(node.unreliable);
    assert_int_equal(node.nfailures, 0);
    assert_true(isnan(node.mtbf_h) && isnan(node.mttr_min));
    assert_true(node.p_fail[1] < cf.threshold);
    assert_true(fabs(node.observed_h - 168) < 1e-9);
    free(h);
}

static void test_trickle_storm(void **state) {
    pr_config cf;
    pr_component c[NCOMPS];
    pr_result quiet[NCOMPS], trickle[NCOMPS], storm[NCOMPS];
    hist *h = calloc(1, sizeof(*h));
    (void)state;
    pr_config_default(&cf);
    comps(c);
    rate(&cf, c, h, quiet);
    /* A steady trickle: one corrected L2 error an hour on core 4 for a day. The rules fire
     * (24 >= mcelog's 10 and rasdaemon's 18), the model rates it low but above nothing. */
    for (int i = 0; i < 24; i++)
        cpu_ce(h, NOW - i * HOUR - 30 * MIN, 4, 1, true);
    rate(&cf, c, h, trickle);
    assert_true(trickle[PMD2].mcelog && trickle[PMD2].rasdaemon);
    assert_int_equal(trickle[PMD2].ce_24h, 24);
    assert_true(p24(&trickle[PMD2]) > p24(&quiet[PMD2]));
    assert_int_equal(trickle[PMD2].risk, PR_RISK_LOW);
    assert_true(p24(&trickle[PMD2]) < 0.01);
    assert_true(fabs(trickle[PMD2].ce_rate_per_h - 1.0) < 1e-9);
    /* The L2 component sees them; the DIMM does not. */
    assert_int_equal(trickle[PMD2_L2].ce_24h, 24);
    assert_int_equal(trickle[DIMM0A].ce_24h, 0);

    /* A storm: 37 in the last 5 minutes. It raises the probability by orders of magnitude over
     * the trickle's, and says so. */
    memset(h, 0, sizeof(*h));
    for (int i = 0; i < 37; i++)
        cpu_ce(h, NOW - i * 8000, 5, 1, true);
    rate(&cf, c, h, storm);
    assert_true(storm[PMD2].x[PR_F_STORM] == 1);
    assert_true(p24(&storm[PMD2]) > 100 * p24(&trickle[PMD2]));
    assert_true(storm[PMD2].risk >= PR_RISK_ELEVATED);
    assert_string_equal(storm[PMD2].reason, "CE storm: 37 in 5 min on pmd2");
    /* An L1 error (not L2) counts for the PMD only. */
    cpu_ce(h, NOW - 1000, 4, 5, false);
    rate(&cf, c, h, storm);
    assert_int_equal(storm[PMD2].ce_short, 42);
    assert_int_equal(storm[PMD2_L2].ce_short, 37);
    free(h);
}

static void test_repeat_row(void **state) {
    pr_config cf;
    pr_component c[NCOMPS];
    pr_result same[NCOMPS], spread[NCOMPS], r0[NCOMPS];
    hist *h = calloc(1, sizeof(*h));
    (void)state;
    pr_config_default(&cf);
    comps(c);
    rate(&cf, c, h, r0);
    /* 400 corrected errors in the last hour at one page (one row), against 400 at 400 pages:
     * enough for the memory model (fitted on the board, a near step at a few hundred an hour) to
     * give a probability the prior does not hide. */
    for (int i = 0; i < 400; i++)
        dimm_ce(h, NOW - i * 9000 + 1, "DIMM0A", 0x12345000 + (uint64_t)(i % 64) * 8, PR_EV_CE);
    rate(&cf, c, h, same);
    memset(h, 0, sizeof(*h));
    for (int i = 0; i < 400; i++)
        dimm_ce(h, NOW - i * 9000 + 1, "DIMM0A", 0x10000000 + (uint64_t)i * 0x100000, PR_EV_CE);
    rate(&cf, c, h, spread);
    assert_true(same[DIMM0A].mcelog && spread[DIMM0A].mcelog);
    /* rasdaemon's PAGE_CE_THRESHOLD (50 on one page) fires only on the repeat. */
    assert_true(same[DIMM0A].rasdaemon);
    assert_false(spread[DIMM0A].rasdaemon);
    assert_true(fabs(same[DIMM0A].x[PR_F_REPEAT] - log(2)) < 1e-12);
    assert_true(spread[DIMM0A].x[PR_F_REPEAT] == 0);
    /* A repeated page doubles the odds of the day ahead's term (x e^(1 x ln 2)); while it is
     * small, what the errors add to the prior doubles. */
    assert_true(p24(&spread[DIMM0A]) > 2 * p24(&r0[DIMM0A]));
    assert_true(p24(&same[DIMM0A]) > p24(&spread[DIMM0A]));
    {
        double ratio = (same[DIMM0A].hazard_per_h - cf.coef[PR_CLASS_MEM].prior_per_h) /
                       (spread[DIMM0A].hazard_per_h - cf.coef[PR_CLASS_MEM].prior_per_h);
        assert_true(ratio > 1.9 && ratio < 2.0001);
    }
    assert_true(strstr(same[DIMM0A].reason, "DIMM0A") != NULL);
    assert_int_equal(same[PMD2].ce_24h, 0);
    free(h);
}

static void test_margin(void **state) {
    pr_config cf;
    pr_component c[NCOMPS];
    pr_result at[NCOMPS], below[NCOMPS];
    hist *h = calloc(1, sizeof(*h));
    (void)state;
    pr_config_default(&cf);
    comps(c);
    c[PMD2].have_margin = true;
    c[PMD2].safe = 910;
    c[PMD2].current = 910;
    /* No errors yet: at the safe value nothing but the prior; 20 mV below it the margin alone
     * raises the probability, and is the reason. */
    rate(&cf, c, h, at);
    c[PMD2].current = 890;
    rate(&cf, c, h, below);
    assert_true(at[PMD2].x[PR_F_MARGIN] == 0);
    assert_true(below[PMD2].x[PR_F_MARGIN] == 20);
    assert_true(p24(&at[PMD2]) < 1e-4);
    assert_true(p24(&below[PMD2]) > 10 * p24(&at[PMD2]));
    assert_true(strstr(below[PMD2].reason, "undervolted 20 mV below StressLog's safe value (910 mV) on pmd2") != NULL);
    /* With corrected errors too, the margin still adds. */
    for (int i = 0; i < 10; i++)
        cpu_ce(h, NOW - i * 10 * MIN, 4, 1, true);
    c[PMD2].current = 910;
    rate(&cf, c, h, at);
    c[PMD2].current = 890;
    rate(&cf, c, h, below);
    assert_true(p24(&below[PMD2]) > p24(&at[PMD2]));
    /* A refresh period past the channel's safe one: doublings beyond it. */
    c[DIMM0A].have_margin = true;
    c[DIMM0A].up = true;
    c[DIMM0A].safe = 1000;
    c[DIMM0A].current = 4000;
    rate(&cf, c, h, below);
    assert_true(fabs(below[DIMM0A].x[PR_F_MARGIN] - 2) < 1e-12);
    free(h);
}

/* A peak of load's errors: @total corrected L2 errors on core 4 over the hour ending at @end. */
static void peak_hour(hist *h, int64_t end, int64_t total) {
    for (int i = 0; i < 60; i++)
        cpu_ce(h, end - i * MIN, 4, total / 60, true);
}

/* The day ahead: a quiet night after the day's peak keeps the peak in mind; a peak that grows day
 * over day raises the probability far above one that repeats. */
static void test_day_ahead(void **state) {
    pr_config cf;
    pr_component c[NCOMPS];
    pr_result none[NCOMPS], steady[NCOMPS], growing[NCOMPS];
    hist *h = calloc(1, sizeof(*h));
    (void)state;
    pr_config_default(&cf);
    comps(c);
    rate(&cf, c, h, none);
    /* The same peak yesterday afternoon and the day before, 10 h ago: the window is quiet. */
    peak_hour(h, NOW - 10 * HOUR, 3000);
    peak_hour(h, NOW - 34 * HOUR, 3000);
    rate(&cf, c, h, steady);
    assert_true(steady[PMD2].x[PR_F_RATE] == 0 && steady[PMD2].x[PR_F_STORM] == 0);
    assert_int_equal(steady[PMD2].ce_24h, 3000);
    assert_true(fabs(steady[PMD2].x[PR_F_PEAK] - log(3001)) < 1e-9);
    assert_true(fabs(steady[PMD2].x[PR_F_HOURS] - 1.0 / 24) < 1e-12);
    assert_true(steady[PMD2].x[PR_F_GROWTH] == 0 && steady[PMD2].x[PR_F_KNOWN] == 1);
    assert_true(p24(&steady[PMD2]) > 5 * p24(&none[PMD2]));
    assert_true(strstr(steady[PMD2].reason, "0 corrected errors in 1 h (3000 in 24 h) on pmd2") != NULL);
    /* About three times the day before's: growing. */
    memset(h, 0, sizeof(*h));
    peak_hour(h, NOW - 10 * HOUR, 3000);
    peak_hour(h, NOW - 34 * HOUR, 960);
    rate(&cf, c, h, growing);
    assert_true(fabs(growing[PMD2].x[PR_F_GROWTH] - log(3001.0 / 961)) < 1e-9);
    assert_true(p24(&growing[PMD2]) > 10 * p24(&steady[PMD2]));
    assert_true(growing[PMD2].risk >= PR_RISK_ELEVATED);
    /* Errors from nothing are no rate of growth: clipped at e^2 a day. */
    memset(h, 0, sizeof(*h));
    peak_hour(h, NOW - 10 * HOUR, 3000);
    rate(&cf, c, h, growing);
    assert_true(growing[PMD2].x[PR_F_GROWTH] == 2);
    /* A history younger than two days: no growth, no projection (not a day without errors). */
    {
        char err[200];
        assert_int_equal(pr_predict(&cf, c, NCOMPS, h->ev, h->n, NOW, NOW - 30 * HOUR, growing, NULL, err, sizeof(err)),
                         0);
        assert_true(growing[PMD2].x[PR_F_GROWTH] == 0 && growing[PMD2].x[PR_F_KNOWN] == 0);
        assert_true(growing[PMD2].x[PR_F_DOD] == 0); /* the window a day ago is covered (30 h): 0 and 0 */
    }
    free(h);
}

static void test_node(void **state) {
    pr_config cf;
    pr_component c[NCOMPS];
    pr_result r[NCOMPS];
    hist *h = calloc(1, sizeof(*h));
    pr_node node;
    (void)state;
    pr_config_default(&cf);
    comps(c);
    /* Two uncorrected errors a minute apart (one failure), another 2 days ago, an unplanned reboot
     * 3 days ago (down 10 min) and a planned one 5 days ago (down 2 min). */
    dimm_ce(h, NOW - 30 * HOUR, "DIMM0A", 0x1000, PR_EV_UE);
    dimm_ce(h, NOW - 30 * HOUR + MIN, "DIMM0A", 0x1000, PR_EV_UE);
    dimm_ce(h, NOW - 50 * HOUR, "DIMM0A", 0x2000, PR_EV_UE);
    reboot(h, NOW - 72 * HOUR, 10 * MIN, false);
    reboot(h, NOW - 120 * HOUR, 2 * MIN, true);
    node = rate(&cf, c, h, r);
    assert_int_equal(node.nfailures, 3);
    assert_int_equal(node.nreboots, 2);
    assert_true(fabs(node.mtbf_h - 168.0 / 3) < 1e-9);
    assert_true(fabs(node.mttr_min - 6) < 1e-9);
    /* Three failures in a week: about 4 / (168 + 8760) per hour, under the 5 % in 24 h. */
    /* The PMD and the DIMM count; the PMD's L2 is part of the PMD. */
    assert_true(fabs(node.hazard_per_h - (4.0 / (168 + 8760) + r[PMD2].hazard_per_h + r[DIMM0A].hazard_per_h)) < 1e-12);
    assert_false(node.unreliable);
    assert_true(node.p_fail[0] < node.p_fail[1] && node.p_fail[1] < node.p_fail[2]);

    /* A PMD in a CE storm of thousands an hour: the node turns unreliable, and says why. */
    for (int i = 0; i < 300; i++)
        cpu_ce(h, NOW - i * 1000, 4, 20, true);
    node = rate(&cf, c, h, r);
    assert_true(r[PMD2].risk >= PR_RISK_HIGH);
    assert_true(node.unreliable);
    assert_true(node.p_fail[1] >= cf.threshold);
    assert_true(strstr(node.reason, "6000 corrected errors in 1 h (6000 in 24 h) on pmd2, rising") != NULL);
    /* Two hours on, without errors: the present's part is gone (the window has passed), the
     * day's memory of the storm stays; a day and a window on, the node is reliable again and the
     * PMD's risk low: the errors are out of the day. */
    {
        char err[200];
        pr_result r2[NCOMPS];
        pr_node later;
        assert_int_equal(
            pr_predict(&cf, c, NCOMPS, h->ev, h->n, NOW + 2 * HOUR, NOW - 7 * 24 * HOUR, r2, &later, err, sizeof(err)),
            0);
        assert_true(p24(&r2[PMD2]) < p24(&r[PMD2]));
        assert_true(r2[PMD2].x[PR_F_RATE] == 0 && r2[PMD2].x[PR_F_STORM] == 0 && r2[PMD2].x[PR_F_DAY] > 0);
        assert_int_equal(
            pr_predict(&cf, c, NCOMPS, h->ev, h->n, NOW + 25 * HOUR, NOW - 7 * 24 * HOUR, r2, &later, err, sizeof(err)),
            0);
        assert_false(later.unreliable);
        assert_int_equal(r2[PMD2].risk, PR_RISK_LOW);
        assert_int_equal(r2[PMD2].ce_24h, 0);
    }
    /* Rated at a time before the storm, the storm does not count. */
    {
        char err[200];
        pr_node before;
        assert_int_equal(
            pr_predict(&cf, c, NCOMPS, h->ev, h->n, NOW - 3 * HOUR, NOW - 7 * 24 * HOUR, r, &before, err, sizeof(err)),
            0);
        assert_false(before.unreliable);
        assert_int_equal(r[PMD2].ce_24h, 0);
    }
    /* A lower threshold turns the quiet node unreliable: the rule is the threshold's. */
    memset(h, 0, sizeof(*h));
    cf.threshold = 1e-4;
    node = rate(&cf, c, h, r);
    assert_true(node.unreliable);
    free(h);
}

static void test_bad_input(void **state) {
    pr_config cf, before;
    pr_component c[NCOMPS];
    pr_result r[NCOMPS];
    hist *h = calloc(1, sizeof(*h));
    char err[200] = "";
    double p = -1;
    (void)state;
    pr_config_default(&cf);
    comps(c);
    rate(&cf, c, h, r);
    /* A horizon 0 or negative, an unknown component or DIMM: refused, naming the value. */
    assert_int_equal(pr_component_p_ue(c, r, NCOMPS, "pmd2", 0, &p, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "horizon 0 s: a horizon is a positive number of seconds");
    assert_int_equal(pr_component_p_ue(c, r, NCOMPS, "pmd2", -3600, &p, err, sizeof(err)), -EINVAL);
    assert_int_equal(pr_component_p_ue(c, r, NCOMPS, "pmd9", 3600, &p, err, sizeof(err)), -ENOENT);
    assert_true(strstr(err, "unknown component 'pmd9'") != NULL);
    assert_int_equal(pr_component_p_ue(c, r, NCOMPS, "DIMM7Z", 3600, &p, err, sizeof(err)), -ENOENT);
    assert_true(p == -1); /* nothing written */
    assert_int_equal(pr_component_p_ue(c, r, NCOMPS, "DIMM0A", 3600, &p, err, sizeof(err)), 0);
    assert_true(fabs(p - r[DIMM0A].p_ue[0]) < 1e-15);
    /* Horizons: parsed with units; a bad list changes nothing. */
    before = cf;
    assert_int_equal(pr_parse_horizons(&cf, "1h,0,7d", err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "horizon 0 s: a horizon is a positive number of seconds");
    assert_int_equal(pr_parse_horizons(&cf, "-5m", err, sizeof(err)), -EINVAL);
    assert_int_equal(pr_parse_horizons(&cf, "2x", err, sizeof(err)), -EINVAL);
    assert_memory_equal(&cf, &before, sizeof(cf));
    assert_int_equal(pr_parse_horizons(&cf, "30m,2d", err, sizeof(err)), 0);
    assert_int_equal(cf.nhorizons, 2);
    assert_true(cf.horizons_s[0] == 1800 && cf.horizons_s[1] == 172800);
    /* pr_predict refuses a bad configuration before rating anything. */
    cf.horizons_s[1] = -1;
    memset(r, 0x5a, sizeof(r));
    assert_int_equal(pr_predict(&cf, c, NCOMPS, h->ev, h->n, NOW, NOW - HOUR, r, NULL, err, sizeof(err)), -EINVAL);
    assert_true(((unsigned char *)r)[0] == 0x5a);
    pr_config_default(&cf);
    cf.threshold = 1;
    assert_int_equal(pr_config_check(&cf, err, sizeof(err)), -EINVAL);
    free(h);
}

/* The margin the predictor compares a domain with: the search at the nearest frequency, one with a
 * safe value only (the file itself is read by util/margins.c, tested in test-margins.c). */
static void test_margins_file(void **state) {
    uni_margin m[4] = {
        {.domain = "pmd2", .param = "voltage_mv", .dir = -1, .has_safe = true, .safe = 910, .freq_mhz = 2400},
        {.domain = "pmd2", .param = "voltage_mv", .dir = -1, .has_safe = true, .safe = 880, .freq_mhz = 1200},
        {.domain = "pmd3", .param = "voltage_mv", .dir = -1, .has_safe = false, .freq_mhz = 2400},
        {.domain = "mc1", .param = "refresh_ms", .dir = 1, .has_safe = true, .safe = 1100},
    };
    uni_margins set = {.version = 1, .m = m, .n = 4};
    const uni_margin *f;
    (void)state;
    f = pr_margin_find(&set, "pmd2", "voltage_mv", 1500);
    assert_non_null(f);
    assert_true(f->safe == 880);
    f = pr_margin_find(&set, "pmd2", "voltage_mv", 2400);
    assert_true(f->safe == 910 && f->dir < 0);
    f = pr_margin_find(&set, "mc1", "refresh_ms", 0);
    assert_true(f && f->dir > 0 && f->safe == 1100);
    assert_null(pr_margin_find(&set, "pmd3", "voltage_mv", 2400)); /* nothing safe: no margin */
    assert_null(pr_margin_find(&set, "pmd2", "refresh_ms", 0));
    assert_null(pr_margin_find(NULL, "pmd2", "voltage_mv", 2400));
}

static void test_from_healthlog(void **state) {
    hl_event e;
    pr_event p;
    (void)state;
    memset(&e, 0, sizeof(e));
    HL_SET(&e, time_ms, NOW);
    HL_SET(&e, counted, 1);
    HL_SET(&e, count, 7);
    HL_SET(&e, cpu, 4);
    e.class = "cpu";
    e.component = "l2";
    e.severity = "corrected";
    assert_int_equal(pr_event_from_hl(&e, &p), 0);
    assert_true(p.kind == PR_EV_CE && p.count == 7 && p.cpu == 4 && p.l2 && !p.memory);
    e.severity = "fatal";
    assert_int_equal(pr_event_from_hl(&e, &p), 0);
    assert_int_equal(p.kind, PR_EV_UE);
    /* A second report another source counts, and actions, are not the component's errors. */
    HL_SET(&e, counted, 0);
    assert_int_equal(pr_event_from_hl(&e, &p), -ENOENT);
    /* uni-healthd's reboot: unplanned (fatal) with its downtime. */
    memset(&e, 0, sizeof(e));
    HL_SET(&e, time_ms, NOW);
    HL_SET(&e, counted, 0);
    HL_SET(&e, downtime_ms, 90000);
    e.source = "healthd";
    e.class = "platform";
    e.severity = "fatal";
    /* Another platform event of uni-healthd's (a lost trace buffer) is not a reboot. */
    assert_int_equal(pr_event_from_hl(&e, &p), -ENOENT);
    e.detail = "reboot: boot 1 ms, last seen 0 ms, stop recorded 0 ms";
    assert_int_equal(pr_event_from_hl(&e, &p), 0);
    assert_true(p.kind == PR_EV_UNPLANNED_REBOOT && p.downtime_ms == 90000);
    e.severity = "info";
    assert_int_equal(pr_event_from_hl(&e, &p), 0);
    assert_int_equal(p.kind, PR_EV_REBOOT);
    e.set &= ~(1ull << HL_F_downtime_ms); /* the downtime unknown: a reboot still */
    assert_int_equal(pr_event_from_hl(&e, &p), 0);
    assert_true(p.kind == PR_EV_REBOOT && p.downtime_ms == -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing),      cmocka_unit_test(test_trickle_storm),  cmocka_unit_test(test_repeat_row),
        cmocka_unit_test(test_margin),       cmocka_unit_test(test_node),           cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_margins_file), cmocka_unit_test(test_from_healthlog), cmocka_unit_test(test_day_ahead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
