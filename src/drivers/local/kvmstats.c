/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel's binary KVM statistics (Documentation/virt/kvm/api.rst, KVM_GET_STATS_FD): the
 * opt-in fast path (?kvmstats=binary). KVM hands a VM's or vCPU's stats fd only to the process
 * that created the VM, so uniserver makes QEMU ask for it: one thread of QEMU is stopped with
 * ptrace, made to run ioctl(fd, KVM_GET_STATS_FD) and close() by register injection, and the new
 * fd is copied here with pidfd_getfd(). That happens once per VM (a few ms, QEMU's thread
 * stopped meanwhile); afterwards a sample is one pread per fd. The fds keep the VM's KVM objects
 * alive until uniserver closes them (when the VM leaves or the connection closes).
 *
 * The descriptors are self-describing: every statistic is carried by the kernel's own name. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "vms.h"

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd 438
#endif

/* ---------------------------------------------------------------------------------------------
 * Descriptors (pure)
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    char *name;
    kvm_stat_kind kind;
    uint32_t offset; /* of the value, from the start of the data block */
} kdesc;

typedef struct {
    kdesc *d;
    size_t n;
    uint32_t data_offset, data_size;
} klayout;

static void layout_done(klayout *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->d[i].name);
    free(l->d);
    memset(l, 0, sizeof(*l));
}

/* The header and descriptors at the start of @buf (at least up to data_offset). */
static int parse_layout(const uint8_t *buf, size_t len, klayout *out) {
    struct kvm_stats_header h;
    size_t dsz;

    memset(out, 0, sizeof(*out));
    if (len < sizeof(h))
        return -EBADMSG;
    memcpy(&h, buf, sizeof(h));
    dsz = sizeof(struct kvm_stats_desc) + h.name_size;
    if (h.name_size == 0 || h.name_size > 4096 || h.num_desc > 65536 || h.desc_offset > len ||
        (size_t)h.num_desc * dsz > len - h.desc_offset || h.data_offset < h.desc_offset)
        return -EBADMSG;
    out->d = calloc(h.num_desc ? h.num_desc : 1, sizeof(*out->d));
    if (!out->d)
        return -ENOMEM;
    out->data_offset = h.data_offset;
    for (uint32_t i = 0; i < h.num_desc; i++) {
        const uint8_t *p = buf + h.desc_offset + (size_t)i * dsz;
        struct kvm_stats_desc d;
        const char *name = (const char *)p + sizeof(d);
        uint32_t type, end;
        memcpy(&d, p, sizeof(d));
        if (!memchr(name, 0, h.name_size) || !name[0] || d.size == 0 || d.offset > UINT32_MAX - 8u * d.size) {
            layout_done(out);
            return -EBADMSG;
        }
        end = d.offset + 8u * d.size;
        if (end > out->data_size)
            out->data_size = end;
        type = d.flags & KVM_STATS_TYPE_MASK;
        /* Scalars only: a histogram has no single value (its sum is a statistic of its own). */
        if (d.size != 1 || type > KVM_STATS_TYPE_PEAK)
            continue;
        if (!(out->d[out->n].name = strdup(name))) {
            layout_done(out);
            return -ENOMEM;
        }
        out->d[out->n].kind = type == KVM_STATS_TYPE_INSTANT ? KVM_STAT_INSTANT
                              : type == KVM_STATS_TYPE_PEAK  ? KVM_STAT_PEAK
                                                             : KVM_STAT_CUMULATIVE;
        out->d[out->n].offset = d.offset;
        out->n++;
    }
    return 0;
}

static void emit(const klayout *l, const uint8_t *data, size_t len, int vcpu, kvm_stat_cb cb, void *ud) {
    for (size_t i = 0; i < l->n; i++) {
        uint64_t v;
        if ((size_t)l->d[i].offset + 8 > len)
            continue;
        memcpy(&v, data + l->d[i].offset, 8);
        cb(ud, vcpu, l->d[i].name, l->d[i].kind, v);
    }
}

