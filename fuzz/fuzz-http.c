/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the request heads uniserverd's /metrics server parses from any client
 * (http_request.c), with the Authorization check it runs on them. Every pointer the parser
 * returns must lie inside the input (but the implied path "/"), a complete head must end inside it, and parsing the head
 * again must give the same answer. Built by fuzz/meson.build; fuzz/run drives it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/http_request.h"

/* Not CHECK(): the checks hold in every build type. */
#define CHECK(x)                                                                                                       \
    do {                                                                                                               \
        if (!(x))                                                                                                      \
            abort();                                                                                                   \
    } while (0)

static void inside(const char *p, size_t n, const char *buf, size_t len) {
    CHECK(!p || (p >= buf && p + n <= buf + len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A copy of exactly @size bytes: reading past it is a heap overflow ASan reports. */
    char *buf = malloc(size ? size : 1);
    http_request r, again;
    ssize_t n;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    n = http_parse_request(buf, size, &r);
    CHECK(n <= (ssize_t)size);
    if (n > 0) {
        inside(r.method, r.method_len, buf, size);
        /* An absolute-form target without a path ("http://host") is the path "/", not in @buf. */
        if (!(r.path_len == 1 && r.path[0] == '/'))
            inside(r.path, r.path_len, buf, size);
        inside(r.authorization, r.authorization_len, buf, size);
        CHECK(r.method && r.method_len > 0 && r.path);
        CHECK(http_parse_request(buf, (size_t)n, &again) == n);
        CHECK(again.keep_alive == r.keep_alive && again.gzip == r.gzip && again.openmetrics == r.openmetrics);
        if (r.authorization) {
            char cred[64];
            ssize_t c = http_basic_credentials(r.authorization, r.authorization_len, cred, sizeof(cred));
            CHECK(c < 0 || ((size_t)c < sizeof(cred) && cred[c] == 0));
        }
    }
    (void)http_list_has(buf, size, "gzip");
    {
        char cred[1024];
        (void)http_basic_credentials(buf, size, cred, sizeof(cred));
    }
    free(buf);
    return 0;
}
