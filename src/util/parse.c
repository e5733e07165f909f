/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Strict number parsing: no atoi, no unchecked sscanf; a malformed or overflowing token is an error.
 * Also CPU lists and ISO 8601 UTC times. */
#include <ctype.h>
#include <math.h>
#include <time.h>

#include "util.h"

int safe_atou64_n(const char *s, size_t n, uint64_t *ret) {
    uint64_t v = 0;

    if (n == 0)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *ret = v;
    return 0;
}

int safe_atou64(const char *s, uint64_t *ret) {
    return safe_atou64_n(s, strlen(s), ret);
}

int safe_atoi64(const char *s, int64_t *ret) {
    bool neg = s[0] == '-';
    uint64_t u;
    int r = safe_atou64(s + neg, &u);
    if (r < 0)
        return r;
    if (neg ? u > (uint64_t)INT64_MAX + 1 : u > (uint64_t)INT64_MAX)
        return -ERANGE;
    *ret = neg ? (int64_t)(0 - u) : (int64_t)u;
    return 0;
}

int safe_atou(const char *s, unsigned *ret) {
    uint64_t u;
    int r = safe_atou64(s, &u);
    if (r < 0)
        return r;
    if (u > UINT32_MAX)
        return -ERANGE;
    *ret = (unsigned)u;
    return 0;
}

int safe_atod_n(const char *s, size_t n, double *ret) {
    char buf[64];
    char *end;
    double v;

    if (n == 0 || n >= sizeof(buf))
        return n == 0 ? -EINVAL : -ERANGE;
    memcpy(buf, s, n);
    buf[n] = 0;
    /* strtod accepts leading blanks, hex, inf and nan: none of those is a kernel number. */
    if (!(isdigit((unsigned char)buf[0]) || ((buf[0] == '-' || buf[0] == '+') && isdigit((unsigned char)buf[1]))))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (buf[i] == 'x' || buf[i] == 'X')
            return -EINVAL;
    errno = 0;
    v = strtod(buf, &end);
    if (*end != 0)
        return -EINVAL;
    if (errno == ERANGE || !isfinite(v))
        return -ERANGE;
    *ret = v;
    return 0;
}

int safe_atod(const char *s, double *ret) {
    return safe_atod_n(s, strlen(s), ret);
}

uint32_t str_hash(const char *s) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

const char *next_token(const char *p, const char *end, size_t *ret_len) {
    const char *q;

    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    q = p;
    while (q < end && *q != ' ' && *q != '\t' && *q != '\n')
        q++;
    *ret_len = (size_t)(q - p);
    return p;
}

int parse_cpu_list(const char *s, size_t len, uint8_t *bitmap, unsigned max, unsigned *ret_count) {
    const char *p = s, *end = s + len;
    unsigned count = 0;

    memset(bitmap, 0, (max + 7) / 8);
    while (end > p && (end[-1] == '\n' || end[-1] == ' '))
        end--;
    if (p == end) {
        *ret_count = 0;
        return 0;
    }
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *tok_end = comma ? comma : end;
        const char *dash = memchr(p, '-', (size_t)(tok_end - p));
        uint64_t a, b;
        int r;

        r = safe_atou64_n(p, (size_t)((dash ? dash : tok_end) - p), &a);
        if (r < 0)
            return -EBADMSG;
        if (dash) {
            r = safe_atou64_n(dash + 1, (size_t)(tok_end - dash - 1), &b);
            if (r < 0 || b < a)
                return -EBADMSG;
        } else
            b = a;
        if (b >= max)
            return -ERANGE;
        for (uint64_t i = a; i <= b; i++) {
            if (!(bitmap[i / 8] & (1u << (i % 8))))
                count++;
            bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
        }
        p = comma ? comma + 1 : end;
        if (comma && p == end)
            return -EBADMSG;
    }
    *ret_count = count;
    return 0;
}

int parse_cpu_words(const char *s, uint8_t *bitmap, unsigned max, unsigned *ret_count) {
    const char *p = s, *end = s + strlen(s);
    size_t nbytes = (max + 7) / 8;
    uint8_t *one = malloc(nbytes ? nbytes : 1);
    unsigned count = 0;

    if (!one)
        return -ENOMEM;
    memset(bitmap, 0, nbytes);
    for (;;) {
        size_t n;
        unsigned c;
        int r;
        while (p < end && *p == '\n')
            p++;
        p = next_token(p, end, &n);
        if (n == 0)
            break;
        r = parse_cpu_list(p, n, one, max, &c);
        if (r < 0) {
            free(one);
            return r;
        }
        for (size_t i = 0; i < nbytes; i++)
            bitmap[i] |= one[i];
        p += n;
    }
    free(one);
    for (unsigned i = 0; i < max; i++)
        count += (bitmap[i / 8] >> (i % 8)) & 1;
    *ret_count = count;
    return 0;
}

int format_cpu_list(const uint8_t *bitmap, unsigned nbits, char *buf, size_t len) {
    size_t o = 0;

    if (len == 0)
        return -ERANGE;
    buf[0] = 0;
    for (unsigned i = 0; i < nbits;) {
        unsigned j;
        int k;
        if (!(bitmap[i / 8] & (1u << (i % 8)))) {
            i++;
            continue;
        }
        for (j = i; j + 1 < nbits && (bitmap[(j + 1) / 8] & (1u << ((j + 1) % 8))); j++)
            ;
        if (j == i)
            k = snprintf(buf + o, len - o, "%s%u", o ? "," : "", i);
        else
            k = snprintf(buf + o, len - o, "%s%u-%u", o ? "," : "", i, j);
        if (k < 0 || (size_t)k >= len - o)
            return -ERANGE;
        o += (size_t)k;
        i = j + 1;
    }
    return (int)o;
}

int uni_parse_iso_utc(const char *s, int64_t *ret) {
    struct tm tm = {0};
    const char *end;
    time_t t;

    if (!s || strlen(s) != 20)
        return -EINVAL;
    end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end)
        return -EINVAL;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return -EINVAL;
    *ret = (int64_t)t;
    return 0;
}
