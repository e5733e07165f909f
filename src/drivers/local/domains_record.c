/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's VMs: one VM's record (spec Tables 1 and 3) from /proc, taskstats, perf, QMP
 * and libvirt. */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>

#include "domains_internal.h"

/* ---------------------------------------------------------------------------------------------
 * One VM's record
 * ------------------------------------------------------------------------------------------- */

static void absent_all(vm_ctx *c, const unsigned *ms, size_t n, const char *why) {
    for (size_t i = 0; i < n; i++)
        rec_absent(c->rec, ms[i], "%s", why);
}

static const unsigned proc_metrics[] = {
    UNI_M_DOM_CPU_TIME_MS, UNI_M_DOM_CPU_UTIL_PCT,    UNI_M_DOM_MEM_MB,
    UNI_M_DOM_MEM_PCT,     UNI_M_DOM_MEM_RESIDENT_MB, UNI_M_DOM_INTERRUPT_MS,
    UNI_M_DOM_PID,         UNI_M_DOM_SWAP_WAIT_MS,    UNI_M_DOM_SWAP_WAIT_PCT,
};
const unsigned vcpu_metrics[] = {
    UNI_M_DOM_CPU_COUNT,      UNI_M_DOM_VCPU_V_TIME_MS, UNI_M_DOM_VCPU_V_CPU,
    UNI_M_DOM_VCPU_V_PINNING, UNI_M_DOM_VCPU_V_TID,     UNI_M_DOM_VCPU_V_WAIT_MS,
};
const unsigned perf_metrics[] = {
    UNI_M_DOM_PERF_CYCLES,
    UNI_M_DOM_PERF_INSTRUCTIONS,
    UNI_M_DOM_PERF_CACHE_REFERENCES,
    UNI_M_DOM_PERF_CACHE_MISSES,
};
const unsigned net_metrics[] = {
    UNI_M_DOM_NET_I_NAME,       UNI_M_DOM_NET_I_MAC,           UNI_M_DOM_NET_I_FREF,
    UNI_M_DOM_NET_I_RX_BYTES,   UNI_M_DOM_NET_I_RX_PACKETS,    UNI_M_DOM_NET_I_TX_BYTES,
    UNI_M_DOM_NET_I_TX_PACKETS, UNI_M_DOM_NET_I_RX_BYTES_RATE, UNI_M_DOM_NET_I_TX_BYTES_RATE,
};
const unsigned disk_metrics[] = {
    UNI_M_DOM_DISK_I_DEVICE,           UNI_M_DOM_DISK_I_READ_BYTES,
    UNI_M_DOM_DISK_I_READ_REQUESTS,    UNI_M_DOM_DISK_I_WRITE_BYTES,
    UNI_M_DOM_DISK_I_WRITE_REQUESTS,   UNI_M_DOM_DISK_I_ERRORS,
    UNI_M_DOM_DISK_I_READ_BYTES_RATE,  UNI_M_DOM_DISK_I_READ_REQUESTS_RATE,
    UNI_M_DOM_DISK_I_WRITE_BYTES_RATE, UNI_M_DOM_DISK_I_WRITE_REQUESTS_RATE,
    UNI_M_DOM_DISK_I_LATENCY_MS,       UNI_M_DOM_DISK_I_IOPS,
    UNI_M_DOM_DISK_I_CAPACITY_BYTES,   UNI_M_DOM_DISK_I_ALLOCATION_BYTES,
    UNI_M_DOM_DISK_I_PHYSICAL_BYTES,
};
const unsigned kvm_metrics[] = {UNI_M_DOM_KVM_NAME, UNI_M_DOM_VCPU_V_KVM_NAME, UNI_M_DOM_KVMSTATS_SOURCE};

