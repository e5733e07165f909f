/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-allocd's planner (pure: no I/O, no clock): VMs, domains and the last plan's memory in, a
 * plan out, each action with the reason a person reads (docs/allocator.md has the rules). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AP_MAX_VMS 64
#define AP_MAX_DOMS 16
#define AP_MAX_CORES 16
#define AP_MAX_CHANNELS 8
#define AP_NAME 64
#define AP_REASON 200

typedef enum { AP_NORMAL = 0, AP_HIGH = 1, AP_LOW = 2 } ap_class; /* uniReliabilityClass's values */
typedef enum { AP_RISK_LOW = 0, AP_RISK_ELEVATED, AP_RISK_HIGH, AP_RISK_CRITICAL, AP_RISK_UNKNOWN } ap_risk;
/* What a domain runs at in a plan: its vendor's point, the StressLog's safe value plus a class's
 * guard band, or (no VM on it) its lowest-power point. */
typedef enum { AP_MODE_NOMINAL = 0, AP_MODE_EXT_NORMAL, AP_MODE_EXT_LOW, AP_MODE_IDLE } ap_mode;

typedef struct {
    char name[AP_NAME];
    ap_class cls;
    int nvcpu;
    int dom; /* the CPU domain all its vCPUs are pinned to now; -1: none or spread over several */
    /* What it asks of the CPU, in cores' worth: its vCPUs' running time plus their run-queue wait
     * per second of wall time, summed (what it wanted, not what it got). < 0: unknown (fewer than
     * two samples, or no wait signal): each vCPU then counts as a full core. */
    double demand;
} ap_vm;

/* A CPU (voltage/frequency) domain. */
typedef struct {
    char name[AP_NAME];
    int cores[AP_MAX_CORES], ncores;
    int nominal_mv, cur_mv, min_mv, step_mv;
    int safe_mv; /* the StressLog's safe voltage at the top frequency; 0: no margin known */
    int max_mhz, min_mhz, cur_mhz;
    ap_risk risk;
    /* The fast path: a UE or a CE burst seen since the last plan (set by the caller from the
     * HealthLog's counts). */
    bool ue_now, burst_now;
} ap_cpu_dom;

/* A memory channel (interleaved: every VM's memory is on every channel). */
typedef struct {
    char name[AP_NAME];
    int nominal_ms, cur_ms, max_ms;
    int safe_ms; /* the StressLog's safe refresh period; 0: none known */
    bool ue_now, burst_now;
} ap_mem_dom;

/* What the planner keeps from one plan to the next (uni-allocd's journal holds it across restarts). */
typedef struct {
    int64_t hold_until_ms[AP_MAX_DOMS]; /* a faulted domain stays at nominal until then */
    int backoff_mv[AP_MAX_DOMS];        /* added to its guard band for each fault (never removed) */
    int64_t raised_at_ms[AP_MAX_DOMS];  /* when it last went up (hysteresis for going down again) */
    int64_t mem_hold_until_ms;          /* a memory fault holds every channel at nominal */
    int mem_backoff_pct;                /* each memory fault takes this much off the relaxation */
} ap_memory;

typedef struct {
    int guard_normal_mv, guard_low_mv; /* added to the StressLog's safe voltage per class */
    int fault_backoff_mv;              /* added to a domain's guard for each fault on it */
    int64_t fault_hold_ms;             /* a faulted domain stays at nominal this long */
    int64_t lower_after_ms;            /* a domain goes down only this long after it last went up */
    int vcpus_per_core;                /* capacity: vCPUs a core takes */
    /* Capacity by load: a VM is placed on a domain while its VMs' demand stays within
     * target_util x its cores; it stays on its domain up to the cores' whole time (more: it
     * moves); VMs are packed back onto fewer domains only below target_util - pack_margin. */
    double target_util, pack_margin;
    int refresh_normal_pct; /* share of the safe refresh relaxation a normal VM accepts */
} ap_params;
void ap_params_default(ap_params *p);

typedef enum { AP_ACT_RAISE, AP_ACT_PIN, AP_ACT_LOWER, AP_ACT_REFRESH } ap_act_kind;
typedef struct {
    ap_act_kind kind;
    int dom;        /* AP_ACT_RAISE/LOWER: the CPU domain; AP_ACT_REFRESH: the channel; PIN: the target */
    int vm;         /* AP_ACT_PIN: the VM */
    int mv, mhz;    /* RAISE/LOWER: the domain's voltage and frequency */
    int refresh_ms; /* REFRESH */
    bool safety;    /* part of the fast path: never rate-limited or held back */
    char reason[AP_REASON];
} ap_action;

typedef struct {
    int vm_dom[AP_MAX_VMS]; /* each VM's domain in the plan */
    char vm_why[AP_MAX_VMS][AP_REASON];
    ap_mode mode[AP_MAX_DOMS];
    int target_mv[AP_MAX_DOMS], target_mhz[AP_MAX_DOMS];
    char dom_why[AP_MAX_DOMS][AP_REASON];
    int refresh_ms[AP_MAX_CHANNELS];
    char mem_why[AP_REASON];
    /* In the order to apply them: raises, then pins, then lowers and refresh changes, so that a
     * high-class VM is never on a domain below nominal while the plan is half applied. */
    ap_action act[AP_MAX_VMS + 2 * AP_MAX_DOMS + AP_MAX_CHANNELS];
    int nact;
} ap_plan;

typedef struct {
    const ap_vm *vm;
    int nvm;
    const ap_cpu_dom *dom;
    int ndom;
    const ap_mem_dom *mem;
    int nmem;
    int64_t now_ms;
} ap_input;

/* Plan: @mem (may be fresh: zeroed) is updated with the faults and moves of this plan. Returns 0,
 * or -EINVAL (too many VMs or domains) / -ENOSPC (a VM cannot be placed: more vCPUs than any
 * allowed domain holds; it keeps its place and the reason says so, the rest is planned). */
int ap_plan_make(const ap_input *in, const ap_params *p, ap_memory *mem, ap_plan *out);

const char *ap_class_name(ap_class c);
const char *ap_mode_name(ap_mode m);
const char *ap_risk_name(ap_risk r);
int ap_risk_of(const char *s); /* "low" ... "critical"; AP_RISK_UNKNOWN for anything else */
/* The voltage a domain runs at for @mode (its nominal when no margin is known). */
int ap_mode_mv(const ap_cpu_dom *d, const ap_params *p, int backoff_mv, ap_mode mode);
