/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The domain API end to end on the test driver (through the shared library, as users call it):
 * listing with flags, lookup by name and UUID and their errors, domain objects outliving their
 * connection's close, the spec's per-domain and all-domains views with exact values, whole
 * records with selections, KVM statistics per VM, per vCPU and host-wide. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "uniserver/uniserver.h"
#include "util/util.h"

#define UUID1 "7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a61"

static uniConnectPtr open_test(void) {
    uniConnectPtr c = uniConnectOpen("test:///default", 0);
    assert_non_null(c);
    return c;
}

static void expect_error(int code, const char *needle) {
    const uniError *e = uniGetLastError();
    assert_non_null(e);
    if (e->code != code)
        fail_msg("code %s, expected %s (%s)", uniErrorCodeName(e->code), uniErrorCodeName(code), e->message);
    if (needle && !strstr(e->message, needle))
        fail_msg("message '%s' does not name '%s'", e->message, needle);
}

static double num(uniRecordPtr rec, const char *key) {
    const uniSample *s = uniRecordLookup(rec, key);
    if (!s)
        fail_msg("%s is not in the record (%s)", key,
                 uniRecordAbsentReason(rec, key) ? uniRecordAbsentReason(rec, key) : "no reason");
    return s->type == UNI_VALUE_U64 ? (double)s->value.u : s->value.d;
}

static void test_list(void **state) {
    uniConnectPtr c = open_test();
    uniDomainPtr *doms = NULL;
    char uuid[UNI_UUID_STRING_BUFLEN];
    (void)state;
    assert_int_equal(uniConnectListAllDomains(c, &doms, 0), 3);
    assert_string_equal(uniDomainGetName(doms[0]), "vm-1");
    assert_string_equal(uniDomainGetName(doms[2]), "vm-3");
    assert_null(doms[3]);
    assert_int_equal(uniDomainGetUUIDString(doms[0], uuid), 0);
    assert_string_equal(uuid, UUID1);
    assert_int_equal(uniDomainIsActive(doms[0]), 1);
    assert_int_equal(uniDomainIsActive(doms[2]), 0);
    for (int i = 0; doms[i]; i++)
        uniDomainFree(doms[i]);
    free(doms);
    assert_int_equal(uniConnectListAllDomains(c, NULL, UNI_CONNECT_LIST_DOMAINS_ACTIVE), 2);
    assert_int_equal(uniConnectListAllDomains(c, NULL, UNI_CONNECT_LIST_DOMAINS_INACTIVE), 1);
    assert_int_equal(uniConnectListAllDomains(c, NULL, 0x10), -1);
    expect_error(UNI_ERR_INVALID_ARG, "0x10");
    assert_int_equal(uniConnectListAllDomains(NULL, NULL, 0), -1);
    expect_error(UNI_ERR_INVALID_CONN, NULL);
    assert_int_equal(uniConnectClose(c), 0);
}

static void test_lookup(void **state) {
    uniConnectPtr c = open_test();
    uniDomainPtr d;
    (void)state;
    d = uniDomainLookupByName(c, "vm-2", 0);
    assert_non_null(d);
    assert_string_equal(uniDomainGetName(d), "vm-2");
    uniDomainFree(d);
    /* UUIDs in any case. */
    d = uniDomainLookupByUUIDString(c, "7B3F8A2E-5D41-4C6E-9A0B-1C2D3E4F5A61", 0);
    assert_non_null(d);
    assert_string_equal(uniDomainGetName(d), "vm-1");
    uniDomainFree(d);
    assert_null(uniDomainLookupByName(c, "nosuch", 0));
    expect_error(UNI_ERR_NO_DOMAIN, "nosuch");
    assert_null(uniDomainLookupByUUIDString(c, "7b3f8a2e-5d41-4c6e-9a0b-000000000000", 0));
    expect_error(UNI_ERR_NO_DOMAIN, "7b3f8a2e-5d41-4c6e-9a0b-000000000000");
    assert_null(uniDomainLookupByUUIDString(c, "not-a-uuid", 0));
    expect_error(UNI_ERR_INVALID_ARG, "not-a-uuid");
    assert_null(uniDomainLookupByName(c, "", 0));
    expect_error(UNI_ERR_INVALID_ARG, NULL);
    assert_null(uniDomainLookupByName(c, "vm-1", 1));
    expect_error(UNI_ERR_INVALID_ARG, "0x1");
    assert_null(uniDomainGetName(NULL));
    expect_error(UNI_ERR_INVALID_ARG, NULL);
    uniConnectClose(c);
}

