/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserver public C API: connections, last error, the metric catalogue, host records and the
 * spec's views (D5.1 section 3.1, with `uni` in place of `vir`). One header for everything.
 *
 * Conventions (libvirt's): calls return -1 or NULL on failure and set a per-thread last error
 * (uniGetLastError); every call takes `unsigned int flags` and rejects bits it does not know. */
#ifndef UNISERVER_H
#define UNISERVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UNI_VERSION_MAJOR 0
#define UNI_VERSION_MINOR 1
#define UNI_VERSION_MICRO 0

/* ---------------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------------- */

/* X(name, number, summary): the numbers are stable and append-only; they travel over the wire. */
#define UNI_ERROR_CODES(X)                                                                         \
    X(OK, 0, "no error")                                                                           \
    X(INTERNAL_ERROR, 1, "internal error")                                                         \
    X(NO_MEMORY, 2, "out of memory")                                                               \
    X(INVALID_ARG, 3, "invalid argument")                                                          \
    X(INVALID_URI, 4, "invalid connection URI")                                                    \
    X(NO_DRIVER, 5, "no driver for this URI scheme")                                               \
    X(INVALID_CONN, 6, "invalid connection object")                                                \
    X(NO_SUPPORT, 7, "operation not supported by this driver")                                     \
    X(SYSTEM_ERROR, 8, "system call failed")                                                       \
    X(PARSE_FAILED, 9, "malformed source data")                                                    \
    X(NO_SOURCE, 10, "source tree or file not found")                                              \
    X(UNKNOWN_METRIC, 11, "unknown metric, group or key")                                          \
    X(NO_DATA, 12, "the host cannot provide this value")                                           \
    X(OUT_OF_RANGE, 13, "value out of range")                                                      \
    X(ACCESS_DENIED, 14, "operation not allowed on this connection")                               \
    X(NO_DOMAIN, 15, "no such domain")                                                             \
    X(RPC_FAILED, 16, "remote procedure call failed")                                              \
    X(TIMEOUT, 17, "operation timed out")

typedef enum {
#define UNI_ERR_ENUM_(name, num, summary) UNI_ERR_##name = num,
    UNI_ERROR_CODES(UNI_ERR_ENUM_)
#undef UNI_ERR_ENUM_
} uniErrorNumber;

/* The last error of the calling thread. `message` names the offending value. */
typedef struct {
    int code;            /* a uniErrorNumber */
    const char *message; /* owned by the library; valid until this thread's next uniserver call */
} uniError;
typedef uniError *uniErrorPtr;

/**
 * uniGetLastError:
 * Returns: the last error raised by a uniserver call in this thread, or NULL if the last call
 * succeeded. The pointer stays valid until the next uniserver call in the same thread.
 * Since: 0.1
 */
const uniError *uniGetLastError(void);

/**
 * uniResetLastError:
 * Clears this thread's last error. Since: 0.1
 */
void uniResetLastError(void);

/**
 * uniErrorCodeName:
 * @code: a uniErrorNumber
 * Returns: the code's name ("INVALID_URI"), or "UNKNOWN" for a number this library does not know.
 * Static storage. Since: 0.1
 */
const char *uniErrorCodeName(int code);

/* ---------------------------------------------------------------------------------------------
 * Connections
 * ------------------------------------------------------------------------------------------- */

typedef struct _uniConnect uniConnect;
typedef uniConnect *uniConnectPtr;

typedef enum {
    UNI_CONNECT_RO = 1 << 0, /* read-only: control calls are refused */
} uniConnectFlags;

/**
 * uniConnectOpen:
 * @uri: "uniserver:///system" (this host; `?procfs=DIR&sysfs=DIR` read other trees),
 *       "test:///default" (a deterministic simulated X-Gene2-like node), or NULL for the default
 *       ($UNISERVER_DEFAULT_URI, else uniserver:///system)
 * @flags: bitwise OR of uniConnectFlags
 * Returns: a new connection (free with uniConnectClose), or NULL with the last error set
 * (UNI_ERR_INVALID_URI, UNI_ERR_NO_DRIVER, UNI_ERR_NO_SOURCE ...).
 * Since: 0.1
 */
uniConnectPtr uniConnectOpen(const char *uri, unsigned int flags);

/**
 * uniConnectClose:
 * @conn: a connection, or NULL (then nothing happens)
 * Releases the connection and everything it owns (descriptors, kept-open files).
 * Returns: 0, or -1 on failure. Since: 0.1
 */
int uniConnectClose(uniConnectPtr conn);

/**
 * uniConnectGetURI:
 * Returns: the canonical URI of @conn (owned by the connection), or NULL. Since: 0.1
 */
const char *uniConnectGetURI(uniConnectPtr conn);

/* ---------------------------------------------------------------------------------------------
 * The metric catalogue
 * ------------------------------------------------------------------------------------------- */

typedef enum {
    UNI_METRIC_GAUGE = 0,   /* a level */
    UNI_METRIC_COUNTER = 1, /* cumulative since boot or since the connection opened */
    UNI_METRIC_TEXT = 2,    /* a string */
} uniMetricKind;

/* One metric's descriptor. `key` is a template of metrics.tsv: placeholder segments N (core),
 * V (vCPU), I (device) are filled from a sample's `index`; L, C, D and NAME from its `name`. */
typedef struct {
    unsigned int id;    /* stable, append-only */
    const char *key;    /* "host.cpu.N.freq_mhz" */
    int kind;           /* a uniMetricKind */
    const char *unit;   /* "MHz", "MB", "%", "ms", "W", "C", "per_min", "count", "-" ... */
    const char *group;  /* collection group: "cpu", "freq", "mem", "contention", "temp" ... */
    const char *spec;   /* where the spec asks for it ("T3", "3.1.6") */
    const char *source; /* where Linux has it */
    const char *help;   /* one line */
} uniMetricDesc;

/**
 * uniConnectGetMetricDescriptors:
 * @conn: a connection
 * @ret_descs: set to the connection's descriptor array, indexed by id (owned by the connection)
 * @flags: must be 0
 * Returns: the number of descriptors, or -1. Since: 0.1
 */
int uniConnectGetMetricDescriptors(uniConnectPtr conn, const uniMetricDesc **ret_descs,
                                   unsigned int flags);

/* ---------------------------------------------------------------------------------------------
 * Records: typed samples of one collection
 * ------------------------------------------------------------------------------------------- */

typedef enum {
    UNI_VALUE_U64 = 1,    /* counters, counts */
    UNI_VALUE_DOUBLE = 2, /* gauges, rates, percentages */
    UNI_VALUE_STRING = 3, /* text */
} uniValueType;

typedef struct {
    unsigned int metric; /* descriptor id */
    int index;           /* value of the numeric placeholder (N, V, I), -1 when none */
    const char *name;    /* value of the string placeholder (L, C, D, NAME), NULL when none */
    int type;            /* a uniValueType */
    union {
        uint64_t u;
        double d;
        const char *s;
    } value;
} uniSample;

/* A metric that was asked for but is not in the record, and why ("no cpufreq on this host"). */
typedef struct {
    unsigned int metric;
    const char *reason;
} uniAbsence;

typedef struct _uniRecord uniRecord;
typedef uniRecord *uniRecordPtr;

/** uniRecordNumSamples: Returns: the number of samples in @rec. Since: 0.1 */
int uniRecordNumSamples(uniRecordPtr rec);
/** uniRecordGetSample: Returns: sample @i (0-based, owned by @rec), or NULL. Since: 0.1 */
const uniSample *uniRecordGetSample(uniRecordPtr rec, int i);
/** uniRecordNumAbsent: Returns: how many asked-for metrics are absent. Since: 0.1 */
int uniRecordNumAbsent(uniRecordPtr rec);
/** uniRecordGetAbsence: Returns: absence @i (owned by @rec), or NULL. Since: 0.1 */
const uniAbsence *uniRecordGetAbsence(uniRecordPtr rec, int i);
/**
 * uniRecordGetWindowMs:
 * Returns: the length of the window over which the record's rates were computed, in ms, or -1
 * for a first sample (which has no rates). Since: 0.1
 */
long long uniRecordGetWindowMs(uniRecordPtr rec);
/** uniRecordGetTimestamp: Returns: when the record was taken, ms since the Epoch. Since: 0.1 */
long long uniRecordGetTimestamp(uniRecordPtr rec);
/** uniRecordGetDescriptor: Returns: the descriptor of metric id @metric, or NULL. Since: 0.1 */
const uniMetricDesc *uniRecordGetDescriptor(uniRecordPtr rec, unsigned int metric);
/**
 * uniRecordFormatKey:
 * Writes the dotted key of sample @i ("host.cpu.3.freq_mhz") into @buf of @len bytes.
 * Returns: the key's length, or -1 (bad index, or @buf too small). Since: 0.1
 */
int uniRecordFormatKey(uniRecordPtr rec, int i, char *buf, size_t len);
/**
 * uniRecordLookup:
 * @key: a dotted key with its placeholders filled ("host.cpu.3.freq_mhz")
 * Returns: the sample (owned by @rec), or NULL when the record does not hold it. Since: 0.1
 */
const uniSample *uniRecordLookup(uniRecordPtr rec, const char *key);
/**
 * uniRecordAbsentReason:
 * @key: a dotted key or key template ("host.cpu.3.temp_c" or "host.cpu.N.temp_c")
 * Returns: why the metric is absent from @rec, or NULL if it is not marked absent. Since: 0.1
 */
const char *uniRecordAbsentReason(uniRecordPtr rec, const char *key);
typedef enum {
    UNI_EXPOSITION_OPENMETRICS = 1 << 0, /* OpenMetrics 1.0 instead of the Prometheus text format */
} uniExpositionFlags;

/**
 * uniRecordToPrometheus:
 * @rec: a record
 * @ret_text: set to a new NUL-terminated string (free())
 * @ret_len: set to its length, may be NULL
 * @flags: 0 or UNI_EXPOSITION_OPENMETRICS
 * Renders @rec as uniserverd's /metrics does: names derived from the descriptors (uniserver_
 * prefix, base units, _total on counters, placeholders as labels). Absent metrics are left out.
 * Returns: 0, or -1. Since: 0.1
 */
int uniRecordToPrometheus(uniRecordPtr rec, char **ret_text, size_t *ret_len, unsigned int flags);

/** uniRecordFree: frees @rec (NULL is accepted). Since: 0.1 */
void uniRecordFree(uniRecordPtr rec);

/* ---------------------------------------------------------------------------------------------
 * The host
 * ------------------------------------------------------------------------------------------- */

/**
 * uniNodeGetStats:
 * @conn: a connection
 * @select: NULL-terminated list of group names ("cpu", "freq", "mem", "contention", "temp",
 *          "power", "psi", "errors", "vms", "memhw") and/or dotted key prefixes ("host.mem.",
 *          "host.cpu.3.freq_mhz"); NULL for the whole host record. Only the sources the selection
 *          needs are read.
 * @ret: set to a new record (free with uniRecordFree)
 * @flags: 0, or UNI_NODE_STATS_BEST_EFFORT: a source that fails (a malformed or unreadable
 *          file) does not fail the call; its metrics are absent with the error as the reason
 * Every record says how each source fared: host.source.NAME.up, .duration_ms, .errors and
 * .last_error (group "sources").
 * Rates (percentages over a window, W from energy counters) come from the previous call on the
 * same connection; the first call has none (uniRecordGetWindowMs returns -1).
 * Returns: 0, or -1 (UNI_ERR_UNKNOWN_METRIC for a selection that names nothing). Since: 0.1
 */
int uniNodeGetStats(uniConnectPtr conn, const char *const *select, uniRecordPtr *ret,
                    unsigned int flags);

typedef enum {
    UNI_NODE_STATS_BEST_EFFORT = 1 << 0, /* a failing source is absent, not an error */
} uniNodeStatsFlags;

/* The spec's host views (section 3.1.6): records holding exactly the view's keys in the spec's
 * order (tests/data/views.tsv); per-core keys expand to every online core. An element the host
 * cannot provide is absent with its reason. Each returns 0 and sets *ret, or -1. Since: 0.1 */
int uniNodeGetCPUStatistics(uniConnectPtr conn, uniRecordPtr *ret, unsigned int flags);
int uniNodeGetMemoryStatistics(uniConnectPtr conn, uniRecordPtr *ret, unsigned int flags);
int uniNodeGetSystemStatistics(uniConnectPtr conn, uniRecordPtr *ret, unsigned int flags);
int uniNodeGetContentionStatistics(uniConnectPtr conn, uniRecordPtr *ret, unsigned int flags);
int uniNodeGetPowerConsumption(uniConnectPtr conn, uniRecordPtr *ret, unsigned int flags);
int uniNodeGetTemperature(uniConnectPtr conn, uniRecordPtr *ret, unsigned int flags);
int uniNodeGetDomainsStatistics(uniConnectPtr conn, uniRecordPtr *ret, unsigned int flags);
int uniNodeGetCorrectableErrors(uniConnectPtr conn, uniRecordPtr *ret, unsigned int flags);
int uniNodeGetUncorrectableErrors(uniConnectPtr conn, uniRecordPtr *ret, unsigned int flags);

/**
 * uniNodeGetGovernor:
 * Returns: the governor of the system as a new string (free()): one governor name, or "mixed"
 * when the cores differ (uniNodeGetStats gives host.cpu.N.governor per core); NULL with
 * UNI_ERR_NO_DATA where the host has no cpufreq. Since: 0.1
 */
char *uniNodeGetGovernor(uniConnectPtr conn, unsigned int flags);

/* ---------------------------------------------------------------------------------------------
 * Views, described (for bindings and shells that render any view generically)
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    const char *spec_name;   /* "getHostCPUStatisticsUniserver" */
    const char *c_name;      /* "uniNodeGetCPUStatistics" */
    const char *command;     /* "hostcpustats" */
    const char *summary;     /* one line */
    const unsigned int *metrics; /* metric ids in the spec's order */
    int nmetrics;
} uniViewDesc;

