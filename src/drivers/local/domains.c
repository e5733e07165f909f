/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VMs on this host: discovery from QEMU processes in /proc and from libvirt, merged by UUID; the
 * per-VM record (spec Tables 1 and 3: state, vCPUs, CPU time and utilisation, memory,
 * interruption time, swap-in wait, perf counters, vNICs, disks, per-vCPU time, last CPU,
 * pinning) and the KVM statistics of Table 2 (QMP query-stats by default, the kernel's binary
 * stats as an opt-in); the host rows derived from them (host.vms.*, kvm.NAME).
 *
 * One collection: (1) discover; (2) every VM's QMP conversation at once, each under the
 * connection's deadline (qmp.c); (3) per VM, /proc, taskstats, perf and the QMP answers into its
 * record. A VM whose QMP does not answer in time is stale (dom.stale = 1) and the metrics it
 * would have given are absent with the reason; the other VMs are complete. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sched.h>
#include <sys/syscall.h>

#include <json-c/json.h>

#include "domains.h"
#include "parsers.h"
#include "vms.h"

#define DEFAULT_DEADLINE_MS 1000
#define MAX_VCPUS 4096

typedef enum { KSRC_QMP, KSRC_BINARY, KSRC_OFF } kvm_source;

typedef struct {
    char *name;
    uint64_t v[6];
} io_prev;

/* The vCPU threads of a QEMU process, kept between collections while its thread count holds. */
typedef struct {
    pid_t tid;
    int index;
    int fd;        /* /proc/PID/task/TID/stat */
    cpu_set_t pin; /* its affinity when last read, */
    char *pin_list; /* as text (NULL: not yet) */
} vcpu_thread_fd;
typedef struct {
    vcpu_thread_fd *t;
    size_t n;
    uint64_t num_threads; /* of the process when the cache was made; 0: no cache */
} vcpu_cache;

/* A VM's KVM statistics by name, kept from one collection to the next (a VM's set of statistics
 * does not change: each collection only overwrites the values). */
typedef struct {
    const char *name; /* rec_intern's (owned false), else strdup's */
    bool owned;
    kvm_stat_kind kind; /* a statistic's kind does not change: given when the entry is made, */
    bool kind_fixed;    /* and put right once from QEMU's schemas */
    uint32_t vm_round; /* the round (kstats.round) vm_value was given in */
    uint64_t vm_value;
    uint64_t *vcpu; /* per vCPU index, nvcpu entries */
    uint32_t *vcpu_round;
} kstat;

typedef struct {
    kstat *e;
    size_t n;
    unsigned nvcpu;
    size_t nseen; /* values given since kstats_begin */
    uint32_t round; /* counts kstats_begin: a value of another round is an old one */
    size_t guess; /* the entry kstat_get tries first */
    int err;
    uint32_t *slot; /* open-addressing index of e by name: entry + 1, 0 empty */
    size_t nslots;
} kstats;

typedef struct vm {
    char *name;
    char uuid[UUID_STRING_LEN + 1];
    /* the QEMU process, when there is one on this host */
    bool have_proc;
    pid_t pid;
    uint64_t starttime;
    ino_t ino;        /* of /proc/PID as readdir gave it: a new process under the same PID has another */
    int stat_fd;      /* /proc/PID/stat, kept open and read with pread */
    int pidfd;        /* pidfd_open(PID): says when the process has exited; -1 on fixture trees */
    vcpu_cache vc;    /* the vCPU threads last found */
    qemu_cmdline cmd;
    char *qmp; /* the QMP socket to use, or NULL */
    /* libvirt's view, when libvirt knows the domain */
    bool in_libvirt;
    int lv_id;
    bool lv_active;
    lv_meta meta;      /* its metadata (Nova's, the reliability requirement) */
    uint64_t meta_ns;  /* when it was read; 0: never */
    bool seen;
    /* the previous sample of each source, for rates: its time and values */
    uint64_t prev_ns; /* the previous collection of this VM, whatever it read */
    uint64_t prev_cpu_ns, prev_cpu_ticks, prev_swap_t_ns, prev_swap_ns, net_prev_ns, disk_prev_ns;
    bool have_prev_cpu, have_prev_swap;
    io_prev *net_prev, *disk_prev;
    size_t nnet_prev, ndisk_prev;
    perf_vm *perf;
    kvm_binstats *bin;
    char *bin_why;
    char **qom;       /* the vCPUs' QOM paths by index (query-cpus-fast), kept for query-stats */
    size_t nqom;
    bool qom_stale;   /* query-stats named a vCPU the map lacks: ask again */
    kstats ks;        /* its KVM statistics */
    size_t rec_n, rec_nabsent; /* the size of its record to make room for (the last one's) */
    lv_layout *lvl;   /* what libvirt's statistics of it look like (libvirt.c) */
} vm;

/* A /proc entry seen by the last scan: whether it is a QEMU process, so that each process's
 * executable is looked at once (d_ino tells a new process under a reused PID apart). */
typedef struct {
    pid_t pid;
    ino_t ino;
    bool qemu;
    uint64_t first_ns; /* when a scan first listed it */
} proc_entry;

/* Sums over the VMs' records, for the host rows (host.vms.*, kvm.NAME). */
typedef struct {
    const char *name; /* rec_intern's (owned false), else strdup's */
    bool owned;
    uint64_t v;
    bool peak;
    bool seen; /* in this summary (the names stay from one summary to the next) */
} host_kstat;
typedef struct {
    bool valid;
    uint64_t at_ns;
    size_t n, active, nswap, nswap_pct;
    double mem, swap, swap_pct;
    host_kstat *hk;
    size_t nhk;
    char *why_swap, *why_kvm;
} vms_summary;
static void summary_done(vms_summary *m);
static void keep_summary(vms_state *s, const uni_select *sel, const uni_domain_stats *v, size_t n);

struct vms_state {
    proc_entry *seen;
    size_t nseen;
    /* Skipping the scan of /proc: the last PID the kernel gave out (/proc/loadavg's 5th field)
     * when the last scan ran, and whether that scan left young processes to look at again. */
    int loadavg_fd;
    long last_pid;
    uint64_t scan_ns;
    bool young;
    int proc_fd;
    char *procfs;
    bool host_proc;
    long hz, pagesize;
    unsigned deadline_ms;
    kvm_source ksrc;
    vm **v;
    size_t n;
    taskstats_conn *ts;
    int ts_err;
    bool ts_tried;
    bool perf_probed;
    int perf_err;
    char perf_why[256];
    json_object *schemas; /* query-stats-schemas, asked once */
    vms_summary last; /* sums of the last full collection, for the host record after it */
    bool dacct_read, dacct_on; /* kernel.task_delayacct, read once per collection */
    int dacct_err;
    int dacct_fd;              /* /proc/sys/kernel/task_delayacct kept open; -1 until first opened */
    lv_conn *lv;
    char *lv_uri;     /* asked for (?libvirt=) or the default */
    char lv_why[256]; /* why libvirt is not used, or "" */
    bool lv_explicit;
};

/* ---------------------------------------------------------------------------------------------
 * Opening
 * ------------------------------------------------------------------------------------------- */

/* Does a daemon (or systemd, for a socket-activated one) listen on the unix socket @path? A
 * socket file left by a daemon that stopped refuses: loading libvirt for it would cost every
 * process of ours libvirt's 12 MB of resident pages for nothing. */
static bool socket_listening(const char *path) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd;
    bool ok;
    if (strlen(path) >= sizeof(a.sun_path))
        return false;
    memcpy(a.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return false;
    /* non-blocking: a full backlog (EAGAIN) still means someone listens */
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 || errno == EAGAIN || errno == EINPROGRESS;
    close(fd);
    return ok;
}

