/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rendering of records and descriptors as aligned text and as JSON (unish, golden files). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"

const char *fmt_value(const uniSample *s, char *buf, size_t len) {
    switch (s->type) {
    case UNI_VALUE_U64:
        snprintf(buf, len, "%llu", (unsigned long long)s->value.u);
        break;
    case UNI_VALUE_DOUBLE:
        if (isnan(s->value.d) || isinf(s->value.d))
            snprintf(buf, len, "null");
        else if (s->value.d == floor(s->value.d) && fabs(s->value.d) < 1e15)
            snprintf(buf, len, "%.0f", s->value.d);
        else if (fabs(s->value.d) < 0.01)
            snprintf(buf, len, "%.6g", s->value.d);
        else
            snprintf(buf, len, "%.2f", s->value.d);
        break;
    default:
        snprintf(buf, len, "%s", s->value.s ? s->value.s : "");
    }
    return buf;
}

static const char *unit_text(const char *unit) {
    if (!unit || strcmp(unit, "-") == 0 || strcmp(unit, "count") == 0 || strcmp(unit, "ratio") == 0 ||
        strcmp(unit, "index") == 0 || strcmp(unit, "bool") == 0)
        return "";
    if (strcmp(unit, "C") == 0)
        return "°C";
    if (strcmp(unit, "per_min") == 0)
        return "/min";
    return unit;
}

void fmt_record_text(FILE *f, uniRecordPtr rec, bool show_absent) {
    int n = uniRecordNumSamples(rec), na = uniRecordNumAbsent(rec);
    size_t w = 0;
    char key[256], val[256];

    for (int i = 0; i < n; i++)
        if (uniRecordFormatKey(rec, i, key, sizeof(key)) > 0 && strlen(key) > w)
            w = strlen(key);
    for (int i = 0; show_absent && i < na; i++) {
        const uniMetricDesc *d = uniRecordGetDescriptor(rec, uniRecordGetAbsence(rec, i)->metric);
        if (d && strlen(d->key) > w)
            w = strlen(d->key);
    }
    for (int i = 0; i < n; i++) {
        const uniSample *s = uniRecordGetSample(rec, i);
        const uniMetricDesc *d = uniRecordGetDescriptor(rec, s->metric);
        const char *u = unit_text(d ? d->unit : NULL);
        if (uniRecordFormatKey(rec, i, key, sizeof(key)) < 0)
            continue;
        fmt_value(s, val, sizeof(val));
        fprintf(f, "%-*s  %s%s%s\n", (int)w, key, val, *u ? " " : "", u);
    }
    for (int i = 0; show_absent && i < na; i++) {
        const uniAbsence *a = uniRecordGetAbsence(rec, i);
        const uniMetricDesc *d = uniRecordGetDescriptor(rec, a->metric);
        fprintf(f, "%-*s  -  (%s)\n", (int)w, d ? d->key : "?", a->reason);
    }
}

void fmt_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_value(FILE *f, const uniSample *s) {
    char buf[64];
    switch (s->type) {
    case UNI_VALUE_U64:
        fprintf(f, "%llu", (unsigned long long)s->value.u);
        break;
    case UNI_VALUE_DOUBLE:
        if (isnan(s->value.d) || isinf(s->value.d))
            fputs("null", f);
        else {
            /* The shortest text that reads back as the same double. */
            snprintf(buf, sizeof(buf), "%.15g", s->value.d);
            if (strtod(buf, NULL) != s->value.d)
                snprintf(buf, sizeof(buf), "%.17g", s->value.d);
            fputs(buf, f);
        }
        break;
    default:
        fmt_json_string(f, s->value.s);
    }
}

void fmt_record_json(FILE *f, uniRecordPtr rec) {
    int n = uniRecordNumSamples(rec), na = uniRecordNumAbsent(rec);
    long long w = uniRecordGetWindowMs(rec);
    char key[256];

    fputs("{", f);
    if (w >= 0)
        fprintf(f, "\"window_ms\": %lld", w);
    else
        fputs("\"window_ms\": null", f);
    for (int i = 0; i < n; i++) {
        if (uniRecordFormatKey(rec, i, key, sizeof(key)) < 0)
            continue;
        fputs(", ", f);
        fmt_json_string(f, key);
        fputs(": ", f);
        json_value(f, uniRecordGetSample(rec, i));
    }
    fputs(", \"absent\": {", f);
    for (int i = 0; i < na; i++) {
        const uniAbsence *a = uniRecordGetAbsence(rec, i);
        const uniMetricDesc *d = uniRecordGetDescriptor(rec, a->metric);
        if (i)
            fputs(", ", f);
        fmt_json_string(f, d ? d->key : "?");
        fputs(": ", f);
        fmt_json_string(f, a->reason);
    }
    fputs("}}\n", f);
}

