/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-allocd's side effects: a plan's actions through the API in their safe order, the journal
 * of what it set (JSON lines, fsync'd before and after each action), and the state file that
 * publishes the plan with its reasons (unish allocation) and keeps the planner's memory. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allocd/allocd.h"
#include "util/json.h"
#include "util/util.h"

static const char *const kind_names[] = {"raise", "pin", "lower", "refresh"};

/* What an action does, in words ("pmd2 voltage_mv=980 frequency_mhz=2400", "pin vm1 to 4-5"). */
static void describe(const ad_world *w, const ap_action *a, char *buf, size_t len) {
    if (a->kind == AP_ACT_PIN) {
        const ap_cpu_dom *d = &w->dom[a->dom];
        snprintf(buf, len, "pin %s to %s (cores %d-%d)", w->vm[a->vm].name, d->name, d->cores[0],
                 d->cores[d->ncores - 1]);
    } else if (a->kind == AP_ACT_REFRESH)
        snprintf(buf, len, "%s refresh_ms=%d", w->mem[a->dom].name, a->refresh_ms);
    else
        snprintf(buf, len, "%s voltage_mv=%d frequency_mhz=%d", w->dom[a->dom].name, a->mv, a->mhz);
}

static int journal_line(const ad_options *o, json_object *e, bool truncate) {
    int fd = open(o->journal, O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : O_APPEND), 0644), rc = 0;
    if (fd < 0 || dprintf(fd, "%s\n", json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN)) < 0 || fsync(fd) < 0) {
        fprintf(stderr, "uni-allocd: cannot write the journal %s: %s\n", o->journal, strerror(errno));
        rc = -EIO;
    }
    if (fd >= 0)
        close(fd);
    json_object_put(e);
    return rc;
}

static int do_action(uniConnectPtr conn, const ad_world *w, const ap_action *a) {
    if (a->kind == AP_ACT_PIN) {
        unsigned char map[UNI_CPU_MAPLEN(1024)] = {0};
        int maplen = UNI_CPU_MAPLEN(w->ncpus > 0 ? w->ncpus : 1);
        const ap_cpu_dom *d = &w->dom[a->dom];
        for (int k = 0; k < d->ncores; k++)
            UNI_USE_CPU(map, d->cores[k]);
        for (int v = 0; v < w->vm[a->vm].nvcpu; v++)
            if (uniDomainPinVcpu(w->dom_ptr[a->vm], (unsigned)v, map, maplen, 0) < 0)
                return -1;
        return 0;
    }
    if (a->kind == AP_ACT_REFRESH) {
        uniOppSetting s = {"refresh_ms", a->refresh_ms};
        return uniNodeSetOperatingPoint(conn, w->mem[a->dom].name, &s, 1, 0);
    }
    {
        const ap_cpu_dom *d = &w->dom[a->dom];
        uniOppSetting s[2];
        int n = 0;
        if (!w->has_opp[a->dom])
            return 0;
        if (a->mv != d->cur_mv)
            s[n++] = (uniOppSetting){"voltage_mv", a->mv};
        if (a->mhz != d->cur_mhz && d->max_mhz > 0)
            s[n++] = (uniOppSetting){"frequency_mhz", a->mhz};
        return n ? uniNodeSetOperatingPoint(conn, d->name, s, n, 0) : 0;
    }
}

