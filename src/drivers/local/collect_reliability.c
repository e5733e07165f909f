/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The reliability metrics (group "reliability": host.reliability.*, host.component.C.*): the
 * HealthLog's history, the StressLog's margins file and the operating points, read here and
 * given to the predictor (src/predict/, pure). */
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>

#include "control.h"
#include "local_internal.h"
#include "predict/predict.h"

#define MAX_COMPONENTS 512

struct predict_state {
    pr_config cfg;
    pr_event *ev;
    size_t nev, cap;
    int64_t last_id; /* the newest event read; 0: nothing read yet */
    hl_db *db;       /* the HealthLog the events came from (another after a reopen: read anew) */
};

int predict_open(local_state *s, const uni_uri *uri) {
    const char *v;
    char err[200];
    predict_state *p = calloc(1, sizeof(*p));
    if (!p) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    s->pred = p;
    pr_config_default(&p->cfg);
    /* The settings of the model a user may change, each checked now: a bad one refuses the
     * connection, naming the value, rather than giving made-up probabilities later. */
    static const struct {
        const char *key;
        size_t off;
    } nums[] = {{"reliability_threshold", offsetof(pr_config, threshold)},
                {"predict_window_s", offsetof(pr_config, window_s)},
                {"predict_short_s", offsetof(pr_config, short_s)}};
    for (size_t i = 0; i < ELEMENTSOF(nums); i++)
        if ((v = uni_uri_param(uri, nums[i].key))) {
            double d;
            if (safe_atod(v, &d) < 0) {
                uni_error_set(UNI_ERR_INVALID_ARG, "%s '%s': not a number", nums[i].key, v);
                return -1;
            }
            *(double *)((char *)&p->cfg + nums[i].off) = d;
        }
    if (!uni_uri_param(uri, "predict_short_s") && p->cfg.short_s > p->cfg.window_s)
        p->cfg.short_s = p->cfg.window_s;
    if ((v = uni_uri_param(uri, "predict_horizons")) && pr_parse_horizons(&p->cfg, v, err, sizeof(err)) < 0) {
        uni_error_set(UNI_ERR_INVALID_ARG, "predict_horizons: %s", err);
        return -1;
    }
    if (pr_config_check(&p->cfg, err, sizeof(err)) < 0) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s", err);
        return -1;
    }
    return 0;
}

void predict_close(local_state *s) {
    predict_state *p = s->pred;
    if (!p)
        return;
    free(p->ev);
    free(p);
    s->pred = NULL;
}

static int add_events(predict_state *p, hl_event *ev, size_t n, int64_t keep_from_ms) {
    for (size_t i = 0; i < n; i++) {
        pr_event e;
        if (ev[i].id > p->last_id)
            p->last_id = ev[i].id;
        if (pr_event_from_hl(&ev[i], &e) < 0 || (e.kind == PR_EV_CE && e.time_ms <= keep_from_ms))
            continue;
        if (p->nev == p->cap) {
            size_t nc = p->cap ? p->cap * 2 : 256;
            pr_event *ne = realloc(p->ev, nc * sizeof(*ne));
            if (!ne)
                return -ENOMEM;
            p->ev = ne;
            p->cap = nc;
        }
        p->ev[p->nev++] = e;
    }
    return 0;
}

static int query_add(predict_state *p, hl_db *db, const hl_filter *f, int64_t keep_from_ms) {
    hl_event *ev = NULL;
    size_t n = 0;
    int r = hl_query(db, f, &ev, &n);
    if (r < 0)
        return r;
    r = add_events(p, ev, n, keep_from_ms);
    hl_events_free(ev, n);
    return r;
}

/* The history the model needs: corrected errors of the last two days (the day-over-day features
 * compare the last day with the one before) and the window, every uncorrected error and reboot.
 * Read whole the first time, then only what was committed since. */
