/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HealthLog: uni-healthd's SQLite database of hardware events (one writer, any number of
 * readers, WAL), its tables described once (catalog/events.def and the column lists in
 * store.c), the error metrics computed from it, and the change notification readers wait on. */
#pragma once

#include "lib/internal.h"
#include "catalog/events.def"

/* The system default, as uniserver:///system reads it and uni-healthd writes it. */
#define HL_DEFAULT_PATH "/var/lib/uniserver/healthlog.db"
/* The schema this code writes (PRAGMA user_version). Readers accept older and newer ones,
 * reading the columns they have. */
#define HL_SCHEMA_VERSION 1

typedef int64_t hl_I64;
typedef const char *hl_STR; /* owned (cast for free) after a read */

enum {
#define HL_F_ENUM_(n, id, ...) HL_F_##n = id,
    UNI_EVENT_FIELDS(HL_F_ENUM_)
#undef HL_F_ENUM_
};
enum {
#define HL_F_COUNT_(...) +1
    HL_NFIELDS = 0 UNI_EVENT_FIELDS(HL_F_COUNT_)
#undef HL_F_COUNT_
};

/* One event. Integers are present when their bit (HL_F_name) is set in @set; strings when not
 * NULL. Strings are borrowed when inserting; owned after hl_query (free with hl_event_clear). */
typedef struct {
    uint64_t set;
#define HL_EV_MEMBER_(n, id, ct, ...) hl_##ct n;
    UNI_EVENT_FIELDS(HL_EV_MEMBER_)
#undef HL_EV_MEMBER_
} hl_event;

#define HL_SET(e, f, v)                                                                                                \
    do {                                                                                                               \
        (e)->f = (v);                                                                                                  \
        (e)->set |= 1ull << HL_F_##f;                                                                                  \
    } while (0)
#define HL_HAS(e, f) (((e)->set >> HL_F_##f) & 1)
void hl_event_clear(hl_event *e);

/* A VM an event may have touched (links table). */
typedef struct {
    uint64_t set;
    int64_t event_id;
    char *vm;     /* the VM's name */
    int64_t pid;  /* its QEMU process */
    int64_t vcpu; /* the vCPU, for CPU errors */
    char *how;    /* ran_on, pinned, maps_page */
    char *detail;
} hl_link;

/* A sensor reading (samples table): the metric's dotted key and its value. */
typedef struct {
    uint64_t set;
    int64_t time_ms;
    char *key;
    double value;
} hl_sample;

/* A memory module as SMBIOS type 17 or EDAC describes it (dimms table). */
typedef struct {
    uint64_t set;
    char *source; /* smbios, edac */
    char *label;  /* SMBIOS device locator, EDAC dimm label */
    char *location;
    int64_t size_mb;
    char *mem_type;
    int64_t speed_mts;      /* maximum capable speed, MT/s (SMBIOS < 3.1 calls it MHz) */
    int64_t configured_mts; /* configured speed */
    char *manufacturer, *part;
} hl_dimm;

typedef struct hl_db hl_db;

enum {
    HL_OPEN_WRITE = 1 << 0,  /* the one writer: create, migrate, take the writer lock */
    HL_OPEN_MEMORY = 1 << 1, /* a writable HealthLog in memory (@path is only its name): the test driver's */
};
/* Open the HealthLog at @path. A reader gets -ENOENT when there is no file and -ENODATA when it
 * is not (yet) a HealthLog; a writer gets -EBUSY when another writer holds it and -EUCLEAN when
 * the database is damaged (PRAGMA quick_check). On failure @err (may be NULL) says why, naming
 * the path. */
int hl_open(const char *path, unsigned flags, hl_db **ret, char *err, size_t errlen);
/* Move the HealthLog at @path (and its -wal and -shm files) aside to REAL.damaged-TIME, kept for
 * forensics, so that a new one can start; @ret_new (@len bytes) gets the new name. -errno. */
int hl_move_aside(const char *path, char *ret_new, size_t len);
void hl_close(hl_db *db);
const char *hl_path(hl_db *db);
const char *hl_errmsg(hl_db *db);

/* Writer side. Everything between hl_begin and hl_commit is one transaction: nothing of it is
 * acknowledged before hl_commit returns 0 (then it is on disk: synchronous=FULL). */
int hl_begin(hl_db *db);
int hl_commit(hl_db *db);
void hl_rollback(hl_db *db);
/* Insert @e (its id is set on return) and, when it is counted, add it to the running totals. */
int hl_insert_event(hl_db *db, hl_event *e);
int hl_insert_link(hl_db *db, const hl_link *l);
int hl_insert_sample(hl_db *db, const hl_sample *s);
int hl_upsert_dimm(hl_db *db, const hl_dimm *d);
/* Small persistent integers (EDAC counter baselines, capabilities, import progress). */
int hl_state_get(hl_db *db, const char *key, int64_t *ret); /* -ENOENT when unset */
int hl_state_set(hl_db *db, const char *key, int64_t value);
/* Delete events older than @min_time_ms and beyond the newest @max_events (0: no limit), and
 * samples older than @sample_min_time_ms, at most @batch rows per call. Returns rows deleted. */
