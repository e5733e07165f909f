/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The public API end to end on the test driver: URIs and their errors, flags, selections, the
 * spec's views in the spec's order with exact values, windows and rates. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define UNI_TESTUTIL_RECORDS
#include "testutil.h"

#include "uniserver/uniserver.h"
#include "util/util.h"

static void expect_open_error(const char *uri, unsigned flags, int code, const char *needle) {
    uniConnectPtr c = uniConnectOpen(uri, flags);
    const uniError *e = uniGetLastError();
    if (c)
        fail_msg("uniConnectOpen(%s) succeeded", uri);
    assert_non_null(e);
    if (e->code != code)
        fail_msg("uniConnectOpen(%s): code %s, expected %s (%s)", uri, uniErrorCodeName(e->code),
                 uniErrorCodeName(code), e->message);
    if (needle && !strstr(e->message, needle))
        fail_msg("uniConnectOpen(%s): message '%s' does not name '%s'", uri, e->message, needle);
}

static void test_bad_uris(void **state) {
    (void)state;
    expect_open_error("nonsense", 0, UNI_ERR_INVALID_URI, "nonsense");
    expect_open_error("://x", 0, UNI_ERR_INVALID_URI, NULL);
    expect_open_error("foo:///system", 0, UNI_ERR_NO_DRIVER, "foo");
    expect_open_error("uniserver:///session", 0, UNI_ERR_INVALID_URI, "/session");
    expect_open_error("uniserver:///system?bogus=1", 0, UNI_ERR_INVALID_URI, "bogus");
    expect_open_error("uniserver:///system?procfs", 0, UNI_ERR_INVALID_URI, "procfs");
    expect_open_error("uniserver:///system?procfs=/nonexistent/dir", 0, UNI_ERR_NO_SOURCE, "/nonexistent/dir");
    expect_open_error("uniserver:///system?sysfs=/nonexistent/sys", 0, UNI_ERR_NO_SOURCE, "/nonexistent/sys");
    expect_open_error("uniserver:///system?procfs=%zz", 0, UNI_ERR_INVALID_URI, NULL);
    expect_open_error("uniserver://host:99999/system", 0, UNI_ERR_INVALID_URI, "99999");
    expect_open_error("test:///other", 0, UNI_ERR_INVALID_URI, "/other");
    expect_open_error("test:///default?x=1", 0, UNI_ERR_INVALID_URI, "'x'");
    expect_open_error("test:///default", 0x80, UNI_ERR_INVALID_ARG, "0x80");
}

static void test_errors_api(void **state) {
    (void)state;
    assert_string_equal(uniErrorCodeName(UNI_ERR_INVALID_URI), "INVALID_URI");
    assert_string_equal(uniErrorCodeName(12345), "UNKNOWN");
    uniResetLastError();
    assert_null(uniGetLastError());
    assert_int_equal(uniConnectClose(NULL), 0);
    assert_int_equal(uniNodeGetStats(NULL, NULL, NULL, 0), -1);
    assert_int_equal(uniGetLastError()->code, UNI_ERR_INVALID_CONN);
}

static uniConnectPtr open_test(void) {
    uniConnectPtr c = uniConnectOpen("test:///default", 0);
    assert_non_null(c);
    assert_null(uniGetLastError());
    return c;
}

