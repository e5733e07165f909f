/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver (uniserver:///system): this host's /proc and /sys, or other trees given with
 * ?procfs=DIR&sysfs=DIR, and uni-healthd's HealthLog (?healthlog=PATH) for the error metrics and
 * the memory speed. Sources are discovered once at open; files read every sample stay open and
 * are read with pread(); /proc/cpuinfo is read once. Rates come from the previous sample kept on
 * the connection. What the host lacks is marked absent with the reason. */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sys/stat.h>

#include "domains.h"
#include "healthlog/healthlog.h"
#include "lib/internal.h"
#include "control.h"
#include "local_driver.h"
#include "parsers.h"

#define MAX_CPUS 8192

typedef struct {
    int cur_fd, gov_fd, epp_fd; /* kept open; -1 when absent */
    uint64_t max_khz;
    dev_t dev;
    ino_t ino;
} freq_policy;

typedef struct {
    int fd;
    temp_class cls;
    int id;  /* core id (TEMP_CORE) */
    int pkg; /* package the chip belongs to */
} temp_sensor;

typedef struct {
    int fd;
    power_class cls;
} power_sensor;

typedef struct {
    int fd;
    power_class cls; /* POWER_CPU package, POWER_MEM dram, POWER_TOTAL psys */
    uint64_t max_range, prev;
    bool have_prev;
} rapl_zone;

typedef struct {
    int proc_fd, sys_fd;
    char *procfs, *sysfs;
    long hz;

    unsigned ncpu; /* array size: highest possible CPU + 1 */
    uint8_t *online;
    unsigned n_online;
    int online_fd;
    int *core_id, *pkg_id;
    double *cpu_temp; /* scratch: per-CPU temperature of one sample */

    double *cpuinfo_mhz;
    bool have_cpuinfo_mhz;

    int stat_fd, meminfo_fd, loadavg_fd, psi_fd[3];
    uint64_t mem_total_kb, mem_total_ns; /* MemTotal and when meminfo was last read (0: never) */
    char *buf;
    size_t bufsz;

    freq_policy *policies;
    unsigned npolicies;
    int *cpu_policy; /* per CPU: index into policies or -1 */
    bool have_cpufreq;

    temp_sensor *temps;
    unsigned ntemps;
    power_sensor *powers;
    unsigned npowers;
    rapl_zone *rapl;
    unsigned nrapl;

    /* Previous sample, for rates. */
    proc_stat stat[2];
    int cur; /* which of stat[] is the newest */
    bool have_stat_prev;
    uint64_t stat_ns;
    uint64_t last_ns; /* previous call */
    bool have_last;
    uint64_t psi_cpu_prev_us;
    bool have_psi_prev;
    psi psi_cpu;        /* pressure/cpu as collect_contention read it, */
    bool psi_cpu_fresh; /* for collect_psi in the same sample */
    uint64_t cont_ns;       /* derived contention time when PSI is absent */
    uint64_t cont_prev_ms;  /* contention_ms at the previous sample */
    bool have_cont_prev;
    max_util_state maxu;
    uint64_t power_ns;
    bool have_power_prev;
    double energy_j;
    uint64_t src_errors[9]; /* failed collections per source (SRC_*) */

    vms_state *vms; /* the VMs of this host (domains.c) */
    char *hl_path; /* the HealthLog (uni-healthd's database) */
    hl_db *hl;     /* opened read-only when first needed */
    uint64_t hl_missing_ns; /* when opening it last found none (0: not missing) */
    int hl_watch;  /* its change notification, made by the first uniHealthLogWait */
    hl_db *hl_wait; /* uniHealthLogWait's own reader (no connection lock while waiting) */
    int64_t wait_version; /* PRAGMA data_version at the end of the previous wait */
    bool have_wait_version;
    pthread_mutex_t watch_lock;
} local_state;

/* ---------------------------------------------------------------------------------------------
 * Discovery
 * ------------------------------------------------------------------------------------------- */

static int open_ro(int dirfd, const char *path) {
    return openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
}

static bool cpu_online(const local_state *s, unsigned cpu) {
    return cpu < s->ncpu && (s->online[cpu / 8] & (1u << (cpu % 8)));
}

static void read_topology(local_state *s, unsigned c) {
    char path[128];
    int64_t v;
    snprintf(path, sizeof(path), "devices/system/cpu/cpu%u/topology/core_id", c);
    s->core_id[c] = read_i64_at(s->sys_fd, path, &v) == 0 ? (int)v : (int)c;
    snprintf(path, sizeof(path), "devices/system/cpu/cpu%u/topology/physical_package_id", c);
    s->pkg_id[c] = read_i64_at(s->sys_fd, path, &v) == 0 ? (int)v : 0;
}

static int read_online(local_state *s) {
    char buf[4096];
    uint8_t now[UNI_BITMAP_BYTES(MAX_CPUS)];
    ssize_t n;
    unsigned count;
    int r;

    if (s->online_fd < 0)
        return -ENOENT;
    n = pread_line(s->online_fd, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    r = parse_cpu_list(buf, (size_t)n, now, s->ncpu, &count);
    if (r < 0)
        return r;
    /* An offline CPU has no topology: read it when the CPU comes online. */
    for (unsigned c = 0; c < s->ncpu; c++)
        if ((now[c / 8] & (1u << (c % 8))) && !(s->online[c / 8] & (1u << (c % 8))))
            read_topology(s, c);
    memcpy(s->online, now, UNI_BITMAP_BYTES(s->ncpu));
    s->n_online = count;
    return 0;
}

/* Size the per-CPU arrays: the "possible" mask, else the CPUs /proc/stat lists. */
static int discover_cpus(local_state *s) {
    char buf[4096];
    ssize_t n;
    unsigned max = 0;

    n = read_line_at(s->sys_fd, "devices/system/cpu/possible", buf, sizeof(buf));
    if (n > 0) {
        const char *last = strrchr(buf, ',');
        const char *dash;
        uint64_t v;
        last = last ? last + 1 : buf;
        dash = strchr(last, '-');
        if (safe_atou64(dash ? dash + 1 : last, &v) == 0 && v < MAX_CPUS)
            max = (unsigned)v + 1;
    }
    if (max == 0) {
        /* No sysfs CPU list: count the per-CPU lines of /proc/stat. */
        proc_stat ps = {.ncpu_max = 0};
        _cleanup_free_ char *sb = NULL;
        n = read_file_at_alloc(s->proc_fd, "stat", &sb);
        if (n < 0)
            return (int)n;
        if (parse_proc_stat(sb, (size_t)n, &ps) < 0)
            return -EBADMSG;
        max = ps.max_cpu_seen;
        if (max == 0 || max > MAX_CPUS)
            return -EBADMSG;
    }
    s->ncpu = max;
    s->online = calloc(UNI_BITMAP_BYTES(max), 1);
    s->core_id = calloc(max, sizeof(int));
    s->pkg_id = calloc(max, sizeof(int));
    s->cpuinfo_mhz = calloc(max, sizeof(double));
    s->cpu_policy = calloc(max, sizeof(int));
    s->cpu_temp = calloc(max, sizeof(double));
    for (int i = 0; i < 2; i++) {
        s->stat[i].cpu = calloc(max, sizeof(cpu_times));
        s->stat[i].ncpu_max = max;
    }
    if (!s->online || !s->core_id || !s->pkg_id || !s->cpuinfo_mhz || !s->cpu_policy || !s->cpu_temp || !s->stat[0].cpu ||
        !s->stat[1].cpu)
        return -ENOMEM;
    s->online_fd = open_ro(s->sys_fd, "devices/system/cpu/online");
    if (read_online(s) < 0) {
        /* Without the online mask every CPU /proc/stat lists counts as online. */
        memset(s->online, 0xff, UNI_BITMAP_BYTES(max));
        for (unsigned i = max; i < UNI_BITMAP_BYTES(max) * 8; i++)
            s->online[i / 8] &= (uint8_t)~(1u << (i % 8));
        s->n_online = max;
        for (unsigned c = 0; c < max; c++)
            read_topology(s, c);
    }
    for (unsigned c = 0; c < max; c++)
        s->cpu_policy[c] = -1;
    return 0;
}

static void discover_cpuinfo(local_state *s) {
    _cleanup_free_ char *buf = NULL;
    ssize_t n = read_file_at_alloc(s->proc_fd, "cpuinfo", &buf);
    cpuinfo ci = {.mhz = s->cpuinfo_mhz, .ncpu_max = s->ncpu};

    for (unsigned c = 0; c < s->ncpu; c++)
        s->cpuinfo_mhz[c] = NAN;
    if (n < 0 || parse_cpuinfo(buf, (size_t)n, &ci) < 0)
        return;
    for (unsigned c = 0; c < s->ncpu; c++)
        if (!isnan(s->cpuinfo_mhz[c]))
            s->have_cpuinfo_mhz = true;
}

static void discover_cpufreq(local_state *s) {
    for (unsigned c = 0; c < s->ncpu; c++) {
        char path[128];
        struct stat st;
        freq_policy *p = NULL;
        unsigned i;

        snprintf(path, sizeof(path), "devices/system/cpu/cpu%u/cpufreq", c);
        if (fstatat(s->sys_fd, path, &st, 0) < 0 || !S_ISDIR(st.st_mode))
            continue;
        /* cpuN/cpufreq links to its policy: CPUs of one clock domain share one set of fds. */
        for (i = 0; i < s->npolicies; i++)
            if (s->policies[i].dev == st.st_dev && s->policies[i].ino == st.st_ino)
                break;
        if (i == s->npolicies) {
            _cleanup_close_ int dfd = open_ro(s->sys_fd, path);
            freq_policy *np;
            if (dfd < 0)
                continue;
            np = realloc(s->policies, (s->npolicies + 1) * sizeof(*np));
            if (!np)
                return;
            s->policies = np;
            p = &s->policies[s->npolicies];
            p->dev = st.st_dev;
            p->ino = st.st_ino;
            p->cur_fd = open_ro(dfd, "scaling_cur_freq");
            p->gov_fd = open_ro(dfd, "scaling_governor");
            p->epp_fd = open_ro(dfd, "energy_performance_preference");
            if (read_u64_at(dfd, "cpuinfo_max_freq", &p->max_khz) < 0)
                p->max_khz = 0;
            s->npolicies++;
        }
        s->cpu_policy[c] = (int)i;
        s->have_cpufreq = true;
    }
}

static int chip_package(const char *hwmon_dir_name, int sys_fd) {
    /* coretemp's device is the platform device coretemp.P: P is the package. */
    char path[512], target[512];
    ssize_t n;
    const char *dot;
    unsigned v;

    snprintf(path, sizeof(path), "class/hwmon/%s/device", hwmon_dir_name);
    n = readlinkat(sys_fd, path, target, sizeof(target) - 1);
    if (n <= 0)
        return -1;
    target[n] = 0;
    dot = strrchr(target, '.');
    return dot && safe_atou(dot + 1, &v) == 0 ? (int)v : -1;
}

static void add_temp(local_state *s, int fd, temp_class cls, int id, int pkg) {
    temp_sensor *nt = realloc(s->temps, (s->ntemps + 1) * sizeof(*nt));
    if (!nt) {
        close(fd);
        return;
    }
    s->temps = nt;
    s->temps[s->ntemps++] = (temp_sensor){.fd = fd, .cls = cls, .id = id, .pkg = pkg};
}

/* The numeric channel of "temp12_input" for prefix "temp" and suffix "_input", or -1. */
static int channel_of(const char *name, const char *prefix, const char *suffix) {
    size_t pl = strlen(prefix), sl = strlen(suffix), nl = strlen(name);
    char num[16];
    unsigned v;

    if (nl <= pl + sl || nl - pl - sl >= sizeof(num) || !startswith(name, prefix) || !streq(name + nl - sl, suffix))
        return -1;
    memcpy(num, name + pl, nl - pl - sl);
    num[nl - pl - sl] = 0;
    return safe_atou(num, &v) == 0 && v < 100000 ? (int)v : -1;
}

static void add_power(local_state *s, int fd, power_class cls) {
    power_sensor *np = realloc(s->powers, (s->npowers + 1) * sizeof(*np));
    if (!np) {
        close(fd);
        return;
    }
    s->powers = np;
    s->powers[s->npowers++] = (power_sensor){.fd = fd, .cls = cls};
}

/* One hwmon chip: its temperature and power channels, listed (channel numbers have gaps: older
 * coretemp numbers channels core_id + 2). */
static void discover_hwmon_chip(local_state *s, const char *dname, int *nchip_core) {
    char chip[64], path[512];
    _cleanup_close_ int hfd = -1;
    struct dirent **ents = NULL;
    int n, pkg = -1;
    unsigned first = s->ntemps;

    snprintf(path, sizeof(path), "class/hwmon/%s", dname);
    hfd = open_ro(s->sys_fd, path);
    if (hfd < 0 || read_line_at(hfd, "name", chip, sizeof(chip)) < 0)
        return;
    if (streq(chip, "coretemp"))
        pkg = chip_package(dname, s->sys_fd);
    n = scandirat(hfd, ".", &ents, NULL, versionsort);
    for (int i = 0; i < n; i++) {
        const char *e = ents[i]->d_name;
        char attr[64], label[64] = "";
        int ch, fd, id;

        if ((ch = channel_of(e, "temp", "_input")) >= 0) {
            temp_class tc;
            snprintf(attr, sizeof(attr), "temp%d_label", ch);
            (void)read_line_at(hfd, attr, label, sizeof(label));
            tc = classify_hwmon_temp(chip, label, &id);
            if (tc == TEMP_PACKAGE && streq(chip, "coretemp") && id >= 0)
                pkg = id;
            if (tc != TEMP_OTHER && (fd = open_ro(hfd, e)) >= 0)
                add_temp(s, fd, tc, id, -1);
        } else if ((ch = channel_of(e, "power", "_input")) >= 0 ||
                   ((ch = channel_of(e, "power", "_average")) >= 0 &&
                    (snprintf(attr, sizeof(attr), "power%d_input", ch), faccessat(hfd, attr, F_OK, 0) < 0))) {
            snprintf(attr, sizeof(attr), "power%d_label", ch);
            (void)read_line_at(hfd, attr, label, sizeof(label));
            if ((fd = open_ro(hfd, e)) >= 0)
                add_power(s, fd, classify_hwmon_power(chip, label));
        }
    }
    for (int i = 0; i < n; i++)
        free(ents[i]);
    free(ents);
    /* The chip's package: its "Package id" label, else its coretemp.P device, else its rank
     * among the coretemp chips. */
    if (streq(chip, "coretemp")) {
        if (pkg < 0)
            pkg = *nchip_core;
        (*nchip_core)++;
    }
    for (unsigned i = first; i < s->ntemps; i++)
        s->temps[i].pkg = pkg < 0 ? 0 : pkg;
}

static void discover_hwmon(local_state *s) {
    _cleanup_close_ int cfd = open_ro(s->sys_fd, "class/hwmon");
    struct dirent **ents = NULL;
    int n, nchip_core = 0;

    if (cfd < 0)
        return;
    n = scandirat(cfd, ".", &ents, NULL, versionsort);
    for (int i = 0; i < n; i++) {
        if (startswith(ents[i]->d_name, "hwmon"))
            discover_hwmon_chip(s, ents[i]->d_name, &nchip_core);
        free(ents[i]);
    }
    free(ents);
}

static void discover_thermal(local_state *s) {
    _cleanup_close_ int cfd = open_ro(s->sys_fd, "class/thermal");
    DIR *d;
    struct dirent *de;

    if (cfd < 0 || !(d = fdopendir(cfd)))
        return;
    cfd = -1;
    while ((de = readdir(d))) {
        char path[512], type[64];
        int fd;
        if (!startswith(de->d_name, "thermal_zone"))
            continue;
        snprintf(path, sizeof(path), "class/thermal/%s/type", de->d_name);
        if (read_line_at(s->sys_fd, path, type, sizeof(type)) < 0 || !thermal_zone_is_cpu(type))
            continue;
        snprintf(path, sizeof(path), "class/thermal/%s/temp", de->d_name);
        fd = open_ro(s->sys_fd, path);
        if (fd >= 0)
            add_temp(s, fd, TEMP_PACKAGE, -1, -1);
    }
    closedir(d);
}

static void discover_rapl(local_state *s) {
    _cleanup_close_ int cfd = open_ro(s->sys_fd, "class/powercap");
    DIR *d;
    struct dirent *de;

    if (cfd < 0 || !(d = fdopendir(cfd)))
        return;
    cfd = -1;
    while ((de = readdir(d))) {
        char path[512], name[64];
        rapl_zone z = {.fd = -1};
        rapl_zone *nz;

        /* intel-rapl:P (package-P, psys, dram on some parts) and intel-rapl:P:S (core, uncore,
         * dram). intel-rapl-mmio duplicates the package zone: skip it so nothing counts twice. */
        if (!startswith(de->d_name, "intel-rapl:"))
            continue;
        snprintf(path, sizeof(path), "class/powercap/%s/name", de->d_name);
        if (read_line_at(s->sys_fd, path, name, sizeof(name)) < 0)
            continue;
        if (startswith(name, "package"))
            z.cls = POWER_CPU;
        else if (streq(name, "dram"))
            z.cls = POWER_MEM;
        else if (streq(name, "psys"))
            z.cls = POWER_TOTAL;
        else
            continue; /* core/uncore are parts of the package: counting them would double it */
        snprintf(path, sizeof(path), "class/powercap/%s/max_energy_range_uj", de->d_name);
        if (read_u64_at(s->sys_fd, path, &z.max_range) < 0)
            z.max_range = 0;
        snprintf(path, sizeof(path), "class/powercap/%s/energy_uj", de->d_name);
        z.fd = open_ro(s->sys_fd, path);
        if (z.fd < 0)
            continue; /* energy_uj is root-only since 5.10 (CVE-2020-8694) */
        nz = realloc(s->rapl, (s->nrapl + 1) * sizeof(*nz));
        if (!nz) {
            close(z.fd);
            break;
        }
        s->rapl = nz;
        s->rapl[s->nrapl++] = z;
    }
    closedir(d);
}

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
    hl_close(s->hl);
    closep(&s->hl_watch);
    hl_close(s->hl_wait);
    pthread_mutex_destroy(&s->watch_lock);
    free(s->hl_path);
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
    return fstatat(proc_fd, "self", &a, 0) == 0 && stat("/proc/self", &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int local_open(uniConnectPtr conn, const uni_uri *uri, unsigned flags) {
    static const char *const known[] = {"procfs", "sysfs", "healthlog", VMS_URI_PARAMS, NULL};
    const char *procfs, *sysfs, *healthlog;
    local_state *s;
    int r;

    (void)flags;
    if (uri->host && *uri->host) {
        uni_error_set(UNI_ERR_INVALID_URI, "uniserver:// with host '%s' is remote: use uniserver+tls://%s/system", uri->host, uri->host);
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
    s->proc_fd = s->sys_fd = s->stat_fd = s->meminfo_fd = s->loadavg_fd = s->online_fd = s->hl_watch = -1;
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
    if (vms_open(&s->vms, s->proc_fd, s->procfs, is_host_proc(s->proc_fd), uri) < 0)
        goto fail;
    return 0;
fail:
    local_close(conn);
    return -1;
}

/* ---------------------------------------------------------------------------------------------
 * Collection
 * ------------------------------------------------------------------------------------------- */

/* Read a kept-open file whole into the state's buffer, growing it when the file outgrew it. */
static ssize_t pread_buf(local_state *s, int fd) {
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

static double cpu_max_mhz(const local_state *s, unsigned c) {
    int p = s->cpu_policy[c];
    if (p >= 0 && s->policies[p].max_khz)
        return (double)s->policies[p].max_khz / 1000.0;
    return NAN;
}

/* The capacity of core c: cpufreq's maximum, else what /proc/cpuinfo said at open. */
static double cpu_capacity_mhz(const local_state *s, unsigned c) {
    double m = cpu_max_mhz(s, c);
    return isnan(m) ? s->cpuinfo_mhz[c] : m;
}

static int collect_cpu(local_state *s, uniRecordPtr rec, uint64_t now) {
    proc_stat *cur = &s->stat[s->cur ^ 1], *prev = &s->stat[s->cur];
    double cap = 0;
    bool have_cap = true;
    ssize_t n;
    int r;

    if (s->online_fd >= 0)
        (void)read_online(s);
    rec_u64(rec, UNI_M_HOST_CPU_COUNT, -1, NULL, s->n_online);
    for (unsigned c = 0; c < s->ncpu; c++)
        if (cpu_online(s, c)) {
            double m = cpu_capacity_mhz(s, c);
            if (isnan(m))
                have_cap = false;
            else
                cap += m;
        }
    if (have_cap)
        rec_dbl(rec, UNI_M_HOST_CPU_CAPACITY_MHZ, -1, NULL, cap);
    else
        rec_absent(rec, UNI_M_HOST_CPU_CAPACITY_MHZ, "no cpufreq and no 'cpu MHz' in %s/cpuinfo: core frequencies unknown", s->procfs);

    n = pread_buf(s, s->stat_fd);
    if (n < 0) {
        uni_error_errno((int)n, "%s/stat", s->procfs);
        return -1;
    }
    r = parse_proc_stat(s->buf, (size_t)n, cur);
    if (r < 0) {
        uni_error_errno(r, "%s/stat", s->procfs);
        return -1;
    }
    rec_u64(rec, UNI_M_HOST_CPU_IOWAIT_MS, -1, NULL, jiffies_to_ms(cur->all.t[CPUT_IOWAIT], s->hz));
    rec_u64(rec, UNI_M_HOST_CPU_IDLE_MS, -1, NULL, jiffies_to_ms(cur->all.t[CPUT_IDLE], s->hz));
    rec_u64(rec, UNI_M_HOST_CPU_SYSTEM_MS, -1, NULL, jiffies_to_ms(cur->all.t[CPUT_SYSTEM], s->hz));

    if (!s->have_stat_prev) {
        const char *why = "first sample: rates need a second sample (a window)";
        rec_absent(rec, UNI_M_HOST_CPU_UTIL_PCT, "%s", why);
        rec_absent(rec, UNI_M_HOST_CPU_UTIL_MHZ, "%s", why);
        rec_absent(rec, UNI_M_HOST_CPU_N_UTIL_PCT, "%s", why);
        rec_absent(rec, UNI_M_HOST_CPU_N_UTIL_MHZ, "%s", why);
        rec_absent(rec, UNI_M_HOST_CPU_IOWAIT_PCT, "%s", why);
        rec_absent(rec, UNI_M_HOST_CPU_IDLE_PCT, "%s", why);
        rec_absent(rec, UNI_M_HOST_CPU_SYSTEM_PCT, "%s", why);
    } else {
        uint64_t dt = cpu_times_total(&cur->all) - cpu_times_total(&prev->all);
        uint64_t db = cpu_times_busy(&cur->all) - cpu_times_busy(&prev->all);
        if (dt == 0 || cpu_times_total(&cur->all) < cpu_times_total(&prev->all)) {
            const char *why = "no CPU time elapsed in the window";
            rec_absent(rec, UNI_M_HOST_CPU_UTIL_PCT, "%s", why);
            rec_absent(rec, UNI_M_HOST_CPU_UTIL_MHZ, "%s", why);
            rec_absent(rec, UNI_M_HOST_CPU_IOWAIT_PCT, "%s", why);
            rec_absent(rec, UNI_M_HOST_CPU_IDLE_PCT, "%s", why);
            rec_absent(rec, UNI_M_HOST_CPU_SYSTEM_PCT, "%s", why);
        } else {
            double util = pct_of(db, dt);
            rec_dbl(rec, UNI_M_HOST_CPU_UTIL_PCT, -1, NULL, util);
            if (have_cap)
                rec_dbl(rec, UNI_M_HOST_CPU_UTIL_MHZ, -1, NULL, util * cap / 100.0);
            else
                rec_absent(rec, UNI_M_HOST_CPU_UTIL_MHZ, "core frequencies unknown");
            rec_dbl(rec, UNI_M_HOST_CPU_IOWAIT_PCT, -1, NULL,
                    pct_of(cur->all.t[CPUT_IOWAIT] - prev->all.t[CPUT_IOWAIT], dt));
            rec_dbl(rec, UNI_M_HOST_CPU_IDLE_PCT, -1, NULL, pct_of(cur->all.t[CPUT_IDLE] - prev->all.t[CPUT_IDLE], dt));
            rec_dbl(rec, UNI_M_HOST_CPU_SYSTEM_PCT, -1, NULL,
                    pct_of(cur->all.t[CPUT_SYSTEM] - prev->all.t[CPUT_SYSTEM], dt));
        }
        for (unsigned c = 0; c < s->ncpu; c++) {
            const cpu_times *a = &prev->cpu[c], *b = &cur->cpu[c];
            uint64_t cdt, cdb;
            double u, m;
            if (!cpu_online(s, c) || !a->present || !b->present)
                continue;
            cdt = cpu_times_total(b) - cpu_times_total(a);
            cdb = cpu_times_busy(b) - cpu_times_busy(a);
            /* A CPU that went offline and back restarts its counters: skip that window. */
            if (cdt == 0 || cpu_times_total(b) < cpu_times_total(a))
                continue;
            u = pct_of(cdb, cdt);
            rec_dbl(rec, UNI_M_HOST_CPU_N_UTIL_PCT, (int)c, NULL, u);
            m = cpu_capacity_mhz(s, c);
            if (!isnan(m))
                rec_dbl(rec, UNI_M_HOST_CPU_N_UTIL_MHZ, (int)c, NULL, u * m / 100.0);
        }
        rec_absent(rec, UNI_M_HOST_CPU_N_UTIL_PCT, "no CPU time elapsed in the window");
        rec_absent(rec, UNI_M_HOST_CPU_N_UTIL_MHZ, "core frequencies unknown");
    }
    s->cur ^= 1;
    s->have_stat_prev = true;
    s->stat_ns = now;
    return 0;
}

static int collect_freq(local_state *s, uniRecordPtr rec) {
    double res_sum = 0, res_mhz = 0;
    unsigned nres = 0;
    char gov_all[64] = "", pol_all[32] = "";
    bool gov_mixed = false, pol_mixed = false, have_gov = false, have_pol = false;
    char why_nofreq[512];

    snprintf(why_nofreq, sizeof(why_nofreq), "no cpufreq on this host (%s/devices/system/cpu/cpuN/cpufreq missing)", s->sysfs);
    for (unsigned c = 0; c < s->ncpu; c++) {
        int pi = s->cpu_policy[c];
        freq_policy *p = pi >= 0 ? &s->policies[pi] : NULL;
        uint64_t khz;
        char buf[64];
        const char *pol = NULL;

        if (!cpu_online(s, c))
            continue;
        if (p && p->cur_fd >= 0 && pread_u64(p->cur_fd, &khz) == 0) {
            double cur = (double)khz / 1000.0;
            rec_dbl(rec, UNI_M_HOST_CPU_N_FREQ_MHZ, (int)c, NULL, cur);
            if (p->max_khz) {
                double max = (double)p->max_khz / 1000.0;
                double rp = reserved_pct(cur, max);
                rec_dbl(rec, UNI_M_HOST_CPU_N_MAX_MHZ, (int)c, NULL, max);
                rec_dbl(rec, UNI_M_HOST_CPU_N_RESERVED_PCT, (int)c, NULL, rp);
                res_sum += rp;
                res_mhz += max - cur;
                nres++;
            }
        } else if (!isnan(s->cpuinfo_mhz[c]))
            rec_dbl(rec, UNI_M_HOST_CPU_N_FREQ_MHZ, (int)c, NULL, s->cpuinfo_mhz[c]);
        if (p && p->gov_fd >= 0 && pread_line(p->gov_fd, buf, sizeof(buf)) > 0) {
            rec_str(rec, UNI_M_HOST_CPU_N_GOVERNOR, (int)c, NULL, buf);
            if (!have_gov)
                snprintf(gov_all, sizeof(gov_all), "%s", buf);
            else if (!streq(gov_all, buf))
                gov_mixed = true;
            have_gov = true;
            pol = uni_policy_of_governor(buf);
        }
        if (p && p->epp_fd >= 0 && pread_line(p->epp_fd, buf, sizeof(buf)) > 0) {
            const char *e = uni_policy_of_epp(buf);
            if (e)
                pol = e;
        }
        if (pol) {
            if (!have_pol)
                snprintf(pol_all, sizeof(pol_all), "%s", pol);
            else if (!streq(pol_all, pol))
                pol_mixed = true;
            have_pol = true;
        }
    }
    if (nres) {
        rec_dbl(rec, UNI_M_HOST_CPU_RESERVED_PCT, -1, NULL, res_sum / nres);
        rec_dbl(rec, UNI_M_HOST_CPU_RESERVED_MHZ, -1, NULL, res_mhz);
    }
    if (have_gov)
        rec_str(rec, UNI_M_HOST_CPU_GOVERNOR, -1, NULL, gov_mixed ? "mixed" : gov_all);
    if (have_pol)
        rec_str(rec, UNI_M_HOST_CPU_POWER_POLICY, -1, NULL, pol_mixed ? "mixed" : pol_all);
    if (!s->have_cpufreq) {
        if (!s->have_cpuinfo_mhz)
            rec_absent(rec, UNI_M_HOST_CPU_N_FREQ_MHZ, "%s, and no 'cpu MHz' in %s/cpuinfo", why_nofreq, s->procfs);
        rec_absent(rec, UNI_M_HOST_CPU_N_MAX_MHZ, "%s", why_nofreq);
        rec_absent(rec, UNI_M_HOST_CPU_N_RESERVED_PCT, "%s: the maximum frequency is unknown", why_nofreq);
        rec_absent(rec, UNI_M_HOST_CPU_RESERVED_PCT, "%s: the maximum frequency is unknown", why_nofreq);
        rec_absent(rec, UNI_M_HOST_CPU_RESERVED_MHZ, "%s: the maximum frequency is unknown", why_nofreq);
        rec_absent(rec, UNI_M_HOST_CPU_N_GOVERNOR, "%s", why_nofreq);
        rec_absent(rec, UNI_M_HOST_CPU_GOVERNOR, "%s", why_nofreq);
        rec_absent(rec, UNI_M_HOST_CPU_POWER_POLICY, "%s (no governor, no energy_performance_preference)", why_nofreq);
    } else {
        const char *why = "cpufreq present but its files could not be read";
        rec_absent(rec, UNI_M_HOST_CPU_N_FREQ_MHZ, "%s", why);
        rec_absent(rec, UNI_M_HOST_CPU_N_MAX_MHZ, "cpufreq has no cpuinfo_max_freq");
        rec_absent(rec, UNI_M_HOST_CPU_N_RESERVED_PCT, "cpufreq has no cpuinfo_max_freq or scaling_cur_freq");
        rec_absent(rec, UNI_M_HOST_CPU_RESERVED_PCT, "cpufreq has no cpuinfo_max_freq or scaling_cur_freq");
        rec_absent(rec, UNI_M_HOST_CPU_RESERVED_MHZ, "cpufreq has no cpuinfo_max_freq or scaling_cur_freq");
        rec_absent(rec, UNI_M_HOST_CPU_N_GOVERNOR, "cpufreq has no scaling_governor");
        rec_absent(rec, UNI_M_HOST_CPU_GOVERNOR, "cpufreq has no scaling_governor");
        rec_absent(rec, UNI_M_HOST_CPU_POWER_POLICY, "cpufreq has no scaling_governor or energy_performance_preference");
    }
    return 0;
}

static int read_meminfo(local_state *s, meminfo *m) {
    ssize_t n = pread_buf(s, s->meminfo_fd);
    int r;
    if (n < 0) {
        uni_error_errno((int)n, "%s/meminfo", s->procfs);
        return -1;
    }
    r = parse_meminfo(s->buf, (size_t)n, m);
    if (r < 0) {
        uni_error_errno(r, "%s/meminfo", s->procfs);
        return -1;
    }
    s->mem_total_kb = m->mem_total_kb;
    s->mem_total_ns = uni_clock_ns();
    return 0;
}

/* The host's memory in MB, for the VMs' shares of it (dom.mem_pct, host.vms.mem_pct), or NAN.
 * MemTotal changes only when memory is hot-plugged: the value of a meminfo read in the last
 * 10 s serves, so that a sample reads meminfo once rather than three times. */
static double mem_total_mb(local_state *s) {
    uint64_t now = uni_clock_ns();
    meminfo m;
    if ((!s->mem_total_ns || now - s->mem_total_ns > 10000000000ull) && read_meminfo(s, &m) < 0) {
        uniResetLastError();
        return NAN;
    }
    return (double)s->mem_total_kb / 1024.0;
}

static void collect_mem(local_state *s, uniRecordPtr rec, const meminfo *m) {
    double total = (double)m->mem_total_kb / 1024.0;

    rec_dbl(rec, UNI_M_HOST_MEM_TOTAL_MB, -1, NULL, total);
    if (m->have_available) {
        rec_dbl(rec, UNI_M_HOST_MEM_AVAILABLE_MB, -1, NULL, (double)m->mem_available_kb / 1024.0);
        rec_dbl(rec, UNI_M_HOST_MEM_AVAILABLE_PCT, -1, NULL, pct_of(m->mem_available_kb, m->mem_total_kb));
    } else {
        rec_absent(rec, UNI_M_HOST_MEM_AVAILABLE_MB, "no MemAvailable in %s/meminfo (kernel before 3.14)", s->procfs);
        rec_absent(rec, UNI_M_HOST_MEM_AVAILABLE_PCT, "no MemAvailable in %s/meminfo (kernel before 3.14)", s->procfs);
    }
    if (m->have_cached) {
        rec_dbl(rec, UNI_M_HOST_MEM_CACHED_MB, -1, NULL, (double)m->cached_kb / 1024.0);
        rec_dbl(rec, UNI_M_HOST_MEM_CACHED_PCT, -1, NULL, pct_of(m->cached_kb, m->mem_total_kb));
    } else {
        rec_absent(rec, UNI_M_HOST_MEM_CACHED_MB, "no Cached in %s/meminfo", s->procfs);
        rec_absent(rec, UNI_M_HOST_MEM_CACHED_PCT, "no Cached in %s/meminfo", s->procfs);
    }
    if (m->have_swap)
        rec_dbl(rec, UNI_M_HOST_SWAP_TOTAL_MB, -1, NULL, (double)m->swap_total_kb / 1024.0);
    else
        rec_absent(rec, UNI_M_HOST_SWAP_TOTAL_MB, "no SwapTotal in %s/meminfo", s->procfs);
}

static int collect_contention(local_state *s, uniRecordPtr rec, const meminfo *m, uint64_t now, bool *ret_psi) {
    char buf[256];
    loadavg la;
    ssize_t n;
    uint64_t cont_ms = 0;
    bool have_cont = false;

    /* Memory contention, the spec's formula. */
    rec_dbl(rec, UNI_M_HOST_MEM_CONTENTION_RATIO, -1, NULL, mem_contention_ratio(m));
    rec_dbl(rec, UNI_M_HOST_MEM_CONTENTION_PCT, -1, NULL, 100.0 * mem_contention_ratio(m));
    rec_dbl(rec, UNI_M_HOST_MEM_CONTENTION_MB, -1, NULL, mem_contention_mb(m));

    if (s->loadavg_fd < 0) {
        const char *why = "no loadavg in procfs";
        rec_absent(rec, UNI_M_HOST_CPU_CONTENTION_RATIO, "%s", why);
        rec_absent(rec, UNI_M_HOST_CPU_MAX_UTIL_MS, "%s", why);
        return 0;
    }
    n = pread_line(s->loadavg_fd, buf, sizeof(buf));
    if (n < 0 || parse_loadavg(buf, (size_t)n, &la) < 0) {
        uni_error_errno(n < 0 ? (int)n : -EBADMSG, "%s/loadavg", s->procfs);
        return -1;
    }
    rec_dbl(rec, UNI_M_HOST_CPU_CONTENTION_RATIO, -1, NULL, cpu_contention_ratio(la.running, s->n_online));
    /* Spec 2.3: time at maximum utilisation, from the load against the number of CPUs, tracked
     * from one sample to the next (counted since this connection opened). */
    rec_u64(rec, UNI_M_HOST_CPU_MAX_UTIL_MS, -1, NULL, max_util_step(&s->maxu, la.load1, s->n_online, now) / 1000000);

    /* Contention time: PSI's cpu "some" total is the kernel's own account of time with a task
     * waiting for a CPU; without PSI, the windows in which runnable tasks outnumbered cores. */
    if (s->psi_fd[0] >= 0) {
        psi p;
        n = pread_line(s->psi_fd[0], buf, sizeof(buf));
        if (n >= 0 && parse_psi(buf, (size_t)n, &p) == 0) {
            cont_ms = p.some_us / 1000;
            have_cont = true;
            *ret_psi = true;
            s->psi_cpu = p;
            s->psi_cpu_fresh = true;
        }
    }
    if (!have_cont) {
        if (s->have_last && la.running > s->n_online)
            s->cont_ns += now - s->last_ns;
        cont_ms = s->cont_ns / 1000000;
        have_cont = true;
    }
    rec_u64(rec, UNI_M_HOST_CPU_CONTENTION_MS, -1, NULL, cont_ms);
    if (s->have_cont_prev && s->have_last && now > s->last_ns) {
        double win_ms = (double)(now - s->last_ns) / 1e6;
        double d = cont_ms >= s->cont_prev_ms ? (double)(cont_ms - s->cont_prev_ms) : 0;
        double pct = 100.0 * d / win_ms;
        rec_dbl(rec, UNI_M_HOST_CPU_CONTENTION_PCT, -1, NULL, pct > 100 ? 100 : pct);
    } else
        rec_absent(rec, UNI_M_HOST_CPU_CONTENTION_PCT, "first sample: rates need a second sample (a window)");
    s->cont_prev_ms = cont_ms;
    s->have_cont_prev = true;
    return 0;
}

static void collect_psi(local_state *s, uniRecordPtr rec) {
    static const unsigned some_ids[3] = {UNI_M_HOST_PSI_CPU_SOME_MS, UNI_M_HOST_PSI_MEM_SOME_MS, UNI_M_HOST_PSI_IO_SOME_MS};
    static const int full_ids[3] = {-1, UNI_M_HOST_PSI_MEM_FULL_MS, UNI_M_HOST_PSI_IO_FULL_MS};
    static const char *const files[3] = {"cpu", "memory", "io"};

    for (int i = 0; i < 3; i++) {
        char buf[256];
        psi p;
        ssize_t n = 0;
        if (i == 0 && s->psi_cpu_fresh)
            p = s->psi_cpu; /* read a moment ago for the contention metrics */
        else if ((n = s->psi_fd[i] >= 0 ? pread_line(s->psi_fd[i], buf, sizeof(buf)) : -ENOENT) >= 0 &&
                 parse_psi(buf, (size_t)n, &p) < 0)
            n = -EBADMSG;
        if (i == 0)
            s->psi_cpu_fresh = false;
        if (n < 0) {
            const char *why = n == -EOPNOTSUPP ? "PSI disabled (boot with psi=1)" : "no PSI";
            const char *what = n == -EBADMSG ? "malformed" : "unreadable";
            rec_absent(rec, some_ids[i], "%s: %s/pressure/%s %s", why, s->procfs, files[i], what);
            if (full_ids[i] >= 0)
                rec_absent(rec, (unsigned)full_ids[i], "%s: %s/pressure/%s %s", why, s->procfs, files[i], what);
            continue;
        }
        rec_u64(rec, some_ids[i], -1, NULL, p.some_us / 1000);
        if (full_ids[i] >= 0 && p.have_full)
            rec_u64(rec, (unsigned)full_ids[i], -1, NULL, p.full_us / 1000);
    }
}

static void collect_temp(local_state *s, uniRecordPtr rec) {
    double core_sum = 0, pkg_sum = 0;
    unsigned ncore = 0, npkg = 0;

    for (unsigned cpu = 0; cpu < s->ncpu; cpu++)
        s->cpu_temp[cpu] = NAN;
    for (unsigned i = 0; i < s->ntemps; i++) {
        temp_sensor *t = &s->temps[i];
        int64_t mc;
        double c;
        if (pread_i64(t->fd, &mc) < 0)
            continue;
        c = (double)mc / 1000.0;
        if (t->cls == TEMP_CORE) {
            bool any = false;
            /* A core sensor covers every online CPU (SMT sibling) of that core and package. */
            for (unsigned cpu = 0; cpu < s->ncpu; cpu++)
                if (cpu_online(s, cpu) && s->core_id[cpu] == t->id && s->pkg_id[cpu] == t->pkg) {
                    s->cpu_temp[cpu] = c;
                    any = true;
                }
            if (any) {
                core_sum += c;
                ncore++;
            }
        } else {
            pkg_sum += c;
            npkg++;
        }
    }
    for (unsigned cpu = 0; cpu < s->ncpu; cpu++)
        if (!isnan(s->cpu_temp[cpu])) {
            rec_dbl(rec, UNI_M_HOST_CPU_N_TEMP_C, (int)cpu, NULL, s->cpu_temp[cpu]);
        }
    /* Spec: the mean of the per-core sensors; the package sensors where no core sensor exists. */
    if (ncore)
        rec_dbl(rec, UNI_M_HOST_TEMP_CPU_AVG_C, -1, NULL, core_sum / ncore);
    else if (npkg)
        rec_dbl(rec, UNI_M_HOST_TEMP_CPU_AVG_C, -1, NULL, pkg_sum / npkg);
    else
        rec_absent(rec, UNI_M_HOST_TEMP_CPU_AVG_C,
                   "no CPU temperature sensor (no coretemp, k10temp or X-Gene hwmon chip in %s/class/hwmon, no CPU thermal zone in %s/class/thermal)",
                   s->sysfs, s->sysfs);
    rec_absent(rec, UNI_M_HOST_CPU_N_TEMP_C, "no per-core temperature sensor (coretemp 'Core N' channels) in %s/class/hwmon",
               s->sysfs);
}

static void collect_power(local_state *s, uniRecordPtr rec, uint64_t now) {
    double w[4] = {0, 0, 0, 0}; /* indexed by power_class */
    bool have[4] = {false, false, false, false};
    bool have_rapl_rate = s->have_power_prev && now > s->power_ns;
    double dt_s = have_rapl_rate ? (double)(now - s->power_ns) / 1e9 : 0;
    double total;
    bool have_total;

    for (unsigned i = 0; i < s->nrapl; i++) {
        rapl_zone *z = &s->rapl[i];
        uint64_t uj;
        if (pread_u64(z->fd, &uj) < 0)
            continue;
        if (z->have_prev && have_rapl_rate) {
            w[z->cls] += (double)counter_delta(z->prev, uj, z->max_range) / 1e6 / dt_s;
            have[z->cls] = true;
        }
        z->prev = uj;
        z->have_prev = true;
    }
    for (unsigned i = 0; i < s->npowers; i++) {
        uint64_t uw;
        if (pread_u64(s->powers[i].fd, &uw) < 0)
            continue;
        w[s->powers[i].cls] += (double)uw / 1e6;
        have[s->powers[i].cls] = true;
    }
    if (have[POWER_CPU])
        rec_dbl(rec, UNI_M_HOST_POWER_CPU_W, -1, NULL, w[POWER_CPU]);
    if (have[POWER_MEM])
        rec_dbl(rec, UNI_M_HOST_POWER_MEM_W, -1, NULL, w[POWER_MEM]);
    /* Total: a whole-platform meter (RAPL psys, a power meter) where there is one, else the sum
     * of every domain measured. */
    have_total = have[POWER_TOTAL] || have[POWER_CPU] || have[POWER_MEM] || have[POWER_OTHER];
    total = have[POWER_TOTAL] ? w[POWER_TOTAL] : w[POWER_CPU] + w[POWER_MEM] + w[POWER_OTHER];
    if (have_total) {
        rec_dbl(rec, UNI_M_HOST_POWER_TOTAL_W, -1, NULL, total);
        if (s->have_power_prev) {
            s->energy_j += total * (double)(now - s->power_ns) / 1e9;
            rec_dbl(rec, UNI_M_HOST_ENERGY_TOTAL_KWH, -1, NULL, s->energy_j / 3.6e6);
        }
    }
    {
        const char *first = "first sample: RAPL power is an energy difference and needs a window";
        bool rapl_only = s->nrapl > 0 && !have_rapl_rate;
        if (s->nrapl == 0 && s->npowers == 0) {
            char why[512];
            snprintf(why, sizeof(why), "no power source (no RAPL zone in %s/class/powercap readable, no hwmon power*_input)", s->sysfs);
            rec_absent(rec, UNI_M_HOST_POWER_CPU_W, "%s", why);
            rec_absent(rec, UNI_M_HOST_POWER_MEM_W, "%s", why);
            rec_absent(rec, UNI_M_HOST_POWER_TOTAL_W, "%s", why);
            rec_absent(rec, UNI_M_HOST_ENERGY_TOTAL_KWH, "%s", why);
        } else if (rapl_only) {
            rec_absent(rec, UNI_M_HOST_POWER_CPU_W, "%s", first);
            rec_absent(rec, UNI_M_HOST_POWER_MEM_W, "%s", first);
            rec_absent(rec, UNI_M_HOST_POWER_TOTAL_W, "%s", first);
        }
        rec_absent(rec, UNI_M_HOST_POWER_CPU_W, "no CPU power domain (RAPL package, hwmon CPU power)");
        rec_absent(rec, UNI_M_HOST_POWER_MEM_W, "no memory power domain (RAPL dram, hwmon DRAM power)");
        rec_absent(rec, UNI_M_HOST_ENERGY_TOTAL_KWH, "first sample: energy is integrated over the connection's windows");
    }
    s->power_ns = now;
    s->have_power_prev = true;
}

/* Open the HealthLog read-only when first needed, and again until it exists. -ENOENT/-ENODATA
 * when there is none (yet), with the reason in @why. */
static int ensure_healthlog(local_state *s, char *why, size_t len) {
    uint64_t now;
    bool recent;
    int r;
    if (s->hl)
        return 0;
    now = uni_clock_ns();
    recent = s->hl_missing_ns && now - s->hl_missing_ns < 200000000;
    /* A sample looks for it twice (the VMs' records, the host's): once is enough, and without
     * setting up a reader to find it missing. */
    if (recent || (access(s->hl_path, F_OK) < 0 && errno == ENOENT))
        r = -ENOENT;
    else
        r = hl_open(s->hl_path, 0, &s->hl, why, len);
    if (r != -ENOENT)
        s->hl_missing_ns = 0;
    else if (!recent)
        s->hl_missing_ns = now;
    if (r == -ENOENT)
        snprintf(why, len, "no HealthLog at %s: start uni-healthd --db %s (or give ?healthlog=PATH)", s->hl_path, s->hl_path);
    return r;
}

/* The error metrics and the memory speed, from the HealthLog. No HealthLog is not a failure of
 * the source: the metrics are absent and say how to get them. */
static int collect_healthlog(local_state *s, uniRecordPtr rec) {
    char why[1024];
    unsigned caps = 0;
    int r = ensure_healthlog(s, why, sizeof(why));

    if (r == -ENOENT || r == -ENODATA) {
        for (unsigned m = 0; m < UNI_NMETRICS; m++)
            if (uni_catalog_group[m] == UNI_GROUP_ERRORS)
                rec_absent(rec, m, "%s", why);
        rec_absent(rec, UNI_M_HOST_MEM_SPEED_MHZ, "%s", why);
        return 0;
    }
    if (r < 0) {
        uni_error_errno(r, "%s", why);
        return -1;
    }
    r = hl_collect(s->hl, rec, uni_clock_wall_ms(), s->online, s->ncpu, &caps);
    if (r < 0) {
        uni_error_errno(r, "HealthLog %s", hl_errmsg(s->hl));
        /* Reopen next time: the file may have been replaced. */
        hl_close(s->hl);
        s->hl = NULL;
        return -1;
    }
    rec_absent(rec, UNI_M_HOST_MEM_SPEED_MHZ, "no memory speed in the HealthLog %s (uni-healthd reads SMBIOS type 17 from sysfs firmware/dmi/entries/17-*/raw, root only)",
               s->hl_path);
    {
        const char *no_mem = "uni-healthd has no source of memory errors on this host (no EDAC memory controller, no ras:mc_event or mce:mce_record tracepoint)";
        const char *no_cpu = "uni-healthd has no source of CPU errors on this host (no mce:mce_record or ras:arm_event tracepoint)";
        bool have_mem = caps & HL_CAP_MEMORY, have_cpu = caps & HL_CAP_CPU;
        for (unsigned m = 0; m < UNI_NMETRICS; m++) {
            const char *key = uni_catalog[m].key;
            bool comp = startswith(key, "host.errors.C.");
            if (uni_catalog_group[m] != UNI_GROUP_ERRORS)
                continue;
            if (m == UNI_M_HOST_ERRORS_DIMM_D_CE_COUNT || m == UNI_M_HOST_ERRORS_DIMM_D_UE_COUNT)
                rec_absent(rec, m, "no DIMM known to the HealthLog %s (no EDAC memory controller, no error with a DIMM label)", s->hl_path);
            else if (comp && have_mem != have_cpu) /* the spec's components of the class without a source */
                rec_absent_partial(rec, m, "%s; HealthLog %s", have_mem ? no_cpu : no_mem, s->hl_path);
            else if (startswith(key, "host.errors.mem.") || comp)
                rec_absent(rec, m, "%s; HealthLog %s", no_mem, s->hl_path);
            else
                rec_absent(rec, m, "%s; HealthLog %s", no_cpu, s->hl_path);
        }
    }
    return 0;
}

static int local_healthlog_query(uniConnectPtr conn, const uni_healthlog_query *q, uniRecordPtr **ret) {
    local_state *s = conn->priv;
    char why[1024];
    int r = ensure_healthlog(s, why, sizeof(why));

    if (r < 0) {
        uni_error_errno(r, "%s", why);
        return -1;
    }
    r = hl_query_records(s->hl, q, ret);
    if (r == -E2BIG)
        uni_error_set(UNI_ERR_OUT_OF_RANGE, "more than %d events in %s match: give a later since_ms", UNI_HEALTHLOG_MAX_EVENTS,
                      s->hl_path);
    else if (r < 0) {
        uni_error_errno(r, "HealthLog %s", hl_errmsg(s->hl));
        hl_close(s->hl);
        s->hl = NULL;
    }
    return r < 0 ? -1 : r;
}

/* Has anything been committed since the previous wait? The notification comes with the write of
 * the WAL, a moment before the commit is visible: the data version says when it is. */
static int wait_changed(local_state *s) {
    int64_t v;
    if (!s->hl_wait && hl_open(s->hl_path, 0, &s->hl_wait, NULL, 0) < 0)
        return 0; /* not there yet: its creation will wake us */
    v = hl_data_version(s->hl_wait);
    if (!s->have_wait_version) {
        s->wait_version = v;
        s->have_wait_version = true;
        return 0;
    }
    if (v == s->wait_version)
        return 0;
    s->wait_version = v;
    return 1;
}

static int local_healthlog_wait(uniConnectPtr conn, int timeout_ms) {
    local_state *s = conn->priv;
    struct pollfd p = {.events = POLLIN};
    uint64_t deadline = now_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000;
    int r = 0;

    pthread_mutex_lock(&s->watch_lock);
    if (s->hl_watch < 0)
        s->hl_watch = hl_watch_open(s->hl_path);
    p.fd = s->hl_watch;
    if (p.fd < 0) {
        uni_error_errno(p.fd, "watching the HealthLog %s (its directory must exist)", s->hl_path);
        r = -1;
    }
    while (r == 0 && !(r = wait_changed(s))) {
        uint64_t now = now_ns();
        int left = timeout_ms < 0 ? -1 : now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
        if (timeout_ms >= 0 && left == 0)
            break;
        r = poll(&p, 1, left);
        if (r < 0 && errno == EINTR) {
            r = 0;
            continue;
        }
        if (r < 0) {
            uni_error_errno(-errno, "waiting for the HealthLog %s", s->hl_path);
            r = -1;
            break;
        }
        if (r == 0)
            break;
        r = hl_watch_drain(p.fd, s->hl_path);
        if (r < 0) {
            uni_error_errno(r, "HealthLog %s", s->hl_path);
            r = -1;
            break;
        }
        /* The commit follows its write within the writer's fsync. */
        for (int i = 0; r == 1 && i < 100; i++) {
            if (wait_changed(s))
                break;
            if (i == 99)
                r = 0;
            else
                usleep(2000);
        }
        if (r == 1) {
            pthread_mutex_unlock(&s->watch_lock);
            return 1;
        }
    }
    pthread_mutex_unlock(&s->watch_lock);
    return r < 0 ? -1 : r;
}

const char *uni_local_healthlog_path(uniConnectPtr conn) {
    return conn->driver == &uni_local_driver ? ((local_state *)conn->priv)->hl_path : NULL;
}

/* The sources of a sample, for their health metrics (host.source.NAME.*). */
enum { SRC_STAT, SRC_CPUFREQ, SRC_MEMINFO, SRC_LOADAVG, SRC_PSI, SRC_SENSORS, SRC_POWER, SRC_HEALTHLOG, SRC_VMS, SRC_MAX };
static const char *const source_names[SRC_MAX] = {"stat", "cpufreq", "meminfo", "loadavg", "psi", "sensors", "power", "healthlog", "vms"};

/* Account for one source's collection. On failure with best effort, its groups' metrics are
 * absent with the error as the reason and the call goes on; otherwise the call fails. */
static int source_done(local_state *s, uniRecordPtr rec, int src, int r, uint64_t t0, bool best, uint32_t groups) {
    const char *name = source_names[src];
    rec_u64(rec, UNI_M_HOST_SOURCE_NAME_UP, -1, name, r >= 0);
    rec_dbl(rec, UNI_M_HOST_SOURCE_NAME_DURATION_MS, -1, name, (double)(uni_clock_ns() - t0) / 1e6);
    if (r < 0)
        s->src_errors[src]++;
    rec_u64(rec, UNI_M_HOST_SOURCE_NAME_ERRORS, -1, name, s->src_errors[src]);
    if (r >= 0)
        return 0;
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

#define RUN(src, groups, expr)                                                                     \
    do {                                                                                           \
        uint64_t t0_ = uni_clock_ns();                                                                 \
        int r_ = (expr);                                                                           \
        if (source_done(s, rec, (src), r_, t0_, best, (groups)) < 0)                               \
            return -1;                                                                             \
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
    if (want_cpu)
        RUN(SRC_STAT, 1u << UNI_GROUP_CPU, collect_cpu(s, rec, now));
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
    if (uni_select_group(sel, UNI_GROUP_ERRORS) || uni_select_group(sel, UNI_GROUP_MEMHW)) {
        uint32_t groups = (1u << UNI_GROUP_ERRORS) | (1u << UNI_GROUP_MEMHW);
        RUN(SRC_HEALTHLOG, groups, collect_healthlog(s, rec));
    }
    if (uni_select_group(sel, UNI_GROUP_MEMHW))
        rec_absent(rec, UNI_M_HOST_MEM_REFRESH_MS, "no Linux interface exposes the DRAM refresh period");
    if (uni_select_group(sel, UNI_GROUP_VMS) || uni_select_has(sel, UNI_M_KVM_NAME)) {
        /* host.vms.mem_pct is of the host's memory. */
        double total = mem_total_mb(s);
        RUN(SRC_VMS, (1u << UNI_GROUP_VMS) | (1u << UNI_GROUP_KVM), vms_node_stats(s->vms, sel, rec, total));
    }
    rec_absent(rec, UNI_M_HOST_SOURCE_NAME_LAST_ERROR, "%s", "no source is failing");
    s->last_ns = now;
    s->have_last = true;
    return 0;
}

/* The fds a whole-record sample reads (for bench/: the cost floor is preading exactly these). */
size_t uni_local_sample_fds(uniConnectPtr conn, int *fds, size_t max) {
    local_state *s = conn->priv;
    size_t n = 0;
#define ADD(fd)                                                                                    \
    do {                                                                                           \
        if ((fd) >= 0 && n < max)                                                                  \
            fds[n++] = (fd);                                                                       \
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

/* ---------------------------------------------------------------------------------------------
 * Control (control.c, opp.c): on the connection's sysfs root
 * ------------------------------------------------------------------------------------------- */

static sysfs_root root_of(uniConnectPtr conn) {
    local_state *s = conn->priv;
    return (sysfs_root){.conn = conn, .sys_fd = s->sys_fd, .sysfs = s->sysfs};
}

static int local_node_set_frequency(uniConnectPtr conn, int core, uint64_t khz, const char *text, uni_core_set *ret) {
    sysfs_root r = root_of(conn);
    return local_set_frequency(&r, core, khz, text, ret);
}

static int local_node_set_governor(uniConnectPtr conn, int core, const char *governor, uni_core_set *ret) {
    sysfs_root r = root_of(conn);
    return local_set_governor(&r, core, governor, ret);
}

static int local_node_set_power_policy(uniConnectPtr conn, int core, const char *policy, uni_core_set *ret) {
    sysfs_root r = root_of(conn);
    return local_set_power_policy(&r, core, policy, ret);
}

static int local_node_get_operating_points(uniConnectPtr conn, uniOppListPtr list) {
    sysfs_root r = root_of(conn);
    return local_get_operating_points(&r, list);
}

static int local_node_set_operating_point(uniConnectPtr conn, uniOppListPtr list, int domain, const uniOppSetting *settings,
                                          int n) {
    sysfs_root r = root_of(conn);
    return local_set_operating_point(&r, list, domain, settings, n);
}

static int local_list_domains(uniConnectPtr conn, uni_domain_info **ret, size_t *ret_n) {
    local_state *s = conn->priv;
    return vms_list(s->vms, ret, ret_n);
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
        uni_select_has(sel, UNI_M_DOM_ERRORS_CE_RATE_PER_MIN) || uni_select_has(sel, UNI_M_DOM_ERRORS_UE_RATE_PER_MIN)) {
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
    .healthlog_query = local_healthlog_query,
    .healthlog_wait = local_healthlog_wait,
};