static void test_domain_outlives_close(void **state) {
    uniConnectPtr c = open_test();
    uniDomainPtr d = uniDomainLookupByName(c, "vm-1", 0);
    uniRecordPtr rec = NULL;
    (void)state;
    assert_non_null(d);
    /* The domain holds the connection: closing it leaves one reference. */
    assert_int_equal(uniConnectClose(c), 1);
    assert_int_equal(uniDomainGetStatistics(d, &rec, 0), 0);
    uniRecordFree(rec);
    assert_int_equal(uniDomainFree(d), 0);
}

static void test_domain_view(void **state) {
    uniConnectPtr c = open_test();
    uniDomainPtr d = uniDomainLookupByName(c, "vm-1", 0), off = uniDomainLookupByName(c, "vm-3", 0);
    uniRecordPtr rec = NULL;
    char key[128];
    static const char *const order[] = {"dom.mem_pct", "dom.mem_mb", "dom.interrupt_ms", "dom.swap_wait_ms"};
    (void)state;
    /* getDomainStatisticsUniserver: exactly the spec's keys, in its order. Call 1 is t = 1 s. */
    assert_int_equal(uniDomainGetStatistics(d, &rec, 0), 0);
    assert_int_equal(uniRecordNumSamples(rec), 4);
    for (int i = 0; i < 4; i++) {
        assert_true(uniRecordFormatKey(rec, i, key, sizeof(key)) > 0);
        assert_string_equal(key, order[i]);
    }
    assert_double_equal(num(rec, "dom.mem_pct"), 12.5, 1e-9);
    assert_double_equal(num(rec, "dom.mem_mb"), 2048, 1e-9);
    assert_double_equal(num(rec, "dom.interrupt_ms"), 100, 1e-9); /* 2 vCPUs x 50 % x 1 s, a tenth */
    assert_double_equal(num(rec, "dom.swap_wait_ms"), 8, 1e-9);
    uniRecordFree(rec);
    /* An inactive domain: every element absent with the reason. */
    assert_int_equal(uniDomainGetStatistics(off, &rec, 0), 0);
    assert_int_equal(uniRecordNumSamples(rec), 0);
    assert_string_equal(uniRecordAbsentReason(rec, "dom.mem_mb"), "the domain is not running");
    uniRecordFree(rec);
    assert_int_equal(uniDomainGetStatistics(d, NULL, 0), -1);
    expect_error(UNI_ERR_INVALID_ARG, NULL);
    assert_int_equal(uniDomainGetStatistics(d, &rec, 4), -1);
    expect_error(UNI_ERR_INVALID_ARG, "0x4");
    uniDomainFree(d);
    uniDomainFree(off);
    uniConnectClose(c);
}

static void test_domains_view(void **state) {
    uniConnectPtr c = open_test();
    uniRecordPtr rec = NULL;
    (void)state;
    /* getDomainsStatisticsUniserver: 3 VMs, 2 active, 3 GiB, mean swap wait (8 + 4) / 2 per s. */
    assert_int_equal(uniNodeGetDomainsStatistics(c, &rec, 0), 0);
    assert_int_equal(uniRecordNumSamples(rec), 4);
    assert_double_equal(num(rec, "host.vms.count"), 3, 0);
    assert_double_equal(num(rec, "host.vms.active"), 2, 0);
    assert_double_equal(num(rec, "host.vms.mem_mb"), 3072, 1e-9);
    assert_double_equal(num(rec, "host.vms.swap_wait_ms"), 6, 1e-9);
    uniRecordFree(rec);
    uniConnectClose(c);
}