static void test_windows_and_rates(void **state) {
    uniConnectPtr c = open_test();
    uniRecordPtr r = NULL;
    (void)state;
    assert_int_equal(uniNodeGetStats(c, NULL, &r, 0), 0);
    assert_int_equal(uniRecordGetWindowMs(r), -1);
    assert_null(uniRecordLookup(r, "host.cpu.util_pct"));
    assert_non_null(strstr(uniRecordAbsentReason(r, "host.cpu.util_pct"), "first sample"));
    assert_non_null(uniRecordAbsentReason(r, "host.cpu.3.util_pct"));
    assert_true(record_num(r, "host.cpu.count") == 8);
    double idle0 = record_num(r, "host.cpu.idle_ms"), sys0 = record_num(r, "host.cpu.system_ms");
    uniRecordFree(r);
    assert_int_equal(uniNodeGetStats(c, NULL, &r, 0), 0);
    assert_int_equal(uniRecordGetWindowMs(r), 1000);
    /* The shares are the counters' deltas over the window (8 cores x 1000 ms). */
    assert_double_equal(record_num(r, "host.cpu.idle_pct"), (record_num(r, "host.cpu.idle_ms") - idle0) / 80.0, 1e-9);
    assert_double_equal(record_num(r, "host.cpu.system_pct"), (record_num(r, "host.cpu.system_ms") - sys0) / 80.0,
                        1e-9);
    assert_double_equal(record_num(r, "host.cpu.util_pct"),
                        100 - record_num(r, "host.cpu.idle_pct") - record_num(r, "host.cpu.iowait_pct"), 1e-9);
    assert_double_equal(record_num(r, "host.cpu.util_mhz"), record_num(r, "host.cpu.util_pct") / 100 * 19200, 1e-6);
    assert_true(record_num(r, "host.cpu.3.util_pct") > 0 && record_num(r, "host.cpu.3.util_pct") <= 100);
    /* No dom.* key in a host record. */
    for (int i = 0; i < uniRecordNumSamples(r); i++) {
        char key[256];
        assert_true(uniRecordFormatKey(r, i, key, sizeof(key)) > 0);
        assert_false(startswith(key, "dom."));
    }
    assert_int_equal(uniRecordFormatKey(r, 0, (char[4]){0}, 4), -1);
    uniRecordFree(r);
    assert_int_equal(uniNodeGetStats(c, NULL, &r, 0x100), -1);
    assert_int_equal(uniGetLastError()->code, UNI_ERR_INVALID_ARG);
    uniConnectClose(c);
}

static void test_select(void **state) {
    uniConnectPtr c = open_test();
    uniRecordPtr r = NULL;
    const char *mem[] = {"mem", NULL};
    const char *core3[] = {"host.cpu.3.", NULL};
    const char *bad[] = {"host.nothing", NULL};
    const char *dom[] = {"dom.", NULL};
    char key[256];
    (void)state;
    assert_int_equal(uniNodeGetStats(c, mem, &r, 0), 0);
    assert_true(uniRecordNumSamples(r) > 0);
    for (int i = 0; i < uniRecordNumSamples(r); i++) {
        uniRecordFormatKey(r, i, key, sizeof(key));
        if (!startswith(key, "host.mem.") && !startswith(key, "host.swap."))
            fail_msg("group mem returned %s", key);
    }
    uniRecordFree(r);
    assert_int_equal(uniNodeGetStats(c, core3, &r, 0), 0);
    assert_true(uniRecordNumSamples(r) >= 5);
    for (int i = 0; i < uniRecordNumSamples(r); i++) {
        uniRecordFormatKey(r, i, key, sizeof(key));
        if (!startswith(key, "host.cpu.3."))
            fail_msg("prefix host.cpu.3. returned %s", key);
    }
    assert_double_equal(record_num(r, "host.cpu.3.freq_mhz"), 2400, 0);
    uniRecordFree(r);
    assert_int_equal(uniNodeGetStats(c, bad, &r, 0), -1);
    assert_int_equal(uniGetLastError()->code, UNI_ERR_UNKNOWN_METRIC);
    assert_non_null(strstr(uniGetLastError()->message, "host.nothing"));
    assert_int_equal(uniNodeGetStats(c, dom, &r, 0), -1);
    assert_int_equal(uniGetLastError()->code, UNI_ERR_UNKNOWN_METRIC);
    uniConnectClose(c);
}

/* The keys of a view record, in order, as one space-separated string. */
static void view_keys(uniRecordPtr r, char *out, size_t len) {
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < uniRecordNumSamples(r); i++) {
        char key[256];
        uniRecordFormatKey(r, i, key, sizeof(key));
        o += (size_t)snprintf(out + o, len - o, "%s%s", i ? " " : "", key);
    }
}

