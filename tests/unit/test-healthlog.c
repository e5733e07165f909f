/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the HealthLog: the schema from the descriptions (WAL, user_version), one writer,
 * readers of older files, exact counts and rates of injected events over 1, 5 and 60 minutes,
 * queries by DIMM, core, time and severity, links, retention keeping the counts, events as
 * records, and the change notification. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "healthlog/healthlog.h"
#include "healthlog/healthlog_internal.h"
#include "testutil.h"

static char dir[64], path[128];
#define NOW 1800000000000ll

static int setup(void **state) {
    (void)state;
    strcpy(dir, "/tmp/uni-hl-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/healthlog.db", dir);
    return 0;
}

static int teardown(void **state) {
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static hl_db *writer(void) {
    hl_db *db = NULL;
    char err[256];
    assert_int_equal(hl_open(path, HL_OPEN_WRITE, &db, err, sizeof(err)), 0);
    return db;
}

static void add(hl_db *db, const char *cls, const char *comp, const char *sev, const char *bits, int64_t count,
                int64_t ago_s, const char *dimm, int cpu, int counted) {
    hl_event e = {0};
    e.source = "test";
    e.class = cls;
    e.component = comp;
    e.severity = sev;
    e.bits = bits;
    e.dimm = dimm;
    HL_SET(&e, count, count);
    HL_SET(&e, time_ms, NOW - ago_s * 1000);
    HL_SET(&e, counted, counted);
    if (cpu >= 0)
        HL_SET(&e, cpu, cpu);
    assert_int_equal(hl_insert_event(db, &e), 0);
    assert_true(HL_HAS(&e, id) && e.id > 0);
}

static void inject(hl_db *db) {
    hl_dimm d1 = {.source = (char *)"smbios",
                  .label = (char *)"DIMM_A1",
                  .size_mb = 16384,
                  .speed_mts = 2933,
                  .configured_mts = 2666,
                  .set = 1ull << 3 | 1ull << 5 | 1ull << 6};
    hl_dimm d2 = {.source = (char *)"smbios",
                  .label = (char *)"DIMM_A2",
                  .size_mb = 16384,
                  .speed_mts = 2933,
                  .configured_mts = 2400,
                  .set = 1ull << 3 | 1ull << 5 | 1ull << 6};
    hl_dimm d3 = {.source = (char *)"smbios", .label = (char *)"DIMM_A3", .size_mb = 0, .set = 1ull << 3};
    hl_dimm d4 = {.source = (char *)"edac", .label = (char *)"DIMM_C", .size_mb = 8192, .set = 1ull << 3};
    assert_int_equal(hl_begin(db), 0);
    add(db, "memory", "dram", "corrected", "single", 5, 30, "DIMM_A", -1, 1);
    add(db, "memory", "dram", "corrected", NULL, 2, 200, "DIMM_B", -1, 1);
    add(db, "memory", "dram", "uncorrected", "multi", 1, 2000, "DIMM_A", -1, 1);
    add(db, "memory", "mcu", "corrected", NULL, 3, 50, NULL, 2, 1);
    add(db, "memory", "dram", "corrected", NULL, 10, 5, NULL, -1, 0); /* a second report, counted elsewhere */
    add(db, "cpu", "l2", "corrected", "single", 4, 10, NULL, 3, 1);
    add(db, "cpu", "l3", "fatal", "multi", 1, 4000, NULL, 1, 1);
    add(db, "cpu", "l1", "corrected", NULL, 1, 100, NULL, 0, 1);
    add(db, "action", "l2", "info", NULL, 4, 9, NULL, 3, 0);
    assert_int_equal(hl_upsert_dimm(db, &d1), 0);
    assert_int_equal(hl_upsert_dimm(db, &d2), 0);
    assert_int_equal(hl_upsert_dimm(db, &d3), 0);
    assert_int_equal(hl_upsert_dimm(db, &d4), 0);
    assert_int_equal(hl_state_set(db, "cap.cpu", 1), 0);
    assert_int_equal(hl_state_set(db, "cap.memory", 1), 0);
    assert_int_equal(hl_commit(db), 0);
}

static double num(uniRecordPtr r, const char *key) {
    const uniSample *s = uniRecordLookup(r, key);
    if (!s)
        fail_msg("%s is not in the record (%s)", key,
                 uniRecordAbsentReason(r, key) ? uniRecordAbsentReason(r, key) : "no reason");
    return s->type == UNI_VALUE_U64 ? (double)s->value.u : s->value.d;
}

static void test_schema_and_writer(void **state) {
    hl_db *db = writer(), *db2 = NULL;
    sqlite3 *raw;
    sqlite3_stmt *st;
    char err[256];
    (void)state;
    /* One writer at a time. */
    assert_int_equal(hl_open(path, HL_OPEN_WRITE, &db2, err, sizeof(err)), -EBUSY);
    assert_non_null(strstr(err, "another uni-healthd"));
    hl_close(db);
    /* The -wal and -shm files stay: readers can open the file read-only without a writer. */
    {
        char w[160];
        struct stat sb;
        snprintf(w, sizeof(w), "%s-wal", path);
        assert_int_equal(stat(w, &sb), 0);
    }
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), HL_SCHEMA_VERSION);
    sqlite3_finalize(st);
    /* Every described column is there, by name. */
    assert_int_equal(sqlite3_prepare_v2(raw, "SELECT count(*) FROM pragma_table_info('events')", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), HL_NFIELDS - 1); /* vms is derived */
    sqlite3_finalize(st);
    sqlite3_close(raw);
}