static const char *kind_name(int k) {
    return k == UNI_METRIC_COUNTER ? "counter" : k == UNI_METRIC_TEXT ? "text" : "gauge";
}

void fmt_descriptors_text(FILE *f, const uniMetricDesc *d, int n) {
    size_t w = 0;
    for (int i = 0; i < n; i++)
        if (strlen(d[i].key) > w)
            w = strlen(d[i].key);
    for (int i = 0; i < n; i++)
        fprintf(f, "%-*s  %-7s  %-7s  %-10s  %s\n", (int)w, d[i].key, kind_name(d[i].kind), d[i].unit, d[i].group,
                d[i].help);
}

void fmt_descriptors_json(FILE *f, const uniMetricDesc *d, int n) {
    fputs("[", f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s{\"id\": %u, \"key\": ", i ? ",\n " : "", d[i].id);
        fmt_json_string(f, d[i].key);
        fprintf(f, ", \"kind\": \"%s\", \"unit\": ", kind_name(d[i].kind));
        fmt_json_string(f, d[i].unit);
        fputs(", \"group\": ", f);
        fmt_json_string(f, d[i].group);
        fputs(", \"spec\": ", f);
        fmt_json_string(f, d[i].spec);
        fputs(", \"source\": ", f);
        fmt_json_string(f, d[i].source);
        fputs(", \"help\": ", f);
        fmt_json_string(f, d[i].help);
        fputs("}", f);
    }
    fputs("]\n", f);
}

/* ---- HealthLog events ---- */

static const char *ev_str(uniRecordPtr r, const char *key) {
    const uniSample *s = uniRecordLookup(r, key);
    return s && s->type == UNI_VALUE_STRING ? s->value.s : NULL;
}

static bool ev_num(uniRecordPtr r, const char *key, unsigned long long *ret) {
    const uniSample *s = uniRecordLookup(r, key);
    if (!s || s->type != UNI_VALUE_U64)
        return false;
    *ret = (unsigned long long)s->value.u;
    return true;
}

void fmt_events_text(FILE *f, uniRecordPtr *ev, int n) {
    for (int i = 0; i < n; i++) {
        uniRecordPtr r = ev[i];
        unsigned long long t = 0, count = 1, v;
        char when[40] = "?", where[160] = "", addr[40] = "";
        const char *vms = ev_str(r, "event.vms"), *action = ev_str(r, "event.action");
        if (ev_num(r, "event.time_ms", &t)) {
            time_t sec = (time_t)(t / 1000);
            struct tm tm;
            gmtime_r(&sec, &tm);
            strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
            snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03lluZ", t % 1000);
        }
        (void)ev_num(r, "event.count", &count);
        if (ev_str(r, "event.dimm"))
            snprintf(where, sizeof(where), "DIMM %s", ev_str(r, "event.dimm"));
        else if (ev_num(r, "event.cpu", &v))
            snprintf(where, sizeof(where), "core %llu", v);
        else if (ev_str(r, "event.location"))
            snprintf(where, sizeof(where), "%s", ev_str(r, "event.location"));
        else if (ev_str(r, "event.device"))
            snprintf(where, sizeof(where), "%s", ev_str(r, "event.device"));
        if (ev_num(r, "event.address", &v))
            snprintf(addr, sizeof(addr), "0x%llx", v);
        fprintf(f, "%s  %-12s %-5s %-11s %-6s %5llu  %-32s %-14s %s%s%s\n", when, ev_str(r, "event.source") ? ev_str(r, "event.source") : "-",
                ev_str(r, "event.component") ? ev_str(r, "event.component") : "-",
                action ? "action" : ev_str(r, "event.severity") ? ev_str(r, "event.severity") : "-",
                ev_str(r, "event.bits") ? ev_str(r, "event.bits") : "-", count, *where ? where : "-", *addr ? addr : "-",
                action ? action : "", action ? ": " : "", ev_str(r, "event.message") ? ev_str(r, "event.message") : "");
        if (vms)
            fprintf(f, "    may have touched: %s\n", vms);
    }
}