static void test_views(void **state) {
    uniConnectPtr c = open_test();
    uniRecordPtr r = NULL;
    char keys[4096];
    char *g;
    (void)state;
    assert_int_equal(uniNodeGetCPUStatistics(c, &r, 0), 0);
    view_keys(r, keys, sizeof(keys));
    assert_string_equal(keys, "host.cpu.count host.cpu.reserved_pct host.cpu.0.freq_mhz host.cpu.1.freq_mhz "
                              "host.cpu.2.freq_mhz host.cpu.3.freq_mhz host.cpu.4.freq_mhz host.cpu.5.freq_mhz "
                              "host.cpu.6.freq_mhz host.cpu.7.freq_mhz");
    /* PMDs at 2400, 2400, 1200, 1800 of 2400 MHz: reserved 0, 0, 50, 25 % -> 18.75 % average. */
    assert_double_equal(record_num(r, "host.cpu.reserved_pct"), 18.75, 1e-12);
    uniRecordFree(r);

    assert_int_equal(uniNodeGetMemoryStatistics(c, &r, 0), 0);
    view_keys(r, keys, sizeof(keys));
    assert_string_equal(keys, "host.mem.total_mb host.mem.available_pct host.mem.available_mb host.mem.speed_mhz "
                              "host.mem.cached_pct host.mem.cached_mb host.swap.total_mb");
    assert_true(record_num(r, "host.mem.total_mb") == 16384 && record_num(r, "host.mem.available_pct") == 50);
    uniRecordFree(r);

    assert_int_equal(uniNodeGetContentionStatistics(c, &r, 0), 0);
    view_keys(r, keys, sizeof(keys));
    assert_string_equal(
        keys, "host.mem.contention_pct host.mem.contention_mb host.cpu.contention_pct host.cpu.contention_ms");
    /* Third call on this connection (t = 3 s): a window of one second, overloaded or not. */
    assert_true(record_num(r, "host.cpu.contention_pct") == 0 || record_num(r, "host.cpu.contention_pct") == 100);
    assert_true((uint64_t)record_num(r, "host.cpu.contention_ms") % 1000 == 0);
    uniRecordFree(r);

    assert_int_equal(uniNodeGetCorrectableErrors(c, &r, 0), 0);
    view_keys(r, keys, sizeof(keys));
    assert_string_equal(keys,
                        "host.errors.l2.ce.count host.errors.l2.ce.rate_per_min host.errors.l3.ce.count "
                        "host.errors.l3.ce.rate_per_min host.errors.dram.ce.count host.errors.dram.ce.rate_per_min "
                        "host.errors.mcu.ce.count host.errors.mcu.ce.rate_per_min");
    uniRecordFree(r);
    assert_int_equal(uniNodeGetUncorrectableErrors(c, &r, 0), 0);
    assert_int_equal(uniRecordNumSamples(r), 8);
    uniRecordFree(r);

    assert_int_equal(uniNodeGetSystemStatistics(c, &r, 0), 0);
    assert_int_equal(uniRecordNumSamples(r), 4 + 8 + 1);
    uniRecordFree(r);
    assert_int_equal(uniNodeGetPowerConsumption(c, &r, 0), 0);
    view_keys(r, keys, sizeof(keys));
    assert_string_equal(keys, "host.power.cpu_w host.power.mem_w");
    uniRecordFree(r);
    assert_int_equal(uniNodeGetTemperature(c, &r, 0), 0);
    assert_int_equal(uniRecordNumSamples(r), 1 + 8);
    uniRecordFree(r);
    assert_int_equal(uniNodeGetDomainsStatistics(c, &r, 0), 0);
    view_keys(r, keys, sizeof(keys));
    assert_string_equal(keys, "host.vms.count host.vms.active host.vms.mem_mb host.vms.swap_wait_ms");
    uniRecordFree(r);

    g = uniNodeGetGovernor(c, 0);
    assert_non_null(g);
    assert_string_equal(g, "mixed");
    free(g);
    assert_null(uniNodeGetGovernor(c, 4));
    assert_int_equal(uniNodeGetView(c, 2, &r, 0), -1); /* the per-domain view */
    assert_int_equal(uniGetLastError()->code, UNI_ERR_INVALID_ARG);
    assert_int_equal(uniNodeGetView(c, 99, &r, 0), -1);
    uniConnectClose(c);
}

static void test_descriptors(void **state) {
    uniConnectPtr c = open_test();
    const uniMetricDesc *d = NULL;
    int n;
    (void)state;
    n = uniConnectGetMetricDescriptors(c, &d, 0);
    assert_true(n > 100);
    assert_string_equal(d[0].key, "host.cpu.count");
    for (int i = 0; i < n; i++)
        assert_int_equal(d[i].id, i);
    assert_int_equal(uniConnectGetMetricDescriptors(c, &d, 2), -1);
    assert_string_equal(uniConnectGetURI(c), "test:///default");
    uniConnectClose(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_uris), cmocka_unit_test(test_errors_api), cmocka_unit_test(test_windows_and_rates),
        cmocka_unit_test(test_select),   cmocka_unit_test(test_views),      cmocka_unit_test(test_descriptors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
