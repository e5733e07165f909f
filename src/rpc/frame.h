/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The framing of XDR RPC messages shared by uniserver's protocol (wire.c) and libvirtd's (lvrpc.c). */
#pragma once

#include <rpc/xdr.h>
#include <stddef.h>

/* A message is a 4-byte big-endian length (of the whole message, itself included), a header of
 * six 4-byte XDR fields, then the XDR body. uniserver_protocol.x's uni_message_header and
 * libvirt's virnet_message_header are both this header; what the fields may hold (which program,
 * which types, how a reply matches its call) is each protocol's business. */
typedef struct {
    unsigned int prog;
    unsigned int vers;
    int proc;
    enum_t type;
    unsigned int serial;
    enum_t status;
} frame_header;
bool_t frame_xdr_header(XDR *x, frame_header *h);

/* Bytes of the header, and of the smallest message: the length word and the header. */
#define FRAME_HEADER_LEN (6 * 4)
#define FRAME_MIN_LEN (4 + FRAME_HEADER_LEN)

/* The total length a message announces in its first 4 bytes, in *@ret_len: -EBADMSG when
 * smaller than FRAME_MIN_LEN, -EMSGSIZE when larger than @max. */
int frame_length(const void *first4, size_t max, size_t *ret_len);

/* Encode the length word, @h and the body (@body NULL: none) into a new buffer (*@ret_buf, free
 * it). -EMSGSIZE when the message would be larger than @max, -ENOMEM, -EBADMSG when @body_proc
 * fails. */
int frame_encode(const frame_header *h, xdrproc_t body_proc, void *body, size_t max, char **ret_buf, size_t *ret_len);

/* A whole message opened at its body (frame_open); frame_close destroys it. */
typedef struct {
    XDR x; /* positioned at the body */
    const char *buf;
    size_t len; /* the whole message's, the length word included */
} frame_msg;
/* Open the whole message @buf of @len bytes: its length word must say @len (at most @max) and
 * its header decode into @h. 0 with @m positioned at the body, or -EBADMSG (nothing to close). */
int frame_open(frame_msg *m, const void *buf, size_t len, size_t max, frame_header *h);
void frame_close(frame_msg *m);
/* Decode the body at @m's position into @body with @body_proc (NULL: the message has no body);
 * it must end the message. -EBADMSG when it does not decode or bytes are left over, with @body
 * freed (xdr_free(@body_proc, @body)); else the caller frees it. */
int frame_decode_body(frame_msg *m, xdrproc_t body_proc, void *body);
/* The bytes from @m's position to the end of the message, where they lie in the buffer (a body
 * read in place rather than decoded). */
const char *frame_rest(frame_msg *m, size_t *ret_len);
