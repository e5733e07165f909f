/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's ledger (ledger.c): when it served and the energy it measured, kept across restarts for section 2's availability and energy. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/internal.h"

/* A span of wall-clock time (ms since the Epoch) in which uniserverd served: from the first
 * good sample of a run (or after a reboot, a failed sample, a gap) to the last good one. */
typedef struct {
    int64_t start_ms, end_ms;
} ledger_span;

/* The energy measured until @t_ms (kWh, cumulative since the ledger began). */
typedef struct {
    int64_t t_ms;
    double kwh;
} ledger_mark;

typedef struct {
    /* what the file keeps */
    int64_t since_ms; /* the first sample the ledger recorded; 0: none yet */
    char boot_id[64]; /* the boot of the last span ("" when the source has none) */
    uint64_t reboots; /* boot id changes seen */
    double kwh;       /* energy measured so far */
    bool have_energy; /* the source ever measured energy */
    ledger_span *spans;
    size_t nspans, capspans;
    ledger_mark *marks;
    size_t nmarks, capmarks;
    /* this run's */
    bool open;            /* the last span is this run's, extended by each good sample */
    int64_t gap_ms;       /* the longest time between two good samples of one span */
    bool fresh_counter;   /* the source's energy counter began at 0 with this run's connection */
    bool have_prev_total; /* prev_total holds this run's previous host.energy.total_kwh */
    double prev_total;
    int64_t prev_wall_ms, prev_boot_ms; /* the last good sample's wall and CLOCK_BOOTTIME (ledger_clock) */
} ledger;

/* The windows of section 2 (ms). */
#define LEDGER_HOUR_MS 3600000ll
#define LEDGER_DAY_MS (24 * LEDGER_HOUR_MS)
#define LEDGER_30D_MS (30 * LEDGER_DAY_MS)
/* The energy marks: one every 5 minutes, kept a day and a mark. */
#define LEDGER_MARK_MS 300000ll

void ledger_init(ledger *l, int64_t gap_ms, bool fresh_counter);
void ledger_done(ledger *l);
/* A good sample at @now_ms of a source booted as @boot_id (NULL or "": unknown). A new boot id
 * ends the span at the sample before it: the reboot is downtime. Returns 1 when it was a reboot. */
int ledger_served(ledger *l, int64_t now_ms, const char *boot_id);
/* Before a good sample: its wall time and CLOCK_BOOTTIME (ms), so that a clock stepped forward is
 * not taken for downtime. */
void ledger_clock(ledger *l, int64_t wall_ms, int64_t boot_ms);
/* A failed sample: the span ends at the last good one. */
void ledger_failed(ledger *l);
/* This sample's host.energy.total_kwh (@have false: absent). */
void ledger_energy(ledger *l, int64_t now_ms, bool have, double total_kwh);
/* The share of the last @window_ms before @now_ms in which it served, in percent, over the part
 * of the window since the ledger began; -1 when that part is empty. -EINVAL for a window <= 0. */
double ledger_availability(const ledger *l, int64_t now_ms, int64_t window_ms);
/* The energy measured in the last @window_ms before @now_ms (kWh); -1 when none ever was. */
double ledger_energy_window(const ledger *l, int64_t now_ms, int64_t window_ms);
/* Forget what is older than 30 days (spans) or a day (marks), and spans beyond a bound. */
void ledger_prune(ledger *l, int64_t now_ms);

/* The file's text (ledger_format: malloc'd, NULL when out of memory) and back (-EBADMSG when it
 * is not a whole ledger of this version: nothing of it is taken). */
char *ledger_format(const ledger *l, int64_t now_ms);
int ledger_parse(ledger *l, const char *text);

/* The ledger's file in @dir: locked (another uniserverd on the same directory gets -EBUSY),
 * loaded (a damaged file is kept aside as ledger.damaged and a new ledger begun: *ret_damaged),
 * saved by a temporary file, fsync and rename, so that a crash leaves the old or the new one. */
typedef struct {
    ledger l;
    int dir_fd, lock_fd;
    int64_t saved_ms, sync_ms;
    char why[512]; /* why the ledger cannot be used (its metrics absent with it), or "" */
    bool warned;   /* a failed save was logged */
} ledger_file;

int ledger_file_open(ledger_file *f, const char *dir, int64_t gap_ms, int64_t sync_ms, bool fresh_counter,
                     bool *ret_damaged);
/* Save when @force or sync_ms passed since the last save; -errno. */
int ledger_file_save(ledger_file *f, int64_t now_ms, bool force);
void ledger_file_close(ledger_file *f);
/* After a sample: account for it (@rec NULL: it failed), and with a good one fill host.availability.*
 * and host.energy.1h_kwh/24h_kwh into @rec (absent with the reason where they cannot be). */
void ledger_file_sample(ledger_file *f, uniRecordPtr rec, int64_t now_ms);
