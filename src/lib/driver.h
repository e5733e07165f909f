/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The driver table, connection and domain objects, the entry points' argument checks, the drivers
 * and the clock. */
#pragma once

#include <pthread.h>

#include "lib/domain.h"
#include "lib/uri.h"
#include "lib/control_util.h"

/* ---- drivers and connections ---- */
/* A HealthLog query: memory events of a DIMM (NULL: all) or CPU events of a core (-1: all). */
typedef struct {
    bool cpu;
    const char *dimm;
    int core;
    long long since_ms;
    unsigned flags; /* uniHealthLogFlags */
} uni_healthlog_query;

typedef struct uni_driver {
    const char *name;
    const char *scheme;
    int (*open)(uniConnectPtr conn, const uni_uri *uri, unsigned flags);
    void (*close)(uniConnectPtr conn);
    int (*node_get_stats)(uniConnectPtr conn, const uni_select *sel, uniRecordPtr rec, unsigned flags);
    /* Optional: a view in one step (the remote driver: one procedure per view). Sets *ret. */
    int (*node_get_view)(uniConnectPtr conn, int view, uniRecordPtr *ret);
    /* Control (control.c calls these holding conn->lock, after refusing read-only connections
     * and checking the arguments' form). Each validates everything before its first write, reads
     * every write back and restores what it wrote when a later step fails; on failure it sets
     * the error and returns -1. The set calls return the number of cores that now run the
     * value and add them, ascending, to @ret. @text is the frequency as the caller wrote it. */
    int (*node_set_frequency)(uniConnectPtr conn, int core, uint64_t khz, const char *text, uni_core_set *ret);
    int (*node_set_governor)(uniConnectPtr conn, int core, const char *governor, uni_core_set *ret);
    int (*node_set_power_policy)(uniConnectPtr conn, int core, const char *policy, uni_core_set *ret);
    /* Fill @list (uni_opp_add_domain, uni_opp_add_param); -1 with UNI_ERR_NO_SUPPORT when none. */
    int (*node_get_operating_points)(uniConnectPtr conn, uniOppListPtr list);
    /* Called with @list just filled by node_get_operating_points and @settings checked against
     * domain @domain's parameters (each known, settable, within limits, on its step, once). */
    int (*node_set_operating_point)(uniConnectPtr conn, uniOppListPtr list, int domain, const uniOppSetting *settings,
                                    int n);

    /* The domains the driver knows now, active and inactive, in a stable order (by name). */
    int (*list_domains)(uniConnectPtr conn, uni_domain_info **ret, size_t *ret_n);
    /* A record per domain (all when @only is NULL, else those matching one of @only, in
     * @only's order; a domain of @only that is gone is left out). Records come from
     * uni_record_new with ->sel set to @sel; the caller finishes them. */
    int (*domain_stats)(uniConnectPtr conn, const uni_select *sel, const uni_domain_info *only, size_t nonly,
                        uni_domain_stats **ret, size_t *ret_n);

    /* Table 4 (domain_ops.c calls these holding conn->lock, after checking the arguments'
     * form; @dom is the domain object's identity). Each returns >= 0, or -1 with the error set
     * (UNI_ERR_NO_DOMAIN when @dom is gone). */
    int (*domain_get_info)(uniConnectPtr conn, const uni_domain_info *dom, uniDomainInfo *ret);
    /* Optional: every domain with its info in one step (else list_domains, then domain_get_info). */
    int (*domain_list_info)(uniConnectPtr conn, uni_domain_info **ret, uniDomainInfo **ret_infos, size_t *ret_n);
    int (*domain_get_xml)(uniConnectPtr conn, const uni_domain_info *dom, char **ret);
    /* The scheduler's name (*ret_type, new) and its parameters (new array); returns their count. */
    int (*domain_get_sched)(uniConnectPtr conn, const uni_domain_info *dom, char **ret_type, uniSchedParam **ret);
    /* Per vCPU its info and affinity (UNI_CPU_MAPLEN(*ret_ncpus) bytes each); returns the count. */
    int (*domain_get_vcpus)(uniConnectPtr conn, const uni_domain_info *dom, uniVcpuInfo **ret_info,
                            unsigned char **ret_maps, int *ret_ncpus);
    /* Control: @map (@maplen bytes, not empty) checked against the host's CPUs by the driver. */
    int (*domain_pin_vcpu)(uniConnectPtr conn, const uni_domain_info *dom, unsigned vcpu, const unsigned char *map,
                           int maplen);
    /* The domain's CPU time per host CPU, ns (new array); returns the count. */
    int (*domain_get_cpu_stats)(uniConnectPtr conn, const uni_domain_info *dom, unsigned long long **ret);
    /* A uniReliabilityClass; set is a control call. */
    int (*domain_get_reliability)(uniConnectPtr conn, const uni_domain_info *dom);
    int (*domain_set_reliability)(uniConnectPtr conn, const uni_domain_info *dom, int cls);

    /* HealthLog events as records (NULL-terminated array); returns the count. */
    int (*healthlog_query)(uniConnectPtr conn, const uni_healthlog_query *q, uniRecordPtr **ret);
    /* Wait for the HealthLog to change: 1 changed, 0 timeout. */
    int (*healthlog_wait)(uniConnectPtr conn, int timeout_ms);

    /* Optional: the caller's reason for the control calls that follow (@reason: checked, NULL
     * for none); the remote driver sends it to the daemon. */
    int (*set_audit_reason)(uniConnectPtr conn, const char *reason);
    /* Optional: record one write a control call made (after the process-wide hook): the local
     * driver appends it to its HealthLog's action spool (src/healthlog/spool.c). */
    void (*audit)(uniConnectPtr conn, const uni_audit_event *ev);
} uni_driver;

