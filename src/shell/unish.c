/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* unish: the uniserver shell (virsh-like). One command per API call, described in one table;
 * --json on every command. Exit status: 0 success, 1 a failed call, 2 bad usage. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "uniserver/uniserver.h"

#define EXIT_USAGE 2

typedef struct {
    const char *uri;
    bool json, readonly;
    int exposition; /* 0 none, 1 Prometheus text, 2 OpenMetrics */
    uniConnectPtr conn;
} shell;

typedef struct cmd_def cmd_def;
struct cmd_def {
    const char *name;
    const char *args;    /* usage after the name */
    const char *summary; /* one line */
    const char *details; /* more, for help CMD */
    int (*run)(shell *sh, const cmd_def *cmd, int argc, char **argv);
    const char *view;         /* spec method name of the view this command shows, or NULL */
    long default_window_ms;   /* for stats commands */
};

static void print_error(const char *what) {
    const uniError *e = uniGetLastError();
    fprintf(stderr, "error: %s: %s (%s)\n", what, e && e->message ? e->message : "unknown error",
            uniErrorCodeName(e ? e->code : UNI_ERR_INTERNAL_ERROR));
}

__attribute__((format(printf, 2, 3))) static int usage_error(const cmd_def *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "error: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (cmd)
        fprintf(stderr, "\nusage: unish %s %s\n", cmd->name, cmd->args);
    else
        fprintf(stderr, "\nTry 'unish help'.\n");
    return EXIT_USAGE;
}

static int ensure_conn(shell *sh) {
    if (sh->conn)
        return 0;
    sh->conn = uniConnectOpen(sh->uri, sh->readonly ? UNI_CONNECT_RO : 0);
    if (!sh->conn) {
        print_error(sh->uri ? sh->uri : "failed to connect");
        return -1;
    }
    return 0;
}

static int parse_window(const cmd_def *cmd, const char *s, long *ret) {
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 0 || v > 3600000)
        return usage_error(cmd, "--window takes milliseconds from 0 to 3600000, not '%s'", s);
    *ret = v;
    return 0;
}

static void sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void print_record(shell *sh, uniRecordPtr rec) {
    if (sh->exposition) {
        char *text = NULL;
        size_t len = 0;
        if (uniRecordToPrometheus(rec, &text, &len, sh->exposition == 2 ? UNI_EXPOSITION_OPENMETRICS : 0) < 0) {
            print_error("exposition");
            return;
        }
        fwrite(text, 1, len, stdout);
        free(text);
        return;
    }
    if (sh->json)
        fmt_record_json(stdout, rec);
    else {
        long long w = uniRecordGetWindowMs(rec);
        fmt_record_text(stdout, rec, true);
        if (w >= 0)
            printf("(rates over a %lld ms window)\n", w);
    }
}

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
        else
            return usage_error(cmd, "unknown option or argument '%s'", argv[i]);
    }
    return 0;
}

