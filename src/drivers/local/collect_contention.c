/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's contention collector: memory contention, and CPU contention from
 * /proc/loadavg and PSI. */
#include "local_internal.h"

int collect_contention(local_state *s, uniRecordPtr rec, const meminfo *m, uint64_t now, bool *ret_psi) {
    char buf[256];
    loadavg la;
    uint64_t runnable;
    ssize_t n;
    uint64_t cont_ms = 0;
    bool have_cont = false;

    /* Memory contention, the spec's formula. Every kernel prints SwapTotal and SwapFree, 0 without
     * swap (fs/proc/meminfo.c): a meminfo without them is missing data, not a host without swap. */
    if (m->have_swap) {
        rec_dbl(rec, UNI_M_HOST_MEM_CONTENTION_RATIO, -1, NULL, mem_contention_ratio(m));
        rec_dbl(rec, UNI_M_HOST_MEM_CONTENTION_PCT, -1, NULL, 100.0 * mem_contention_ratio(m));
        rec_dbl(rec, UNI_M_HOST_MEM_CONTENTION_MB, -1, NULL, mem_contention_mb(m));
    } else {
        static const unsigned ids[] = {UNI_M_HOST_MEM_CONTENTION_RATIO, UNI_M_HOST_MEM_CONTENTION_PCT,
                                       UNI_M_HOST_MEM_CONTENTION_MB};
        for (size_t i = 0; i < ELEMENTSOF(ids); i++)
            rec_absent(rec, ids[i],
                       "no SwapTotal/SwapFree in %s/meminfo (every kernel prints them): the formula needs them",
                       s->procfs);
    }

    if (s->loadavg_fd < 0) {
        const char *why = "no loadavg in procfs";
        rec_absent(rec, UNI_M_HOST_CPU_CONTENTION_RATIO, "%s", why);
        rec_absent(rec, UNI_M_HOST_CPU_MAX_UTIL_MS, "%s", why);
        /* Every Linux since 1.3 has /proc/loadavg: a procfs without it is missing a source. */
        source_down(s, SRC_LOADAVG, "%s/loadavg does not exist", s->procfs);
        return 0;
    }
    n = pread_full(s->loadavg_fd, buf, sizeof(buf));
    if (n < 0 || parse_loadavg(buf, (size_t)n, &la) < 0) {
        uni_error_errno(n < 0 ? (int)n : -EBADMSG, "%s/loadavg", s->procfs);
        return -1;
    }
    /* loadavg's running count (nr_running, kernel/sched/loadavg.c) is taken while a process reads
     * the file: that reader is running and is counted. It is not load of the host: an idle
     * 2-core host read 1/2 = 0.5. Every reading of the file includes its reader (this process, or
     * whoever captured a fixture), so one is taken off. */
    runnable = la.running > 0 ? la.running - 1 : 0;
    rec_dbl(rec, UNI_M_HOST_CPU_CONTENTION_RATIO, -1, NULL, cpu_contention_ratio(runnable, s->n_online));
    /* Spec 2.3: time at maximum utilisation, from the load against the number of CPUs, tracked
     * from one sample to the next (counted since this connection opened). */
    rec_u64(rec, UNI_M_HOST_CPU_MAX_UTIL_MS, -1, NULL, max_util_step(&s->maxu, la.load1, s->n_online, now) / 1000000);

    /* Contention time: PSI's cpu "some" total is the kernel's own account of time with a task
     * waiting for a CPU; without PSI, the windows in which runnable tasks outnumbered cores. */
    if (s->psi_fd[0] >= 0) {
        psi p;
        n = pread_full(s->psi_fd[0], buf, sizeof(buf));
        if (n >= 0 && parse_psi(buf, (size_t)n, &p) == 0) {
            cont_ms = p.some_us / 1000;
            have_cont = true;
            *ret_psi = true;
            s->psi_cpu = p;
            s->psi_cpu_fresh = true;
        }
    }
    if (!have_cont) {
        if (s->have_last && runnable > s->n_online)
            s->cont_ns += now - s->last_ns;
        cont_ms = s->cont_ns / 1000000;
        have_cont = true;
    }
    rec_u64(rec, UNI_M_HOST_CPU_CONTENTION_MS, -1, NULL, cont_ms);
    if (s->have_cont_prev && s->have_last && now > s->last_ns) {
        double win_ms = (double)(now - s->last_ns) / 1e6;
        double d = cont_ms >= s->cont_prev_ms ? (double)(cont_ms - s->cont_prev_ms) : 0;
        double pct = 100.0 * d / win_ms;
        rec_dbl(rec, UNI_M_HOST_CPU_CONTENTION_PCT, -1, NULL, pct > 100 ? 100 : pct);
    } else
        rec_absent(rec, UNI_M_HOST_CPU_CONTENTION_PCT, "first sample: rates need a second sample (a window)");
    s->cont_prev_ms = cont_ms;
    s->have_cont_prev = true;
    return 0;
}