int vms_open(vms_state **ret, int proc_fd, const char *procfs, bool host_proc, const uni_uri *uri) {
    vms_state *s = calloc(1, sizeof(*s));
    const char *lv = uni_uri_param(uri, "libvirt"), *dl = uni_uri_param(uri, "vm_deadline_ms"),
               *ks = uni_uri_param(uri, "kvmstats");

    if (!s) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    s->proc_fd = proc_fd;
    s->host_proc = host_proc;
    s->loadavg_fd = -1;
    s->dacct_fd = -1;
    s->hz = sysconf(_SC_CLK_TCK);
    s->pagesize = sysconf(_SC_PAGESIZE);
    if (s->hz <= 0)
        s->hz = 100;
    if (s->pagesize <= 0)
        s->pagesize = 4096;
    s->deadline_ms = DEFAULT_DEADLINE_MS;
    if (dl) {
        unsigned v;
        if (safe_atou(dl, &v) < 0 || v < 1 || v > 600000) {
            uni_error_set(UNI_ERR_INVALID_URI, "vm_deadline_ms takes milliseconds from 1 to 600000, not '%s'", dl);
            free(s);
            return -1;
        }
        s->deadline_ms = v;
    }
    if (!ks || streq(ks, "qmp"))
        s->ksrc = KSRC_QMP;
    else if (streq(ks, "binary"))
        s->ksrc = KSRC_BINARY;
    else if (streq(ks, "off"))
        s->ksrc = KSRC_OFF;
    else {
        uni_error_set(UNI_ERR_INVALID_URI, "kvmstats takes qmp, binary or off, not '%s'", ks);
        free(s);
        return -1;
    }
    if (!(s->procfs = strdup(procfs))) {
        free(s);
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    if (host_proc)
        s->loadavg_fd = openat(proc_fd, "loadavg", O_RDONLY | O_CLOEXEC); /* -1: always scan */
    /* libvirt: the URI asked for; by default qemu:///system where its daemon's socket exists
     * (and only on this host's /proc: a fixture tree has no daemon). "?libvirt=" turns it off. */
    if (lv) {
        s->lv_explicit = true;
        if (*lv && !(s->lv_uri = strdup(lv)))
            goto oom;
        if (!*lv)
            snprintf(s->lv_why, sizeof(s->lv_why), "libvirt turned off (?libvirt=)");
    } else if (host_proc && (socket_listening("/run/libvirt/libvirt-sock") || socket_listening("/run/libvirt/virtqemud-sock"))) {
        if (!(s->lv_uri = strdup("qemu:///system")))
            goto oom;
    } else
        snprintf(s->lv_why, sizeof(s->lv_why), "no libvirt daemon (nothing listens on /run/libvirt/libvirt-sock)");
    if (s->lv_uri && lv_open(s->lv_uri, &s->lv, s->lv_why, sizeof(s->lv_why)) < 0) {
        if (s->lv_explicit) {
            uni_error_set(UNI_ERR_NO_SOURCE, "libvirt '%s': %s", s->lv_uri, s->lv_why);
            vms_close(s);
            return -1;
        }
        s->lv = NULL; /* the default is best effort */
    }
    *ret = s;
    return 0;
oom:
    vms_close(s);
    uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
    return -1;
}

static void io_prev_free(io_prev *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(p[i].name);
    free(p);
}

static void vcpu_cache_drop(vcpu_cache *c) {
    for (size_t i = 0; i < c->n; i++) {
        closep(&c->t[i].fd);
        free(c->t[i].pin_list);
    }
    free(c->t);
    memset(c, 0, sizeof(*c));
}

static void qom_drop(vm *v) {
    for (size_t i = 0; i < v->nqom; i++)
        free(v->qom[i]);
    free(v->qom);
    v->qom = NULL;
    v->nqom = 0;
}

static void kstats_done(kstats *k);

static void vm_free(vm *v) {
    if (!v)
        return;
    kstats_done(&v->ks);
    lv_layout_free(v->lvl);
    qom_drop(v);
    closep(&v->stat_fd);
    closep(&v->pidfd);
    vcpu_cache_drop(&v->vc);
    free(v->name);
    qemu_cmdline_done(&v->cmd);
    free(v->qmp);
    io_prev_free(v->net_prev, v->nnet_prev);
    io_prev_free(v->disk_prev, v->ndisk_prev);
    perf_vm_free(v->perf);
    kvm_binstats_close(v->bin);
    free(v->bin_why);
    lv_meta_done(&v->meta);
    free(v);
}

void vms_close(vms_state *s) {
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        vm_free(s->v[i]);
    free(s->v);
    taskstats_close(s->ts);
    closep(&s->loadavg_fd);
    closep(&s->dacct_fd);
    if (s->schemas)
        json_object_put(s->schemas);
    summary_done(&s->last);
    lv_close(s->lv);
    free(s->lv_uri);
    free(s->procfs);
    free(s->seen);
    free(s);
}

/* ---------------------------------------------------------------------------------------------
 * Discovery
 * ------------------------------------------------------------------------------------------- */

static bool is_qemu_process(vms_state *s, const char *pid) {
    char path[300], buf[256];
    ssize_t n;

    snprintf(path, sizeof(path), "%s/exe", pid);
    n = readlinkat(s->proc_fd, path, buf, sizeof(buf) - 1);
    if (n > 0) {
        const char *base;
        buf[n] = 0;
        if (n > 10 && streq(buf + n - 10, " (deleted)")) /* QEMU upgraded under a running VM */
            buf[n - 10] = 0;
        base = strrchr(buf, '/');
        base = base ? base + 1 : buf;
        return startswith(base, "qemu-system-") || streq(base, "qemu-kvm") || streq(base, "kvm");
    }
    /* exe is unreadable without ptrace rights over the process: its name will do. */
    snprintf(path, sizeof(path), "%s/comm", pid);
    return read_line_at(s->proc_fd, path, buf, sizeof(buf)) > 0 && (startswith(buf, "qemu-system-") || streq(buf, "qemu-kvm"));
}

static int read_pid_stat(vms_state *s, const char *rel, pid_stat *ps) {
    char buf[1024];
    ssize_t n = read_file_at(s->proc_fd, rel, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    return parse_pid_stat(buf, (size_t)n, ps);
}

static vm *find_vm_pid(vms_state *s, pid_t pid, ino_t ino) {
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i]->have_proc && s->v[i]->pid == pid && s->v[i]->ino == ino)
            return s->v[i];
    return NULL;
}

