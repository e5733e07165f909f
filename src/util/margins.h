/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one reader of uni-stresslog's margins file (docs/stresslog.md): every program that reads
 * the margins (the local driver's host.margin.* metrics, the predictor) calls this, never its own
 * parser. A malformed file or one of a newer version is refused whole, with the reason: a margin
 * is suggested to the hypervisor, so a guessed one is worse than none. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The schema version this reader knows; a file of a higher version is refused. */
#define UNI_MARGINS_VERSION 1
#define UNI_MARGINS_DEFAULT_PATH "/var/lib/uniserver/margins.json"
#define UNI_MARGIN_MAX_CORES 256
#define UNI_MARGIN_MAX_DIMMS 16

/* One search: a domain's parameter at one condition. */
typedef struct {
    char domain[32];  /* pmd2, mc1, cpu0: letters, digits, '_' and '-' only */
    char kind[16];    /* cpu, memory, cpufreq */
    char param[16];   /* voltage_mv, refresh_ms, frequency_mhz */
    int64_t freq_mhz; /* the frequency a voltage was searched at; 0: none */
    char name[64];    /* the record's instance name: DOMAIN:WORD[@FREQMHz] (pmd2:voltage@2400MHz, mc1:refresh) */
    int dir;          /* -1: the margin extends down (voltage), +1: up (refresh, frequency) */
    int64_t nominal, limit;
    bool has_safe; /* false: not even nominal was clean, no margin (last_clean, safe, guard_band null) */
    int64_t last_clean, safe, guard_band;
    char status[16]; /* failure, limit, budget, stopped, error, not-run */
    bool partial;
    int64_t measured_s; /* Unix time the search's last step ended (the file's "generated" in files without it) */
    int cores[UNI_MARGIN_MAX_CORES];
    size_t ncores;
    char dimms[UNI_MARGIN_MAX_DIMMS][32];
    size_t ndimms;
} uni_margin;

typedef struct {
    int version;
    int64_t generated_s; /* when the file was written */
    char run[4200];      /* the run that wrote it: its start and raw log, else its "generated" time */
    bool complete;
    uni_margin *m;
    size_t n;
} uni_margins;

/* Parse the margins file's text @buf (@len bytes). Returns 0 with @ret filled (free with
 * uni_margins_free), or -EBADMSG (malformed: a field missing, of the wrong type or out of its
 * range, with the field named in @why) or -EPROTONOSUPPORT (a version newer than this reader's). */
int uni_margins_parse(const char *buf, size_t len, uni_margins *ret, char *why, size_t why_len);
/* Read and parse the margins file @path: as uni_margins_parse, or -ENOENT when there is none
 * (@why says so and how to make one), other -errno when it cannot be read. */
int uni_margins_load(const char *path, uni_margins *ret, char *why, size_t why_len);
void uni_margins_free(uni_margins *m);
