/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The test driver's errors: counters and rates per component, per DIMM and per core, and the simulated HealthLog's events behind the latter. */
#include "drivers/test/test.h"
#include "healthlog/healthlog.h"

#define NDIMMS (SB_NMC * SB_DIMMS)

/* Error events after t seconds, per component and kind (single-bit corrected, multi-bit not). */
typedef struct {
    const char *comp;
    uint64_t sbit_per_min, mbit_per_hour;
} sim_errsrc;
static const sim_errsrc errsrc[] = {
    {"l1", 120, 0}, {"l2", 60, 360}, {"l3", 30, 180}, {"dram", 180, 120}, {"mcu", 12, 60},
};
static uint64_t sim_count(uint64_t per_min, uint64_t t) {
    return per_min * t / 60;
}
static uint64_t sim_count_h(uint64_t per_hour, uint64_t t) {
    return per_hour * t / 3600;
}
/* Rate over the last @win seconds (or since start when younger), in events per minute. */
static double sim_rate(uint64_t (*f)(uint64_t, uint64_t), uint64_t k, uint64_t t, uint64_t win) {
    uint64_t from = t > win ? t - win : 0;
    return t == 0 ? 0 : (double)(f(k, t) - f(k, from)) * 60.0 / (double)(t - from);
}

/* A count's rates over the 1, 5 and 60 minute windows, as the metric ids of each window. */
#define RATE_IDS(p)                                                                                                    \
    {                                                                                                                  \
        UNI_M_HOST_ERRORS_##p##_RATE_PER_MIN, UNI_M_HOST_ERRORS_##p##_RATE_5M_PER_MIN,                                 \
            UNI_M_HOST_ERRORS_##p##_RATE_60M_PER_MIN                                                                   \
    }
static void rates3(uniRecordPtr rec, const unsigned ids[3], const char *name, const double r[3]) {
    for (int w = 0; w < 3; w++)
        rec_dbl(rec, ids[w], -1, name, r[w]);
}

/* Events k = 1..K of a kind whose k % n == d (its DIMM or core, of n). */
static uint64_t sim_share(uint64_t K, unsigned d, unsigned n) {
    return K / n + (d >= 1 && d <= K % n ? 1 : 0);
}

void sim_errors(uniRecordPtr rec, uint64_t t) {
    static const uint64_t win[3] = {60, 300, 3600};
    static const unsigned l_ids[3] = RATE_IDS(L), ls_ids[3] = RATE_IDS(L_SBIT), lm_ids[3] = RATE_IDS(L_MBIT),
                          ce_ids[3] = RATE_IDS(C_CE), ue_ids[3] = RATE_IDS(C_UE), ms_ids[3] = RATE_IDS(MEM_SBIT),
                          mm_ids[3] = RATE_IDS(MEM_MBIT), m_ids[3] = RATE_IDS(MEM), cs_ids[3] = RATE_IDS(CPU_SBIT),
                          cm_ids[3] = RATE_IDS(CPU_MBIT), c_ids[3] = RATE_IDS(CPU);
    uint64_t cpu_s = 0, cpu_m = 0;
    double cpu_sr[3] = {0}, cpu_mr[3] = {0}, cpu_r[3];

    for (size_t i = 0; i < ELEMENTSOF(errsrc); i++) {
        const sim_errsrc *e = &errsrc[i];
        uint64_t s = sim_count(e->sbit_per_min, t), m = sim_count_h(e->mbit_per_hour, t);
        double sr[3], mr[3], all[3];
        bool cache = e->comp[0] == 'l';

        for (int w = 0; w < 3; w++) {
            sr[w] = sim_rate(sim_count, e->sbit_per_min, t, win[w]);
            mr[w] = sim_rate(sim_count_h, e->mbit_per_hour, t, win[w]);
            all[w] = sr[w] + mr[w];
        }
        if (cache) {
            rec_u64(rec, UNI_M_HOST_ERRORS_L_COUNT, -1, e->comp, s + m);
            rates3(rec, l_ids, e->comp, all);
            rec_u64(rec, UNI_M_HOST_ERRORS_L_SBIT_COUNT, -1, e->comp, s);
            rates3(rec, ls_ids, e->comp, sr);
            if (!streq(e->comp, "l1")) { /* the spec counts multi-bit errors in L2/L3 only */
                rec_u64(rec, UNI_M_HOST_ERRORS_L_MBIT_COUNT, -1, e->comp, m);
                rates3(rec, lm_ids, e->comp, mr);
            }
            cpu_s += s;
            cpu_m += m;
            for (int w = 0; w < 3; w++) {
                cpu_sr[w] += sr[w];
                cpu_mr[w] += mr[w];
            }
        }
        if (!streq(e->comp, "l1")) {
            /* ECC corrects single-bit errors and detects multi-bit ones. */
            rec_u64(rec, UNI_M_HOST_ERRORS_C_CE_COUNT, -1, e->comp, s);
            rates3(rec, ce_ids, e->comp, sr);
            rec_u64(rec, UNI_M_HOST_ERRORS_C_UE_COUNT, -1, e->comp, m);
            rates3(rec, ue_ids, e->comp, mr);
        }
        if (streq(e->comp, "dram")) {
            rec_u64(rec, UNI_M_HOST_ERRORS_MEM_SBIT_COUNT, -1, NULL, s);
            rates3(rec, ms_ids, NULL, sr);
            rec_u64(rec, UNI_M_HOST_ERRORS_MEM_MBIT_COUNT, -1, NULL, m);
            rates3(rec, mm_ids, NULL, mr);
            rates3(rec, m_ids, NULL, all);
        }
    }
    rec_u64(rec, UNI_M_HOST_ERRORS_CPU_SBIT_COUNT, -1, NULL, cpu_s);
    rates3(rec, cs_ids, NULL, cpu_sr);
    rec_u64(rec, UNI_M_HOST_ERRORS_CPU_MBIT_COUNT, -1, NULL, cpu_m);
    rates3(rec, cm_ids, NULL, cpu_mr);
    for (int w = 0; w < 3; w++)
        cpu_r[w] = cpu_sr[w] + cpu_mr[w];
    rates3(rec, c_ids, NULL, cpu_r);
    /* Per DIMM and per core: the simulated HealthLog's events (test_healthlog_query), which
     * begin an hour before the connection. DIMM d is slot d % 2 of channel d / 2. */
    for (unsigned d = 0; d < NDIMMS; d++) {
        char dimm[16];
        sb_dimm_label((int)(d / SB_DIMMS), (int)(d % SB_DIMMS), dimm, sizeof(dimm));
        rec_u64(rec, UNI_M_HOST_ERRORS_DIMM_D_CE_COUNT, -1, dimm, 60 * sim_share((t + 3600) / 20, d, NDIMMS));
        rec_u64(rec, UNI_M_HOST_ERRORS_DIMM_D_UE_COUNT, -1, dimm, sim_share((t + 3600) / 30, d, NDIMMS));
    }
    for (unsigned c = 0; c < SB_NCPU; c++) {
        rec_u64(rec, UNI_M_HOST_ERRORS_CORE_N_CE_COUNT, (int)c, NULL, 30 * sim_share((t + 3600) / 30, c, SB_NCPU));
        rec_u64(rec, UNI_M_HOST_ERRORS_CORE_N_UE_COUNT, (int)c, NULL, 0);
    }
}

