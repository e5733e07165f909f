/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Connection URI parsing: scheme[+transport]://[host[:port]]/path[?key=value&...]. */
#include <ctype.h>

#include "internal.h"

/* Percent-decode [s, s+n) into a new string; NULL on a bad escape or an embedded NUL. */
static char *decode(const char *s, size_t n) {
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int h, l;
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            h = hexval(s[i + 1]);
            l = hexval(s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                free(out);
                return NULL;
            }
            *o++ = (char)(h * 16 + l);
            i += 2;
        } else
            *o++ = s[i];
    }
    *o = 0;
    return out;
}

void uni_uri_done(uni_uri *u) {
    free(u->scheme);
    free(u->transport);
    free(u->host);
    free(u->path);
    for (size_t i = 0; i < u->nparams; i++) {
        free(u->keys[i]);
        free(u->values[i]);
    }
    free(u->keys);
    free(u->values);
    memset(u, 0, sizeof(*u));
}

int uni_uri_parse(const char *s, uni_uri *u) {
    const char *p, *sep, *auth, *auth_end, *path_end;

    memset(u, 0, sizeof(*u));
    u->port = -1;
    sep = strstr(s, "://");
    if (!sep || sep == s) {
        uni_error_set(UNI_ERR_INVALID_URI, "'%s' is not a URI (expected scheme:///path, e.g. uniserver:///system)", s);
        return -1;
    }
    for (p = s; p < sep; p++)
        if (!(isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')) {
            uni_error_set(UNI_ERR_INVALID_URI, "'%s': invalid character in the scheme", s);
            return -1;
        }
    const char *plus = memchr(s, '+', (size_t)(sep - s));
    u->scheme = strndup(s, (size_t)((plus ? plus : sep) - s));
    if (plus)
        u->transport = strndup(plus + 1, (size_t)(sep - plus - 1));
    auth = sep + 3;
    auth_end = auth + strcspn(auth, "/?");
    if (auth_end > auth) {
        const char *colon = memrchr(auth, ':', (size_t)(auth_end - auth));
        u->host = strndup(auth, (size_t)((colon ? colon : auth_end) - auth));
        if (colon) {
            uint64_t port;
            if (safe_atou64_n(colon + 1, (size_t)(auth_end - colon - 1), &port) < 0 || port == 0 || port > 65535) {
                uni_error_set(UNI_ERR_INVALID_URI, "'%s': invalid port '%.*s'", s, (int)(auth_end - colon - 1),
                              colon + 1);
                uni_uri_done(u);
                return -1;
            }
            u->port = (int)port;
        }
    }
    path_end = auth_end + strcspn(auth_end, "?");
    u->path = decode(auth_end, (size_t)(path_end - auth_end));
    if (!u->scheme || (plus && !u->transport) || !u->path) {
        uni_error_set(UNI_ERR_INVALID_URI, "'%s': malformed URI", s);
        uni_uri_done(u);
        return -1;
    }
    if (*path_end == '?') {
        p = path_end + 1;
        while (*p) {
            const char *amp = strchrnul(p, '&');
            const char *eq = memchr(p, '=', (size_t)(amp - p));
            char *k, *v;
            if (!eq || eq == p) {
                uni_error_set(UNI_ERR_INVALID_URI, "'%s': query parameter '%.*s' is not key=value", s, (int)(amp - p),
                              p);
                uni_uri_done(u);
                return -1;
            }
            k = decode(p, (size_t)(eq - p));
            v = decode(eq + 1, (size_t)(amp - eq - 1));
            char **nk = realloc(u->keys, (u->nparams + 1) * sizeof(char *));
            if (nk)
                u->keys = nk;
            char **nv = realloc(u->values, (u->nparams + 1) * sizeof(char *));
            if (nv)
                u->values = nv;
            if (!k || !v || !nk || !nv) {
                free(k);
                free(v);
                uni_error_set(UNI_ERR_INVALID_URI, "'%s': bad escape in the query", s);
                uni_uri_done(u);
                return -1;
            }
            u->keys[u->nparams] = k;
            u->values[u->nparams] = v;
            u->nparams++;
            p = *amp ? amp + 1 : amp;
        }
    }
    return 0;
}

const char *uni_uri_param(const uni_uri *u, const char *key) {
    const char *v = NULL;
    for (size_t i = 0; i < u->nparams; i++)
        if (streq(u->keys[i], key))
            v = u->values[i];
    return v;
}

int uni_uri_check_params(const uni_uri *u, const char *const *known) {
    for (size_t i = 0; i < u->nparams; i++) {
        bool ok = false;
        for (const char *const *k = known; *k && !ok; k++)
            ok = streq(*k, u->keys[i]);
        if (!ok) {
            uni_error_set(UNI_ERR_INVALID_URI, "unknown URI parameter '%s' for %s://", u->keys[i], u->scheme);
            return -1;
        }
    }
    return 0;
}
