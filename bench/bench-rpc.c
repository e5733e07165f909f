/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmark: round-trip latency and calls per second of uniNodeGetStats through uniserverd's unix
 * socket, side by side with libvirt's virNodeGetCPUStats through a libvirtd on the same machine
 * (loaded with dlopen, so the build does not need libvirt). Start both daemons first (bench/run
 * does). usage: bench-rpc UNISERVER_URI [LIBVIRT_URI] */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "uniserver/uniserver.h"
#include "util/util.h"

#define ROUNDS 5000

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *t, int n) {
    uint64_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += t[i];
    qsort(t, (size_t)n, sizeof(*t), cmp_u64);
    printf("%-58s median %8.1f us  p99 %8.1f us  %8.0f calls/s\n", what, (double)t[n / 2] / 1000.0,
           (double)t[n * 99 / 100] / 1000.0, (double)n / ((double)sum / 1e9));
}

static double median_us(uint64_t *t, int n) {
    qsort(t, (size_t)n, sizeof(*t), cmp_u64);
    return (double)t[n / 2] / 1000.0;
}

/* libvirt's types, as far as virNodeGetCPUStats needs them. */
typedef struct {
    char field[80];
    unsigned long long value;
} virNodeCPUStats;

int main(int argc, char **argv) {
    static uint64_t t[ROUNDS];
    const char *uni_uri = argc > 1 ? argv[1] : "uniserver+unix:///system";
    const char *virt_uri = argc > 2 ? argv[2] : NULL;
    const char *cpu_sel[] = {"cpu", NULL};
    uniConnectPtr c = uniConnectOpen(uni_uri, UNI_CONNECT_RO);
    double uni_cpu = 0, virt = 0;

    if (!c) {
        fprintf(stderr, "%s: %s\n", uni_uri, uniGetLastError()->message);
        return 1;
    }
    for (int i = 0; i < ROUNDS; i++) {
        uniRecordPtr r = NULL;
        uint64_t t0 = now_ns();
        if (uniNodeGetStats(c, cpu_sel, &r, 0) < 0)
            return 1;
        t[i] = now_ns() - t0;
        uniRecordFree(r);
    }
    report("uniserver uniNodeGetStats(cpu) over the unix socket", t, ROUNDS);
    uni_cpu = median_us(t, ROUNDS);
    for (int i = 0; i < ROUNDS; i++) {
        uniRecordPtr r = NULL;
        uint64_t t0 = now_ns();
        if (uniNodeGetStats(c, NULL, &r, 0) < 0)
            return 1;
        t[i] = now_ns() - t0;
        uniRecordFree(r);
    }
    report("uniserver uniNodeGetStats(whole host record)", t, ROUNDS);
    for (int i = 0; i < ROUNDS; i++) {
        uniRecordPtr r = NULL;
        uint64_t t0 = now_ns();
        if (uniNodeGetSystemStatistics(c, &r, 0) < 0)
            return 1;
        t[i] = now_ns() - t0;
        uniRecordFree(r);
    }
    report("uniserver uniNodeGetSystemStatistics (a spec view)", t, ROUNDS);
    uniConnectClose(c);

    if (virt_uri) {
        void *lib = dlopen("libvirt.so.0", RTLD_NOW);
        void *(*open_ro)(const char *);
        int (*cpustats)(void *, int, virNodeCPUStats *, int *, unsigned);
        int (*close_)(void *);
        void *vc;
        if (!lib) {
            printf("libvirt: not installed (%s)\n", dlerror());
            return 0;
        }
        open_ro = (void *(*)(const char *))dlsym(lib, "virConnectOpenReadOnly");
        cpustats = (int (*)(void *, int, virNodeCPUStats *, int *, unsigned))dlsym(lib, "virNodeGetCPUStats");
        close_ = (int (*)(void *))dlsym(lib, "virConnectClose");
        vc = open_ro(virt_uri);
        if (!vc) {
            printf("libvirt: cannot open %s (is libvirtd running?)\n", virt_uri);
            return 0;
        }
        int nparams = 0;
        /* libvirt's protocol: ask for the number of fields first, then for the values. */
        if (cpustats(vc, -1, NULL, &nparams, 0) < 0 || nparams <= 0 || nparams > 16)
            return 1;
        for (int i = 0; i < ROUNDS; i++) {
            virNodeCPUStats p[16];
            int n = nparams;
            uint64_t t0 = now_ns();
            if (cpustats(vc, -1, p, &n, 0) < 0)
                return 1;
            t[i] = now_ns() - t0;
        }
        report("libvirt virNodeGetCPUStats through libvirtd", t, ROUNDS);
        virt = median_us(t, ROUNDS);
        close_(vc);
        printf("ratio: libvirt's node call takes %.1fx uniserver's (median latency)\n", virt / uni_cpu);
    }
    return 0;
}
