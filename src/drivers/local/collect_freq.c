/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's frequency collector (cpufreq): core frequencies, governors, power policy. */
#include <math.h>
#include <stdarg.h>

#include "local_internal.h"

/* Per-core reasons of one metric absent for some cores: "core 3: ...; core 5: ...", said once
 * as the metric's partial absence (the absence map is keyed by metric; the cores are named in
 * its reason). */
typedef struct {
    char buf[768];
    size_t o;
    unsigned n;
} core_whys;

static void why_add(core_whys *w, unsigned core, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void why_add(core_whys *w, unsigned core, const char *fmt, ...) {
    va_list ap;
    int k;
    if (w->n++ >= 16 || w->o + 64 >= sizeof(w->buf))
        return; /* the count below says how many more */
    k = snprintf(w->buf + w->o, sizeof(w->buf) - w->o, "%score %u: ", w->o ? "; " : "", core);
    if (k > 0)
        w->o += (size_t)k;
    va_start(ap, fmt);
    k = vsnprintf(w->buf + w->o, sizeof(w->buf) - w->o, fmt, ap);
    va_end(ap);
    if (k > 0)
        w->o = w->o + (size_t)k < sizeof(w->buf) ? w->o + (size_t)k : sizeof(w->buf) - 1;
}

static void why_done(core_whys *w, uniRecordPtr rec, unsigned metric) {
    if (!w->n)
        return;
    if (w->n > 16)
        rec_absent_partial(rec, metric, "%s; and %u more cores", w->buf, w->n - 16);
    else
        rec_absent_partial(rec, metric, "%s", w->buf);
}

int collect_freq(local_state *s, uniRecordPtr rec) {
    double res_sum = 0, res_mhz = 0;
    unsigned nres = 0;
    char gov_all[64] = "", pol_all[32] = "";
    bool gov_mixed = false, pol_mixed = false, have_gov = false, have_pol = false;
    char why_nofreq[512];
    core_whys w_freq = {.o = 0}, w_max = {.o = 0}, w_res = {.o = 0}, w_gov = {.o = 0};

    snprintf(why_nofreq, sizeof(why_nofreq), "no cpufreq on this host (%s/devices/system/cpu/cpuN/cpufreq missing)",
             s->sysfs);
    for (unsigned c = 0; c < s->ncpu; c++) {
        int pi = s->cpu_policy[c];
        freq_policy *p = pi >= 0 ? &s->policies[pi] : NULL;
        uint64_t khz;
        char buf[64];
        const char *pol = NULL;
        int r = -ENOENT;

        if (!cpu_online(s, c))
            continue;
        /* The maximum is the policy's, found at open: known whether or not this sample's current
         * frequency reads (capacity counts it). */
        if (p && p->max_khz)
            rec_dbl(rec, UNI_M_HOST_CPU_N_MAX_MHZ, (int)c, NULL, (double)p->max_khz / 1000.0);
        else if (s->have_cpufreq)
            why_add(&w_max, c, "%s", p ? "its cpufreq policy has no cpuinfo_max_freq" : "no cpufreq policy");
        if (p && p->cur_fd >= 0 && (r = pread_u64(p->cur_fd, &khz)) == 0) {
            double cur = (double)khz / 1000.0;
            rec_dbl(rec, UNI_M_HOST_CPU_N_FREQ_MHZ, (int)c, NULL, cur);
            rec_str(rec, UNI_M_HOST_CPU_N_FREQ_SOURCE, (int)c, NULL, "cpufreq");
            if (p->max_khz) {
                double max = (double)p->max_khz / 1000.0;
                double rp = reserved_pct(cur, max);
                rec_dbl(rec, UNI_M_HOST_CPU_N_RESERVED_PCT, (int)c, NULL, rp);
                res_sum += rp;
                res_mhz += max > cur ? max - cur : 0;
                nres++;
            } else if (s->have_cpufreq)
                why_add(&w_res, c, "no cpuinfo_max_freq");
        } else {
            const char *what = !p ? "no cpufreq policy" : p->cur_fd < 0 ? "no scaling_cur_freq" : NULL;
            char err[128];
            if (!what) {
                snprintf(err, sizeof(err), "scaling_cur_freq %s", r == -EBADMSG ? "malformed" : strerror(-r));
                what = err;
            }
            /* The fallback is named: /proc/cpuinfo's 'cpu MHz' as it was at open, not now. */
            if (!isnan(s->cpuinfo_mhz[c])) {
                rec_dbl(rec, UNI_M_HOST_CPU_N_FREQ_MHZ, (int)c, NULL, s->cpuinfo_mhz[c]);
                rec_str(rec, UNI_M_HOST_CPU_N_FREQ_SOURCE, (int)c, NULL, "cpuinfo");
            } else if (s->have_cpufreq)
                why_add(&w_freq, c, "%s, and no 'cpu MHz' in cpuinfo", what);
            if (s->have_cpufreq)
                why_add(&w_res, c, "%s", what);
        }
        if (p && p->gov_fd >= 0 && pread_line(p->gov_fd, buf, sizeof(buf)) > 0) {
            rec_str(rec, UNI_M_HOST_CPU_N_GOVERNOR, (int)c, NULL, buf);
            if (!have_gov)
                snprintf(gov_all, sizeof(gov_all), "%s", buf);
            else if (!streq(gov_all, buf))
                gov_mixed = true;
            have_gov = true;
            pol = uni_policy_of_governor(buf);
        } else if (s->have_cpufreq)
            why_add(&w_gov, c, "%s",
                    !p              ? "no cpufreq policy"
                    : p->gov_fd < 0 ? "no scaling_governor"
                                    : "scaling_governor unreadable");
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
    why_done(&w_freq, rec, UNI_M_HOST_CPU_N_FREQ_MHZ);
    why_done(&w_max, rec, UNI_M_HOST_CPU_N_MAX_MHZ);
    why_done(&w_res, rec, UNI_M_HOST_CPU_N_RESERVED_PCT);
    why_done(&w_gov, rec, UNI_M_HOST_CPU_N_GOVERNOR);
    if (w_res.n && nres) {
        /* An average over the cores that have it would pass for the host's: not given. */
        rec_absent(rec, UNI_M_HOST_CPU_RESERVED_PCT,
                   "not every online core has it (host.cpu.N.reserved_pct says which)");
        rec_absent(rec, UNI_M_HOST_CPU_RESERVED_MHZ,
                   "not every online core has it (host.cpu.N.reserved_pct says which)");
    } else if (nres) {
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
        if (!s->have_cpuinfo_mhz)
            rec_absent(rec, UNI_M_HOST_CPU_N_FREQ_SOURCE, "%s, and no 'cpu MHz' in %s/cpuinfo", why_nofreq, s->procfs);
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
