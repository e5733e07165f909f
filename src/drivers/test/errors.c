/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The test driver's errors: a HealthLog in memory that holds every error the board's model drew (the hour before the connection, then each virtual second), from which every error metric and query is derived as the local driver derives them from uni-healthd's. */
#include "drivers/test/test.h"

/* One counter of the board and where its errors go in the HealthLog: logged[] is indexed as
 * PMD p's L1, L2 corrected and uncorrected (3p .. 3p + 2), then channel c slot k's corrected and
 * uncorrected (3 SB_NPMD + 2 (c SB_DIMMS + k) ..). */
static uint64_t counter(const sb_model *m, size_t i) {
    if (i < SB_NPMD * 3)
        return i % 3 < 2 ? m->pmd_ce[i / 3][i % 3] : m->pmd_ue[i / 3];
    i -= SB_NPMD * 3;
    return i % 2 ? m->dimm_ue[i / 2 / SB_DIMMS][i / 2 % SB_DIMMS] : m->dimm_ce[i / 2 / SB_DIMMS][i / 2 % SB_DIMMS];
}

int sim_healthlog_open(test_state *s) {
    int r;
    if ((r = hl_open("test:///default", HL_OPEN_MEMORY, &s->hl, NULL, 0)) < 0)
        return r;
    /* The board's sources of errors (as uni-healthd records them at start) and its DIMMs, as
     * EDAC describes them (uni-simboard's edac/mc/mcC/dimmK: sb_dimm_label). */
    if ((r = hl_begin(s->hl)) < 0)
        return r;
    if ((r = hl_state_set(s->hl, "cap.memory", 1)) < 0 || (r = hl_state_set(s->hl, "cap.cpu", 1)) < 0)
        goto fail;
    for (int c = 0; c < SB_NMC; c++)
        for (int k = 0; k < SB_DIMMS; k++) {
            char label[16], where[32];
            sb_dimm_label(c, k, label, sizeof(label));
            snprintf(where, sizeof(where), "channel %d slot %d", c, k);
            hl_dimm d = {.source = (char *)"edac",
                         .label = label,
                         .location = where,
                         .size_mb = SB_DIMM_MB,
                         .mem_type = (char *)"Registered-DDR3",
                         .speed_mts = 1600,
                         .configured_mts = 1600,
                         .set = 1ull << 3 | 1ull << 5 | 1ull << 6};
            if ((r = hl_upsert_dimm(s->hl, &d)) < 0)
                goto fail;
        }
    /* The hour before: the board under the workload of each minute, drawn a minute at a time. */
    for (int64_t t = -HISTORY_S + 60; t <= 0; t += 60) {
        sim_set_load(s, t - 60);
        sb_draw_errors(&s->board, 60.0);
        if ((r = sim_log_errors(s, t)) < 0)
            goto fail;
    }
    return hl_commit(s->hl);
fail:
    hl_rollback(s->hl);
    return r;
}

int sim_log_errors(test_state *s, int64_t t) {
    for (size_t i = 0; i < TEST_NCOUNTERS; i++) {
        uint64_t now = counter(&s->board, i), n = now - s->logged[i];
        char dimm[16], msg[96];
        hl_event e = {0};
        int r;

        if (!n)
            continue;
        s->logged[i] = now;
        HL_SET(&e, time_ms, s->open_ms + t * 1000);
        HL_SET(&e, counted, 1);
        HL_SET(&e, count, (int64_t)n);
        e.source = "simulation";
        if (i < SB_NPMD * 3) {
            /* A PMD's cache errors on the busier of its two cores. */
            int p = (int)(i / 3), core = 2 * p + (s->board.load[2 * p + 1] > s->board.load[2 * p]);
            e.class = "cpu";
            e.component = i % 3 == 0 ? "l1" : "l2";
            e.severity = i % 3 == 2 ? "uncorrected" : "corrected";
            e.bits = i % 3 == 2 ? "multi" : "single";
            HL_SET(&e, cpu, core);
        } else {
            size_t j = (i - SB_NPMD * 3) / 2;
            int c = (int)(j / SB_DIMMS), k = (int)(j % SB_DIMMS);
            sb_dimm_label(c, k, dimm, sizeof(dimm));
            e.class = "memory";
            e.component = "dram";
            e.dimm = dimm;
            e.severity = (i - SB_NPMD * 3) % 2 ? "uncorrected" : "corrected";
            e.bits = (i - SB_NPMD * 3) % 2 ? "multi" : "single";
            HL_SET(&e, mc, c);
            HL_SET(&e, address, (int64_t)(0x80000000ull + ((uint64_t)(t + HISTORY_S) * 64 + j) * 0x1000));
        }
        snprintf(msg, sizeof(msg), "simulated %s %s error", e.severity, e.component);
        e.message = msg;
        if ((r = hl_insert_event(s->hl, &e)) < 0)
            return r;
    }
    return 0;
}

/* The error metrics as the local driver computes them from a HealthLog (hl_collect), at the
 * virtual time now: counts are the board's counters, every rate is counted over its window. */
int sim_errors(test_state *s, uniRecordPtr rec) {
    static const uint8_t online[] = {(1u << SB_NCPU) - 1};
    int r = hl_collect(s->hl, rec, s->open_ms + (int64_t)s->tick * 1000, online, SB_NCPU, NULL);
    if (r < 0)
        uni_error_errno(r, "simulated HealthLog: %s", hl_errmsg(s->hl));
    return r;
}

int test_healthlog_query(uniConnectPtr conn, const uni_healthlog_query *q, uniRecordPtr **ret) {
    test_state *s = conn->priv;
    int r;

    if (s->fail & (1u << TEST_SRC_HEALTHLOG)) {
        uni_error_set(UNI_ERR_NO_SOURCE, "simulated failure of source healthlog (test:///default?fail=healthlog)");
        return -1;
    }
    if ((r = sim_catch_up(s)) < 0 || (r = hl_query_records(s->hl, q, ret)) < 0) {
        if (r == -E2BIG)
            uni_error_set(UNI_ERR_OUT_OF_RANGE, "more than %d events match: give a later since_ms",
                          UNI_HEALTHLOG_MAX_EVENTS);
        else
            uni_error_errno(r, "simulated HealthLog: %s", hl_errmsg(s->hl));
        return -1;
    }
    return r;
}
