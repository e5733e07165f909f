/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The test driver's parts (test.c, host.c, vms.c, control.c, errors.c) and the state of a connection they share. */
#pragma once

#include "lib/internal.h"
#include "simboard/model.h"

#define TICK_MS 1000     /* virtual time a call advances */
#define TEST_NVMS 3      /* the simulated VMs (vms.c) */
#define TEST_MAX_VCPUS 4 /* the most vCPUs one of them has */
#define WHY_FIRST "first sample: rates need a second sample (a window)"

typedef struct {
    uint64_t tick; /* calls so far; virtual time is tick seconds */
    /* The board (src/simboard/model.h) as sb_init leaves it and control calls change it: its
     * settings (governors, frequencies, voltages, refresh periods) and its load. The model's
     * clock is not advanced: what the records report is a function of the virtual time. */
    sb_model board;
    double v2f0;          /* sum of sb_pmd_v2f at open: what the CPU power is scaled against */
    double energy_base_j; /* energy until virtual time energy_base_t (see sim_energy_j) */
    uint64_t energy_base_t;
    uint64_t dom_tick; /* the previous domain collection's tick (0: none yet) */
    int64_t open_ms;   /* wall time at open: the simulated HealthLog's time 0 */
    /* The simulated VMs' settings changed by control calls (vms.c): each vCPU's affinity (a
     * mask of the board's 8 cores; 0: as at start) and each VM's reliability class
     * (uniReliabilityClass + 1; 0: as at start). */
    uint8_t vm_pin[TEST_NVMS][TEST_MAX_VCPUS];
    int8_t vm_reliability[TEST_NVMS];
} test_state;

/* host.c */
int test_node_get_stats(uniConnectPtr conn, const uni_select *sel, uniRecordPtr rec, unsigned flags);
unsigned sim_pmd_mhz(const test_state *s, int pmd);
void sim_energy_fold(test_state *s); /* before a change of the board's power */

/* vms.c */
void sim_vms_host(uniRecordPtr rec, const uni_select *sel, uint64_t t, bool first);
int test_list_domains(uniConnectPtr conn, uni_domain_info **ret, size_t *ret_n);
int test_domain_stats(uniConnectPtr conn, const uni_select *sel, const uni_domain_info *only, size_t nonly,
                      uni_domain_stats **ret, size_t *ret_n);

/* vms.c: the spec's Table 4 and the reliability class on the simulated VMs */
int test_domain_get_info(uniConnectPtr conn, const uni_domain_info *dom, uniDomainInfo *ret);
int test_domain_get_xml(uniConnectPtr conn, const uni_domain_info *dom, char **ret);
int test_domain_get_sched(uniConnectPtr conn, const uni_domain_info *dom, char **ret_type, uniSchedParam **ret);
int test_domain_get_vcpus(uniConnectPtr conn, const uni_domain_info *dom, uniVcpuInfo **ret_info,
                          unsigned char **ret_maps, int *ret_ncpus);
int test_domain_pin_vcpu(uniConnectPtr conn, const uni_domain_info *dom, unsigned vcpu, const unsigned char *map,
                         int maplen);
int test_domain_get_cpu_stats(uniConnectPtr conn, const uni_domain_info *dom, unsigned long long **ret);
int test_domain_get_reliability(uniConnectPtr conn, const uni_domain_info *dom);
int test_domain_set_reliability(uniConnectPtr conn, const uni_domain_info *dom, int cls);

/* errors.c */
void sim_errors(uniRecordPtr rec, uint64_t t);
int test_healthlog_query(uniConnectPtr conn, const uni_healthlog_query *q, uniRecordPtr **ret);

/* control.c */
int test_node_set_frequency(uniConnectPtr conn, int core, uint64_t khz, const char *text, uni_core_set *ret);
int test_node_set_governor(uniConnectPtr conn, int core, const char *governor, uni_core_set *ret);
int test_node_set_power_policy(uniConnectPtr conn, int core, const char *policy, uni_core_set *ret);
int test_node_get_operating_points(uniConnectPtr conn, uniOppListPtr l);
int test_node_set_operating_point(uniConnectPtr conn, uniOppListPtr l, int di, const uniOppSetting *set, int n);
