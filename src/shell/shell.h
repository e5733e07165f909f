/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What unish's files share: the shell's state, a command's row of the table, the helpers the commands use
 * and the commands each family file defines (unish.c assembles them into the table). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "uniserver/uniserver.h"

#define EXIT_USAGE 2

typedef struct {
    const char *uri;
    const char *reason; /* --reason: goes with the changes control commands make (uniConnectSetAuditReason) */
    bool json, readonly;
    int exposition; /* 0 none, 1 Prometheus text, 2 OpenMetrics */
    uniConnectPtr conn;
} shell;

typedef struct cmd_def cmd_def;
struct cmd_def {
    const char *name;
    const char *args;    /* usage after the name */
    const char *summary; /* one line */
    const char *details; /* more, for help CMD */
    int (*run)(shell *sh, const cmd_def *cmd, int argc, char **argv);
    const char *view;       /* spec method name of the view this command shows, or NULL */
    long default_window_ms; /* for stats commands */
};

/* shell.c */
void print_error(const char *what);
__attribute__((format(printf, 2, 3))) int usage_error(const cmd_def *cmd, const char *fmt, ...);
/* The usage error for argv[i] that no branch of a command's parser took: an option of
 * @with_value (NULL-terminated) given last "needs a value", one given a value the parser refused
 * has "an invalid value", anything else is unknown. Returns 2. */
int arg_error(const cmd_def *cmd, int argc, char **argv, int i, const char *const *with_value);
int ensure_conn(shell *sh);
int parse_window(const cmd_def *cmd, const char *s, long *ret);
uint64_t mono_ms(void);
void sleep_ms(long ms);
void print_record(shell *sh, uniRecordPtr rec);
int find_view(const char *spec_name);
uniDomainPtr lookup_domain(shell *sh, const char *what);
int parse_count(const cmd_def *cmd, const char *opt, const char *s, long min, long max, long *ret);

/* cmd-host.c */
int cmd_nodestats(shell *sh, const cmd_def *cmd, int argc, char **argv);
int cmd_view(shell *sh, const cmd_def *cmd, int argc, char **argv);
int cmd_governor(shell *sh, const cmd_def *cmd, int argc, char **argv);
int cmd_errors(shell *sh, const cmd_def *cmd, int argc, char **argv);
int cmd_metrics(shell *sh, const cmd_def *cmd, int argc, char **argv);
int cmd_uri(shell *sh, const cmd_def *cmd, int argc, char **argv);

/* cmd-health.c */
int cmd_healthlog(shell *sh, const cmd_def *cmd, int argc, char **argv);

/* cmd-margins.c */
int cmd_margins(shell *sh, const cmd_def *cmd, int argc, char **argv);

/* cmd-allocation.c */
int cmd_allocation(shell *sh, const cmd_def *cmd, int argc, char **argv);

/* cmd-control.c */
int cmd_setfrequency(shell *sh, const cmd_def *cmd, int argc, char **argv);
int cmd_setpolicy(shell *sh, const cmd_def *cmd, int argc, char **argv);
int cmd_oppoints(shell *sh, const cmd_def *cmd, int argc, char **argv);
int cmd_setoppoint(shell *sh, const cmd_def *cmd, int argc, char **argv);

/* cmd-domain.c */
int cmd_list(shell *sh, const cmd_def *cmd, int argc, char **argv);
int cmd_domstats(shell *sh, const cmd_def *cmd, int argc, char **argv);

/* cmd-vm.c */
int cmd_dominfo(shell *sh, const cmd_def *cmd, int argc, char **argv);
int cmd_maxvcpus(shell *sh, const cmd_def *cmd, int argc, char **argv);
int cmd_dumpxml(shell *sh, const cmd_def *cmd, int argc, char **argv);
int cmd_schedinfo(shell *sh, const cmd_def *cmd, int argc, char **argv);
int cmd_vcpuinfo(shell *sh, const cmd_def *cmd, int argc, char **argv);
int cmd_vcpupin(shell *sh, const cmd_def *cmd, int argc, char **argv);
int cmd_cpustats(shell *sh, const cmd_def *cmd, int argc, char **argv);
int cmd_reliability(shell *sh, const cmd_def *cmd, int argc, char **argv);
int cmd_setreliability(shell *sh, const cmd_def *cmd, int argc, char **argv);

/* kvmstat.c */
int cmd_kvmstat(shell *sh, const cmd_def *cmd, int argc, char **argv);

/* top.c */
int cmd_top(shell *sh, const cmd_def *cmd, int argc, char **argv);
