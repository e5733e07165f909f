/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HealthLog's store: its tables, opening and migrating the SQLite file, the writes and
 * retention. Every table is a list of columns {name, type, offset in its struct} that drives
 * CREATE, the migration (ALTER TABLE ADD COLUMN for a column the file lacks), INSERT and SELECT,
 * so a column is named once and bound by name, never by position (the scar of rasdaemon's
 * ras-record.c). WAL, synchronous=FULL, one writer holding a lock, readers that read the columns
 * their file has. */
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "healthlog_internal.h"
#include "util/lockfile.h"

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
    const char *autoinc;        /* the INTEGER PRIMARY KEY AUTOINCREMENT column, or NULL */
    const char *constraints;    /* inside CREATE TABLE (...), after the columns */
    const char *insert_tail;    /* after INSERT ... VALUES (...) */
    const char *const *indexes; /* "name(columns)", NULL-terminated */
} table;

#define COL_IF_1(st, n, id, ct) {#n, T_##ct, offsetof(st, n), id},
#define COL_IF_0(st, n, id, ct)
#define EV_COL_(n, id, ct, col, ...) COL_IF_##col(hl_event, n, id, ct)
static const column event_cols[] = {UNI_EVENT_FIELDS(EV_COL_)};
#undef EV_COL_

