/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The spec's Table 4 and the reliability class on VMs found from their QEMU process: info from
 * /proc/PID/stat and the command line, a libvirt-shaped XML, the scheduler's parameters and the
 * per-CPU time from the process's cgroups (v1 and v2), each vCPU thread's state and affinity,
 * pinning with sched_setaffinity (checked against the online CPUs and the VM's cpuset, read back,
 * restored on failure, audited), and the class in a state file that outlives uniserverd.
 * libvirt's domains go to libvirt (libvirt_ops.c), whether or not their QEMU runs here. */
#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>

#include "domains_internal.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define DEFAULT_STATE_FILE "/var/lib/uniserver/reliability.state"

/* The VM @dom denotes, after a fresh discovery; NULL with UNI_ERR_NO_DOMAIN. */
static vm *find_vm(vms_state *s, const uni_domain_info *dom) {
    if (discover(s, NULL) < 0)
        return NULL;
    for (size_t i = 0; i < s->n; i++) {
        uni_domain_info info = {.name = s->v[i]->name};
        memcpy(info.uuid, s->v[i]->uuid, sizeof(info.uuid));
        if (uni_domain_info_matches(&info, dom))
            return s->v[i];
    }
    uni_error_set(UNI_ERR_NO_DOMAIN, "domain '%s' does not exist on this host (any more)", dom->name);
    return NULL;
}

/* A VM whose QEMU process runs here; else the error says why not. */
static int need_proc(const vm *v, const char *what) {
    if (v->have_proc)
        return 0;
    (void)what;
    uni_error_set(UNI_ERR_NO_DATA, "domain '%s' is not running", v->name);
    return -1;
}

/* A libvirt domain: each call goes to libvirt, which keeps its state (changing it behind
 * libvirt's back would be undone by libvirt and contradict its XML). */
#define LV(s, v) ((v)->in_libvirt && (s)->lv)

/* The vCPU threads (index -> TID) of @v: "CPU N/KVM" threads (debug-threads=on), else those the
 * last collection found (QMP's query-cpus-fast). Returns the count of slots (highest index + 1). */
static int vcpu_tids(vms_state *s, vm *v, pid_t *tids, int max) {
    char dir[64];
    _cleanup_closedir_ DIR *d = NULL;
    struct dirent *e;
    int n = 0;

    for (int i = 0; i < max; i++)
        tids[i] = 0;
    snprintf(dir, sizeof(dir), "%d/task", (int)v->pid);
    d = opendir_at(s->proc_fd, dir);
    while (d && (e = readdir(d))) {
        char rel[320], comm[64];
        unsigned idx, tid;
        if (e->d_name[0] == '.' || safe_atou(e->d_name, &tid) < 0)
            continue;
        snprintf(rel, sizeof(rel), "%d/task/%s/comm", (int)v->pid, e->d_name);
        if (read_line_at(s->proc_fd, rel, comm, sizeof(comm)) < 0 || parse_vcpu_thread_name(comm, &idx) < 0 ||
            (int)idx >= max)
            continue;
        tids[idx] = (pid_t)tid;
        if ((int)idx + 1 > n)
            n = (int)idx + 1;
    }
    for (size_t i = 0; n == 0 && i < v->vc.n; i++)
        if (v->vc.t[i].index >= 0 && v->vc.t[i].index < max) {
            tids[v->vc.t[i].index] = v->vc.t[i].tid;
            if (v->vc.t[i].index + 1 > n)
                n = v->vc.t[i].index + 1;
        }
    return n;
}

