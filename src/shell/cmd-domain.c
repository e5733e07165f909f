/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* unish's domain commands: list and domstats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "shell.h"

/* "a,b,c" into a NULL-terminated list (pointers into @copy); -1 when empty. */
static int split_list(char *copy, const char **list, size_t max) {
    size_t n = 0;
    for (char *tok = strtok(copy, ","); tok && n + 1 < max; tok = strtok(NULL, ","))
        list[n++] = tok;
    list[n] = NULL;
    return n ? 0 : -1;
}

static const char *sample_text(uniRecordPtr rec, const char *key, char *buf, size_t len) {
    const uniSample *s = uniRecordLookup(rec, key);
    return s ? fmt_value(s, buf, len) : "-";
}

int cmd_list(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    static const char *const sel[] = {"dom.state", "dom.pid", "dom.uuid", "dom.source", NULL};
    unsigned flags = UNI_DOMAIN_STATS_ACTIVE;
    uniDomainStatsRecordPtr *st = NULL;
    int n;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--all") == 0)
            flags = 0;
        else if (strcmp(argv[i], "--inactive") == 0)
            flags = UNI_DOMAIN_STATS_INACTIVE;
        else
            return usage_error(cmd, "unknown option or argument '%s'", argv[i]);
    }
    if (ensure_conn(sh) < 0)
        return 1;
    n = uniConnectGetAllDomainStats(sh->conn, sel, &st, flags);
    if (n < 0) {
        print_error(cmd->name);
        return 1;
    }
    if (sh->json)
        printf("[");
    else
        printf(" %-8s %-24s %-36s %-10s %s\n%s\n", "Id", "Name", "UUID", "State", "Source",
               "------------------------------------------------------------------------------------------------");
    for (int i = 0; i < n; i++) {
        char a[64], b[64], c[64], d[64];
        const char *name = uniDomainGetName(st[i]->dom);
        uniRecordPtr r = st[i]->record;
        if (sh->json) {
            const uniSample *pid = uniRecordLookup(r, "dom.pid");
            printf("%s{\"name\": ", i ? ", " : "");
            fmt_json_string(stdout, name);
            printf(", \"uuid\": ");
            if (uniRecordLookup(r, "dom.uuid"))
                fmt_json_string(stdout, sample_text(r, "dom.uuid", a, sizeof(a)));
            else
                printf("null");
            printf(", \"pid\": ");
            if (pid)
                printf("%llu", (unsigned long long)pid->value.u);
            else
                printf("null");
            printf(", \"state\": ");
            fmt_json_string(stdout, sample_text(r, "dom.state", b, sizeof(b)));
            printf(", \"source\": ");
            fmt_json_string(stdout, sample_text(r, "dom.source", c, sizeof(c)));
            printf("}");
        } else
            printf(" %-8s %-24s %-36s %-10s %s\n", sample_text(r, "dom.pid", a, sizeof(a)), name,
                   sample_text(r, "dom.uuid", b, sizeof(b)), sample_text(r, "dom.state", c, sizeof(c)),
                   sample_text(r, "dom.source", d, sizeof(d)));
    }
    if (sh->json)
        printf("]\n");
    uniDomainStatsRecordListFree(st);
    return 0;
}

static void print_domain_records(shell *sh, uniDomainStatsRecordPtr *st, int n) {
    if (sh->json) {
        printf("{");
        for (int i = 0; i < n; i++) {
            printf("%s", i ? ",\n " : "");
            fmt_json_string(stdout, uniDomainGetName(st[i]->dom));
            printf(": ");
            fmt_record_json_object(stdout, st[i]->record);
        }
        printf("}\n");
        return;
    }
    for (int i = 0; i < n; i++) {
        long long w = uniRecordGetWindowMs(st[i]->record);
        printf("%sDomain: '%s'\n", i ? "\n" : "", uniDomainGetName(st[i]->dom));
        fmt_record_text_indent(stdout, st[i]->record, true, "  ");
        if (w >= 0)
            printf("  (rates over a %lld ms window)\n", w);
    }
}

