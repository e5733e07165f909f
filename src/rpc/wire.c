/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Message framing and record/descriptor conversions for the wire protocol (uniserver_protocol.x). */
#include <arpa/inet.h>
#include <rpc/xdr.h>

#include "wire.h"

bool_t wire_xdr_void(XDR *x, void *p) {
    (void)x;
    (void)p;
    return TRUE;
}

int wire_encode(const uni_message_header *h, xdrproc_t body_proc, void *body, char **ret_buf, size_t *ret_len) {
    unsigned long hs = xdr_sizeof((xdrproc_t)xdr_uni_message_header, (void *)h);
    unsigned long bs = body ? xdr_sizeof(body_proc, body) : 0;
    size_t total = 4 + hs + bs;
    char *buf;
    XDR x;
    uint32_t be;

    if (total > UNI_MESSAGE_MAX)
        return -EMSGSIZE;
    buf = malloc(total);
    if (!buf)
        return -ENOMEM;
    be = htonl((uint32_t)total);
    memcpy(buf, &be, 4);
    xdrmem_create(&x, buf + 4, (u_int)(total - 4), XDR_ENCODE);
    if (!xdr_uni_message_header(&x, (uni_message_header *)h) || (body && !body_proc(&x, body))) {
        xdr_destroy(&x);
        free(buf);
        return -EBADMSG;
    }
    xdr_destroy(&x);
    *ret_buf = buf;
    *ret_len = total;
    return 0;
}

static int decode_common(const char *buf, size_t len, uni_message_header *h, xdrproc_t body_proc, void *body,
                         bool want_body) {
    uint32_t be;
    XDR x;
    bool ok;

    if (len < WIRE_MIN_MESSAGE || len > UNI_MESSAGE_MAX)
        return -EBADMSG;
    memcpy(&be, buf, 4);
    if (ntohl(be) != len)
        return -EBADMSG;
    memset(h, 0, sizeof(*h));
    xdrmem_create(&x, (char *)buf + 4, (u_int)(len - 4), XDR_DECODE);
    ok = xdr_uni_message_header(&x, h);
    if (ok && want_body) {
        ok = body_proc(&x, body);
        /* Trailing bytes mean the peer and we disagree on the message: refuse it. */
        if (ok && xdr_getpos(&x) != len - 4) {
            xdr_destroy(&x);
            xdr_free(body_proc, body);
            return -EBADMSG;
        }
        if (!ok)
            xdr_free(body_proc, body);
    }
    xdr_destroy(&x);
    return ok ? 0 : -EBADMSG;
}

int wire_decode(const char *buf, size_t len, uni_message_header *h, xdrproc_t body_proc, void *body) {
    return decode_common(buf, len, h, body_proc, body, true);
}

int wire_decode_header(const char *buf, size_t len, uni_message_header *h) {
    return decode_common(buf, len, h, NULL, NULL, false);
}

int wire_from_record(uniRecordPtr rec, wire_record_buf *b) {
    uni_wire_record *w = &b->rec;
    size_t n = rec->n, na = rec->nabsent;

    memset(b, 0, sizeof(*b));
    w->window_ms = rec->window_ms;
    w->timestamp = rec->timestamp;
    w->samples.samples_val = calloc(n ? n : 1, sizeof(uni_wire_sample));
    w->absent.absent_val = calloc(na ? na : 1, sizeof(uni_wire_absence));
    b->names = calloc(n ? n : 1, sizeof(char *));
    if (!w->samples.samples_val || !w->absent.absent_val || !b->names) {
        wire_record_release(b);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const uniSample *s = &rec->samples[i];
        uni_wire_sample *ws = &w->samples.samples_val[i];
        ws->metric = s->metric;
        ws->index = s->index;
        b->names[i] = (char *)s->name;
        ws->name = s->name ? &b->names[i] : NULL;
        ws->value.type = (uni_wire_value_type)s->type;
        switch (s->type) {
        case UNI_VALUE_U64:
            ws->value.uni_wire_value_u.u = s->value.u;
            break;
        case UNI_VALUE_DOUBLE:
            ws->value.uni_wire_value_u.d = s->value.d;
            break;
        default:
            ws->value.uni_wire_value_u.s = (char *)s->value.s;
        }
    }
    w->samples.samples_len = (u_int)n;
    for (size_t i = 0; i < na; i++) {
        w->absent.absent_val[i].metric = rec->absent[i].metric;
        w->absent.absent_val[i].reason = (char *)rec->absent[i].reason;
    }
    w->absent.absent_len = (u_int)na;
    return 0;
}

void wire_record_release(wire_record_buf *b) {
    free(b->rec.samples.samples_val);
    free(b->rec.absent.absent_val);
    free(b->names);
    memset(b, 0, sizeof(*b));
}

