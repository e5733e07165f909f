/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* unish's host commands: nodestats, the views' commands (hostcpustats ...), hostgovernor, errors, metrics and uri. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "shell.h"

/* Parse the options stats commands share: --window MS and, for nodestats, --select LIST. */
static int stats_options(const cmd_def *cmd, int argc, char **argv, long *window, char **select, bool allow_select) {
    *window = cmd->default_window_ms;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--window") == 0 && i + 1 < argc) {
            int r = parse_window(cmd, argv[++i], window);
            if (r)
                return r;
        } else if (strncmp(argv[i], "--window=", 9) == 0) {
            int r = parse_window(cmd, argv[i] + 9, window);
            if (r)
                return r;
        } else if (allow_select && strcmp(argv[i], "--select") == 0 && i + 1 < argc)
            *select = argv[++i];
        else if (allow_select && strncmp(argv[i], "--select=", 9) == 0)
            *select = argv[i] + 9;
        else {
            static const char *const valued[] = {"--window", "--select", NULL};
            return arg_error(cmd, argc, argv, i, valued);
        }
    }
    return 0;
}

int cmd_nodestats(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    long window;
    char *select = NULL;
    const char *list[64];
    char *copy = NULL;
    uniRecordPtr rec = NULL;
    int r = stats_options(cmd, argc, argv, &window, &select, true);

    if (r)
        return r;
    if (select) {
        size_t n = 0;
        copy = strdup(select);
        for (char *tok = strtok(copy, ","); tok && n < 63; tok = strtok(NULL, ","))
            list[n++] = tok;
        list[n] = NULL;
        if (n == 0) {
            free(copy);
            return usage_error(cmd, "--select needs a comma-separated list of groups or key prefixes");
        }
    }
    if (ensure_conn(sh) < 0) {
        free(copy);
        return 1;
    }
    if (window > 0) {
        if (uniNodeGetStats(sh->conn, select ? list : NULL, &rec, 0) < 0)
            goto fail;
        uniRecordFree(rec);
        rec = NULL;
        sleep_ms(window);
    }
    if (uniNodeGetStats(sh->conn, select ? list : NULL, &rec, 0) < 0)
        goto fail;
    print_record(sh, rec);
    uniRecordFree(rec);
    free(copy);
    return 0;
fail:
    print_error(cmd->name);
    free(copy);
    return 1;
}

/* unish health's last lines (text only: --json and --prometheus keep the view's keys): the
 * components of the highest P(uncorrected error within 24 h), each with its risk class and the
 * predictor's reason, or why there are none (docs/predictor.md). */
#define RISKIEST 3
static int print_riskiest(shell *sh) {
    const char *list[] = {"host.component.", NULL};
    const uniSample *top[RISKIEST] = {NULL};
    uniRecordPtr rec = NULL;
    const char *why;

    if (uniNodeGetStats(sh->conn, list, &rec, 0) < 0)
        return -1;
    for (int i = 0; i < uniRecordNumSamples(rec); i++) {
        const uniSample *x = uniRecordGetSample(rec, i);
        const uniMetricDesc *d = uniRecordGetDescriptor(rec, x->metric);
        if (!d || strcmp(d->key, "host.component.C.p_ue_24h") != 0)
            continue;
        for (int k = 0; k < RISKIEST; k++)
            if (!top[k] || x->value.d > top[k]->value.d) {
                memmove(&top[k + 1], &top[k], (RISKIEST - 1 - k) * sizeof(top[0]));
                top[k] = x;
                break;
            }
    }
    printf("\nriskiest components (P(uncorrected error within 24 h), risk, why):\n");
    if (!top[0]) {
        why = uniRecordAbsentReason(rec, "host.component.C.p_ue_24h");
        printf("  none: %s\n", why ? why : "the host record has no components");
    }
    for (int k = 0; k < RISKIEST && top[k]; k++) {
        char key[160];
        const uniSample *risk, *reason;
        snprintf(key, sizeof(key), "host.component.%s.risk", top[k]->name);
        risk = uniRecordLookup(rec, key);
        snprintf(key, sizeof(key), "host.component.%s.risk_reason", top[k]->name);
        reason = uniRecordLookup(rec, key);
        printf("  %-12s %-9.3g %-9s %s\n", top[k]->name, top[k]->value.d, risk ? risk->value.s : "-",
               reason ? reason->value.s : "-");
    }
    uniRecordFree(rec);
    return 0;
}

static int show_view(shell *sh, const cmd_def *cmd, int view, long window) {
    uniRecordPtr rec = NULL;

    if (ensure_conn(sh) < 0)
        return 1;
    if (window > 0) {
        if (uniNodeGetView(sh->conn, view, &rec, 0) < 0)
            goto fail;
        uniRecordFree(rec);
        rec = NULL;
        sleep_ms(window);
    }
    if (uniNodeGetView(sh->conn, view, &rec, 0) < 0)
        goto fail;
    print_record(sh, rec);
    uniRecordFree(rec);
    if (view == find_view("getHostMetricsOfInterestUniserver") && !sh->json && !sh->exposition &&
        print_riskiest(sh) < 0)
        goto fail;
    return 0;
fail:
    print_error(cmd->name);
    return 1;
}

int cmd_view(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    long window;
    int r = stats_options(cmd, argc, argv, &window, NULL, false);
    if (r)
        return r;
    return show_view(sh, cmd, find_view(cmd->view), window);
}

int cmd_governor(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    char *g;
    if (argc > 1)
        return usage_error(cmd, "unexpected argument '%s'", argv[1]);
    if (ensure_conn(sh) < 0)
        return 1;
    g = uniNodeGetGovernor(sh->conn, 0);
    if (!g) {
        print_error(cmd->name);
        return 1;
    }
    if (sh->json) {
        printf("{\"host.cpu.governor\": ");
        fmt_json_string(stdout, g);
        printf("}\n");
    } else
        printf("%s\n", g);
    free(g);
    return 0;
}

int cmd_errors(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    long window = 0;
    int which = -1;
    /* The views whose command is "errors --OPTION" (views.def). */
    for (int i = 1; i < argc; i++) {
        int v = uniViewCount();
        while (--v >= 0) {
            const char *c = uniViewGet(v)->command;
            if (strncmp(c, "errors ", 7) == 0 && strcmp(c + 7, argv[i]) == 0)
                break;
        }
        if (v < 0)
            return usage_error(cmd, "unknown option or argument '%s'", argv[i]);
        which = v;
    }
    if (which < 0)
        return usage_error(cmd, "say which errors: --correctable or --uncorrectable");
    return show_view(sh, cmd, which, window);
}

int cmd_metrics(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    const uniMetricDesc *d;
    int n;
    if (argc > 1)
        return usage_error(cmd, "unexpected argument '%s'", argv[1]);
    if (ensure_conn(sh) < 0)
        return 1;
    n = uniConnectGetMetricDescriptors(sh->conn, &d, 0);
    if (n < 0) {
        print_error(cmd->name);
        return 1;
    }
    if (sh->json)
        fmt_descriptors_json(stdout, d, n);
    else
        fmt_descriptors_text(stdout, d, n);
    return 0;
}

int cmd_uri(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    if (argc > 1)
        return usage_error(cmd, "unexpected argument '%s'", argv[1]);
    if (ensure_conn(sh) < 0)
        return 1;
    if (sh->json) {
        printf("{\"uri\": ");
        fmt_json_string(stdout, uniConnectGetURI(sh->conn));
        printf("}\n");
    } else
        printf("%s\n", uniConnectGetURI(sh->conn));
    return 0;
}
