/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-allocd's planner alone, on constructed VMs and domains: each rule of docs/allocator.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "allocd/planner.h"

/* Four PMD-like domains of 2 cores: nominal 980 mV, safe 910 mV, 800-2400 MHz; four channels. */
typedef struct {
    ap_vm vm[AP_MAX_VMS];
    ap_cpu_dom dom[AP_MAX_DOMS];
    ap_mem_dom mem[AP_MAX_CHANNELS];
    ap_input in;
    ap_params p;
    ap_memory m;
    ap_plan plan;
} world;

static void setup(world *w, int nvm) {
    memset(w, 0, sizeof(*w));
    for (int d = 0; d < 4; d++) {
        ap_cpu_dom *D = &w->dom[d];
        snprintf(D->name, sizeof(D->name), "pmd%d", d);
        D->cores[0] = 2 * d, D->cores[1] = 2 * d + 1, D->ncores = 2;
        D->nominal_mv = D->cur_mv = 980, D->min_mv = 800, D->step_mv = 5, D->safe_mv = 910;
        D->max_mhz = D->cur_mhz = 2400, D->min_mhz = 300;
        D->risk = AP_RISK_LOW;
    }
    for (int c = 0; c < 4; c++) {
        snprintf(w->mem[c].name, sizeof(w->mem[c].name), "mc%d", c);
        w->mem[c].nominal_ms = w->mem[c].cur_ms = 64, w->mem[c].max_ms = 4096, w->mem[c].safe_ms = 1024;
    }
    for (int v = 0; v < nvm; v++) {
        snprintf(w->vm[v].name, sizeof(w->vm[v].name), "vm%d", v);
        w->vm[v].nvcpu = 2, w->vm[v].dom = -1, w->vm[v].cls = AP_NORMAL;
    }
    w->in = (ap_input){.vm = w->vm, .nvm = nvm, .dom = w->dom, .ndom = 4, .mem = w->mem, .nmem = 4, .now_ms = 1000000};
    ap_params_default(&w->p);
}

static int plan(world *w) {
    return ap_plan_make(&w->in, &w->p, &w->m, &w->plan);
}

/* Apply the plan to the world as the daemon would: domains at their targets, VMs where planned. */
static void apply(world *w) {
    for (int d = 0; d < w->in.ndom; d++)
        w->dom[d].cur_mv = w->plan.target_mv[d], w->dom[d].cur_mhz = w->plan.target_mhz[d];
    for (int c = 0; c < w->in.nmem; c++)
        w->mem[c].cur_ms = w->plan.refresh_ms[c];
    for (int v = 0; v < w->in.nvm; v++)
        w->vm[v].dom = w->plan.vm_dom[v];
}

static int find_act(const ap_plan *p, ap_act_kind k, int dom, int vm) {
    for (int i = 0; i < p->nact; i++)
        if (p->act[i].kind == k && p->act[i].dom == dom && (vm < 0 || p->act[i].vm == vm))
            return i;
    return -1;
}

/* Every plan keeps the invariant: a domain with a high-class VM is at nominal. */
static void assert_high_at_nominal(const world *w) {
    for (int v = 0; v < w->in.nvm; v++)
        if (w->vm[v].cls == AP_HIGH && w->plan.vm_dom[v] >= 0) {
            assert_int_equal(w->plan.mode[w->plan.vm_dom[v]], AP_MODE_NOMINAL);
            assert_int_equal(w->plan.target_mv[w->plan.vm_dom[v]], 980);
        }
}

