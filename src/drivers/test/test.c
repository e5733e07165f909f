/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The test driver (test:///default): an in-process, deterministic simulated X-Gene2-like node
 * that runs on uni-simboard's board model (src/simboard/model.h: 8 cores in 4 PMDs, 4 memory
 * channels with 2 DIMMs each) and hosts 3 VMs. It provides every host key, error counters
 * included, each VM's record with kvm_stat's counters and a HealthLog. Each call advances a
 * virtual clock by one second, so rates and windows are exact and the output is the same on
 * every machine. The spec's formulas are the ones the local driver uses (derive.c), applied to
 * simulated inputs.
 *
 * The board can be controlled, as the local driver controls cpufreq: each PMD has one frequency
 * (both of its cores move together, as X-Gene2 sets V/F per PMD), governor and voltage; each
 * memory channel a refresh period and a voltage. The state belongs to the connection, starts
 * the same on every open (sb_init), and the records reflect it (frequencies, governors, reserved
 * capacity, the power policy, CPU power as V^2 x f, temperatures, host.mem.refresh_ms).
 *
 * Its parts: host.c (the host's record), vms.c (the VMs), control.c (the control verbs and the
 * operating points), errors.c (error counters and the HealthLog). */
#include "drivers/test/test.h"

/* The board's part-to-part variation (safe voltages, retention) is drawn from this seed; the
 * test driver reports none of it, but one seed keeps every open the same. */
#define BOARD_SEED 1

static int test_open(uniConnectPtr conn, const uni_uri *uri, unsigned flags) {
    static const char *const known[] = {NULL};
    test_state *s;
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
    s = calloc(1, sizeof(test_state));
    if (!s) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    sb_init(&s->board, BOARD_SEED);
    for (int p = 0; p < SB_NPMD; p++)
        s->v2f0 += sb_pmd_v2f(&s->board, p);
    conn->priv = s;
    s->open_ms = uni_clock_wall_ms();
    return 0;
}

static void test_close(uniConnectPtr conn) {
    free(conn->priv);
    conn->priv = NULL;
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
