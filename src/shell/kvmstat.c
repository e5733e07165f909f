/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* unish kvmstat: kvm_stat's view, the KVM statistics' counts and rates per second, host-wide or per VM. */
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "format.h"
#include "shell.h"

typedef struct {
    char *name;
    uint64_t total, prev;
    bool have_prev;
    const char *spec; /* Table 2's name, when it differs */
} kv_field;

typedef struct {
    kv_field *f;
    size_t n;
} kv_set;

static kv_field *kv_get(kv_set *s, const char *name) {
    kv_field *nf;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->f[i].name, name) == 0)
            return &s->f[i];
    nf = realloc(s->f, (s->n + 1) * sizeof(*nf));
    if (!nf)
        return NULL;
    s->f = nf;
    nf = &s->f[s->n];
    memset(nf, 0, sizeof(*nf));
    if (!(nf->name = strdup(name)))
        return NULL;
    s->n++;
    return nf;
}

#include "catalog/views.def"
static const char *const table2[][2] = {
#define K_(spec, kernel) {spec, kernel},
    UNI_KVM_TABLE2(K_)
#undef K_
};

/* One sample of the counters: the VM's dom.kvm.NAME (--guest), else the host's kvm.NAME. The
 * record's window (ms since the previous sample, -1 for none) goes to *ret_window_ms. */
static int kv_sample(shell *sh, uniDomainPtr dom, kv_set *set, const regex_t *re, bool only_table2,
                     long long *ret_window_ms) {
    uniRecordPtr rec = NULL;
    uniDomainStatsRecordPtr *st = NULL;
    int n;

    if (dom) {
        static const char *const sel[] = {"dom.kvm.", NULL};
        uniDomainPtr doms[2] = {dom, NULL};
        n = uniDomainListGetStats(doms, sel, &st, 0);
        if (n < 0)
            return -1;
        if (n == 0) {
            fprintf(stderr, "error: kvmstat: domain '%s' is gone\n", uniDomainGetName(dom));
            uniDomainStatsRecordListFree(st);
            return -2;
        }
        rec = st[0]->record;
    } else {
        static const char *const sel[] = {"kvm.", NULL};
        if (uniNodeGetStats(sh->conn, sel, &rec, 0) < 0)
            return -1;
    }
    *ret_window_ms = uniRecordGetWindowMs(rec);
    if (uniRecordNumSamples(rec) == 0 && uniRecordNumAbsent(rec) > 0)
        fprintf(stderr, "warning: kvmstat: no KVM statistics: %s\n", uniRecordGetAbsence(rec, 0)->reason);
    for (int i = 0; i < uniRecordNumSamples(rec); i++) {
        const uniSample *s = uniRecordGetSample(rec, i);
        kv_field *f;
        bool t2 = false;
        if (!s->name || s->type != UNI_VALUE_U64 || (re && regexec(re, s->name, 0, NULL, 0) != 0))
            continue;
        for (size_t k = 0; k < sizeof(table2) / sizeof(table2[0]) && !t2; k++)
            t2 = strcmp(table2[k][1], s->name) == 0;
        if (only_table2 && !t2)
            continue;
        if (!(f = kv_get(set, s->name)))
            break;
        f->prev = f->total;
        f->have_prev = f->total || f->have_prev;
        f->total = s->value.u;
    }
    if (dom)
        uniDomainStatsRecordListFree(st);
    else
        uniRecordFree(rec);
    return 0;
}

static int kv_cmp_name(const void *a, const void *b) {
    return strcmp(((const kv_field *)a)->name, ((const kv_field *)b)->name);
}

/* kv_sample, then the counters in name order (the columns of --log); -1 after printing the error. */
static int kv_sample_sorted(shell *sh, const cmd_def *cmd, uniDomainPtr dom, kv_set *set, const regex_t *re,
                            bool only_table2, long long *ret_window_ms) {
    int r = kv_sample(sh, dom, set, re, only_table2, ret_window_ms);
    if (r < 0) {
        if (r == -1)
            print_error(cmd->name);
        return -1;
    }
    if (set->n > 1)
        qsort(set->f, set->n, sizeof(*set->f), kv_cmp_name);
    return 0;
}

static uint64_t kv_delta(const kv_field *f) {
    return f->total >= f->prev ? f->total - f->prev : 0;
}

/* kvm_stat's order: the busiest first (rate, then total), then by name. */
static int kv_cmp_rate(const void *a, const void *b) {
    const kv_field *x = a, *y = b;
    if (kv_delta(x) != kv_delta(y))
        return kv_delta(x) > kv_delta(y) ? -1 : 1;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* A time in nanoseconds (halt_wait_ns ...) is not a count of events: not in %Total. */
static bool kv_is_time(const char *name) {
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, "_ns") == 0;
}

