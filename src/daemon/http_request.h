/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HTTP/1.x requests /metrics understands, parsed from bytes without I/O (http_request.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    const char *method; /* into the parsed buffer, not NUL-terminated */
    size_t method_len;
    const char *path; /* the path of the target, without its query */
    size_t path_len;
    unsigned minor;            /* HTTP/1.minor */
    bool keep_alive;           /* the connection stays open after the response */
    bool openmetrics;          /* Accept names application/openmetrics-text (q > 0) */
    bool gzip;                 /* Accept-Encoding names gzip (q > 0) */
    const char *authorization; /* the first Authorization header's value, or NULL */
    size_t authorization_len;
    uint64_t content_length; /* a body to skip */
} http_request;

/* Parse the request line and headers at the start of @buf (@len bytes), up to the blank line
 * that ends them. Returns the length of that head once it is complete, 0 when more bytes are
 * needed; -EBADMSG when it is malformed (400), -EPROTONOSUPPORT for an HTTP version other than
 * 1.x (505), -EOPNOTSUPP for a Transfer-Encoding (501: a GET has no body worth decoding).
 * @ret points into @buf. */
ssize_t http_parse_request(const char *buf, size_t len, http_request *ret);

/* Whether the comma-separated list @v (@len bytes: Accept, Accept-Encoding, Connection) names
 * @token (case-insensitive, parameters ignored) without q=0. */
bool http_list_has(const char *v, size_t len, const char *token);

/* The credentials of the Authorization value @v (@len bytes) when it is "Basic" with base64
 * ("user:password"): decoded into @out (@out_len bytes, NUL-terminated). Returns their length, or
 * -1 when @v is not Basic, not base64, or does not fit. http_auth.c checks them. */
ssize_t http_basic_credentials(const char *v, size_t len, char *out, size_t out_len);