static void collect_proc(vm_ctx *c, const pid_stat *ps) {
    uint64_t exec = ps->utime + ps->stime;
    double mem_mb = (double)ps->rss_pages * (double)c->s->pagesize / 1048576.0;

    rec_u64(c->rec, UNI_M_DOM_PID, -1, NULL, (uint64_t)c->v->pid);
    rec_u64(c->rec, UNI_M_DOM_CPU_TIME_MS, -1, NULL, ticks_ms(c, exec));
    /* Spec Table 3: VM interruption time = execution time - guest time, of the QEMU process
     * (its /proc/PID/stat sums every thread, vCPUs included, live and exited). utime includes
     * guest time. */
    if (ps->have_guest_time)
        rec_u64(c->rec, UNI_M_DOM_INTERRUPT_MS, -1, NULL,
                ticks_ms(c, exec > ps->guest_time ? exec - ps->guest_time : 0));
    else
        rec_absent(c->rec, UNI_M_DOM_INTERRUPT_MS, "no guest_time in /proc/%d/stat (kernel before 2.6.24)",
                   (int)c->v->pid);
    rec_dbl(c->rec, UNI_M_DOM_MEM_MB, -1, NULL, mem_mb);
    if (!isnan(c->mem_total_mb) && c->mem_total_mb > 0)
        rec_dbl(c->rec, UNI_M_DOM_MEM_PCT, -1, NULL, 100.0 * mem_mb / c->mem_total_mb);
    else
        rec_absent(c->rec, UNI_M_DOM_MEM_PCT, "no MemTotal in %s/meminfo", c->s->procfs);
    /* VmRSS of /proc/PID/status is the same counter as stat's rss (get_mm_rss: anon + file +
     * shmem pages), and status costs the kernel ten times as much to format. */
    rec_dbl(c->rec, UNI_M_DOM_MEM_RESIDENT_MB, -1, NULL, mem_mb);
    /* Utilisation of the VM's vCPUs over the window: CPU time / (window x vCPUs). */
    if (c->v->have_prev_cpu && c->now > c->v->prev_cpu_ns && exec >= c->v->prev_cpu_ticks) {
        double win_ms = (double)(c->now - c->v->prev_cpu_ns) / 1e6;
        unsigned nv = 0;
        for (unsigned i = 0; i < c->nvcpu; i++)
            nv += c->threads[i].index >= 0;
        if (!nv)
            nv = c->v->cmd.smp ? c->v->cmd.smp : 1;
        rec_dbl(c->rec, UNI_M_DOM_CPU_UTIL_PCT, -1, NULL,
                100.0 * (double)ticks_ms(c, exec - c->v->prev_cpu_ticks) / (win_ms * nv));
    } else
        rec_absent(c->rec, UNI_M_DOM_CPU_UTIL_PCT, "first sample: rates need a second sample (a window)");
    c->v->prev_cpu_ticks = exec;
    c->v->prev_cpu_ns = c->now;
    c->v->have_prev_cpu = true;
}

/* Is delay accounting on? Read once per collection (vms_domain_stats), not once per VM. */
static bool delayacct_on(vms_state *s, int *ret_err) {
    if (!s->dacct_read) {
        uint64_t v = 0;
        if (s->dacct_fd < 0)
            s->dacct_fd = openat(s->proc_fd, "sys/kernel/task_delayacct", O_RDONLY | O_CLOEXEC);
        s->dacct_err = s->dacct_fd < 0 ? -errno : pread_u64(s->dacct_fd, &v);
        s->dacct_on = s->dacct_err == 0 && v != 0;
        s->dacct_read = true;
    }
    *ret_err = s->dacct_err;
    return s->dacct_on;
}

static void collect_swap(vm_ctx *c) {
    vms_state *s = c->s;
    taskstats_delays d;
    int r, dr;

    if (!wants(c, UNI_M_DOM_SWAP_WAIT_MS) && !wants(c, UNI_M_DOM_SWAP_WAIT_PCT))
        return;
    if (!s->host_proc) {
        absent_all(c, (const unsigned[]){UNI_M_DOM_SWAP_WAIT_MS, UNI_M_DOM_SWAP_WAIT_PCT}, 2,
                   "swap-in delay comes from taskstats (netlink), on this host's /proc only");
        return;
    }
    if (!delayacct_on(s, &dr)) {
        const char *why =
            dr == 0
                ? "delay accounting is off: swap-in wait is not measured (sysctl kernel.task_delayacct=1 turns it on, "
                  "or boot with delayacct)"
                : "no /proc/sys/kernel/task_delayacct: this kernel has no delay accounting (CONFIG_TASK_DELAY_ACCT)";
        absent_all(c, (const unsigned[]){UNI_M_DOM_SWAP_WAIT_MS, UNI_M_DOM_SWAP_WAIT_PCT}, 2, why);
        return;
    }
    if (!s->ts_tried) {
        s->ts_tried = true;
        s->ts_err = taskstats_open(&s->ts);
    }
    r = s->ts ? taskstats_get_tgid(s->ts, c->v->pid, &d) : s->ts_err;
    if (r < 0) {
        char why[160];
        snprintf(why, sizeof(why), "taskstats (generic netlink) failed for PID %d: %s%s", (int)c->v->pid, strerror(-r),
                 r == -EPERM || r == -EACCES ? " (needs CAP_NET_ADMIN)" : "");
        absent_all(c, (const unsigned[]){UNI_M_DOM_SWAP_WAIT_MS, UNI_M_DOM_SWAP_WAIT_PCT}, 2, why);
        return;
    }
    rec_u64(c->rec, UNI_M_DOM_SWAP_WAIT_MS, -1, NULL, d.swapin_delay_total_ns / 1000000);
    if (c->v->have_prev_swap && c->now > c->v->prev_swap_t_ns && d.swapin_delay_total_ns >= c->v->prev_swap_ns)
        rec_dbl(c->rec, UNI_M_DOM_SWAP_WAIT_PCT, -1, NULL,
                100.0 * (double)(d.swapin_delay_total_ns - c->v->prev_swap_ns) /
                    (double)(c->now - c->v->prev_swap_t_ns));
    else
        rec_absent(c->rec, UNI_M_DOM_SWAP_WAIT_PCT, "first sample: rates need a second sample (a window)");
    c->v->prev_swap_ns = d.swapin_delay_total_ns;
    c->v->prev_swap_t_ns = c->now;
    c->v->have_prev_swap = true;
}

