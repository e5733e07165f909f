/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The spec's Table 4 calls and the reliability class on the test driver's simulated VMs: exact
 * values, pinning moving a vCPU on the simulated board (its record follows), each bad input and
 * read-only refusal with its code and nothing changed, and the audit of each change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/internal.h"

static char audited[8][256];
static int naudited;

static void collect(const uni_audit_event *ev, void *userdata) {
    (void)userdata;
    if (naudited < 8)
        snprintf(audited[naudited++], sizeof(audited[0]), "%s by %s: %s %s: %s -> %s", ev->call, ev->caller, ev->object,
                 ev->attribute, ev->before, ev->after);
}

static void expect_error(int code, const char *needle) {
    const uniError *e = uniGetLastError();
    assert_non_null(e);
    if (e->code != code)
        fail_msg("code %s, expected %s (%s)", uniErrorCodeName(e->code), uniErrorCodeName(code), e->message);
    if (needle && !strstr(e->message, needle))
        fail_msg("message '%s' does not name '%s'", e->message, needle);
}

static const char *text(uniRecordPtr rec, const char *key) {
    const uniSample *s = uniRecordLookup(rec, key);
    if (!s)
        fail_msg("%s is not in the record (%s)", key, uniRecordAbsentReason(rec, key));
    return s->value.s;
}

static const char *dom_text(uniDomainPtr d, const char *key) {
    static char buf[64];
    uniRecordPtr rec = NULL;
    const char *const sel[] = {key, NULL};
    uniDomainPtr doms[2] = {d, NULL};
    uniDomainStatsRecordPtr *st = NULL;
    assert_int_equal(uniDomainListGetStats(doms, sel, &st, 0), 1);
    rec = st[0]->record;
    if (uniRecordLookup(rec, key)) {
        const uniSample *s = uniRecordLookup(rec, key);
        if (s->type == UNI_VALUE_STRING)
            snprintf(buf, sizeof(buf), "%s", text(rec, key));
        else
            snprintf(buf, sizeof(buf), "%llu", (unsigned long long)s->value.u);
    } else
        snprintf(buf, sizeof(buf), "absent");
    uniDomainStatsRecordListFree(st);
    return buf;
}

static void test_info(void **state) {
    uniConnectPtr c = uniConnectOpen("test:///default", 0);
    uniDomainPtr d = uniDomainLookupByName(c, "vm-1", 0), d3 = uniDomainLookupByName(c, "vm-3", 0);
    uniDomainPtr *doms = NULL;
    uniDomainInfo info, *infos = NULL;
    (void)state;
    assert_int_equal(uniDomainGetInfo(d, &info, 0), 0);
    assert_int_equal(info.state, UNI_DOMAIN_RUNNING);
    assert_int_equal(info.maxMem, 2048 * 1024);
    assert_int_equal(info.memory, 2048 * 1024);
    assert_int_equal(info.nrVirtCpu, 2);
    assert_int_equal(info.maxVcpus, 4);
    assert_int_equal(uniDomainGetMaxMemory(d, 0), 2048 * 1024);
    assert_int_equal(uniDomainGetMaxVcpus(d, 0), 4);
    assert_int_equal(uniDomainGetInfo(d3, &info, 0), 0);
    assert_int_equal(info.state, UNI_DOMAIN_SHUTOFF);
    assert_int_equal(info.cpuTime, 0);
    assert_int_equal(uniDomainGetInfo(d, &info, 1), -1);
    expect_error(UNI_ERR_INVALID_ARG, "flags");
    assert_int_equal(uniDomainGetInfo(d, NULL, 0), -1);
    expect_error(UNI_ERR_INVALID_ARG, NULL);
    assert_int_equal(uniDomainGetMaxMemory(NULL, 0), 0);
    expect_error(UNI_ERR_INVALID_ARG, "invalid domain");
    /* The list with the infos, in one call, filtered like uniConnectListAllDomains. */
    assert_int_equal(uniConnectGetAllDomainInfo(c, &doms, &infos, 0), 3);
    assert_string_equal(uniDomainGetName(doms[1]), "vm-2");
    assert_int_equal(infos[1].nrVirtCpu, 1);
    assert_int_equal(infos[2].state, UNI_DOMAIN_SHUTOFF);
    assert_null(doms[3]);
    for (int i = 0; doms[i]; i++)
        uniDomainFree(doms[i]);
    free(doms);
    free(infos);
    assert_int_equal(uniConnectGetAllDomainInfo(c, &doms, &infos, UNI_CONNECT_LIST_DOMAINS_INACTIVE), 1);
    assert_string_equal(uniDomainGetName(doms[0]), "vm-3");
    assert_int_equal(infos[0].state, UNI_DOMAIN_SHUTOFF);
    uniDomainFree(doms[0]);
    free(doms);
    free(infos);
    uniDomainFree(d);
    uniDomainFree(d3);
    uniConnectClose(c);
}

