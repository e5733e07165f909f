/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* unish's commands of the spec's Table 4 and the reliability class, named as virsh names them:
 * dominfo, maxvcpus, dumpxml, schedinfo, vcpuinfo, vcpupin, cpu-stats, setreliability and
 * reliability. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "shell.h"

static const char *const state_names[] = {"no state",    "running",  "blocked", "paused",
                                          "in shutdown", "shut off", "crashed", "pmsuspended"};

static const char *state_name(int st) {
    return st >= 0 && st < (int)(sizeof(state_names) / sizeof(state_names[0])) ? state_names[st] : "unknown";
}

/* The domain named by the command's one argument; NULL after printing why (*@rc set). */
static uniDomainPtr one_domain(shell *sh, const cmd_def *cmd, int argc, char **argv, int nargs, int *rc) {
    uniDomainPtr d;
    if (argc != 1 + nargs) {
        *rc = usage_error(cmd, "expected %s", cmd->args);
        return NULL;
    }
    *rc = 1;
    if (ensure_conn(sh) < 0)
        return NULL;
    if (!(d = lookup_domain(sh, argv[1])))
        print_error(cmd->name);
    return d;
}

static void print_info(shell *sh, const char *name, const uniDomainInfo *i, bool first) {
    if (sh->json) {
        printf("%s{\"name\": ", first ? "" : ", ");
        fmt_json_string(stdout, name);
        printf(", \"state\": ");
        fmt_json_string(stdout, state_name(i->state));
        printf(", \"max_memory_kib\": %llu, \"used_memory_kib\": %llu, \"vcpus\": %u, \"max_vcpus\": %u, "
               "\"cpu_time_ns\": %llu}",
               i->maxMem, i->memory, i->nrVirtCpu, i->maxVcpus, i->cpuTime);
        return;
    }
    printf("%-15s %s\n%-15s %s\n%-15s %u\n%-15s %u\n%-15s %.1fs\n%-15s %llu KiB\n%-15s %llu KiB\n", "Name:", name,
           "State:", state_name(i->state), "CPU(s):", i->nrVirtCpu, "Max CPU(s):", i->maxVcpus,
           "CPU time:", (double)i->cpuTime / 1e9, "Max memory:", i->maxMem, "Used memory:", i->memory);
}

int cmd_dominfo(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    uniDomainInfo info;
    uniDomainPtr d;
    int rc;
    if (argc == 2 && strcmp(argv[1], "--all") == 0) {
        /* Every domain with its info in one call (the spec's get_domains_and_infos). */
        uniDomainPtr *doms = NULL;
        uniDomainInfo *infos = NULL;
        int n;
        if (ensure_conn(sh) < 0)
            return 1;
        if ((n = uniConnectGetAllDomainInfo(sh->conn, &doms, &infos, 0)) < 0) {
            print_error(cmd->name);
            return 1;
        }
        if (sh->json)
            printf("[");
        for (int i = 0; i < n; i++) {
            if (!sh->json && i)
                printf("\n");
            print_info(sh, uniDomainGetName(doms[i]), &infos[i], i == 0);
            uniDomainFree(doms[i]);
        }
        if (sh->json)
            printf("]\n");
        free(doms);
        free(infos);
        return 0;
    }
    if (!(d = one_domain(sh, cmd, argc, argv, 1, &rc)))
        return rc;
    rc = uniDomainGetInfo(d, &info, 0);
    if (rc < 0)
        print_error(cmd->name);
    else {
        print_info(sh, uniDomainGetName(d), &info, true);
        if (sh->json)
            printf("\n");
    }
    uniDomainFree(d);
    return rc < 0 ? 1 : 0;
}

int cmd_maxvcpus(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    int rc, n;
    uniDomainPtr d = one_domain(sh, cmd, argc, argv, 1, &rc);
    if (!d)
        return rc;
    if ((n = uniDomainGetMaxVcpus(d, 0)) < 0)
        print_error(cmd->name);
    else
        printf("%d\n", n);
    uniDomainFree(d);
    return n < 0 ? 1 : 0;
}

int cmd_dumpxml(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    int rc;
    char *xml;
    uniDomainPtr d = one_domain(sh, cmd, argc, argv, 1, &rc);
    if (!d)
        return rc;
    if (!(xml = uniDomainGetXMLDesc(d, 0)))
        print_error(cmd->name);
    else
        fputs(xml, stdout);
    uniDomainFree(d);
    free(xml);
    return xml ? 0 : 1;
}

int cmd_schedinfo(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    int rc, n = -1;
    char *type = NULL;
    uniSchedParam *p = NULL;
    uniDomainPtr d = one_domain(sh, cmd, argc, argv, 1, &rc);
    if (!d)
        return rc;
    if (!(type = uniDomainGetSchedulerType(d, NULL, 0)) || (n = uniDomainGetSchedulerParameters(d, &p, 0)) < 0)
        print_error(cmd->name);
    else if (sh->json) {
        printf("{\"scheduler\": ");
        fmt_json_string(stdout, type);
        for (int i = 0; i < n; i++)
            printf(", \"%s\": %lld", p[i].field, p[i].value);
        printf("}\n");
    } else {
        printf("%-15s: %s\n", "Scheduler", type);
        for (int i = 0; i < n; i++)
            printf("%-15s: %lld\n", p[i].field, p[i].value);
    }
    uniDomainFree(d);
    free(type);
    free(p);
    return n < 0 ? 1 : 0;
}

