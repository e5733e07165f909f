/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's VMs: discovery, from QEMU processes in /proc and from libvirt, merged by
 * UUID. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>

#include "domains_internal.h"

/* ---------------------------------------------------------------------------------------------
 * Discovery
 * ------------------------------------------------------------------------------------------- */

static vm *find_vm_pid(vms_state *s, pid_t pid, ino_t ino) {
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i]->have_proc && s->v[i]->pid == pid && s->v[i]->ino == ino)
            return s->v[i];
    return NULL;
}

/* /proc/PID/stat of a VM's process through its kept-open fd. */
int read_vm_stat(vms_state *s, vm *v, pid_stat *ps) {
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
bool vm_exited(vm *v) {
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
    v->name = qemu_proc_name(&v->cmd, pid);
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
    proc_entry *old = s->seen;
    size_t nold = s->nseen, cap = nold + 64, cursor = 0;
    _cleanup_closedir_ DIR *d = NULL;
    struct dirent *de;
    int r = 0;
    bool first_scan = s->scan_ns == 0;

    if (scan_skippable(s, pid_now))
        return 0;
    s->last_pid = pid_now;
    s->scan_ns = now;
    s->young = false;
    if (!(d = opendir_at(s->proc_fd, ".")))
        return -errno;
    s->seen = malloc(cap * sizeof(*s->seen));
    s->nseen = 0;
    if (!s->seen) {
        s->seen = old;
        s->nseen = nold;
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
        qemu = e && (e->qemu || !young) ? e->qemu : qemu_proc_is_qemu(s->proc_fd, de->d_name);
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
        if (qemu_proc_read_stat(s->proc_fd, rel, &ps) < 0)
            continue; /* gone since readdir */
        r = new_proc_vm(s, (pid_t)pid, de->d_ino, &ps);
        if (r == -ENOENT || r == -ESRCH || r == -EBADMSG) {
            /* A zombie (no command line) or not a QEMU after all: not looked at again. */
            s->seen[s->nseen - 1].qemu = false;
            r = 0;
        }
    }
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
int discover(vms_state *s, lv_stats *lvst) {
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

int vm_info(const vm *v, uni_domain_info *out) {
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
