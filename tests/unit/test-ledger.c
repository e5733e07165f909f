/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's ledger on constructed timelines: availability over windows, reboots, stops, failures, energy across restarts, the file. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "testutil.h"

#include "daemon/ledger.h"

#define T0 1800000000000ll /* ms since the Epoch: 2027-01-15 */
#define S 1000ll
#define GAP (3 * S + 2000)

/* Good samples every second from @from to @to (ms after T0), inclusive. */
static void serve(ledger *l, int64_t from, int64_t to, const char *boot) {
    for (int64_t t = from; t <= to; t += S)
        ledger_served(l, T0 + t, boot);
}

static void near(double got, double want) {
    if (fabs(got - want) > 1e-9)
        fail_msg("got %.12g, want %.12g", got, want);
}

static void test_stop_is_downtime(void **state) {
    ledger l;
    (void)state;
    ledger_init(&l, GAP, true);
    /* Nothing recorded yet, then one sample: no time to measure. */
    assert_true(ledger_availability(&l, T0, LEDGER_HOUR_MS) < 0);
    serve(&l, 0, 599 * S, "boot-a");
    near(ledger_availability(&l, T0 + 599 * S, LEDGER_HOUR_MS), 100);
    /* The daemon stops after its sample at 599 s and a new run starts at 900 s: its first sample
     * opens a new span, and the 301 s between are downtime. */
    l.open = false;
    serve(&l, 900 * S, 1199 * S, "boot-a");
    assert_int_equal(l.nspans, 2);
    near(ledger_availability(&l, T0 + 1199 * S, LEDGER_HOUR_MS), 100.0 * (599 + 299) / 1199);
    /* The window is the last hour only once the ledger is an hour old. */
    serve(&l, 1200 * S, 4200 * S, "boot-a");
    near(ledger_availability(&l, T0 + 4200 * S, LEDGER_HOUR_MS), 100.0 * 3300 / 3600); /* down 600-900 s */
    near(ledger_availability(&l, T0 + 4200 * S, LEDGER_DAY_MS), 100.0 * (4200 - 301) / 4200);
    /* Bad windows are refused, not read as "everything". */
    assert_true(ledger_availability(&l, T0 + 4200 * S, 0) == -EINVAL);
    assert_true(ledger_availability(&l, T0 + 4200 * S, -5) == -EINVAL);
    assert_true(ledger_energy_window(&l, T0 + 4200 * S, 0) == -EINVAL);
    ledger_done(&l);
}

static void test_reboot_and_failures(void **state) {
    ledger l;
    (void)state;
    ledger_init(&l, GAP, true);
    serve(&l, 0, 100 * S, "boot-a");
    /* A new boot id one second later: however short, a reboot, down from the sample before. */
    assert_int_equal(ledger_served(&l, T0 + 101 * S, "boot-b"), 1);
    assert_int_equal(l.reboots, 1);
    serve(&l, 102 * S, 200 * S, "boot-b");
    near(ledger_availability(&l, T0 + 200 * S, LEDGER_HOUR_MS), 100.0 * (100 + 99) / 200);
    /* A failed sample ends the span at the last good one. */
    ledger_failed(&l);
    serve(&l, 205 * S, 210 * S, "boot-b");
    near(ledger_availability(&l, T0 + 210 * S, LEDGER_HOUR_MS), 100.0 * (100 + 99 + 5) / 210);
    /* A gap longer than the sampler's slack (the host suspended) is downtime too. */
    serve(&l, 240 * S, 250 * S, "boot-b");
    near(ledger_availability(&l, T0 + 250 * S, LEDGER_HOUR_MS), 100.0 * (100 + 99 + 5 + 10) / 250);
    /* A source without a boot id: spans still end at stops and failures. */
    serve(&l, 251 * S, 260 * S, NULL);
    near(ledger_availability(&l, T0 + 260 * S, LEDGER_HOUR_MS), 100.0 * (100 + 99 + 5 + 20) / 260);
    assert_int_equal(l.reboots, 1);
    ledger_done(&l);
}

