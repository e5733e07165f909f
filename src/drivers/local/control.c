/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's cpufreq control (Documentation/admin-guide/pm/cpufreq.rst): a core's clock
 * domain is its policy (cpuN/cpufreq, shared by related_cpus). Each call first reads and checks
 * everything (core online, limits, available lists), plans its writes, then applies them
 * through the journal, which reads each back and undoes them all when one fails. The tree is
 * read fresh on every call: CPUs go on- and offline, and control calls are rare. */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "control.h"

#define MAX_CPUS 8192
#define MAX_FREQS 256

typedef struct {
    uint8_t online[UNI_BITMAP_BYTES(MAX_CPUS)];
    char online_list[256]; /* for messages: "0-6" */
} cpu_state;

/* One clock domain (cpufreq policy) and what a call reads of it. */
typedef struct {
    int core;                                 /* the CPU through which it is reached */
    char dir[64];                             /* "devices/system/cpu/cpu4/cpufreq" */
    char object[96];                          /* "cpus 4-5" (its online CPUs) */
    uint8_t cpus[UNI_BITMAP_BYTES(MAX_CPUS)]; /* its online CPUs */
    dev_t dev;
    ino_t ino;
} freq_domain;

typedef struct {
    freq_domain *d;
    size_t n, cap;
} domain_list;

static int read_online(const sysfs_root *root, cpu_state *cs) {
    char buf[4096];
    unsigned count;
    ssize_t n = read_line_at(root->sys_fd, "devices/system/cpu/online", buf, sizeof(buf));

    if (n < 0) {
        uni_error_errno((int)n, "%s/devices/system/cpu/online", root->sysfs);
        return -1;
    }
    if (parse_cpu_list(buf, (size_t)n, cs->online, MAX_CPUS, &count) < 0) {
        uni_error_set(UNI_ERR_PARSE_FAILED, "%s/devices/system/cpu/online: malformed content '%s'", root->sysfs, buf);
        return -1;
    }
    if (format_cpu_list(cs->online, MAX_CPUS, cs->online_list, sizeof(cs->online_list)) <= 0)
        snprintf(cs->online_list, sizeof(cs->online_list), "none");
    return 0;
}

static bool is_online(const cpu_state *cs, int c) {
    return c >= 0 && c < MAX_CPUS && (cs->online[c / 8] & (1u << (c % 8)));
}

/* Read attribute @name of domain @d into @buf; sets the error naming the file. */
static int domain_read(const sysfs_root *root, const freq_domain *d, const char *name, char *buf, size_t len) {
    char path[128];
    ssize_t n;

    snprintf(path, sizeof(path), "%s/%s", d->dir, name);
    n = read_line_at(root->sys_fd, path, buf, len);
    if (n < 0) {
        uni_error_errno((int)n, "%s/%s (core %d)", root->sysfs, path, d->core);
        return -1;
    }
    return 0;
}

static int domain_read_u64(const sysfs_root *root, const freq_domain *d, const char *name, uint64_t *ret) {
    char buf[64];
    if (domain_read(root, d, name, buf, sizeof(buf)) < 0)
        return -1;
    if (safe_atou64(buf, ret) < 0) {
        uni_error_set(UNI_ERR_PARSE_FAILED, "%s/%s/%s: '%s' is not a frequency in kHz", root->sysfs, d->dir, name, buf);
        return -1;
    }
    return 0;
}

static bool domain_has(const sysfs_root *root, const freq_domain *d, const char *name) {
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", d->dir, name);
    return faccessat(root->sys_fd, path, F_OK, 0) == 0;
}

/* The domain of online core @core: its policy directory and the online CPUs it clocks
 * (related_cpus, else affected_cpus, else the core alone). */