int vms_domain_get_info(vms_state *s, const uni_domain_info *dom, uniDomainInfo *ret) {
    pid_t tids[MAX_VCPUS];
    pid_stat ps;
    vm *v = find_vm(s, dom);
    int n;
    if (v && LV(s, v))
        return lv_dom_get_info(s->lv, v->uuid, v->name, ret);
    if (!v || need_proc(v, "the information") < 0)
        return -1;
    if (read_vm_stat(s, v, &ps) < 0) {
        uni_error_set(UNI_ERR_NO_DOMAIN, "domain '%s' has exited", v->name);
        return -1;
    }
    n = vcpu_tids(s, v, tids, MAX_VCPUS);
    ret->state = ps.state == 'T' || ps.state == 't'   ? UNI_DOMAIN_PAUSED
                 : ps.state == 'Z' || ps.state == 'X' ? UNI_DOMAIN_SHUTOFF
                                                      : UNI_DOMAIN_RUNNING;
    /* -m's size (QEMU's default is 128 MiB); what it uses now is its resident set. */
    ret->maxMem = (v->cmd.mem_mb ? v->cmd.mem_mb : 128) * 1024;
    ret->memory = ps.rss_pages * (uint64_t)s->pagesize / 1024;
    ret->nrVirtCpu = (unsigned short)(n ? (unsigned)n : v->cmd.smp ? v->cmd.smp : 1u);
    ret->maxVcpus = v->cmd.smp > ret->nrVirtCpu ? v->cmd.smp : ret->nrVirtCpu;
    ret->cpuTime = (ps.utime + ps.stime) * (1000000000ull / (uint64_t)s->hz);
    return 0;
}

/* XML text with the five predefined entities escaped, appended to @f. */
static void xml_text(FILE *f, const char *t) {
    for (; t && *t; t++)
        switch (*t) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*t, f);
        }
}

int vms_domain_get_xml(vms_state *s, const uni_domain_info *dom, char **ret) {
    _cleanup_free_ char *argv = NULL;
    char rel[64];
    size_t len = 0;
    ssize_t n;
    uniDomainInfo info;
    FILE *f;
    vm *v = find_vm(s, dom);

    if (v && LV(s, v))
        return lv_dom_get_xml(s->lv, v->uuid, v->name, ret);
    if (!v || need_proc(v, "the XML") < 0 || vms_domain_get_info(s, dom, &info) < 0)
        return -1;
    snprintf(rel, sizeof(rel), "%d/cmdline", (int)v->pid);
    if ((n = read_file_at_alloc(s->proc_fd, rel, &argv)) < 0) {
        uni_error_set(UNI_ERR_NO_DOMAIN, "domain '%s' has exited", v->name);
        return -1;
    }
    if (!(f = open_memstream(ret, &len))) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    fprintf(f,
            "<!-- Built by uniserver from QEMU process %d's command line: a description, not a definition "
            "libvirt could start. -->\n<domain type='kvm' id='%d'>\n  <name>",
            (int)v->pid, (int)v->pid);
    xml_text(f, v->name);
    fprintf(f, "</name>\n");
    if (v->uuid[0])
        fprintf(f, "  <uuid>%s</uuid>\n", v->uuid);
    fprintf(f, "  <memory unit='KiB'>%llu</memory>\n  <currentMemory unit='KiB'>%llu</currentMemory>\n", info.maxMem,
            info.maxMem);
    fprintf(f, "  <vcpu placement='static' current='%u'>%u</vcpu>\n  <devices>\n", info.nrVirtCpu, info.maxVcpus);
    /* Disks: each -drive file=PATH and -blockdev ...,filename=PATH. */
    for (const char *a = argv; a < argv + n; a += strlen(a) + 1) {
        const char *next = a + strlen(a) + 1;
        bool drive = streq(a, "-drive"), blockdev = streq(a, "-blockdev");
        _cleanup_free_ char *file = NULL;
        if ((!drive && !blockdev) || next >= argv + n)
            continue;
        if (qemu_opts_get(next, drive ? "file" : "filename", NULL, &file) < 0 || !file)
            continue;
        fprintf(f, "    <disk type='file' device='disk'>\n      <source file='");
        xml_text(f, file);
        fprintf(f, "'/>\n    </disk>\n");
    }
    for (size_t i = 0; i < v->cmd.nnics; i++) {
        const qemu_nic *nic = &v->cmd.nics[i];
        fprintf(f, "    <interface type='%s'>\n", nic->type && streq(nic->type, "tap") ? "ethernet" : "user");
        if (nic->mac)
            fprintf(f, "      <mac address='%s'/>\n", nic->mac);
        if (nic->ifname) {
            fprintf(f, "      <target dev='");
            xml_text(f, nic->ifname);
            fprintf(f, "'/>\n");
        }
        fprintf(f, "    </interface>\n");
    }
    fprintf(f, "  </devices>\n</domain>\n");
    if (fclose(f) != 0) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    return 0;
}

