/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The test driver (test:///default): an in-process, deterministic simulated X-Gene2-like node
 * that runs on uni-simboard's board model (src/simboard/model.h: 8 cores in 4 PMDs, 4 memory
 * channels with 2 DIMMs each) and hosts 3 VMs. It provides every host key, error counters
 * included, each VM's record with kvm_stat's counters and a HealthLog. Each call advances a
 * virtual clock by one second, so windows are exact and the output is the same on every machine
 * for the same seed and the same calls.
 *
 * The node moves: each core's load follows a seeded workload (sb_workload_load: levels, swings,
 * overloads), the board's model turns it into CPU times, frequencies, temperatures, power and
 * energy, and draws its errors (the margins' and a seeded background) into a HealthLog held in
 * memory, with the hour before the connection. Every counter starts where a board booted 1000 s
 * before would be, and every rate is computed from the counters over the window, with the
 * local driver's formulas (derive.c) and its HealthLog code (src/healthlog/metrics.c), so that a
 * window bug shows here too.
 *
 * URI parameters: seed=N (default 1: the board's part-to-part variation, its error draws and
 * the workload), fail=NAME[,NAME] (these sources fail on every call: their state is down and
 * their metrics absent with the reason, or the call fails without best effort).
 *
 * The board can be controlled, as the local driver controls cpufreq: each PMD has one frequency
 * (both of its cores move together, as X-Gene2 sets V/F per PMD), governor and voltage; each
 * memory channel a refresh period and a voltage. The records and the error rates follow.
 *
 * Its parts: host.c (the host's record), vms.c (the VMs), control.c (the control verbs and the
 * operating points), errors.c (the HealthLog). */
#include "drivers/test/test.h"

static void test_close(uniConnectPtr conn) {
    test_state *s = conn->priv;
    if (s)
        hl_close(s->hl);
    free(s);
    conn->priv = NULL;
}

/* ?fail=NAME[,NAME...]: the sources (test_source_names) that fail on every call. */
static int parse_fail(const char *v, unsigned *ret) {
    _cleanup_free_ char *copy = strdup(v);
    char *save = NULL;
    if (!copy) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        int i = 0;
        while (i < TEST_NSRC && !streq(w, test_source_names[i]))
            i++;
        if (i == TEST_NSRC) {
            uni_error_set(UNI_ERR_INVALID_URI,
                          "test:// fail='%s': no source '%s' (stat cpufreq meminfo loadavg psi sensors power "
                          "healthlog vms)",
                          v, w);
            return -1;
        }
        *ret |= 1u << i;
    }
    return 0;
}

static int test_open(uniConnectPtr conn, const uni_uri *uri, unsigned flags) {
    static const char *const known[] = {"seed", "fail", NULL};
    const char *seed = uni_uri_param(uri, "seed"), *fail = uni_uri_param(uri, "fail");
    uint64_t sd = 1;
    unsigned fl = 0;
    test_state *s;
    int r;
    (void)flags;
    if (!streq(uri->path, "/default")) {
        uni_error_set(UNI_ERR_INVALID_URI, "unknown path '%s' for test:// (only /default)", uri->path);
        return -1;
    }
    if (uri->host && *uri->host) {
        uni_error_set(UNI_ERR_INVALID_URI, "test:// takes no host (got '%s')", uri->host);
        return -1;
    }
    if (uni_uri_check_params(uri, known) < 0)
        return -1;
    if (seed && safe_atou64(seed, &sd) < 0) {
        uni_error_set(UNI_ERR_INVALID_URI, "test:// seed='%s': not a number", seed);
        return -1;
    }
    if (fail && parse_fail(fail, &fl) < 0)
        return -1;
    s = calloc(1, sizeof(test_state));
    if (!s) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    conn->priv = s;
    s->seed = sd;
    s->fail = fl;
    s->open_ms = uni_clock_wall_ms();
    /* Booted 1000 s before at its start's load (sb_init), background errors on, the hour
     * before the connection drawn into the HealthLog. */
    sb_init(&s->board, sd);
    sb_set_background(&s->board, 1.0);
    if ((r = sim_healthlog_open(s)) < 0) {
        uni_error_errno(r, "simulated HealthLog: %s", s->hl ? hl_errmsg(s->hl) : "cannot open");
        test_close(conn);
        return -1;
    }
    sim_set_load(s, 0);
    for (int i = 0; i < PSI_N; i++) /* pressure since boot, 1000 s before */
        s->psi_ms[i] = 1000.0 * (double)(PSI_N - i) * 7.0;
    return 0;
}

const uni_driver uni_test_driver = {
    .name = "test",
    .scheme = "test",
    .open = test_open,
    .close = test_close,
    .node_get_stats = test_node_get_stats,
    .node_set_frequency = test_node_set_frequency,
    .node_set_governor = test_node_set_governor,
    .node_set_power_policy = test_node_set_power_policy,
    .node_get_operating_points = test_node_get_operating_points,
    .node_set_operating_point = test_node_set_operating_point,
    .list_domains = test_list_domains,
    .domain_stats = test_domain_stats,
    .domain_get_info = test_domain_get_info,
    .domain_get_xml = test_domain_get_xml,
    .domain_get_sched = test_domain_get_sched,
    .domain_get_vcpus = test_domain_get_vcpus,
    .domain_pin_vcpu = test_domain_pin_vcpu,
    .domain_get_cpu_stats = test_domain_get_cpu_stats,
    .domain_get_reliability = test_domain_get_reliability,
    .domain_set_reliability = test_domain_set_reliability,
    .healthlog_query = test_healthlog_query,
};
