/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt as a source of domains (names, UUIDs, states) and of their statistics where libvirt
 * holds what /proc and QMP cannot give us (its domains' monitors, drivers other than QEMU). The
 * connection is read-only; libvirt's errors are kept per connection, never printed.
 *
 * Two ways to libvirt behind the same lv_* calls: the native client of libvirtd's protocol
 * (lvrpc.c) for the local qemu URIs (qemu:///system, qemu+unix:///system?socket=PATH), and
 * libvirt.so, loaded on first use, for every other URI (test:///default, qemu+ssh://...) and where
 * libvirtd asks for an authentication the native client does not speak.
 *
 * This file: connections, the listing and Nova's metadata. libvirt_load.c loads libvirt.so;
 * libvirt_stats.c turns libvirt's statistics into the VMs' records. */
#include <pthread.h>

#include "libvirt_internal.h"

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
    char sock[108], name[64];

    if (!c || !(c->uri = strdup(uri))) {
        free(c);
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    if (lvrpc_uri_native(uri, sock, sizeof(sock), name, sizeof(name))) {
        int r = lvrpc_open(uri, &c->rpc, why, whylen);
        if (r == 0) {
            /* Metadata is then read when libvirtd says it changed, not every so often (two round
             * trips per domain each time); a libvirtd before 3.0 cannot say. */
            (void)lvrpc_watch_metadata(c->rpc);
            *ret = c;
            return 0;
        }
        /* Where libvirtd asks for more than the native client does (SASL) or speaks what it
         * does not understand, libvirt.so can; where libvirtd does not listen or answer,
         * libvirt.so could not either (and loading it would cost its 12 MB for nothing). */
        if (r != -EACCES && r != -EBADMSG && r != -EMSGSIZE) {
            lv_close(c);
            return r == -ENOMEM ? r : -ECONNREFUSED;
        }
    }
    if (lv_load(why, whylen) < 0) {
        lv_close(c);
        return -ENOENT;
    }
    if (virInitialize() < 0) {
        last_error(why, whylen, "virInitialize");
        lv_close(c);
        return -EIO;
    }
    /* libvirt's default handler prints every error on stderr, even those of a connection that
     * fails to open (before a per-connection handler can be set): uniserver reports them through
     * its own errors and absences instead. */
    virSetErrorFunc(NULL, quiet);
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
    lvrpc_close(c->rpc);
    free(c->meta_changed);
    free(c->uri);
    free(c);
}

/* Take the metadata changes announced since the last listing. */
void lv_meta_take(lv_conn *c) {
    free(c->meta_changed);
    c->meta_changed = NULL;
    c->nmeta_changed = 0;
    c->meta_all = false;
    c->meta_watched = c->rpc && lvrpc_metadata_changes(c->rpc, &c->meta_changed, &c->nmeta_changed, &c->meta_all);
}

static bool meta_changed(const lv_conn *c, const void *uuid) {
    if (c->meta_all)
        return true;
    for (size_t i = 0; i < c->nmeta_changed; i++)
        if (!memcmp(c->meta_changed[i], uuid, 16))
            return true;
    return false;
}

const char *lv_uri(const lv_conn *c) {
    return c->uri;
}

void lv_meta_done(lv_meta *m) {
    free(m->name);
    free(m->project_id);
    free(m->project_name);
    free(m->user_id);
    free(m->flavor);
    free(m->reliability);
    *m = (lv_meta){0};
}

void lv_infos_free(lv_dom_info *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].name);
        lv_meta_done(&v[i].meta);
    }
    free(v);
}

/* ---- domain metadata ----
 * virDomainGetMetadata(ELEMENT, ns) gives the element of namespace ns without its prefix, e.g.
 * Nova's <instance><name>web-1</name><flavor name="m1.small">..</flavor><owner><user uuid="..">
 * alice</user><project uuid="..">demo</project></owner></instance>. Only these few well-known
 * elements are wanted, so they are found by name rather than with an XML library. */

