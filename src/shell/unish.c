/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* unish: the uniserver shell (virsh-like). One command per API call, described in one table;
 * --json on every command. Exit status: 0 success, 1 a failed call, 2 bad usage. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
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

/* "s", "m", "h", "d" after a number: its unit in ms; 0 for anything else. */
static long long streq_unit(const char *u) {
    return strcmp(u, "s") == 0 ? 1000LL : strcmp(u, "m") == 0 ? 60000LL : strcmp(u, "h") == 0 ? 3600000LL : strcmp(u, "d") == 0 ? 86400000LL : 0;
}

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

/* --since: ms since the Epoch, a time ago ("90s", "30m", "2h", "7d", with or without a leading
 * '-'), or a UTC date ("2026-11-25", "2026-11-25T10:00", "2026-11-25T10:00:30Z"). */
static int parse_since(const char *s, long long *ret) {
    char *end;
    long long v;
    struct tm tm;
    const char *p = *s == '-' ? s + 1 : s;

    errno = 0;
    v = strtoll(p, &end, 10);
    if (!errno && end != p && v >= 0) {
        long long unit = *end == 0 && *s != '-' ? 0 : streq_unit(end);
        if (unit == 0 && *end == 0 && *s != '-') {
            *ret = v; /* ms since the Epoch */
            return 0;
        }
        if (unit > 0 && v <= LLONG_MAX / unit) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            *ret = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - v * unit;
            if (*ret < 0)
                *ret = 0;
            return 0;
        }
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%d", &tm);
    if (end && *end == 'T')
        end = strptime(end + 1, "%H:%M", &tm);
    if (end && *end == ':')
        end = strptime(end + 1, "%S", &tm);
    if (end && *end == 'Z')
        end++;
    if (!end || *end)
        return -1;
    *ret = (long long)timegm(&tm) * 1000;
    return 0;
}

static void print_events(shell *sh, uniRecordPtr *ev, int n) {
    if (sh->json)
        fmt_events_json(stdout, ev, n);
    else
        fmt_events_text(stdout, ev, n);
}

/* Events of the one DIMM or core asked for, from @since on; -1 after printing the error. */
static int query_events(shell *sh, const char *dimm, int core, bool cpu, long long since, unsigned flags, uniRecordPtr **ret) {
    int n = cpu ? uniHealthLogQueryCPU(sh->conn, core, since, ret, flags)
                : uniHealthLogQueryMemory(sh->conn, dimm, since, ret, flags);
    if (n < 0)
        print_error("healthlog");
    return n;
}

static long long event_num(uniRecordPtr r, const char *key) {
    const uniSample *s = uniRecordLookup(r, key);
    return s && s->type == UNI_VALUE_U64 ? (long long)s->value.u : -1;
}