static int domain_of(const sysfs_root *root, const cpu_state *cs, int core, freq_domain *d) {
    char path[128], buf[4096];
    struct stat st;
    unsigned count;

    memset(d, 0, sizeof(*d));
    d->core = core;
    snprintf(d->dir, sizeof(d->dir), "devices/system/cpu/cpu%d/cpufreq", core);
    if (fstatat(root->sys_fd, d->dir, &st, 0) < 0 || !S_ISDIR(st.st_mode)) {
        uni_error_set(UNI_ERR_NO_SUPPORT, "core %d has no cpufreq (%s/%s missing): its frequency cannot be controlled",
                      core, root->sysfs, d->dir);
        return -1;
    }
    d->dev = st.st_dev;
    d->ino = st.st_ino;
    snprintf(path, sizeof(path), "%s/related_cpus", d->dir);
    if (read_line_at(root->sys_fd, path, buf, sizeof(buf)) < 0) {
        snprintf(path, sizeof(path), "%s/affected_cpus", d->dir);
        if (read_line_at(root->sys_fd, path, buf, sizeof(buf)) < 0)
            snprintf(buf, sizeof(buf), "%d", core);
    }
    if (parse_cpu_words(buf, d->cpus, MAX_CPUS, &count) < 0) {
        uni_error_set(UNI_ERR_PARSE_FAILED, "%s/%s: malformed CPU list '%s'", root->sysfs, path, buf);
        return -1;
    }
    /* The core itself always belongs to its domain; offline siblings do not move. */
    d->cpus[core / 8] |= (uint8_t)(1u << (core % 8));
    for (size_t i = 0; i < sizeof(d->cpus); i++)
        d->cpus[i] &= cs->online[i];
    snprintf(d->object, sizeof(d->object), "cpus ");
    if (format_cpu_list(d->cpus, MAX_CPUS, d->object + 5, sizeof(d->object) - 5) <= 0)
        snprintf(d->object + 5, sizeof(d->object) - 5, "none");
    return 0;
}

static int check_core(const sysfs_root *root, const cpu_state *cs, int core) {
    char path[64];
    if (is_online(cs, core))
        return 0;
    snprintf(path, sizeof(path), "devices/system/cpu/cpu%d", core);
    return uni_error_no_core(core, core < MAX_CPUS && faccessat(root->sys_fd, path, F_OK, 0) == 0, cs->online_list);
}

/* The domains a call acts on: @core's, or for -1 every online core's, each once. With -1, cores
 * without cpufreq are left out; none at all is an error. */
static int collect_domains(const sysfs_root *root, cpu_state *cs, int core, domain_list *out) {
    int first = core < 0 ? 0 : core, last = core < 0 ? MAX_CPUS - 1 : core;

    if (read_online(root, cs) < 0)
        return -1;
    if (core >= 0 && check_core(root, cs, core) < 0)
        return -1;
    for (int c = first; c <= last; c++) {
        freq_domain d, *nd;
        bool seen = false;
        if (!is_online(cs, c))
            continue;
        /* A CPU already covered by a domain found earlier belongs to it. */
        for (size_t i = 0; i < out->n && !seen; i++)
            seen = out->d[i].cpus[c / 8] & (1u << (c % 8));
        if (seen)
            continue;
        if (domain_of(root, cs, c, &d) < 0) {
            if (core >= 0)
                return -1;
            uniResetLastError();
            continue;
        }
        for (size_t i = 0; i < out->n && !seen; i++)
            seen = out->d[i].dev == d.dev && out->d[i].ino == d.ino;
        if (seen)
            continue;
        if (out->n == out->cap) {
            size_t cap = out->cap ? 2 * out->cap : 4;
            if (!(nd = realloc(out->d, cap * sizeof(*nd)))) {
                uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
                return -1;
            }
            out->d = nd;
            out->cap = cap;
        }
        out->d[out->n++] = d;
    }
    if (out->n == 0) {
        uni_error_set(UNI_ERR_NO_SUPPORT, "no online core has cpufreq (%s/devices/system/cpu/cpuN/cpufreq missing)",
                      root->sysfs);
        return -1;
    }
    return 0;
}

/* The cores the domains clock, ascending, into @ret; returns their number. */
static int report_cores(const domain_list *dl, uni_core_set *ret) {
    uint8_t all[UNI_BITMAP_BYTES(MAX_CPUS)] = {0};
    for (size_t i = 0; i < dl->n; i++)
        for (size_t k = 0; k < sizeof(all); k++)
            all[k] |= dl->d[i].cpus[k];
    for (int c = 0; c < MAX_CPUS; c++)
        if (all[c / 8] & (1u << (c % 8)))
            uni_core_set_add(ret, c);
    return ret->n;
}

/* A planned write: checked before the first one is made. */
typedef struct {
    const freq_domain *d;
    const char *attr;
    char value[64];
} plan_step;

typedef struct {
    plan_step *s;
    size_t n;
} plan;

static void plan_done(plan *p) {
    free(p->s);
}

