/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The test driver's control verbs and operating points: the local driver's checks and messages, on the board model's settings. */
#include "drivers/test/test.h"

static int check_core(int core) {
    return core >= 0 && core < SB_NCPU ? 0 : uni_error_no_core(core, false, "0-7");
}

/* The PMDs a call acts on (one, or all for core -1) and the cores they move, into @ret. */
static int pmd_range(int core, int *first, int *last, uni_core_set *ret) {
    if (core >= 0 && check_core(core) < 0)
        return -1;
    *first = core < 0 ? 0 : core / 2;
    *last = core < 0 ? SB_NPMD - 1 : core / 2;
    for (int c = *first * 2; c <= *last * 2 + 1; c++)
        uni_core_set_add(ret, c);
    return ret->n;
}

/* Each change is reported to the audit hook under the file the local driver would write
 * (cpufreq/policyP/...) or the board parameter (pmdP/voltage_mv, mcC/refresh_ms), as
 * uni-simboard serves them. */
static void audit_policy(uniConnectPtr conn, int pmd, const char *attr, const char *before, const char *after) {
    char obj[32], path[96];
    snprintf(obj, sizeof(obj), "cpus %d-%d", 2 * pmd, 2 * pmd + 1);
    snprintf(path, sizeof(path), "devices/system/cpu/cpufreq/policy%d/%s", 2 * pmd, attr);
    uni_audit(conn, obj, path, before, after, 0, false);
}

/* As scaling_governor takes it (uni-simboard's store): the userspace governor starts at the
 * current frequency; a dynamic one moves the PMD to what its load asks (sb_pmd_khz). */
static void set_governor(uniConnectPtr conn, int pmd, const char *governor) {
    test_state *s = conn->priv;
    sb_model *m = &s->board;
    int g = sb_governor_of(governor);

    if (g < 0 || (sb_governor)g == m->gov[pmd])
        return;
    audit_policy(conn, pmd, "scaling_governor", sb_governor_names[m->gov[pmd]], sb_governor_names[g]);
    (void)sim_catch_up(s); /* the seconds before the change ran at the settings before it */
    if (g == SB_GOV_USERSPACE)
        m->setspeed_khz[pmd] = sb_pmd_khz(m, pmd);
    m->gov[pmd] = (sb_governor)g;
}

/* scaling_setspeed under the userspace governor. */
static void set_pmd_mhz(uniConnectPtr conn, int pmd, unsigned mhz) {
    test_state *s = conn->priv;
    char before[32], after[32];
    if (s->board.setspeed_khz[pmd] == mhz * 1000)
        return;
    snprintf(before, sizeof(before), "%u", s->board.setspeed_khz[pmd]);
    snprintf(after, sizeof(after), "%u", mhz * 1000);
    audit_policy(conn, pmd, "scaling_setspeed", before, after);
    (void)sim_catch_up(s); /* the seconds before the change ran at the settings before it */
    s->board.setspeed_khz[pmd] = mhz * 1000;
}

int test_node_set_frequency(uniConnectPtr conn, int core, uint64_t khz, const char *text, uni_core_set *ret) {
    uint64_t avail[(SB_MAX_KHZ - SB_MIN_KHZ) / SB_STEP_KHZ + 1];
    int first, last;

    if (check_core(core) < 0)
        return -1;
    for (size_t i = 0; i < ELEMENTSOF(avail); i++)
        avail[i] = SB_MAX_KHZ - i * SB_STEP_KHZ;
    if (uni_check_frequency(core, khz, text, SB_MIN_KHZ, SB_MAX_KHZ, avail, ELEMENTSOF(avail)) < 0)
        return -1;
    pmd_range(core, &first, &last, ret);
    set_governor(conn, first, "userspace");
    set_pmd_mhz(conn, first, (unsigned)(khz / 1000));
    return ret->n;
}

int test_node_set_governor(uniConnectPtr conn, int core, const char *governor, uni_core_set *ret) {
    int first, last;

    if (core >= 0 && check_core(core) < 0)
        return -1;
    if (uni_check_listed("governor", governor, core < 0 ? 0 : core, sb_governor_list) < 0)
        return -1;
    pmd_range(core, &first, &last, ret);
    for (int p = first; p <= last; p++)
        set_governor(conn, p, governor);
    return ret->n;
}

