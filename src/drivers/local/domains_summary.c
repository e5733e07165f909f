/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's VMs: the host rows (host.vms.*, kvm.NAME), sums over the VMs' records. */
#include <math.h>

#include "domains_internal.h"

/* ---------------------------------------------------------------------------------------------
 * Host rows
 * ------------------------------------------------------------------------------------------- */

/* The host's VM rows (host.vms.*, kvm.NAME summed over the VMs) are sums over the VMs' records. */
void summary_done(vms_summary *m) {
    for (size_t j = 0; j < m->nhk; j++)
        if (m->hk[j].owned)
            free((char *)m->hk[j].name);
    free(m->hk);
    free(m->why_swap);
    free(m->why_kvm);
    *m = (vms_summary){0};
}

static int summarize(const uni_domain_stats *v, size_t n, vms_summary *m) {
    size_t hint = 0, nhk = m->nhk;
    host_kstat *hk = m->hk;
    /* The statistics' names of the last summary serve again: only their sums start over. */
    free(m->why_swap);
    free(m->why_kvm);
    *m = (vms_summary){.n = n, .hk = hk, .nhk = nhk};
    for (size_t j = 0; j < nhk; j++) {
        hk[j].v = 0;
        hk[j].seen = false;
    }
    for (size_t i = 0; i < n; i++) {
        uniRecordPtr r = v[i].rec;
        if (v[i].info.active)
            m->active++;
        for (size_t k = 0; k < r->n; k++) {
            const uniSample *smp = &r->samples[k];
            switch (smp->metric) {
            case UNI_M_DOM_MEM_MB:
                m->mem += smp->value.d;
                break;
            case UNI_M_DOM_SWAP_WAIT_MS:
                m->swap += (double)smp->value.u;
                m->nswap++;
                break;
            case UNI_M_DOM_SWAP_WAIT_PCT:
                m->swap_pct += smp->value.d;
                m->nswap_pct++;
                break;
            case UNI_M_DOM_KVM_NAME: {
                size_t j = m->nhk;
                bool peak = startswith(smp->name, "max_");
                /* Every VM lists the statistics in the same order: look after the last match. */
                for (size_t x = 0; x < m->nhk; x++)
                    if (m->hk[(hint + x) % m->nhk].name == smp->name ||
                        streq(m->hk[(hint + x) % m->nhk].name, smp->name)) {
                        j = (hint + x) % m->nhk;
                        break;
                    }
                hint = j + 1;
                if (j == m->nhk) {
                    host_kstat *nh = realloc(m->hk, (m->nhk + 1) * sizeof(*nh));
                    if (!nh)
                        goto oom;
                    m->hk = nh;
                    if (!(nh[m->nhk].name = keep_name(smp->name, &nh[m->nhk].owned)))
                        goto oom;
                    nh[m->nhk].v = 0;
                    nh[m->nhk].peak = peak;
                    m->nhk++;
                }
                m->hk[j].seen = true;
                m->hk[j].v = peak ? (smp->value.u > m->hk[j].v ? smp->value.u : m->hk[j].v) : m->hk[j].v + smp->value.u;
                break;
            }
            default:
                break;
            }
        }
        for (size_t k = 0; k < r->nabsent; k++) {
            if (r->absent[k].metric == UNI_M_DOM_SWAP_WAIT_MS && v[i].info.active && !m->why_swap &&
                !(m->why_swap = strdup(r->absent[k].reason)))
                goto oom;
            if (r->absent[k].metric == UNI_M_DOM_KVM_NAME && v[i].info.active && !m->why_kvm &&
                !(m->why_kvm = strdup(r->absent[k].reason)))
                goto oom;
        }
    }
    m->valid = true;
    return 0;
oom:
    summary_done(m);
    return -ENOMEM;
}

