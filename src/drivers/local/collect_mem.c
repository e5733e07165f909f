/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's memory collector (/proc/meminfo). */
#include <math.h>

#include "local_internal.h"

int read_meminfo(local_state *s, meminfo *m) {
    ssize_t n = pread_buf(s, s->meminfo_fd);
    int r;
    if (n < 0) {
        uni_error_errno((int)n, "%s/meminfo", s->procfs);
        return -1;
    }
    r = parse_meminfo(s->buf, (size_t)n, m);
    if (r < 0) {
        uni_error_errno(r, "%s/meminfo", s->procfs);
        return -1;
    }
    s->mem_total_kb = m->mem_total_kb;
    s->mem_total_ns = uni_clock_ns();
    return 0;
}

/* The host's memory in MB, for the VMs' shares of it (dom.mem_pct, host.vms.mem_pct), or NAN.
 * MemTotal changes only when memory is hot-plugged: the value of a meminfo read in the last
 * 10 s serves, so that a sample reads meminfo once rather than three times. */
double mem_total_mb(local_state *s) {
    uint64_t now = uni_clock_ns();
    meminfo m;
    if ((!s->mem_total_ns || now - s->mem_total_ns > 10000000000ull) && read_meminfo(s, &m) < 0) {
        uniResetLastError();
        return NAN;
    }
    return (double)s->mem_total_kb / 1024.0;
}

void collect_mem(local_state *s, uniRecordPtr rec, const meminfo *m) {
    double total = (double)m->mem_total_kb / 1024.0;

    rec_dbl(rec, UNI_M_HOST_MEM_TOTAL_MB, -1, NULL, total);
    if (m->have_available) {
        rec_dbl(rec, UNI_M_HOST_MEM_AVAILABLE_MB, -1, NULL, (double)m->mem_available_kb / 1024.0);
        rec_dbl(rec, UNI_M_HOST_MEM_AVAILABLE_PCT, -1, NULL, pct_of(m->mem_available_kb, m->mem_total_kb));
        /* The spec's utilisation (section 2), occupied over capacity: what is not available. */
        rec_dbl(rec, UNI_M_HOST_MEM_UTIL_PCT, -1, NULL, mem_util_pct(m->mem_total_kb, m->mem_available_kb));
    } else {
        rec_absent(rec, UNI_M_HOST_MEM_UTIL_PCT, "no MemAvailable in %s/meminfo (kernel before 3.14)", s->procfs);
        rec_absent(rec, UNI_M_HOST_MEM_AVAILABLE_MB, "no MemAvailable in %s/meminfo (kernel before 3.14)", s->procfs);
        rec_absent(rec, UNI_M_HOST_MEM_AVAILABLE_PCT, "no MemAvailable in %s/meminfo (kernel before 3.14)", s->procfs);
    }
    if (m->have_cached) {
        rec_dbl(rec, UNI_M_HOST_MEM_CACHED_MB, -1, NULL, (double)m->cached_kb / 1024.0);
        rec_dbl(rec, UNI_M_HOST_MEM_CACHED_PCT, -1, NULL, pct_of(m->cached_kb, m->mem_total_kb));
    } else {
        rec_absent(rec, UNI_M_HOST_MEM_CACHED_MB, "no Cached in %s/meminfo", s->procfs);
        rec_absent(rec, UNI_M_HOST_MEM_CACHED_PCT, "no Cached in %s/meminfo", s->procfs);
    }
    if (m->have_swap)
        rec_dbl(rec, UNI_M_HOST_SWAP_TOTAL_MB, -1, NULL, (double)m->swap_total_kb / 1024.0);
    else
        rec_absent(rec, UNI_M_HOST_SWAP_TOTAL_MB,
                   "no SwapTotal in %s/meminfo (every kernel prints it, 0 without swap: missing data)", s->procfs);
}
