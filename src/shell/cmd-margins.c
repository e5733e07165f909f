/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* unish margins: the safe margins uni-stresslog found, from the host record's host.margin.*
 * metrics (so it works the same on a local connection and through uniserverd). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shell.h"

typedef struct {
    const char *name; /* the search: DOMAIN:WORD[@FREQMHz] */
    const char *unit, *status, *run;
    long long nominal, safe, guard, measured, partial;
    bool has_nominal, has_safe, has_guard, has_measured;
} margin_row;

/* The field a host.margin.NAME.* key is ("voltage_safe_mv" -> safe, its unit mV). */
static void fill(margin_row *r, const char *field, const uniSample *s) {
    long long v = s->type == UNI_VALUE_U64      ? (long long)s->value.u
                  : s->type == UNI_VALUE_DOUBLE ? (long long)s->value.d
                                                : 0;
    static const struct {
        const char *prefix, *unit;
    } params[] = {{"voltage_", "mV"}, {"refresh_", "ms"}, {"freq_", "MHz"}};

    if (strcmp(field, "measured_timestamp_s") == 0) {
        r->measured = v;
        r->has_measured = true;
    } else if (strcmp(field, "run") == 0 && s->type == UNI_VALUE_STRING) {
        r->run = s->value.s;
    } else if (strcmp(field, "status") == 0 && s->type == UNI_VALUE_STRING) {
        r->status = s->value.s;
    } else if (strcmp(field, "partial") == 0) {
        r->partial = v;
    } else {
        for (size_t p = 0; p < sizeof(params) / sizeof(params[0]); p++) {
            size_t l = strlen(params[p].prefix);
            if (strncmp(field, params[p].prefix, l) != 0)
                continue;
            r->unit = params[p].unit;
            if (strncmp(field + l, "nominal_", 8) == 0) {
                r->nominal = v;
                r->has_nominal = true;
            } else if (strncmp(field + l, "safe_", 5) == 0) {
                r->safe = v;
                r->has_safe = true;
            } else if (strncmp(field + l, "guard_", 6) == 0) {
                r->guard = v;
                r->has_guard = true;
            }
        }
    }
}

static void print_value(bool have, long long v, const char *unit) {
    char buf[48];
    if (have)
        snprintf(buf, sizeof(buf), "%lld %s", v, unit ? unit : "");
    else
        snprintf(buf, sizeof(buf), "-");
    printf("  %-10s", buf);
}

int cmd_margins(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    const char *select[] = {"margins", "host.source.margins.", NULL};
    uniRecordPtr rec = NULL;
    margin_row *rows = NULL;
    int nrows = 0, rc = 0, n;
    const uniSample *state;

    if (argc > 1)
        return usage_error(cmd, "unexpected argument '%s'", argv[1]);
    if (ensure_conn(sh) < 0)
        return 1;
    if (uniNodeGetStats(sh->conn, select, &rec, UNI_NODE_STATS_BEST_EFFORT) < 0) {
        print_error(cmd->name);
        return 1;
    }
    if (sh->json || sh->exposition) {
        print_record(sh, rec);
        uniRecordFree(rec);
        return 0;
    }
    /* A margins file that is there and refused (malformed, a newer version) is a failure to say;
     * none at all is only the absence of margins. */
    state = uniRecordLookup(rec, "host.source.margins.state");
    if (state && state->type == UNI_VALUE_STRING && strcmp(state->value.s, "down") == 0) {
        const uniSample *e = uniRecordLookup(rec, "host.source.margins.last_error");
        fprintf(stderr, "unish: margins: %s\n", e && e->type == UNI_VALUE_STRING ? e->value.s : "the source is down");
        uniRecordFree(rec);
        return 1;
    }
    n = uniRecordNumSamples(rec);
    rows = calloc((size_t)n + 1, sizeof(*rows));
    if (!rows) {
        fprintf(stderr, "unish: margins: out of memory\n");
        uniRecordFree(rec);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        const uniSample *s = uniRecordGetSample(rec, i);
        const uniMetricDesc *d = uniRecordGetDescriptor(rec, s->metric);
        int k;
        if (!d || !s->name || strncmp(d->key, "host.margin.NAME.", 17) != 0)
            continue;
        for (k = 0; k < nrows && strcmp(rows[k].name, s->name) != 0; k++)
            ;
        if (k == nrows)
            rows[nrows++].name = s->name;
        fill(&rows[k], d->key + 17, s);
    }
    if (nrows == 0) {
        const char *why = uniRecordAbsentReason(rec, "host.margin.NAME.status");
        printf("no margins: %s\n", why ? why : "the record has none");
        uniRecordFree(rec);
        free(rows);
        return 0;
    }
    printf("%-24s  %-10s  %-10s  %-10s  %-20s  %-16s  %s\n", "search", "nominal", "safe", "guard band",
           "measured (UTC)", "status", "run");
    for (int k = 0; k < nrows; k++) {
        char when[32] = "-", status[40];
        if (rows[k].has_measured) {
            time_t t = (time_t)rows[k].measured;
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        }
        snprintf(status, sizeof(status), "%s%s", rows[k].status ? rows[k].status : "-",
                 rows[k].partial ? " (partial)" : "");
        printf("%-24s", rows[k].name);
        print_value(rows[k].has_nominal, rows[k].nominal, rows[k].unit);
        print_value(rows[k].has_safe, rows[k].safe, rows[k].unit);
        print_value(rows[k].has_guard, rows[k].guard, rows[k].unit);
        printf("  %-20s  %-16s  %s\n", when, status, rows[k].run ? rows[k].run : "-");
    }
    uniRecordFree(rec);
    free(rows);
    return rc;
}
