/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The simulated X-Gene2-like board of uni-simboard: 8 cores in 4 PMDs (one voltage, frequency
 * and cpufreq policy per PMD), 4 DDR3 channels with 2 DIMMs each. Its state is advanced in
 * fixed 100 ms ticks from a seed, so that the same seed and the same sequence of settings and
 * advances give the same counters: power, temperatures and error counts follow the operating
 * points and the load. The numbers and where they come from are in docs/simboard.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* PMD p runs cores 2p and 2p+1; channel c holds DIMMs DIMM<c>A and DIMM<c>B (sb_dimm_label). */
#define SB_NCPU 8
#define SB_NPMD 4
#define SB_NMC 4
#define SB_DIMMS 2
#define SB_DIMM_MB 2048 /* 2 GiB registered DDR3 DIMMs: 16 GiB in all */
#define SB_TICK_MS 100

/* cpufreq (cppc-like: any request is served by the lowest step at or above it). */
#define SB_MIN_KHZ 300000u
#define SB_MAX_KHZ 2400000u
#define SB_STEP_KHZ 300000u
/* PMD voltage: the board accepts 800-1000 mV in 5 mV steps; the vendor sets 980 mV. */
#define SB_PMD_MV_NOMINAL 980
#define SB_PMD_MV_MIN 800
#define SB_PMD_MV_MAX 1000
#define SB_PMD_MV_STEP 5
/* DRAM: refresh period 32-4096 ms (JEDEC: 64 ms), voltage 1350-1575 mV (DDR3: 1500 mV). */
#define SB_REFRESH_NOMINAL 64
#define SB_REFRESH_MIN 32
#define SB_REFRESH_MAX 4096
#define SB_DRAM_MV_NOMINAL 1500
#define SB_DRAM_MV_MIN 1350
#define SB_DRAM_MV_MAX 1575
#define SB_DRAM_MV_STEP 5

/* The governors of a 4.14 arm64 kernel, in scaling_available_governors' order. */
/* clang-format off */
#define SB_GOVERNORS(X) \
    X(CONSERVATIVE, "conservative") X(ONDEMAND, "ondemand") X(USERSPACE, "userspace") \
    X(POWERSAVE, "powersave") X(PERFORMANCE, "performance") X(SCHEDUTIL, "schedutil")
/* clang-format on */
#define SB_GOV_ENUM_(id, name) SB_GOV_##id,
typedef enum { SB_GOVERNORS(SB_GOV_ENUM_) SB_NGOV } sb_governor;
extern const char *const sb_governor_names[SB_NGOV];
extern const char *const sb_governor_list; /* the names, space-separated */
int sb_governor_of(const char *name);      /* its sb_governor, or -1 */

/* The operating-point domains' parameters (sys/class/uniserver-opp/, uniNodeGetOperatingPoints):
 * a PMD's frequency (cpufreq's, in MHz) and voltage, a channel's refresh period and voltage. */
typedef struct {
    const char *name, *unit;
    int nominal, min, max, step;
} sb_param;
enum { SB_PMD_FREQ, SB_PMD_MV, SB_PMD_NPARAM };
enum { SB_MC_REFRESH, SB_MC_MV, SB_MC_NPARAM };
extern const sb_param sb_pmd_params[SB_PMD_NPARAM], sb_mc_params[SB_MC_NPARAM];
/* Whether the board's regulators accept @v: within the limits, on a step from the minimum. */
bool sb_param_accepts(const sb_param *p, long long v);
void sb_dimm_label(int mc, int slot, char *buf, size_t len); /* "DIMM2A", as EDAC's dimm_label */

/* A simulated VM (sim/vms; docs/simboard.md): what it asks of the board, where its vCPUs may run
 * (what the allocator writes), and the errors that hit it (the hidden truth: tools never read it). */