static void collect_perf(vm_ctx *c) {
    vms_state *s = c->s;
    pid_t tids[MAX_VCPUS];
    size_t n = 0;
    uint64_t counts[PERF_NEVENTS];
    int r;

    if (!wants_any(c, perf_metrics, ELEMENTSOF(perf_metrics)))
        return;
    if (!s->host_proc) {
        absent_all(c, perf_metrics, ELEMENTSOF(perf_metrics),
                   "perf counters are read with perf_event_open(), on this host only");
        return;
    }
    if (!s->perf_probed) {
        s->perf_probed = true;
        s->perf_err = perf_probe(s->perf_why, sizeof(s->perf_why));
    }
    if (s->perf_err < 0) {
        absent_all(c, perf_metrics, ELEMENTSOF(perf_metrics), s->perf_why);
        return;
    }
    for (unsigned i = 0; i < c->nvcpu && n < MAX_VCPUS; i++)
        if (c->threads[i].index >= 0)
            tids[n++] = c->threads[i].tid;
    if (n == 0) {
        absent_all(c, perf_metrics, ELEMENTSOF(perf_metrics), "the vCPU threads are not known (see dom.vcpu.V.tid)");
        return;
    }
    r = perf_vm_read(&c->v->perf, tids, n, counts);
    if (r < 0) {
        char why[128];
        snprintf(why, sizeof(why), "perf_event_open on the vCPU threads failed: %s", strerror(-r));
        absent_all(c, perf_metrics, ELEMENTSOF(perf_metrics), why);
        return;
    }
    for (int e = 0; e < PERF_NEVENTS; e++)
        rec_u64(c->rec, perf_metrics[e], -1, NULL, counts[e]);
}

/* Rates of a device's counters against the previous sample of the same name. */
static io_prev *find_prev(io_prev *p, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (streq(p[i].name, name))
            return &p[i];
    return NULL;
}

static double rate(uint64_t cur, uint64_t prev, double win_s) {
    return cur >= prev ? (double)(cur - prev) / win_s : NAN;
}

static void collect_net(vm_ctx *c) {
    vm *v = c->v;
    io_prev *np;
    size_t nn = 0;
    double win_s = v->net_prev_ns && c->now > v->net_prev_ns ? (double)(c->now - v->net_prev_ns) / 1e9 : 0;

    if (!wants_any(c, net_metrics, ELEMENTSOF(net_metrics)))
        return;
    if (v->cmd.nnics == 0) {
        absent_all(c, net_metrics, ELEMENTSOF(net_metrics), "the VM has no network interface (-netdev, -nic)");
        return;
    }
    np = calloc(v->cmd.nnics, sizeof(*np));
    bool counted = false;
    for (size_t i = 0; np && i < v->cmd.nnics; i++) {
        const qemu_nic *nic = &v->cmd.nics[i];
        const char *name = nic->ifname ? nic->ifname : nic->id ? nic->id : nic->type ? nic->type : "nic";
        netdev_counters nc;
        int r;
        rec_str(c->rec, UNI_M_DOM_NET_I_NAME, (int)i, NULL, name);
        if (nic->mac)
            rec_str(c->rec, UNI_M_DOM_NET_I_MAC, (int)i, NULL, nic->mac);
        if (!nic->ifname || !c->netdev)
            continue;
        r = parse_net_dev(c->netdev, c->netdev_len, nic->ifname, &nc);
        if (r < 0)
            continue;
        counted = true;
        /* A tap device counts from the host's side: what it transmits, the guest receives
         * (libvirt swaps them the same way). */
        rec_u64(c->rec, UNI_M_DOM_NET_I_RX_BYTES, (int)i, NULL, nc.tx_bytes);
        rec_u64(c->rec, UNI_M_DOM_NET_I_RX_PACKETS, (int)i, NULL, nc.tx_packets);
        rec_u64(c->rec, UNI_M_DOM_NET_I_TX_BYTES, (int)i, NULL, nc.rx_bytes);
        rec_u64(c->rec, UNI_M_DOM_NET_I_TX_PACKETS, (int)i, NULL, nc.rx_packets);
        if (win_s > 0) {
            io_prev *p = find_prev(v->net_prev, v->nnet_prev, nic->ifname);
            if (p) {
                double rx = rate(nc.tx_bytes, p->v[0], win_s), tx = rate(nc.rx_bytes, p->v[1], win_s);
                if (!isnan(rx))
                    rec_dbl(c->rec, UNI_M_DOM_NET_I_RX_BYTES_RATE, (int)i, NULL, rx);
                if (!isnan(tx))
                    rec_dbl(c->rec, UNI_M_DOM_NET_I_TX_BYTES_RATE, (int)i, NULL, tx);
            }
        }
        if ((np[nn].name = strdup(nic->ifname))) {
            np[nn].v[0] = nc.tx_bytes;
            np[nn].v[1] = nc.rx_bytes;
            nn++;
        }
    }
    io_prev_free(v->net_prev, v->nnet_prev);
    v->net_prev = np;
    v->nnet_prev = nn;
    v->net_prev_ns = c->now;
    rec_absent(c->rec, UNI_M_DOM_NET_I_MAC, "no MAC address on the command line (QEMU picks one)");
    rec_absent(c->rec, UNI_M_DOM_NET_I_FREF,
               "filter references are libvirt's (nwfilter); this VM's NICs have none here");
    if (counted) {
        rec_absent(c->rec, UNI_M_DOM_NET_I_RX_BYTES_RATE, "first sample: rates need a second sample (a window)");
        rec_absent(c->rec, UNI_M_DOM_NET_I_TX_BYTES_RATE, "first sample: rates need a second sample (a window)");
    } else {
        const char *why =
            "no host tap interface (ifname=) for the VM's NICs in /proc/net/dev (user-mode or passed-fd networking)";
        for (size_t i = 3; i < ELEMENTSOF(net_metrics); i++)
            rec_absent(c->rec, net_metrics[i], "%s", why);
    }
}

