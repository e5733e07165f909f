/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-stresslog: the StressLog (D5.1 section 1.1), finding each operating-point domain's safe
 * margin by stress test through the public API; main checks everything before it changes anything,
 * recovers a killed run, plans, runs and writes the margins file (uni-stresslog(8)). */
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stresslog/stresslog.h"
#include "util/util.h"

volatile sig_atomic_t sl_stop;

static void on_signal(int sig) {
    sl_stop = sig;
}

static int exit_for(int r) {
    return r == -EINVAL || r == -ERANGE || r == -EBUSY ? SL_EXIT_USAGE
           : r == -ENOTSUP                             ? SL_EXIT_CANNOT
                                                       : SL_EXIT_FAILED;
}

int main(int argc, char **argv) {
    struct sigaction sa = {.sa_handler = on_signal};
    sl_options o;
    sl_target *t = NULL;
    uniConnectPtr conn;
    char why[4600];
    int n = 0, r, rc = SL_EXIT_OK;
    bool complete = true;

    if (sl_parse_options(argc, argv, &o) < 0)
        return SL_EXIT_USAGE;
    if (sl_workload_check(&o, why, sizeof(why)) < 0) {
        fprintf(stderr, "uni-stresslog: the workload %s cannot run: %s\n", o.workload, why);
        return SL_EXIT_CANNOT;
    }
    if (!o.dry_run) {
        const char *outs[] = {o.margins, o.log, o.journal};
        for (size_t i = 0; i < ELEMENTSOF(outs); i++)
            if (sl_check_writable(outs[i], why, sizeof(why)) < 0) {
                fprintf(stderr, "uni-stresslog: cannot write %s (INVALID_ARG)\n", why);
                return SL_EXIT_USAGE;
            }
    }
    if (!(conn = uniConnectOpen(o.uri, 0))) {
        const uniError *e = uniGetLastError();
        fprintf(stderr, "uni-stresslog: cannot open %s: %s\n", o.uri, e->message);
        return e->code == UNI_ERR_INVALID_URI || e->code == UNI_ERR_NO_DRIVER ? SL_EXIT_USAGE : SL_EXIT_FAILED;
    }
    if ((r = sl_build_plan(conn, &o, &t, &n)) < 0 || (r = sl_check_vms(conn, t, n, o.force)) < 0) {
        uniConnectClose(conn);
        free(t);
        return exit_for(r);
    }
    if (o.dry_run) {
        sl_journal_recover(&o);
        sl_print_plan(stdout, &o, t, n);
        uniConnectClose(conn);
        free(t);
        return SL_EXIT_OK;
    }
    /* A run that was killed left its domains where it stopped: back to nominal first. */
    if (sl_journal_recover(&o) < 0) {
        uniConnectClose(conn);
        free(t);
        return SL_EXIT_FAILED;
    }
    if (o.resume && sl_resume(&o, t, n) < 0) {
        uniConnectClose(conn);
        free(t);
        return SL_EXIT_USAGE;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (sl_log_open(&o) < 0) {
        uniConnectClose(conn);
        free(t);
        return SL_EXIT_FAILED;
    }
    r = sl_run(conn, &o, t, n);
    /* Whatever happened, nothing stays off nominal. */
    sl_workload_end(&o);
    if (sl_restore_all(conn, &o) < 0) {
        fprintf(stderr,
                "uni-stresslog: some domains could not be restored: the journal %s keeps them for the "
                "next start\n",
                o.journal);
        rc = SL_EXIT_FAILED;
    }
    for (int k = 0; k < n; k++)
        complete = complete && t[k].done;
    sl_log_close();
    if (sl_write_margins(&o, t, n, complete) < 0)
        rc = SL_EXIT_FAILED;
    sl_write_report(&o, t, n);
    if (r == -ENODATA)
        rc = SL_EXIT_CANNOT;
    else if (r < 0)
        rc = SL_EXIT_FAILED;
    else if (sl_stop)
        rc = SL_EXIT_STOPPED;
    else if (!complete && rc == SL_EXIT_OK)
        rc = SL_EXIT_PARTIAL;
    if (!o.quiet)
        printf("uni-stresslog: %s; margins in %s, raw log in %s\n",
               rc == SL_EXIT_OK        ? "done"
               : rc == SL_EXIT_PARTIAL ? "budget exhausted: partial results"
               : rc == SL_EXIT_STOPPED ? "interrupted: partial results, domains restored"
                                       : "failed",
               o.margins, o.log);
    uniConnectClose(conn);
    free(t);
    return rc;
}
