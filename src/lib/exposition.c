/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prometheus exposition of records: names, units and labels derived from the catalogue's
 * descriptors by rule (prefix uniserver_, base units, _total on counters, placeholders as labels,
 * KVM statistics under the kernel's own names), rendered as the classic text format or as
 * OpenMetrics. Nothing here is hand-kept per metric. */
#include <math.h>
#include <stdarg.h>

#include "exposition.h"

typedef struct {
    const char *unit;   /* the catalogue's unit */
    const char *strip;  /* suffix of the key's last segment that names that unit */
    double scale;       /* to the base unit */
    const char *suffix; /* the base unit's name suffix, or NULL */
} unit_rule;

static const unit_rule unit_rules[] = {
    {"MHz", "_mhz", 1e6, "hertz"},
    {"ms", "_ms", 1e-3, "seconds"},
    {"MB", "_mb", 1048576.0, "bytes"},
    {"KB", "_kb", 1024.0, "bytes"},
    {"bytes", "_bytes", 1, "bytes"},
    {"%", "_pct", 0.01, "ratio"},
    {"ratio", "_ratio", 1, "ratio"},
    {"W", "_w", 1, "watts"},
    {"C", "_c", 1, "celsius"},
    {"kWh", "_kwh", 3.6e6, "joules"},
    {"per_min", "_per_min", 1.0 / 60.0, "per_second"},
    {"B/s", "_bytes_rate", 1, "bytes_per_second"},
    {"MB/s", "_mbps", 1048576.0, "bytes_per_second"},
    {"per_s", "_rate", 1, "per_second"},
    {"per_h", "_per_h", 1.0 / 3600.0, "per_second"},
    {"h", "_h", 3600, "seconds"},
    {"min", "_min", 60, "seconds"},
    {"mV", "_mv", 1e-3, "volts"},
    {"s", "_s", 1, "seconds"},
};

static const char *label_of(char placeholder, const char *key) {
    switch (placeholder) {
    case 'N':
        return "cpu";
    case 'V':
        return "vcpu";
    case 'I':
        return "device";
    case 'D':
        return "dimm";
    case 'L':
    case 'C':
        return "component";
    default:
        return startswith(key, "host.source.") ? "source" : startswith(key, "host.margin.") ? "margin" : "name";
    }
}

static const char *word_of(char placeholder) {
    return placeholder == 'N' ? "core" : placeholder == 'V' ? "vcpu" : placeholder == 'I' ? "device" : "item";
}

static void append(char *buf, size_t len, size_t *o, const char *s, size_t n) {
    size_t room = *o < len ? len - *o - 1 : 0;
    if (n > room)
        n = room; /* names are bounded by PROM_NAME_MAX; the keys are far shorter */
    for (size_t i = 0; i < n; i++)
        buf[*o + i] = s[i];
    *o += n;
    if (*o < len)
        buf[*o] = 0;
}

/* The family name of descriptor @d. @insert_words: write placeholder words instead of dropping
 * them (to tell per-core metrics from their aggregate). */
static void family_name(const uniMetricDesc *d, bool insert_words, bool keep_unit_word, prom_desc *p) {
    char out[PROM_NAME_MAX];
    size_t o = 0;
    const char *t = d->key, *rule_strip = NULL;
    bool kvm_name = false;

    p->scale = 1;
    p->unit = NULL;
    for (size_t i = 0; i < ELEMENTSOF(unit_rules); i++)
        if (streq(d->unit, unit_rules[i].unit)) {
            rule_strip = unit_rules[i].strip;
            p->scale = unit_rules[i].scale;
            p->unit = unit_rules[i].suffix;
        }
    append(out, sizeof(out), &o, "uniserver", 9);
    if (startswith(t, "dom.")) {
        append(out, sizeof(out), &o, "_vm", 3);
        t += 4;
    }
    while (*t) {
        const char *e = strchrnul(t, '.');
        size_t l = (size_t)(e - t);
        char kind = uni_placeholder_kind(t, l);
        bool last = !*e;

        if (kind) {
            char ph = l == 4 ? 'A' : t[0]; /* 'A' stands for NAME */
            if (ph == 'A' && o >= 4 && memcmp(out + o - 4, "_kvm", 4) == 0) {
                /* KVM statistics keep the kernel's name: it becomes part of the metric name. */
                kvm_name = true;
                p->name_pos = o + 1;
                append(out, sizeof(out), &o, "_", 1);
            } else {
                if (kind == 'i')
                    p->index_label = label_of(ph, d->key);
                else
                    p->name_label = label_of(ph, d->key);
                if (insert_words && kind == 'i') {
                    append(out, sizeof(out), &o, "_", 1);
                    append(out, sizeof(out), &o, word_of(ph), strlen(word_of(ph)));
                }
            }
        } else {
            size_t keep = l;
            /* The unit moves to the end as its base-unit suffix; "count" is implied. */
            if (last && rule_strip && !keep_unit_word && l >= strlen(rule_strip) &&
                memcmp(t + l - strlen(rule_strip), rule_strip, strlen(rule_strip)) == 0)
                keep = l - strlen(rule_strip);
            /* "count" and a counter's "total" are what _total already says. */
            if (last && d->kind == UNI_METRIC_COUNTER &&
                ((keep == 5 && memcmp(t, "count", 5) == 0) || (keep == 5 && memcmp(t, "total", 5) == 0)))
                keep = 0;
            if (last && d->kind == UNI_METRIC_GAUGE && keep == 5 && memcmp(t, "count", 5) == 0) {
                /* Prometheus reserves _count for histograms and summaries. */
                t = "number";
                keep = 6;
            }
            if (keep) {
                append(out, sizeof(out), &o, "_", 1);
                append(out, sizeof(out), &o, t, keep);
            }
        }
        if (last)
            break;
        t = e + 1;
    }
    if (p->unit && !(o > strlen(p->unit) && streq(out + o - strlen(p->unit), p->unit))) {
        append(out, sizeof(out), &o, "_", 1);
        append(out, sizeof(out), &o, p->unit, strlen(p->unit));
    }
    for (size_t i = 0; i < o; i++)
        if (!((out[i] >= 'a' && out[i] <= 'z') || (out[i] >= 'A' && out[i] <= 'Z') ||
              (out[i] >= '0' && out[i] <= '9') || out[i] == '_'))
            out[i] = '_';
    snprintf(p->name, sizeof(p->name), "%s", out);
    p->kvm_name = kvm_name;
    if (!kvm_name)
        p->name_pos = 0;
}

size_t prom_vm_labels(const uni_domain_stats *d, const char *keys[PROM_VM_LABELS], const char *values[PROM_VM_LABELS]) {
    static const struct {
        unsigned metric;
        const char *label;
    } project[] = {{UNI_M_DOM_OPENSTACK_PROJECT_ID, "project_id"}, {UNI_M_DOM_OPENSTACK_PROJECT_NAME, "project_name"}};
    size_t n = 0;
    keys[n] = "domain";
    values[n++] = d->info.name ? d->info.name : "";
    keys[n] = "uuid";
    values[n++] = d->info.uuid;
    for (size_t k = 0; k < ELEMENTSOF(project); k++)
        for (size_t i = 0; d->rec && i < d->rec->n; i++)
            if (d->rec->samples[i].metric == project[k].metric && d->rec->samples[i].type == UNI_VALUE_STRING) {
                keys[n] = project[k].label;
                values[n++] = d->rec->samples[i].value.s;
                break;
            }
    return n;
}

int prom_map_init(const uniMetricDesc *d, unsigned n, prom_desc **ret) {
    prom_desc *p = calloc(n ? n : 1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        family_name(&d[i], false, false, &p[i]);
        p[i].type = d[i].kind;
        /* Prometheus computes rates from counters, and one quantity is one family (metrics.def). */
        p[i].skip = d[i].source && (startswith(d[i].source, "rate of ") || startswith(d[i].source, "alias of "));
        if (d[i].kind == UNI_METRIC_TEXT) {
            /* Text becomes an info metric; its value is a label named after the key's end. */
            const char *dot = strrchr(d[i].key, '.');
            snprintf(p[i].info_label, sizeof(p[i].info_label), "%s", dot ? dot + 1 : d[i].key);
        }
    }
    /* Two descriptors may not share a family: the one with an index placeholder (per core)
     * takes the placeholder's word (uniserver_host_cpu_core_util_ratio{cpu=...}). */
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < n; j++)
            if (i != j && !p[i].skip && !p[j].skip && streq(p[i].name, p[j].name) && p[i].index_label &&
                !p[i].kvm_name) {
                const char *il = p[i].index_label, *nl = p[i].name_label;
                family_name(&d[i], true, false, &p[i]);
                p[i].index_label = il;
                p[i].name_label = nl;
            }
    /* Two quantities that differ only by unit (contention_pct, a share of the window, and
     * contention_ratio, runnable per core): the percentage keeps its word. */
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < n; j++)
            if (i != j && !p[i].skip && !p[j].skip && streq(p[i].name, p[j].name) && streq(d[i].unit, "%")) {
                const char *il = p[i].index_label, *nl = p[i].name_label;
                family_name(&d[i], p[i].index_label != NULL, true, &p[i]);
                p[i].index_label = il;
                p[i].name_label = nl;
            }
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = i + 1; j < n; j++)
            if (!p[i].skip && !p[j].skip && streq(p[i].name, p[j].name) && !p[i].kvm_name) {
                free(p);
                return -EEXIST; /* a catalogue change made two families collide: fix the rule */
            }
    /* A text metric's label may not repeat a placeholder's (dom.disk.I.device: device="0" is the
     * index, the text "vda" goes under value=). */
    for (unsigned i = 0; i < n; i++)
        if (p[i].type == UNI_METRIC_TEXT && ((p[i].index_label && streq(p[i].info_label, p[i].index_label)) ||
                                             (p[i].name_label && streq(p[i].info_label, p[i].name_label))))
            snprintf(p[i].info_label, sizeof(p[i].info_label), "value");
    *ret = p;
    return 0;
}

