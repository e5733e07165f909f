/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Records: the typed samples of one collection, their string arena, absences and key rendering. */
#include <pthread.h>
#include <stdarg.h>

#include "internal.h"

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, size;
    char data[];
};

uint64_t (*uni_clock_ns)(void) = now_ns;
int64_t (*uni_clock_wall_ms)(void) = wall_ms;

uniRecordPtr uni_record_new(const uniMetricDesc *descs, unsigned ndescs) {
    uniRecordPtr r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->descs = descs;
    r->ndescs = ndescs;
    r->window_ms = -1;
    r->timestamp = uni_clock_wall_ms();
    return r;
}

char *rec_strdup(uniRecordPtr r, const char *s) {
    size_t len = strlen(s) + 1;
    struct arena_chunk *c = r->arena;

    if (!c || c->size - c->used < len) {
        size_t sz = len > 4000 ? len : 4000;
        c = malloc(sizeof(*c) + sz);
        if (!c)
            return NULL;
        c->size = sz;
        c->used = 0;
        c->next = r->arena;
        r->arena = c;
    }
    char *p = c->data + c->used;
    memcpy(p, s, len);
    c->used += len;
    return p;
}

static uniSample *append_named(uniRecordPtr r, unsigned metric, int index, const char *name, bool copy, int type) {
    uniSample *s;

    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 64;
        uniSample *ns = realloc(r->samples, nc * sizeof(*ns));
        if (!ns)
            return NULL;
        r->samples = ns;
        r->cap = nc;
    }
    s = &r->samples[r->n];
    s->metric = metric;
    s->index = index;
    s->name = copy || !name ? NULL : name;
    if (name && copy && !(s->name = rec_strdup(r, name)))
        return NULL;
    s->type = type;
    r->n++;
    if (metric < UNI_NMETRICS)
        r->present[metric / 8] |= (uint8_t)(1u << (metric % 8));
    return s;
}

static uniSample *append(uniRecordPtr r, unsigned metric, int index, const char *name, int type) {
    return append_named(r, metric, index, name, true, type);
}

/* The interned names: an open-addressing set of strings never freed. */
#define INTERN_MAX 16384
static struct {
    pthread_mutex_t lock;
    char **slot;
    size_t nslots, n;
} interned = {.lock = PTHREAD_MUTEX_INITIALIZER};

const char *rec_intern(const char *name) {
    const char *ret = NULL;
    size_t h = str_hash(name);

    pthread_mutex_lock(&interned.lock);
    if (2 * (interned.n + 1) > interned.nslots && interned.n < INTERN_MAX) {
        size_t ns = interned.nslots ? 2 * interned.nslots : 256;
        char **nsl = calloc(ns, sizeof(*nsl));
        if (nsl) {
            for (size_t i = 0; i < interned.nslots; i++)
                if (interned.slot[i]) {
                    size_t k = str_hash(interned.slot[i]) & (ns - 1);
                    while (nsl[k])
                        k = (k + 1) & (ns - 1);
                    nsl[k] = interned.slot[i];
                }
            free(interned.slot);
            interned.slot = nsl;
            interned.nslots = ns;
        }
    }
    /* At most half full: the probe ends at the name or at an empty slot. */
    for (size_t m = interned.nslots - 1, k = h & m; interned.nslots; k = (k + 1) & m) {
        if (!interned.slot[k]) {
            /* One byte before the text keeps what the source said of the name (rec_name_set_kind). */
            char *t =
                interned.n < INTERN_MAX && 2 * (interned.n + 1) <= interned.nslots ? malloc(strlen(name) + 2) : NULL;
            if (t) {
                t[0] = REC_NAME_UNKNOWN;
                strcpy(t + 1, name);
                interned.slot[k] = t + 1;
                interned.n++;
                ret = interned.slot[k];
            }
            break;
        }
        if (streq(interned.slot[k], name)) {
            ret = interned.slot[k];
            break;
        }
    }
    pthread_mutex_unlock(&interned.lock);
    return ret;
}

/* The slot of interned @name, by pointer (the caller holds the lock), or NULL. */
static char *interned_slot(const char *name) {
    if (!name || !interned.nslots)
        return NULL;
    for (size_t m = interned.nslots - 1, k = str_hash(name) & m; interned.slot[k]; k = (k + 1) & m)
        if (interned.slot[k] == name)
            return interned.slot[k];
    return NULL;
}