/* Is @word one of the comma-separated @list? */
static bool in_comma_list(const char *word, const char *list) {
    size_t n = strlen(word);
    for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (!strncmp(p, word, n) && (p[n] == ',' || p[n] == 0))
            return true;
    return false;
}

/* The process's cgroup directory for v1 controller @ctl (NULL: v2's) into @buf; 1 when it is the
 * root of its hierarchy (shared with the whole host), 0 not, -ENOENT when there is none. */
static int cgroup_dir(vms_state *s, const vm *v, const char *ctl, char *buf, size_t len) {
    _cleanup_free_ char *text = NULL;
    char rel[64], *save = NULL;
    struct stat st;
    snprintf(rel, sizeof(rel), "%d/cgroup", (int)v->pid);
    if (!s->host_proc || read_file_at_alloc(s->proc_fd, rel, &text) < 0)
        return -ENOENT;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2++ = 0;
        if (ctl ? !in_comma_list(ctl, c1 + 1) : !streq(line, "0"))
            continue;
        if (ctl) { /* v1: mounted as its controllers' list, or as @ctl alone */
            snprintf(buf, len, CGROUP_ROOT "/%s%s", c1 + 1, c2);
            if (stat(buf, &st) < 0)
                snprintf(buf, len, CGROUP_ROOT "/%s%s", ctl, c2);
        } else { /* v2: the unified mount, alone or beside v1's */
            snprintf(buf, len, CGROUP_ROOT "%s", c2);
            if (stat(CGROUP_ROOT "/cgroup.controllers", &st) < 0)
                snprintf(buf, len, CGROUP_ROOT "/unified%s", c2);
        }
        if (stat(buf, &st) < 0)
            continue;
        return streq(c2, "/") ? 1 : 0;
    }
    return -ENOENT;
}

/* A number from cgroup file @dir/@name; -errno. */
static int cg_read(const char *dir, const char *name, char *buf, size_t len) {
    _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ssize_t n;
    if (fd < 0)
        return -errno;
    n = read_line_at(fd, name, buf, len);
    return n < 0 ? (int)n : 0;
}

int vms_domain_get_sched(vms_state *s, const uni_domain_info *dom, char **ret_type, uniSchedParam **ret) {
    char dir[PATH_MAX], a[64], b[64], c[64];
    long long shares, quota, period;
    vm *v = find_vm(s, dom);
    if (v && LV(s, v))
        return lv_dom_get_sched(s->lv, v->uuid, v->name, ret_type, ret);
    if (!v || need_proc(v, "the scheduler parameters") < 0)
        return -1;
    if (cgroup_dir(s, v, "cpu", dir, sizeof(dir)) >= 0 && cg_read(dir, "cpu.shares", a, sizeof(a)) == 0 &&
        cg_read(dir, "cpu.cfs_quota_us", b, sizeof(b)) == 0 && cg_read(dir, "cpu.cfs_period_us", c, sizeof(c)) == 0) {
        shares = strtoll(a, NULL, 10);
        quota = strtoll(b, NULL, 10);
        period = strtoll(c, NULL, 10);
    } else if (cgroup_dir(s, v, NULL, dir, sizeof(dir)) >= 0 && cg_read(dir, "cpu.weight", a, sizeof(a)) == 0 &&
               cg_read(dir, "cpu.max", b, sizeof(b)) == 0) {
        /* libvirt's conversion of cgroup v2's weight (1-10000, default 100) to shares. */
        shares = strtoll(a, NULL, 10) * 1024 / 100;
        quota = strncmp(b, "max", 3) == 0 ? -1 : strtoll(b, NULL, 10);
        period = strtoll(strchr(b, ' ') ? strchr(b, ' ') + 1 : "100000", NULL, 10);
    } else {
        uni_error_set(UNI_ERR_NO_DATA,
                      "the CPU controller of QEMU process %d's cgroup cannot be read (neither cgroup v1 cpu.shares "
                      "nor v2 cpu.weight under " CGROUP_ROOT ")",
                      (int)v->pid);
        return -1;
    }
    *ret_type = strdup("posix");
    *ret = calloc(3, sizeof(**ret));
    if (!*ret_type || !*ret) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    (*ret)[0] = (uniSchedParam){"cpu_shares", shares};
    (*ret)[1] = (uniSchedParam){"global_period", period};
    (*ret)[2] = (uniSchedParam){"global_quota", quota};
    return 3;
}

