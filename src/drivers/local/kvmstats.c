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
    int fd;    /* ours */
    int vcpu;  /* -1 for the VM */
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
    DIR *d;
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
            closedir(d);
            return -ENOMEM;
        }
        v = nv;
        v[n++] = (qemu_kvm_fd){.qfd = (int)fd, .vcpu = vcpu};
    }
    closedir(d);
    *ret = v;
    *ret_n = n;
    return 0;
}

/* A QEMU thread blocked in a system call that is not a vCPU (stopping it costs the guest
 * nothing): its /proc/PID/task/TID/syscall has a syscall number and its comm is not "CPU N/KVM". */
static int pick_threads(pid_t pid, pid_t *tids, size_t max, size_t *ret_n) {
    char path[64];
    DIR *d;
    struct dirent *de;
    size_t n = 0;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    d = opendir(path);
    if (!d)
        return -errno;
    while ((de = readdir(d)) && n < max) {
        char p[128], buf[256];
        unsigned tid, idx;
        _cleanup_close_ int fd = -1;
        ssize_t l;
        if (safe_atou(de->d_name, &tid) < 0)
            continue;
        snprintf(p, sizeof(p), "%s/%u/comm", path, tid);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || (l = read_fd_full(fd, buf, sizeof(buf))) <= 0)
            continue;
        if (buf[l - 1] == '\n')
            buf[l - 1] = 0;
        if (parse_vcpu_thread_name(buf, &idx) == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%u/syscall", path, tid);
        if (read_file_at(AT_FDCWD, p, buf, sizeof(buf)) <= 0 || !(buf[0] >= '0' && buf[0] <= '9'))
            continue;
        tids[n++] = (pid_t)tid;
    }
    closedir(d);
    *ret_n = n;
    return n ? 0 : -EAGAIN;
}

typedef struct {
    pid_t tid;
    struct user_regs_struct saved;
    uint64_t syscall_insn; /* address of a "syscall" instruction in QEMU */
    int pending_sig;       /* a signal that arrived while we held the thread, for the detach */
} injector;

/* Wait for the next syscall stop of the injected thread; signals that arrive meanwhile are kept
 * for the detach (they are delivered then). */
static int wait_syscall_stop(injector *in) {
    for (;;) {
        int st;
        if (waitpid(in->tid, &st, __WALL) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
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
    for (;;) {
        if (waitpid(tid, &st, __WALL) < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
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

int kvm_binstats_open(pid_t pid, kvm_binstats **ret, char *why, size_t whylen) {
    qemu_kvm_fd *qfds = NULL;
    size_t nq = 0, nt = 0;
    pid_t tids[16];
    injector in;
    kvm_binstats *b;
    int pidfd, r;

    if (whylen)
        why[0] = 0;
    r = find_kvm_fds(pid, &qfds, &nq);
    if (r < 0 || nq == 0) {
        snprintf(why, whylen, "no KVM file descriptors in /proc/%d/fd (%s)", (int)pid, r < 0 ? strerror(-r) : "not a KVM VM");
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
    /* A thread that is in a syscall when stopped; retry a few times, threads come and go. */
    r = pick_threads(pid, tids, ELEMENTSOF(tids), &nt);
    if (r == 0)
        r = -EAGAIN;
    for (size_t t = 0, tries = 0; r != 0 && t < nt && tries < 8; t++, tries++)
        r = seize(&in, tids[t]);
    if (r == 0) {
        for (size_t i = 0; i < nq && r == 0; i++) {
            long qnew, dummy;
            int mine;
            r = inject(&in, SYS_ioctl, (uint64_t)qfds[i].qfd, KVM_GET_STATS_FD, 0, &qnew);
            if (r < 0)
                break;
            if (qnew < 0) {
                r = (int)qnew;
                snprintf(why, whylen, "ioctl(KVM_GET_STATS_FD) inside QEMU failed: %s (Linux >= 5.14 has binary stats)",
                         strerror((int)-qnew));
                break;
            }
            mine = (int)syscall(__NR_pidfd_getfd, pidfd, (int)qnew, 0);
            if (mine < 0)
                r = -errno;
            (void)inject(&in, SYS_close, (uint64_t)qnew, 0, 0, &dummy);
            if (mine < 0) {
                snprintf(why, whylen, "pidfd_getfd: %s", strerror(-r));
                break;
            }
            (void)fcntl(mine, F_SETFD, FD_CLOEXEC);
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
        release(&in);
        if (r < 0 && !why[0])
            snprintf(why, whylen, "injecting into QEMU %d failed: %s", (int)pid, strerror(-r));
    } else
        snprintf(why, whylen, "cannot stop a QEMU %d thread in a system call with ptrace: %s%s", (int)pid,
                 strerror(r == -EAGAIN ? EBUSY : -r), r == -EPERM ? " (needs CAP_SYS_PTRACE)" : "");
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