void rec_name_set_kind(const char *name, rec_name_kind kind) {
    char *t;
    pthread_mutex_lock(&interned.lock);
    if ((t = interned_slot(name)))
        t[-1] = (char)kind;
    pthread_mutex_unlock(&interned.lock);
}

rec_name_kind rec_name_get_kind(const char *name) {
    rec_name_kind k = REC_NAME_UNKNOWN;
    const char *t;
    pthread_mutex_lock(&interned.lock);
    if ((t = interned_slot(name)))
        k = (rec_name_kind)t[-1];
    pthread_mutex_unlock(&interned.lock);
    return k;
}

void rec_reserve(uniRecordPtr r, size_t nsamples, size_t nabsent) {
    if (nsamples > r->cap) {
        uniSample *ns = realloc(r->samples, nsamples * sizeof(*ns));
        if (ns) {
            r->samples = ns;
            r->cap = nsamples;
        }
    }
    if (nabsent > r->capabsent) {
        uniAbsence *na = realloc(r->absent, nabsent * sizeof(*na));
        if (na) {
            r->absent = na;
            r->capabsent = nabsent;
        }
    }
}

int rec_u64_interned(uniRecordPtr r, unsigned metric, int index, const char *name, uint64_t v) {
    uniSample *s;
    if (!rec_wants(r, metric))
        return 0;
    if (!(s = append_named(r, metric, index, name, false, UNI_VALUE_U64)))
        return -ENOMEM;
    s->value.u = v;
    return 0;
}

int rec_u64(uniRecordPtr r, unsigned metric, int index, const char *name, uint64_t v) {
    uniSample *s;
    if (!rec_wants(r, metric))
        return 0;
    if (!(s = append(r, metric, index, name, UNI_VALUE_U64)))
        return -ENOMEM;
    s->value.u = v;
    return 0;
}

int rec_dbl(uniRecordPtr r, unsigned metric, int index, const char *name, double v) {
    uniSample *s;
    if (!rec_wants(r, metric))
        return 0;
    if (!(s = append(r, metric, index, name, UNI_VALUE_DOUBLE)))
        return -ENOMEM;
    s->value.d = v;
    return 0;
}

int rec_str(uniRecordPtr r, unsigned metric, int index, const char *name, const char *v) {
    uniSample *s;
    if (!rec_wants(r, metric))
        return 0;
    if (!(s = append(r, metric, index, name, UNI_VALUE_STRING)))
        return -ENOMEM;
    if (!(s->value.s = rec_strdup(r, v))) {
        r->n--;
        return -ENOMEM;
    }
    return 0;
}

int rec_copy(uniRecordPtr r, const uniSample *s) {
    switch (s->type) {
    case UNI_VALUE_U64:
        return rec_u64(r, s->metric, s->index, s->name, s->value.u);
    case UNI_VALUE_DOUBLE:
        return rec_dbl(r, s->metric, s->index, s->name, s->value.d);
    default:
        return rec_str(r, s->metric, s->index, s->name, s->value.s);
    }
}

bool rec_has(uniRecordPtr r, unsigned metric) {
    if (metric < UNI_NMETRICS)
        return r->present[metric / 8] & (1u << (metric % 8));
    for (size_t i = 0; i < r->n; i++)
        if (r->samples[i].metric == metric)
            return true;
    return false;
}

static bool is_absent(uniRecordPtr r, unsigned metric) {
    if (metric < UNI_NMETRICS)
        return r->absentmap[metric / 8] & (1u << (metric % 8));
    for (size_t i = 0; i < r->nabsent; i++)
        if (r->absent[i].metric == metric)
            return true;
    return false;
}

