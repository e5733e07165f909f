/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's control path: cpufreq writes (control.c) and the board's operating points
 * (opp.c), all through a journal that reads each value before and after its write and restores
 * what it wrote when a later step fails. */
#pragma once

#include "lib/internal.h"

/* The sysfs tree a local connection controls. */
typedef struct {
    uniConnectPtr conn; /* for audit events */
    int sys_fd;
    const char *sysfs; /* its path, for messages */
} sysfs_root;

/* ---- journal.c ---- */
typedef struct {
    char path[160];   /* relative to the sysfs root */
    char object[96];  /* for the audit: "cpus 4-5", "pmd2" */
    char before[256]; /* read before the write */
    char after[128];  /* written */
} journal_entry;

typedef struct {
    const sysfs_root *root;
    journal_entry *e;
    size_t n;
} journal;

/* Write @value to @path: read the old value, write, read back. When the old value already is
 * @value nothing is written. Sets the error and returns -1 on a failed write (SYSTEM_ERROR) or a
 * value that reads back different (NOT_APPLIED); every write is reported to the audit hook. */
int journal_write(journal *j, const char *object, const char *path, const char *value);
/* After a failure: restore every journaled file, newest first, and add to the current error
 * what was restored (or what could not be). */
void journal_rollback(journal *j);
void journal_done(journal *j);

/* ---- control.c ---- */
/* The writes of a frequency change of @core's domain, into @j (for a larger change that undoes
 * them with journal_rollback on a later failure); the number of cores moved, or -1. */
int local_frequency_writes(journal *j, int core, uint64_t khz, const char *text, uni_core_set *ret);
int local_set_frequency(const sysfs_root *root, int core, uint64_t khz, const char *text, uni_core_set *ret);
int local_set_governor(const sysfs_root *root, int core, const char *governor, uni_core_set *ret);
int local_set_power_policy(const sysfs_root *root, int core, const char *policy, uni_core_set *ret);

/* ---- opp.c: the board's operating-point interface (SYSFS/class/uniserver-opp), if any ---- */
int local_get_operating_points(const sysfs_root *root, uniOppListPtr list);
int local_set_operating_point(const sysfs_root *root, uniOppListPtr list, int domain, const uniOppSetting *settings,
                              int n);
