/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The parsers of QMP's replies (pure: text in, struct out, tested on literal replies):
 * query-stats read in place by a small validating JSON reader; query-cpus-fast,
 * query-blockstats, query-block, query-status, query-balloon and query-stats-schemas through
 * json-c. The client that asks them is qmp.c. QMP: docs/interop/qmp-spec.rst in QEMU. */
#include <stdarg.h>

#include <json-c/json.h>

#include "vms.h"

/* ---------------------------------------------------------------------------------------------
 * Reply parsers
 * ------------------------------------------------------------------------------------------- */

static bool get_u64(json_object *o, const char *key, uint64_t *ret) {
    json_object *v;
    int64_t i;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return false;
    i = json_object_get_int64(v);
    if (i < 0)
        return false;
    *ret = (uint64_t)i;
    return true;
}

static const char *get_str(json_object *o, const char *key) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static kvm_stat_kind guess_kind(const char *name) {
    return startswith(name, "max_") ? KVM_STAT_PEAK : KVM_STAT_CUMULATIVE;
}

kvm_stat_kind qmp_stat_kind(json_object *schemas, const char *target, const char *name) {
    size_t n = schemas && json_object_is_type(schemas, json_type_array) ? json_object_array_length(schemas) : 0;

    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(schemas, i), *stats;
        const char *t = get_str(s, "target");
        size_t m;
        if (!t || !streq(t, target) || !json_object_object_get_ex(s, "stats", &stats) ||
            !json_object_is_type(stats, json_type_array))
            continue;
        m = json_object_array_length(stats);
        for (size_t k = 0; k < m; k++) {
            json_object *d = json_object_array_get_idx(stats, k);
            const char *nm = get_str(d, "name"), *type = get_str(d, "type");
            if (!nm || !streq(nm, name) || !type)
                continue;
            if (streq(type, "instant"))
                return KVM_STAT_INSTANT;
            if (streq(type, "peak"))
                return KVM_STAT_PEAK;
            return KVM_STAT_CUMULATIVE;
        }
    }
    return guess_kind(name);
}

/* ---------------------------------------------------------------------------------------------
 * JSON read in place: the replies read every collection (query-stats) are walked where they lie,
 * without building objects (json-c's objects cost a third of the collector's CPU). Every byte
 * walked is validated as JSON.
 * ------------------------------------------------------------------------------------------- */

static const char *js_ws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static int hex4(const char *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* The string at @p (its opening quote): the end (past the closing quote), or NULL when malformed.
 * With @buf, its text unescaped and NUL-terminated there (NULL when it does not fit, or has a
 * NUL or a lone surrogate). */
const char *qmp_json_string(const char *p, const char *e, char *buf, size_t size) {
    size_t o = 0;
    for (p++; p < e; p++) {
        unsigned char ch = (unsigned char)*p;
        unsigned cp;
        if (ch == '"') {
            if (buf)
                buf[o] = 0;
            return p + 1;
        }
        if (ch < 0x20)
            return NULL;
        if (ch != '\\') {
            if (buf && o + 1 >= size)
                return NULL;
            if (buf)
                buf[o++] = (char)ch;
            continue;
        }
        if (++p >= e)
            return NULL;
        switch (*p) {
        case '"':
        case '\\':
        case '/':
            cp = (unsigned char)*p;
            break;
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u': {
            int v = e - p >= 5 ? hex4(p + 1) : -1, lo;
            if (v < 0)
                return NULL;
            p += 4;
            cp = (unsigned)v;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return NULL;
            if (cp >= 0xd800 && cp <= 0xdbff) { /* a surrogate pair */
                if (e - p < 7 || p[1] != '\\' || p[2] != 'u' || (lo = hex4(p + 3)) < 0xdc00 || lo > 0xdfff)
                    return NULL;
                cp = 0x10000 + ((cp - 0xd800) << 10) + ((unsigned)lo - 0xdc00);
                p += 6;
            }
            if (cp == 0 && buf)
                return NULL;
            break;
        }
        default:
            return NULL;
        }
        if (buf) {
            char u[4];
            size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (n == 1)
                u[0] = (char)cp;
            else if (n == 2)
                u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f));
            else if (n == 3)
                u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
                u[2] = (char)(0x80 | (cp & 0x3f));
            else
                u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f));
            if (o + n >= size)
                return NULL;
            memcpy(buf + o, u, n);
            o += n;
        }
    }
    return NULL;
}

