/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's ledger: the cost of a crash-safe save and of a sample's windows, against the floor of writing and fsyncing a file of the same size. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "daemon/ledger.h"

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* A ledger as a month of uniserverd looks: @nspans spans (restarts, failures), a day of marks. */
static void fill(ledger *l, int64_t t0, size_t nspans) {
    int64_t t = t0, step = 30ll * 86400000 / (int64_t)(nspans ? nspans : 1);
    for (size_t i = 0; i < nspans; i++, t += step) {
        l->open = false;
        ledger_served(l, t, "boot");
        ledger_served(l, t + step / 2, "boot");
    }
    for (int i = 0; i <= 288; i++)
        ledger_energy(l, t - 86400000 + (int64_t)i * LEDGER_MARK_MS, true, 0.01 * i);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/var/tmp";
    int rounds = argc > 2 ? atoi(argv[2]) : 200;
    size_t sizes[] = {30, 1000, 20000};
    char path[700];

    printf("uniserverd's ledger in %s, %d saves each (write, fsync, rename, fsync of the directory)\n", dir, rounds);
    printf("%8s %9s %12s %12s %8s %14s\n", "spans", "bytes", "save us", "floor us", "ratio", "windows us");
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        ledger_file f;
        bool damaged;
        char tmpl[600];
        int64_t t0 = 1800000000000ll, now = t0 + 30ll * 86400000;
        double a, save, floor_us, win;
        char *text;
        size_t len;
        int fd;

        snprintf(tmpl, sizeof(tmpl), "%s/bench-ledger-XXXXXX", dir);
        if (!mkdtemp(tmpl) || ledger_file_open(&f, tmpl, 5000, 0, true, &damaged) < 0) {
            perror(tmpl);
            return 1;
        }
        fill(&f.l, t0, sizes[k]);
        text = ledger_format(&f.l, now);
        len = strlen(text);
        a = now_us();
        for (int i = 0; i < rounds; i++)
            ledger_file_save(&f, now + i, true);
        save = (now_us() - a) / rounds;
        /* The floor: the same bytes written and fsynced in place, no rename. */
        snprintf(path, sizeof(path), "%s/floor", tmpl);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        a = now_us();
        for (int i = 0; i < rounds; i++)
            if (pwrite(fd, text, len, 0) != (ssize_t)len || fsync(fd) < 0)
                return 1;
        floor_us = (now_us() - a) / rounds;
        close(fd);
        unlink(path);
        a = now_us();
        for (int i = 0; i < rounds; i++) {
            (void)ledger_availability(&f.l, now, LEDGER_30D_MS);
            (void)ledger_availability(&f.l, now, LEDGER_DAY_MS);
            (void)ledger_availability(&f.l, now, LEDGER_HOUR_MS);
            (void)ledger_energy_window(&f.l, now, LEDGER_DAY_MS);
            (void)ledger_energy_window(&f.l, now, LEDGER_HOUR_MS);
        }
        win = (now_us() - a) / rounds;
        printf("%8zu %9zu %12.1f %12.1f %8.2f %14.2f\n", f.l.nspans, len, save, floor_us, save / floor_us, win);
        free(text);
        snprintf(path, sizeof(path), "%s/ledger", tmpl);
        unlink(path);
        ledger_file_close(&f);
        rmdir(tmpl);
    }
    return 0;
}
