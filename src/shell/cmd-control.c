/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* unish's control commands: nodesetfrequency, setgovernor, setpowerpolicy, oppoints and setoppoint. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "shell.h"

/* "--name VALUE" or "--name=VALUE" at argv[*i]: sets *ret and advances *i. */
static bool opt_value(int argc, char **argv, int *i, const char *name, const char **ret) {
    size_t n = strlen(name);
    if (strcmp(argv[*i], name) == 0 && *i + 1 < argc) {
        *ret = argv[++*i];
        return true;
    }
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=') {
        *ret = argv[*i] + n + 1;
        return true;
    }
    return false;
}

/* A core number as typed (the API judges its range: -1 or a negative number is its to refuse). */
static int parse_core(const cmd_def *cmd, const char *s, int *ret) {
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < INT32_MIN || v > INT32_MAX)
        return usage_error(cmd, "--core takes a core number, not '%s'", s);
    *ret = (int)v;
    return 0;
}

/* The options of the control commands that take a value. */
static const char *const control_valued[] = {"--core", "--frequency", "--governor", "--policy", "--domain", NULL};

int cmd_setfrequency(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    const char *core_s = NULL, *freq = NULL;
    int core = 0, cores[1024], n;

    for (int i = 1; i < argc; i++)
        if (!opt_value(argc, argv, &i, "--core", &core_s) && !opt_value(argc, argv, &i, "--frequency", &freq))
            return arg_error(cmd, argc, argv, i, control_valued);
    if (!core_s || !freq)
        return usage_error(cmd, "both --core and --frequency are needed");
    if (parse_core(cmd, core_s, &core))
        return EXIT_USAGE;
    if (ensure_conn(sh) < 0)
        return 1;
    n = uniNodeSetFrequencyEx(sh->conn, core, freq, cores, 1024, 0);
    if (n < 0) {
        print_error(cmd->name);
        return 1;
    }
    if (sh->json) {
        printf("{\"core\": %d, \"frequency\": ", core);
        fmt_json_string(stdout, freq);
        printf(", \"count\": %d, \"cores\": [", n);
        for (int i = 0; i < n && i < 1024; i++)
            printf("%s%d", i ? ", " : "", cores[i]);
        printf("]}\n");
    } else {
        printf("%d core%s now at %s:", n, n == 1 ? "" : "s", freq);
        for (int i = 0; i < n && i < 1024; i++)
            printf(" %d", cores[i]);
        printf("\n");
    }
    return 0;
}

/* setgovernor and setpowerpolicy: [--core N] VALUE. */
int cmd_setpolicy(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    const char *core_s = NULL, *value = NULL,
               *what = strcmp(cmd->name, "setgovernor") == 0 ? "governor" : "power_policy";
    int core = -1, n;

    for (int i = 1; i < argc; i++) {
        if (opt_value(argc, argv, &i, "--core", &core_s))
            continue;
        if (argv[i][0] == '-' || value)
            return arg_error(cmd, argc, argv, i, control_valued);
        value = argv[i];
    }
    if (!value)
        return usage_error(cmd, "say which %s", what);
    if (core_s && parse_core(cmd, core_s, &core))
        return EXIT_USAGE;
    if (ensure_conn(sh) < 0)
        return 1;
    n = what[0] == 'g' ? uniNodeSetGovernor(sh->conn, core, value, 0) : uniNodeSetPowerPolicy(sh->conn, core, value, 0);
    if (n < 0) {
        print_error(cmd->name);
        return 1;
    }
    if (sh->json) {
        printf("{\"core\": %d, \"%s\": ", core, what);
        fmt_json_string(stdout, value);
        printf(", \"count\": %d}\n", n);
    } else
        printf("%s %s on %d core%s\n", what, value, n, n == 1 ? "" : "s");
    return 0;
}

int cmd_oppoints(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    uniOppListPtr l = NULL;
    if (argc > 1)
        return usage_error(cmd, "unexpected argument '%s'", argv[1]);
    if (ensure_conn(sh) < 0)
        return 1;
    if (uniNodeGetOperatingPoints(sh->conn, &l, 0) < 0) {
        print_error(cmd->name);
        return 1;
    }
    if (sh->json)
        fmt_opp_json(stdout, l);
    else
        fmt_opp_text(stdout, l);
    uniOppListFree(l);
    return 0;
}

int cmd_setoppoint(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    uniOppSetting set[16];
    char names[16][64];
    int n = 0;

    if (argc < 3)
        return usage_error(cmd, "name a domain and at least one PARAM=VALUE");
    for (int i = 2; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        char *end;
        long long v;
        if (!eq || eq == argv[i] || (size_t)(eq - argv[i]) >= sizeof(names[0]) || n == 16)
            return usage_error(cmd, "'%s' is not PARAM=VALUE", argv[i]);
        errno = 0;
        v = strtoll(eq + 1, &end, 10);
        if (errno || *end || end == eq + 1)
            return usage_error(cmd, "'%s': the value must be an integer in the parameter's unit", argv[i]);
        snprintf(names[n], sizeof(names[n]), "%.*s", (int)(eq - argv[i]), argv[i]);
        set[n].name = names[n];
        set[n].value = v;
        n++;
    }
    if (ensure_conn(sh) < 0)
        return 1;
    if (uniNodeSetOperatingPoint(sh->conn, argv[1], set, n, 0) < 0) {
        print_error(cmd->name);
        return 1;
    }
    if (sh->json) {
        printf("{\"domain\": ");
        fmt_json_string(stdout, argv[1]);
        printf(", \"set\": {");
        for (int i = 0; i < n; i++) {
            printf("%s", i ? ", " : "");
            fmt_json_string(stdout, set[i].name);
            printf(": %lld", set[i].value);
        }
        printf("}}\n");
    } else {
        printf("%s:", argv[1]);
        for (int i = 0; i < n; i++)
            printf(" %s=%lld", set[i].name, set[i].value);
        printf("\n");
    }
    return 0;
}
