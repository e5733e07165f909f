/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GnuTLS loaded with dlopen when TLS is first used (the daemon's TLS listener, /metrics over
 * HTTPS, a uniserver+tls:// client), not linked: loading it maps GnuTLS and its eight
 * dependencies (nettle, hogweed, gmp, p11-kit, tasn1, unistring, idn2), about 2.6 MB of resident
 * pages, which a daemon on unix sockets and plain /metrics never needs. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#define UNI_GNUTLS_DL_IMPL
#include "util/gnutls_dl.h"

uni_gnutls_api uni_gnutls;

int uni_gnutls_load(char *why, size_t len) {
    static int loaded; /* 1 loaded, -1 unavailable */
    static char failure[256];
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    void *h;

    pthread_mutex_lock(&lock);
    if (!loaded) {
        /* RTLD_NOW: a missing symbol is found here, not at the first handshake. */
        h = dlopen("libgnutls.so.30", RTLD_NOW | RTLD_LOCAL);
        loaded = h ? 1 : -1;
        if (!h)
            snprintf(failure, sizeof(failure), "GnuTLS is not installed (libgnutls30): %s", dlerror());
#define LOAD(f)                                                                                                        \
    if (h && !(uni_gnutls.f = (__typeof__(uni_gnutls.f))dlsym(h, #f))) {                                               \
        snprintf(failure, sizeof(failure), "GnuTLS is too old (libgnutls30): it lacks %s", #f);                        \
        loaded = -1;                                                                                                   \
    }
        UNI_GNUTLS_FUNCS(LOAD)
#undef LOAD
    }
    pthread_mutex_unlock(&lock);
    if (loaded < 0) {
        snprintf(why, len, "%s", failure);
        return -ENOENT;
    }
    return 0;
}