/* The number at @p: its end, or NULL. @u gets its value when it is a non-negative integer below
 * 2^64 (*is_u64); a negative, fractional or huge number is valid JSON without one. */
static const char *js_number(const char *p, const char *e, uint64_t *u, bool *is_u64) {
    bool neg = p < e && *p == '-', ok = true;
    uint64_t v = 0;
    if (neg)
        p++;
    if (p >= e || *p < '0' || *p > '9' || (*p == '0' && p + 1 < e && p[1] >= '0' && p[1] <= '9'))
        return NULL;
    for (; p < e && *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            ok = false;
        v = v * 10 + d;
    }
    if (p < e && *p == '.') {
        ok = false;
        if (++p >= e || *p < '0' || *p > '9')
            return NULL;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        ok = false;
        if (++p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || *p < '0' || *p > '9')
            return NULL;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    *is_u64 = ok && !neg;
    *u = v;
    return p;
}

static const char *js_literal(const char *p, const char *e, const char *lit) {
    size_t n = strlen(lit);
    return (size_t)(e - p) >= n && memcmp(p, lit, n) == 0 ? p + n : NULL;
}

/* An object's members or an array's elements, in order. */
typedef struct {
    const char *p, *e;
    char close; /* '}' or ']' */
    int depth, n;
} js_iter;

static const char *js_skip(const char *p, const char *e, int depth);

/* Open the object ('{') or array ('[') at @p (after white space). */
static int js_open(js_iter *it, const char *p, const char *e, char open, int depth) {
    p = js_ws(p, e);
    if (p >= e || *p != open || depth >= QMP_JSON_MAX_DEPTH)
        return -EBADMSG;
    *it = (js_iter){.p = p + 1, .e = e, .close = open == '{' ? '}' : ']', .depth = depth + 1};
    return 0;
}

/* The next member (@key: its raw text between the quotes) or element: 1 with *@val at the value,
 * which the caller reads and then sets it->p past; 0 at the end (it->p past the close);
 * -EBADMSG when malformed. */
static int js_next(js_iter *it, const char **key, size_t *keylen, const char **val) {
    const char *p = js_ws(it->p, it->e);
    if (p >= it->e)
        return -EBADMSG;
    if (*p == it->close) {
        it->p = p + 1;
        return 0;
    }
    if (it->n > 0) {
        if (*p != ',')
            return -EBADMSG;
        p = js_ws(p + 1, it->e);
    }
    if (it->close == '}') {
        const char *k = p, *q;
        if (p >= it->e || *p != '"' || !(q = qmp_json_string(p, it->e, NULL, 0)))
            return -EBADMSG;
        *key = k + 1;
        *keylen = (size_t)(q - k - 2);
        p = js_ws(q, it->e);
        if (p >= it->e || *p != ':')
            return -EBADMSG;
        p++;
    }
    p = js_ws(p, it->e);
    if (p >= it->e)
        return -EBADMSG;
    it->n++;
    *val = p;
    return 1;
}

static bool js_key(const char *key, size_t len, const char *want) {
    return strlen(want) == len && memcmp(key, want, len) == 0;
}

/* Past the value at @p (validated), or NULL. */
static const char *js_skip(const char *p, const char *e, int depth) {
    uint64_t u;
    bool is_u64;
    p = js_ws(p, e);
    if (p >= e)
        return NULL;
    switch (*p) {
    case '"':
        return qmp_json_string(p, e, NULL, 0);
    case '{':
    case '[': {
        js_iter it;
        const char *k, *v;
        size_t kl;
        int r;
        if (js_open(&it, p, e, *p, depth) < 0)
            return NULL;
        while ((r = js_next(&it, &k, &kl, &v)) == 1)
            if (!(it.p = js_skip(v, e, it.depth)))
                return NULL;
        return r == 0 ? it.p : NULL;
    }
    case 't':
        return js_literal(p, e, "true");
    case 'f':
        return js_literal(p, e, "false");
    case 'n':
        return js_literal(p, e, "null");
    default:
        return js_number(p, e, &u, &is_u64);
    }
}

int qmp_message_member(const char *msg, size_t len, const char *name, const char **ret, size_t *ret_len) {
    const char *e = msg + len, *k, *v;
    size_t kl;
    js_iter it;
    int r, found = 0;

    if (js_open(&it, msg, e, '{', 0) < 0)
        return -EBADMSG;
    while ((r = js_next(&it, &k, &kl, &v)) == 1) {
        if (!(it.p = js_skip(v, e, it.depth)))
            return -EBADMSG;
        if (js_key(k, kl, name) && !found) {
            *ret = v;
            *ret_len = (size_t)(it.p - v);
            found = 1;
        }
    }
    if (r < 0 || js_ws(it.p, e) != e)
        return -EBADMSG;
    return found;
}

/* One statistic ({"name": ..., "value": ...}, in either order) to @cb: numbers and booleans;
 * histograms (arrays) have no single value, their sums are separate statistics (halt_wait_ns
 * next to halt_wait_hist). */
static const char *stat_one(const char *p, const char *e, int depth, int vcpu, kvm_stat_cb cb, void *userdata) {
    char name[256];
    const char *k, *v, *val = NULL;
    size_t kl;
    bool named = false;
    js_iter it;
    int r;

    if (js_open(&it, p, e, '{', depth) < 0)
        return NULL;
    while ((r = js_next(&it, &k, &kl, &v)) == 1) {
        if (js_key(k, kl, "name")) {
            if (*v != '"' || !(it.p = qmp_json_string(v, e, name, sizeof(name))))
                return NULL;
            named = true;
        } else {
            if (js_key(k, kl, "value"))
                val = v;
            if (!(it.p = js_skip(v, e, it.depth)))
                return NULL;
        }
    }
    if (r < 0 || !named || !*name || !val)
        return NULL;
    if (*val == 't' || *val == 'f')
        cb(userdata, vcpu, name, KVM_STAT_INSTANT, *val == 't');
    else if (*val == '-' || (*val >= '0' && *val <= '9')) {
        uint64_t u;
        bool is_u64;
        (void)js_number(val, e, &u, &is_u64);
        if (is_u64)
            cb(userdata, vcpu, name, guess_kind(name), u);
        else if (*val != '-') /* a fraction or beyond 64 bits: no counter's */
            return NULL;
    } else if (*val != '[')
        return NULL;
    return it.p;
}

/* A result's "stats" array at @p. */
static const char *stats_of(const char *p, const char *e, int depth, int vcpu, kvm_stat_cb cb, void *userdata) {
    js_iter it;
    const char *k, *v;
    size_t kl;
    int r;
    if (js_open(&it, p, e, '[', depth) < 0)
        return NULL;
    while ((r = js_next(&it, &k, &kl, &v)) == 1)
        if (!(it.p = stat_one(v, e, it.depth, vcpu, cb, userdata)))
            return NULL;
    return r == 0 ? it.p : NULL;
}

int qmp_parse_stats(const char *ret, size_t len, const char *const *qom_paths, size_t npaths, kvm_stat_cb cb,
                    void *userdata) {
    const char *e = ret + len, *k, *v;
    size_t kl;
    js_iter top;
    int r, n = 0;

    if (js_open(&top, ret, e, '[', 0) < 0)
        return -EBADMSG;
    while ((r = js_next(&top, &k, &kl, &v)) == 1) {
        /* A result: {"provider", "stats", "qom-path" (vCPUs)}. QEMU puts the path after the
         * statistics: for vCPUs they are read once the path has said which vCPU it is. */
        const char *stats = NULL, *mk, *mv;
        char qom[512];
        bool have_qom = false;
        int vcpu = -1;
        js_iter it;
        size_t mkl;
        if (js_open(&it, v, e, '{', top.depth) < 0)
            return -EBADMSG;
        while ((r = js_next(&it, &mk, &mkl, &mv)) == 1) {
            if (js_key(mk, mkl, "qom-path")) {
                if (*mv != '"' || !(it.p = qmp_json_string(mv, e, qom, sizeof(qom))))
                    return -EBADMSG;
                have_qom = true;
                continue;
            }
            if (js_key(mk, mkl, "stats")) {
                if (*mv != '[')
                    return -EBADMSG;
                stats = mv;
                if (!qom_paths) { /* the VM's own: read now */
                    if (!(it.p = stats_of(mv, e, it.depth, -1, cb, userdata)))
                        return -EBADMSG;
                    continue;
                }
            }
            if (!(it.p = js_skip(mv, e, it.depth)))
                return -EBADMSG;
        }
        if (r < 0 || !stats)
            return -EBADMSG;
        top.p = it.p;
        n++;
        if (!qom_paths)
            continue;
        for (size_t i = 0; have_qom && i < npaths && vcpu < 0; i++)
            if (qom_paths[i] && streq(qom_paths[i], qom))
                vcpu = (int)i;
        if (vcpu >= 0 && !stats_of(stats, e, it.depth, vcpu, cb, userdata))
            return -EBADMSG;
        /* else a vCPU we cannot number (hot-plugged since the map was made) */
    }
    if (r < 0 || js_ws(top.p, e) != e)
        return -EBADMSG;
    return n;
}

void qmp_cpus_free(qmp_cpu *c, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(c[i].qom_path);
    free(c);
}

int qmp_parse_cpus(json_object *ret, qmp_cpu **ret_cpus, size_t *ret_n) {
    size_t n;
    qmp_cpu *c;

    if (!json_object_is_type(ret, json_type_array))
        return -EBADMSG;
    n = json_object_array_length(ret);
    c = calloc(n ? n : 1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(ret, i);
        const char *qom = get_str(o, "qom-path");
        uint64_t idx, tid;
        if (!qom || !get_u64(o, "cpu-index", &idx) || !get_u64(o, "thread-id", &tid) || idx > 65535 ||
            tid > INT32_MAX || !(c[i].qom_path = strdup(qom))) {
            qmp_cpus_free(c, i + 1);
            return -EBADMSG;
        }
        c[i].index = (int)idx;
        c[i].tid = (pid_t)tid;
    }
    *ret_cpus = c;
    *ret_n = n;
    return 0;
}

void qmp_disks_free(qmp_disk *d, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(d[i].device);
    free(d);
}

/* A disk's name: the legacy "device" (-drive id), else the qdev id or path, else the node name. */
static const char *disk_name(json_object *o) {
    const char *d = get_str(o, "device");
    if (d && *d)
        return d;
    d = get_str(o, "qdev");
    if (d && *d)
        return d;
    d = get_str(o, "node-name");
    return d && *d ? d : NULL;
}

int qmp_parse_blockstats(json_object *ret, qmp_disk **ret_disks, size_t *ret_n) {
    size_t n, k = 0;
    qmp_disk *d;

    if (!json_object_is_type(ret, json_type_array))
        return -EBADMSG;
    n = json_object_array_length(ret);
    d = calloc(n ? n : 1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(ret, i), *s;
        const char *name = disk_name(o);
        qmp_disk *x = &d[k];
        if (!json_object_object_get_ex(o, "stats", &s) || !json_object_is_type(s, json_type_object)) {
            qmp_disks_free(d, k);
            return -EBADMSG;
        }
        if (!name)
            continue;
        if (!(x->device = strdup(name))) {
            qmp_disks_free(d, k);
            return -ENOMEM;
        }
        k++;
        if (!get_u64(s, "rd_bytes", &x->rd_bytes) || !get_u64(s, "wr_bytes", &x->wr_bytes) ||
            !get_u64(s, "rd_operations", &x->rd_ops) || !get_u64(s, "wr_operations", &x->wr_ops)) {
            qmp_disks_free(d, k);
            return -EBADMSG;
        }
        (void)get_u64(s, "failed_rd_operations", &x->failed_rd);
        (void)get_u64(s, "failed_wr_operations", &x->failed_wr);
        (void)get_u64(s, "rd_total_time_ns", &x->rd_time_ns);
        (void)get_u64(s, "wr_total_time_ns", &x->wr_time_ns);
    }
    *ret_disks = d;
    *ret_n = k;
    return 0;
}

void qmp_apply_block(json_object *ret, qmp_disk *disks, size_t n) {
    size_t m = json_object_is_type(ret, json_type_array) ? json_object_array_length(ret) : 0;

    for (size_t i = 0; i < m; i++) {
        json_object *o = json_object_array_get_idx(ret, i), *ins, *img;
        const char *name = disk_name(o);
        uint64_t vs, as;
        if (!name || !json_object_object_get_ex(o, "inserted", &ins) ||
            !json_object_object_get_ex(ins, "image", &img) || !get_u64(img, "virtual-size", &vs))
            continue;
        for (size_t k = 0; k < n; k++)
            if (streq(disks[k].device, name)) {
                disks[k].have_capacity = true;
                disks[k].capacity = vs;
                disks[k].allocation = get_u64(img, "actual-size", &as) ? as : 0;
            }
    }
}

int qmp_parse_status(json_object *ret, const char **ret_state) {
    /* QEMU's RunState (qapi/run-state.json) in libvirt's words, which the spec's T4 uses. */
    static const struct {
        const char *qemu, *state;
    } map[] = {
        {"running", "running"},        {"paused", "paused"},      {"prelaunch", "paused"},
        {"inmigrate", "paused"},       {"postmigrate", "paused"}, {"finish-migrate", "paused"},
        {"save-vm", "paused"},         {"restore-vm", "paused"},  {"debug", "paused"},
        {"io-error", "paused"},        {"watchdog", "paused"},    {"colo", "paused"},
        {"suspended", "pmsuspended"},  {"shutdown", "shutdown"},  {"guest-panicked", "crashed"},
        {"internal-error", "crashed"},
    };
    const char *s = get_str(ret, "status");

    if (!s)
        return -EBADMSG;
    for (size_t i = 0; i < ELEMENTSOF(map); i++)
        if (streq(s, map[i].qemu)) {
            *ret_state = map[i].state;
            return 0;
        }
    *ret_state = "paused"; /* a state newer than this code: not running guest code as far as we know */
    return 0;
}

int qmp_parse_balloon(json_object *ret, uint64_t *ret_bytes) {
    return get_u64(ret, "actual", ret_bytes) ? 0 : -EBADMSG;
}

int qmp_parse_reply_text(const char *text, int (*fn)(json_object *ret, void *userdata), void *userdata) {
    enum json_tokener_error e;
    json_object *o = json_tokener_parse_verbose(text, &e), *ret;
    int r;

    if (!o)
        return -EBADMSG;
    if (!json_object_object_get_ex(o, "return", &ret)) {
        json_object_put(o);
        return -EBADMSG;
    }
    r = fn(ret, userdata);
    json_object_put(o);
    return r;
}