/* The simulated board's HealthLog, at sim_errors' rates: every 20 s one event of 60 corrected
 * single-bit DRAM errors (180/min) on DIMM k % 8 (sb_dimm_label: DIMM0A, DIMM0B, DIMM1A ... in turn),
 * every 30 s one uncorrected multi-bit DRAM error (120/h), every 30 s one event of 30 corrected
 * L2 errors (60/min) on core k % 8. It holds the hour before the connection opened and the
 * virtual time since. */
int test_healthlog_query(uniConnectPtr conn, const uni_healthlog_query *q, uniRecordPtr **ret) {
    test_state *s = conn->priv;
    uint64_t t = s->tick;
    uniRecordPtr *list = calloc(1, sizeof(*list));
    int n = 0, r = 0;
    unsigned sev = q->flags & (UNI_HEALTHLOG_CORRECTED | UNI_HEALTHLOG_UNCORRECTED);

    for (int64_t sec = -3600 + 1; list && r >= 0 && sec <= (int64_t)t; sec++)
        for (int kind = 0; kind < 3 && r >= 0; kind++) {
            static const unsigned period[3] = {20, 30, 30};
            uint64_t k = (uint64_t)(sec + 3600) / period[kind];
            char dimm[16], msg[96];
            hl_event e = {0};
            uniRecordPtr rec, *nl;

            if ((sec + 3600) % period[kind] || (kind < 2) == q->cpu)
                continue;
            HL_SET(&e, id, (sec + 3600) * 3 + kind);
            HL_SET(&e, time_ms, s->open_ms + sec * 1000);
            HL_SET(&e, counted, 1);
            e.source = "simulation";
            if (kind < 2) {
                sb_dimm_label((int)(k % NDIMMS / SB_DIMMS), (int)(k % SB_DIMMS), dimm, sizeof(dimm));
                e.class = "memory";
                e.component = "dram";
                e.dimm = dimm;
                e.severity = kind == 0 ? "corrected" : "uncorrected";
                e.bits = kind == 0 ? "single" : "multi";
                HL_SET(&e, count, kind == 0 ? 60 : 1);
                HL_SET(&e, mc, (int64_t)(k % NDIMMS / SB_DIMMS));
                HL_SET(&e, address, (int64_t)(0x80000000ull + k * 0x1000));
            } else {
                e.class = "cpu";
                e.component = "l2";
                e.severity = "corrected";
                e.bits = "single";
                HL_SET(&e, count, 30);
                HL_SET(&e, cpu, (int64_t)(k % SB_NCPU));
            }
            snprintf(msg, sizeof(msg), "simulated %s %s error", e.severity, e.component);
            e.message = msg;
            if ((q->dimm && (!e.dimm || !streq(q->dimm, e.dimm))) || (q->cpu && q->core >= 0 && e.cpu != q->core) ||
                e.time_ms < q->since_ms || (sev == UNI_HEALTHLOG_CORRECTED && kind == 1) ||
                (sev == UNI_HEALTHLOG_UNCORRECTED && kind != 1))
                continue;
            if ((r = hl_event_to_record(&e, &rec)) < 0)
                break;
            nl = realloc(list, (size_t)(n + 2) * sizeof(*nl));
            if (!nl) {
                uniRecordFree(rec);
                r = -ENOMEM;
                break;
            }
            list = nl;
            list[n++] = rec;
            list[n] = NULL;
        }
    if (!list || r < 0) {
        uniRecordListFree(list);
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    *ret = list;
    return n;
}
