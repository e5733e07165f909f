/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A native client of libvirtd's remote protocol on its local unix socket (lvrpc.c): the few
 * calls libvirt*.c make (read-only, and two control calls on a read-write connection), without loading libvirt.so and its dependencies. Encoding and
 * decoding messages (over rpc/frame.h) are pure functions, tested on literal bytes
 * (tests/unit/test-lvrpc.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/frame.h"
#include "rpc/libvirt_remote_protocol.h"

/* How long one call may wait for libvirtd (sending and the whole reply). */
#define LVRPC_TIMEOUT_MS 10000

/* libvirt's error of a failed call (remote_error): its virErrorNumber and message. */
typedef struct {
    int code;
    char message[512];
} lvrpc_error;
/* virErrorNumber values the callers tell apart. */
#define LVRPC_ERR_NO_DOMAIN 42
#define LVRPC_ERR_NO_DOMAIN_METADATA 80

/* Is @uri one the native client serves (qemu:///system, qemu+unix:///system, either with only
 * ?socket=PATH)? When it is: the socket to connect to in @sock (libvirtd's read-only socket
 * unless ?socket= says otherwise) and the name to open on it in @name. */
bool lvrpc_uri_native(const char *uri, char *sock, size_t socklen, char *name, size_t namelen);

/* ---- messages (pure) ----
 * Framed by rpc/frame.h (libvirt's virNetMessageHeader is its header), at most
 * VIRNET_MESSAGE_MAX bytes: a message's length is frame_length(first4, VIRNET_MESSAGE_MAX, &n). */
/* Encode length + header (status OK) + body (@body NULL: none) into a new buffer
 * (frame_encode). */
int lvrpc_encode(unsigned prog, unsigned vers, int proc, virnet_message_type type, unsigned serial, xdrproc_t body_proc,
                 void *body, char **ret_buf, size_t *ret_len);
typedef enum {
    LVRPC_MSG_REPLY,   /* the reply to the call: *ret decoded (status OK) or @err filled */
    LVRPC_MSG_PING,    /* a keepalive PING: answer PONG */
    LVRPC_MSG_IGNORED, /* a message of no interest (an event, a keepalive PONG) */
} lvrpc_msg_kind;
/* Decode one whole message (the length word included) read while waiting for the reply to call
 * @proc/@serial. 0 with *@kind; for a reply with status ERROR -EREMOTEIO with @err filled;
 * -EBADMSG when the message is malformed (length mismatch, truncated header or body, bytes left
 * over, a reply of another program, version, procedure or serial). A decoded body is freed with
 * xdr_free(@ret_proc, @ret). */
int lvrpc_decode(const void *buf, size_t len, int proc, unsigned serial, xdrproc_t ret_proc, void *ret,
                 lvrpc_msg_kind *kind, lvrpc_error *err);

/* A reply body kept as the bytes libvirtd sent: pass lvrpc_xdr_raw as @ret_proc of lvrpc_decode
 * or lvrpc_call and an lvrpc_raw as @ret. lvrpc_decode points @body into the buffer it was
 * given; lvrpc_call hands over the whole message (@msg), freed by xdr_free(lvrpc_xdr_raw, ret).
 * For replies read without decoding them into allocations (lvrpc_stats_index). */
typedef struct {
    char *msg; /* owned: the message @body lies in, or NULL */
    const char *body;
    size_t len;
} lvrpc_raw;
bool_t lvrpc_xdr_raw(XDR *x, lvrpc_raw *r);

/* ---- GetAllDomainStats replies read in place (pure) ----
 * A collection asks libvirtd for every domain's statistics each sample: about a hundred typed
 * parameters per domain, each of which rpcgen's decoder would allocate and free. These read
 * the reply where it lies instead. */
typedef struct {
    const char *name; /* not NUL-terminated */
    uint32_t name_len;
    unsigned char uuid[16];
    int id;
    uint32_t nparams;
    size_t params; /* offset of the first parameter in the body */
} lvrpc_stats_rec;
/* Check a remote_connect_get_all_domain_stats_ret body whole (-EBADMSG for what rpcgen's
 * decoder refuses: truncated, an array or string over its maximum, an unknown parameter type,
 * bytes left over) and index its records; -ENOMEM. Free *@ret with free(). */
int lvrpc_stats_index(const char *body, size_t len, lvrpc_stats_rec **ret, size_t *ret_n);
/* remote_typed_param_value's discriminants: libvirt's virTypedParameterType. */
enum { LVRPC_T_INT = 1, LVRPC_T_UINT, LVRPC_T_LLONG, LVRPC_T_ULLONG, LVRPC_T_DOUBLE, LVRPC_T_BOOLEAN, LVRPC_T_STRING };
typedef struct {
    const char *field; /* not NUL-terminated */
    uint32_t field_len;
    int type; /* LVRPC_T_* */
    union {
        int32_t i;
        uint32_t ui;
        int64_t l;
        uint64_t ul;
        double d;
        int32_t b;
        struct {
            const char *p; /* not NUL-terminated */
            uint32_t len;
        } s;
    } v;
} lvrpc_param;
/* The parameter at *@pos of a body lvrpc_stats_index accepted; *@pos moves past it. */
void lvrpc_param_at(const char *body, size_t *pos, lvrpc_param *p);

/* A metadata-change event (REMOTE_PROC_DOMAIN_EVENT_CALLBACK_METADATA_CHANGE, a whole message
 * with its length word): 0 with the domain's UUID bytes, -ENOMSG when @buf is another message,
 * -EBADMSG when it is that event but malformed. */
int lvrpc_metadata_event(const void *buf, size_t len, unsigned char uuid[16]);

/* ---- the connection ---- */
typedef struct lvrpc lvrpc;
/* Connect to @uri's socket, authenticate (none, or polkit where libvirtd asks and grants it)
 * and open the hypervisor connection read-only. -errno with the reason in @why: -EACCES when
 * libvirtd asks for an authentication the native client does not speak (SASL). */
int lvrpc_open(const char *uri, lvrpc **ret, char *why, size_t whylen);
/* The same, read-write, for a control call (libvirtd's read-write socket beside the read-only
 * one the URI names, libvirt-sock for libvirt-sock-ro): libvirtd refuses it (-EREMOTEIO, -EACCES)
 * to a caller who may not write. */
int lvrpc_open_rw(const char *uri, lvrpc **ret, char *why, size_t whylen);
/* How long each call may wait (LVRPC_TIMEOUT_MS unless set; tests). */
void lvrpc_set_timeout(lvrpc *c, unsigned ms);
/* Close the hypervisor connection (CONNECT_CLOSE) and the socket. */
void lvrpc_close(lvrpc *c);
/* One call: @args encoded with @args_proc (NULL: no arguments), the reply decoded into @ret with
 * @ret_proc (NULL: none; else free with xdr_free). A connection that was lost (libvirtd
 * restarted) is opened again first; -ETIMEDOUT when libvirtd did not answer in
 * LVRPC_TIMEOUT_MS (the connection is dropped and opened again at the next call); -EREMOTEIO
 * with libvirt's error in @err (may be NULL) when the call failed in libvirtd. */
int lvrpc_call(lvrpc *c, int proc, xdrproc_t args_proc, void *args, xdrproc_t ret_proc, void *ret, lvrpc_error *err);
/* Ask libvirtd to announce metadata changes (VIR_DOMAIN_EVENT_ID_METADATA_CHANGE) on this
 * connection, and on every one opened again later. The events are read while calls wait for
 * their replies. 0, or -errno when libvirtd refused (too old: before 3.0). */
int lvrpc_watch_metadata(lvrpc *c);
/* The domains (UUID bytes, in *@ret: free it) whose metadata libvirtd announced a change of
 * since the last call, and in *@ret_all whether any domain's may have changed unannounced (a
 * connection opened since: events in between are lost). False and none when not watching. */
bool lvrpc_metadata_changes(lvrpc *c, unsigned char (**ret)[16], size_t *ret_n, bool *ret_all);