/* A CPU map as virsh prints it ("0-2,5"). */
static void map_list(const unsigned char *map, int ncpus, char *buf, size_t len) {
    size_t o = 0;
    buf[0] = 0;
    for (int c = 0; c < ncpus && o < len; c++) {
        int e = c;
        if (!((map[c / 8] >> (c % 8)) & 1))
            continue;
        while (e + 1 < ncpus && ((map[(e + 1) / 8] >> ((e + 1) % 8)) & 1))
            e++;
        o += (size_t)(e == c ? snprintf(buf + o, len - o, "%s%d", o ? "," : "", c)
                             : snprintf(buf + o, len - o, "%s%d-%d", o ? "," : "", c, e));
        c = e;
    }
}

int cmd_vcpuinfo(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    static const char *const vstate[] = {"offline", "running", "blocked"};
    uniVcpuInfo *info = NULL;
    unsigned char *maps = NULL;
    int rc, n, ncpus = 0;
    uniDomainPtr d = one_domain(sh, cmd, argc, argv, 1, &rc);
    if (!d)
        return rc;
    if ((n = uniDomainGetVcpus(d, &info, &maps, &ncpus, 0)) < 0)
        print_error(cmd->name);
    if (sh->json && n >= 0)
        printf("[");
    for (int i = 0; i < n; i++) {
        char list[4096];
        const char *st = info[i].state >= 0 && info[i].state < 3 ? vstate[info[i].state] : "unknown";
        map_list(maps + (size_t)i * UNI_CPU_MAPLEN(ncpus), ncpus, list, sizeof(list));
        if (sh->json) {
            printf("%s{\"vcpu\": %u, \"state\": \"%s\", \"cpu\": %d, \"cpu_time_ns\": %llu, \"affinity\": \"%s\"}",
                   i ? ", " : "", info[i].number, st, info[i].cpu, info[i].cpuTime, list);
        } else
            printf("%s%-15s %u\n%-15s %d\n%-15s %s\n%-15s %.1fs\n%-15s %s\n", i ? "\n" : "", "VCPU:", info[i].number,
                   "CPU:", info[i].cpu, "State:", st, "CPU time:", (double)info[i].cpuTime / 1e9,
                   "CPU Affinity:", list);
    }
    if (sh->json && n >= 0)
        printf("]\n");
    uniDomainFree(d);
    free(info);
    free(maps);
    return n < 0 ? 1 : 0;
}

/* "0-2,5" into a map of @maplen bytes; -1 when malformed or beyond the map. */
static int parse_cpulist(const char *s, unsigned char *map, int maplen) {
    const char *p = s;
    if (!*p)
        return -1;
    while (*p) {
        char *end;
        unsigned long a, b;
        if (*p < '0' || *p > '9')
            return -1;
        errno = 0;
        a = strtoul(p, &end, 10);
        b = a;
        if (*end == '-') {
            if (end[1] < '0' || end[1] > '9')
                return -1;
            b = strtoul(end + 1, &end, 10);
        }
        if (errno || a > b || b >= (unsigned long)maplen * 8)
            return -1;
        for (unsigned long c = a; c <= b; c++)
            map[c / 8] |= (unsigned char)(1u << (c % 8));
        if (*end == ',' && end[1])
            end++;
        else if (*end)
            return -1;
        p = end;
    }
    return 0;
}

int cmd_vcpupin(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    /* Room for any CPU number a kernel has (NR_CPUS is at most 8192). */
    static unsigned char map[8192 / 8];
    long vcpu;
    int rc;
    uniDomainPtr d;
    if (argc != 4)
        return usage_error(cmd, "expected %s", cmd->args);
    if (parse_count(cmd, "VCPU", argv[2], 0, 65535, &vcpu) < 0)
        return EXIT_USAGE;
    memset(map, 0, sizeof(map));
    if (parse_cpulist(argv[3], map, (int)sizeof(map)) < 0)
        return usage_error(cmd, "CPULIST is host CPUs such as 0-2,5, not '%s'", argv[3]);
    if (!(d = one_domain(sh, cmd, 2, argv, 1, &rc)))
        return rc;
    rc = uniDomainPinVcpu(d, (unsigned)vcpu, map, (int)sizeof(map), 0);
    if (rc < 0)
        print_error(cmd->name);
    uniDomainFree(d);
    return rc < 0 ? 1 : 0;
}

int cmd_cpustats(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    unsigned long long *t = NULL;
    int rc, n;
    uniDomainPtr d = one_domain(sh, cmd, argc, argv, 1, &rc);
    if (!d)
        return rc;
    if ((n = uniDomainGetCPUStats(d, &t, 0)) < 0)
        print_error(cmd->name);
    if (sh->json && n >= 0)
        printf("[");
    for (int i = 0; i < n; i++) {
        if (sh->json)
            printf("%s%llu", i ? ", " : "", t[i]);
        else
            printf("CPU%d:\n\tcpu_time %17.9f seconds\n", i, (double)t[i] / 1e9);
    }
    if (sh->json && n >= 0)
        printf("]\n");
    uniDomainFree(d);
    free(t);
    return n < 0 ? 1 : 0;
}

int cmd_reliability(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    int rc;
    const char *cls;
    uniDomainPtr d = one_domain(sh, cmd, argc, argv, 1, &rc);
    if (!d)
        return rc;
    if (!(cls = uniDomainGetReliability(d, 0)))
        print_error(cmd->name);
    else
        printf("%s\n", cls);
    uniDomainFree(d);
    return cls ? 0 : 1;
}

int cmd_setreliability(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    int rc;
    uniDomainPtr d = one_domain(sh, cmd, argc, argv, 2, &rc);
    if (!d)
        return rc;
    rc = uniDomainSetReliability(d, argv[2], 0);
    if (rc < 0)
        print_error(cmd->name);
    uniDomainFree(d);
    return rc < 0 ? 1 : 0;
}