static void test_counts_and_rates(void **state) {
    hl_db *db = writer(), *rd = NULL;
    uniRecordPtr rec = uni_record_new(uni_catalog, UNI_NMETRICS);
    uint8_t online[1] = {0x0f};
    int64_t mts;
    char err[256];
    (void)state;
    inject(db);
    assert_int_equal(hl_open(path, 0, &rd, err, sizeof(err)), 0);
    assert_int_equal(hl_collect(rd, rec, NOW, online, 4, NULL), 0);
    assert_double_equal(num(rec, "host.errors.l1.count"), 1, 0);
    assert_double_equal(num(rec, "host.errors.l2.count"), 4, 0);
    assert_double_equal(num(rec, "host.errors.l3.count"), 1, 0);
    assert_double_equal(num(rec, "host.errors.l2.rate_per_min"), 4, 1e-12);
    assert_double_equal(num(rec, "host.errors.l2.rate_5m_per_min"), 0.8, 1e-12);
    assert_double_equal(num(rec, "host.errors.l2.rate_60m_per_min"), 4.0 / 60, 1e-12);
    assert_double_equal(num(rec, "host.errors.l3.rate_60m_per_min"), 0, 0);
    assert_double_equal(num(rec, "host.errors.l1.rate_per_min"), 0, 0);
    assert_double_equal(num(rec, "host.errors.l1.rate_5m_per_min"), 0.2, 1e-12);
    assert_double_equal(num(rec, "host.errors.l2.sbit.count"), 4, 0);
    assert_double_equal(num(rec, "host.errors.l3.mbit.count"), 1, 0);
    assert_double_equal(num(rec, "host.errors.l1.sbit.count"), 0, 0);
    assert_null(uniRecordLookup(rec, "host.errors.l1.mbit.count")); /* the spec: multi-bit in L2/L3 */
    assert_double_equal(num(rec, "host.errors.cpu.rate_per_min"), 4, 1e-12);
    assert_double_equal(num(rec, "host.errors.cpu.sbit.count"), 4, 0);
    assert_double_equal(num(rec, "host.errors.cpu.mbit.count"), 1, 0);
    assert_double_equal(num(rec, "host.errors.mem.rate_per_min"), 8, 1e-12);
    assert_double_equal(num(rec, "host.errors.mem.rate_5m_per_min"), 2, 1e-12);
    assert_double_equal(num(rec, "host.errors.mem.rate_60m_per_min"), 11.0 / 60, 1e-12);
    assert_double_equal(num(rec, "host.errors.mem.sbit.count"), 5, 0);
    assert_double_equal(num(rec, "host.errors.mem.mbit.count"), 1, 0);
    assert_double_equal(num(rec, "host.errors.mem.sbit.rate_per_min"), 5, 1e-12);
    assert_double_equal(num(rec, "host.errors.l2.ce.count"), 4, 0);
    assert_double_equal(num(rec, "host.errors.l3.ue.count"), 1, 0);
    assert_double_equal(num(rec, "host.errors.dram.ce.count"), 7, 0);
    assert_double_equal(num(rec, "host.errors.dram.ue.count"), 1, 0);
    assert_double_equal(num(rec, "host.errors.mcu.ce.count"), 3, 0);
    assert_double_equal(num(rec, "host.errors.dram.ce.rate_per_min"), 5, 1e-12);
    assert_double_equal(num(rec, "host.errors.dram.ce.rate_5m_per_min"), 1.4, 1e-12);
    assert_double_equal(num(rec, "host.errors.dram.ue.rate_60m_per_min"), 1.0 / 60, 1e-12);
    assert_double_equal(num(rec, "host.errors.dimm.DIMM_A.ce.count"), 5, 0);
    assert_double_equal(num(rec, "host.errors.dimm.DIMM_A.ue.count"), 1, 0);
    assert_double_equal(num(rec, "host.errors.dimm.DIMM_B.ce.count"), 2, 0);
    assert_double_equal(num(rec, "host.errors.dimm.DIMM_C.ce.count"), 0, 0); /* EDAC knows it */
    assert_null(uniRecordLookup(rec, "host.errors.dimm.DIMM_A1.ce.count"));  /* SMBIOS-only names */
    assert_double_equal(num(rec, "host.errors.core.0.ce.count"), 1, 0);
    assert_double_equal(num(rec, "host.errors.core.1.ue.count"), 1, 0);
    assert_double_equal(num(rec, "host.errors.core.2.ce.count"), 0, 0); /* an online core, no errors */
    assert_double_equal(num(rec, "host.errors.core.3.ce.count"), 4, 0);
    assert_double_equal(num(rec, "host.mem.speed_mhz"), 2400, 0);
    assert_int_equal(hl_mem_speed(rd, &mts), 0);
    uniRecordFree(rec);
    /* An hour later nothing is in any window; the counts stay. */
    rec = uni_record_new(uni_catalog, UNI_NMETRICS);
    assert_int_equal(hl_collect(rd, rec, NOW + 3 * 3600000ll, NULL, 0, NULL), 0);
    assert_double_equal(num(rec, "host.errors.mem.rate_60m_per_min"), 0, 0);
    assert_double_equal(num(rec, "host.errors.dram.ce.count"), 7, 0);
    assert_null(uniRecordLookup(rec, "host.errors.core.2.ce.count"));
    uniRecordFree(rec);
    hl_close(rd);
    hl_close(db);
}

