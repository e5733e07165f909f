/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The per-thread last error of the public API (uniGetLastError), as libvirt's virGetLastError. */
#include <stdarg.h>

#include "internal.h"

static __thread uniError last_error;
static __thread char *last_message;
static __thread bool have_error;

const uniError *uniGetLastError(void) {
    return have_error ? &last_error : NULL;
}

void uniResetLastError(void) {
    free(last_message);
    last_message = NULL;
    have_error = false;
    last_error.code = UNI_ERR_OK;
    last_error.message = NULL;
}

const char *uniErrorCodeName(int code) {
    switch (code) {
#define UNI_ERR_NAME_(name, num, summary)                                                                              \
    case num:                                                                                                          \
        return #name;
        UNI_ERROR_CODES(UNI_ERR_NAME_)
#undef UNI_ERR_NAME_
    }
    return "UNKNOWN";
}

void uni_error_setv(int code, const char *fmt, va_list ap) {
    char *msg = NULL;

    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    free(last_message);
    last_message = msg;
    last_error.code = code;
    last_error.message = msg ? msg : "out of memory while reporting an error";
    have_error = true;
}

void uni_error_set(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    uni_error_setv(code, fmt, ap);
    va_end(ap);
}

void uni_error_errno(int neg_errno, const char *fmt, ...) {
    _cleanup_free_ char *ctx = NULL;
    va_list ap;
    int code;

    va_start(ap, fmt);
    if (vasprintf(&ctx, fmt, ap) < 0)
        ctx = NULL;
    va_end(ap);
    switch (neg_errno) {
    case -ENOENT:
    case -ENOTDIR:
        code = UNI_ERR_NO_SOURCE;
        break;
    case -EBADMSG:
        code = UNI_ERR_PARSE_FAILED;
        break;
    case -ENOMEM:
        code = UNI_ERR_NO_MEMORY;
        break;
    case -ERANGE:
    case -EOVERFLOW:
        code = UNI_ERR_OUT_OF_RANGE;
        break;
    default:
        code = UNI_ERR_SYSTEM_ERROR;
    }
    if (neg_errno == -EBADMSG)
        uni_error_set(code, "%s: malformed content", ctx ? ctx : "?");
    else
        uni_error_set(code, "%s: %s", ctx ? ctx : "?", strerror(-neg_errno));
}
