/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's internal types, shared by the I/O side (server.c), the sampler (sampler.c) and the protocol sides: the
 * wire protocol (dispatch.c, which the fuzzer drives without sockets) and HTTP (metrics_http.c). */
#pragma once

#include <gnutls/gnutls.h>
#include <sys/socket.h>
#include <pthread.h>
#include <uv.h>

#include "daemon.h"
#include "rpc/wire.h"
#include "sampler.h"

#define OUT_LIMIT (64u << 20) /* a client that does not read its replies is dropped past this */
#define HTTP_HEADER_MAX 8192  /* an HTTP request's line and headers; larger is answered 431 */

/* A rendering of /metrics, shared by the clients still sending it and the cache of renderings. */
typedef struct http_body {
    unsigned refs;
    size_t len;
    char *data;
} http_body;

typedef struct server server;

typedef struct listener {
    server *srv;
    uv_poll_t poll;
    int fd;
    bool ro, tls, tcp;
    bool http;        /* /metrics (metrics_http.c), not the wire protocol */
    bool verify_peer; /* TLS: require a client certificate that chains to the CA */
    gnutls_certificate_credentials_t cred;
    gnutls_priority_t prio;
    char *path; /* unix socket path, unlinked at exit */
    char *name;
} listener;

typedef struct client {
    server *srv;
    uv_poll_t poll;
    int fd;
    bool ro, opened, tls, handshaken, closing, close_after_flush;
    bool http, verify_peer;
    bool lingering; /* HTTP: response sent, write side shut, input discarded until the client closes */
    int events;     /* what the poll handle waits for now */
    gnutls_session_t session;
    struct ucred cred;
    bool have_cred;
    char peer[128];
    char *in;
    size_t inlen, incap;
    char *out;
    size_t outlen, outoff;
    http_body *body; /* HTTP: sent after out (a reference to a shared rendering) */
    size_t bodyoff;
    uint64_t discard; /* HTTP: bytes of a request body still to skip */
    /* Connected at; for HTTP, the last response sent (a request must come within idle_timeout_ms). */
    uint64_t since_ns;
    struct client *next, *prev;
} client;

typedef struct metrics_http metrics_http;
#define METRICS_HTTP_FAILED ((metrics_http *)-1)

struct server {
    const config *cfg;
    uv_loop_t *loop;
    uniConnectPtr source;
    uniConnectPtr query; /* a second connection to the source for HealthLog queries (the loop's) */
    sample cache;        /* the sample clients read: host record, domains and their records */
    uv_timer_t sweep_timer;
    /* The HealthLog of a local source: a commit by uni-healthd triggers a sample (after a short
     * delay: the commit is visible a moment after the write that wakes us). */
    int hl_fd;
    uv_poll_t hl_poll;
    uv_timer_t hl_timer;
    bool hl_watching;
    uv_signal_t sigterm, sigint;
    /* The sampler thread: samples every interval (or at once when asked), finishes the sample
     * and leaves it pending; the loop adopts the pending sample when a client next reads the
     * cache (server_adopt). A sample costs the loop no wakeup. */
    pthread_t sampler;
    bool sampler_running;
    pthread_mutex_t sample_lock;
    pthread_cond_t sample_cond;
    bool sample_stop, sample_asked; /* under sample_lock */
    sample pend;                    /* under sample_lock: a finished sample (pend.rec set), or none */
    sample work;                    /* the sample being made (the sampler's own) */
    char *work_error;
    uint64_t work_ns;
    uint64_t samples_ok, samples_failed;
    bool failing;
    listener listeners[6];
    int nlisteners;
    client *clients;
    long nclients, nhttp; /* wire-protocol clients, HTTP clients (each with its own maximum) */
    gnutls_certificate_credentials_t tls_cred;
    gnutls_priority_t tls_prio;
    uint64_t cache_gen; /* counts the cache's swaps: /metrics renders again when it moved */
    metrics_http *metrics;
    /* Sample now rather than at the next tick, after a control call changed the host, so that
     * the cache shows the change soon (sampler.c sets it; NULL under the fuzzer). */
    void (*sample_soon)(server *srv);
    /* Take the newest finished sample into the cache, if there is one: called on the loop before
     * reading the cache (NULL under the fuzzer). */
    void (*adopt)(server *srv);
};

/* Resolve "ADDR:PORT" or "[V6]:PORT" for listening; NULL (logged, naming @what) when it is not one.
 * ret_host (may be NULL) gets the host part, to be freed. */
struct addrinfo *resolve_listen(const char *spec, const char *what, char **ret_host);
/* server.c: a non-blocking TCP socket listening on @res's address (SO_REUSEADDR), or -errno. */
int listen_tcp_socket(const struct addrinfo *res);
/* server.c: a new listener slot (zeroed but for srv and fd), or NULL when all are taken. */
listener *server_add_listener(server *srv, int fd);

/* metrics_http.c: NULL when off (or the default address is taken), METRICS_HTTP_FAILED when an
 * address that was asked for cannot be served. Adds its listener to srv's. */
metrics_http *metrics_http_start(server *srv);
void metrics_http_stop(metrics_http *m);
/* metrics_http.c: answer the request at the head of c->in, if it is complete and no response is
 * in flight (one at a time: pipelined requests are answered in order, each once the previous one
 * is sent); -1 when the client was dropped. */
int http_consume(client *c);
void http_body_unref(http_body *b);


/* dispatch.c: the connection HealthLog queries go through (opened when first needed), or NULL
 * with the last error set. */
uniConnectPtr server_query_conn(server *srv);
/* server.c (or the fuzzer): drop a client, with a reason for the log (NULL: it just left). */
void client_drop(client *c, const char *why);
/* dispatch.c: append to c->out; -1 when the client was dropped (over OUT_LIMIT, out of memory). */
int client_queue(client *c, const char *buf, size_t len);
/* dispatch.c: answer every complete message in c->in, queueing replies in c->out; -1 when the
 * client was dropped (bad length, malformed header, not a call). */
int consume_input(client *c);
/* dispatch.c: log every write of a control call, with its caller (the library's audit hook). */
void dispatch_audit_setup(void);