static int cmd_nodestats(shell *sh, const cmd_def *cmd, int argc, char **argv) {
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

static int find_view(const char *spec_name) {
    for (int i = 0; i < uniViewCount(); i++)
        if (strcmp(uniViewGet(i)->spec_name, spec_name) == 0)
            return i;
    return -1;
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
    return 0;
fail:
    print_error(cmd->name);
    return 1;
}

static int cmd_view(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    long window;
    int r = stats_options(cmd, argc, argv, &window, NULL, false);
    if (r)
        return r;
    return show_view(sh, cmd, find_view(cmd->view), window);
}

static int cmd_governor(shell *sh, const cmd_def *cmd, int argc, char **argv) {
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

static int cmd_errors(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    long window = 0;
    int which = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--correctable") == 0)
            which = find_view("getCorrectableErrorsUniserver");
        else if (strcmp(argv[i], "--uncorrectable") == 0)
            which = find_view("getUncorrectableErrorsUniserver");
        else
            return usage_error(cmd, "unknown option or argument '%s'", argv[i]);
    }
    if (which < 0)
        return usage_error(cmd, "say which errors: --correctable or --uncorrectable");
    return show_view(sh, cmd, which, window);
}

static int cmd_metrics(shell *sh, const cmd_def *cmd, int argc, char **argv) {
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

static int cmd_uri(shell *sh, const cmd_def *cmd, int argc, char **argv) {
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

/* ---- control ---- */

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

static int cmd_setfrequency(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    const char *core_s = NULL, *freq = NULL;
    int core = 0, cores[1024], n;

    for (int i = 1; i < argc; i++)
        if (!opt_value(argc, argv, &i, "--core", &core_s) && !opt_value(argc, argv, &i, "--frequency", &freq))
            return usage_error(cmd, "unknown option or argument '%s'", argv[i]);
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
static int cmd_setpolicy(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    const char *core_s = NULL, *value = NULL, *what = strcmp(cmd->name, "setgovernor") == 0 ? "governor" : "power_policy";
    int core = -1, n;

    for (int i = 1; i < argc; i++) {
        if (opt_value(argc, argv, &i, "--core", &core_s))
            continue;
        if (argv[i][0] == '-' || value)
            return usage_error(cmd, "unknown option or argument '%s'", argv[i]);
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

static int cmd_oppoints(shell *sh, const cmd_def *cmd, int argc, char **argv) {
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

static int cmd_setoppoint(shell *sh, const cmd_def *cmd, int argc, char **argv) {
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

static int cmd_help(shell *sh, const cmd_def *cmd, int argc, char **argv);

static const cmd_def commands[] = {
    {"nodestats", "[--window MS] [--select GROUP|PREFIX,...]", "the whole host record (uniNodeGetStats)",
     "Prints every host metric this host can provide, and for each one it cannot, the reason.\n"
     "--window MS takes two samples MS apart and prints the second, with rates over the window\n"
     "(default 0: one sample, no rates). --select limits collection to groups (cpu, freq, mem,\n"
     "contention, temp, power, psi, errors, vms, memhw) or key prefixes (host.mem., host.cpu.3.).",
     cmd_nodestats, NULL, 0},
    {"hostcpustats", "[--window MS]", "CPU count, reserved capacity, per-core frequency (getHostCPUStatisticsUniserver)",
     NULL, cmd_view, "getHostCPUStatisticsUniserver", 0},
    {"hostmemstats", "[--window MS]", "memory total, available, speed, cached, swap (getHostMemoryStatisticsUniserver)",
     NULL, cmd_view, "getHostMemoryStatisticsUniserver", 0},
    {"hostsysstats", "[--window MS]", "utilisation, iowait, idle, system time, per core (getHostSystemStatisticsUniserver)",
     "Percentages are over a window: --window MS (default 1000).", cmd_view, "getHostSystemStatisticsUniserver", 1000},
    {"hostcontention", "[--window MS]", "memory and CPU contention (getHostContentionStatistics)",
     "The CPU contention share is over a window: --window MS (default 1000).", cmd_view,
     "getHostContentionStatistics", 1000},
    {"hostgovernor", "", "the governor of the system (getHostGovernor)",
     "One governor name, or 'mixed' when cores differ (nodestats --select freq shows each core).",
     cmd_governor, NULL, 0},
    {"hostpower", "[--window MS]", "CPU and memory power in W (getHostPowerConsumptionUniserver)",
     "RAPL power is an energy difference over a window: --window MS (default 1000).", cmd_view,
     "getHostPowerConsumptionUniserver", 1000},
    {"hosttemp", "[--window MS]", "average CPU and per-core temperature (getHostTemperatureUniserver)", NULL,
     cmd_view, "getHostTemperatureUniserver", 0},
    {"domsstats", "[--window MS]", "number of VMs, active VMs, their memory and swap wait (getDomainsStatisticsUniserver)",
     NULL, cmd_view, "getDomainsStatisticsUniserver", 0},
    {"errors", "--correctable|--uncorrectable", "L2, L3, DRAM, MCU error counts and rates (get[Un]CorrectableErrorsUniserver)",
     NULL, cmd_errors, NULL, 0},
    {"nodesetfrequency", "--core N --frequency F", "set the frequency of a core's clock domain (nodeSetFrequency)",
     "F is kHz (2400000) or a number with a unit Hz, kHz, MHz or GHz (2400MHz, 2.4GHz). Every core\n"
     "of N's clock domain (its cpufreq policy; an X-Gene2 PMD) moves: they are printed. Uses the\n"
     "userspace governor and scaling_setspeed where the domain has them, else pins scaling_min_freq\n"
     "and scaling_max_freq. A failed change is undone. Needs a read-write connection.",
     cmd_setfrequency, NULL, 0},
    {"setgovernor", "[--core N] GOVERNOR", "set the cpufreq governor of a core's clock domain, or of all (uniNodeSetGovernor)",
     "Without --core every online core. GOVERNOR must be in scaling_available_governors.", cmd_setpolicy, NULL, 0},
    {"setpowerpolicy", "[--core N] POLICY", "set the power policy: power, balanced or performance (uniNodeSetPowerPolicy)",
     "Writes energy_performance_preference where cpufreq has one (a raw EPP name is accepted too);\n"
     "elsewhere sets the governor the policy reads from (power: powersave, performance: performance,\n"
     "balanced: schedutil, ondemand or conservative). Without --core every online core.",
     cmd_setpolicy, NULL, 0},
    {"oppoints", "", "operating-point domains (PMD voltage/frequency, memory channel refresh/voltage) and limits",
     "uniNodeGetOperatingPoints. On generic Linux there are none beyond cpufreq (NO_SUPPORT); the\n"
     "test driver and uni-simboard's trees have them.", cmd_oppoints, NULL, 0},
    {"setoppoint", "DOMAIN PARAM=VALUE...", "set a domain's operating point (uniNodeSetOperatingPoint)",
     "Example: setoppoint pmd2 voltage_mv=930 frequency_mhz=1800; setoppoint mc1 refresh_ms=512.\n"
     "Values are integers in the parameter's unit (oppoints lists them with their limits). The\n"
     "parameters are set as one change: a voltage rise before a frequency rise, a frequency drop\n"
     "before a voltage drop; a failure undoes it.", cmd_setoppoint, NULL, 0},
    {"metrics", "", "the metric catalogue: key, kind, unit, group, help", NULL, cmd_metrics, NULL, 0},
    {"uri", "", "the connection's URI", NULL, cmd_uri, NULL, 0},
    {"help", "[COMMAND]", "list the commands, or describe one", NULL, cmd_help, NULL, 0},
};

static const cmd_def *find_cmd(const char *name) {
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void print_usage(FILE *f) {
    fprintf(f,
            "usage: unish [-c URI] [--json] [-r] COMMAND [ARGS] [\\; COMMAND [ARGS] ...]\n"
            "\n"
            "The uniserver shell: host health and load, as the spec's views and as whole records.\n"
            "\n"
            "options:\n"
            "  -c, --connect URI  connection URI (default $UNISERVER_DEFAULT_URI, else uniserver:///system):\n"
            "                     uniserver:///system            this host's /proc and /sys\n"
            "                     uniserver:///system?procfs=DIR&sysfs=DIR   other trees (fixtures)\n"
            "                     test:///default                a simulated X-Gene2-like node\n"
            "  --json             print one JSON object keyed by the dotted metric keys\n"
            "  --prometheus, --openmetrics   print records as uniserverd's /metrics does (e.g. for\n"
            "                     node_exporter's textfile collector)\n"
            "  -r, --readonly     open the connection read-only\n"
            "  -h, --help         this help;  -V, --version  the version\n"
            "Commands separated by a ';' argument run in turn on one connection, up to the first failure.\n"
            "\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-17s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'unish help COMMAND' describes a command; man unish has the rest.\n");
}

static int cmd_help(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    const cmd_def *c;
    (void)sh;
    if (argc == 1) {
        print_usage(stdout);
        return 0;
    }
    if (argc > 2)
        return usage_error(cmd, "unexpected argument '%s'", argv[2]);
    c = find_cmd(argv[1]);
    if (!c)
        return usage_error(NULL, "unknown command '%s'", argv[1]);
    printf("usage: unish %s %s\n\n%s\n", c->name, c->args, c->summary);
    if (c->details)
        printf("\n%s\n", c->details);
    if (c->view) {
        int v = find_view(c->view);
        const uniViewDesc *vd = uniViewGet(v);
        printf("\nThe spec's %s, C call %s: %s.\n", vd->spec_name, vd->c_name, vd->summary);
    }
    return 0;
}

int main(int argc, char **argv) {
    shell sh = {0};
    const cmd_def *cmd;
    int i, r;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-c") == 0 || strcmp(a, "--connect") == 0) && i + 1 < argc)
            sh.uri = argv[++i];
        else if (strncmp(a, "--connect=", 10) == 0)
            sh.uri = a + 10;
        else if (strcmp(a, "--json") == 0)
            sh.json = true;
        else if (strcmp(a, "--prometheus") == 0)
            sh.exposition = 1;
        else if (strcmp(a, "--openmetrics") == 0)
            sh.exposition = 2;
        else if (strcmp(a, "-r") == 0 || strcmp(a, "--readonly") == 0)
            sh.readonly = true;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            print_usage(stdout);
            return 0;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("unish (uniserver) %d.%d.%d\n", UNI_VERSION_MAJOR, UNI_VERSION_MINOR, UNI_VERSION_MICRO);
            return 0;
        } else if (a[0] == '-')
            return usage_error(NULL, "unknown option '%s'", a);
        else
            break;
    }
    if (i >= argc) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    /* Commands separated by a ';' argument run in turn on one connection (as virsh does), so
     * that a change and its effect can be shown on the test driver's per-connection board. The
     * first failure stops the sequence; every command is checked for usage first. */
    if (strcmp(argv[argc - 1], ";") == 0)
        return usage_error(NULL, "a ';' with no command after it");
    for (int k = i; k < argc;) {
        int e = k, c = k;
        while (e < argc && strcmp(argv[e], ";") != 0)
            e++;
        while (c < e && strcmp(argv[c], "--json") == 0)
            c++;
        if (c == e)
            return usage_error(NULL, "a ';' with no command after or before it");
        if (!find_cmd(argv[c]))
            return usage_error(NULL, "unknown command '%s'", argv[c]);
        k = e + 1;
    }
    r = 0;
    while (i < argc && r == 0) {
        int e = i, w;
        bool json = sh.json;
        while (e < argc && strcmp(argv[e], ";") != 0)
            e++;
        /* --json may also come before or after the command, as virsh allows options anywhere. */
        while (strcmp(argv[i], "--json") == 0) {
            sh.json = true;
            i++;
        }
        cmd = find_cmd(argv[i]);
        w = i + 1;
        for (int k = i + 1; k < e; k++) {
            if (strcmp(argv[k], "--json") == 0)
                sh.json = true;
            else
                argv[w++] = argv[k];
        }
        r = cmd->run(&sh, cmd, w - i, argv + i);
        sh.json = json;
        i = e + 1;
    }
    if (fflush(stdout) != 0 && r == 0) {
        fprintf(stderr, "error: writing output: %s\n", strerror(errno));
        r = 1;
    }
    uniConnectClose(sh.conn);
    return r;
}
