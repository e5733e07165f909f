/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VMs found in a /proc that is not this host's (the simulated board's, ?procfs=): their vCPUs'
 * affinity is read from /proc/PID/task/TID/status and set through their cgroup v2 cpuset (one
 * vcpuN child per vCPU, libvirt's layout) under ?sysfs=, never with sched_setaffinity, which
 * would act on this host's threads of the same numbers. */
#include <fcntl.h>
#include <limits.h>

#include "domains_internal.h"
#include "lib/control_util.h"
#include "lib/errors.h"

int cpu_set_of_list(const char *list, cpu_set_t *set) {
    uint8_t bits[CPU_SETSIZE / 8] = {0};
    unsigned count;
    int r = parse_cpu_list(list, strlen(list), bits, CPU_SETSIZE, &count);
    if (r < 0)
        return r;
    CPU_ZERO(set);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if ((bits[c / 8] >> (c % 8)) & 1)
            CPU_SET(c, set);
    return 0;
}

int board_vcpu_affinity(vms_state *s, const vm *v, pid_t tid, cpu_set_t *set) {
    char rel[96], buf[2048], *p, *e;
    ssize_t n;
    snprintf(rel, sizeof(rel), "%d/task/%d/status", (int)v->pid, (int)tid);
    if ((n = read_file_at(s->proc_fd, rel, buf, sizeof(buf))) < 0)
        return (int)n;
    if (!(p = strstr(buf, "\nCpus_allowed_list:")))
        return -ENODATA;
    p += strlen("\nCpus_allowed_list:");
    p += strspn(p, " \t");
    if (!(e = strchr(p, '\n')))
        return -EBADMSG;
    *e = 0;
    return cpu_set_of_list(p, set);
}

int board_ncpus(vms_state *s) {
    char dir[PATH_MAX], list[256];
    cpu_set_t set;
    _cleanup_close_ int fd = -1;
    int n = 1;
    snprintf(dir, sizeof(dir), "%s/devices/system/cpu", s->sysfs);
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        read_line_at(fd, "possible", list, sizeof(list)) < 0 || cpu_set_of_list(list, &set) < 0)
        return 1;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            n = c + 1;
    return n;
}

/* The VM's cgroup v2 path from /proc/PID/cgroup ("0::/machine.slice/x.scope"). */
static int cgroup_path(vms_state *s, const vm *v, char *buf, size_t len) {
    char rel[64], text[1024];
    ssize_t n;
    snprintf(rel, sizeof(rel), "%d/cgroup", (int)v->pid);
    if ((n = read_file_at(s->proc_fd, rel, text, sizeof(text))) < 0)
        return (int)n;
    for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        if (startswith(line, "0::/")) {
            snprintf(buf, len, "%s", line + 3);
            return 0;
        }
    }
    return -ENOENT;
}

static void format_set(const cpu_set_t *set, char *buf, size_t len) {
    uint8_t bits[CPU_SETSIZE / 8] = {0};
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, set))
            bits[c / 8] |= (uint8_t)(1u << (c % 8));
    if (format_cpu_list(bits, CPU_SETSIZE, buf, len) < 0)
        snprintf(buf, len, "?");
}

int board_pin_vcpu(uniConnectPtr conn, vms_state *s, const vm *v, unsigned vcpu, pid_t tid, const unsigned char *map,
                   int maplen) {
    char online_list[256], cg[PATH_MAX], path[PATH_MAX + 64], obj[160], b[512], a[512];
    cpu_set_t online, want, before, back;
    _cleanup_close_ int fd = -1;
    int r;

    if (!s->sysfs) {
        uni_error_set(UNI_ERR_NO_SUPPORT,
                      "'%s' is a process of another /proc (%s): pinning it needs that tree's sysfs (?sysfs=)", v->name,
                      s->procfs);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/devices/system/cpu", s->sysfs);
    if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        read_line_at(fd, "online", online_list, sizeof(online_list)) < 0 || cpu_set_of_list(online_list, &online) < 0) {
        uni_error_set(UNI_ERR_SYSTEM_ERROR, "cannot read %s/online", path);
        return -1;
    }
    closep(&fd);
    CPU_ZERO(&want);
    for (int c = 0; c < maplen * 8; c++) {
        if (!((map[c / 8] >> (c % 8)) & 1))
            continue;
        if (c >= CPU_SETSIZE || !CPU_ISSET(c, &online))
            return uni_error_no_core(c, false, online_list);
        CPU_SET(c, &want);
    }
    if (cgroup_path(s, v, cg, sizeof(cg)) < 0) {
        uni_error_set(UNI_ERR_NO_DATA, "'%s' (process %d) shows no cgroup v2 path in /proc/%d/cgroup", v->name,
                      (int)v->pid, (int)v->pid);
        return -1;
    }
    if (board_vcpu_affinity(s, v, tid, &before) < 0) {
        uni_error_set(UNI_ERR_NO_DOMAIN, "vCPU %u of '%s' (thread %d) has gone", vcpu, v->name, (int)tid);
        return -1;
    }
    if (CPU_EQUAL(&before, &want))
        return 0;
    format_set(&before, b, sizeof(b));
    format_set(&want, a, sizeof(a));
    snprintf(path, sizeof(path), "%s/fs/cgroup%s/vcpu%u/cpuset.cpus", s->sysfs, cg, vcpu);
    snprintf(obj, sizeof(obj), "domain %s vcpu %u (thread %d)", v->name, vcpu, (int)tid);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    r = fd < 0 ? -errno : write(fd, a, strlen(a)) < 0 ? -errno : 0;
    closep(&fd);
    if (r == 0)
        r = board_vcpu_affinity(s, v, tid, &back) < 0 ? -EIO : CPU_EQUAL(&back, &want) ? 0 : -EREMOTEIO;
    uni_audit(conn, obj, path, b, a, r, false);
    if (r == 0)
        return 0;
    uni_error_set(r == -EREMOTEIO ? UNI_ERR_NOT_APPLIED : UNI_ERR_SYSTEM_ERROR, "vCPU %u of '%s': writing %s to %s: %s",
                  vcpu, v->name, a, path, r == -EREMOTEIO ? "the thread shows another affinity" : strerror(-r));
    return -1;
}
