/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver (uniserver:///system): this host's /proc and /sys, or other trees given with
 * ?procfs=DIR&sysfs=DIR, and uni-healthd's HealthLog (?healthlog=PATH) for the error metrics and
 * the memory speed, and uni-stresslog's margins file (?margins=PATH) for the margins. Sources are
 * discovered once at open; files read every sample stay open and are read with pread();
 * /proc/cpuinfo is read once. Rates come from the previous sample kept on
 * the connection. What the host lacks is marked absent with the reason.
 *
 * This file opens and closes a connection and runs a sample; local_discover.c finds the sources
 * at open, collect_NAME.c each collect one source, local_healthlog.c reads the HealthLog and
 * local_control.c forwards the control calls (local_internal.h: what they share). */
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "local_driver.h"
#include "local_internal.h"

static void local_close(uniConnectPtr conn) {
    local_state *s = conn->priv;
    if (!s)
        return;
    vms_close(s->vms);
    closep(&s->proc_fd);
    closep(&s->sys_fd);
    closep(&s->stat_fd);
    closep(&s->meminfo_fd);
    closep(&s->loadavg_fd);
    closep(&s->online_fd);
    closep(&s->boot_id_fd);
    for (int i = 0; i < 3; i++)
        closep(&s->psi_fd[i]);
    for (unsigned i = 0; i < s->npolicies; i++) {
        closep(&s->policies[i].cur_fd);
        closep(&s->policies[i].gov_fd);
        closep(&s->policies[i].epp_fd);
    }
    for (unsigned i = 0; i < s->ntemps; i++)
        closep(&s->temps[i].fd);
    for (unsigned i = 0; i < s->npowers; i++)
        closep(&s->powers[i].fd);
    for (unsigned i = 0; i < s->nrapl; i++)
        closep(&s->rapl[i].fd);
    free(s->policies);
    free(s->temps);
    free(s->powers);
    free(s->rapl);
    free(s->online);
    free(s->core_id);
    free(s->pkg_id);
    free(s->cpuinfo_mhz);
    free(s->cpu_policy);
    free(s->cpu_temp);
    free(s->stat[0].cpu);
    free(s->stat[1].cpu);
    free(s->buf);
    free(s->procfs);
    free(s->sysfs);
    predict_close(s);
    hl_close(s->hl);
    closep(&s->hl_watch);
    hl_close(s->hl_wait);
    pthread_mutex_destroy(&s->watch_lock);
    free(s->hl_path);
    margins_close(s);
    free(s);
    conn->priv = NULL;
}

static int open_root(const char *dir, const char *what) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        uni_error_errno(-errno, "%s root '%s'", what, dir);
    return fd;
}

/* Is @proc_fd this host's /proc (the one this process lives in), where the live VM sources
 * (QMP sockets, taskstats, perf, sched_getaffinity, libvirt) belong? */
