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
int rec_dbl(uniRecordPtr r, unsigned metric, int index, const char *name, double v);
int rec_str(uniRecordPtr r, unsigned metric, int index, const char *name, const char *v);
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
    pthread_mutex_t lock; /* one call at a time per connection: drivers keep sample state */
};

extern const uni_driver uni_local_driver;
/* The HealthLog a local connection reads, or NULL for other drivers (uniserverd watches it). */
const char *uni_local_healthlog_path(uniConnectPtr conn);
/* bench/: the fds one whole-record sample of a local connection reads. */
size_t uni_local_sample_fds(uniConnectPtr conn, int *fds, size_t max);
extern const uni_driver uni_test_driver;
extern const uni_driver uni_remote_driver;

/* Clock used for windows and rates: tests replace it for deterministic output. */
extern uint64_t (*uni_clock_ns)(void);
extern int64_t (*uni_clock_wall_ms)(void);
