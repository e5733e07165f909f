/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The simulated board's model (src/simboard/model.c) without FUSE: determinism from the seed,
 * no errors with the vendor's margins, errors that appear below a PMD's safe voltage and grow as
 * it drops (uncorrected ones only deep), DRAM errors that appear when the refresh period passes
 * the weakest cell's retention and grow with it and with temperature, power as V^2 x f, and the
 * cpufreq governors' frequencies. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "simboard/model.h"
#include "testutil.h"

static uint64_t pmd_ce(const sb_model *m, int p) {
    return m->pmd_ce[p][0] + m->pmd_ce[p][1];
}

static uint64_t mc_ce(const sb_model *m, int c) {
    return m->dimm_ce[c][0] + m->dimm_ce[c][1];
}

/* A scenario: undervolt PMD1 and relax mc2's refresh, for a simulated minute. */
static void scenario(sb_model *m, uint64_t seed) {
    sb_init(m, seed);
    m->pmd_mv[1] = (int)(floor(sb_pmd_vmin_mv(m, 1) / 5) * 5) - 10;
    m->refresh_ms[2] = 4096;
    sb_advance(m, 60000);
}

static void test_deterministic(void **state) {
    sb_model a, b, c;
    (void)state;
    scenario(&a, 7);
    scenario(&b, 7);
    assert_memory_equal(&a, &b, sizeof(a));
    assert_true(pmd_ce(&a, 1) > 0);
    scenario(&c, 8);
    /* Another seed is another part: other safe voltages and retention times. */
    assert_true(c.vmin2400_mv[1] != a.vmin2400_mv[1] || c.retention45_ms[2] != a.retention45_ms[2]);
}

static void test_nominal_is_error_free(void **state) {
    sb_model m;
    (void)state;
    sb_init(&m, 1);
    for (int c = 0; c < SB_NCPU; c++)
        m.load[c] = 1.0;
    sb_advance(&m, 3600 * 1000);
    for (int p = 0; p < SB_NPMD; p++) {
        assert_true(m.pmd_mv[p] - sb_pmd_vmin_mv(&m, p) >= 45); /* the guard band */
        assert_int_equal(pmd_ce(&m, p), 0);
        assert_int_equal(m.pmd_ue[p], 0);
    }
    for (int c = 0; c < SB_NMC; c++) {
        assert_int_equal(mc_ce(&m, c), 0);
        assert_true(sb_dimm_temp_c(&m, c) > 40 && sb_dimm_temp_c(&m, c) < 60);
    }
    assert_int_equal(m.now_ms, 3600 * 1000);
}

static void test_errors_grow_below_vmin(void **state) {
    uint64_t prev_ce = 0;
    (void)state;
    for (int below = 0; below <= 30; below += 5) {
        sb_model m;
        double vmin;
        sb_init(&m, 3);
        m.load[4] = m.load[5] = 0.8;
        vmin = sb_pmd_vmin_mv(&m, 2);
        m.pmd_mv[2] = (int)ceil(vmin) - below;
        sb_advance(&m, 120000);
        if (below == 0) {
            assert_int_equal(pmd_ce(&m, 2), 0);
        } else {
            assert_true(pmd_ce(&m, 2) > prev_ce);
            /* Corrected errors land in L1 and L2. */
            assert_true(m.pmd_ce[2][0] > 0 || below < 10);
        }
        /* Uncorrected ones only more than 15 mV below the safe voltage. */
        if (below <= 15)
            assert_int_equal(m.pmd_ue[2], 0);
        if (below == 30)
            assert_true(m.pmd_ue[2] > 0);
        /* The other PMDs keep their margins. */
        assert_int_equal(pmd_ce(&m, 0) + pmd_ce(&m, 1) + pmd_ce(&m, 3), 0);
        prev_ce = pmd_ce(&m, 2);
    }
}

