/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The control path: frequency syntax, the shared checks, the test driver's board, and the local
 * driver on writable copies of fixture trees (never the host's cpufreq). Every refused call is
 * shown to leave the whole tree as it was (every file's content and every link compared), every
 * successful one to change exactly the files it should, and failures half-way to be undone. */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "lib/internal.h"

/* ---------------------------------------------------------------------------------------------
 * Pure parts
 * ------------------------------------------------------------------------------------------- */

static void test_parse_frequency(void **state) {
    static const struct {
        const char *s;
        int r;
        uint64_t khz;
    } cases[] = {
        {"2400000", 0, 2400000},
        {"2400MHz", 0, 2400000},
        {"2.4GHz", 0, 2400000},
        {"2.4ghz", 0, 2400000},
        {"2400mhz", 0, 2400000},
        {"2400000kHz", 0, 2400000},
        {"2400000KHZ", 0, 2400000},
        {"2400000000Hz", 0, 2400000},
        {"2.40GHz", 0, 2400000},
        {"1.8GHz", 0, 1800000},
        {"2400.5MHz", 0, 2400500},
        {"0.3GHz", 0, 300000},
        {"4294967295", 0, 4294967295u},
        {"fast", -EINVAL, 0},
        {"-1", -EINVAL, 0},
        {"2.4THz", -EINVAL, 0},
        {"", -EINVAL, 0},
        {" 2400000", -EINVAL, 0},
        {"2400000 ", -EINVAL, 0},
        {"2.4 GHz", -EINVAL, 0},
        {"+2400000", -EINVAL, 0},
        {"2.", -EINVAL, 0},
        {".5GHz", -EINVAL, 0},
        {"2..4GHz", -EINVAL, 0},
        {"2.4.1GHz", -EINVAL, 0},
        {"1e6", -EINVAL, 0},
        {"0x10", -EINVAL, 0},
        {"GHz", -EINVAL, 0},
        {"2400M", -EINVAL, 0},
        {"1.0000005GHz", -EDOM, 0},
        {"2400000001Hz", -EDOM, 0},
        {"0.5", -EDOM, 0},
        {"0", -ERANGE, 0},
        {"0GHz", -ERANGE, 0},
        {"4294967296", -ERANGE, 0},
        {"99999999999999999999999", -ERANGE, 0},
        {"18446744073709551615GHz", -ERANGE, 0},
    };
    (void)state;
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        uint64_t khz = 0;
        int r = uni_parse_frequency_khz(cases[i].s, &khz);
        if (r != cases[i].r || (r == 0 && khz != cases[i].khz))
            fail_msg("'%s': r=%d khz=%llu, expected r=%d khz=%llu", cases[i].s, r, (unsigned long long)khz, cases[i].r,
                     (unsigned long long)cases[i].khz);
    }
    assert_int_equal(uni_parse_frequency_khz(NULL, &(uint64_t){0}), -EINVAL);
}

static void test_cpu_words(void **state) {
    uint8_t bm[2];
    unsigned n;
    char buf[32];
    (void)state;
    assert_int_equal(parse_cpu_words("0 1 ", bm, 16, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(format_cpu_list(bm, 16, buf, sizeof(buf)), 3);
    assert_string_equal(buf, "0-1");
    assert_int_equal(parse_cpu_words("4 6-8\n", bm, 16, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(format_cpu_list(bm, 16, buf, sizeof(buf)), 5);
    assert_string_equal(buf, "4,6-8");
    assert_int_equal(parse_cpu_words("", bm, 16, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(format_cpu_list(bm, 16, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    assert_int_equal(format_cpu_list(bm, 16, buf, 1), 0);
    assert_int_equal(parse_cpu_words("1 x", bm, 16, &n), -EBADMSG);
    assert_int_equal(parse_cpu_words("99", bm, 16, &n), -ERANGE);
}

static void test_policy_mapping(void **state) {
    const char *prefs = "default performance balance_performance balance_power power";
    (void)state;
    assert_string_equal(uni_policy_to_epp("balanced", 0, prefs), "balance_performance");
    assert_string_equal(uni_policy_to_epp("balanced", 0, "default power"), "default");
    assert_string_equal(uni_policy_to_epp("power", 0, prefs), "power");
    assert_string_equal(uni_policy_to_epp("balance_power", 0, prefs), "balance_power");
    assert_null(uni_policy_to_epp("turbo", 3, prefs));
    assert_int_equal(uniGetLastError()->code, UNI_ERR_INVALID_ARG);
    assert_non_null(strstr(uniGetLastError()->message, "'turbo'"));
    assert_string_equal(uni_policy_to_governor("power", 0, "ondemand", "ondemand powersave performance"), "powersave");
    assert_string_equal(uni_policy_to_governor("balanced", 0, "ondemand", "schedutil ondemand"), "ondemand");
    assert_string_equal(uni_policy_to_governor("balanced", 0, "performance", "ondemand schedutil performance"),
                        "schedutil");
    assert_null(uni_policy_to_governor("balance_power", 0, "ondemand", "ondemand"));
    assert_int_equal(uniGetLastError()->code, UNI_ERR_INVALID_ARG);
    assert_null(uni_policy_to_governor("power", 2, "performance", "performance"));
    assert_int_equal(uniGetLastError()->code, UNI_ERR_NO_SUPPORT);
    /* The read side maps back: what a policy writes reads as that policy. */
    assert_string_equal(uni_policy_of_governor("powersave"), "power");
    assert_string_equal(uni_policy_of_epp("balance_performance"), "balanced");
    assert_true(uni_word_in_list("userspace", "conservative userspace\n"));
    assert_false(uni_word_in_list("user", "conservative userspace"));
    assert_false(uni_word_in_list("", "a b"));
}

/* ---------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------- */

static void expect_error(int r, int code, const char *needle, const char *what) {
    const uniError *e = uniGetLastError();
    if (r != -1)
        fail_msg("%s: returned %d, expected -1", what, r);
    if (!e)
        fail_msg("%s: no error set", what);
    if (e->code != code)
        fail_msg("%s: %s (%s), expected %s", what, uniErrorCodeName(e->code), e->message, uniErrorCodeName(code));
    if (needle && !strstr(e->message, needle))
        fail_msg("%s: message '%s' does not say '%s'", what, e->message, needle);
}

static const char *str_sample(uniConnectPtr c, const char *key) {
    static char buf[64];
    uniRecordPtr r = NULL;
    const uniSample *s;
    const char *sel[] = {"freq", NULL};
    assert_int_equal(uniNodeGetStats(c, sel, &r, 0), 0);
    s = uniRecordLookup(r, key);
    if (!s)
        fail_msg("%s missing", key);
    if (s->type == UNI_VALUE_STRING)
        snprintf(buf, sizeof(buf), "%s", s->value.s);
    else
        snprintf(buf, sizeof(buf), "%g", s->value.d);
    uniRecordFree(r);
    return buf;
}

/* Audit events, collected. */
typedef struct {
    char call[40], caller[80], attribute[128], before[64], after[64];
    int error;
    bool rollback;
} seen_event;
static seen_event events[64];
static int nevents;

static void collect(const uni_audit_event *ev, void *userdata) {
    seen_event *e;
    (void)userdata;
    if (nevents == (int)ELEMENTSOF(events))
        return;
    e = &events[nevents++];
    snprintf(e->call, sizeof(e->call), "%s", ev->call);
    snprintf(e->caller, sizeof(e->caller), "%s", ev->caller);
    snprintf(e->attribute, sizeof(e->attribute), "%s", ev->attribute);
    snprintf(e->before, sizeof(e->before), "%s", ev->before);
    snprintf(e->after, sizeof(e->after), "%s", ev->after);
    e->error = ev->error;
    e->rollback = ev->rollback;
}

/* ---------------------------------------------------------------------------------------------
 * The test driver's board
 * ------------------------------------------------------------------------------------------- */

static void test_board_frequency(void **state) {
    uniConnectPtr c = uniConnectOpen("test:///default", 0);
    int cores[4] = {-1, -1, -1, -1};
    (void)state;
    assert_non_null(c);
    assert_string_equal(str_sample(c, "host.cpu.5.freq_mhz"), "1200");
    /* Both cores of PMD2 move, whichever is named; the first maxcores are reported. */
    assert_int_equal(uniNodeSetFrequencyEx(c, 5, "2.4GHz", cores, 4, 0), 2);
    assert_int_equal(cores[0], 4);
    assert_int_equal(cores[1], 5);
    assert_int_equal(uniNodeSetFrequencyEx(c, 0, "300MHz", cores, 1, 0), 2);
    assert_int_equal(cores[0], 0);
    assert_int_equal(cores[1], 5);
    assert_string_equal(str_sample(c, "host.cpu.4.freq_mhz"), "2400");
    assert_string_equal(str_sample(c, "host.cpu.5.freq_mhz"), "2400");
    assert_string_equal(str_sample(c, "host.cpu.1.freq_mhz"), "300");
    assert_string_equal(str_sample(c, "host.cpu.1.governor"), "userspace");
    assert_string_equal(str_sample(c, "host.cpu.0.reserved_pct"), "87.5");
    assert_int_equal(uniNodeSetFrequency(c, 7, "600000", 0), 2);

    expect_error(uniNodeSetFrequency(c, 12, "2.4GHz", 0), UNI_ERR_NO_CORE, "core 12 does not exist (0-7 online)",
                 "core 12");
    expect_error(uniNodeSetFrequency(c, -1, "2.4GHz", 0), UNI_ERR_INVALID_ARG, "core -1", "core -1");
    expect_error(uniNodeSetFrequency(c, 0, "2.7GHz", 0), UNI_ERR_OUT_OF_RANGE,
                 "outside core 0's limits 300000-2400000 kHz", "2.7GHz");
    expect_error(uniNodeSetFrequency(c, 0, "1000MHz", 0), UNI_ERR_OUT_OF_RANGE,
                 "not one of core 0's available frequencies", "1000MHz");
    expect_error(uniNodeSetFrequency(c, 0, "fast", 0), UNI_ERR_INVALID_ARG, "'fast'", "fast");
    expect_error(uniNodeSetFrequency(c, 0, "-1", 0), UNI_ERR_INVALID_ARG, "'-1'", "-1");
    expect_error(uniNodeSetFrequency(c, 0, "2.4THz", 0), UNI_ERR_INVALID_ARG, "'2.4THz'", "THz");
    expect_error(uniNodeSetFrequency(c, 0, "99999999999999999999999", 0), UNI_ERR_INVALID_ARG, "out of range",
                 "overflow");
    expect_error(uniNodeSetFrequency(c, 0, "1.0000005GHz", 0), UNI_ERR_INVALID_ARG, "whole number of kHz", "sub-kHz");
    expect_error(uniNodeSetFrequency(c, 0, NULL, 0), UNI_ERR_INVALID_ARG, NULL, "NULL");
    expect_error(uniNodeSetFrequency(c, 0, "2.4GHz", 4), UNI_ERR_INVALID_ARG, "0x4", "flags");
    expect_error(uniNodeSetFrequencyEx(c, 0, "2.4GHz", NULL, 3, 0), UNI_ERR_INVALID_ARG, "maxcores", "NULL cores");
    expect_error(uniNodeSetFrequency(NULL, 0, "2.4GHz", 0), UNI_ERR_INVALID_CONN, NULL, "no conn");
    /* Nothing moved on any refusal. */
    assert_string_equal(str_sample(c, "host.cpu.1.freq_mhz"), "300");
    assert_string_equal(str_sample(c, "host.cpu.6.freq_mhz"), "600");
    uniConnectClose(c);
}

static void test_board_governor_policy(void **state) {
    uniConnectPtr c = uniConnectOpen("test:///default", 0);
    char *g;
    (void)state;
    assert_string_equal(str_sample(c, "host.cpu.power_policy"), "mixed");
    assert_int_equal(uniNodeSetGovernor(c, -1, "ondemand", 0), 8);
    g = uniNodeGetGovernor(c, 0);
    assert_string_equal(g, "ondemand");
    free(g);
    assert_string_equal(str_sample(c, "host.cpu.power_policy"), "balanced");
    assert_int_equal(uniNodeSetGovernor(c, 3, "performance", 0), 2);
    assert_string_equal(str_sample(c, "host.cpu.2.governor"), "performance");
    assert_string_equal(str_sample(c, "host.cpu.governor"), "mixed");
    expect_error(uniNodeSetGovernor(c, 0, "turbo", 0), UNI_ERR_INVALID_ARG, "governor 'turbo' is not available",
                 "turbo");
    expect_error(uniNodeSetGovernor(c, 8, "ondemand", 0), UNI_ERR_NO_CORE, "core 8 does not exist", "core 8");
    expect_error(uniNodeSetGovernor(c, -2, "ondemand", 0), UNI_ERR_INVALID_ARG, "-1 (all)", "core -2");
    expect_error(uniNodeSetGovernor(c, 0, "", 0), UNI_ERR_INVALID_ARG, NULL, "empty");
    expect_error(uniNodeSetGovernor(c, 0, "a/b", 0), UNI_ERR_INVALID_ARG, "'a/b'", "slash");
    /* No EPP on the board: the power policy is the governor's. */
    assert_int_equal(uniNodeSetPowerPolicy(c, -1, "power", 0), 8);
    assert_string_equal(str_sample(c, "host.cpu.power_policy"), "power");
    assert_string_equal(str_sample(c, "host.cpu.7.governor"), "powersave");
    assert_int_equal(uniNodeSetPowerPolicy(c, 6, "balanced", 0), 2);
    assert_string_equal(str_sample(c, "host.cpu.6.governor"), "schedutil");
    expect_error(uniNodeSetPowerPolicy(c, 0, "balance_power", 0), UNI_ERR_INVALID_ARG, "raw EPP", "raw EPP");
    expect_error(uniNodeSetPowerPolicy(c, 0, "turbo", 0), UNI_ERR_INVALID_ARG, "'turbo'", "turbo");
    uniConnectClose(c);
}

static void test_board_read_only(void **state) {
    uniConnectPtr c = uniConnectOpen("test:///default", UNI_CONNECT_RO);
    uniOppSetting v = {"voltage_mv", 900};
    uniOppListPtr l = NULL;
    (void)state;
    expect_error(uniNodeSetFrequency(c, 0, "1.2GHz", 0), UNI_ERR_ACCESS_DENIED, "read-only", "ro freq");
    expect_error(uniNodeSetGovernor(c, -1, "ondemand", 0), UNI_ERR_ACCESS_DENIED, "read-only", "ro gov");
    expect_error(uniNodeSetPowerPolicy(c, -1, "power", 0), UNI_ERR_ACCESS_DENIED, "read-only", "ro policy");
    expect_error(uniNodeSetOperatingPoint(c, "pmd0", &v, 1, 0), UNI_ERR_ACCESS_DENIED, "read-only", "ro opp");
    /* Read-only refuses even malformed requests before looking at them. */
    expect_error(uniNodeSetFrequency(c, 99, "fast", 0), UNI_ERR_ACCESS_DENIED, NULL, "ro bad");
    assert_string_equal(str_sample(c, "host.cpu.0.freq_mhz"), "2400");
    assert_string_equal(str_sample(c, "host.cpu.governor"), "mixed");
    /* Reading the operating points is fine read-only. */
    assert_int_equal(uniNodeGetOperatingPoints(c, &l, 0), 8);
    assert_int_equal(uniOppListGetParam(l, 0, 1)->current, 980);
    uniOppListFree(l);
    uniConnectClose(c);
}

static void test_board_operating_points(void **state) {
    uniConnectPtr c = uniConnectOpen("test:///default", 0);
    uniOppListPtr l = NULL;
    const uniOppDomain *d;
    const uniOppParam *p;
    uniRecordPtr r = NULL;
    const char *power[] = {"power", "memhw", NULL};
    double w0, w1;
    (void)state;
    assert_int_equal(uniNodeGetOperatingPoints(c, &l, 0), 8);
    d = uniOppListGetDomain(l, 2);
    assert_string_equal(d->name, "pmd2");
    assert_int_equal(d->kind, UNI_OPP_CPU);
    assert_int_equal(d->ncores, 2);
    assert_int_equal(d->cores[1], 5);
    assert_int_equal(d->nparams, 2);
    p = uniOppListGetParam(l, 2, 0);
    assert_string_equal(p->name, "frequency_mhz");
    assert_int_equal(p->current, 1200);
    p = uniOppListGetParam(l, 2, 1);
    assert_string_equal(p->name, "voltage_mv");
    assert_string_equal(p->unit, "mV");
    assert_int_equal(p->min, 800);
    assert_int_equal(p->step, 5);
    d = uniOppListGetDomain(l, 5);
    assert_string_equal(d->name, "mc1");
    assert_int_equal(d->kind, UNI_OPP_MEMORY);
    assert_int_equal(d->nmembers, 2);
    assert_string_equal(d->members[0], "DIMM1A");
    assert_null(uniOppListGetDomain(l, 8));
    assert_null(uniOppListGetParam(l, 5, 2));
    uniOppListFree(l);

    assert_int_equal(uniNodeGetStats(c, power, &r, 0), 0);
    w0 = uniRecordLookup(r, "host.power.cpu_w")->value.d;
    uniRecordFree(r);
    /* Undervolt and slow PMD2 together: CPU power falls as V^2 x f. */
    assert_int_equal(
        uniNodeSetOperatingPoint(c, "pmd2", (uniOppSetting[]){{"voltage_mv", 900}, {"frequency_mhz", 900}}, 2, 0), 0);
    assert_int_equal(uniNodeSetOperatingPoint(c, "mc3", (uniOppSetting[]){{"refresh_ms", 512}}, 1, 0), 0);
    assert_int_equal(uniNodeGetStats(c, power, &r, 0), 0);
    w1 = uniRecordLookup(r, "host.power.cpu_w")->value.d;
    assert_true(w1 < w0);
    assert_true(uniRecordLookup(r, "host.mem.refresh_ms")->value.d == 512);
    uniRecordFree(r);
    assert_string_equal(str_sample(c, "host.cpu.4.freq_mhz"), "900");
    assert_int_equal(uniNodeGetOperatingPoints(c, &l, 0), 8);
    assert_int_equal(uniOppListGetParam(l, 2, 1)->current, 900);
    uniOppListFree(l);

    expect_error(uniNodeSetOperatingPoint(c, "pmd2", &(uniOppSetting){"voltage_mv", 700}, 1, 0), UNI_ERR_OUT_OF_RANGE,
                 "pmd2 voltage_mv 700 is outside the domain's limits 800-1000 mV", "700 mV");
    expect_error(uniNodeSetOperatingPoint(c, "pmd2", &(uniOppSetting){"voltage_mv", 903}, 1, 0), UNI_ERR_OUT_OF_RANGE,
                 "steps", "903 mV");
    expect_error(uniNodeSetOperatingPoint(c, "mc0", &(uniOppSetting){"refresh_ms", 5000}, 1, 0), UNI_ERR_OUT_OF_RANGE,
                 "32-4096 ms", "refresh");
    expect_error(uniNodeSetOperatingPoint(c, "pmd9", &(uniOppSetting){"voltage_mv", 900}, 1, 0), UNI_ERR_INVALID_ARG,
                 "no operating-point domain 'pmd9' (domains: pmd0 pmd1 pmd2 pmd3 mc0 mc1 mc2 mc3)", "pmd9");
    expect_error(uniNodeSetOperatingPoint(c, "pmd1", &(uniOppSetting){"refresh_ms", 100}, 1, 0), UNI_ERR_INVALID_ARG,
                 "pmd1 has no parameter 'refresh_ms' (parameters: frequency_mhz voltage_mv)", "param");
    expect_error(uniNodeSetOperatingPoint(c, "pmd1", (uniOppSetting[]){{"voltage_mv", 900}, {"voltage_mv", 905}}, 2, 0),
                 UNI_ERR_INVALID_ARG, "twice", "twice");
    expect_error(uniNodeSetOperatingPoint(c, "pmd1", NULL, 0, 0), UNI_ERR_INVALID_ARG, "no settings", "none");
    /* One bad setting refuses the whole change. */
    expect_error(
        uniNodeSetOperatingPoint(c, "pmd1", (uniOppSetting[]){{"voltage_mv", 900}, {"frequency_mhz", 2500}}, 2, 0),
        UNI_ERR_OUT_OF_RANGE, "frequency_mhz 2500", "partly bad");
    assert_int_equal(uniNodeGetOperatingPoints(c, &l, 0), 8);
    assert_int_equal(uniOppListGetParam(l, 1, 1)->current, 980);
    uniOppListFree(l);
    uniConnectClose(c);
}

static void test_board_audit(void **state) {
    uniConnectPtr c = uniConnectOpen("test:///default", 0);
    (void)state;
    nevents = 0;
    uni_set_audit_hook(collect, NULL);
    uni_audit_set_caller("uid 1000 pid 42 (rw socket)");
    assert_int_equal(uniNodeSetFrequency(c, 2, "1.8GHz", 0), 2);
    uni_audit_set_caller(NULL);
    assert_int_equal(uniNodeSetGovernor(c, 2, "userspace", 0), 2); /* no change: no event */
    assert_int_equal(uniNodeSetOperatingPoint(c, "mc0", &(uniOppSetting){"voltage_mv", 1450}, 1, 0), 0);
    uni_set_audit_hook(NULL, NULL);
    assert_int_equal(uniNodeSetGovernor(c, 2, "performance", 0), 2); /* no hook: nothing seen */
    assert_int_equal(nevents, 3);
    assert_string_equal(events[0].call, "uniNodeSetFrequency");
    assert_string_equal(events[0].caller, "uid 1000 pid 42 (rw socket)");
    assert_string_equal(events[0].attribute, "devices/system/cpu/cpufreq/policy2/scaling_governor");
    assert_string_equal(events[0].before, "performance");
    assert_string_equal(events[0].after, "userspace");
    assert_string_equal(events[1].attribute, "devices/system/cpu/cpufreq/policy2/scaling_setspeed");
    assert_string_equal(events[1].before, "2400000");
    assert_string_equal(events[1].after, "1800000");
    assert_string_equal(events[2].call, "uniNodeSetOperatingPoint");
    assert_non_null(strstr(events[2].caller, "(in-process)"));
    assert_string_equal(events[2].attribute, "mc0/voltage_mv");
    assert_string_equal(events[2].before, "1500");
    assert_string_equal(events[2].after, "1450");
    uniConnectClose(c);
}

/* ---------------------------------------------------------------------------------------------
 * The local driver on writable copies of fixture trees
 * ------------------------------------------------------------------------------------------- */

static char tmpdir[256];

static int setup_tmp(void **state) {
    (void)state;
    /* Copies go to memory where there is a tmpfs: hundreds of small files per copy. */
    snprintf(tmpdir, sizeof(tmpdir), "%s/uni-control-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state) {
    char cmd[512];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A fresh copy of fixture @host; returns its directory. */
static const char *copy_fixture(const char *host) {
    static char dir[512];
    char cmd[2048];
    const char *src = getenv("SRCDIR");
    assert_non_null(src);
    snprintf(dir, sizeof(dir), "%s/%s", tmpdir, host);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s/tests/fixtures/%s' '%s'", dir, src, host, dir);
    assert_int_equal(system(cmd), 0);
    return dir;
}

static uniConnectPtr open_copy(const char *dir, unsigned flags) {
    char uri[1200];
    uniConnectPtr c;
    snprintf(uri, sizeof(uri), "uniserver:///system?procfs=%s/proc&sysfs=%s/sys", dir, dir);
    c = uniConnectOpen(uri, flags);
    if (!c)
        fail_msg("open %s: %s", uri, uniGetLastError()->message);
    return c;
}

/* The whole tree as text: every path with its content (files) or target (links), sorted by
 * nftw's walk order made stable with a sort. */
static char **snap_lines;
static size_t snap_n;
static size_t snap_root;

static int snap_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    char *line = NULL, buf[8192];
    (void)ftw;
    if (flag == FTW_SL) {
        ssize_t n = readlink(path, buf, sizeof(buf) - 1);
        buf[n < 0 ? 0 : n] = 0;
        if (asprintf(&line, "%s -> %s", path + snap_root, buf) < 0)
            return -1;
    } else if (flag == FTW_F) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (fd >= 0)
            close(fd);
        buf[n < 0 ? 0 : n] = 0;
        if (asprintf(&line, "%s [%o] %s", path + snap_root, (unsigned)(st->st_mode & 07777), buf) < 0)
            return -1;
    } else
        return 0;
    snap_lines = realloc(snap_lines, (snap_n + 1) * sizeof(char *));
    snap_lines[snap_n++] = line;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *snapshot(const char *dir) {
    size_t len = 0;
    char *out;
    snap_lines = NULL;
    snap_n = 0;
    snap_root = strlen(dir);
    assert_int_equal(nftw(dir, snap_one, 32, FTW_PHYS), 0);
    qsort(snap_lines, snap_n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < snap_n; i++)
        len += strlen(snap_lines[i]) + 1;
    out = calloc(1, len + 1);
    for (size_t i = 0; i < snap_n; i++) {
        strcat(out, snap_lines[i]);
        strcat(out, "\n");
        free(snap_lines[i]);
    }
    free(snap_lines);
    return out;
}

static void assert_same_tree(const char *before, const char *dir, const char *what) {
    char *now = snapshot(dir);
    if (strcmp(before, now) != 0) {
        /* Name the first line that differs. */
        const char *a = before, *b = now;
        while (*a && *a == *b)
            a++, b++;
        while (a > before && a[-1] != '\n')
            a--;
        fail_msg("%s: the tree changed, at: %.200s", what, a);
    }
    free(now);
}

static void read_attr(const char *dir, const char *rel, char *buf, size_t len) {
    char path[1024];
    int fd;
    ssize_t n;
    snprintf(path, sizeof(path), "%s/sys/devices/system/cpu/%s", dir, rel);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    n = read(fd, buf, len - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = 0;
}

#define ASSERT_ATTR(dir, rel, expect)                                                                                  \
    do {                                                                                                               \
        char b_[256];                                                                                                  \
        read_attr(dir, rel, b_, sizeof(b_));                                                                           \
        assert_string_equal(b_, expect);                                                                               \
    } while (0)

/* Count the lines that differ between two snapshots (changed files). */
static int tree_changes(const char *before, const char *dir) {
    char *now = snapshot(dir), *a = strdup(before), *sa = NULL, *sb = NULL;
    int n = 0;
    for (char *x = strtok_r(a, "\n", &sa), *y = strtok_r(now, "\n", &sb); x || y;
         x = strtok_r(NULL, "\n", &sa), y = strtok_r(NULL, "\n", &sb))
        n += !x || !y || strcmp(x, y) != 0;
    free(a);
    free(now);
    return n;
}

static void test_local_set_frequency(void **state) {
    const char *dir = copy_fixture("x86-acpi");
    char *before = snapshot(dir);
    uniConnectPtr c = open_copy(dir, 0);
    int cores[8];
    (void)state;
    /* acpi-cpufreq offers userspace: governor + scaling_setspeed, and only those two files. */
    assert_int_equal(uniNodeSetFrequencyEx(c, 3, "1.8GHz", cores, 8, 0), 1);
    assert_int_equal(cores[0], 3);
    ASSERT_ATTR(dir, "cpufreq/policy3/scaling_governor", "userspace\n");
    ASSERT_ATTR(dir, "cpufreq/policy3/scaling_setspeed", "1800000\n");
    assert_int_equal(tree_changes(before, dir), 2);
    /* The record shows it, through the connection's kept-open files. */
    assert_string_equal(str_sample(c, "host.cpu.3.governor"), "userspace");
    assert_string_equal(str_sample(c, "host.cpu.governor"), "mixed");
    uniConnectClose(c);
    free(before);

    /* intel_pstate has no userspace governor: min and max are pinned. */
    dir = copy_fixture("x86-pstate");
    before = snapshot(dir);
    c = open_copy(dir, 0);
    assert_int_equal(uniNodeSetFrequency(c, 2, "2450MHz", 0), 1);
    ASSERT_ATTR(dir, "cpufreq/policy2/scaling_min_freq", "2450000\n");
    ASSERT_ATTR(dir, "cpufreq/policy2/scaling_max_freq", "2450000\n");
    ASSERT_ATTR(dir, "cpufreq/policy2/scaling_governor", "powersave\n");
    assert_int_equal(tree_changes(before, dir), 2);
    uniConnectClose(c);
    free(before);

    /* X-Gene2 (cppc): a PMD's policy clocks both its cores. */
    dir = copy_fixture("xgene2");
    c = open_copy(dir, 0);
    assert_int_equal(uniNodeSetFrequencyEx(c, 1, "1500000", cores, 8, 0), 2);
    assert_int_equal(cores[0], 0);
    assert_int_equal(cores[1], 1);
    ASSERT_ATTR(dir, "cpufreq/policy0/scaling_setspeed", "1500000\n");
    ASSERT_ATTR(dir, "cpufreq/policy0/scaling_governor", "userspace\n");
    uniConnectClose(c);
}

static void test_local_refusals_change_nothing(void **state) {
    static const struct {
        const char *host;
        int core;
        const char *freq;
        int code;
        const char *needle;
    } cases[] = {
        {"x86-acpi", 9, "2.4GHz", UNI_ERR_NO_CORE, "core 9 does not exist (0-7 online)"},
        {"x86-acpi", 100000, "2.4GHz", UNI_ERR_NO_CORE, "core 100000 does not exist"},
        {"x86-pstate", 7, "2.4GHz", UNI_ERR_NO_CORE, "core 7 is offline (0-6 online)"},
        {"x86-acpi", 0, "2.8GHz", UNI_ERR_OUT_OF_RANGE,
         "frequency 2.8GHz (2800000 kHz) is outside core 0's limits 1200000-2600000 kHz"},
        {"x86-acpi", 0, "1GHz", UNI_ERR_OUT_OF_RANGE, "outside core 0's limits"},
        {"x86-acpi", 0, "1900MHz", UNI_ERR_OUT_OF_RANGE,
         "is not one of core 0's available frequencies (2600000 2400000"},
        {"x86-pstate", 0, "4GHz", UNI_ERR_OUT_OF_RANGE, "limits 800000-3900000 kHz"},
        {"xgene2", 0, "200MHz", UNI_ERR_OUT_OF_RANGE, "limits 300000-2400000 kHz"},
        {"x86-acpi", 0, "fast", UNI_ERR_INVALID_ARG, "invalid frequency 'fast'"},
        {"x86-acpi", 0, "-1", UNI_ERR_INVALID_ARG, "invalid frequency '-1'"},
        {"x86-acpi", 0, "2.4THz", UNI_ERR_INVALID_ARG, "invalid frequency '2.4THz'"},
        {"x86-acpi", 0, "99999999999999999999999", UNI_ERR_INVALID_ARG, "'99999999999999999999999': out of range"},
        {"x86-acpi", 0, "18446744073709551616kHz", UNI_ERR_INVALID_ARG, "out of range"},
        {"bare", 0, "2.4GHz", UNI_ERR_NO_SUPPORT, "core 0 has no cpufreq"},
    };
    (void)state;
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        const char *dir = copy_fixture(cases[i].host);
        char *before = snapshot(dir), what[128];
        uniConnectPtr c = open_copy(dir, 0);
        snprintf(what, sizeof(what), "%s core %d %s", cases[i].host, cases[i].core, cases[i].freq);
        expect_error(uniNodeSetFrequency(c, cases[i].core, cases[i].freq, 0), cases[i].code, cases[i].needle, what);
        assert_same_tree(before, dir, what);
        uniConnectClose(c);
        free(before);
    }
}

static void test_local_governor_policy(void **state) {
    const char *dir = copy_fixture("x86-pstate");
    char *before = snapshot(dir), *g;
    uniConnectPtr c = open_copy(dir, 0), ro = open_copy(dir, UNI_CONNECT_RO);
    (void)state;
    /* Refusals first: nothing may change. */
    expect_error(uniNodeSetGovernor(c, -1, "userspace", 0), UNI_ERR_INVALID_ARG,
                 "governor 'userspace' is not available for core 0 (available: performance powersave)", "userspace");
    expect_error(uniNodeSetGovernor(c, 7, "performance", 0), UNI_ERR_NO_CORE, "offline", "offline");
    expect_error(uniNodeSetPowerPolicy(c, -1, "turbo", 0), UNI_ERR_INVALID_ARG, "power policy 'turbo'", "turbo");
    expect_error(uniNodeSetGovernor(ro, -1, "performance", 0), UNI_ERR_ACCESS_DENIED, "read-only", "ro gov");
    expect_error(uniNodeSetPowerPolicy(ro, -1, "power", 0), UNI_ERR_ACCESS_DENIED, "read-only", "ro policy");
    expect_error(uniNodeSetFrequency(ro, 0, "2.4GHz", 0), UNI_ERR_ACCESS_DENIED, "read-only", "ro freq");
    assert_same_tree(before, dir, "x86-pstate refusals");

    /* EPP: the spec's names and the raw ones; the offline cpu7's policy is left alone. */
    assert_int_equal(uniNodeSetPowerPolicy(c, -1, "power", 0), 7);
    ASSERT_ATTR(dir, "cpufreq/policy6/energy_performance_preference", "power\n");
    ASSERT_ATTR(dir, "cpufreq/policy7/energy_performance_preference", "balance_performance\n");
    assert_string_equal(str_sample(c, "host.cpu.power_policy"), "power");
    assert_int_equal(uniNodeSetPowerPolicy(c, 1, "balance_power", 0), 1);
    assert_string_equal(str_sample(c, "host.cpu.power_policy"), "mixed");
    assert_int_equal(uniNodeSetPowerPolicy(c, -1, "balanced", 0), 7);
    ASSERT_ATTR(dir, "cpufreq/policy1/energy_performance_preference", "balance_performance\n");
    assert_int_equal(uniNodeSetGovernor(c, -1, "performance", 0), 7);
    g = uniNodeGetGovernor(c, 0);
    assert_string_equal(g, "performance");
    free(g);
    uniConnectClose(c);
    uniConnectClose(ro);
    free(before);

    /* No EPP (acpi-cpufreq): the policy is the governor's. */
    dir = copy_fixture("x86-acpi");
    c = open_copy(dir, 0);
    assert_int_equal(uniNodeSetPowerPolicy(c, -1, "balanced", 0), 8); /* ondemand is balanced: unchanged */
    ASSERT_ATTR(dir, "cpufreq/policy0/scaling_governor", "ondemand\n");
    assert_int_equal(uniNodeSetPowerPolicy(c, 5, "performance", 0), 1);
    ASSERT_ATTR(dir, "cpufreq/policy5/scaling_governor", "performance\n");
    expect_error(uniNodeSetPowerPolicy(c, 0, "balance_power", 0), UNI_ERR_INVALID_ARG, "raw EPP", "raw EPP on acpi");
    uniConnectClose(c);

    dir = copy_fixture("bare");
    c = open_copy(dir, 0);
    expect_error(uniNodeSetGovernor(c, -1, "performance", 0), UNI_ERR_NO_SUPPORT, "no online core has cpufreq", "bare");
    uniConnectClose(c);

    /* 256 policies in one change. */
    dir = copy_fixture("many256");
    c = open_copy(dir, 0);
    assert_int_equal(uniNodeSetGovernor(c, -1, "performance", 0), 256);
    ASSERT_ATTR(dir, "cpufreq/policy255/scaling_governor", "performance\n");
    uniConnectClose(c);
}

/* A file the hardware refuses: a read-only sysfs attribute (kernfs refuses writes to attributes
 * without a store method, even for root), linked into the copy. */
static const char ro_attr[] = "/sys/devices/system/cpu/kernel_max";

static bool have_ro_attr(void) {
    int fd = open(ro_attr, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return false;
    }
    return access(ro_attr, R_OK) == 0;
}

static void replace_by_link(const char *dir, const char *rel, const char *target) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/sys/devices/system/cpu/%s", dir, rel);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink(target, path), 0);
}

static void test_local_rollback(void **state) {
    const char *dir;
    char *before;
    uniConnectPtr c;
    (void)state;
    if (!have_ro_attr()) {
        printf("SKIP: %s is not a read-only attribute here\n", ro_attr);
        skip();
    }
    nevents = 0;
    uni_set_audit_hook(collect, NULL);

    /* The governor is switched to userspace, then scaling_setspeed refuses: the governor goes back. */
    dir = copy_fixture("x86-acpi");
    replace_by_link(dir, "cpufreq/policy3/scaling_setspeed", ro_attr);
    before = snapshot(dir);
    c = open_copy(dir, 0);
    expect_error(uniNodeSetFrequency(c, 3, "1.8GHz", 0), UNI_ERR_SYSTEM_ERROR,
                 "rolled back: 1 write of this call undone", "setspeed refused");
    assert_non_null(strstr(uniGetLastError()->message, "writing '1800000' to"));
    assert_same_tree(before, dir, "setspeed refused");
    assert_int_equal(nevents, 3);
    assert_string_equal(events[0].after, "userspace");
    assert_int_equal(events[1].error, -EACCES);
    assert_true(events[2].rollback);
    assert_string_equal(events[2].after, "ondemand");
    uniConnectClose(c);
    free(before);

    /* A write that does not stick (reads back different): NOT_APPLIED, and undone. */
    dir = copy_fixture("x86-acpi");
    replace_by_link(dir, "cpufreq/policy3/scaling_setspeed", "/dev/null");
    before = snapshot(dir);
    c = open_copy(dir, 0);
    expect_error(uniNodeSetFrequency(c, 3, "1.8GHz", 0), UNI_ERR_NOT_APPLIED, "wrote '1800000', reads back ''",
                 "not applied");
    /* Both writes are undone: the governor's, and the one that read back different (it may
     * have changed the file; here scaling_setspeed goes back to its placeholder). */
    assert_non_null(strstr(uniGetLastError()->message, "rolled back: 2 writes of this call undone"));
    assert_same_tree(before, dir, "not applied");
    uniConnectClose(c);
    free(before);

    /* All cores: five policies set, the sixth refuses: all five restored. */
    dir = copy_fixture("x86-acpi");
    replace_by_link(dir, "cpufreq/policy5/scaling_governor", ro_attr);
    before = snapshot(dir);
    c = open_copy(dir, 0);
    expect_error(uniNodeSetGovernor(c, -1, "performance", 0), UNI_ERR_SYSTEM_ERROR,
                 "rolled back: 5 writes of this call undone", "governor all");
    assert_same_tree(before, dir, "governor all");
    uniConnectClose(c);
    free(before);

    /* Pinning upwards: max first (taken), then min refuses: max goes back. */
    dir = copy_fixture("x86-pstate");
    {
        char path[1024];
        FILE *f;
        snprintf(path, sizeof(path), "%s/sys/devices/system/cpu/cpufreq/policy2/scaling_max_freq", dir);
        f = fopen(path, "w");
        fputs("3000000\n", f);
        fclose(f);
    }
    replace_by_link(dir, "cpufreq/policy2/scaling_min_freq", ro_attr);
    before = snapshot(dir);
    c = open_copy(dir, 0);
    expect_error(uniNodeSetFrequency(c, 2, "3.5GHz", 0), UNI_ERR_SYSTEM_ERROR, "scaling_min_freq", "pin up");
    assert_non_null(strstr(uniGetLastError()->message, "rolled back"));
    assert_same_tree(before, dir, "pin up");
    uniConnectClose(c);
    free(before);
    uni_set_audit_hook(NULL, NULL);
}

static void test_local_no_operating_points(void **state) {
    const char *dir = copy_fixture("xgene2");
    uniConnectPtr c = open_copy(dir, 0);
    uniOppListPtr l = NULL;
    char *before = snapshot(dir);
    (void)state;
    expect_error(uniNodeGetOperatingPoints(c, &l, 0), UNI_ERR_NO_SUPPORT, "no operating points beyond cpufreq", "get");
    assert_null(l);
    expect_error(uniNodeSetOperatingPoint(c, "pmd0", &(uniOppSetting){"voltage_mv", 900}, 1, 0), UNI_ERR_NO_SUPPORT,
                 "class/uniserver-opp", "set");
    assert_same_tree(before, dir, "opp");
    uniConnectClose(c);
    free(before);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_frequency),
        cmocka_unit_test(test_cpu_words),
        cmocka_unit_test(test_policy_mapping),
        cmocka_unit_test(test_board_frequency),
        cmocka_unit_test(test_board_governor_policy),
        cmocka_unit_test(test_board_read_only),
        cmocka_unit_test(test_board_operating_points),
        cmocka_unit_test(test_board_audit),
        cmocka_unit_test(test_local_set_frequency),
        cmocka_unit_test(test_local_refusals_change_nothing),
        cmocka_unit_test(test_local_governor_policy),
        cmocka_unit_test(test_local_rollback),
        cmocka_unit_test(test_local_no_operating_points),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
