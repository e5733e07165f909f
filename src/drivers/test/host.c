/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The test driver's host record: CPU times, frequencies, memory, contention, PSI, temperatures and power of the board at virtual time t. */
#include <math.h>

#include "drivers/local/parsers.h"
#include "drivers/test/test.h"

/* Everything below is a function of the virtual time and the board's settings alone, so that a
 * value does not depend on which calls came before. Three seconds in ten the board is overloaded. */
static bool sim_busy(uint64_t t) {
    return t % 10 < 3;
}
static double sim_cpu_w(uint64_t t) {
    return 12.5 + (double)(t % 4) * 0.5;
}
/* DRAM power: a constant (the model's sb_dram_power_w follows the refresh and the load; this
 * one is pinned by the tests of the spec's calls). IO power: the board's (sb_io_power_w). */
#define SIM_MEM_W 4.25

static const double max_mhz = SB_MAX_KHZ / 1000.0;

/* What PMD p runs, in MHz: the model's frequency for its governor and settings. */
unsigned sim_pmd_mhz(const test_state *s, int pmd) {
    return sb_pmd_khz(&s->board, pmd) / 1000;
}

/* CPU power scales with V^2 x f per PMD (the model's dynamic power, sb_pmd_v2f), normalised so
 * that the board as it starts draws sim_cpu_w(). */
static double pmd_power_factor(const test_state *s) {
    double now = 0;
    for (int p = 0; p < SB_NPMD; p++)
        now += sb_pmd_v2f(&s->board, p);
    return now / s->v2f0;
}

/* The board's power at time t, its CPU power scaled by @k (pmd_power_factor). */
static double sim_power_w(const test_state *s, uint64_t t, double k) {
    return sim_cpu_w(t) * k + SIM_MEM_W + sb_io_power_w(&s->board);
}

/* Energy integrates the power of each one-second window since the connection opened: up to the
 * last change of the board (energy_base_j at energy_base_t), then at the board's power now. */
static double sim_energy_j(const test_state *s, uint64_t t) {
    double e = s->energy_base_j, k = pmd_power_factor(s);
    for (uint64_t w = s->energy_base_t + 1; w <= t; w++)
        if (w >= 2)
            e += sim_power_w(s, w, k) * TICK_MS / 1000.0;
    return e;
}

void sim_energy_fold(test_state *s) {
    s->energy_base_j = sim_energy_j(s, s->tick);
    s->energy_base_t = s->tick;
}

/* Jiffies (100 Hz) of core c after t seconds: core c is busy as the board's load asks (sb_init:
 * 10 + 10c %; not stretched by a slower clock, as the model's sb_pmd_util is), of which a fifth
 * in the kernel; 2 % iowait; the rest idle. */
static void sim_times(const test_state *s, unsigned c, uint64_t t, cpu_times *ct) {
    uint64_t total = t * 100, busy = total * (uint64_t)llround(s->board.load[c] * 100) / 100;
    memset(ct, 0, sizeof(*ct));
    ct->t[CPUT_SYSTEM] = busy / 5;
    ct->t[CPUT_USER] = busy - busy / 5;
    ct->t[CPUT_IOWAIT] = total * 2 / 100;
    ct->t[CPUT_IDLE] = total - busy - ct->t[CPUT_IOWAIT];
    ct->present = true;
}