static int refresh_events(predict_state *p, hl_db *db, int64_t now_ms) {
    int64_t keep_from = now_ms - (int64_t)(2 * p->cfg.day_s * 1000) - (int64_t)(p->cfg.window_s * 1000);
    hl_filter f;
    int r;

    if (p->db != db) { /* a new or reopened HealthLog: start over */
        p->nev = 0;
        p->last_id = 0;
        p->db = db;
    }
    hl_filter_init(&f);
    if (p->last_id == 0) {
        int64_t recent_from;
        /* Uncorrected errors and reboots of the whole history, then everything of the last day
         * (newer ids only, so nothing is read twice). */
        f.severities = HL_SEV_UNCORRECTED;
        if ((r = query_add(p, db, &f, keep_from)) < 0)
            return r;
        hl_filter_init(&f);
        f.class = "platform";
        if ((r = query_add(p, db, &f, keep_from)) < 0)
            return r;
        recent_from = keep_from;
        hl_filter_init(&f);
        f.since_ms = recent_from;
        f.severities = HL_SEV_CORRECTED;
        if ((r = query_add(p, db, &f, keep_from)) < 0)
            return r;
        if (p->last_id == 0)
            p->last_id = -1; /* read once; nothing there */
        return 0;
    }
    f.after_id = p->last_id > 0 ? p->last_id : 0;
    if ((r = query_add(p, db, &f, keep_from)) < 0)
        return r;
    /* Forget corrected errors older than the model reads. */
    {
        size_t k = 0;
        for (size_t i = 0; i < p->nev; i++)
            if (p->ev[i].kind != PR_EV_CE || p->ev[i].time_ms > keep_from)
                p->ev[k++] = p->ev[i];
        p->nev = k;
    }
    return 0;
}

static void set_margin(const uni_margins *margins, pr_component *c, uniOppListPtr l, int d, const char *param) {
    const uniOppParam *q = uniOppListFindParam(l, d, param), *f = uniOppListFindParam(l, d, "frequency_mhz");
    const uni_margin *m =
        q ? pr_margin_find(margins, uniOppListGetDomain(l, d)->name, param, f ? (double)f->current : 0) : NULL;
    if (m) {
        c->have_margin = true;
        c->up = m->dir > 0;
        c->safe = (double)m->safe;
        c->current = (double)q->current;
    }
}

/* The components: with a board's operating-point domains, each PMD, its L2, each channel and
 * its DIMMs; without, each online core and each DIMM the history names. */