/* /proc/PID/stat of a VM's process through its kept-open fd. */
static int read_vm_stat(vms_state *s, vm *v, pid_stat *ps) {
    char buf[1024];
    ssize_t n;
    if (v->stat_fd < 0) {
        char rel[64];
        snprintf(rel, sizeof(rel), "%d/stat", (int)v->pid);
        v->stat_fd = openat(s->proc_fd, rel, O_RDONLY | O_CLOEXEC);
        if (v->stat_fd < 0)
            return -errno;
    }
    n = pread_full(v->stat_fd, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    if (n == 0)
        return -ESRCH; /* the process has exited: its stat reads empty */
    return parse_pid_stat(buf, (size_t)n, ps);
}

/* Has the VM's process exited? (With a pidfd: it polls readable.) */
static bool vm_exited(vm *v) {
    struct pollfd p = {.fd = v->pidfd, .events = POLLIN};
    return v->pidfd >= 0 && poll(&p, 1, 0) == 1;
}

static vm *find_vm_uuid(vms_state *s, const char *uuid) {
    for (size_t i = 0; uuid[0] && i < s->n; i++)
        if (streq(s->v[i]->uuid, uuid))
            return s->v[i];
    return NULL;
}

static int add_vm(vms_state *s, vm *v) {
    vm **nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    s->v = nv;
    s->v[s->n++] = v;
    return 0;
}

/* The QMP socket as this process can reach it: a relative path is relative to QEMU's cwd. */
static char *qmp_socket_path(vms_state *s, pid_t pid, const char *p) {
    char *r = NULL;
    if (p[0] == '/')
        return strdup(p);
    if (asprintf(&r, "%s/%d/cwd/%s", s->procfs, (int)pid, p) < 0)
        return NULL;
    return r;
}

static int new_proc_vm(vms_state *s, pid_t pid, ino_t ino, const pid_stat *ps) {
    char path[64];
    _cleanup_free_ char *buf = NULL;
    ssize_t n;
    vm *v;
    int r;

    snprintf(path, sizeof(path), "%d/cmdline", (int)pid);
    n = read_file_at_alloc(s->proc_fd, path, &buf);
    if (n <= 0)
        return n < 0 ? (int)n : -ENOENT; /* exited, or a zombie with no command line */
    v = calloc(1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    r = parse_qemu_cmdline(buf, (size_t)n, &v->cmd);
    if (r < 0) {
        free(v);
        return r;
    }
    v->have_proc = true;
    v->pid = pid;
    v->ino = ino;
    v->starttime = ps->starttime;
    v->stat_fd = -1;
    v->pidfd = s->host_proc ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
    v->lv_id = -1;
    memcpy(v->uuid, v->cmd.uuid, sizeof(v->uuid));
    /* QEMU without -name is named after its PID, so that it can still be looked up. */
    if (v->cmd.name && *v->cmd.name)
        v->name = strdup(v->cmd.name);
    else if (asprintf(&v->name, "qemu-%d", (int)pid) < 0)
        v->name = NULL;
    if (v->cmd.qmp_path)
        v->qmp = qmp_socket_path(s, pid, v->cmd.qmp_path);
    if (!v->name || (v->cmd.qmp_path && !v->qmp) || add_vm(s, v) < 0) {
        vm_free(v);
        return -ENOMEM;
    }
    v->seen = true;
    return 0;
}

/* Was (pid, ino) in the previous scan? Both scans list PIDs in increasing order (procfs'
 * readdir), so one cursor walks the old list once per scan. */
static const proc_entry *seen_before(const proc_entry *old, size_t nold, size_t *cursor, pid_t pid, ino_t ino) {
    while (*cursor < nold && old[*cursor].pid < pid)
        (*cursor)++;
    if (*cursor < nold && old[*cursor].pid == pid && old[*cursor].ino == ino)
        return &old[*cursor];
    return NULL;
}

/* A process is looked at again for YOUNG_NS after it appeared: libvirt (and any launcher) forks
 * first and execs QEMU a moment later, under the same PID. */
#define YOUNG_NS (2ull * 1000000000ull)
/* Without a new PID, no new QEMU can have appeared; a full scan at least this often anyway (for
 * a process that execs QEMU later than YOUNG_NS after it started, while the host created no
 * process or thread at all). Listing /proc costs about as much as a whole sample's VM records. */
#define RESCAN_NS (30ull * 1000000000ull)

/* The last PID the kernel handed out, from /proc/loadavg; -1 when unknown. */
static long last_pid(vms_state *s) {
    char buf[128];
    ssize_t n;
    const char *p;
    if (s->loadavg_fd < 0 || (n = pread(s->loadavg_fd, buf, sizeof(buf) - 1, 0)) <= 0)
        return -1;
    buf[n] = 0;
    p = strrchr(buf, ' ');
    return p ? strtol(p + 1, NULL, 10) : -1;
}

/* Can this discovery skip listing /proc? Only on this host's /proc, when no PID was handed out
 * since the last scan (no process or thread was created: no new QEMU), no process of the last
 * scan is young enough to have exec'd QEMU since, every known QEMU has a pidfd (which tells
 * when it exits), and the last scan is recent. The known QEMUs that still run are marked seen. */
static bool scan_skippable(vms_state *s, long pid_now) {
    uint64_t now = uni_clock_ns();
    if (!s->host_proc || pid_now < 0 || pid_now != s->last_pid || s->young || now - s->scan_ns >= RESCAN_NS)
        return false;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i]->have_proc && s->v[i]->pidfd < 0)
            return false;
    {
        /* One poll for every pidfd (readable: the process exited), not one per VM. */
        struct pollfd *p = calloc(s->n ? s->n : 1, sizeof(*p));
        size_t k = 0;
        if (!p)
            return false;
        for (size_t i = 0; i < s->n; i++)
            if (s->v[i]->have_proc)
                p[k++] = (struct pollfd){.fd = s->v[i]->pidfd, .events = POLLIN};
        if (poll(p, k, 0) < 0) {
            free(p);
            return false;
        }
        k = 0;
        for (size_t i = 0; i < s->n; i++)
            if (s->v[i]->have_proc)
                s->v[i]->seen = !(p[k++].revents & POLLIN);
        free(p);
    }
    return true;
}

static int scan_procs(vms_state *s) {
    long pid_now = last_pid(s);
    uint64_t now = uni_clock_ns();
    int dfd;
    proc_entry *old = s->seen;
    size_t nold = s->nseen, cap = nold + 64, cursor = 0;
    DIR *d;
    struct dirent *de;
    int r = 0;
    bool first_scan = s->scan_ns == 0;

    if (scan_skippable(s, pid_now))
        return 0;
    s->last_pid = pid_now;
    s->scan_ns = now;
    s->young = false;
    dfd = openat(s->proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return -errno;
    }
    s->seen = malloc(cap * sizeof(*s->seen));
    s->nseen = 0;
    if (!s->seen) {
        s->seen = old;
        s->nseen = nold;
        closedir(d);
        return -ENOMEM;
    }
    while ((de = readdir(d)) && r >= 0) {
        char rel[64];
        pid_stat ps;
        unsigned pid;
        bool qemu;
        vm *v;

        if (!isdigit((unsigned char)de->d_name[0]) || safe_atou(de->d_name, &pid) < 0 || pid == 0 || pid > INT32_MAX)
            continue;
        const proc_entry *e = seen_before(old, nold, &cursor, (pid_t)pid, de->d_ino);
        /* What the first scan finds was there before us: not young (0). */
        uint64_t first = e ? e->first_ns : first_scan ? 0 : now;
        bool young = now - first < YOUNG_NS;
        qemu = e && (e->qemu || !young) ? e->qemu : is_qemu_process(s, de->d_name);
        s->young |= young && !qemu;
        if (s->nseen == cap) {
            proc_entry *ns = realloc(s->seen, (cap *= 2) * sizeof(*ns));
            if (!ns) {
                r = -ENOMEM;
                break;
            }
            s->seen = ns;
        }
        s->seen[s->nseen++] = (proc_entry){.pid = (pid_t)pid, .ino = de->d_ino, .qemu = qemu, .first_ns = first};
        if (!qemu)
            continue;
        v = find_vm_pid(s, (pid_t)pid, de->d_ino);
        if (v) {
            v->seen = true;
            continue;
        }
        snprintf(rel, sizeof(rel), "%u/stat", pid);
        if (read_pid_stat(s, rel, &ps) < 0)
            continue; /* gone since readdir */
        r = new_proc_vm(s, (pid_t)pid, de->d_ino, &ps);
        if (r == -ENOENT || r == -ESRCH || r == -EBADMSG) {
            /* A zombie (no command line) or not a QEMU after all: not looked at again. */
            s->seen[s->nseen - 1].qemu = false;
            r = 0;
        }
    }
    closedir(d);
    free(old);
    return r;
}

/* A domain's metadata is read when it is first seen, then when libvirt announces a change of it
 * (or may have missed one), and at least every META_WATCHED_NS; where libvirt cannot announce
 * changes (libvirt.so's connections, a libvirtd before 3.0), every META_REFRESH_NS. Nova's never
 * changes for an instance, a reliability requirement rarely does, and each read costs two round
 * trips to libvirtd per domain. */
#define META_REFRESH_NS (30ull * 1000000000ull)
#define META_WATCHED_NS (600ull * 1000000000ull)
static bool meta_due(const char *uuid, bool watched, bool changed, void *ud) {
    vm *v = find_vm_uuid(ud, uuid);
    if (!v || !v->meta_ns || changed)
        return true;
    return uni_clock_ns() - v->meta_ns >= (watched ? META_WATCHED_NS : META_REFRESH_NS);
}