/* The host's possible CPUs (the maps' width). */
static int host_ncpus(void) {
    int n = get_nprocs_conf();
    return n > 0 ? n : 1;
}

int vms_domain_get_vcpus(vms_state *s, const uni_domain_info *dom, uniVcpuInfo **ret_info, unsigned char **ret_maps,
                         int *ret_ncpus) {
    pid_t tids[MAX_VCPUS];
    int n, ncpus = s->host_proc || !s->sysfs ? host_ncpus() : board_ncpus(s), maplen = UNI_CPU_MAPLEN(ncpus);
    vm *v = find_vm(s, dom);
    if (v && LV(s, v))
        return lv_dom_get_vcpus(s->lv, v->uuid, v->name, ret_info, ret_maps, ret_ncpus);
    if (!v || need_proc(v, "the vCPUs") < 0)
        return -1;
    n = vcpu_tids(s, v, tids, MAX_VCPUS);
    if (n == 0) {
        uni_error_set(UNI_ERR_NO_DATA,
                      "QEMU process %d's vCPU threads cannot be told apart (no debug-threads=on and no QMP answer yet)",
                      (int)v->pid);
        return -1;
    }
    *ret_info = calloc((size_t)n, sizeof(**ret_info));
    *ret_maps = calloc((size_t)n, (size_t)maplen);
    if (!*ret_info || !*ret_maps) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char rel[96], buf[1024];
        pid_stat ps;
        cpu_set_t set;
        ssize_t k;
        uniVcpuInfo *o = &(*ret_info)[i];
        o->number = (unsigned)i;
        o->state = UNI_VCPU_OFFLINE;
        o->cpu = -1;
        if (!tids[i])
            continue;
        snprintf(rel, sizeof(rel), "%d/task/%d/stat", (int)v->pid, (int)tids[i]);
        if ((k = read_file_at(s->proc_fd, rel, buf, sizeof(buf))) < 0 || parse_pid_stat(buf, (size_t)k, &ps) < 0)
            continue;
        o->state = ps.state == 'R' ? UNI_VCPU_RUNNING : UNI_VCPU_BLOCKED;
        o->cpu = ps.processor;
        o->cpuTime = (ps.utime + ps.stime) * (1000000000ull / (uint64_t)s->hz);
        if ((s->host_proc ? sched_getaffinity(tids[i], sizeof(set), &set) : board_vcpu_affinity(s, v, tids[i], &set)) ==
            0)
            for (int c = 0; c < ncpus && c < CPU_SETSIZE; c++)
                if (CPU_ISSET(c, &set))
                    (*ret_maps)[(size_t)i * (size_t)maplen + (size_t)(c / 8)] |= (unsigned char)(1u << (c % 8));
    }
    *ret_ncpus = ncpus;
    return n;
}

