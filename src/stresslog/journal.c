/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-stresslog's journal: before a domain is first touched, one JSON line saying how to put it
 * back (its parameter's nominal value, its frequency and governor before); restoring reads the
 * journal back, so that the end of a search, SIGINT/SIGTERM and the next start after a kill all
 * restore the same way. The journal is removed only once everything in it is restored. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stresslog/stresslog.h"
#include "util/json.h"
#include "util/util.h"

/* Puts one journalled domain back: its parameter at nominal, its clock as it was. */
static int restore_one(uniConnectPtr conn, json_object *e) {
    const char *domain = uj_str(e, "domain", NULL), *param = uj_str(e, "param", NULL),
               *gov = uj_str(e, "governor", NULL);
    long long kind = uj_int(e, "kind", 0), nominal = uj_int(e, "nominal", -1), freq = uj_int(e, "frequency_mhz", 0);
    int core = (int)uj_int(e, "core", -1), rc = 0;
    bool userspace = gov && streq(gov, "userspace");
    char f[32];

    if (!domain || !param)
        return -EBADMSG;
    snprintf(f, sizeof(f), "%lldMHz", freq);
    if (kind == UNI_OPP_CPU || kind == UNI_OPP_MEMORY) {
        uniOppSetting set[2] = {{param, nominal}, {"frequency_mhz", freq}};
        int nset = kind == UNI_OPP_CPU && freq > 0 && userspace ? 2 : 1;
        if (uniNodeSetOperatingPoint(conn, domain, set, nset, 0) < 0) {
            fprintf(stderr, "uni-stresslog: could not restore %s %s=%lld: %s\n", domain, param, nominal,
                    uniGetLastError()->message);
            rc = -EIO;
        }
    } else if (userspace && freq > 0 && uniNodeSetFrequency(conn, core, f, 0) < 0) {
        fprintf(stderr, "uni-stresslog: could not restore %s's frequency %s: %s\n", domain, f,
                uniGetLastError()->message);
        rc = -EIO;
    }
    if (gov && !userspace && core >= 0 && uniNodeSetGovernor(conn, core, gov, 0) < 0) {
        fprintf(stderr, "uni-stresslog: could not restore %s's governor %s: %s\n", domain, gov,
                uniGetLastError()->message);
        rc = -EIO;
    }
    return rc;
}

static int restore_file(uniConnectPtr conn, const char *path, bool say) {
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    char line[2048];
    int rc = 0;

    if (!f)
        return errno == ENOENT ? 0 : -errno;
    while (fgets(line, sizeof(line), f)) {
        json_object *e = json_tokener_parse(line);
        if (!e)
            continue; /* a line cut by a kill: nothing was set after it */
        if (restore_one(conn, e) < 0)
            rc = -EIO;
        else if (say)
            printf("uni-stresslog: restored %s %s to %lld (journal %s)\n", uj_str(e, "domain", NULL),
                   uj_str(e, "param", NULL), uj_int(e, "nominal", -1), path);
        json_object_put(e);
    }
    if (rc == 0 && unlink(path) < 0 && errno != ENOENT)
        rc = -errno;
    return rc;
}

int sl_restore_all(uniConnectPtr conn, const sl_options *o) {
    return restore_file(conn, o->journal, false);
}

/* At start: a journal left by a killed run is restored first, on the connection it names. */
int sl_journal_recover(const sl_options *o) {
    char line[2048], uri[1024] = "";
    uniConnectPtr conn;
    FILE *f = fopen(o->journal, "re");
    int r;

    if (!f)
        return 0;
    while (!uri[0] && fgets(line, sizeof(line), f)) {
        json_object *e = json_tokener_parse(line);
        if (e && uj_str(e, "uri", NULL))
            snprintf(uri, sizeof(uri), "%s", uj_str(e, "uri", NULL));
        json_object_put(e);
    }
    fclose(f);
    if (o->dry_run) {
        printf("uni-stresslog: a previous run left %s: a real run restores it first\n", o->journal);
        return 0;
    }
    if (!(conn = uniConnectOpen(uri[0] ? uri : o->uri, 0))) {
        fprintf(stderr, "uni-stresslog: cannot open %s to restore what %s records: %s\n", uri[0] ? uri : o->uri,
                o->journal, uniGetLastError()->message);
        return -EIO;
    }
    printf("uni-stresslog: a previous run did not finish: restoring what %s records\n", o->journal);
    r = restore_file(conn, o->journal, true);
    uniConnectClose(conn);
    return r;
}

/* Before @t's domain is first changed: how to put it back, on disk. */
int sl_journal_note(const sl_options *o, uniConnectPtr conn, const sl_target *t) {
    const char *sel[] = {"freq", NULL};
    uniRecordPtr rec = NULL;
    json_object *e = json_object_new_object();
    char key[64];
    const char *line;
    int fd, rc = 0;

    json_object_object_add(e, "uri", json_object_new_string(o->uri));
    json_object_object_add(e, "domain", json_object_new_string(t->domain));
    json_object_object_add(e, "kind", json_object_new_int(t->kind));
    json_object_object_add(e, "param", json_object_new_string(t->param));
    json_object_object_add(e, "nominal", json_object_new_int64(t->nominal));
    json_object_object_add(e, "core", json_object_new_int(t->ncores ? t->cores[0] : -1));
    if (t->ncores && uniNodeGetStats(conn, sel, &rec, UNI_NODE_STATS_BEST_EFFORT) == 0) {
        const uniSample *s;
        snprintf(key, sizeof(key), "host.cpu.%d.governor", t->cores[0]);
        if ((s = uniRecordLookup(rec, key)) && s->type == UNI_VALUE_STRING)
            json_object_object_add(e, "governor", json_object_new_string(s->value.s));
        snprintf(key, sizeof(key), "host.cpu.%d.freq_mhz", t->cores[0]);
        if ((s = uniRecordLookup(rec, key)))
            json_object_object_add(
                e, "frequency_mhz",
                json_object_new_int64(s->type == UNI_VALUE_U64 ? (int64_t)s->value.u : (int64_t)(s->value.d + 0.5)));
        uniRecordFree(rec);
    }
    line = json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN);
    if ((fd = open(o->journal, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0 || dprintf(fd, "%s\n", line) < 0 ||
        fsync(fd) < 0) {
        fprintf(stderr, "uni-stresslog: cannot write the journal %s: %s\n", o->journal, strerror(errno));
        rc = -EIO;
    }
    if (fd >= 0)
        close(fd);
    json_object_put(e);
    return rc;
}
