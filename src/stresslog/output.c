/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-stresslog's outputs: the raw StressLog (one JSON line per step and per finished search),
 * reading it back for --resume, the margins file (JSON, versioned: docs/stresslog.md) written
 * atomically, and the report (markdown with gnuplot's PNG plots of errors per step). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "stresslog/stresslog.h"
#include "util/json.h"
#include "util/util.h"

static FILE *raw;
static char run_started[32]; /* when this run opened the raw log: the margins file's "run_started" */

static void iso_time(time_t t, char *buf, size_t len) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void iso_now(char *buf, size_t len) {
    iso_time(time(NULL), buf, len);
}

static const char *kind_name(int kind) {
    return kind == UNI_OPP_CPU ? "cpu" : kind == UNI_OPP_MEMORY ? "memory" : "cpufreq";
}

const char *sl_target_key(const sl_target *t, char *buf, size_t len) {
    if (t->freq_mhz)
        snprintf(buf, len, "%s.%s@%lldMHz", t->domain, t->param, t->freq_mhz);
    else
        snprintf(buf, len, "%s.%s", t->domain, t->param);
    return buf;
}

/* Whether @path can be written (created and removed if it did not exist): checked before
 * anything is changed, so that a run cannot end with results it cannot keep. */
int sl_check_writable(const char *path, char *why, size_t len) {
    bool existed = access(path, F_OK) == 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(why, len, "%s: %s", path, strerror(errno));
        return -errno;
    }
    close(fd);
    if (!existed)
        unlink(path);
    return 0;
}

int sl_log_open(const sl_options *o) {
    iso_now(run_started, sizeof(run_started));
    if (!(raw = fopen(o->log, o->resume ? "ae" : "we"))) {
        fprintf(stderr, "uni-stresslog: cannot write the raw log %s: %s\n", o->log, strerror(errno));
        return -errno;
    }
    return 0;
}

void sl_log_close(void) {
    if (raw)
        fclose(raw);
    raw = NULL;
}

static void flush(void) {
    fflush(raw);
    fsync(fileno(raw));
}

void sl_log_step(const sl_target *t, const sl_step *s, const char *extra) {
    char when[32];
    if (!raw)
        return;
    iso_now(when, sizeof(when));
    fprintf(raw,
            "{\"type\":\"step\",\"time\":\"%s\",\"domain\":\"%s\",\"kind\":\"%s\",\"param\":\"%s\",\"unit\":\"%s\","
            "\"frequency_mhz\":%lld,\"value\":%lld,\"settings\":{\"%s\":%lld",
            when, t->domain, kind_name(t->kind), t->param, t->unit, t->freq_mhz, s->value, t->param, s->value);
    if (t->freq_mhz)
        fprintf(raw, ",\"frequency_mhz\":%lld", t->freq_mhz);
    fprintf(raw, "},\"ce\":%llu,\"ue\":%llu,\"sdc\":%llu,\"crash\":%llu,\"hang\":%llu,\"verdict\":\"%s\"%s}\n", s->ce,
            s->ue, s->sdc, s->crash, s->hang, sl_verdict_names[s->verdict], extra ? extra : "");
    flush();
}

void sl_log_result(const sl_options *o, const sl_target *t) {
    char when[32];
    (void)o;
    if (!raw)
        return;
    iso_now(when, sizeof(when));
    fprintf(raw,
            "{\"type\":\"result\",\"time\":\"%s\",\"domain\":\"%s\",\"param\":\"%s\",\"frequency_mhz\":%lld,"
            "\"status\":\"%s\",\"done\":%s,\"steps\":%d}\n",
            when, t->domain, t->param, t->freq_mhz, t->status, t->done ? "true" : "false", t->nsteps);
    flush();
}

/* ---- --resume ---- */

static sl_target *match(sl_target *t, int n, json_object *e) {
    for (int k = 0; k < n; k++)
        if (streq(t[k].domain, uj_str(e, "domain", "")) && streq(t[k].param, uj_str(e, "param", "")) &&
            t[k].freq_mhz == uj_int(e, "frequency_mhz", 0))
            return &t[k];
    return NULL;
}

