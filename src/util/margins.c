/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The margins file's reader (margins.h): strict, whole-file, and the only one in the tree. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <time.h>

#include "util/margins.h"
#include "util/util.h"

/* Values are never negative, and beyond this none is an operating point of any hardware: a sign
 * of a damaged file. */
#define VALUE_MAX 1000000000LL

_printf_(3, 4) static int bad(char *why, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (why && len)
        vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return -EBADMSG;
}

static json_object *field(json_object *o, const char *k, json_type type, bool nullable, bool *ret_null) {
    json_object *v = NULL;
    if (ret_null)
        *ret_null = false;
    if (!json_object_object_get_ex(o, k, &v))
        return NULL;
    if (!v) {
        if (nullable && ret_null)
            *ret_null = true;
        return NULL;
    }
    return json_object_is_type(v, type) ? v : NULL;
}

/* A string field @k of @o copied to @buf; -EBADMSG naming it when missing, not a string or too long. */
static int get_str(json_object *o, const char *k, const char *where, char *buf, size_t len, char *why, size_t wl) {
    json_object *v = field(o, k, json_type_string, false, NULL);
    if (!v)
        return bad(why, wl, "%s: \"%s\" is missing or not a string", where, k);
    if ((size_t)json_object_get_string_len(v) >= len)
        return bad(why, wl, "%s: \"%s\" is longer than %zu bytes", where, k, len - 1);
    memcpy(buf, json_object_get_string(v), (size_t)json_object_get_string_len(v) + 1);
    return 0;
}

/* An integer field; @ret_null (when not NULL) allows null. */
static int get_int(json_object *o, const char *k, const char *where, int64_t *ret, bool *ret_null, char *why,
                   size_t wl) {
    bool is_null = false;
    json_object *v = field(o, k, json_type_int, ret_null != NULL, &is_null);
    if (is_null) {
        *ret_null = true;
        return 0;
    }
    if (!v)
        return bad(why, wl, "%s: \"%s\" is missing or not an integer", where, k);
    errno = 0;
    *ret = json_object_get_int64(v);
    if (errno == ERANGE || *ret > VALUE_MAX || *ret < 0)
        return bad(why, wl, "%s: \"%s\" is out of range", where, k);
    if (ret_null)
        *ret_null = false;
    return 0;
}

static bool valid_name(const char *s) {
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-'))
            return false;
    return true;
}

static bool one_of(const char *s, const char *const *set) {
    for (; *set; set++)
        if (streq(s, *set))
            return true;
    return false;
}

static bool between(int64_t v, int64_t a, int64_t b) {
    return a <= b ? v >= a && v <= b : v >= b && v <= a;
}

