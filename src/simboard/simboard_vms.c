/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-simboard's VMs as files: each simulated VM as a QEMU process in proc/PID (command line,
 * stat, status with Cpus_allowed_list, schedstat with each vCPU's run-queue wait, named vCPU
 * threads, its cgroup) and its cgroup v2 cpuset
 * under sys/fs/cgroup/machine.slice/, one vcpuN child per vCPU as libvirt lays them out, whose
 * cpuset.cpus the allocator writes; sim/vms adds and removes them (docs/simboard.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simboard_vms.h"

#define PID0 20000
#define PID_STEP 100
#define SLICE "sys/fs/cgroup/machine.slice"

static int vm_of_pid(const sb_model *m, long pid) {
    long k = (pid - PID0) / PID_STEP;
    if (pid < PID0 || (pid - PID0) % PID_STEP || k >= SB_MAX_VMS || !m->vm[k].active)
        return -1;
    return (int)k;
}

/* A number that is the whole of @s up to @end (or the NUL). */
static int number(const char *s, const char *end, long *ret) {
    char *e;
    if (!end)
        end = s + strlen(s);
    if (s == end || *s < '0' || *s > '9')
        return -1;
    *ret = strtol(s, &e, 10);
    return e == end ? 0 : -1;
}

/* Parse "proc/PID[/task[/TID]][/FILE]" or SLICE "/sim-NAME.scope[/vcpuN][/FILE]". */
typedef struct {
    int vm, vcpu;   /* vcpu: -1 the process itself (its main thread) */
    bool task_dir;  /* proc/PID/task */
    bool in_cgroup; /* the cgroup tree */
    const char *file;
} where;

static int parse(const sb_model *m, const char *path, where *w) {
    const char *p, *s;
    long pid, tid;
    memset(w, 0, sizeof(*w));
    w->vcpu = -1;
    if (!strncmp(path, "proc/", 5)) {
        p = path + 5;
        s = strchr(p, '/');
        if (number(p, s, &pid) < 0 || (w->vm = vm_of_pid(m, pid)) < 0)
            return -1;
        if (!s)
            return 0;
        p = s + 1;
        if (!strncmp(p, "task", 4) && (p[4] == 0 || p[4] == '/')) {
            if (!p[4]) {
                w->task_dir = true;
                return 0;
            }
            p += 5;
            s = strchr(p, '/');
            if (number(p, s, &tid) < 0 || tid < pid || tid > pid + m->vm[w->vm].nvcpu)
                return -1;
            w->vcpu = (int)(tid - pid) - 1; /* the main thread is -1 */
            w->file = s ? s + 1 : NULL;
            if (w->vcpu < 0 && w->file)
                return strchr(w->file, '/') ? -1 : 0;
            return w->file && strchr(w->file, '/') ? -1 : 0;
        }
        w->file = p;
        return strchr(p, '/') ? -1 : 0;
    }
    if (!strncmp(path, SLICE "/sim-", sizeof(SLICE "/sim-") - 1)) {
        char name[40];
        size_t n;
        p = path + sizeof(SLICE "/sim-") - 1;
        s = strstr(p, ".scope");
        if (!s || (s[6] && s[6] != '/') || (n = (size_t)(s - p)) >= sizeof(name))
            return -1;
        memcpy(name, p, n);
        name[n] = 0;
        if ((w->vm = sb_vm_find(m, name)) < 0)
            return -1;
        w->in_cgroup = true;
        if (!s[6])
            return 0;
        p = s + 7;
        if (!strncmp(p, "vcpu", 4)) {
            long v;
            s = strchr(p, '/');
            if (number(p + 4, s, &v) < 0 || v >= m->vm[w->vm].nvcpu)
                return -1;
            w->vcpu = (int)v;
            w->file = s ? s + 1 : NULL;
        } else
            w->file = p;
        return w->file && strchr(w->file, '/') ? -1 : 0;
    }
    return -1;
}

static const char *const proc_files[] = {"cmdline", "comm", "stat", "status", "cgroup", "schedstat", NULL};
static const char *const task_files[] = {"comm", "stat", "status", "schedstat", NULL};
static const char *const cg_files[] = {"cpuset.cpus", "cpuset.cpus.effective", NULL};

static bool in(const char *const *list, const char *f) {
    for (; *list; list++)
        if (!strcmp(*list, f))
            return true;
    return false;
}

sbv_type sbv_lookup(const sb_model *m, const char *path) {
    where w;
    if (parse(m, path, &w) < 0)
        return SBV_NONE;
    if (!w.file)
        return SBV_DIR;
    if (w.in_cgroup)
        return in(cg_files, w.file) ? (w.vcpu >= 0 && !strcmp(w.file, "cpuset.cpus") ? SBV_RWFILE : SBV_FILE)
                                    : SBV_NONE;
    if (w.task_dir)
        return SBV_NONE;
    if (!strncmp(path, "proc/", 5) && strstr(path, "/task/"))
        return in(task_files, w.file) ? SBV_FILE : SBV_NONE;
    return !strcmp(w.file, "task") ? SBV_DIR : in(proc_files, w.file) ? SBV_FILE : SBV_NONE;
}

int sbv_readdir(const sb_model *m, const char *path, sbv_fill fill, void *ctx) {
    char name[64];
    where w;
    if (!strcmp(path, "proc") || !strcmp(path, SLICE)) {
        for (int v = 0; v < SB_MAX_VMS; v++)
            if (m->vm[v].active) {
                if (path[0] == 'p')
                    snprintf(name, sizeof(name), "%d", PID0 + PID_STEP * v);
                else
                    snprintf(name, sizeof(name), "sim-%s.scope", m->vm[v].name);
                fill(ctx, name);
            }
        return 0;
    }
    if (parse(m, path, &w) < 0 || w.file)
        return -ENOENT;
    if (w.in_cgroup) {
        for (const char *const *f = cg_files; *f; f++)
            fill(ctx, *f);
        for (int i = 0; w.vcpu < 0 && i < m->vm[w.vm].nvcpu; i++) {
            snprintf(name, sizeof(name), "vcpu%d", i);
            fill(ctx, name);
        }
    } else if (w.task_dir) {
        for (int i = 0; i <= m->vm[w.vm].nvcpu; i++) {
            snprintf(name, sizeof(name), "%d", PID0 + PID_STEP * w.vm + i);
            fill(ctx, name);
        }
    } else if (strstr(path, "/task/")) {
        for (const char *const *f = task_files; *f; f++)
            fill(ctx, *f);
    } else {
        for (const char *const *f = proc_files; *f; f++)
            fill(ctx, *f);
        fill(ctx, "task");
    }
    return 0;
}

static unsigned mask_of(const sb_vm *x, int vcpu) {
    unsigned mask = 0;
    for (int i = 0; i < x->nvcpu; i++)
        if (vcpu < 0 || vcpu == i)
            mask |= x->allowed[i];
    return mask;
}

/* "0-3,6" of a mask of cores. */
static void cpu_list(unsigned mask, char *buf, size_t len) {
    size_t o = 0;
    buf[0] = 0;
    for (int c = 0; c < SB_NCPU; c++) {
        int e = c;
        if (!(mask >> c & 1))
            continue;
        while (e + 1 < SB_NCPU && (mask >> (e + 1) & 1))
            e++;
        o += (size_t)snprintf(buf + o, len - o, "%s%d", o ? "," : "", c);
        if (e > c)
            o += (size_t)snprintf(buf + o, len - o, "-%d", e);
        c = e;
    }
}

static int stat_line(const sb_model *m, int v, int vcpu, char *buf, size_t len) {
    const sb_vm *x = &m->vm[v];
    int pid = PID0 + PID_STEP * v, tid = pid + 1 + vcpu;
    unsigned mask = mask_of(x, vcpu);
    unsigned long long ticks = (unsigned long long)((vcpu < 0 ? x->cpu_s : x->run_s[vcpu]) * 100);
    char comm[32];
    if (vcpu < 0)
        snprintf(comm, sizeof(comm), "qemu-system-aar");
    else
        snprintf(comm, sizeof(comm), "CPU %d/KVM", vcpu);
    return snprintf(buf, len,
                    "%d (%s) S 1 %d %d 0 -1 4194560 0 0 0 0 %llu %llu 0 0 20 0 %d 0 %d 1073741824 32768 "
                    "18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 17 %d 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
                    vcpu < 0 ? pid : tid, comm, pid, pid, ticks - ticks / 5, ticks / 5, x->nvcpu + 1, 100000,
                    __builtin_ctz(mask ? mask : 1));
}

int sbv_render(const sb_model *m, const char *path, char *buf, size_t len) {
    where w;
    char list[64];
    const sb_vm *x;
    int pid;
    if (parse(m, path, &w) < 0 || !w.file)
        return -ENOENT;
    x = &m->vm[w.vm];
    pid = PID0 + PID_STEP * w.vm;
    if (w.in_cgroup) {
        /* The scope's cpuset: the board's CPUs; a vCPU's: where the allocator put it. */
        cpu_list(w.vcpu < 0 ? (1u << SB_NCPU) - 1 : mask_of(x, w.vcpu), list, sizeof(list));
        return snprintf(buf, len, "%s\n", list);
    }
    if (!strcmp(w.file, "cmdline")) {
        /* NUL-separated as the kernel shows it; the UUID is the VM's slot's. */
        int n = snprintf(buf, len,
                         "qemu-system-aarch64%c-name%cguest=%s,debug-threads=on%c-uuid%c"
                         "5e1b0a4d-0000-4000-8000-0000000000%02d%c-smp%c%d%c-m%c512%c-enable-kvm%c",
                         0, 0, x->name, 0, 0, w.vm, 0, 0, x->nvcpu, 0, 0, 0, 0);
        return n;
    }
    if (!strcmp(w.file, "comm")) {
        if (w.vcpu >= 0)
            return snprintf(buf, len, "CPU %d/KVM\n", w.vcpu);
        return snprintf(buf, len, "qemu-system-aar\n");
    }
    if (!strcmp(w.file, "stat"))
        return stat_line(m, w.vm, w.vcpu, buf, len);
    if (!strcmp(w.file, "schedstat")) {
        /* As the kernel's: time on a CPU (ns), time runnable but waiting for one (run_delay, ns),
         * timeslices; the process's (its main thread's here) sums its vCPUs'. */
        double run = 0, wait = 0;
        unsigned long long slices = 0;
        for (int i = 0; i < x->nvcpu; i++)
            if (w.vcpu < 0 || w.vcpu == i)
                run += x->run_s[i], wait += x->wait_s[i], slices += x->slices[i];
        return snprintf(buf, len, "%llu %llu %llu\n", (unsigned long long)(run * 1e9), (unsigned long long)(wait * 1e9),
                        slices);
    }
    if (!strcmp(w.file, "cgroup"))
        return snprintf(buf, len, "0::/machine.slice/sim-%s.scope\n", x->name);
    if (!strcmp(w.file, "status")) {
        unsigned mask = mask_of(x, w.vcpu);
        cpu_list(mask, list, sizeof(list));
        return snprintf(buf, len,
                        "Name:\t%s\nState:\tS (sleeping)\nTgid:\t%d\nPid:\t%d\nPPid:\t1\nThreads:\t%d\n"
                        "Cpus_allowed:\t%02x\nCpus_allowed_list:\t%s\n",
                        w.vcpu >= 0 ? "CPU" : "qemu-system-aar", pid, w.vcpu >= 0 ? pid + 1 + w.vcpu : pid,
                        x->nvcpu + 1, mask, list);
    }
    return -ENOENT;
}

/* A CPU list ("4-5", "0,2-3") as a mask of the board's cores; -EINVAL as the kernel says for a
 * CPU it does not have or a malformed list. */
static int parse_list(const char *s, unsigned *ret) {
    unsigned mask = 0;
    while (*s) {
        char *e;
        long a = strtol(s, &e, 10), b = a;
        if (e == s || a < 0 || a >= SB_NCPU)
            return -EINVAL;
        s = e;
        if (*s == '-') {
            b = strtol(s + 1, &e, 10);
            if (e == s + 1 || b < a || b >= SB_NCPU)
                return -EINVAL;
            s = e;
        }
        for (long c = a; c <= b; c++)
            mask |= 1u << c;
        if (*s == ',')
            s++;
        else if (*s)
            return -EINVAL;
    }
    *ret = mask;
    return 0;
}

int sbv_store(sb_model *m, const char *path, const char *val) {
    where w;
    unsigned mask;
    if (parse(m, path, &w) < 0 || !w.in_cgroup || w.vcpu < 0 || !w.file || strcmp(w.file, "cpuset.cpus"))
        return -EACCES;
    if (parse_list(val, &mask) < 0 || !mask)
        return -EINVAL;
    return sb_vm_set_allowed(m, w.vm, w.vcpu, mask);
}

/* sim/vms: "add NAME CLASS VCPUS DEMAND%", "del NAME", "demand NAME DEMAND%", "inject PART ce|ue N". */
int sbv_control(sb_model *m, const char *cmd) {
    char op[16], name[64], cls[16];
    int nvcpu, pct, n;
    if (sscanf(cmd, "add %63s %15s %d %d%n", name, cls, &nvcpu, &pct, &n) == 4 && !cmd[n]) {
        int c = !strcmp(cls, "high") ? 1 : !strcmp(cls, "low") ? 2 : !strcmp(cls, "normal") ? 0 : -1;
        int r = c < 0 || pct < 0 || pct > 100 ? -EINVAL : sb_vm_add(m, name, c, nvcpu, pct / 100.0);
        return r < 0 ? r : 0;
    }
    if (sscanf(cmd, "del %63s%n", name, &n) == 1 && !cmd[n])
        return sb_vm_remove(m, name);
    if (sscanf(cmd, "demand %63s %d%n", name, &pct, &n) == 2 && !cmd[n])
        return pct < 0 || pct > 100 ? -EINVAL : sb_vm_set_demand(m, sb_vm_find(m, name), pct / 100.0);
    /* An error injected as if the part had reported it (EDAC counts it; the truth attributes it). */
    if (sscanf(cmd, "inject %15s %15s %d%n", op, cls, &pct, &n) == 3 && !cmd[n] && pct > 0 && pct <= 100000) {
        sb_counts before;
        long id;
        bool ue = !strcmp(cls, "ue");
        if (!ue && strcmp(cls, "ce"))
            return -EINVAL;
        sb_counts_of(m, &before);
        if (!strncmp(op, "pmd", 3) && number(op + 3, NULL, &id) == 0 && id < SB_NPMD) {
            if (ue)
                m->pmd_ue[id] += (uint64_t)pct;
            else
                m->pmd_ce[id][1] += (uint64_t)pct;
        } else if (!strncmp(op, "mc", 2) && number(op + 2, NULL, &id) == 0 && id < SB_NMC) {
            if (ue)
                m->dimm_ue[id][0] += (uint64_t)pct;
            else
                m->dimm_ce[id][0] += (uint64_t)pct;
        } else
            return -EINVAL;
        sb_vms_attribute(m, &before, 0);
        return 0;
    }
    return -EINVAL;
}

int sbv_truth(const sb_model *m, char *buf, size_t len) {
    static const char *const cls[] = {"normal", "high", "low"};
    size_t o = 0;
    for (int v = 0; v < SB_MAX_VMS && o < len; v++) {
        const sb_vm *x = &m->vm[v];
        char list[64];
        if (!x->active)
            continue;
        double wait_s = 0;
        for (int i = 0; i < x->nvcpu; i++)
            wait_s += x->wait_s[i];
        cpu_list(mask_of(x, -1), list, sizeof(list));
        o += (size_t)snprintf(buf + o, len - o,
                              "vm %s pid %d class %s vcpus %d demand_pct %d cpus %s pmd_ce %llu pmd_ue %llu mc_ce %llu "
                              "mc_ue %llu cpu_s %.1f wait_s %.1f\n",
                              x->name, PID0 + PID_STEP * v, cls[x->cls], x->nvcpu, (int)(x->demand * 100 + 0.5), list,
                              (unsigned long long)x->pmd_ce, (unsigned long long)x->pmd_ue,
                              (unsigned long long)x->mc_ce, (unsigned long long)x->mc_ue, x->cpu_s, wait_s);
    }
    return (int)(o < len ? o : len);
}

long sbv_last_pid(const sb_model *m) {
    long last = 9876;
    for (int v = 0; v < SB_MAX_VMS; v++)
        if (m->vm[v].active && PID0 + PID_STEP * v + m->vm[v].nvcpu > last)
            last = PID0 + PID_STEP * v + m->vm[v].nvcpu;
    return last;
}
