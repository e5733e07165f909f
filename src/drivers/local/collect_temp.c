/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's temperature collector (hwmon and thermal zones). */
#include <math.h>

#include "local_internal.h"

void collect_temp(local_state *s, uniRecordPtr rec) {
    double core_sum = 0, pkg_sum = 0;
    unsigned ncore = 0, npkg = 0;

    for (unsigned cpu = 0; cpu < s->ncpu; cpu++)
        s->cpu_temp[cpu] = NAN;
    for (unsigned i = 0; i < s->ntemps; i++) {
        temp_sensor *t = &s->temps[i];
        int64_t mc;
        double c;
        if (pread_i64(t->fd, &mc) < 0)
            continue;
        c = (double)mc / 1000.0;
        if (t->cls == TEMP_CORE) {
            bool any = false;
            /* A core sensor covers every online CPU (SMT sibling) of that core and package. */
            for (unsigned cpu = 0; cpu < s->ncpu; cpu++)
                if (cpu_online(s, cpu) && s->core_id[cpu] == t->id && s->pkg_id[cpu] == t->pkg) {
                    s->cpu_temp[cpu] = c;
                    any = true;
                }
            if (any) {
                core_sum += c;
                ncore++;
            }
        } else {
            pkg_sum += c;
            npkg++;
        }
    }
    for (unsigned cpu = 0; cpu < s->ncpu; cpu++)
        if (!isnan(s->cpu_temp[cpu])) {
            rec_dbl(rec, UNI_M_HOST_CPU_N_TEMP_C, (int)cpu, NULL, s->cpu_temp[cpu]);
        }
    /* Spec: the mean of the per-core sensors; the package sensors where no core sensor exists. */
    if (ncore)
        rec_dbl(rec, UNI_M_HOST_TEMP_CPU_AVG_C, -1, NULL, core_sum / ncore);
    else if (npkg)
        rec_dbl(rec, UNI_M_HOST_TEMP_CPU_AVG_C, -1, NULL, pkg_sum / npkg);
    else
        rec_absent(rec, UNI_M_HOST_TEMP_CPU_AVG_C,
                   "no CPU temperature sensor (no coretemp, k10temp or X-Gene hwmon chip in %s/class/hwmon, no CPU "
                   "thermal zone in %s/class/thermal)",
                   s->sysfs, s->sysfs);
    rec_absent(rec, UNI_M_HOST_CPU_N_TEMP_C,
               "no per-core temperature sensor (coretemp 'Core N' channels) in %s/class/hwmon", s->sysfs);
}