void fmt_events_json(FILE *f, uniRecordPtr *ev, int n) {
    char key[256];
    fputs("[", f);
    for (int i = 0; i < n; i++) {
        int ns = uniRecordNumSamples(ev[i]);
        fputs(i ? ",\n {" : "{", f);
        for (int k = 0; k < ns; k++) {
            if (uniRecordFormatKey(ev[i], k, key, sizeof(key)) < 0)
                continue;
            if (k)
                fputs(", ", f);
            fmt_json_string(f, key);
            fputs(": ", f);
            json_value(f, uniRecordGetSample(ev[i], k));
        }
        fputs("}", f);
    }
    fputs("]\n", f);
}

/* The per-DIMM (is_dimm) or per-core samples of a summary record, in record order. */
static bool summary_sample(uniRecordPtr rec, int i, bool dimms, bool *ret_ue) {
    const uniSample *s = uniRecordGetSample(rec, i);
    const uniMetricDesc *d = uniRecordGetDescriptor(rec, s->metric);
    const char *k = d ? d->key : "";
    if (dimms && (strcmp(k, "host.errors.dimm.D.ce.count") == 0 || strcmp(k, "host.errors.dimm.D.ue.count") == 0)) {
        *ret_ue = strstr(k, ".ue.") != NULL;
        return true;
    }
    if (!dimms && (strcmp(k, "host.errors.core.N.ce.count") == 0 || strcmp(k, "host.errors.core.N.ue.count") == 0)) {
        *ret_ue = strstr(k, ".ue.") != NULL;
        return true;
    }
    return false;
}

static void summary_part(FILE *f, uniRecordPtr rec, bool dimms, bool json) {
    int n = uniRecordNumSamples(rec), rows = 0;
    const char *why = uniRecordAbsentReason(rec, dimms ? "host.errors.dimm.D.ce.count" : "host.errors.core.N.ce.count");
    if (!json)
        fprintf(f, dimms ? "Memory errors per DIMM, since the HealthLog began:\n  %-40s %11s %11s\n"
                         : "CPU errors per core, since the HealthLog began:\n  %-40s %11s %11s\n",
                dimms ? "DIMM" : "core", "corrected", "uncorrected");
    for (int i = 0; i < n; i++) {
        bool ue;
        const uniSample *s = uniRecordGetSample(rec, i), *u;
        char name[160], key[256];
        if (!summary_sample(rec, i, dimms, &ue) || ue)
            continue;
        if (dimms)
            snprintf(name, sizeof(name), "%s", s->name ? s->name : "?");
        else
            snprintf(name, sizeof(name), "%d", s->index);
        snprintf(key, sizeof(key), dimms ? "host.errors.dimm.%s.ue.count" : "host.errors.core.%s.ue.count", name);
        u = uniRecordLookup(rec, key);
        if (json) {
            fputs(rows ? ", " : "", f);
            fmt_json_string(f, name);
            fprintf(f, ": {\"ce\": %llu, \"ue\": %llu}", (unsigned long long)s->value.u, u ? (unsigned long long)u->value.u : 0ull);
        } else
            fprintf(f, "  %-40s %11llu %11llu\n", name, (unsigned long long)s->value.u, u ? (unsigned long long)u->value.u : 0ull);
        rows++;
    }
    if (!json && rows == 0)
        fprintf(f, "  (none: %s)\n", why ? why : "no errors recorded");
}

void fmt_error_summary_text(FILE *f, uniRecordPtr rec) {
    summary_part(f, rec, true, false);
    fputc('\n', f);
    summary_part(f, rec, false, false);
}

void fmt_error_summary_json(FILE *f, uniRecordPtr rec) {
    fputs("{\"dimms\": {", f);
    summary_part(f, rec, true, true);
    fputs("}, \"cores\": {", f);
    summary_part(f, rec, false, true);
    fputs("}}\n", f);
}
