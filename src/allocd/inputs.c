/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What uni-allocd reads each round, all through the public API: the VMs (class, vCPUs, where
 * they are pinned, their demand: vCPU time + run-queue wait), the operating points, the margins and risks (host.margin.*,
 * host.component.*) and the HealthLog's error counts that drive the fast path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "allocd/allocd.h"
#include "util/util.h"

static long long num(uniRecordPtr rec, const char *key, long long dflt) {
    const uniSample *s = rec ? uniRecordLookup(rec, key) : NULL;
    if (!s)
        return dflt;
    return s->type == UNI_VALUE_DOUBLE ? (long long)s->value.d
           : s->type == UNI_VALUE_U64  ? (long long)s->value.u
                                       : dflt;
}

static const char *text(uniRecordPtr rec, const char *key) {
    const uniSample *s = rec ? uniRecordLookup(rec, key) : NULL;
    return s && s->type == UNI_VALUE_STRING ? s->value.s : NULL;
}

/* The fast path's window: the counts @window_ms ago (the oldest kept within it) and now. */
static ad_history *history(ad_state *st, const char *name) {
    for (int i = 0; i < st->nhist; i++)
        if (streq(st->hist[i].name, name))
            return &st->hist[i];
    if (st->nhist == (int)ELEMENTSOF(st->hist))
        return NULL;
    ad_history *h = &st->hist[st->nhist++];
    memset(h, 0, sizeof(*h));
    snprintf(h->name, sizeof(h->name), "%s", name);
    return h;
}

/* Records this round's counts and says whether there was a UE since the last round, or a burst
 * of corrected errors within the window. The first round of a domain has nothing to compare. */
static void fault_of(ad_state *st, const ad_options *o, const char *name, uint64_t ce, uint64_t ue, int64_t now,
                     bool *ret_ue, bool *ret_burst) {
    ad_history *h = history(st, name);
    *ret_ue = *ret_burst = false;
    if (!h)
        return;
    if (h->n) {
        const ad_count *last = &h->ring[(h->head + AD_RING - 1) % AD_RING], *base = last;
        for (int k = 1; k <= h->n; k++) {
            const ad_count *c = &h->ring[(h->head + AD_RING - k) % AD_RING];
            if (now - c->t_ms > (int64_t)(o->burst_window_s * 1000))
                break;
            base = c;
        }
        *ret_ue = ue > last->ue;
        /* Counts that went down: a new HealthLog; start again from here. */
        *ret_burst = ce >= base->ce && ce - base->ce >= o->ce_burst && ce > last->ce;
    }
    h->ring[h->head] = (ad_count){now, ce, ue};
    h->head = (h->head + 1) % AD_RING;
    if (h->n < AD_RING)
        h->n++;
}