int64_t hl_retention(hl_db *db, int64_t min_time_ms, int64_t max_events, int64_t sample_min_time_ms, int64_t batch);

/* Reader side. */
typedef struct {
    const char *dimm;         /* NULL: any */
    int64_t cpu;              /* -1: any */
    const char *class;        /* "memory", "cpu" ...; NULL: any */
    const char *action;       /* action events of this kind only; NULL: any */
    int64_t since_ms;         /* INT64_MIN: from the start */
    int64_t after_id;         /* only events with a larger id (0: all) */
    int64_t addr_lo, addr_hi; /* address range [lo, hi) when hi > lo */
    unsigned severities;      /* HL_SEV_* bits; 0: any */
    bool with_actions;        /* also action events about the same DIMM / core */
    bool counted_only;
    size_t limit; /* 0: no limit; more matches fail with -E2BIG */
} hl_filter;
enum { HL_SEV_CORRECTED = 1 << 0, HL_SEV_UNCORRECTED = 1 << 1 /* uncorrected, deferred, fatal */ };
void hl_filter_init(hl_filter *f);
/* The events @f selects, oldest first (in commit order with after_id). */
int hl_query(hl_db *db, const hl_filter *f, hl_event **ret, size_t *ret_n);
void hl_events_free(hl_event *ev, size_t n);
/* Sum of counts of the events @f selects. */
int hl_count(hl_db *db, const hl_filter *f, int64_t *ret);
/* The VMs linked to event @id, as "name (pid N): how[, ...]" in a new string (NULL: none). */
int hl_links_text(hl_db *db, int64_t id, char **ret);
/* Corrected and uncorrected errors since @since_ms of the events linked to the VM named @vm. */
int hl_vm_counts(hl_db *db, const char *vm, int64_t since_ms, int64_t *ret_ce, int64_t *ret_ue);
int hl_links_for(hl_db *db, int64_t id, hl_link **ret, size_t *ret_n);
void hl_links_free(hl_link *l, size_t n);
/* The configured memory speed (MT/s) of the populated modules (the lowest when they differ). */
int hl_mem_speed(hl_db *db, int64_t *ret);
/* Cheap change detection: changes when another connection committed (PRAGMA data_version). */
int64_t hl_data_version(hl_db *db);

/* The error metrics (group "errors", and host.mem.speed_mhz) computed from the HealthLog into
 * @rec, rates over the 1, 5 and 60 minutes before @now_ms. Per-core counts cover the CPUs set in
 * @online (a bitmap of @ncpu bits; NULL: the cores with errors), per-DIMM counts every DIMM EDAC
 * describes and every label an error named. */
enum { HL_CAP_MEMORY = 1 << 0, HL_CAP_CPU = 1 << 1 };
/* @ret_caps (may be NULL) gets HL_CAP_* for the classes of errors the host has a source of. */
int hl_collect(hl_db *db, uniRecordPtr rec, int64_t now_ms, const uint8_t *online, unsigned ncpu, unsigned *ret_caps);

/* The event-field descriptors (id-indexed, key "event.NAME"), and one event as a record of
 * them: the shape uniHealthLogQueryMemory/CPU return. */
extern const uniMetricDesc uni_event_catalog[HL_NFIELDS];
int hl_event_to_record(const hl_event *e, uniRecordPtr *ret);

/* A HealthLog query of the API (uniHealthLogQueryMemory/CPU) as a NULL-terminated array of
 * event records; returns the count, -E2BIG beyond UNI_HEALTHLOG_MAX_EVENTS. */
int hl_query_records(hl_db *db, const uni_healthlog_query *q, uniRecordPtr **ret);

/* Notification: an inotify fd (non-blocking) that becomes readable when the HealthLog at @path
 * (or its -wal) is written or created. hl_watch_drain reads what is pending and returns 1 when
 * it concerned the HealthLog, 0 otherwise, -errno on failure. */
/* The action spool (spool.c): the changes control calls make, appended beside the HealthLog by
 * whoever makes them, imported by its writer (uni-healthd) as action events (source "control"). */
#define HL_SPOOL_SUFFIX "-actions"
/* Append @e to the spool of the HealthLog at @db: 0, or -errno (-ENOENT: no HealthLog there). */
int hl_spool_append(const char *db, const hl_event *e);
/* The writer: import what the spool holds; returns the events added (@ret_bad: lines skipped as
 * malformed or torn), or -errno with @why (-EPERM: a spool file not owned by root or us, or
 * writable by others, is left alone). */
int64_t hl_spool_import(hl_db *db, const char *dbpath, int64_t *ret_bad, char *why, size_t wl);
/* An event's stored fields as one line of JSON (malloc'd; NULL: out of memory), and back
 * (strings owned: hl_event_clear; -EBADMSG when it is not an object of the right types). */
char *hl_event_to_json(const hl_event *e);
int hl_event_from_json(const char *line, hl_event *e);

int hl_watch_open(const char *path);
int hl_watch_drain(int fd, const char *path);

/* Component and class vocabulary. */
const char *hl_class_of_component(const char *component);
/* A DIMM label usable as one segment of a dotted key: dots and blanks become '_'. */
void hl_label_sanitize(char *s);
