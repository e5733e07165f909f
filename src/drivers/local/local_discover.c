/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's sources, found once at open: CPUs, cpufreq policies, hwmon and thermal
 * sensors, RAPL zones. */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>

#include "local_internal.h"

/* ---------------------------------------------------------------------------------------------
 * Discovery
 * ------------------------------------------------------------------------------------------- */

int open_ro(int dirfd, const char *path) {
    int fd = open_source_at(dirfd, path);
    if (fd < 0) {
        errno = -fd;
        return -1;
    }
    return fd;
}

bool cpu_online(const local_state *s, unsigned cpu) {
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

int read_online(local_state *s) {
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
int discover_cpus(local_state *s) {
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
    if (!s->online || !s->core_id || !s->pkg_id || !s->cpuinfo_mhz || !s->cpu_policy || !s->cpu_temp ||
        !s->stat[0].cpu || !s->stat[1].cpu)
        return -ENOMEM;
    s->online_fd = open_ro(s->sys_fd, "devices/system/cpu/online");
    if (read_online(s) < 0) {
        /* Without the online mask every CPU /proc/stat lists counts as online. */
        memset(s->online, 0xff, UNI_BITMAP_BYTES(max));
        for (unsigned i = max; i < UNI_BITMAP_BYTES(max) * 8; i++)
            s->online[i / 8] &= (uint8_t) ~(1u << (i % 8));
        s->n_online = max;
        for (unsigned c = 0; c < max; c++)
            read_topology(s, c);
    }
    for (unsigned c = 0; c < max; c++)
        s->cpu_policy[c] = -1;
    return 0;
}

void discover_cpuinfo(local_state *s) {
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

void discover_cpufreq(local_state *s) {
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
            /* Without scaling_cur_freq, the hardware's own reading (cpuinfo_cur_freq,
             * Documentation/admin-guide/pm/cpufreq.rst; readable by root) before /proc/cpuinfo's
             * value of open time. */
            if (p->cur_fd < 0)
                p->cur_fd = open_ro(dfd, "cpuinfo_cur_freq");
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

    bool has_die = false;

    snprintf(path, sizeof(path), "class/hwmon/%s", dname);
    hfd = open_ro(s->sys_fd, path);
    if (hfd < 0)
        return;
    /* Drivers from before the hwmon core kept their attributes (name too) on the parent device,
     * hwmonN/device/ (Documentation/hwmon/sysfs-interface.rst): read them there. */
    if (read_line_at(hfd, "name", chip, sizeof(chip)) < 0) {
        int dfd = openat(hfd, "device", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        closep(&hfd);
        hfd = dfd;
        if (hfd < 0 || read_line_at(hfd, "name", chip, sizeof(chip)) < 0)
            return;
    }
    if (streq(chip, "coretemp"))
        pkg = chip_package(dname, s->sys_fd);
    n = scandirat(hfd, ".", &ents, NULL, versionsort);
    /* k10temp's Tctl is the fan-control value, with an offset on some parts; Tdie and Tccd are
     * the temperatures (Documentation/hwmon/k10temp.rst): Tctl counts only where it is alone. */
    for (int i = 0; (streq(chip, "k10temp") || streq(chip, "zenpower")) && i < n; i++) {
        char attr[64], label[64] = "";
        int ch = channel_of(ents[i]->d_name, "temp", "_input");
        snprintf(attr, sizeof(attr), "temp%d_label", ch);
        if (ch >= 0 && read_line_at(hfd, attr, label, sizeof(label)) >= 0 &&
            (streq(label, "Tdie") || startswith(label, "Tccd")))
            has_die = true;
    }
    for (int i = 0; i < n; i++) {
        const char *e = ents[i]->d_name;
        char attr[64], label[64] = "";
        int ch, fd, id;

        if ((ch = channel_of(e, "temp", "_input")) >= 0) {
            temp_class tc;
            snprintf(attr, sizeof(attr), "temp%d_label", ch);
            (void)read_line_at(hfd, attr, label, sizeof(label));
            tc = classify_hwmon_temp(chip, label, &id);
            if (has_die && streq(label, "Tctl"))
                tc = TEMP_OTHER;
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

void discover_hwmon(local_state *s) {
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

void discover_thermal(local_state *s) {
    _cleanup_closedir_ DIR *d = opendir_at(s->sys_fd, "class/thermal");
    struct dirent *de;

    if (!d)
        return;
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
}

void discover_rapl(local_state *s) {
    _cleanup_closedir_ DIR *d = opendir_at(s->sys_fd, "class/powercap");
    struct dirent *de;

    if (!d)
        return;
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
}
