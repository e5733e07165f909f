/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Binary trace records as rasdaemon reads them: per-CPU trace_pipe_raw pages (the ring buffer's
 * page header and compressed event headers, events/header_page and header_event) and each
 * event's self-describing format file (field names, offsets, sizes, __data_loc strings). No field
 * offset is hard-coded: a kernel that moves or adds fields is read correctly.
 * References: Documentation/trace/ring-buffer-design.rst, kernel/trace/ring_buffer.c,
 * libtraceevent's kbuffer-parse.c. Pure: buffers in, values out. */
#include "healthd.h"

/* ---- format files ---- */

/* The next line of [*p, end): its text without leading blanks in [*ret_q, *ret_e). */
static bool next_line(const char **p, const char *end, const char **ret_q, const char **ret_e) {
    const char *nl, *q;
    if (*p >= end)
        return false;
    nl = memchr(*p, '\n', (size_t)(end - *p));
    *ret_e = nl ? nl : end;
    q = *p;
    while (q < *ret_e && (*q == ' ' || *q == '\t'))
        q++;
    *ret_q = q;
    *p = nl ? nl + 1 : end;
    return true;
}

/* "offset:12" within [p, e): the number after @key. */
static int attr_u(const char *p, const char *e, const char *key, unsigned *ret) {
    size_t kl = strlen(key);
    for (const char *q = p; q + kl < e; q++)
        if (memcmp(q, key, kl) == 0 && (q == p || q[-1] == '\t' || q[-1] == ' ' || q[-1] == ';')) {
            const char *s = q + kl, *t = s;
            uint64_t v;
            while (t < e && *t >= '0' && *t <= '9')
                t++;
            if (safe_atou64_n(s, (size_t)(t - s), &v) < 0 || v > UINT32_MAX)
                return -EBADMSG;
            *ret = (unsigned)v;
            return 0;
        }
    return -EBADMSG;
}

/* One "field:TYPE NAME;\toffset:N;\tsize:N;\tsigned:N;" line. */
static int parse_field(const char *p, const char *e, trace_field *f) {
    const char *decl = p + strlen("field:"), *semi = memchr(decl, ';', (size_t)(e - decl)), *name_end, *name;
    unsigned sgn = 0;

    memset(f, 0, sizeof(*f));
    if (!semi || attr_u(semi, e, "offset:", &f->offset) < 0 || attr_u(semi, e, "size:", &f->size) < 0)
        return -EBADMSG;
    (void)attr_u(semi, e, "signed:", &sgn);
    f->is_signed = sgn;
    name_end = semi;
    while (name_end > decl && name_end[-1] == ' ')
        name_end--;
    if (name_end <= decl)
        return -EBADMSG;
    /* An array's name ends before its '[N]'. */
    {
        const char *br = memchr(decl, '[', (size_t)(name_end - decl));
        const char *sp = name_end;
        while (sp > decl && sp[-1] != ' ')
            sp--;
        name = sp;
        if (br && br >= name)
            name_end = br;
        if (br) {
            f->kind = memmem(decl, (size_t)(semi - decl), "char", 4) ? TF_STR : TF_ARRAY;
            f->rel_loc = memmem(decl, (size_t)(semi - decl), "__rel_loc", 9) != NULL;
            f->data_loc = f->rel_loc || memmem(decl, (size_t)(semi - decl), "__data_loc", 10) != NULL;
        } else
            f->kind = TF_INT;
    }
    if (name_end <= name)
        return -EBADMSG;
    f->name = strndup(name, (size_t)(name_end - name));
    if (!f->name)
        return -ENOMEM;
    /* Integers of other sizes (header_page's data) are not read as numbers: trace_get_int
     * refuses them. */
    return 0;
}

void trace_format_done(trace_format *f) {
    for (size_t i = 0; i < f->nf; i++)
        free(f->f[i].name);
    free(f->f);
    free(f->system);
    free(f->name);
    memset(f, 0, sizeof(*f));
}