/* A CPU list file ("0-3,8") as a set; -errno. */
static int read_cpu_set(const char *dir, const char *name, cpu_set_t *set) {
    char buf[4096];
    int r = cg_read(dir, name, buf, sizeof(buf));
    return r < 0 ? r : cpu_set_of_list(buf, set);
}

static void set_format(const cpu_set_t *set, char *buf, size_t len) {
    unsigned char map[CPU_SETSIZE / 8] = {0};
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, set))
            map[c / 8] |= (unsigned char)(1u << (c % 8));
    uni_cpumap_format(map, (int)sizeof(map), buf, len);
}

int vms_domain_pin_vcpu(uniConnectPtr conn, vms_state *s, const uni_domain_info *dom, unsigned vcpu,
                        const unsigned char *map, int maplen) {
    pid_t tids[MAX_VCPUS];
    cpu_set_t want, before, back, online, cpuset;
    char dir[PATH_MAX], online_list[256] = "", obj[160], attr[96], b[512], a[512];
    int n, r;
    vm *v = find_vm(s, dom);

    if (v && LV(s, v))
        return lv_dom_pin_vcpu(conn, s->lv, v->uuid, v->name, vcpu, map, maplen);
    if (!v || need_proc(v, "pinning") < 0)
        return -1;
    n = vcpu_tids(s, v, tids, MAX_VCPUS);
    if (vcpu >= (unsigned)n || !tids[vcpu]) {
        uni_error_set(UNI_ERR_INVALID_ARG, "vCPU %u of '%s' does not exist (it has %d%s)", vcpu, v->name, n,
                      n ? " from 0" : "");
        return -1;
    }
    if (!s->host_proc)
        return board_pin_vcpu(conn, s, v, vcpu, tids[vcpu], map, maplen);
    /* Every CPU of the map exists and is online, and lies within the VM's cpuset. */
    if (read_cpu_set("/sys/devices/system/cpu", "online", &online) < 0) {
        uni_error_set(UNI_ERR_SYSTEM_ERROR, "cannot read /sys/devices/system/cpu/online");
        return -1;
    }
    set_format(&online, online_list, sizeof(online_list));
    CPU_ZERO(&want);
    for (int c = 0; c < maplen * 8; c++) {
        if (!uni_cpumap_has(map, maplen, c))
            continue;
        if (c >= CPU_SETSIZE || !CPU_ISSET(c, &online))
            return uni_error_no_core(c, c < host_ncpus(), online_list);
        CPU_SET(c, &want);
    }
    if (cgroup_dir(s, v, "cpuset", dir, sizeof(dir)) == 0 || cgroup_dir(s, v, NULL, dir, sizeof(dir)) == 0) {
        if (read_cpu_set(dir, "cpuset.effective_cpus", &cpuset) == 0 ||
            read_cpu_set(dir, "cpuset.cpus.effective", &cpuset) == 0 ||
            read_cpu_set(dir, "cpuset.cpus", &cpuset) == 0) {
            cpu_set_t in;
            CPU_AND(&in, &want, &cpuset);
            if (!CPU_EQUAL(&in, &want)) {
                set_format(&cpuset, b, sizeof(b));
                set_format(&want, a, sizeof(a));
                uni_error_set(UNI_ERR_OUT_OF_RANGE, "CPUs %s are not all in the cpuset of '%s' (%s: %s)", a, v->name,
                              dir, b);
                return -1;
            }
        }
    }
    if (sched_getaffinity(tids[vcpu], sizeof(before), &before) < 0) {
        uni_error_errno(-errno, "vCPU %u of '%s' (thread %d)", vcpu, v->name, (int)tids[vcpu]);
        return -1;
    }
    set_format(&before, b, sizeof(b));
    set_format(&want, a, sizeof(a));
    snprintf(obj, sizeof(obj), "domain %s vcpu %u (thread %d)", v->name, vcpu, (int)tids[vcpu]);
    snprintf(attr, sizeof(attr), "/proc/%d/task/%d affinity", (int)v->pid, (int)tids[vcpu]);
    if (CPU_EQUAL(&before, &want))
        return 0;
    r = sched_setaffinity(tids[vcpu], sizeof(want), &want) < 0 ? -errno : 0;
    if (r == 0)
        r = sched_getaffinity(tids[vcpu], sizeof(back), &back) < 0 ? -errno : CPU_EQUAL(&back, &want) ? 0 : -EREMOTEIO;
    uni_audit(conn, obj, attr, b, a, r, false);
    if (r == 0)
        return 0;
    if (r == -EREMOTEIO) {
        /* The kernel shows another affinity: put the one it had back. */
        int u = sched_setaffinity(tids[vcpu], sizeof(before), &before) < 0 ? -errno : 0;
        uni_audit(conn, obj, attr, a, b, u, true);
        uni_error_set(UNI_ERR_NOT_APPLIED, "vCPU %u of '%s': asked for CPUs %s, the kernel shows another affinity%s",
                      vcpu, v->name, a, u ? " (restoring the old one failed)" : "; the old one is restored");
    } else
        uni_error_set(UNI_ERR_SYSTEM_ERROR, "sched_setaffinity(%d, %s) for vCPU %u of '%s': %s", (int)tids[vcpu], a,
                      vcpu, v->name, strerror(-r));
    return -1;
}