/* XML character data with the predefined and numeric (ASCII) entities resolved. */
static char *xml_unescape(const char *s, size_t n) {
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}};
    char *out = malloc(n + 1), *o = out;
    for (size_t i = 0; out && i < n;) {
        size_t k = 0;
        if (s[i] == '&') {
            for (k = 0; k < ELEMENTSOF(ents); k++)
                if (n - i >= strlen(ents[k].ent) && !strncmp(s + i, ents[k].ent, strlen(ents[k].ent)))
                    break;
            if (k < ELEMENTSOF(ents)) {
                *o++ = ents[k].c;
                i += strlen(ents[k].ent);
                continue;
            }
            if (n - i > 3 && s[i + 1] == '#') {
                char *end;
                bool hex = s[i + 2] == 'x';
                unsigned long c = strtoul(s + i + (hex ? 3 : 2), &end, hex ? 16 : 10);
                if ((size_t)(end - s) < n && *end == ';' && c > 0 && c < 0x80) {
                    *o++ = (char)c;
                    i = (size_t)(end - s) + 1;
                    continue;
                }
            }
        }
        *o++ = s[i++];
    }
    if (out)
        *o = 0;
    return out;
}

/* The start tag <tag> or <tag ...> in @xml; NULL when absent. */
static const char *xml_find(const char *xml, const char *tag) {
    size_t l = strlen(tag);
    for (const char *p = strchr(xml, '<'); p; p = strchr(p + 1, '<'))
        if (!strncmp(p + 1, tag, l) && (p[1 + l] == '>' || p[1 + l] == ' ' || p[1 + l] == '/'))
            return p;
    return NULL;
}

/* The text of the first element @tag (no children), or its attribute @attr when not NULL. */
static char *xml_get(const char *xml, const char *tag, const char *attr) {
    const char *p = xml_find(xml, tag), *end, *q;
    if (!p || !(end = strchr(p, '>')))
        return NULL;
    if (attr) {
        size_t al = strlen(attr);
        for (q = p + 1 + strlen(tag); q < end; q++)
            if (q[-1] == ' ' && !strncmp(q, attr, al) && q[al] == '=' && (q[al + 1] == '"' || q[al + 1] == '\'')) {
                const char *v = q + al + 2, *z = memchr(v, q[al + 1], (size_t)(end - v));
                return z ? xml_unescape(v, (size_t)(z - v)) : NULL;
            }
        return NULL;
    }
    if (end[-1] == '/')
        return strdup(""); /* <tag/> */
    q = strchr(end + 1, '<');
    return q ? xml_unescape(end + 1, (size_t)(q - end - 1)) : NULL;
}

char *lv_xml_text(const char *xml, const char *tag) {
    return xml_get(xml, tag, NULL);
}

/* Nova's instance element (1.1 is what Nova writes since Liberty; 1.0 before) and ours. */
static const char *const nova_ns[] = {"http://openstack.org/xmlns/libvirt/nova/1.1",
                                      "http://openstack.org/xmlns/libvirt/nova/1.0"};

char *lv_metadata(lv_conn *c, const lv_dom *d, const char *ns) {
    char *x;
    if (c->rpc) {
        remote_domain_get_metadata_args a = {.dom = *d->rd, .type = VIR_DOMAIN_METADATA_ELEMENT, .uri = (char **)&ns};
        remote_domain_get_metadata_ret r = {0};
        if (lvrpc_call(c->rpc, REMOTE_PROC_DOMAIN_GET_METADATA, (xdrproc_t)xdr_remote_domain_get_metadata_args, &a,
                       (xdrproc_t)xdr_remote_domain_get_metadata_ret, &r, NULL) < 0)
            return NULL;   /* VIR_ERR_NO_DOMAIN_METADATA: the domain has none of it */
        return r.metadata; /* the decoded string, ours */
    }
    x = virDomainGetMetadata(d->d, VIR_DOMAIN_METADATA_ELEMENT, ns, 0);
    if (!x)
        virResetLastError(); /* VIR_ERR_NO_DOMAIN_METADATA: the domain has none of it */
    return x;
}

static void meta_get(lv_conn *c, const lv_dom *d, lv_meta *m) {
    char *x = NULL;
    for (size_t i = 0; i < ELEMENTSOF(nova_ns) && !x; i++)
        x = lv_metadata(c, d, nova_ns[i]);
    if (x) {
        m->nova = true;
        m->name = xml_get(x, "name", NULL);
        m->flavor = xml_get(x, "flavor", "name");
        m->user_id = xml_get(x, "user", "uuid");
        m->project_id = xml_get(x, "project", "uuid");
        m->project_name = xml_get(x, "project", NULL);
        free(x);
    }
    if ((x = lv_metadata(c, d, LV_UNISERVER_NS))) {
        m->reliability = xml_get(x, "reliability", NULL);
        free(x);
    }
}

