/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-allocd's planner: each VM's CPU domain and each domain's operating point from the VMs'
 * classes, the domains' risk, margins and faults (pure; the rules are in docs/allocator.md). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "allocd/planner.h"

/* A reason, cut at its buffer's end when it is longer (reasons are for people). */
__attribute__((format(printf, 3, 4))) static void say(char *buf, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

void ap_params_default(ap_params *p) {
    *p = (ap_params){
        .guard_normal_mv = 15,
        .guard_low_mv = 5,
        .fault_backoff_mv = 10,
        .fault_hold_ms = 600000,
        .lower_after_ms = 60000,
        .vcpus_per_core = 4,
        .target_util = 0.85,
        .pack_margin = 0.15,
        .refresh_normal_pct = 50,
    };
}

const char *ap_class_name(ap_class c) {
    return c == AP_HIGH ? "high" : c == AP_LOW ? "low" : "normal";
}

const char *ap_mode_name(ap_mode m) {
    static const char *const n[] = {"nominal", "extended-normal", "extended-low", "idle"};
    return (unsigned)m < 4 ? n[m] : "?";
}

static const char *const risk_names[] = {"low", "elevated", "high", "critical", "unknown"};

const char *ap_risk_name(ap_risk r) {
    return (unsigned)r <= AP_RISK_UNKNOWN ? risk_names[r] : "unknown";
}

int ap_risk_of(const char *s) {
    for (int i = 0; s && i < AP_RISK_UNKNOWN; i++)
        if (strcmp(s, risk_names[i]) == 0)
            return i;
    return AP_RISK_UNKNOWN;
}

/* @v moved up onto the domain's step grid and within its limits. */
static int on_grid(const ap_cpu_dom *d, int v) {
    int step = d->step_mv > 0 ? d->step_mv : 1;
    if (v < d->min_mv)
        v = d->min_mv;
    if ((v - d->min_mv) % step)
        v += step - (v - d->min_mv) % step;
    return v > d->nominal_mv ? d->nominal_mv : v;
}

int ap_mode_mv(const ap_cpu_dom *d, const ap_params *p, int backoff_mv, ap_mode mode) {
    int guard;
    if (mode == AP_MODE_NOMINAL || d->safe_mv <= 0)
        return d->nominal_mv;
    guard = mode == AP_MODE_EXT_NORMAL ? p->guard_normal_mv : p->guard_low_mv;
    return on_grid(d, d->safe_mv + guard + backoff_mv);
}

typedef struct {
    const ap_input *in;
    const ap_params *p;
    ap_memory *mem;
    ap_plan *out;
    bool faulted[AP_MAX_DOMS];
    ap_risk best_risk;        /* the lowest risk of the domains not faulted */
    int used[AP_MAX_DOMS];    /* vCPUs placed on each domain */
    double load[AP_MAX_DOMS]; /* their demand, in cores */
    int nclass[AP_MAX_DOMS][3];
} ctx;

static bool allowed(const ctx *c, ap_class cls, int d) {
    if (cls == AP_LOW)
        return true; /* tolerates corrected errors; a UE only returns the domain to nominal */
    if (c->faulted[d])
        return false; /* high and normal VMs leave a domain with a fault */
    return cls == AP_NORMAL || c->in->dom[d].risk <= c->best_risk;
}

static int capacity(const ctx *c, int d) {
    return c->in->dom[d].ncores * c->p->vcpus_per_core;
}

/* A VM's demand in cores; unknown: each vCPU a full core (the conservative choice). */
static double demand_of(const ap_vm *v) {
    return v->demand >= 0 ? v->demand : v->nvcpu;
}

/* Room on domain @d for VM @v: its vCPUs within --vcpus-per-core, and the domain's demand with
 * it within @util of its cores (util <= 0: the vCPUs only). An empty domain takes any VM whose
 * vCPUs fit: there is no better place for it. */
static bool fits(const ctx *c, int v, int d, double util) {
    if (c->used[d] + c->in->vm[v].nvcpu > capacity(c, d))
        return false;
    return util <= 0 || c->used[d] == 0 || c->load[d] + demand_of(&c->in->vm[v]) <= util * c->in->dom[d].ncores;
}

static void put(ctx *c, int v, int d) {
    c->out->vm_dom[v] = d;
    if (d >= 0) {
        c->used[d] += c->in->vm[v].nvcpu;
        c->load[d] += demand_of(&c->in->vm[v]);
        c->nclass[d][c->in->vm[v].cls]++;
    }
}

static void take(ctx *c, int v) {
    int d = c->out->vm_dom[v];
    if (d >= 0) {
        c->used[d] -= c->in->vm[v].nvcpu;
        c->load[d] -= demand_of(&c->in->vm[v]);
        c->nclass[d][c->in->vm[v].cls]--;
    }
    c->out->vm_dom[v] = -2;
}

/* The demand of the VMs on domain @d now (before the plan), in cores. */
static double demand_now(const ap_input *in, int d) {
    double s = 0;
    for (int v = 0; v < in->nvm; v++)
        if (in->vm[v].dom == d)
            s += demand_of(&in->vm[v]);
    return s;
}

/* Preference of domain @d for a VM of class @cls (lower is better): with VMs of its own class
 * (packing leaves other domains idle), then empty, then shared with the closest class. */
static int preference(const ctx *c, ap_class cls, int d) {
    const int *n = c->nclass[d];
    bool empty = !n[AP_HIGH] && !n[AP_NORMAL] && !n[AP_LOW];
    if (n[cls])
        return 0;
    if (empty)
        return 1;
    if (cls == AP_HIGH)
        return n[AP_NORMAL] ? 2 : 3;
    if (cls == AP_LOW)
        return n[AP_NORMAL] ? 2 : 3;
    return n[AP_LOW] ? 2 : 3;
}

static int choose(const ctx *c, int v, bool strict, double util) {
    int best = -1, bp = 0;
    ap_class cls = c->in->vm[v].cls;
    for (int d = 0; d < c->in->ndom; d++) {
        int pr;
        if (!fits(c, v, d, util) || (strict ? !allowed(c, cls, d) : c->faulted[d]))
            continue;
        /* Among equals: the lower risk, then the fuller (packing), then the lower index. */
        pr = preference(c, cls, d) * 1000 + (int)c->in->dom[d].risk * 100 + (capacity(c, d) - c->used[d]);
        if (best < 0 || pr < bp)
            best = d, bp = pr;
    }
    return best;
}

static void note_faults(ctx *c) {
    const ap_input *in = c->in;
    c->best_risk = AP_RISK_UNKNOWN;
    for (int d = 0; d < in->ndom; d++) {
        const ap_cpu_dom *D = &in->dom[d];
        if (D->ue_now || D->burst_now) {
            c->mem->hold_until_ms[d] = in->now_ms + c->p->fault_hold_ms;
            c->mem->backoff_mv[d] += c->p->fault_backoff_mv;
        }
        c->faulted[d] = in->now_ms < c->mem->hold_until_ms[d];
        if (!c->faulted[d] && D->risk < c->best_risk)
            c->best_risk = D->risk;
    }
}

/* Packing back: a domain whose VMs (those staying on it) all fit on other domains that already
 * run their class, with those domains' demand below --target-util minus --pack-margin, is
 * emptied so that it idles; the least loaded first. The margin is the hysteresis: a VM that left
 * an overloaded domain comes back only once the demand has fallen well below the target. */
static void pack_back(ctx *c, const int *order, int n) {
    const ap_input *in = c->in;
    double limit = c->p->target_util - c->p->pack_margin;
    bool tried[AP_MAX_DOMS] = {false};
    for (;;) {
        int d = -1;
        for (int k = 0; k < in->ndom; k++)
            if (!tried[k] && c->used[k] > 0 && (d < 0 || c->load[k] < c->load[d]))
                d = k;
        if (d < 0 || limit <= 0)
            return;
        tried[d] = true;
        ctx t = *c;
        ap_plan *o = c->out;
        int dest[AP_MAX_VMS], moved = 0;
        bool ok = true;
        for (int i = 0; i < n && ok; i++) {
            int v = order[i], best = -1;
            if (o->vm_dom[v] != d)
                continue;
            for (int k = 0; k < in->ndom; k++)
                if (k != d && t.nclass[k][in->vm[v].cls] && allowed(&t, in->vm[v].cls, k) && fits(&t, v, k, limit) &&
                    (best < 0 || t.load[k] > t.load[best]))
                    best = k;
            if (best < 0)
                ok = false;
            else {
                t.used[best] += in->vm[v].nvcpu;
                t.load[best] += demand_of(&in->vm[v]);
                dest[v] = best;
                moved++;
            }
        }
        if (!ok || !moved)
            continue;
        for (int i = 0; i < n; i++) {
            int v = order[i];
            if (o->vm_dom[v] != d)
                continue;
            take(c, v);
            put(c, v, dest[v]);
            say(o->vm_why[v], AP_REASON, "moves %s -> %s: packed back (demand %.2f cores; %s's below %.0f%% with it)",
                in->dom[d].name, in->dom[dest[v]].name, demand_of(&in->vm[v]), in->dom[dest[v]].name, 100 * limit);
        }
    }
}

static int place_vms(ctx *c) {
    const ap_input *in = c->in;
    int order[AP_MAX_VMS], n = 0, rc = 0;
    static const ap_class prio[] = {AP_HIGH, AP_NORMAL, AP_LOW};

    /* The strictest class first, the largest first within a class (insertion sort: few VMs). */
    for (int k = 0; k < 3; k++)
        for (int v = 0; v < in->nvm; v++)
            if (in->vm[v].cls == prio[k]) {
                int i = n++;
                while (i > 0 && in->vm[order[i - 1]].cls == prio[k] && in->vm[order[i - 1]].nvcpu < in->vm[v].nvcpu) {
                    order[i] = order[i - 1];
                    i--;
                }
                order[i] = v;
            }
    /* Hysteresis: a VM stays where it is while its domain allows its class and has room: its
     * vCPUs, and a demand up to the cores' whole time (placing stops at --target-util). */
    for (int i = 0; i < n; i++) {
        int v = order[i], d = in->vm[v].dom;
        c->out->vm_dom[v] = -2; /* not yet placed */
        if (d >= 0 && d < in->ndom && allowed(c, in->vm[v].cls, d) && fits(c, v, d, 1.0)) {
            put(c, v, d);
            say(c->out->vm_why[v], AP_REASON, "stays on %s: it allows a %s-class VM", in->dom[d].name,
                ap_class_name(in->vm[v].cls));
        }
    }
    pack_back(c, order, n);
    for (int i = 0; i < n; i++) {
        int v = order[i], d, was = in->vm[v].dom;
        const char *cls = ap_class_name(in->vm[v].cls);
        char why[AP_REASON];
        if (c->out->vm_dom[v] != -2)
            continue;
        /* Within --target-util, its class's domains first; then where its vCPUs fit at all. */
        if ((d = choose(c, v, true, c->p->target_util)) < 0)
            d = choose(c, v, true, 0);
        if (d >= 0) {
            put(c, v, d);
            if (was >= 0 && was < in->ndom) {
                double dn = demand_now(in, was);
                if (c->faulted[was])
                    say(why, sizeof(why), "a fault on its domain (UE or CE burst)");
                else if (in->vm[v].cls == AP_HIGH && in->dom[was].risk > c->best_risk)
                    say(why, sizeof(why), "a high-class VM needs a domain of the lowest risk");
                else if (dn > in->dom[was].ncores)
                    say(why, sizeof(why), "its domain is overloaded (its VMs ask for %.2f cores of %d)", dn,
                        in->dom[was].ncores);
                else
                    say(why, sizeof(why), "its domain has no room");
                say(c->out->vm_why[v], AP_REASON, "moves %s -> %s: %s", in->dom[was].name, in->dom[d].name, why);
            } else
                say(c->out->vm_why[v], AP_REASON, "placed on %s (%s risk): a %s-class VM", in->dom[d].name,
                    ap_risk_name(in->dom[d].risk), cls);
        } else if ((d = choose(c, v, false, c->p->target_util)) >= 0 || (d = choose(c, v, false, 0)) >= 0) {
            put(c, v, d);
            say(c->out->vm_why[v], AP_REASON,
                "placed on %s: no domain its class prefers has room (%s keeps it at nominal)", in->dom[d].name,
                in->vm[v].cls == AP_LOW ? "nothing" : "its class");
        } else {
            put(c, v, was >= 0 && was < in->ndom ? was : -1);
            say(c->out->vm_why[v], AP_REASON, "cannot be placed: %d vCPUs and no domain has room", in->vm[v].nvcpu);
            rc = -ENOSPC;
        }
    }
    return rc;
}

static ap_action *add(ap_plan *o, ap_act_kind k, int dom, bool safety) {
    ap_action *a = &o->act[o->nact++];
    memset(a, 0, sizeof(*a));
    a->kind = k;
    a->dom = dom;
    a->vm = -1;
    a->safety = safety;
    return a;
}

/* Each CPU domain's mode and point; the raises go into the plan now, the lowers into @low. */
static void plan_domains(ctx *c, ap_action *low, int *nlow) {
    const ap_input *in = c->in;
    ap_plan *o = c->out;
    for (int d = 0; d < in->ndom; d++) {
        const ap_cpu_dom *D = &in->dom[d];
        const int *n = c->nclass[d];
        bool any = n[AP_HIGH] || n[AP_NORMAL] || n[AP_LOW];
        ap_mode m;
        int mv, mhz;
        if (c->faulted[d]) {
            m = AP_MODE_NOMINAL;
            say(o->dom_why[d], AP_REASON, "nominal: %s, held until t=%llds",
                D->ue_now      ? "an uncorrected error now"
                : D->burst_now ? "a burst of corrected errors now"
                               : "a fault",
                (long long)(c->mem->hold_until_ms[d] / 1000));
        } else if (n[AP_HIGH]) {
            m = AP_MODE_NOMINAL;
            say(o->dom_why[d], AP_REASON, "nominal: a high-class VM runs here");
        } else if (any && D->safe_mv <= 0) {
            m = AP_MODE_NOMINAL;
            say(o->dom_why[d], AP_REASON, "nominal: no StressLog margin for this domain");
        } else if (n[AP_NORMAL]) {
            m = AP_MODE_EXT_NORMAL;
            say(o->dom_why[d], AP_REASON, "extended: safe %d mV + normal guard %d mV + backoff %d mV", D->safe_mv,
                c->p->guard_normal_mv, c->mem->backoff_mv[d]);
        } else if (n[AP_LOW]) {
            m = AP_MODE_EXT_LOW;
            say(o->dom_why[d], AP_REASON, "extended: safe %d mV + low guard %d mV + backoff %d mV", D->safe_mv,
                c->p->guard_low_mv, c->mem->backoff_mv[d]);
        } else {
            m = AP_MODE_IDLE;
            say(o->dom_why[d], AP_REASON, "idle: no VM, its lowest-power point");
        }
        /* Idle: the lowest frequency, at the low class's voltage (the safe voltage at the top
         * frequency is safe at any lower one). */
        mv = ap_mode_mv(D, c->p, c->mem->backoff_mv[d], m == AP_MODE_IDLE && !c->faulted[d] ? AP_MODE_EXT_LOW : m);
        mhz = any ? D->max_mhz : D->min_mhz;
        o->mode[d] = m;
        if (mv > D->cur_mv || (mv == D->cur_mv && mhz > D->cur_mhz)) {
            ap_action *a = add(o, AP_ACT_RAISE, d, c->faulted[d] || n[AP_HIGH]);
            a->mv = mv, a->mhz = mhz;
            say(a->reason, AP_REASON, "%s %d mV %d MHz -> %d mV %d MHz: %s", D->name, D->cur_mv, D->cur_mhz, mv, mhz,
                o->dom_why[d]);
            if (mv > D->cur_mv)
                c->mem->raised_at_ms[d] = in->now_ms;
        } else if (mv < D->cur_mv || mhz < D->cur_mhz) {
            /* Hysteresis: down again only a while after the last rise. */
            if (in->now_ms - c->mem->raised_at_ms[d] < c->p->lower_after_ms && c->mem->raised_at_ms[d]) {
                mv = D->cur_mv, mhz = D->cur_mhz;
                say(o->dom_why[d] + strlen(o->dom_why[d]), AP_REASON - strlen(o->dom_why[d]),
                    "; held up: raised %llds ago", (long long)((in->now_ms - c->mem->raised_at_ms[d]) / 1000));
            } else {
                ap_action *a = &low[(*nlow)++];
                memset(a, 0, sizeof(*a));
                a->kind = AP_ACT_LOWER, a->dom = d, a->vm = -1, a->mv = mv, a->mhz = mhz;
                say(a->reason, AP_REASON, "%s %d mV %d MHz -> %d mV %d MHz: %s", D->name, D->cur_mv, D->cur_mhz, mv,
                    mhz, o->dom_why[d]);
            }
        }
        o->target_mv[d] = mv, o->target_mhz[d] = mhz;
    }
}

/* DRAM refresh: channels are interleaved, so one rule for all of them. */
static void plan_memory(ctx *c, ap_action *low, int *nlow) {
    const ap_input *in = c->in;
    ap_plan *o = c->out;
    int high = 0, normal = 0, pct;
    bool fault = false, margins = in->nmem > 0;
    for (int m = 0; m < in->nmem; m++) {
        fault = fault || in->mem[m].ue_now || in->mem[m].burst_now;
        margins = margins && in->mem[m].safe_ms > in->mem[m].nominal_ms;
    }
    if (fault) {
        c->mem->mem_hold_until_ms = in->now_ms + c->p->fault_hold_ms;
        c->mem->mem_backoff_pct += 25;
    }
    for (int v = 0; v < in->nvm; v++)
        high += in->vm[v].cls == AP_HIGH, normal += in->vm[v].cls == AP_NORMAL;
    pct = (normal ? c->p->refresh_normal_pct : 100) - c->mem->mem_backoff_pct;
    if (in->now_ms < c->mem->mem_hold_until_ms)
        say(o->mem_why, AP_REASON, "nominal refresh: a memory fault, held until t=%llds",
            (long long)(c->mem->mem_hold_until_ms / 1000));
    else if (high)
        say(o->mem_why, AP_REASON, "nominal refresh: %d high-class VM(s) and the channels are interleaved", high);
    else if (!margins)
        say(o->mem_why, AP_REASON, "nominal refresh: no StressLog refresh margin for every channel");
    else if (pct <= 0)
        say(o->mem_why, AP_REASON, "nominal refresh: backed off to nothing after memory faults");
    else
        say(o->mem_why, AP_REASON, "relaxed to %d%% of the safe margin: no high-class VM on the node (%s)", pct,
            normal ? "normal-class VMs: half" : "only low-class VMs");
    for (int m = 0; m < in->nmem; m++) {
        const ap_mem_dom *M = &in->mem[m];
        bool relax = !strncmp(o->mem_why, "relaxed", 7);
        int t = relax ? M->nominal_ms + (int)((long long)(M->safe_ms - M->nominal_ms) * pct / 100) : M->nominal_ms;
        if (M->max_ms > 0 && t > M->max_ms)
            t = M->max_ms;
        o->refresh_ms[m] = t;
        if (t == M->cur_ms)
            continue;
        ap_action *a = t < M->cur_ms ? add(o, AP_ACT_REFRESH, m, true) : &low[(*nlow)++];
        memset(a, 0, sizeof(*a));
        a->kind = AP_ACT_REFRESH, a->dom = m, a->vm = -1, a->refresh_ms = t, a->safety = t < M->cur_ms;
        say(a->reason, AP_REASON, "%s refresh %d -> %d ms: %s", M->name, M->cur_ms, t, o->mem_why);
    }
}

int ap_plan_make(const ap_input *in, const ap_params *p, ap_memory *mem, ap_plan *out) {
    ap_action low[2 * AP_MAX_DOMS + AP_MAX_CHANNELS];
    int nlow = 0, rc;
    ctx c = {.in = in, .p = p, .mem = mem, .out = out};

    if (in->nvm > AP_MAX_VMS || in->ndom > AP_MAX_DOMS || in->nmem > AP_MAX_CHANNELS || in->nvm < 0 || in->ndom < 0 ||
        in->nmem < 0)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    note_faults(&c);
    rc = place_vms(&c);
    /* Memory first: a refresh period going down (safer) is a raise, before any VM moves. */
    plan_memory(&c, low, &nlow);
    plan_domains(&c, low, &nlow);
    for (int v = 0; v < in->nvm; v++) {
        int d = out->vm_dom[v];
        if (d >= 0 && d != in->vm[v].dom) {
            ap_action *a = add(out, AP_ACT_PIN, d, false);
            a->vm = v;
            a->safety = in->vm[v].dom >= 0 && in->vm[v].dom < in->ndom && c.faulted[in->vm[v].dom];
            say(a->reason, AP_REASON, "%s (%s, %d vCPUs) %s", in->vm[v].name, ap_class_name(in->vm[v].cls),
                in->vm[v].nvcpu, out->vm_why[v]);
        }
    }
    for (int i = 0; i < nlow; i++)
        out->act[out->nact++] = low[i];
    return rc;
}
