/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Library internals shared by the public entry points and the drivers: connection and record
 * objects, the driver table, selections, error reporting and the compiled catalogue. */
#pragma once

#include <pthread.h>
#include <stdarg.h>

#include "uniserver/uniserver.h"
#include "util/util.h"

/* ---- catalogue ---- */
#include "catalog/metrics.def"
#include "catalog/views.def"

enum {
#define UNI_M_ENUM_(e, id, ...) UNI_M_##e = id,
    UNI_METRICS(UNI_M_ENUM_)
#undef UNI_M_ENUM_
};
enum {
#define UNI_M_COUNT_(e, ...) +1
    UNI_NMETRICS = 0 UNI_METRICS(UNI_M_COUNT_)
#undef UNI_M_COUNT_
};

enum {
#define UNI_V_ENUM_(e, ...) UNI_VIEW_##e,
    UNI_VIEWS(UNI_V_ENUM_)
#undef UNI_V_ENUM_
    UNI_NVIEWS
};

#define UNI_GROUPS(G) G(CPU, "cpu") G(FREQ, "freq") G(CONTENTION, "contention") G(MEM, "mem") \
    G(MEMHW, "memhw") G(TEMP, "temp") G(POWER, "power") G(PSI, "psi") G(ERRORS, "errors") \
    G(VMS, "vms") G(DOM, "dom") G(KVM, "kvm") G(SOURCES, "sources")
typedef enum {
#define UNI_G_ENUM_(e, s) UNI_GROUP_##e,
    UNI_GROUPS(UNI_G_ENUM_)
#undef UNI_G_ENUM_
    UNI_NGROUPS
} uni_group;

extern const uniMetricDesc uni_catalog[UNI_NMETRICS];
extern const uint8_t uni_catalog_group[UNI_NMETRICS];
const char *uni_group_name(unsigned g);
int uni_group_from_name(const char *s);
/* The placeholder kind of a template segment: 'i' numeric (N V I), 's' string (L C D NAME), 0 none. */
char uni_placeholder_kind(const char *seg, size_t len);
/* Metric id of an exact template key ("host.cpu.N.freq_mhz"), or -1. */
int uni_catalog_find(const char *key);

/* ---- errors ---- */
void uni_error_set(int code, const char *fmt, ...) _printf_(2, 3);
void uni_error_setv(int code, const char *fmt, va_list ap);
/* Set the error from an internal -errno with context: -ENOENT -> NO_SOURCE, -EBADMSG ->
 * PARSE_FAILED, -ENOMEM -> NO_MEMORY, else SYSTEM_ERROR. */
void uni_error_errno(int neg_errno, const char *fmt, ...) _printf_(2, 3);

/* ---- selections ---- */
#define UNI_BITMAP_BYTES(n) (((n) + 7) / 8)
typedef struct {
    uint8_t metrics[UNI_BITMAP_BYTES(UNI_NMETRICS)]; /* wanted metric ids */
    uint8_t whole[UNI_BITMAP_BYTES(UNI_NMETRICS)];   /* wanted for every instance */
    uint32_t groups;                                 /* groups of the wanted metrics */
    char **prefixes; /* instance-specific prefixes ("host.cpu.3."): samples are filtered by key */
    size_t nprefixes;
    const char *const *list; /* the caller's list as given (NULL: everything), for the wire */
} uni_select;

static inline bool uni_select_has(const uni_select *s, unsigned metric) {
    return s->metrics[metric / 8] & (1u << (metric % 8));
}
static inline bool uni_select_group(const uni_select *s, unsigned g) {
    return s->groups & (1u << g);
}
void uni_select_add(uni_select *s, unsigned metric);
void uni_select_all(uni_select *s);
/* Build from a caller's list of groups and prefixes; -1 with UNI_ERR_UNKNOWN_METRIC on a name
 * that matches nothing. */
int uni_select_parse(uni_select *s, const char *const *list);
void uni_select_done(uni_select *s);

/* ---- records ---- */
struct _uniRecord {
    const uniMetricDesc *descs;
    unsigned ndescs;
    uniSample *samples;
    size_t n, cap;
    uniAbsence *absent;
    size_t nabsent, capabsent;
    struct arena_chunk *arena;
    long long window_ms, timestamp;
    const uni_select *sel; /* while a driver fills it */
    uint8_t present[UNI_BITMAP_BYTES(UNI_NMETRICS)], absentmap[UNI_BITMAP_BYTES(UNI_NMETRICS)];
};