int ad_apply(uniConnectPtr conn, const ad_options *o, ad_state *st, const ad_world *w, const ap_plan *plan) {
    json_object *e;
    int lowered = 0, done = 0, rc = 0;
    char what[256], why[UNI_AUDIT_REASON_MAX];

    st->applied = st->deferred = 0;
    st->error[0] = '\0';
    if (!plan->nact)
        return 0;
    st->plan_seq++;
    e = json_object_new_object();
    json_object_object_add(e, "plan", json_object_new_int64((int64_t)st->plan_seq));
    json_object_object_add(e, "uri", json_object_new_string(o->uri));
    json_object_object_add(e, "actions", json_object_new_int(plan->nact));
    json_object_object_add(e, "time_ms", json_object_new_int64(w->in.now_ms));
    if (journal_line(o, e, true) < 0)
        return -EIO; /* nothing is set that the journal would not show */
    for (int i = 0; i < plan->nact && !ad_stop; i++) {
        const ap_action *a = &plan->act[i];
        /* Rate limit: going down (a voltage, a frequency, a refresh relaxed) waits for the next
         * round beyond --max-actions; raises and moves never wait. */
        bool down = a->kind == AP_ACT_LOWER || (a->kind == AP_ACT_REFRESH && !a->safety);
        if (down && lowered >= o->max_actions) {
            st->deferred++;
            continue;
        }
        lowered += down;
        describe(w, a, what, sizeof(what));
        e = json_object_new_object();
        json_object_object_add(e, "plan", json_object_new_int64((int64_t)st->plan_seq));
        json_object_object_add(e, "step", json_object_new_int(i));
        json_object_object_add(e, "kind", json_object_new_string(kind_names[a->kind]));
        json_object_object_add(e, "action", json_object_new_string(what));
        json_object_object_add(e, "reason", json_object_new_string(a->reason));
        if (journal_line(o, e, false) < 0)
            return -EIO;
        if (o->step_delay_ms && i)
            usleep(o->step_delay_ms * 1000);
        /* The reason goes with the change into the audit and the HealthLog's action event. */
        snprintf(why, sizeof(why), "uni-allocd plan %llu step %d/%d: %s%s", (unsigned long long)st->plan_seq, i + 1,
                 plan->nact, a->safety ? "[fast path] " : "", a->reason);
        int r = uniConnectSetAuditReason(conn, why, 0);
        if (r == 0)
            r = do_action(conn, w, a);
        e = json_object_new_object();
        json_object_object_add(e, "plan", json_object_new_int64((int64_t)st->plan_seq));
        json_object_object_add(e, "step", json_object_new_int(i));
        json_object_object_add(e, "done", json_object_new_boolean(r == 0));
        if (r < 0)
            json_object_object_add(e, "error", json_object_new_string(uniGetLastError()->message));
        journal_line(o, e, false);
        if (!o->quiet)
            printf("uni-allocd: %s%s: %s%s%s\n", a->safety ? "[fast path] " : "", what, a->reason,
                   r < 0 ? ": FAILED: " : "", r < 0 ? uniGetLastError()->message : "");
        if (r < 0) {
            /* The rest of the plan may rely on this step (a raise before a move, a move before a
             * lower): stop here; the next round plans again from what the host shows. */
            snprintf(st->error, sizeof(st->error), "%s: %s", what, uniGetLastError()->message);
            rc = -EIO;
            break;
        }
        st->applied = ++done;
    }
    (void)uniConnectSetAuditReason(conn, NULL, 0);
    e = json_object_new_object();
    json_object_object_add(e, "plan", json_object_new_int64((int64_t)st->plan_seq));
    json_object_object_add(e, "end", json_object_new_int(done));
    journal_line(o, e, false);
    fflush(stdout);
    return rc;
}

/* At start: a journal whose last plan has no "end" line was cut by a kill. Nothing is undone:
 * every prefix of a plan is safe (raises, then moves, then lowers), and the next plan, made from
 * what the host shows, finishes the job. Returns 1 when a plan was cut, 0 otherwise. */