int kvm_stats_parse(const void *buf, size_t len, int vcpu, kvm_stat_cb cb, void *userdata) {
    klayout l;
    int r = parse_layout(buf, len, &l);
    if (r < 0)
        return r;
    if (l.data_offset > len || l.data_size > len - l.data_offset) {
        layout_done(&l);
        return -EBADMSG;
    }
    emit(&l, (const uint8_t *)buf + l.data_offset, l.data_size, vcpu, cb, userdata);
    layout_done(&l);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Getting the fds out of QEMU
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    int fd;   /* ours */
    int vcpu; /* -1 for the VM */
    klayout layout;
    uint8_t *data;
} kfile;

struct kvm_binstats {
    pid_t pid;
    kfile *f;
    size_t n;
    unsigned nvcpu;
};

typedef struct {
    int qfd;  /* the KVM fd in QEMU */
    int vcpu; /* -1 for the VM fd */
} qemu_kvm_fd;

/* QEMU's KVM fds: "anon_inode:kvm-vm" and "anon_inode:kvm-vcpu:N" in /proc/PID/fd. */
static int find_kvm_fds(pid_t pid, qemu_kvm_fd **ret, size_t *ret_n) {
    char path[64];
    _cleanup_closedir_ DIR *d = NULL;
    struct dirent *de;
    qemu_kvm_fd *v = NULL;
    size_t n = 0;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    d = opendir(path);
    if (!d)
        return -errno;
    while ((de = readdir(d))) {
        char lp[96], target[128];
        unsigned fd, vc;
        ssize_t l;
        qemu_kvm_fd *nv;
        int vcpu;
        if (safe_atou(de->d_name, &fd) < 0)
            continue;
        snprintf(lp, sizeof(lp), "%s/%u", path, fd);
        l = readlink(lp, target, sizeof(target) - 1);
        if (l <= 0)
            continue;
        target[l] = 0;
        if (streq(target, "anon_inode:kvm-vm"))
            vcpu = -1;
        else if (startswith(target, "anon_inode:kvm-vcpu:") && safe_atou(target + 20, &vc) == 0 && vc < 65536)
            vcpu = (int)vc;
        else
            continue;
        nv = realloc(v, (n + 1) * sizeof(*nv));
        if (!nv) {
            free(v);
            return -ENOMEM;
        }
        v = nv;
        v[n++] = (qemu_kvm_fd){.qfd = (int)fd, .vcpu = vcpu};
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

/* Threads of QEMU that may be stopped briefly: user threads (not the kernel's workers that live
 * in QEMU's thread group, such as kvm-nx-lpage-recovery, which never stop for a tracer), blocked
 * in a system call that is not KVM_RUN (stopping a vCPU would cost the guest), the main thread
 * first. Its /proc/PID/task/TID/syscall starts with the syscall number when it is in one. */
#define PF_IO_WORKER_ 0x00000010
#define PF_USER_WORKER_ 0x00004000
#define PF_KTHREAD_ 0x00200000
static int pick_threads(pid_t pid, pid_t *tids, size_t max, size_t *ret_n) {
    char path[64];
    _cleanup_closedir_ DIR *d = NULL;
    struct dirent *de;
    size_t n = 0;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    d = opendir(path);
    if (!d)
        return -errno;
    while ((de = readdir(d)) && n < max) {
        char p[128], buf[512];
        unsigned tid, idx;
        pid_stat st;
        ssize_t l;
        uint64_t nr;
        const char *sp;
        if (safe_atou(de->d_name, &tid) < 0)
            continue;
        snprintf(p, sizeof(p), "%s/%u/stat", path, tid);
        l = read_file_at(AT_FDCWD, p, buf, sizeof(buf));
        if (l <= 0 || parse_pid_stat(buf, (size_t)l, &st) < 0 ||
            (st.flags & (PF_IO_WORKER_ | PF_USER_WORKER_ | PF_KTHREAD_)) ||
            parse_vcpu_thread_name(st.comm, &idx) == 0 || st.state == 'T' || st.state == 't' || st.state == 'Z')
            continue;
        snprintf(p, sizeof(p), "%s/%u/syscall", path, tid);
        l = read_file_at(AT_FDCWD, p, buf, sizeof(buf));
        if (l <= 0 || !(sp = strchr(buf, ' ')) || safe_atou64_n(buf, (size_t)(sp - buf), &nr) < 0)
            continue;
        if (nr == SYS_ioctl && strstr(sp, " 0xae80 ")) /* KVM_RUN: a vCPU without a thread name */
            continue;
        tids[n++] = (pid_t)tid;
        if ((pid_t)tid == pid && n > 1) { /* the main thread first */
            tids[n - 1] = tids[0];
            tids[0] = pid;
        }
    }
    *ret_n = n;
    return n ? 0 : -EAGAIN;
}

/* The thread that runs the vCPU of fd @qfd: the one blocked in ioctl(qfd, KVM_RUN), else the one
 * named "CPU @vcpu/KVM" (debug-threads=on); 0 when none is found now. */
static pid_t vcpu_thread(pid_t pid, int qfd, int vcpu) {
    char path[64];
    _cleanup_closedir_ DIR *d = NULL;
    struct dirent *de;
    pid_t by_name = 0, by_run = 0;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    d = opendir(path);
    if (!d)
        return 0;
    while ((de = readdir(d)) && !by_run) {
        char p[128], buf[512], want[64];
        unsigned tid, idx;
        pid_stat st;
        ssize_t l;
        if (safe_atou(de->d_name, &tid) < 0)
            continue;
        snprintf(p, sizeof(p), "%s/%u/stat", path, tid);
        l = read_file_at(AT_FDCWD, p, buf, sizeof(buf));
        if (l <= 0 || parse_pid_stat(buf, (size_t)l, &st) < 0 ||
            (st.flags & (PF_IO_WORKER_ | PF_USER_WORKER_ | PF_KTHREAD_)))
            continue;
        if (parse_vcpu_thread_name(st.comm, &idx) == 0 && (int)idx == vcpu)
            by_name = (pid_t)tid;
        snprintf(p, sizeof(p), "%s/%u/syscall", path, tid);
        snprintf(want, sizeof(want), "%d 0x%x 0xae80 ", SYS_ioctl, qfd);
        l = read_file_at(AT_FDCWD, p, buf, sizeof(buf));
        if (l > 0 && startswith(buf, want))
            by_run = (pid_t)tid;
    }
    return by_run ? by_run : by_name;
}

#if defined(__x86_64__)
typedef struct {
    pid_t tid;
    struct user_regs_struct saved;
    uint64_t syscall_insn; /* address of a "syscall" instruction in QEMU */
    int pending_sig;       /* a signal that arrived while we held the thread, for the detach */
} injector;

/* Wait for the next syscall stop of the injected thread; signals that arrive meanwhile are kept
 * for the detach (they are delivered then). */
static int wait_syscall_stop(injector *in) {
    for (uint64_t t0 = now_ns();;) {
        int st;
        pid_t w = waitpid(in->tid, &st, __WALL | WNOHANG);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0) {
            /* The injected calls do not block (see fetch_stats_fd); a thread that does not come
             * back within seconds is reported rather than waited for for ever. */
            if (now_ns() - t0 > 5000000000ull)
                return -ETIMEDOUT;
            usleep(50);
            continue;
        }
        if (!WIFSTOPPED(st))
            return -ESRCH; /* the thread is gone */
        if (WSTOPSIG(st) == (SIGTRAP | 0x80))
            return 0;
        if (st >> 16 == 0 && WSTOPSIG(st) != SIGTRAP)
            in->pending_sig = WSTOPSIG(st);
        if (ptrace(PTRACE_SYSCALL, in->tid, 0, 0) < 0)
            return -errno;
    }
}

/* Run syscall @nr(a1, a2, a3) in the stopped thread; its return value, or -errno of ptrace. */
static int inject(injector *in, long nr, uint64_t a1, uint64_t a2, uint64_t a3, long *ret) {
    struct user_regs_struct r = in->saved;
    int e;

    r.rax = (uint64_t)nr;
    r.orig_rax = (uint64_t)-1; /* no restart of the interrupted syscall on the way out */
    r.rdi = a1;
    r.rsi = a2;
    r.rdx = a3;
    r.rip = in->syscall_insn;
    if (ptrace(PTRACE_SETREGS, in->tid, 0, &r) < 0 || ptrace(PTRACE_SYSCALL, in->tid, 0, 0) < 0)
        return -errno;
    if ((e = wait_syscall_stop(in)) < 0) /* entry */
        return e;
    if (ptrace(PTRACE_SYSCALL, in->tid, 0, 0) < 0)
        return -errno;
    if ((e = wait_syscall_stop(in)) < 0) /* exit */
        return e;
    if (ptrace(PTRACE_GETREGS, in->tid, 0, &r) < 0)
        return -errno;
    *ret = (long)r.rax;
    return 0;
}

/* Stop @tid inside a system call and note where its "syscall" instruction is. */
static int seize(injector *in, pid_t tid) {
    uint16_t insn;
    struct iovec local, remote;
    int st;

    memset(in, 0, sizeof(*in));
    in->tid = tid;
    if (ptrace(PTRACE_SEIZE, tid, 0, (void *)(long)PTRACE_O_TRACESYSGOOD) < 0)
        return -errno;
    if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0)
        goto fail;
    for (uint64_t t0 = now_ns();;) {
        /* A user thread stops at once; a thread that does not within a second never will (it
         * is not what its /proc entries said): give it up rather than hang. */
        pid_t w = waitpid(tid, &st, __WALL | WNOHANG);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        if (w == 0) {
            if (now_ns() - t0 > 1000000000ull) {
                errno = ETIMEDOUT;
                goto fail;
            }
            usleep(200);
            continue;
        }
        if (!WIFSTOPPED(st)) {
            errno = ESRCH;
            return -ESRCH;
        }
        if (st >> 16 == PTRACE_EVENT_STOP)
            break;
        /* A signal-delivery stop came first: keep the signal, wait for our interrupt. */
        in->pending_sig = WSTOPSIG(st);
        if (ptrace(PTRACE_CONT, tid, 0, 0) < 0)
            goto fail;
    }
    if (ptrace(PTRACE_GETREGS, tid, 0, &in->saved) < 0)
        goto fail;
    /* In a syscall, rip is just past its 2-byte "syscall" (0f 05) instruction. */
    local = (struct iovec){.iov_base = &insn, .iov_len = 2};
    remote = (struct iovec){.iov_base = (void *)(uintptr_t)(in->saved.rip - 2), .iov_len = 2};
    if ((int64_t)in->saved.orig_rax < 0 || process_vm_readv(tid, &local, 1, &remote, 1, 0) != 2 || insn != 0x050f) {
        ptrace(PTRACE_DETACH, tid, 0, (void *)(long)in->pending_sig);
        return -EAGAIN;
    }
    in->syscall_insn = in->saved.rip - 2;
    return 0;
fail:
    st = -errno;
    ptrace(PTRACE_DETACH, tid, 0, 0);
    return st;
}