uniRecordPtr uni_record_new(const uniMetricDesc *descs, unsigned ndescs);
static inline bool rec_wants(uniRecordPtr r, unsigned metric) {
    /* A metric beyond our catalogue (from a newer daemon) was selected by that daemon. */
    return !r->sel || metric >= UNI_NMETRICS || uni_select_has(r->sel, metric);
}
/* Append a sample (no-op when the metric is not wanted). Strings are copied into the record. */
int rec_u64(uniRecordPtr r, unsigned metric, int index, const char *name, uint64_t v);
/* Instance names that recur in every sample (KVM statistics' names), kept once for the life of
 * the process: the same pointer for the same text. NULL when out of memory or past a bound on
 * their number (then copy the name into each record as usual). */
const char *rec_intern(const char *name);
/* Room for @nsamples samples and @nabsent absences at once (a size the last record of the same
 * kind had): fewer reallocations. Best effort. */
void rec_reserve(uniRecordPtr r, size_t nsamples, size_t nabsent);
/* rec_u64 with a name from rec_intern: referred to, not copied. */
int rec_u64_interned(uniRecordPtr r, unsigned metric, int index, const char *interned, uint64_t v);
int rec_dbl(uniRecordPtr r, unsigned metric, int index, const char *name, double v);
int rec_str(uniRecordPtr r, unsigned metric, int index, const char *name, const char *v);
/* Append a copy of sample @s (strings copied into @r). */
int rec_copy(uniRecordPtr r, const uniSample *s);
/* Mark a metric absent with a readable reason (the first reason given wins; a metric that
 * already has samples is not marked). */
void rec_absent(uniRecordPtr r, unsigned metric, const char *fmt, ...) _printf_(3, 4);
/* The same for a metric of which some instances are present and others cannot be (the spec's
 * error views name components: l2 and l3 absent on a host with EDAC but no machine checks). */
void rec_absent_partial(uniRecordPtr r, unsigned metric, const char *fmt, ...) _printf_(3, 4);
bool rec_has(uniRecordPtr r, unsigned metric);
char *rec_strdup(uniRecordPtr r, const char *s);
/* After a driver ran: drop samples outside instance prefixes, and give every wanted metric that
 * is neither present nor explained a reason. */
void rec_finish(uniRecordPtr r, const uni_select *sel, const char *why_missing);
int uni_format_key(const uniMetricDesc *d, int index, const char *name, char *buf, size_t len);
/* A new record holding what @sel selects of @full (uniserverd serves selections from its cache). */
int uni_record_filter(uniRecordPtr full, const uni_select *sel, uniRecordPtr *ret);
/* The spec's view @view built from a record holding (at least) the view's metrics. */
int uni_view_build(uniRecordPtr full, int view, uniRecordPtr *ret);
/* The selection of view @view's metrics. */
void uni_view_select(int view, uni_select *sel);

/* ---- URIs ---- */
typedef struct {
    char *scheme;    /* "uniserver", "test" */
    char *transport; /* after '+', or NULL */
    char *host;      /* may be NULL */
    int port;        /* -1 when none */
    char *path;      /* "/system" */
    char **keys, **values; /* decoded query parameters */
    size_t nparams;
} uni_uri;
int uni_uri_parse(const char *s, uni_uri *ret);
void uni_uri_done(uni_uri *u);
/* Value of query parameter @key or NULL; marks it used. */
const char *uni_uri_param(const uni_uri *u, const char *key);
/* -1 with UNI_ERR_INVALID_URI if a parameter not in @known (NULL-terminated) is present. */
int uni_uri_check_params(const uni_uri *u, const char *const *known);

/* ---- control (control.c) ---- */
/* The cores a control call moved: drivers add them in ascending order; only the first @max are
 * stored, @n counts them all. */
typedef struct {
    int *cores;
    int max;
    int n;
} uni_core_set;
static inline void uni_core_set_add(uni_core_set *s, int core) {
    if (s->n < s->max)
        s->cores[s->n] = core;
    s->n++;
}

