/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the pure parsers: literal kernel text, garbage, truncation, overflow, new columns. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>

#include "drivers/local/parsers.h"

#define PARSE(fn, s, out) fn(s, strlen(s), out)

static void test_safe_ato(void **state) {
    uint64_t u;
    int64_t i;
    double d;
    (void)state;
    assert_int_equal(safe_atou64("18446744073709551615", &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(safe_atou64("18446744073709551616", &u), -ERANGE);
    assert_int_equal(safe_atou64("", &u), -EINVAL);
    assert_int_equal(safe_atou64(" 1", &u), -EINVAL);
    assert_int_equal(safe_atou64("1 ", &u), -EINVAL);
    assert_int_equal(safe_atou64("-1", &u), -EINVAL);
    assert_int_equal(safe_atou64("12a", &u), -EINVAL);
    assert_int_equal(safe_atoi64("-9223372036854775808", &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(safe_atoi64("9223372036854775808", &i), -ERANGE);
    assert_int_equal(safe_atod("2596.122", &d), 0);
    assert_true(d == 2596.122);
    assert_int_equal(safe_atod("nan", &d), -EINVAL);
    assert_int_equal(safe_atod("0x10", &d), -EINVAL);
    assert_int_equal(safe_atod("1e999", &d), -ERANGE);
    assert_int_equal(safe_atod(" 1", &d), -EINVAL);
}

static void test_cpu_list(void **state) {
    uint8_t bm[4];
    unsigned n;
    (void)state;
    assert_int_equal(parse_cpu_list("0-3,8,10-11\n", 12, bm, 32, &n), 0);
    assert_int_equal(n, 7);
    assert_int_equal(bm[0], 0x0f);
    assert_int_equal(bm[1], 0x0d);
    assert_int_equal(parse_cpu_list("0", 1, bm, 32, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(parse_cpu_list("3-1", 3, bm, 32, &n), -EBADMSG);
    assert_int_equal(parse_cpu_list("0-", 2, bm, 32, &n), -EBADMSG);
    assert_int_equal(parse_cpu_list("0,", 2, bm, 32, &n), -EBADMSG);
    assert_int_equal(parse_cpu_list("x", 1, bm, 32, &n), -EBADMSG);
    assert_int_equal(parse_cpu_list("0-40", 4, bm, 32, &n), -ERANGE);
}

static const char stat_text[] = "cpu  836 0 790 9640 161 0 18 5 300 0\n"
                                "cpu0 283 0 259 5201 1 0 4 1 0 0\n"
                                "cpu1 552 0 530 4438 159 0 13 4 300 0\n"
                                "intr 89220 0 0 0\n"
                                "ctxt 204972\n"
                                "btime 1764093600\n"
                                "processes 1890\n"
                                "procs_running 3\n"
                                "procs_blocked 1\n"
                                "softirq 1 2 3\n";

static void test_proc_stat(void **state) {
    cpu_times cpus[4];
    proc_stat ps = {.cpu = cpus, .ncpu_max = 4};
    (void)state;
    assert_int_equal(PARSE(parse_proc_stat, stat_text, &ps), 0);
    assert_true(ps.all.t[CPUT_USER] == 836 && ps.all.t[CPUT_IDLE] == 9640 && ps.all.t[CPUT_IOWAIT] == 161);
    assert_int_equal(ps.ncpu_seen, 2);
    assert_int_equal(ps.max_cpu_seen, 2);
    assert_true(cpus[1].present && !cpus[2].present);
    assert_true(cpus[1].t[CPUT_SYSTEM] == 530);
    assert_true(ps.procs_running == 3 && ps.procs_blocked == 1 && ps.have_procs_running);
    /* total excludes guest (300, already in user): 836+790+9640+161+18+5 */
    assert_true(ps.all.t[CPUT_GUEST] == 300);
    assert_true(cpu_times_total(&ps.all) == 11450);
    assert_true(cpu_times_busy(&ps.all) == 11450 - 9640 - 161);
}

static void test_proc_stat_columns(void **state) {
    cpu_times cpus[2];
    proc_stat ps = {.cpu = cpus, .ncpu_max = 2};
    (void)state;
    /* A future kernel's extra columns are ignored; 2.6.0's 7 columns are enough (steal .. 0). */
    assert_int_equal(PARSE(parse_proc_stat, "cpu  1 2 3 4 5 6 7 8 9 10 11 12\ncpu0 1 2 3 4 5 6 7 8 9 10 11 12\n", &ps),
                     0);
    assert_true(ps.all.t[CPUT_GUEST_NICE] == 10);
    assert_int_equal(PARSE(parse_proc_stat, "cpu  1 2 3 4 5 6 7\n", &ps), 0);
    assert_true(ps.all.t[CPUT_SOFTIRQ] == 7 && ps.all.t[CPUT_STEAL] == 0);
    /* Fewer than 7 columns: no kernel prints that (fs/proc/stat.c), so it is cut or foreign. */
    assert_int_equal(PARSE(parse_proc_stat, "cpu  1 2 3 4\n", &ps), -EBADMSG);
    assert_int_equal(PARSE(parse_proc_stat, "cpu  1 2 3 4 5 6 7\ncpu0 1 2 3 4 5 6\n", &ps), -EBADMSG);
    /* CPUs beyond the arrays are counted, not stored. */
    assert_int_equal(PARSE(parse_proc_stat, "cpu  1 2 3 4 5 6 7\ncpu7 1 2 3 4 5 6 7\n", &ps), 0);
    assert_int_equal(ps.max_cpu_seen, 8);
}

static void test_proc_stat_bad(void **state) {
    cpu_times cpus[2];
    proc_stat ps = {.cpu = cpus, .ncpu_max = 2};
    (void)state;
    assert_int_equal(PARSE(parse_proc_stat, "", &ps), -EBADMSG);
    assert_int_equal(PARSE(parse_proc_stat, "cpu  abc def\n", &ps), -EBADMSG);
    assert_int_equal(PARSE(parse_proc_stat, "cpu  1 2 3\n", &ps), -EBADMSG);
    assert_int_equal(PARSE(parse_proc_stat, "cpu  1 2 3 99999999999999999999999\n", &ps), -EBADMSG);
    assert_int_equal(PARSE(parse_proc_stat, "cpu0 1 2 3 4 5 6 7\n", &ps), -EBADMSG); /* no aggregate */
    assert_int_equal(PARSE(parse_proc_stat, "cpu  1 2 3 4 5 6 7\ncpuX 1 2 3 4 5 6 7\n", &ps), -EBADMSG);
    assert_int_equal(PARSE(parse_proc_stat, "cpu  1 2 3 4 5 6 7\nprocs_running x\n", &ps), -EBADMSG);
    /* The last line cut inside the idle column, no newline: not a small idle, malformed. */
    assert_int_equal(PARSE(parse_proc_stat, "cpu  1 2 3 4 5 6 7\ncpu0 1 2 3 4", &ps), -EBADMSG);
    assert_int_equal(PARSE(parse_proc_stat, "cpu  1 2 3 4 5 6 7\ncpu0 1 2 3 45 6 7 8", &ps), -EBADMSG);
    /* Truncated mid-line: the aggregate line is cut to 3 numbers. */
    assert_int_equal(parse_proc_stat(stat_text, 12, &ps), -EBADMSG);
}

static const char meminfo_text[] = "MemTotal:       24684092 kB\n"
                                   "MemFree:        23439596 kB\n"
                                   "MemAvailable:   24336376 kB\n"
                                   "Buffers:           39680 kB\n"
                                   "Cached:          1047068 kB\n"
                                   "SwapCached:            0 kB\n"
                                   "SwapTotal:       2097148 kB\n"
                                   "SwapFree:        1048572 kB\n"
                                   "HugePages_Total:       0\n"
                                   "Hugepagesize:       2048 kB\n"
                                   "SomeNewField:        17 kB\n";

static void test_meminfo(void **state) {
    meminfo m;
    (void)state;
    assert_int_equal(PARSE(parse_meminfo, meminfo_text, &m), 0);
    assert_true(m.mem_total_kb == 24684092 && m.mem_free_kb == 23439596 && m.mem_available_kb == 24336376);
    assert_true(m.cached_kb == 1047068 && m.swap_total_kb == 2097148 && m.swap_free_kb == 1048572);
    assert_true(m.have_available && m.have_cached && m.have_swap);
    /* Old kernel without MemAvailable. */
    assert_int_equal(PARSE(parse_meminfo, "MemTotal: 100 kB\nMemFree: 50 kB\n", &m), 0);
    assert_false(m.have_available);
}

static void test_meminfo_bad(void **state) {
    meminfo m;
    (void)state;
    assert_int_equal(PARSE(parse_meminfo, "", &m), -EBADMSG);
    assert_int_equal(PARSE(parse_meminfo, "MemFree: 50 kB\n", &m), -EBADMSG);
    assert_int_equal(PARSE(parse_meminfo, "MemTotal: 100 MB\nMemFree: 50 kB\n", &m), -EBADMSG);
    assert_int_equal(PARSE(parse_meminfo, "MemTotal: 1x0 kB\nMemFree: 50 kB\n", &m), -EBADMSG);
    assert_int_equal(PARSE(parse_meminfo, "MemTotal: 0 kB\nMemFree: 0 kB\n", &m), -EBADMSG);
    assert_int_equal(PARSE(parse_meminfo, "MemTotal: 99999999999999999999999 kB\nMemFree: 50 kB\n", &m), -EBADMSG);
    assert_int_equal(PARSE(parse_meminfo, "garbage\n", &m), -EBADMSG);
    /* Truncated in the middle of a line: the unit is gone. */
    assert_int_equal(PARSE(parse_meminfo, "MemTotal: 100 kB\nMemFree: 5", &m), -EBADMSG);
    /* A whole line without its unit: the kernel prints " kB" after every one of these values. */
    assert_int_equal(PARSE(parse_meminfo, "MemTotal: 100 kB\nMemFree: 50\n", &m), -EBADMSG);
    assert_int_equal(PARSE(parse_meminfo, "MemTotal: 100 kB\nMemFree: 50 kB\nSwapTotal: 10 kB\n", &m), -EBADMSG);
}

static void test_loadavg(void **state) {
    loadavg la;
    (void)state;
    assert_int_equal(PARSE(parse_loadavg, "0.41 0.10 0.03 1/79 1852\n", &la), 0);
    assert_true(la.load1 == 0.41 && la.load5 == 0.10 && la.load15 == 0.03);
    assert_true(la.running == 1 && la.total == 79);
    assert_int_equal(PARSE(parse_loadavg, "0.41 0.10 0.03 1/79\n", &la), -EBADMSG);
    assert_int_equal(PARSE(parse_loadavg, "0.41 0.10 1/79 1852\n", &la), -EBADMSG);
    assert_int_equal(PARSE(parse_loadavg, "a b c 1/2 3\n", &la), -EBADMSG);
    assert_int_equal(PARSE(parse_loadavg, "0.41 0.10 0.03 179 1852\n", &la), -EBADMSG);
    assert_int_equal(PARSE(parse_loadavg, "", &la), -EBADMSG);
}

static void test_psi(void **state) {
    psi p;
    (void)state;
    assert_int_equal(PARSE(parse_psi,
                           "some avg10=2.29 avg60=1.85 avg300=0.57 total=2163112\n"
                           "full avg10=0.00 avg60=0.00 avg300=0.00 total=7\n",
                           &p),
                     0);
    assert_true(p.some_us == 2163112 && p.full_us == 7 && p.have_full);
    assert_int_equal(PARSE(parse_psi, "some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n", &p), 0);
    assert_false(p.have_full);
    assert_int_equal(PARSE(parse_psi, "some avg10=0.00 total=x\n", &p), -EBADMSG);
    assert_int_equal(PARSE(parse_psi, "bogus line\n", &p), -EBADMSG);
    assert_int_equal(PARSE(parse_psi, "some avg10=0.00 avg60=0.00\n", &p), -EBADMSG);
    assert_int_equal(PARSE(parse_psi, "", &p), -EBADMSG);
}

static void test_cpuinfo(void **state) {
    double mhz[4];
    cpuinfo ci = {.mhz = mhz, .ncpu_max = 4};
    (void)state;
    assert_int_equal(PARSE(parse_cpuinfo,
                           "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu MHz\t\t: 2596.122\n\n"
                           "processor\t: 1\ncpu MHz\t\t: 1200.000\n\n",
                           &ci),
                     0);
    assert_int_equal(ci.nprocessors, 2);
    assert_true(mhz[0] == 2596.122 && mhz[1] == 1200.0 && isnan(mhz[2]));
    /* arm64: no MHz at all. */
    assert_int_equal(PARSE(parse_cpuinfo, "processor\t: 0\nBogoMIPS\t: 80.00\nFeatures\t: fp asimd\n", &ci), 0);
    assert_true(isnan(mhz[0]));
    assert_int_equal(PARSE(parse_cpuinfo, "processor\t: 0\ncpu MHz\t\t: fast\n", &ci), -EBADMSG);
    assert_int_equal(PARSE(parse_cpuinfo, "cpu MHz\t\t: 100\n", &ci), -EBADMSG);
    assert_int_equal(PARSE(parse_cpuinfo, "", &ci), -EBADMSG);
}

/* Every text cut anywhere but after a newline is malformed, for every parser: the kernel ends
 * every line with one, and what is left of a cut line may parse as a wrong value. */
static void test_cut_anywhere(void **state) {
    static const char loadavg_text[] = "0.41 0.10 0.03 1/79 1852\n";
    static const char psi_text[] = "some avg10=2.29 avg60=1.85 avg300=0.57 total=2163112\n"
                                   "full avg10=0.00 avg60=0.00 avg300=0.00 total=7\n";
    static const char cpuinfo_text[] =
        "processor\t: 0\ncpu MHz\t\t: 2596.122\n\nprocessor\t: 1\ncpu MHz\t\t: 1200.000\n";
    cpu_times cpus[4];
    proc_stat ps = {.cpu = cpus, .ncpu_max = 4};
    meminfo m;
    loadavg la;
    psi p;
    double mhz[4];
    cpuinfo ci = {.mhz = mhz, .ncpu_max = 4};
    unsigned cuts = 0;
    (void)state;
    for (size_t l = 1; l < strlen(stat_text); l++)
        if (stat_text[l - 1] != '\n') {
            assert_int_equal(parse_proc_stat(stat_text, l, &ps), -EBADMSG);
            cuts++;
        }
    for (size_t l = 1; l < strlen(meminfo_text); l++)
        if (meminfo_text[l - 1] != '\n')
            assert_int_equal(parse_meminfo(meminfo_text, l, &m), -EBADMSG);
    for (size_t l = 1; l < strlen(loadavg_text); l++)
        assert_int_equal(parse_loadavg(loadavg_text, l, &la), -EBADMSG);
    for (size_t l = 1; l < strlen(psi_text); l++)
        if (psi_text[l - 1] != '\n')
            assert_int_equal(parse_psi(psi_text, l, &p), -EBADMSG);
    for (size_t l = 1; l < strlen(cpuinfo_text); l++)
        if (cpuinfo_text[l - 1] != '\n')
            assert_int_equal(parse_cpuinfo(cpuinfo_text, l, &ci), -EBADMSG);
    assert_true(cuts > 150);
}

static void test_sensor_classes(void **state) {
    int id;
    (void)state;
    assert_int_equal(classify_hwmon_temp("coretemp", "Core 3", &id), TEMP_CORE);
    assert_int_equal(id, 3);
    assert_int_equal(classify_hwmon_temp("coretemp", "Package id 1", &id), TEMP_PACKAGE);
    assert_int_equal(id, 1);
    assert_int_equal(classify_hwmon_temp("coretemp", "Core x", &id), TEMP_OTHER);
    assert_int_equal(classify_hwmon_temp("k10temp", "Tctl", &id), TEMP_PACKAGE);
    assert_int_equal(classify_hwmon_temp("k10temp", "Tccd2", &id), TEMP_PACKAGE);
    assert_int_equal(classify_hwmon_temp("apm_xgene", "SoC Temperature", &id), TEMP_PACKAGE);
    assert_int_equal(classify_hwmon_temp("nvme", "Composite", &id), TEMP_OTHER);
    assert_true(thermal_zone_is_cpu("x86_pkg_temp"));
    assert_true(thermal_zone_is_cpu("cpu0-thermal"));
    assert_false(thermal_zone_is_cpu("acpitz"));
    /* Common SoCs: the Raspberry Pi's driver name, the device tree's CPU cluster zones. */
    assert_true(thermal_zone_is_cpu("bcm2835_thermal"));
    assert_true(thermal_zone_is_cpu("cpu-big0-thermal"));
    assert_true(thermal_zone_is_cpu("cluster0-thermal"));
    assert_true(thermal_zone_is_cpu("little-core-thermal"));
    assert_false(thermal_zone_is_cpu("gpu-thermal"));
    assert_false(thermal_zone_is_cpu("ddr-thermal"));
    assert_int_equal(classify_hwmon_power("apm_xgene", "CPU power"), POWER_CPU);
    assert_int_equal(classify_hwmon_power("apm_xgene", "IO power"), POWER_OTHER);
    assert_int_equal(classify_hwmon_power("foo", "DRAM power"), POWER_MEM);
    assert_int_equal(classify_hwmon_power("power_meter", ""), POWER_TOTAL);
}

/* Bounded reads at their limit: a file one byte short of the buffer is read whole; one that
 * fills it is -EFBIG, never cut (the caller grows its buffer); read_file_at_alloc grows to any
 * size, as a 256-CPU /proc/stat with a long intr line needs. */
static void test_read_limits(void **state) {
    char dir[] = "/tmp/uni-read-XXXXXX", buf[64], *big = NULL;
    int dfd, fd;
    (void)state;
    assert_non_null(mkdtemp(dir));
    dfd = open(dir, O_DIRECTORY | O_RDONLY);
    assert_true(dfd >= 0);
    for (size_t n = sizeof(buf) - 2; n <= sizeof(buf); n++) {
        char path[32], want[sizeof(buf) + 1];
        snprintf(path, sizeof(path), "f%zu", n);
        memset(want, 'x', n);
        want[n] = 0;
        fd = openat(dfd, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, want, n), (ssize_t)n);
        close(fd);
        if (n < sizeof(buf)) {
            assert_int_equal(read_file_at(dfd, path, buf, sizeof(buf)), (ssize_t)n);
            assert_string_equal(buf, want);
        } else
            assert_int_equal(read_file_at(dfd, path, buf, sizeof(buf)), -EFBIG);
        unlinkat(dfd, path, 0);
    }
    {
        fd = openat(dfd, "big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        size_t n = 300000;
        char *text = malloc(n + 1);
        assert_non_null(text);
        for (size_t i = 0; i < n; i++)
            text[i] = i % 61 == 60 ? '\n' : (char)('0' + i % 10);
        text[n] = 0;
        assert_int_equal(write(fd, text, n), (ssize_t)n);
        close(fd);
        assert_int_equal(read_file_at_alloc(dfd, "big", &big), (ssize_t)n);
        assert_memory_equal(big, text, n);
        free(big);
        free(text);
        unlinkat(dfd, "big", 0);
    }
    close(dfd);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safe_ato),       cmocka_unit_test(test_cpu_list),
        cmocka_unit_test(test_proc_stat),      cmocka_unit_test(test_proc_stat_columns),
        cmocka_unit_test(test_proc_stat_bad),  cmocka_unit_test(test_meminfo),
        cmocka_unit_test(test_meminfo_bad),    cmocka_unit_test(test_read_limits),
        cmocka_unit_test(test_loadavg),        cmocka_unit_test(test_psi),
        cmocka_unit_test(test_cpuinfo),        cmocka_unit_test(test_cut_anywhere),
        cmocka_unit_test(test_sensor_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
