/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The spec's derived metrics (D5.1 section 2.3), exactly as written there, plus counter helpers. */
#include <math.h>

#include "parsers.h"

double reserved_pct(double f_cur, double f_max) {
    double r;
    if (!(f_max > 0) || !(f_cur >= 0))
        return NAN;
    /* Turbo runs above cpuinfo_max_freq (intel_pstate, amd-pstate report the nominal maximum):
     * nothing is reserved then, not a negative share. */
    r = 100.0 * (1.0 - f_cur / f_max);
    return r < 0 ? 0 : r > 100 ? 100 : r;
}

double mem_contention_ratio(const meminfo *m) {
    double used_swap = (double)m->swap_total_kb - (double)m->swap_free_kb;
    return 1.0 - ((double)m->mem_free_kb - used_swap) / (double)m->mem_total_kb;
}

double mem_contention_mb(const meminfo *m) {
    double used_swap = (double)m->swap_total_kb - (double)m->swap_free_kb;
    double d = used_swap - (double)m->mem_free_kb;
    return d > 0 ? d / 1024.0 : 0.0;
}

double cpu_contention_ratio(uint64_t runnable, unsigned cores) {
    return cores ? (double)runnable / (double)cores : NAN;
}

double pct_of(uint64_t part, uint64_t total) {
    return total ? 100.0 * (double)part / (double)total : NAN;
}

uint64_t max_util_step(max_util_state *s, double load, unsigned ncpu, uint64_t now) {
    bool at_max = ncpu > 0 && load >= (double)ncpu;

    if (at_max && !s->at_max) {
        s->since_ns = now;
        s->at_max = true;
    } else if (!at_max && s->at_max) {
        s->total_ns += now - s->since_ns;
        s->since_ns = 0;
        s->at_max = false;
    }
    return s->total_ns + (s->at_max ? now - s->since_ns : 0);
}

uint64_t counter_delta(uint64_t prev, uint64_t cur, uint64_t max_range) {
    uint64_t d;
    if (cur >= prev)
        return cur - prev;
    /* The counter wrapped once at max_range (turbostat does the same)... */
    if (max_range < prev)
        return UINT64_MAX;
    d = max_range - prev + cur;
    /* ... unless that would be more than half the range in one window: a counter that went
     * down by far less than its range was reset (or is not monotonic), and the difference over
     * this window is unknown, not the rest of the range (131 kW). */
    return d > max_range / 2 ? UINT64_MAX : d;
}

uint64_t jiffies_to_ms(uint64_t j, long hz) {
    return hz > 0 ? j * 1000 / (uint64_t)hz : 0;
}

double mem_util_pct(uint64_t total_kb, uint64_t available_kb) {
    if (!total_kb)
        return NAN;
    /* MemAvailable is an estimate that can exceed MemTotal by a little on some kernels: nothing
     * is occupied then, not a negative share. */
    return available_kb >= total_kb ? 0.0 : 100.0 * (double)(total_kb - available_kb) / (double)total_kb;
}

double disk_util_pct(uint64_t used, uint64_t avail) {
    return used + avail ? 100.0 * (double)used / (double)(used + avail) : NAN;
}
