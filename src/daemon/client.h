/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's clients and the protocols they speak: a client's buffers, reading, writing and
 * queueing (client.c), and the hooks and limits by which a protocol answers it. */
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include "daemon.h"
#include "util/gnutls_dl.h"

#define OUT_LIMIT (64u << 20) /* a client that does not read its replies is dropped past this */

typedef struct server server;
typedef struct client client;

/* A buffer shared by the clients still sending it (and its owner, who may keep it for the next
 * ones): sent after a client's out without a copy. */
typedef struct shared_buf {
    unsigned refs;
    size_t len;
    char *data;
} shared_buf;

void shared_buf_unref(shared_buf *b);

/* What a listener's clients speak: how their input is answered, and their limits. Set up by the
 * protocol when it starts (its limits come from the configuration); every client of its listeners
 * points at it. */
typedef struct protocol {
    /* A TCP client's peer name starts with this, or with tls_scheme over TLS ("tcp", "tls"). */
    const char *scheme, *tls_scheme;
    long max_clients;            /* clients at once on all its listeners; more are refused */
    const char *max_clients_key; /* the setting, named when a client is refused */
    long nclients;               /* connected now */
    long max_ro, nro;            /* of which on read-only listeners (0: no such limit) */
    long max_per_uid;            /* read-only unix clients of one user other than root (0: none) */
    /* A client with this much output unread is not read from (nor its input answered) until it
     * reads; 0: no bound (a serial protocol holds one response anyway). */
    size_t out_pause;
    long idle_timeout_ms; /* on_idle is called on a client idle longer than this */
    /* Input grows by doubling from in_step, up to in_max; a read needs in_room bytes free. */
    size_t in_step, in_room, in_max;
    /* One request at a time: the next request is read (and answered) once the response to the
     * last one is sent, so a client that pipelines without reading holds one response, not all. */
    bool serial;
    size_t state_size; /* the protocol's own state in each client (client_state), zeroed */
    /* Answer what c->in holds, queueing replies (client_queue); -1 when the client was dropped. */
    int (*consume)(client *c);
    /* Everything queued is sent (@was_sending: something was); -1 when the client was dropped. */
    int (*on_flushed)(client *c, bool was_sending);
    /* The client has been idle longer than idle_timeout_ms: drop it or not. */
    void (*on_idle)(client *c);
} protocol;

struct client {
    server *srv;
    protocol *proto;
    uv_poll_t poll;
    int fd;
    bool ro, tls, handshaken, closing, close_after_flush;
    bool verify_peer;
    bool tls_ro;     /* TLS: read-only once the handshake is done (tls_readonly) */
    bool counted_ro; /* counted in proto->nro */
    bool lingering;  /* the last response sent, write side shut, input discarded until the client closes */
    int events;      /* what the poll handle waits for now */
    gnutls_session_t session;
    struct ucred cred;
    bool have_cred;
    char peer[128];
    char *in;
    size_t inlen, incap;
    char *out;
    size_t outlen, outoff;
    shared_buf *body; /* sent after out (a reference to a shared buffer) */
    size_t bodyoff;
    /* Connected at, or when the protocol starts the idle time again (a response sent). */
    uint64_t since_ns;
    struct client *next, *prev;
    /* The protocol's state follows (proto->state_size bytes): client_state. */
};

/* The protocol's state of @c (proto->state_size bytes after the client). */
static inline void *client_state(client *c) {
    return c + 1;
}

/* A new client of @p on @fd (with its protocol state, zeroed), not yet started; NULL without memory. */
client *client_new(server *srv, protocol *p, int fd);
/* Start serving a client made by client_new, accepted on the listener named @where. */
void client_start(client *c, const char *where);
/* Drop a client, with a reason for the log (NULL: it just left); one never started (the
 * fuzzer's) is only marked closing. */
void client_drop(client *c, const char *why);
/* Append to c->out; -1 when the client was dropped (over OUT_LIMIT, out of memory). */
int client_queue(client *c, const char *buf, size_t len);
/* Whether anything queued is still to be sent. */
bool client_sending(const client *c);
/* Whether nothing more is to be read from (or answered for) @c until it reads its replies: its own
 * queue is over its protocol's out_pause, or all clients' is over max_queued_bytes and it has some. */
bool client_paused(const client *c);
/* Shut the write side, and read and throw away the input until the client closes (or a second
 * passes): closing with the input unread would reset the connection, and the reset can destroy
 * the last response before the client reads it. */
void client_linger(client *c);
/* The sweep of idle clients, started with the first client (before the loop runs). */
void clients_init(server *srv);
/* Drop every client, and stop the sweep (at shutdown). */
void clients_stop(server *srv);