int ad_journal_recover(const ad_options *o) {
    _cleanup_fclose_ FILE *f = fopen(o->journal, "re");
    char line[4096];
    long long plan = -1, actions = 0, steps = 0;
    bool ended = true;
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        json_object *e = json_tokener_parse(line), *v;
        if (!e)
            continue; /* a line cut by the kill */
        if (json_object_object_get_ex(e, "actions", &v)) {
            actions = json_object_get_int64(v), steps = 0, ended = false;
            if (json_object_object_get_ex(e, "plan", &v))
                plan = json_object_get_int64(v);
        } else if (json_object_object_get_ex(e, "done", &v) && json_object_get_boolean(v))
            steps++;
        else if (json_object_object_get_ex(e, "end", &v))
            ended = true;
        json_object_put(e);
    }
    if (ended)
        return 0;
    printf("uni-allocd: plan %lld was cut after %lld of %lld actions (journal %s): converging from what the host "
           "shows\n",
           plan, steps, actions, o->journal);
    return 1;
}

void ad_print_plan(FILE *f, const ad_world *w, const ap_plan *plan) {
    char what[256];
    fprintf(f, "VMs:\n");
    for (int v = 0; v < w->in.nvm; v++) {
        char demand[32] = "demand ?";
        if (w->vm[v].demand >= 0)
            snprintf(demand, sizeof(demand), "demand %.2f", w->vm[v].demand);
        fprintf(f, "  %-20s %-6s %2d vCPUs  %-12s %-8s %s\n", w->vm[v].name, ap_class_name(w->vm[v].cls),
                w->vm[v].nvcpu, demand, plan->vm_dom[v] >= 0 ? w->dom[plan->vm_dom[v]].name : "-", plan->vm_why[v]);
    }
    fprintf(f, "domains:\n");
    for (int d = 0; d < w->in.ndom; d++)
        fprintf(f, "  %-8s %-15s %4d mV %4d MHz  risk %-8s %s\n", w->dom[d].name, ap_mode_name(plan->mode[d]),
                plan->target_mv[d], plan->target_mhz[d], ap_risk_name(w->dom[d].risk), plan->dom_why[d]);
    if (w->in.nmem) {
        fprintf(f, "memory: %s\n", plan->mem_why);
        for (int m = 0; m < w->in.nmem; m++)
            fprintf(f, "  %-8s refresh %d ms\n", w->mem[m].name, plan->refresh_ms[m]);
    }
    fprintf(f, "actions (%d):\n", plan->nact);
    for (int i = 0; i < plan->nact; i++) {
        describe(w, &plan->act[i], what, sizeof(what));
        fprintf(f, "  %d. %s%s: %s\n", i + 1, plan->act[i].safety ? "[fast path] " : "", what, plan->act[i].reason);
    }
}

int ad_state_load(const ad_options *o, ad_state *st) {
    json_object *root = json_object_from_file(o->state), *doms, *hist;
    memset(st, 0, sizeof(*st));
    if (!root)
        return access(o->state, F_OK) == 0 ? -EBADMSG : 0;
    st->plan_seq = (uint64_t)uj_int(root, "plan_seq", 0);
    st->mem.mem_hold_until_ms = uj_int(root, "mem_hold_until_ms", 0);
    st->mem.mem_backoff_pct = (int)uj_int(root, "mem_backoff_pct", 0);
    if (json_object_object_get_ex(root, "domains", &doms))
        for (size_t i = 0; i < json_object_array_length(doms) && i < AP_MAX_DOMS; i++) {
            json_object *d = json_object_array_get_idx(doms, i);
            st->mem.hold_until_ms[i] = uj_int(d, "hold_until_ms", 0);
            st->mem.backoff_mv[i] = (int)uj_int(d, "backoff_mv", 0);
            st->mem.raised_at_ms[i] = uj_int(d, "raised_at_ms", 0);
        }
    if (json_object_object_get_ex(root, "counts", &hist))
        for (size_t i = 0; i < json_object_array_length(hist) && st->nhist < (int)ELEMENTSOF(st->hist); i++) {
            json_object *h = json_object_array_get_idx(hist, i), *n;
            ad_history *a = &st->hist[st->nhist++];
            if (json_object_object_get_ex(h, "name", &n))
                snprintf(a->name, sizeof(a->name), "%s", json_object_get_string(n));
            a->ring[0] =
                (ad_count){uj_int(h, "time_ms", 0), (uint64_t)uj_int(h, "ce", 0), (uint64_t)uj_int(h, "ue", 0)};
            a->n = 1, a->head = 1;
        }
    if (json_object_object_get_ex(root, "demand", &hist))
        for (size_t i = 0; i < json_object_array_length(hist) && st->ndem < AP_MAX_VMS; i++) {
            json_object *h = json_object_array_get_idx(hist, i), *n, *slots;
            ad_demand *a = &st->dem[st->ndem++];
            if (json_object_object_get_ex(h, "name", &n))
                snprintf(a->name, sizeof(a->name), "%s", json_object_get_string(n));
            a->have = true;
            a->nvcpu = (int)uj_int(h, "vcpus", 0), a->t_ms = uj_int(h, "time_ms", 0),
            a->total_ms = (uint64_t)uj_int(h, "total_ms", 0);
            if (json_object_object_get_ex(h, "slots", &slots))
                for (size_t k = 0; k < json_object_array_length(slots) && k < AD_DEMAND_SLOTS; k++) {
                    json_object *e = json_object_array_get_idx(slots, k);
                    a->slot_t[k] = json_object_get_int64(json_object_array_get_idx(e, 0));
                    a->slot_max[k] = json_object_get_double(json_object_array_get_idx(e, 1));
                }
        }
    json_object_put(root);
    return 0;
}

