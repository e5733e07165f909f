/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* unish: the uniserver shell (virsh-like). One command per API call, described in one table;
 * --json on every command. Exit status: 0 success, 1 a failed call, 2 bad usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shell.h"

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
    {"dominfo", "DOMAIN | --all", "state, memory, vCPUs, CPU time of a domain, or of all in one call (get_info)", NULL,
     cmd_dominfo, NULL, 0},
    {"maxvcpus", "DOMAIN", "the vCPUs a domain may have (get_max_vCPUs)", NULL, cmd_maxvcpus, NULL, 0},
    {"dumpxml", "DOMAIN", "the domain's XML (get_xml_desc)",
     "libvirt's XML for its domains; for a VM found from its QEMU process a libvirt-shaped description "
     "built from its command line (docs/domains.md).",
     cmd_dumpxml, NULL, 0},
    {"schedinfo", "DOMAIN", "scheduler type and parameters: CPU shares, quota, period (get_scheduler_parameters)", NULL,
     cmd_schedinfo, NULL, 0},
    {"vcpuinfo", "DOMAIN", "per vCPU: state, CPU, CPU time, affinity (get_vCPUs)", NULL, cmd_vcpuinfo, NULL, 0},
    {"vcpupin", "DOMAIN VCPU CPULIST", "pin a vCPU to host CPUs such as 0-2,5 (pin_vCPU; a control call)", NULL,
     cmd_vcpupin, NULL, 0},
    {"cpu-stats", "DOMAIN", "the domain's CPU time on each host CPU (get_pCPU_stats)", NULL, cmd_cpustats, NULL, 0},
    {"reliability", "DOMAIN", "the domain's reliability class: high, normal or low", NULL, cmd_reliability, NULL, 0},
    {"setreliability", "DOMAIN CLASS", "set the domain's reliability class: high, normal or low (a control call)",
     "docs/domains.md says what each class may be placed on.", cmd_setreliability, NULL, 0},
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
     "its monitor did not answer in time. Refreshes every --interval MS (1000); the title shows the\n"
     "time. Keys: c, m, e, h, n sort by CPU, memory, exits, halts or name; ? lists the keys; q quits;\n"
     "any other key is named as unknown. --batch (or output not to a terminal) prints plain frames,\n"
     "--count N of them, each titled with its date and time (ISO 8601, local, with the UTC offset).",
     cmd_top, NULL, 0},
    {"errors", "--correctable|--uncorrectable",
     "L2, L3, DRAM, MCU error counts and rates (get[Un]CorrectableErrorsUniserver)", NULL, cmd_errors, NULL, 0},
    {"nodesetfrequency", "--core N --frequency F", "set the frequency of a core's clock domain (nodeSetFrequency)",
     "F is kHz (2400000) or a number with a unit Hz, kHz, MHz or GHz (2400MHz, 2.4GHz). Every core\n"
     "of N's clock domain (its cpufreq policy; an X-Gene2 PMD) moves: they are printed. Uses the\n"
     "userspace governor and scaling_setspeed where the domain has them, else pins scaling_min_freq\n"
     "and scaling_max_freq. A failed change is undone. Needs a read-write connection.",
     cmd_setfrequency, NULL, 0},
    {"setgovernor", "[--core N] GOVERNOR",
     "set the cpufreq governor of a core's clock domain, or of all (uniNodeSetGovernor)",
     "Without --core every online core. GOVERNOR must be in scaling_available_governors.", cmd_setpolicy, NULL, 0},
    {"setpowerpolicy", "[--core N] POLICY",
     "set the power policy: power, balanced or performance (uniNodeSetPowerPolicy)",
     "Writes energy_performance_preference where cpufreq has one (a raw EPP name is accepted too);\n"
     "elsewhere sets the governor the policy reads from (power: powersave, performance: performance,\n"
     "balanced: schedutil, ondemand or conservative). Without --core every online core.",
     cmd_setpolicy, NULL, 0},
    {"oppoints", "", "operating-point domains (PMD voltage/frequency, memory channel refresh/voltage) and limits",
     "uniNodeGetOperatingPoints. On generic Linux there are none beyond cpufreq (NO_SUPPORT); the\n"
     "test driver and uni-simboard's trees have them.",
     cmd_oppoints, NULL, 0},
    {"setoppoint", "DOMAIN PARAM=VALUE...", "set a domain's operating point (uniNodeSetOperatingPoint)",
     "Example: setoppoint pmd2 voltage_mv=930 frequency_mhz=1800; setoppoint mc1 refresh_ms=512.\n"
     "Values are integers in the parameter's unit (oppoints lists them with their limits). The\n"
     "parameters are set as one change: a voltage rise before a frequency rise, a frequency drop\n"
     "before a voltage drop; a failure undoes it.",
     cmd_setoppoint, NULL, 0},
    {"healthlog",
     "--dimm LABEL | --core N | --memory | --cpu | --summary [--since TIME] [--corrected|--uncorrected] [--actions] "
     "[--follow]",
     "hardware events of a DIMM or core from uni-healthd's HealthLog (uniHealthLogQueryMemory/CPU)",
     "--dimm LABEL: the memory events of one DIMM (labels as in host.errors.dimm.LABEL.*); --core N: the\n"
     "CPU events a core reported; --memory, --cpu: all of them; --summary: corrected and uncorrected\n"
     "counts per DIMM and per core (like ras-mc-ctl --summary). --since TIME: ms since the Epoch, a time\n"
     "ago (90s, 30m, 2h, 7d) or a UTC date (2026-11-25, 2026-11-25T10:00:30Z). --actions adds the\n"
     "first-level actions taken (soft-offlined pages, degraded cores). --follow keeps printing new\n"
     "events as uni-healthd commits them (this host only). Each event shows the VMs it may have\n"
     "touched. The HealthLog is ?healthlog=PATH of the URI (default /var/lib/uniserver/healthlog.db).",
     cmd_healthlog, NULL, 0},
    {"margins", "",
     "the safe margins uni-stresslog found: each search's nominal, safe value, guard band, when, from which run",
     "From the record's host.margin.* metrics: uni-stresslog's margins file (uniserverd's margins setting, or\n"
     "?margins=FILE on a local URI; default /var/lib/uniserver/margins.json). A search is DOMAIN:PARAM[@FREQ]:\n"
     "pmd2:voltage@2400MHz is PMD 2's voltage at 2.4 GHz, mc1:refresh channel 1's refresh period. Exit 1\n"
     "when the margins file is there but refused (malformed, a newer version); docs/stresslog.md.",
     cmd_margins, NULL, 0},
    {"allocation", "[--state FILE]", "the plan uni-allocd published: each VM's domain, each domain's point, and why",
     "Reads uni-allocd's state file on this host (--state, default /run/uniserver/allocation.json): each VM's\n"
     "class, demand (cores' worth: vCPU time + run-queue wait; ? before two samples) and CPU domain, each\n"
     "domain's mode (nominal, extended-normal, extended-low, idle), voltage and frequency with the reason, the\n"
     "DRAM refresh rule's verdict, and the last round's actions ([fast path]: after an uncorrected error or a\n"
     "burst of corrected ones). --json prints the file. Exit 1 when there is no plan. docs/allocator.md.",
     cmd_allocation, NULL, 0},
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
        commands[n++] =
            (cmd_def){vd->command, "[--window MS]", summary, NULL, cmd_view, vd->spec_name, (long)vd->window_ms};
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
    fprintf(
        f,
        "usage: unish [-c URI] [--json] [-r] [--reason TEXT] COMMAND [ARGS] [\\; COMMAND [ARGS] ...]\n"
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
        "  --reason TEXT      why: recorded with every change the control commands make (the audit,\n"
        "                     the HealthLog's control actions: unish healthlog --cpu --actions)\n"
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
        printf("\nThe view %s, C call %s: %s.\n", vd->spec_name, vd->c_name, vd->summary);
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
        else if (strcmp(a, "--reason") == 0 && i + 1 < argc)
            sh.reason = argv[++i];
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
        } else if ((strcmp(a, "-c") == 0 || strcmp(a, "--connect") == 0))
            return usage_error(NULL, "option '%s' needs a URI", a);
        else if (strcmp(a, "--reason") == 0)
            return usage_error(NULL, "option '--reason' needs a text");
        else if (a[0] == '-')
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