static size_t components(local_state *s, predict_state *p, pr_component *c, size_t max) {
    sysfs_root root = {.conn = NULL, .sys_fd = s->sys_fd, .sysfs = s->sysfs};
    uniOppListPtr l = uni_opp_list_new();
    const uni_margins *mg = margins_current(s);
    size_t n = 0;
    int nd;

    if (l && local_get_operating_points(&root, l) == 0 && (nd = uniOppListNumDomains(l)) > 0) {
        for (int d = 0; d < nd; d++) {
            const uniOppDomain *dom = uniOppListGetDomain(l, d);
            if (dom->kind == UNI_OPP_CPU && n + 2 <= max) {
                pr_component *pmd = &c[n++], *l2 = &c[n++];
                memset(pmd, 0, 2 * sizeof(*pmd));
                snprintf(pmd->name, sizeof(pmd->name), "%s", dom->name);
                pmd->kind = PR_COMP_PMD;
                for (int i = 0; i < dom->ncores && i < PR_MAX_CPUS; i++)
                    pmd->cpus[pmd->ncpus++] = dom->cores[i];
                pmd->temp_c = NAN;
                set_margin(mg, pmd, l, d, "voltage_mv");
                *l2 = *pmd;
                snprintf(l2->name, sizeof(l2->name), "%.24s_l2", dom->name);
                l2->kind = PR_COMP_L2;
            } else if (dom->kind == UNI_OPP_MEMORY && n + 1 + (size_t)dom->nmembers <= max) {
                pr_component *mc = &c[n++];
                memset(mc, 0, sizeof(*mc));
                snprintf(mc->name, sizeof(mc->name), "%s", dom->name);
                mc->kind = PR_COMP_CHANNEL;
                mc->temp_c = NAN;
                for (int i = 0; i < dom->nmembers && i < PR_MAX_DIMMS; i++)
                    snprintf(mc->dimms[mc->ndimms++], PR_NAME_MAX, "%s", dom->members[i]);
                set_margin(mg, mc, l, d, "refresh_ms");
                for (int i = 0; i < mc->ndimms; i++) {
                    pr_component *dimm = &c[n++];
                    *dimm = *mc;
                    dimm->kind = PR_COMP_DIMM;
                    snprintf(dimm->name, sizeof(dimm->name), "%s", mc->dimms[i]);
                    hl_label_sanitize(dimm->name);
                    snprintf(dimm->dimms[0], PR_NAME_MAX, "%s", mc->dimms[i]);
                    dimm->ndimms = 1;
                }
            }
        }
    } else {
        uniResetLastError();
        for (unsigned cpu = 0; cpu < s->ncpu && n < max; cpu++)
            if (cpu_online(s, cpu)) {
                memset(&c[n], 0, sizeof(c[n]));
                snprintf(c[n].name, sizeof(c[n].name), "core%u", cpu);
                c[n].kind = PR_COMP_CORE;
                c[n].cpus[0] = (int)cpu;
                c[n].ncpus = 1;
                c[n].temp_c = NAN;
                n++;
            }
    }
    uniOppListFree(l);
    /* Every DIMM the history names that no channel listed. */
    for (size_t i = 0; i < p->nev && n < max; i++) {
        const char *dimm = p->ev[i].dimm;
        bool known = !*dimm;
        for (size_t k = 0; k < n && !known; k++)
            for (int j = 0; j < c[k].ndimms && !known; j++)
                known = streq(c[k].dimms[j], dimm);
        if (known)
            continue;
        memset(&c[n], 0, sizeof(c[n]));
        snprintf(c[n].name, sizeof(c[n].name), "%s", dimm);
        hl_label_sanitize(c[n].name);
        c[n].kind = PR_COMP_DIMM;
        snprintf(c[n].dimms[0], PR_NAME_MAX, "%s", dimm);
        c[n].ndimms = 1;
        c[n].temp_c = NAN;
        n++;
    }
    return n;
}

static void all_absent(uniRecordPtr rec, const char *why) {
    for (unsigned m = 0; m < UNI_NMETRICS; m++)
        if (uni_catalog_group[m] == UNI_GROUP_RELIABILITY)
            rec_absent(rec, m, "%s", why);
}

static void emit_node(uniRecordPtr rec, const pr_node *node, const pr_config *cf, const char *hl_path) {
    static const unsigned pf[3] = {UNI_M_HOST_RELIABILITY_P_FAIL_1H, UNI_M_HOST_RELIABILITY_P_FAIL_24H,
                                   UNI_M_HOST_RELIABILITY_P_FAIL_7D};
    static const double hs[3] = {3600, 86400, 7 * 86400};
    rec_str(rec, UNI_M_HOST_RELIABILITY_CLASS, -1, NULL, node->unreliable ? "unreliable" : "reliable");
    rec_str(rec, UNI_M_HOST_RELIABILITY_REASON, -1, NULL, node->reason);
    for (int h = 0; h < 3; h++)
        rec_dbl(rec, pf[h], -1, NULL, pr_p_within(node->hazard_per_h, hs[h]));
    rec_u64(rec, UNI_M_HOST_RELIABILITY_FAILURES, -1, NULL, (uint64_t)node->nfailures);
    if (isfinite(node->mtbf_h))
        rec_dbl(rec, UNI_M_HOST_RELIABILITY_MTBF_H, -1, NULL, node->mtbf_h);
    else
        rec_absent(rec, UNI_M_HOST_RELIABILITY_MTBF_H,
                   "no failure in the %.1f h the HealthLog %s covers: the MTBF is longer than that", node->observed_h,
                   hl_path);
    if (isfinite(node->mttr_min))
        rec_dbl(rec, UNI_M_HOST_RELIABILITY_MTTR_MIN, -1, NULL, node->mttr_min);
    else
        rec_absent(rec, UNI_M_HOST_RELIABILITY_MTTR_MIN,
                   "no reboot with a known downtime in the HealthLog %s (uni-healthd records each reboot it finds)",
                   hl_path);
    (void)cf;
}