/** uniViewCount: Returns: the number of views. Since: 0.1 */
int uniViewCount(void);
/** uniViewGet: Returns: view @i's description (static), or NULL. Since: 0.1 */
const uniViewDesc *uniViewGet(int i);
/**
 * uniNodeGetView:
 * Fetches view @i (0 .. uniViewCount()-1) for the host, as the named calls above do.
 * Returns: 0 and sets *ret, or -1. Since: 0.1
 */
int uniNodeGetView(uniConnectPtr conn, int i, uniRecordPtr *ret, unsigned int flags);

/* ---------------------------------------------------------------------------------------------
 * The HealthLog: uni-healthd's record of hardware events (spec 3.2.2, get_healthlog_memory)
 * ------------------------------------------------------------------------------------------- */

typedef enum {
    UNI_HEALTHLOG_CORRECTED = 1 << 0,   /* only corrected errors */
    UNI_HEALTHLOG_UNCORRECTED = 1 << 1, /* only uncorrected ones (deferred and fatal included) */
    UNI_HEALTHLOG_ACTIONS = 1 << 2,     /* also the actions uni-healthd took about that DIMM or core */
} uniHealthLogFlags;

/* The most events one query returns; a query that matches more fails (narrow it with since_ms). */
#define UNI_HEALTHLOG_MAX_EVENTS 20000

