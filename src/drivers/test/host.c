/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The test driver's host record: the board's model advanced under a seeded workload, its counters (CPU times, contention, PSI, energy, errors) and every rate derived from them over the window, with each source's state. */
#include <math.h>

#include "drivers/test/test.h"

#define TEST_SRC_NAME_(id, name) name,
const char *const test_source_names[TEST_NSRC] = {TEST_SOURCES(TEST_SRC_NAME_)};

static const double max_mhz = SB_MAX_KHZ / 1000.0;

/* What PMD p runs, in MHz: the model's frequency for its governor and settings. */
unsigned sim_pmd_mhz(const test_state *s, int pmd) {
    return sb_pmd_khz(&s->board, pmd) / 1000;
}

void sim_set_load(test_state *s, int64_t t) {
    for (int c = 0; c < SB_NCPU; c++)
        s->board.load[c] = sb_workload_load(s->seed, c, (uint64_t)(t + HISTORY_S) * 1000);
}

/* The demand of all cores, in cores: more than SB_NCPU means tasks wait for a core. */
static double demand(const sb_model *m) {
    double d = 0;
    for (int c = 0; c < SB_NCPU; c++)
        d += m->load[c];
    return d;
}

static double avg_util(const sb_model *m) {
    double u = 0;
    for (int c = 0; c < SB_NCPU; c++)
        u += sb_core_util(m, c);
    return u / SB_NCPU;
}

/* One virtual second of the board under the workload of that second: its 100 ms ticks (CPU
 * times, temperature, energy, error draws), the counters integrated beside it, its errors into
 * the HealthLog. Pressure: CPU stalls once demand passes three quarters of the cores (all the
 * time at 1.25 x), memory and IO stall a little more the busier the board. */
static int sim_second(test_state *s) {
    int64_t t = (int64_t)++s->board_t;
    double d, u;

    sim_set_load(s, t - 1);
    d = demand(&s->board);
    u = avg_util(&s->board);
    sb_advance(&s->board, TICK_MS);
    if (d > SB_NCPU)
        s->cont_ms += TICK_MS;
    (void)max_util_step(&s->mu, d, SB_NCPU, (uint64_t)t * TICK_MS * 1000000ull);
    s->psi_ms[PSI_CPU_SOME] += 1000.0 * fmin(1.0, fmax(0.0, (d - 0.75 * SB_NCPU) / (0.5 * SB_NCPU)));
    s->psi_ms[PSI_MEM_SOME] += 5.0 + 40.0 * u * u;
    s->psi_ms[PSI_MEM_FULL] += 1.0 + 12.0 * u * u;
    s->psi_ms[PSI_IO_SOME] += 20.0 + 30.0 * u;
    s->psi_ms[PSI_IO_FULL] += 5.0 + 10.0 * u;
    return sim_log_errors(s, t);
}

int sim_catch_up(test_state *s) {
    int r = 0;
    if (s->board_t >= s->tick)
        return 0;
    if ((r = hl_begin(s->hl)) < 0)
        return r;
    while (s->board_t < s->tick && r >= 0) {
        r = sim_second(s);
        /* Events older than two hours go, as uni-healthd's retention takes old ones (the counts
         * are kept): a long-running connection's HealthLog stays small. */
        if (r >= 0 && s->board_t % 600 == 0) {
            int64_t k = hl_retention(s->hl, s->open_ms + ((int64_t)s->board_t - RETENTION_S) * 1000, 0, 0, 100000);
            r = k < 0 ? (int)k : 0;
        }
    }
    if (r < 0) {
        hl_rollback(s->hl);
        return r;
    }
    return hl_commit(s->hl);
}

/* A source's state in the record, as the local driver gives it: up, or down when the URI made it
 * fail (?fail=NAME), its groups' metrics then absent with the reason (best effort) or the call
 * failed with it. Returns 1 to collect it, 0 when it is down, -1 to fail the call. */
static int source(test_state *s, uniRecordPtr rec, int src, uint32_t groups, bool best) {
    const char *name = test_source_names[src];
    bool down = s->fail & (1u << src);
    char why[96];

    rec_str(rec, UNI_M_HOST_SOURCE_NAME_STATE, -1, name, down ? "down" : "up");
    rec_u64(rec, UNI_M_HOST_SOURCE_NAME_UP, -1, name, !down);
    rec_dbl(rec, UNI_M_HOST_SOURCE_NAME_DURATION_MS, -1, name, 0); /* virtual: no time passes */
    s->src_errors[src] += down;
    rec_u64(rec, UNI_M_HOST_SOURCE_NAME_ERRORS, -1, name, s->src_errors[src]);
    if (!down)
        return 1;
    snprintf(why, sizeof(why), "simulated failure of source %s (test:///default?fail=%s)", name, name);
    if (!best) {
        uni_error_set(UNI_ERR_NO_SOURCE, "%s", why);
        return -1;
    }
    rec_str(rec, UNI_M_HOST_SOURCE_NAME_LAST_ERROR, -1, name, why);
    for (unsigned m = 0; m < UNI_NMETRICS; m++)
        if (groups & (1u << uni_catalog_group[m]))
            rec_absent(rec, m, "source %s failed: %s", name, why);
    return 0;
}