static int merge_libvirt(vms_state *s, lv_stats *lvst) {
    lv_dom_info *infos = NULL;
    size_t n = 0;
    int r;

    if (!s->lv)
        return 0;
    /* The domains of this collection's statistics where they say (one round trip, not two). */
    r = lvst ? lv_stats_list(s->lv, lvst, meta_due, s, &infos, &n) : 0;
    if (r == 0)
        r = lv_list(s->lv, meta_due, s, &infos, &n);
    if (r < 0)
        return 0; /* libvirt went away: the processes still count */
    for (size_t i = 0; i < n && r >= 0; i++) {
        vm *v = find_vm_uuid(s, infos[i].uuid);
        if (!v) {
            /* Not a QEMU process of this host (yet): a libvirt-only domain (inactive, or of
             * another hypervisor driver such as libvirt's test driver). */
            for (size_t k = 0; k < s->n && !v; k++)
                if (!s->v[k]->have_proc && streq(s->v[k]->uuid, infos[i].uuid))
                    v = s->v[k];
            if (!v) {
                v = calloc(1, sizeof(*v));
                if (!v || add_vm(s, v) < 0) {
                    free(v);
                    r = -ENOMEM;
                    break;
                }
                memcpy(v->uuid, infos[i].uuid, sizeof(v->uuid));
            }
        }
        free(v->name);
        v->name = strdup(infos[i].name); /* libvirt's name wins: it is the one users manage */
        if (!v->name)
            r = -ENOMEM;
        v->in_libvirt = true;
        v->lv_id = infos[i].id;
        v->lv_active = infos[i].active;
        if (infos[i].has_meta) {
            lv_meta_done(&v->meta);
            v->meta = infos[i].meta;
            infos[i].meta = (lv_meta){0};
            v->meta_ns = uni_clock_ns();
        }
        v->seen = true;
        /* libvirt holds its domains' monitors: a second QMP client would wait for ever. */
        if (v->have_proc) {
            free(v->qmp);
            v->qmp = NULL;
        }
    }
    lv_infos_free(infos, n);
    return r;
}

static int cmp_vm(const void *a, const void *b) {
    const vm *x = *(vm *const *)a, *y = *(vm *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->pid > y->pid) - (x->pid < y->pid);
}

/* Refresh the VM list: new QEMU processes and libvirt domains in, the gone ones out. @lvst:
 * libvirt's statistics of this collection, or NULL. */
static int discover(vms_state *s, lv_stats *lvst) {
    int r;
    size_t w = 0;

    for (size_t i = 0; i < s->n; i++) {
        s->v[i]->seen = false;
        s->v[i]->in_libvirt = false;
    }
    r = scan_procs(s);
    if (r >= 0)
        r = merge_libvirt(s, lvst);
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i]->seen)
            s->v[w++] = s->v[i];
        else
            vm_free(s->v[i]);
    }
    s->n = w;
    if (s->n > 1)
        qsort(s->v, s->n, sizeof(*s->v), cmp_vm);
    if (r < 0) {
        uni_error_errno(r, "discovering VMs in %s", s->procfs);
        return -1;
    }
    return 0;
}

static bool vm_active(const vm *v) {
    return v->have_proc || (v->in_libvirt && v->lv_active);
}

static int vm_info(const vm *v, uni_domain_info *out) {
    memset(out, 0, sizeof(*out));
    if (!(out->name = strdup(v->name)))
        return -ENOMEM;
    memcpy(out->uuid, v->uuid, sizeof(out->uuid));
    out->active = vm_active(v);
    out->id = v->have_proc ? v->pid : v->in_libvirt ? v->lv_id : -1;
    return 0;
}

int vms_list(vms_state *s, uni_domain_info **ret, size_t *ret_n) {
    uni_domain_info *out;

    if (discover(s, NULL) < 0)
        return -1;
    out = calloc(s->n ? s->n : 1, sizeof(*out));
    if (!out)
        goto oom;
    for (size_t i = 0; i < s->n; i++)
        if (vm_info(s->v[i], &out[i]) < 0) {
            *ret = out;
            *ret_n = i;
            goto oom;
        }
    *ret = out;
    *ret_n = s->n;
    return 0;
oom:
    uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
    return -1;
}

/* ---------------------------------------------------------------------------------------------
 * KVM statistics: gathered from a source, then emitted per vCPU, per VM and host-wide
 * ------------------------------------------------------------------------------------------- */

/* A statistic's name for a table kept between samples: rec_intern's (records then refer to it),
 * else a copy the table owns (*@owned: free it); NULL when out of memory. */
static const char *keep_name(const char *name, bool *owned) {
    const char *kept = rec_intern(name);
    *owned = !kept;
    return kept ? kept : strdup(name);
}

/* A sample of a kept name: referred to when it is rec_intern's, else copied. */
static int rec_u64_kept(uniRecordPtr rec, unsigned metric, int index, const char *name, bool owned, uint64_t v) {
    return (owned ? rec_u64 : rec_u64_interned)(rec, metric, index, name, v);
}

/* Put entry i in the index (which has room). */
static void kstat_index(kstats *k, size_t i) {
    size_t m = k->nslots - 1, h = str_hash(k->e[i].name) & m;
    while (k->slot[h])
        h = (h + 1) & m;
    k->slot[h] = (uint32_t)i + 1;
}

/* The entry of statistic @name, made on first sight (a VM has tens of statistics, each seen once
 * per vCPU: a hash keeps that linear). */
static kstat *kstat_get(kstats *k, const char *name, kvm_stat_kind kind) {
    kstat *ne;
    /* A source gives its statistics in the same order every collection: the entry after the
     * last one found is most likely the one. */
    if (k->guess < k->n && (k->e[k->guess].name == name || streq(k->e[k->guess].name, name)))
        return &k->e[k->guess++];
    if (k->nslots) {
        size_t m = k->nslots - 1;
        for (size_t h = str_hash(name) & m; k->slot[h]; h = (h + 1) & m)
            if (streq(k->e[k->slot[h] - 1].name, name)) {
                k->guess = k->slot[h];
                return &k->e[k->slot[h] - 1];
            }
    }
    if (2 * (k->n + 1) > k->nslots) {
        size_t ns = k->nslots ? 2 * k->nslots : 256;
        uint32_t *nsl = calloc(ns, sizeof(*nsl));
        if (!nsl)
            return NULL;
        free(k->slot);
        k->slot = nsl;
        k->nslots = ns;
        for (size_t i = 0; i < k->n; i++)
            kstat_index(k, i);
    }
    ne = realloc(k->e, (k->n + 1) * sizeof(*ne));
    if (!ne)
        return NULL;
    k->e = ne;
    ne = &k->e[k->n];
    memset(ne, 0, sizeof(*ne));
    ne->kind = kind;
    if (!(ne->name = keep_name(name, &ne->owned)))
        return NULL;
    if (k->nvcpu && (!(ne->vcpu = calloc(k->nvcpu, sizeof(uint64_t))) || !(ne->vcpu_round = calloc(k->nvcpu, sizeof(uint32_t))))) {
        if (ne->owned)
            free((char *)ne->name);
        free(ne->vcpu);
        return NULL;
    }
    kstat_index(k, k->n++);
    k->guess = k->n;
    return ne;
}

static void kstats_cb(void *ud, int vcpu, const char *name, kvm_stat_kind kind, uint64_t value) {
    kstats *k = ud;
    kstat *e;
    if (vcpu >= (int)k->nvcpu)
        return;
    e = kstat_get(k, name, kind);
    if (!e) {
        k->err = -ENOMEM;
        return;
    }
    k->nseen++;
    if (vcpu < 0) {
        e->vm_round = k->round;
        e->vm_value = value;
    } else {
        e->vcpu[vcpu] = value;
        e->vcpu_round[vcpu] = k->round;
    }
}

static void kstats_done(kstats *k) {
    for (size_t i = 0; i < k->n; i++) {
        if (k->e[i].owned)
            free((char *)k->e[i].name);
        free(k->e[i].vcpu);
        free(k->e[i].vcpu_round);
    }
    free(k->e);
    free(k->slot);
    memset(k, 0, sizeof(*k));
}

/* A new round of values for @n vCPU slots: the entries stay (made again only when the number of
 * slots changed), their values are forgotten. */
static void kstats_begin(kstats *k, unsigned n) {
    if (n != k->nvcpu)
        kstats_done(k);
    k->nvcpu = n;
    k->nseen = 0;
    k->guess = 0;
    k->err = 0;
    if (++k->round == 0) { /* wrapped: no value may look like one of this round */
        for (size_t i = 0; i < k->n; i++) {
            k->e[i].vm_round = 0;
            if (n)
                memset(k->e[i].vcpu_round, 0, n * sizeof(uint32_t));
        }
        k->round = 1;
    }
}