static int parse_entry(json_object *e, size_t i, const uni_margins *file, uni_margin *m, char *why, size_t wl) {
    static const char *const kinds[] = {"cpu", "memory", "cpufreq", NULL};
    static const char *const params[] = {"voltage_mv", "refresh_ms", "frequency_mhz", NULL};
    static const char *const statuses[] = {"failure", "limit", "budget", "stopped", "error", "not-run", NULL};
    char where[96], dir[8];
    int64_t start;
    bool lc_null = false, safe_null = false, gb_null = false, f_null = false;
    json_object *v, *cond;
    int r;

    snprintf(where, sizeof(where), "margins[%zu]", i);
    if (!json_object_is_type(e, json_type_object))
        return bad(why, wl, "%s is not an object", where);
    if ((r = get_str(e, "domain", where, m->domain, sizeof(m->domain), why, wl)) < 0)
        return r;
    if (!valid_name(m->domain))
        return bad(why, wl, "%s: domain \"%s\" is not a name (letters, digits, '_', '-')", where, m->domain);
    snprintf(where, sizeof(where), "margins[%zu] (%s)", i, m->domain);
    if ((r = get_str(e, "kind", where, m->kind, sizeof(m->kind), why, wl)) < 0 ||
        (r = get_str(e, "param", where, m->param, sizeof(m->param), why, wl)) < 0 ||
        (r = get_str(e, "direction", where, dir, sizeof(dir), why, wl)) < 0 ||
        (r = get_str(e, "status", where, m->status, sizeof(m->status), why, wl)) < 0)
        return r;
    if (!one_of(m->kind, kinds))
        return bad(why, wl, "%s: unknown kind \"%s\"", where, m->kind);
    if (!one_of(m->param, params))
        return bad(why, wl, "%s: unknown param \"%s\"", where, m->param);
    if (!one_of(m->status, statuses))
        return bad(why, wl, "%s: unknown status \"%s\"", where, m->status);
    if (!streq(dir, "down") && !streq(dir, "up"))
        return bad(why, wl, "%s: direction \"%s\" is neither down nor up", where, dir);
    m->dir = streq(dir, "down") ? -1 : 1;
    if ((r = get_int(e, "nominal", where, &m->nominal, NULL, why, wl)) < 0 ||
        (r = get_int(e, "limit", where, &m->limit, NULL, why, wl)) < 0 ||
        (r = get_int(e, "last_clean", where, &m->last_clean, &lc_null, why, wl)) < 0 ||
        (r = get_int(e, "safe", where, &m->safe, &safe_null, why, wl)) < 0 ||
        (r = get_int(e, "guard_band", where, &m->guard_band, &gb_null, why, wl)) < 0)
        return r;
    if (!(v = field(e, "partial", json_type_boolean, false, NULL)))
        return bad(why, wl, "%s: \"partial\" is missing or not a boolean", where);
    m->partial = json_object_get_boolean(v);

    /* The direction, the limit and the values must agree: a margin past its own limit, or a safe
     * value on the wrong side of nominal, is a damaged file, not a margin. */
    if ((m->dir < 0 && m->limit > m->nominal) || (m->dir > 0 && m->limit < m->nominal))
        return bad(why, wl, "%s: limit %lld is on the wrong side of nominal %lld for direction %s", where,
                   (long long)m->limit, (long long)m->nominal, dir);
    if (lc_null != safe_null || lc_null != gb_null)
        return bad(why, wl, "%s: last_clean, safe and guard_band must all be null or all be numbers", where);
    m->has_safe = !safe_null;
    /* A search starts at its first step: nominal for a voltage or a refresh period, the lowest
     * frequency of a cpufreq sweep (whose nominal is its top). */
    start = m->nominal;
    if ((v = field(e, "evidence", json_type_array, false, NULL)) && json_object_array_length(v) > 0) {
        json_object *first = json_object_array_get_idx(v, 0);
        if (!json_object_is_type(first, json_type_object) ||
            (r = get_int(first, "value", where, &start, NULL, why, wl)) < 0)
            return bad(why, wl, "%s: evidence[0] has no integer \"value\"", where);
    }
    if (m->has_safe) {
        if (!between(m->last_clean, start, m->limit))
            return bad(why, wl, "%s: last_clean %lld is outside the search's first step %lld .. limit %lld", where,
                       (long long)m->last_clean, (long long)start, (long long)m->limit);
        if (!between(m->safe, start, m->last_clean))
            return bad(why, wl, "%s: safe %lld is outside the search's first step %lld .. last_clean %lld", where,
                       (long long)m->safe, (long long)start, (long long)m->last_clean);
        if (m->guard_band != (m->safe > m->last_clean ? m->safe - m->last_clean : m->last_clean - m->safe))
            return bad(why, wl, "%s: guard_band %lld is not the distance from last_clean %lld to safe %lld", where,
                       (long long)m->guard_band, (long long)m->last_clean, (long long)m->safe);
    }

    if (!(cond = field(e, "conditions", json_type_object, false, NULL)))
        return bad(why, wl, "%s: \"conditions\" is missing or not an object", where);
    if ((r = get_int(cond, "frequency_mhz", where, &m->freq_mhz, &f_null, why, wl)) < 0)
        return r;
    if (f_null)
        m->freq_mhz = 0;
    else if (m->freq_mhz <= 0)
        return bad(why, wl, "%s: conditions.frequency_mhz %lld is not a frequency", where, (long long)m->freq_mhz);
    /* The record's instance name: the domain, the parameter's word and the frequency, so that a
     * channel's refresh and voltage searches, and a PMD's at two frequencies, stay apart. */
    snprintf(m->name, sizeof(m->name), "%s:%.*s", m->domain, (int)strcspn(m->param, "_"), m->param);
    if (m->freq_mhz)
        snprintf(m->name + strlen(m->name), sizeof(m->name) - strlen(m->name), "@%lldMHz", (long long)m->freq_mhz);

    if ((v = field(e, "cores", json_type_array, false, NULL))) {
        m->ncores = json_object_array_length(v);
        if (m->ncores > UNI_MARGIN_MAX_CORES)
            return bad(why, wl, "%s: more than %d cores", where, UNI_MARGIN_MAX_CORES);
        for (size_t c = 0; c < m->ncores; c++) {
            json_object *x = json_object_array_get_idx(v, c);
            if (!json_object_is_type(x, json_type_int) || json_object_get_int64(x) < 0 ||
                json_object_get_int64(x) > 1 << 20)
                return bad(why, wl, "%s: cores[%zu] is not a core number", where, c);
            m->cores[c] = (int)json_object_get_int64(x);
        }
    }
    if ((v = field(e, "dimms", json_type_array, false, NULL))) {
        m->ndimms = json_object_array_length(v);
        if (m->ndimms > UNI_MARGIN_MAX_DIMMS)
            return bad(why, wl, "%s: more than %d dimms", where, UNI_MARGIN_MAX_DIMMS);
        for (size_t d = 0; d < m->ndimms; d++) {
            json_object *x = json_object_array_get_idx(v, d);
            if (!json_object_is_type(x, json_type_string) ||
                (size_t)json_object_get_string_len(x) >= sizeof(m->dimms[d]))
                return bad(why, wl, "%s: dimms[%zu] is not a DIMM label", where, d);
            memcpy(m->dimms[d], json_object_get_string(x), (size_t)json_object_get_string_len(x) + 1);
        }
    }

    /* When this search was measured: its own time where the writer gave it, else the file's. */
    m->measured_s = file->generated_s;
    if (json_object_object_get_ex(e, "measured", &v)) {
        if (!json_object_is_type(v, json_type_string) ||
            uni_parse_iso_utc(json_object_get_string(v), &m->measured_s) < 0)
            return bad(why, wl, "%s: \"measured\" is not a UTC time (YYYY-MM-DDTHH:MM:SSZ)", where);
    }
    return 0;
}

