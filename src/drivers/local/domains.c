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
 * would have given are absent with the reason; the other VMs are complete.
 *
 * This file opens and closes; domains_discover.c discovers, domains_kstats.c keeps the KVM
 * statistics, domains_record.c makes one VM's record, domains_collect.c runs a collection and
 * domains_summary.c gives the host rows (domains_internal.h: what they share). */
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "domains_internal.h"

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
               *ks = uni_uri_param(uri, "kvmstats"), *rs = uni_uri_param(uri, "reliability_state"),
               *fc = uni_uri_param(uri, "flavor_classes");

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
    if (vm_availability_window_parse(uni_uri_param(uri, "vm_availability_window_s"), &s->avail_window_s) < 0) {
        free(s);
        return -1;
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
    if (rs && (!*rs || !(s->rel_state = strdup(rs)))) {
        uni_error_set(*rs ? UNI_ERR_NO_MEMORY : UNI_ERR_INVALID_URI, "reliability_state takes a file's path");
        free(s);
        return -1;
    }
    if (fc && (!*fc || !(s->flavor_classes = strdup(fc)))) {
        uni_error_set(*fc ? UNI_ERR_NO_MEMORY : UNI_ERR_INVALID_URI, "flavor_classes takes a file's path");
        free(s->rel_state);
        free(s);
        return -1;
    }
    if (!host_proc && uni_uri_param(uri, "sysfs") && !(s->sysfs = strdup(uni_uri_param(uri, "sysfs")))) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        free(s->flavor_classes);
        free(s->rel_state);
        free(s);
        return -1;
    }
    if (!(s->procfs = strdup(procfs))) {
        free(s->sysfs);
        free(s->flavor_classes);
        free(s->rel_state);
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
    } else if (host_proc &&
               (socket_listening("/run/libvirt/libvirt-sock") || socket_listening("/run/libvirt/virtqemud-sock"))) {
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

void io_prev_free(io_prev *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(p[i].name);
    free(p);
}

void vcpu_cache_drop(vcpu_cache *c) {
    for (size_t i = 0; i < c->n; i++) {
        closep(&c->t[i].fd);
        closep(&c->t[i].sfd);
        free(c->t[i].pin_list);
    }
    free(c->t);
    memset(c, 0, sizeof(*c));
}

void qom_drop(vm *v) {
    for (size_t i = 0; i < v->nqom; i++)
        free(v->qom[i]);
    free(v->qom);
    v->qom = NULL;
    v->nqom = 0;
}

void vm_free(vm *v) {
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
    free(v->probes);
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
    free(s->rel_state);
    free(s->flavor_classes);
    free(s->flavor_text);
    free(s->procfs);
    free(s->sysfs);
    free(s->seen);
    free(s);
}