static int read_domains(uniConnectPtr conn, const ad_options *o, ad_state *st, ad_world *w, uniRecordPtr rec,
                        int64_t now) {
    uniOppListPtr l = NULL;
    int n = uniNodeGetOperatingPoints(conn, &l, 0);
    char key[256];

    if (n < 0 && uniGetLastError()->code != UNI_ERR_NO_SUPPORT)
        return -EIO;
    for (int i = 0; i < n; i++) {
        const uniOppDomain *d = uniOppListGetDomain(l, i);
        const uniOppParam *v = uniOppListFindParam(l, i, "voltage_mv"), *f = uniOppListFindParam(l, i, "frequency_mhz"),
                          *r = uniOppListFindParam(l, i, "refresh_ms");
        uint64_t ce = 0, ue = 0;
        if (d->kind == UNI_OPP_CPU && v && w->in.ndom < AP_MAX_DOMS) {
            ap_cpu_dom *D = &w->dom[w->in.ndom];
            const char *risk;
            memset(D, 0, sizeof(*D));
            snprintf(D->name, sizeof(D->name), "%s", d->name);
            for (int c = 0; c < d->ncores && c < AP_MAX_CORES; c++) {
                D->cores[D->ncores++] = d->cores[c];
                snprintf(key, sizeof(key), "host.errors.core.%d.ce.count", d->cores[c]);
                ce += (uint64_t)num(rec, key, 0);
                snprintf(key, sizeof(key), "host.errors.core.%d.ue.count", d->cores[c]);
                ue += (uint64_t)num(rec, key, 0);
            }
            D->nominal_mv = (int)v->nominal, D->cur_mv = (int)v->current, D->min_mv = (int)v->min;
            D->step_mv = (int)v->step;
            if (f)
                D->max_mhz = (int)f->max, D->min_mhz = (int)f->min, D->cur_mhz = (int)f->current;
            /* The StressLog's safe voltage at the domain's top frequency is safe at every lower one. */
            snprintf(key, sizeof(key), "host.margin.%s:voltage@%dMHz.voltage_safe_mv", d->name, D->max_mhz);
            D->safe_mv = (int)num(rec, key, 0);
            snprintf(key, sizeof(key), "host.component.%s.risk", d->name);
            risk = text(rec, key);
            D->risk = (ap_risk)ap_risk_of(risk);
            fault_of(st, o, d->name, ce, ue, now, &D->ue_now, &D->burst_now);
            w->has_opp[w->in.ndom++] = true;
        } else if (d->kind == UNI_OPP_MEMORY && r && w->in.nmem < AP_MAX_CHANNELS) {
            ap_mem_dom *M = &w->mem[w->in.nmem++];
            memset(M, 0, sizeof(*M));
            snprintf(M->name, sizeof(M->name), "%s", d->name);
            M->nominal_ms = (int)r->nominal, M->cur_ms = (int)r->current, M->max_ms = (int)r->max;
            snprintf(key, sizeof(key), "host.margin.%s:refresh.refresh_safe_ms", d->name);
            M->safe_ms = (int)num(rec, key, 0);
            for (int k = 0; k < d->nmembers; k++) {
                snprintf(key, sizeof(key), "host.errors.dimm.%s.ce.count", d->members[k]);
                ce += (uint64_t)num(rec, key, 0);
                snprintf(key, sizeof(key), "host.errors.dimm.%s.ue.count", d->members[k]);
                ue += (uint64_t)num(rec, key, 0);
            }
            fault_of(st, o, d->name, ce, ue, now, &M->ue_now, &M->burst_now);
        }
    }
    uniOppListFree(l);
    if (w->in.ndom)
        return 0;
    /* No operating-point domains (a generic Linux host): each online core is a domain of its own,
     * for placement only; its risk is the core's. */
    for (int c = 0; c < w->ncpus && w->in.ndom < AP_MAX_DOMS; c++) {
        ap_cpu_dom *D = &w->dom[w->in.ndom];
        bool ue_now, burst;
        memset(D, 0, sizeof(*D));
        snprintf(D->name, sizeof(D->name), "core%d", c);
        D->cores[0] = c, D->ncores = 1;
        snprintf(key, sizeof(key), "host.component.core%d.risk", c);
        D->risk = (ap_risk)ap_risk_of(text(rec, key));
        snprintf(key, sizeof(key), "host.errors.core.%d.ce.count", c);
        uint64_t ce = (uint64_t)num(rec, key, 0);
        snprintf(key, sizeof(key), "host.errors.core.%d.ue.count", c);
        fault_of(st, o, D->name, ce, (uint64_t)num(rec, key, 0), now, &ue_now, &burst);
        D->ue_now = ue_now, D->burst_now = burst;
        w->has_opp[w->in.ndom++] = false;
    }
    return 0;
}

/* The CPU domain every vCPU of a VM is pinned within, or -1 (not pinned, or across domains). */
static int pinned_domain(const ad_world *w, const unsigned char *maps, int maplen, int nvcpu) {
    int found = -1;
    for (int v = 0; v < nvcpu; v++) {
        int dom = -1;
        for (int c = 0; c < maplen * 8; c++) {
            int in = -1;
            if (!UNI_CPU_USABLE(maps, maplen, v, c))
                continue;
            for (int d = 0; d < w->in.ndom && in < 0; d++)
                for (int k = 0; k < w->dom[d].ncores; k++)
                    if (w->dom[d].cores[k] == c)
                        in = d;
            if (in < 0 || (dom >= 0 && in != dom))
                return -1;
            dom = in;
        }
        if (dom < 0 || (found >= 0 && dom != found))
            return -1;
        found = dom;
    }
    return found;
}