static void test_clock_steps(void **state) {
    ledger l;
    _cleanup_free_ char *text = NULL;
    int64_t boot = 5000 * S;
    (void)state;
    ledger_init(&l, GAP, true);
    for (int64_t t = 0; t <= 100 * S; t += S)
        ledger_clock(&l, T0 + t, boot + t), ledger_served(&l, T0 + t, "boot-a");
    /* NTP steps the clock an hour forward between two samples a second apart: not downtime. */
    ledger_clock(&l, T0 + 3701 * S, boot + 101 * S);
    ledger_served(&l, T0 + 3701 * S, "boot-a");
    assert_int_equal(l.nspans, 1);
    near(ledger_availability(&l, T0 + 3701 * S, LEDGER_HOUR_MS), 100);
    /* A suspend moves CLOCK_BOOTTIME too: a minute asleep is a minute down. */
    ledger_clock(&l, T0 + 3762 * S, boot + 162 * S);
    ledger_served(&l, T0 + 3762 * S, "boot-a");
    assert_int_equal(l.nspans, 2);
    /* Ten minutes back: spans never overlap, nor are times counted twice, and the file still
     * parses (spans and marks in order). */
    for (int64_t t = 3163; t <= 3800; t++) {
        ledger_clock(&l, T0 + t * S, boot + (t - 3000) * S); /* a second of boot time a sample */
        ledger_served(&l, T0 + t * S, "boot-a");
        ledger_energy(&l, T0 + t * S, true, 0.001 * (double)(t - 3162));
    }
    assert_int_equal(l.nspans, 2);
    assert_true(l.spans[1].start_ms >= l.spans[0].end_ms && l.spans[1].end_ms == T0 + 3800 * S);
    near(ledger_availability(&l, T0 + 3800 * S, LEDGER_DAY_MS), 100.0 * (3701 + 38) / 3800);
    text = ledger_format(&l, T0 + 3800 * S);
    ledger_done(&l);
    ledger_init(&l, GAP, true);
    assert_int_equal(ledger_parse(&l, text), 0);
    ledger_done(&l);
}

static void test_energy(void **state) {
    ledger l;
    _cleanup_free_ char *text = NULL;
    (void)state;
    ledger_init(&l, GAP, true);
    /* No power source: nothing measured, ever. */
    ledger_energy(&l, T0, false, 0);
    assert_true(ledger_energy_window(&l, T0, LEDGER_HOUR_MS) < 0);
    /* 3.6 kW: 0.001 kWh a second for two hours; the counter is the connection's, from 0. */
    for (int64_t t = 1; t <= 7200; t++)
        ledger_energy(&l, T0 + t * S, true, 0.001 * (double)t);
    near(l.kwh, 7.2);
    near(ledger_energy_window(&l, T0 + 7200 * S, LEDGER_HOUR_MS), 3.6);
    near(ledger_energy_window(&l, T0 + 7200 * S, LEDGER_DAY_MS), 7.2);
    /* A restart: the file, then a new run whose counter begins at 0 again, an hour later. */
    text = ledger_format(&l, T0 + 7200 * S);
    assert_non_null(text);
    ledger_done(&l);
    ledger_init(&l, GAP, true);
    assert_int_equal(ledger_parse(&l, text), 0);
    near(l.kwh, 7.2);
    for (int64_t t = 1; t <= 600; t++)
        ledger_energy(&l, T0 + (10800 + t) * S, true, 0.001 * (double)t);
    /* The last hour: ten minutes measured after the restart, and nothing while it was down. */
    near(ledger_energy_window(&l, T0 + 11400 * S, LEDGER_HOUR_MS), 0.6);
    near(ledger_energy_window(&l, T0 + 11400 * S, LEDGER_DAY_MS), 7.8);
    /* A counter that went down (a remote daemon restarted) is not negative energy. */
    ledger_energy(&l, T0 + 11401 * S, true, 0.0001);
    near(l.kwh, 7.8);
    ledger_done(&l);
}