/* "2400000" (kHz), "2400MHz", "2.4GHz", "2400000kHz", "2400000000Hz", units case-insensitive, to
 * kHz: -EINVAL malformed or unknown unit, -EDOM not a whole kHz, -ERANGE zero or above
 * cpufreq's range (UINT32_MAX kHz) or overflow. */
int uni_parse_frequency_khz(const char *s, uint64_t *ret_khz);
/* The driver-independent checks, each setting the error that names the value:
 * a core that is not there (UNI_ERR_NO_CORE: "core 12 does not exist (0-7 online)", or "core 7
 * is offline (0-6 online)"); a frequency outside [min, max] (UNI_ERR_OUT_OF_RANGE) or not in
 * the available list when there is one (UNI_ERR_OUT_OF_RANGE); a name not among the
 * space-separated @available (UNI_ERR_INVALID_ARG: "governor 'turbo' is not available for core
 * 0 (available: ...)"). The checks return 0 or -1. */
int uni_error_no_core(int core, bool exists, const char *online_list);
int uni_check_frequency(int core, uint64_t khz, const char *text, uint64_t min_khz, uint64_t max_khz,
                        const uint64_t *avail, size_t navail);
int uni_check_listed(const char *what, const char *name, int core, const char *available);
/* Whether @name is one of the blank-separated words of @list. */
bool uni_word_in_list(const char *name, const char *list);
/* The power policy a core runs (host.cpu.power_policy): from its governor, overridden by its
 * energy_performance_preference where it has one (NULL for an EPP value we cannot name). */
const char *uni_policy_of_governor(const char *governor);
const char *uni_policy_of_epp(const char *epp);
/* What to write for power policy @policy ("power", "balanced", "performance", or a raw EPP
 * name): with EPP (@epp_available non-NULL) the EPP value; without, the governor, given the
 * current governor and the available ones. NULL with the error set when impossible. */
const char *uni_policy_to_epp(const char *policy, int core, const char *epp_available);
const char *uni_policy_to_governor(const char *policy, int core, const char *current, const char *available);

/* Operating-point lists (uniNodeGetOperatingPoints), built by drivers. Returns the domain's
 * index, or -ENOMEM. @members may be NULL. */
int uni_opp_add_domain(uniOppListPtr l, int kind, int id, const char *name, const int *cores, int ncores,
                       const char *const *members, int nmembers);
int uni_opp_add_param(uniOppListPtr l, int domain, const uniOppParam *p);
uniOppListPtr uni_opp_list_new(void);
/* Find a domain by name, or NULL; and a parameter of it by name, or NULL. */
const uniOppDomain *uni_opp_find(uniOppListPtr l, const char *name, int *ret_index);
const uniOppParam *uni_opp_find_param(uniOppListPtr l, int domain, const char *name);
/* Check a value against a parameter: limits, step, read-only (sets the error: OUT_OF_RANGE,
 * NO_SUPPORT). */
int uni_opp_check(const uniOppDomain *d, const uniOppParam *p, long long value);

/* ---- audit ----
 * Every change a control call makes is reported, write by write, to a hook: the daemon sets one
 * that logs (with the caller's identity it sets per request); the library alone logs nothing.
 * The event and its strings live only during the call. */
typedef struct {
    const char *call;      /* the public call: "uniNodeSetFrequency" */
    const char *caller;    /* uni_audit_set_caller()'s identity, else "pid P uid U (in-process)" */
    const char *uri;       /* the connection's URI */
    const char *object;    /* what was changed: "core 4 (cpus 4 5)", "pmd2", "mc1" */
    const char *attribute; /* the file or parameter: "$SYSFS/devices/system/cpu/cpu4/cpufreq/scaling_setspeed" */
    const char *before;    /* the value read before the write */
    const char *after;     /* the value written */
    int error;             /* 0 written and read back; -errno failed; -EREMOTEIO read back different */
    bool rollback;         /* a write restoring @before after a later step failed */
} uni_audit_event;
typedef void (*uni_audit_fn)(const uni_audit_event *ev, void *userdata);
/* Install the hook (NULL removes it). Process-wide; set it before connections are used. */
void uni_set_audit_hook(uni_audit_fn fn, void *userdata);
/* The identity of whoever this thread is serving now ("uid 1000 pid 4242 on the rw socket");
 * NULL resets to the in-process default. The string is copied. */