/* Put the thread back as it was and let it go. The interrupted syscall is restarted the way the
 * kernel's signal code would have (arch/x86/kernel/signal.c), as our injections replaced the
 * pass through that code. */
static void release(injector *in) {
    struct user_regs_struct r = in->saved;
    long err = (long)r.rax;

    if ((int64_t)r.orig_rax >= 0) {
        if (err == -512 || err == -513 || err == -514) { /* ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND */
            r.rax = r.orig_rax;
            r.rip -= 2;
        } else if (err == -516) { /* ERESTART_RESTARTBLOCK */
            r.rax = SYS_restart_syscall;
            r.rip -= 2;
        }
    }
    r.orig_rax = (uint64_t)-1;
    ptrace(PTRACE_SETREGS, in->tid, 0, &r);
    ptrace(PTRACE_DETACH, in->tid, 0, (void *)(long)in->pending_sig);
}

static int open_file(kfile *f, int fd, int vcpu) {
    uint8_t *buf;
    ssize_t n;
    size_t sz = 65536;
    int r;

    f->fd = fd;
    f->vcpu = vcpu;
    buf = malloc(sz);
    if (!buf)
        return -ENOMEM;
    n = pread(fd, buf, sz, 0);
    if (n < 0) {
        r = -errno;
        free(buf);
        return r;
    }
    r = parse_layout(buf, (size_t)n, &f->layout);
    free(buf);
    if (r < 0)
        return r;
    f->data = malloc(f->layout.data_size ? f->layout.data_size : 1);
    return f->data ? 0 : -ENOMEM;
}