int trace_format_parse(const char *buf, size_t len, trace_format *out) {
    const char *p = buf, *end = buf + len;
    bool have_id = false;
    int r = 0;

    memset(out, 0, sizeof(*out));
    for (const char *q, *e; r >= 0 && next_line(&p, end, &q, &e);) {
        if ((size_t)(e - q) > 6 && strncmp(q, "name: ", 6) == 0 && !out->name) {
            if (!(out->name = strndup(q + 6, (size_t)(e - q - 6))))
                r = -ENOMEM;
        } else if ((size_t)(e - q) > 4 && strncmp(q, "ID: ", 4) == 0) {
            uint64_t v;
            if (safe_atou64_n(q + 4, (size_t)(e - q - 4), &v) < 0 || v > 0xffff)
                r = -EBADMSG;
            else {
                out->id = (unsigned)v;
                have_id = true;
            }
        } else if ((size_t)(e - q) > 6 && strncmp(q, "field:", 6) == 0) {
            trace_field f, *nf = realloc(out->f, (out->nf + 1) * sizeof(*nf));
            if (!nf)
                r = -ENOMEM;
            else {
                out->f = nf;
                r = parse_field(q, e, &f);
                if (r >= 0)
                    out->f[out->nf++] = f;
            }
        } else if ((size_t)(e - q) >= 10 && strncmp(q, "print fmt:", 10) == 0)
            break;
    }
    if (r >= 0 && (!out->name || !have_id || out->nf == 0))
        r = -EBADMSG;
    if (r < 0)
        trace_format_done(out);
    return r;
}

const trace_field *trace_field_find(const trace_format *f, const char *name) {
    for (size_t i = 0; i < f->nf; i++)
        if (streq(f->f[i].name, name))
            return &f->f[i];
    return NULL;
}

/* ---- field values ---- */

int trace_get_int(const trace_field *f, const uint8_t *rec, size_t len, int64_t *ret) {
    if (!f || f->kind != TF_INT || (size_t)f->offset + f->size > len ||
        (f->size != 1 && f->size != 2 && f->size != 4 && f->size != 8))
        return -EBADMSG;
    /* The records are this host's own, in its byte order. */
    switch (f->size) {
    case 1: {
        uint8_t v = rec[f->offset];
        *ret = f->is_signed ? (int64_t)(int8_t)v : (int64_t)v;
        break;
    }
    case 2: {
        uint16_t v;
        memcpy(&v, rec + f->offset, 2);
        *ret = f->is_signed ? (int64_t)(int16_t)v : (int64_t)v;
        break;
    }
    case 4: {
        uint32_t v;
        memcpy(&v, rec + f->offset, 4);
        *ret = f->is_signed ? (int64_t)(int32_t)v : (int64_t)v;
        break;
    }
    default: {
        uint64_t v;
        memcpy(&v, rec + f->offset, 8);
        *ret = (int64_t)v;
        break;
    }
    }
    return 0;
}

int trace_get_bytes(const trace_field *f, const uint8_t *rec, size_t len, const uint8_t **ret, size_t *ret_len) {
    if (!f || (size_t)f->offset + f->size > len)
        return -EBADMSG;
    if (f->data_loc) {
        /* __data_loc: u32, offset in the low 16 bits and length in the high 16; __rel_loc:
         * the offset counts from the end of the field itself. */
        uint32_t loc;
        size_t off, l;
        if (f->size != 4)
            return -EBADMSG;
        memcpy(&loc, rec + f->offset, 4);
        off = loc & 0xffff;
        l = loc >> 16;
        if (f->rel_loc)
            off += (size_t)f->offset + 4;
        if (off + l > len)
            return -EBADMSG;
        *ret = rec + off;
        *ret_len = l;
        return 0;
    }
    *ret = rec + f->offset;
    *ret_len = f->size;
    return 0;
}

int trace_get_str(const trace_field *f, const uint8_t *rec, size_t len, char *buf, size_t buflen) {
    const uint8_t *p;
    size_t l, k = 0;
    int r;
    if (!f || f->kind != TF_STR || buflen == 0)
        return -EBADMSG;
    if ((r = trace_get_bytes(f, rec, len, &p, &l)) < 0)
        return r;
    /* Up to the first NUL; control characters are not passed on. */
    for (size_t i = 0; i < l && p[i] && k + 1 < buflen; i++)
        buf[k++] = p[i] < 0x20 && p[i] != '\t' ? ' ' : (char)p[i];
    buf[k] = 0;
    return 0;
}

/* ---- pages ---- */