int record_from_wire(const uni_wire_record *w, const uniMetricDesc *descs, unsigned ndescs, uniRecordPtr *ret) {
    uniRecordPtr r = uni_record_new(descs, ndescs);
    int k = 0;

    if (!r)
        return -ENOMEM;
    r->window_ms = w->window_ms;
    r->timestamp = w->timestamp;
    for (u_int i = 0; i < w->samples.samples_len && k >= 0; i++) {
        const uni_wire_sample *s = &w->samples.samples_val[i];
        const char *name = s->name ? *s->name : NULL;
        if (s->metric >= ndescs || s->index < -1) {
            k = -EBADMSG;
            break;
        }
        switch (s->value.type) {
        case UNI_WIRE_U64:
            k = rec_u64(r, s->metric, s->index, name, s->value.uni_wire_value_u.u);
            break;
        case UNI_WIRE_DOUBLE:
            k = rec_dbl(r, s->metric, s->index, name, s->value.uni_wire_value_u.d);
            break;
        case UNI_WIRE_STRING:
            k = rec_str(r, s->metric, s->index, name, s->value.uni_wire_value_u.s);
            break;
        default:
            k = -EBADMSG;
        }
    }
    for (u_int i = 0; i < w->absent.absent_len && k >= 0; i++) {
        if (w->absent.absent_val[i].metric >= ndescs) {
            k = -EBADMSG;
            break;
        }
        rec_absent(r, w->absent.absent_val[i].metric, "%s", w->absent.absent_val[i].reason);
    }
    if (k < 0) {
        uniRecordFree(r);
        return k;
    }
    *ret = r;
    return 0;
}

int wire_from_descs(const uniMetricDesc *d, unsigned n, uni_connect_get_metric_descriptors_ret *w) {
    w->descs.descs_val = calloc(n ? n : 1, sizeof(uni_wire_desc));
    if (!w->descs.descs_val)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        uni_wire_desc *x = &w->descs.descs_val[i];
        x->id = d[i].id;
        x->key = (char *)d[i].key;
        x->kind = d[i].kind;
        x->unit = (char *)d[i].unit;
        x->group = (char *)d[i].group;
        x->spec = (char *)d[i].spec;
        x->source = (char *)d[i].source;
        x->help = (char *)d[i].help;
    }
    w->descs.descs_len = n;
    return 0;
}

int descs_from_wire(const uni_connect_get_metric_descriptors_ret *w, uniMetricDesc **ret, unsigned *ret_n) {
    unsigned n = w->descs.descs_len;
    size_t strings = 0;
    uniMetricDesc *d;
    char *p;

    for (unsigned i = 0; i < n; i++) {
        const uni_wire_desc *x = &w->descs.descs_val[i];
        /* Ids index the array: they must be dense and in order. */
        if (x->id != i)
            return -EBADMSG;
        strings += strlen(x->key) + strlen(x->unit) + strlen(x->group) + strlen(x->spec) + strlen(x->source) +
                   strlen(x->help) + 6;
    }
    d = malloc(n * sizeof(*d) + strings + 1);
    if (!d)
        return -ENOMEM;
    p = (char *)(d + n);
#define COPY(field)                                                                                \
    do {                                                                                           \
        size_t l_ = strlen(x->field) + 1;                                                          \
        memcpy(p, x->field, l_);                                                                   \
        d[i].field = p;                                                                            \
        p += l_;                                                                                   \
    } while (0)
    for (unsigned i = 0; i < n; i++) {
        const uni_wire_desc *x = &w->descs.descs_val[i];
        d[i].id = x->id;
        d[i].kind = x->kind;
        COPY(key);
        COPY(unit);
        COPY(group);
        COPY(spec);
        COPY(source);
        COPY(help);
    }
#undef COPY
    *ret = d;
    *ret_n = n;
    return 0;
}

void wire_events_release(wire_events_buf *w) {
    for (int i = 0; w->bufs && i < w->n; i++)
        wire_record_release(&w->bufs[i]);
    free(w->bufs);
    free(w->ret.fields.fields_val);
    free(w->ret.events.events_val);
    memset(w, 0, sizeof(*w));
}

int wire_from_events(uniRecordPtr *list, int n, const uniMetricDesc *descs, unsigned ndescs, wire_events_buf *w) {
    uni_connect_get_metric_descriptors_ret d;

    memset(w, 0, sizeof(*w));
    if (wire_from_descs(descs, ndescs, &d) < 0)
        return -ENOMEM;
    w->ret.fields.fields_val = d.descs.descs_val;
    w->ret.fields.fields_len = d.descs.descs_len;
    w->bufs = calloc(n > 0 ? (size_t)n : 1, sizeof(*w->bufs));
    w->ret.events.events_val = calloc(n > 0 ? (size_t)n : 1, sizeof(uni_wire_record));
    if (!w->bufs || !w->ret.events.events_val) {
        wire_events_release(w);
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        if (wire_from_record(list[i], &w->bufs[i]) < 0) {
            wire_events_release(w);
            return -ENOMEM;
        }
        w->n = i + 1;
        w->ret.events.events_val[i] = w->bufs[i].rec;
    }
    w->ret.events.events_len = (u_int)n;
    return 0;
}

int events_from_wire(const uni_healthlog_query_ret *w, uniMetricDesc **descs, unsigned *ndescs, uniRecordPtr **ret) {
    uniRecordPtr *list;
    int r = 0;

    if (!*descs) {
        uni_connect_get_metric_descriptors_ret d = {.descs = {.descs_len = w->fields.fields_len, .descs_val = w->fields.fields_val}};
        if ((r = descs_from_wire(&d, descs, ndescs)) < 0)
            return r;
    }
    list = calloc((size_t)w->events.events_len + 1, sizeof(*list));
    if (!list)
        return -ENOMEM;
    for (u_int i = 0; i < w->events.events_len && r >= 0; i++)
        r = record_from_wire(&w->events.events_val[i], *descs, *ndescs, &list[i]);
    if (r < 0) {
        uniRecordListFree(list);
        return r;
    }
    *ret = list;
    return (int)w->events.events_len;
}