/* ---- rendering ---- */

typedef struct {
    char *buf;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 16384;
        char *nb;
        while (nc < b->len + n + 1)
            nc *= 2;
        nb = realloc(b->buf, nc);
        if (!nb) {
            b->oom = true;
            return;
        }
        b->buf = nb;
        b->cap = nc;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s) {
    sb_add(b, s, strlen(s));
}

static void sb_fmt(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(sbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Escape for HELP (backslash, newline) or label values (also double quotes). */
static void sb_escaped(sbuf *b, const char *s, bool quotes) {
    for (; s && *s; s++) {
        if (*s == '\\')
            sb_str(b, "\\\\");
        else if (*s == '\n')
            sb_str(b, "\\n");
        else if (quotes && *s == '"')
            sb_str(b, "\\\"");
        else
            sb_add(b, s, 1);
    }
}

static void sb_value(sbuf *b, double v) {
    if (isnan(v))
        sb_str(b, "NaN");
    else if (isinf(v))
        sb_str(b, v > 0 ? "+Inf" : "-Inf");
    else {
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "%.15g", v);
        if (strtod(tmp, NULL) != v)
            snprintf(tmp, sizeof(tmp), "%.17g", v);
        sb_str(b, tmp);
    }
}

/* Family name of a sample (KVM statistics carry their own names), and its descriptor: a KVM
 * statistic is typed by what its source said of it (rec_name_get_kind: an instant or peak value is
 * a gauge), and a time in nanoseconds (the kernel names every STATS_DESC_TIME_NSEC statistic
 * *_ns, include/linux/kvm_host.h) goes out in seconds, Prometheus' base unit. */
static void sample_family(const prom_desc *p, const uniSample *s, char *out, size_t len, prom_desc *eff) {
    *eff = *p;
    if (p->kvm_name && s->name) {
        size_t nl = strlen(s->name);
        bool ns = nl > 3 && streq(s->name + nl - 3, "_ns");
        /* name_pos marks where the kernel's stat name goes. */
        snprintf(out, len, "%.*s%.*s%s%s", (int)p->name_pos, p->name, (int)(ns ? nl - 3 : nl), s->name,
                 ns ? "_seconds" : "", p->name + p->name_pos);
        for (char *c = out; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
                *c = '_';
        if (ns) {
            eff->scale = 1e-9;
            eff->unit = "seconds";
        }
        if (rec_name_get_kind(s->name) == REC_NAME_GAUGE)
            eff->type = UNI_METRIC_GAUGE;
    } else
        snprintf(out, len, "%s", p->name);
}

static void header(sbuf *b, const char *family, const prom_desc *p, const uniMetricDesc *d, bool om, const char *stat) {
    const char *type = p->type == UNI_METRIC_COUNTER ? "counter"
                       : p->type == UNI_METRIC_TEXT  ? (om ? "info" : "gauge")
                                                     : "gauge";
    const char *tail = !om && p->type == UNI_METRIC_COUNTER ? "_total"
                       : !om && p->type == UNI_METRIC_TEXT  ? "_info"
                                                            : "";

    sb_fmt(b, "# HELP %s%s ", family, tail);
    if (p->kvm_name && stat) {
        /* One HELP per statistic: the kernel's binary statistics give each a name, a kind and a
         * unit, no description; the name is the kernel's (Documentation/virt/kvm/api.rst,
         * KVM_GET_STATS_FD). */
        sb_fmt(b, "KVM statistic %s (%s%s). ", stat,
               p->type == UNI_METRIC_COUNTER ? "cumulative" : "an instant or peak value",
               p->unit && streq(p->unit, "seconds") ? ", in seconds" : "");
    }
    sb_escaped(b, d->help, false);
    if (strcmp(d->unit, "-") && p->unit == NULL && strcmp(d->unit, "count") && strcmp(d->unit, "bool") &&
        strcmp(d->unit, "index")) {
        sb_str(b, " (");
        sb_escaped(b, d->unit, false);
        sb_str(b, ")");
    }
    sb_fmt(b, "\n# TYPE %s%s %s\n", family, tail, type);
    if (om && p->unit)
        sb_fmt(b, "# UNIT %s %s\n", family, p->unit);
}

static void sample_line(sbuf *b, const char *family, const prom_desc *p, const uniSample *s, const prom_labels *extra) {
    bool any = false;
    sb_str(b, family);
    sb_str(b, p->type == UNI_METRIC_COUNTER ? "_total" : p->type == UNI_METRIC_TEXT ? "_info" : "");
#define LABEL(k, v)                                                                                                    \
    do {                                                                                                               \
        sb_str(b, any ? "," : "{");                                                                                    \
        any = true;                                                                                                    \
        sb_str(b, k);                                                                                                  \
        sb_str(b, "=\"");                                                                                              \
        sb_escaped(b, v, true);                                                                                        \
        sb_str(b, "\"");                                                                                               \
    } while (0)
    for (size_t i = 0; extra && i < extra->n; i++)
        LABEL(extra->keys[i], extra->values[i]);
    if (p->index_label && s->index >= 0) {
        char num[16];
        snprintf(num, sizeof(num), "%d", s->index);
        LABEL(p->index_label, num);
    }
    if (p->name_label && s->name)
        LABEL(p->name_label, s->name);
    if (p->type == UNI_METRIC_TEXT)
        LABEL(p->info_label, s->type == UNI_VALUE_STRING ? s->value.s : "");
#undef LABEL
    sb_str(b, any ? "} " : " ");
    if (p->type == UNI_METRIC_TEXT)
        sb_str(b, "1");
    else
        sb_value(b, s->type == UNI_VALUE_U64 ? (double)s->value.u * p->scale : s->value.d * p->scale);
    sb_str(b, "\n");
}

typedef struct {
    const uniSample *s;
    const prom_labels *l;
    size_t seq;
} item;

/* KVM families: by stat name, then in record order. */
static int cmp_item(const void *a, const void *b) {
    const item *x = a, *y = b;
    int c = strcmp(x->s->name ? x->s->name : "", y->s->name ? y->s->name : "");
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

int prom_render(const prom_record *recs, size_t nrecs, const uniMetricDesc *d, const prom_desc *p, unsigned ndescs,
                bool om, char **ret, size_t *ret_len) {
    sbuf b = {0};
    /* Samples grouped by metric, across records (a family spans every VM's record). */
    size_t total = 0, *start = calloc(ndescs + 1, sizeof(size_t)), *fill = calloc(ndescs + 1, sizeof(size_t));
    item *it = NULL;

    if (!start || !fill)
        goto oom;
    for (size_t r = 0; r < nrecs; r++)
        for (size_t i = 0; i < recs[r].rec->n; i++)
            if (recs[r].rec->samples[i].metric < ndescs) {
                start[recs[r].rec->samples[i].metric + 1]++;
                total++;
            }
    for (unsigned m = 0; m < ndescs; m++)
        start[m + 1] += start[m];
    it = calloc(total ? total : 1, sizeof(*it));
    if (!it)
        goto oom;
    for (size_t r = 0; r < nrecs; r++)
        for (size_t i = 0; i < recs[r].rec->n; i++) {
            const uniSample *s = &recs[r].rec->samples[i];
            size_t k;
            if (s->metric >= ndescs)
                continue;
            k = start[s->metric] + fill[s->metric]++;
            it[k] = (item){.s = s, .l = &recs[r].labels, .seq = k};
        }
    for (unsigned m = 0; m < ndescs; m++) {
        size_t a = start[m], z = start[m + 1];
        char fam[PROM_NAME_MAX * 2], prev[PROM_NAME_MAX * 2] = "";
        if (a == z || p[m].skip)
            continue;
        if (p[m].kvm_name)
            qsort(it + a, z - a, sizeof(*it), cmp_item);
        for (size_t i = a; i < z; i++) {
            prom_desc eff;
            bool dup = false;
            /* A text metric the record's own labels already carry (a VM's uuid): not twice. */
            for (size_t k = 0; p[m].type == UNI_METRIC_TEXT && it[i].l && k < it[i].l->n; k++)
                dup |= streq(it[i].l->keys[k], p[m].info_label);
            if (dup)
                continue;
            sample_family(&p[m], it[i].s, fam, sizeof(fam), &eff);
            if (strcmp(fam, prev)) {
                header(&b, fam, &eff, &d[m], om, it[i].s->name);
                snprintf(prev, sizeof(prev), "%s", fam);
            }
            sample_line(&b, fam, &eff, it[i].s, it[i].l);
        }
    }
    if (om)
        sb_str(&b, "# EOF\n");
    if (b.oom)
        goto oom;
    free(start);
    free(fill);
    free(it);
    *ret = b.buf ? b.buf : strdup("");
    *ret_len = b.len;
    return *ret ? 0 : -ENOMEM;
oom:
    free(start);
    free(fill);
    free(it);
    free(b.buf);
    return -ENOMEM;
}

int uniRecordToPrometheus(uniRecordPtr rec, char **ret_text, size_t *ret_len, unsigned int flags) {
    prom_desc *pd = NULL;
    prom_record pr = {.rec = rec};
    size_t len;
    int r;

    uniResetLastError();
    if (!rec || !ret_text) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: rec or ret_text is NULL", __func__);
        return -1;
    }
    if (flags & ~(unsigned)UNI_EXPOSITION_OPENMETRICS) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: unsupported flags 0x%x", __func__, flags);
        return -1;
    }
    r = prom_map_init(rec->descs, rec->ndescs, &pd);
    if (r < 0) {
        uni_error_set(r == -EEXIST ? UNI_ERR_INTERNAL_ERROR : UNI_ERR_NO_MEMORY, "%s",
                      r == -EEXIST ? "two metrics map onto one Prometheus family" : "out of memory");
        return -1;
    }
    r = prom_render(&pr, 1, rec->descs, pd, rec->ndescs, flags & UNI_EXPOSITION_OPENMETRICS, ret_text, &len);
    free(pd);
    if (r < 0) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    if (ret_len)
        *ret_len = len;
    return 0;
}
