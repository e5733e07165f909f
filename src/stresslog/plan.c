/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-stresslog's plan: the targets (a domain's parameter at a frequency) from the host's
 * operating-point domains, or its cpufreq clock domains where it has no voltage control; the
 * refusal of domains whose cores run VMs; the dry run's listing and time estimate. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stresslog/stresslog.h"
#include "util/util.h"

static bool wanted(const sl_options *o, const char *name) {
    if (o->ndomains == 0)
        return true;
    for (int i = 0; i < o->ndomains; i++)
        if (streq(o->domains[i], name))
            return true;
    return false;
}

static bool param_wanted(const sl_options *o, int kind, const char *param) {
    if (o->nparams == 0)
        return streq(param, kind == UNI_OPP_CPU ? "voltage_mv" : "refresh_ms");
    for (int i = 0; i < o->nparams; i++)
        if (streq(o->params[i], param))
            return true;
    return false;
}

static int grow(sl_target **v, int *n, int *cap) {
    if (*n == *cap) {
        int c = *cap ? *cap * 2 : 8;
        sl_target *p = realloc(*v, (size_t)c * sizeof(**v));
        if (!p)
            return -ENOMEM;
        *v = p;
        *cap = c;
    }
    memset(&(*v)[*n], 0, sizeof(**v));
    return 0;
}

