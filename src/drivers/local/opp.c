/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Operating points beyond cpufreq on the local driver, through a board interface in sysfs:
 *
 *   SYSFS/class/uniserver-opp/DOMAIN/   one directory per domain (pmd0 .. pmd3, mc0 .. mc3)
 *       kind                  "cpu" (a voltage/frequency domain of cores) or "memory" (a channel)
 *       id                    the PMD or channel number
 *       cpus                  cpu domains: the CPU list ("0-1")
 *       dimms                 memory domains: the DIMM labels, blank-separated ("DIMM0A DIMM0B")
 *       PARAM                 the value now; writing sets it (the value read back is what the
 *                             hardware took): voltage_mv, refresh_ms, ...
 *       PARAM_min, PARAM_max  the limits the hardware accepts; PARAM_nominal (the vendor's
 *       PARAM_nominal         value) and PARAM_step are optional. A PARAM file without write
 *       PARAM_step            permission is reported read-only.
 *
 * The unit of a parameter is its name's suffix (_mv mV, _mhz MHz, _ms ms). A cpu domain also gets
 * frequency_mhz from cpufreq (its first core's policy) unless the board gives one itself (with
 * frequency_mhz_step, when there, as its step); it is set through the same path as
 * uniNodeSetFrequency. uni-simboard provides this interface for a
 * simulated X-Gene2; a kernel driver for a real board can provide the same files. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "control.h"

#define OPP_DIR "class/uniserver-opp"
#define MAX_CORES 256
#define MAX_DIMMS 16

static const struct {
    const char *suffix, *unit;
} units[] = {{"_mv", "mV"}, {"_mhz", "MHz"}, {"_ms", "ms"}, {"_khz", "kHz"}, {"_uv", "uV"}};

static const char *unit_of(const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < ELEMENTSOF(units); i++) {
        size_t k = strlen(units[i].suffix);
        if (n > k && streq(name + n - k, units[i].suffix))
            return units[i].unit;
    }
    return NULL;
}

static bool is_limit_file(const char *name) {
    static const char *const limits[] = {"_min", "_max", "_nominal", "_step"};
    size_t n = strlen(name);
    for (size_t i = 0; i < ELEMENTSOF(limits); i++) {
        size_t k = strlen(limits[i]);
        if (n > k && streq(name + n - k, limits[i]))
            return true;
    }
    return false;
}