int cmd_domstats(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    const char *name = NULL;
    char *select = NULL, *copy = NULL;
    const char *list[64];
    bool all = false, record = false;
    unsigned flags = 0;
    long window = 0;
    uniDomainPtr dom = NULL;
    uniDomainStatsRecordPtr *st = NULL;
    int n, rc = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--all") == 0)
            all = true;
        else if (strcmp(argv[i], "--record") == 0)
            record = true;
        else if (strcmp(argv[i], "--active") == 0)
            flags |= UNI_DOMAIN_STATS_ACTIVE;
        else if (strcmp(argv[i], "--inactive") == 0)
            flags |= UNI_DOMAIN_STATS_INACTIVE;
        else if (strcmp(argv[i], "--select") == 0 && i + 1 < argc)
            select = argv[++i];
        else if (strncmp(argv[i], "--select=", 9) == 0)
            select = argv[i] + 9;
        else if (strcmp(argv[i], "--window") == 0 && i + 1 < argc) {
            int r = parse_window(cmd, argv[++i], &window);
            if (r)
                return r;
        } else if (strncmp(argv[i], "--window=", 9) == 0) {
            int r = parse_window(cmd, argv[i] + 9, &window);
            if (r)
                return r;
        } else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else {
            static const char *const valued[] = {"--window", "--select", NULL};
            return arg_error(cmd, argc, argv, i, valued);
        }
    }
    if (all == !!name)
        return usage_error(cmd, "name one DOMAIN, or --all");
    if (!all && !record && (select || flags))
        return usage_error(cmd, "--select, --active and --inactive go with --all or --record");
    if (select && (!(copy = strdup(select)) || split_list(copy, list, 64) < 0)) {
        free(copy);
        return usage_error(cmd, "--select needs a comma-separated list of groups or key prefixes");
    }
    if (ensure_conn(sh) < 0)
        goto out;
    if (name && !(dom = lookup_domain(sh, name))) {
        print_error(cmd->name);
        goto out;
    }
    if (dom && !record) {
        /* The spec's getDomainStatisticsUniserver. */
        uniRecordPtr rec = NULL;
        if (window > 0) {
            if (uniDomainGetStatistics(dom, &rec, 0) < 0)
                goto fail;
            uniRecordFree(rec);
            rec = NULL;
            sleep_ms(window);
        }
        if (uniDomainGetStatistics(dom, &rec, 0) < 0)
            goto fail;
        print_record(sh, rec);
        uniRecordFree(rec);
        rc = 0;
        goto out;
    }
    for (int pass = window > 0 ? 0 : 1; pass < 2; pass++) {
        uniDomainPtr doms[2] = {dom, NULL};
        if (st)
            uniDomainStatsRecordListFree(st);
        st = NULL;
        if (pass == 1 && window > 0)
            sleep_ms(window);
        n = dom ? uniDomainListGetStats(doms, select ? list : NULL, &st, flags)
                : uniConnectGetAllDomainStats(sh->conn, select ? list : NULL, &st, flags);
        if (n < 0)
            goto fail;
    }
    if (dom && n == 0) {
        fprintf(stderr, "error: %s: domain '%s' is gone\n", cmd->name, name);
        goto out;
    }
    if (!dom && n == 0) {
        /* Nothing matched: an error, as a named domain that does not exist is (NO_DOMAIN). */
        fprintf(stderr, "error: %s: no %sdomain on %s (unish list --all shows them) (NO_DOMAIN)\n", cmd->name,
                flags & UNI_DOMAIN_STATS_ACTIVE     ? "active "
                : flags & UNI_DOMAIN_STATS_INACTIVE ? "inactive "
                                                    : "",
                uniConnectGetURI(sh->conn));
        goto out;
    }
    if (dom && !sh->json)
        print_record(sh, st[0]->record);
    else
        print_domain_records(sh, st, n);
    rc = 0;
    goto out;
fail:
    print_error(cmd->name);
out:
    uniDomainStatsRecordListFree(st);
    uniDomainFree(dom);
    free(copy);
    return rc;
}
