/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt as a source of domains (names, UUIDs, states) and of their statistics where libvirt
 * holds what /proc and QMP cannot give us (its domains' monitors, drivers other than QEMU). The
 * connection is read-only; libvirt's errors are kept per connection, never printed. */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "vms.h"

struct lv_conn {
    virConnectPtr c;
    char *uri;
};

/* libvirt prints errors on stderr unless a handler takes them; ours keeps them quiet (the
 * caller reads virGetLastError). */
static void quiet(void *userdata, virErrorPtr err) {
    (void)userdata;
    (void)err;
}

static void last_error(char *why, size_t len, const char *what) {
    virErrorPtr e = virGetLastError();
    snprintf(why, len, "%s: %s", what, e && e->message ? e->message : "unknown libvirt error");
}

int lv_open(const char *uri, lv_conn **ret, char *why, size_t whylen) {
    lv_conn *c = calloc(1, sizeof(*c));

    if (!c || !(c->uri = strdup(uri))) {
        free(c);
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    if (virInitialize() < 0) {
        last_error(why, whylen, "virInitialize");
        lv_close(c);
        return -EIO;
    }
    c->c = virConnectOpenReadOnly(uri);
    if (!c->c) {
        last_error(why, whylen, "cannot connect");
        virResetLastError();
        lv_close(c);
        return -ECONNREFUSED;
    }
    virConnSetErrorFunc(c->c, NULL, quiet);
    *ret = c;
    return 0;
}

void lv_close(lv_conn *c) {
    if (!c)
        return;
    if (c->c)
        virConnectClose(c->c);
    free(c->uri);
    free(c);
}

const char *lv_uri(const lv_conn *c) {
    return c->uri;
}

void lv_infos_free(lv_dom_info *v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        free(v[i].name);
    free(v);
}

int lv_list(lv_conn *c, lv_dom_info **ret, size_t *ret_n) {
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(c->c, &doms, 0);
    lv_dom_info *out;

    if (n < 0) {
        virResetLastError();
        return -EIO;
    }
    out = calloc(n ? (size_t)n : 1, sizeof(*out));
    for (int i = 0; out && i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        const char *name = virDomainGetName(doms[i]);
        out[i].id = virDomainIsActive(doms[i]) == 1 ? (int)virDomainGetID(doms[i]) : -1;
        out[i].active = out[i].id >= 0;
        if (virDomainGetUUIDString(doms[i], uuid) < 0 || uuid_canonical(uuid, out[i].uuid) < 0)
            out[i].uuid[0] = 0;
        out[i].name = strdup(name ? name : "");
        if (!out[i].name) {
            lv_infos_free(out, (size_t)i);
            out = NULL;
        }
    }
    for (int i = 0; i < n; i++)
        virDomainFree(doms[i]);
    free(doms);
    if (!out)
        return -ENOMEM;
    *ret = out;
    *ret_n = (size_t)n;
    return 0;
}