#define SB_MAX_VMS 16
#define SB_VM_MAX_VCPUS 8
typedef struct {
    bool active;
    char name[32];
    int cls; /* the class the truth groups it under: 0 normal, 1 high, 2 low (tools read the API's) */
    int nvcpu;
    double demand;                    /* per vCPU, in cores at full speed */
    uint8_t allowed[SB_VM_MAX_VCPUS]; /* each vCPU's cores, a bit per core */
    uint64_t pmd_ce, pmd_ue;          /* errors of the PMDs its vCPUs ran on, while they ran there */
    uint64_t mc_ce, mc_ue;            /* memory errors: every channel holds its memory (interleaved) */
    double cpu_s;                     /* vCPU-seconds it ran (what it got) */
    /* Per vCPU (proc/PID/task/TID/schedstat): seconds it ran, seconds it waited for a core (the
     * time it asked for beyond what its cores gave: run-queue wait), ticks in which it ran. */
    double run_s[SB_VM_MAX_VCPUS], wait_s[SB_VM_MAX_VCPUS];
    uint64_t slices[SB_VM_MAX_VCPUS];
} sb_vm;

typedef struct {
    /* Settings (what sysfs writes change). */
    sb_governor gov[SB_NPMD];
    unsigned setspeed_khz[SB_NPMD]; /* userspace governor's target */
    unsigned min_khz[SB_NPMD], max_khz[SB_NPMD];
    int pmd_mv[SB_NPMD];
    int refresh_ms[SB_NMC], dram_mv[SB_NMC];
    double load[SB_NCPU]; /* 0..1, what the (simulated) workload asks of each core */

    /* Per-part variation drawn from the seed: the hidden truth the margins depend on. */
    uint64_t seed;
    double vmin2400_mv[SB_NPMD];   /* safe PMD voltage at 2.4 GHz */
    double retention45_ms[SB_NMC]; /* weakest cell's retention at 45 C, nominal DRAM voltage */
    double ce_share_a[SB_NMC];     /* share of a channel's errors on its first DIMM */
    double dimm_offset_c[SB_NMC];  /* DIMM temperature offset */

    /* State advanced tick by tick. */
    uint64_t now_ms;
    uint64_t rng;
    uint64_t jiffies[SB_NCPU][4]; /* user, system, idle, iowait at USER_HZ 100 */
    double busy_frac[SB_NCPU];    /* sub-jiffy remainders */
    double load1;                 /* /proc/loadavg 1-minute average */
    double soc_c;                 /* SoC temperature (first-order lag) */
    double dram_energy_uj;        /* DRAM energy counter (powercap) */
    double cpu_energy_uj;         /* CPU energy (the test driver's; no file of the board's) */
    double io_energy_uj;          /* IO energy */
    uint64_t pmd_ce[SB_NPMD][2];  /* corrected errors in L1, L2 */
    uint64_t pmd_ue[SB_NPMD];     /* uncorrected */
    uint64_t dimm_ce[SB_NMC][SB_DIMMS], dimm_ue[SB_NMC][SB_DIMMS];

    /* The workload's own failure signals (what stress-ng's --verify and exit status report on a
     * real host), drawn from a stream of their own so that the error counts above do not move:
     * silent data corruptions and crashes of the workload running on a PMD or a channel. */
    uint64_t fail_rng;
    uint64_t pmd_sdc[SB_NPMD], pmd_crash[SB_NPMD];
    uint64_t mc_sdc[SB_NMC], mc_crash[SB_NMC];

    /* Background errors: what a board at its nominal settings still reports (weak cells, particle
     * strikes), with a seeded weight per PMD and channel (lognormal: a few parts carry most of
     * them), growing with the load and, for DRAM, doubling every 10 C. Off (scale 0) unless
     * sb_set_background: uni-simboard's errors come from the margins alone; the test driver
     * turns them on. */
    double bg_scale;
    double bg_pmd[SB_NPMD], bg_mc[SB_NMC];

    /* Simulated VMs (vms.c): their demand adds to load[] through vm_load[]. */
    sb_vm vm[SB_MAX_VMS];
    int nvm; /* active VMs */
    double vm_load[SB_NCPU];
} sb_model;

/* Error counters at one moment, to attribute a tick's new errors. */
typedef struct {
    uint64_t pmd_ce[SB_NPMD], pmd_ue[SB_NPMD], mc_ce, mc_ue;
} sb_counts;
void sb_counts_of(const sb_model *m, sb_counts *c);
/* Simulated VMs: add one (every vCPU allowed on every core), remove it, set a vCPU's cores (a
 * mask of bits per core; 0 is refused as the kernel refuses an empty cpuset). -EINVAL, -ENOENT,
 * -ENOSPC, -EEXIST; the index or 0. */