int test_node_set_power_policy(uniConnectPtr conn, int core, const char *policy, uni_core_set *ret) {
    test_state *s = conn->priv;
    const char *g[SB_NPMD];
    int first, last;

    /* X-Gene2 has no energy-performance preference: the policy is the governor's. */
    if (core >= 0 && check_core(core) < 0)
        return -1;
    pmd_range(core, &first, &last, ret);
    for (int p = first; p <= last; p++)
        if (!(g[p] = uni_policy_to_governor(policy, 2 * p, sb_governor_names[s->board.gov[p]], sb_governor_list)))
            return -1;
    for (int p = first; p <= last; p++)
        set_governor(conn, p, g[p]);
    return ret->n;
}

/* The board's domains (sb_pmd_params, sb_mc_params), as uni-simboard's
 * sys/class/uniserver-opp/ and cpufreq give them to the local driver. */
int test_node_get_operating_points(uniConnectPtr conn, uniOppListPtr l) {
    test_state *s = conn->priv;

    for (int p = 0; p < SB_NPMD; p++) {
        char name[16];
        int cores[2] = {2 * p, 2 * p + 1}, d;
        snprintf(name, sizeof(name), "pmd%d", p);
        if ((d = uni_opp_add_domain(l, UNI_OPP_CPU, p, name, cores, 2, NULL, 0)) < 0)
            goto oom;
        for (int q = 0; q < SB_PMD_NPARAM; q++) {
            const sb_param *b = &sb_pmd_params[q];
            int *v = sb_pmd_setting(&s->board, p, q);
            long long cur = v ? *v : (long long)sim_pmd_mhz(s, p);
            if (uni_opp_add_param(l, d, &(uniOppParam){b->name, b->unit, cur, b->nominal, b->min, b->max, b->step, 0}) <
                0)
                goto oom;
        }
    }
    for (int c = 0; c < SB_NMC; c++) {
        char name[16], labels[SB_DIMMS][16];
        const char *dimms[SB_DIMMS];
        int d;
        snprintf(name, sizeof(name), "mc%d", c);
        for (int k = 0; k < SB_DIMMS; k++) {
            sb_dimm_label(c, k, labels[k], sizeof(labels[k]));
            dimms[k] = labels[k];
        }
        if ((d = uni_opp_add_domain(l, UNI_OPP_MEMORY, c, name, NULL, 0, dimms, SB_DIMMS)) < 0)
            goto oom;
        for (int q = 0; q < SB_MC_NPARAM; q++) {
            const sb_param *b = &sb_mc_params[q];
            if (uni_opp_add_param(l, d,
                                  &(uniOppParam){b->name, b->unit, *sb_mc_setting(&s->board, c, q), b->nominal, b->min,
                                                 b->max, b->step, 0}) < 0)
                goto oom;
        }
    }
    return 0;
oom:
    uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
    return -1;
}

/* Settings were checked against the limits by the caller: apply them, audited. */
int test_node_set_operating_point(uniConnectPtr conn, uniOppListPtr l, int di, const uniOppSetting *set, int n) {
    test_state *s = conn->priv;
    const uniOppDomain *d = uniOppListGetDomain(l, di);
    bool cpu = d->kind == UNI_OPP_CPU;

    for (int i = 0; i < n; i++) {
        int q = cpu ? (streq(set[i].name, sb_pmd_params[SB_PMD_MV].name) ? SB_PMD_MV : SB_PMD_FREQ)
                    : (streq(set[i].name, sb_mc_params[SB_MC_MV].name) ? SB_MC_MV : SB_MC_REFRESH);
        int *v = cpu ? sb_pmd_setting(&s->board, d->id, q) : sb_mc_setting(&s->board, d->id, q);
        char path[48], before[32], after[32];
        if (!v) { /* the frequency: cpufreq's */
            set_governor(conn, d->id, "userspace");
            set_pmd_mhz(conn, d->id, (unsigned)set[i].value);
            continue;
        }
        if (*v == set[i].value)
            continue;
        snprintf(path, sizeof(path), "%s/%s", d->name, set[i].name);
        snprintf(before, sizeof(before), "%d", *v);
        snprintf(after, sizeof(after), "%lld", set[i].value);
        uni_audit(conn, d->name, path, before, after, 0, false);
        if (cpu)
            (void)sim_catch_up(s); /* the seconds before the change ran at the settings before it */
        *v = (int)set[i].value;
    }
    return 0;
}