int test_node_get_stats(uniConnectPtr conn, const uni_select *sel, uniRecordPtr rec, unsigned flags) {
    test_state *s = conn->priv;
    uint64_t t = ++s->tick;

    (void)flags; /* the simulation never fails */
    rec_str(rec, UNI_M_HOST_SOURCE_NAME_STATE, -1, "simulation", "up");
    rec_u64(rec, UNI_M_HOST_SOURCE_NAME_UP, -1, "simulation", 1);
    rec_dbl(rec, UNI_M_HOST_SOURCE_NAME_DURATION_MS, -1, "simulation", 0);
    rec_u64(rec, UNI_M_HOST_SOURCE_NAME_ERRORS, -1, "simulation", 0);
    rec_absent(rec, UNI_M_HOST_SOURCE_NAME_LAST_ERROR, "%s", "no source is failing");
    bool first = t == 1;

    rec->window_ms = first ? -1 : TICK_MS;
    if (uni_select_group(sel, UNI_GROUP_CPU)) {
        cpu_times all_a = {0}, all_b = {0};
        rec_u64(rec, UNI_M_HOST_CPU_COUNT, -1, NULL, SB_NCPU);
        /* The board boots with the connection: one boot, one id. */
        rec_str(rec, UNI_M_HOST_BOOT_ID, -1, NULL, "5eb0a4d0-0000-4000-8000-000000000001");
        rec_dbl(rec, UNI_M_HOST_CPU_CAPACITY_MHZ, -1, NULL, SB_NCPU * max_mhz);
        for (unsigned c = 0; c < SB_NCPU; c++) {
            cpu_times a, b;
            sim_times(s, c, t - 1, &a);
            sim_times(s, c, t, &b);
            for (int k = 0; k < CPUT_MAX; k++) {
                all_a.t[k] += a.t[k];
                all_b.t[k] += b.t[k];
            }
            if (!first) {
                double u = pct_of(cpu_times_busy(&b) - cpu_times_busy(&a), cpu_times_total(&b) - cpu_times_total(&a));
                rec_dbl(rec, UNI_M_HOST_CPU_N_UTIL_PCT, (int)c, NULL, u);
                rec_dbl(rec, UNI_M_HOST_CPU_N_UTIL_MHZ, (int)c, NULL, u * max_mhz / 100.0);
            }
        }
        rec_u64(rec, UNI_M_HOST_CPU_IOWAIT_MS, -1, NULL, jiffies_to_ms(all_b.t[CPUT_IOWAIT], 100));
        rec_u64(rec, UNI_M_HOST_CPU_IDLE_MS, -1, NULL, jiffies_to_ms(all_b.t[CPUT_IDLE], 100));
        rec_u64(rec, UNI_M_HOST_CPU_SYSTEM_MS, -1, NULL, jiffies_to_ms(all_b.t[CPUT_SYSTEM], 100));
        if (!first) {
            uint64_t dt = cpu_times_total(&all_b) - cpu_times_total(&all_a);
            double u = pct_of(cpu_times_busy(&all_b) - cpu_times_busy(&all_a), dt);
            rec_dbl(rec, UNI_M_HOST_CPU_UTIL_PCT, -1, NULL, u);
            rec_dbl(rec, UNI_M_HOST_CPU_UTIL_MHZ, -1, NULL, u * SB_NCPU * max_mhz / 100.0);
            rec_dbl(rec, UNI_M_HOST_CPU_IOWAIT_PCT, -1, NULL, pct_of(all_b.t[CPUT_IOWAIT] - all_a.t[CPUT_IOWAIT], dt));
            rec_dbl(rec, UNI_M_HOST_CPU_IDLE_PCT, -1, NULL, pct_of(all_b.t[CPUT_IDLE] - all_a.t[CPUT_IDLE], dt));
            rec_dbl(rec, UNI_M_HOST_CPU_SYSTEM_PCT, -1, NULL, pct_of(all_b.t[CPUT_SYSTEM] - all_a.t[CPUT_SYSTEM], dt));
        } else {
            unsigned ids[] = {UNI_M_HOST_CPU_UTIL_PCT,   UNI_M_HOST_CPU_UTIL_MHZ,   UNI_M_HOST_CPU_N_UTIL_PCT,
                              UNI_M_HOST_CPU_N_UTIL_MHZ, UNI_M_HOST_CPU_IOWAIT_PCT, UNI_M_HOST_CPU_IDLE_PCT,
                              UNI_M_HOST_CPU_SYSTEM_PCT};
            for (size_t i = 0; i < ELEMENTSOF(ids); i++)
                rec_absent(rec, ids[i], "%s", WHY_FIRST);
        }
    }
    if (uni_select_group(sel, UNI_GROUP_FREQ)) {
        double rsum = 0, rmhz = 0;
        const char *gov = sb_governor_names[s->board.gov[0]], *pol = uni_policy_of_governor(gov);
        for (unsigned c = 0; c < SB_NCPU; c++) {
            double f = sim_pmd_mhz(s, (int)c / 2);
            const char *g = sb_governor_names[s->board.gov[c / 2]];
            rec_dbl(rec, UNI_M_HOST_CPU_N_FREQ_MHZ, (int)c, NULL, f);
            rec_dbl(rec, UNI_M_HOST_CPU_N_MAX_MHZ, (int)c, NULL, max_mhz);
            rec_dbl(rec, UNI_M_HOST_CPU_N_RESERVED_PCT, (int)c, NULL, reserved_pct(f, max_mhz));
            rec_str(rec, UNI_M_HOST_CPU_N_GOVERNOR, (int)c, NULL, g);
            rsum += reserved_pct(f, max_mhz);
            rmhz += max_mhz - f;
            if (gov && !streq(gov, g))
                gov = NULL;
            if (pol && !streq(pol, uni_policy_of_governor(g)))
                pol = NULL;
        }
        rec_dbl(rec, UNI_M_HOST_CPU_RESERVED_PCT, -1, NULL, rsum / SB_NCPU);
        rec_dbl(rec, UNI_M_HOST_CPU_RESERVED_MHZ, -1, NULL, rmhz);
        rec_str(rec, UNI_M_HOST_CPU_GOVERNOR, -1, NULL, gov ? gov : "mixed");
        rec_str(rec, UNI_M_HOST_CPU_POWER_POLICY, -1, NULL, pol ? pol : "mixed");
    }
    if (uni_select_group(sel, UNI_GROUP_MEM) || uni_select_group(sel, UNI_GROUP_CONTENTION)) {
        /* 16 GiB board; 1 GiB of swap of which 256 MiB is used; a VM is growing by 16 MiB/s. */
        meminfo m = {.mem_total_kb = (uint64_t)SB_NMC * SB_DIMMS * SB_DIMM_MB * 1024,
                     .mem_free_kb = 4194304 - (t % 60) * 16384,
                     .mem_available_kb = 8388608,
                     .cached_kb = 3145728,
                     .swap_total_kb = 1048576,
                     .swap_free_kb = 786432,
                     .have_available = true,
                     .have_cached = true,
                     .have_swap = true};
        rec_dbl(rec, UNI_M_HOST_MEM_TOTAL_MB, -1, NULL, (double)m.mem_total_kb / 1024);
        rec_dbl(rec, UNI_M_HOST_MEM_AVAILABLE_MB, -1, NULL, (double)m.mem_available_kb / 1024);
        rec_dbl(rec, UNI_M_HOST_MEM_AVAILABLE_PCT, -1, NULL, pct_of(m.mem_available_kb, m.mem_total_kb));
        rec_dbl(rec, UNI_M_HOST_MEM_UTIL_PCT, -1, NULL, mem_util_pct(m.mem_total_kb, m.mem_available_kb));
        rec_dbl(rec, UNI_M_HOST_MEM_CACHED_MB, -1, NULL, (double)m.cached_kb / 1024);
        rec_dbl(rec, UNI_M_HOST_MEM_CACHED_PCT, -1, NULL, pct_of(m.cached_kb, m.mem_total_kb));
        rec_dbl(rec, UNI_M_HOST_SWAP_TOTAL_MB, -1, NULL, (double)m.swap_total_kb / 1024);
        rec_dbl(rec, UNI_M_HOST_MEM_CONTENTION_RATIO, -1, NULL, mem_contention_ratio(&m));
        rec_dbl(rec, UNI_M_HOST_MEM_CONTENTION_PCT, -1, NULL, 100 * mem_contention_ratio(&m));
        rec_dbl(rec, UNI_M_HOST_MEM_CONTENTION_MB, -1, NULL, mem_contention_mb(&m));
    }
    if (uni_select_group(sel, UNI_GROUP_CONTENTION)) {
        /* Overloaded seconds: 10 runnable tasks on 8 cores, load 9; else 3 tasks, load 4. The
         * contention time counts the windows ending overloaded; the time at maximum utilisation
         * is the spec's stamp algorithm replayed over one sample a second. */
        max_util_state mu = {0};
        uint64_t cont_ms = 0, max_ms = 0;
        for (uint64_t k = 1; k <= t; k++) {
            if (k >= 2 && sim_busy(k))
                cont_ms += TICK_MS;
            max_ms = max_util_step(&mu, sim_busy(k) ? 9.0 : 4.0, SB_NCPU, k * TICK_MS * 1000000ull) / 1000000;
        }
        rec_dbl(rec, UNI_M_HOST_CPU_CONTENTION_RATIO, -1, NULL, cpu_contention_ratio(sim_busy(t) ? 10 : 3, SB_NCPU));
        rec_u64(rec, UNI_M_HOST_CPU_CONTENTION_MS, -1, NULL, cont_ms);
        if (!first)
            rec_dbl(rec, UNI_M_HOST_CPU_CONTENTION_PCT, -1, NULL, sim_busy(t) ? 100.0 : 0.0);
        else
            rec_absent(rec, UNI_M_HOST_CPU_CONTENTION_PCT, "%s", WHY_FIRST);
        rec_u64(rec, UNI_M_HOST_CPU_MAX_UTIL_MS, -1, NULL, max_ms);
    }
    if (uni_select_group(sel, UNI_GROUP_PSI)) {
        rec_u64(rec, UNI_M_HOST_PSI_CPU_SOME_MS, -1, NULL, t * 120);
        rec_u64(rec, UNI_M_HOST_PSI_MEM_SOME_MS, -1, NULL, t * 15);
        rec_u64(rec, UNI_M_HOST_PSI_MEM_FULL_MS, -1, NULL, t * 5);
        rec_u64(rec, UNI_M_HOST_PSI_IO_SOME_MS, -1, NULL, t * 30);
        rec_u64(rec, UNI_M_HOST_PSI_IO_FULL_MS, -1, NULL, t * 10);
    }
    if (uni_select_group(sel, UNI_GROUP_MEMHW)) {
        rec_dbl(rec, UNI_M_HOST_MEM_SPEED_MHZ, -1, NULL, 1600);
        /* One value for the host: the longest period, the channel with the least margin. */
        int refresh = 0;
        for (int c = 0; c < SB_NMC; c++)
            refresh = s->board.refresh_ms[c] > refresh ? s->board.refresh_ms[c] : refresh;
        rec_dbl(rec, UNI_M_HOST_MEM_REFRESH_MS, -1, NULL, refresh);
    }
    if (uni_select_group(sel, UNI_GROUP_TEMP)) {
        double sum = 0;
        for (unsigned c = 0; c < SB_NCPU; c++) {
            /* Hotter at higher frequency; a slow 0.5 C ripple over 5 s. */
            double tc = 38.0 + sim_pmd_mhz(s, (int)c / 2) / 200.0 + (double)c * 0.25 + (double)(t % 5) * 0.5;
            rec_dbl(rec, UNI_M_HOST_CPU_N_TEMP_C, (int)c, NULL, tc);
            sum += tc;
        }
        rec_dbl(rec, UNI_M_HOST_TEMP_CPU_AVG_C, -1, NULL, sum / SB_NCPU);
    }
    if (uni_select_group(sel, UNI_GROUP_POWER)) {
        double k = pmd_power_factor(s);
        rec_dbl(rec, UNI_M_HOST_POWER_CPU_W, -1, NULL, sim_cpu_w(t) * k);
        rec_dbl(rec, UNI_M_HOST_POWER_MEM_W, -1, NULL, SIM_MEM_W);
        rec_dbl(rec, UNI_M_HOST_POWER_TOTAL_W, -1, NULL, sim_power_w(s, t, k));
        if (!first)
            rec_dbl(rec, UNI_M_HOST_ENERGY_TOTAL_KWH, -1, NULL, sim_energy_j(s, t) / 3.6e6);
        else
            rec_absent(rec, UNI_M_HOST_ENERGY_TOTAL_KWH,
                       "first sample: energy is integrated over the connection's windows");
    }
    if (uni_select_group(sel, UNI_GROUP_ERRORS))
        if (uni_select_group(sel, UNI_GROUP_ERRORS))
            sim_errors(rec, t);
    sim_vms_host(rec, sel, t, first);
    rec_absent(rec, UNI_M_HOST_DISK_UTIL_PCT, "the simulated board has no disks");
    rec_absent_ledger(rec);
    return 0;
}
