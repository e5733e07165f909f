/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemons' log (uniserverd, uni-healthd): stderr with a timestamp, or syslog; messages below
 * the level are dropped. */
#include <stdarg.h>
#include <syslog.h>
#include <time.h>

#include "util/log.h"
#include "util/util.h"

static log_level max_level = LOG_LEVEL_INFO;
static bool to_syslog;
static const char *ident = "uniserverd";

void log_set_ident(const char *name) {
    ident = name;
}

void log_setup(log_level level, bool use_syslog) {
    max_level = level;
    to_syslog = use_syslog;
    if (use_syslog)
        openlog(ident, LOG_PID, LOG_DAEMON);
}

void log_msg(log_level level, const char *fmt, ...) {
    static const char *const names[] = {"error", "warning", "info", "debug"};
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    va_list ap;

    if (level > max_level)
        return;
    va_start(ap, fmt);
    if (to_syslog)
        vsyslog(prio[level], fmt, ap);
    else {
        struct timespec ts;
        struct tm tm;
        char when[32];
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        flockfile(stderr); /* one line, whichever thread logs (uniserverd's sampler and loop) */
        fprintf(stderr, "%s.%03ldZ %s %s: ", when, ts.tv_nsec / 1000000, ident, names[level]);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        funlockfile(stderr);
    }
    va_end(ap);
}

int log_level_from_name(const char *s) {
    static const char *const names[] = {"error", "warning", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (streq(s, names[i]))
            return i;
    return -1;
}
