/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's VMs: a VM's vCPU threads (found by name, cached while QEMU's thread count
 * holds) and their part of its record: each vCPU's time, last core, pinning, thread and run-queue
 * wait (schedstat). The rest of the record: domains_record.c. */
#include <fcntl.h>

#include "domains_internal.h"

/* The vCPU threads from the cache made by the last scan, while QEMU's thread count holds: one
 * pread per vCPU. false when the cache does not hold (a thread left, the count changed). */
static bool vcpus_from_cache(vm_ctx *c, const pid_stat *ps) {
    vcpu_cache *vc = &c->v->vc;
    unsigned maxidx = 0;

    if (!vc->num_threads || vc->num_threads != ps->num_threads)
        return false;
    for (size_t i = 0; i < vc->n; i++)
        if ((unsigned)vc->t[i].index + 1 > maxidx)
            maxidx = (unsigned)vc->t[i].index + 1;
    c->threads = calloc(maxidx ? maxidx : 1, sizeof(*c->threads));
    if (!c->threads)
        return false;
    for (unsigned i = 0; i < maxidx; i++)
        c->threads[i].index = -1;
    for (size_t i = 0; i < vc->n; i++) {
        char buf[1024];
        ssize_t n = pread_full(vc->t[i].fd, buf, sizeof(buf));
        thread_info *t = &c->threads[vc->t[i].index];
        if (n <= 0 || parse_pid_stat(buf, (size_t)n, &t->st) < 0) {
            free(c->threads);
            c->threads = NULL;
            return false;
        }
        t->tid = vc->t[i].tid;
        t->index = vc->t[i].index;
        t->kept = &vc->t[i];
    }
    c->nvcpu = maxidx;
    return true;
}

/* Keep the vCPU threads found by a scan, with their stat files open. */
static void vcpus_to_cache(vm_ctx *c, const pid_stat *ps) {
    vcpu_cache *vc = &c->v->vc;
    vcpu_cache_drop(vc);
    vc->t = calloc(c->nvcpu ? c->nvcpu : 1, sizeof(*vc->t));
    if (!vc->t)
        return;
    for (unsigned i = 0; i < c->nvcpu; i++) {
        char rel[96];
        int fd;
        if (c->threads[i].index < 0)
            continue;
        snprintf(rel, sizeof(rel), "%d/task/%d/stat", (int)c->v->pid, (int)c->threads[i].tid);
        fd = openat(c->s->proc_fd, rel, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            vcpu_cache_drop(vc);
            return;
        }
        snprintf(rel, sizeof(rel), "%d/task/%d/schedstat", (int)c->v->pid, (int)c->threads[i].tid);
        vc->t[vc->n++] = (vcpu_thread_fd){.tid = c->threads[i].tid,
                                          .index = (int)i,
                                          .fd = fd,
                                          .sfd = openat(c->s->proc_fd, rel, O_RDONLY | O_CLOEXEC)};
    }
    vc->num_threads = vc->n ? ps->num_threads : 0;
}

