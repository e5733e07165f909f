/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The framing of XDR RPC messages (a length word, a six-field header, the body) for both protocols. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

bool_t frame_xdr_header(XDR *x, frame_header *h) {
    /* The same calls as rpcgen's xdr_uni_message_header and xdr_virnet_message_header make. */
    return xdr_u_int(x, &h->prog) && xdr_u_int(x, &h->vers) && xdr_int(x, &h->proc) && xdr_enum(x, &h->type) &&
           xdr_u_int(x, &h->serial) && xdr_enum(x, &h->status);
}

int frame_length(const void *first4, size_t max, size_t *ret_len) {
    uint32_t be;
    memcpy(&be, first4, 4);
    be = ntohl(be);
    if (be < FRAME_MIN_LEN)
        return -EBADMSG;
    if (be > max)
        return -EMSGSIZE;
    *ret_len = be;
    return 0;
}

int frame_encode(const frame_header *h, xdrproc_t body_proc, void *body, size_t max, char **ret_buf, size_t *ret_len) {
    unsigned long bs = body ? xdr_sizeof(body_proc, body) : 0;
    size_t total = FRAME_MIN_LEN + bs;
    frame_header hh = *h;
    uint32_t be;
    char *buf;
    XDR x;

    if (total > max)
        return -EMSGSIZE;
    if (!(buf = malloc(total)))
        return -ENOMEM;
    be = htonl((uint32_t)total);
    memcpy(buf, &be, 4);
    xdrmem_create(&x, buf + 4, (u_int)(total - 4), XDR_ENCODE);
    if (!frame_xdr_header(&x, &hh) || (body && !body_proc(&x, body))) {
        xdr_destroy(&x);
        free(buf);
        return -EBADMSG;
    }
    xdr_destroy(&x);
    *ret_buf = buf;
    *ret_len = total;
    return 0;
}

int frame_open(frame_msg *m, const void *buf, size_t len, size_t max, frame_header *h) {
    size_t total;

    if (len < 4 || frame_length(buf, max, &total) < 0 || total != len)
        return -EBADMSG;
    memset(h, 0, sizeof(*h));
    m->buf = buf;
    m->len = len;
    xdrmem_create(&m->x, (char *)buf + 4, (u_int)(len - 4), XDR_DECODE);
    if (!frame_xdr_header(&m->x, h)) {
        xdr_destroy(&m->x);
        return -EBADMSG;
    }
    return 0;
}

void frame_close(frame_msg *m) {
    xdr_destroy(&m->x);
}

int frame_decode_body(frame_msg *m, xdrproc_t body_proc, void *body) {
    if (body_proc && !body_proc(&m->x, body)) {
        xdr_free(body_proc, body);
        return -EBADMSG;
    }
    /* Trailing bytes mean the peer and we disagree on the message: refuse it. */
    if (xdr_getpos(&m->x) != m->len - 4) {
        if (body_proc)
            xdr_free(body_proc, body);
        return -EBADMSG;
    }
    return 0;
}

const char *frame_rest(frame_msg *m, size_t *ret_len) {
    size_t at = 4 + xdr_getpos(&m->x);
    *ret_len = m->len - at;
    return m->buf + at;
}
