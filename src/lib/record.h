/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Records (struct _uniRecord): typed samples and absences with reasons, how drivers fill them,
 * and the views built from them. */
#pragma once

#include "lib/select.h"

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
/* The kind of a statistic whose instance name is interned, as its source described it (a KVM
 * statistic's descriptor: cumulative, instant or peak). The catalogue has one row for every KVM
 * statistic; the exposition asks this to type each family (counter or gauge). Names not interned
 * (a record from the wire) are UNKNOWN: the catalogue's kind stands. */
typedef enum { REC_NAME_UNKNOWN, REC_NAME_COUNTER, REC_NAME_GAUGE } rec_name_kind;
void rec_name_set_kind(const char *interned, rec_name_kind kind);
rec_name_kind rec_name_get_kind(const char *name);
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
/* Forget that @metric is absent (uniserverd fills what its source's driver left absent). */
void rec_unabsent(uniRecordPtr r, unsigned metric);
/* Mark absent what only uniserverd's ledger has (host.availability.*, host.energy.1h_kwh and
 * 24h_kwh), saying so: the drivers' records made in-process. */
void rec_absent_ledger(uniRecordPtr r);
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
/* The released wire procedure of view @view, or 0: the view travels as UNI_PROC_NODE_GET_VIEW. */
int uni_view_proc(int view);
/* The view of that spec name ("getHostCPUStatisticsUniserver"), or -1. */
int uni_view_find(const char *spec_name);
/* Whether view @view describes one domain (its keys are dom.*): asked of a domain, not the host. */
bool uni_view_is_domain(int view);

/* ---- the spec's views (catalog/views.def) ---- */
/* The spec's view @view built from the full record @full into *ret (-1 with the error set). */
int uni_view_from_record(int view, uniRecordPtr full, uniRecordPtr *ret);