/**
 * uniHealthLogQueryMemory:
 * @conn: a connection
 * @dimm: a DIMM label as the HealthLog names it (the D of host.errors.dimm.D.ce.count: EDAC's
 *        label with dots and blanks made '_'), or NULL for every memory event
 * @since_ms: only events at or after this time, ms since the Epoch (0: all)
 * @ret_events: set to a new NULL-terminated array of records, one per event, oldest first (free
 *        with uniRecordListFree). An event's record holds its fields as samples keyed
 *        "event.NAME": event.id, event.time_ms, event.source, event.class, event.component,
 *        event.severity, event.bits, event.count, event.dimm, event.location, event.address,
 *        event.message, event.vms (the VMs it may have touched) ...; a field the event does not
 *        have is not in the record; uniRecordGetDescriptor describes each. New fields are new
 *        keys: the record is the extension point, as metrics are.
 * @flags: uniHealthLogFlags
 * The spec's get_healthlog_memory(dimm id). Over uniserverd it is answered from the HealthLog of
 * the daemon's host, not from its cache.
 * Returns: the number of events, or -1 (UNI_ERR_NO_SOURCE when there is no HealthLog,
 * UNI_ERR_OUT_OF_RANGE when more than UNI_HEALTHLOG_MAX_EVENTS match). Since: 0.2
 */