static bool is_host_proc(int proc_fd) {
    struct stat a, b;
    return fstatat(proc_fd, "self", &a, 0) == 0 && stat("/proc/self", &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

static int local_open(uniConnectPtr conn, const uni_uri *uri, unsigned flags) {
    static const char *const known[] = {"procfs",           "sysfs", "healthlog", "margins", VMS_URI_PARAMS,
                                        PREDICT_URI_PARAMS, NULL};
    const char *procfs, *sysfs, *healthlog;
    local_state *s;
    int r;

    (void)flags;
    if (uri->host && *uri->host) {
        uni_error_set(UNI_ERR_INVALID_URI, "uniserver:// with host '%s' is remote: use uniserver+tls://%s/system",
                      uri->host, uri->host);
        return -1;
    }
    if (!streq(uri->path, "/system")) {
        uni_error_set(UNI_ERR_INVALID_URI, "unknown path '%s' for uniserver:// (only /system)", uri->path);
        return -1;
    }
    if (uni_uri_check_params(uri, known) < 0)
        return -1;
    procfs = uni_uri_param(uri, "procfs");
    sysfs = uni_uri_param(uri, "sysfs");
    healthlog = uni_uri_param(uri, "healthlog");
    s = calloc(1, sizeof(*s));
    if (!s) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    s->proc_fd = s->sys_fd = s->stat_fd = s->meminfo_fd = s->loadavg_fd = s->online_fd = s->hl_watch = s->boot_id_fd =
        -1;
    pthread_mutex_init(&s->watch_lock, NULL);
    s->psi_fd[0] = s->psi_fd[1] = s->psi_fd[2] = -1;
    conn->priv = s;
    s->procfs = strdup(procfs ? procfs : "/proc");
    s->sysfs = strdup(sysfs ? sysfs : "/sys");
    s->hl_path = strdup(healthlog && *healthlog ? healthlog : HL_DEFAULT_PATH);
    if (!s->procfs || !s->sysfs || !s->hl_path) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        goto fail;
    }
    if (margins_open(s, uni_uri_param(uri, "margins")) < 0) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        goto fail;
    }
    if ((s->proc_fd = open_root(s->procfs, "procfs")) < 0 || (s->sys_fd = open_root(s->sysfs, "sysfs")) < 0)
        goto fail;
    s->hz = sysconf(_SC_CLK_TCK);
    if (s->hz <= 0)
        s->hz = 100;
    /* /proc/stat and /proc/meminfo are the sources every host has: without them this is not a
     * procfs, and saying so now beats an error on every later call. */
    s->stat_fd = open_ro(s->proc_fd, "stat");
    if (s->stat_fd < 0) {
        uni_error_errno(-errno, "%s/stat", s->procfs);
        goto fail;
    }
    s->meminfo_fd = open_ro(s->proc_fd, "meminfo");
    if (s->meminfo_fd < 0) {
        uni_error_errno(-errno, "%s/meminfo", s->procfs);
        goto fail;
    }
    s->loadavg_fd = open_ro(s->proc_fd, "loadavg");
    s->boot_id_fd = open_ro(s->proc_fd, "sys/kernel/random/boot_id");
    s->host_proc = is_host_proc(s->proc_fd);
    s->psi_fd[0] = open_ro(s->proc_fd, "pressure/cpu");
    s->psi_fd[1] = open_ro(s->proc_fd, "pressure/memory");
    s->psi_fd[2] = open_ro(s->proc_fd, "pressure/io");
    r = discover_cpus(s);
    if (r < 0) {
        uni_error_errno(r, "%s/stat (CPU list)", s->procfs);
        goto fail;
    }
    discover_cpuinfo(s);
    discover_cpufreq(s);
    discover_hwmon(s);
    discover_thermal(s);
    discover_rapl(s);
    s->bufsz = 4096 + (size_t)s->ncpu * 160;
    s->buf = malloc(s->bufsz);
    if (!s->buf) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        goto fail;
    }
    if (vms_open(&s->vms, s->proc_fd, s->procfs, s->host_proc, uri) < 0)
        goto fail;
    if (predict_open(s, uri) < 0)
        goto fail;
    return 0;
fail:
    local_close(conn);
    return -1;
}

/* Read a kept-open file whole into the state's buffer, growing it when the file outgrew it. */
ssize_t pread_buf(local_state *s, int fd) {
    for (;;) {
        ssize_t n = pread_full(fd, s->buf, s->bufsz);
        char *nb;
        if (n != -EFBIG)
            return n;
        if (s->bufsz >= 64u << 20 || !(nb = realloc(s->buf, s->bufsz * 2)))
            return -EFBIG;
        s->buf = nb;
        s->bufsz *= 2;
    }
}

static const char *const source_names[SRC_MAX] = {"stat",  "cpufreq",   "meminfo", "loadavg", "psi",    "sensors",
                                                  "power", "healthlog", "vms",     "disk",    "margins"};

