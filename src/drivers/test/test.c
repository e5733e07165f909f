/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The test driver (test:///default): an in-process, deterministic simulated X-Gene2-like node
 * (8 cores in 4 PMDs, 4 memory controllers with 2 DIMMs each, 3 VMs) that provides every host
 * key, error counters included, and each VM's record with kvm_stat's counters. Each call advances a virtual clock by one second, so rates and
 * windows are exact and the output is the same on every machine. The spec's formulas are the
 * ones the local driver uses (derive.c), applied to simulated inputs.
 *
 * The board can be controlled, as the local driver controls cpufreq: each PMD has one frequency
 * (both of its cores move together, as X-Gene2 sets V/F per PMD), governor and voltage; each
 * memory channel a refresh period and a voltage. The state belongs to the connection, starts
 * the same on every open, and the records reflect it (frequencies, governors, reserved
 * capacity, the power policy, CPU power as V^2 x f, temperatures, host.mem.refresh_ms). */
#include <math.h>

#include "drivers/local/parsers.h"
#include "healthlog/healthlog.h"
#include "lib/internal.h"

#define NCPU 8
#define NPMD 4
#define TICK_MS 1000

#define NMC 4

typedef struct {
    uint64_t tick; /* calls so far; virtual time is tick seconds */
    /* The board, as control calls leave it. */
    unsigned pmd_mhz[NPMD];
    const char *pmd_governor[NPMD]; /* one of governors[] */
    int pmd_mv[NPMD];
    int mc_refresh_ms[NMC], mc_mv[NMC];
    double energy_base_j; /* energy until virtual time energy_base_t (see sim_energy_j) */
    uint64_t energy_base_t;
    uint64_t dom_tick; /* the previous domain collection's tick (0: none yet) */
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

/* The simulated VMs: vm-1 (2 vCPUs, 2 GiB) and vm-2 (1 vCPU, 1 GiB) run, vm-3 is shut off.
 * vm-2 is an OpenStack instance (what Nova's libvirt metadata would say) with a reliability
 * requirement. */
#define SIM_MEM_MB 16384.0
typedef struct {
    const char *name, *uuid, *tap, *mac;
    unsigned vcpus;
    double mem_mb;
    unsigned util_pct;       /* of its vCPUs */
    uint64_t swap_ms_per_s;  /* swap-in wait */
    bool active;
    const char *os_name, *os_flavor, *os_user_id, *os_project_id, *os_project_name; /* Nova's */
    const char *reliability;
} sim_vm;
static const sim_vm sim_vms[] = {
    {"vm-1", "7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a61", "vnet0", "52:54:00:00:00:01", 2, 2048, 50, 8, true},
    {"vm-2", "7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a62", "vnet1", "52:54:00:00:00:02", 1, 1024, 25, 4, true, "db-1", "m1.small",
     "a1b2c3d4e5f60718293a4b5c6d7e8f90", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "webteam", "high"},
    {"vm-3", "7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a63", "vnet2", "52:54:00:00:00:03", 4, 4096, 0, 0, false},
};
/* kvm_stat's counters of a simulated vCPU per second (VM-scope ones: per_vcpu 0, per VM). */
static const struct {
    const char *name;
    uint64_t per_vcpu_per_s; /* 0: a VM-scope statistic */
    bool per_vcpu;
} sim_kvm[] = {
    {"exits", 12000, true}, {"halt_exits", 800, true}, {"mmio_exits", 3000, true}, {"io_exits", 1500, true},
    {"irq_injections", 1000, true}, {"irq_exits", 400, true}, {"remote_tlb_flush", 0, false},
};
/* dom.kvm.NAME of VM v after t seconds: per-vCPU counters summed, VM-scope ones 5 per second. */
static uint64_t sim_kvm_vm(const sim_vm *v, size_t k, uint64_t t) {
    return sim_kvm[k].per_vcpu ? t * sim_kvm[k].per_vcpu_per_s * v->vcpus : t * 5;
}

/* PMD p runs cores 2p and 2p+1 at one operating point (spec 1.1: V/F is set per PMD). The
 * board offers 300 to 2400 MHz in 300 MHz steps and the governors of a 4.14 arm64 kernel. */
static const unsigned pmd_mhz0[NPMD] = {2400, 2400, 1200, 1800};
static const double max_mhz = 2400;
#define MIN_MHZ 300
#define STEP_MHZ 300
static const char governors[] = "conservative ondemand userspace powersave performance schedutil";
static const char *const governor_names[] = {"conservative", "ondemand", "userspace", "powersave", "performance", "schedutil"};
static const char *const pmd_governor0[NPMD] = {"performance", "performance", "userspace", "userspace"};
/* Operating points beyond cpufreq: the simulated board's limits (docs/simboard.md). */
#define PMD_MV_NOMINAL 980
#define PMD_MV_MIN 800
#define PMD_MV_MAX 1000
#define PMD_MV_STEP 5
#define MC_REFRESH_NOMINAL 64
#define MC_REFRESH_MIN 32
#define MC_REFRESH_MAX 4096
#define MC_MV_NOMINAL 1500
#define MC_MV_MIN 1350
#define MC_MV_MAX 1575
#define MC_MV_STEP 5

/* CPU power scales with V^2 x f per PMD (dynamic power), normalised so that the board as it
 * starts draws sim_cpu_w(). */
static double pmd_power_factor(const test_state *s) {
    double now = 0, start = 0;
    for (int p = 0; p < NPMD; p++) {
        double v = (double)s->pmd_mv[p] / PMD_MV_NOMINAL;
        now += v * v * s->pmd_mhz[p];
        start += pmd_mhz0[p];
    }
    return now / start;
}

/* Energy integrates the power of each one-second window since the connection opened: up to the
 * last change of the board (energy_base_j at energy_base_t), then at the board's power now. */
static double sim_energy_j(const test_state *s, uint64_t t) {
    double e = s->energy_base_j, k = pmd_power_factor(s);
    for (uint64_t w = s->energy_base_t + 1; w <= t; w++)
        if (w >= 2)
            e += (sim_cpu_w(w) * k + SIM_MEM_W + SIM_IO_W) * TICK_MS / 1000.0;
    return e;
}

/* Before a change of the board's power: fold the energy so far at the power until now. */
static void sim_energy_fold(test_state *s) {
    s->energy_base_j = sim_energy_j(s, s->tick);
    s->energy_base_t = s->tick;
}

static int test_open(uniConnectPtr conn, const uni_uri *uri, unsigned flags) {
    static const char *const known[] = {NULL};
    test_state *s;
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
    s = calloc(1, sizeof(test_state));
    if (!s) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    for (int p = 0; p < NPMD; p++) {
        s->pmd_mhz[p] = pmd_mhz0[p];
        s->pmd_governor[p] = pmd_governor0[p];
        s->pmd_mv[p] = PMD_MV_NOMINAL;
    }
    for (int c = 0; c < NMC; c++) {
        s->mc_refresh_ms[c] = MC_REFRESH_NOMINAL;
        s->mc_mv[c] = MC_MV_NOMINAL;
    }
    conn->priv = s;
    s->open_ms = uni_clock_wall_ms();
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
        const char *gov = s->pmd_governor[0], *pol = uni_policy_of_governor(gov);
        for (unsigned c = 0; c < NCPU; c++) {
            double f = s->pmd_mhz[c / 2];
            const char *g = s->pmd_governor[c / 2];
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
        rec_dbl(rec, UNI_M_HOST_CPU_RESERVED_PCT, -1, NULL, rsum / NCPU);
        rec_dbl(rec, UNI_M_HOST_CPU_RESERVED_MHZ, -1, NULL, rmhz);
        rec_str(rec, UNI_M_HOST_CPU_GOVERNOR, -1, NULL, gov ? gov : "mixed");
        rec_str(rec, UNI_M_HOST_CPU_POWER_POLICY, -1, NULL, pol ? pol : "mixed");
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
        /* One value for the host: the longest period, the channel with the least margin. */
        int refresh = 0;
        for (int c = 0; c < NMC; c++)
            refresh = s->mc_refresh_ms[c] > refresh ? s->mc_refresh_ms[c] : refresh;
        rec_dbl(rec, UNI_M_HOST_MEM_REFRESH_MS, -1, NULL, refresh);
    }
    if (uni_select_group(sel, UNI_GROUP_TEMP)) {
        double sum = 0;
        for (unsigned c = 0; c < NCPU; c++) {
            /* Hotter at higher frequency; a slow 0.5 C ripple over 5 s. */
            double tc = 38.0 + s->pmd_mhz[c / 2] / 200.0 + (double)c * 0.25 + (double)(t % 5) * 0.5;
            rec_dbl(rec, UNI_M_HOST_CPU_N_TEMP_C, (int)c, NULL, tc);
            sum += tc;
        }
        rec_dbl(rec, UNI_M_HOST_TEMP_CPU_AVG_C, -1, NULL, sum / NCPU);
    }
    if (uni_select_group(sel, UNI_GROUP_POWER)) {
        double k = pmd_power_factor(s);
        rec_dbl(rec, UNI_M_HOST_POWER_CPU_W, -1, NULL, sim_cpu_w(t) * k);
        rec_dbl(rec, UNI_M_HOST_POWER_MEM_W, -1, NULL, SIM_MEM_W);
        rec_dbl(rec, UNI_M_HOST_POWER_TOTAL_W, -1, NULL, sim_cpu_w(t) * k + SIM_MEM_W + SIM_IO_W);
        if (!first)
            rec_dbl(rec, UNI_M_HOST_ENERGY_TOTAL_KWH, -1, NULL, sim_energy_j(s, t) / 3.6e6);
        else
            rec_absent(rec, UNI_M_HOST_ENERGY_TOTAL_KWH, "first sample: energy is integrated over the connection's windows");
    }
    if (uni_select_group(sel, UNI_GROUP_ERRORS))
        sim_errors(rec, t);
    if (uni_select_group(sel, UNI_GROUP_VMS)) {
        /* The sums and means of the simulated VMs' records (sim_vm): vm-1 (2 GiB) and vm-2
         * (1 GiB) run, vm-3 is shut off. */
        double mem = 0, swap = 0, swap_pct = 0;
        unsigned active = 0;
        for (size_t i = 0; i < ELEMENTSOF(sim_vms); i++)
            if (sim_vms[i].active) {
                active++;
                mem += sim_vms[i].mem_mb;
                swap += (double)(t * sim_vms[i].swap_ms_per_s);
                swap_pct += 100.0 * (double)sim_vms[i].swap_ms_per_s / TICK_MS;
            }
        rec_u64(rec, UNI_M_HOST_VMS_COUNT, -1, NULL, ELEMENTSOF(sim_vms));
        rec_u64(rec, UNI_M_HOST_VMS_ACTIVE, -1, NULL, active);
        rec_dbl(rec, UNI_M_HOST_VMS_MEM_MB, -1, NULL, mem);
        rec_dbl(rec, UNI_M_HOST_VMS_MEM_PCT, -1, NULL, 100.0 * mem / SIM_MEM_MB);
        rec_dbl(rec, UNI_M_HOST_VMS_SWAP_WAIT_MS, -1, NULL, swap / active);
        if (!first)
            rec_dbl(rec, UNI_M_HOST_VMS_SWAP_WAIT_PCT, -1, NULL, swap_pct / active);
        else
            rec_absent(rec, UNI_M_HOST_VMS_SWAP_WAIT_PCT, "%s", why_first);
    }
    if (uni_select_has(sel, UNI_M_KVM_NAME)) {
        /* kvm_stat's sums over the running VMs. */
        for (size_t k = 0; k < ELEMENTSOF(sim_kvm); k++) {
            uint64_t sum = 0;
            for (size_t i = 0; i < ELEMENTSOF(sim_vms); i++)
                if (sim_vms[i].active)
                    sum += sim_kvm_vm(&sim_vms[i], k, t);
            rec_u64(rec, UNI_M_KVM_NAME, -1, sim_kvm[k].name, sum);
        }
    }
    return 0;
}

/* ---- simulated VMs ---- */

static const char *const sim_dom_sources[] = {"simulated"};

static void sim_vm_info(const sim_vm *v, unsigned i, uni_domain_info *out) {
    memset(out, 0, sizeof(*out));
    out->name = strdup(v->name);
    memcpy(out->uuid, v->uuid, sizeof(out->uuid));
    out->active = v->active;
    out->id = v->active ? 4000 + (long long)i : -1;
}

static int test_list_domains(uniConnectPtr conn, uni_domain_info **ret, size_t *ret_n) {
    uni_domain_info *out = calloc(ELEMENTSOF(sim_vms), sizeof(*out));
    (void)conn;
    if (!out) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    for (unsigned i = 0; i < ELEMENTSOF(sim_vms); i++) {
        sim_vm_info(&sim_vms[i], i, &out[i]);
        if (!out[i].name) {
            *ret = out;
            *ret_n = i;
            uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
            return -1;
        }
    }
    *ret = out;
    *ret_n = ELEMENTSOF(sim_vms);
    return 0;
}

/* One simulated VM's record after t seconds: vCPUs busy util_pct % of the time (a tenth of it
 * outside the guest: the interruption time), one NIC, one disk, kvm_stat's counters per vCPU. */
static void sim_vm_record(const sim_vm *v, unsigned idx, uint64_t t, uint64_t prev_t, uniRecordPtr rec) {
    const char *why_first = "first sample: rates need a second sample (a window)";
    bool first = prev_t == 0;
    uint64_t cpu_ms = t * 10 * v->util_pct * v->vcpus, cycles = cpu_ms * 2400000;

    /* The window since the previous domain collection on this connection, in virtual time. */
    rec->window_ms = first ? -1 : (long long)((t - prev_t) * TICK_MS);
    rec_str(rec, UNI_M_DOM_SOURCE, -1, NULL, sim_dom_sources[0]);
    rec_str(rec, UNI_M_DOM_UUID, -1, NULL, v->uuid);
    rec_u64(rec, UNI_M_DOM_CPU_COUNT, -1, NULL, v->vcpus);
    rec_absent(rec, UNI_M_DOM_CPU_L3_CACHE_USAGE_KB, "the simulated X-Gene2 has no cache monitoring (resctrl)");
    rec_absent(rec, UNI_M_DOM_MEM_BANDWIDTH_TOTAL_MBPS, "the simulated X-Gene2 has no memory bandwidth monitoring (resctrl)");
    rec_absent(rec, UNI_M_DOM_MEM_BANDWIDTH_LOCAL_MBPS, "the simulated X-Gene2 has no memory bandwidth monitoring (resctrl)");
    {
        const struct {
            unsigned metric;
            const char *value;
        } os[] = {{UNI_M_DOM_OPENSTACK_NAME, v->os_name},
                  {UNI_M_DOM_OPENSTACK_FLAVOR, v->os_flavor},
                  {UNI_M_DOM_OPENSTACK_USER_ID, v->os_user_id},
                  {UNI_M_DOM_OPENSTACK_PROJECT_ID, v->os_project_id},
                  {UNI_M_DOM_OPENSTACK_PROJECT_NAME, v->os_project_name},
                  {UNI_M_DOM_RELIABILITY, v->reliability}};
        for (size_t i = 0; i < ELEMENTSOF(os); i++) {
            if (os[i].value)
                rec_str(rec, os[i].metric, -1, NULL, os[i].value);
            else if (os[i].metric == UNI_M_DOM_RELIABILITY)
                rec_absent(rec, os[i].metric, "no reliability requirement has been set for this VM");
            else
                rec_absent(rec, os[i].metric, "the simulated domain is not an OpenStack instance");
        }
    }
    if (!v->active) {
        rec_str(rec, UNI_M_DOM_STATE, -1, NULL, "shut off");
        rec_u64(rec, UNI_M_DOM_STALE, -1, NULL, 0);
        for (unsigned m = 0; m < UNI_NMETRICS; m++)
            if (startswith(uni_catalog[m].key, "dom."))
                rec_absent(rec, m, "the domain is not running");
        return;
    }
    rec_str(rec, UNI_M_DOM_STATE, -1, NULL, "running");
    rec_u64(rec, UNI_M_DOM_STALE, -1, NULL, 0);
    rec_u64(rec, UNI_M_DOM_PID, -1, NULL, 4000 + idx);
    rec_u64(rec, UNI_M_DOM_CPU_TIME_MS, -1, NULL, cpu_ms);
    if (!first)
        rec_dbl(rec, UNI_M_DOM_CPU_UTIL_PCT, -1, NULL, v->util_pct);
    else
        rec_absent(rec, UNI_M_DOM_CPU_UTIL_PCT, "%s", why_first);
    rec_dbl(rec, UNI_M_DOM_MEM_USAGE_MB, -1, NULL, v->mem_mb - 256);
    rec_dbl(rec, UNI_M_DOM_MEM_RESIDENT_MB, -1, NULL, v->mem_mb);
    rec_dbl(rec, UNI_M_DOM_MEM_MB, -1, NULL, v->mem_mb);
    rec_dbl(rec, UNI_M_DOM_MEM_PCT, -1, NULL, 100.0 * v->mem_mb / SIM_MEM_MB);
    rec_u64(rec, UNI_M_DOM_INTERRUPT_MS, -1, NULL, cpu_ms / 10);
    rec_u64(rec, UNI_M_DOM_SWAP_WAIT_MS, -1, NULL, t * v->swap_ms_per_s);
    /* Errors the simulated HealthLog ties to this VM: vm-1 shares PMD 2's undervolted cores (a
     * corrected error every 10 s), vm-2 one DRAM row (an uncorrected error every 10 minutes). */
    {
        uint64_t ce = idx == 0 ? t / 10 : 0, ue = idx == 1 ? t / 600 : 0;
        rec_u64(rec, UNI_M_DOM_ERRORS_CE_COUNT, -1, NULL, ce);
        rec_u64(rec, UNI_M_DOM_ERRORS_UE_COUNT, -1, NULL, ue);
        rec_dbl(rec, UNI_M_DOM_ERRORS_CE_RATE_PER_MIN, -1, NULL, idx == 0 ? 6.0 : 0.0);
        rec_dbl(rec, UNI_M_DOM_ERRORS_UE_RATE_PER_MIN, -1, NULL, idx == 1 ? 0.1 : 0.0);
    }
    if (!first)
        rec_dbl(rec, UNI_M_DOM_SWAP_WAIT_PCT, -1, NULL, 100.0 * (double)v->swap_ms_per_s / TICK_MS);
    else
        rec_absent(rec, UNI_M_DOM_SWAP_WAIT_PCT, "%s", why_first);
    rec_u64(rec, UNI_M_DOM_PERF_CYCLES, -1, NULL, cycles);
    rec_u64(rec, UNI_M_DOM_PERF_INSTRUCTIONS, -1, NULL, cycles * 3 / 2);
    rec_u64(rec, UNI_M_DOM_PERF_CACHE_REFERENCES, -1, NULL, cycles * 3 / 20);
    rec_u64(rec, UNI_M_DOM_PERF_CACHE_MISSES, -1, NULL, cycles * 3 / 400);
    /* One virtio NIC on a tap, 1.5 MB/s in and 250 kB/s out. */
    rec_str(rec, UNI_M_DOM_NET_I_NAME, 0, NULL, v->tap);
    rec_str(rec, UNI_M_DOM_NET_I_MAC, 0, NULL, v->mac);
    rec_str(rec, UNI_M_DOM_NET_I_FREF, 0, NULL, "clean-traffic");
    rec_u64(rec, UNI_M_DOM_NET_I_RX_BYTES, 0, NULL, t * 1500000);
    rec_u64(rec, UNI_M_DOM_NET_I_RX_PACKETS, 0, NULL, t * 1000);
    rec_u64(rec, UNI_M_DOM_NET_I_TX_BYTES, 0, NULL, t * 250000);
    rec_u64(rec, UNI_M_DOM_NET_I_TX_PACKETS, 0, NULL, t * 500);
    /* One disk: 40 reads (4 MB) and 10 writes (1 MB) a second, 2 ms each. */
    rec_str(rec, UNI_M_DOM_DISK_I_DEVICE, 0, NULL, "vda");
    rec_u64(rec, UNI_M_DOM_DISK_I_READ_BYTES, 0, NULL, t * 4194304);
    rec_u64(rec, UNI_M_DOM_DISK_I_READ_REQUESTS, 0, NULL, t * 40);
    rec_u64(rec, UNI_M_DOM_DISK_I_WRITE_BYTES, 0, NULL, t * 1048576);
    rec_u64(rec, UNI_M_DOM_DISK_I_WRITE_REQUESTS, 0, NULL, t * 10);
    rec_u64(rec, UNI_M_DOM_DISK_I_ERRORS, 0, NULL, 0);
    rec_u64(rec, UNI_M_DOM_DISK_I_CAPACITY_BYTES, 0, NULL, 10737418240ull);
    rec_u64(rec, UNI_M_DOM_DISK_I_ALLOCATION_BYTES, 0, NULL, 2147483648ull + t * 1048576);
    rec_u64(rec, UNI_M_DOM_DISK_I_PHYSICAL_BYTES, 0, NULL, 2147483648ull + t * 1048576);
    if (!first) {
        rec_dbl(rec, UNI_M_DOM_NET_I_RX_BYTES_RATE, 0, NULL, 1500000);
        rec_dbl(rec, UNI_M_DOM_NET_I_TX_BYTES_RATE, 0, NULL, 250000);
        rec_dbl(rec, UNI_M_DOM_DISK_I_READ_BYTES_RATE, 0, NULL, 4194304);
        rec_dbl(rec, UNI_M_DOM_DISK_I_READ_REQUESTS_RATE, 0, NULL, 40);
        rec_dbl(rec, UNI_M_DOM_DISK_I_WRITE_BYTES_RATE, 0, NULL, 1048576);
        rec_dbl(rec, UNI_M_DOM_DISK_I_WRITE_REQUESTS_RATE, 0, NULL, 10);
        rec_dbl(rec, UNI_M_DOM_DISK_I_LATENCY_MS, 0, NULL, 2);
        rec_dbl(rec, UNI_M_DOM_DISK_I_IOPS, 0, NULL, 50);
    } else {
        static const unsigned rates[] = {UNI_M_DOM_NET_I_RX_BYTES_RATE, UNI_M_DOM_NET_I_TX_BYTES_RATE,
                                         UNI_M_DOM_DISK_I_READ_BYTES_RATE, UNI_M_DOM_DISK_I_READ_REQUESTS_RATE,
                                         UNI_M_DOM_DISK_I_WRITE_BYTES_RATE, UNI_M_DOM_DISK_I_WRITE_REQUESTS_RATE,
                                         UNI_M_DOM_DISK_I_LATENCY_MS, UNI_M_DOM_DISK_I_IOPS};
        for (size_t i = 0; i < ELEMENTSOF(rates); i++)
            rec_absent(rec, rates[i], "%s", why_first);
    }
    /* vCPU c of VM idx runs on core (2 idx + c) % 8, pinned to its PMD's two cores. */
    for (unsigned c = 0; c < v->vcpus; c++) {
        unsigned core = (2 * idx + c) % NCPU;
        char pin[16];
        snprintf(pin, sizeof(pin), "%u-%u", core & ~1u, (core & ~1u) + 1);
        rec_u64(rec, UNI_M_DOM_VCPU_V_TIME_MS, (int)c, NULL, cpu_ms / v->vcpus);
        rec_u64(rec, UNI_M_DOM_VCPU_V_CPU, (int)c, NULL, core);
        rec_str(rec, UNI_M_DOM_VCPU_V_PINNING, (int)c, NULL, pin);
        rec_u64(rec, UNI_M_DOM_VCPU_V_TID, (int)c, NULL, 4100 + 10 * idx + c);
    }
    rec_str(rec, UNI_M_DOM_KVMSTATS_SOURCE, -1, NULL, "simulated");
    for (size_t k = 0; k < ELEMENTSOF(sim_kvm); k++)
        rec_u64(rec, UNI_M_DOM_KVM_NAME, -1, sim_kvm[k].name, sim_kvm_vm(v, k, t));
    for (unsigned c = 0; c < v->vcpus; c++)
        for (size_t k = 0; k < ELEMENTSOF(sim_kvm); k++)
            if (sim_kvm[k].per_vcpu)
                rec_u64(rec, UNI_M_DOM_VCPU_V_KVM_NAME, (int)c, sim_kvm[k].name, t * sim_kvm[k].per_vcpu_per_s);
}

static int test_domain_stats(uniConnectPtr conn, const uni_select *sel, const uni_domain_info *only, size_t nonly,
                             uni_domain_stats **ret, size_t *ret_n) {
    test_state *s = conn->priv;
    uint64_t t = ++s->tick;
    uni_domain_stats *out = calloc(ELEMENTSOF(sim_vms), sizeof(*out));
    size_t n = 0;

    if (!out) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    *ret = out;
    for (size_t o = 0; o < (only ? nonly : 1); o++)
        for (unsigned i = 0; i < ELEMENTSOF(sim_vms); i++) {
            uni_domain_info info;
            bool dup = false;
            sim_vm_info(&sim_vms[i], i, &info);
            if (!info.name || (only && !uni_domain_info_matches(&info, &only[o]))) {
                uni_domain_info_done(&info);
                continue;
            }
            for (size_t k = 0; k < n && !dup; k++)
                dup = streq(out[k].info.name, info.name);
            if (dup || !(out[n].rec = uni_record_new(uni_catalog, UNI_NMETRICS))) {
                uni_domain_info_done(&info);
                if (dup)
                    continue;
                *ret_n = n;
                uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
                return -1;
            }
            out[n].info = info;
            out[n].rec->sel = sel;
            sim_vm_record(&sim_vms[i], i, t, s->dom_tick, out[n].rec);
            n++;
        }
    *ret_n = n;
    s->dom_tick = t;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Control of the simulated board: the same checks and messages as the local driver's, on the
 * board's state. Each change is reported to the audit hook under the file the local driver
 * would write (cpufreq/policyP/...) or the board parameter (pmdP/voltage_mv, mcC/refresh_ms).
 * ------------------------------------------------------------------------------------------- */

static int check_core(int core) {
    return core >= 0 && core < NCPU ? 0 : uni_error_no_core(core, false, "0-7");
}

/* The PMDs a call acts on (one, or all for core -1) and the cores they move, into @ret. */
static int pmd_range(int core, int *first, int *last, uni_core_set *ret) {
    if (core >= 0 && check_core(core) < 0)
        return -1;
    *first = core < 0 ? 0 : core / 2;
    *last = core < 0 ? NPMD - 1 : core / 2;
    for (int c = *first * 2; c <= *last * 2 + 1; c++)
        uni_core_set_add(ret, c);
    return ret->n;
}

static void audit_policy(uniConnectPtr conn, int pmd, const char *attr, const char *before, const char *after) {
    char obj[32], path[96];
    snprintf(obj, sizeof(obj), "cpus %d-%d", 2 * pmd, 2 * pmd + 1);
    snprintf(path, sizeof(path), "devices/system/cpu/cpufreq/policy%d/%s", 2 * pmd, attr);
    uni_audit(conn, obj, path, before, after, 0, false);
}

static void set_governor(uniConnectPtr conn, int pmd, const char *governor) {
    test_state *s = conn->priv;
    const char *g = NULL;

    /* The state keeps the board's own (static) name of the governor. */
    for (size_t i = 0; i < ELEMENTSOF(governor_names); i++)
        if (streq(governor_names[i], governor))
            g = governor_names[i];
    if (!g || streq(s->pmd_governor[pmd], g))
        return;
    audit_policy(conn, pmd, "scaling_governor", s->pmd_governor[pmd], g);
    s->pmd_governor[pmd] = g;
}

static void set_pmd_mhz(uniConnectPtr conn, int pmd, unsigned mhz) {
    test_state *s = conn->priv;
    char before[32], after[32];
    if (s->pmd_mhz[pmd] == mhz)
        return;
    snprintf(before, sizeof(before), "%u", s->pmd_mhz[pmd] * 1000);
    snprintf(after, sizeof(after), "%u", mhz * 1000);
    audit_policy(conn, pmd, "scaling_setspeed", before, after);
    sim_energy_fold(s);
    s->pmd_mhz[pmd] = mhz;
}

static int test_node_set_frequency(uniConnectPtr conn, int core, uint64_t khz, const char *text, uni_core_set *ret) {
    uint64_t avail[(2400 - MIN_MHZ) / STEP_MHZ + 1];
    int first, last;

    if (check_core(core) < 0)
        return -1;
    for (size_t i = 0; i < ELEMENTSOF(avail); i++)
        avail[i] = (2400 - i * STEP_MHZ) * 1000ull;
    if (uni_check_frequency(core, khz, text, MIN_MHZ * 1000, (uint64_t)max_mhz * 1000, avail, ELEMENTSOF(avail)) < 0)
        return -1;
    pmd_range(core, &first, &last, ret);
    set_governor(conn, first, "userspace");
    set_pmd_mhz(conn, first, (unsigned)(khz / 1000));
    return ret->n;
}

static int test_node_set_governor(uniConnectPtr conn, int core, const char *governor, uni_core_set *ret) {
    int first, last;

    if (core >= 0 && check_core(core) < 0)
        return -1;
    if (uni_check_listed("governor", governor, core < 0 ? 0 : core, governors) < 0)
        return -1;
    pmd_range(core, &first, &last, ret);
    for (int p = first; p <= last; p++)
        set_governor(conn, p, governor);
    return ret->n;
}

static int test_node_set_power_policy(uniConnectPtr conn, int core, const char *policy, uni_core_set *ret) {
    test_state *s = conn->priv;
    const char *g[NPMD];
    int first, last;

    /* X-Gene2 has no energy-performance preference: the policy is the governor's. */
    if (core >= 0 && check_core(core) < 0)
        return -1;
    pmd_range(core, &first, &last, ret);
    for (int p = first; p <= last; p++)
        if (!(g[p] = uni_policy_to_governor(policy, 2 * p, s->pmd_governor[p], governors)))
            return -1;
    for (int p = first; p <= last; p++)
        set_governor(conn, p, g[p]);
    return ret->n;
}

static int test_node_get_operating_points(uniConnectPtr conn, uniOppListPtr l) {
    test_state *s = conn->priv;

    for (int p = 0; p < NPMD; p++) {
        char name[16];
        int cores[2] = {2 * p, 2 * p + 1}, d;
        snprintf(name, sizeof(name), "pmd%d", p);
        if ((d = uni_opp_add_domain(l, UNI_OPP_CPU, p, name, cores, 2, NULL, 0)) < 0 ||
            uni_opp_add_param(l, d, &(uniOppParam){"frequency_mhz", "MHz", s->pmd_mhz[p], (long long)max_mhz, MIN_MHZ,
                                                   (long long)max_mhz, STEP_MHZ, 0}) < 0 ||
            uni_opp_add_param(l, d, &(uniOppParam){"voltage_mv", "mV", s->pmd_mv[p], PMD_MV_NOMINAL, PMD_MV_MIN, PMD_MV_MAX,
                                                   PMD_MV_STEP, 0}) < 0)
            goto oom;
    }
    for (int c = 0; c < NMC; c++) {
        char name[16], a[16], b[16];
        const char *dimms[2] = {a, b};
        int d;
        snprintf(name, sizeof(name), "mc%d", c);
        snprintf(a, sizeof(a), "DIMM%dA", c);
        snprintf(b, sizeof(b), "DIMM%dB", c);
        if ((d = uni_opp_add_domain(l, UNI_OPP_MEMORY, c, name, NULL, 0, dimms, 2)) < 0 ||
            uni_opp_add_param(l, d, &(uniOppParam){"refresh_ms", "ms", s->mc_refresh_ms[c], MC_REFRESH_NOMINAL, MC_REFRESH_MIN,
                                                   MC_REFRESH_MAX, 1, 0}) < 0 ||
            uni_opp_add_param(l, d, &(uniOppParam){"voltage_mv", "mV", s->mc_mv[c], MC_MV_NOMINAL, MC_MV_MIN, MC_MV_MAX,
                                                   MC_MV_STEP, 0}) < 0)
            goto oom;
    }
    return 0;
oom:
    uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
    return -1;
}

/* Settings were checked against the limits by the caller: apply them, audited. */
static int test_node_set_operating_point(uniConnectPtr conn, uniOppListPtr l, int di, const uniOppSetting *set, int n) {
    test_state *s = conn->priv;
    const uniOppDomain *d = uniOppListGetDomain(l, di);

    for (int i = 0; i < n; i++) {
        bool cpu = d->kind == UNI_OPP_CPU, volt = streq(set[i].name, "voltage_mv");
        int *v = cpu ? (volt ? &s->pmd_mv[d->id] : NULL) : (volt ? &s->mc_mv[d->id] : &s->mc_refresh_ms[d->id]);
        char path[48], before[32], after[32];
        if (!v) {
            set_governor(conn, d->id, "userspace");
            set_pmd_mhz(conn, d->id, (unsigned)set[i].value);
            continue;
        }
        if (*v == set[i].value)
            continue;
        snprintf(path, sizeof(path), "%s/%s", d->name, set[i].name);
        snprintf(before, sizeof(before), "%d", *v);
        snprintf(after, sizeof(after), "%lld", set[i].value);
        uni_audit(conn, d->name, path, before, after, 0, false);
        if (cpu)
            sim_energy_fold(s);
        *v = (int)set[i].value;
    }
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
    .node_set_frequency = test_node_set_frequency,
    .node_set_governor = test_node_set_governor,
    .node_set_power_policy = test_node_set_power_policy,
    .node_get_operating_points = test_node_get_operating_points,
    .node_set_operating_point = test_node_set_operating_point,
    .list_domains = test_list_domains,
    .domain_stats = test_domain_stats,
    .healthlog_query = test_healthlog_query,
};
