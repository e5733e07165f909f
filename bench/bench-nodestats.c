/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmark: uniNodeGetStats (the whole host record) against its floor, the cost of reading the
 * very same source files with kept-open fds and pread() in a tight loop, in the same run.
 * usage: bench-nodestats [URI ...]   (default: this host, and the 256-core fixture when found) */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "drivers/local/local_driver.h"
#include "lib/internal.h"

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n) {
    qsort(v, (size_t)n, sizeof(*v), cmp_u64);
    return v[n / 2];
}

static int list_proc(const char *procfs) {
    DIR *d = opendir(procfs);
    struct dirent *de;
    int n = 0;
    if (!d)
        return -1;
    while ((de = readdir(d)))
        n++;
    closedir(d);
    return n;
}

static int bench(const char *uri, const char *procfs, int rounds) {
    uniConnectPtr c = uniConnectOpen(uri, 0);
    int fds[65536];
    size_t nfds;
    uint64_t *t_rec, *t_floor;
    static char buf[1 << 20];
    uniRecordPtr rec = NULL;
    int nsamples = 0;

    if (!c) {
        fprintf(stderr, "%s: %s\n", uri, uniGetLastError()->message);
        return 1;
    }
    nfds = uni_local_sample_fds(c, fds, ELEMENTSOF(fds));
    t_rec = calloc((size_t)rounds, sizeof(uint64_t));
    t_floor = calloc((size_t)rounds, sizeof(uint64_t));
    /* Warm up both paths (page cache, allocator), then interleave them so drift hits both. */
    for (int i = 0; i < 50; i++) {
        uniNodeGetStats(c, NULL, &rec, 0);
        uniRecordFree(rec);
    }
    for (int i = 0; i < rounds; i++) {
        uint64_t t0 = now_ns();
        for (size_t k = 0; k < nfds; k++)
            if (pread(fds[k], buf, sizeof(buf), 0) < 0)
                return 1;
        /* VM discovery lists /proc: one listing belongs to the floor too. */
        if (list_proc(procfs) < 0)
            return 1;
        uint64_t t1 = now_ns();
        if (uniNodeGetStats(c, NULL, &rec, 0) < 0) {
            fprintf(stderr, "%s: %s\n", uri, uniGetLastError()->message);
            return 1;
        }
        uint64_t t2 = now_ns();
        nsamples = uniRecordNumSamples(rec);
        uniRecordFree(rec);
        t_floor[i] = t1 - t0;
        t_rec[i] = t2 - t1;
    }
    {
        double f = (double)median(t_floor, rounds) / 1000.0, r = (double)median(t_rec, rounds) / 1000.0;
        printf("%-60.60s files %4zu  samples %5d  floor %8.1f us  uniNodeGetStats %8.1f us  ratio %.2fx\n", uri, nfds,
               nsamples, f, r, r / f);
    }
    free(t_rec);
    free(t_floor);
    uniConnectClose(c);
    return 0;
}

int main(int argc, char **argv) {
    int rounds = getenv("BENCH_ROUNDS") ? atoi(getenv("BENCH_ROUNDS")) : 2000;
    int r = 0;
    if (rounds < 10)
        rounds = 10;
    printf("median of %d rounds each; floor = pread of the same kept-open files and one listing of /proc (VM\n"
           "discovery), same process, interleaved\n",
           rounds);
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            r |= bench(argv[i], "/proc", rounds);
        return r;
    }
    /* This host's files (the floor's sources), then the default, which also asks libvirtd for its
     * domains when its socket exists: that round trip has no file floor. */
    r |= bench("uniserver:///system?libvirt=", "/proc", rounds);
    r |= bench("uniserver:///system", "/proc", rounds);
    {
        char uri[8192];
        const char *src = getenv("SRCDIR") ? getenv("SRCDIR") : ".";
        snprintf(uri, sizeof(uri),
                 "uniserver:///system?procfs=%s/tests/fixtures/many256/proc&sysfs=%s/tests/fixtures/many256/sys", src,
                 src);
        if (access(uri + strlen("uniserver:///system?procfs="), F_OK) == 0 || 1) {
            char pd[4096];
            snprintf(pd, sizeof(pd), "%s/tests/fixtures/many256/proc", src);
            r |= bench(uri, pd, rounds / 4);
        }
    }
    return r;
}