void source_down(local_state *s, int src, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->src_down[src], sizeof(s->src_down[src]), fmt, ap);
    va_end(ap);
    if (!s->src_down[src][0])
        snprintf(s->src_down[src], sizeof(s->src_down[src]), "down");
}

/* Why source @src is absent on this host (it has no such hardware or kernel feature, as
 * discovery found at open), or NULL when the host has it. The sources every Linux host has
 * (stat, meminfo, loadavg) and the HealthLog (uni-healthd belongs beside uniserverd) are never
 * absent: missing, they are down. */
static const char *source_absent(const local_state *s, int src) {
    switch (src) {
    case SRC_CPUFREQ:
        return s->have_cpufreq ? NULL : "no cpufreq policy in sysfs (devices/system/cpu/cpufreq)";
    case SRC_PSI:
        return s->psi_fd[0] < 0 && s->psi_fd[1] < 0 && s->psi_fd[2] < 0
                   ? "no /proc/pressure (a kernel without PSI, CONFIG_PSI)"
                   : NULL;
    case SRC_SENSORS:
        return s->ntemps ? NULL : "no temperature sensor (hwmon temp*_input, thermal zone)";
    case SRC_POWER:
        return s->nrapl || s->npowers ? NULL : "no power sensor (RAPL powercap zone, hwmon power*_input)";
    case SRC_DISK:
        return s->host_proc ? NULL : "statvfs(2) reads this host's filesystems, and procfs is another tree";
    case SRC_MARGINS:
        return margins_absent(s);
    default:
        return NULL;
    }
}

/* Account for one source's collection: its state is up (read and produced data), absent (the
 * host has no such source) or down (it failed, or its collector found it missing or stale). On
 * failure with best effort, its groups' metrics are absent with the error as the reason and the
 * call goes on; otherwise the call fails. */
static int source_done(local_state *s, uniRecordPtr rec, int src, int r, uint64_t t0, bool best, uint32_t groups) {
    const char *name = source_names[src], *absent = r >= 0 && !s->src_down[src][0] ? source_absent(s, src) : NULL;
    bool down = r < 0 || s->src_down[src][0];

    rec_str(rec, UNI_M_HOST_SOURCE_NAME_STATE, -1, name, down ? "down" : absent ? "absent" : "up");
    /* An absent source is neither up nor down: an alert on up == 0 is for the ones that are. */
    if (!absent)
        rec_u64(rec, UNI_M_HOST_SOURCE_NAME_UP, -1, name, !down);
    rec_dbl(rec, UNI_M_HOST_SOURCE_NAME_DURATION_MS, -1, name, (double)(uni_clock_ns() - t0) / 1e6);
    if (down)
        s->src_errors[src]++;
    rec_u64(rec, UNI_M_HOST_SOURCE_NAME_ERRORS, -1, name, s->src_errors[src]);
    if (r >= 0) {
        if (s->src_down[src][0])
            rec_str(rec, UNI_M_HOST_SOURCE_NAME_LAST_ERROR, -1, name, s->src_down[src]);
        s->src_down[src][0] = 0;
        return 0;
    }
    s->src_down[src][0] = 0;
    if (!best)
        return -1;
    {
        const uniError *e = uniGetLastError();
        _cleanup_free_ char *why = strdup(e && e->message ? e->message : "failed");
        rec_str(rec, UNI_M_HOST_SOURCE_NAME_LAST_ERROR, -1, name, why ? why : "failed");
        for (unsigned m = 0; m < UNI_NMETRICS; m++)
            if (groups & (1u << uni_catalog_group[m]))
                rec_absent(rec, m, "source %s failed: %s", name, why ? why : "failed");
        uniResetLastError();
    }
    return 0;
}

#define RUN(src, groups, expr)                                                                                         \
    do {                                                                                                               \
        uint64_t t0_ = uni_clock_ns();                                                                                 \
        int r_ = (expr);                                                                                               \
        if (source_done(s, rec, (src), r_, t0_, best, (groups)) < 0)                                                   \
            return -1;                                                                                                 \
    } while (0)