static void test_parse_and_prune(void **state) {
    ledger l, m;
    _cleanup_free_ char *text = NULL;
    (void)state;
    ledger_init(&l, GAP, true);
    serve(&l, 0, 10 * S, "boot-a");
    l.open = false;
    serve(&l, 20 * S, 30 * S, "boot-a");
    text = ledger_format(&l, T0 + 30 * S);
    ledger_init(&m, GAP, true);
    assert_int_equal(ledger_parse(&m, text), 0);
    assert_int_equal(m.nspans, 2);
    assert_string_equal(m.boot_id, "boot-a");
    assert_true(m.since_ms == T0);
    /* The first sample of the new run opens a new span (a stop is downtime). */
    assert_false(m.open);
    /* Damaged text is refused whole and changes nothing. */
    assert_int_equal(ledger_parse(&m, "uniserverd-ledger 1\nsince_ms 12\nspan 5 4\nend\n"), -EBADMSG);
    assert_int_equal(ledger_parse(&m, "uniserverd-ledger 1\nsince_ms 12\n"), -EBADMSG); /* cut */
    assert_int_equal(ledger_parse(&m, "uniserverd-ledger 2\nend\n"), -EBADMSG);
    assert_int_equal(ledger_parse(&m, "uniserverd-ledger 1\nkwh -1\nend\n"), -EBADMSG);
    assert_int_equal(m.nspans, 2);
    /* 31 days later: spans older than 30 days go. */
    serve(&m, 31 * 86400 * S, 31 * 86400 * S + 5 * S, "boot-a");
    ledger_prune(&m, T0 + 31 * 86400 * S + 5 * S);
    assert_int_equal(m.nspans, 1);
    ledger_done(&l);
    ledger_done(&m);
}

static void test_file(void **state) {
    char dir[] = "/tmp/test-ledger-XXXXXX";
    ledger_file f, g;
    bool damaged;
    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(ledger_file_open(&f, dir, GAP, 1000, true, &damaged), 0);
    assert_false(damaged);
    serve(&f.l, 0, 60 * S, "boot-a");
    assert_int_equal(ledger_file_save(&f, T0 + 60 * S, true), 0);
    /* A second daemon on the same directory is refused, with the reason for its metrics. */
    assert_int_equal(ledger_file_open(&g, dir, GAP, 1000, true, &damaged), -EBUSY);
    assert_non_null(strstr(g.why, "another uniserverd"));
    ledger_file_close(&g);
    ledger_file_close(&f);
    /* Reopened: the history is back. */
    assert_int_equal(ledger_file_open(&f, dir, GAP, 1000, true, &damaged), 0);
    assert_int_equal(f.l.nspans, 1);
    assert_true(f.l.spans[0].end_ms == T0 + 60 * S);
    ledger_file_close(&f);
    /* A damaged file is kept aside and a new ledger begins. */
    {
        char path[300];
        FILE *o;
        snprintf(path, sizeof(path), "%s/ledger", dir);
        o = fopen(path, "w");
        assert_non_null(o);
        fputs("uniserverd-ledger 1\nspan 1", o);
        fclose(o);
    }
    assert_int_equal(ledger_file_open(&f, dir, GAP, 1000, true, &damaged), 0);
    assert_true(damaged);
    assert_int_equal(f.l.nspans, 0);
    ledger_file_close(&f);
    /* One that cannot be read is reported, and never replaced by an empty one. */
    {
        char path[300];
        struct stat st;
        snprintf(path, sizeof(path), "%s/ledger", dir);
        (void)unlink(path); /* set aside as damaged above */
        assert_int_equal(mkdir(path, 0700), 0);
        assert_true(ledger_file_open(&f, dir, GAP, 1000, true, &damaged) < 0);
        assert_non_null(strstr(f.why, "cannot be read"));
        assert_int_equal(ledger_file_save(&f, T0, true), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        ledger_file_close(&f);
    }
    {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_is_downtime),
        cmocka_unit_test(test_reboot_and_failures),
        cmocka_unit_test(test_energy),
        cmocka_unit_test(test_parse_and_prune),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_clock_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