static const char *qmp_failure(const vm_ctx *c, qmp_query q, char *buf, size_t len) {
    if (!c->s->host_proc)
        return "QMP monitors are reached on this host's /proc only";
    if (!c->v->qmp) {
        if (c->v->in_libvirt)
            return "libvirt holds this VM's QMP monitor";
        return c->v->cmd.qmp_fd_only ? "QEMU's QMP monitor is on a passed file descriptor, not a socket path"
                                     : "QEMU has no QMP monitor on a unix socket (-qmp unix:PATH,server=on,wait=off)";
    }
    if (c->stopped)
        return "the QEMU process is stopped (SIGSTOP or a debugger): its QMP monitor cannot answer";
    if (!c->job)
        return "QMP was not asked";
    if (c->job->error[q]) {
        snprintf(buf, len, "QMP %s failed: %s",
                 q == QMP_Q_STATS_VM || q == QMP_Q_STATS_VCPU ? "query-stats (QEMU >= 7.1)" : "query",
                 c->job->error[q]);
        return buf;
    }
    if (c->job->why[0])
        return c->job->why;
    return "QMP gave no answer";
}

static void collect_disks(vm_ctx *c) {
    vm *v = c->v;
    qmp_disk *disks = NULL;
    size_t nd = 0;
    char why[256];
    io_prev *np;
    size_t nn = 0;
    double win_s = v->disk_prev_ns && c->now > v->disk_prev_ns ? (double)(c->now - v->disk_prev_ns) / 1e9 : 0;

    if (!wants_any(c, disk_metrics, ELEMENTSOF(disk_metrics)))
        return;
    if (!c->job || !qmp_reply(c->job, QMP_Q_BLOCKSTATS)) {
        absent_all(c, disk_metrics, ELEMENTSOF(disk_metrics), qmp_failure(c, QMP_Q_BLOCKSTATS, why, sizeof(why)));
        return;
    }
    if (qmp_parse_blockstats(qmp_reply(c->job, QMP_Q_BLOCKSTATS), &disks, &nd) < 0) {
        absent_all(c, disk_metrics, ELEMENTSOF(disk_metrics), "malformed QMP query-blockstats reply");
        return;
    }
    if (nd == 0) {
        qmp_disks_free(disks, nd);
        absent_all(c, disk_metrics, ELEMENTSOF(disk_metrics), "the VM has no disk");
        return;
    }
    if (qmp_reply(c->job, QMP_Q_BLOCK))
        qmp_apply_block(qmp_reply(c->job, QMP_Q_BLOCK), disks, nd);
    np = calloc(nd, sizeof(*np));
    for (size_t i = 0; i < nd; i++) {
        qmp_disk *d = &disks[i];
        io_prev *p = win_s > 0 ? find_prev(v->disk_prev, v->ndisk_prev, d->device) : NULL;
        rec_str(c->rec, UNI_M_DOM_DISK_I_DEVICE, (int)i, NULL, d->device);
        rec_u64(c->rec, UNI_M_DOM_DISK_I_READ_BYTES, (int)i, NULL, d->rd_bytes);
        rec_u64(c->rec, UNI_M_DOM_DISK_I_READ_REQUESTS, (int)i, NULL, d->rd_ops);
        rec_u64(c->rec, UNI_M_DOM_DISK_I_WRITE_BYTES, (int)i, NULL, d->wr_bytes);
        rec_u64(c->rec, UNI_M_DOM_DISK_I_WRITE_REQUESTS, (int)i, NULL, d->wr_ops);
        rec_u64(c->rec, UNI_M_DOM_DISK_I_ERRORS, (int)i, NULL, d->failed_rd + d->failed_wr);
        if (d->have_capacity) {
            rec_u64(c->rec, UNI_M_DOM_DISK_I_CAPACITY_BYTES, (int)i, NULL, d->capacity);
            rec_u64(c->rec, UNI_M_DOM_DISK_I_ALLOCATION_BYTES, (int)i, NULL, d->allocation);
        }
        if (p && d->rd_ops >= p->v[1] && d->wr_ops >= p->v[3]) {
            uint64_t dops = (d->rd_ops - p->v[1]) + (d->wr_ops - p->v[3]);
            uint64_t dtime = d->rd_time_ns + d->wr_time_ns - p->v[4];
            rec_dbl(c->rec, UNI_M_DOM_DISK_I_READ_BYTES_RATE, (int)i, NULL, rate(d->rd_bytes, p->v[0], win_s));
            rec_dbl(c->rec, UNI_M_DOM_DISK_I_READ_REQUESTS_RATE, (int)i, NULL, rate(d->rd_ops, p->v[1], win_s));
            rec_dbl(c->rec, UNI_M_DOM_DISK_I_WRITE_BYTES_RATE, (int)i, NULL, rate(d->wr_bytes, p->v[2], win_s));
            rec_dbl(c->rec, UNI_M_DOM_DISK_I_WRITE_REQUESTS_RATE, (int)i, NULL, rate(d->wr_ops, p->v[3], win_s));
            rec_dbl(c->rec, UNI_M_DOM_DISK_I_IOPS, (int)i, NULL, (double)dops / win_s);
            if (dops > 0 && d->rd_time_ns + d->wr_time_ns >= p->v[4])
                rec_dbl(c->rec, UNI_M_DOM_DISK_I_LATENCY_MS, (int)i, NULL, (double)dtime / 1e6 / (double)dops);
        }
        if (np && (np[nn].name = strdup(d->device))) {
            np[nn].v[0] = d->rd_bytes;
            np[nn].v[1] = d->rd_ops;
            np[nn].v[2] = d->wr_bytes;
            np[nn].v[3] = d->wr_ops;
            np[nn].v[4] = d->rd_time_ns + d->wr_time_ns;
            nn++;
        }
    }
    qmp_disks_free(disks, nd);
    io_prev_free(v->disk_prev, v->ndisk_prev);
    v->disk_prev = np;
    v->ndisk_prev = nn;
    v->disk_prev_ns = c->now;
    {
        const char *first = "first sample: rates need a second sample (a window)";
        for (size_t i = 6; i < 12; i++)
            rec_absent(c->rec, disk_metrics[i], "%s",
                       i == 10 ? "no I/O in the window (latency is time per request)" : first);
    }
    rec_absent(c->rec, UNI_M_DOM_DISK_I_CAPACITY_BYTES, "no medium in the drive (QMP query-block)");
    rec_absent(c->rec, UNI_M_DOM_DISK_I_ALLOCATION_BYTES, "no medium in the drive (QMP query-block)");
    rec_absent(c->rec, UNI_M_DOM_DISK_I_PHYSICAL_BYTES, "QMP does not report the host size of an image (libvirt does)");
}