/* The vCPU threads: by name ("CPU N/KVM", QEMU with debug-threads=on), else by QMP's thread-id. */
int vm_find_vcpus(vm_ctx *c, const pid_stat *ps) {
    vms_state *s = c->s;
    char rel[64];
    _cleanup_closedir_ DIR *d = NULL;
    struct dirent *de;
    thread_info *all = NULL;
    size_t nall = 0;
    unsigned maxidx = 0;
    bool named = false;

    if (vcpus_from_cache(c, ps))
        return 0;

    snprintf(rel, sizeof(rel), "%d/task", (int)c->v->pid);
    if (!(d = opendir_at(s->proc_fd, rel)))
        return -errno;
    while ((de = readdir(d))) {
        unsigned tid, idx;
        char trel[96];
        thread_info t = {.index = -1};
        thread_info *na;
        if (safe_atou(de->d_name, &tid) < 0)
            continue;
        snprintf(trel, sizeof(trel), "%d/task/%u/stat", (int)c->v->pid, tid);
        if (qemu_proc_read_stat(s->proc_fd, trel, &t.st) < 0)
            continue;
        t.tid = (pid_t)tid;
        if (parse_vcpu_thread_name(t.st.comm, &idx) == 0 && idx < MAX_VCPUS) {
            t.index = (int)idx;
            named = true;
            if (idx + 1 > maxidx)
                maxidx = idx + 1;
        }
        na = realloc(all, (nall + 1) * sizeof(*na));
        if (!na) {
            free(all);
            return -ENOMEM;
        }
        all = na;
        all[nall++] = t;
    }
    /* Unnamed threads: QMP's query-cpus-fast says which thread runs which vCPU. */
    if (!named && c->job && qmp_reply(c->job, QMP_Q_CPUS)) {
        qmp_cpu *cpus = NULL;
        size_t nc = 0;
        if (qmp_parse_cpus(qmp_reply(c->job, QMP_Q_CPUS), &cpus, &nc) == 0) {
            for (size_t i = 0; i < nc; i++)
                for (size_t k = 0; k < nall; k++)
                    if (all[k].tid == cpus[i].tid && cpus[i].index < MAX_VCPUS) {
                        all[k].index = cpus[i].index;
                        if ((unsigned)cpus[i].index + 1 > maxidx)
                            maxidx = (unsigned)cpus[i].index + 1;
                    }
            qmp_cpus_free(cpus, nc);
        }
    }
    c->nvcpu = maxidx;
    c->threads = calloc(maxidx ? maxidx : 1, sizeof(*c->threads));
    if (!c->threads) {
        free(all);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < maxidx; i++)
        c->threads[i].index = -1;
    for (size_t k = 0; k < nall; k++)
        if (all[k].index >= 0)
            c->threads[all[k].index] = all[k];
    free(all);
    vcpus_to_cache(c, ps);
    return 0;
}

/* A vCPU thread's run-queue wait (schedstat's run_delay, ns, as ms): 0, or -ENOENT (no schedstat:
 * a kernel without CONFIG_SCHED_INFO), -ENODATA (it reads 0 0 0 for a thread that has run: the
 * kernel's sched_info is off) or another -errno. */
static int vcpu_wait_ms(const vm_ctx *c, const thread_info *t, uint64_t *ret) {
    char buf[128], rel[96];
    unsigned long long run, wait, slices;
    ssize_t n;
    if (t->kept && t->kept->sfd >= 0)
        n = pread_full(t->kept->sfd, buf, sizeof(buf));
    else {
        snprintf(rel, sizeof(rel), "%d/task/%d/schedstat", (int)c->v->pid, (int)t->tid);
        n = read_file_at(c->s->proc_fd, rel, buf, sizeof(buf));
    }
    if (n < 0)
        return (int)n;
    if (sscanf(buf, "%llu %llu %llu", &run, &wait, &slices) != 3)
        return -EBADMSG;
    if (!run && !wait && !slices && t->st.utime + t->st.stime > 0)
        return -ENODATA;
    *ret = wait / 1000000;
    return 0;
}

static void collect_vcpu_waits(vm_ctx *c) {
    unsigned got = 0, failed = 0;
    int err = 0;
    for (unsigned i = 0; i < c->nvcpu; i++) {
        uint64_t ms = 0;
        int r;
        if (c->threads[i].index < 0)
            continue;
        if ((r = vcpu_wait_ms(c, &c->threads[i], &ms)) < 0) {
            failed++;
            err = err ? err : r;
            continue;
        }
        rec_u64(c->rec, UNI_M_DOM_VCPU_V_WAIT_MS, (int)i, NULL, ms);
        got++;
    }
    const char *why = err == -ENOENT ? "no /proc/PID/task/TID/schedstat: a kernel without CONFIG_SCHED_INFO"
                      : err == -ENODATA
                          ? "schedstat reads 0 0 0 for a thread that ran: the kernel's sched_info accounting is "
                            "off"
                          : "the vCPU threads' schedstat could not be read";
    if (failed && got)
        rec_absent_partial(c->rec, UNI_M_DOM_VCPU_V_WAIT_MS, "%u of %u vCPUs: %s", failed, failed + got, why);
    else if (failed)
        rec_absent(c->rec, UNI_M_DOM_VCPU_V_WAIT_MS, "%s", why);
}