/* Core c's CPU times now, from the board's jiffies (user, system, idle, iowait). */
static void board_times(const uint64_t j[4], cpu_times *ct) {
    memset(ct, 0, sizeof(*ct));
    ct->t[CPUT_USER] = j[0];
    ct->t[CPUT_SYSTEM] = j[1];
    ct->t[CPUT_IDLE] = j[2];
    ct->t[CPUT_IOWAIT] = j[3];
    ct->present = true;
}

static void collect_cpu(test_state *s, uniRecordPtr rec, bool first) {
    cpu_times all_a = {0}, all_b = {0};
    rec_u64(rec, UNI_M_HOST_CPU_COUNT, -1, NULL, SB_NCPU);
    /* The board boots with the connection: one boot, one id. */
    rec_str(rec, UNI_M_HOST_BOOT_ID, -1, NULL, "5eb0a4d0-0000-4000-8000-000000000001");
    rec_dbl(rec, UNI_M_HOST_CPU_CAPACITY_MHZ, -1, NULL, SB_NCPU * max_mhz);
    for (unsigned c = 0; c < SB_NCPU; c++) {
        cpu_times a, b;
        board_times(s->prev_jiffies[c], &a);
        board_times(s->board.jiffies[c], &b);
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

static void collect_freq(test_state *s, uniRecordPtr rec) {
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

static void collect_mem(uniRecordPtr rec, uint64_t t) {
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

/* Runnable tasks: the demand rounded up (a core's worth of demand is one task). Contention time
 * counts the seconds with more demand than cores; its share is over the window. */
static void collect_contention(test_state *s, uniRecordPtr rec, bool first, uint64_t window_ms) {
    rec_dbl(rec, UNI_M_HOST_CPU_CONTENTION_RATIO, -1, NULL,
            cpu_contention_ratio((uint64_t)ceil(demand(&s->board) - 1e-9), SB_NCPU));
    rec_u64(rec, UNI_M_HOST_CPU_CONTENTION_MS, -1, NULL, s->cont_ms);
    if (!first)
        rec_dbl(rec, UNI_M_HOST_CPU_CONTENTION_PCT, -1, NULL, pct_of(s->cont_ms - s->prev_cont_ms, window_ms));
    else
        rec_absent(rec, UNI_M_HOST_CPU_CONTENTION_PCT, "%s", WHY_FIRST);
    rec_u64(rec, UNI_M_HOST_CPU_MAX_UTIL_MS, -1, NULL,
            max_util_step(&s->mu, demand(&s->board), SB_NCPU, s->board_t * TICK_MS * 1000000ull) / 1000000);
}

static void collect_psi(test_state *s, uniRecordPtr rec) {
    static const unsigned ids[PSI_N] = {UNI_M_HOST_PSI_CPU_SOME_MS, UNI_M_HOST_PSI_MEM_SOME_MS,
                                        UNI_M_HOST_PSI_MEM_FULL_MS, UNI_M_HOST_PSI_IO_SOME_MS,
                                        UNI_M_HOST_PSI_IO_FULL_MS};
    for (int i = 0; i < PSI_N; i++)
        rec_u64(rec, ids[i], -1, NULL, (uint64_t)s->psi_ms[i]);
}

/* Each core is warmer than the SoC (the board's sensor) by its utilisation. */
static void collect_temp(test_state *s, uniRecordPtr rec) {
    double sum = 0;
    for (unsigned c = 0; c < SB_NCPU; c++) {
        double tc = s->board.soc_c + 4.0 * sb_core_util(&s->board, (int)c) + 0.25 * c;
        rec_dbl(rec, UNI_M_HOST_CPU_N_TEMP_C, (int)c, NULL, tc);
        sum += tc;
    }
    rec_dbl(rec, UNI_M_HOST_TEMP_CPU_AVG_C, -1, NULL, sum / SB_NCPU);
}

static double energy_uj(const sb_model *m) {
    return m->cpu_energy_uj + m->io_energy_uj + m->dram_energy_uj;
}

static void collect_power(test_state *s, uniRecordPtr rec, bool first) {
    const sb_model *m = &s->board;
    rec_dbl(rec, UNI_M_HOST_POWER_CPU_W, -1, NULL, sb_cpu_power_w(m));
    rec_dbl(rec, UNI_M_HOST_POWER_MEM_W, -1, NULL, sb_dram_power_w(m));
    rec_dbl(rec, UNI_M_HOST_POWER_TOTAL_W, -1, NULL, sb_cpu_power_w(m) + sb_dram_power_w(m) + sb_io_power_w(m));
    if (!first)
        rec_dbl(rec, UNI_M_HOST_ENERGY_TOTAL_KWH, -1, NULL, (energy_uj(m) - s->energy0_uj) / 3.6e12);
    else
        rec_absent(rec, UNI_M_HOST_ENERGY_TOTAL_KWH,
                   "first sample: energy is integrated over the connection's windows");
}

int test_node_get_stats(uniConnectPtr conn, const uni_select *sel, uniRecordPtr rec, unsigned flags) {
    test_state *s = conn->priv;
    uint64_t t = ++s->tick;
    bool best = flags & UNI_NODE_STATS_BEST_EFFORT, first = !s->prev_t;
    uint64_t window_ms = (t - s->prev_t) * TICK_MS;
    int r;

    if (s->prev_t == 0)
        s->energy0_uj = energy_uj(&s->board);
    if ((r = sim_catch_up(s)) < 0) {
        uni_error_errno(r, "simulated HealthLog: %s", hl_errmsg(s->hl));
        return -1;
    }
    rec->window_ms = first ? -1 : (long long)window_ms;
#define SOURCE(src, groups, ...)                                                                                       \
    do {                                                                                                               \
        int up_ = source(s, rec, TEST_SRC_##src, (groups), best);                                                      \
        if (up_ < 0)                                                                                                   \
            return -1;                                                                                                 \
        if (up_) {                                                                                                     \
            __VA_ARGS__;                                                                                               \
        }                                                                                                              \
    } while (0)
    if (uni_select_group(sel, UNI_GROUP_CPU))
        SOURCE(STAT, 1u << UNI_GROUP_CPU, collect_cpu(s, rec, first));
    if (uni_select_group(sel, UNI_GROUP_FREQ))
        SOURCE(CPUFREQ, 1u << UNI_GROUP_FREQ, collect_freq(s, rec));
    if (uni_select_group(sel, UNI_GROUP_MEM) || uni_select_group(sel, UNI_GROUP_CONTENTION))
        SOURCE(MEMINFO, (1u << UNI_GROUP_MEM) | (1u << UNI_GROUP_CONTENTION), collect_mem(rec, t));
    if (uni_select_group(sel, UNI_GROUP_CONTENTION))
        SOURCE(LOADAVG, 1u << UNI_GROUP_CONTENTION, collect_contention(s, rec, first, window_ms));
    if (uni_select_group(sel, UNI_GROUP_PSI))
        SOURCE(PSI, 1u << UNI_GROUP_PSI, collect_psi(s, rec));
    if (uni_select_group(sel, UNI_GROUP_TEMP))
        SOURCE(SENSORS, 1u << UNI_GROUP_TEMP, collect_temp(s, rec));
    if (uni_select_group(sel, UNI_GROUP_POWER))
        SOURCE(POWER, 1u << UNI_GROUP_POWER, collect_power(s, rec, first));
    if (uni_select_group(sel, UNI_GROUP_ERRORS) || uni_select_group(sel, UNI_GROUP_MEMHW)) {
        SOURCE(HEALTHLOG, (1u << UNI_GROUP_ERRORS) | (1u << UNI_GROUP_MEMHW), if (sim_errors(s, rec) < 0) return -1);
        /* The board's DDR3-1600 (what SMBIOS would say; uni-simboard has no SMBIOS table). */
        if (!(s->fail & (1u << TEST_SRC_HEALTHLOG)))
            rec_dbl(rec, UNI_M_HOST_MEM_SPEED_MHZ, -1, NULL, 1600);
    }
    if (uni_select_group(sel, UNI_GROUP_MEMHW)) {
        /* One value for the host: the longest period, the channel with the least margin. */
        int refresh = 0;
        for (int c = 0; c < SB_NMC; c++)
            refresh = s->board.refresh_ms[c] > refresh ? s->board.refresh_ms[c] : refresh;
        rec_dbl(rec, UNI_M_HOST_MEM_REFRESH_MS, -1, NULL, refresh);
    }
    if (uni_select_group(sel, UNI_GROUP_VMS) || uni_select_has(sel, UNI_M_KVM_NAME))
        SOURCE(VMS, (1u << UNI_GROUP_VMS) | (1u << UNI_GROUP_KVM), sim_vms_host(rec, sel, t, first));
#undef SOURCE
    rec_absent(rec, UNI_M_HOST_DISK_UTIL_PCT, "the simulated board has no disks");
    rec_absent_ledger(rec);
    rec_absent(rec, UNI_M_HOST_SOURCE_NAME_LAST_ERROR, "%s", "no source is failing");
    s->prev_t = t;
    memcpy(s->prev_jiffies, s->board.jiffies, sizeof(s->prev_jiffies));
    s->prev_cont_ms = s->cont_ms;
    return 0;
}