int sl_resume(const sl_options *o, sl_target *t, int n) {
    _cleanup_fclose_ FILE *f = fopen(o->log, "re");
    char line[8192];
    int steps = 0;

    if (!f) {
        fprintf(stderr, "uni-stresslog: --resume: cannot read the raw log %s: %s\n", o->log, strerror(errno));
        return -errno;
    }
    while (fgets(line, sizeof(line), f)) {
        json_object *e = json_tokener_parse(line);
        sl_target *tg;
        if (!e)
            continue; /* a line cut by a kill */
        if ((tg = match(t, n, e)) && streq(uj_str(e, "type", ""), "step") && !tg->done && tg->nsteps < SL_MAX_STEPS) {
            sl_step *s = &tg->steps[tg->nsteps++];
            const char *v = uj_str(e, "verdict", "");
            s->value = uj_int(e, "value", 0);
            s->ce = (unsigned long long)uj_int(e, "ce", 0);
            s->ue = (unsigned long long)uj_int(e, "ue", 0);
            s->sdc = (unsigned long long)uj_int(e, "sdc", 0);
            s->crash = (unsigned long long)uj_int(e, "crash", 0);
            s->hang = (unsigned long long)uj_int(e, "hang", 0);
            {
                int64_t when;
                if (uni_parse_iso_utc(uj_str(e, "time", ""), &when) == 0)
                    tg->measured = (long long)when;
            }
            for (int k = 0; k < V_NVERDICT; k++)
                if (streq(v, sl_verdict_names[k]))
                    s->verdict = (sl_verdict)k;
            steps++;
            if (s->verdict != V_CLEAN && s->verdict != V_ERROR) {
                tg->done = true;
                tg->failed_nominal = tg->nsteps == 1;
                snprintf(tg->status, sizeof(tg->status), "failure");
            } else if (s->verdict == V_ERROR) {
                tg->nsteps--; /* the workload could not run: try that step again */
            }
        } else if (tg && streq(uj_str(e, "type", ""), "result") && streq(uj_str(e, "status", ""), "limit")) {
            tg->done = true;
            snprintf(tg->status, sizeof(tg->status), "limit");
        }
        json_object_put(e);
    }
    if (!o->quiet)
        printf("uni-stresslog: resuming from %s: %d steps already done\n", o->log, steps);
    return 0;
}

/* ---- the margins file ---- */

static int last_clean(const sl_target *t) {
    int at = -1;
    for (int i = 0; i < t->nsteps; i++)
        if (t->steps[i].verdict == V_CLEAN)
            at = i;
        else
            break;
    return at;
}