static void emit_components(uniRecordPtr rec, const pr_component *c, const pr_result *res, size_t n) {
    static const unsigned pu[3] = {UNI_M_HOST_COMPONENT_C_P_UE_1H, UNI_M_HOST_COMPONENT_C_P_UE_24H,
                                   UNI_M_HOST_COMPONENT_C_P_UE_7D};
    static const double hs[3] = {3600, 86400, 7 * 86400};
    for (size_t i = 0; i < n; i++) {
        for (int h = 0; h < 3; h++)
            rec_dbl(rec, pu[h], -1, c[i].name, pr_p_within(res[i].hazard_per_h, hs[h]));
        rec_dbl(rec, UNI_M_HOST_COMPONENT_C_CE_RATE_PER_H, -1, c[i].name, res[i].ce_rate_per_h);
        rec_str(rec, UNI_M_HOST_COMPONENT_C_RISK, -1, c[i].name, pr_risk_names[res[i].risk]);
        rec_str(rec, UNI_M_HOST_COMPONENT_C_RISK_REASON, -1, c[i].name, res[i].reason);
    }
}

int collect_reliability(local_state *s, uniRecordPtr rec) {
    predict_state *p = s->pred;
    char why[1024], err[200];
    int64_t now = uni_clock_wall_ms(), start = 0, cap_cpu = 0, cap_mem = 0;
    _cleanup_free_ pr_component *comps = NULL;
    _cleanup_free_ pr_result *res = NULL;
    size_t n, k = 0;
    pr_node node;
    int r = healthlog_ready(s, why, sizeof(why));

    if (r <= 0) {
        if (r == 0)
            all_absent(rec, why);
        return r;
    }
    if ((r = refresh_events(p, s->hl, now)) < 0) {
        uni_error_errno(r, "HealthLog %s", hl_errmsg(s->hl));
        p->db = NULL;
        hl_close(s->hl);
        s->hl = NULL;
        return -1;
    }
    (void)hl_state_get(s->hl, "cap.cpu", &cap_cpu);
    (void)hl_state_get(s->hl, "cap.memory", &cap_mem);
    /* Where the history begins: uni-healthd's first start, or the oldest event it kept. */
    if (hl_state_get(s->hl, "history.start_ms", &start) < 0)
        start = now;
    for (size_t i = 0; i < p->nev; i++)
        if (p->ev[i].time_ms < start)
            start = p->ev[i].time_ms;
    comps = calloc(MAX_COMPONENTS, sizeof(*comps));
    res = calloc(MAX_COMPONENTS, sizeof(*res));
    if (!comps || !res) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    n = components(s, p, comps, MAX_COMPONENTS);
    /* A class of components whose errors the HealthLog has no source of is not rated: no
     * errors seen there is no evidence. */
    for (size_t i = 0; i < n; i++) {
        bool mem = comps[i].kind == PR_COMP_DIMM || comps[i].kind == PR_COMP_CHANNEL;
        if (mem ? cap_mem : cap_cpu)
            comps[k++] = comps[i];
    }
    n = k;
    if (pr_predict(&p->cfg, comps, n, p->ev, p->nev, now, start, res, &node, err, sizeof(err)) < 0) {
        uni_error_set(UNI_ERR_INTERNAL_ERROR, "predictor: %s", err);
        return -1;
    }
    emit_node(rec, &node, &p->cfg, s->hl_path);
    emit_components(rec, comps, res, n);
    if (!cap_cpu || !cap_mem)
        for (unsigned m = 0; m < UNI_NMETRICS; m++)
            if (uni_catalog_group[m] == UNI_GROUP_RELIABILITY && startswith(uni_catalog[m].key, "host.component."))
                (n ? rec_absent_partial
                   : rec_absent)(rec, m, "uni-healthd has no source of %s errors on this host; HealthLog %s",
                                 !cap_cpu && !cap_mem ? "CPU or memory"
                                 : !cap_cpu           ? "CPU"
                                                      : "memory",
                                 s->hl_path);
    return 0;
}