/* The operating-point domains: one target per domain, stepped parameter and frequency. */
static int plan_opp(const sl_options *o, uniOppListPtr l, sl_target **v, int *n, int *cap) {
    int nd = uniOppListNumDomains(l);
    for (int d = 0; d < nd; d++) {
        const uniOppDomain *dom = uniOppListGetDomain(l, d);
        const uniOppParam *freq = uniOppListFindParam(l, d, "frequency_mhz");
        if (!wanted(o, dom->name))
            continue;
        for (int p = 0; p < dom->nparams; p++) {
            const uniOppParam *q = uniOppListGetParam(l, d, p);
            long long fdefault = freq ? (freq->nominal > 0 ? freq->nominal : freq->max) : 0;
            int nf = dom->kind == UNI_OPP_CPU && o->nfreqs ? o->nfreqs : 1;
            if (streq(q->name, "frequency_mhz") || !param_wanted(o, dom->kind, q->name))
                continue;
            if (q->flags & UNI_OPP_PARAM_READONLY) {
                fprintf(stderr, "uni-stresslog: %s %s is read-only on this host: not tested\n", dom->name, q->name);
                continue;
            }
            if (q->nominal < 0) {
                fprintf(stderr, "uni-stresslog: %s %s has no nominal value to start from: not tested\n", dom->name,
                        q->name);
                continue;
            }
            for (int f = 0; f < nf; f++) {
                sl_target *t;
                long long fmhz = dom->kind == UNI_OPP_CPU && o->nfreqs ? o->freqs[f] : fdefault;
                if (dom->kind == UNI_OPP_CPU && freq && (fmhz < freq->min || fmhz > freq->max)) {
                    fprintf(stderr, "uni-stresslog: %s runs %lld-%lld MHz, not %lld MHz (OUT_OF_RANGE)\n", dom->name,
                            freq->min, freq->max, fmhz);
                    return -ERANGE;
                }
                if (grow(v, n, cap) < 0)
                    return -ENOMEM;
                t = &(*v)[(*n)++];
                snprintf(t->domain, sizeof(t->domain), "%s", dom->name);
                t->kind = dom->kind;
                for (int c = 0; c < dom->ncores && c < SL_MAX_CORES; c++)
                    t->cores[t->ncores++] = dom->cores[c];
                for (int m = 0; m < dom->nmembers && m < SL_MAX_MEMBERS; m++)
                    snprintf(t->members[t->nmembers++], sizeof(t->members[0]), "%s", dom->members[m]);
                snprintf(t->param, sizeof(t->param), "%s", q->name);
                snprintf(t->unit, sizeof(t->unit), "%s", q->unit);
                t->nominal = q->nominal;
                t->min = q->min;
                t->max = q->max;
                t->hw_step = q->step;
                t->freq_mhz = dom->kind == UNI_OPP_CPU ? fmhz : 0;
                /* A lower voltage or a longer refresh period is the margin that saves power. */
                t->dir = startswith(q->name, "voltage") ? -1 : +1;
            }
        }
    }
    return 0;
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* No operating-point interface: each core's cpufreq clock domain, swept over frequencies. */
static int plan_cpufreq(const sl_options *o, uniConnectPtr conn, const char *opp_why, sl_target **v, int *n, int *cap) {
    const char *sel[] = {"freq", "cpu", NULL};
    uniRecordPtr rec = NULL;
    const uniSample *count;
    int ncpu;

    if (uniNodeGetStats(conn, sel, &rec, UNI_NODE_STATS_BEST_EFFORT) < 0) {
        fprintf(stderr, "uni-stresslog: cannot read the host record: %s\n", uniGetLastError()->message);
        return -EIO;
    }
    count = uniRecordLookup(rec, "host.cpu.count");
    ncpu = count ? (int)(count->type == UNI_VALUE_U64 ? (double)count->value.u : count->value.d) : 0;
    for (int c = 0; c < ncpu && c < SL_MAX_CORES; c++) {
        char key[64], name[32];
        const uniSample *gov, *max;
        sl_target *t;
        snprintf(name, sizeof(name), "cpu%d", c);
        if (!wanted(o, name))
            continue;
        snprintf(key, sizeof(key), "host.cpu.%d.governor", c);
        gov = uniRecordLookup(rec, key);
        snprintf(key, sizeof(key), "host.cpu.%d.max_mhz", c);
        max = uniRecordLookup(rec, key);
        if (!gov || !max) {
            const char *why = uniRecordAbsentReason(rec, "host.cpu.N.governor");
            fprintf(stderr,
                    "uni-stresslog: nothing to characterise on %s: no voltage or refresh control (%s), and no "
                    "frequency control (%s)\n",
                    o->uri, opp_why, why ? why : "no cpufreq policy for this core");
            uniRecordFree(rec);
            return -ENOTSUP;
        }
        if (grow(v, n, cap) < 0) {
            uniRecordFree(rec);
            return -ENOMEM;
        }
        t = &(*v)[(*n)++];
        snprintf(t->domain, sizeof(t->domain), "%s", name);
        t->kind = SL_KIND_CPUFREQ;
        t->cores[t->ncores++] = c;
        snprintf(t->param, sizeof(t->param), "frequency_mhz");
        snprintf(t->unit, sizeof(t->unit), "MHz");
        t->nominal = (long long)(max->type == UNI_VALUE_U64 ? (double)max->value.u : max->value.d);
        t->min = 1;
        t->max = t->nominal;
        t->hw_step = 1;
        t->dir = +1;
        if (o->nfreqs) {
            for (int f = 0; f < o->nfreqs; f++) {
                if (o->freqs[f] > t->max) {
                    fprintf(stderr, "uni-stresslog: %s runs at most %lld MHz, not %lld MHz (OUT_OF_RANGE)\n", name,
                            t->max, o->freqs[f]);
                    uniRecordFree(rec);
                    return -ERANGE;
                }
                t->freqs[t->nfreqs++] = o->freqs[f];
            }
        } else {
            /* Its nominal (maximum) frequency down to half of it, in the asked step (default 10 %). */
            long long step = o->step_freq > 0 ? (long long)o->step_freq : t->nominal / 10;
            for (long long f = t->nominal; f >= t->nominal / 2 && t->nfreqs < SL_MAX_FREQS; f -= step)
                t->freqs[t->nfreqs++] = f;
        }
        qsort(t->freqs, (size_t)t->nfreqs, sizeof(t->freqs[0]), cmp_ll);
        t->min = t->freqs[0];
    }
    uniRecordFree(rec);
    return 0;
}

int sl_build_plan(uniConnectPtr conn, const sl_options *o, sl_target **ret, int *ret_n) {
    uniOppListPtr l = NULL;
    sl_target *v = NULL;
    int n = 0, cap = 0, r;

    if (uniNodeGetOperatingPoints(conn, &l, 0) >= 0) {
        r = plan_opp(o, l, &v, &n, &cap);
        uniOppListFree(l);
    } else {
        char why[512];
        const uniError *e = uniGetLastError();
        snprintf(why, sizeof(why), "%s", e && e->message ? e->message : "no operating-point interface");
        if (!e || e->code != UNI_ERR_NO_SUPPORT) {
            fprintf(stderr, "uni-stresslog: cannot list the operating points of %s: %s\n", o->uri, why);
            return -EIO;
        }
        r = plan_cpufreq(o, conn, why, &v, &n, &cap);
    }
    if (r < 0) {
        free(v);
        return r;
    }
    for (int i = 0; i < o->ndomains; i++) {
        bool found = false;
        for (int k = 0; k < n && !found; k++)
            found = streq(v[k].domain, o->domains[i]);
        if (!found) {
            fprintf(stderr, "uni-stresslog: no domain '%s' to test on %s (INVALID_ARG)\n", o->domains[i], o->uri);
            free(v);
            return -EINVAL;
        }
    }
    if (n == 0) {
        fprintf(stderr, "uni-stresslog: no domain of %s has a parameter to step\n", o->uri);
        free(v);
        return -ENOTSUP;
    }
    for (int k = 0; k < n; k++)
        if ((r = sl_check_guard(o, &v[k])) < 0) {
            free(v);
            return r;
        }
    *ret = v;
    *ret_n = n;
    return 0;
}

/* ---- VMs on the domains ---- */

static bool overlaps(const sl_target *t, const char *cpulist) {
    uint8_t bm[SL_MAX_CORES / 8] = {0};
    unsigned cnt;
    if (parse_cpu_list(cpulist, strlen(cpulist), bm, SL_MAX_CORES, &cnt) < 0)
        return true; /* unknown pinning: assume it may run anywhere */
    for (int c = 0; c < t->ncores; c++)
        if (t->cores[c] >= 0 && t->cores[c] < SL_MAX_CORES && (bm[t->cores[c] / 8] & (1u << (t->cores[c] % 8))))
            return true;
    return false;
}

/* A VM whose vCPUs may run on a domain's cores (or, for a memory channel, any running VM: its
 * memory may be interleaved over every channel) refuses the domain unless forced. */
int sl_check_vms(uniConnectPtr conn, const sl_target *t, int n, bool force) {
    const char *sel[] = {"dom.vcpu.", NULL};
    uniDomainStatsRecordPtr *st = NULL;
    int nvm = uniConnectGetAllDomainStats(conn, sel, &st, UNI_DOMAIN_STATS_ACTIVE), refused = 0;

    if (nvm < 0) {
        fprintf(stderr, "uni-stresslog: cannot tell which VMs run here: %s%s\n", uniGetLastError()->message,
                force ? " (--force: going on)" : "; --force tests anyway");
        return force ? 0 : -EBUSY;
    }
    for (int k = 0; k < n; k++) {
        for (int i = 0; st[i]; i++) {
            const char *vm = uniDomainGetName(st[i]->dom);
            bool hit = t[k].kind == UNI_OPP_MEMORY;
            for (int s = 0; !hit && s < uniRecordNumSamples(st[i]->record); s++) {
                char key[128];
                const uniSample *x = uniRecordGetSample(st[i]->record, s);
                if (uniRecordFormatKey(st[i]->record, s, key, sizeof(key)) < 0)
                    continue;
                if (x->type == UNI_VALUE_STRING && strstr(key, ".pinning"))
                    hit = overlaps(&t[k], x->value.s);
                else if (strstr(key, ".cpu") && !strstr(key, ".cpu.") && x->type != UNI_VALUE_STRING) {
                    char one[32];
                    snprintf(one, sizeof(one), "%lld",
                             (long long)(x->type == UNI_VALUE_U64 ? (double)x->value.u : x->value.d));
                    hit = overlaps(&t[k], one);
                }
            }
            if (hit) {
                fprintf(stderr, "uni-stresslog: %s: VM %s runs on it%s\n", t[k].domain, vm ? vm : "?",
                        force ? " (--force: testing anyway)" : "; --force tests it anyway");
                refused++;
                break;
            }
        }
    }
    uniDomainStatsRecordListFree(st);
    return refused && !force ? -EBUSY : 0;
}

/* ---- the dry run ---- */

int sl_max_steps(const sl_options *o, const sl_target *t) {
    int n = 0;
    for (long long v = t->kind == SL_KIND_CPUFREQ ? t->freqs[0] : t->nominal; v != LLONG_MIN && n < SL_MAX_STEPS;
         v = sl_next_value(o, t, v))
        n++;
    return n;
}

double sl_step_seconds(const sl_options *o, const sl_target *t) {
    return (t->kind == UNI_OPP_MEMORY ? o->memory_dwell_s : o->dwell_s) * o->repeats + o->settle_s;
}

void sl_print_plan(FILE *f, const sl_options *o, const sl_target *t, int n) {
    double total = 0;
    fprintf(f, "plan on %s (%s workload, %d repeats per step, corrected errors tolerated per step: %llu):\n", o->uri,
            o->workload, o->repeats, o->ce_threshold);
    for (int k = 0; k < n; k++) {
        int steps = sl_max_steps(o, &t[k]);
        double s = steps * sl_step_seconds(o, &t[k]);
        total += s;
        if (t[k].kind == SL_KIND_CPUFREQ)
            fprintf(f, "  %-6s frequency_mhz sweep %lld..%lld MHz: %d steps, at most %.0f s\n", t[k].domain,
                    t[k].freqs[0], t[k].freqs[t[k].nfreqs - 1], steps, s);
        else
            fprintf(f, "  %-6s %s from %lld toward %lld %s%s: at most %d steps, %.0f s\n", t[k].domain, t[k].param,
                    t[k].nominal, t[k].dir < 0 ? t[k].min : t[k].max, t[k].unit, "", steps, s);
        if (t[k].freq_mhz)
            fprintf(f, "         at %lld MHz\n", t[k].freq_mhz);
    }
    fprintf(f, "estimated time: at most %.0f s (%.1f min); a search ends at its first failure, usually much sooner\n",
            total, total / 60);
}
