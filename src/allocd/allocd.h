/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-allocd's parts: its options, what it reads through the API, and what it applies, journals
 * and publishes (docs/allocator.md). */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "allocd/planner.h"
#include "uniserver/uniserver.h"

#define AD_RING 64        /* error-count snapshots kept per domain for the burst window */
#define AD_DEMAND_SLOTS 8 /* the demand window's slices: the highest demand seen in each */

typedef struct {
    const char *uri;
    const char *state;      /* the published plan and the planner's memory (JSON) */
    const char *journal;    /* what it set (JSON lines) */
    const char *clock_file; /* the time in ms, read each round (a simulated clock); NULL: the system's */
    double interval_s;
    double burst_window_s;
    double demand_window_s; /* a VM's demand is the highest measured within this window */
    unsigned ce_burst;      /* corrected errors within the window that make a burst */
    int max_actions;        /* actions per round that are not safety actions */
    unsigned step_delay_ms; /* a pause between a plan's actions (to watch the order; tests kill mid-plan) */
    ap_params p;
    bool dry_run, once, quiet;
} ad_options;

/* Error counts of one domain at one time. */
typedef struct {
    int64_t t_ms;
    uint64_t ce, ue;
} ad_count;

typedef struct {
    char name[AP_NAME];
    ad_count ring[AD_RING];
    int n, head;
} ad_history;

/* Everything one round read: the planner's input plus what applying needs. */
typedef struct {
    ap_vm vm[AP_MAX_VMS];
    uniDomainPtr dom_ptr[AP_MAX_VMS];
    ap_cpu_dom dom[AP_MAX_DOMS];
    bool has_opp[AP_MAX_DOMS]; /* the domain is an operating-point domain (else a core: pinning only) */
    ap_mem_dom mem[AP_MAX_CHANNELS];
    int ncpus; /* the width of the hosts' CPU maps */
    ap_input in;
} ad_world;

/* A VM's demand history: its last sample of its vCPUs' running time + run-queue wait, and the
 * highest demand (cores) measured in each slice of the window. */
typedef struct {
    char name[AP_NAME];
    int nvcpu;
    bool have;                       /* a last sample: */
    int64_t t_ms;                    /* when it was read, */
    uint64_t total_ms;               /* and its vCPUs' time_ms + wait_ms then, summed */
    int64_t slot_t[AD_DEMAND_SLOTS]; /* each slice's start (0: empty) */
    double slot_max[AD_DEMAND_SLOTS];
} ad_demand;

/* The allocator's state across rounds (and restarts: the state file keeps it). */
typedef struct {
    ap_memory mem;
    ad_history hist[AP_MAX_DOMS + AP_MAX_CHANNELS];
    int nhist;
    ad_demand dem[AP_MAX_VMS];
    int ndem;
    uint64_t plan_seq;
    /* The last round's outcome (published, not kept across restarts): actions applied, deferred
     * by the rate limit, and the failure that stopped the plan ("" when none did). */
    int applied, deferred;
    char error[320];
} ad_state;

extern volatile sig_atomic_t ad_stop;

/* inputs.c */
int ad_read_world(uniConnectPtr conn, const ad_options *o, ad_state *st, ad_world *w, int64_t now_ms);
void ad_world_free(ad_world *w);

/* apply.c */
int ad_apply(uniConnectPtr conn, const ad_options *o, ad_state *st, const ad_world *w, const ap_plan *plan);
void ad_print_plan(FILE *f, const ad_world *w, const ap_plan *plan);
int ad_journal_recover(const ad_options *o);
int ad_state_load(const ad_options *o, ad_state *st);
int ad_state_save(const ad_options *o, const ad_state *st, const ad_world *w, const ap_plan *plan);