static int read_ll(int dfd, const char *name, long long *ret) {
    char buf[64];
    int64_t v;
    ssize_t n = read_line_at(dfd, name, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    if (safe_atoi64(buf, &v) < 0)
        return -EBADMSG;
    *ret = v;
    return 0;
}

/* One board parameter: the value and its limits. */
static int add_board_param(const sysfs_root *root, uniOppListPtr l, int di, int dfd, const char *dname,
                           const char *name, const char *unit) {
    char lim[96];
    struct stat st;
    uniOppParam p = {.name = name, .unit = unit, .nominal = -1, .step = 0};
    int r;

    r = read_ll(dfd, name, &p.current);
    snprintf(lim, sizeof(lim), "%s_min", name);
    if (r == 0)
        r = read_ll(dfd, lim, &p.min);
    snprintf(lim, sizeof(lim), "%s_max", name);
    if (r == 0)
        r = read_ll(dfd, lim, &p.max);
    if (r < 0) {
        uni_error_errno(r, "%s/" OPP_DIR "/%s/%s (or its limits)", root->sysfs, dname, name);
        return -1;
    }
    snprintf(lim, sizeof(lim), "%s_nominal", name);
    (void)read_ll(dfd, lim, &p.nominal);
    snprintf(lim, sizeof(lim), "%s_step", name);
    (void)read_ll(dfd, lim, &p.step);
    if (fstatat(dfd, name, &st, 0) == 0 && !(st.st_mode & S_IWUSR))
        p.flags |= UNI_OPP_PARAM_READONLY;
    if (uni_opp_add_param(l, di, &p) < 0) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    return 0;
}

/* frequency_mhz of a cpu domain, from the cpufreq policy of its first core; its step from the
 * domain's frequency_mhz_step when the board gives one (cpufreq itself does not say). */
static int add_cpufreq_param(const sysfs_root *root, uniOppListPtr l, int di, int dfd, int core) {
    char path[128];
    uint64_t cur, min, max;
    uniOppParam p = {.name = "frequency_mhz", .unit = "MHz"};

    snprintf(path, sizeof(path), "devices/system/cpu/cpu%d/cpufreq/scaling_cur_freq", core);
    if (read_u64_at(root->sys_fd, path, &cur) < 0)
        return 0; /* no cpufreq: the domain has no frequency to offer */
    snprintf(path, sizeof(path), "devices/system/cpu/cpu%d/cpufreq/cpuinfo_min_freq", core);
    if (read_u64_at(root->sys_fd, path, &min) < 0)
        return 0;
    snprintf(path, sizeof(path), "devices/system/cpu/cpu%d/cpufreq/cpuinfo_max_freq", core);
    if (read_u64_at(root->sys_fd, path, &max) < 0)
        return 0;
    p.current = (long long)(cur / 1000);
    p.min = (long long)((min + 999) / 1000);
    p.max = (long long)(max / 1000);
    p.nominal = p.max;
    (void)read_ll(dfd, "frequency_mhz_step", &p.step);
    if (uni_opp_add_param(l, di, &p) < 0) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    return 0;
}

/* Domain @dname if it is of kind @want ("cpu" or "memory"). */
static int add_domain(const sysfs_root *root, uniOppListPtr l, int odfd, const char *dname, const char *want) {
    _cleanup_close_ int dfd = openat(odfd, dname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char kind[16], buf[1024];
    const char *members[MAX_DIMMS];
    char *save = NULL;
    int cores[MAX_CORES], ncores = 0, nmembers = 0, di, n;
    long long id = -1;
    bool cpu;
    struct dirent **ents = NULL;
    int r = 0;

    if (dfd < 0 || read_line_at(dfd, "kind", kind, sizeof(kind)) < 0)
        return 0; /* not a domain directory */
    cpu = streq(kind, "cpu");
    if (!cpu && !streq(kind, "memory")) {
        uni_error_set(UNI_ERR_PARSE_FAILED, "%s/" OPP_DIR "/%s/kind: unknown kind '%s' (cpu, memory)", root->sysfs,
                      dname, kind);
        return -1;
    }
    if (!streq(kind, want))
        return 0;
    if (read_ll(dfd, "id", &id) < 0 || id < 0 || id > INT32_MAX) {
        uni_error_set(UNI_ERR_PARSE_FAILED, "%s/" OPP_DIR "/%s/id: missing or malformed", root->sysfs, dname);
        return -1;
    }
    if (cpu) {
        uint8_t bm[UNI_BITMAP_BYTES(MAX_CORES)];
        unsigned count;
        if (read_line_at(dfd, "cpus", buf, sizeof(buf)) < 0 || parse_cpu_words(buf, bm, MAX_CORES, &count) < 0 ||
            count == 0) {
            uni_error_set(UNI_ERR_PARSE_FAILED, "%s/" OPP_DIR "/%s/cpus: missing or malformed CPU list", root->sysfs,
                          dname);
            return -1;
        }
        for (int c = 0; c < MAX_CORES; c++)
            if (bm[c / 8] & (1u << (c % 8)))
                cores[ncores++] = c;
    } else if (read_line_at(dfd, "dimms", buf, sizeof(buf)) >= 0) {
        for (char *t = strtok_r(buf, " \t", &save); t && nmembers < MAX_DIMMS; t = strtok_r(NULL, " \t", &save))
            members[nmembers++] = t;
    }
    di = uni_opp_add_domain(l, cpu ? UNI_OPP_CPU : UNI_OPP_MEMORY, (int)id, dname, cores, ncores, members, nmembers);
    if (di < 0) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    if (cpu && faccessat(dfd, "frequency_mhz", F_OK, 0) < 0 && add_cpufreq_param(root, l, di, dfd, cores[0]) < 0)
        return -1;
    n = scandirat(dfd, ".", &ents, NULL, versionsort);
    for (int i = 0; i < n; i++) {
        const char *e = ents[i]->d_name, *unit = unit_of(e);
        if (r == 0 && unit && !is_limit_file(e))
            r = add_board_param(root, l, di, dfd, dname, e, unit);
        free(ents[i]);
    }
    free(ents);
    return r;
}

int local_get_operating_points(const sysfs_root *root, uniOppListPtr l) {
    _cleanup_close_ int odfd = openat(root->sys_fd, OPP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct dirent **ents = NULL;
    int n, r = 0;

    if (odfd < 0) {
        uni_error_set(UNI_ERR_NO_SUPPORT,
                      "this host has no operating points beyond cpufreq: no board interface at %s/" OPP_DIR
                      " (per-PMD voltage and per-channel DRAM refresh need a board driver; uni-simboard provides one)",
                      root->sysfs);
        return -1;
    }
    /* Core domains first, then memory channels, each in name order (pmd0 .. pmd3, mc0 .. mc3). */
    n = scandirat(odfd, ".", &ents, NULL, versionsort);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n && r == 0; i++)
            if (ents[i]->d_name[0] != '.')
                r = add_domain(root, l, odfd, ents[i]->d_name, pass == 0 ? "cpu" : "memory");
    for (int i = 0; i < n; i++)
        free(ents[i]);
    free(ents);
    if (r == 0 && uniOppListNumDomains(l) == 0) {
        uni_error_set(UNI_ERR_NO_SUPPORT, "%s/" OPP_DIR " lists no domain", root->sysfs);
        return -1;
    }
    return r;
}

/* A board parameter write through the journal. */
static int write_param(journal *j, const uniOppDomain *d, const char *name, long long value) {
    char path[160], v[32];
    snprintf(path, sizeof(path), OPP_DIR "/%s/%s", d->name, name);
    snprintf(v, sizeof(v), "%lld", value);
    return journal_write(j, d->name, path, v);
}

/* A cpu domain's frequency through cpufreq, as uniNodeSetFrequency sets it. */
static int write_freq(journal *j, const uniOppDomain *d, long long mhz) {
    char text[48];
    uni_core_set moved = {0};
    snprintf(text, sizeof(text), "%lldMHz", mhz);
    return local_frequency_writes(j, d->cores[0], (uint64_t)mhz * 1000, text, &moved);
}

int local_set_operating_point(const sysfs_root *root, uniOppListPtr l, int di, const uniOppSetting *settings, int n) {
    const uniOppDomain *d = uniOppListGetDomain(l, di);
    const uniOppParam *fp = uniOppListFindParam(l, di, "frequency_mhz");
    const uniOppSetting *freq = NULL;
    journal j = {.root = root};
    bool freq_first;
    int r = 0;

    /* frequency_mhz of a cpu domain without a board file of that name goes through cpufreq. */
    for (int i = 0; i < n; i++)
        if (d->kind == UNI_OPP_CPU && streq(settings[i].name, "frequency_mhz") && fp) {
            char path[160];
            snprintf(path, sizeof(path), OPP_DIR "/%s/frequency_mhz", d->name);
            if (faccessat(root->sys_fd, path, F_OK, 0) < 0)
                freq = &settings[i];
        }
    /* A slower clock first when the frequency drops, so that the voltage is never too low for
     * the clock it runs; the voltage first when it rises. */
    freq_first = freq && freq->value < fp->current;
    if (freq_first)
        r = write_freq(&j, d, freq->value);
    for (int i = 0; i < n && r >= 0; i++)
        if (&settings[i] != freq)
            r = write_param(&j, d, settings[i].name, settings[i].value);
    if (r >= 0 && freq && !freq_first)
        r = write_freq(&j, d, freq->value);
    if (r < 0)
        journal_rollback(&j);
    journal_done(&j);
    return r < 0 ? -1 : 0;
}