/* The vCPUs' qom-paths, indexed by vCPU number, from query-cpus-fast (for query-stats). */
static char **qom_map(qmp_job *j, size_t *ret_n) {
    qmp_cpu *cpus = NULL;
    size_t nc = 0, n = 0;
    char **map;

    if (!qmp_reply(j, QMP_Q_CPUS) || qmp_parse_cpus(qmp_reply(j, QMP_Q_CPUS), &cpus, &nc) < 0)
        return NULL;
    for (size_t i = 0; i < nc; i++)
        if ((size_t)cpus[i].index + 1 > n)
            n = (size_t)cpus[i].index + 1;
    map = calloc(n ? n : 1, sizeof(*map));
    for (size_t i = 0; map && i < nc; i++)
        map[cpus[i].index] = TAKE_PTR(cpus[i].qom_path);
    qmp_cpus_free(cpus, nc);
    *ret_n = n;
    return map;
}

/* The kinds of the statistics first seen in this collection, from QEMU's schemas (a search of
 * them per statistic: done once per entry, not per collection). */
static void kind_fix(kstats *k, json_object *schemas) {
    for (size_t i = 0; i < k->n && schemas; i++) {
        bool vcpu = k->e[i].vm_round != k->round;
        if (k->e[i].kind_fixed)
            continue;
        kstat_set_kind(&k->e[i], qmp_stat_kind(schemas, vcpu ? "vcpu" : "vm", k->e[i].name));
        k->e[i].kind_fixed = true;
    }
}

