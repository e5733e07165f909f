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
#define UNI_ERROR_CODES(X)                                                                                             \
    X(OK, 0, "no error")                                                                                               \
    X(INTERNAL_ERROR, 1, "internal error")                                                                             \
    X(NO_MEMORY, 2, "out of memory")                                                                                   \
    X(INVALID_ARG, 3, "invalid argument")                                                                              \
    X(INVALID_URI, 4, "invalid connection URI")                                                                        \
    X(NO_DRIVER, 5, "no driver for this URI scheme")                                                                   \
    X(INVALID_CONN, 6, "invalid connection object")                                                                    \
    X(NO_SUPPORT, 7, "operation not supported by this driver")                                                         \
    X(SYSTEM_ERROR, 8, "system call failed")                                                                           \
    X(PARSE_FAILED, 9, "malformed source data")                                                                        \
    X(NO_SOURCE, 10, "source tree or file not found")                                                                  \
    X(UNKNOWN_METRIC, 11, "unknown metric, group or key")                                                              \
    X(NO_DATA, 12, "the host cannot provide this value")                                                               \
    X(OUT_OF_RANGE, 13, "value out of range")                                                                          \
    X(ACCESS_DENIED, 14, "operation not allowed on this connection")                                                   \
    X(NO_DOMAIN, 15, "no such domain")                                                                                 \
    X(RPC_FAILED, 16, "remote procedure call failed")                                                                  \
    X(TIMEOUT, 17, "operation timed out")                                                                              \
    X(NO_CORE, 18, "no such core, or the core is offline")                                                             \
    X(NOT_APPLIED, 19, "the hardware did not take the value (it reads back different)")                                \
    X(TLS_CREDENTIALS, 20, "TLS credentials missing or unusable (CA certificate, certificate or key)")

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
 * @uri: "uniserver:///system" (this host; `?procfs=DIR&sysfs=DIR` read other trees;
 *       `?libvirt=URI` adds libvirt's domains (default qemu:///system where its daemon runs,
 *       empty for none), `?vm_deadline_ms=MS` each VM's deadline (1000), `?kvmstats=qmp|binary|off`
 *       the KVM statistics' source (QMP query-stats; the kernel's binary stats, fetched out of
 *       QEMU with ptrace and pidfd_getfd: an explicit opt-in)),
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
 * Releases the caller's reference to the connection. It closes (and frees everything it owns:
 * descriptors, kept-open files, sockets) when no domain object (uniDomainPtr) obtained from it is
 * left either.
 * Returns: the number of references still held (domain objects not yet freed; 0 when the
 * connection is closed), or -1 on failure. Since: 0.1 (the count: 0.2)
 */
int uniConnectClose(uniConnectPtr conn);

/**
 * uniConnectGetURI:
 * Returns: the canonical URI of @conn (owned by the connection), or NULL. Since: 0.1
 */
const char *uniConnectGetURI(uniConnectPtr conn);

#define UNI_AUDIT_REASON_MAX 512 /* bytes of a reason, with its terminating NUL */

/**
 * uniConnectSetAuditReason:
 * @conn: a connection
 * @reason: why the control calls that follow on @conn are made ("plan 12 step 3: pmd2 back to
 *          nominal: an uncorrected error"), or NULL / "" for none
 * @flags: 0
 * The reason goes with every change the following control calls make: into the audit
 * (uniserverd's log) and into the HealthLog, where each change a control call makes on a host is
 * an action event (source "control", its "reason" field; docs/healthlog.md, "Control actions").
 * Over a remote connection it is sent to the daemon, which records it with the changes it makes
 * for this client. It stays until set again. A reason is printable text of at most
 * UNI_AUDIT_REASON_MAX - 1 bytes (else UNI_ERR_INVALID_ARG, and the one before stays).
 * Returns: 0, or -1 with the last error set. Since: 0.4
 */