static int plan_add(plan *p, const freq_domain *d, const char *attr, const char *value) {
    plan_step *ns = realloc(p->s, (p->n + 1) * sizeof(*ns));
    if (!ns) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    p->s = ns;
    p->s[p->n].d = d;
    p->s[p->n].attr = attr;
    snprintf(p->s[p->n].value, sizeof(p->s[p->n].value), "%s", value);
    p->n++;
    return 0;
}

static int plan_add_khz(plan *p, const freq_domain *d, const char *attr, uint64_t khz) {
    char v[32];
    snprintf(v, sizeof(v), "%" PRIu64, khz);
    return plan_add(p, d, attr, v);
}

/* Apply the plan through journal @j (the caller undoes it on failure). */
static int plan_apply(journal *j, const plan *p) {
    for (size_t i = 0; i < p->n; i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s/%s", p->s[i].d->dir, p->s[i].attr);
        if (journal_write(j, p->s[i].d->object, path, p->s[i].value) < 0)
            return -1;
    }
    return 0;
}

/* Apply the plan as one change: all of it, or on a failure none of it. */
static int plan_commit(const sysfs_root *root, const plan *p) {
    journal j = {.root = root};
    int r = plan_apply(&j, p);
    if (r < 0)
        journal_rollback(&j);
    journal_done(&j);
    return r;
}

/* Bounded list reads: the kernel's lists of governors, preferences and frequencies fit in a page. */
static int read_freq_list(const sysfs_root *root, const freq_domain *d, uint64_t *out, size_t *ret_n) {
    char buf[4096];
    const char *p = buf, *end;
    size_t n = 0;

    *ret_n = 0;
    if (!domain_has(root, d, "scaling_available_frequencies"))
        return 0;
    if (domain_read(root, d, "scaling_available_frequencies", buf, sizeof(buf)) < 0)
        return -1;
    end = buf + strlen(buf);
    for (;;) {
        size_t len;
        p = next_token(p, end, &len);
        if (len == 0)
            break;
        if (n == MAX_FREQS || safe_atou64_n(p, len, &out[n]) < 0) {
            uni_error_set(UNI_ERR_PARSE_FAILED, "%s/%s/scaling_available_frequencies: malformed list '%s'", root->sysfs,
                          d->dir, buf);
            return -1;
        }
        n++;
        p += len;
    }
    *ret_n = n;
    return 0;
}

/* Check a frequency for @core and write it through @j; returns the number of cores moved. */
int local_frequency_writes(journal *j, int core, uint64_t khz, const char *text, uni_core_set *ret) {
    const sysfs_root *root = j->root;
    cpu_state cs;
    domain_list dl = {0};
    uint64_t min, max, cur_min = 0, cur_max = 0, avail[MAX_FREQS];
    size_t navail;
    char govs[1024] = "", gov[64];
    bool have_limits, setspeed;
    _cleanup_(plan_done) plan p = {.n = 0};
    const freq_domain *d;
    int r = -1;

    if (collect_domains(root, &cs, core, &dl) < 0)
        goto out;
    d = &dl.d[0];
    if (domain_read_u64(root, d, "cpuinfo_min_freq", &min) < 0 ||
        domain_read_u64(root, d, "cpuinfo_max_freq", &max) < 0 || read_freq_list(root, d, avail, &navail) < 0)
        goto out;
    if (uni_check_frequency(core, khz, text, min, max, avail, navail) < 0)
        goto out;
    if (domain_has(root, d, "scaling_available_governors") &&
        domain_read(root, d, "scaling_available_governors", govs, sizeof(govs)) < 0)
        goto out;
    if (domain_read(root, d, "scaling_governor", gov, sizeof(gov)) < 0)
        goto out;
    setspeed = uni_word_in_list("userspace", govs) && domain_has(root, d, "scaling_setspeed");
    have_limits = domain_has(root, d, "scaling_min_freq") && domain_has(root, d, "scaling_max_freq");
    if (have_limits && (domain_read_u64(root, d, "scaling_min_freq", &cur_min) < 0 ||
                        domain_read_u64(root, d, "scaling_max_freq", &cur_max) < 0))
        goto out;
    if (!setspeed && !have_limits) {
        uni_error_set(UNI_ERR_NO_SUPPORT,
                      "core %d's cpufreq has neither the userspace governor nor scaling_min_freq and "
                      "scaling_max_freq (%s/%s)",
                      core, root->sysfs, d->dir);
        goto out;
    }
    if (setspeed) {
        /* The userspace governor holds the speed written to scaling_setspeed, clamped to the
         * policy's limits: widen a limit that excludes the value, so it is not clamped. */
        if (have_limits && khz > cur_max && plan_add_khz(&p, d, "scaling_max_freq", khz) < 0)
            goto out;
        if (have_limits && khz < cur_min && plan_add_khz(&p, d, "scaling_min_freq", khz) < 0)
            goto out;
        if (plan_add(&p, d, "scaling_governor", "userspace") < 0 || plan_add_khz(&p, d, "scaling_setspeed", khz) < 0)
            goto out;
    } else {
        /* Without the userspace governor (intel_pstate, amd-pstate active mode) the frequency is
         * pinned: min = max = the value, in the order that keeps min <= max at every step. */
        const char *first = khz > cur_max ? "scaling_max_freq" : "scaling_min_freq";
        const char *second = khz > cur_max ? "scaling_min_freq" : "scaling_max_freq";
        if (plan_add_khz(&p, d, first, khz) < 0 || plan_add_khz(&p, d, second, khz) < 0)
            goto out;
    }
    if (plan_apply(j, &p) < 0)
        goto out;
    r = report_cores(&dl, ret);
out:
    free(dl.d);
    return r;
}

