/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's power collector (RAPL energy counters, hwmon power meters). */
#include "local_internal.h"

void collect_power(local_state *s, uniRecordPtr rec, uint64_t now) {
    double w[4] = {0, 0, 0, 0}; /* indexed by power_class */
    bool have[4] = {false, false, false, false};
    bool have_rapl_rate = s->have_power_prev && now > s->power_ns;
    double dt_s = have_rapl_rate ? (double)(now - s->power_ns) / 1e9 : 0;
    double total;
    bool have_total, unknown = false;
    char why_unknown[256] = "";

    for (unsigned i = 0; i < s->nrapl; i++) {
        rapl_zone *z = &s->rapl[i];
        uint64_t uj;
        if (pread_u64(z->fd, &uj) < 0)
            continue;
        if (z->have_prev && have_rapl_rate) {
            uint64_t d = counter_delta(z->prev, uj, z->max_range);
            if (d == UINT64_MAX) {
                unknown = true;
                snprintf(why_unknown, sizeof(why_unknown),
                         "a RAPL energy counter went down from %llu to %llu uJ (range %llu): reset, not wrapped; "
                         "this window's power is unknown",
                         (unsigned long long)z->prev, (unsigned long long)uj, (unsigned long long)z->max_range);
            } else {
                w[z->cls] += (double)d / 1e6 / dt_s;
                have[z->cls] = true;
            }
        }
        z->prev = uj;
        z->have_prev = true;
    }
    for (unsigned i = 0; i < s->npowers; i++) {
        uint64_t uw;
        if (pread_u64(s->powers[i].fd, &uw) < 0)
            continue;
        w[s->powers[i].cls] += (double)uw / 1e6;
        have[s->powers[i].cls] = true;
    }
    if (unknown) {
        /* A part of the sum is unknown: so is the sum, and the energy of the window. */
        rec_absent(rec, UNI_M_HOST_POWER_CPU_W, "%s", why_unknown);
        rec_absent(rec, UNI_M_HOST_POWER_MEM_W, "%s", why_unknown);
        rec_absent(rec, UNI_M_HOST_POWER_TOTAL_W, "%s", why_unknown);
        rec_absent(rec, UNI_M_HOST_ENERGY_TOTAL_KWH, "%s", why_unknown);
        have[POWER_CPU] = have[POWER_MEM] = have[POWER_TOTAL] = have[POWER_OTHER] = false;
    }
    if (have[POWER_CPU])
        rec_dbl(rec, UNI_M_HOST_POWER_CPU_W, -1, NULL, w[POWER_CPU]);
    if (have[POWER_MEM])
        rec_dbl(rec, UNI_M_HOST_POWER_MEM_W, -1, NULL, w[POWER_MEM]);
    /* Total: a whole-platform meter (RAPL psys, a power meter) where there is one, else the sum
     * of every domain measured. */
    have_total = have[POWER_TOTAL] || have[POWER_CPU] || have[POWER_MEM] || have[POWER_OTHER];
    total = have[POWER_TOTAL] ? w[POWER_TOTAL] : w[POWER_CPU] + w[POWER_MEM] + w[POWER_OTHER];
    if (have_total) {
        rec_dbl(rec, UNI_M_HOST_POWER_TOTAL_W, -1, NULL, total);
        if (s->have_power_prev) {
            s->energy_j += total * (double)(now - s->power_ns) / 1e9;
            rec_dbl(rec, UNI_M_HOST_ENERGY_TOTAL_KWH, -1, NULL, s->energy_j / 3.6e6);
        }
    }
    {
        const char *first = "first sample: RAPL power is an energy difference and needs a window";
        bool rapl_only = s->nrapl > 0 && !have_rapl_rate;
        if (s->nrapl == 0 && s->npowers == 0) {
            char why[512];
            snprintf(why, sizeof(why),
                     "no power source (no RAPL zone in %s/class/powercap readable, no hwmon power*_input)", s->sysfs);
            rec_absent(rec, UNI_M_HOST_POWER_CPU_W, "%s", why);
            rec_absent(rec, UNI_M_HOST_POWER_MEM_W, "%s", why);
            rec_absent(rec, UNI_M_HOST_POWER_TOTAL_W, "%s", why);
            rec_absent(rec, UNI_M_HOST_ENERGY_TOTAL_KWH, "%s", why);
        } else if (rapl_only) {
            rec_absent(rec, UNI_M_HOST_POWER_CPU_W, "%s", first);
            rec_absent(rec, UNI_M_HOST_POWER_MEM_W, "%s", first);
            rec_absent(rec, UNI_M_HOST_POWER_TOTAL_W, "%s", first);
        }
        rec_absent(rec, UNI_M_HOST_POWER_CPU_W, "no CPU power domain (RAPL package, hwmon CPU power)");
        rec_absent(rec, UNI_M_HOST_POWER_MEM_W, "no memory power domain (RAPL dram, hwmon DRAM power)");
        rec_absent(rec, UNI_M_HOST_ENERGY_TOTAL_KWH,
                   "first sample: energy is integrated over the connection's windows");
    }
    s->power_ns = now;
    s->have_power_prev = true;
}