static void test_classes_and_modes(void **state) {
    world w;
    (void)state;
    setup(&w, 3);
    w.vm[0].cls = AP_HIGH, w.vm[1].cls = AP_NORMAL, w.vm[2].cls = AP_LOW;
    assert_int_equal(plan(&w), 0);
    int dh = w.plan.vm_dom[0], dn = w.plan.vm_dom[1], dl = w.plan.vm_dom[2];
    assert_true(dh >= 0 && dn >= 0 && dl >= 0);
    assert_int_not_equal(dh, dn);
    assert_int_not_equal(dh, dl);
    assert_high_at_nominal(&w);
    assert_int_equal(w.plan.mode[dn], AP_MODE_EXT_NORMAL);
    assert_int_equal(w.plan.target_mv[dn], 925); /* 910 + 15 */
    if (dn != dl) {
        assert_int_equal(w.plan.mode[dl], AP_MODE_EXT_LOW);
        assert_int_equal(w.plan.target_mv[dl], 915); /* 910 + 5 */
    }
    /* The idle domain: lowest frequency at the low class's voltage. */
    for (int d = 0; d < 4; d++)
        if (d != dh && d != dn && d != dl) {
            assert_int_equal(w.plan.mode[d], AP_MODE_IDLE);
            assert_int_equal(w.plan.target_mhz[d], 300);
            assert_int_equal(w.plan.target_mv[d], 915);
        }
    /* A high-class VM on the node: DRAM refresh stays nominal (interleaved channels). */
    for (int c = 0; c < 4; c++)
        assert_int_equal(w.plan.refresh_ms[c], 64);
    assert_non_null(strstr(w.plan.mem_why, "high-class"));
    /* Every action has a reason. */
    assert_true(w.plan.nact > 0);
    for (int i = 0; i < w.plan.nact; i++)
        assert_true(strlen(w.plan.act[i].reason) > 10);
}

static void test_high_only_on_lowest_risk(void **state) {
    world w;
    (void)state;
    setup(&w, 1);
    w.vm[0].cls = AP_HIGH;
    w.dom[0].risk = w.dom[1].risk = w.dom[3].risk = AP_RISK_ELEVATED;
    assert_int_equal(plan(&w), 0);
    assert_int_equal(w.plan.vm_dom[0], 2);
    /* Sitting on a riskier domain, it moves to the lowest-risk one. */
    w.vm[0].dom = 0;
    assert_int_equal(plan(&w), 0);
    assert_int_equal(w.plan.vm_dom[0], 2);
    assert_non_null(strstr(w.plan.vm_why[0], "lowest risk"));
    /* Never on an extended domain even when it is the only one with room: it goes where it fits
     * and that domain is nominal. */
    setup(&w, 5);
    w.vm[0].cls = AP_HIGH;
    w.dom[0].risk = AP_RISK_LOW;
    w.dom[1].risk = w.dom[2].risk = w.dom[3].risk = AP_RISK_HIGH;
    for (int v = 1; v < 5; v++)
        w.vm[v].nvcpu = 4, w.vm[v].cls = AP_LOW;
    w.vm[1].dom = 0; /* dom 0 full of a low VM that stays (hysteresis) */
    w.vm[0].nvcpu = 2;
    plan(&w);
    assert_high_at_nominal(&w);
}

static void test_sticky(void **state) {
    world w;
    (void)state;
    setup(&w, 4);
    w.vm[0].cls = AP_HIGH, w.vm[3].cls = AP_LOW;
    assert_int_equal(plan(&w), 0);
    apply(&w);
    /* The same world again: nothing to do. */
    w.in.now_ms += 120000;
    assert_int_equal(plan(&w), 0);
    assert_int_equal(w.plan.nact, 0);
}

static void test_fast_path_ue(void **state) {
    world w;
    int d, raise, pin;
    (void)state;
    setup(&w, 2);
    w.vm[0].cls = AP_LOW, w.vm[1].cls = AP_HIGH;
    /* Low VM alone on its domain, extended. */
    plan(&w);
    apply(&w);
    d = w.vm[0].dom;
    assert_int_equal(w.dom[d].cur_mv, 915);
    /* A UE there: back to nominal at once, the low VM may stay, the domain holds at nominal. */
    w.in.now_ms += 120000;
    w.dom[d].ue_now = true;
    plan(&w);
    raise = find_act(&w.plan, AP_ACT_RAISE, d, -1);
    assert_true(raise >= 0);
    assert_true(w.plan.act[raise].safety);
    assert_int_equal(w.plan.act[raise].mv, 980);
    assert_int_equal(w.plan.vm_dom[0], d);
    apply(&w);
    w.dom[d].ue_now = false;
    /* Within the hold it stays at nominal; after it, it goes down again with the backoff. */
    w.in.now_ms += 300000;
    plan(&w);
    assert_int_equal(w.plan.target_mv[d], 980);
    w.in.now_ms += 400000;
    plan(&w);
    assert_int_equal(w.plan.target_mv[d], 925); /* 910 + 5 + 10 backoff */

    /* A burst on the high VM's domain: raise first, then the high VM moves off. */
    setup(&w, 1);
    w.vm[0].cls = AP_HIGH;
    plan(&w);
    apply(&w);
    d = w.vm[0].dom;
    w.dom[d].cur_mv = 950; /* as if it had been lowered meanwhile */
    w.dom[d].burst_now = true;
    w.in.now_ms += 1000;
    plan(&w);
    raise = find_act(&w.plan, AP_ACT_RAISE, d, -1);
    assert_int_not_equal(w.plan.vm_dom[0], d);
    pin = find_act(&w.plan, AP_ACT_PIN, w.plan.vm_dom[0], 0);
    assert_true(raise >= 0 && pin >= 0);
    assert_true(raise < pin);
    assert_true(w.plan.act[pin].safety);
    assert_non_null(strstr(w.plan.act[pin].reason, "fault"));
    assert_high_at_nominal(&w);
}