static void collect_kvm(vm_ctx *c, kstats *k) {
    vms_state *s = c->s;
    char why[256];

    if (!wants_any(c, kvm_metrics, ELEMENTSOF(kvm_metrics)) || rec_has(c->rec, UNI_M_DOM_KVMSTATS_SOURCE))
        return;
    if (s->ksrc == KSRC_OFF) {
        absent_all(c, kvm_metrics, ELEMENTSOF(kvm_metrics),
                   "KVM statistics are turned off on this connection (?kvmstats=off)");
        return;
    }
    if (s->ksrc == KSRC_BINARY) {
        int r;
        if (!c->v->have_proc) {
            absent_all(c, kvm_metrics, ELEMENTSOF(kvm_metrics),
                       "binary KVM statistics need the VM's QEMU process on this host");
            return;
        }
        if (!s->host_proc) {
            absent_all(c, kvm_metrics, ELEMENTSOF(kvm_metrics), "binary KVM statistics need this host's /proc");
            return;
        }
        if (!c->v->bin && c->v->bin_why && c->v->bin_retry_ns && now_ns() >= c->v->bin_retry_ns) {
            free(c->v->bin_why);
            c->v->bin_why = NULL;
        }
        if (!c->v->bin && !c->v->bin_why && (r = kvm_binstats_open(c->v->pid, &c->v->bin, why, sizeof(why))) < 0) {
            /* A thread that did not stop in time, or a vCPU thread not found (QEMU starting), is
             * tried again 5 s later; a refusal (no ptrace right, an old kernel) is final. */
            c->v->bin_why = strdup(why);
            c->v->bin_retry_ns = r == -EAGAIN || r == -EBUSY || r == -ESRCH ? now_ns() + 5000000000ULL : 0;
        }
        if (!c->v->bin) {
            absent_all(c, kvm_metrics, ELEMENTSOF(kvm_metrics), c->v->bin_why ? c->v->bin_why : "out of memory");
            return;
        }
        kstats_begin(k, kvm_binstats_nvcpu(c->v->bin));
        r = kvm_binstats_read(c->v->bin, kstats_cb, k);
        if (r < 0 || k->err < 0) {
            snprintf(why, sizeof(why), "reading the KVM binary statistics failed: %s", strerror(-(r < 0 ? r : k->err)));
            absent_all(c, kvm_metrics, ELEMENTSOF(kvm_metrics), why);
            kstats_begin(k, k->nvcpu);
            return;
        }
        rec_str(c->rec, UNI_M_DOM_KVMSTATS_SOURCE, -1, NULL, "binary");
        return;
    }
    if (!c->job || (!c->job->text[QMP_Q_STATS_VM] && !c->job->text[QMP_Q_STATS_VCPU])) {
        const char *w = qmp_failure(c, QMP_Q_STATS_VM, why, sizeof(why));
        if (c->v->in_libvirt && !c->v->qmp)
            w = "libvirt holds this VM's QMP monitor: KVM statistics through libvirt need a libvirtd "
                "(?libvirt=qemu:///system) "
                "with the vm/vcpu stats groups, or ?kvmstats=binary";
        absent_all(c, kvm_metrics, ELEMENTSOF(kvm_metrics), w);
        return;
    }
    {
        /* vCPU numbers come from query-cpus-fast's QOM paths, asked again only when the map
         * misses a vCPU (hot-plug). */
        size_t npaths = 0, known = 0;
        char **paths = c->job->text[QMP_Q_CPUS] ? qom_map(c->job, &npaths) : NULL;
        const char *vmst = c->job->text[QMP_Q_STATS_VM], *vcpus = c->job->text[QMP_Q_STATS_VCPU];
        int nres = 0;
        if (paths) {
            qom_drop(c->v);
            c->v->qom = paths;
            c->v->nqom = npaths;
            c->v->qom_stale = false;
        }
        for (size_t i = 0; i < c->v->nqom; i++)
            known += c->v->qom[i] != NULL;
        kstats_begin(k, (unsigned)c->v->nqom);
        if (vmst && qmp_parse_stats(vmst, c->job->len[QMP_Q_STATS_VM], NULL, 0, kstats_cb, k) < 0)
            k->err = -EBADMSG;
        if (vcpus && c->v->nqom &&
            (nres = qmp_parse_stats(vcpus, c->job->len[QMP_Q_STATS_VCPU], (const char *const *)c->v->qom, c->v->nqom,
                                    kstats_cb, k)) < 0)
            k->err = -EBADMSG;
        if (vcpus && nres >= 0 && (size_t)nres != known)
            c->v->qom_stale = true;
    }
    if (k->err < 0) {
        absent_all(c, kvm_metrics, ELEMENTSOF(kvm_metrics),
                   k->err == -ENOMEM ? "out of memory" : "malformed QMP query-stats reply");
        kstats_begin(k, k->nvcpu);
        return;
    }
    if (qmp_reply(c->job, QMP_Q_SCHEMAS) && !s->schemas)
        s->schemas = json_object_get(qmp_reply(c->job, QMP_Q_SCHEMAS));
    kind_fix(k, s->schemas);
    rec_str(c->rec, UNI_M_DOM_KVMSTATS_SOURCE, -1, NULL, "qmp");
    if (!c->job->text[QMP_Q_STATS_VCPU] || k->nvcpu == 0)
        rec_absent(c->rec, UNI_M_DOM_VCPU_V_KVM_NAME, "%s", qmp_failure(c, QMP_Q_STATS_VCPU, why, sizeof(why)));
}

static const char *proc_state(char st) {
    switch (st) {
    case 'T':
    case 't':
        return "paused"; /* stopped by a signal or a tracer */
    case 'Z':
    case 'X':
        return "shut off";
    default:
        return "running";
    }
}

/* What the VM's libvirt metadata says: Nova's instance (OpenStack's names for it) and the
 * reliability requirement. */