static int local_node_get_stats(uniConnectPtr conn, const uni_select *sel, uniRecordPtr rec, unsigned flags) {
    local_state *s = conn->priv;
    uint64_t now = uni_clock_ns();
    bool best = flags & UNI_NODE_STATS_BEST_EFFORT;
    bool want_cpu = uni_select_group(sel, UNI_GROUP_CPU), want_freq = uni_select_group(sel, UNI_GROUP_FREQ);
    bool want_cont = uni_select_group(sel, UNI_GROUP_CONTENTION), want_mem = uni_select_group(sel, UNI_GROUP_MEM);
    bool psi_used = false;
    meminfo m;

    s->psi_cpu_fresh = false; /* this sample's, or none */
    if (s->have_last)
        rec->window_ms = (long long)((now - s->last_ns) / 1000000);
    if (!want_cpu && (want_freq || want_cont || uni_select_group(sel, UNI_GROUP_TEMP)) && s->online_fd >= 0)
        (void)read_online(s);
    if (want_cpu) {
        RUN(SRC_STAT, 1u << UNI_GROUP_CPU, collect_cpu(s, rec, now));
        collect_boot_id(s, rec);
    }
    if (want_freq)
        RUN(SRC_CPUFREQ, 1u << UNI_GROUP_FREQ, collect_freq(s, rec));
    if (want_mem || want_cont) {
        int r;
        uint32_t groups = (want_mem ? 1u << UNI_GROUP_MEM : 0) | (want_cont ? 1u << UNI_GROUP_CONTENTION : 0);
        RUN(SRC_MEMINFO, groups, r = read_meminfo(s, &m));
        if (r >= 0) {
            if (want_mem)
                collect_mem(s, rec, &m);
            if (want_cont)
                RUN(SRC_LOADAVG, 1u << UNI_GROUP_CONTENTION, collect_contention(s, rec, &m, now, &psi_used));
        }
    }
    if (uni_select_group(sel, UNI_GROUP_PSI))
        RUN(SRC_PSI, 1u << UNI_GROUP_PSI, (collect_psi(s, rec), 0));
    if (uni_select_group(sel, UNI_GROUP_TEMP))
        RUN(SRC_SENSORS, 1u << UNI_GROUP_TEMP, (collect_temp(s, rec), 0));
    if (uni_select_group(sel, UNI_GROUP_POWER))
        RUN(SRC_POWER, 1u << UNI_GROUP_POWER, (collect_power(s, rec, now), 0));
    if (uni_select_group(sel, UNI_GROUP_ERRORS) || uni_select_group(sel, UNI_GROUP_MEMHW) ||
        uni_select_group(sel, UNI_GROUP_RELIABILITY)) {
        uint32_t groups = (1u << UNI_GROUP_ERRORS) | (1u << UNI_GROUP_MEMHW) | (1u << UNI_GROUP_RELIABILITY);
        bool errs = uni_select_group(sel, UNI_GROUP_ERRORS) || uni_select_group(sel, UNI_GROUP_MEMHW);
        bool rel = uni_select_group(sel, UNI_GROUP_RELIABILITY);
        RUN(SRC_HEALTHLOG, groups,
            (errs ? collect_healthlog(s, rec) : 0) < 0 || (rel ? collect_reliability(s, rec) : 0) < 0 ? -1 : 0);
    }
    if (uni_select_group(sel, UNI_GROUP_MEMHW))
        rec_absent(rec, UNI_M_HOST_MEM_REFRESH_MS, "no Linux interface exposes the DRAM refresh period");
    if (uni_select_group(sel, UNI_GROUP_VMS) || uni_select_has(sel, UNI_M_KVM_NAME)) {
        /* host.vms.mem_pct is of the host's memory. */
        double total = mem_total_mb(s);
        RUN(SRC_VMS, (1u << UNI_GROUP_VMS) | (1u << UNI_GROUP_KVM), vms_node_stats(s->vms, sel, rec, total));
    }
    if (uni_select_group(sel, UNI_GROUP_DISK))
        RUN(SRC_DISK, 1u << UNI_GROUP_DISK, collect_disk(s, rec));
    if (uni_select_group(sel, UNI_GROUP_MARGINS))
        RUN(SRC_MARGINS, 1u << UNI_GROUP_MARGINS, collect_margins(s, rec));
    rec_absent_ledger(rec);
    rec_absent(rec, UNI_M_HOST_SOURCE_NAME_LAST_ERROR, "%s", "no source is failing");
    s->last_ns = now;
    s->have_last = true;
    return 0;
}