static void summary_emit(const vms_state *s, const vms_summary *m, uniRecordPtr rec, double mem_total_mb) {
    rec_u64(rec, UNI_M_HOST_VMS_COUNT, -1, NULL, m->n);
    rec_u64(rec, UNI_M_HOST_VMS_ACTIVE, -1, NULL, m->active);
    /* Memory of all VMs: the sum of their QEMU processes' memory (0 with no VM running). */
    rec_dbl(rec, UNI_M_HOST_VMS_MEM_MB, -1, NULL, m->mem);
    if (!isnan(mem_total_mb) && mem_total_mb > 0)
        rec_dbl(rec, UNI_M_HOST_VMS_MEM_PCT, -1, NULL, 100.0 * m->mem / mem_total_mb);
    else
        rec_absent(rec, UNI_M_HOST_VMS_MEM_PCT, "no MemTotal in %s/meminfo", s->procfs);
    /* Spec: the average swap wait of all VMs, the mean over the VMs that report one. */
    if (m->nswap)
        rec_dbl(rec, UNI_M_HOST_VMS_SWAP_WAIT_MS, -1, NULL, m->swap / (double)m->nswap);
    else
        rec_absent(rec, UNI_M_HOST_VMS_SWAP_WAIT_MS, "%s", m->why_swap ? m->why_swap : "no running VM");
    if (m->nswap_pct)
        rec_dbl(rec, UNI_M_HOST_VMS_SWAP_WAIT_PCT, -1, NULL, m->swap_pct / (double)m->nswap_pct);
    else
        rec_absent(rec, UNI_M_HOST_VMS_SWAP_WAIT_PCT, "%s",
                   m->why_swap ? m->why_swap
                   : m->nswap  ? "first sample: rates need a second sample (a window)"
                               : "no running VM");
    size_t nseen = 0;
    for (size_t j = 0; j < m->nhk; j++)
        if (m->hk[j].seen) {
            rec_u64_kept(rec, UNI_M_KVM_NAME, -1, m->hk[j].name, m->hk[j].owned, m->hk[j].v);
            nseen++;
        }
    if (!nseen)
        rec_absent(rec, UNI_M_KVM_NAME, "%s", m->why_kvm ? m->why_kvm : "no running VM");
}

/* After a collection of every VM with what the host rows need (uniserverd's: everything), keep
 * their sums for the host record that follows: collecting the VMs a second time would cost as
 * much again (QMP, libvirt) and shorten the next window of the VMs' rates to milliseconds. */
#define SUMMARY_REUSE_NS (250ull * 1000000ull)
void keep_summary(vms_state *s, const uni_select *sel, const uni_domain_stats *v, size_t n) {
    static const unsigned needed[] = {UNI_M_DOM_MEM_MB, UNI_M_DOM_SWAP_WAIT_MS, UNI_M_DOM_SWAP_WAIT_PCT,
                                      UNI_M_DOM_KVM_NAME};
    bool all = !sel->nprefixes;
    for (size_t i = 0; i < ELEMENTSOF(needed) && all; i++)
        all = uni_select_has(sel, needed[i]);
    if (!all) {
        summary_done(&s->last);
        return;
    }
    if (summarize(v, n, &s->last) == 0) /* summarize frees it when it fails */
        s->last.at_ns = uni_clock_ns();
}

int vms_node_stats(vms_state *s, const uni_select *sel, uniRecordPtr rec, double mem_total_mb) {
    bool want_vms = uni_select_group(sel, UNI_GROUP_VMS), want_kvm = uni_select_has(sel, UNI_M_KVM_NAME);
    uni_select dsel;
    uni_domain_stats *v = NULL;
    vms_summary m = {0};
    size_t n = 0;
    int r;

    if (!want_vms && !want_kvm)
        return 0;
    if (s->last.valid && uni_clock_ns() - s->last.at_ns < SUMMARY_REUSE_NS) {
        summary_emit(s, &s->last, rec, mem_total_mb);
        s->last.valid = false; /* once (its names serve the next summary) */
        return 0;
    }
    memset(&dsel, 0, sizeof(dsel));
    if (uni_select_has(sel, UNI_M_HOST_VMS_MEM_MB) || uni_select_has(sel, UNI_M_HOST_VMS_MEM_PCT))
        uni_select_add(&dsel, UNI_M_DOM_MEM_MB);
    if (uni_select_has(sel, UNI_M_HOST_VMS_SWAP_WAIT_MS))
        uni_select_add(&dsel, UNI_M_DOM_SWAP_WAIT_MS);
    if (uni_select_has(sel, UNI_M_HOST_VMS_SWAP_WAIT_PCT))
        uni_select_add(&dsel, UNI_M_DOM_SWAP_WAIT_PCT);
    if (want_kvm)
        uni_select_add(&dsel, UNI_M_DOM_KVM_NAME);
    if (vms_domain_stats(s, &dsel, NULL, 0, mem_total_mb, &v, &n) < 0)
        return -1;
    r = summarize(v, n, &m);
    uni_domain_stats_free(v, n);
    if (r < 0) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    summary_emit(s, &m, rec, mem_total_mb);
    summary_done(&m);
    return 0;
}
