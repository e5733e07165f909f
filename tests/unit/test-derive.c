/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Exact tests of the spec's formulas (D5.1 section 2.3) and of the counter helpers. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "drivers/local/parsers.h"

static void test_reserved(void **state) {
    (void)state;
    /* ReservedCapacity = 1 - f_cur/f_max */
    assert_true(reserved_pct(2400, 2400) == 0.0);
    assert_true(reserved_pct(1200, 2400) == 50.0);
    assert_double_equal(reserved_pct(2000, 2600), 100.0 * (1.0 - 2000.0 / 2600.0), 1e-12);
    assert_true(isnan(reserved_pct(1000, 0)));
    /* Turbo runs above cpuinfo_max_freq: nothing reserved, not -25 %. */
    assert_true(reserved_pct(3000, 2400) == 0.0);
    assert_true(reserved_pct(0, 2400) == 100.0);
}

static void test_mem_contention(void **state) {
    meminfo m = {.mem_total_kb = 1000, .mem_free_kb = 200, .swap_total_kb = 500, .swap_free_kb = 100};
    (void)state;
    /* 1 - (MemFree - (SwapTotal - SwapFree)) / MemTotal = 1 - (200 - 400)/1000 = 1.2 */
    assert_double_equal(mem_contention_ratio(&m), 1.2, 1e-12);
    assert_double_equal(mem_contention_mb(&m), 200.0 / 1024.0, 1e-12);
    m.swap_free_kb = 500;
    assert_double_equal(mem_contention_ratio(&m), 0.8, 1e-12);
    assert_true(mem_contention_mb(&m) == 0.0);
}

static void test_cpu_contention(void **state) {
    (void)state;
    assert_true(cpu_contention_ratio(10, 8) == 1.25);
    assert_true(cpu_contention_ratio(2, 8) == 0.25);
    assert_true(isnan(cpu_contention_ratio(2, 0)));
    assert_true(pct_of(1, 4) == 25.0);
    assert_true(isnan(pct_of(1, 0)));
}

static void test_max_util(void **state) {
    max_util_state s = {0};
    const uint64_t ms = 1000000;
    (void)state;
    /* Below the CPU count: nothing accrues. */
    assert_true(max_util_step(&s, 1.0, 4, 1000 * ms) == 0);
    /* Load reaches the number of CPUs at t=2 s: a stamp is set; time runs while it stays. */
    assert_true(max_util_step(&s, 4.0, 4, 2000 * ms) == 0);
    assert_true(max_util_step(&s, 5.5, 4, 3500 * ms) == 1500 * ms);
    /* Drops below at t=4 s: 2 s added, the stamp reset. */
    assert_true(max_util_step(&s, 3.9, 4, 4000 * ms) == 2000 * ms);
    assert_true(max_util_step(&s, 0.5, 4, 9000 * ms) == 2000 * ms);
    assert_true(max_util_step(&s, 4.0, 4, 10000 * ms) == 2000 * ms);
    assert_true(max_util_step(&s, 4.0, 4, 10250 * ms) == 2250 * ms);
}

static void test_counter_delta(void **state) {
    (void)state;
    assert_true(counter_delta(100, 250, 1000) == 150);
    /* RAPL energy_uj wraps at max_energy_range_uj. */
    assert_true(counter_delta(262143328000ull, 150ull, 262143328850ull) == 850 + 150);
    /* Down by far less than the range: a reset, not a wrap; unknown, not 262 kJ in a window. */
    assert_true(counter_delta(5000000ull, 4999000ull, 262143328850ull) == UINT64_MAX);
    assert_true(counter_delta(500, 100, 0) == UINT64_MAX);
    assert_true(jiffies_to_ms(161, 100) == 1610);
}

/* Section 2's utilisation: occupied over capacity. */
static void test_utilisation(void **state) {
    char l1[] = "/dev/sda1 / ext4 rw,relatime 0 0\n", l2[] = "/dev/mapper/vg-my\\040disk /srv/a\\040b xfs rw 0 0",
         l3[] = "proc /proc", l4[] = "";
    char *dev, *dir, *type;
    (void)state;
    assert_true(fabs(mem_util_pct(131899468, 10485760) - 92.0501870) < 1e-6);
    assert_true(mem_util_pct(1000, 1000) == 0);
    /* MemAvailable a little above MemTotal (an estimate): nothing occupied, not a negative share. */
    assert_true(mem_util_pct(1000, 1100) == 0);
    assert_true(isnan(mem_util_pct(0, 0)));
    /* df's Use%: used / (used + available); the root-reserved blocks are neither. */
    assert_true(disk_util_pct(30, 70) == 30);
    assert_true(disk_util_pct(100, 0) == 100);
    assert_true(isnan(disk_util_pct(0, 0)));
    assert_int_equal(parse_mounts_line(l1, &dev, &dir, &type), 0);
    assert_string_equal(dev, "/dev/sda1");
    assert_string_equal(dir, "/");
    assert_string_equal(type, "ext4");
    /* fstab(5)'s octal escapes: a space in a path is \040. */
    assert_int_equal(parse_mounts_line(l2, &dev, &dir, &type), 0);
    assert_string_equal(dev, "/dev/mapper/vg-my disk");
    assert_string_equal(dir, "/srv/a b");
    assert_string_equal(type, "xfs");
    assert_int_equal(parse_mounts_line(l3, &dev, &dir, &type), -EBADMSG);
    assert_int_equal(parse_mounts_line(l4, &dev, &dir, &type), -EBADMSG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reserved), cmocka_unit_test(test_mem_contention), cmocka_unit_test(test_cpu_contention),
        cmocka_unit_test(test_max_util), cmocka_unit_test(test_counter_delta),  cmocka_unit_test(test_utilisation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