static void test_refresh_rule(void **state) {
    world w;
    (void)state;
    setup(&w, 2);
    w.vm[0].cls = AP_LOW, w.vm[1].cls = AP_LOW;
    plan(&w);
    for (int c = 0; c < 4; c++)
        assert_int_equal(w.plan.refresh_ms[c], 1024); /* only low VMs: the whole safe margin */
    w.vm[1].cls = AP_NORMAL;
    plan(&w);
    assert_int_equal(w.plan.refresh_ms[0], 64 + (1024 - 64) / 2);
    /* One channel without a margin: none is relaxed (interleaved). */
    w.mem[2].safe_ms = 0;
    plan(&w);
    for (int c = 0; c < 4; c++)
        assert_int_equal(w.plan.refresh_ms[c], 64);
    w.mem[2].safe_ms = 1024;
    /* A memory fault: nominal at once, a safety action, held. */
    w.mem[0].cur_ms = w.mem[1].cur_ms = w.mem[2].cur_ms = w.mem[3].cur_ms = 544;
    w.mem[3].ue_now = true;
    plan(&w);
    int a = find_act(&w.plan, AP_ACT_REFRESH, 0, -1);
    assert_true(a >= 0 && w.plan.act[a].safety && w.plan.act[a].refresh_ms == 64);
}

static void test_hysteresis(void **state) {
    world w;
    (void)state;
    setup(&w, 1);
    w.vm[0].cls = AP_HIGH;
    w.dom[0].cur_mv = 925;
    w.vm[0].dom = 0;
    plan(&w);
    apply(&w); /* dom 0 raised to nominal now */
    /* The high VM leaves (class changed to low) at once: the domain stays up for lower_after. */
    w.vm[0].cls = AP_LOW;
    w.in.now_ms += 10000;
    plan(&w);
    assert_int_equal(w.plan.target_mv[0], 980);
    assert_non_null(strstr(w.plan.dom_why[0], "held up"));
    w.in.now_ms += 60000;
    plan(&w);
    assert_int_equal(w.plan.target_mv[0], 915);
}

static void test_bad_input(void **state) {
    world w;
    (void)state;
    setup(&w, 1);
    w.in.nvm = AP_MAX_VMS + 1;
    assert_int_equal(plan(&w), -22);
    setup(&w, 1);
    w.vm[0].nvcpu = 9; /* more than any domain holds (2 cores x 2) */
    assert_int_equal(plan(&w), -28);
    assert_non_null(strstr(w.plan.vm_why[0], "cannot be placed"));
    assert_int_equal(ap_risk_of("elevated"), AP_RISK_ELEVATED);
    assert_int_equal(ap_risk_of("bogus"), AP_RISK_UNKNOWN);
}

static int npins(const ap_plan *p) {
    int n = 0;
    for (int i = 0; i < p->nact; i++)
        n += p->act[i].kind == AP_ACT_PIN;
    return n;
}

/* Load: two normal VMs of 2 vCPUs share pmd0 (4 vCPUs: the vCPU cap is met). While their demand
 * is within the cores (2.0), they stay; beyond it, one moves (the other stays). */