#define COL(st, n, ct, bit)                                                                                            \
    { #n, T_##ct, offsetof(st, n), bit }
static const column link_cols[] = {
    COL(hl_link, event_id, I64, 0), COL(hl_link, vm, STR, 1),  COL(hl_link, pid, I64, 2),
    COL(hl_link, vcpu, I64, 3),     COL(hl_link, how, STR, 4), COL(hl_link, detail, STR, 5),
};
static const column sample_cols[] = {
    COL(hl_sample, time_ms, I64, 0),
    COL(hl_sample, key, STR, 1),
    COL(hl_sample, value, DBL, 2),
};
static const column dimm_cols[] = {
    COL(hl_dimm, source, STR, 0),         COL(hl_dimm, label, STR, 1),        COL(hl_dimm, location, STR, 2),
    COL(hl_dimm, size_mb, I64, 3),        COL(hl_dimm, mem_type, STR, 4),     COL(hl_dimm, speed_mts, I64, 5),
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
    COL(hl_total_row, scope, STR, 0), COL(hl_total_row, name, STR, 1),  COL(hl_total_row, severity, STR, 2),
    COL(hl_total_row, bits, STR, 3),  COL(hl_total_row, count, I64, 4),
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

static const table tables[NTABLES] = {
    [TAB_EVENTS] = {"events", event_cols, ELEMENTSOF(event_cols), offsetof(hl_event, set), "id", NULL, NULL,
                    event_indexes},
    [TAB_LINKS] = {"links", link_cols, ELEMENTSOF(link_cols), offsetof(hl_link, set), NULL, NULL, NULL, link_indexes},
    [TAB_SAMPLES] = {"samples", sample_cols, ELEMENTSOF(sample_cols), offsetof(hl_sample, set), NULL, NULL, NULL,
                     sample_indexes},
    [TAB_DIMMS] =
        {"dimms", dimm_cols, ELEMENTSOF(dimm_cols), offsetof(hl_dimm, set), NULL, "PRIMARY KEY (source, label)",
         "ON CONFLICT (source, label) DO UPDATE SET location = excluded.location, size_mb = excluded.size_mb, "
         "mem_type = excluded.mem_type, speed_mts = excluded.speed_mts, configured_mts = excluded.configured_mts, "
         "manufacturer = excluded.manufacturer, part = excluded.part",
         no_indexes},
    [TAB_STATE] = {"state", state_cols, ELEMENTSOF(state_cols), offsetof(hl_state_row, set), NULL, "PRIMARY KEY (key)",
                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value", no_indexes},
    [TAB_TOTALS] = {"totals", total_cols, ELEMENTSOF(total_cols), offsetof(hl_total_row, set), NULL,
                    "PRIMARY KEY (scope, name, severity, bits)",
                    "ON CONFLICT (scope, name, severity, bits) DO UPDATE SET count = count + excluded.count",
                    no_indexes},
};

/* ---------------------------------------------------------------------------------------------
 * SQL from the descriptions
 * ------------------------------------------------------------------------------------------- */

void hl_sb_add(sbuf *b, const char *fmt, ...) {
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

const char *hl_path(hl_db *db) {
    return db->path;
}

const char *hl_errmsg(hl_db *db) {
    return db->err[0] ? db->err : sqlite3_errmsg(db->db);
}

int hl_sql_fail(hl_db *db, int rc, const char *what) {
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
    return rc == SQLITE_OK ? 0 : hl_sql_fail(db, rc, sql);
}

int hl_prepare(hl_db *db, const char *sql, sqlite3_stmt **st) {
    int rc = sqlite3_prepare_v2(db->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? 0 : hl_sql_fail(db, rc, sql);
}

/* Which columns of @t the file has, by name. */
static int read_present(hl_db *db, int ti) {
    const table *t = &tables[ti];
    sqlite3_stmt *st = NULL;
    char sql[128];
    int r;

    db->present[ti] = 0;
    snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", t->name);
    if ((r = hl_prepare(db, sql, &st)) < 0)
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

    hl_sb_add(&b, "CREATE TABLE IF NOT EXISTS %s (", t->name);
    for (size_t i = 0; i < t->ncols; i++)
        hl_sb_add(&b, "%s%s %s", i ? ", " : "", t->cols[i].name,
                  col_is_key(t, &t->cols[i]) ? "INTEGER PRIMARY KEY AUTOINCREMENT" : sql_type(t->cols[i].type));
    if (t->constraints)
        hl_sb_add(&b, ", %s", t->constraints);
    hl_sb_add(&b, ")");
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
        snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s", t->name, t->cols[i].name,
                 sql_type(t->cols[i].type));
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

    hl_sb_add(&b, "INSERT INTO %s (", t->name);
    for (size_t i = 0; i < t->ncols; i++)
        if (!col_is_key(t, &t->cols[i])) {
            hl_sb_add(&b, "%s%s", first ? "" : ", ", t->cols[i].name);
            first = false;
        }
    hl_sb_add(&b, ") VALUES (");
    first = true;
    for (size_t i = 0; i < t->ncols; i++)
        if (!col_is_key(t, &t->cols[i])) {
            hl_sb_add(&b, "%s?", first ? "" : ", ");
            first = false;
        }
    hl_sb_add(&b, ")%s%s", t->insert_tail ? " " : "", t->insert_tail ? t->insert_tail : "");
    if (b.oom) {
        free(b.s);
        return -ENOMEM;
    }
    r = hl_prepare(db, b.s, &db->ins[ti]);
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
    return rc == SQLITE_OK ? 0 : hl_sql_fail(db, rc, "bind");
}

static int insert_row(hl_db *db, int ti, const void *row) {
    int r, rc;
    if (!db->writer)
        return -EROFS;
    if ((r = bind_row(db, ti, row)) < 0)
        return r;
    rc = sqlite3_step(db->ins[ti]);
    r = rc == SQLITE_DONE ? 0 : hl_sql_fail(db, rc, tables[ti].name);
    sqlite3_reset(db->ins[ti]);
    sqlite3_clear_bindings(db->ins[ti]);
    return r;
}

/* "a, b, NULL, c": the SELECT list of @t, NULL for columns the file lacks. */
void hl_select_list(hl_db *db, int ti, sbuf *b) {
    const table *t = &tables[ti];
    for (size_t i = 0; i < t->ncols; i++)
        hl_sb_add(b, "%s%s", i ? ", " : "", db->present[ti] & (1ull << i) ? t->cols[i].name : "NULL");
}

/* Read a row selected with hl_select_list into @row (strings are new allocations). */
int hl_read_row(sqlite3_stmt *st, int ti, void *row) {
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

void hl_free_row(int ti, void *row) {
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
    hl_free_row(TAB_EVENTS, e);
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

    if ((r = hl_prepare(db, "PRAGMA user_version", &st)) < 0)
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

/* The database's real path (symlinks resolved; the file itself may not exist yet), or NULL with
 * db->err set. */
static char *real_db_path(hl_db *db) {
    _cleanup_free_ char *copy = NULL, *dir = NULL;
    struct stat st;
    char *real = realpath(db->path, NULL), *base;
    if (real || errno != ENOENT)
        goto done;
    if (lstat(db->path, &st) == 0) {
        errno = ELOOP; /* a symlink to nothing: where it leads is not ours to create */
        goto done;
    }
    if (!(copy = strdup(db->path)))
        goto done;
    base = strrchr(copy, '/');
    if (base)
        *base++ = 0;
    if ((dir = realpath(!base   ? "."
                        : *copy ? copy
                                : "/",
                        NULL)) &&
        asprintf(&real, "%s/%s", strcmp(dir, "/") ? dir : "", base ? base : copy) < 0)
        real = NULL;
done:
    if (!real)
        snprintf(db->err, sizeof(db->err), "%s: %s", db->path, strerror(errno));
    return real;
}

/* One writer per database, whatever name it is given: the lock is REAL.lock (mode 0600, so that no
 * reader can hold it), named after the real path, and a database with a second name (a hard link)
 * is refused, since its -wal file would be named after each. Held for the process's life, on its
 * own file: opening and closing a second descriptor of the database file itself would drop
 * SQLite's POSIX locks on it. */
static int writer_lock(hl_db *db, char **ret_real) {
    _cleanup_free_ char *real = real_db_path(db), *lock = NULL;
    struct stat st;
    pid_t holder = 0;

    if (!real)
        return -errno;
    if (stat(real, &st) == 0 && st.st_nlink > 1) {
        snprintf(db->err, sizeof(db->err),
                 "%s has %ju names (hard links): a HealthLog has one, so that it has one writer and one -wal file",
                 db->path, (uintmax_t)st.st_nlink);
        return -EMLINK;
    }
    if (asprintf(&lock, "%s.lock", real) < 0)
        return -ENOMEM;
    db->lock_fd = lockfile_take(AT_FDCWD, lock, 0600, &holder);
    if (db->lock_fd == -EBUSY)
        snprintf(db->err, sizeof(db->err), "%s: another uni-healthd writes this HealthLog (pid %d, %s)", db->path,
                 (int)holder, real);
    else if (db->lock_fd < 0)
        snprintf(db->err, sizeof(db->err), "%s: %s", lock, strerror(-db->lock_fd));
    if (db->lock_fd < 0) {
        int r = db->lock_fd;
        db->lock_fd = -1;
        return r;
    }
    (void)fchmod(db->lock_fd, 0600); /* one made by an older uni-healthd was 0644 */
    (void)lockfile_write_pid(db->lock_fd);
    *ret_real = TAKE_PTR(real);
    return 0;
}

/* A database that is damaged but still opens is refused before anything is written to it:
 * writing on would bury the damage under new events. */
static int check_integrity(hl_db *db) {
    sqlite3_stmt *st = NULL;
    const char *first = NULL;
    int r = sqlite3_prepare_v2(db->db, "PRAGMA quick_check(1)", -1, &st, NULL);
    char what[200];

    if (r == SQLITE_OK)
        r = sqlite3_step(st);
    if (r == SQLITE_ROW && (first = (const char *)sqlite3_column_text(st, 0)) && !strcmp(first, "ok")) {
        sqlite3_finalize(st);
        return 0;
    }
    snprintf(what, sizeof(what), "%s", r == SQLITE_ROW && first ? first : sqlite3_errmsg(db->db));
    what[strcspn(what, "\n")] = ' ';
    sqlite3_finalize(st);
    snprintf(db->err, sizeof(db->err),
             "%s is damaged (quick_check: %.150s): refused. Move it aside and start a new one with "
             "uni-healthd --move-damaged (the old one is kept as %s.damaged-TIME for forensics)",
             db->path, what, db->path);
    return -EUCLEAN;
}

int hl_move_aside(const char *path, char *ret_new, size_t len) {
    hl_db tmp = {.path = (char *)path};
    _cleanup_free_ char *real = real_db_path(&tmp);
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;

    if (!real)
        return -errno;
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", gmtime_r(&now, &tm));
    if ((size_t)snprintf(ret_new, len, "%s.damaged-%s", real, stamp) >= len)
        return -ENAMETOOLONG;
    if (rename(real, ret_new) < 0)
        return -errno;
    for (int i = 0; i < 2; i++) {
        char from[PATH_MAX], to[PATH_MAX];
        const char *suffix = i ? "-shm" : "-wal";
        snprintf(from, sizeof(from), "%s%s", real, suffix);
        snprintf(to, sizeof(to), "%s%s", ret_new, suffix);
        if (rename(from, to) < 0 && errno != ENOENT)
            return -errno;
    }
    return 0;
}

static int open_writer(hl_db *db, bool memory) {
    _cleanup_free_ char *real = NULL;
    int one = 1, r;

    /* In memory (the test driver's simulated HealthLog): no file, so no lock, WAL or fsync. */
    if (memory) {
        if (sqlite3_open_v2(":memory:", &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
            return hl_sql_fail(db, SQLITE_CANTOPEN, "open");
        goto schema;
    }
    if ((r = writer_lock(db, &real)) < 0)
        return r;
    if (sqlite3_open_v2(real, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK)
        return hl_sql_fail(db, SQLITE_CANTOPEN, "open");
    sqlite3_busy_timeout(db->db, 5000);
    /* Keep the -wal and -shm files when the writer closes, so that read-only readers can open the
     * file while no writer runs. */
    sqlite3_file_control(db->db, "main", SQLITE_FCNTL_PERSIST_WAL, &one);
    if ((r = check_integrity(db)) < 0)
        return r;
    if ((r = exec(db, "PRAGMA auto_vacuum = INCREMENTAL")) < 0 || (r = exec(db, "PRAGMA journal_mode = WAL")) < 0 ||
        (r = exec(db, "PRAGMA synchronous = FULL")) < 0)
        return r;
schema:
    if ((r = migrate(db)) < 0)
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
        snprintf(db->err, sizeof(db->err), "no HealthLog at %s (%s): start uni-healthd --db %s", db->path,
                 strerror(errno), db->path);
        return r;
    }
    if (sqlite3_open_v2(db->path, &db->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        return hl_sql_fail(db, SQLITE_CANTOPEN, "open");
    sqlite3_busy_timeout(db->db, 5000);
    if ((r = hl_prepare(db, "PRAGMA user_version", &s)) < 0)
        return r;
    r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        version = sqlite3_column_int64(s, 0);
    else {
        int k = hl_sql_fail(db, r, "reading the schema version");
        sqlite3_finalize(s);
        return k;
    }
    sqlite3_finalize(s);
    if (version == 0) {
        snprintf(db->err, sizeof(db->err), "%s is not a HealthLog yet (no schema): is uni-healthd --db %s starting?",
                 db->path, db->path);
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
    db->writer = flags & (HL_OPEN_WRITE | HL_OPEN_MEMORY);
    r = db->writer ? open_writer(db, flags & HL_OPEN_MEMORY) : open_reader(db);
    if (r >= 0 && (r = hl_prepare(db, "SELECT value FROM state WHERE key = ?", &db->state_get)) < 0 && !db->writer &&
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

static int add_total(hl_db *db, const char *scope, const char *name, const char *sev, const char *bits, int64_t n) {
    hl_total_row t = {.scope = (char *)scope,
                      .name = (char *)name,
                      .severity = (char *)(sev ? sev : ""),
                      .bits = (char *)(bits ? bits : ""),
                      .count = n,
                      .set = 1ull << 4};
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
        r = hl_sql_fail(db, rc, "state");
    sqlite3_reset(db->state_get);
    return r;
}

static int64_t exec_changes(hl_db *db, const char *sql, int64_t a, int64_t b) {
    sqlite3_stmt *st = NULL;
    int rc, r;
    if ((r = hl_prepare(db, sql, &st)) < 0)
        return r;
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return hl_sql_fail(db, rc, sql);
    return sqlite3_changes64(db->db);
}

int64_t hl_retention(hl_db *db, int64_t min_time_ms, int64_t max_events, int64_t sample_min_time_ms, int64_t batch) {
    int64_t total = 0, n;
    /* Oldest first, in batches, each its own transaction: the writer never stalls for long. The
     * running totals are kept: counts are since the HealthLog began. */
    n = exec_changes(db,
                     "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time_ms < ?1 ORDER BY id LIMIT ?2)",
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
        (n = exec_changes(db, "DELETE FROM links WHERE NOT EXISTS (SELECT 1 FROM events WHERE id = links.event_id)", 0,
                          0)) < 0)
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