/* Each window's edges, to the millisecond: an event exactly 1, 5 or 60 minutes old is out of
 * that window (time_ms > now - window), one a millisecond younger is in. The counts are powers
 * of two, so that each rate says which events it summed. */
static void test_window_edges(void **state) {
    static const struct {
        int64_t ago_ms, count;
    } ev[] = {{0, 64},       {59999, 1},    {60000, 2},    {299999, 4},   {300000, 8},
              {3599999, 16}, {3600000, 32}, {600000, 128}, {2400000, 256}};
    hl_db *db = writer(), *rd = NULL;
    uniRecordPtr rec = uni_record_new(uni_catalog, UNI_NMETRICS);
    char err[256];
    (void)state;
    assert_int_equal(hl_begin(db), 0);
    for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
        hl_event e = {0};
        e.source = "test";
        e.class = "memory";
        e.component = "dram";
        e.severity = "corrected";
        HL_SET(&e, count, ev[i].count);
        HL_SET(&e, time_ms, NOW - ev[i].ago_ms);
        HL_SET(&e, counted, 1);
        assert_int_equal(hl_insert_event(db, &e), 0);
    }
    assert_int_equal(hl_state_set(db, "cap.memory", 1), 0);
    assert_int_equal(hl_commit(db), 0);
    assert_int_equal(hl_open(path, 0, &rd, err, sizeof(err)), 0);
    assert_int_equal(hl_collect(rd, rec, NOW, NULL, 0, NULL), 0);
    assert_double_equal(num(rec, "host.errors.dram.ce.count"), 511, 0);
    /* 1 minute: now and 59.999 s ago. */
    assert_double_equal(num(rec, "host.errors.dram.ce.rate_per_min"), 64 + 1, 0);
    /* 5 minutes: also 60 s and 299.999 s ago; not 300 s, nor 600 s (a 10-minute window). */
    assert_double_equal(num(rec, "host.errors.dram.ce.rate_5m_per_min"), (64 + 1 + 2 + 4) / 5.0, 1e-12);
    /* 60 minutes: also 300 s, 600 s, 2400 s and 3599.999 s ago; not 3600 s. */
    assert_double_equal(num(rec, "host.errors.dram.ce.rate_60m_per_min"), (64 + 1 + 2 + 4 + 8 + 16 + 128 + 256) / 60.0,
                        1e-12);
    assert_double_equal(num(rec, "host.errors.mem.rate_5m_per_min"), (64 + 1 + 2 + 4) / 5.0, 1e-12);
    assert_double_equal(num(rec, "host.errors.mem.rate_60m_per_min"), (64 + 1 + 2 + 4 + 8 + 16 + 128 + 256) / 60.0,
                        1e-12);
    uniRecordFree(rec);
    hl_close(rd);
    hl_close(db);
}