/* dom.kvm.NAME: the VM-scope statistics, and every vCPU statistic summed over the vCPUs (a
 * high-water mark: their maximum), as KVM's debugfs and kvm_stat give them per VM; then
 * dom.vcpu.V.kvm.NAME. */
static void kstats_emit(kstats *k, uniRecordPtr rec) {
    for (size_t i = 0; i < k->n; i++) {
        kstat *e = &k->e[i];
        bool any = e->vm_round == k->round;
        uint64_t v = any ? e->vm_value : 0;
        for (unsigned c = 0; c < k->nvcpu; c++)
            if (e->vcpu_round[c] == k->round) {
                v = e->kind == KVM_STAT_PEAK ? (e->vcpu[c] > v ? e->vcpu[c] : v) : v + e->vcpu[c];
                any = true;
            }
        if (any)
            rec_u64_kept(rec, UNI_M_DOM_KVM_NAME, -1, e->name, e->owned, v);
    }
    for (unsigned c = 0; c < k->nvcpu; c++)
        for (size_t i = 0; i < k->n; i++)
            if (k->e[i].vcpu_round[c] == k->round)
                rec_u64_kept(rec, UNI_M_DOM_VCPU_V_KVM_NAME, (int)c, k->e[i].name, k->e[i].owned, k->e[i].vcpu[c]);
    k->nseen = 0; /* emitted once (the values are forgotten at the next kstats_begin) */
}

/* ---------------------------------------------------------------------------------------------
 * One VM's record
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    pid_t tid;
    int index; /* vCPU index, or -1 for QEMU's other threads */
    pid_stat st;
    vcpu_thread_fd *kept; /* its entry in the VM's vcpu_cache, or NULL */
} thread_info;

typedef struct {
    vms_state *s;
    vm *v;
    uniRecordPtr rec;
    const uni_select *sel;
    qmp_job *job;          /* this VM's QMP answers, or NULL */
    uint64_t now;
    double mem_total_mb;
    const char *netdev;    /* /proc/net/dev of this sample, or NULL */
    size_t netdev_len;
    lv_stats *lvst;        /* libvirt's statistics of this collection, or NULL */
    thread_info *threads;  /* vCPU threads by index (index -1: not found) */
    unsigned nvcpu;
    bool stopped;          /* the QEMU process is stopped (SIGSTOP, tracer) */
} vm_ctx;

static bool wants(const vm_ctx *c, unsigned m) {
    return uni_select_has(c->sel, m);
}

static bool wants_any(const vm_ctx *c, const unsigned *ms, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (wants(c, ms[i]))
            return true;
    return false;
}

static void absent_all(vm_ctx *c, const unsigned *ms, size_t n, const char *why) {
    for (size_t i = 0; i < n; i++)
        rec_absent(c->rec, ms[i], "%s", why);
}

static const unsigned proc_metrics[] = {
    UNI_M_DOM_CPU_TIME_MS, UNI_M_DOM_CPU_UTIL_PCT, UNI_M_DOM_MEM_MB, UNI_M_DOM_MEM_PCT, UNI_M_DOM_MEM_RESIDENT_MB,
    UNI_M_DOM_INTERRUPT_MS, UNI_M_DOM_PID, UNI_M_DOM_SWAP_WAIT_MS, UNI_M_DOM_SWAP_WAIT_PCT,
};
static const unsigned vcpu_metrics[] = {
    UNI_M_DOM_CPU_COUNT, UNI_M_DOM_VCPU_V_TIME_MS, UNI_M_DOM_VCPU_V_CPU, UNI_M_DOM_VCPU_V_PINNING, UNI_M_DOM_VCPU_V_TID,
};
static const unsigned perf_metrics[] = {
    UNI_M_DOM_PERF_CYCLES, UNI_M_DOM_PERF_INSTRUCTIONS, UNI_M_DOM_PERF_CACHE_REFERENCES, UNI_M_DOM_PERF_CACHE_MISSES,
};
static const unsigned net_metrics[] = {
    UNI_M_DOM_NET_I_NAME, UNI_M_DOM_NET_I_MAC, UNI_M_DOM_NET_I_FREF, UNI_M_DOM_NET_I_RX_BYTES, UNI_M_DOM_NET_I_RX_PACKETS,
    UNI_M_DOM_NET_I_TX_BYTES, UNI_M_DOM_NET_I_TX_PACKETS, UNI_M_DOM_NET_I_RX_BYTES_RATE, UNI_M_DOM_NET_I_TX_BYTES_RATE,
};
static const unsigned disk_metrics[] = {
    UNI_M_DOM_DISK_I_DEVICE, UNI_M_DOM_DISK_I_READ_BYTES, UNI_M_DOM_DISK_I_READ_REQUESTS, UNI_M_DOM_DISK_I_WRITE_BYTES,
    UNI_M_DOM_DISK_I_WRITE_REQUESTS, UNI_M_DOM_DISK_I_ERRORS, UNI_M_DOM_DISK_I_READ_BYTES_RATE,
    UNI_M_DOM_DISK_I_READ_REQUESTS_RATE, UNI_M_DOM_DISK_I_WRITE_BYTES_RATE, UNI_M_DOM_DISK_I_WRITE_REQUESTS_RATE,
    UNI_M_DOM_DISK_I_LATENCY_MS, UNI_M_DOM_DISK_I_IOPS, UNI_M_DOM_DISK_I_CAPACITY_BYTES,
    UNI_M_DOM_DISK_I_ALLOCATION_BYTES, UNI_M_DOM_DISK_I_PHYSICAL_BYTES,
};
static const unsigned kvm_metrics[] = {UNI_M_DOM_KVM_NAME, UNI_M_DOM_VCPU_V_KVM_NAME, UNI_M_DOM_KVMSTATS_SOURCE};

static uint64_t ticks_ms(const vm_ctx *c, uint64_t ticks) {
    return jiffies_to_ms(ticks, c->s->hz);
}

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
        vc->t[vc->n++] = (vcpu_thread_fd){.tid = c->threads[i].tid, .index = (int)i, .fd = fd};
    }
    vc->num_threads = vc->n ? ps->num_threads : 0;
}

/* The vCPU threads: by name ("CPU N/KVM", QEMU with debug-threads=on), else by QMP's thread-id. */
static int find_vcpus(vm_ctx *c, const pid_stat *ps) {
    vms_state *s = c->s;
    char rel[64];
    int dfd;
    DIR *d;
    struct dirent *de;
    thread_info *all = NULL;
    size_t nall = 0;
    unsigned maxidx = 0;
    bool named = false;

    if (vcpus_from_cache(c, ps))
        return 0;

    snprintf(rel, sizeof(rel), "%d/task", (int)c->v->pid);
    dfd = openat(s->proc_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return -ENOMEM;
    }
    while ((de = readdir(d))) {
        unsigned tid, idx;
        char trel[96];
        thread_info t = {.index = -1};
        thread_info *na;
        if (safe_atou(de->d_name, &tid) < 0)
            continue;
        snprintf(trel, sizeof(trel), "%d/task/%u/stat", (int)c->v->pid, tid);
        if (read_pid_stat(s, trel, &t.st) < 0)
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
            closedir(d);
            return -ENOMEM;
        }
        all = na;
        all[nall++] = t;
    }
    closedir(d);
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