static json_object *entry(const sl_options *o, const sl_target *t) {
    json_object *e = json_object_new_object(), *ev = json_object_new_array(), *cond = json_object_new_object();
    json_object *cores = json_object_new_array(), *members = json_object_new_array();
    int lc = last_clean(t);
    long long safe;

    json_object_object_add(e, "domain", json_object_new_string(t->domain));
    json_object_object_add(e, "kind", json_object_new_string(kind_name(t->kind)));
    for (int c = 0; c < t->ncores; c++)
        json_object_array_add(cores, json_object_new_int(t->cores[c]));
    json_object_object_add(e, "cores", cores);
    for (int m = 0; m < t->nmembers; m++)
        json_object_array_add(members, json_object_new_string(t->members[m]));
    json_object_object_add(e, "dimms", members);
    json_object_object_add(e, "param", json_object_new_string(t->param));
    json_object_object_add(e, "unit", json_object_new_string(t->unit));
    json_object_object_add(e, "nominal", json_object_new_int64(t->nominal));
    json_object_object_add(e, "limit", json_object_new_int64(t->dir < 0 ? t->min : t->max));
    json_object_object_add(e, "direction", json_object_new_string(t->dir < 0 ? "down" : "up"));
    json_object_object_add(e, "status", json_object_new_string(t->status[0] ? t->status : "not-run"));
    json_object_object_add(e, "partial", json_object_new_boolean(!t->done));
    if (lc >= 0) {
        safe = sl_guard_value(o, t, t->steps[lc].value);
        json_object_object_add(e, "last_clean", json_object_new_int64(t->steps[lc].value));
        json_object_object_add(e, "safe", json_object_new_int64(safe));
        json_object_object_add(
            e, "guard_band",
            json_object_new_int64(safe > t->steps[lc].value ? safe - t->steps[lc].value : t->steps[lc].value - safe));
    } else {
        /* Nothing clean: not even nominal passed (or nothing ran); no margin to suggest. */
        json_object_object_add(e, "last_clean", NULL);
        json_object_object_add(e, "safe", NULL);
        json_object_object_add(e, "guard_band", NULL);
    }
    if (lc + 1 < t->nsteps) {
        json_object *ff = json_object_new_object();
        json_object_object_add(ff, "value", json_object_new_int64(t->steps[lc + 1].value));
        json_object_object_add(ff, "verdict", json_object_new_string(sl_verdict_names[t->steps[lc + 1].verdict]));
        json_object_object_add(e, "first_failure", ff);
    } else {
        json_object_object_add(e, "first_failure", NULL);
    }
    json_object_object_add(cond, "frequency_mhz", t->freq_mhz ? json_object_new_int64(t->freq_mhz) : NULL);
    json_object_object_add(cond, "workload", json_object_new_string(o->workload));
    json_object_object_add(cond, "load_pct", json_object_new_int(100));
    json_object_object_add(cond, "dwell_s",
                           json_object_new_double(t->kind == UNI_OPP_MEMORY ? o->memory_dwell_s : o->dwell_s));
    json_object_object_add(cond, "repeats", json_object_new_int(o->repeats));
    json_object_object_add(cond, "ce_threshold", json_object_new_int64((int64_t)o->ce_threshold));
    json_object_object_add(e, "conditions", cond);
    for (int i = 0; i < t->nsteps; i++) {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "value", json_object_new_int64(t->steps[i].value));
        json_object_object_add(s, "ce", json_object_new_int64((int64_t)t->steps[i].ce));
        json_object_object_add(s, "ue", json_object_new_int64((int64_t)t->steps[i].ue));
        json_object_object_add(s, "sdc", json_object_new_int64((int64_t)t->steps[i].sdc));
        json_object_object_add(s, "crash", json_object_new_int64((int64_t)t->steps[i].crash));
        json_object_object_add(s, "hang", json_object_new_int64((int64_t)t->steps[i].hang));
        json_object_object_add(s, "verdict", json_object_new_string(sl_verdict_names[t->steps[i].verdict]));
        json_object_array_add(ev, s);
    }
    json_object_object_add(e, "evidence", ev);
    if (t->measured) {
        char when[32];
        iso_time((time_t)t->measured, when, sizeof(when));
        json_object_object_add(e, "measured", json_object_new_string(when));
    }
    return e;
}

