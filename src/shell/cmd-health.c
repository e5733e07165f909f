/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* unish's healthlog command: hardware events and per-DIMM, per-core counts from uni-healthd's HealthLog. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "shell.h"

/* "s", "m", "h", "d" after a number: its unit in ms; 0 for anything else. */
static long long streq_unit(const char *u) {
    return strcmp(u, "s") == 0   ? 1000LL
           : strcmp(u, "m") == 0 ? 60000LL
           : strcmp(u, "h") == 0 ? 3600000LL
           : strcmp(u, "d") == 0 ? 86400000LL
                                 : 0;
}

/* --since: ms since the Epoch, a time ago ("90s", "30m", "2h", "7d", with or without a leading
 * '-'), or a UTC date ("2026-11-25", "2026-11-25T10:00", "2026-11-25T10:00:30Z"). */
static int parse_since(const char *s, long long *ret) {
    char *end;
    long long v;
    struct tm tm;
    const char *p = *s == '-' ? s + 1 : s;

    errno = 0;
    v = strtoll(p, &end, 10);
    if (!errno && end != p && v >= 0) {
        long long unit = *end == 0 && *s != '-' ? 0 : streq_unit(end);
        if (unit == 0 && *end == 0 && *s != '-') {
            *ret = v; /* ms since the Epoch */
            return 0;
        }
        if (unit > 0 && v <= LLONG_MAX / unit) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            *ret = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - v * unit;
            if (*ret < 0)
                *ret = 0;
            return 0;
        }
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%d", &tm);
    if (end && *end == 'T')
        end = strptime(end + 1, "%H:%M", &tm);
    if (end && *end == ':')
        end = strptime(end + 1, "%S", &tm);
    if (end && *end == 'Z')
        end++;
    if (!end || *end)
        return -1;
    *ret = (long long)timegm(&tm) * 1000;
    return 0;
}

static void print_events(shell *sh, uniRecordPtr *ev, int n) {
    if (sh->json)
        fmt_events_json(stdout, ev, n);
    else
        fmt_events_text(stdout, ev, n);
}

/* Events of the one DIMM or core asked for, from @since on; -1 after printing the error. */
static int query_events(shell *sh, const char *dimm, int core, bool cpu, long long since, unsigned flags,
                        uniRecordPtr **ret) {
    int n = cpu ? uniHealthLogQueryCPU(sh->conn, core, since, ret, flags)
                : uniHealthLogQueryMemory(sh->conn, dimm, since, ret, flags);
    if (n < 0)
        print_error("healthlog");
    return n;
}

/* No event for --dimm LABEL or --core N: is that because the DIMM or core does not exist? Then
 * it is an error (exit 1), as a control call on core 99 is, not an empty answer. */
static int check_exists(shell *sh, const char *dimm, long long core) {
    static const char *const sel[] = {"host.errors.dimm.", "host.cpu.count", NULL};
    uniRecordPtr rec = NULL;
    const uniMetricDesc *d = NULL;
    int nd = uniConnectGetMetricDescriptors(sh->conn, &d, 0);
    char known[512] = "";
    size_t o = 0;
    bool found = false;
    long long ncpu = -1;
    int rc = 0;

    if (uniNodeGetStats(sh->conn, sel, &rec, UNI_NODE_STATS_BEST_EFFORT) < 0) {
        print_error("healthlog");
        return -1;
    }
    for (int i = 0; i < uniRecordNumSamples(rec); i++) {
        const uniSample *s = uniRecordGetSample(rec, i);
        const char *key = (int)s->metric < nd ? d[s->metric].key : NULL;
        if (key && strcmp(key, "host.cpu.count") == 0 && s->type == UNI_VALUE_U64)
            ncpu = (long long)s->value.u;
        else if (dimm && s->name && key && strncmp(key, "host.errors.dimm.D.", 19) == 0) {
            found |= strcmp(s->name, dimm) == 0;
            if (!strstr(known, s->name) && o + strlen(s->name) + 3 < sizeof(known))
                o += (size_t)snprintf(known + o, sizeof(known) - o, "%s%s", o ? ", " : "", s->name);
        }
    }
    if (dimm && !found) {
        fprintf(stderr, "error: healthlog: no DIMM '%s' in the HealthLog (%s%s) (NO_SOURCE)\n", dimm,
                o ? "known: " : "it knows no DIMM", known);
        rc = -1;
    } else if (core >= 0 && ncpu >= 0 && core >= ncpu) {
        fprintf(stderr, "error: healthlog: core %lld does not exist (0-%lld online) (NO_CORE)\n", core, ncpu - 1);
        rc = -1;
    }
    uniRecordFree(rec);
    return rc;
}