struct _uniConnect {
    const uni_driver *driver;
    void *priv;
    const uniMetricDesc *descs; /* the catalogue, or what the daemon sent */
    unsigned ndescs;
    char *uri;
    unsigned flags;
    int refs;             /* the caller's, plus one per live domain object */
    pthread_mutex_t lock; /* one call at a time per connection: drivers keep sample state */
    char *audit_reason;   /* uniConnectSetAuditReason's, or NULL */
};

struct _uniDomain {
    uniConnectPtr conn;
    uni_domain_info info;
};

/* Argument checks of the public entry points: set the error and return @ret. */
#define CHECK_FLAGS(flags, allowed, ret)                                                                               \
    do {                                                                                                               \
        if ((flags) & ~(unsigned)(allowed)) {                                                                          \
            uni_error_set(UNI_ERR_INVALID_ARG, "%s: unsupported flags 0x%x", __func__,                                 \
                          (flags) & ~(unsigned)(allowed));                                                             \
            return ret;                                                                                                \
        }                                                                                                              \
    } while (0)

#define CHECK_CONN(conn, ret)                                                                                          \
    do {                                                                                                               \
        if (!(conn) || !(conn)->driver) {                                                                              \
            uni_error_set(UNI_ERR_INVALID_CONN, "%s: invalid connection", __func__);                                   \
            return ret;                                                                                                \
        }                                                                                                              \
    } while (0)

#define CHECK_DOM(dom, ret)                                                                                            \
    do {                                                                                                               \
        if (!(dom) || !(dom)->conn) {                                                                                  \
            uni_error_set(UNI_ERR_INVALID_ARG, "%s: invalid domain", __func__);                                        \
            return ret;                                                                                                \
        }                                                                                                              \
    } while (0)

/* Drop a reference; the last one closes the driver and frees the connection. Returns the
 * references left. */
int uni_conn_unref(uniConnectPtr conn);

extern const uni_driver uni_local_driver;
extern const uni_driver uni_test_driver;
extern const uni_driver uni_remote_driver;

/* Clock used for windows and rates: tests replace it for deterministic output. */
extern uint64_t (*uni_clock_ns)(void);
extern int64_t (*uni_clock_wall_ms)(void);