void uni_audit_set_caller(const char *identity);
/* Drivers: report one write. */
void uni_audit(uniConnectPtr conn, const char *object, const char *attribute, const char *before, const char *after,
               int error, bool rollback);

/* ---- domains ---- */
/* What a driver says identifies a domain: a name, a UUID ("" when the VM has none: a QEMU
 * started without -uuid), whether it runs, and an id (QEMU's PID, libvirt's id, -1). */
typedef struct {
    char *name;
    char uuid[UNI_UUID_STRING_BUFLEN];
    bool active;
    long long id;
} uni_domain_info;
void uni_domain_info_done(uni_domain_info *d);
/* Does @d denote the same domain as @ref (by UUID when @ref has one, else by name)? */
bool uni_domain_info_matches(const uni_domain_info *d, const uni_domain_info *ref);

/* One domain's record, as a driver returns it. */
typedef struct {
    uni_domain_info info;
    uniRecordPtr rec;
} uni_domain_stats;
void uni_domain_stats_free(uni_domain_stats *v, size_t n);
void uni_domain_infos_free(uni_domain_info *v, size_t n);
/* A copy of the infos of @n records (free with uni_domain_infos_free); -ENOMEM. */
int uni_domain_infos_copy(const uni_domain_stats *v, size_t n, uni_domain_info **ret);
/* The driver's domains (list_domains), and their finished records (domain_stats), each under the
 * connection's lock; -1 with the error set. uniserverd samples its cache through these. */
int uni_domain_list(uniConnectPtr conn, uni_domain_info **ret, size_t *ret_n);
int uni_domain_collect(uniConnectPtr conn, const uni_select *sel, const uni_domain_info *only, size_t nonly,
                       uni_domain_stats **ret, size_t *ret_n);

/* Selections over the domain record (dom.*): groups "dom" and "kvm", dotted prefixes; NULL for
 * every domain metric. -1 with UNI_ERR_UNKNOWN_METRIC on a name that matches nothing. */
int uni_select_parse_domain(uni_select *s, const char *const *list);

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

    /* HealthLog events as records (NULL-terminated array); returns the count. */
    int (*healthlog_query)(uniConnectPtr conn, const uni_healthlog_query *q, uniRecordPtr **ret);
    /* Wait for the HealthLog to change: 1 changed, 0 timeout. */
    int (*healthlog_wait)(uniConnectPtr conn, int timeout_ms);
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
};

struct _uniDomain {
    uniConnectPtr conn;
    uni_domain_info info;
};

/* Argument checks of the public entry points: set the error and return @ret. */
#define CHECK_FLAGS(flags, allowed, ret)                                                           \
    do {                                                                                           \
        if ((flags) & ~(unsigned)(allowed)) {                                                      \
            uni_error_set(UNI_ERR_INVALID_ARG, "%s: unsupported flags 0x%x", __func__,             \
                          (flags) & ~(unsigned)(allowed));                                         \
            return ret;                                                                            \
        }                                                                                          \
    } while (0)

#define CHECK_CONN(conn, ret)                                                                      \
    do {                                                                                           \
        if (!(conn) || !(conn)->driver) {                                                          \
            uni_error_set(UNI_ERR_INVALID_CONN, "%s: invalid connection", __func__);               \
            return ret;                                                                            \
        }                                                                                          \
    } while (0)

/* Drop a reference; the last one closes the driver and frees the connection. Returns the
 * references left. */
int uni_conn_unref(uniConnectPtr conn);
/* ---- the spec's views (catalog/views.def) ---- */
/* The spec's view @view built from the full record @full into *ret (-1 with the error set). */
int uni_view_from_record(int view, uniRecordPtr full, uniRecordPtr *ret);

extern const uni_driver uni_local_driver;
extern const uni_driver uni_test_driver;
extern const uni_driver uni_remote_driver;

/* Clock used for windows and rates: tests replace it for deterministic output. */
extern uint64_t (*uni_clock_ns)(void);
extern int64_t (*uni_clock_wall_ms)(void);