static void collect_vcpus(vm_ctx *c) {
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
            if (c->s->host_proc && wants(c, UNI_M_DOM_VCPU_V_PINNING)) {
                cpu_set_t set;
                char list[4096];
                CPU_ZERO(&set);
                if (sched_getaffinity(t->tid, sizeof(set), &set) < 0)
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
        if (!c->s->host_proc)
            rec_absent(c->rec, UNI_M_DOM_VCPU_V_PINNING, "pinning is read with sched_getaffinity(), on this host's /proc only");
        else
            rec_absent(c->rec, UNI_M_DOM_VCPU_V_PINNING, "sched_getaffinity() failed for the vCPU threads");
        return;
    }
    /* No vCPU thread could be told apart: the count from the command line. */
    rec_u64(c->rec, UNI_M_DOM_CPU_COUNT, -1, NULL, c->v->cmd.smp ? c->v->cmd.smp : 1);
    {
        const char *why = c->v->qmp ? "vCPU threads are not named (QEMU without -name ...,debug-threads=on) and QMP did not list them"
                                    : "vCPU threads are not named (QEMU without -name ...,debug-threads=on) and there is no QMP socket to ask";
        for (size_t i = 1; i < ELEMENTSOF(vcpu_metrics); i++)
            rec_absent(c->rec, vcpu_metrics[i], "%s", why);
    }
}

static void collect_proc(vm_ctx *c, const pid_stat *ps) {
    uint64_t exec = ps->utime + ps->stime;
    double mem_mb = (double)ps->rss_pages * (double)c->s->pagesize / 1048576.0;

    rec_u64(c->rec, UNI_M_DOM_PID, -1, NULL, (uint64_t)c->v->pid);
    rec_u64(c->rec, UNI_M_DOM_CPU_TIME_MS, -1, NULL, ticks_ms(c, exec));
    /* Spec Table 3: VM interruption time = execution time - guest time, of the QEMU process
     * (its /proc/PID/stat sums every thread, vCPUs included, live and exited). utime includes
     * guest time. */
    if (ps->have_guest_time)
        rec_u64(c->rec, UNI_M_DOM_INTERRUPT_MS, -1, NULL, ticks_ms(c, exec > ps->guest_time ? exec - ps->guest_time : 0));
    else
        rec_absent(c->rec, UNI_M_DOM_INTERRUPT_MS, "no guest_time in /proc/%d/stat (kernel before 2.6.24)", (int)c->v->pid);
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
        const char *why = dr == 0 ? "delay accounting is off: swap-in wait is not measured (sysctl kernel.task_delayacct=1 turns it on, or boot with delayacct)"
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
                100.0 * (double)(d.swapin_delay_total_ns - c->v->prev_swap_ns) / (double)(c->now - c->v->prev_swap_t_ns));
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
        absent_all(c, perf_metrics, ELEMENTSOF(perf_metrics), "perf counters are read with perf_event_open(), on this host only");
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
    rec_absent(c->rec, UNI_M_DOM_NET_I_FREF, "filter references are libvirt's (nwfilter); this VM's NICs have none here");
    if (counted) {
        rec_absent(c->rec, UNI_M_DOM_NET_I_RX_BYTES_RATE, "first sample: rates need a second sample (a window)");
        rec_absent(c->rec, UNI_M_DOM_NET_I_TX_BYTES_RATE, "first sample: rates need a second sample (a window)");
    } else {
        const char *why = "no host tap interface (ifname=) for the VM's NICs in /proc/net/dev (user-mode or passed-fd networking)";
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
        snprintf(buf, len, "QMP %s failed: %s", q == QMP_Q_STATS_VM || q == QMP_Q_STATS_VCPU ? "query-stats (QEMU >= 7.1)" : "query",
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
            rec_absent(c->rec, disk_metrics[i], "%s", i == 10 ? "no I/O in the window (latency is time per request)" : first);
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
        k->e[i].kind = qmp_stat_kind(schemas, vcpu ? "vcpu" : "vm", k->e[i].name);
        k->e[i].kind_fixed = true;
    }
}

