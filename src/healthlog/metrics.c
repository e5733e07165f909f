/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The error metrics (group "errors", host.mem.speed_mhz), computed from the HealthLog's totals and
 * events. */
#include "healthlog_internal.h"

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

static bool is_uncorrected(const char *sev) {
    return sev && (streq(sev, "uncorrected") || streq(sev, "deferred") || streq(sev, "fatal"));
}

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

static void acc_add(err_acc *a, const char *cls, const char *comp, const char *sev, const char *bits, int w,
                    int64_t n) {
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
                    if ((cls < 0 || c == cls) && (comp < 0 || k == comp) && (sev < 0 || s == sev) &&
                        (bits < 0 || b == bits))
                        t += a->v[c][k][s][b][w];
    return t;
}

/* A count and its three rates: the metric ids of count (or -1), rate over 1, 5 and 60 minutes. */
static void emit(uniRecordPtr rec, const err_acc *a, int count_id, const int rate_ids[3], const char *name, int cls,
                 int comp, int sev, int bits) {
    if (count_id >= 0)
        rec_u64(rec, (unsigned)count_id, -1, name, (uint64_t)acc_sum(a, cls, comp, sev, bits, W_TOTAL));
    for (int w = W_1; w <= W_60; w++)
        rec_dbl(rec, (unsigned)rate_ids[w - 1], -1, name, (double)acc_sum(a, cls, comp, sev, bits, w) / window_min[w]);
}

static int read_totals(hl_db *db, err_acc *a, uniRecordPtr rec) {
    sqlite3_stmt *st = NULL;
    int r, rc;
    if ((r = hl_prepare(db, "SELECT scope, name, severity, bits, count FROM totals ORDER BY scope, name", &st)) < 0)
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
        r = hl_sql_fail(db, rc, "totals");
    sqlite3_finalize(st);
    if (r < 0)
        return r;
    /* Per DIMM: every DIMM EDAC describes and every label an error named; corrected and
     * uncorrected, summed over the severities. */
    if ((r = hl_prepare(
             db,
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
        r = hl_sql_fail(db, rc, "totals");
    sqlite3_finalize(st);
    return r;
}

/* Per core: corrected and uncorrected counts, for every online core and every core with errors. */
static int read_core_totals(hl_db *db, uniRecordPtr rec, const uint8_t *online, unsigned ncpu) {
    sqlite3_stmt *st = NULL;
    int r, rc;
    unsigned next = 0;

    if ((r = hl_prepare(
             db,
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
        r = hl_sql_fail(db, rc, "totals");
    sqlite3_finalize(st);
    return r;
}

static int read_windows(hl_db *db, err_acc *a, int64_t now_ms) {
    sqlite3_stmt *st = NULL;
    int r, rc;
    /* One range scan of the covering index over the last hour, summed into three windows. */
    if ((r = hl_prepare(db,
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
        r = hl_sql_fail(db, rc, "events");
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
#define RATES(p)                                                                                                       \
    {                                                                                                                  \
        UNI_M_HOST_ERRORS_##p##_RATE_PER_MIN, UNI_M_HOST_ERRORS_##p##_RATE_5M_PER_MIN,                                 \
            UNI_M_HOST_ERRORS_##p##_RATE_60M_PER_MIN                                                                   \
    }
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
