/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The board's physics: effective frequency from the governor, utilisation, power as V^2 x f plus
 * leakage, temperatures with thermal lag, and errors as a function of the margin: PMD cache
 * errors below the PMD's safe voltage, DRAM retention errors when the refresh period exceeds
 * the weakest cell's retention (which halves every 10 C). Deterministic: a seeded generator,
 * fixed ticks. The constants and their sources are in docs/simboard.md. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model.h"

/* ---- the board's description ---- */

#define SB_GOV_NAME_(id, name) name,
#define SB_GOV_WORD_(id, name) " " name
const char *const sb_governor_names[SB_NGOV] = {SB_GOVERNORS(SB_GOV_NAME_)};
static const char governor_words[] = SB_GOVERNORS(SB_GOV_WORD_);
const char *const sb_governor_list = governor_words + 1;

int sb_governor_of(const char *name) {
    for (int g = 0; g < SB_NGOV; g++)
        if (strcmp(name, sb_governor_names[g]) == 0)
            return g;
    return -1;
}

const sb_param sb_pmd_params[SB_PMD_NPARAM] = {
    [SB_PMD_FREQ] = {"frequency_mhz", "MHz", SB_MAX_KHZ / 1000, SB_MIN_KHZ / 1000, SB_MAX_KHZ / 1000,
                     SB_STEP_KHZ / 1000},
    [SB_PMD_MV] = {"voltage_mv", "mV", SB_PMD_MV_NOMINAL, SB_PMD_MV_MIN, SB_PMD_MV_MAX, SB_PMD_MV_STEP},
};
const sb_param sb_mc_params[SB_MC_NPARAM] = {
    [SB_MC_REFRESH] = {"refresh_ms", "ms", SB_REFRESH_NOMINAL, SB_REFRESH_MIN, SB_REFRESH_MAX, 1},
    [SB_MC_MV] = {"voltage_mv", "mV", SB_DRAM_MV_NOMINAL, SB_DRAM_MV_MIN, SB_DRAM_MV_MAX, SB_DRAM_MV_STEP},
};

bool sb_param_accepts(const sb_param *p, long long v) {
    return v >= p->min && v <= p->max && (p->step <= 1 || (v - p->min) % p->step == 0);
}

void sb_dimm_label(int mc, int slot, char *buf, size_t len) {
    snprintf(buf, len, "DIMM%d%c", mc, 'A' + slot);
}

int *sb_pmd_setting(sb_model *m, int p, int param) {
    return param == SB_PMD_MV ? &m->pmd_mv[p] : NULL;
}

int *sb_mc_setting(sb_model *m, int c, int param) {
    return param == SB_MC_REFRESH ? &m->refresh_ms[c] : &m->dram_mv[c];
}

/* ---- deterministic randomness: splitmix64 ---- */

static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s) {
    return (double)(next_u64(s) >> 11) / 9007199254740992.0; /* [0, 1) */
}

