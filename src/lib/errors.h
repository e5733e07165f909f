/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Setting the thread's last error (error.c): the public boundary's half of the two error layers. */
#pragma once

#include <stdarg.h>

#include "uniserver/uniserver.h"
#include "util/util.h"

/* ---- errors ---- */
void uni_error_set(int code, const char *fmt, ...) _printf_(2, 3);
void uni_error_setv(int code, const char *fmt, va_list ap);
/* Set the error from an internal -errno with context: -ENOENT -> NO_SOURCE, -EBADMSG ->
 * PARSE_FAILED, -ENOMEM -> NO_MEMORY, else SYSTEM_ERROR. */
void uni_error_errno(int neg_errno, const char *fmt, ...) _printf_(2, 3);
