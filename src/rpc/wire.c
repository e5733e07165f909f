/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The wire protocol's (uniserver_protocol.x) messages over frame.c, and record/descriptor conversions. */
#include <rpc/xdr.h>

#include "wire.h"

bool_t wire_xdr_void(XDR *x, void *p) {
    (void)x;
    (void)p;
    return TRUE;
}

static frame_header to_frame(const uni_message_header *h) {
    return (frame_header){
        .prog = h->prog, .vers = h->vers, .proc = h->proc, .type = h->type, .serial = h->serial, .status = h->status};
}

static void from_frame(const frame_header *f, uni_message_header *h) {
    *h = (uni_message_header){.prog = f->prog,
                              .vers = f->vers,
                              .proc = f->proc,
                              .type = (uni_message_type)f->type,
                              .serial = f->serial,
                              .status = (uni_message_status)f->status};
}

int wire_encode(const uni_message_header *h, xdrproc_t body_proc, void *body, char **ret_buf, size_t *ret_len) {
    frame_header f = to_frame(h);
    return frame_encode(&f, body_proc, body, UNI_MESSAGE_MAX, ret_buf, ret_len);
}

int wire_decode(const char *buf, size_t len, uni_message_header *h, xdrproc_t body_proc, void *body) {
    frame_header f;
    frame_msg m;
    int r;

    if (frame_open(&m, buf, len, UNI_MESSAGE_MAX, &f) < 0)
        return -EBADMSG;
    from_frame(&f, h);
    r = frame_decode_body(&m, body_proc, body);
    frame_close(&m);
    return r;
}

int wire_decode_header(const char *buf, size_t len, uni_message_header *h) {
    frame_header f;
    frame_msg m;

    if (frame_open(&m, buf, len, UNI_MESSAGE_MAX, &f) < 0)
        return -EBADMSG;
    from_frame(&f, h);
    frame_close(&m);
    return 0;
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
#define COPY(field)                                                                                                    \
    do {                                                                                                               \
        size_t l_ = strlen(x->field) + 1;                                                                              \
        memcpy(p, x->field, l_);                                                                                       \
        d[i].field = p;                                                                                                \
        p += l_;                                                                                                       \
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
        uni_connect_get_metric_descriptors_ret d = {
            .descs = {.descs_len = w->fields.fields_len, .descs_val = w->fields.fields_val}};
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