int uni_margins_parse(const char *buf, size_t len, uni_margins *ret, char *why, size_t wl) {
    json_tokener *tok = json_tokener_new();
    json_object *root = NULL, *v, *arr;
    char schema[32], generated[32];
    uni_margins f = {0};
    int64_t version;
    int r = 0;

    memset(ret, 0, sizeof(*ret));
    if (!tok)
        return -ENOMEM;
    root = json_tokener_parse_ex(tok, buf, (int)(len > INT32_MAX ? INT32_MAX : len));
    if (!root || json_tokener_get_error(tok) != json_tokener_success) {
        r = bad(why, wl, "not JSON: %s",
                json_tokener_error_desc(root ? json_tokener_success : json_tokener_get_error(tok)));
        goto out;
    }
    for (size_t e = json_tokener_get_parse_end(tok); e < len; e++)
        if (!strchr(" \t\r\n", buf[e])) {
            r = bad(why, wl, "text after the JSON object (at byte %zu)", e);
            goto out;
        }
    if (!json_object_is_type(root, json_type_object)) {
        r = bad(why, wl, "not a JSON object");
        goto out;
    }
    if ((r = get_str(root, "schema", "the file", schema, sizeof(schema), why, wl)) < 0)
        goto out;
    if (!streq(schema, "uniserver-margins")) {
        r = bad(why, wl, "schema \"%s\" is not uniserver-margins", schema);
        goto out;
    }
    if ((r = get_int(root, "version", "the file", &version, NULL, why, wl)) < 0)
        goto out;
    if (version > UNI_MARGINS_VERSION) {
        if (why && wl)
            snprintf(why, wl, "version %lld is newer than this reader's (%d): update uniserver", (long long)version,
                     UNI_MARGINS_VERSION);
        r = -EPROTONOSUPPORT;
        goto out;
    }
    if (version < 1) {
        r = bad(why, wl, "version %lld does not exist (the first is 1)", (long long)version);
        goto out;
    }
    f.version = (int)version;
    if ((r = get_str(root, "generated", "the file", generated, sizeof(generated), why, wl)) < 0)
        goto out;
    if (uni_parse_iso_utc(generated, &f.generated_s) < 0) {
        r = bad(why, wl, "\"generated\" is not a UTC time (YYYY-MM-DDTHH:MM:SSZ)");
        goto out;
    }
    if (!(v = field(root, "complete", json_type_boolean, false, NULL))) {
        r = bad(why, wl, "\"complete\" is missing or not a boolean");
        goto out;
    }
    f.complete = json_object_get_boolean(v);
    /* The run: when it started and its raw log, where the writer says (fields added in v1). */
    {
        json_object *st = field(root, "run_started", json_type_string, false, NULL);
        json_object *lg = field(root, "log", json_type_string, false, NULL);
        int64_t t;
        if (st && uni_parse_iso_utc(json_object_get_string(st), &t) < 0) {
            r = bad(why, wl, "\"run_started\" is not a UTC time (YYYY-MM-DDTHH:MM:SSZ)");
            goto out;
        }
        snprintf(f.run, sizeof(f.run), "%s%s%s%s", st ? "started " : "written ",
                 st ? json_object_get_string(st) : generated, lg ? ", raw log " : "",
                 lg ? json_object_get_string(lg) : "");
    }
    if (!(arr = field(root, "margins", json_type_array, false, NULL))) {
        r = bad(why, wl, "\"margins\" is missing or not an array");
        goto out;
    }
    f.n = json_object_array_length(arr);
    if (f.n > 65536) {
        r = bad(why, wl, "more than 65536 margins");
        goto out;
    }
    if (f.n && !(f.m = calloc(f.n, sizeof(*f.m)))) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < f.n; i++) {
        if ((r = parse_entry(json_object_array_get_idx(arr, i), i, &f, &f.m[i], why, wl)) < 0)
            goto out;
        /* One search per domain, parameter and frequency: a second would make one of them a guess. */
        for (size_t j = 0; j < i; j++)
            if (streq(f.m[j].name, f.m[i].name)) {
                r = bad(why, wl, "margins[%zu] repeats the search %s of margins[%zu]", i, f.m[i].name, j);
                goto out;
            }
    }
    *ret = f;
    f.m = NULL;