static void absent_add(uniRecordPtr r, unsigned metric, bool partial, const char *fmt, va_list ap) {
    _cleanup_free_ char *msg = NULL;

    /* Collectors state a fallback reason after emitting what they could: a metric with samples
     * is not absent, unless only some of its instances are (partial). */
    if (!rec_wants(r, metric) || is_absent(r, metric) || (!partial && rec_has(r, metric)))
        return;
    if (r->nabsent == r->capabsent) {
        size_t nc = r->capabsent ? r->capabsent * 2 : 16;
        uniAbsence *na = realloc(r->absent, nc * sizeof(*na));
        if (!na)
            return;
        r->absent = na;
        r->capabsent = nc;
    }
    if (!strchr(fmt, '%'))
        /* A format is a literal (-Wformat=2 refuses others): one without conversions is kept
         * as it is, not copied (a VM's record states tens of fixed reasons every sample). */
        r->absent[r->nabsent].reason = fmt;
    else if (streq(fmt, "%s")) { /* a reason made elsewhere: copied, once for a run of metrics */
        const char *why = va_arg(ap, const char *);
        const char *last = r->nabsent ? r->absent[r->nabsent - 1].reason : NULL;
        r->absent[r->nabsent].reason = last && streq(last, why) ? last : rec_strdup(r, why);
    } else {
        if (vasprintf(&msg, fmt, ap) < 0)
            msg = NULL;
        r->absent[r->nabsent].reason = rec_strdup(r, msg ? msg : "unavailable");
    }
    r->absent[r->nabsent].metric = metric;
    if (r->absent[r->nabsent].reason) {
        r->nabsent++;
        if (metric < UNI_NMETRICS)
            r->absentmap[metric / 8] |= (uint8_t)(1u << (metric % 8));
    }
}

void rec_absent(uniRecordPtr r, unsigned metric, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    absent_add(r, metric, false, fmt, ap);
    va_end(ap);
}

void rec_absent_partial(uniRecordPtr r, unsigned metric, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    absent_add(r, metric, true, fmt, ap);
    va_end(ap);
}

void rec_unabsent(uniRecordPtr r, unsigned metric) {
    size_t w = 0;
    for (size_t i = 0; i < r->nabsent; i++)
        if (r->absent[i].metric != metric)
            r->absent[w++] = r->absent[i];
    r->nabsent = w;
    if (metric < UNI_NMETRICS)
        r->absentmap[metric / 8] &= (uint8_t) ~(1u << (metric % 8));
}

void rec_absent_ledger(uniRecordPtr r) {
    static const unsigned ledger[] = {UNI_M_HOST_AVAILABILITY_1H_PCT, UNI_M_HOST_AVAILABILITY_24H_PCT,
                                      UNI_M_HOST_AVAILABILITY_30D_PCT, UNI_M_HOST_ENERGY_1H_KWH,
                                      UNI_M_HOST_ENERGY_24H_KWH};
    for (size_t i = 0; i < ELEMENTSOF(ledger); i++)
        rec_absent(r, ledger[i],
                   "uniserverd keeps it in its ledger across restarts: ask it (uniserver+unix:///system), not "
                   "this in-process connection");
}

int uni_format_key(const uniMetricDesc *d, int index, const char *name, char *buf, size_t len) {
    const char *t = d->key;
    size_t o = 0;

    while (*t) {
        const char *e = strchrnul(t, '.');
        size_t sl = (size_t)(e - t);
        char kind = uni_placeholder_kind(t, sl);
        int k;

        if (kind == 'i' && index >= 0)
            k = snprintf(buf + o, len - o, "%d", index);
        else if (kind == 's' && name)
            k = snprintf(buf + o, len - o, "%s", name);
        else
            k = snprintf(buf + o, len - o, "%.*s", (int)sl, t);
        if (k < 0 || (size_t)k >= len - o)
            return -1;
        o += (size_t)k;
        if (!*e)
            break;
        if (o + 1 >= len)
            return -1;
        buf[o++] = '.';
        buf[o] = 0;
        t = e + 1;
    }
    return (int)o;
}

void rec_finish(uniRecordPtr r, const uni_select *sel, const char *why_missing) {
    if (sel && sel->nprefixes) {
        size_t w = 0;
        for (size_t i = 0; i < r->n; i++) {
            uniSample *s = &r->samples[i];
            bool keep = sel->whole[s->metric / 8] & (1u << (s->metric % 8));
            char key[256];

            if (!keep && uni_format_key(&r->descs[s->metric], s->index, s->name, key, sizeof(key)) >= 0)
                for (size_t p = 0; p < sel->nprefixes && !keep; p++)
                    keep = startswith(key, sel->prefixes[p]);
            if (keep)
                r->samples[w++] = *s;
        }
        r->n = w;
        memset(r->present, 0, sizeof(r->present));
        for (size_t i = 0; i < r->n; i++)
            if (r->samples[i].metric < UNI_NMETRICS)
                r->present[r->samples[i].metric / 8] |= (uint8_t)(1u << (r->samples[i].metric % 8));
    }
    for (unsigned m = 0; m < r->ndescs && m < UNI_NMETRICS; m++)
        if (rec_wants(r, m) && !rec_has(r, m) && !is_absent(r, m))
            rec_absent(r, m, "%s", why_missing);
    r->sel = NULL;
}