int uniConnectSetAuditReason(uniConnectPtr conn, const char *reason, unsigned int flags);

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
int uniConnectGetMetricDescriptors(uniConnectPtr conn, const uniMetricDesc **ret_descs, unsigned int flags);

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
 *          "power", "psi", "errors", "vms", "kvm", "memhw", "margins") and/or dotted key prefixes ("host.mem.",
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
int uniNodeGetStats(uniConnectPtr conn, const char *const *select, uniRecordPtr *ret, unsigned int flags);

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
/* getDomainsStatisticsUniserver: number of VMs, active VMs, memory of all VMs (MB), mean swap-in
 * wait of the VMs (ms); the domains are found as uniConnectListAllDomains finds them. */
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
 * Control: frequency, governor, power policy (D5.1 section 3.1.2, virNodeSetFrequency)
 *
 * Control calls are refused on read-only connections (UNI_CONNECT_RO) with UNI_ERR_ACCESS_DENIED
 * before anything is touched. A call changes one clock domain (the cores that share a cpufreq
 * policy: its related_cpus; an X-Gene2 PMD) or, with core -1 where allowed, every domain; it
 * checks everything first, then writes, reads each value back, and on any failure restores what
 * it had changed, so that a failed call leaves the host as it found it. Errors name the value:
 * UNI_ERR_NO_CORE ("core 12 does not exist (0-7 online)"), UNI_ERR_INVALID_ARG (a malformed
 * frequency, an unknown governor or policy), UNI_ERR_OUT_OF_RANGE (outside the core's limits),
 * UNI_ERR_NOT_APPLIED (the value read back differs: the hardware did not take it),
 * UNI_ERR_NO_SUPPORT (no cpufreq, no energy_performance_preference), UNI_ERR_SYSTEM_ERROR.
 * ------------------------------------------------------------------------------------------- */

/**
 * uniNodeSetFrequency:
 * @conn: a read-write connection
 * @core: the core (CPU number) whose clock domain is set
 * @frequency: "2400000" (kHz, cpufreq's unit), or a number with a unit, case-insensitive:
 *             "2400MHz", "2.4GHz", "2400000kHz", "2400000000Hz"; it must come to a whole kHz
 * @flags: must be 0
 * Sets the frequency of @core's clock domain: with cpufreq's userspace governor and
 * scaling_setspeed where the domain offers that governor, else by pinning scaling_min_freq and
 * scaling_max_freq to the value. The value must lie within cpuinfo_min_freq..cpuinfo_max_freq and
 * be one of scaling_available_frequencies where the driver lists them.
 * Returns: the number of cores that moved (>= 1: every online core of the domain), or -1.
 * Since: 0.2
 */
int uniNodeSetFrequency(uniConnectPtr conn, int core, const char *frequency, unsigned int flags);

/**
 * uniNodeSetFrequencyEx:
 * As uniNodeSetFrequency, and says which cores moved.
 * @ret_cores: array of @maxcores ints filled with the CPU numbers of the cores that moved (the
 *             online cores of @core's clock domain), ascending; may be NULL when @maxcores is 0
 * @maxcores: size of @ret_cores
 * Returns: the number of cores that moved (which may exceed @maxcores: then only the first
 * @maxcores are stored), or -1. Since: 0.2
 */
int uniNodeSetFrequencyEx(uniConnectPtr conn, int core, const char *frequency, int *ret_cores, int maxcores,
                          unsigned int flags);

/**
 * uniNodeSetGovernor:
 * @conn: a read-write connection
 * @core: a core (its clock domain is set), or -1 for every online core
 * @governor: a name from the domain's scaling_available_governors ("performance", "schedutil" ...)
 * @flags: must be 0
 * Returns: the number of cores whose governor is now @governor, or -1. Since: 0.2
 */
int uniNodeSetGovernor(uniConnectPtr conn, int core, const char *governor, unsigned int flags);

/**
 * uniNodeSetPowerPolicy:
 * @conn: a read-write connection
 * @core: a core (its clock domain is set), or -1 for every online core
 * @policy: the spec's names "power", "balanced", "performance" (host.cpu.power_policy), or a raw
 *          name from energy_performance_available_preferences ("balance_power", "default" ...)
 * @flags: must be 0
 * Where cpufreq has an energy-performance preference (intel_pstate, amd-pstate), writes
 * energy_performance_preference: power -> "power", balanced -> "balance_performance" (else
 * "balance_power", else "default"), performance -> "performance". Where it has none, the power
 * policy is the governor's, as host.cpu.power_policy reads it: performance -> "performance",
 * power -> "powersave", balanced -> the current governor when it already counts as balanced, else
 * the first available of schedutil, ondemand, conservative. Raw EPP names need EPP.
 * Returns: the number of cores whose policy is now @policy, or -1. Since: 0.2
 */
int uniNodeSetPowerPolicy(uniConnectPtr conn, int core, const char *policy, unsigned int flags);

/* ---------------------------------------------------------------------------------------------
 * Operating points beyond cpufreq (the spec's extended margins)
 *
 * A domain is a unit of hardware that is set as one: a voltage/frequency domain of cores (an
 * X-Gene2 PMD: 2 cores, voltage in mV and frequency in MHz) or a memory channel (its DIMMs:
 * refresh period in ms and voltage in mV). Each domain has parameters, each with its current
 * value and limits. The structs are allocated by the library and only ever grow at their end:
 * reach domains and parameters through the accessors, never by indexing arrays of them.
 * ------------------------------------------------------------------------------------------- */

typedef enum {
    UNI_OPP_CPU = 1,    /* voltage/frequency domain of cores (X-Gene2: a PMD) */
    UNI_OPP_MEMORY = 2, /* a memory channel and its DIMMs */
} uniOppKind;

typedef enum {
    UNI_OPP_PARAM_READONLY = 1 << 0, /* reported, not settable on this host */
} uniOppParamFlags;

/* One settable quantity of a domain. Values are integers in the parameter's unit. */
typedef struct {
    const char *name;   /* "voltage_mv", "frequency_mhz", "refresh_ms" */
    const char *unit;   /* "mV", "MHz", "ms" */
    long long current;  /* the value now */
    long long nominal;  /* the vendor's (guard-banded) value; -1 when unknown */
    long long min, max; /* what the hardware accepts (inclusive) */
    long long step;     /* values are min + k x step; 0 or 1: any integer */
    unsigned int flags; /* uniOppParamFlags */
} uniOppParam;

typedef struct {
    int kind;         /* a uniOppKind */
    int id;           /* PMD or channel number */
    const char *name; /* "pmd2", "mc1": what uniNodeSetOperatingPoint takes */
    int ncores;       /* UNI_OPP_CPU: the cores of the domain */
    const int *cores;
    int nmembers; /* UNI_OPP_MEMORY: the DIMMs of the channel ("DIMM2A") */
    const char *const *members;
    int nparams; /* parameters: uniOppListGetParam(list, i, 0 .. nparams-1) */
} uniOppDomain;

typedef struct _uniOppList uniOppList;
typedef uniOppList *uniOppListPtr;

/**
 * uniNodeGetOperatingPoints:
 * @conn: a connection
 * @ret: set to a new list of the host's domains (free with uniOppListFree)
 * @flags: must be 0
 * Returns: the number of domains, or -1: UNI_ERR_NO_SUPPORT where the host has no interface for
 * operating points beyond cpufreq (generic Linux). Since: 0.2
 */
int uniNodeGetOperatingPoints(uniConnectPtr conn, uniOppListPtr *ret, unsigned int flags);
/** uniOppListNumDomains: Returns: the number of domains in @list, or -1. Since: 0.2 */
int uniOppListNumDomains(uniOppListPtr list);
/** uniOppListGetDomain: Returns: domain @i (owned by @list), or NULL. Since: 0.2 */
const uniOppDomain *uniOppListGetDomain(uniOppListPtr list, int i);
/** uniOppListGetParam: Returns: parameter @p of domain @i (owned by @list), or NULL. Since: 0.2 */
const uniOppParam *uniOppListGetParam(uniOppListPtr list, int i, int p);
/** uniOppListFindParam: Returns: the parameter named @name ("voltage_mv") of domain @i (owned
 * by @list), or NULL when the domain has none of that name. Since: 0.4 */
const uniOppParam *uniOppListFindParam(uniOppListPtr list, int i, const char *name);
/** uniOppListFree: frees @list (NULL is accepted). Since: 0.2 */
void uniOppListFree(uniOppListPtr list);

/* One parameter to set: frozen layout (callers build arrays of it). */
typedef struct {
    const char *name; /* a parameter name of the domain ("voltage_mv") */
    long long value;  /* in the parameter's unit */
} uniOppSetting;

/**
 * uniNodeSetOperatingPoint:
 * @conn: a read-write connection
 * @domain: a domain name from uniNodeGetOperatingPoints ("pmd2", "mc1")
 * @settings: @nsettings parameters to set together (each name at most once)
 * @flags: must be 0
 * Sets the parameters as one change: all are checked against the domain's limits first, then
 * written in a safe order (a voltage rise before a frequency rise, a frequency drop before a
 * voltage drop), each read back; on a failure what was written is restored.
 * Returns: 0, or -1 (UNI_ERR_INVALID_ARG: unknown domain or parameter; UNI_ERR_OUT_OF_RANGE:
 * outside the limits or off the step; UNI_ERR_NO_SUPPORT; UNI_ERR_ACCESS_DENIED ...).
 * Since: 0.2
 */
int uniNodeSetOperatingPoint(uniConnectPtr conn, const char *domain, const uniOppSetting *settings, int nsettings,
                             unsigned int flags);

/* ---------------------------------------------------------------------------------------------
 * Domains (VMs): discovery, lookup and their records (spec Tables 1, 2 and the VM rows of 3)
 * ------------------------------------------------------------------------------------------- */

typedef struct _uniDomain uniDomain;
typedef uniDomain *uniDomainPtr;

#define UNI_UUID_STRING_BUFLEN 37 /* 36 characters and the NUL */

typedef enum {
    UNI_CONNECT_LIST_DOMAINS_ACTIVE = 1 << 0,   /* running (or paused) domains */
    UNI_CONNECT_LIST_DOMAINS_INACTIVE = 1 << 1, /* defined but not running (libvirt) */
} uniConnectListAllDomainsFlags;

/**
 * uniConnectListAllDomains:
 * @conn: a connection
 * @ret_domains: set to a new NULL-terminated array of domains (free each with uniDomainFree,
 *               then the array with free()); may be NULL to only count them
 * @flags: UNI_CONNECT_LIST_DOMAINS_ACTIVE and/or _INACTIVE; 0 for both
 * The local driver finds QEMU processes in /proc (name, UUID, QMP socket and vCPU threads from
 * their command lines) and, where a libvirt daemon runs or ?libvirt=URI names one, libvirt's
 * domains, merged by UUID; the test driver has three simulated VMs.
 * Returns: the number of domains, or -1. Since: 0.2
 */
int uniConnectListAllDomains(uniConnectPtr conn, uniDomainPtr **ret_domains, unsigned int flags);

/**
 * uniDomainLookupByName:
 * @flags: must be 0
 * Returns: the domain named @name (free with uniDomainFree), or NULL with UNI_ERR_NO_DOMAIN.
 * Since: 0.2
 */
uniDomainPtr uniDomainLookupByName(uniConnectPtr conn, const char *name, unsigned int flags);

/**
 * uniDomainLookupByUUIDString:
 * @uuid: 36 characters, any case ("6695eb01-f6a4-8304-79aa-97f2502e193f")
 * @flags: must be 0
 * Returns: the domain (free with uniDomainFree), or NULL (UNI_ERR_INVALID_ARG for a malformed
 * UUID, UNI_ERR_NO_DOMAIN when no domain has it). Since: 0.2
 */
uniDomainPtr uniDomainLookupByUUIDString(uniConnectPtr conn, const char *uuid, unsigned int flags);

/** uniDomainGetName: Returns: the domain's name (owned by @dom), or NULL. Since: 0.2 */
const char *uniDomainGetName(uniDomainPtr dom);

/**
 * uniDomainGetUUIDString:
 * @buf: at least UNI_UUID_STRING_BUFLEN bytes
 * Returns: 0 with the lower-case UUID in @buf, or -1 (UNI_ERR_NO_DATA for a QEMU started
 * without -uuid, which has none). Since: 0.2
 */
int uniDomainGetUUIDString(uniDomainPtr dom, char *buf);

/**
 * uniDomainIsActive:
 * Returns: 1 when the domain was running (or paused) when it was looked up, 0 when inactive,
 * -1 on error. Since: 0.2
 */
int uniDomainIsActive(uniDomainPtr dom);

/** uniDomainFree: frees @dom (NULL is accepted) and its reference on the connection. Returns 0. Since: 0.2 */
int uniDomainFree(uniDomainPtr dom);

/**
 * uniDomainGetStatistics:
 * The spec's getDomainStatisticsUniserver for @dom: memory used (% of the host, MB), VM
 * interruption time (ms: execution time - guest time of the QEMU process) and swap-in wait (ms,
 * taskstats), in the spec's order (tests/data/views.tsv). An element the host cannot provide is
 * absent with its reason.
 * @ret: set to a new record (free with uniRecordFree)
 * @flags: must be 0
 * Returns: 0, or -1 (UNI_ERR_NO_DOMAIN when the domain is gone). Since: 0.2
 */
int uniDomainGetStatistics(uniDomainPtr dom, uniRecordPtr *ret, unsigned int flags);

/* A domain and its record, as uniConnectGetAllDomainStats returns them (libvirt's
 * virDomainStatsRecord). Both are owned by the list: free with uniDomainStatsRecordListFree. */
typedef struct {
    uniDomainPtr dom;
    uniRecordPtr record;
} uniDomainStatsRecord;
typedef uniDomainStatsRecord *uniDomainStatsRecordPtr;

typedef enum {
    UNI_DOMAIN_STATS_ACTIVE = 1 << 0,   /* only running (or paused) domains */
    UNI_DOMAIN_STATS_INACTIVE = 1 << 1, /* only inactive domains */
} uniDomainStatsFlags;

/**
 * uniConnectGetAllDomainStats:
 * Every domain's whole record: dom.* keys of Table 1 and 3 (state, UUID, vCPUs, CPU time and
 * utilisation, memory, interruption time, swap wait, perf counters, vNICs, disks, per-vCPU time,
 * last CPU and pinning) and the KVM statistics of Table 2 (dom.kvm.NAME per VM,
 * dom.vcpu.V.kvm.NAME per vCPU, under the kernel's names). Each domain is collected under the
 * connection's deadline (?vm_deadline_ms=, 1000 by default): a VM whose monitor does not answer
 * in time has dom.stale = 1 and its missing metrics absent with the reason; the others are
 * complete. Rates (dom.cpu.util_pct, *_rate) are over the window since the previous call on the
 * connection.
 * @select: NULL-terminated list of groups ("dom", "kvm") and/or dotted key prefixes ("dom.mem",
 *          "dom.vcpu.0.", "dom.kvm.exits"), or NULL for everything; only the sources the
 *          selection needs are read (no QMP conversation for "dom.mem_mb")
 * @ret_stats: set to a new NULL-terminated array (free with uniDomainStatsRecordListFree)
 * @flags: UNI_DOMAIN_STATS_ACTIVE and/or _INACTIVE; 0 for both
 * Returns: the number of records, or -1. Since: 0.2
 */
int uniConnectGetAllDomainStats(uniConnectPtr conn, const char *const *select, uniDomainStatsRecordPtr **ret_stats,
                                unsigned int flags);

/**
 * uniDomainListGetStats:
 * As uniConnectGetAllDomainStats for the domains of @doms (a NULL-terminated array, all of one
 * connection) only, in that order; a domain that is gone is left out.
 * Returns: the number of records, or -1. Since: 0.2
 */
int uniDomainListGetStats(uniDomainPtr *doms, const char *const *select, uniDomainStatsRecordPtr **ret_stats,
                          unsigned int flags);

/** uniDomainStatsRecordListFree: frees a list from uniConnectGetAllDomainStats (NULL is accepted). Since: 0.2 */
void uniDomainStatsRecordListFree(uniDomainStatsRecordPtr *stats);

/* ---------------------------------------------------------------------------------------------
 * Domains: the spec's Table 4 (the libvirt calls that collect and act on VM information) and each
 * VM's reliability class (spec 1.1). Since 0.3. The names and shapes are libvirt's where they can
 * be (virDomainGetInfo, virDomainPinVcpu ...), so that code written for libvirt reads naturally;
 * where libvirt fills caller-sized buffers these calls allocate. For libvirt's domains each call
 * goes to libvirt; for VMs found from their QEMU process it reads (and, to pin, writes) what the
 * kernel keeps of the process: /proc, sched_setaffinity and its cgroups (v1 and v2).
 * ------------------------------------------------------------------------------------------- */

/* libvirt's virDomainState numbers. */
typedef enum {
    UNI_DOMAIN_NOSTATE = 0,
    UNI_DOMAIN_RUNNING = 1,
    UNI_DOMAIN_BLOCKED = 2,
    UNI_DOMAIN_PAUSED = 3,
    UNI_DOMAIN_SHUTDOWN = 4,
    UNI_DOMAIN_SHUTOFF = 5,
    UNI_DOMAIN_CRASHED = 6,
    UNI_DOMAIN_PMSUSPENDED = 7,
} uniDomainState;

/* virDomainInfo's fields, plus the maximum vCPUs (virDomainGetMaxVcpus). */
typedef struct {
    unsigned char state;        /* a uniDomainState */
    unsigned long long maxMem;  /* the most memory the guest may have, KiB */
    unsigned long long memory;  /* the memory it has now, KiB */
    unsigned short nrVirtCpu;   /* vCPUs now */
    unsigned long long cpuTime; /* CPU time used, ns */
    unsigned int maxVcpus;      /* vCPUs it may have (hot-plug), >= nrVirtCpu */
} uniDomainInfo;
typedef uniDomainInfo *uniDomainInfoPtr;

/**
 * uniDomainGetInfo:
 * @dom: a domain
 * @info: filled with the domain's state, memory, vCPUs and CPU time
 * @flags: must be 0
 * The spec's get_info (virDomainGetInfo). For a VM found from its QEMU process: the state from
 * /proc/PID/stat, maxMem from -m (KiB), memory its resident set, vCPUs from -smp and its vCPU
 * threads, cpuTime utime+stime.
 * Returns: 0, or -1 (UNI_ERR_NO_DOMAIN when the domain is gone). Since: 0.3
 */
int uniDomainGetInfo(uniDomainPtr dom, uniDomainInfoPtr info, unsigned int flags);

/**
 * uniDomainGetMaxMemory:
 * The spec's get_max_memory (virDomainGetMaxMemory): the most memory the domain may have, KiB.
 * Returns: the size, or 0 on failure (the error says why). Since: 0.3
 */
unsigned long long uniDomainGetMaxMemory(uniDomainPtr dom, unsigned int flags);

/**
 * uniDomainGetMaxVcpus:
 * The spec's get_max_vCPUs (virDomainGetMaxVcpus): the vCPUs the domain may have.
 * Returns: the count, or -1. Since: 0.3
 */
int uniDomainGetMaxVcpus(uniDomainPtr dom, unsigned int flags);

/**
 * uniConnectGetAllDomainInfo:
 * @conn: a connection
 * @ret_domains: set to a new NULL-terminated array of domains (free each with uniDomainFree, the
 *               array with free())
 * @ret_infos: set to a new array, one info per domain in the same order (free with free())
 * @flags: UNI_CONNECT_LIST_DOMAINS_ACTIVE and/or _INACTIVE; 0 for both
 * The spec's get_domains_and_infos: the list and each domain's uniDomainGetInfo in one call (one
 * round trip through uniserverd).
 * Returns: the number of domains, or -1. Since: 0.3
 */
int uniConnectGetAllDomainInfo(uniConnectPtr conn, uniDomainPtr **ret_domains, uniDomainInfoPtr *ret_infos,
                               unsigned int flags);

/**
 * uniDomainGetXMLDesc:
 * @flags: must be 0
 * The spec's get_xml_desc (virDomainGetXMLDesc). For libvirt's domains, libvirt's XML. For a VM
 * found from its QEMU process, a libvirt-shaped description built from its command line (name,
 * uuid, memory, vCPUs, disks, NICs: docs/domains.md); it is not a definition libvirt could
 * start, and says so in a comment.
 * Returns: a new string (free with free()), or NULL. Since: 0.3
 */
char *uniDomainGetXMLDesc(uniDomainPtr dom, unsigned int flags);

/* A scheduler parameter, by libvirt's field names (VIR_DOMAIN_SCHEDULER_*): "cpu_shares",
 * "vcpu_period", "vcpu_quota", "global_period", "global_quota" ... A quota of -1 is no limit. */
#define UNI_FIELD_LENGTH 80
typedef struct {
    char field[UNI_FIELD_LENGTH];
    long long value;
} uniSchedParam;
typedef uniSchedParam *uniSchedParamPtr;

/**
 * uniDomainGetSchedulerType:
 * @nparams: set to the number of parameters uniDomainGetSchedulerParameters gives (may be NULL)
 * @flags: must be 0
 * The spec's get_scheduler_type: "posix" for KVM's (CFS) domains.
 * Returns: a new string (free with free()), or NULL. Since: 0.3
 */
char *uniDomainGetSchedulerType(uniDomainPtr dom, int *nparams, unsigned int flags);

/**
 * uniDomainGetSchedulerParameters:
 * @ret_params: set to a new array (free with free())
 * @flags: must be 0
 * The spec's get_scheduler_parameters. For libvirt's domains libvirt's. For a VM found from its
 * QEMU process the cgroup it runs in: cgroup v1 cpu.shares, cpu.cfs_period_us, cpu.cfs_quota_us
 * as cpu_shares, global_period, global_quota; cgroup v2 cpu.weight as cpu_shares (libvirt's
 * conversion: shares = weight * 1024 / 100) and cpu.max as global_quota and global_period.
 * Returns: the number of parameters, or -1. Since: 0.3
 */
int uniDomainGetSchedulerParameters(uniDomainPtr dom, uniSchedParamPtr *ret_params, unsigned int flags);

/* libvirt's vCPU states (virVcpuState). */
typedef enum { UNI_VCPU_OFFLINE = 0, UNI_VCPU_RUNNING = 1, UNI_VCPU_BLOCKED = 2 } uniVcpuState;
typedef struct {
    unsigned int number;        /* the vCPU's index */
    int state;                  /* a uniVcpuState */
    unsigned long long cpuTime; /* ns */
    int cpu;                    /* the host CPU it runs (or last ran) on, -1 when offline */
} uniVcpuInfo;
typedef uniVcpuInfo *uniVcpuInfoPtr;

/* CPU maps, as libvirt's: bit c of byte c/8 is host CPU c. */
#define UNI_CPU_MAPLEN(cpus) (((cpus) + 7) / 8)
#define UNI_CPU_USABLE(maps, maplen, vcpu, cpu) (((maps)[(vcpu) * (maplen) + (cpu) / 8] >> ((cpu) % 8)) & 1)
#define UNI_USE_CPU(map, cpu) ((map)[(cpu) / 8] |= (unsigned char)(1 << ((cpu) % 8)))

/**
 * uniDomainGetVcpus:
 * @ret_info: set to a new array, one entry per vCPU (free with free())
 * @ret_cpumaps: set to a new array of the vCPUs' affinities, UNI_CPU_MAPLEN(*ret_ncpus) bytes each
 *               (free with free()); may be NULL
 * @ret_ncpus: set to the number of host CPUs the maps cover
 * @flags: must be 0
 * The spec's get_vCPUs (virDomainGetVcpus): per vCPU its state, CPU time, current CPU and
 * affinity. For a VM found from its QEMU process: the vCPU threads' /proc/PID/task/TID/stat and
 * sched_getaffinity.
 * Returns: the number of vCPUs, or -1 (UNI_ERR_NO_DATA for a domain that is not running). Since: 0.3
 */
int uniDomainGetVcpus(uniDomainPtr dom, uniVcpuInfoPtr *ret_info, unsigned char **ret_cpumaps, int *ret_ncpus,
                      unsigned int flags);

/**
 * uniDomainPinVcpu:
 * @vcpu: the vCPU's index
 * @cpumap: the host CPUs it may run on (UNI_USE_CPU)
 * @maplen: bytes in @cpumap
 * @flags: must be 0
 * The spec's pin_vCPU (virDomainPinVcpu). A control call: refused on read-only connections
 * (UNI_ERR_ACCESS_DENIED), audited with the caller, read back (UNI_ERR_NOT_APPLIED when the
 * kernel or libvirt shows another affinity, which is then restored). For a VM found from its
 * QEMU process it sets the vCPU thread's affinity (sched_setaffinity), within the CPUs of the
 * VM's cpuset cgroup; for libvirt's domains libvirt pins (its cgroups and the thread).
 * Returns: 0, or -1: UNI_ERR_INVALID_ARG (an empty map, a vCPU that does not exist),
 * UNI_ERR_NO_CORE (a CPU that does not exist or is offline), UNI_ERR_OUT_OF_RANGE (a CPU outside
 * the VM's cpuset), UNI_ERR_NO_DOMAIN; nothing is changed then. Since: 0.3
 */
int uniDomainPinVcpu(uniDomainPtr dom, unsigned int vcpu, const unsigned char *cpumap, int maplen, unsigned int flags);

/**
 * uniDomainGetCPUStats:
 * @ret_cpu_time: set to a new array, the domain's CPU time on each host CPU in ns (free with free())
 * @flags: must be 0
 * The spec's get_pCPU_stats (virDomainGetCPUStats' per-CPU cpu_time). For a VM found from its
 * QEMU process: cgroup v1 cpuacct.usage_percpu of the VM's own cgroup. cgroup v2 keeps no per-CPU
 * time, and a VM in the host's root cgroup has none of its own: UNI_ERR_NO_DATA says so.
 * Returns: the number of host CPUs, or -1. Since: 0.3
 */
int uniDomainGetCPUStats(uniDomainPtr dom, unsigned long long **ret_cpu_time, unsigned int flags);

/* Reliability classes (spec 1.1; docs/domains.md says what each may be placed on). */
typedef enum {
    UNI_RELIABILITY_NORMAL = 0, /* the default */
    UNI_RELIABILITY_HIGH = 1,
    UNI_RELIABILITY_LOW = 2,
} uniReliabilityClass;

/**
 * uniDomainSetReliability:
 * @reliability: "high", "normal" or "low"
 * @flags: must be 0
 * Sets the domain's reliability class, the allocator's input. A control call (refused on
 * read-only connections, audited, read back and restored on failure). libvirt's domains keep it
 * in their metadata (element <reliability> of namespace urn:uniserver:libvirt:1, through libvirt);
 * a VM found from its QEMU process in uniserver's state file (reliability.state, kept across
 * restarts). The VM's record shows it (dom.reliability) from the next sample.
 * Returns: 0, or -1 (UNI_ERR_INVALID_ARG for an unknown class). Since: 0.3
 */
int uniDomainSetReliability(uniDomainPtr dom, const char *reliability, unsigned int flags);

/**
 * uniDomainGetReliability:
 * Returns: the domain's reliability class, "high", "normal" (also when none was set) or "low"
 * (static), or NULL. Since: 0.3
 */
const char *uniDomainGetReliability(uniDomainPtr dom, unsigned int flags);

/* ---------------------------------------------------------------------------------------------
 * Views, described (for bindings and shells that render any view generically)
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    const char *spec_name;       /* "getHostCPUStatisticsUniserver" */
    const char *c_name;          /* "uniNodeGetCPUStatistics" */
    const char *command;         /* "hostcpustats" */
    const char *summary;         /* one line */
    const unsigned int *metrics; /* metric ids in the spec's order */
    int nmetrics;
    /* Since 0.3: */
    long long window_ms; /* the window a shell waits between two samples for the view's rates (0: none) */
    const char *details; /* more for a shell's help, or NULL */
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
int uniHealthLogQueryCPU(uniConnectPtr conn, int core, long long since_ms, uniRecordPtr **ret_events,
                         unsigned int flags);

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