int trace_header_page_parse(const char *buf, size_t len, trace_page_layout *out) {
    const char *p = buf, *end = buf + len;
    bool ts = false, commit = false, data = false;
    int r = 0;

    memset(out, 0, sizeof(*out));
    for (const char *q, *e; r >= 0 && next_line(&p, end, &q, &e);) {
        if ((size_t)(e - q) > 6 && strncmp(q, "field:", 6) == 0) {
            trace_field fl;
            /* "field: u64 timestamp;": a blank after the colon. */
            char tmp[256];
            size_t l = (size_t)(e - q);
            if (l >= sizeof(tmp))
                return -EBADMSG;
            memcpy(tmp, q, l);
            tmp[l] = 0;
            if (tmp[6] == ' ')
                memmove(tmp + 6, tmp + 7, l - 6);
            if ((r = parse_field(tmp, tmp + strlen(tmp), &fl)) < 0)
                break;
            if (streq(fl.name, "timestamp")) {
                out->ts_off = fl.offset;
                ts = true;
            } else if (streq(fl.name, "commit")) {
                out->commit_off = fl.offset;
                out->commit_size = fl.size;
                commit = true;
            } else if (streq(fl.name, "data")) {
                out->data_off = fl.offset;
                out->page_size = fl.offset + fl.size;
                data = true;
            }
            free(fl.name);
        }
    }
    if (r < 0)
        return r;
    if (!ts || !commit || !data || (out->commit_size != 4 && out->commit_size != 8) || out->page_size < 64 ||
        out->page_size > (1u << 24))
        return -EBADMSG;
    return 0;
}

/* Compressed event header (ring_buffer.c, struct ring_buffer_event): type_len:5, time_delta:27. */
enum { RB_PADDING = 29, RB_TIME_EXTEND = 30, RB_TIME_STAMP = 31 };
#define RB_MISSED_EVENTS (1u << 31)
#define RB_COMMIT_MASK ((1u << 27) - 1)

int trace_page_walk(const trace_page_layout *l, const uint8_t *page, size_t len, trace_record_cb cb, void *u,
                    bool *ret_lost) {
    uint64_t ts, commit;
    size_t p, end;
    int n = 0;

    if (ret_lost)
        *ret_lost = false;
    if (len < l->data_off || l->ts_off + 8 > len || l->commit_off + l->commit_size > len)
        return -EBADMSG;
    memcpy(&ts, page + l->ts_off, 8);
    if (l->commit_size == 8)
        memcpy(&commit, page + l->commit_off, 8);
    else {
        uint32_t c32;
        memcpy(&c32, page + l->commit_off, 4);
        commit = c32;
    }
    if (ret_lost)
        *ret_lost = commit & RB_MISSED_EVENTS;
    end = l->data_off + (commit & RB_COMMIT_MASK);
    /* A page says how much of it is data; more than it holds is a truncated or damaged page,
     * whose complete records are still delivered. */
    bool damaged = end > len || end > l->page_size;
    if (damaged)
        end = len < l->page_size ? len : l->page_size;
    p = l->data_off;
    while (p + 4 <= end) {
        uint32_t hdr, arr;
        unsigned type_len, delta;
        size_t dlen;

        memcpy(&hdr, page + p, 4);
        type_len = hdr & 0x1f;
        delta = hdr >> 5;
        p += 4;
        switch (type_len) {
        case RB_PADDING:
            if (delta == 0)
                return damaged ? -EBADMSG : n; /* the rest of the page is unused */
            if (p + 4 > end)
                return -EBADMSG;
            memcpy(&arr, page + p, 4);
            ts += delta;
            p += arr;
            continue;
        case RB_TIME_EXTEND:
        case RB_TIME_STAMP:
            if (p + 4 > end)
                return -EBADMSG;
            memcpy(&arr, page + p, 4);
            p += 4;
            if (type_len == RB_TIME_EXTEND)
                ts += ((uint64_t)arr << 27) + delta;
            else
                ts = ((uint64_t)arr << 27) + delta;
            continue;
        case 0:
            if (p + 4 > end)
                return -EBADMSG;
            memcpy(&arr, page + p, 4);
            p += 4;
            if (arr < 4)
                return -EBADMSG;
            dlen = arr - 4;
            break;
        default:
            dlen = type_len * 4u;
            break;
        }
        ts += delta;
        if (p + dlen > end || dlen < 8)
            return -EBADMSG;
        if (cb) {
            int r = cb(u, page + p, dlen, ts);
            if (r < 0)
                return r;
        }
        n++;
        p += (dlen + 3) & ~(size_t)3;
    }
    return damaged ? -EBADMSG : n;
}
