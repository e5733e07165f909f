/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's VMs: a collection, every chosen VM's QMP at once, then each VM's record. */
#include "domains_internal.h"

/* ---------------------------------------------------------------------------------------------
 * A collection
 * ------------------------------------------------------------------------------------------- */

static bool sel_any(const uni_select *sel, const unsigned *ms, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (uni_select_has(sel, ms[i]))
            return true;
    return false;
}

/* The QMP queries a selection needs from a VM. */
static unsigned qmp_wants(vms_state *s, const vm *v, const uni_select *sel) {
    unsigned w = 0;
    if (uni_select_has(sel, UNI_M_DOM_STATE) || uni_select_has(sel, UNI_M_DOM_AVAILABILITY_PCT))
        w |= 1u << QMP_Q_STATUS;
    if (!v->cmd.debug_threads &&
        (sel_any(sel, vcpu_metrics, ELEMENTSOF(vcpu_metrics)) || uni_select_has(sel, UNI_M_DOM_CPU_UTIL_PCT) ||
         sel_any(sel, perf_metrics, ELEMENTSOF(perf_metrics))))
        w |= 1u << QMP_Q_CPUS;
    if (s->ksrc == KSRC_QMP && sel_any(sel, kvm_metrics, ELEMENTSOF(kvm_metrics))) {
        w |= 1u << QMP_Q_STATS_VM | 1u << QMP_Q_STATS_VCPU;
        if (!v->nqom || v->qom_stale)
            w |= 1u << QMP_Q_CPUS;
        if (!s->schemas)
            w |= 1u << QMP_Q_SCHEMAS;
    }
    if (sel_any(sel, disk_metrics, ELEMENTSOF(disk_metrics)))
        w |= 1u << QMP_Q_BLOCKSTATS | 1u << QMP_Q_BLOCK;
    if (uni_select_has(sel, UNI_M_DOM_MEM_USAGE_MB))
        w |= 1u << QMP_Q_BALLOON;
    return w;
}

static bool vm_selected(const vm *v, const uni_domain_info *only, size_t nonly, size_t *ret_pos) {
    uni_domain_info me = {.name = v->name};
    if (!only)
        return true;
    memcpy(me.uuid, v->uuid, sizeof(me.uuid));
    for (size_t i = 0; i < nonly; i++)
        if (uni_domain_info_matches(&me, &only[i])) {
            *ret_pos = i;
            return true;
        }
    return false;
}

static bool stopped_now(vms_state *s, vm *v) {
    pid_stat ps;
    return read_vm_stat(s, v, &ps) == 0 && (ps.state == 'T' || ps.state == 't');
}

int vms_domain_stats(vms_state *s, const uni_select *sel, const uni_domain_info *only, size_t nonly,
                     double mem_total_mb, uni_domain_stats **ret, size_t *ret_n) {
    vm **pick = NULL;
    qmp_job *jobs = NULL;
    bool *stopped = NULL;
    lv_stats *lvst = NULL;
    uni_domain_stats *out = NULL;
    size_t np = 0;
    _cleanup_free_ char *netdev = NULL;
    ssize_t netdev_len = -1;
    uint64_t now;
    int r = 0;

    /* libvirt's statistics first: they also list its domains. */
    if (s->lv && lv_stats_get(s->lv, &lvst) < 0) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    if (discover(s, lvst) < 0) {
        lv_stats_free(lvst);
        return -1;
    }
    s->dacct_read = false;
    pick = calloc(s->n ? s->n : 1, sizeof(*pick));
    jobs = calloc(s->n ? s->n : 1, sizeof(*jobs));
    out = calloc(s->n ? s->n : 1, sizeof(*out));
    if (!pick || !jobs || !out)
        goto oom;
    /* Chosen VMs, in @only's order when given, else by name. */
    if (only) {
        for (size_t i = 0; i < nonly; i++)
            for (size_t k = 0; k < s->n; k++) {
                size_t pos;
                bool dup = false;
                if (!vm_selected(s->v[k], &only[i], 1, &pos))
                    continue;
                for (size_t j = 0; j < np && !dup; j++)
                    dup = pick[j] == s->v[k];
                if (!dup)
                    pick[np++] = s->v[k];
            }
    } else
        for (size_t k = 0; k < s->n; k++)
            pick[np++] = s->v[k];
    /* Every VM's QMP at once, each under the deadline; a stopped QEMU is not asked. */
    stopped = calloc(np ? np : 1, sizeof(*stopped));
    if (!stopped)
        goto oom;
    for (size_t i = 0; s->host_proc && i < np; i++)
        if (pick[i]->have_proc && pick[i]->qmp && (jobs[i].want = qmp_wants(s, pick[i], sel))) {
            if ((stopped[i] = stopped_now(s, pick[i])))
                jobs[i].want = 0; /* a stopped QEMU cannot answer: not asked */
            else
                jobs[i].path = pick[i]->qmp;
        }
    if (qmp_run(jobs, np, s->deadline_ms) < 0)
        goto oom;
    /* /proc/net/dev only when a VM has a host tap interface to look up in it. */
    for (size_t i = 0; i < np && netdev_len < 0 && sel_any(sel, net_metrics, ELEMENTSOF(net_metrics)); i++)
        for (size_t k = 0; k < pick[i]->cmd.nnics && netdev_len < 0; k++)
            if (pick[i]->cmd.nics[k].ifname)
                netdev_len = read_file_at_alloc(s->proc_fd, "net/dev", &netdev);
    now = uni_clock_ns();
    for (size_t i = 0; i < np && r >= 0; i++) {
        vm_ctx c = {.s = s,
                    .v = pick[i],
                    .sel = sel,
                    .job = jobs[i].want ? &jobs[i] : NULL,
                    .now = now,
                    .lvst = lvst,
                    .mem_total_mb = mem_total_mb,
                    .netdev = netdev_len >= 0 ? netdev : NULL,
                    .netdev_len = netdev_len >= 0 ? (size_t)netdev_len : 0,
                    .stopped = stopped[i]};
        uniRecordPtr rec = uni_record_new(uni_catalog, UNI_NMETRICS);
        if (!rec || vm_info(pick[i], &out[i].info) < 0) {
            uniRecordFree(rec);
            *ret = out;
            *ret_n = i;
            goto oom;
        }
        rec->sel = sel;
        rec_reserve(rec, pick[i]->rec_n, pick[i]->rec_nabsent);
        c.rec = rec;
        out[i].rec = rec;
        if (pick[i]->prev_ns && now > pick[i]->prev_ns)
            rec->window_ms = (long long)((now - pick[i]->prev_ns) / 1000000);
        r = collect_vm(&c);
        if (r >= 0)
            vm_availability(&c);
        free(c.threads);
        /* Room for one more vCPU's worth next time, were the VM to grow. */
        pick[i]->rec_n = rec->n + 64;
        pick[i]->rec_nabsent = rec->nabsent + 16;
    }
    for (size_t i = 0; i < np; i++)
        qmp_job_done(&jobs[i]);
    free(jobs);
    free(pick);
    free(stopped);
    lv_stats_free(lvst);
    *ret = out;
    *ret_n = np;
    if (r < 0) {
        uni_error_errno(r, "collecting VM statistics");
        return -1;
    }
    if (!only)
        keep_summary(s, sel, out, np);
    return 0;
oom:
    lv_stats_free(lvst);
    if (jobs)
        for (size_t i = 0; i < np; i++)
            qmp_job_done(&jobs[i]);
    free(jobs);
    free(pick);
    free(stopped);
    if (!*ret)
        free(out);
    uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
    return -1;
}