static void test_all_stats(void **state) {
    uniConnectPtr c = open_test();
    uniDomainStatsRecordPtr *st = NULL;
    static const char *const kvm[] = {"kvm", NULL}, *const vcpu0[] = {"dom.vcpu.0.", NULL},
                             *const bad[] = {"host.cpu", NULL};
    (void)state;
    assert_int_equal(uniConnectGetAllDomainStats(c, NULL, &st, 0), 3);
    assert_string_equal(uniDomainGetName(st[0]->dom), "vm-1");
    assert_null(st[3]);
    /* Call 1 at t = 1 s: no window yet, rates absent. */
    assert_int_equal(uniRecordGetWindowMs(st[0]->record), -1);
    assert_non_null(uniRecordAbsentReason(st[0]->record, "dom.cpu.util_pct"));
    assert_double_equal(num(st[0]->record, "dom.cpu.count"), 2, 0);
    assert_double_equal(num(st[0]->record, "dom.kvm.exits"), 24000, 0);
    assert_double_equal(num(st[0]->record, "dom.vcpu.1.kvm.exits"), 12000, 0);
    assert_string_equal(uniRecordLookup(st[0]->record, "dom.state")->value.s, "running");
    assert_string_equal(uniRecordLookup(st[2]->record, "dom.state")->value.s, "shut off");
    /* Whatever a record lacks, it says why. */
    for (int i = 0; st[i]; i++)
        for (int k = 0; k < uniRecordNumAbsent(st[i]->record); k++)
            assert_true(strlen(uniRecordGetAbsence(st[i]->record, k)->reason) > 5);
    uniDomainStatsRecordListFree(st);
    /* Call 2: a 1 s window. */
    assert_int_equal(uniConnectGetAllDomainStats(c, kvm, &st, UNI_DOMAIN_STATS_ACTIVE), 2);
    assert_int_equal(uniRecordGetWindowMs(st[0]->record), 1000);
    assert_null(uniRecordLookup(st[0]->record, "dom.mem_mb"));
    assert_double_equal(num(st[1]->record, "dom.kvm.halt_exits"), 2 * 800, 0);
    uniDomainStatsRecordListFree(st);
    /* A per-vCPU prefix keeps vCPU 0 only. */
    assert_int_equal(uniConnectGetAllDomainStats(c, vcpu0, &st, UNI_DOMAIN_STATS_ACTIVE), 2);
    assert_non_null(uniRecordLookup(st[0]->record, "dom.vcpu.0.time_ms"));
    assert_null(uniRecordLookup(st[0]->record, "dom.vcpu.1.time_ms"));
    uniDomainStatsRecordListFree(st);
    assert_int_equal(uniConnectGetAllDomainStats(c, bad, &st, 0), -1);
    expect_error(UNI_ERR_UNKNOWN_METRIC, "host.cpu");
    assert_int_equal(uniConnectGetAllDomainStats(c, NULL, NULL, 0), -1);
    expect_error(UNI_ERR_INVALID_ARG, NULL);
    uniDomainStatsRecordListFree(NULL);
    uniConnectClose(c);
}

static void test_list_get_stats(void **state) {
    uniConnectPtr c = open_test(), c2 = open_test();
    uniDomainPtr doms[3] = {uniDomainLookupByName(c, "vm-2", 0), uniDomainLookupByName(c, "vm-1", 0), NULL};
    uniDomainPtr mixed[3] = {doms[0], uniDomainLookupByName(c2, "vm-1", 0), NULL};
    uniDomainStatsRecordPtr *st = NULL;
    (void)state;
    /* In the order asked for. */
    assert_int_equal(uniDomainListGetStats(doms, NULL, &st, 0), 2);
    assert_string_equal(uniDomainGetName(st[0]->dom), "vm-2");
    assert_string_equal(uniDomainGetName(st[1]->dom), "vm-1");
    uniDomainStatsRecordListFree(st);
    assert_int_equal(uniDomainListGetStats(mixed, NULL, &st, 0), -1);
    expect_error(UNI_ERR_INVALID_ARG, "different connections");
    assert_int_equal(uniDomainListGetStats(NULL, NULL, &st, 0), -1);
    expect_error(UNI_ERR_INVALID_ARG, NULL);
    uniDomainFree(doms[0]);
    uniDomainFree(doms[1]);
    uniDomainFree(mixed[1]);
    uniConnectClose(c);
    uniConnectClose(c2);
}

static void test_host_kvm(void **state) {
    uniConnectPtr c = open_test();
    uniRecordPtr rec = NULL;
    static const char *const sel[] = {"kvm", NULL};
    (void)state;
    /* kvm_stat's host-wide sums: vm-1 (2 vCPUs) and vm-2 (1) at t = 1 s. */
    assert_int_equal(uniNodeGetStats(c, sel, &rec, 0), 0);
    assert_double_equal(num(rec, "kvm.exits"), 3 * 12000, 0);
    assert_double_equal(num(rec, "kvm.remote_tlb_flush"), 2 * 5, 0);
    uniRecordFree(rec);
    uniConnectClose(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_domain_outlives_close),
        cmocka_unit_test(test_domain_view),
        cmocka_unit_test(test_domains_view),
        cmocka_unit_test(test_all_stats),
        cmocka_unit_test(test_list_get_stats),
        cmocka_unit_test(test_host_kvm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