void vm_collect_vcpus(vm_ctx *c) {
    unsigned found = 0;

    if (!wants_any(c, vcpu_metrics, ELEMENTSOF(vcpu_metrics)) && !wants(c, UNI_M_DOM_CPU_UTIL_PCT) &&
        !wants_any(c, perf_metrics, ELEMENTSOF(perf_metrics)))
        return;
    for (unsigned i = 0; i < c->nvcpu; i++)
        found += c->threads[i].index >= 0;
    if (found) {
        rec_u64(c->rec, UNI_M_DOM_CPU_COUNT, -1, NULL, found);
        for (unsigned i = 0; i < c->nvcpu; i++) {
            thread_info *t = &c->threads[i];
            if (t->index < 0)
                continue;
            rec_u64(c->rec, UNI_M_DOM_VCPU_V_TIME_MS, (int)i, NULL, ticks_ms(c, t->st.utime + t->st.stime));
            if (t->st.processor >= 0)
                rec_u64(c->rec, UNI_M_DOM_VCPU_V_CPU, (int)i, NULL, (uint64_t)t->st.processor);
            rec_u64(c->rec, UNI_M_DOM_VCPU_V_TID, (int)i, NULL, (uint64_t)t->tid);
            if ((c->s->host_proc || c->s->sysfs) && wants(c, UNI_M_DOM_VCPU_V_PINNING)) {
                cpu_set_t set;
                char list[4096];
                CPU_ZERO(&set);
                if ((c->s->host_proc ? sched_getaffinity(t->tid, sizeof(set), &set)
                                     : board_vcpu_affinity(c->s, c->v, t->tid, &set)) < 0)
                    continue;
                /* Pinning seldom changes: the text of the same mask is made once. */
                if (t->kept && t->kept->pin_list && CPU_EQUAL(&set, &t->kept->pin))
                    rec_str(c->rec, UNI_M_DOM_VCPU_V_PINNING, (int)i, NULL, t->kept->pin_list);
                else if (format_cpu_list((const uint8_t *)&set, CPU_SETSIZE, list, sizeof(list)) >= 0) {
                    rec_str(c->rec, UNI_M_DOM_VCPU_V_PINNING, (int)i, NULL, list);
                    if (t->kept) {
                        free(t->kept->pin_list);
                        t->kept->pin_list = strdup(list);
                        t->kept->pin = set;
                    }
                }
            }
        }
        if (wants(c, UNI_M_DOM_VCPU_V_WAIT_MS))
            collect_vcpu_waits(c);
        if (!c->s->host_proc)
            rec_absent(c->rec, UNI_M_DOM_VCPU_V_PINNING,
                       "pinning is read with sched_getaffinity() on this host's /proc; in another tree from the vCPU "
                       "threads' Cpus_allowed_list%s",
                       c->s->sysfs ? ", which their status does not show" : " with its sysfs (?sysfs=)");
        else
            rec_absent(c->rec, UNI_M_DOM_VCPU_V_PINNING, "sched_getaffinity() failed for the vCPU threads");
        return;
    }
    /* No vCPU thread could be told apart: the count from the command line. */
    rec_u64(c->rec, UNI_M_DOM_CPU_COUNT, -1, NULL, c->v->cmd.smp ? c->v->cmd.smp : 1);
    {
        const char *why =
            c->v->qmp ? "vCPU threads are not named (QEMU without -name ...,debug-threads=on) and QMP did not list them"
                      : "vCPU threads are not named (QEMU without -name ...,debug-threads=on) and there is no QMP "
                        "socket to ask";
        for (size_t i = 1; i < ELEMENTSOF(vcpu_metrics); i++)
            rec_absent(c->rec, vcpu_metrics[i], "%s", why);
    }
}