out:
    free(f.m);
    json_object_put(root);
    json_tokener_free(tok);
    return r;
}

int uni_margins_load(const char *path, uni_margins *ret, char *why, size_t wl) {
    _cleanup_free_ char *buf = NULL;
    ssize_t n;
    int r;

    memset(ret, 0, sizeof(*ret));
    n = read_file_at_alloc(AT_FDCWD, path, &buf);
    if (n == -ENOENT) {
        if (why && wl)
            snprintf(why, wl, "no margins file at %s: uni-stresslog writes it (docs/stresslog.md)", path);
        return -ENOENT;
    }
    if (n < 0) {
        if (why && wl)
            snprintf(why, wl, "margins file %s: %s", path,
                     n == -EFBIG    ? "larger than 64 MiB"
                     : n == -EINVAL ? "not a regular file"
                                    : strerror((int)-n));
        return (int)n;
    }
    {
        char inner[1024];
        r = uni_margins_parse(buf, (size_t)n, ret, inner, sizeof(inner));
        if (r < 0 && why && wl)
            snprintf(why, wl, "margins file %s: %s", path, r == -ENOMEM ? "out of memory" : inner);
    }
    return r;
}

void uni_margins_free(uni_margins *m) {
    if (!m)
        return;
    free(m->m);
    m->m = NULL;
    m->n = 0;
}