int local_set_frequency(const sysfs_root *root, int core, uint64_t khz, const char *text, uni_core_set *ret) {
    journal j = {.root = root};
    int r = local_frequency_writes(&j, core, khz, text, ret);
    if (r < 0)
        journal_rollback(&j);
    journal_done(&j);
    return r;
}

/* A change of every domain a call names: each planned by @plan_one (which checks @value for it),
 * then all applied as one change. */
typedef int (*domain_planner)(const sysfs_root *root, const freq_domain *d, const char *value, plan *p);

static int change_domains(const sysfs_root *root, int core, const char *value, domain_planner plan_one,
                          uni_core_set *ret) {
    cpu_state cs;
    domain_list dl = {0};
    _cleanup_(plan_done) plan p = {.n = 0};
    int r = -1;

    if (collect_domains(root, &cs, core, &dl) < 0)
        goto out;
    for (size_t i = 0; i < dl.n; i++)
        if (plan_one(root, &dl.d[i], value, &p) < 0)
            goto out;
    if (plan_commit(root, &p) < 0)
        goto out;
    r = report_cores(&dl, ret);
out:
    free(dl.d);
    return r;
}

static int plan_governor(const sysfs_root *root, const freq_domain *d, const char *governor, plan *p) {
    char govs[1024];
    if (domain_read(root, d, "scaling_available_governors", govs, sizeof(govs)) < 0 ||
        uni_check_listed("governor", governor, d->core, govs) < 0)
        return -1;
    return plan_add(p, d, "scaling_governor", governor);
}

static int plan_power_policy(const sysfs_root *root, const freq_domain *d, const char *policy, plan *p) {
    static const char default_prefs[] = "default performance balance_performance balance_power power";
    char avail[1024], gov[64];
    const char *v;

    if (domain_has(root, d, "energy_performance_preference")) {
        /* intel_pstate and amd-pstate list the names they take; the kernel's fixed ones
         * otherwise (Documentation/admin-guide/pm/intel_pstate.rst). */
        if (!domain_has(root, d, "energy_performance_available_preferences"))
            snprintf(avail, sizeof(avail), "%s", default_prefs);
        else if (domain_read(root, d, "energy_performance_available_preferences", avail, sizeof(avail)) < 0)
            return -1;
        if (!(v = uni_policy_to_epp(policy, d->core, avail)))
            return -1;
        return plan_add(p, d, "energy_performance_preference", v);
    }
    if (domain_read(root, d, "scaling_available_governors", avail, sizeof(avail)) < 0 ||
        domain_read(root, d, "scaling_governor", gov, sizeof(gov)) < 0)
        return -1;
    if (!(v = uni_policy_to_governor(policy, d->core, gov, avail)))
        return -1;
    return plan_add(p, d, "scaling_governor", v);
}

int local_set_governor(const sysfs_root *root, int core, const char *governor, uni_core_set *ret) {
    return change_domains(root, core, governor, plan_governor, ret);
}

int local_set_power_policy(const sysfs_root *root, int core, const char *policy, uni_core_set *ret) {
    return change_domains(root, core, policy, plan_power_policy, ret);
}