/* A VM's measured demand: the highest within the window of the rates (cores) between its
 * samples; -1 while fewer than two samples are known. @total_ms < 0: no sample now (the wait
 * signal is absent): the history starts again. */
static double demand_update(ad_demand *h, const ad_options *o, int nvcpu, int64_t total_ms, int64_t now) {
    int64_t slice = (int64_t)(o->demand_window_s * 1000 / AD_DEMAND_SLOTS);
    double best = -1;
    if (slice < 1)
        slice = 1;
    if (total_ms < 0 || !h->have || h->nvcpu != nvcpu || (uint64_t)total_ms < h->total_ms || now < h->t_ms) {
        /* No sample, the first, another VM of the same name, or a clock that went back. */
        memset(h->slot_t, 0, sizeof(h->slot_t));
    } else if (now > h->t_ms) {
        double rate = (double)((uint64_t)total_ms - h->total_ms) / (double)(now - h->t_ms);
        int64_t start = now / slice * slice;
        int last = 0;
        for (int k = 1; k < AD_DEMAND_SLOTS; k++)
            if (h->slot_t[k] > h->slot_t[last])
                last = k;
        if (h->slot_t[last] == start && h->slot_t[last])
            h->slot_max[last] = rate > h->slot_max[last] ? rate : h->slot_max[last];
        else {
            int old = 0; /* a new slice replaces the oldest */
            for (int k = 1; k < AD_DEMAND_SLOTS; k++)
                if (h->slot_t[k] < h->slot_t[old])
                    old = k;
            h->slot_t[old] = start ? start : 1, h->slot_max[old] = rate;
        }
    }
    h->nvcpu = nvcpu;
    h->have = total_ms >= 0;
    h->t_ms = now;
    h->total_ms = total_ms < 0 ? 0 : (uint64_t)total_ms;
    for (int k = 0; k < AD_DEMAND_SLOTS; k++)
        if (h->slot_t[k] && h->slot_t[k] + (int64_t)(o->demand_window_s * 1000) > now && h->slot_max[k] > best)
            best = h->slot_max[k];
    return best;
}

/* Each VM's demand, read through the API: its vCPUs' time_ms + wait_ms (a packed VM's CPU time
 * is what it got; with the run-queue wait it is what it asked for). The histories of VMs gone
 * are dropped. */
static void read_demand(const ad_options *o, ad_state *st, ad_world *w) {
    static const char *const sel[] = {"dom.vcpu.V.time_ms", "dom.vcpu.V.wait_ms", NULL};
    uniDomainPtr doms[AP_MAX_VMS + 1];
    uniDomainStatsRecordPtr *stats = NULL;
    ad_demand kept[AP_MAX_VMS];
    int nstats = 0;
    char key[64];

    for (int i = 0; i < w->in.nvm; i++)
        doms[i] = w->dom_ptr[i], w->vm[i].demand = -1;
    doms[w->in.nvm] = NULL;
    if (w->in.nvm && (nstats = uniDomainListGetStats(doms, sel, &stats, 0)) < 0)
        nstats = 0; /* unknown: every vCPU counts as a full core */
    for (int i = 0; i < w->in.nvm; i++) {
        ap_vm *v = &w->vm[i];
        ad_demand *h = NULL;
        uniRecordPtr rec = NULL;
        int64_t total = 0;
        for (int k = 0; k < nstats; k++)
            if (streq(uniDomainGetName(stats[k]->dom), v->name))
                rec = stats[k]->record;
        for (int c = 0; c < v->nvcpu && total >= 0; c++) {
            long long t, q;
            snprintf(key, sizeof(key), "dom.vcpu.%d.time_ms", c);
            t = num(rec, key, -1);
            snprintf(key, sizeof(key), "dom.vcpu.%d.wait_ms", c);
            q = num(rec, key, -1);
            total = t < 0 || q < 0 ? -1 : total + t + q;
        }
        for (int k = 0; k < st->ndem; k++)
            if (streq(st->dem[k].name, v->name))
                h = &st->dem[k];
        kept[i] = h ? *h : (ad_demand){0};
        snprintf(kept[i].name, sizeof(kept[i].name), "%s", v->name);
        v->demand = demand_update(&kept[i], o, v->nvcpu, total, w->in.now_ms);
    }
    memcpy(st->dem, kept, sizeof(kept[0]) * (size_t)w->in.nvm);
    st->ndem = w->in.nvm;
    uniDomainStatsRecordListFree(stats);
}