static void collect_meta(vm_ctx *c) {
    const vm *v = c->v;
    const struct {
        unsigned metric;
        const char *value;
    } nova[] = {
        {UNI_M_DOM_OPENSTACK_NAME, v->meta.name},
        {UNI_M_DOM_OPENSTACK_FLAVOR, v->meta.flavor},
        {UNI_M_DOM_OPENSTACK_USER_ID, v->meta.user_id},
        {UNI_M_DOM_OPENSTACK_PROJECT_ID, v->meta.project_id},
        {UNI_M_DOM_OPENSTACK_PROJECT_NAME, v->meta.project_name},
    };
    const char *why = !v->in_libvirt  ? "not a libvirt domain (Nova's metadata is kept in libvirt's domain XML)"
                      : !v->meta.nova ? "the libvirt domain has no Nova metadata (not an OpenStack instance)"
                                      : "Nova's metadata of the domain does not say";
    for (size_t i = 0; i < ELEMENTSOF(nova); i++) {
        if (nova[i].value)
            rec_str(c->rec, nova[i].metric, -1, NULL, nova[i].value);
        else
            rec_absent(c->rec, nova[i].metric, "%s", why);
    }
    const char *cls = v->in_libvirt ? NULL : vms_reliability_of(c->s, v);
    int fcls = v->in_libvirt && !v->meta.reliability ? vms_flavor_class(c->s, v->meta.flavor) : -ENOENT;
    if (v->meta.reliability) /* uniDomainSetReliability's: it wins over the flavor's */
        rec_str(c->rec, UNI_M_DOM_RELIABILITY, -1, NULL, v->meta.reliability);
    else if (cls) /* uniDomainSetReliability's, in the state file */
        rec_str(c->rec, UNI_M_DOM_RELIABILITY, -1, NULL, cls);
    else if (fcls >= 0) /* the flavor's extra spec uniserver:reliability, through the agent's table */
        rec_str(c->rec, UNI_M_DOM_RELIABILITY, -1, NULL, uni_reliability_name(fcls));
    else if (v->in_libvirt && v->meta.flavor)
        rec_absent(c->rec, UNI_M_DOM_RELIABILITY,
                   "no reliability requirement has been set for this VM (libvirt metadata element <reliability> of "
                   "namespace " LV_UNISERVER_NS "), and flavor '%s' has no class in %s",
                   v->meta.flavor, vms_flavor_classes_path(c->s));
    else if (v->in_libvirt)
        rec_absent(c->rec, UNI_M_DOM_RELIABILITY,
                   "no reliability requirement has been set for this VM (libvirt metadata element <reliability> of "
                   "namespace " LV_UNISERVER_NS ")");
    else
        rec_absent(c->rec, UNI_M_DOM_RELIABILITY,
                   "no reliability requirement has been set for this VM (not a libvirt domain)");
}

/* What libvirt says of the VM (lv_fill), and its KVM statistics through libvirt when @kvm, for
 * @nvcpu vCPU slots: lv_fill's answer (1: libvirt had statistics of it). */
static int fill_libvirt(vm_ctx *c, unsigned nvcpu, bool kvm) {
    kstats *k = &c->v->ks;
    int found;
    kstats_begin(k, nvcpu);
    found = lv_fill(c->s->lv, c->lvst, c->v->uuid, c->rec, kvm ? kstats_cb : NULL, k, &c->v->lvl);
    if (k->nseen) {
        rec_str(c->rec, UNI_M_DOM_KVMSTATS_SOURCE, -1, NULL, "libvirt");
        kstats_emit(k, c->rec);
    }
    return found;
}

