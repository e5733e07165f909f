/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* HTTP/1.x request heads for /metrics, parsed strictly (RFC 9112): the request line, the few
 * headers that matter (Accept, Accept-Encoding, Authorization, Connection, Content-Length), and a
 * malformed head is an error rather than a guess. Pure: metrics_http.c does the I/O. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "daemon/http_request.h"
#include "util/util.h"

/* RFC 9110 5.6.2: the characters of a token (methods, header names). */
static bool is_tchar(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool is_ows(char ch) {
    return ch == ' ' || ch == '\t';
}

static bool name_is(const char *s, size_t n, const char *name) {
    return n == strlen(name) && strncasecmp(s, name, n) == 0;
}

bool http_list_has(const char *v, size_t len, const char *token) {
    const char *end = v + len;
    while (v < end) {
        const char *e = memchr(v, ',', (size_t)(end - v)), *p, *n;
        bool zero = false;
        if (!e)
            e = end;
        while (v < e && is_ows(*v))
            v++;
        for (n = v; n < e && *n != ';' && !is_ows(*n);)
            n++;
        /* Parameters: only q matters, and only whether it is zero ("q=0", "q=0.000"). */
        for (p = n; p < e; p++)
            if (*p == ';') {
                const char *q = p + 1, *qe;
                while (q < e && is_ows(*q))
                    q++;
                if (e - q >= 2 && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
                    zero = true;
                    for (qe = q + 2; qe < e && *qe != ';' && !is_ows(*qe); qe++)
                        if (*qe != '0' && *qe != '.')
                            zero = false;
                    if (qe == q + 2)
                        zero = false;
                }
            }
        if (name_is(v, (size_t)(n - v), token) && !zero)
            return true;
        v = e + 1;
    }
    return false;
}

static int b64_value(char ch) {
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

ssize_t http_basic_credentials(const char *v, size_t len, char *out, size_t out_len) {
    size_t n = 0, i = 5;
    unsigned acc = 0, bits = 0;
    if (!v || len < 6 || strncasecmp(v, "Basic", 5) || !is_ows(v[5]) || out_len == 0)
        return -1;
    while (i < len && is_ows(v[i]))
        i++;
    for (; i < len && v[i] != '='; i++) {
        int d = b64_value(v[i]);
        if (d < 0)
            return -1;
        acc = (acc << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 >= out_len)
                return -1;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    for (; i < len; i++)
        if (v[i] != '=')
            return -1;
    out[n] = 0;
    return (ssize_t)n;
}

/* The target: origin-form (/metrics?x) or absolute-form (http://host/metrics), whose path is
 * kept without the query. */
static int parse_target(const char *t, size_t n, http_request *r) {
    const char *end = t + n, *q;
    if (n >= 7 && (strncasecmp(t, "http://", 7) == 0 || (n >= 8 && strncasecmp(t, "https://", 8) == 0))) {
        t = memchr(t + 7, '/', (size_t)(end - t - 7));
        if (!t) {
            r->path = "/";
            r->path_len = 1;
            return 0;
        }
    } else if (!(n == 1 && *t == '*') && *t != '/')
        return -EBADMSG;
    for (q = t; q < end && *q != '?' && *q != '#';)
        q++;
    r->path = t;
    r->path_len = (size_t)(q - t);
    return 0;
}

static int parse_request_line(const char *p, const char *end, http_request *r) {
    const char *m = p, *t;
    while (p < end && is_tchar(*p))
        p++;
    if (p == m || p == end || *p != ' ')
        return -EBADMSG;
    r->method = m;
    r->method_len = (size_t)(p - m);
    t = ++p;
    while (p<end && * p> ' ' && *p < 0x7f)
        p++;
    if (p == t || p == end || *p != ' ' || parse_target(t, (size_t)(p - t), r) < 0)
        return -EBADMSG;
    p++;
    if (end - p != 8 || strncmp(p, "HTTP/", 5) || p[5] < '0' || p[5] > '9' || p[6] != '.' || p[7] < '0' || p[7] > '9')
        return -EBADMSG;
    if (p[5] != '1')
        return -EPROTONOSUPPORT;
    r->minor = (unsigned)(p[7] - '0');
    return 0;
}

ssize_t http_parse_request(const char *buf, size_t len, http_request *ret) {
    const char *p = buf, *end = buf + len, *head_end = NULL, *line;
    bool conn_close = false, conn_keep = false, have_length = false;
    unsigned hosts = 0;
    http_request r = {0};
    int k;

    /* RFC 9112 2.2: empty lines before the request line are ignored. */
    while (p < end && (*p == '\r' || *p == '\n'))
        p++;
    /* The head ends at the first empty line (CRLF CRLF, or bare LFs, which 2.2 lets us accept). */
    for (const char *s = p; s < end && (s = memchr(s, '\n', (size_t)(end - s))); s++) {
        if (s + 1 < end && s[1] == '\n') {
            head_end = s + 2;
            break;
        }
        if (s + 2 < end && s[1] == '\r' && s[2] == '\n') {
            head_end = s + 3;
            break;
        }
    }
    if (!head_end)
        return 0;
    for (line = p; line < head_end;) {
        const char *nl = memchr(line, '\n', (size_t)(head_end - line)), *le = nl;
        if (le > line && le[-1] == '\r')
            le--;
        /* No control characters inside a line (a lone CR, NUL...), but tabs. */
        for (const char *c = line; c < le; c++)
            if (((unsigned char)*c < ' ' && *c != '\t') || *c == 0x7f)
                return -EBADMSG;
        if (le == line)
            break; /* the empty line */
        if (line == p) {
            if ((k = parse_request_line(line, le, &r)) < 0)
                return k;
        } else {
            const char *n = line, *v, *ve = le;
            /* Obsolete line folding, and whitespace between a name and its colon, are errors. */
            while (n < le && is_tchar(*n))
                n++;
            if (n == line || n == le || *n != ':')
                return -EBADMSG;
            for (v = n + 1; v < ve && is_ows(*v);)
                v++;
            while (ve > v && is_ows(ve[-1]))
                ve--;
            if (name_is(line, (size_t)(n - line), "Accept"))
                r.openmetrics |= http_list_has(v, (size_t)(ve - v), "application/openmetrics-text");
            else if (name_is(line, (size_t)(n - line), "Accept-Encoding"))
                r.gzip |= http_list_has(v, (size_t)(ve - v), "gzip");
            else if (name_is(line, (size_t)(n - line), "Connection")) {
                conn_close |= http_list_has(v, (size_t)(ve - v), "close");
                conn_keep |= http_list_has(v, (size_t)(ve - v), "keep-alive");
            } else if (name_is(line, (size_t)(n - line), "Authorization") && !r.authorization) {
                r.authorization = v;
                r.authorization_len = (size_t)(ve - v);
            } else if (name_is(line, (size_t)(n - line), "Content-Length")) {
                uint64_t cl;
                /* RFC 9112 6.3: differing lengths are an error, not a choice. */
                if (safe_atou64_n(v, (size_t)(ve - v), &cl) < 0 || (have_length && cl != r.content_length))
                    return -EBADMSG;
                r.content_length = cl;
                have_length = true;
            } else if (name_is(line, (size_t)(n - line), "Transfer-Encoding"))
                return -EOPNOTSUPP;
            else if (name_is(line, (size_t)(n - line), "Host"))
                hosts++;
        }
        line = nl + 1;
    }
    /* RFC 9112 3.2: an HTTP/1.1 request without a Host header, or with more than one, is a 400. */
    if (r.minor >= 1 && hosts != 1)
        return -EBADMSG;
    r.keep_alive = r.minor >= 1 ? !conn_close : conn_keep && !conn_close;
    *ret = r;
    return head_end - buf;
}