/* Make thread @tid of QEMU create the stats fd of its KVM fd @qfd, copy it here, and close
 * QEMU's copy. The thread is one for which the ioctl cannot block: for a vCPU fd the vCPU's own
 * thread (KVM takes the vCPU's mutex, which KVM_RUN holds for as long as the guest runs). */
static int fetch_stats_fd(pid_t tid, int pidfd, int qfd, int *ret_mine, char *why, size_t whylen) {
    injector in;
    long qnew = -1, dummy;
    int r = -EAGAIN, mine = -1;

    /* It must be stopped inside a system call; one that is between two waits for a moment. */
    for (int tries = 0; r == -EAGAIN && tries < 50; tries++) {
        r = seize(&in, tid);
        if (r == -EAGAIN)
            usleep(1000);
    }
    if (r < 0) {
        snprintf(why, whylen, "cannot stop QEMU thread %d in a system call with ptrace: %s%s", (int)tid,
                 strerror(r == -EAGAIN ? EBUSY : -r), r == -EPERM ? " (needs CAP_SYS_PTRACE)" : "");
        return r;
    }
    r = inject(&in, SYS_ioctl, (uint64_t)qfd, KVM_GET_STATS_FD, 0, &qnew);
    if (r == 0 && qnew < 0) {
        r = (int)qnew;
        snprintf(why, whylen, "ioctl(KVM_GET_STATS_FD) inside QEMU failed: %s (Linux >= 5.14 has binary stats)",
                 strerror((int)-qnew));
    } else if (r == 0) {
        mine = (int)syscall(__NR_pidfd_getfd, pidfd, (int)qnew, 0);
        if (mine < 0) {
            r = -errno;
            snprintf(why, whylen, "pidfd_getfd: %s", strerror(errno));
        }
        (void)inject(&in, SYS_close, (uint64_t)qnew, 0, 0, &dummy);
    } else
        snprintf(why, whylen, "injecting into QEMU thread %d failed: %s", (int)tid, strerror(-r));
    release(&in);
    if (r < 0) {
        if (mine >= 0)
            close(mine);
        return r;
    }
    (void)fcntl(mine, F_SETFD, FD_CLOEXEC);
    *ret_mine = mine;
    return 0;
}