/* The whole record of VM @v (with its QMP answers in c->job). */
int collect_vm(vm_ctx *c) {
    vm *v = c->v;
    kstats *k = &v->ks;
    pid_stat ps;
    char why[256];
    const char *state = NULL;
    bool stale = false, need_stat;

    rec_str(c->rec, UNI_M_DOM_SOURCE, -1, NULL,
            v->have_proc && v->in_libvirt ? "process+libvirt"
            : v->have_proc                ? "process"
                                          : "libvirt");
    if (v->uuid[0])
        rec_str(c->rec, UNI_M_DOM_UUID, -1, NULL, v->uuid);
    else
        rec_absent(c->rec, UNI_M_DOM_UUID, "QEMU %d was started without -uuid", (int)v->pid);
    rec_absent(c->rec, UNI_M_DOM_CPU_L3_CACHE_USAGE_KB,
               "no resctrl (Intel RDT CMT / AMD PQoS) monitoring group for this VM");
    rec_absent(c->rec, UNI_M_DOM_MEM_BANDWIDTH_TOTAL_MBPS,
               "no resctrl (Intel RDT MBM / AMD PQoS) monitoring group for this VM");
    rec_absent(c->rec, UNI_M_DOM_MEM_BANDWIDTH_LOCAL_MBPS,
               "no resctrl (Intel RDT MBM / AMD PQoS) monitoring group for this VM");
    collect_meta(c);
    if (!v->have_proc) {
        const char *w = v->lv_active
                            ? "libvirt does not report it for this domain, and it has no QEMU process on this host"
                            : "the domain is not running";
        int found = 0;
        if (v->in_libvirt) {
            found = fill_libvirt(c, 256, v->lv_active && wants_any(c, kvm_metrics, 2));
        }
        if (!rec_has(c->rec, UNI_M_DOM_STATE))
            rec_str(c->rec, UNI_M_DOM_STATE, -1, NULL, v->lv_active ? "running" : "shut off");
        rec_u64(c->rec, UNI_M_DOM_STALE, -1, NULL, v->lv_active && !found ? 1 : 0);
        if (v->lv_active && !found)
            w = "libvirt gave no statistics of this domain without waiting (busy with a job): stale";
        absent_all(c, proc_metrics, ELEMENTSOF(proc_metrics), w);
        absent_all(c, vcpu_metrics, ELEMENTSOF(vcpu_metrics), w);
        absent_all(c, perf_metrics, ELEMENTSOF(perf_metrics), w);
        absent_all(c, net_metrics, ELEMENTSOF(net_metrics), w);
        absent_all(c, disk_metrics, ELEMENTSOF(disk_metrics), w);
        absent_all(c, kvm_metrics, ELEMENTSOF(kvm_metrics), w);
        rec_absent(c->rec, UNI_M_DOM_MEM_USAGE_MB, "%s", w);
        return 0;
    }
    /* /proc/PID/stat only when the selection needs what it says (a KVM-only collection through
     * the binary stats reads nothing else); the pidfd says whether the process is still there. */
    need_stat =
        wants_any(c, proc_metrics, ELEMENTSOF(proc_metrics)) || wants_any(c, vcpu_metrics, ELEMENTSOF(vcpu_metrics)) ||
        wants_any(c, perf_metrics, ELEMENTSOF(perf_metrics)) || wants(c, UNI_M_DOM_STATE) || wants(c, UNI_M_DOM_STALE);
    memset(&ps, 0, sizeof(ps));
    if (need_stat ? read_vm_stat(c->s, v, &ps) < 0 || ps.starttime != v->starttime : vm_exited(v)) {
        const char *w = "the QEMU process exited during the collection";
        rec_str(c->rec, UNI_M_DOM_STATE, -1, NULL, "shut off");
        absent_all(c, proc_metrics, ELEMENTSOF(proc_metrics), w);
        absent_all(c, vcpu_metrics, ELEMENTSOF(vcpu_metrics), w);
        absent_all(c, kvm_metrics, ELEMENTSOF(kvm_metrics), w);
        return 0;
    }
    if (need_stat)
        c->stopped = ps.state == 'T' || ps.state == 't';
    if ((wants_any(c, vcpu_metrics, ELEMENTSOF(vcpu_metrics)) || wants(c, UNI_M_DOM_CPU_UTIL_PCT) ||
         wants_any(c, perf_metrics, ELEMENTSOF(perf_metrics))) &&
        vm_find_vcpus(c, &ps) < 0)
        c->nvcpu = 0;
    if (wants_any(c, proc_metrics, ELEMENTSOF(proc_metrics)))
        collect_proc(c, &ps);
    vm_collect_vcpus(c);
    collect_swap(c);
    collect_perf(c);
    collect_net(c);
    collect_disks(c);
    /* State: QEMU's own run state where QMP answered, else libvirt's; a stopped process is
     * paused whatever QEMU believes. */
    if (c->job && qmp_reply(c->job, QMP_Q_STATUS) && !c->stopped)
        (void)qmp_parse_status(qmp_reply(c->job, QMP_Q_STATUS), &state);
    if (state || c->stopped || !v->in_libvirt)
        rec_str(c->rec, UNI_M_DOM_STATE, -1, NULL, state ? state : proc_state(ps.state));
    if (v->in_libvirt) {
        /* libvirt holds the monitor of its domains: their KVM statistics, NICs and disks come
         * from libvirt (what /proc gave stays). */
        bool kvm = c->s->ksrc == KSRC_QMP && wants_any(c, kvm_metrics, 2);
        if (!fill_libvirt(c, c->nvcpu ? c->nvcpu : 256, kvm) && !c->stopped)
            stale = true;
    }
    if (!rec_has(c->rec, UNI_M_DOM_STATE))
        rec_str(c->rec, UNI_M_DOM_STATE, -1, NULL, proc_state(ps.state));
    collect_kvm(c, k);
    if (k->nseen)
        kstats_emit(k, c->rec);
    if (wants(c, UNI_M_DOM_MEM_USAGE_MB)) {
        uint64_t b;
        if (c->job && qmp_reply(c->job, QMP_Q_BALLOON) && qmp_parse_balloon(qmp_reply(c->job, QMP_Q_BALLOON), &b) == 0)
            rec_dbl(c->rec, UNI_M_DOM_MEM_USAGE_MB, -1, NULL, (double)b / 1048576.0);
        else if (c->job && c->job->error[QMP_Q_BALLOON])
            rec_absent(c->rec, UNI_M_DOM_MEM_USAGE_MB,
                       "no balloon device (QMP: %s); dom.mem_mb is the QEMU process's RSS",
                       c->job->error[QMP_Q_BALLOON]);
        else
            rec_absent(c->rec, UNI_M_DOM_MEM_USAGE_MB,
                       "the guest's memory use comes from its balloon (QMP query-balloon): %s",
                       qmp_failure(c, QMP_Q_BALLOON, why, sizeof(why)));
    }
    stale = stale || c->stopped || (c->job && c->job->unanswered);
    rec_u64(c->rec, UNI_M_DOM_STALE, -1, NULL, stale ? 1 : 0);
    free(c->threads);
    c->threads = NULL;
    v->prev_ns = c->now;
    return 0;
}