static double gaussian(uint64_t *s) {
    double u1 = uniform(s), u2 = uniform(s);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

static double clampd(double v, double lo, double hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* Events in one tick at mean @mean: Knuth's method for small means, normal beyond. */
static uint64_t poisson(uint64_t *s, double mean) {
    if (mean <= 0)
        return 0;
    if (mean < 30) {
        double l = exp(-mean), p = 1;
        uint64_t k = 0;
        do {
            k++;
            p *= uniform(s);
        } while (p > l);
        return k - 1;
    }
    return (uint64_t)fmax(0, floor(mean + sqrt(mean) * gaussian(s) + 0.5));
}

/* ---- what the board runs ---- */

/* cppc serves a request with the lowest step at or above it, within the policy's limits. */
static unsigned step_up(double khz) {
    double k = ceil(khz / SB_STEP_KHZ - 1e-9);
    return (unsigned)clampd(k * SB_STEP_KHZ, SB_MIN_KHZ, SB_MAX_KHZ);
}

static unsigned step_down(unsigned khz) {
    unsigned k = khz / SB_STEP_KHZ * SB_STEP_KHZ;
    return k < SB_MIN_KHZ ? SB_MIN_KHZ : k;
}

/* What core @c is asked for: the workload's load and the simulated VMs' vCPUs on it. */
static double demand(const sb_model *m, int c) {
    return m->load[c] + m->vm_load[c];
}

static double pmd_demand(const sb_model *m, int p) {
    return fmax(demand(m, 2 * p), demand(m, 2 * p + 1));
}

unsigned sb_pmd_khz(const sb_model *m, int p) {
    unsigned lo = step_up(m->min_khz[p]), hi = step_down(m->max_khz[p]);
    double target;

    if (lo > hi)
        lo = hi;
    switch (m->gov[p]) {
    case SB_GOV_PERFORMANCE:
        return hi;
    case SB_GOV_POWERSAVE:
        return lo;
    case SB_GOV_USERSPACE:
        target = m->setspeed_khz[p];
        break;
    default:
        /* Dynamic governors: enough for the demand with schedutil's 25 % headroom. */
        target = pmd_demand(m, p) * 1.25 * SB_MAX_KHZ;
    }
    target = step_up(target);
    return (unsigned)clampd(target, lo, hi);
}

/* A core's utilisation: its demand (in full-speed cores) stretched by a slower clock. */
static double core_util(const sb_model *m, int c) {
    return fmin(1.0, demand(m, c) * SB_MAX_KHZ / sb_pmd_khz(m, c / 2));
}

double sb_core_util(const sb_model *m, int c) {
    return core_util(m, c);
}

double sb_pmd_util(const sb_model *m, int p) {
    return (core_util(m, 2 * p) + core_util(m, 2 * p + 1)) / 2;
}

double sb_pmd_vmin_mv(const sb_model *m, int p) {
    /* The safe voltage falls with the frequency: 45 mV lower at the slowest step. */
    return m->vmin2400_mv[p] - 45.0 * (double)(SB_MAX_KHZ - sb_pmd_khz(m, p)) / (SB_MAX_KHZ - SB_MIN_KHZ);
}

double sb_pmd_v2f(const sb_model *m, int p) {
    double v = m->pmd_mv[p] / (double)SB_PMD_MV_NOMINAL, f = sb_pmd_khz(m, p) / (double)SB_MAX_KHZ;
    return v * v * f;
}

double sb_cpu_power_w(const sb_model *m) {
    double w = 0;
    for (int p = 0; p < SB_NPMD; p++) {
        double v = m->pmd_mv[p] / (double)SB_PMD_MV_NOMINAL;
        double dyn = 5.5 * sb_pmd_v2f(m, p) * (0.2 + 0.8 * sb_pmd_util(m, p));
        double leak = 0.9 * v * v * v * (1.0 + 0.01 * (m->soc_c - 50.0));
        w += dyn + leak;
    }
    return w;
}

double sb_io_power_w(const sb_model *m) {
    (void)m;
    return 8.5;
}

/* The cores' mean utilisation (core_util's arithmetic, one frequency per PMD: it is called often). */
static double avg_load(const sb_model *m) {
    double s = 0;
    for (int p = 0; p < SB_NPMD; p++) {
        unsigned khz = sb_pmd_khz(m, p);
        for (int c = 2 * p; c < 2 * p + 2; c++)
            s += fmin(1.0, demand(m, c) * SB_MAX_KHZ / khz);
    }
    return s / SB_NCPU;
}

static double channel_power_at(const sb_model *m, int c, double avg) {
    double v = m->dram_mv[c] / (double)SB_DRAM_MV_NOMINAL;
    /* Background, refresh (inversely proportional to the period) and access power. */
    return v * v * (0.9 + 0.35 * SB_REFRESH_NOMINAL / m->refresh_ms[c]) + 0.6 * avg;
}

static double channel_power_w(const sb_model *m, int c) {
    return channel_power_at(m, c, avg_load(m));
}

double sb_dram_power_w(const sb_model *m) {
    double w = 0;
    for (int c = 0; c < SB_NMC; c++)
        w += channel_power_w(m, c);
    return w;
}

double sb_dimm_temp_c(const sb_model *m, int c) {
    double avg = avg_load(m);
    return 36.0 + m->dimm_offset_c[c] + 8.0 * avg + 1.5 * channel_power_at(m, c, avg);
}

double sb_retention_ms(const sb_model *m, int c) {
    double r = m->retention45_ms[c] * pow(2.0, (45.0 - sb_dimm_temp_c(m, c)) / 10.0);
    /* Below 1450 mV cells hold their charge for less: half as long per 50 mV. */
    if (m->dram_mv[c] < 1450)
        r *= pow(2.0, -(1450.0 - m->dram_mv[c]) / 50.0);
    return r;
}

/* Background errors per second of PMD @p / channel @c at weight 1 (sb_set_background). */
static double bg_pmd_rate(const sb_model *m, int p) {
    return m->bg_scale * m->bg_pmd[p] * 0.02 * (0.2 + 0.8 * sb_pmd_util(m, p));
}

static double bg_mc_rate(const sb_model *m, int c) {
    return m->bg_scale * m->bg_mc[c] * 0.03 * pow(2.0, (sb_dimm_temp_c(m, c) - 45.0) / 10.0) *
           (0.3 + 0.7 * avg_load(m));
}

double sb_pmd_ce_rate(const sb_model *m, int p) {
    double margin = m->pmd_mv[p] - sb_pmd_vmin_mv(m, p), bg = bg_pmd_rate(m, p);
    if (margin >= 0)
        return bg;
    /* Corrected errors grow about e-fold every 6 mV below the safe voltage, on a busy PMD more. */
    return bg + 0.4 * (exp(-margin / 6.0) - 1.0) * (0.2 + 0.8 * sb_pmd_util(m, p));
}

double sb_pmd_ue_rate(const sb_model *m, int p) {
    double margin = m->pmd_mv[p] - sb_pmd_vmin_mv(m, p), bg = 0.01 * bg_pmd_rate(m, p);
    if (margin >= -15)
        return bg;
    return bg + 0.01 * (exp((-margin - 15.0) / 6.0) - 1.0) * (0.2 + 0.8 * sb_pmd_util(m, p));
}

double sb_mc_ce_rate(const sb_model *m, int c) {
    double x = m->refresh_ms[c] / sb_retention_ms(m, c), bg = bg_mc_rate(m, c);
    /* Cells failing between refreshes grow steeply with the period beyond the weakest cell. */
    return bg + (x <= 1 ? 0 : 0.02 * (x * x * x - 1.0));
}

double sb_mc_ue_rate(const sb_model *m, int c) {
    double x = m->refresh_ms[c] / sb_retention_ms(m, c), bg = 0.01 * bg_mc_rate(m, c);
    /* Two failing bits in one ECC word: only far beyond the weakest cell. */
    return bg + (x <= 3 ? 0 : 0.0005 * (pow(x / 3.0, 4) - 1.0));
}

/* The workload's own failures: silent data corruption 5 mV below the first uncorrected errors,
 * crashes 10 mV below; on a channel, corruption (three or more bits in one ECC word) beyond
 * x = 4, crashes beyond x = 5. */
double sb_pmd_sdc_rate(const sb_model *m, int p) {
    double margin = m->pmd_mv[p] - sb_pmd_vmin_mv(m, p);
    if (margin >= -20)
        return 0;
    return 0.02 * (exp((-margin - 20.0) / 6.0) - 1.0) * (0.2 + 0.8 * sb_pmd_util(m, p));
}

double sb_pmd_crash_rate(const sb_model *m, int p) {
    double margin = m->pmd_mv[p] - sb_pmd_vmin_mv(m, p);
    if (margin >= -25)
        return 0;
    return 0.05 * (exp((-margin - 25.0) / 5.0) - 1.0) * (0.2 + 0.8 * sb_pmd_util(m, p));
}

double sb_mc_sdc_rate(const sb_model *m, int c) {
    double x = m->refresh_ms[c] / sb_retention_ms(m, c);
    return x <= 4 ? 0 : 0.0005 * (pow(x / 4.0, 4) - 1.0);
}

double sb_mc_crash_rate(const sb_model *m, int c) {
    double x = m->refresh_ms[c] / sb_retention_ms(m, c);
    return x <= 5 ? 0 : 0.001 * (pow(x / 5.0, 4) - 1.0);
}

/* ---- state ---- */

void sb_init(sb_model *m, uint64_t seed) {
    static const unsigned setspeed0[SB_NPMD] = {2400000, 2400000, 1200000, 1800000};
    static const sb_governor gov0[SB_NPMD] = {SB_GOV_PERFORMANCE, SB_GOV_PERFORMANCE, SB_GOV_USERSPACE,
                                              SB_GOV_USERSPACE};
    uint64_t s = seed;

    memset(m, 0, sizeof(*m));
    m->seed = seed;
    for (int p = 0; p < SB_NPMD; p++) {
        m->gov[p] = gov0[p];
        m->setspeed_khz[p] = setspeed0[p];
        m->min_khz[p] = SB_MIN_KHZ;
        m->max_khz[p] = SB_MAX_KHZ;
        m->pmd_mv[p] = SB_PMD_MV_NOMINAL;
        m->vmin2400_mv[p] = clampd(905.0 + 8.0 * gaussian(&s), 880, 935);
    }
    for (int c = 0; c < SB_NMC; c++) {
        m->refresh_ms[c] = SB_REFRESH_NOMINAL;
        m->dram_mv[c] = SB_DRAM_MV_NOMINAL;
        m->retention45_ms[c] = clampd(2000.0 * exp(0.3 * gaussian(&s)), 900, 5000);
        m->ce_share_a[c] = 0.3 + 0.4 * uniform(&s);
        m->dimm_offset_c[c] = -2.0 + 4.0 * uniform(&s);
    }
    for (int c = 0; c < SB_NCPU; c++)
        m->load[c] = 0.1 + 0.1 * c;
    m->rng = next_u64(&s);
    m->fail_rng = m->rng ^ 0x5dc0ffee5dc0ffeeull; /* its own stream: the error draws do not move */
    /* Booted 1000 s ago at this load; the SoC at its steady temperature. */
    for (int c = 0; c < SB_NCPU; c++) {
        uint64_t busy = (uint64_t)(core_util(m, c) * 100000);
        m->jiffies[c][0] = busy * 4 / 5;
        m->jiffies[c][1] = busy - busy * 4 / 5;
        m->jiffies[c][2] = 100000 - busy;
    }
    m->soc_c = 50.0;
    m->soc_c = 30.0 + 1.1 * sb_cpu_power_w(m);
    m->load1 = 0;
    for (int c = 0; c < SB_NCPU; c++)
        m->load1 += core_util(m, c);
    /* The background weights, from a stream of their own: the draws above do not move. */
    s = seed ^ 0xb6c0ffeeb6c0ffeeull;
    for (int p = 0; p < SB_NPMD; p++)
        m->bg_pmd[p] = exp(gaussian(&s) - 0.5);
    for (int c = 0; c < SB_NMC; c++)
        m->bg_mc[c] = exp(gaussian(&s) - 0.5);
}

void sb_set_background(sb_model *m, double scale) {
    m->bg_scale = scale > 0 ? scale : 0;
}

/* A number in [0, 1) from (@seed, @a, @b): the workload's draws, a pure function of time. */
static double hash01(uint64_t seed, uint64_t a, uint64_t b) {
    uint64_t s = seed ^ (a * 0x9e3779b97f4a7c15ull) ^ (b * 0xc2b2ae3d27d4eb4full);
    return uniform(&s);
}

double sb_workload_load(uint64_t seed, int core, uint64_t t_ms) {
    uint64_t seg = t_ms / 10000, burst = t_ms / 15000;
    double period = 60.0 + 240.0 * hash01(seed, 1000 + (uint64_t)core, 0),
           phase = 2 * M_PI * hash01(seed, 2000 + (uint64_t)core, 0);
    double v = 0.1 + 0.1 * core + 0.25 * sin(2 * M_PI * (double)t_ms / 1000.0 / period + phase) +
               0.3 * (hash01(seed, (uint64_t)core, seg) - 0.5);
    if (hash01(seed, 3000, burst) < 0.12) /* an overload: every core asked for more than it has */
        v = 1.1 + 0.3 * hash01(seed, 4000 + (uint64_t)core, burst);
    return clampd(v, 0.02, 1.4);
}

static void tick(sb_model *m) {
    const double dt = SB_TICK_MS / 1000.0;
    double running = 0;

    for (int c = 0; c < SB_NCPU; c++) {
        double u = core_util(m, c), busy;
        m->busy_frac[c] += u * dt * 100;
        busy = floor(m->busy_frac[c]);
        m->busy_frac[c] -= busy;
        m->jiffies[c][0] += (uint64_t)busy - (uint64_t)busy / 5;
        m->jiffies[c][1] += (uint64_t)busy / 5;
        m->jiffies[c][2] += (uint64_t)(dt * 100) - (uint64_t)busy;
        running += u;
    }
    m->load1 = m->load1 * exp(-dt / 60.0) + running * (1.0 - exp(-dt / 60.0));
    m->soc_c += (30.0 + 1.1 * sb_cpu_power_w(m) - m->soc_c) * (1.0 - exp(-dt / 8.0));
    m->dram_energy_uj += sb_dram_power_w(m) * dt * 1e6;
    m->cpu_energy_uj += sb_cpu_power_w(m) * dt * 1e6;
    m->io_energy_uj += sb_io_power_w(m) * dt * 1e6;
    if (m->nvm) {
        /* Each error of this tick to the VMs that ran where it happened (the hidden truth). */
        sb_counts before;
        sb_counts_of(m, &before);
        sb_draw_errors(m, dt);
        sb_vms_attribute(m, &before, dt);
    } else
        sb_draw_errors(m, dt);
    m->now_ms += SB_TICK_MS;
}

void sb_draw_errors(sb_model *m, double dt) {
    for (int p = 0; p < SB_NPMD; p++) {
        uint64_t ce = poisson(&m->rng, sb_pmd_ce_rate(m, p) * dt);
        uint64_t l1 = (uint64_t)floor(ce * 0.3 + uniform(&m->rng) * 0.999);
        if (l1 > ce)
            l1 = ce;
        m->pmd_ce[p][0] += l1;
        m->pmd_ce[p][1] += ce - l1;
        m->pmd_ue[p] += poisson(&m->rng, sb_pmd_ue_rate(m, p) * dt);
    }
    for (int c = 0; c < SB_NMC; c++) {
        uint64_t ce = poisson(&m->rng, sb_mc_ce_rate(m, c) * dt), ue = poisson(&m->rng, sb_mc_ue_rate(m, c) * dt);
        for (uint64_t k = 0; k < ce; k++)
            m->dimm_ce[c][uniform(&m->rng) < m->ce_share_a[c] ? 0 : 1]++;
        for (uint64_t k = 0; k < ue; k++)
            m->dimm_ue[c][uniform(&m->rng) < m->ce_share_a[c] ? 0 : 1]++;
    }
    for (int p = 0; p < SB_NPMD; p++) {
        m->pmd_sdc[p] += poisson(&m->fail_rng, sb_pmd_sdc_rate(m, p) * dt);
        m->pmd_crash[p] += poisson(&m->fail_rng, sb_pmd_crash_rate(m, p) * dt);
    }
    for (int c = 0; c < SB_NMC; c++) {
        m->mc_sdc[c] += poisson(&m->fail_rng, sb_mc_sdc_rate(m, c) * dt);
        m->mc_crash[c] += poisson(&m->fail_rng, sb_mc_crash_rate(m, c) * dt);
    }
}

double sb_uniform(uint64_t *state) {
    return uniform(state);
}

uint64_t sb_poisson(uint64_t *state, double mean) {
    return poisson(state, mean);
}

void sb_advance(sb_model *m, uint64_t ms) {
    for (uint64_t t = 0; t + SB_TICK_MS <= ms; t += SB_TICK_MS)
        tick(m);
}
