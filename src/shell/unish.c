/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* unish: the uniserver shell (virsh-like). One command per API call, described in one table;
 * --json on every command. Exit status: 0 success, 1 a failed call, 2 bad usage. */
#include <ctype.h>
#include <curses.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "format.h"
#include "shell.h"

/* ---- top: virt-top's view ---- */

typedef struct {
    char *name;
    double cpu, mem, swap;
    double exits, halts; /* per second, NAN when unknown */
    uint64_t exits_total, halts_total;
    bool have_exits, stale;
    const char *state;
    unsigned vcpus;
} top_row;

typedef struct {
    char **names;
    uint64_t *exits, *halts;
    size_t n;
    uint64_t t_ms;
} top_prev;

static int top_sort_key = 'c';

static int top_cmp(const void *a, const void *b) {
    const top_row *x = a, *y = b;
    double u, v;
    switch (top_sort_key) {
    case 'm': u = x->mem, v = y->mem; break;
    case 'e': u = x->exits, v = y->exits; break;
    case 'h': u = x->halts, v = y->halts; break;
    case 'n': return strcmp(x->name, y->name);
    default: u = x->cpu, v = y->cpu;
    }
    if (isnan(u) != isnan(v))
        return isnan(u) ? 1 : -1;
    if (u != v && !isnan(u))
        return u > v ? -1 : 1;
    return strcmp(x->name, y->name);
}

static double rec_num(uniRecordPtr rec, const char *key) {
    const uniSample *s = uniRecordLookup(rec, key);
    if (!s)
        return NAN;
    return s->type == UNI_VALUE_U64 ? (double)s->value.u : s->type == UNI_VALUE_DOUBLE ? s->value.d : NAN;
}

