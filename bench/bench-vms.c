/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-vms: the cost of one full collection of every VM's KVM statistics (dom.kvm.NAME and
 * dom.vcpu.V.kvm.NAME), for 1, 10 and 50 idle tiny guests, through each source side by side in
 * one run: QMP query-stats (the default), the kernel's binary stats (?kvmstats=binary, after its
 * one-time setup), the whole VM record, and libvirt's virDomainListGetStats with the vm and vcpu
 * groups for as many guests run by a libvirt daemon (when one runs: see README). kvm_stat has no
 * one-shot here: it is not packaged in Debian 12 and reads debugfs counters that kernel lockdown
 * blocks on this machine.
 *
 * Each path's cost in three parts: the wall time; the collector's CPU (this process, and for
 * libvirt its client here plus libvirtd, from the scheduler's account); and the CPU the guests'
 * QEMUs spend answering (their CPU during the collection less what they spend idle in as long),
 * which both QMP paths pay, uniserver's and libvirtd's.
 *
 * usage: bench-vms [COUNTS [REPEATS]]   e.g. bench-vms 1,10,50 20   (root, /dev/kvm, QEMU) */
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "lib/internal.h"
#include "proc_cpu.h"

#ifndef TINYGUEST_PATH
#define TINYGUEST_PATH "tests/guest/tinyguest.elf"
#endif
#define IDLE "mb=1 spin=0 io=0 mmio=0 halt=1 hz=100 report=0"
#define MAXG 256

static char tmpdir[] = "/tmp/uniserver-bench-XXXXXX";
static pid_t pids[MAXG];
static int npids;

static void kill_guests(void) {
    for (int i = 0; i < npids; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGKILL);
    npids = 0;
}

static void remove_tmpdir(void) {
    char cmd[64 + sizeof(tmpdir)];
    kill_guests();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

static void on_signal(int sig) {
    kill_guests();
    signal(sig, SIG_DFL);
    raise(sig);
}

static uint64_t clock_of(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
static uint64_t mono_ns(void) {
    return clock_of(CLOCK_MONOTONIC);
}
/* This process's CPU time: the wall time on a loaded 2-core machine with 50 guests includes
 * being preempted; the CPU time is what a collection costs the host in the collector. */
static uint64_t cpu_ns(void) {
    return clock_of(CLOCK_PROCESS_CPUTIME_ID);
}

static uint64_t pids_cpu_ns(const pid_t *p, int n) {
    uint64_t s = 0;
    for (int i = 0; i < n; i++)
        s += p[i] > 0 ? proc_cpu_ns(p[i]) : 0;
    return s;
}

/* What the guests' QEMUs spend answering: their CPU during a collection less what they spend
 * idle in as long (@idle_rate: ns of CPU per ns, measured beforehand). */
static uint64_t answered(uint64_t qemu_ns, uint64_t wall_ns, double idle_rate) {
    double idle = idle_rate * (double)wall_ns;
    return (double)qemu_ns > idle ? (uint64_t)((double)qemu_ns - idle) : 0;
}

static double idle_rate_of(const pid_t *p, int n) {
    uint64_t c0 = pids_cpu_ns(p, n), t0 = mono_ns();
    usleep(300000);
    return (double)(pids_cpu_ns(p, n) - c0) / (double)(mono_ns() - t0);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Boot guest i (a 1-vCPU idle tiny guest) and wait for GUEST-READY. */
static int boot(int i) {
    char name[64], serial[256], pidf[256], qmp[300], chardev[300];
    pid_t c;
    int st;

    snprintf(name, sizeof(name), "bench-%d-%d,debug-threads=on", (int)getpid(), i);
    snprintf(serial, sizeof(serial), "%s/g%d.serial", tmpdir, i);
    snprintf(pidf, sizeof(pidf), "%s/g%d.pid", tmpdir, i);
    snprintf(qmp, sizeof(qmp), "unix:%s/g%d.qmp,server=on,wait=off", tmpdir, i);
    snprintf(chardev, sizeof(chardev), "file,id=ser0,path=%s", serial);
    c = fork();
    if (c == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2);
        execlp("qemu-system-x86_64", "qemu-system-x86_64", "-accel", "kvm", "-M", "microvm", "-m", "32", "-smp", "1",
               "-nodefaults", "-no-user-config", "-display", "none", "-name", name, "-chardev", chardev, "-serial",
               "chardev:ser0", "-qmp", qmp, "-kernel", TINYGUEST_PATH, "-append", IDLE, "-no-reboot", "-daemonize",
               "-pidfile", pidf, (char *)NULL);
        _exit(127);
    }
    if (c < 0 || waitpid(c, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    {
        int64_t p;
        if (read_i64_at(AT_FDCWD, pidf, &p) < 0)
            return -1;
        pids[npids++] = (pid_t)p;
    }
    for (int t = 0; t < 500; t++) {
        char buf[4096];
        if (read_file_at(AT_FDCWD, serial, buf, sizeof(buf)) > 0 && strstr(buf, "GUEST-READY"))
            return 0;
        usleep(20000);
    }
    return -1;
}

/* Median wall and CPU time and 90th percentile wall time of @reps collections of @doms'
 * @select, in ns. */
static uint64_t last_cpu_med, last_qemu_med;
static int measure(uniDomainPtr *doms, const char *const *select, int reps, uint64_t *med, uint64_t *p90,
                   int *ret_samples) {
    uint64_t t[256], cpu[256], q[256];
    double idle = idle_rate_of(pids, npids);
    if (reps > 256)
        reps = 256;
    for (int r = -2; r < reps; r++) {
        uniDomainStatsRecordPtr *st = NULL;
        uint64_t q0 = pids_cpu_ns(pids, npids), t0 = mono_ns(), c0 = cpu_ns();
        int n = uniDomainListGetStats(doms, select, &st, 0);
        uint64_t dt = mono_ns() - t0, dc = cpu_ns() - c0, dq = pids_cpu_ns(pids, npids) - q0;
        if (r >= 0)
            q[r] = answered(dq, dt, idle);
        if (n < 0) {
            fprintf(stderr, "uniDomainListGetStats: %s\n", uniGetLastError()->message);
            return -1;
        }
        if (r >= 0) {
            t[r] = dt;
            cpu[r] = dc;
        }
        *ret_samples = 0;
        for (int i = 0; i < n; i++) {
            *ret_samples += uniRecordNumSamples(st[i]->record);
            if (uniRecordLookup(st[i]->record, "dom.stale") && uniRecordLookup(st[i]->record, "dom.stale")->value.u)
                fprintf(stderr, "warning: %s stale\n", uniDomainGetName(st[i]->dom));
        }
        uniDomainStatsRecordListFree(st);
    }
    qsort(t, (size_t)reps, sizeof(t[0]), cmp_u64);
    qsort(cpu, (size_t)reps, sizeof(cpu[0]), cmp_u64);
    qsort(q, (size_t)reps, sizeof(q[0]), cmp_u64);
    *med = t[reps / 2];
    *p90 = t[reps * 9 / 10];
    last_cpu_med = cpu[reps / 2];
    last_qemu_med = q[reps / 2];
    return 0;
}

/* @cpu: the collector's CPU (this process; for libvirt, its client here and libvirtd); @qemu:
 * the guests' QEMUs answering it. */
static void row(int n, const char *path, uint64_t med, uint64_t p90, uint64_t cpu, uint64_t qemu, int samples,
                const char *note) {
    printf("%4d  %-36s %9.3f ms %9.3f ms %9.1f us/VM %9.1f us/VM %9.1f us/VM %6d  %s\n", n, path, med / 1e6, p90 / 1e6,
           med / 1e3 / n, cpu / 1e3 / n, qemu / 1e3 / n, samples, note);
}

/* ---- libvirt: the same guests run by libvirtd ---- */

#define LIBVIRT_XML                                                                                                    \
    "<domain type='kvm'><name>%s</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>"                                   \
    "<os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type><loader type='rom'>/usr/share/qemu/qboot.rom</loader>"  \
    "<kernel>%s</kernel><cmdline>" IDLE "</cmdline></os>"                                                              \
    "<devices><memballoon model='none'/></devices></domain>"

static pid_t libvirtd_pid(void) {
    int64_t p;
    return read_i64_at(AT_FDCWD, "/run/libvirtd.pid", &p) == 0 ? (pid_t)p : 0;
}

static void bench_libvirt(int n, int reps, uint64_t ours_med, uint64_t ours_cpu, uint64_t ours_qemu) {
    pid_t lpid = libvirtd_pid(), qp[MAXG];
    uint64_t cpu[256], q[256];
    double idle;
    virConnectPtr c;
    virDomainPtr doms[MAXG + 1] = {0};
    char path[4096];
    int started = 0;
    uint64_t t[256], t0;
    int nrec = 0, nparams = 0;

    if (access("/run/libvirt/libvirt-sock", F_OK) != 0) {
        printf("%4d  %-34s  skipped: no libvirt daemon (/run/libvirt/libvirt-sock); see README for libvirtd by hand\n",
               n, "libvirt GetAllDomainStats vm+vcpu");
        return;
    }
    c = virConnectOpen("qemu:///system");
    if (!c || !realpath(TINYGUEST_PATH, path)) {
        printf("%4d  libvirt: cannot connect to qemu:///system\n", n);
        return;
    }
    t0 = mono_ns();
    for (int i = 0; i < n; i++) {
        char name[64], xml[8192];
        snprintf(name, sizeof(name), "lvbench-%d-%d", (int)getpid(), i);
        snprintf(xml, sizeof(xml), LIBVIRT_XML, name, path);
        doms[i] = virDomainCreateXML(c, xml, 0);
        if (!doms[i]) {
            virErrorPtr e = virGetLastError();
            printf("%4d  libvirt: cannot start a tiny guest: %s\n", n, e ? e->message : "?");
            goto out;
        }
        started++;
    }
    fprintf(stderr, "  (libvirt started %d guests in %.1f s)\n", n, (mono_ns() - t0) / 1e9);
    for (int i = 0; i < n; i++) {
        char pf[256];
        int64_t p;
        snprintf(pf, sizeof(pf), "/run/libvirt/qemu/%s.pid", virDomainGetName(doms[i]));
        qp[i] = read_i64_at(AT_FDCWD, pf, &p) == 0 ? (pid_t)p : 0;
    }
    sleep(1);
    idle = idle_rate_of(qp, n);
    if (reps > 256)
        reps = 256;
    for (int r = -2; r < reps; r++) {
        virDomainStatsRecordPtr *recs = NULL;
        uint64_t q0 = pids_cpu_ns(qp, n), l0 = lpid ? proc_cpu_ns(lpid) : 0, c0 = cpu_ns(), s0 = mono_ns();
        nrec = virDomainListGetStats(doms, VIR_DOMAIN_STATS_VM | VIR_DOMAIN_STATS_VCPU, &recs, 0);
        if (r >= 0) {
            t[r] = mono_ns() - s0;
            cpu[r] = cpu_ns() - c0 + (lpid ? proc_cpu_ns(lpid) - l0 : 0);
            q[r] = answered(pids_cpu_ns(qp, n) - q0, t[r], idle);
        }
        nparams = 0;
        for (int i = 0; i < nrec; i++)
            nparams += recs[i]->nparams;
        if (recs)
            virDomainStatsRecordListFree(recs);
    }
    qsort(t, (size_t)reps, sizeof(t[0]), cmp_u64);
    qsort(cpu, (size_t)reps, sizeof(cpu[0]), cmp_u64);
    qsort(q, (size_t)reps, sizeof(q[0]), cmp_u64);
    {
        char note[160];
        uint64_t lc = cpu[reps / 2], lq = q[reps / 2];
        snprintf(note, sizeof(note),
                 "uniserver QMP: %.1fx less wall, %.1fx less collector CPU, %.1fx less CPU with QEMU's%s",
                 (double)t[reps / 2] / (double)ours_med, (double)lc / (double)(ours_cpu ? ours_cpu : 1),
                 (double)(lc + lq) / (double)(ours_cpu + ours_qemu ? ours_cpu + ours_qemu : 1),
                 lpid ? "" : " (libvirtd's own CPU not counted: no /run/libvirtd.pid)");
        row(n, "libvirt GetAllDomainStats vm+vcpu", t[reps / 2], t[reps * 9 / 10], lc, lq, nparams, note);
    }
out:
    for (int i = 0; i < started; i++) {
        virDomainDestroy(doms[i]);
        virDomainFree(doms[i]);
    }
    virConnectClose(c);
}

int main(int argc, char **argv) {
    const char *counts = argc > 1 ? argv[1] : "1,10,50";
    int reps = argc > 2 ? atoi(argv[2]) : 20;
    static const char *const kvm[] = {"kvm", NULL};
    char *list = strdup(counts), *save = NULL;

    if (access("/dev/kvm", R_OK | W_OK) != 0 || access(TINYGUEST_PATH, R_OK) != 0) {
        printf("SKIP: bench-vms needs /dev/kvm, QEMU and %s\n", TINYGUEST_PATH);
        return 0;
    }
    if (!mkdtemp(tmpdir))
        return 1;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    atexit(remove_tmpdir);
    printf("One collection of every VM's KVM statistics (median and p90 of %d), idle 1-vCPU tiny guests\n", reps);
    printf("%4s  %-36s %12s %12s %14s %16s %16s %6s\n", "VMs", "path", "wall median", "wall p90", "wall per VM",
           "collector CPU", "QEMU answering", "values");
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int n = atoi(tok);
        uniConnectPtr qmp, bin;
        uniDomainPtr doms[MAXG + 1] = {0};
        uint64_t med, p90, qmp_med, qmp_cpu, qmp_qemu, t0;
        int samples;
        char note[96];

        if (n < 1 || n > MAXG)
            continue;
        t0 = mono_ns();
        for (int i = 0; i < n; i++)
            if (boot(i) < 0) {
                fprintf(stderr, "cannot boot guest %d\n", i);
                return 1;
            }
        fprintf(stderr, "  (booted %d guests in %.1f s)\n", n, (mono_ns() - t0) / 1e9);
        /* Only this bench's guests, and no libvirt: the path itself. */
        qmp = uniConnectOpen("uniserver:///system?libvirt=", 0);
        bin = uniConnectOpen("uniserver:///system?libvirt=&kvmstats=binary", 0);
        for (int i = 0; i < n; i++) {
            char name[64];
            snprintf(name, sizeof(name), "bench-%d-%d", (int)getpid(), i);
            doms[i] = uniDomainLookupByName(qmp, name, 0);
            if (!doms[i]) {
                fprintf(stderr, "lookup %s: %s\n", name, uniGetLastError()->message);
                return 1;
            }
        }
        if (measure(doms, kvm, reps, &qmp_med, &p90, &samples) < 0)
            return 1;
        row(n, "uniserver QMP query-stats (default)", qmp_med, p90, last_cpu_med, last_qemu_med, samples, "");
        qmp_cpu = last_cpu_med;
        qmp_qemu = last_qemu_med;
        if (measure(doms, NULL, reps, &med, &p90, &samples) < 0)
            return 1;
        row(n, "uniserver whole record (QMP)", med, p90, last_cpu_med, last_qemu_med, samples, "every dom.* key");
        {
            /* The binary path on its own connection: its domains, then the one-time setup. */
            uniDomainPtr bd[MAXG + 1] = {0};
            uniDomainStatsRecordPtr *st = NULL;
            uint64_t setup;
            for (int i = 0; i < n; i++)
                bd[i] = uniDomainLookupByName(bin, uniDomainGetName(doms[i]), 0);
            t0 = mono_ns();
            if (uniDomainListGetStats(bd, kvm, &st, 0) < 0)
                return 1;
            setup = mono_ns() - t0;
            uniDomainStatsRecordListFree(st);
            if (measure(bd, kvm, reps, &med, &p90, &samples) < 0)
                return 1;
            snprintf(note, sizeof(note), "setup once %.1f ms (%.2f ms/VM); %.0fx cheaper than QMP", setup / 1e6,
                     setup / 1e6 / n, (double)qmp_med / (double)med);
            row(n, "uniserver binary stats (opt-in)", med, p90, last_cpu_med, last_qemu_med, samples, note);
            for (int i = 0; i < n; i++)
                uniDomainFree(bd[i]);
        }
        for (int i = 0; i < n; i++)
            uniDomainFree(doms[i]);
        uniConnectClose(qmp);
        uniConnectClose(bin);
        kill_guests();
        bench_libvirt(n, reps, qmp_med, qmp_cpu, qmp_qemu);
        fflush(stdout);
    }
    printf("kvm_stat one-shot: not run (not packaged in Debian 12; its debugfs counters are blocked by kernel lockdown "
           "here)\n");
    free(list);
    return 0;
}
