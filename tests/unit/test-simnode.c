/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The simulated node (test:///default) is consistent and moves: one error model behind every error view, counters that start from non-zero and grow unevenly, rates that are the counters' deltas over their windows, a seeded workload, and sources a test can make fail. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define UNI_TESTUTIL_RECORDS
#include "testutil.h"

#include "uniserver/uniserver.h"
#include "util/util.h"

static uniConnectPtr open_uri(const char *uri) {
    uniConnectPtr c = uniConnectOpen(uri, 0);
    if (!c)
        fail_msg("%s: %s", uri, uniGetLastError() ? uniGetLastError()->message : "?");
    return c;
}

static double numf(uniRecordPtr r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static double numf(uniRecordPtr r, const char *fmt, ...) {
    char key[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(key, sizeof(key), fmt, ap);
    va_end(ap);
    return record_num(r, key);
}

static const char *str(uniRecordPtr r, const char *key) {
    const uniSample *s = uniRecordLookup(r, key);
    if (!s || s->type != UNI_VALUE_STRING)
        fail_msg("%s missing or not text", key);
    return s->value.s;
}

static uniRecordPtr stats(uniConnectPtr c, const char *group) {
    const char *sel[] = {group, NULL};
    uniRecordPtr r = NULL;
    if (uniNodeGetStats(c, group ? sel : NULL, &r, UNI_NODE_STATS_BEST_EFFORT) < 0)
        fail_msg("uniNodeGetStats(%s): %s", group ? group : "all", uniGetLastError()->message);
    return r;
}

/* The sum of event.count over @events whose severity is @sev (NULL: any) and, when @dimm is not
 * NULL, whose DIMM is @dimm. */
static double event_sum(uniRecordPtr *events, const char *sev, const char *dimm) {
    double n = 0;
    for (uniRecordPtr *e = events; *e; e++) {
        if (sev && strcmp(str(*e, "event.severity"), sev))
            continue;
        if (dimm && strcmp(str(*e, "event.dimm"), dimm))
            continue;
        n += record_num(*e, "event.count");
    }
    return n;
}

/* One error model: the component counts, the per-DIMM and per-core counts and the HealthLog's
 * events are the same errors; the DIMM labels are the operating points' labels. */
static void test_views_agree(void **state) {
    uniConnectPtr c = open_uri("test:///default?seed=3");
    uniRecordPtr r;
    uniRecordPtr *mem = NULL, *cpu = NULL;
    uniOppListPtr opp = NULL;
    double dimm_ce = 0, dimm_ue = 0, core_ce = 0, core_ue = 0;
    int ndimms = 0;
    (void)state;
    for (int i = 0; i < 30; i++)
        uniRecordFree(stats(c, "errors"));
    r = stats(c, "errors");
    assert_true(uniNodeGetOperatingPoints(c, &opp, 0) > 0);
    assert_true(uniHealthLogQueryMemory(c, NULL, 0, &mem, 0) > 0);
    assert_true(uniHealthLogQueryCPU(c, -1, 0, &cpu, 0) > 0);
    for (int d = 0; d < uniOppListNumDomains(opp); d++) {
        const uniOppDomain *dom = uniOppListGetDomain(opp, d);
        for (int k = 0; k < dom->nmembers; k++) {
            const char *label = dom->members[k];
            double ce = numf(r, "host.errors.dimm.%s.ce.count", label),
                   ue = numf(r, "host.errors.dimm.%s.ue.count", label);
            assert_double_equal(ce, event_sum(mem, "corrected", label), 0);
            assert_double_equal(ue, event_sum(mem, "uncorrected", label), 0);
            dimm_ce += ce;
            dimm_ue += ue;
            ndimms++;
        }
    }
    assert_int_equal(ndimms, 8);
    /* Every DIMM an event names is one of the operating points' DIMMs. */
    assert_double_equal(event_sum(mem, NULL, NULL), dimm_ce + dimm_ue, 0);
    assert_true(dimm_ce > 0 && dimm_ue > 0);
    assert_double_equal(record_num(r, "host.errors.dram.ce.count"), dimm_ce, 0);
    assert_double_equal(record_num(r, "host.errors.dram.ue.count"), dimm_ue, 0);
    assert_double_equal(record_num(r, "host.errors.mem.sbit.count"), dimm_ce, 0);
    assert_double_equal(record_num(r, "host.errors.mem.mbit.count"), dimm_ue, 0);
    for (int k = 0; k < 8; k++) {
        core_ce += numf(r, "host.errors.core.%d.ce.count", k);
        core_ue += numf(r, "host.errors.core.%d.ue.count", k);
    }
    assert_true(core_ce > 0);
    assert_double_equal(core_ce, record_num(r, "host.errors.l1.count") + record_num(r, "host.errors.l2.ce.count"), 0);
    assert_double_equal(core_ue, record_num(r, "host.errors.l2.ue.count"), 0);
    assert_double_equal(event_sum(cpu, "corrected", NULL), core_ce, 0);
    assert_double_equal(event_sum(cpu, "uncorrected", NULL), core_ue, 0);
    assert_double_equal(record_num(r, "host.errors.cpu.sbit.count") + record_num(r, "host.errors.cpu.mbit.count"),
                        core_ce + core_ue, 0);
    uniRecordListFree(mem);
    uniRecordListFree(cpu);
    uniOppListFree(opp);
    uniRecordFree(r);
    uniConnectClose(c);
}

/* Every rate is its counter's delta over its window: 1, 5 and 60 minutes of virtual time (one
 * second a call), and the three differ. The 60-minute window reaches into the hour before the
 * connection until the connection is an hour old. */
#define NT 3700
static void test_windows(void **state) {
    static const char *const comp[] = {"dram.ce", "l2.ce", "dram.ue"};
    static double count[3][NT + 1];
    uniConnectPtr c = open_uri("test:///default?seed=5");
    int differ = 0;
    (void)state;
    for (int t = 1; t <= NT; t++) {
        uniRecordPtr r = stats(c, "errors");
        for (int k = 0; k < 3; k++) {
            count[k][t] = numf(r, "host.errors.%s.count", comp[k]);
            if (t >= 301) {
                double r1 = numf(r, "host.errors.%s.rate_per_min", comp[k]);
                double r5 = numf(r, "host.errors.%s.rate_5m_per_min", comp[k]);
                if (r1 != count[k][t] - count[k][t - 60] || fabs(r5 - (count[k][t] - count[k][t - 300]) / 5) > 1e-9)
                    fail_msg("%s at t = %d: rates %g, %g /min; counts %g, %g, %g (t, t - 60, t - 300)", comp[k], t, r1,
                             r5, count[k][t], count[k][t - 60], count[k][t - 300]);
                differ += k == 0 && r1 != r5;
            }
            if (t >= 3601) {
                double r60 = numf(r, "host.errors.%s.rate_60m_per_min", comp[k]);
                if (fabs(r60 - (count[k][t] - count[k][t - 3600]) / 60) > 1e-9)
                    fail_msg("%s at t = %d: 60-minute rate %g /min, counts %g, %g", comp[k], t, r60, count[k][t],
                             count[k][t - 3600]);
                if (k == 0 && (r60 == numf(r, "host.errors.%s.rate_5m_per_min", comp[k])))
                    differ--;
            }
        }
        uniRecordFree(r);
    }
    /* The counters started from the hour before and grew by uneven steps. */
    assert_true(count[0][1] > 0);
    int minutes_differ = 0;
    for (int t = 121; t <= NT; t += 60)
        minutes_differ += count[0][t] - count[0][t - 60] != count[0][t - 60] - count[0][t - 120];
    assert_true(minutes_differ > 30);
    assert_true(differ > 1000);
    uniConnectClose(c);
}

/* A call of the domains' statistics between two host samples: one more virtual second. */
static void domain_call(uniConnectPtr c) {
    uniDomainStatsRecordPtr *st = NULL;
    assert_true(uniConnectGetAllDomainStats(c, NULL, &st, 0) > 0);
    uniDomainStatsRecordListFree(st);
}

/* The workload varies per core over time and is the same for the same seed; CPU shares,
 * contention and energy are their counters' deltas over the window (two seconds when a call of
 * the domains' statistics came between). */
static void test_moves(void **state) {
    uniConnectPtr a = open_uri("test:///default?seed=9"), b = open_uri("test:///default?seed=9"),
                  o = open_uri("test:///default?seed=10");
    double prev_idle = 0, prev_cont = 0, prev_psi = 0, prev_e = 0, psi_step = -1;
    int util_changes = 0, overloaded = 0, seeds_differ = 0, psi_uneven = 0;
    double last_util = -1;
    (void)state;
    for (int t = 1; t <= 300; t++) {
        uniRecordPtr r, s, x;
        if (t % 7 == 0) {
            domain_call(a);
            domain_call(b);
        }
        r = stats(a, NULL);
        s = stats(b, NULL);
        x = stats(o, "cpu");
        double w = (double)uniRecordGetWindowMs(r);
        if (t == 1) {
            assert_true(record_num(r, "host.cpu.idle_ms") > 0 && record_num(r, "host.cpu.system_ms") > 0);
            assert_true(record_num(r, "host.psi.cpu.some_ms") > 0 && record_num(r, "host.psi.io.some_ms") > 0);
        } else {
            double u = record_num(r, "host.cpu.5.util_pct");
            assert_double_equal(w, t % 7 == 0 ? 2000 : 1000, 0);
            assert_double_equal(record_num(r, "host.cpu.idle_pct"),
                                (record_num(r, "host.cpu.idle_ms") - prev_idle) * 100 / (8 * w), 1e-9);
            assert_double_equal(record_num(r, "host.cpu.contention_pct"),
                                (record_num(r, "host.cpu.contention_ms") - prev_cont) * 100 / w, 1e-9);
            overloaded += record_num(r, "host.cpu.contention_pct") > 0;
            util_changes += u != last_util;
            last_util = u;
            assert_double_equal(u, record_num(s, "host.cpu.5.util_pct"), 0);
            seeds_differ += u != record_num(x, "host.cpu.5.util_pct");
            double step = record_num(r, "host.psi.cpu.some_ms") - prev_psi;
            psi_uneven += psi_step >= 0 && step != psi_step;
            psi_step = step;
            /* The energy of a second is between the board's least and most power. */
            double e = (record_num(r, "host.energy.total_kwh") - prev_e) * 3.6e6 / (w / 1000);
            if (t > 2 && !(e > 10 && e < 60))
                fail_msg("t = %d: %g J in a %g ms window", t, e, w);
        }
        prev_idle = record_num(r, "host.cpu.idle_ms");
        prev_cont = record_num(r, "host.cpu.contention_ms");
        prev_psi = record_num(r, "host.psi.cpu.some_ms");
        prev_e = t > 1 ? record_num(r, "host.energy.total_kwh") : 0;
        uniRecordFree(r);
        uniRecordFree(s);
        uniRecordFree(x);
    }
    assert_true(util_changes > 20);
    assert_true(overloaded > 0 && overloaded < 250);
    assert_true(seeds_differ > 100);
    assert_true(psi_uneven > 5);
    uniConnectClose(a);
    uniConnectClose(b);
    uniConnectClose(o);
}

/* A source made to fail is down (its state, up 0, its error count growing, its last error) and
 * its metrics are absent with the reason; without best effort the call fails naming it. */
static void test_failing_sources(void **state) {
    uniConnectPtr c = open_uri("test:///default?fail=sensors,healthlog");
    const char *temp[] = {"temp", NULL};
    uniRecordPtr r = NULL, *ev = NULL;
    (void)state;
    for (int i = 1; i <= 2; i++) {
        r = stats(c, NULL);
        assert_string_equal(str(r, "host.source.sensors.state"), "down");
        assert_string_equal(str(r, "host.source.healthlog.state"), "down");
        assert_string_equal(str(r, "host.source.stat.state"), "up");
        assert_double_equal(record_num(r, "host.source.sensors.up"), 0, 0);
        assert_double_equal(record_num(r, "host.source.stat.up"), 1, 0);
        assert_double_equal(record_num(r, "host.source.sensors.errors"), i, 0);
        assert_double_equal(record_num(r, "host.source.stat.errors"), 0, 0);
        assert_non_null(strstr(str(r, "host.source.sensors.last_error"), "fail=sensors"));
        assert_null(uniRecordLookup(r, "host.cpu.0.temp_c"));
        assert_non_null(strstr(uniRecordAbsentReason(r, "host.cpu.0.temp_c"), "source sensors failed"));
        assert_null(uniRecordLookup(r, "host.errors.dram.ce.count"));
        assert_non_null(strstr(uniRecordAbsentReason(r, "host.errors.dram.ce.count"), "source healthlog failed"));
        assert_non_null(uniRecordLookup(r, "host.cpu.count"));
        uniRecordFree(r);
    }
    assert_int_equal(uniNodeGetStats(c, temp, &r, 0), -1);
    assert_int_equal(uniGetLastError()->code, UNI_ERR_NO_SOURCE);
    assert_non_null(strstr(uniGetLastError()->message, "sensors"));
    assert_int_equal(uniHealthLogQueryMemory(c, NULL, 0, &ev, 0), -1);
    assert_int_equal(uniGetLastError()->code, UNI_ERR_NO_SOURCE);
    uniConnectClose(c);
    assert_null(uniConnectOpen("test:///default?fail=nosuch", 0));
    assert_int_equal(uniGetLastError()->code, UNI_ERR_INVALID_URI);
    assert_non_null(strstr(uniGetLastError()->message, "nosuch"));
    assert_null(uniConnectOpen("test:///default?seed=abc", 0));
    assert_int_equal(uniGetLastError()->code, UNI_ERR_INVALID_URI);
}

/* The board's physics move the errors: a PMD undervolted far below its safe voltage reports
 * cache errors on its cores at many times the background's rate. */
static void test_undervolt_raises_errors(void **state) {
    uniConnectPtr c = open_uri("test:///default?seed=2");
    uniOppSetting low = {"voltage_mv", 860};
    uniRecordPtr r;
    double before, mid, after;
    (void)state;
    r = stats(c, "errors");
    before = record_num(r, "host.errors.core.0.ce.count") + record_num(r, "host.errors.core.1.ce.count");
    uniRecordFree(r);
    for (int i = 0; i < 60; i++)
        uniRecordFree(stats(c, "errors"));
    r = stats(c, "errors");
    mid = record_num(r, "host.errors.core.0.ce.count") + record_num(r, "host.errors.core.1.ce.count");
    uniRecordFree(r);
    assert_int_equal(uniNodeSetOperatingPoint(c, "pmd0", &low, 1, 0), 0);
    for (int i = 0; i < 60; i++)
        uniRecordFree(stats(c, "errors"));
    r = stats(c, "errors");
    after = record_num(r, "host.errors.core.0.ce.count") + record_num(r, "host.errors.core.1.ce.count");
    uniRecordFree(r);
    if (after - mid < 10 * (mid - before + 1))
        fail_msg("a minute at 860 mV: %g errors, a minute at 980 mV: %g", after - mid, mid - before);
    uniConnectClose(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_views_agree),
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_moves),
        cmocka_unit_test(test_failing_sources),
        cmocka_unit_test(test_undervolt_raises_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
