/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Basic auth on /metrics checked against a bcrypt or yescrypt hash (http_auth.h). */
#include <crypt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/http_auth.h"
#include "daemon/http_request.h"

/* Wrong credentials may cost at most this much hashing per second; past it they are refused
 * unhashed (a right password already seen is still accepted from the cache). */
#define HASH_BUDGET_NS 250000000ULL
#define CRED_MAX 1024

struct http_auth {
    char *user, *hash;
    size_t user_len, hash_len;
    struct crypt_data *cd; /* crypt_rn's work area: 32 KiB, once */
    char *ok;              /* the last credentials ("user:password") that were right, or NULL */
    size_t ok_len;
    uint64_t window_ns, spent_ns; /* hashing spent on credentials in the current second */
};

static const char *const accepted[] = {"$2b$", "$2y$", "$2a$", "$y$"};

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Equal, in time that depends on the lengths only. */
static bool same(const char *a, size_t al, const char *b, size_t bl) {
    unsigned diff = al != bl;
    for (size_t i = 0; i < al && i < bl; i++)
        diff |= (unsigned)(unsigned char)a[i] ^ (unsigned char)b[i];
    return diff == 0;
}

void http_auth_free(http_auth *a) {
    if (!a)
        return;
    if (a->ok)
        explicit_bzero(a->ok, a->ok_len);
    free(a->ok);
    free(a->user);
    free(a->hash);
    if (a->cd)
        explicit_bzero(a->cd, sizeof(*a->cd));
    free(a->cd);
    free(a);
}

http_auth *http_auth_new(const char *user_hash, char *why, size_t why_len) {
    const char *colon = strchr(user_hash, ':');
    http_auth *a;
    bool known = false;
    const char *out;

    if (!colon || colon == user_hash) {
        snprintf(why, why_len, "metrics_basic_auth must be USER:HASH");
        return NULL;
    }
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++)
        known |= strncmp(colon + 1, accepted[i], strlen(accepted[i])) == 0;
    if (!known) {
        snprintf(why, why_len,
                 "metrics_basic_auth: the password must be a bcrypt ($2b$) or yescrypt ($y$) hash, not plain text: "
                 "make one with 'mkpasswd -m bcrypt -R 12' (Debian package whois) and write USER:HASH");
        return NULL;
    }
    if (!(a = calloc(1, sizeof(*a))) || !(a->cd = calloc(1, sizeof(*a->cd))) ||
        !(a->user = strndup(user_hash, (size_t)(colon - user_hash))) || !(a->hash = strdup(colon + 1))) {
        snprintf(why, why_len, "out of memory");
        http_auth_free(a);
        return NULL;
    }
    a->user_len = strlen(a->user);
    a->hash_len = strlen(a->hash);
    /* A whole hash hashes a password to a string as long as itself; a cut one (or a bare salt) does
     * not, and would refuse every password. */
    out = crypt_checksalt(a->hash) == CRYPT_SALT_OK ? crypt_rn("", a->hash, a->cd, sizeof(*a->cd)) : NULL;
    if (!out || out[0] == '*' || strlen(out) != a->hash_len) {
        snprintf(why, why_len, "metrics_basic_auth: '%s' is not a whole bcrypt or yescrypt hash (cut, or a bare salt?)",
                 a->hash);
        http_auth_free(a);
        return NULL;
    }
    return a;
}

bool http_auth_ok(http_auth *a, const char *v, size_t len) {
    char cred[CRED_MAX];
    ssize_t n = http_basic_credentials(v, len, cred, sizeof(cred));
    const char *colon, *out;
    uint64_t t0;
    bool ok, user_ok;

    if (n < 0)
        return false;
    if (a->ok && same(cred, (size_t)n, a->ok, a->ok_len)) {
        explicit_bzero(cred, sizeof(cred));
        return true;
    }
    colon = memchr(cred, ':', (size_t)n);
    t0 = mono_ns();
    if (t0 - a->window_ns >= 1000000000ULL) {
        /* A hash may start with budget left and outrun it (bcrypt on a loaded core): the excess
         * is carried into the next second, so that over time the budget holds. */
        a->window_ns = t0;
        a->spent_ns = a->spent_ns > HASH_BUDGET_NS ? a->spent_ns - HASH_BUDGET_NS : 0;
    }
    if (!colon || a->spent_ns >= HASH_BUDGET_NS) {
        explicit_bzero(cred, sizeof(cred));
        return false;
    }
    /* The user and the hash are compared whatever the user, so that a wrong user takes as long. */
    user_ok = same(cred, (size_t)(colon - cred), a->user, a->user_len);
    out = crypt_rn(colon + 1, a->hash, a->cd, sizeof(*a->cd));
    ok = out != NULL && same(out, strlen(out), a->hash, a->hash_len);
    ok = ok && user_ok;
    a->spent_ns += mono_ns() - t0;
    if (ok) {
        char *keep = malloc((size_t)n);
        if (keep) {
            memcpy(keep, cred, (size_t)n);
            if (a->ok)
                explicit_bzero(a->ok, a->ok_len);
            free(a->ok);
            a->ok = keep;
            a->ok_len = (size_t)n;
        }
    }
    explicit_bzero(cred, sizeof(cred));
    return ok;
}