int vms_domain_get_cpu_stats(vms_state *s, const uni_domain_info *dom, unsigned long long **ret) {
    _cleanup_free_ char *text = NULL;
    char dir[PATH_MAX], path[PATH_MAX + 32];
    int root, n = 0;
    vm *v = find_vm(s, dom);
    if (v && LV(s, v))
        return lv_dom_get_cpu_stats(s->lv, v->uuid, v->name, ret);
    if (!v || need_proc(v, "the per-CPU time") < 0)
        return -1;
    root = cgroup_dir(s, v, "cpuacct", dir, sizeof(dir));
    if (root < 0) {
        uni_error_set(UNI_ERR_NO_DATA,
                      "QEMU process %d has no cgroup v1 cpuacct controller: cgroup v2 keeps no "
                      "per-CPU CPU time (cpu.stat has only the total)",
                      (int)v->pid);
        return -1;
    }
    if (root == 1) {
        uni_error_set(UNI_ERR_NO_DATA,
                      "QEMU process %d is in the host's root cpuacct cgroup, whose per-CPU time is the whole host's, "
                      "not the VM's (start it in a cgroup of its own, as libvirt does)",
                      (int)v->pid);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/cpuacct.usage_percpu", dir);
    if (read_file_at_alloc(AT_FDCWD, path, &text) < 0) {
        uni_error_set(UNI_ERR_NO_DATA, "cannot read %s", path);
        return -1;
    }
    if (!(*ret = calloc((size_t)host_ncpus() + 1, sizeof(**ret)))) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    for (char *p = text, *end; n <= host_ncpus(); p = end) {
        unsigned long long x = strtoull(p, &end, 10);
        if (end == p)
            break;
        (*ret)[n++] = x;
    }
    return n;
}

/* ---- the reliability class of VMs found from their process: the state file ----
 * One line per VM, "KEY CLASS", KEY its UUID or, for a QEMU started without -uuid, "name:NAME".
 * Written whole to a temporary file, synced and renamed over: a crash leaves the old or the new;
 * changed under the lock of FILE.lock (flock), so that changes at once are all kept. */

static const char *state_file(const vms_state *s) {
    return s->rel_state ? s->rel_state : DEFAULT_STATE_FILE;
}

static void state_key(const vm *v, char *buf, size_t len) {
    if (v->uuid[0])
        snprintf(buf, len, "%s", v->uuid);
    else
        snprintf(buf, len, "name:%s", v->name);
}

/* The class the state file gives @v (-1: none). */
static int state_get(const vms_state *s, const vm *v) {
    _cleanup_free_ char *text = NULL;
    char key[UUID_STRING_LEN + 300], *save = NULL;
    if (read_file_at_alloc(AT_FDCWD, state_file(s), &text) < 0)
        return -1;
    state_key(v, key, sizeof(key));
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *sp = strrchr(line, ' ');
        if (sp && (size_t)(sp - line) == strlen(key) && !strncmp(line, key, strlen(key)))
            return uni_reliability_parse(sp + 1);
    }
    return -1;
}

