/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The test driver's parts (test.c, host.c, vms.c, control.c, errors.c) and the state of a connection they share. */
#pragma once

#include "drivers/local/parsers.h"
#include "healthlog/healthlog.h"
#include "lib/internal.h"
#include "simboard/model.h"

#define TICK_MS 1000     /* virtual time a call advances */
#define HISTORY_S 3600   /* the simulated HealthLog's history before the connection opened */
#define RETENTION_S 7200 /* and how long it keeps an event (its counts keep every one) */
#define TEST_NVMS 3      /* the simulated VMs (vms.c) */
#define TEST_MAX_VCPUS 4 /* the most vCPUs one of them has */
#define WHY_FIRST "first sample: rates need a second sample (a window)"

/* The sources of the simulated node, named as the local driver's (a test makes one fail with
 * ?fail=NAME). */
/* clang-format off */
#define TEST_SOURCES(X) \
    X(STAT, "stat") X(CPUFREQ, "cpufreq") X(MEMINFO, "meminfo") X(LOADAVG, "loadavg") X(PSI, "psi") \
    X(SENSORS, "sensors") X(POWER, "power") X(HEALTHLOG, "healthlog") X(VMS, "vms")
/* clang-format on */
#define TEST_SRC_ENUM_(id, name) TEST_SRC_##id,
enum { TEST_SOURCES(TEST_SRC_ENUM_) TEST_NSRC };
extern const char *const test_source_names[TEST_NSRC];

/* The board's error counters (sb_model): per PMD L1 and L2 corrected, uncorrected; per DIMM
 * corrected, uncorrected. */
#define TEST_NCOUNTERS (SB_NPMD * 3 + SB_NMC * SB_DIMMS * 2)

/* The simulated PSI counters (host.psi.*), in ms. */
enum { PSI_CPU_SOME, PSI_MEM_SOME, PSI_MEM_FULL, PSI_IO_SOME, PSI_IO_FULL, PSI_N };

typedef struct {
    uint64_t tick; /* calls so far; virtual time is tick seconds */
    uint64_t seed; /* ?seed=N (default 1): the board's variation and the workload */
    unsigned fail; /* ?fail=NAME,...: bits (1 << TEST_SRC_*) of the sources that fail */
    uint64_t src_errors[TEST_NSRC];
    /* The board (src/simboard/model.h), advanced one second of its 100 ms ticks per virtual
     * second under the seeded workload (sb_workload_load), with its background errors on; its
     * settings (governors, frequencies, voltages, refresh periods) are what control calls
     * change. Every counter of the host's record is the board's, or integrated along with it. */
    sb_model board;
    uint64_t board_t; /* virtual seconds the board has been advanced to */
    /* Counters integrated with the board, per virtual second (host.c). */
    uint64_t cont_ms;                /* seconds with more demand than cores */
    max_util_state mu;               /* the spec's time at maximum utilisation */
    double psi_ms[PSI_N];            /* pressure stall time */
    double energy0_uj;               /* the board's energy when the connection opened */
    uint64_t logged[TEST_NCOUNTERS]; /* the board's error counters already in the HealthLog (errors.c) */
    /* The previous host sample (rates are over the window since): its tick and CPU times. */
    uint64_t prev_t;
    uint64_t prev_jiffies[SB_NCPU][4];
    uint64_t prev_cont_ms;
    hl_db *hl;         /* the simulated HealthLog: every error the board drew, in memory (errors.c) */
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
/* Advance the board to virtual time s->tick, logging its errors. -errno. */
int sim_catch_up(test_state *s);
/* The workload's clock: virtual second @t of the connection is its second t + HISTORY_S. */
void sim_set_load(test_state *s, int64_t t);

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

/* errors.c: the simulated HealthLog, written from the board's error counters */
int sim_healthlog_open(test_state *s);
/* Log the errors the board drew since the last call, at virtual time @t (s). -errno. */
int sim_log_errors(test_state *s, int64_t t);
int sim_errors(test_state *s, uniRecordPtr rec);
int test_healthlog_query(uniConnectPtr conn, const uni_healthlog_query *q, uniRecordPtr **ret);

/* control.c */
int test_node_set_frequency(uniConnectPtr conn, int core, uint64_t khz, const char *text, uni_core_set *ret);
int test_node_set_governor(uniConnectPtr conn, int core, const char *governor, uni_core_set *ret);
int test_node_set_power_policy(uniConnectPtr conn, int core, const char *policy, uni_core_set *ret);
int test_node_get_operating_points(uniConnectPtr conn, uniOppListPtr l);
int test_node_set_operating_point(uniConnectPtr conn, uniOppListPtr l, int di, const uniOppSetting *set, int n);