/* The workload's own failures: data corruption only below the first uncorrected errors, crashes
 * lower still; none at the margins where corrected errors first appear; drawn from a stream of
 * their own, so that the error counts do not depend on whether they are drawn. */
static void test_workload_failures(void **state) {
    sb_model m, ref;
    (void)state;
    sb_init(&m, 5);
    m.load[2] = m.load[3] = 1.0;
    m.pmd_mv[1] = (int)floor(sb_pmd_vmin_mv(&m, 1)) - 15;
    assert_true(sb_pmd_ue_rate(&m, 1) >= 0 && sb_pmd_sdc_rate(&m, 1) == 0 && sb_pmd_crash_rate(&m, 1) == 0);
    m.pmd_mv[1] = (int)floor(sb_pmd_vmin_mv(&m, 1)) - 22;
    assert_true(sb_pmd_ue_rate(&m, 1) > 0 && sb_pmd_sdc_rate(&m, 1) > 0 && sb_pmd_crash_rate(&m, 1) == 0);
    m.pmd_mv[1] = (int)floor(sb_pmd_vmin_mv(&m, 1)) - 40;
    assert_true(sb_pmd_sdc_rate(&m, 1) > 0 && sb_pmd_crash_rate(&m, 1) > 0);
    ref = m;
    sb_advance(&m, 60000);
    assert_true(m.pmd_sdc[1] > 0 && m.pmd_crash[1] > 0);
    assert_int_equal(m.pmd_sdc[0] + m.pmd_crash[0] + m.mc_sdc[0] + m.mc_crash[0], 0);
    /* The same draws of errors as a model that never drew failures. */
    ref.fail_rng = 0;
    sb_advance(&ref, 60000);
    assert_int_equal(ref.pmd_ce[1][0] + ref.pmd_ce[1][1], m.pmd_ce[1][0] + m.pmd_ce[1][1]);
    assert_int_equal(ref.pmd_ue[1], m.pmd_ue[1]);
    /* A channel: corrupted words beyond four times the retention, crashes beyond five. */
    sb_init(&m, 5);
    m.refresh_ms[0] = (int)(sb_retention_ms(&m, 0) * 3.5);
    assert_true(sb_mc_ue_rate(&m, 0) > 0 && sb_mc_sdc_rate(&m, 0) == 0);
    m.refresh_ms[0] = SB_REFRESH_MAX;
    assert_true(sb_retention_ms(&m, 0) * 5 > SB_REFRESH_MAX || sb_mc_crash_rate(&m, 0) > 0);
}

static void test_vmin_follows_frequency(void **state) {
    sb_model m;
    double at2400;
    (void)state;
    sb_init(&m, 1);
    m.gov[0] = SB_GOV_USERSPACE;
    m.setspeed_khz[0] = 2400000;
    at2400 = sb_pmd_vmin_mv(&m, 0);
    m.setspeed_khz[0] = 300000;
    assert_double_equal(sb_pmd_vmin_mv(&m, 0), at2400 - 45, 1e-9);
    for (int p = 0; p < SB_NPMD; p++)
        assert_true(m.vmin2400_mv[p] >= 880 && m.vmin2400_mv[p] <= 935);
}

