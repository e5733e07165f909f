/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The test driver (test:///default): an in-process, deterministic simulated X-Gene2-like node
 * (8 cores in 4 PMDs, 4 memory controllers with 2 DIMMs each, 3 VMs) that provides every host
 * key, error counters included. Each call advances a virtual clock by one second, so rates and
 * windows are exact and the output is the same on every machine. The spec's formulas are the
 * ones the local driver uses (derive.c), applied to simulated inputs. */
#include <math.h>

#include "drivers/local/local.h"
#include "healthlog/healthlog.h"
#include "lib/internal.h"

#define NCPU 8
#define NPMD 4
#define TICK_MS 1000

typedef struct {
    uint64_t tick;   /* calls so far; virtual time is tick seconds */
    int64_t open_ms; /* wall time at open: the simulated HealthLog's time 0 */
} test_state;

/* Everything below is a function of the virtual time alone, so that a value does not depend on
 * which calls came before. Three seconds in ten the board is overloaded. */
static bool sim_busy(uint64_t t) {
    return t % 10 < 3;
}
static double sim_cpu_w(uint64_t t) {
    return 12.5 + (double)(t % 4) * 0.5;
}
#define SIM_MEM_W 4.25
#define SIM_IO_W 6.0

/* PMD p runs cores 2p and 2p+1 at one operating point (spec 1.1: V/F is set per PMD). */
static const double pmd_mhz[NPMD] = {2400, 2400, 1200, 1800};
static const double max_mhz = 2400;
static const char *const pmd_governor[NPMD] = {"performance", "performance", "userspace", "userspace"};

static int test_open(uniConnectPtr conn, const uni_uri *uri, unsigned flags) {
    static const char *const known[] = {NULL};
    (void)flags;
    if (!streq(uri->path, "/default")) {
        uni_error_set(UNI_ERR_INVALID_URI, "unknown path '%s' for test:// (only /default)", uri->path);
        return -1;
    }
    if (uri->host && *uri->host) {
        uni_error_set(UNI_ERR_INVALID_URI, "test:// takes no host (got '%s')", uri->host);
        return -1;
    }
    if (uni_uri_check_params(uri, known) < 0)
        return -1;
    conn->priv = calloc(1, sizeof(test_state));
    if (!conn->priv) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    ((test_state *)conn->priv)->open_ms = uni_clock_wall_ms();
    return 0;
}

static void test_close(uniConnectPtr conn) {
    free(conn->priv);
    conn->priv = NULL;
}

/* Jiffies (100 Hz) of core c after t seconds: core c is busy 10 + 10c % of the time, of which a
 * fifth in the kernel; 2 % iowait; the rest idle. */
static void sim_times(unsigned c, uint64_t t, cpu_times *ct) {
    uint64_t total = t * 100, busy = total * (10 + 10 * c) / 100;
    memset(ct, 0, sizeof(*ct));
    ct->t[CPUT_SYSTEM] = busy / 5;
    ct->t[CPUT_USER] = busy - busy / 5;
    ct->t[CPUT_IOWAIT] = total * 2 / 100;
    ct->t[CPUT_IDLE] = total - busy - ct->t[CPUT_IOWAIT];
    ct->present = true;
}

/* Error events after t seconds, per component and kind (single-bit corrected, multi-bit not). */
typedef struct {
    const char *comp;
    uint64_t sbit_per_min, mbit_per_hour;
} sim_errsrc;
static const sim_errsrc errsrc[] = {
    {"l1", 120, 0}, {"l2", 60, 360}, {"l3", 30, 180}, {"dram", 180, 120}, {"mcu", 12, 60},
};
static uint64_t sim_count(uint64_t per_min, uint64_t t) {
    return per_min * t / 60;
}
static uint64_t sim_count_h(uint64_t per_hour, uint64_t t) {
    return per_hour * t / 3600;
}
/* Rate over the last @win seconds (or since start when younger), in events per minute. */
static double sim_rate(uint64_t (*f)(uint64_t, uint64_t), uint64_t k, uint64_t t, uint64_t win) {
    uint64_t from = t > win ? t - win : 0;
    return t == 0 ? 0 : (double)(f(k, t) - f(k, from)) * 60.0 / (double)(t - from);
}

/* A count's rates over the 1, 5 and 60 minute windows, as the metric ids of each window. */
#define RATE_IDS(p) {UNI_M_HOST_ERRORS_##p##_RATE_PER_MIN, UNI_M_HOST_ERRORS_##p##_RATE_5M_PER_MIN, UNI_M_HOST_ERRORS_##p##_RATE_60M_PER_MIN}
static void rates3(uniRecordPtr rec, const unsigned ids[3], const char *name, const double r[3]) {
    for (int w = 0; w < 3; w++)
        rec_dbl(rec, ids[w], -1, name, r[w]);
}

/* Events k = 1..K of a kind whose k % 8 == d (its DIMM or core). */
static uint64_t sim_share(uint64_t K, unsigned d) {
    return K / 8 + (d >= 1 && d <= K % 8 ? 1 : 0);
}

static void sim_errors(uniRecordPtr rec, uint64_t t) {
    static const uint64_t win[3] = {60, 300, 3600};
    static const unsigned l_ids[3] = RATE_IDS(L), ls_ids[3] = RATE_IDS(L_SBIT), lm_ids[3] = RATE_IDS(L_MBIT),
                          ce_ids[3] = RATE_IDS(C_CE), ue_ids[3] = RATE_IDS(C_UE), ms_ids[3] = RATE_IDS(MEM_SBIT),
                          mm_ids[3] = RATE_IDS(MEM_MBIT), m_ids[3] = RATE_IDS(MEM), cs_ids[3] = RATE_IDS(CPU_SBIT),
                          cm_ids[3] = RATE_IDS(CPU_MBIT), c_ids[3] = RATE_IDS(CPU);
    uint64_t cpu_s = 0, cpu_m = 0;
    double cpu_sr[3] = {0}, cpu_mr[3] = {0}, cpu_r[3];

    for (size_t i = 0; i < ELEMENTSOF(errsrc); i++) {
        const sim_errsrc *e = &errsrc[i];
        uint64_t s = sim_count(e->sbit_per_min, t), m = sim_count_h(e->mbit_per_hour, t);
        double sr[3], mr[3], all[3];
        bool cache = e->comp[0] == 'l';

        for (int w = 0; w < 3; w++) {
            sr[w] = sim_rate(sim_count, e->sbit_per_min, t, win[w]);
            mr[w] = sim_rate(sim_count_h, e->mbit_per_hour, t, win[w]);
            all[w] = sr[w] + mr[w];
        }
        if (cache) {
            rec_u64(rec, UNI_M_HOST_ERRORS_L_COUNT, -1, e->comp, s + m);
            rates3(rec, l_ids, e->comp, all);
            rec_u64(rec, UNI_M_HOST_ERRORS_L_SBIT_COUNT, -1, e->comp, s);
            rates3(rec, ls_ids, e->comp, sr);
            if (!streq(e->comp, "l1")) { /* the spec counts multi-bit errors in L2/L3 only */
                rec_u64(rec, UNI_M_HOST_ERRORS_L_MBIT_COUNT, -1, e->comp, m);
                rates3(rec, lm_ids, e->comp, mr);
            }
            cpu_s += s;
            cpu_m += m;
            for (int w = 0; w < 3; w++) {
                cpu_sr[w] += sr[w];
                cpu_mr[w] += mr[w];
            }
        }
        if (!streq(e->comp, "l1")) {
            /* ECC corrects single-bit errors and detects multi-bit ones. */
            rec_u64(rec, UNI_M_HOST_ERRORS_C_CE_COUNT, -1, e->comp, s);
            rates3(rec, ce_ids, e->comp, sr);
            rec_u64(rec, UNI_M_HOST_ERRORS_C_UE_COUNT, -1, e->comp, m);
            rates3(rec, ue_ids, e->comp, mr);
        }
        if (streq(e->comp, "dram")) {
            rec_u64(rec, UNI_M_HOST_ERRORS_MEM_SBIT_COUNT, -1, NULL, s);
            rates3(rec, ms_ids, NULL, sr);
            rec_u64(rec, UNI_M_HOST_ERRORS_MEM_MBIT_COUNT, -1, NULL, m);
            rates3(rec, mm_ids, NULL, mr);
            rates3(rec, m_ids, NULL, all);
        }
    }
    rec_u64(rec, UNI_M_HOST_ERRORS_CPU_SBIT_COUNT, -1, NULL, cpu_s);
    rates3(rec, cs_ids, NULL, cpu_sr);
    rec_u64(rec, UNI_M_HOST_ERRORS_CPU_MBIT_COUNT, -1, NULL, cpu_m);
    rates3(rec, cm_ids, NULL, cpu_mr);
    for (int w = 0; w < 3; w++)
        cpu_r[w] = cpu_sr[w] + cpu_mr[w];
    rates3(rec, c_ids, NULL, cpu_r);
    /* Per DIMM and per core: the simulated HealthLog's events (test_healthlog_query), which
     * begin an hour before the connection. */
    for (unsigned d = 0; d < 8; d++) {
        char dimm[16];
        snprintf(dimm, sizeof(dimm), "DIMM_%c%u", 'A' + (int)(d / 2), d % 2);
        rec_u64(rec, UNI_M_HOST_ERRORS_DIMM_D_CE_COUNT, -1, dimm, 60 * sim_share((t + 3600) / 20, d));
        rec_u64(rec, UNI_M_HOST_ERRORS_DIMM_D_UE_COUNT, -1, dimm, sim_share((t + 3600) / 30, d));
    }
    for (unsigned c = 0; c < NCPU; c++) {
        rec_u64(rec, UNI_M_HOST_ERRORS_CORE_N_CE_COUNT, (int)c, NULL, 30 * sim_share((t + 3600) / 30, c));
        rec_u64(rec, UNI_M_HOST_ERRORS_CORE_N_UE_COUNT, (int)c, NULL, 0);
    }
}

static int test_node_get_stats(uniConnectPtr conn, const uni_select *sel, uniRecordPtr rec, unsigned flags) {
    test_state *s = conn->priv;
    uint64_t t = ++s->tick;

    (void)flags; /* the simulation never fails */
    rec_u64(rec, UNI_M_HOST_SOURCE_NAME_UP, -1, "simulation", 1);
    rec_dbl(rec, UNI_M_HOST_SOURCE_NAME_DURATION_MS, -1, "simulation", 0);
    rec_u64(rec, UNI_M_HOST_SOURCE_NAME_ERRORS, -1, "simulation", 0);
    rec_absent(rec, UNI_M_HOST_SOURCE_NAME_LAST_ERROR, "%s", "no source is failing");
    bool first = t == 1;
    const char *why_first = "first sample: rates need a second sample (a window)";

    rec->window_ms = first ? -1 : TICK_MS;
    if (uni_select_group(sel, UNI_GROUP_CPU)) {
        cpu_times all_a = {0}, all_b = {0};
        rec_u64(rec, UNI_M_HOST_CPU_COUNT, -1, NULL, NCPU);
        rec_dbl(rec, UNI_M_HOST_CPU_CAPACITY_MHZ, -1, NULL, NCPU * max_mhz);
        for (unsigned c = 0; c < NCPU; c++) {
            cpu_times a, b;
            sim_times(c, t - 1, &a);
            sim_times(c, t, &b);
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
            rec_dbl(rec, UNI_M_HOST_CPU_UTIL_MHZ, -1, NULL, u * NCPU * max_mhz / 100.0);
            rec_dbl(rec, UNI_M_HOST_CPU_IOWAIT_PCT, -1, NULL, pct_of(all_b.t[CPUT_IOWAIT] - all_a.t[CPUT_IOWAIT], dt));
            rec_dbl(rec, UNI_M_HOST_CPU_IDLE_PCT, -1, NULL, pct_of(all_b.t[CPUT_IDLE] - all_a.t[CPUT_IDLE], dt));
            rec_dbl(rec, UNI_M_HOST_CPU_SYSTEM_PCT, -1, NULL, pct_of(all_b.t[CPUT_SYSTEM] - all_a.t[CPUT_SYSTEM], dt));
        } else {
            unsigned ids[] = {UNI_M_HOST_CPU_UTIL_PCT, UNI_M_HOST_CPU_UTIL_MHZ, UNI_M_HOST_CPU_N_UTIL_PCT,
                              UNI_M_HOST_CPU_N_UTIL_MHZ, UNI_M_HOST_CPU_IOWAIT_PCT, UNI_M_HOST_CPU_IDLE_PCT,
                              UNI_M_HOST_CPU_SYSTEM_PCT};
            for (size_t i = 0; i < ELEMENTSOF(ids); i++)
                rec_absent(rec, ids[i], "%s", why_first);
        }
    }
    if (uni_select_group(sel, UNI_GROUP_FREQ)) {
        double rsum = 0, rmhz = 0;
        for (unsigned c = 0; c < NCPU; c++) {
            double f = pmd_mhz[c / 2];
            rec_dbl(rec, UNI_M_HOST_CPU_N_FREQ_MHZ, (int)c, NULL, f);
            rec_dbl(rec, UNI_M_HOST_CPU_N_MAX_MHZ, (int)c, NULL, max_mhz);
            rec_dbl(rec, UNI_M_HOST_CPU_N_RESERVED_PCT, (int)c, NULL, reserved_pct(f, max_mhz));
            rec_str(rec, UNI_M_HOST_CPU_N_GOVERNOR, (int)c, NULL, pmd_governor[c / 2]);
            rsum += reserved_pct(f, max_mhz);
            rmhz += max_mhz - f;
        }
        rec_dbl(rec, UNI_M_HOST_CPU_RESERVED_PCT, -1, NULL, rsum / NCPU);
        rec_dbl(rec, UNI_M_HOST_CPU_RESERVED_MHZ, -1, NULL, rmhz);
        rec_str(rec, UNI_M_HOST_CPU_GOVERNOR, -1, NULL, "mixed");
        rec_str(rec, UNI_M_HOST_CPU_POWER_POLICY, -1, NULL, "mixed");
    }
    if (uni_select_group(sel, UNI_GROUP_MEM) || uni_select_group(sel, UNI_GROUP_CONTENTION)) {
        /* 16 GiB board; 1 GiB of swap of which 256 MiB is used; a VM is growing by 16 MiB/s. */
        meminfo m = {.mem_total_kb = 16777216, .mem_free_kb = 4194304 - (t % 60) * 16384,
                     .mem_available_kb = 8388608, .cached_kb = 3145728, .swap_total_kb = 1048576,
                     .swap_free_kb = 786432, .have_available = true, .have_cached = true, .have_swap = true};
        rec_dbl(rec, UNI_M_HOST_MEM_TOTAL_MB, -1, NULL, (double)m.mem_total_kb / 1024);
        rec_dbl(rec, UNI_M_HOST_MEM_AVAILABLE_MB, -1, NULL, (double)m.mem_available_kb / 1024);
        rec_dbl(rec, UNI_M_HOST_MEM_AVAILABLE_PCT, -1, NULL, pct_of(m.mem_available_kb, m.mem_total_kb));
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
            max_ms = max_util_step(&mu, sim_busy(k) ? 9.0 : 4.0, NCPU, k * TICK_MS * 1000000ull) / 1000000;
        }
        rec_dbl(rec, UNI_M_HOST_CPU_CONTENTION_RATIO, -1, NULL, cpu_contention_ratio(sim_busy(t) ? 10 : 3, NCPU));
        rec_u64(rec, UNI_M_HOST_CPU_CONTENTION_MS, -1, NULL, cont_ms);
        if (!first)
            rec_dbl(rec, UNI_M_HOST_CPU_CONTENTION_PCT, -1, NULL, sim_busy(t) ? 100.0 : 0.0);
        else
            rec_absent(rec, UNI_M_HOST_CPU_CONTENTION_PCT, "%s", why_first);
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
        rec_dbl(rec, UNI_M_HOST_MEM_REFRESH_MS, -1, NULL, 64);
    }
    if (uni_select_group(sel, UNI_GROUP_TEMP)) {
        double sum = 0;
        for (unsigned c = 0; c < NCPU; c++) {
            /* Hotter at higher frequency; a slow 0.5 C ripple over 5 s. */
            double tc = 38.0 + pmd_mhz[c / 2] / 200.0 + (double)c * 0.25 + (double)(t % 5) * 0.5;
            rec_dbl(rec, UNI_M_HOST_CPU_N_TEMP_C, (int)c, NULL, tc);
            sum += tc;
        }
        rec_dbl(rec, UNI_M_HOST_TEMP_CPU_AVG_C, -1, NULL, sum / NCPU);
    }
    if (uni_select_group(sel, UNI_GROUP_POWER)) {
        double energy_j = 0;
        rec_dbl(rec, UNI_M_HOST_POWER_CPU_W, -1, NULL, sim_cpu_w(t));
        rec_dbl(rec, UNI_M_HOST_POWER_MEM_W, -1, NULL, SIM_MEM_W);
        rec_dbl(rec, UNI_M_HOST_POWER_TOTAL_W, -1, NULL, sim_cpu_w(t) + SIM_MEM_W + SIM_IO_W);
        /* Energy integrates the power of each one-second window since the connection opened. */
        for (uint64_t k = 2; k <= t; k++)
            energy_j += (sim_cpu_w(k) + SIM_MEM_W + SIM_IO_W) * TICK_MS / 1000.0;
        if (!first)
            rec_dbl(rec, UNI_M_HOST_ENERGY_TOTAL_KWH, -1, NULL, energy_j / 3.6e6);
        else
            rec_absent(rec, UNI_M_HOST_ENERGY_TOTAL_KWH, "first sample: energy is integrated over the connection's windows");
    }
    if (uni_select_group(sel, UNI_GROUP_ERRORS))
        sim_errors(rec, t);
    if (uni_select_group(sel, UNI_GROUP_VMS)) {
        /* vm-1 (2 GiB) and vm-2 (1 GiB) run, vm-3 is shut off. */
        rec_u64(rec, UNI_M_HOST_VMS_COUNT, -1, NULL, 3);
        rec_u64(rec, UNI_M_HOST_VMS_ACTIVE, -1, NULL, 2);
        rec_dbl(rec, UNI_M_HOST_VMS_MEM_MB, -1, NULL, 3072);
        rec_dbl(rec, UNI_M_HOST_VMS_MEM_PCT, -1, NULL, 100.0 * 3072 / 16384);
        rec_dbl(rec, UNI_M_HOST_VMS_SWAP_WAIT_MS, -1, NULL, (double)t * 6.0);
        if (!first)
            rec_dbl(rec, UNI_M_HOST_VMS_SWAP_WAIT_PCT, -1, NULL, 100.0 * 6.0 / TICK_MS);
        else
            rec_absent(rec, UNI_M_HOST_VMS_SWAP_WAIT_PCT, "%s", why_first);
    }
    if (uni_select_group(sel, UNI_GROUP_KVM))
        rec_absent(rec, UNI_M_KVM_NAME, "the simulated node has no KVM statistics yet");
    return 0;
}