/* ---- public accessors ---- */

int uniRecordNumSamples(uniRecordPtr rec) {
    return rec ? (int)rec->n : -1;
}

const uniSample *uniRecordGetSample(uniRecordPtr rec, int i) {
    return rec && i >= 0 && (size_t)i < rec->n ? &rec->samples[i] : NULL;
}

int uniRecordNumAbsent(uniRecordPtr rec) {
    return rec ? (int)rec->nabsent : -1;
}

const uniAbsence *uniRecordGetAbsence(uniRecordPtr rec, int i) {
    return rec && i >= 0 && (size_t)i < rec->nabsent ? &rec->absent[i] : NULL;
}

long long uniRecordGetWindowMs(uniRecordPtr rec) {
    return rec ? rec->window_ms : -1;
}

long long uniRecordGetTimestamp(uniRecordPtr rec) {
    return rec ? rec->timestamp : -1;
}

const uniMetricDesc *uniRecordGetDescriptor(uniRecordPtr rec, unsigned int metric) {
    return rec && metric < rec->ndescs ? &rec->descs[metric] : NULL;
}

int uniRecordFormatKey(uniRecordPtr rec, int i, char *buf, size_t len) {
    const uniSample *s = uniRecordGetSample(rec, i);
    if (!s || !buf || len == 0)
        return -1;
    return uni_format_key(&rec->descs[s->metric], s->index, s->name, buf, len);
}

const uniSample *uniRecordLookup(uniRecordPtr rec, const char *key) {
    char buf[256];
    if (!rec || !key)
        return NULL;
    for (size_t i = 0; i < rec->n; i++)
        if (uniRecordFormatKey(rec, (int)i, buf, sizeof(buf)) >= 0 && streq(buf, key))
            return &rec->samples[i];
    return NULL;
}

/* Does the concrete key @key instantiate template @tmpl (or equal it)? */
static bool key_instantiates(const char *key, const char *tmpl) {
    const char *a = key, *b = tmpl;
    for (;;) {
        const char *ae = strchrnul(a, '.'), *be = strchrnul(b, '.');
        size_t al = (size_t)(ae - a), bl = (size_t)(be - b);
        if (!uni_placeholder_kind(b, bl) && (al != bl || memcmp(a, b, al) != 0))
            return false;
        if (!*ae || !*be)
            return !*ae && !*be;
        a = ae + 1;
        b = be + 1;
    }
}

const char *uniRecordAbsentReason(uniRecordPtr rec, const char *key) {
    if (!rec || !key)
        return NULL;
    for (size_t i = 0; i < rec->nabsent; i++)
        if (key_instantiates(key, rec->descs[rec->absent[i].metric].key))
            return rec->absent[i].reason;
    return NULL;
}

void uniRecordFree(uniRecordPtr rec) {
    if (!rec)
        return;
    while (rec->arena) {
        struct arena_chunk *n = rec->arena->next;
        free(rec->arena);
        rec->arena = n;
    }
    free(rec->samples);
    free(rec->absent);
    free(rec);
}

int uni_record_filter(uniRecordPtr full, const uni_select *sel, uniRecordPtr *ret) {
    uniRecordPtr r = uni_record_new(full->descs, full->ndescs);
    int k = 0;

    if (!r)
        return -ENOMEM;
    r->window_ms = full->window_ms;
    r->timestamp = full->timestamp;
    r->sel = sel;
    for (size_t i = 0; i < full->n && k >= 0; i++) {
        const uniSample *s = &full->samples[i];
        if (rec_wants(r, s->metric))
            k = rec_copy(r, s);
    }
    for (size_t i = 0; i < full->nabsent; i++)
        rec_absent(r, full->absent[i].metric, "%s", full->absent[i].reason);
    if (k < 0) {
        uniRecordFree(r);
        return k;
    }
    rec_finish(r, sel, "not in the daemon's record");
    *ret = r;
    return 0;
}