int uniHealthLogQueryMemory(uniConnectPtr conn, const char *dimm, long long since_ms, uniRecordPtr **ret_events,
                            unsigned int flags);

/**
 * uniHealthLogQueryCPU:
 * @core: a logical CPU (the N of host.cpu.N), or -1 for every CPU event
 * The same as uniHealthLogQueryMemory for CPU errors (caches, TLB, bus, core) reported by @core.
 * Returns: the number of events, or -1. Since: 0.2
 */
int uniHealthLogQueryCPU(uniConnectPtr conn, int core, long long since_ms, uniRecordPtr **ret_events, unsigned int flags);

/**
 * uniHealthLogWait:
 * @conn: a connection to this host (uniserver:///system)
 * @timeout_ms: how long to wait at most (0: do not wait; -1: no limit)
 * @flags: must be 0
 * Waits until uni-healthd commits to the HealthLog (a notification, not a poll of the file).
 * Returns: 1 when it changed, 0 on timeout, -1 on failure (UNI_ERR_NO_SUPPORT over uniserverd).
 * Since: 0.2
 */
int uniHealthLogWait(uniConnectPtr conn, int timeout_ms, unsigned int flags);

/** uniRecordListFree: frees a NULL-terminated array of records and the records (NULL is accepted). Since: 0.2 */
void uniRecordListFree(uniRecordPtr *list);

#ifdef __cplusplus
}
#endif
#endif
