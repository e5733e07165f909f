/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HealthLog in SQLite: every table is a list of columns {name, type, offset in its struct}
 * that drives CREATE, the migration (ALTER TABLE ADD COLUMN for a column the file lacks), INSERT
 * and SELECT, so a column is named once and bound by name, never by position (the scar of
 * rasdaemon's ras-record.c). WAL, synchronous=FULL, one writer holding a lock, readers that read
 * the columns their file has. */
#include <fcntl.h>
#include <libgen.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "healthlog.h"

/* ---------------------------------------------------------------------------------------------
 * Tables, described once
 * ------------------------------------------------------------------------------------------- */

typedef enum { T_I64, T_STR, T_DBL } col_type;
typedef struct {
    const char *name;
    col_type type;
    size_t offset;
    unsigned bit; /* presence bit of a number in the row's `set` */
} column;

typedef struct {
    const char *name;
    const column *cols;
    size_t ncols;
    size_t set_offset;
    const char *autoinc;     /* the INTEGER PRIMARY KEY AUTOINCREMENT column, or NULL */
    const char *constraints; /* inside CREATE TABLE (...), after the columns */
    const char *insert_tail; /* after INSERT ... VALUES (...) */
    const char *const *indexes; /* "name(columns)", NULL-terminated */
} table;

#define COL_IF_1(st, n, id, ct) {#n, T_##ct, offsetof(st, n), id},
#define COL_IF_0(st, n, id, ct)
#define EV_COL_(n, id, ct, col, ...) COL_IF_##col(hl_event, n, id, ct)
static const column event_cols[] = {UNI_EVENT_FIELDS(EV_COL_)};
#undef EV_COL_

#define COL(st, n, ct, bit) {#n, T_##ct, offsetof(st, n), bit}
static const column link_cols[] = {
    COL(hl_link, event_id, I64, 0), COL(hl_link, vm, STR, 1), COL(hl_link, pid, I64, 2),
    COL(hl_link, vcpu, I64, 3), COL(hl_link, how, STR, 4), COL(hl_link, detail, STR, 5),
};
static const column sample_cols[] = {
    COL(hl_sample, time_ms, I64, 0), COL(hl_sample, key, STR, 1), COL(hl_sample, value, DBL, 2),
};
static const column dimm_cols[] = {
    COL(hl_dimm, source, STR, 0), COL(hl_dimm, label, STR, 1), COL(hl_dimm, location, STR, 2),
    COL(hl_dimm, size_mb, I64, 3), COL(hl_dimm, mem_type, STR, 4), COL(hl_dimm, speed_mts, I64, 5),
    COL(hl_dimm, configured_mts, I64, 6), COL(hl_dimm, manufacturer, STR, 7), COL(hl_dimm, part, STR, 8),
};

/* Persistent integers, and the running totals of counted errors by (scope, name, severity, bits):
 * scope "component" (name class/component), "dimm" (label) and "core" (CPU number). */
typedef struct {
    uint64_t set;
    char *key;
    int64_t value;
} hl_state_row;
typedef struct {
    uint64_t set;
    char *scope, *name, *severity, *bits;
    int64_t count;
} hl_total_row;
static const column state_cols[] = {COL(hl_state_row, key, STR, 0), COL(hl_state_row, value, I64, 1)};
static const column total_cols[] = {
    COL(hl_total_row, scope, STR, 0), COL(hl_total_row, name, STR, 1), COL(hl_total_row, severity, STR, 2),
    COL(hl_total_row, bits, STR, 3), COL(hl_total_row, count, I64, 4),
};
#undef COL

static const char *const event_indexes[] = {
    /* Covering index of the error metrics' windows: a range scan of the last hour. */
    "events_window(counted, time_ms, class, component, severity, bits, count)",
    "events_dimm(dimm, time_ms)",
    "events_cpu(cpu, time_ms)",
    "events_address(address, time_ms)",
    "events_time(time_ms)",
    NULL,
};
static const char *const link_indexes[] = {"links_event(event_id)", NULL};
static const char *const sample_indexes[] = {"samples_time(time_ms)", NULL};
static const char *const no_indexes[] = {NULL};

enum { TAB_EVENTS, TAB_LINKS, TAB_SAMPLES, TAB_DIMMS, TAB_STATE, TAB_TOTALS, NTABLES };
static const table tables[NTABLES] = {
    [TAB_EVENTS] = {"events", event_cols, ELEMENTSOF(event_cols), offsetof(hl_event, set), "id", NULL, NULL, event_indexes},
    [TAB_LINKS] = {"links", link_cols, ELEMENTSOF(link_cols), offsetof(hl_link, set), NULL, NULL, NULL, link_indexes},
    [TAB_SAMPLES] = {"samples", sample_cols, ELEMENTSOF(sample_cols), offsetof(hl_sample, set), NULL, NULL, NULL, sample_indexes},
    [TAB_DIMMS] = {"dimms", dimm_cols, ELEMENTSOF(dimm_cols), offsetof(hl_dimm, set), NULL, "PRIMARY KEY (source, label)",
                   "ON CONFLICT (source, label) DO UPDATE SET location = excluded.location, size_mb = excluded.size_mb, "
                   "mem_type = excluded.mem_type, speed_mts = excluded.speed_mts, configured_mts = excluded.configured_mts, "
                   "manufacturer = excluded.manufacturer, part = excluded.part", no_indexes},
    [TAB_STATE] = {"state", state_cols, ELEMENTSOF(state_cols), offsetof(hl_state_row, set), NULL, "PRIMARY KEY (key)",
                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value", no_indexes},
    [TAB_TOTALS] = {"totals", total_cols, ELEMENTSOF(total_cols), offsetof(hl_total_row, set), NULL,
                    "PRIMARY KEY (scope, name, severity, bits)",
                    "ON CONFLICT (scope, name, severity, bits) DO UPDATE SET count = count + excluded.count", no_indexes},
};

/* ---------------------------------------------------------------------------------------------
 * SQL from the descriptions
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    char *s;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) _printf_(2, 3);
static void sb_add(sbuf *b, const char *fmt, ...) {
    va_list ap;
    int n;
    if (b->oom)
        return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        {
            size_t nc = (b->cap + (size_t)n + 1) * 2;
            char *ns = realloc(b->s, nc);
            if (!ns) {
                b->oom = true;
                return;
            }
            b->s = ns;
            b->cap = nc;
        }
    }
}

static const char *sql_type(col_type t) {
    return t == T_I64 ? "INTEGER" : t == T_DBL ? "REAL" : "TEXT";
}

static bool col_is_key(const table *t, const column *c) {
    return t->autoinc && streq(t->autoinc, c->name);
}

struct hl_db {
    sqlite3 *db;
    char *path;
    bool writer;
    int lock_fd;
    bool in_tx;
    /* Columns the file has (readers of an older file select NULL for the rest). */
    uint64_t present[NTABLES];
    sqlite3_stmt *ins[NTABLES];
    sqlite3_stmt *state_get;
    sqlite3_stmt *links_get; /* prepared once: every event of a query looks up its links */
    char err[512];
};

const char *hl_path(hl_db *db) {
    return db->path;
}

const char *hl_errmsg(hl_db *db) {
    return db->err[0] ? db->err : sqlite3_errmsg(db->db);
}

static int sql_fail(hl_db *db, int rc, const char *what) {
    snprintf(db->err, sizeof(db->err), "%s: %s: %s", db->path, what, sqlite3_errmsg(db->db));
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return -EBADMSG;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_READONLY:
        return -EROFS;
    default:
        return -EIO;
    }
}