const char *vms_reliability_of(vms_state *s, const void *vp) {
    int cls = state_get(s, vp);
    return cls < 0 ? NULL : uni_reliability_name(cls);
}

int vms_domain_get_reliability(vms_state *s, const uni_domain_info *dom) {
    vm *v = find_vm(s, dom);
    int cls;
    if (!v)
        return -1;
    if (LV(s, v)) {
        bool set = false;
        int r = lv_dom_get_reliability(s->lv, v->uuid, v->name, &set);
        if (r < 0 || set)
            return r;
        cls = vms_flavor_class(s, v->meta.flavor); /* none of its own: its flavor's, else normal */
        return cls < 0 ? UNI_RELIABILITY_NORMAL : cls;
    }
    cls = state_get(s, v);
    return cls < 0 ? UNI_RELIABILITY_NORMAL : cls;
}

int vms_domain_set_reliability(uniConnectPtr conn, vms_state *s, const uni_domain_info *dom, int cls) {
    _cleanup_free_ char *text = NULL, *tmp = NULL, *lock = NULL;
    _cleanup_close_ int lock_fd = -1;
    char key[UUID_STRING_LEN + 300], obj[300], *save = NULL;
    const char *path;
    int before, r = 0;
    FILE *f;
    vm *v = find_vm(s, dom);

    if (!v)
        return -1;
    if (LV(s, v)) {
        if (lv_dom_set_reliability(conn, s->lv, v->uuid, v->name, cls) < 0)
            return -1;
        /* The next sample's record shows it, whenever the metadata is read again. */
        free(v->meta.reliability);
        v->meta.reliability = strdup(uni_reliability_name(cls));
        return 0;
    }
    path = state_file(s);
    if (asprintf(&lock, "%s.lock", path) < 0) {
        lock = NULL;
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    /* Read, change and rename under one lock: two callers at once (two shells, uni-allocd) each
     * keep the other's change, and never share the temporary file. */
    lock_fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX) < 0) {
        uni_error_errno(-errno, "%s (the lock of uniserver's state of the VMs' reliability classes)", lock);
        return -1;
    }
    before = state_get(s, v);
    state_key(v, key, sizeof(key));
    snprintf(obj, sizeof(obj), "domain %s", v->name);
    if (before == cls)
        return 0;
    (void)read_file_at_alloc(AT_FDCWD, path, &text); /* none yet: an empty file */
    if (asprintf(&tmp, "%s.tmp", path) < 0) {
        tmp = NULL;
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    if (!(f = fopen(tmp, "we"))) {
        uni_error_errno(-errno, "%s (uniserver's state of the VMs' reliability classes)", tmp);
        return -1;
    }
    for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
        char *sp = strrchr(line, ' ');
        if (!(sp && (size_t)(sp - line) == strlen(key) && !strncmp(line, key, strlen(key))))
            fprintf(f, "%s\n", line);
    }
    fprintf(f, "%s %s\n", key, uni_reliability_name(cls));
    if (fflush(f) != 0 || fsync(fileno(f)) < 0)
        r = -errno;
    if (fclose(f) != 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r == 0 && state_get(s, v) != cls)
        r = -EREMOTEIO;
    uni_audit(conn, obj, path, before < 0 ? "" : uni_reliability_name(before), uni_reliability_name(cls), r, false);
    if (r < 0) {
        unlink(tmp);
        uni_error_set(r == -EREMOTEIO ? UNI_ERR_NOT_APPLIED : UNI_ERR_SYSTEM_ERROR, "writing %s: %s", path,
                      r == -EREMOTEIO ? "it reads back different" : strerror(-r));
        return -1;
    }
    return 0;
}