static void test_dram_refresh(void **state) {
    uint64_t prev = 0;
    (void)state;
    for (int refresh = 64; refresh <= 4096; refresh *= 2) {
        sb_model m;
        sb_init(&m, 5);
        m.refresh_ms[1] = refresh;
        sb_advance(&m, 300000);
        if (refresh < sb_retention_ms(&m, 1))
            assert_int_equal(mc_ce(&m, 1), 0);
        assert_true(mc_ce(&m, 1) >= prev);
        prev = mc_ce(&m, 1);
        assert_int_equal(mc_ce(&m, 0) + mc_ce(&m, 2) + mc_ce(&m, 3), 0);
    }
    assert_true(prev > 0);
    /* Hotter DIMMs hold their charge for less: retention halves per 10 C. */
    {
        sb_model cool, hot;
        sb_init(&cool, 5);
        sb_init(&hot, 5);
        for (int c = 0; c < SB_NCPU; c++) {
            cool.load[c] = 0;
            hot.load[c] = 1;
        }
        assert_true(sb_dimm_temp_c(&hot, 1) > sb_dimm_temp_c(&cool, 1));
        assert_double_equal(sb_retention_ms(&hot, 1) / sb_retention_ms(&cool, 1),
                            pow(2, -(sb_dimm_temp_c(&hot, 1) - sb_dimm_temp_c(&cool, 1)) / 10), 1e-9);
        cool.refresh_ms[1] = hot.refresh_ms[1] = 3000;
        assert_true(sb_mc_ce_rate(&hot, 1) > sb_mc_ce_rate(&cool, 1));
        /* A lower DRAM voltage shortens retention too. */
        hot.dram_mv[1] = 1400;
        assert_true(sb_mc_ce_rate(&hot, 1) > sb_mc_ce_rate(&cool, 1));
    }
}

static void test_power(void **state) {
    sb_model m;
    double w0, w1, d0, d1;
    (void)state;
    sb_init(&m, 1);
    w0 = sb_cpu_power_w(&m);
    assert_true(w0 > 8 && w0 < 30);
    for (int p = 0; p < SB_NPMD; p++)
        m.pmd_mv[p] = 900;
    w1 = sb_cpu_power_w(&m);
    /* Dynamic power scales with V^2 and leakage with about V^3: 900 mV saves 16-23 %. */
    assert_true(w1 < w0 * 0.85 && w1 > w0 * 0.75);
    d0 = sb_dram_power_w(&m);
    for (int c = 0; c < SB_NMC; c++)
        m.refresh_ms[c] = 1024;
    d1 = sb_dram_power_w(&m);
    assert_true(d1 < d0);
    /* The energy counter integrates DRAM power. */
    sb_advance(&m, 10000);
    assert_double_equal(m.dram_energy_uj, d1 * 10 * 1e6, d1 * 1e5);
}

static void test_governors(void **state) {
    sb_model m;
    (void)state;
    sb_init(&m, 1);
    assert_int_equal(sb_pmd_khz(&m, 0), 2400000); /* performance */
    assert_int_equal(sb_pmd_khz(&m, 2), 1200000); /* userspace at 1.2 GHz */
    /* cppc serves 2.0 GHz with the next step up. */
    m.setspeed_khz[2] = 2000000;
    assert_int_equal(sb_pmd_khz(&m, 2), 2100000);
    m.max_khz[2] = 1800000;
    assert_int_equal(sb_pmd_khz(&m, 2), 1800000);
    m.gov[1] = SB_GOV_POWERSAVE;
    assert_int_equal(sb_pmd_khz(&m, 1), 300000);
    m.gov[3] = SB_GOV_SCHEDUTIL;
    m.load[6] = 0.5;
    m.load[7] = 0.1;
    assert_int_equal(sb_pmd_khz(&m, 3), 1500000); /* 0.5 x 1.25 x 2.4 GHz = 1.5 GHz */
    m.load[6] = 0.1;
    assert_int_equal(sb_pmd_khz(&m, 3), 300000);
    /* A slower clock stretches the same work. */
    m.gov[3] = SB_GOV_USERSPACE;
    m.setspeed_khz[3] = 1200000;
    m.load[6] = m.load[7] = 0.25;
    assert_double_equal(sb_pmd_util(&m, 3), 0.5, 1e-9);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_nominal_is_error_free),
        cmocka_unit_test(test_errors_grow_below_vmin),
        cmocka_unit_test(test_workload_failures),
        cmocka_unit_test(test_vmin_follows_frequency),
        cmocka_unit_test(test_dram_refresh),
        cmocka_unit_test(test_power),
        cmocka_unit_test(test_governors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