#else
/* The injection speaks x86_64 (registers, the "syscall" instruction, the restart codes). */
static int fetch_stats_fd(pid_t tid, int pidfd, int qfd, int *ret_mine, char *why, size_t whylen) {
    (void)tid;
    (void)pidfd;
    (void)qfd;
    (void)ret_mine;
    snprintf(why, whylen,
             "binary KVM statistics are fetched out of QEMU by injecting x86_64 system calls; "
             "this architecture is not supported yet (use QMP: ?kvmstats=qmp)");
    return -EOPNOTSUPP;
}
#endif

int kvm_binstats_open(pid_t pid, kvm_binstats **ret, char *why, size_t whylen) {
    qemu_kvm_fd *qfds = NULL;
    size_t nq = 0;
    kvm_binstats *b;
    int pidfd, r;

    if (whylen)
        why[0] = 0;
    r = find_kvm_fds(pid, &qfds, &nq);
    if (r < 0 || nq == 0) {
        snprintf(why, whylen, "no KVM file descriptors in /proc/%d/fd (%s)", (int)pid,
                 r < 0 ? strerror(-r) : "not a KVM VM");
        free(qfds);
        return r < 0 ? r : -ENOENT;
    }
    pidfd = (int)syscall(__NR_pidfd_open, pid, 0);
    if (pidfd < 0) {
        r = -errno;
        snprintf(why, whylen, "pidfd_open(%d): %s (Linux >= 5.6)", (int)pid, strerror(errno));
        free(qfds);
        return r;
    }
    b = calloc(1, sizeof(*b));
    if (!b || !(b->f = calloc(nq, sizeof(*b->f)))) {
        free(b);
        free(qfds);
        close(pidfd);
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    b->pid = pid;
    r = 0;
    for (size_t i = 0; i < nq && r == 0; i++) {
        int mine = -1;
        if (qfds[i].vcpu >= 0) {
            /* A vCPU thread that did not stop in a system call in time (a loaded host) is found
             * and asked again, three times in all. */
            for (int attempt = 0; attempt < 3; attempt++) {
                pid_t tid = 0;
                for (int tries = 0; !tid && tries < 20; tries++) {
                    tid = vcpu_thread(pid, qfds[i].qfd, qfds[i].vcpu);
                    if (!tid)
                        usleep(1000);
                }
                if (!tid) {
                    r = -ESRCH;
                    snprintf(why, whylen, "no thread of QEMU %d runs vCPU %d (not in KVM_RUN, no 'CPU %d/KVM' name)",
                             (int)pid, qfds[i].vcpu, qfds[i].vcpu);
                    break;
                }
                r = fetch_stats_fd(tid, pidfd, qfds[i].qfd, &mine, why, whylen);
                if (r != -EAGAIN)
                    break;
            }
        } else {
            /* The VM's fd: any thread of QEMU that is not a vCPU (KVM takes no lock for it). */
            pid_t tids[16];
            size_t nt = 0;
            r = pick_threads(pid, tids, ELEMENTSOF(tids), &nt);
            if (r < 0)
                snprintf(why, whylen, "no thread of QEMU %d waits in a system call to be stopped", (int)pid);
            for (size_t t = 0; r == 0 && t < nt; t++) {
                r = fetch_stats_fd(tids[t], pidfd, qfds[i].qfd, &mine, why, whylen);
                if (r == -EAGAIN || r == -ESRCH)
                    r = t + 1 < nt ? 0 : r;
                else
                    break;
            }
        }
        if (r < 0)
            break;
        r = open_file(&b->f[b->n], mine, qfds[i].vcpu);
        if (r < 0) {
            close(mine);
            snprintf(why, whylen, "malformed KVM stats descriptors: %s", strerror(-r));
            break;
        }
        if (qfds[i].vcpu >= 0 && (unsigned)qfds[i].vcpu + 1 > b->nvcpu)
            b->nvcpu = (unsigned)qfds[i].vcpu + 1;
        b->n++;
    }
    close(pidfd);
    free(qfds);
    if (r < 0) {
        kvm_binstats_close(b);
        return r;
    }
    *ret = b;
    return 0;
}

int kvm_binstats_read(kvm_binstats *b, kvm_stat_cb cb, void *userdata) {
    for (size_t i = 0; i < b->n; i++) {
        kfile *f = &b->f[i];
        ssize_t n = pread(f->fd, f->data, f->layout.data_size, f->layout.data_offset);
        if (n < 0)
            return -errno;
        emit(&f->layout, f->data, (size_t)n, f->vcpu, cb, userdata);
    }
    return 0;
}

unsigned kvm_binstats_nvcpu(const kvm_binstats *b) {
    return b->nvcpu;
}

void kvm_binstats_close(kvm_binstats *b) {
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++) {
        closep(&b->f[i].fd);
        layout_done(&b->f[i].layout);
        free(b->f[i].data);
    }
    free(b->f);
    free(b);
}