/* A number with @decimals decimals, or "-" when unknown. */
static void top_cell(char *buf, size_t len, double v, int decimals) {
    if (isnan(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.*f", decimals, v);
}

/* One frame: the host line and a row per VM into @out (rows malloc'd); rates from @prev. */
static int top_sample(shell *sh, char *host, size_t hostlen, top_row **ret_rows, size_t *ret_n, top_prev *prev) {
    static const char *const hsel[] = {"cpu", "mem", "contention", "power", "errors", NULL};
    static const char *const dsel[] = {"dom.state", "dom.stale", "dom.cpu.count", "dom.cpu.util_pct", "dom.mem_mb",
                                       "dom.swap_wait_pct", "dom.kvm.exits", "dom.kvm.halt_exits", NULL};
    uniRecordPtr h = NULL;
    uniDomainStatsRecordPtr *st = NULL;
    top_row *rows;
    top_prev next = {0};
    uint64_t now = mono_ms();
    double win_s = prev->t_ms ? (double)(now - prev->t_ms) / 1000.0 : 0;
    int n;

    if (uniNodeGetStats(sh->conn, hsel, &h, 0) < 0)
        return -1;
    {
        char a[32], b[32], c[32], d[32], e[32];
        top_cell(a, sizeof(a), rec_num(h, "host.cpu.util_pct"), 1);
        top_cell(b, sizeof(b), rec_num(h, "host.mem.available_pct"), 0);
        top_cell(c, sizeof(c), rec_num(h, "host.cpu.contention_ratio"), 2);
        top_cell(d, sizeof(d), rec_num(h, "host.power.total_w"), 1);
        top_cell(e, sizeof(e), rec_num(h, "host.errors.mem.rate_per_min") + rec_num(h, "host.errors.cpu.rate_per_min"), 1);
        snprintf(host, hostlen, "host: CPU %s %%  memory %s %% available  contention %s  power %s W  errors %s /min", a, b,
                 c, d, e);
    }
    uniRecordFree(h);
    n = uniConnectGetAllDomainStats(sh->conn, dsel, &st, UNI_DOMAIN_STATS_ACTIVE);
    if (n < 0)
        return -1;
    rows = calloc((size_t)n + 1, sizeof(*rows));
    next.names = calloc((size_t)n + 1, sizeof(char *));
    next.exits = calloc((size_t)n + 1, sizeof(uint64_t));
    next.halts = calloc((size_t)n + 1, sizeof(uint64_t));
    if (!rows || !next.names || !next.exits || !next.halts) {
        uniDomainStatsRecordListFree(st);
        free(rows);
        free(next.names);
        free(next.exits);
        free(next.halts);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        uniRecordPtr r = st[i]->record;
        top_row *w = &rows[i];
        const uniSample *s = uniRecordLookup(r, "dom.state");
        double e = rec_num(r, "dom.kvm.exits"), hl = rec_num(r, "dom.kvm.halt_exits");
        w->name = strdup(uniDomainGetName(st[i]->dom));
        w->state = s ? (strcmp(s->value.s, "running") == 0 ? "R" : strcmp(s->value.s, "paused") == 0 ? "P" : "?") : "?";
        w->stale = rec_num(r, "dom.stale") == 1;
        w->vcpus = (unsigned)(isnan(rec_num(r, "dom.cpu.count")) ? 0 : rec_num(r, "dom.cpu.count"));
        w->cpu = rec_num(r, "dom.cpu.util_pct");
        w->mem = rec_num(r, "dom.mem_mb");
        w->swap = rec_num(r, "dom.swap_wait_pct");
        w->exits = w->halts = NAN;
        w->have_exits = !isnan(e);
        next.names[i] = strdup(w->name ? w->name : "");
        next.exits[i] = w->have_exits ? (uint64_t)e : 0;
        next.halts[i] = isnan(hl) ? 0 : (uint64_t)hl;
        /* Rates over the record's own window (the driver's clock), else the time between frames. */
        double win = uniRecordGetWindowMs(r) > 0 ? (double)uniRecordGetWindowMs(r) / 1000.0 : win_s;
        for (size_t k = 0; w->have_exits && win > 0 && k < prev->n; k++)
            if (prev->names[k] && w->name && strcmp(prev->names[k], w->name) == 0) {
                if (next.exits[i] >= prev->exits[k])
                    w->exits = (double)(next.exits[i] - prev->exits[k]) / win;
                if (next.halts[i] >= prev->halts[k])
                    w->halts = (double)(next.halts[i] - prev->halts[k]) / win;
            }
    }
    uniDomainStatsRecordListFree(st);
    for (size_t k = 0; k < prev->n; k++)
        free(prev->names[k]);
    free(prev->names);
    free(prev->exits);
    free(prev->halts);
    next.n = (size_t)n;
    next.t_ms = now;
    *prev = next;
    if (n > 1)
        qsort(rows, (size_t)n, sizeof(*rows), top_cmp);
    *ret_rows = rows;
    *ret_n = (size_t)n;
    return 0;
}

/* The frame as lines of text (the same for the terminal and for --batch). */
static void top_lines(const char *host, top_row *rows, size_t n, void (*line)(void *ud, int y, const char *s, bool bold),
                      void *ud) {
    char buf[512];
    int y = 0;
    snprintf(buf, sizeof(buf), "unish top - %zu VMs; sort: %c (c cpu, m memory, e exits/s, h halts/s, n name; q quits)", n,
             top_sort_key);
    line(ud, y++, buf, true);
    line(ud, y++, host, false);
    line(ud, y++, "", false);
    snprintf(buf, sizeof(buf), "%-24s %2s %5s %8s %10s %12s %12s %8s", "NAME", "ST", "VCPU", "%CPU", "MEM MB", "EXITS/s",
             "HALTS/s", "SWAP%");
    line(ud, y++, buf, true);
    for (size_t i = 0; i < n; i++) {
        char c[16], m[16], e[24], h[24], sw[16];
        top_cell(c, sizeof(c), rows[i].cpu, 1);
        top_cell(m, sizeof(m), rows[i].mem, 1);
        top_cell(e, sizeof(e), rows[i].exits, 0);
        top_cell(h, sizeof(h), rows[i].halts, 0);
        top_cell(sw, sizeof(sw), rows[i].swap, 2);
        snprintf(buf, sizeof(buf), "%-24.24s %2s %5u %8s %10s %12s %12s %8s%s", rows[i].name ? rows[i].name : "?",
                 rows[i].state, rows[i].vcpus, c, m, e, h, sw, rows[i].stale ? "  stale" : "");
        line(ud, y++, buf, false);
    }
}

static void print_line(void *ud, int y, const char *s, bool bold) {
    (void)ud;
    (void)y;
    (void)bold;
    printf("%s\n", s);
}

static void curses_line(void *ud, int y, const char *s, bool bold) {
    (void)ud;
    if (y >= LINES)
        return;
    if (bold)
        attron(A_BOLD);
    mvaddnstr(y, 0, s, COLS);
    if (bold)
        attroff(A_BOLD);
}

static void top_rows_free(top_row *rows, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(rows[i].name);
    free(rows);
}

static int cmd_top(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    bool batch = false;
    long interval = 1000, count = 0;
    top_prev prev = {0};
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        int r = 0;
        if (strcmp(argv[i], "--batch") == 0 || strcmp(argv[i], "-b") == 0)
            batch = true;
        else if ((strcmp(argv[i], "--interval") == 0 || strcmp(argv[i], "-d") == 0) && i + 1 < argc)
            r = parse_count(cmd, "--interval", argv[++i], 100, 3600000, &interval);
        else if ((strcmp(argv[i], "--count") == 0 || strcmp(argv[i], "-n") == 0) && i + 1 < argc)
            r = parse_count(cmd, "--count", argv[++i], 1, 1000000000, &count);
        else if (strcmp(argv[i], "--sort") == 0 && i + 1 < argc && strchr("cmehn", argv[i + 1][0]) && !argv[i + 1][1])
            top_sort_key = argv[++i][0];
        else
            return usage_error(cmd, "unknown option or argument '%s'", argv[i]);
        if (r)
            return r;
    }
    if (sh->json)
        return usage_error(cmd, "top is a terminal view: use domstats --all --json");
    if (!batch && !isatty(STDOUT_FILENO))
        batch = true;
    if (ensure_conn(sh) < 0)
        return 1;
    if (!batch) {
        initscr();
        cbreak();
        noecho();
        curs_set(0);
        keypad(stdscr, TRUE);
        timeout((int)interval);
    }
    for (long it = 0; !count || it < count; it++) {
        char host[256];
        top_row *rows = NULL;
        size_t n = 0;
        if (top_sample(sh, host, sizeof(host), &rows, &n, &prev) < 0) {
            if (!batch)
                endwin();
            print_error(cmd->name);
            goto out;
        }
        if (batch) {
            /* The first frame has no window for rates: a batch prints from the second. */
            if (it > 0 || count == 1) {
                top_lines(host, rows, n, print_line, NULL);
                printf("\n");
                fflush(stdout);
            } else
                count += count ? 1 : 0;
            top_rows_free(rows, n);
            sleep_ms(interval);
            continue;
        }
        erase();
        top_lines(host, rows, n, curses_line, NULL);
        refresh();
        top_rows_free(rows, n);
        {
            int ch = getch();
            if (ch == 'q' || ch == 'Q')
                break;
            if (ch > 0 && ch < 256 && strchr("cmehn", ch))
                top_sort_key = ch;
        }
    }
    if (!batch)
        endwin();
    rc = 0;
out:
    for (size_t k = 0; k < prev.n; k++)
        free(prev.names[k]);
    free(prev.names);
    free(prev.exits);
    free(prev.halts);
    return rc;
}

static int cmd_help(shell *sh, const cmd_def *cmd, int argc, char **argv);

static const cmd_def base_commands[] = {
    {"nodestats", "[--window MS] [--select GROUP|PREFIX,...]", "the whole host record (uniNodeGetStats)",
     "Prints every host metric this host can provide, and for each one it cannot, the reason.\n"
     "--window MS takes two samples MS apart and prints the second, with rates over the window\n"
     "(default 0: one sample, no rates). --select limits collection to groups (cpu, freq, mem,\n"
     "contention, temp, power, psi, errors, vms, kvm, memhw) or key prefixes (host.mem., kvm.exits).",
     cmd_nodestats, NULL, 0},
    /* The views' commands (hostcpustats, hostmemstats ...) come from views.def: see
     * build_commands(). Views with a command of their own here: hostgovernor, domstats, errors. */
    {"hostgovernor", "", "the governor of the system (getHostGovernor)", NULL, cmd_governor, "getHostGovernor", 0},
    {"list", "[--all|--inactive]", "the domains (VMs): id (QEMU's PID), name, UUID, state, where found",
     "Active domains by default; --all adds the inactive ones (libvirt), --inactive shows only those.\n"
     "VMs are QEMU processes found in /proc (name, UUID and QMP socket from their command lines)\n"
     "and libvirt's domains (?libvirt=URI on the connection; qemu:///system when its daemon runs),\n"
     "merged by UUID.",
     cmd_list, NULL, 0},
    {"domstats", "DOMAIN [--record [--select LIST]] | --all [--select LIST] [--active|--inactive] [--window MS]",
     "one VM's statistics (getDomainStatisticsUniserver), or every VM's whole record",
     "domstats DOMAIN: the spec's view of one VM (by name or UUID): memory used (% and MB), VM\n"
     "interruption time (execution - guest time of QEMU) and swap-in wait (taskstats).\n"
     "domstats DOMAIN --record: that VM's whole record; domstats --all: every VM's\n"
     "(uniConnectGetAllDomainStats): state, vCPUs, CPU time and utilisation, memory, perf counters,\n"
     "vNICs, disks, per-vCPU time, last CPU and pinning, and the KVM statistics under the kernel's\n"
     "names (dom.kvm.NAME, dom.vcpu.V.kvm.NAME). --select limits it to groups (dom, kvm) or key\n"
     "prefixes (dom.mem, dom.vcpu.0., dom.kvm.exits); --window MS takes two samples for the rates.\n"
     "Each VM is collected under the connection's deadline (?vm_deadline_ms=, 1000 ms): a VM whose\n"
     "QMP monitor does not answer in time shows dom.stale 1. --json: an object keyed by domain name,\n"
     "each an object keyed by the dotted keys.",
     cmd_domstats, NULL, 0},
    {"kvmstat", "[--once|--log] [--guest DOMAIN] [--fields REGEX] [--interval MS] [--count N] [--table2]",
     "KVM statistics as kvm_stat shows them: counts and rates per second, host-wide or per VM",
     "Host-wide sums over the VMs (kvm.NAME), or one VM's (--guest: dom.kvm.NAME), each statistic\n"
     "under the kernel's name: total, share of all events and rate per second over --interval MS\n"
     "(default 1000). Refreshes each interval (--count N times, else until interrupted); --once\n"
     "prints one table; --log prints CSV lines of each interval's events (kvm_stat's log mode).\n"
     "--fields REGEX keeps the matching statistics (POSIX extended); --table2 shows the spec's\n"
     "Table 2 counters under the kernel's current names, and those the kernel dropped.\n"
     "The source is QMP query-stats, or the kernel's binary stats with ?kvmstats=binary.",
     cmd_kvmstat, NULL, 0},
    {"top", "[--interval MS] [--sort c|m|e|h|n] [--batch [--count N]]",
     "a live view of the host and its VMs, like virt-top and kvm_stat",
     "One summary line for the host (CPU, memory, contention, power, errors) and a row per running\n"
     "VM: state, vCPUs, CPU %, memory, KVM exits/s and halt exits/s, swap-in wait %, 'stale' when\n"
     "its monitor did not answer in time. Refreshes every --interval MS (1000). Keys: c, m, e, h, n\n"
     "sort by CPU, memory, exits, halts or name; q quits. --batch (or output not to a terminal)\n"
     "prints plain frames, --count N of them.",
     cmd_top, NULL, 0},
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

/* Every command: nodestats, then one per view of the library (views.def: its shell command,
 * summary, default window and note), then the rest of base_commands. A view whose command is
 * already a base command (hostgovernor, domstats) or has options (errors --correctable) is
 * shown by that command. */
static cmd_def *commands;
static size_t ncommands;

static const cmd_def *find_base(const char *name) {
    for (size_t i = 0; i < sizeof(base_commands) / sizeof(base_commands[0]); i++)
        if (strcmp(base_commands[i].name, name) == 0)
            return &base_commands[i];
    return NULL;
}

static int build_commands(void) {
    size_t nbase = sizeof(base_commands) / sizeof(base_commands[0]), n = 0;
    commands = calloc(nbase + (size_t)uniViewCount(), sizeof(*commands));
    if (!commands)
        return -1;
    commands[n++] = base_commands[0];
    for (int v = 0; v < uniViewCount(); v++) {
        const uniViewDesc *vd = uniViewGet(v);
        char *summary;
        if (strchr(vd->command, ' ') || find_base(vd->command))
            continue;
        if (asprintf(&summary, "%s (%s)", vd->summary, vd->spec_name) < 0)
            return -1;
        commands[n++] = (cmd_def){vd->command, "[--window MS]", summary, NULL, cmd_view, vd->spec_name, (long)vd->window_ms};
    }
    for (size_t i = 1; i < nbase; i++)
        commands[n++] = base_commands[i];
    ncommands = n;
    return 0;
}

static const cmd_def *find_cmd(const char *name) {
    for (size_t i = 0; i < ncommands; i++)
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
            "                     uniserver:///system?libvirt=URI&vm_deadline_ms=MS&kvmstats=qmp|binary|off\n"
            "                                                    VMs: libvirt's too, each VM's deadline, KVM stats source\n"
            "                     test:///default                a simulated X-Gene2-like node with 3 VMs\n"
            "  --json             print one JSON object keyed by the dotted metric keys\n"
            "  --prometheus, --openmetrics   print records as uniserverd's /metrics does (e.g. for\n"
            "                     node_exporter's textfile collector)\n"
            "  -r, --readonly     open the connection read-only\n"
            "  -h, --help         this help;  -V, --version  the version\n"
            "Commands separated by a ';' argument run in turn on one connection, up to the first failure.\n"
            "\ncommands:\n");
    for (size_t i = 0; i < ncommands; i++)
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
        const uniViewDesc *vd = uniViewGet(find_view(c->view));
        if (!c->details && vd->details)
            printf("\n%s\n", vd->details);
        printf("\nThe spec's %s, C call %s: %s.\n", vd->spec_name, vd->c_name, vd->summary);
    }
    return 0;
}

int main(int argc, char **argv) {
    shell sh = {0};
    const cmd_def *cmd;
    int i, r;

    if (build_commands() < 0) {
        fprintf(stderr, "error: out of memory\n");
        return 1;
    }

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