/* The fds a whole-record sample reads (for bench/: the cost floor is preading exactly these). */
size_t uni_local_sample_fds(uniConnectPtr conn, int *fds, size_t max) {
    local_state *s = conn->priv;
    size_t n = 0;
#define ADD(fd)                                                                                                        \
    do {                                                                                                               \
        if ((fd) >= 0 && n < max)                                                                                      \
            fds[n++] = (fd);                                                                                           \
    } while (0)
    ADD(s->online_fd);
    ADD(s->stat_fd);
    ADD(s->meminfo_fd);
    ADD(s->loadavg_fd);
    for (int i = 0; i < 3; i++)
        ADD(s->psi_fd[i]);
    for (unsigned i = 0; i < s->npolicies; i++) {
        ADD(s->policies[i].cur_fd);
        ADD(s->policies[i].gov_fd);
        ADD(s->policies[i].epp_fd);
    }
    for (unsigned i = 0; i < s->ntemps; i++)
        ADD(s->temps[i].fd);
    for (unsigned i = 0; i < s->npowers; i++)
        ADD(s->powers[i].fd);
    for (unsigned i = 0; i < s->nrapl; i++)
        ADD(s->rapl[i].fd);
#undef ADD
    return n;
}

static int local_list_domains(uniConnectPtr conn, uni_domain_info **ret, size_t *ret_n) {
    local_state *s = conn->priv;
    return vms_list(s->vms, ret, ret_n);
}

static int local_domain_get_info(uniConnectPtr conn, const uni_domain_info *dom, uniDomainInfo *ret) {
    return vms_domain_get_info(((local_state *)conn->priv)->vms, dom, ret);
}
static int local_domain_get_xml(uniConnectPtr conn, const uni_domain_info *dom, char **ret) {
    return vms_domain_get_xml(((local_state *)conn->priv)->vms, dom, ret);
}
static int local_domain_get_sched(uniConnectPtr conn, const uni_domain_info *dom, char **ret_type,
                                  uniSchedParam **ret) {
    return vms_domain_get_sched(((local_state *)conn->priv)->vms, dom, ret_type, ret);
}
static int local_domain_get_vcpus(uniConnectPtr conn, const uni_domain_info *dom, uniVcpuInfo **ret_info,
                                  unsigned char **ret_maps, int *ret_ncpus) {
    return vms_domain_get_vcpus(((local_state *)conn->priv)->vms, dom, ret_info, ret_maps, ret_ncpus);
}
static int local_domain_pin_vcpu(uniConnectPtr conn, const uni_domain_info *dom, unsigned vcpu,
                                 const unsigned char *map, int maplen) {
    return vms_domain_pin_vcpu(conn, ((local_state *)conn->priv)->vms, dom, vcpu, map, maplen);
}
static int local_domain_get_cpu_stats(uniConnectPtr conn, const uni_domain_info *dom, unsigned long long **ret) {
    return vms_domain_get_cpu_stats(((local_state *)conn->priv)->vms, dom, ret);
}
static int local_domain_get_reliability(uniConnectPtr conn, const uni_domain_info *dom) {
    return vms_domain_get_reliability(((local_state *)conn->priv)->vms, dom);
}
static int local_domain_set_reliability(uniConnectPtr conn, const uni_domain_info *dom, int cls) {
    return vms_domain_set_reliability(conn, ((local_state *)conn->priv)->vms, dom, cls);
}

