/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hardware performance counters of a VM (spec Table 1: cycles, instructions, cache references
 * and misses): perf_event_open on each vCPU thread, counting from when uniserver first saw it.
 * Hosts without a PMU (most VMs, this build machine) refuse with ENOENT: the metrics are then
 * absent with the kernel's reason. */
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "vms.h"

static const uint64_t hw_config[PERF_NEVENTS] = {
    [PERF_CYCLES] = PERF_COUNT_HW_CPU_CYCLES,
    [PERF_INSTRUCTIONS] = PERF_COUNT_HW_INSTRUCTIONS,
    [PERF_CACHE_REFERENCES] = PERF_COUNT_HW_CACHE_REFERENCES,
    [PERF_CACHE_MISSES] = PERF_COUNT_HW_CACHE_MISSES,
};

static int open_counter(pid_t tid, uint64_t config) {
    struct perf_event_attr a;
    long fd;

    memset(&a, 0, sizeof(a));
    a.size = sizeof(a);
    a.type = PERF_TYPE_HARDWARE;
    a.config = config;
    a.exclude_hv = 1;
    fd = syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
    return fd < 0 ? -errno : (int)fd;
}

int perf_probe(char *why, size_t whylen) {
    int fd = open_counter(getpid(), PERF_COUNT_HW_CPU_CYCLES);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    switch (-fd) {
    case ENOENT:
    case EOPNOTSUPP:
        snprintf(why, whylen,
                 "no hardware PMU: perf_event_open(PERF_TYPE_HARDWARE) fails with %s (a virtual machine without PMU "
                 "passthrough?)",
                 strerror(-fd));
        break;
    case EACCES:
    case EPERM:
        snprintf(why, whylen, "perf_event_open refused (%s): needs CAP_PERFMON or a lower kernel.perf_event_paranoid",
                 strerror(-fd));
        break;
    case ENOSYS:
        snprintf(why, whylen, "the kernel has no perf events (CONFIG_PERF_EVENTS)");
        break;
    default:
        snprintf(why, whylen, "perf_event_open(PERF_TYPE_HARDWARE) fails: %s", strerror(-fd));
    }
    return fd;
}

typedef struct {
    pid_t tid;
    int fd[PERF_NEVENTS];
    uint64_t last[PERF_NEVENTS];
} perf_thread;

struct perf_vm {
    perf_thread *t;
    size_t n;
    uint64_t gone[PERF_NEVENTS]; /* counts of threads that have exited */
};

static void close_thread(perf_thread *t) {
    for (int e = 0; e < PERF_NEVENTS; e++)
        closep(&t->fd[e]);
}

int perf_vm_read(perf_vm **pvp, const pid_t *tids, size_t ntids, uint64_t ret_counts[PERF_NEVENTS]) {
    perf_vm *pv = *pvp;

    if (!pv) {
        pv = calloc(1, sizeof(*pv));
        if (!pv)
            return -ENOMEM;
        *pvp = pv;
    }
    /* Threads that left: keep their last counts, close their fds. */
    for (size_t i = 0; i < pv->n;) {
        bool still = false;
        for (size_t k = 0; k < ntids && !still; k++)
            still = tids[k] == pv->t[i].tid;
        if (still) {
            i++;
            continue;
        }
        for (int e = 0; e < PERF_NEVENTS; e++)
            pv->gone[e] += pv->t[i].last[e];
        close_thread(&pv->t[i]);
        pv->t[i] = pv->t[--pv->n];
    }
    for (size_t k = 0; k < ntids; k++) {
        bool known = false;
        perf_thread *nt;
        for (size_t i = 0; i < pv->n && !known; i++)
            known = pv->t[i].tid == tids[k];
        if (known)
            continue;
        nt = realloc(pv->t, (pv->n + 1) * sizeof(*nt));
        if (!nt)
            return -ENOMEM;
        pv->t = nt;
        nt = &pv->t[pv->n];
        memset(nt, 0, sizeof(*nt));
        nt->tid = tids[k];
        for (int e = 0; e < PERF_NEVENTS; e++) {
            nt->fd[e] = open_counter(tids[k], hw_config[e]);
            if (nt->fd[e] < 0) {
                int r = nt->fd[e];
                for (int x = 0; x < e; x++)
                    closep(&nt->fd[x]);
                return r;
            }
        }
        pv->n++;
    }
    for (int e = 0; e < PERF_NEVENTS; e++)
        ret_counts[e] = pv->gone[e];
    for (size_t i = 0; i < pv->n; i++)
        for (int e = 0; e < PERF_NEVENTS; e++) {
            uint64_t v;
            if (read(pv->t[i].fd[e], &v, sizeof(v)) == (ssize_t)sizeof(v))
                pv->t[i].last[e] = v;
            ret_counts[e] += pv->t[i].last[e];
        }
    return 0;
}

void perf_vm_free(perf_vm *pv) {
    if (!pv)
        return;
    for (size_t i = 0; i < pv->n; i++)
        close_thread(&pv->t[i]);
    free(pv->t);
    free(pv);
}