/* An acknowledged event is on disk: the writer's connection runs with synchronous=FULL (2) in
 * WAL mode, read back from the connection itself (the pragma is per connection; kill -9 in
 * healthd-durability cannot show a missing fsync, only a power cut could). */
static void test_writer_is_synchronous(void **state) {
    hl_db *db = writer();
    sqlite3_stmt *st;
    (void)state;
    assert_int_equal(sqlite3_prepare_v2(db->db, "PRAGMA synchronous", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db->db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    hl_close(db);
}

static void test_no_sources(void **state) {
    hl_db *db = writer(), *rd = NULL;
    uniRecordPtr rec = uni_record_new(uni_catalog, UNI_NMETRICS);
    char err[256];
    (void)state;
    /* A host without EDAC or machine-check tracing: no made-up zeros. */
    assert_int_equal(hl_begin(db), 0);
    assert_int_equal(hl_state_set(db, "cap.cpu", 0), 0);
    assert_int_equal(hl_state_set(db, "cap.memory", 0), 0);
    assert_int_equal(hl_commit(db), 0);
    assert_int_equal(hl_open(path, 0, &rd, err, sizeof(err)), 0);
    assert_int_equal(hl_collect(rd, rec, NOW, NULL, 0, NULL), 0);
    assert_int_equal(uniRecordNumSamples(rec), 0);
    uniRecordFree(rec);
    hl_close(rd);
    hl_close(db);
}

static void test_query(void **state) {
    hl_db *db = writer();
    hl_event *ev = NULL;
    size_t n = 0;
    hl_filter f;
    hl_link l = {.vm = (char *)"vm-1",
                 .pid = 4242,
                 .how = (char *)"ran_on",
                 .vcpu = 1,
                 .set = 1ull << 0 | 1ull << 2 | 1ull << 3};
    int64_t c;
    uniRecordPtr r = NULL;
    (void)state;
    inject(db);
    hl_filter_init(&f);
    f.class = "memory";
    f.dimm = "DIMM_A";
    assert_int_equal(hl_query(db, &f, &ev, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ev[0].bits, "multi"); /* oldest first */
    assert_string_equal(ev[1].severity, "corrected");
    hl_events_free(ev, n);
    f.severities = HL_SEV_UNCORRECTED;
    assert_int_equal(hl_query(db, &f, &ev, &n), 0);
    assert_int_equal(n, 1);
    hl_events_free(ev, n);
    f.severities = 0;
    f.since_ms = NOW - 60000;
    assert_int_equal(hl_count(db, &f, &c), 0);
    assert_true(c == 5);
    hl_filter_init(&f);
    f.class = "cpu";
    f.cpu = 3;
    f.with_actions = true;
    assert_int_equal(hl_query(db, &f, &ev, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ev[1].class, "action");
    /* Links, stored with the event and read with it. */
    l.event_id = ev[0].id;
    assert_int_equal(hl_begin(db), 0);
    assert_int_equal(hl_insert_link(db, &l), 0);
    assert_int_equal(hl_commit(db), 0);
    hl_events_free(ev, n);
    f.with_actions = false;
    assert_int_equal(hl_query(db, &f, &ev, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].vms, "vm-1 (pid 4242): ran_on vcpu 1");
    /* An event as a record of its fields. */
    assert_int_equal(hl_event_to_record(&ev[0], &r), 0);
    assert_string_equal(uniRecordLookup(r, "event.component")->value.s, "l2");
    assert_true(uniRecordLookup(r, "event.cpu")->value.u == 3);
    assert_string_equal(uniRecordLookup(r, "event.vms")->value.s, "vm-1 (pid 4242): ran_on vcpu 1");
    assert_null(uniRecordLookup(r, "event.address"));
    assert_int_equal(uniRecordGetTimestamp(r), NOW - 10000);
    assert_string_equal(uniRecordGetDescriptor(r, HL_F_dimm)->key, "event.dimm");
    uniRecordFree(r);
    hl_events_free(ev, n);
    /* A limit: more matches fail rather than cut silently. */
    hl_filter_init(&f);
    f.limit = 3;
    assert_int_equal(hl_query(db, &f, &ev, &n), -E2BIG);
    /* Only what came after an id (a follower's next read). */
    hl_filter_init(&f);
    f.after_id = 8;
    assert_int_equal(hl_query(db, &f, &ev, &n), 0);
    assert_int_equal(n, 1);
    hl_events_free(ev, n);
    hl_close(db);
}

static void test_retention(void **state) {
    hl_db *db = writer(), *rd = NULL;
    uniRecordPtr rec = uni_record_new(uni_catalog, UNI_NMETRICS);
    hl_filter f;
    int64_t c;
    char err[256];
    (void)state;
    inject(db);
    /* Older than 30 minutes goes: the uncorrected DRAM error (2000 s) and the L3 one (4000 s). */
    assert_int_equal(hl_begin(db), 0);
    assert_true(hl_retention(db, NOW - 1800000, 0, NOW, 1000) == 2);
    assert_int_equal(hl_commit(db), 0);
    hl_filter_init(&f);
    assert_int_equal(hl_count(db, &f, &c), 0);
    assert_true(c == 5 + 2 + 3 + 10 + 4 + 1 + 4);
    /* At most 3 events: the newest 3 stay. */
    assert_int_equal(hl_begin(db), 0);
    assert_true(hl_retention(db, INT64_MIN, 3, NOW, 1000) == 4);
    assert_int_equal(hl_commit(db), 0);
    assert_int_equal(hl_count(db, &f, &c), 0);
    assert_true(c == 4 + 1 + 4);
    /* Counts are since the HealthLog began: retention does not lower them. */
    assert_int_equal(hl_open(path, 0, &rd, err, sizeof(err)), 0);
    assert_int_equal(hl_collect(rd, rec, NOW, NULL, 0, NULL), 0);
    assert_double_equal(num(rec, "host.errors.dram.ce.count"), 7, 0);
    assert_double_equal(num(rec, "host.errors.l3.ue.count"), 1, 0);
    uniRecordFree(rec);
    hl_close(rd);
    hl_close(db);
}

static void test_readers(void **state) {
    hl_db *rd = NULL;
    sqlite3 *raw;
    char err[256], empty[160];
    hl_event *ev;
    size_t n;
    hl_filter f;
    int fd;
    (void)state;
    /* No file, an empty file, not a database. */
    assert_int_equal(hl_open(path, 0, &rd, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "start uni-healthd"));
    snprintf(empty, sizeof(empty), "%s/empty.db", dir);
    fd = open(empty, O_CREAT | O_WRONLY, 0644);
    close(fd);
    assert_int_equal(hl_open(empty, 0, &rd, err, sizeof(err)), -ENODATA);
    fd = open(empty, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd,
                           "this is not sqlite, this is not sqlite, this is not sqlite, this is not sqlite, "
                           "this is not sqlite, this is not sqlite",
                           118),
                     118);
    close(fd);
    assert_true(hl_open(empty, 0, &rd, err, sizeof(err)) < 0);
    /* A file of an older schema, with fewer columns: read what it has; a writer adds the rest. */
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(raw,
                     "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER, class TEXT, "
                     "component TEXT, severity TEXT, count INTEGER, dimm TEXT, counted INTEGER);"
                     "INSERT INTO events (time_ms, class, component, severity, count, dimm, counted) "
                     "VALUES (1, 'memory', 'dram', 'corrected', 2, 'DIMM_X', 1);"
                     "PRAGMA user_version = 1;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(raw);
    assert_int_equal(hl_open(path, 0, &rd, err, sizeof(err)), 0);
    hl_filter_init(&f);
    f.dimm = "DIMM_X";
    assert_int_equal(hl_query(rd, &f, &ev, &n), 0);
    assert_int_equal(n, 1);
    assert_null(ev[0].bits);
    assert_true(ev[0].count == 2);
    hl_events_free(ev, n);
    hl_close(rd);
    rd = writer();
    assert_int_equal(hl_query(rd, &f, &ev, &n), 0);
    assert_int_equal(n, 1);
    hl_events_free(ev, n);
    hl_close(rd);
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    {
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(raw, "SELECT count(*) FROM pragma_table_info('events')", -1, &st, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), HL_NFIELDS - 1);
        sqlite3_finalize(st);
    }
    sqlite3_close(raw);
    /* A newer schema than this code knows: a writer refuses it. */
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    assert_int_equal(hl_open(path, HL_OPEN_WRITE, &rd, err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "newer"));
}

static void test_watch(void **state) {
    int fd = hl_watch_open(path);
    hl_db *db;
    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(hl_watch_drain(fd, path), 0);
    db = writer();
    assert_int_equal(hl_watch_drain(fd, path), 1); /* created */
    assert_int_equal(hl_watch_drain(fd, path), 0);
    assert_int_equal(hl_begin(db), 0);
    add(db, "cpu", "l2", "corrected", NULL, 1, 0, NULL, 0, 1);
    assert_int_equal(hl_commit(db), 0);
    assert_int_equal(hl_watch_drain(fd, path), 1); /* the -wal was written */
    hl_close(db);
    close(fd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema_and_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts_and_rates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_is_synchronous, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