static json_object *jstr(const char *s) {
    return json_object_new_string(s ? s : "");
}

int ad_state_save(const ad_options *o, const ad_state *st, const ad_world *w, const ap_plan *plan) {
    json_object *root = json_object_new_object(), *doms = json_object_new_array(), *vms = json_object_new_array(),
                *acts = json_object_new_array(), *counts = json_object_new_array(), *chans = json_object_new_array();
    char tmp[4200], what[256];
    int rc = 0;

    json_object_object_add(root, "version", json_object_new_int(1));
    json_object_object_add(root, "uri", jstr(o->uri));
    json_object_object_add(root, "time_ms", json_object_new_int64(w->in.now_ms));
    json_object_object_add(root, "plan_seq", json_object_new_int64((int64_t)st->plan_seq));
    json_object_object_add(root, "applied", json_object_new_int(st->applied));
    json_object_object_add(root, "deferred", json_object_new_int(st->deferred));
    json_object_object_add(root, "error", st->error[0] ? jstr(st->error) : NULL);
    json_object_object_add(root, "mem_hold_until_ms", json_object_new_int64(st->mem.mem_hold_until_ms));
    json_object_object_add(root, "mem_backoff_pct", json_object_new_int(st->mem.mem_backoff_pct));
    for (int v = 0; v < w->in.nvm; v++) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "name", jstr(w->vm[v].name));
        json_object_object_add(e, "class", jstr(ap_class_name(w->vm[v].cls)));
        json_object_object_add(e, "vcpus", json_object_new_int(w->vm[v].nvcpu));
        json_object_object_add(e, "demand_cores",
                               w->vm[v].demand >= 0 ? json_object_new_double(w->vm[v].demand) : NULL);
        json_object_object_add(e, "domain", jstr(plan->vm_dom[v] >= 0 ? w->dom[plan->vm_dom[v]].name : ""));
        json_object_object_add(e, "reason", jstr(plan->vm_why[v]));
        json_object_array_add(vms, e);
    }
    for (int d = 0; d < w->in.ndom; d++) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "name", jstr(w->dom[d].name));
        json_object_object_add(e, "mode", jstr(ap_mode_name(plan->mode[d])));
        json_object_object_add(e, "voltage_mv", json_object_new_int(plan->target_mv[d]));
        json_object_object_add(e, "frequency_mhz", json_object_new_int(plan->target_mhz[d]));
        json_object_object_add(e, "safe_mv", json_object_new_int(w->dom[d].safe_mv));
        json_object_object_add(e, "risk", jstr(ap_risk_name(w->dom[d].risk)));
        json_object_object_add(e, "reason", jstr(plan->dom_why[d]));
        json_object_object_add(e, "hold_until_ms", json_object_new_int64(st->mem.hold_until_ms[d]));
        json_object_object_add(e, "backoff_mv", json_object_new_int(st->mem.backoff_mv[d]));
        json_object_object_add(e, "raised_at_ms", json_object_new_int64(st->mem.raised_at_ms[d]));
        json_object_array_add(doms, e);
    }
    for (int m = 0; m < w->in.nmem; m++) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "name", jstr(w->mem[m].name));
        json_object_object_add(e, "refresh_ms", json_object_new_int(plan->refresh_ms[m]));
        json_object_array_add(chans, e);
    }
    for (int i = 0; i < plan->nact; i++) {
        json_object *e = json_object_new_object();
        describe(w, &plan->act[i], what, sizeof(what));
        json_object_object_add(e, "kind", jstr(kind_names[plan->act[i].kind]));
        json_object_object_add(e, "action", jstr(what));
        json_object_object_add(e, "fast_path", json_object_new_boolean(plan->act[i].safety));
        json_object_object_add(e, "reason", jstr(plan->act[i].reason));
        json_object_array_add(acts, e);
    }
    for (int i = 0; i < st->nhist; i++) {
        const ad_history *h = &st->hist[i];
        const ad_count *c = &h->ring[(h->head + AD_RING - 1) % AD_RING];
        json_object *e = json_object_new_object();
        if (!h->n) {
            json_object_put(e);
            continue;
        }
        json_object_object_add(e, "name", jstr(h->name));
        json_object_object_add(e, "time_ms", json_object_new_int64(c->t_ms));
        json_object_object_add(e, "ce", json_object_new_int64((int64_t)c->ce));
        json_object_object_add(e, "ue", json_object_new_int64((int64_t)c->ue));
        json_object_array_add(counts, e);
    }
    json_object_object_add(root, "vms", vms);
    json_object_object_add(root, "domains", doms);
    json_object_object_add(root, "memory_reason", jstr(plan->mem_why));
    json_object_object_add(root, "channels", chans);
    json_object_object_add(root, "actions", acts);
    json_object_object_add(root, "counts", counts);
    {
        json_object *dem = json_object_new_array();
        for (int i = 0; i < st->ndem; i++) {
            json_object *e, *slots;
            if (!st->dem[i].have)
                continue;
            e = json_object_new_object(), slots = json_object_new_array();
            json_object_object_add(e, "name", jstr(st->dem[i].name));
            json_object_object_add(e, "vcpus", json_object_new_int(st->dem[i].nvcpu));
            json_object_object_add(e, "time_ms", json_object_new_int64(st->dem[i].t_ms));
            json_object_object_add(e, "total_ms", json_object_new_int64((int64_t)st->dem[i].total_ms));
            for (int k = 0; k < AD_DEMAND_SLOTS; k++)
                if (st->dem[i].slot_t[k]) {
                    json_object *p = json_object_new_array();
                    json_object_array_add(p, json_object_new_int64(st->dem[i].slot_t[k]));
                    json_object_array_add(p, json_object_new_double(st->dem[i].slot_max[k]));
                    json_object_array_add(slots, p);
                }
            json_object_object_add(e, "slots", slots);
            json_object_array_add(dem, e);
        }
        json_object_object_add(root, "demand", dem);
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", o->state);
    /* Written aside and renamed: a reader (unish allocation) never sees half a file. */
    if (json_object_to_file_ext(tmp, root, JSON_C_TO_STRING_PRETTY) < 0 || rename(tmp, o->state) < 0) {
        fprintf(stderr, "uni-allocd: cannot write the state file %s: %s\n", o->state, strerror(errno));
        rc = -EIO;
    }
    json_object_put(root);
    return rc;
}
