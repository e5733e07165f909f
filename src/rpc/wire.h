/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The uniserver protocol's messages (framed by rpc/frame.h) and conversions between
 * records/descriptors and their XDR wire forms, shared by the remote driver (client) and
 * uniserverd (server). */
#pragma once

#include "lib/internal.h"
#include "rpc/frame.h"
#include "rpc/uniserver_protocol.h"

/* The body of procedures that take or return nothing (wire_void in procs.def). */
bool_t wire_xdr_void(XDR *x, void *p);
typedef char wire_void;
#define xdr_wire_void wire_xdr_void

#include "rpc/procs.def"

/* Who may call a procedure (procs.def's access column). */
typedef enum { UNI_ACCESS_OPEN, UNI_ACCESS_READ, UNI_ACCESS_CONTROL } uni_access;

/* Encode length + header + body (body may be NULL with xdr_void) into a new buffer, at most
 * UNI_MESSAGE_MAX bytes (frame_encode). */
int wire_encode(const uni_message_header *h, xdrproc_t body_proc, void *body, char **ret_buf, size_t *ret_len);
/* Decode a whole message (the length word included) into header and body (frame_open,
 * frame_decode_body); -EBADMSG when the header or the body does not decode or bytes are left
 * over. The body is freed with xdr_free(body_proc, body). */
int wire_decode(const char *buf, size_t len, uni_message_header *h, xdrproc_t body_proc, void *body);
/* Decode the header only (to route a call before its body). */
int wire_decode_header(const char *buf, size_t len, uni_message_header *h);

/* A record's wire form points into the record (no copies); release only frees the arrays. */
typedef struct {
    uni_wire_record rec;
    char **names; /* the char * slots that the samples' optional names point at */
} wire_record_buf;
int wire_from_record(uniRecordPtr rec, wire_record_buf *w);
void wire_record_release(wire_record_buf *w);
/* A new record from its wire form, validated against the descriptors (unknown ids, bad types
 * -> -EBADMSG); strings are copied into the record. */
int record_from_wire(const uni_wire_record *w, const uniMetricDesc *descs, unsigned ndescs, uniRecordPtr *ret);

/* Descriptors: to wire (pointing into @d) and from wire (one allocation owning the strings). */
int wire_from_descs(const uniMetricDesc *d, unsigned n, uni_connect_get_metric_descriptors_ret *w);
int descs_from_wire(const uni_connect_get_metric_descriptors_ret *w, uniMetricDesc **ret, unsigned *ret_n);

/* HealthLog events (records of event fields) with their descriptors, to and from the wire. The
 * wire form points into the records and descriptors; release frees only its arrays. */
typedef struct {
    uni_healthlog_query_ret ret;
    wire_record_buf *bufs;
    int n;
} wire_events_buf;
int wire_from_events(uniRecordPtr *list, int n, const uniMetricDesc *descs, unsigned ndescs, wire_events_buf *w);
void wire_events_release(wire_events_buf *w);
/* New records from the wire. The descriptors come with every reply: when *@descs is NULL they
 * are decoded into it (the caller keeps them as long as the records); else the ones given are
 * used. Returns the number of events (a NULL-terminated array in *@ret) or -EBADMSG. */
int events_from_wire(const uni_healthlog_query_ret *w, uniMetricDesc **descs, unsigned *ndescs, uniRecordPtr **ret);
