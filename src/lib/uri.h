/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Connection URIs, parsed: scheme, transport, host, port, path and query parameters. */
#pragma once

#include <stddef.h>

/* ---- URIs ---- */
typedef struct {
    char *scheme;          /* "uniserver", "test" */
    char *transport;       /* after '+', or NULL */
    char *host;            /* may be NULL */
    int port;              /* -1 when none */
    char *path;            /* "/system" */
    char **keys, **values; /* decoded query parameters */
    size_t nparams;
} uni_uri;
int uni_uri_parse(const char *s, uni_uri *ret);
void uni_uri_done(uni_uri *u);
/* Value of query parameter @key or NULL; marks it used. */
const char *uni_uri_param(const uni_uri *u, const char *key);
/* -1 with UNI_ERR_INVALID_URI if a parameter not in @known (NULL-terminated) is present. */
int uni_uri_check_params(const uni_uri *u, const char *const *known);