static void test_xml_sched(void **state) {
    uniConnectPtr c = uniConnectOpen("test:///default", UNI_CONNECT_RO);
    uniDomainPtr d = uniDomainLookupByName(c, "vm-2", 0);
    uniSchedParam *p = NULL;
    char *s;
    int n = -1;
    (void)state;
    s = uniDomainGetXMLDesc(d, 0);
    assert_non_null(s);
    assert_non_null(strstr(s, "<name>vm-2</name>"));
    assert_non_null(strstr(s, "<uuid>7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a62</uuid>"));
    assert_non_null(strstr(s, "<memory unit='KiB'>1048576</memory>"));
    assert_non_null(strstr(s, "<mac address='52:54:00:00:00:02'/>"));
    free(s);
    s = uniDomainGetSchedulerType(d, &n, 0);
    assert_string_equal(s, "posix");
    assert_int_equal(n, 3);
    free(s);
    assert_int_equal(uniDomainGetSchedulerParameters(d, &p, 0), 3);
    assert_string_equal(p[0].field, "cpu_shares");
    assert_int_equal(p[0].value, 1024);
    assert_string_equal(p[2].field, "vcpu_quota");
    assert_int_equal(p[2].value, -1);
    free(p);
    uniDomainFree(d);
    uniConnectClose(c);
}

static void test_vcpus_pin(void **state) {
    uniConnectPtr c = uniConnectOpen("test:///default", 0);
    uniConnectPtr ro = uniConnectOpen("test:///default", UNI_CONNECT_RO);
    uniDomainPtr d = uniDomainLookupByName(c, "vm-1", 0), dro = uniDomainLookupByName(ro, "vm-1", 0);
    uniDomainPtr d3 = uniDomainLookupByName(c, "vm-3", 0);
    uniVcpuInfo *info = NULL;
    unsigned char *maps = NULL, map[2] = {0}, empty[1] = {0};
    unsigned long long *t = NULL;
    int ncpus = 0;
    (void)state;
    uni_set_audit_hook(collect, NULL);
    assert_int_equal(uniDomainGetVcpus(d, &info, &maps, &ncpus, 0), 2);
    assert_int_equal(ncpus, 8);
    assert_int_equal(info[1].number, 1);
    assert_int_equal(info[1].cpu, 1);
    assert_int_equal(maps[1], 0x03); /* cores 0-1 */
    free(info);
    free(maps);
    /* Pin vCPU 1 to cores 5 and 6: it moves to core 5, and its record says so. */
    UNI_USE_CPU(map, 5);
    UNI_USE_CPU(map, 6);
    naudited = 0;
    assert_int_equal(uniDomainPinVcpu(d, 1, map, 1, 0), 0);
    assert_int_equal(naudited, 1);
    assert_non_null(strstr(audited[0], "uniDomainPinVcpu by "));
    assert_non_null(strstr(audited[0], "domain vm-1 vcpu 1 affinity: 0-1 -> 5-6"));
    assert_int_equal(uniDomainGetVcpus(d, &info, &maps, &ncpus, 0), 2);
    assert_int_equal(info[1].cpu, 5);
    assert_int_equal(maps[1], 0x60);
    assert_int_equal(maps[0], 0x03); /* vCPU 0 is where it was */
    free(info);
    free(maps);
    assert_string_equal(dom_text(d, "dom.vcpu.1.pinning"), "5-6");
    assert_string_equal(dom_text(d, "dom.vcpu.1.cpu"), "5");
    /* Each vCPU's time lands on its core. */
    assert_int_equal(uniDomainGetCPUStats(d, &t, 0), 8);
    assert_true(t[5] > 0 && t[1] == 0 && t[0] > 0);
    free(t);

    /* Bad input: a clear error with a code, and nothing changed. */
    naudited = 0;
    memset(map, 0, sizeof(map));
    UNI_USE_CPU(map, 9);
    assert_int_equal(uniDomainPinVcpu(d, 0, map, 2, 0), -1);
    expect_error(UNI_ERR_NO_CORE, "core 9 does not exist");
    assert_int_equal(uniDomainPinVcpu(d, 0, empty, 1, 0), -1);
    expect_error(UNI_ERR_INVALID_ARG, "empty");
    assert_int_equal(uniDomainPinVcpu(d, 0, NULL, 1, 0), -1);
    expect_error(UNI_ERR_INVALID_ARG, "no CPU map");
    map[1] = 0;
    UNI_USE_CPU(map, 2);
    assert_int_equal(uniDomainPinVcpu(d, 7, map, 1, 0), -1);
    expect_error(UNI_ERR_INVALID_ARG, "vCPU 7 of 'vm-1' does not exist");
    assert_int_equal(uniDomainPinVcpu(d3, 0, map, 1, 0), -1);
    expect_error(UNI_ERR_NO_DATA, "not running");
    assert_int_equal(uniDomainPinVcpu(dro, 0, map, 1, 0), -1);
    expect_error(UNI_ERR_ACCESS_DENIED, "read-only");
    assert_int_equal(uniDomainPinVcpu(d, 0, map, 1, 4), -1);
    expect_error(UNI_ERR_INVALID_ARG, "flags");
    assert_int_equal(naudited, 0);
    assert_string_equal(dom_text(d, "dom.vcpu.0.pinning"), "0-1");
    assert_int_equal(uniDomainGetVcpus(d3, &info, &maps, &ncpus, 0), -1);
    expect_error(UNI_ERR_NO_DATA, "not running");
    uni_set_audit_hook(NULL, NULL);
    uniDomainFree(d);
    uniDomainFree(d3);
    uniDomainFree(dro);
    uniConnectClose(c);
    uniConnectClose(ro);
}