static int exec(hl_db *db, const char *sql) {
    int rc = sqlite3_exec(db->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sql_fail(db, rc, sql);
}

static int prepare(hl_db *db, const char *sql, sqlite3_stmt **st) {
    int rc = sqlite3_prepare_v2(db->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? 0 : sql_fail(db, rc, sql);
}

/* Which columns of @t the file has, by name. */
static int read_present(hl_db *db, int ti) {
    const table *t = &tables[ti];
    sqlite3_stmt *st = NULL;
    char sql[128];
    int r;

    db->present[ti] = 0;
    snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", t->name);
    if ((r = prepare(db, sql, &st)) < 0)
        return r;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        for (size_t i = 0; name && i < t->ncols; i++)
            if (streq(name, t->cols[i].name))
                db->present[ti] |= 1ull << i;
    }
    sqlite3_finalize(st);
    return 0;
}

/* CREATE TABLE from the description; then ALTER TABLE ADD COLUMN for each column an older file
 * lacks (a new events.def row), and the indexes. */
static int create_table(hl_db *db, int ti) {
    const table *t = &tables[ti];
    sbuf b = {0};
    int r;

    sb_add(&b, "CREATE TABLE IF NOT EXISTS %s (", t->name);
    for (size_t i = 0; i < t->ncols; i++)
        sb_add(&b, "%s%s %s", i ? ", " : "", t->cols[i].name,
               col_is_key(t, &t->cols[i]) ? "INTEGER PRIMARY KEY AUTOINCREMENT" : sql_type(t->cols[i].type));
    if (t->constraints)
        sb_add(&b, ", %s", t->constraints);
    sb_add(&b, ")");
    if (b.oom) {
        free(b.s);
        return -ENOMEM;
    }
    r = exec(db, b.s);
    free(b.s);
    if (r < 0 || (r = read_present(db, ti)) < 0)
        return r;
    for (size_t i = 0; i < t->ncols; i++) {
        char sql[256];
        if (db->present[ti] & (1ull << i))
            continue;
        snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s", t->name, t->cols[i].name, sql_type(t->cols[i].type));
        if ((r = exec(db, sql)) < 0)
            return r;
        db->present[ti] |= 1ull << i;
    }
    for (const char *const *ix = t->indexes; *ix; ix++) {
        char sql[256];
        snprintf(sql, sizeof(sql), "CREATE INDEX IF NOT EXISTS %.*s ON %s%s", (int)strcspn(*ix, "("), *ix, t->name,
                 *ix + strcspn(*ix, "("));
        if ((r = exec(db, sql)) < 0)
            return r;
    }
    return 0;
}

static int prepare_insert(hl_db *db, int ti) {
    const table *t = &tables[ti];
    sbuf b = {0};
    int r;
    bool first = true;

    sb_add(&b, "INSERT INTO %s (", t->name);
    for (size_t i = 0; i < t->ncols; i++)
        if (!col_is_key(t, &t->cols[i])) {
            sb_add(&b, "%s%s", first ? "" : ", ", t->cols[i].name);
            first = false;
        }
    sb_add(&b, ") VALUES (");
    first = true;
    for (size_t i = 0; i < t->ncols; i++)
        if (!col_is_key(t, &t->cols[i])) {
            sb_add(&b, "%s?", first ? "" : ", ");
            first = false;
        }
    sb_add(&b, ")%s%s", t->insert_tail ? " " : "", t->insert_tail ? t->insert_tail : "");
    if (b.oom) {
        free(b.s);
        return -ENOMEM;
    }
    r = prepare(db, b.s, &db->ins[ti]);
    free(b.s);
    return r;
}

/* Bind a row's columns (all but the autoincrement key) in description order. */
static int bind_row(hl_db *db, int ti, const void *row) {
    const table *t = &tables[ti];
    sqlite3_stmt *st = db->ins[ti];
    uint64_t set = *(const uint64_t *)((const char *)row + t->set_offset);
    int k = 1, rc = SQLITE_OK;

    sqlite3_reset(st);
    for (size_t i = 0; i < t->ncols && rc == SQLITE_OK; i++) {
        const column *c = &t->cols[i];
        const char *p = (const char *)row + c->offset;
        if (col_is_key(t, c))
            continue;
        switch (c->type) {
        case T_I64:
            rc = (set >> c->bit) & 1 ? sqlite3_bind_int64(st, k, *(const int64_t *)p) : sqlite3_bind_null(st, k);
            break;
        case T_DBL:
            rc = (set >> c->bit) & 1 ? sqlite3_bind_double(st, k, *(const double *)p) : sqlite3_bind_null(st, k);
            break;
        case T_STR: {
            const char *s = *(char *const *)p;
            rc = s ? sqlite3_bind_text(st, k, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, k);
            break;
        }
        }
        k++;
    }
    return rc == SQLITE_OK ? 0 : sql_fail(db, rc, "bind");
}

static int insert_row(hl_db *db, int ti, const void *row) {
    int r, rc;
    if (!db->writer)
        return -EROFS;
    if ((r = bind_row(db, ti, row)) < 0)
        return r;
    rc = sqlite3_step(db->ins[ti]);
    r = rc == SQLITE_DONE ? 0 : sql_fail(db, rc, tables[ti].name);
    sqlite3_reset(db->ins[ti]);
    sqlite3_clear_bindings(db->ins[ti]);
    return r;
}

/* "a, b, NULL, c": the SELECT list of @t, NULL for columns the file lacks. */
static void select_list(hl_db *db, int ti, sbuf *b) {
    const table *t = &tables[ti];
    for (size_t i = 0; i < t->ncols; i++)
        sb_add(b, "%s%s", i ? ", " : "", db->present[ti] & (1ull << i) ? t->cols[i].name : "NULL");
}

/* Read a row selected with select_list into @row (strings are new allocations). */
static int read_row(sqlite3_stmt *st, int ti, void *row) {
    const table *t = &tables[ti];
    uint64_t *set = (uint64_t *)((char *)row + t->set_offset);
    for (size_t i = 0; i < t->ncols; i++) {
        const column *c = &t->cols[i];
        char *p = (char *)row + c->offset;
        if (sqlite3_column_type(st, (int)i) == SQLITE_NULL)
            continue;
        switch (c->type) {
        case T_I64:
            *(int64_t *)p = sqlite3_column_int64(st, (int)i);
            *set |= 1ull << c->bit;
            break;
        case T_DBL:
            *(double *)p = sqlite3_column_double(st, (int)i);
            *set |= 1ull << c->bit;
            break;
        case T_STR: {
            const char *s = (const char *)sqlite3_column_text(st, (int)i);
            if (s && !(*(char **)p = strdup(s)))
                return -ENOMEM;
            break;
        }
        }
    }
    return 0;
}

static void free_row(int ti, void *row) {
    const table *t = &tables[ti];
    for (size_t i = 0; i < t->ncols; i++)
        if (t->cols[i].type == T_STR) {
            char **p = (char **)((char *)row + t->cols[i].offset);
            free(*p);
            *p = NULL;
        }
    *(uint64_t *)((char *)row + t->set_offset) = 0;
}

void hl_event_clear(hl_event *e) {
    free_row(TAB_EVENTS, e);
    free((char *)e->vms);
    e->vms = NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Opening, schema, transactions
 * ------------------------------------------------------------------------------------------- */

static int migrate(hl_db *db) {
    sqlite3_stmt *st = NULL;
    int64_t version = 0;
    int r;

    if ((r = prepare(db, "PRAGMA user_version", &st)) < 0)
        return r;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (version > HL_SCHEMA_VERSION) {
        snprintf(db->err, sizeof(db->err), "%s: schema version %lld is newer than this uni-healthd's (%d)", db->path,
                 (long long)version, HL_SCHEMA_VERSION);
        return -EPROTO;
    }
    if ((r = exec(db, "BEGIN IMMEDIATE")) < 0)
        return r;
    /* Version 1 is the described tables; later versions add their steps here, in order, each
     * guarded by `version < N`. Columns added to a description need no step. */
    for (int ti = 0; ti < NTABLES && r >= 0; ti++)
        r = create_table(db, ti);
    if (r >= 0 && version < HL_SCHEMA_VERSION) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", HL_SCHEMA_VERSION);
        r = exec(db, sql);
    }
    if (r < 0) {
        (void)exec(db, "ROLLBACK");
        return r;
    }
    return exec(db, "COMMIT");
}

static int open_writer(hl_db *db) {
    int one = 1, r;

    /* One writer: a lock held for the process's life, on its own file: opening and closing a
     * second descriptor of the database file itself would drop SQLite's POSIX locks on it. */
    {
        _cleanup_free_ char *lock = NULL;
        if (asprintf(&lock, "%s.lock", db->path) < 0)
            return -ENOMEM;
        db->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (db->lock_fd < 0) {
            r = -errno;
            snprintf(db->err, sizeof(db->err), "%s: %s", lock, strerror(errno));
            return r;
        }
    }
    if (flock(db->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        r = errno == EWOULDBLOCK ? -EBUSY : -errno;
        snprintf(db->err, sizeof(db->err), "%s: another uni-healthd writes this HealthLog", db->path);
        return r;
    }
    if (sqlite3_open_v2(db->path, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        return sql_fail(db, SQLITE_CANTOPEN, "open");
    sqlite3_busy_timeout(db->db, 5000);
    /* Keep the -wal and -shm files when the writer closes, so that read-only readers can open the
     * file while no writer runs. */
    sqlite3_file_control(db->db, "main", SQLITE_FCNTL_PERSIST_WAL, &one);
    if ((r = exec(db, "PRAGMA auto_vacuum = INCREMENTAL")) < 0 || (r = exec(db, "PRAGMA journal_mode = WAL")) < 0 ||
        (r = exec(db, "PRAGMA synchronous = FULL")) < 0 || (r = migrate(db)) < 0)
        return r;
    for (int ti = 0; ti < NTABLES; ti++)
        if ((r = prepare_insert(db, ti)) < 0)
            return r;
    return 0;
}

static int open_reader(hl_db *db) {
    struct stat st;
    sqlite3_stmt *s = NULL;
    int64_t version = 0;
    int r;

    if (stat(db->path, &st) < 0) {
        r = -errno;
        snprintf(db->err, sizeof(db->err), "no HealthLog at %s (%s): start uni-healthd --db %s", db->path, strerror(errno),
                 db->path);
        return r;
    }
    if (sqlite3_open_v2(db->path, &db->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        return sql_fail(db, SQLITE_CANTOPEN, "open");
    sqlite3_busy_timeout(db->db, 5000);
    if ((r = prepare(db, "PRAGMA user_version", &s)) < 0)
        return r;
    r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        version = sqlite3_column_int64(s, 0);
    else {
        int k = sql_fail(db, r, "reading the schema version");
        sqlite3_finalize(s);
        return k;
    }
    sqlite3_finalize(s);
    if (version == 0) {
        snprintf(db->err, sizeof(db->err), "%s is not a HealthLog yet (no schema): is uni-healthd --db %s starting?", db->path,
                 db->path);
        return -ENODATA;
    }
    for (int ti = 0; ti < NTABLES; ti++)
        if ((r = read_present(db, ti)) < 0)
            return r;
    return 0;
}

int hl_open(const char *path, unsigned flags, hl_db **ret, char *err, size_t errlen) {
    hl_db *db = calloc(1, sizeof(*db));
    int r;

    if (!db || !(db->path = strdup(path))) {
        free(db);
        return -ENOMEM;
    }
    db->lock_fd = -1;
    db->writer = flags & HL_OPEN_WRITE;
    r = db->writer ? open_writer(db) : open_reader(db);
    if (r >= 0 && (r = prepare(db, "SELECT value FROM state WHERE key = ?", &db->state_get)) < 0 && !db->writer &&
        !(db->present[TAB_STATE]))
        r = 0; /* a file without a state table reads as one without state */
    if (r < 0) {
        if (err)
            snprintf(err, errlen, "%s", db->err[0] ? db->err : "cannot open the HealthLog");
        hl_close(db);
        return r;
    }
    *ret = db;
    return 0;
}

void hl_close(hl_db *db) {
    if (!db)
        return;
    for (int ti = 0; ti < NTABLES; ti++)
        sqlite3_finalize(db->ins[ti]);
    sqlite3_finalize(db->state_get);
    sqlite3_finalize(db->links_get);
    if (db->db)
        sqlite3_close(db->db);
    closep(&db->lock_fd);
    free(db->path);
    free(db);
}

int hl_begin(hl_db *db) {
    int r = exec(db, "BEGIN IMMEDIATE");
    db->in_tx = r >= 0;
    return r;
}

int hl_commit(hl_db *db) {
    int r = exec(db, "COMMIT");
    if (r < 0)
        hl_rollback(db);
    db->in_tx = false;
    return r;
}

void hl_rollback(hl_db *db) {
    if (sqlite3_get_autocommit(db->db) == 0)
        (void)sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
    db->in_tx = false;
}

/* ---------------------------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------------------------- */

static bool is_uncorrected(const char *sev) {
    return sev && (streq(sev, "uncorrected") || streq(sev, "deferred") || streq(sev, "fatal"));
}

static int add_total(hl_db *db, const char *scope, const char *name, const char *sev, const char *bits, int64_t n) {
    hl_total_row t = {.scope = (char *)scope, .name = (char *)name, .severity = (char *)(sev ? sev : ""),
                      .bits = (char *)(bits ? bits : ""), .count = n, .set = 1ull << 4};
    return insert_row(db, TAB_TOTALS, &t);
}

int hl_insert_event(hl_db *db, hl_event *e) {
    int r;
    int64_t n;

    if ((r = insert_row(db, TAB_EVENTS, e)) < 0)
        return r;
    HL_SET(e, id, sqlite3_last_insert_rowid(db->db));
    if (!HL_HAS(e, counted) || !e->counted)
        return 0;
    /* Counters since the HealthLog began, kept in the same transaction: counts stay O(1) to
     * read with a million events, and retention does not make them go down. */
    n = HL_HAS(e, count) ? e->count : 1;
    {
        char name[64];
        snprintf(name, sizeof(name), "%s/%s", e->class ? e->class : "", e->component ? e->component : "");
        if ((r = add_total(db, "component", name, e->severity, e->bits, n)) < 0)
            return r;
    }
    if (e->dimm && (r = add_total(db, "dimm", e->dimm, e->severity, NULL, n)) < 0)
        return r;
    if (HL_HAS(e, cpu) && e->class && streq(e->class, "cpu")) {
        char name[24];
        snprintf(name, sizeof(name), "%lld", (long long)e->cpu);
        if ((r = add_total(db, "core", name, e->severity, NULL, n)) < 0)
            return r;
    }
    return 0;
}

int hl_insert_link(hl_db *db, const hl_link *l) {
    return insert_row(db, TAB_LINKS, l);
}

int hl_insert_sample(hl_db *db, const hl_sample *s) {
    return insert_row(db, TAB_SAMPLES, s);
}

int hl_upsert_dimm(hl_db *db, const hl_dimm *d) {
    return insert_row(db, TAB_DIMMS, d);
}

int hl_state_set(hl_db *db, const char *key, int64_t value) {
    hl_state_row s = {.key = (char *)key, .value = value, .set = 1ull << 1};
    return insert_row(db, TAB_STATE, &s);
}

int hl_state_get(hl_db *db, const char *key, int64_t *ret) {
    int rc, r = -ENOENT;
    if (!db->state_get)
        return -ENOENT;
    sqlite3_reset(db->state_get);
    sqlite3_bind_text(db->state_get, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(db->state_get);
    if (rc == SQLITE_ROW && sqlite3_column_type(db->state_get, 0) != SQLITE_NULL) {
        *ret = sqlite3_column_int64(db->state_get, 0);
        r = 0;
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = sql_fail(db, rc, "state");
    sqlite3_reset(db->state_get);
    return r;
}

static int64_t exec_changes(hl_db *db, const char *sql, int64_t a, int64_t b) {
    sqlite3_stmt *st = NULL;
    int rc, r;
    if ((r = prepare(db, sql, &st)) < 0)
        return r;
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sql_fail(db, rc, sql);
    return sqlite3_changes64(db->db);
}

int64_t hl_retention(hl_db *db, int64_t min_time_ms, int64_t max_events, int64_t sample_min_time_ms, int64_t batch) {
    int64_t total = 0, n;
    /* Oldest first, in batches, each its own transaction: the writer never stalls for long. The
     * running totals are kept: counts are since the HealthLog began. */
    n = exec_changes(db, "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time_ms < ?1 ORDER BY id LIMIT ?2)",
                     min_time_ms, batch);
    if (n < 0)
        return n;
    total += n;
    if (max_events > 0 && total < batch) {
        /* The oldest beyond the newest max_events (found by walking the id index from the top). */
        n = exec_changes(db,
                         "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id < "
                         "(SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?1 - 1) ORDER BY id LIMIT ?2)",
                         max_events, batch - total);
        if (n < 0)
            return n;
        total += n;
    }
    if (total > 0 &&
        (n = exec_changes(db, "DELETE FROM links WHERE NOT EXISTS (SELECT 1 FROM events WHERE id = links.event_id)", 0, 0)) < 0)
        return n;
    n = exec_changes(db, "DELETE FROM samples WHERE rowid IN (SELECT rowid FROM samples WHERE time_ms < ?1 LIMIT ?2)",
                     sample_min_time_ms, batch);
    if (n < 0)
        return n;
    total += n;
    if (total > 0)
        (void)exec(db, "PRAGMA incremental_vacuum(1000)");
    return total;
}

/* ---------------------------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------------------------- */

void hl_filter_init(hl_filter *f) {
    memset(f, 0, sizeof(*f));
    f->cpu = -1;
    f->since_ms = INT64_MIN;
}

typedef struct {
    int kind; /* 0 int, 1 text */
    int64_t i;
    const char *s;
} bindv;

static void where(const hl_filter *f, sbuf *b, bindv *v, int *nv) {
    sb_add(b, " WHERE 1");
    if (f->since_ms != INT64_MIN) {
        sb_add(b, " AND time_ms >= ?");
        v[(*nv)++] = (bindv){0, f->since_ms, NULL};
    }
    if (f->after_id > 0) {
        sb_add(b, " AND id > ?");
        v[(*nv)++] = (bindv){0, f->after_id, NULL};
    }
    if (f->class) {
        sb_add(b, f->with_actions ? " AND (class = ? OR class = 'action')" : " AND class = ?");
        v[(*nv)++] = (bindv){1, 0, f->class};
    }
    if (f->action) {
        sb_add(b, " AND action = ?");
        v[(*nv)++] = (bindv){1, 0, f->action};
    }
    if (f->dimm) {
        sb_add(b, " AND dimm = ?");
        v[(*nv)++] = (bindv){1, 0, f->dimm};
    }
    if (f->cpu >= 0) {
        sb_add(b, " AND cpu = ?");
        v[(*nv)++] = (bindv){0, f->cpu, NULL};
    }
    if (f->addr_hi > f->addr_lo) {
        sb_add(b, " AND address >= ? AND address < ?");
        v[(*nv)++] = (bindv){0, f->addr_lo, NULL};
        v[(*nv)++] = (bindv){0, f->addr_hi, NULL};
    }
    if (f->severities == HL_SEV_CORRECTED)
        sb_add(b, " AND severity = 'corrected'");
    else if (f->severities == HL_SEV_UNCORRECTED)
        sb_add(b, " AND severity IN ('uncorrected', 'deferred', 'fatal')");
    if (f->counted_only)
        sb_add(b, " AND counted = 1");
}

static int prepare_filtered(hl_db *db, sbuf *b, const bindv *v, int nv, sqlite3_stmt **st) {
    int r;
    if (b->oom)
        return -ENOMEM;
    if ((r = prepare(db, b->s, st)) < 0)
        return r;
    for (int i = 0; i < nv; i++) {
        if (v[i].kind == 0)
            sqlite3_bind_int64(*st, i + 1, v[i].i);
        else
            sqlite3_bind_text(*st, i + 1, v[i].s, -1, SQLITE_STATIC);
    }
    return 0;
}

void hl_events_free(hl_event *ev, size_t n) {
    for (size_t i = 0; ev && i < n; i++)
        hl_event_clear(&ev[i]);
    free(ev);
}

int hl_query(hl_db *db, const hl_filter *f, hl_event **ret, size_t *ret_n) {
    sbuf b = {0};
    bindv v[12];
    int nv = 0, rc, r;
    sqlite3_stmt *st = NULL;
    hl_event *ev = NULL;
    size_t n = 0, cap = 0;

    sb_add(&b, "SELECT ");
    select_list(db, TAB_EVENTS, &b);
    sb_add(&b, " FROM events");
    where(f, &b, v, &nv);
    sb_add(&b, f->after_id > 0 ? " ORDER BY id" : " ORDER BY time_ms, id");
    if (f->limit)
        sb_add(&b, " LIMIT %zu", f->limit + 1);
    r = prepare_filtered(db, &b, v, nv, &st);
    free(b.s);
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (f->limit && n == f->limit) {
            r = -E2BIG;
            break;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            hl_event *ne = realloc(ev, nc * sizeof(*ne));
            if (!ne) {
                r = -ENOMEM;
                break;
            }
            ev = ne;
            cap = nc;
        }
        memset(&ev[n], 0, sizeof(ev[n]));
        if ((r = read_row(st, TAB_EVENTS, &ev[n])) < 0) {
            hl_event_clear(&ev[n]);
            break;
        }
        n++;
    }
    if (r >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = sql_fail(db, rc, "events");
    sqlite3_finalize(st);
    for (size_t i = 0; r >= 0 && i < n; i++)
        if (db->present[TAB_LINKS])
            r = hl_links_text(db, ev[i].id, (char **)&ev[i].vms);
    if (r < 0) {
        hl_events_free(ev, n);
        return r;
    }
    *ret = ev;
    *ret_n = n;
    return 0;
}

int hl_count(hl_db *db, const hl_filter *f, int64_t *ret) {
    sbuf b = {0};
    bindv v[12];
    int nv = 0, rc, r;
    sqlite3_stmt *st = NULL;

    sb_add(&b, "SELECT coalesce(sum(coalesce(count, 1)), 0) FROM events");
    where(f, &b, v, &nv);
    r = prepare_filtered(db, &b, v, nv, &st);
    free(b.s);
    if (r < 0)
        return r;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *ret = sqlite3_column_int64(st, 0);
    else
        r = sql_fail(db, rc, "count");
    sqlite3_finalize(st);
    return r;
}

int hl_vm_counts(hl_db *db, const char *vm, int64_t since_ms, int64_t *ret_ce, int64_t *ret_ue) {
    sqlite3_stmt *st = NULL;
    int r, rc;

    /* The errors (not actions, not informational events) linked to the VM named @vm. */
    r = prepare(db,
                "SELECT coalesce(sum(CASE WHEN severity = 'corrected' THEN coalesce(count, 1) ELSE 0 END), 0), "
                "coalesce(sum(CASE WHEN severity IN ('uncorrected', 'deferred', 'fatal') THEN coalesce(count, 1) "
                "ELSE 0 END), 0) FROM events WHERE time_ms >= ?2 AND (class IS NULL OR class <> 'action') "
                "AND id IN (SELECT event_id FROM links WHERE vm = ?1)",
                &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, vm, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, since_ms);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *ret_ce = sqlite3_column_int64(st, 0);
        *ret_ue = sqlite3_column_int64(st, 1);
    } else
        r = sql_fail(db, rc, "per-VM counts");
    sqlite3_finalize(st);
    return r;
}

void hl_links_free(hl_link *l, size_t n) {
    for (size_t i = 0; l && i < n; i++)
        free_row(TAB_LINKS, &l[i]);
    free(l);
}

int hl_links_for(hl_db *db, int64_t id, hl_link **ret, size_t *ret_n) {
    hl_link *l = NULL;
    size_t n = 0;
    int r = 0, rc;

    if (!db->links_get) {
        sbuf b = {0};
        sb_add(&b, "SELECT ");
        select_list(db, TAB_LINKS, &b);
        sb_add(&b, " FROM links WHERE event_id = ? ORDER BY rowid");
        r = b.oom ? -ENOMEM : prepare(db, b.s, &db->links_get);
        free(b.s);
        if (r < 0)
            return r;
    }
    sqlite3_reset(db->links_get);
    sqlite3_bind_int64(db->links_get, 1, id);
    while ((rc = sqlite3_step(db->links_get)) == SQLITE_ROW) {
        hl_link *nl = realloc(l, (n + 1) * sizeof(*nl));
        if (!nl) {
            r = -ENOMEM;
            break;
        }
        l = nl;
        memset(&l[n], 0, sizeof(l[n]));
        if ((r = read_row(db->links_get, TAB_LINKS, &l[n++])) < 0)
            break;
    }
    sqlite3_reset(db->links_get);
    if (r < 0) {
        hl_links_free(l, n);
        return r;
    }
    *ret = l;
    *ret_n = n;
    return 0;
}

int hl_links_text(hl_db *db, int64_t id, char **ret) {
    hl_link *l = NULL;
    size_t n = 0;
    sbuf b = {0};
    int r = hl_links_for(db, id, &l, &n);

    *ret = NULL;
    if (r < 0 || n == 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        sb_add(&b, "%s%s (pid %lld): %s", i ? "; " : "", l[i].vm ? l[i].vm : "?", (long long)l[i].pid, l[i].how ? l[i].how : "?");
        if ((l[i].set >> 3) & 1)
            sb_add(&b, " vcpu %lld", (long long)l[i].vcpu);
    }
    hl_links_free(l, n);
    if (b.oom) {
        free(b.s);
        return -ENOMEM;
    }
    *ret = b.s;
    return 0;
}

int hl_mem_speed(hl_db *db, int64_t *ret) {
    sqlite3_stmt *st = NULL;
    int r, rc;
    if (!(db->present[TAB_DIMMS] & (1ull << 6)))
        return -ENOENT;
    if ((r = prepare(db,
                     "SELECT min(CASE WHEN configured_mts > 0 THEN configured_mts ELSE speed_mts END) FROM dimms "
                     "WHERE source = 'smbios' AND size_mb > 0 AND (configured_mts > 0 OR speed_mts > 0)",
                     &st)) < 0)
        return r;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *ret = sqlite3_column_int64(st, 0);
        r = 0;
    } else
        r = rc == SQLITE_ROW || rc == SQLITE_DONE ? -ENOENT : sql_fail(db, rc, "dimms");
    sqlite3_finalize(st);
    return r;
}

int64_t hl_data_version(hl_db *db) {
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (prepare(db, "PRAGMA data_version", &st) < 0)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* ---------------------------------------------------------------------------------------------
 * The error metrics
 * ------------------------------------------------------------------------------------------- */

/* Components the metrics name; everything else counts in its class only. */
static const char *const comps[] = {"l1", "l2", "l3", "dram", "mcu"};
#define NCOMP (ELEMENTSOF(comps) + 1)
enum { CLS_MEM, CLS_CPU, NCLS };
enum { SEV_CE, SEV_UE, SEV_OTHER, NSEV };
enum { BITS_SINGLE, BITS_MULTI, BITS_UNKNOWN, NBITS };
enum { W_TOTAL, W_1, W_5, W_60, NW };
static const int window_min[NW] = {0, 1, 5, 60};

typedef struct {
    int64_t v[NCLS][NCOMP][NSEV][NBITS][NW];
} err_acc;

const char *hl_class_of_component(const char *c) {
    if (!c || !*c)
        return NULL;
    if (streq(c, "dram") || streq(c, "mcu"))
        return "memory";
    if (streq(c, "l1") || streq(c, "l2") || streq(c, "l3") || streq(c, "tlb") || streq(c, "bus") || streq(c, "core"))
        return "cpu";
    if (streq(c, "pcie"))
        return "pcie";
    return NULL;
}

static void acc_add(err_acc *a, const char *cls, const char *comp, const char *sev, const char *bits, int w, int64_t n) {
    int ci, k = (int)NCOMP - 1, s, b;
    if (!cls)
        return;
    if (streq(cls, "memory"))
        ci = CLS_MEM;
    else if (streq(cls, "cpu"))
        ci = CLS_CPU;
    else
        return;
    for (size_t i = 0; comp && i < ELEMENTSOF(comps); i++)
        if (streq(comp, comps[i]))
            k = (int)i;
    s = sev && streq(sev, "corrected") ? SEV_CE : is_uncorrected(sev) ? SEV_UE : SEV_OTHER;
    b = bits && streq(bits, "single") ? BITS_SINGLE : bits && streq(bits, "multi") ? BITS_MULTI : BITS_UNKNOWN;
    a->v[ci][k][s][b][w] += n;
}

/* Sum over the dimensions a metric does not name: -1 means all. */
static int64_t acc_sum(const err_acc *a, int cls, int comp, int sev, int bits, int w) {
    int64_t t = 0;
    for (int c = 0; c < NCLS; c++)
        for (int k = 0; k < (int)NCOMP; k++)
            for (int s = 0; s < NSEV; s++)
                for (int b = 0; b < NBITS; b++)
                    if ((cls < 0 || c == cls) && (comp < 0 || k == comp) && (sev < 0 || s == sev) && (bits < 0 || b == bits))
                        t += a->v[c][k][s][b][w];
    return t;
}

/* A count and its three rates: the metric ids of count (or -1), rate over 1, 5 and 60 minutes. */
static void emit(uniRecordPtr rec, const err_acc *a, int count_id, const int rate_ids[3], const char *name, int cls, int comp,
                 int sev, int bits) {
    if (count_id >= 0)
        rec_u64(rec, (unsigned)count_id, -1, name, (uint64_t)acc_sum(a, cls, comp, sev, bits, W_TOTAL));
    for (int w = W_1; w <= W_60; w++)
        rec_dbl(rec, (unsigned)rate_ids[w - 1], -1, name, (double)acc_sum(a, cls, comp, sev, bits, w) / window_min[w]);
}

static int read_totals(hl_db *db, err_acc *a, uniRecordPtr rec) {
    sqlite3_stmt *st = NULL;
    int r, rc;
    if ((r = prepare(db, "SELECT scope, name, severity, bits, count FROM totals ORDER BY scope, name", &st)) < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *scope = (const char *)sqlite3_column_text(st, 0), *name = (const char *)sqlite3_column_text(st, 1);
        const char *sev = (const char *)sqlite3_column_text(st, 2), *bits = (const char *)sqlite3_column_text(st, 3);
        int64_t n = sqlite3_column_int64(st, 4);
        if (!scope || !name)
            continue;
        if (streq(scope, "component")) {
            const char *slash = strchr(name, '/');
            char cls[32];
            if (!slash || (size_t)(slash - name) >= sizeof(cls))
                continue;
            memcpy(cls, name, (size_t)(slash - name));
            cls[slash - name] = 0;
            acc_add(a, cls, slash + 1, sev, bits, W_TOTAL, n);
        }
    }
    if (rc != SQLITE_DONE)
        r = sql_fail(db, rc, "totals");
    sqlite3_finalize(st);
    if (r < 0)
        return r;
    /* Per DIMM: every DIMM EDAC describes and every label an error named; corrected and
     * uncorrected, summed over the severities. */
    if ((r = prepare(db,
                     "WITH t AS (SELECT name, sum(CASE WHEN severity = 'corrected' THEN count ELSE 0 END) AS ce, "
                     "sum(CASE WHEN severity IN ('uncorrected', 'deferred', 'fatal') THEN count ELSE 0 END) AS ue "
                     "FROM totals WHERE scope = 'dimm' GROUP BY name), "
                     "n AS (SELECT name FROM t UNION SELECT label FROM dimms WHERE source = 'edac' AND label IS NOT NULL) "
                     "SELECT n.name, coalesce(t.ce, 0), coalesce(t.ue, 0) FROM n LEFT JOIN t USING (name) ORDER BY n.name",
                     &st)) < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (!name)
            continue;
        rec_u64(rec, UNI_M_HOST_ERRORS_DIMM_D_CE_COUNT, -1, name, (uint64_t)sqlite3_column_int64(st, 1));
        rec_u64(rec, UNI_M_HOST_ERRORS_DIMM_D_UE_COUNT, -1, name, (uint64_t)sqlite3_column_int64(st, 2));
    }
    if (rc != SQLITE_DONE)
        r = sql_fail(db, rc, "totals");
    sqlite3_finalize(st);
    return r;
}

/* Per core: corrected and uncorrected counts, for every online core and every core with errors. */
static int read_core_totals(hl_db *db, uniRecordPtr rec, const uint8_t *online, unsigned ncpu) {
    sqlite3_stmt *st = NULL;
    int r, rc;
    unsigned next = 0;

    if ((r = prepare(db,
                     "SELECT CAST(name AS INTEGER) AS cpu, sum(CASE WHEN severity = 'corrected' THEN count ELSE 0 END), "
                     "sum(CASE WHEN severity IN ('uncorrected', 'deferred', 'fatal') THEN count ELSE 0 END) "
                     "FROM totals WHERE scope = 'core' GROUP BY cpu ORDER BY cpu",
                     &st)) < 0)
        return r;
    for (;;) {
        int64_t cpu;
        rc = sqlite3_step(st);
        cpu = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : INT32_MAX;
        if (cpu < 0)
            continue;
        /* Online cores without errors, in order, before this one. */
        for (; online && next < ncpu && next < (uint64_t)cpu; next++)
            if (online[next / 8] & (1u << (next % 8))) {
                rec_u64(rec, UNI_M_HOST_ERRORS_CORE_N_CE_COUNT, (int)next, NULL, 0);
                rec_u64(rec, UNI_M_HOST_ERRORS_CORE_N_UE_COUNT, (int)next, NULL, 0);
            }
        if (rc != SQLITE_ROW)
            break;
        if (cpu >= INT32_MAX)
            continue;
        rec_u64(rec, UNI_M_HOST_ERRORS_CORE_N_CE_COUNT, (int)cpu, NULL, (uint64_t)sqlite3_column_int64(st, 1));
        rec_u64(rec, UNI_M_HOST_ERRORS_CORE_N_UE_COUNT, (int)cpu, NULL, (uint64_t)sqlite3_column_int64(st, 2));
        next = (unsigned)cpu + 1;
    }
    if (rc != SQLITE_DONE)
        r = sql_fail(db, rc, "totals");
    sqlite3_finalize(st);
    return r;
}

static int read_windows(hl_db *db, err_acc *a, int64_t now_ms) {
    sqlite3_stmt *st = NULL;
    int r, rc;
    /* One range scan of the covering index over the last hour, summed into three windows. */
    if ((r = prepare(db,
                     "SELECT class, component, severity, bits, "
                     "sum(CASE WHEN time_ms > ?1 THEN coalesce(count, 1) ELSE 0 END), "
                     "sum(CASE WHEN time_ms > ?2 THEN coalesce(count, 1) ELSE 0 END), sum(coalesce(count, 1)) "
                     "FROM events WHERE counted = 1 AND time_ms > ?3 AND time_ms <= ?4 GROUP BY 1, 2, 3, 4",
                     &st)) < 0)
        return r;
    sqlite3_bind_int64(st, 1, now_ms - 60000);
    sqlite3_bind_int64(st, 2, now_ms - 300000);
    sqlite3_bind_int64(st, 3, now_ms - 3600000);
    sqlite3_bind_int64(st, 4, now_ms);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *cls = (const char *)sqlite3_column_text(st, 0), *comp = (const char *)sqlite3_column_text(st, 1);
        const char *sev = (const char *)sqlite3_column_text(st, 2), *bits = (const char *)sqlite3_column_text(st, 3);
        for (int w = W_1; w <= W_60; w++)
            acc_add(a, cls, comp, sev, bits, w, sqlite3_column_int64(st, 4 + (w - W_1)));
    }
    if (rc != SQLITE_DONE)
        r = sql_fail(db, rc, "events");
    sqlite3_finalize(st);
    return r;
}

/* Does the HealthLog have a source of @cls errors? uni-healthd records it at start (cap.memory,
 * cap.cpu); a file without that state has one when it holds such events. */
static bool has_capability(hl_db *db, const char *key, const err_acc *a, int cls) {
    int64_t v;
    if (hl_state_get(db, key, &v) == 0)
        return v != 0 || acc_sum(a, cls, -1, -1, -1, W_TOTAL) > 0;
    return acc_sum(a, cls, -1, -1, -1, W_TOTAL) > 0;
}

int hl_collect(hl_db *db, uniRecordPtr rec, int64_t now_ms, const uint8_t *online, unsigned ncpu, unsigned *ret_caps) {
    _cleanup_free_ err_acc *a = calloc(1, sizeof(*a));
    int64_t mts;
    int r;
    /* The metric ids of a count's rates over 1, 5 and 60 minutes. */
#define RATES(p)                                                                                   \
    {UNI_M_HOST_ERRORS_##p##_RATE_PER_MIN, UNI_M_HOST_ERRORS_##p##_RATE_5M_PER_MIN, UNI_M_HOST_ERRORS_##p##_RATE_60M_PER_MIN}
    static const int l_rates[3] = RATES(L);
    static const int ls_rates[3] = RATES(L_SBIT);
    static const int lm_rates[3] = RATES(L_MBIT);
    static const int cpu_rates[3] = RATES(CPU);
    static const int cs_rates[3] = RATES(CPU_SBIT);
    static const int cm_rates[3] = RATES(CPU_MBIT);
    static const int mem_rates[3] = RATES(MEM);
    static const int ms_rates[3] = RATES(MEM_SBIT);
    static const int mm_rates[3] = RATES(MEM_MBIT);
    static const int ce_rates[3] = RATES(C_CE);
    static const int ue_rates[3] = RATES(C_UE);
#undef RATES

    if (!a)
        return -ENOMEM;
    if ((r = read_totals(db, a, rec)) < 0 || (r = read_windows(db, a, now_ms)) < 0)
        return r;
    if (ret_caps)
        *ret_caps = (has_capability(db, "cap.memory", a, CLS_MEM) ? HL_CAP_MEMORY : 0) |
                    (has_capability(db, "cap.cpu", a, CLS_CPU) ? HL_CAP_CPU : 0);
    if (has_capability(db, "cap.cpu", a, CLS_CPU)) {
        if ((r = read_core_totals(db, rec, online, ncpu)) < 0)
            return r;
        for (int k = 0; k < 3; k++) { /* l1, l2, l3 */
            emit(rec, a, UNI_M_HOST_ERRORS_L_COUNT, l_rates, comps[k], -1, k, -1, -1);
            emit(rec, a, UNI_M_HOST_ERRORS_L_SBIT_COUNT, ls_rates, comps[k], -1, k, -1, BITS_SINGLE);
            if (k > 0) /* the spec counts multi-bit cache errors in L2 and L3 */
                emit(rec, a, UNI_M_HOST_ERRORS_L_MBIT_COUNT, lm_rates, comps[k], -1, k, -1, BITS_MULTI);
        }
        emit(rec, a, -1, cpu_rates, NULL, CLS_CPU, -1, -1, -1);
        emit(rec, a, UNI_M_HOST_ERRORS_CPU_SBIT_COUNT, cs_rates, NULL, CLS_CPU, -1, -1, BITS_SINGLE);
        emit(rec, a, UNI_M_HOST_ERRORS_CPU_MBIT_COUNT, cm_rates, NULL, CLS_CPU, -1, -1, BITS_MULTI);
    }
    if (has_capability(db, "cap.memory", a, CLS_MEM)) {
        emit(rec, a, -1, mem_rates, NULL, CLS_MEM, -1, -1, -1);
        emit(rec, a, UNI_M_HOST_ERRORS_MEM_SBIT_COUNT, ms_rates, NULL, CLS_MEM, -1, -1, BITS_SINGLE);
        emit(rec, a, UNI_M_HOST_ERRORS_MEM_MBIT_COUNT, mm_rates, NULL, CLS_MEM, -1, -1, BITS_MULTI);
    }
    /* The spec's components, in its order (l2, l3, dram, mcu): a component whose class has no
     * source is absent. */
    for (int k = 1; k < (int)ELEMENTSOF(comps); k++) {
        bool mem = k >= 3;
        if (!has_capability(db, mem ? "cap.memory" : "cap.cpu", a, mem ? CLS_MEM : CLS_CPU))
            continue;
        emit(rec, a, UNI_M_HOST_ERRORS_C_CE_COUNT, ce_rates, comps[k], -1, k, SEV_CE, -1);
        emit(rec, a, UNI_M_HOST_ERRORS_C_UE_COUNT, ue_rates, comps[k], -1, k, SEV_UE, -1);
    }
    if (hl_mem_speed(db, &mts) == 0)
        rec_dbl(rec, UNI_M_HOST_MEM_SPEED_MHZ, -1, NULL, (double)mts);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Events as records
 * ------------------------------------------------------------------------------------------- */

#define KIND_I64 UNI_METRIC_GAUGE
#define KIND_STR UNI_METRIC_TEXT
const uniMetricDesc uni_event_catalog[HL_NFIELDS] = {
#define HL_DESC_(n, id_, ct, col, unit_, help_)                                                    \
    [id_] = {.id = id_, .key = "event." #n, .kind = KIND_##ct, .unit = unit_, .group = "event", .spec = "3.2.2",    \
             .source = "HealthLog", .help = help_},
    UNI_EVENT_FIELDS(HL_DESC_)
#undef HL_DESC_
};

int hl_event_to_record(const hl_event *e, uniRecordPtr *ret) {
    uniRecordPtr rec = uni_record_new(uni_event_catalog, HL_NFIELDS);
    int r = 0;
    if (!rec)
        return -ENOMEM;
    if (HL_HAS(e, time_ms))
        rec->timestamp = e->time_ms;
#define HL_REC_I64_(n) (HL_HAS(e, n) ? rec_u64(rec, HL_F_##n, -1, NULL, (uint64_t)e->n) : 0)
#define HL_REC_STR_(n) (e->n ? rec_str(rec, HL_F_##n, -1, NULL, e->n) : 0)
#define HL_REC_(n, id, ct, ...) if (r >= 0) r = HL_REC_##ct##_(n);
    UNI_EVENT_FIELDS(HL_REC_)
#undef HL_REC_
#undef HL_REC_I64_
#undef HL_REC_STR_
    if (r < 0) {
        uniRecordFree(rec);
        return r;
    }
    *ret = rec;
    return 0;
}

int hl_query_records(hl_db *db, const uni_healthlog_query *q, uniRecordPtr **ret) {
    hl_filter f;
    hl_event *ev = NULL;
    size_t n = 0;
    uniRecordPtr *list;
    int r;

    hl_filter_init(&f);
    f.class = q->cpu ? "cpu" : "memory";
    f.dimm = q->cpu ? NULL : q->dimm;
    f.cpu = q->cpu ? q->core : -1;
    f.since_ms = q->since_ms > 0 ? q->since_ms : INT64_MIN;
    f.with_actions = q->flags & UNI_HEALTHLOG_ACTIONS;
    if ((q->flags & (UNI_HEALTHLOG_CORRECTED | UNI_HEALTHLOG_UNCORRECTED)) == UNI_HEALTHLOG_CORRECTED)
        f.severities = HL_SEV_CORRECTED;
    else if ((q->flags & (UNI_HEALTHLOG_CORRECTED | UNI_HEALTHLOG_UNCORRECTED)) == UNI_HEALTHLOG_UNCORRECTED)
        f.severities = HL_SEV_UNCORRECTED;
    f.limit = UNI_HEALTHLOG_MAX_EVENTS;
    if ((r = hl_query(db, &f, &ev, &n)) < 0)
        return r;
    list = calloc(n + 1, sizeof(*list));
    for (size_t i = 0; list && i < n && r >= 0; i++)
        r = hl_event_to_record(&ev[i], &list[i]);
    hl_events_free(ev, n);
    if (!list || r < 0) {
        uniRecordListFree(list);
        return r < 0 ? r : -ENOMEM;
    }
    *ret = list;
    return (int)n;
}

void hl_label_sanitize(char *s) {
    for (; s && *s; s++)
        if (*s == '.' || *s == ' ' || *s == '\t' || *s == '\n' || *s == '/')
            *s = '_';
}

/* ---------------------------------------------------------------------------------------------
 * Notification
 * ------------------------------------------------------------------------------------------- */

int hl_watch_open(const char *path) {
    _cleanup_free_ char *copy = strdup(path);
    int fd, r;
    if (!copy)
        return -ENOMEM;
    fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* The directory: the -wal file comes and goes with writers, and the HealthLog may not exist
     * yet when a reader starts waiting. */
    if (inotify_add_watch(fd, dirname(copy), IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

int hl_watch_drain(int fd, const char *path) {
    _cleanup_free_ char *copy = strdup(path);
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    const char *base;
    size_t bl;
    int hit = 0;

    if (!copy)
        return -ENOMEM;
    base = basename(copy);
    bl = strlen(base);
    /* What is pending now, not what keeps coming (other files in the directory may be written
     * all the time): a bounded number of reads. */
    for (int i = 0; i < 64; i++) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0)
            return errno == EAGAIN ? hit : -errno;
        if (n == 0)
            return hit;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (ev->len && strncmp(ev->name, base, bl) == 0 && (ev->name[bl] == 0 || streq(ev->name + bl, "-wal")))
                hit = 1;
            p += sizeof(*ev) + ev->len;
        }
    }
    return hit;
}
