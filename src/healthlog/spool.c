/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HealthLog's action spool: how a change a control call makes becomes a HealthLog event
 * while uni-healthd stays the HealthLog's only writer. Whoever makes the change (the local
 * driver, in uniserverd or in the caller's own process) appends one JSON line per write to
 * DB-actions beside the HealthLog (DB); uni-healthd imports the lines as events, each cycle.
 *
 * Appending: open, take the file's flock, check the path still names the file we hold (an import
 * may have taken it away meanwhile: then again), write the line in one write(2), fsync, close.
 *
 * Importing, without a lost or a doubled event across a crash at any point:
 *   1. under the flock, rename DB-actions to DB-actions.importing (a writer holding the old
 *      file then finds it gone and starts a new one; the renamed file never changes again);
 *   2. read DB-actions.importing, insert its events and, in the same transaction, its identity
 *      (inode and ctime) under the state key spool.imported;
 *   3. unlink it.
 * A DB-actions.importing found at start whose identity is spool.imported was imported (crash
 * between 2 and 3): it is only unlinked; any other was not (crash between 1 and 2): imported.
 *
 * The files are the host's audit trail: created 0600, and imported only when they are regular
 * files owned by root or by uni-healthd's own user and writable by nobody else. A line is taken
 * as a control action whatever it says (source "control", class "action", not counted, only
 * an action's fields): the spool can never add an error to the counts. */
#include <fcntl.h>
#include <json-c/json.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "healthlog/healthlog.h"
#include "util/util.h"

#define SPOOL_MAX_LINE 8192

static int spool_name(const char *db, const char *suffix, char *buf, size_t len) {
    int n = snprintf(buf, len, "%s%s%s", db, HL_SPOOL_SUFFIX, suffix);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

char *hl_event_to_json(const hl_event *e) {
    json_object *o = json_object_new_object();
    char *s;
#define HL_TO_JSON_I64_(n)                                                                                             \
    if (HL_HAS(e, n))                                                                                                  \
        json_object_object_add(o, #n, json_object_new_int64(e->n));
#define HL_TO_JSON_STR_(n)                                                                                             \
    if (e->n)                                                                                                          \
        json_object_object_add(o, #n, json_object_new_string(e->n));
#define HL_TO_JSON_(n, id, ct, col, ...)                                                                               \
    if (col && HL_F_##n != HL_F_id) {                                                                                  \
        HL_TO_JSON_##ct##_(n)                                                                                          \
    }
    UNI_EVENT_FIELDS(HL_TO_JSON_)
#undef HL_TO_JSON_
#undef HL_TO_JSON_I64_
#undef HL_TO_JSON_STR_
    s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

int hl_event_from_json(const char *line, hl_event *e) {
    json_object *o = json_tokener_parse(line), *v;
    int r = 0;
    memset(e, 0, sizeof(*e));
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return -EBADMSG;
    }
#define HL_FROM_JSON_I64_(n)                                                                                           \
    if (!json_object_is_type(v, json_type_int))                                                                        \
        r = -EBADMSG;                                                                                                  \
    else                                                                                                               \
        HL_SET(e, n, json_object_get_int64(v));
#define HL_FROM_JSON_STR_(n)                                                                                           \
    if (!json_object_is_type(v, json_type_string) || !(e->n = strdup(json_object_get_string(v))))                      \
        r = -EBADMSG;
#define HL_FROM_JSON_(n, id, ct, col, ...)                                                                             \
    if (col && HL_F_##n != HL_F_id && json_object_object_get_ex(o, #n, &v)) {                                          \
        HL_FROM_JSON_##ct##_(n)                                                                                        \
    }
    UNI_EVENT_FIELDS(HL_FROM_JSON_)
#undef HL_FROM_JSON_
#undef HL_FROM_JSON_I64_
#undef HL_FROM_JSON_STR_
    json_object_put(o);
    if (r < 0)
        hl_event_clear(e);
    return r;
}

/* Owned by root or by us, and writable by its owner only: the one rule for the spool's writers
 * and its reader. */
static bool ours(const struct stat *st) {
    return (st->st_uid == 0 || st->st_uid == geteuid()) && !(st->st_mode & 022);
}

int hl_spool_append(const char *db, const hl_event *e) {
    char path[4096];
    _cleanup_free_ char *line = NULL;
    size_t len;
    int r;

    if ((r = spool_name(db, "", path, sizeof(path))) < 0)
        return r;
    /* No HealthLog on this host (no uni-healthd): nowhere to record, and nothing left behind. */
    if (access(db, F_OK) < 0)
        return -errno;
    if (!(line = hl_event_to_json(e)))
        return -ENOMEM;
    len = strlen(line);
    if (len + 1 > SPOOL_MAX_LINE)
        return -E2BIG;
    line[len++] = '\n'; /* over the terminating NUL: written by length */
    for (int attempt = 0; attempt < 8; attempt++) {
        struct stat held, named;
        _cleanup_close_ int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            return -errno;
        if (flock(fd, LOCK_EX) < 0)
            return -errno;
        /* An import renamed it between our open and our lock: it is closed for writing. */
        if (fstat(fd, &held) < 0)
            return -errno;
        /* A spool someone else made (a directory others may write): uni-healthd would not import
         * it, and what we write there is theirs to read and change. */
        if (!ours(&held))
            return -EPERM;
        if (stat(path, &named) < 0 || named.st_ino != held.st_ino || named.st_dev != held.st_dev)
            continue;
        if (write(fd, line, len) != (ssize_t)len)
            return -EIO; /* one write: a line is whole or (ENOSPC) a torn tail the import skips */
        return fsync(fd) < 0 ? -errno : 0;
    }
    return -EAGAIN;
}

/* Is @st a file only root or we could have written? (For the reader, also a regular file.) */
static int trusted(const struct stat *st, const char *path, char *why, size_t wl) {
    if (!S_ISREG(st->st_mode) || !ours(st)) {
        snprintf(why, wl,
                 "%s is not a regular file owned by root or uid %u and writable only by its owner (uid %u, mode "
                 "%04o): not imported",
                 path, (unsigned)geteuid(), (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777));
        return -EPERM;
    }
    return 0;
}

/* A file's identity for spool.imported: its inode and its change time (the rename sets it), so
 * that a later file given the same inode is not taken for an imported one. */
static int64_t identity(const struct stat *st) {
    return (int64_t)(((uint64_t)st->st_ino << 32) ^ (uint64_t)st->st_ctim.tv_sec * 1000000000ull ^
                     (uint64_t)st->st_ctim.tv_nsec);
}

/* Step 1: DB-actions becomes DB-actions.importing, under the writers' lock. */
static int take(const char *path, const char *importing, char *why, size_t wl) {
    struct stat st;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : (snprintf(why, wl, "%s: %s", path, strerror(errno)), -errno);
    if (fstat(fd, &st) < 0)
        return -errno;
    if (trusted(&st, path, why, wl) < 0)
        return -EPERM;
    if (st.st_size == 0)
        return 0;
    if (flock(fd, LOCK_EX) < 0 || rename(path, importing) < 0) {
        snprintf(why, wl, "%s: cannot take it for import: %s", path, strerror(errno));
        return -errno;
    }
    return 1;
}

/* Whatever the line says, it is a control action: only an action's fields are kept (when, which
 * call, what it changed, where, why), so a line can never add to an error count nor pass for an
 * error of a DIMM or a core. */
static int import_line(hl_db *db, const hl_event *in, const struct stat *st) {
    hl_event e = {0};
    HL_SET(&e, time_ms, HL_HAS(in, time_ms) ? in->time_ms : (int64_t)st->st_mtim.tv_sec * 1000);
    e.source = "control";
    e.class = "action";
    e.severity = "info";
    HL_SET(&e, counted, 0);
    e.action = in->action;
    e.message = in->message;
    e.detail = in->detail;
    e.reason = in->reason;
    if (HL_HAS(in, cpu))
        HL_SET(&e, cpu, in->cpu);
    return hl_insert_event(db, &e);
}

int64_t hl_spool_import(hl_db *db, const char *dbpath, int64_t *ret_bad, char *why, size_t wl) {
    char path[4096], importing[4100], line[SPOOL_MAX_LINE];
    _cleanup_fclose_ FILE *f = NULL;
    struct stat st;
    int64_t done = -1, n = 0, bad = 0;
    int r, fd;

    *ret_bad = 0;
    if (spool_name(dbpath, "", path, sizeof(path)) < 0 ||
        spool_name(dbpath, ".importing", importing, sizeof(importing)) < 0)
        return -ENAMETOOLONG;
    /* A file left by a crash goes first; only then is the next one taken. */
    if (access(importing, F_OK) < 0 && (r = take(path, importing, why, wl)) <= 0)
        return r;
    /* Never through a symlink: a file left here is read only when it is the spool itself. */
    fd = open(importing, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || !(f = fdopen(fd, "re"))) {
        r = -errno;
        snprintf(why, wl, "%s: %s", importing, strerror(errno));
        if (fd >= 0)
            close(fd);
        return r;
    }
    if (fstat(fileno(f), &st) < 0 || trusted(&st, importing, why, wl) < 0)
        return -EPERM;
    (void)hl_state_get(db, "spool.imported", &done);
    if (done != identity(&st)) {
        if ((r = hl_begin(db)) < 0) {
            snprintf(why, wl, "%s", hl_errmsg(db));
            return r;
        }
        while (r >= 0 && fgets(line, sizeof(line), f)) {
            size_t len = strlen(line);
            hl_event e;
            /* A line without its newline is torn (a writer's ENOSPC) or longer than any writer
             * makes: skipped, with the rest of it. */
            if (len == 0 || line[len - 1] != '\n') {
                int c;
                while ((c = fgetc(f)) != EOF && c != '\n')
                    ;
                bad++;
                continue;
            }
            if (hl_event_from_json(line, &e) < 0) {
                bad++;
                continue;
            }
            r = import_line(db, &e, &st);
            hl_event_clear(&e);
            n += r >= 0;
        }
        if (r >= 0)
            r = hl_state_set(db, "spool.imported", identity(&st));
        if (r < 0 || (r = hl_commit(db)) < 0) {
            snprintf(why, wl, "%s", hl_errmsg(db));
            hl_rollback(db);
            return r;
        }
    }
    if (unlink(importing) < 0) {
        snprintf(why, wl, "%s: imported, but cannot remove it: %s", importing, strerror(errno));
        return -errno;
    }
    *ret_bad = bad;
    return n;
}