/* libvirt's UUID bytes as our canonical text. */
static void uuid_format(const unsigned char u[16], char out[UUID_STRING_LEN + 1]) {
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[u[i] >> 4];
        *o++ = hex[u[i] & 15];
    }
    *o = 0;
}

/* One domain of the native client's lists (ListAllDomains', the statistics' records) as lv_list
 * gives it: @rd's UUID and id (-1: inactive, as through libvirt.so), @name (taken; NULL when it
 * could not be made: -ENOMEM), and its metadata when @meta_due asks. */
int lv_info_native(lv_conn *c, const remote_nonnull_domain *rd, char *name, lv_meta_due_fn meta_due, void *ud,
                   lv_dom_info *out) {
    lv_dom d = {.rd = rd};
    if (!(out->name = name))
        return -ENOMEM;
    out->id = rd->id < 0 ? -1 : rd->id;
    out->active = out->id >= 0;
    uuid_format((const unsigned char *)rd->uuid, out->uuid);
    if (meta_due && meta_due(out->uuid, c->meta_watched, meta_changed(c, rd->uuid), ud)) {
        meta_get(c, &d, &out->meta);
        out->has_meta = true;
    }
    return 0;
}

static int list_native(lv_conn *c, lv_meta_due_fn meta_due, void *ud, lv_dom_info **ret, size_t *ret_n) {
    remote_connect_list_all_domains_args a = {.need_results = 1, .flags = 0};
    remote_connect_list_all_domains_ret r;
    lv_dom_info *out;
    size_t n;

    memset(&r, 0, sizeof(r));
    if (lvrpc_call(c->rpc, REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS, (xdrproc_t)xdr_remote_connect_list_all_domains_args,
                   &a, (xdrproc_t)xdr_remote_connect_list_all_domains_ret, &r, NULL) < 0)
        return -EIO;
    lv_meta_take(c);
    n = r.domains.domains_len;
    out = calloc(n ? n : 1, sizeof(*out));
    for (size_t i = 0; out && i < n; i++) {
        const remote_nonnull_domain *rd = &r.domains.domains_val[i];
        if (lv_info_native(c, rd, strdup(rd->name ? rd->name : ""), meta_due, ud, &out[i]) < 0) {
            lv_infos_free(out, i + 1);
            out = NULL;
        }
    }
    xdr_free((xdrproc_t)xdr_remote_connect_list_all_domains_ret, (char *)&r);
    if (!out)
        return -ENOMEM;
    *ret = out;
    *ret_n = n;
    return 0;
}

int lv_list(lv_conn *c, lv_meta_due_fn meta_due, void *ud, lv_dom_info **ret, size_t *ret_n) {
    virDomainPtr *doms = NULL;
    int n;
    lv_dom_info *out;

    if (c->rpc)
        return list_native(c, meta_due, ud, ret, ret_n);
    n = virConnectListAllDomains(c->c, &doms, 0);

    if (n < 0) {
        virResetLastError();
        return -EIO;
    }
    out = calloc(n ? (size_t)n : 1, sizeof(*out));
    for (int i = 0; out && i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        const char *name = virDomainGetName(doms[i]);
        /* The id came with the list (-1 for an inactive domain): virDomainIsActive would be one
         * more round trip per domain, every sample. */
        unsigned id = virDomainGetID(doms[i]);
        out[i].id = id == (unsigned)-1 ? -1 : (int)id;
        out[i].active = out[i].id >= 0;
        if (virDomainGetUUIDString(doms[i], uuid) < 0 || uuid_canonical(uuid, out[i].uuid) < 0)
            out[i].uuid[0] = 0;
        if (meta_due && meta_due(out[i].uuid, false, false, ud)) {
            lv_dom d = {.d = doms[i]};
            meta_get(c, &d, &out[i].meta);
            out[i].has_meta = true;
        }
        out[i].name = strdup(name ? name : "");
        if (!out[i].name) {
            lv_infos_free(out, (size_t)i + 1);
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
