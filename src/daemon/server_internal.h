/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's internal types, shared by the I/O side (server.c) and the protocol side
 * (dispatch.c, which the fuzzer drives without sockets). */
#pragma once

#include <gnutls/gnutls.h>
#include <sys/socket.h>
#include <uv.h>

#include "daemon.h"
#include "rpc/wire.h"

#define OUT_LIMIT (64u << 20) /* a client that does not read its replies is dropped past this */

typedef struct server server;

typedef struct listener {
    server *srv;
    uv_poll_t poll;
    int fd;
    bool ro, tls, tcp;
    char *path; /* unix socket path, unlinked at exit */
    char *name;
} listener;

typedef struct client {
    server *srv;
    uv_poll_t poll;
    int fd;
    bool ro, opened, tls, handshaken, closing, close_after_flush;
    int events; /* what the poll handle waits for now */
    gnutls_session_t session;
    struct ucred cred;
    bool have_cred;
    char peer[128];
    char *in;
    size_t inlen, incap;
    char *out;
    size_t outlen, outoff;
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
    uniRecordPtr cache;
    uv_timer_t sample_timer, sweep_timer;
    /* The HealthLog of a local source: a commit by uni-healthd triggers a sample (after a short
     * delay: the commit is visible a moment after the write that wakes us). */
    int hl_fd;
    uv_poll_t hl_poll;
    uv_timer_t hl_timer;
    bool hl_watching;
    uv_signal_t sigterm, sigint;
    uv_work_t work;
    bool sampling;
    uniRecordPtr work_rec;
    char *work_error;
    uint64_t work_ns;
    uint64_t samples_ok, samples_failed;
    bool failing;
    listener listeners[4];
    int nlisteners;
    client *clients;
    long nclients;
    gnutls_certificate_credentials_t tls_cred;
    gnutls_priority_t tls_prio;
    pthread_mutex_t cache_lock; /* the cache is swapped by the loop and read by /metrics */
    uint64_t cache_gen;
    /* The domains and their records, sampled with the host record (the loop swaps them in). */
    uni_domain_info *dom_list, *work_dom_list;
    size_t ndom_list, work_ndom_list;
    uni_domain_stats *doms, *work_doms;
    size_t ndoms, work_ndoms;
    metrics_http *metrics;
    /* Sample now rather than at the next tick, after a control call changed the host, so that
     * the cache shows the change soon (server.c sets it; NULL under the fuzzer). */
    void (*sample_soon)(server *srv);
};

/* Resolve "ADDR:PORT" or "[V6]:PORT" for listening; NULL (logged, naming @what) when it is not one.
 * ret_host (may be NULL) gets the host part, to be freed. */
struct addrinfo *resolve_listen(const char *spec, const char *what, char **ret_host);

/* metrics_http.c: NULL when off (or the default address is taken), METRICS_HTTP_FAILED when an
 * address that was asked for cannot be served. */
metrics_http *metrics_http_start(server *srv);
void metrics_http_stop(metrics_http *m);


/* dispatch.c: the connection HealthLog queries go through (opened when first needed), or NULL
 * with the last error set. */
uniConnectPtr server_query_conn(server *srv);
/* server.c (or the fuzzer): drop a client, with a reason for the log (NULL: it just left). */
void client_drop(client *c, const char *why);
/* dispatch.c: answer every complete message in c->in, queueing replies in c->out; -1 when the
 * client was dropped (bad length, malformed header, not a call). */
int consume_input(client *c);
/* dispatch.c: log every write of a control call, with its caller (the library's audit hook). */
void dispatch_audit_setup(void);