static void test_reliability(void **state) {
    uniConnectPtr c = uniConnectOpen("test:///default", 0);
    uniConnectPtr ro = uniConnectOpen("test:///default", UNI_CONNECT_RO);
    uniDomainPtr d1 = uniDomainLookupByName(c, "vm-1", 0), d2 = uniDomainLookupByName(c, "vm-2", 0);
    uniDomainPtr dro = uniDomainLookupByName(ro, "vm-1", 0);
    (void)state;
    uni_set_audit_hook(collect, NULL);
    assert_string_equal(uniDomainGetReliability(d1, 0), "normal"); /* the default */
    assert_string_equal(dom_text(d1, "dom.reliability"), "absent");
    assert_string_equal(uniDomainGetReliability(d2, 0), "high");
    naudited = 0;
    assert_int_equal(uniDomainSetReliability(d1, "low", 0), 0);
    assert_int_equal(naudited, 1);
    assert_non_null(strstr(audited[0], "uniDomainSetReliability by "));
    assert_non_null(strstr(audited[0], "domain vm-1 reliability:  -> low"));
    assert_string_equal(uniDomainGetReliability(d1, 0), "low");
    assert_string_equal(dom_text(d1, "dom.reliability"), "low");
    naudited = 0;
    assert_int_equal(uniDomainSetReliability(d1, "gold", 0), -1);
    expect_error(UNI_ERR_INVALID_ARG, "unknown reliability class 'gold'");
    assert_int_equal(uniDomainSetReliability(d1, NULL, 0), -1);
    expect_error(UNI_ERR_INVALID_ARG, NULL);
    assert_int_equal(uniDomainSetReliability(dro, "high", 0), -1);
    expect_error(UNI_ERR_ACCESS_DENIED, "read-only");
    assert_int_equal(naudited, 0);
    assert_string_equal(uniDomainGetReliability(d1, 0), "low");
    assert_null(uniDomainGetReliability(d1, 2));
    expect_error(UNI_ERR_INVALID_ARG, "flags");
    uni_set_audit_hook(NULL, NULL);
    uniDomainFree(d1);
    uniDomainFree(d2);
    uniDomainFree(dro);
    uniConnectClose(c);
    uniConnectClose(ro);
}

/* A domain gone from under its object: NO_DOMAIN from every call. */
static void test_gone(void **state) {
    uniConnectPtr c = uniConnectOpen("test:///default", 0);
    uni_domain_info ghost = {.name = (char *)"vm-9", .uuid = "7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a69", .id = -1};
    uniDomainPtr d = uni_domain_new(c, &ghost);
    unsigned char map[1] = {1};
    uniDomainInfo info;
    (void)state;
    ghost.name = NULL;
    assert_non_null(d);
    d->info.name = strdup("vm-9");
    assert_int_equal(uniDomainGetInfo(d, &info, 0), -1);
    expect_error(UNI_ERR_NO_DOMAIN, "vm-9");
    assert_null(uniDomainGetXMLDesc(d, 0));
    expect_error(UNI_ERR_NO_DOMAIN, NULL);
    assert_int_equal(uniDomainPinVcpu(d, 0, map, 1, 0), -1);
    expect_error(UNI_ERR_NO_DOMAIN, NULL);
    assert_int_equal(uniDomainSetReliability(d, "high", 0), -1);
    expect_error(UNI_ERR_NO_DOMAIN, NULL);
    uniDomainFree(d);
    uniConnectClose(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info),        cmocka_unit_test(test_xml_sched), cmocka_unit_test(test_vcpus_pin),
        cmocka_unit_test(test_reliability), cmocka_unit_test(test_gone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