static int local_domain_stats(uniConnectPtr conn, const uni_select *sel, const uni_domain_info *only, size_t nonly,
                              uni_domain_stats **ret, size_t *ret_n) {
    local_state *s = conn->priv;
    /* dom.mem_pct is of the host's memory. */
    double total = uni_select_has(sel, UNI_M_DOM_MEM_PCT) ? mem_total_mb(s) : NAN;

    if (vms_domain_stats(s->vms, sel, only, nonly, total, ret, ret_n) < 0)
        return -1;
    /* Spec: every hardware error is tied to the VMs it may have touched (uni-healthd links them);
     * each VM's record counts its own. */
    if (uni_select_has(sel, UNI_M_DOM_ERRORS_CE_COUNT) || uni_select_has(sel, UNI_M_DOM_ERRORS_UE_COUNT) ||
        uni_select_has(sel, UNI_M_DOM_ERRORS_CE_RATE_PER_MIN) ||
        uni_select_has(sel, UNI_M_DOM_ERRORS_UE_RATE_PER_MIN)) {
        char why[512] = "";
        bool have = ensure_healthlog(s, why, sizeof(why)) == 0;
        int64_t now = uni_clock_wall_ms();
        for (size_t i = 0; i < *ret_n; i++) {
            uniRecordPtr r = (*ret)[i].rec;
            int64_t ce, ue, ce1, ue1;
            const char *name = (*ret)[i].info.name;
            if (have && name && hl_vm_counts(s->hl, name, INT64_MIN, &ce, &ue) == 0 &&
                hl_vm_counts(s->hl, name, now - 60000, &ce1, &ue1) == 0) {
                rec_u64(r, UNI_M_DOM_ERRORS_CE_COUNT, -1, NULL, (uint64_t)ce);
                rec_u64(r, UNI_M_DOM_ERRORS_UE_COUNT, -1, NULL, (uint64_t)ue);
                rec_dbl(r, UNI_M_DOM_ERRORS_CE_RATE_PER_MIN, -1, NULL, (double)ce1);
                rec_dbl(r, UNI_M_DOM_ERRORS_UE_RATE_PER_MIN, -1, NULL, (double)ue1);
            } else {
                const char *w = why[0] ? why : "the HealthLog cannot be read";
                rec_absent(r, UNI_M_DOM_ERRORS_CE_COUNT, "%s", w);
                rec_absent(r, UNI_M_DOM_ERRORS_UE_COUNT, "%s", w);
                rec_absent(r, UNI_M_DOM_ERRORS_CE_RATE_PER_MIN, "%s", w);
                rec_absent(r, UNI_M_DOM_ERRORS_UE_RATE_PER_MIN, "%s", w);
            }
        }
        uniResetLastError();
    }
    return 0;
}

const uni_driver uni_local_driver = {
    .name = "local",
    .scheme = "uniserver",
    .open = local_open,
    .close = local_close,
    .node_get_stats = local_node_get_stats,
    .node_set_frequency = local_node_set_frequency,
    .node_set_governor = local_node_set_governor,
    .node_set_power_policy = local_node_set_power_policy,
    .node_get_operating_points = local_node_get_operating_points,
    .node_set_operating_point = local_node_set_operating_point,
    .list_domains = local_list_domains,
    .domain_stats = local_domain_stats,
    .domain_get_info = local_domain_get_info,
    .domain_get_xml = local_domain_get_xml,
    .domain_get_sched = local_domain_get_sched,
    .domain_get_vcpus = local_domain_get_vcpus,
    .domain_pin_vcpu = local_domain_pin_vcpu,
    .domain_get_cpu_stats = local_domain_get_cpu_stats,
    .domain_get_reliability = local_domain_get_reliability,
    .domain_set_reliability = local_domain_set_reliability,
    .healthlog_query = local_healthlog_query,
    .healthlog_wait = local_healthlog_wait,
    .audit = local_audit,
};
