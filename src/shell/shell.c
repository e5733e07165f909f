/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* unish's shared helpers: errors and usage, the connection, option values, waiting, printing a record,
 * finding a view or a domain. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "shell.h"

void print_error(const char *what) {
    const uniError *e = uniGetLastError();
    fprintf(stderr, "error: %s: %s (%s)\n", what, e && e->message ? e->message : "unknown error",
            uniErrorCodeName(e ? e->code : UNI_ERR_INTERNAL_ERROR));
}

__attribute__((format(printf, 2, 3))) int usage_error(const cmd_def *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "error: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (cmd)
        fprintf(stderr, "\nusage: unish %s %s\n", cmd->name, cmd->args);
    else
        fprintf(stderr, "\nTry 'unish help'.\n");
    return EXIT_USAGE;
}

int ensure_conn(shell *sh) {
    if (sh->conn)
        return 0;
    sh->conn = uniConnectOpen(sh->uri, sh->readonly ? UNI_CONNECT_RO : 0);
    if (!sh->conn) {
        print_error(sh->uri ? sh->uri : "failed to connect");
        return -1;
    }
    if (sh->reason && uniConnectSetAuditReason(sh->conn, sh->reason, 0) < 0) {
        print_error("--reason");
        uniConnectClose(sh->conn);
        sh->conn = NULL;
        return -1;
    }
    return 0;
}

int arg_error(const cmd_def *cmd, int argc, char **argv, int i, const char *const *with_value) {
    for (size_t k = 0; with_value && with_value[k]; k++)
        if (strcmp(argv[i], with_value[k]) == 0)
            return i + 1 >= argc ? usage_error(cmd, "option '%s' needs a value", argv[i])
                                 : usage_error(cmd, "invalid value '%s' for %s", argv[i + 1], argv[i]);
    return usage_error(cmd, "unknown option or argument '%s'", argv[i]);
}

int parse_window(const cmd_def *cmd, const char *s, long *ret) {
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 0 || v > 3600000)
        return usage_error(cmd, "--window takes milliseconds from 0 to 3600000, not '%s'", s);
    *ret = v;
    return 0;
}

uint64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void print_record(shell *sh, uniRecordPtr rec) {
    if (sh->exposition) {
        char *text = NULL;
        size_t len = 0;
        if (uniRecordToPrometheus(rec, &text, &len, sh->exposition == 2 ? UNI_EXPOSITION_OPENMETRICS : 0) < 0) {
            print_error("exposition");
            return;
        }
        fwrite(text, 1, len, stdout);
        free(text);
        return;
    }
    if (sh->json)
        fmt_record_json(stdout, rec);
    else {
        long long w = uniRecordGetWindowMs(rec);
        fmt_record_text(stdout, rec, true);
        if (w >= 0)
            printf("(rates over a %lld ms window)\n", w);
    }
}

int find_view(const char *spec_name) {
    for (int i = 0; i < uniViewCount(); i++)
        if (strcmp(uniViewGet(i)->spec_name, spec_name) == 0)
            return i;
    return -1;
}

static bool looks_like_uuid(const char *s) {
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++)
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* A domain by name, or by UUID when the argument is one. */
uniDomainPtr lookup_domain(shell *sh, const char *what) {
    uniDomainPtr d = looks_like_uuid(what) ? uniDomainLookupByUUIDString(sh->conn, what, 0) : NULL;
    if (!d)
        d = uniDomainLookupByName(sh->conn, what, 0);
    return d;
}

int parse_count(const cmd_def *cmd, const char *opt, const char *s, long min, long max, long *ret) {
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < min || v > max)
        return usage_error(cmd, "%s takes a number from %ld to %ld, not '%s'", opt, min, max, s);
    *ret = v;
    return 0;
}
