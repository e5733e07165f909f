/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmark: round-trip latency and calls per second through uniserverd's unix socket, side by
 * side with libvirt through a libvirtd on the same machine (loaded with dlopen, so the build does
 * not need libvirt):
 *   the node call: uniNodeGetStats(cpu) against virNodeGetCPUStats;
 *   every VM's whole record: uniConnectGetAllDomainStats against virConnectGetAllDomainStats.
 * The two sides of a comparison alternate call by call, so that whatever else the machine does
 * weighs on both alike. Start both daemons (and the guests) first: bench/run does.
 * usage: bench-rpc UNISERVER_URI [LIBVIRT_URI [node|vms]]   (node: the node calls only; vms: the
 * all-VM record only; default both) */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* libvirt's types and calls, as far as these two calls need them. */
typedef struct {
    char field[80];
    unsigned long long value;
} virNodeCPUStats;
typedef struct {
    void *dom;
    void *params;
    int nparams;
} virDomainStatsRecord;

static struct {
    void *(*open_ro)(const char *);
    int (*close)(void *);
    int (*cpustats)(void *, int, virNodeCPUStats *, int *, unsigned);
    int (*alldom)(void *, unsigned, virDomainStatsRecord ***, unsigned);
    void (*alldom_free)(virDomainStatsRecord **);
} lv;

static void *libvirt_open(const char *uri) {
    void *lib = dlopen("libvirt.so.0", RTLD_NOW), *vc;
    if (!lib) {
        printf("libvirt: not installed (%s)\n", dlerror());
        return NULL;
    }
    lv.open_ro = (void *(*)(const char *))dlsym(lib, "virConnectOpenReadOnly");
    lv.close = (int (*)(void *))dlsym(lib, "virConnectClose");
    lv.cpustats = (int (*)(void *, int, virNodeCPUStats *, int *, unsigned))dlsym(lib, "virNodeGetCPUStats");
    lv.alldom =
        (int (*)(void *, unsigned, virDomainStatsRecord ***, unsigned))dlsym(lib, "virConnectGetAllDomainStats");
    lv.alldom_free = (void (*)(virDomainStatsRecord **))dlsym(lib, "virDomainStatsRecordListFree");
    if (!lv.open_ro || !lv.close || !lv.cpustats || !lv.alldom || !lv.alldom_free) {
        printf("libvirt: a call is missing from libvirt.so.0\n");
        return NULL;
    }
    if (!(vc = lv.open_ro(uri)))
        printf("libvirt: cannot open %s (is libvirtd running?)\n", uri);
    return vc;
}

int main(int argc, char **argv) {
    static uint64_t t[ROUNDS], tv[ROUNDS];
    const char *uni_uri = argc > 1 ? argv[1] : "uniserver+unix:///system";
    const char *virt_uri = argc > 2 && argv[2][0] ? argv[2] : NULL; /* "": no libvirt */
    const char *cpu_sel[] = {"cpu", NULL};
    uniConnectPtr c = uniConnectOpen(uni_uri, UNI_CONNECT_RO);
    void *vc = NULL;
    const char *part = argc > 3 ? argv[3] : "both";
    bool node = strcmp(part, "vms") != 0, vms = strcmp(part, "node") != 0;
    int nparams = 0, vm_rounds = 100, ndom_uni = 0, ndom_virt = 0;

    if (!c) {
        fprintf(stderr, "%s: %s\n", uni_uri, uniGetLastError()->message);
        return 1;
    }
    /* libvirt's protocol: ask for the number of fields first, then for the values. */
    if (virt_uri && (vc = libvirt_open(virt_uri)) &&
        (lv.cpustats(vc, -1, NULL, &nparams, 0) < 0 || nparams <= 0 || nparams > 16)) {
        fprintf(stderr, "virNodeGetCPUStats: no fields\n");
        return 1;
    }

    /* The node call, alternating with libvirt's. */
    for (int i = 0; node && i < ROUNDS; i++) {
        uniRecordPtr r = NULL;
        uint64_t t0 = now_ns();
        if (uniNodeGetStats(c, cpu_sel, &r, 0) < 0)
            return 1;
        t[i] = now_ns() - t0;
        uniRecordFree(r);
        if (vc) {
            virNodeCPUStats p[16];
            int n = nparams;
            t0 = now_ns();
            if (lv.cpustats(vc, -1, p, &n, 0) < 0)
                return 1;
            tv[i] = now_ns() - t0;
        }
    }
    if (node)
        report("uniserver uniNodeGetStats(cpu) over the unix socket", t, ROUNDS);
    if (node && vc) {
        report("libvirt virNodeGetCPUStats through libvirtd (alternating)", tv, ROUNDS);
        printf("ratio: libvirt's node call takes %.1fx uniserver's (median latency, same run)\n",
               median_us(tv, ROUNDS) / median_us(t, ROUNDS));
    }

    for (int i = 0; node && i < ROUNDS; i++) {
        uniRecordPtr r = NULL;
        uint64_t t0 = now_ns();
        if (uniNodeGetStats(c, NULL, &r, 0) < 0)
            return 1;
        t[i] = now_ns() - t0;
        uniRecordFree(r);
    }
    if (node)
        report("uniserver uniNodeGetStats(whole host record)", t, ROUNDS);
    for (int i = 0; node && i < ROUNDS; i++) {
        uniRecordPtr r = NULL;
        uint64_t t0 = now_ns();
        if (uniNodeGetSystemStatistics(c, &r, 0) < 0)
            return 1;
        t[i] = now_ns() - t0;
        uniRecordFree(r);
    }
    if (node)
        report("uniserver uniNodeGetSystemStatistics (a spec view)", t, ROUNDS);

    /* Every VM's whole record, alternating with libvirt's. */
    for (int i = 0; vms && i < vm_rounds; i++) {
        uniDomainStatsRecordPtr *st = NULL;
        uint64_t t0 = now_ns();
        if ((ndom_uni = uniConnectGetAllDomainStats(c, NULL, &st, UNI_DOMAIN_STATS_ACTIVE)) < 0) {
            fprintf(stderr, "uniConnectGetAllDomainStats: %s\n", uniGetLastError()->message);
            return 1;
        }
        t[i] = now_ns() - t0;
        uniDomainStatsRecordListFree(st);
        if (vc) {
            virDomainStatsRecord **recs = NULL;
            t0 = now_ns();
            /* 0: every group libvirt has; 1: VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE */
            if ((ndom_virt = lv.alldom(vc, 0, &recs, 1)) < 0)
                return 1;
            tv[i] = now_ns() - t0;
            lv.alldom_free(recs);
        }
    }
    char what[96];
    snprintf(what, sizeof(what), "uniserver uniConnectGetAllDomainStats (%d VMs)", ndom_uni);
    if (vms)
        report(what, t, vm_rounds);
    if (vms && vc) {
        snprintf(what, sizeof(what), "libvirt virConnectGetAllDomainStats (%d VMs, alternating)", ndom_virt);
        report(what, tv, vm_rounds);
        printf("ratio: libvirt's all-VM record takes %.1fx uniserver's (median latency, same run)\n",
               median_us(tv, vm_rounds) / median_us(t, vm_rounds));
    }
    if (vc)
        lv.close(vc);
    uniConnectClose(c);
    return 0;
}
