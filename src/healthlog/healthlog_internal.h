/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the HealthLog's files (store.c, query.c, metrics.c) share: the connection, the tables'
 * numbers and the SQL helpers. Not an interface: healthlog.h is. */
#pragma once

#include <sqlite3.h>

#include "healthlog.h"

/* The described tables (store.c), by number. */
enum { TAB_EVENTS, TAB_LINKS, TAB_SAMPLES, TAB_DIMMS, TAB_STATE, TAB_TOTALS, NTABLES };

typedef struct {
    char *s;
    size_t len, cap;
    bool oom;
} sbuf;

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

/* store.c: append to @b (b->oom set when out of memory). */
void hl_sb_add(sbuf *b, const char *fmt, ...) _printf_(2, 3);
/* store.c: -errno for SQLite's @rc, with db->err naming the file, @what and SQLite's message. */
int hl_sql_fail(hl_db *db, int rc, const char *what);
int hl_prepare(hl_db *db, const char *sql, sqlite3_stmt **st);
/* store.c: "a, b, NULL, c": the SELECT list of table @ti, NULL for columns the file lacks. */
void hl_select_list(hl_db *db, int ti, sbuf *b);
/* store.c: read a row selected with hl_select_list into @row (strings are new allocations). */
int hl_read_row(sqlite3_stmt *st, int ti, void *row);
/* store.c: free a row's strings and clear its presence bits. */
void hl_free_row(int ti, void *row);