/* The simulated board's HealthLog, at sim_errors' rates: every 20 s one event of 60 corrected
 * single-bit DRAM errors (180/min) on DIMM_<MCU><slot> (the 4 MCUs A-D x 2 slots, in turn),
 * every 30 s one uncorrected multi-bit DRAM error (120/h), every 30 s one event of 30 corrected
 * L2 errors (60/min) on core k % 8. It holds the hour before the connection opened and the
 * virtual time since. */
static int test_healthlog_query(uniConnectPtr conn, const uni_healthlog_query *q, uniRecordPtr **ret) {
    test_state *s = conn->priv;
    uint64_t t = s->tick;
    uniRecordPtr *list = calloc(1, sizeof(*list));
    int n = 0, r = 0;
    unsigned sev = q->flags & (UNI_HEALTHLOG_CORRECTED | UNI_HEALTHLOG_UNCORRECTED);

    for (int64_t sec = -3600 + 1; list && r >= 0 && sec <= (int64_t)t; sec++)
        for (int kind = 0; kind < 3 && r >= 0; kind++) {
            static const unsigned period[3] = {20, 30, 30};
            uint64_t k = (uint64_t)(sec + 3600) / period[kind];
            char dimm[16], msg[96];
            hl_event e = {0};
            uniRecordPtr rec, *nl;

            if ((sec + 3600) % period[kind] || (kind < 2) == q->cpu)
                continue;
            HL_SET(&e, id, (sec + 3600) * 3 + kind);
            HL_SET(&e, time_ms, s->open_ms + sec * 1000);
            HL_SET(&e, counted, 1);
            e.source = "simulation";
            if (kind < 2) {
                snprintf(dimm, sizeof(dimm), "DIMM_%c%d", 'A' + (int)(k % 8 / 2), (int)(k % 2));
                e.class = "memory";
                e.component = "dram";
                e.dimm = dimm;
                e.severity = kind == 0 ? "corrected" : "uncorrected";
                e.bits = kind == 0 ? "single" : "multi";
                HL_SET(&e, count, kind == 0 ? 60 : 1);
                HL_SET(&e, mc, (int64_t)(k % 8 / 2));
                HL_SET(&e, address, (int64_t)(0x80000000ull + k * 0x1000));
            } else {
                e.class = "cpu";
                e.component = "l2";
                e.severity = "corrected";
                e.bits = "single";
                HL_SET(&e, count, 30);
                HL_SET(&e, cpu, (int64_t)(k % 8));
            }
            snprintf(msg, sizeof(msg), "simulated %s %s error", e.severity, e.component);
            e.message = msg;
            if ((q->dimm && (!e.dimm || !streq(q->dimm, e.dimm))) || (q->cpu && q->core >= 0 && e.cpu != q->core) ||
                e.time_ms < q->since_ms || (sev == UNI_HEALTHLOG_CORRECTED && kind == 1) ||
                (sev == UNI_HEALTHLOG_UNCORRECTED && kind != 1))
                continue;
            if ((r = hl_event_to_record(&e, &rec)) < 0)
                break;
            nl = realloc(list, (size_t)(n + 2) * sizeof(*nl));
            if (!nl) {
                uniRecordFree(rec);
                r = -ENOMEM;
                break;
            }
            list = nl;
            list[n++] = rec;
            list[n] = NULL;
        }
    if (!list || r < 0) {
        uniRecordListFree(list);
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    *ret = list;
    return n;
}

const uni_driver uni_test_driver = {
    .name = "test",
    .scheme = "test",
    .open = test_open,
    .close = test_close,
    .node_get_stats = test_node_get_stats,
    .healthlog_query = test_healthlog_query,
};
