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
    fmt_record_text_indent(f, rec, show_absent, "");
}

void fmt_record_text_indent(FILE *f, uniRecordPtr rec, bool show_absent, const char *indent) {
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
        fprintf(f, "%s%-*s  %s%s%s\n", indent, (int)w, key, val, *u ? " " : "", u);
    }
    for (int i = 0; show_absent && i < na; i++) {
        const uniAbsence *a = uniRecordGetAbsence(rec, i);
        const uniMetricDesc *d = uniRecordGetDescriptor(rec, a->metric);
        fprintf(f, "%s%-*s  -  (%s)\n", indent, (int)w, d ? d->key : "?", a->reason);
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
    fmt_record_json_object(f, rec);
    fputc('\n', f);
}

void fmt_record_json_object(FILE *f, uniRecordPtr rec) {
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
    fputs("}}", f);
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

static const char *opp_kind_name(int k) {
    return k == UNI_OPP_CPU ? "cpu" : k == UNI_OPP_MEMORY ? "memory" : "other";
}

/* "cores 0 1" or "DIMM0A DIMM0B". */
static void opp_members(const uniOppDomain *d, char *buf, size_t len) {
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < d->ncores && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%d", i ? "," : "cores ", d->cores[i]);
    for (int i = 0; i < d->nmembers && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "", d->members[i]);
}

void fmt_opp_text(FILE *f, uniOppListPtr l) {
    fprintf(f, "%-8s %-7s %-16s %-14s %7s %8s %7s %7s %5s  %s\n", "domain", "kind", "members", "parameter", "value",
            "nominal", "min", "max", "step", "unit");
    for (int i = 0; i < uniOppListNumDomains(l); i++) {
        const uniOppDomain *d = uniOppListGetDomain(l, i);
        char members[128];
        opp_members(d, members, sizeof(members));
        for (int k = 0; k < d->nparams; k++) {
            const uniOppParam *p = uniOppListGetParam(l, i, k);
            char nominal[24];
            if (p->nominal >= 0)
                snprintf(nominal, sizeof(nominal), "%lld", p->nominal);
            else
                snprintf(nominal, sizeof(nominal), "-");
            fprintf(f, "%-8s %-7s %-16s %-14s %7lld %8s %7lld %7lld %5lld  %s%s\n", d->name, opp_kind_name(d->kind),
                    members, p->name, p->current, nominal, p->min, p->max, p->step, p->unit,
                    p->flags & UNI_OPP_PARAM_READONLY ? " (read-only)" : "");
        }
    }
}

void fmt_opp_json(FILE *f, uniOppListPtr l) {
    fputs("{\"domains\": [", f);
    for (int i = 0; i < uniOppListNumDomains(l); i++) {
        const uniOppDomain *d = uniOppListGetDomain(l, i);
        fprintf(f, "%s{\"name\": ", i ? ", " : "");
        fmt_json_string(f, d->name);
        fprintf(f, ", \"kind\": \"%s\", \"id\": %d", opp_kind_name(d->kind), d->id);
        if (d->kind == UNI_OPP_CPU) {
            fputs(", \"cores\": [", f);
            for (int k = 0; k < d->ncores; k++)
                fprintf(f, "%s%d", k ? ", " : "", d->cores[k]);
            fputs("]", f);
        } else {
            fputs(", \"dimms\": [", f);
            for (int k = 0; k < d->nmembers; k++) {
                fputs(k ? ", " : "", f);
                fmt_json_string(f, d->members[k]);
            }
            fputs("]", f);
        }
        fputs(", \"params\": {", f);
        for (int k = 0; k < d->nparams; k++) {
            const uniOppParam *p = uniOppListGetParam(l, i, k);
            fputs(k ? ", " : "", f);
            fmt_json_string(f, p->name);
            fprintf(f, ": {\"value\": %lld, \"unit\": ", p->current);
            fmt_json_string(f, p->unit);
            if (p->nominal >= 0)
                fprintf(f, ", \"nominal\": %lld", p->nominal);
            else
                fputs(", \"nominal\": null", f);
            fprintf(f, ", \"min\": %lld, \"max\": %lld, \"step\": %lld, \"readonly\": %s}", p->min, p->max, p->step,
                    p->flags & UNI_OPP_PARAM_READONLY ? "true" : "false");
        }
        fputs("}}", f);
    }
    fputs("]}\n", f);
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
        fprintf(f, "%s  %-12s %-5s %-11s %-6s %5llu  %-32s %-14s %s%s%s\n", when,
                ev_str(r, "event.source") ? ev_str(r, "event.source") : "-",
                ev_str(r, "event.component") ? ev_str(r, "event.component") : "-",
                action                        ? "action"
                : ev_str(r, "event.severity") ? ev_str(r, "event.severity")
                                              : "-",
                ev_str(r, "event.bits") ? ev_str(r, "event.bits") : "-", count, *where ? where : "-",
                *addr ? addr : "-", action ? action : "", action ? ": " : "",
                ev_str(r, "event.message") ? ev_str(r, "event.message") : "");
        if (ev_str(r, "event.reason"))
            fprintf(f, "    because: %s\n", ev_str(r, "event.reason"));
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
        fprintf(f,
                dimms ? "Memory errors per DIMM, since the HealthLog began:\n  %-40s %11s %11s\n"
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
            fprintf(f, ": {\"ce\": %llu, \"ue\": %llu}", (unsigned long long)s->value.u,
                    u ? (unsigned long long)u->value.u : 0ull);
        } else
            fprintf(f, "  %-40s %11llu %11llu\n", name, (unsigned long long)s->value.u,
                    u ? (unsigned long long)u->value.u : 0ull);
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