static void collect_kvm(vm_ctx *c, kstats *k) {
    vms_state *s = c->s;
    char why[256];

    if (!wants_any(c, kvm_metrics, ELEMENTSOF(kvm_metrics)) || rec_has(c->rec, UNI_M_DOM_KVMSTATS_SOURCE))
        return;
    if (s->ksrc == KSRC_OFF) {
        absent_all(c, kvm_metrics, ELEMENTSOF(kvm_metrics), "KVM statistics are turned off on this connection (?kvmstats=off)");
        return;
    }
    if (s->ksrc == KSRC_BINARY) {
        int r;
        if (!c->v->have_proc) {
            absent_all(c, kvm_metrics, ELEMENTSOF(kvm_metrics), "binary KVM statistics need the VM's QEMU process on this host");
            return;
        }
        if (!s->host_proc) {
            absent_all(c, kvm_metrics, ELEMENTSOF(kvm_metrics), "binary KVM statistics need this host's /proc");
            return;
        }
        if (!c->v->bin && !c->v->bin_why) {
            if (kvm_binstats_open(c->v->pid, &c->v->bin, why, sizeof(why)) < 0)
                c->v->bin_why = strdup(why);
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
            w = "libvirt holds this VM's QMP monitor: KVM statistics through libvirt need a libvirtd (?libvirt=qemu:///system) "
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
        absent_all(c, kvm_metrics, ELEMENTSOF(kvm_metrics), k->err == -ENOMEM ? "out of memory" : "malformed QMP query-stats reply");
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
    const char *why = !v->in_libvirt ? "not a libvirt domain (Nova's metadata is kept in libvirt's domain XML)"
                      : !v->meta.nova ? "the libvirt domain has no Nova metadata (not an OpenStack instance)"
                                      : "Nova's metadata of the domain does not say";
    for (size_t i = 0; i < ELEMENTSOF(nova); i++) {
        if (nova[i].value)
            rec_str(c->rec, nova[i].metric, -1, NULL, nova[i].value);
        else
            rec_absent(c->rec, nova[i].metric, "%s", why);
    }
    if (v->meta.reliability)
        rec_str(c->rec, UNI_M_DOM_RELIABILITY, -1, NULL, v->meta.reliability);
    else if (v->in_libvirt)
        rec_absent(c->rec, UNI_M_DOM_RELIABILITY,
                   "no reliability requirement has been set for this VM (libvirt metadata element <reliability> of namespace "
                   LV_UNISERVER_NS ")");
    else
        rec_absent(c->rec, UNI_M_DOM_RELIABILITY, "no reliability requirement has been set for this VM (not a libvirt domain)");
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
static int collect_vm(vm_ctx *c) {
    vm *v = c->v;
    kstats *k = &v->ks;
    pid_stat ps;
    char why[256];
    const char *state = NULL;
    bool stale = false, need_stat;

    rec_str(c->rec, UNI_M_DOM_SOURCE, -1, NULL, v->have_proc && v->in_libvirt ? "process+libvirt" : v->have_proc ? "process" : "libvirt");
    if (v->uuid[0])
        rec_str(c->rec, UNI_M_DOM_UUID, -1, NULL, v->uuid);
    else
        rec_absent(c->rec, UNI_M_DOM_UUID, "QEMU %d was started without -uuid", (int)v->pid);
    rec_absent(c->rec, UNI_M_DOM_CPU_L3_CACHE_USAGE_KB, "no resctrl (Intel RDT CMT / AMD PQoS) monitoring group for this VM");
    rec_absent(c->rec, UNI_M_DOM_MEM_BANDWIDTH_TOTAL_MBPS, "no resctrl (Intel RDT MBM / AMD PQoS) monitoring group for this VM");
    rec_absent(c->rec, UNI_M_DOM_MEM_BANDWIDTH_LOCAL_MBPS, "no resctrl (Intel RDT MBM / AMD PQoS) monitoring group for this VM");
    collect_meta(c);
    if (!v->have_proc) {
        const char *w = v->lv_active ? "libvirt does not report it for this domain, and it has no QEMU process on this host"
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
    need_stat = wants_any(c, proc_metrics, ELEMENTSOF(proc_metrics)) || wants_any(c, vcpu_metrics, ELEMENTSOF(vcpu_metrics)) ||
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
        find_vcpus(c, &ps) < 0)
        c->nvcpu = 0;
    if (wants_any(c, proc_metrics, ELEMENTSOF(proc_metrics)))
        collect_proc(c, &ps);
    collect_vcpus(c);
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
            rec_absent(c->rec, UNI_M_DOM_MEM_USAGE_MB, "no balloon device (QMP: %s); dom.mem_mb is the QEMU process's RSS",
                       c->job->error[QMP_Q_BALLOON]);
        else
            rec_absent(c->rec, UNI_M_DOM_MEM_USAGE_MB, "the guest's memory use comes from its balloon (QMP query-balloon): %s",
                       qmp_failure(c, QMP_Q_BALLOON, why, sizeof(why)));
    }
    stale = stale || c->stopped || (c->job && c->job->unanswered);
    rec_u64(c->rec, UNI_M_DOM_STALE, -1, NULL, stale ? 1 : 0);
    free(c->threads);
    c->threads = NULL;
    v->prev_ns = c->now;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * A collection
 * ------------------------------------------------------------------------------------------- */

static bool sel_any(const uni_select *sel, const unsigned *ms, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (uni_select_has(sel, ms[i]))
            return true;
    return false;
}

/* The QMP queries a selection needs from a VM. */
static unsigned qmp_wants(vms_state *s, const vm *v, const uni_select *sel) {
    unsigned w = 0;
    if (uni_select_has(sel, UNI_M_DOM_STATE))
        w |= 1u << QMP_Q_STATUS;
    if (!v->cmd.debug_threads && (sel_any(sel, vcpu_metrics, ELEMENTSOF(vcpu_metrics)) || uni_select_has(sel, UNI_M_DOM_CPU_UTIL_PCT) ||
                                  sel_any(sel, perf_metrics, ELEMENTSOF(perf_metrics))))
        w |= 1u << QMP_Q_CPUS;
    if (s->ksrc == KSRC_QMP && sel_any(sel, kvm_metrics, ELEMENTSOF(kvm_metrics))) {
        w |= 1u << QMP_Q_STATS_VM | 1u << QMP_Q_STATS_VCPU;
        if (!v->nqom || v->qom_stale)
            w |= 1u << QMP_Q_CPUS;
        if (!s->schemas)
            w |= 1u << QMP_Q_SCHEMAS;
    }
    if (sel_any(sel, disk_metrics, ELEMENTSOF(disk_metrics)))
        w |= 1u << QMP_Q_BLOCKSTATS | 1u << QMP_Q_BLOCK;
    if (uni_select_has(sel, UNI_M_DOM_MEM_USAGE_MB))
        w |= 1u << QMP_Q_BALLOON;
    return w;
}

static bool vm_selected(const vm *v, const uni_domain_info *only, size_t nonly, size_t *ret_pos) {
    uni_domain_info me = {.name = v->name};
    if (!only)
        return true;
    memcpy(me.uuid, v->uuid, sizeof(me.uuid));
    for (size_t i = 0; i < nonly; i++)
        if (uni_domain_info_matches(&me, &only[i])) {
            *ret_pos = i;
            return true;
        }
    return false;
}

static bool stopped_now(vms_state *s, vm *v) {
    pid_stat ps;
    return read_vm_stat(s, v, &ps) == 0 && (ps.state == 'T' || ps.state == 't');
}

int vms_domain_stats(vms_state *s, const uni_select *sel, const uni_domain_info *only, size_t nonly, double mem_total_mb,
                     uni_domain_stats **ret, size_t *ret_n) {
    vm **pick = NULL;
    qmp_job *jobs = NULL;
    bool *stopped = NULL;
    lv_stats *lvst = NULL;
    uni_domain_stats *out = NULL;
    size_t np = 0;
    _cleanup_free_ char *netdev = NULL;
    ssize_t netdev_len = -1;
    uint64_t now;
    int r = 0;

    /* libvirt's statistics first: they also list its domains. */
    if (s->lv && lv_stats_get(s->lv, &lvst) < 0) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    if (discover(s, lvst) < 0) {
        lv_stats_free(lvst);
        return -1;
    }
    s->dacct_read = false;
    pick = calloc(s->n ? s->n : 1, sizeof(*pick));
    jobs = calloc(s->n ? s->n : 1, sizeof(*jobs));
    out = calloc(s->n ? s->n : 1, sizeof(*out));
    if (!pick || !jobs || !out)
        goto oom;
    /* Chosen VMs, in @only's order when given, else by name. */
    if (only) {
        for (size_t i = 0; i < nonly; i++)
            for (size_t k = 0; k < s->n; k++) {
                size_t pos;
                bool dup = false;
                if (!vm_selected(s->v[k], &only[i], 1, &pos))
                    continue;
                for (size_t j = 0; j < np && !dup; j++)
                    dup = pick[j] == s->v[k];
                if (!dup)
                    pick[np++] = s->v[k];
            }
    } else
        for (size_t k = 0; k < s->n; k++)
            pick[np++] = s->v[k];
    /* Every VM's QMP at once, each under the deadline; a stopped QEMU is not asked. */
    stopped = calloc(np ? np : 1, sizeof(*stopped));
    if (!stopped)
        goto oom;
    for (size_t i = 0; s->host_proc && i < np; i++)
        if (pick[i]->have_proc && pick[i]->qmp && (jobs[i].want = qmp_wants(s, pick[i], sel))) {
            if ((stopped[i] = stopped_now(s, pick[i])))
                jobs[i].want = 0; /* a stopped QEMU cannot answer: not asked */
            else
                jobs[i].path = pick[i]->qmp;
        }
    if (qmp_run(jobs, np, s->deadline_ms) < 0)
        goto oom;
    /* /proc/net/dev only when a VM has a host tap interface to look up in it. */
    for (size_t i = 0; i < np && netdev_len < 0 && sel_any(sel, net_metrics, ELEMENTSOF(net_metrics)); i++)
        for (size_t k = 0; k < pick[i]->cmd.nnics && netdev_len < 0; k++)
            if (pick[i]->cmd.nics[k].ifname)
                netdev_len = read_file_at_alloc(s->proc_fd, "net/dev", &netdev);
    now = uni_clock_ns();
    for (size_t i = 0; i < np && r >= 0; i++) {
        vm_ctx c = {.s = s, .v = pick[i], .sel = sel, .job = jobs[i].want ? &jobs[i] : NULL, .now = now, .lvst = lvst,
                    .mem_total_mb = mem_total_mb, .netdev = netdev_len >= 0 ? netdev : NULL,
                    .netdev_len = netdev_len >= 0 ? (size_t)netdev_len : 0, .stopped = stopped[i]};
        uniRecordPtr rec = uni_record_new(uni_catalog, UNI_NMETRICS);
        if (!rec || vm_info(pick[i], &out[i].info) < 0) {
            uniRecordFree(rec);
            *ret = out;
            *ret_n = i;
            goto oom;
        }
        rec->sel = sel;
        rec_reserve(rec, pick[i]->rec_n, pick[i]->rec_nabsent);
        c.rec = rec;
        out[i].rec = rec;
        if (pick[i]->prev_ns && now > pick[i]->prev_ns)
            rec->window_ms = (long long)((now - pick[i]->prev_ns) / 1000000);
        r = collect_vm(&c);
        free(c.threads);
        /* Room for one more vCPU's worth next time, were the VM to grow. */
        pick[i]->rec_n = rec->n + 64;
        pick[i]->rec_nabsent = rec->nabsent + 16;
    }
    for (size_t i = 0; i < np; i++)
        qmp_job_done(&jobs[i]);
    free(jobs);
    free(pick);
    free(stopped);
    lv_stats_free(lvst);
    *ret = out;
    *ret_n = np;
    if (r < 0) {
        uni_error_errno(r, "collecting VM statistics");
        return -1;
    }
    if (!only)
        keep_summary(s, sel, out, np);
    return 0;
oom:
    lv_stats_free(lvst);
    if (jobs)
        for (size_t i = 0; i < np; i++)
            qmp_job_done(&jobs[i]);
    free(jobs);
    free(pick);
    free(stopped);
    if (!*ret)
        free(out);
    uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
    return -1;
}

/* ---------------------------------------------------------------------------------------------
 * Host rows
 * ------------------------------------------------------------------------------------------- */

/* The host's VM rows (host.vms.*, kvm.NAME summed over the VMs) are sums over the VMs' records. */
static void summary_done(vms_summary *m) {
    for (size_t j = 0; j < m->nhk; j++)
        if (m->hk[j].owned)
            free((char *)m->hk[j].name);
    free(m->hk);
    free(m->why_swap);
    free(m->why_kvm);
    *m = (vms_summary){0};
}

static int summarize(const uni_domain_stats *v, size_t n, vms_summary *m) {
    size_t hint = 0, nhk = m->nhk;
    host_kstat *hk = m->hk;
    /* The statistics' names of the last summary serve again: only their sums start over. */
    free(m->why_swap);
    free(m->why_kvm);
    *m = (vms_summary){.n = n, .hk = hk, .nhk = nhk};
    for (size_t j = 0; j < nhk; j++) {
        hk[j].v = 0;
        hk[j].seen = false;
    }
    for (size_t i = 0; i < n; i++) {
        uniRecordPtr r = v[i].rec;
        if (v[i].info.active)
            m->active++;
        for (size_t k = 0; k < r->n; k++) {
            const uniSample *smp = &r->samples[k];
            switch (smp->metric) {
            case UNI_M_DOM_MEM_MB:
                m->mem += smp->value.d;
                break;
            case UNI_M_DOM_SWAP_WAIT_MS:
                m->swap += (double)smp->value.u;
                m->nswap++;
                break;
            case UNI_M_DOM_SWAP_WAIT_PCT:
                m->swap_pct += smp->value.d;
                m->nswap_pct++;
                break;
            case UNI_M_DOM_KVM_NAME: {
                size_t j = m->nhk;
                bool peak = startswith(smp->name, "max_");
                /* Every VM lists the statistics in the same order: look after the last match. */
                for (size_t x = 0; x < m->nhk; x++)
                    if (m->hk[(hint + x) % m->nhk].name == smp->name || streq(m->hk[(hint + x) % m->nhk].name, smp->name)) {
                        j = (hint + x) % m->nhk;
                        break;
                    }
                hint = j + 1;
                if (j == m->nhk) {
                    host_kstat *nh = realloc(m->hk, (m->nhk + 1) * sizeof(*nh));
                    if (!nh)
                        goto oom;
                    m->hk = nh;
                    if (!(nh[m->nhk].name = keep_name(smp->name, &nh[m->nhk].owned)))
                        goto oom;
                    nh[m->nhk].v = 0;
                    nh[m->nhk].peak = peak;
                    m->nhk++;
                }
                m->hk[j].seen = true;
                m->hk[j].v = peak ? (smp->value.u > m->hk[j].v ? smp->value.u : m->hk[j].v) : m->hk[j].v + smp->value.u;
                break;
            }
            default:
                break;
            }
        }
        for (size_t k = 0; k < r->nabsent; k++) {
            if (r->absent[k].metric == UNI_M_DOM_SWAP_WAIT_MS && v[i].info.active && !m->why_swap &&
                !(m->why_swap = strdup(r->absent[k].reason)))
                goto oom;
            if (r->absent[k].metric == UNI_M_DOM_KVM_NAME && v[i].info.active && !m->why_kvm &&
                !(m->why_kvm = strdup(r->absent[k].reason)))
                goto oom;
        }
    }
    m->valid = true;
    return 0;
oom:
    summary_done(m);
    return -ENOMEM;
}

static void summary_emit(const vms_state *s, const vms_summary *m, uniRecordPtr rec, double mem_total_mb) {
    rec_u64(rec, UNI_M_HOST_VMS_COUNT, -1, NULL, m->n);
    rec_u64(rec, UNI_M_HOST_VMS_ACTIVE, -1, NULL, m->active);
    /* Memory of all VMs: the sum of their QEMU processes' memory (0 with no VM running). */
    rec_dbl(rec, UNI_M_HOST_VMS_MEM_MB, -1, NULL, m->mem);
    if (!isnan(mem_total_mb) && mem_total_mb > 0)
        rec_dbl(rec, UNI_M_HOST_VMS_MEM_PCT, -1, NULL, 100.0 * m->mem / mem_total_mb);
    else
        rec_absent(rec, UNI_M_HOST_VMS_MEM_PCT, "no MemTotal in %s/meminfo", s->procfs);
    /* Spec: the average swap wait of all VMs, the mean over the VMs that report one. */
    if (m->nswap)
        rec_dbl(rec, UNI_M_HOST_VMS_SWAP_WAIT_MS, -1, NULL, m->swap / (double)m->nswap);
    else
        rec_absent(rec, UNI_M_HOST_VMS_SWAP_WAIT_MS, "%s", m->why_swap ? m->why_swap : "no running VM");
    if (m->nswap_pct)
        rec_dbl(rec, UNI_M_HOST_VMS_SWAP_WAIT_PCT, -1, NULL, m->swap_pct / (double)m->nswap_pct);
    else
        rec_absent(rec, UNI_M_HOST_VMS_SWAP_WAIT_PCT, "%s",
                   m->why_swap ? m->why_swap : m->nswap ? "first sample: rates need a second sample (a window)" : "no running VM");
    size_t nseen = 0;
    for (size_t j = 0; j < m->nhk; j++)
        if (m->hk[j].seen) {
            rec_u64_kept(rec, UNI_M_KVM_NAME, -1, m->hk[j].name, m->hk[j].owned, m->hk[j].v);
            nseen++;
        }
    if (!nseen)
        rec_absent(rec, UNI_M_KVM_NAME, "%s", m->why_kvm ? m->why_kvm : "no running VM");
}

/* After a collection of every VM with what the host rows need (uniserverd's: everything), keep
 * their sums for the host record that follows: collecting the VMs a second time would cost as
 * much again (QMP, libvirt) and shorten the next window of the VMs' rates to milliseconds. */
#define SUMMARY_REUSE_NS (250ull * 1000000ull)
static void keep_summary(vms_state *s, const uni_select *sel, const uni_domain_stats *v, size_t n) {
    static const unsigned needed[] = {UNI_M_DOM_MEM_MB, UNI_M_DOM_SWAP_WAIT_MS, UNI_M_DOM_SWAP_WAIT_PCT, UNI_M_DOM_KVM_NAME};
    bool all = !sel->nprefixes;
    for (size_t i = 0; i < ELEMENTSOF(needed) && all; i++)
        all = uni_select_has(sel, needed[i]);
    if (!all) {
        summary_done(&s->last);
        return;
    }
    if (summarize(v, n, &s->last) == 0) /* summarize frees it when it fails */
        s->last.at_ns = uni_clock_ns();
}

int vms_node_stats(vms_state *s, const uni_select *sel, uniRecordPtr rec, double mem_total_mb) {
    bool want_vms = uni_select_group(sel, UNI_GROUP_VMS), want_kvm = uni_select_has(sel, UNI_M_KVM_NAME);
    uni_select dsel;
    uni_domain_stats *v = NULL;
    vms_summary m = {0};
    size_t n = 0;
    int r;

    if (!want_vms && !want_kvm)
        return 0;
    if (s->last.valid && uni_clock_ns() - s->last.at_ns < SUMMARY_REUSE_NS) {
        summary_emit(s, &s->last, rec, mem_total_mb);
        s->last.valid = false; /* once (its names serve the next summary) */
        return 0;
    }
    memset(&dsel, 0, sizeof(dsel));
    if (uni_select_has(sel, UNI_M_HOST_VMS_MEM_MB) || uni_select_has(sel, UNI_M_HOST_VMS_MEM_PCT))
        uni_select_add(&dsel, UNI_M_DOM_MEM_MB);
    if (uni_select_has(sel, UNI_M_HOST_VMS_SWAP_WAIT_MS))
        uni_select_add(&dsel, UNI_M_DOM_SWAP_WAIT_MS);
    if (uni_select_has(sel, UNI_M_HOST_VMS_SWAP_WAIT_PCT))
        uni_select_add(&dsel, UNI_M_DOM_SWAP_WAIT_PCT);
    if (want_kvm)
        uni_select_add(&dsel, UNI_M_DOM_KVM_NAME);
    if (vms_domain_stats(s, &dsel, NULL, 0, mem_total_mb, &v, &n) < 0)
        return -1;
    r = summarize(v, n, &m);
    uni_domain_stats_free(v, n);
    if (r < 0) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    summary_emit(s, &m, rec, mem_total_mb);
    summary_done(&m);
    return 0;
}
