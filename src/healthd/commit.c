/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-healthd's writes to the HealthLog: a cycle's pending events and state committed in one
 * transaction, the actions taken after them, and retention. */
#include "uni-healthd.h"

/* ---------------------------------------------------------------------------------------------
 * Pending events and state
 * ------------------------------------------------------------------------------------------- */

pending *pending_new(pending ***list, size_t *n) {
    pending **nl = realloc(*list, (*n + 1) * sizeof(*nl));
    pending *p;
    if (!nl)
        return NULL;
    *list = nl;
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    nl[(*n)++] = p;
    return p;
}

void pending_free(pending **list, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

int hd_state_later(hd *h, const char *key, int64_t value) {
    state_update *n = realloc(h->upd, (h->nupd + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    h->upd = n;
    if (!(n[h->nupd].key = strdup(key)))
        return -ENOMEM;
    n[h->nupd++].value = value;
    return 0;
}

void hd_state_drop(hd *h) {
    for (size_t i = 0; i < h->nupd; i++)
        free(h->upd[i].key);
    free(h->upd);
    h->upd = NULL;
    h->nupd = 0;
}

/* ---------------------------------------------------------------------------------------------
 * Committing
 * ------------------------------------------------------------------------------------------- */

/* The VMs event @e may have touched, as links of event @id. @vms is discovered once per commit. */
static int insert_links(hd *h, const hl_event *e, vm_info **vms, size_t *nvm, bool *discovered) {
    bool cpu = e->class && streq(e->class, "cpu") && HL_HAS(e, cpu);
    bool mem = e->class && streq(e->class, "memory") && HL_HAS(e, address);
    _cleanup_free_ vm_hit *hits = NULL;
    size_t nhits = 0;
    int r;

    if (!h->cfg->vm_links || (!cpu && !mem))
        return 0;
    if (!*discovered) {
        *discovered = true;
        if (vmlink_discover(h->proc_fd, vms, nvm) < 0)
            *nvm = 0;
    }
    if (*nvm == 0)
        return 0;
    r = cpu ? vmlink_cpu(h->proc_fd, *vms, *nvm, (int)e->cpu, h->ncpu, &hits, &nhits)
            : vmlink_memory(h->proc_fd, *vms, *nvm, (uint64_t)e->address, &hits, &nhits);
    if (r == -EPERM) {
        log_debug(
            "cannot read the page frames of QEMU processes (needs CAP_SYS_ADMIN): memory error %lld not linked to VMs",
            (long long)e->id);
        return 0;
    }
    for (size_t k = 0; r >= 0 && k < nhits; k++) {
        const vm_info *v = &(*vms)[hits[k].vm];
        hl_link l = {
            .event_id = e->id, .vm = v->name, .pid = v->pid, .how = (char *)hits[k].how, .set = 1ull << 0 | 1ull << 2};
        if (hits[k].vcpu >= 0) {
            l.vcpu = hits[k].vcpu;
            l.set |= 1ull << 3;
        }
        r = hl_insert_link(h->db, &l);
    }
    return r < 0 && r != -ENOENT && r != -ESRCH ? r : 0;
}

/* One transaction: the pending events (with their VM links), the counters' new baselines and
 * the last-seen time. Only when it is committed are the events acknowledged. */
static int commit_pending(hd *h, int64_t now) {
    vm_info *vms = NULL;
    size_t nvm = 0;
    bool discovered = false;
    int64_t first = 0, last = 0;
    int r;

    if (h->npend == 0 && h->nupd == 0 && now - h->last_seen_written < 60000)
        return 0;
    if ((r = hl_begin(h->db)) < 0)
        goto fail;
    for (size_t i = 0; i < h->npend && r >= 0; i++) {
        hl_event *e = &h->pend[i]->r.ev;
        if ((r = hl_insert_event(h->db, e)) < 0)
            break;
        if (!first)
            first = e->id;
        last = e->id;
        r = insert_links(h, e, &vms, &nvm, &discovered);
    }
    for (size_t i = 0; i < h->nupd && r >= 0; i++)
        r = hl_state_set(h->db, h->upd[i].key, h->upd[i].value);
    if (r >= 0)
        r = hl_state_set(h->db, "healthd.last_seen_ms", now);
    if (r < 0) {
        hl_rollback(h->db);
        goto fail;
    }
    if ((r = hl_commit(h->db)) < 0)
        goto fail;
    vm_info_free(vms, nvm);
    hd_state_drop(h);
    h->last_seen_written = now;
    h->committed += h->npend;
    if (h->npend)
        log_debug("committed %zu events (ids %lld-%lld, %llu since start)", h->npend, (long long)first, (long long)last,
                  (unsigned long long)h->committed);
    if (h->commit_failures)
        log_info("the HealthLog takes events again after %llu failed commits", (unsigned long long)h->commit_failures);
    h->commit_failures = 0;
    return (int)h->npend;
fail:
    vm_info_free(vms, nvm);
    h->commit_failures++;
    if (h->commit_failures == 1 || h->commit_failures % 60 == 0)
        log_error("cannot commit %zu events to %s: %s (kept for the next try)", h->npend, h->cfg->db, hl_errmsg(h->db));
    /* Records read from the kernel are not sent again: keep them. Counter increases are found
     * again next time (their baselines were not committed). */
    {
        size_t k = 0;
        for (size_t i = 0; i < h->npend; i++) {
            if (h->pend[i]->from_trace) {
                h->pend[i]->r.ev.set &= ~(1ull << HL_F_id);
                h->pend[k++] = h->pend[i];
            } else
                free(h->pend[i]);
        }
        h->npend = k;
    }
    hd_state_drop(h);
    return r;
}

/* The thresholds after committed errors. The actions are events of their own transaction, each
 * inserted before the next error is checked, so that one object is acted on once. */
static void run_actions(hd *h, pending **done, size_t ndone, int64_t now) {
    pending **acts = NULL;
    size_t nacts = 0, inserted = 0;
    int r;

    if ((r = hl_begin(h->db)) < 0) {
        log_error("cannot check thresholds in %s: %s", h->cfg->db, hl_errmsg(h->db));
        return;
    }
    for (size_t i = 0; i < ndone && r >= 0; i++) {
        r = actions_check(h->db, &h->act, &done[i]->r.ev, now, &acts, &nacts);
        for (; r >= 0 && inserted < nacts; inserted++)
            if ((r = hl_insert_event(h->db, &acts[inserted]->r.ev)) >= 0)
                log_info("action: %s", acts[inserted]->r.ev.message);
    }
    if (r < 0)
        hl_rollback(h->db);
    else
        r = hl_commit(h->db);
    if (r < 0)
        log_error("cannot record %zu actions in %s: %s", nacts, h->cfg->db, hl_errmsg(h->db));
    pending_free(acts, nacts);
}

void hd_flush(hd *h, int64_t now) {
    pending **done;
    size_t ndone;
    if (commit_pending(h, now) <= 0)
        return;
    done = h->pend;
    ndone = h->npend;
    h->pend = NULL;
    h->npend = 0;
    run_actions(h, done, ndone, now);
    pending_free(done, ndone);
}

/* ---------------------------------------------------------------------------------------------
 * Retention
 * ------------------------------------------------------------------------------------------- */

void hd_retention(hd *h, int64_t now) {
    int64_t min_t = h->cfg->retention_days > 0 ? now - h->cfg->retention_days * 86400000ll : INT64_MIN;
    int64_t smin_t = h->cfg->sensor_retention_days > 0 ? now - h->cfg->sensor_retention_days * 86400000ll : INT64_MIN;
    int64_t total = 0;
    /* At most ten batches a cycle: the writer never stalls long; the rest goes next hour. */
    for (int i = 0; i < 10; i++) {
        int64_t n;
        if (hl_begin(h->db) < 0)
            break;
        n = hl_retention(h->db, min_t, h->cfg->retention_max_events, smin_t, 10000);
        if (n < 0 || hl_commit(h->db) < 0) {
            hl_rollback(h->db);
            log_warning("retention: %s", hl_errmsg(h->db));
            break;
        }
        total += n;
        if (n < 10000)
            break;
    }
    if (total)
        log_info("retention: %lld old rows deleted", (long long)total);
}
