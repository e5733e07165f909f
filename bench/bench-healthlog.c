/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmark of the HealthLog, side by side with named peers in one run:
 *  1. ingestion: events committed durably per second (WAL, synchronous=FULL, running totals
 *     kept in the same transaction) in batches of 1, 10 and 100, against rasdaemon's way of
 *     storing (ras-record.c: one autocommit INSERT per event, SQLite's default rollback journal);
 *  2. the error views on a HealthLog of a million events (30 days, 64 DIMMs, 64 cores): the
 *     whole errors group (every host.errors.* count and rate) through the library, the spec's
 *     uniNodeGetCorrectableErrors, a DIMM's last day of events, against the counts computed by
 *     scanning the events table (what a log without running totals has to do).
 * usage: bench-healthlog [DIR] [EVENTS]   (DIR: where the databases go, default a temp dir) */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "healthlog/healthlog.h"

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double median_us(uint64_t *v, int n) {
    qsort(v, (size_t)n, sizeof(*v), cmp_u64);
    return (double)v[n / 2] / 1000.0;
}

static char labels[64][24];

static void fill(hl_event *e, int64_t i, int64_t t) {
    static const char *const comps[] = {"dram", "dram", "dram", "mcu", "l1", "l2", "l3", "l2"};
    const char *comp = comps[i % 8];
    memset(e, 0, sizeof(*e));
    e->source = "bench";
    e->component = comp;
    e->class = hl_class_of_component(comp);
    e->severity = i % 97 == 0 ? "uncorrected" : "corrected";
    e->bits = i % 97 == 0 ? "multi" : "single";
    e->message = "benchmark event";
    HL_SET(e, time_ms, t);
    HL_SET(e, count, 1);
    HL_SET(e, counted, 1);
    if (streq(e->class, "memory")) {
        e->dimm = labels[i % 64];
        HL_SET(e, address, (int64_t)(0x100000000ll + (i % 100000) * 4096));
    } else
        HL_SET(e, cpu, i % 64);
}

static double ingest(const char *path, int batch, int n) {
    hl_db *db;
    char err[256];
    uint64_t t0;
    hl_event e;
    unlink(path);
    if (hl_open(path, HL_OPEN_WRITE, &db, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    t0 = now_ns();
    for (int i = 0; i < n; i += batch) {
        hl_begin(db);
        for (int k = 0; k < batch; k++) {
            fill(&e, i + k, wall_ms());
            hl_insert_event(db, &e);
        }
        if (hl_commit(db) < 0) {
            fprintf(stderr, "commit: %s\n", hl_errmsg(db));
            exit(1);
        }
    }
    t0 = now_ns() - t0;
    hl_close(db);
    return (double)n / ((double)t0 / 1e9);
}

/* rasdaemon's storage: a positional INSERT per event in autocommit, default journal. */
static double ingest_rasdaemon(const char *path, int n) {
    sqlite3 *db;
    sqlite3_stmt *st;
    uint64_t t0;
    unlink(path);
    sqlite3_open(path, &db);
    sqlite3_exec(db,
                 "CREATE TABLE mc_event (id INTEGER PRIMARY KEY, timestamp TEXT, err_count INTEGER, err_type TEXT, "
                 "err_msg TEXT, label TEXT, mc INTEGER, top_layer INTEGER, middle_layer INTEGER, lower_layer INTEGER, "
                 "address INTEGER, grain INTEGER, syndrome INTEGER, driver_detail TEXT)",
                 NULL, NULL, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO mc_event VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &st, NULL);
    t0 = now_ns();
    for (int i = 0; i < n; i++) {
        sqlite3_bind_text(st, 1, "2026-11-25 10:00:00 +0000", -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, 1);
        sqlite3_bind_text(st, 3, "Corrected", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, "memory read error", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, labels[i % 64], -1, SQLITE_STATIC);
        for (int k = 6; k <= 13; k++)
            sqlite3_bind_int(st, k, k);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    t0 = now_ns() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return (double)n / ((double)t0 / 1e9);
}

int main(int argc, char **argv) {
    char dir[256], path[300], uri[700];
    int64_t nbig = argc > 2 ? atoll(argv[2]) : 1000000, now = wall_ms();
    uniConnectPtr c;
    hl_db *db;
    char err[256];
    int rounds = 40;

    if (argc > 1)
        snprintf(dir, sizeof(dir), "%s", argv[1]);
    else {
        snprintf(dir, sizeof(dir), "/tmp/uni-bench-healthlog-XXXXXX");
        if (!mkdtemp(dir))
            return 1;
    }
    for (int i = 0; i < 64; i++)
        snprintf(labels[i], sizeof(labels[i]), "CPU%d_DIMM_%c%d", i / 32, 'A' + i % 8, i / 8 % 4);

    printf("-- ingestion (durable: each commit on disk; %s)\n", dir);
    snprintf(path, sizeof(path), "%s/ingest.db", dir);
    for (int b = 1; b <= 100; b *= 10)
        printf("HealthLog, %3d event%s per commit: %9.0f events/s\n", b, b == 1 ? " " : "s",
               ingest(path, b, b == 1 ? 2000 : 20000));
    snprintf(path, sizeof(path), "%s/rasdaemon.db", dir);
    printf("rasdaemon's storage (autocommit INSERT, rollback journal): %9.0f events/s\n", ingest_rasdaemon(path, 2000));

    printf("\n-- the error views on a HealthLog of %lld events (30 days, 64 DIMMs, 64 cores)\n", (long long)nbig);
    snprintf(path, sizeof(path), "%s/million.db", dir);
    unlink(path);
    if (hl_open(path, HL_OPEN_WRITE, &db, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    {
        uint64_t t0 = now_ns();
        hl_event e;
        hl_begin(db);
        hl_state_set(db, "cap.cpu", 1);
        hl_state_set(db, "cap.memory", 1);
        for (int64_t i = 0; i < nbig; i++) {
            /* Spread over 30 days, the newest last; the last hour holds about 1400. */
            fill(&e, i, now - (nbig - i) * (30ll * 86400000 / nbig));
            hl_insert_event(db, &e);
            if (i % 100000 == 99999) {
                hl_commit(db);
                hl_begin(db);
            }
        }
        hl_commit(db);
        printf("filled in %.1f s\n", (double)(now_ns() - t0) / 1e9);
    }
    hl_close(db);
    snprintf(uri, sizeof(uri), "uniserver:///system?healthlog=%s", path);
    c = uniConnectOpen(uri, 0);
    if (!c) {
        fprintf(stderr, "%s\n", uniGetLastError()->message);
        return 1;
    }
    {
        static const char *const errors[] = {"errors", NULL};
        uint64_t *t = calloc((size_t)rounds, sizeof(uint64_t));
        uniRecordPtr rec = NULL, *ev = NULL;
        int n = 0;
        for (int i = 0; i < rounds; i++) {
            uint64_t t0 = now_ns();
            if (uniNodeGetStats(c, errors, &rec, 0) < 0)
                return 1;
            t[i] = now_ns() - t0;
            n = uniRecordNumSamples(rec);
            uniRecordFree(rec);
        }
        printf("uniNodeGetStats(errors): %d samples, median %8.1f us\n", n, median_us(t, rounds));
        for (int i = 0; i < rounds; i++) {
            uint64_t t0 = now_ns();
            if (uniNodeGetCorrectableErrors(c, &rec, 0) < 0)
                return 1;
            t[i] = now_ns() - t0;
            uniRecordFree(rec);
        }
        printf("uniNodeGetCorrectableErrors:          median %8.1f us\n", median_us(t, rounds));
        for (int i = 0; i < rounds; i++) {
            uint64_t t0 = now_ns();
            n = uniHealthLogQueryMemory(c, labels[1], now - 86400000, &ev, 0);
            t[i] = now_ns() - t0;
            uniRecordListFree(ev);
        }
        printf("uniHealthLogQueryMemory(a DIMM, last day): %d events, median %8.1f us\n", n, median_us(t, rounds));
        /* The peer: the same counts from the events table, without running totals. */
        {
            sqlite3 *raw;
            sqlite3_stmt *st;
            int64_t groups = 0;
            sqlite3_open_v2(path, &raw, SQLITE_OPEN_READONLY, NULL);
            sqlite3_prepare_v2(raw,
                               "SELECT class, component, severity, bits, sum(count) FROM events WHERE counted = 1 "
                               "GROUP BY 1, 2, 3, 4",
                               -1, &st, NULL);
            for (int i = 0; i < 5; i++) {
                uint64_t t0 = now_ns();
                groups = 0;
                while (sqlite3_step(st) == SQLITE_ROW)
                    groups++;
                sqlite3_reset(st);
                t[i] = now_ns() - t0;
            }
            printf("peer: the counts by scanning the events table: %lld groups, median %8.1f us\n", (long long)groups,
                   median_us(t, 5));
            sqlite3_finalize(st);
            sqlite3_close(raw);
        }
        free(t);
    }
    uniConnectClose(c);
    if (argc <= 1) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
            return 1;
    }
    return 0;
}
