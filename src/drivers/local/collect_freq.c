/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's frequency collector (cpufreq): core frequencies, governors, power policy. */
#include <math.h>

#include "local_internal.h"

int collect_freq(local_state *s, uniRecordPtr rec) {
    double res_sum = 0, res_mhz = 0;
    unsigned nres = 0;
    char gov_all[64] = "", pol_all[32] = "";
    bool gov_mixed = false, pol_mixed = false, have_gov = false, have_pol = false;
    char why_nofreq[512];

    snprintf(why_nofreq, sizeof(why_nofreq), "no cpufreq on this host (%s/devices/system/cpu/cpuN/cpufreq missing)",
             s->sysfs);
    for (unsigned c = 0; c < s->ncpu; c++) {
        int pi = s->cpu_policy[c];
        freq_policy *p = pi >= 0 ? &s->policies[pi] : NULL;
        uint64_t khz;
        char buf[64];
        const char *pol = NULL;

        if (!cpu_online(s, c))
            continue;
        if (p && p->cur_fd >= 0 && pread_u64(p->cur_fd, &khz) == 0) {
            double cur = (double)khz / 1000.0;
            rec_dbl(rec, UNI_M_HOST_CPU_N_FREQ_MHZ, (int)c, NULL, cur);
            if (p->max_khz) {
                double max = (double)p->max_khz / 1000.0;
                double rp = reserved_pct(cur, max);
                rec_dbl(rec, UNI_M_HOST_CPU_N_MAX_MHZ, (int)c, NULL, max);
                rec_dbl(rec, UNI_M_HOST_CPU_N_RESERVED_PCT, (int)c, NULL, rp);
                res_sum += rp;
                res_mhz += max - cur;
                nres++;
            }
        } else if (!isnan(s->cpuinfo_mhz[c]))
            rec_dbl(rec, UNI_M_HOST_CPU_N_FREQ_MHZ, (int)c, NULL, s->cpuinfo_mhz[c]);
        if (p && p->gov_fd >= 0 && pread_line(p->gov_fd, buf, sizeof(buf)) > 0) {
            rec_str(rec, UNI_M_HOST_CPU_N_GOVERNOR, (int)c, NULL, buf);
            if (!have_gov)
                snprintf(gov_all, sizeof(gov_all), "%s", buf);
            else if (!streq(gov_all, buf))
                gov_mixed = true;
            have_gov = true;
            pol = uni_policy_of_governor(buf);
        }
        if (p && p->epp_fd >= 0 && pread_line(p->epp_fd, buf, sizeof(buf)) > 0) {
            const char *e = uni_policy_of_epp(buf);
            if (e)
                pol = e;
        }
        if (pol) {
            if (!have_pol)
                snprintf(pol_all, sizeof(pol_all), "%s", pol);
            else if (!streq(pol_all, pol))
                pol_mixed = true;
            have_pol = true;
        }
    }
    if (nres) {
        rec_dbl(rec, UNI_M_HOST_CPU_RESERVED_PCT, -1, NULL, res_sum / nres);
        rec_dbl(rec, UNI_M_HOST_CPU_RESERVED_MHZ, -1, NULL, res_mhz);
    }
    if (have_gov)
        rec_str(rec, UNI_M_HOST_CPU_GOVERNOR, -1, NULL, gov_mixed ? "mixed" : gov_all);
    if (have_pol)
        rec_str(rec, UNI_M_HOST_CPU_POWER_POLICY, -1, NULL, pol_mixed ? "mixed" : pol_all);
    if (!s->have_cpufreq) {
        if (!s->have_cpuinfo_mhz)
            rec_absent(rec, UNI_M_HOST_CPU_N_FREQ_MHZ, "%s, and no 'cpu MHz' in %s/cpuinfo", why_nofreq, s->procfs);
        rec_absent(rec, UNI_M_HOST_CPU_N_MAX_MHZ, "%s", why_nofreq);
        rec_absent(rec, UNI_M_HOST_CPU_N_RESERVED_PCT, "%s: the maximum frequency is unknown", why_nofreq);
        rec_absent(rec, UNI_M_HOST_CPU_RESERVED_PCT, "%s: the maximum frequency is unknown", why_nofreq);
        rec_absent(rec, UNI_M_HOST_CPU_RESERVED_MHZ, "%s: the maximum frequency is unknown", why_nofreq);
        rec_absent(rec, UNI_M_HOST_CPU_N_GOVERNOR, "%s", why_nofreq);
        rec_absent(rec, UNI_M_HOST_CPU_GOVERNOR, "%s", why_nofreq);
        rec_absent(rec, UNI_M_HOST_CPU_POWER_POLICY, "%s (no governor, no energy_performance_preference)", why_nofreq);
    } else {
        const char *why = "cpufreq present but its files could not be read";
        rec_absent(rec, UNI_M_HOST_CPU_N_FREQ_MHZ, "%s", why);
        rec_absent(rec, UNI_M_HOST_CPU_N_MAX_MHZ, "cpufreq has no cpuinfo_max_freq");
        rec_absent(rec, UNI_M_HOST_CPU_N_RESERVED_PCT, "cpufreq has no cpuinfo_max_freq or scaling_cur_freq");
        rec_absent(rec, UNI_M_HOST_CPU_RESERVED_PCT, "cpufreq has no cpuinfo_max_freq or scaling_cur_freq");
        rec_absent(rec, UNI_M_HOST_CPU_RESERVED_MHZ, "cpufreq has no cpuinfo_max_freq or scaling_cur_freq");
        rec_absent(rec, UNI_M_HOST_CPU_N_GOVERNOR, "cpufreq has no scaling_governor");
        rec_absent(rec, UNI_M_HOST_CPU_GOVERNOR, "cpufreq has no scaling_governor");
        rec_absent(rec, UNI_M_HOST_CPU_POWER_POLICY,
                   "cpufreq has no scaling_governor or energy_performance_preference");
    }
    return 0;
}
