/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Basic auth on /metrics against a password hash (bcrypt or yescrypt, libxcrypt's crypt_rn), never
 * a password kept in plain text (http_auth.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct http_auth http_auth;

/* The checker of metrics_basic_auth = USER:HASH, HASH a bcrypt ($2b$, $2y$, $2a$) or yescrypt
 * ($y$) hash as `mkpasswd -m bcrypt -R 12` prints it. NULL with the reason in @why for a plain
 * password, an unknown or cut hash, or out of memory. */
http_auth *http_auth_new(const char *user_hash, char *why, size_t why_len);
void http_auth_free(http_auth *a);
/* Whether the Authorization header value @v (@len bytes) carries the user and a password that
 * hashes to the hash (compared in time independent of where they differ). A success is kept so
 * that the same credentials are not hashed again on every scrape; wrong ones are hashed at most
 * for a bounded time per second, then refused unhashed, so that they cannot stall the loop. */
bool http_auth_ok(http_auth *a, const char *v, size_t len);