static int cmd_healthlog(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    const char *dimm = NULL;
    long long since = 0, core = -1;
    bool cpu = false, mem = false, summary = false, follow = false;
    unsigned flags = 0;
    uniRecordPtr *ev = NULL;
    int n;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--dimm") == 0 && i + 1 < argc)
            dimm = argv[++i], mem = true;
        else if (strcmp(a, "--core") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            core = strtoll(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || core < 0 || core > 65535)
                return usage_error(cmd, "--core takes a CPU number, not '%s'", argv[i]);
            cpu = true;
        } else if (strcmp(a, "--memory") == 0)
            mem = true;
        else if (strcmp(a, "--cpu") == 0)
            cpu = true;
        else if (strcmp(a, "--summary") == 0)
            summary = true;
        else if (strcmp(a, "--since") == 0 && i + 1 < argc) {
            if (parse_since(argv[++i], &since) < 0)
                return usage_error(cmd, "--since takes ms since the Epoch, a time ago (30m, 2h, 7d) or a UTC date (2026-11-25T10:00), not '%s'",
                                   argv[i]);
        } else if (strcmp(a, "--corrected") == 0)
            flags |= UNI_HEALTHLOG_CORRECTED;
        else if (strcmp(a, "--uncorrected") == 0)
            flags |= UNI_HEALTHLOG_UNCORRECTED;
        else if (strcmp(a, "--actions") == 0)
            flags |= UNI_HEALTHLOG_ACTIONS;
        else if (strcmp(a, "--follow") == 0)
            follow = true;
        else
            return usage_error(cmd, "unknown option or argument '%s'", a);
    }
    if ((int)cpu + (int)mem + (int)summary != 1)
        return usage_error(cmd, "say which events: --dimm LABEL, --core N, --memory, --cpu or --summary");
    if (ensure_conn(sh) < 0)
        return 1;
    if (summary) {
        static const char *const sel[] = {"host.errors.dimm.", "host.errors.core.", NULL};
        uniRecordPtr rec = NULL;
        if (uniNodeGetStats(sh->conn, sel, &rec, 0) < 0) {
            print_error(cmd->name);
            return 1;
        }
        if (sh->json)
            fmt_error_summary_json(stdout, rec);
        else
            fmt_error_summary_text(stdout, rec);
        uniRecordFree(rec);
        return 0;
    }
    if ((n = query_events(sh, dimm, (int)core, cpu, since, flags, &ev)) < 0)
        return 1;
    print_events(sh, ev, n);
    if (follow) {
        /* Then what comes: woken by uni-healthd's commits, not by polling the HealthLog. */
        long long last_id = -1;
        for (int i = 0; i < n; i++)
            if (event_num(ev[i], "event.id") > last_id)
                last_id = event_num(ev[i], "event.id");
        uniRecordListFree(ev);
        ev = NULL;
        /* New events carry times near now (the boot-time or while-stopped ones excepted, which
         * an hour covers): later queries need not read the whole past again. */
        {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            if (since < (long long)ts.tv_sec * 1000 - 3600000)
                since = (long long)ts.tv_sec * 1000 - 3600000;
        }
        for (;;) {
            int k = 0;
            fflush(stdout);
            if (uniHealthLogWait(sh->conn, -1, 0) < 0) {
                print_error(cmd->name);
                return 1;
            }
            if ((n = query_events(sh, dimm, (int)core, cpu, since, flags, &ev)) < 0)
                return 1;
            /* Only the events not printed yet (ids grow with every commit). */
            for (int i = 0; i < n; i++)
                if (event_num(ev[i], "event.id") > last_id)
                    ev[k++] = ev[i];
                else
                    uniRecordFree(ev[i]);
            ev[k] = NULL;
            print_events(sh, ev, k);
            for (int i = 0; i < k; i++)
                if (event_num(ev[i], "event.id") > last_id)
                    last_id = event_num(ev[i], "event.id");
            uniRecordListFree(ev);
            ev = NULL;
        }
    }
    uniRecordListFree(ev);
    return 0;
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
    {"healthlog", "--dimm LABEL | --core N | --memory | --cpu | --summary [--since TIME] [--corrected|--uncorrected] [--actions] [--follow]",
     "hardware events of a DIMM or core from uni-healthd's HealthLog (uniHealthLogQueryMemory/CPU)",
     "--dimm LABEL: the memory events of one DIMM (labels as in host.errors.dimm.LABEL.*); --core N: the\n"
     "CPU events a core reported; --memory, --cpu: all of them; --summary: corrected and uncorrected\n"
     "counts per DIMM and per core (like ras-mc-ctl --summary). --since TIME: ms since the Epoch, a time\n"
     "ago (90s, 30m, 2h, 7d) or a UTC date (2026-11-25, 2026-11-25T10:00:30Z). --actions adds the\n"
     "first-level actions taken (soft-offlined pages, degraded cores). --follow keeps printing new\n"
     "events as uni-healthd commits them (this host only). Each event shows the VMs it may have\n"
     "touched. The HealthLog is ?healthlog=PATH of the URI (default /var/lib/uniserver/healthlog.db).",
     cmd_healthlog, NULL, 0},
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
            "usage: unish [-c URI] [--json] [-r] COMMAND [ARGS]\n"
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
            "\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-15s %s\n", commands[i].name, commands[i].summary);
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
    cmd = find_cmd(argv[i]);
    if (!cmd)
        return usage_error(NULL, "unknown command '%s'", argv[i]);
    /* --json may also follow the command, as virsh allows options anywhere. */
    {
        int w = i + 1;
        for (int k = i + 1; k < argc; k++) {
            if (strcmp(argv[k], "--json") == 0)
                sh.json = true;
            else
                argv[w++] = argv[k];
        }
        argc = w;
    }
    r = cmd->run(&sh, cmd, argc - i, argv + i);
    if (fflush(stdout) != 0 && r == 0) {
        fprintf(stderr, "error: writing output: %s\n", strerror(errno));
        r = 1;
    }
    uniConnectClose(sh.conn);
    return r;
}