static long long event_num(uniRecordPtr r, const char *key) {
    const uniSample *s = uniRecordLookup(r, key);
    return s && s->type == UNI_VALUE_U64 ? (long long)s->value.u : -1;
}

int cmd_healthlog(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    const char *dimm = NULL;
    long long since = 0, core = -1;
    bool cpu = false, mem = false, summary = false, follow = false;
    unsigned flags = 0;
    uniRecordPtr *ev = NULL;
    int n;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--dimm") == 0 && i + 1 < argc)
            dimm = argv[++i], mem = true;
        else if (strcmp(a, "--core") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            core = strtoll(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || core < 0 || core > 65535)
                return usage_error(cmd, "--core takes a CPU number, not '%s'", argv[i]);
            cpu = true;
        } else if (strcmp(a, "--memory") == 0)
            mem = true;
        else if (strcmp(a, "--cpu") == 0)
            cpu = true;
        else if (strcmp(a, "--summary") == 0)
            summary = true;
        else if (strcmp(a, "--since") == 0 && i + 1 < argc) {
            if (parse_since(argv[++i], &since) < 0)
                return usage_error(cmd,
                                   "--since takes ms since the Epoch, a time ago (30m, 2h, 7d) or a UTC date "
                                   "(2026-11-25T10:00), not '%s'",
                                   argv[i]);
        } else if (strcmp(a, "--corrected") == 0)
            flags |= UNI_HEALTHLOG_CORRECTED;
        else if (strcmp(a, "--uncorrected") == 0)
            flags |= UNI_HEALTHLOG_UNCORRECTED;
        else if (strcmp(a, "--actions") == 0)
            flags |= UNI_HEALTHLOG_ACTIONS;
        else if (strcmp(a, "--follow") == 0)
            follow = true;
        else {
            static const char *const valued[] = {"--dimm", "--core", "--since", NULL};
            return arg_error(cmd, argc, argv, i, valued);
        }
    }
    if ((int)cpu + (int)mem + (int)summary != 1)
        return usage_error(cmd, "say which events: --dimm LABEL, --core N, --memory, --cpu or --summary");
    if (ensure_conn(sh) < 0)
        return 1;
    if (summary) {
        static const char *const sel[] = {"host.errors.dimm.", "host.errors.core.", NULL};
        uniRecordPtr rec = NULL;
        if (uniNodeGetStats(sh->conn, sel, &rec, 0) < 0) {
            print_error(cmd->name);
            return 1;
        }
        if (sh->json)
            fmt_error_summary_json(stdout, rec);
        else
            fmt_error_summary_text(stdout, rec);
        uniRecordFree(rec);
        return 0;
    }
    if ((n = query_events(sh, dimm, (int)core, cpu, since, flags, &ev)) < 0)
        return 1;
    if (n == 0 && (dimm || core >= 0) && check_exists(sh, dimm, core) < 0) {
        uniRecordListFree(ev);
        return 1;
    }
    print_events(sh, ev, n);
    if (follow) {
        /* Then what comes: woken by uni-healthd's commits, not by polling the HealthLog. */
        long long last_id = -1;
        for (int i = 0; i < n; i++)
            if (event_num(ev[i], "event.id") > last_id)
                last_id = event_num(ev[i], "event.id");
        uniRecordListFree(ev);
        ev = NULL;
        /* New events carry times near now (the boot-time or while-stopped ones excepted, which
         * an hour covers): later queries need not read the whole past again. */
        {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            if (since < (long long)ts.tv_sec * 1000 - 3600000)
                since = (long long)ts.tv_sec * 1000 - 3600000;
        }
        for (;;) {
            int k = 0;
            fflush(stdout);
            if (uniHealthLogWait(sh->conn, -1, 0) < 0) {
                print_error(cmd->name);
                return 1;
            }
            if ((n = query_events(sh, dimm, (int)core, cpu, since, flags, &ev)) < 0)
                return 1;
            /* Only the events not printed yet (ids grow with every commit). */
            for (int i = 0; i < n; i++)
                if (event_num(ev[i], "event.id") > last_id)
                    ev[k++] = ev[i];
                else
                    uniRecordFree(ev[i]);
            ev[k] = NULL;
            print_events(sh, ev, k);
            for (int i = 0; i < k; i++)
                if (event_num(ev[i], "event.id") > last_id)
                    last_id = event_num(ev[i], "event.id");
            uniRecordListFree(ev);
            ev = NULL;
        }
    }
    uniRecordListFree(ev);
    return 0;
}