int sb_vm_add(sb_model *m, const char *name, int cls, int nvcpu, double demand);
int sb_vm_remove(sb_model *m, const char *name);
int sb_vm_find(const sb_model *m, const char *name);
int sb_vm_set_allowed(sb_model *m, int vm, int vcpu, unsigned mask);
int sb_vm_set_demand(sb_model *m, int vm, double demand);
/* The new errors since @before go to the VMs that ran on the erring PMD (every VM for memory),
 * and @dt seconds of CPU to each vCPU: on a core asked for more time than it has (its demand
 * stretched by a slower clock), every vCPU on it gets the same share of what it asked, and the
 * rest is its wait. */
void sb_vms_attribute(sb_model *m, const sb_counts *before, double dt);

void sb_init(sb_model *m, uint64_t seed);
/* Advance the board by @ms (whole ticks; a remainder is carried by the caller's clock). */
void sb_advance(sb_model *m, uint64_t ms);
/* Draw the error counters (and the workload's failures) of @dt_s seconds at the rates now,
 * without advancing anything else: one tick's draws (sb_advance calls it with 0.1 s), or a
 * history drawn in coarser steps. The same seed and calls give the same counts. */
void sb_draw_errors(sb_model *m, double dt_s);
/* Background errors at @scale (1: the rates of docs/simboard.md; 0: none, as sb_init leaves it). */
void sb_set_background(sb_model *m, double scale);
/* A varying workload for the board, deterministic for @seed: core @core's demand (0.02..1.4 of
 * a core at full speed; above 1 tasks queue) at @t_ms. Each core has its own level and a slow
 * swing of its own period; every 10 s the level jumps at random, and now and then (bursts of
 * 10-20 s) every core is overloaded at once. */
double sb_workload_load(uint64_t seed, int core, uint64_t t_ms);

/* A setting of a domain's parameter (SB_PMD_* or SB_MC_*); NULL for SB_PMD_FREQ, which is
 * cpufreq's (the governor, setspeed_khz, the policy's limits: sb_pmd_khz). */
int *sb_pmd_setting(sb_model *m, int pmd, int param);
int *sb_mc_setting(sb_model *m, int mc, int param);

/* What the board runs now. */
unsigned sb_pmd_khz(const sb_model *m, int pmd);
/* V^2 x f of PMD @pmd relative to its nominal voltage at full speed: its dynamic power's scale. */
double sb_pmd_v2f(const sb_model *m, int pmd);
double sb_pmd_util(const sb_model *m, int pmd);
double sb_core_util(const sb_model *m, int core);  /* 0..1: its demand stretched by a slower clock */
double sb_pmd_vmin_mv(const sb_model *m, int pmd); /* safe voltage at the PMD's frequency now */
double sb_cpu_power_w(const sb_model *m);
double sb_io_power_w(const sb_model *m);
double sb_dram_power_w(const sb_model *m);
double sb_dimm_temp_c(const sb_model *m, int mc);
double sb_retention_ms(const sb_model *m, int mc); /* weakest cell's retention now */
/* Expected error rates now, per second (the counters draw Poisson events from them). */
double sb_pmd_ce_rate(const sb_model *m, int pmd);
double sb_pmd_ue_rate(const sb_model *m, int pmd);
double sb_mc_ce_rate(const sb_model *m, int mc);
double sb_mc_ue_rate(const sb_model *m, int mc);
/* The workload's failure rates now, per second: silent data corruption some mV below the first
 * uncorrected errors, crashes lower still (PMD); on a channel beyond what ECC corrects. */
double sb_pmd_sdc_rate(const sb_model *m, int pmd);
double sb_pmd_crash_rate(const sb_model *m, int pmd);
double sb_mc_sdc_rate(const sb_model *m, int mc);
double sb_mc_crash_rate(const sb_model *m, int mc);
/* The model's own draws on a caller's splitmix64 state (bench/predict-bench draws the board's
 * rates per minute with them): uniform in [0, 1), Poisson events at @mean. */
double sb_uniform(uint64_t *state);
uint64_t sb_poisson(uint64_t *state, double mean);