int sl_write_margins(const sl_options *o, const sl_target *t, int n, bool complete) {
    json_object *root = json_object_new_object(), *arr = json_object_new_array();
    char when[32], tmp[4200];
    FILE *f;
    int rc = 0;

    iso_now(when, sizeof(when));
    json_object_object_add(root, "schema", json_object_new_string("uniserver-margins"));
    json_object_object_add(root, "version", json_object_new_int(SL_MARGINS_VERSION));
    json_object_object_add(root, "generated", json_object_new_string(when));
    json_object_object_add(root, "uri", json_object_new_string(o->uri));
    if (run_started[0])
        json_object_object_add(root, "run_started", json_object_new_string(run_started));
    json_object_object_add(root, "log", json_object_new_string(o->log));
    json_object_object_add(root, "complete", json_object_new_boolean(complete));
    for (int k = 0; k < n; k++)
        json_object_array_add(arr, entry(o, &t[k]));
    json_object_object_add(root, "margins", arr);
    snprintf(tmp, sizeof(tmp), "%s.tmp", o->margins);
    if (!(f = fopen(tmp, "we"))) {
        rc = -errno;
    } else {
        fprintf(f, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
        if (fflush(f) != 0 || fsync(fileno(f)) < 0)
            rc = -errno;
        fclose(f);
        if (rc == 0 && rename(tmp, o->margins) < 0)
            rc = -errno;
    }
    if (rc < 0)
        fprintf(stderr, "uni-stresslog: cannot write the margins file %s: %s\n", o->margins, strerror(-rc));
    json_object_put(root);
    return rc;
}

/* ---- the report ---- */

static int plot(const char *dir, const sl_target *t, const char *name, char *why, size_t len) {
    char dat[4200], png[4200], cmd[13000];
    FILE *f;
    int r;

    snprintf(dat, sizeof(dat), "%s/%s.dat", dir, name);
    snprintf(png, sizeof(png), "%s/%s.png", dir, name);
    if (!(f = fopen(dat, "we"))) {
        snprintf(why, len, "%s: %s", dat, strerror(errno));
        return -errno;
    }
    fprintf(f, "# value ce ue sdc crash\n");
    for (int i = 0; i < t->nsteps; i++)
        fprintf(f, "%lld %llu %llu %llu %llu\n", t->steps[i].value, t->steps[i].ce, t->steps[i].ue, t->steps[i].sdc,
                t->steps[i].crash);
    fclose(f);
    snprintf(cmd, sizeof(cmd),
             "gnuplot -e \"set terminal png size 800,480; set output '%s'; set title '%s %s'; "
             "set xlabel '%s (%s)'; set ylabel 'errors per step'; set key top left; %s"
             "plot '%s' using 1:2 with linespoints title 'corrected', '' using 1:3 with linespoints title "
             "'uncorrected', '' using 1:(\\$4+\\$5) with impulses lw 3 title 'corruption + crash'\" 2>/dev/null",
             png, t->domain, name, t->param, t->unit, t->dir < 0 ? "set xrange [*:*] reverse; " : "", dat);
    r = system(cmd);
    if (r != 0) {
        snprintf(why, len, "gnuplot failed or is not installed (Debian package gnuplot-nox)");
        return -EIO;
    }
    return 0;
}

int sl_write_report(const sl_options *o, const sl_target *t, int n) {
    char path[4200], key[128], why[4400];
    FILE *f;

    if (!o->report_dir)
        return 0;
    mkdir(o->report_dir, 0755);
    snprintf(path, sizeof(path), "%s/report.md", o->report_dir);
    if (!(f = fopen(path, "we"))) {
        fprintf(stderr, "uni-stresslog: cannot write the report %s: %s\n", path, strerror(errno));
        return -errno;
    }
    fprintf(f, "# StressLog report: %s\n\n", o->uri);
    fprintf(f,
            "Workload %s, %d repeats per step, corrected errors tolerated per step: %llu. The margins file is "
            "%s, the raw log %s.\n\n",
            o->workload, o->repeats, o->ce_threshold, o->margins, o->log);
    fprintf(f, "| domain | parameter | at | nominal | last clean | safe | first failure | status |\n");
    fprintf(f, "| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (int k = 0; k < n; k++) {
        int lc = last_clean(&t[k]);
        char at[32] = "-";
        if (t[k].freq_mhz)
            snprintf(at, sizeof(at), "%lld MHz", t[k].freq_mhz);
        fprintf(f, "| %s | %s | %s | %lld | ", t[k].domain, t[k].param, at, t[k].nominal);
        if (lc >= 0)
            fprintf(f, "%lld | %lld |", t[k].steps[lc].value, sl_guard_value(o, &t[k], t[k].steps[lc].value));
        else
            fprintf(f, "- | - |");
        if (lc + 1 < t[k].nsteps)
            fprintf(f, " %lld (%s) |", t[k].steps[lc + 1].value, sl_verdict_names[t[k].steps[lc + 1].verdict]);
        else
            fprintf(f, " - |");
        fprintf(f, " %s%s |\n", t[k].status, t[k].done ? "" : " (partial)");
    }
    fprintf(f, "\n## Errors per step\n\n");
    for (int k = 0; k < n; k++) {
        char name[128];
        sl_target_key(&t[k], key, sizeof(key));
        snprintf(name, sizeof(name), "%s", key);
        for (char *c = name; *c; c++)
            if (*c == '@' || *c == '.')
                *c = '-';
        if (plot(o->report_dir, &t[k], name, why, sizeof(why)) == 0)
            fprintf(f, "![%s](%s.png)\n\n", key, name);
        else
            fprintf(f, "%s: no plot (%s); the data is in %s.dat\n\n", key, why, name);
    }
    fclose(f);
    return 0;
}
