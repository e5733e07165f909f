/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's CPU collector (/proc/stat): CPU times, utilisation and capacity. */
#include <math.h>

#include "local_internal.h"

static double cpu_max_mhz(const local_state *s, unsigned c) {
    int p = s->cpu_policy[c];
    if (p >= 0 && s->policies[p].max_khz)
        return (double)s->policies[p].max_khz / 1000.0;
    return NAN;
}

/* The capacity of core c: cpufreq's maximum, else what /proc/cpuinfo said at open. */
static double cpu_capacity_mhz(const local_state *s, unsigned c) {
    double m = cpu_max_mhz(s, c);
    return isnan(m) ? s->cpuinfo_mhz[c] : m;
}

int collect_cpu(local_state *s, uniRecordPtr rec, uint64_t now) {
    proc_stat *cur = &s->stat[s->cur ^ 1], *prev = &s->stat[s->cur];
    double cap = 0;
    bool have_cap = true;
    ssize_t n;
    int r;

    if (s->online_fd >= 0)
        (void)read_online(s);
    rec_u64(rec, UNI_M_HOST_CPU_COUNT, -1, NULL, s->n_online);
    for (unsigned c = 0; c < s->ncpu; c++)
        if (cpu_online(s, c)) {
            double m = cpu_capacity_mhz(s, c);
            if (isnan(m))
                have_cap = false;
            else
                cap += m;
        }
    if (have_cap)
        rec_dbl(rec, UNI_M_HOST_CPU_CAPACITY_MHZ, -1, NULL, cap);
    else
        rec_absent(rec, UNI_M_HOST_CPU_CAPACITY_MHZ,
                   "no cpufreq and no 'cpu MHz' in %s/cpuinfo: core frequencies unknown", s->procfs);

    n = pread_buf(s, s->stat_fd);
    if (n < 0) {
        uni_error_errno((int)n, "%s/stat", s->procfs);
        return -1;
    }
    r = parse_proc_stat(s->buf, (size_t)n, cur);
    if (r < 0) {
        uni_error_errno(r, "%s/stat", s->procfs);
        return -1;
    }
    rec_u64(rec, UNI_M_HOST_CPU_IOWAIT_MS, -1, NULL, jiffies_to_ms(cur->all.t[CPUT_IOWAIT], s->hz));
    rec_u64(rec, UNI_M_HOST_CPU_IDLE_MS, -1, NULL, jiffies_to_ms(cur->all.t[CPUT_IDLE], s->hz));
    rec_u64(rec, UNI_M_HOST_CPU_SYSTEM_MS, -1, NULL, jiffies_to_ms(cur->all.t[CPUT_SYSTEM], s->hz));

    if (!s->have_stat_prev) {
        const char *why = "first sample: rates need a second sample (a window)";
        rec_absent(rec, UNI_M_HOST_CPU_UTIL_PCT, "%s", why);
        rec_absent(rec, UNI_M_HOST_CPU_UTIL_MHZ, "%s", why);
        rec_absent(rec, UNI_M_HOST_CPU_N_UTIL_PCT, "%s", why);
        rec_absent(rec, UNI_M_HOST_CPU_N_UTIL_MHZ, "%s", why);
        rec_absent(rec, UNI_M_HOST_CPU_IOWAIT_PCT, "%s", why);
        rec_absent(rec, UNI_M_HOST_CPU_IDLE_PCT, "%s", why);
        rec_absent(rec, UNI_M_HOST_CPU_SYSTEM_PCT, "%s", why);
    } else {
        uint64_t dt = cpu_times_total(&cur->all) - cpu_times_total(&prev->all);
        uint64_t db = cpu_times_busy(&cur->all) - cpu_times_busy(&prev->all);
        if (dt == 0 || cpu_times_total(&cur->all) < cpu_times_total(&prev->all)) {
            const char *why = "no CPU time elapsed in the window";
            rec_absent(rec, UNI_M_HOST_CPU_UTIL_PCT, "%s", why);
            rec_absent(rec, UNI_M_HOST_CPU_UTIL_MHZ, "%s", why);
            rec_absent(rec, UNI_M_HOST_CPU_IOWAIT_PCT, "%s", why);
            rec_absent(rec, UNI_M_HOST_CPU_IDLE_PCT, "%s", why);
            rec_absent(rec, UNI_M_HOST_CPU_SYSTEM_PCT, "%s", why);
        } else {
            double util = pct_of(db, dt);
            rec_dbl(rec, UNI_M_HOST_CPU_UTIL_PCT, -1, NULL, util);
            if (have_cap)
                rec_dbl(rec, UNI_M_HOST_CPU_UTIL_MHZ, -1, NULL, util * cap / 100.0);
            else
                rec_absent(rec, UNI_M_HOST_CPU_UTIL_MHZ, "core frequencies unknown");
            rec_dbl(rec, UNI_M_HOST_CPU_IOWAIT_PCT, -1, NULL,
                    pct_of(cur->all.t[CPUT_IOWAIT] - prev->all.t[CPUT_IOWAIT], dt));
            rec_dbl(rec, UNI_M_HOST_CPU_IDLE_PCT, -1, NULL, pct_of(cur->all.t[CPUT_IDLE] - prev->all.t[CPUT_IDLE], dt));
            rec_dbl(rec, UNI_M_HOST_CPU_SYSTEM_PCT, -1, NULL,
                    pct_of(cur->all.t[CPUT_SYSTEM] - prev->all.t[CPUT_SYSTEM], dt));
        }
        for (unsigned c = 0; c < s->ncpu; c++) {
            const cpu_times *a = &prev->cpu[c], *b = &cur->cpu[c];
            uint64_t cdt, cdb;
            double u, m;
            if (!cpu_online(s, c) || !a->present || !b->present)
                continue;
            cdt = cpu_times_total(b) - cpu_times_total(a);
            cdb = cpu_times_busy(b) - cpu_times_busy(a);
            /* A CPU that went offline and back restarts its counters: skip that window. */
            if (cdt == 0 || cpu_times_total(b) < cpu_times_total(a))
                continue;
            u = pct_of(cdb, cdt);
            rec_dbl(rec, UNI_M_HOST_CPU_N_UTIL_PCT, (int)c, NULL, u);
            m = cpu_capacity_mhz(s, c);
            if (!isnan(m))
                rec_dbl(rec, UNI_M_HOST_CPU_N_UTIL_MHZ, (int)c, NULL, u * m / 100.0);
        }
        rec_absent(rec, UNI_M_HOST_CPU_N_UTIL_PCT, "no CPU time elapsed in the window");
        rec_absent(rec, UNI_M_HOST_CPU_N_UTIL_MHZ, "core frequencies unknown");
    }
    s->cur ^= 1;
    s->have_stat_prev = true;
    s->stat_ns = now;
    return 0;
}