static int read_vms(uniConnectPtr conn, ad_world *w) {
    uniDomainPtr *doms = NULL;
    int n = uniConnectListAllDomains(conn, &doms, UNI_CONNECT_LIST_DOMAINS_ACTIVE);
    if (n < 0)
        return -EIO;
    for (int i = 0; i < n; i++) {
        uniVcpuInfoPtr info = NULL;
        unsigned char *maps = NULL;
        int ncpus = 0, nv;
        const char *cls = uniDomainGetReliability(doms[i], 0);
        if (w->in.nvm >= AP_MAX_VMS || (nv = uniDomainGetVcpus(doms[i], &info, &maps, &ncpus, 0)) <= 0) {
            /* Gone meanwhile, or its vCPUs cannot be told apart: nothing to place. */
            uniDomainFree(doms[i]);
            continue;
        }
        ap_vm *v = &w->vm[w->in.nvm];
        snprintf(v->name, sizeof(v->name), "%s", uniDomainGetName(doms[i]));
        v->cls = cls && streq(cls, "high") ? AP_HIGH : cls && streq(cls, "low") ? AP_LOW : AP_NORMAL;
        v->nvcpu = nv;
        v->dom = pinned_domain(w, maps, UNI_CPU_MAPLEN(ncpus), nv);
        if (ncpus > w->ncpus)
            w->ncpus = ncpus;
        w->dom_ptr[w->in.nvm++] = doms[i];
        free(info);
        free(maps);
    }
    free(doms);
    return 0;
}

int ad_read_world(uniConnectPtr conn, const ad_options *o, ad_state *st, ad_world *w, int64_t now_ms) {
    static const char *const sel[] = {"host.errors.", "host.margin.", "host.component.", "host.cpu.count", NULL};
    uniRecordPtr rec = NULL;
    int r;

    memset(w, 0, sizeof(*w));
    w->in = (ap_input){.vm = w->vm, .dom = w->dom, .mem = w->mem, .now_ms = now_ms};
    /* Best effort: a HealthLog or a margins file that is not there leaves its metrics absent
     * (no margin: nominal; no counts: no fast path), it does not stop placement. */
    if (uniNodeGetStats(conn, sel, &rec, UNI_NODE_STATS_BEST_EFFORT) < 0) {
        fprintf(stderr, "uni-allocd: reading the host record: %s\n", uniGetLastError()->message);
        return -EIO;
    }
    w->ncpus = (int)num(rec, "host.cpu.count", 0);
    r = read_domains(conn, o, st, w, rec, now_ms);
    uniRecordFree(rec);
    if (r < 0) {
        fprintf(stderr, "uni-allocd: reading the operating points: %s\n", uniGetLastError()->message);
        return r;
    }
    if ((r = read_vms(conn, w)) < 0) {
        fprintf(stderr, "uni-allocd: listing the VMs: %s\n", uniGetLastError()->message);
        return r;
    }
    read_demand(o, st, w);
    w->in.dom = w->dom;
    return 0;
}

void ad_world_free(ad_world *w) {
    for (int i = 0; i < w->in.nvm; i++)
        uniDomainFree(w->dom_ptr[i]);
    w->in.nvm = 0;
}