static void kv_print_table(shell *sh, kv_set *set, double win_s, bool first, bool table2_view) {
    uint64_t sum = 0;
    if (sh->json) {
        printf("{\"window_ms\": ");
        if (first)
            printf("null");
        else
            printf("%.0f", win_s * 1000);
        printf(", \"fields\": {");
        for (size_t i = 0; i < set->n; i++) {
            kv_field *f = &set->f[i];
            printf("%s", i ? ", " : "");
            fmt_json_string(stdout, f->name);
            printf(": {\"total\": %llu, \"rate\": ", (unsigned long long)f->total);
            if (first || f->total < f->prev)
                printf("null}");
            else
                printf("%.2f}", (double)(f->total - f->prev) / win_s);
        }
        printf("}}\n");
        return;
    }
    for (size_t i = 0; i < set->n; i++)
        if (!kv_is_time(set->f[i].name))
            sum += set->f[i].total;
    if (set->n > 1)
        qsort(set->f, set->n, sizeof(*set->f), kv_cmp_rate);
    printf(" %-36s %14s %7s %12s\n", table2_view ? "Event (Table 2 name)" : "Event", "Total", "%Total", "CurAvg/s");
    for (size_t i = 0; i < set->n; i++) {
        kv_field *f = &set->f[i];
        char label[64];
        if (!table2_view && f->total == 0)
            continue;
        if (table2_view) {
            const char *spec = f->name;
            for (size_t k = 0; k < sizeof(table2) / sizeof(table2[0]); k++)
                if (strcmp(table2[k][1], f->name) == 0)
                    spec = table2[k][0];
            snprintf(label, sizeof(label), strcmp(spec, f->name) ? "%s (%s)" : "%s", f->name, spec);
        } else
            snprintf(label, sizeof(label), "%s", f->name);
        if (kv_is_time(f->name) || !sum)
            printf(" %-36s %14llu %7s ", label, (unsigned long long)f->total, "-");
        else
            printf(" %-36s %14llu %6.1f%% ", label, (unsigned long long)f->total,
                   100.0 * (double)f->total / (double)sum);
        if (first || f->total < f->prev)
            printf("%12s\n", "-");
        else
            printf("%12.1f\n", (double)(f->total - f->prev) / win_s);
    }
    if (table2_view)
        for (size_t k = 0; k < sizeof(table2) / sizeof(table2[0]); k++) {
            bool seen = false;
            for (size_t i = 0; i < set->n && !seen; i++)
                seen = strcmp(set->f[i].name, table2[k][1]) == 0;
            if (!seen)
                printf(" %-36s %14s  (not a statistic of this kernel)\n", table2[k][0], "-");
        }
}

int cmd_kvmstat(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    bool once = false, log = false, table2_view = false;
    const char *guest = NULL, *fields = NULL;
    long interval = 1000, count = 0;
    regex_t re;
    bool have_re = false;
    kv_set set = {0};
    uniDomainPtr dom = NULL;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = 0;
        if (strcmp(a, "--once") == 0 || strcmp(a, "-1") == 0)
            once = true;
        else if (strcmp(a, "--log") == 0 || strcmp(a, "-l") == 0)
            log = true;
        else if (strcmp(a, "--table2") == 0)
            table2_view = true;
        else if ((strcmp(a, "--guest") == 0 || strcmp(a, "-g") == 0) && i + 1 < argc)
            guest = argv[++i];
        else if ((strcmp(a, "--fields") == 0 || strcmp(a, "-f") == 0) && i + 1 < argc)
            fields = argv[++i];
        else if ((strcmp(a, "--interval") == 0 || strcmp(a, "-d") == 0) && i + 1 < argc)
            r = parse_count(cmd, "--interval", argv[++i], 1, 3600000, &interval);
        else if ((strcmp(a, "--count") == 0 || strcmp(a, "-c") == 0) && i + 1 < argc)
            r = parse_count(cmd, "--count", argv[++i], 1, 1000000000, &count);
        else {
            static const char *const valued[] = {"--guest", "-g",      "--fields", "-f", "--interval",
                                                 "-d",      "--count", "-c",       NULL};
            return arg_error(cmd, argc, argv, i, valued);
        }
        if (r)
            return r;
    }
    if (once && log)
        return usage_error(cmd, "--once and --log exclude each other");
    if (fields) {
        int e = regcomp(&re, fields, REG_EXTENDED | REG_NOSUB);
        if (e) {
            char msg[128];
            regerror(e, &re, msg, sizeof(msg));
            return usage_error(cmd, "--fields '%s': %s", fields, msg);
        }
        have_re = true;
    }
    if (ensure_conn(sh) < 0)
        goto out;
    if (guest && !(dom = lookup_domain(sh, guest))) {
        print_error(cmd->name);
        goto out;
    }
    {
        long long w;
        if (kv_sample_sorted(sh, cmd, dom, &set, have_re ? &re : NULL, table2_view, &w) < 0)
            goto out;
    }
    if (log && !sh->json) {
        printf("time");
        for (size_t i = 0; i < set.n; i++)
            printf(",%s", set.f[i].name);
        printf("\n");
        fflush(stdout);
    }
    for (long it = 0; !count || it < count || (once && it < 1); it++) {
        uint64_t t0 = mono_ms();
        long long w;
        sleep_ms(interval);
        if (kv_sample_sorted(sh, cmd, dom, &set, have_re ? &re : NULL, table2_view, &w) < 0)
            goto out;
        {
            /* Rates over the record's own window (the driver's clock), else the time slept. */
            double win_s = w > 0 ? (double)w / 1000.0 : (double)(mono_ms() - t0) / 1000.0;
            if (log && !sh->json) {
                /* kvm_stat's log mode: the events of each interval, one CSV line. */
                time_t now = time(NULL);
                char ts[32];
                strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", localtime(&now));
                printf("%s", ts);
                for (size_t i = 0; i < set.n; i++)
                    printf(",%llu",
                           (unsigned long long)(set.f[i].total >= set.f[i].prev ? set.f[i].total - set.f[i].prev : 0));
                printf("\n");
            } else {
                if (!once && !log && !sh->json && isatty(STDOUT_FILENO))
                    printf("\033[H\033[2J");
                if (!sh->json)
                    printf("kvm statistics - %s%s (%.1f s)\n\n", dom ? "VM " : "summary",
                           dom ? uniDomainGetName(dom) : "", win_s);
                kv_print_table(sh, &set, win_s, false, table2_view);
            }
            fflush(stdout);
        }
        if (once)
            break;
    }
    rc = 0;
out:
    for (size_t i = 0; i < set.n; i++)
        free(set.f[i].name);
    free(set.f);
    if (have_re)
        regfree(&re);
    uniDomainFree(dom);
    return rc;
}