static void test_demand_overload_moves(void **state) {
    world w;
    (void)state;
    setup(&w, 2);
    w.vm[0].dom = w.vm[1].dom = 0;
    w.vm[0].demand = 0.9, w.vm[1].demand = 0.9; /* 1.8 cores: above the target (1.7), within the cores */
    assert_int_equal(plan(&w), 0);
    assert_int_equal(w.plan.vm_dom[0], 0);
    assert_int_equal(w.plan.vm_dom[1], 0);
    assert_int_equal(npins(&w.plan), 0);
    w.vm[1].demand = 1.2; /* 2.1 cores on 2 */
    assert_int_equal(plan(&w), 0);
    assert_int_equal(w.plan.vm_dom[0], 0);
    assert_int_not_equal(w.plan.vm_dom[1], 0);
    assert_true(w.plan.vm_dom[1] >= 0);
    assert_int_equal(npins(&w.plan), 1);
    assert_non_null(strstr(w.plan.vm_why[1], "overloaded (its VMs ask for 2.10 cores of 2)"));
}

/* Hysteresis: after a move, the VMs are packed back onto one domain only when their demand
 * together is below target - margin (0.70 x 2 cores = 1.4), not as soon as it is below the
 * target (1.7). */
static void test_demand_pack_back_band(void **state) {
    world w;
    (void)state;
    setup(&w, 2);
    w.vm[0].dom = 0, w.vm[1].dom = 1;
    w.vm[0].demand = 0.8, w.vm[1].demand = 0.8; /* 1.6 together: within the target, above 1.4 */
    assert_int_equal(plan(&w), 0);
    assert_int_equal(w.plan.vm_dom[0], 0);
    assert_int_equal(w.plan.vm_dom[1], 1);
    assert_int_equal(npins(&w.plan), 0);
    w.vm[1].demand = 0.5; /* 1.3 together: packed back, one domain left idle */
    assert_int_equal(plan(&w), 0);
    assert_int_equal(w.plan.vm_dom[0], w.plan.vm_dom[1]);
    assert_int_equal(npins(&w.plan), 1);
    assert_non_null(strstr(w.plan.vm_why[1], "packed back"));
    apply(&w);
    for (int d = 0; d < 4; d++)
        if (d != w.plan.vm_dom[0])
            assert_int_equal(w.plan.mode[d], AP_MODE_IDLE);
    /* Then the demand rises into the band again (1.9 on 2 cores): nothing moves. */
    w.vm[0].demand = w.vm[1].demand = 0.95;
    assert_int_equal(plan(&w), 0);
    assert_int_equal(npins(&w.plan), 0);
}

/* Unknown demand (fewer than two samples) counts each vCPU as a full core: two 1-vCPU VMs do
 * not share a domain of 2 cores (2 > 1.7); known to be small, they do. */
static void test_demand_unknown_is_full(void **state) {
    world w;
    (void)state;
    setup(&w, 2);
    w.vm[0].nvcpu = w.vm[1].nvcpu = 1;
    w.vm[0].demand = w.vm[1].demand = -1;
    assert_int_equal(plan(&w), 0);
    assert_int_not_equal(w.plan.vm_dom[0], w.plan.vm_dom[1]);
    w.vm[0].demand = w.vm[1].demand = 0.3;
    assert_int_equal(plan(&w), 0);
    assert_int_equal(w.plan.vm_dom[0], w.plan.vm_dom[1]);
    /* Too many to place by demand (8 unknown 1-vCPU VMs on 4 domains of 2 cores): the vCPU cap
     * still places every one rather than leave any unpinned. */
    setup(&w, 8);
    for (int v = 0; v < 8; v++)
        w.vm[v].nvcpu = 1, w.vm[v].demand = -1;
    assert_int_equal(plan(&w), 0);
    for (int v = 0; v < 8; v++)
        assert_true(w.plan.vm_dom[v] >= 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classes_and_modes),
        cmocka_unit_test(test_high_only_on_lowest_risk),
        cmocka_unit_test(test_sticky),
        cmocka_unit_test(test_fast_path_ue),
        cmocka_unit_test(test_refresh_rule),
        cmocka_unit_test(test_hysteresis),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_demand_overload_moves),
        cmocka_unit_test(test_demand_pack_back_band),
        cmocka_unit_test(test_demand_unknown_is_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
