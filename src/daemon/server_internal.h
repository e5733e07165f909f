/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's server state, shared by the I/O side (listen.c, client.c), the sampler
 * (sampler.c), the wiring (server.c) and the protocols: the wire protocol (dispatch.c, which the
 * fuzzer drives without sockets) and /metrics (metrics_http.c). */
#pragma once

#include <pthread.h>
#include <uv.h>

#include "client.h"
#include "daemon.h"
#include "ledger.h"
#include "listen.h"
#include "rpc/wire.h"
#include "sampler.h"

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
    int run_fd;  /* the runtime directory, opened and checked at start: the sockets are made in it */
    int lock_fd; /* its instance lock, held for the daemon's life */
    int pid_fd;  /* the pid file, locked, or -1 */
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
    size_t queued;           /* every client's queued output (c->out), against max_queued_bytes */
    uv_timer_t accept_timer; /* accepting again after running out of file descriptors */
    bool accept_paused;
    protocol rpc; /* the wire protocol, on the unix sockets and TLS or TCP */
    gnutls_certificate_credentials_t tls_cred;
    gnutls_priority_t tls_prio;
    uint64_t cache_gen; /* counts the cache's swaps: /metrics renders again when it moved */
    protocol *metrics;  /* /metrics' protocol (on its own listener), or NULL */
    ledger_file ledger; /* when it served and what energy it measured (the sampler's; ledger.c) */
    /* Sample now rather than at the next tick, after a control call changed the host, so that
     * the cache shows the change soon (sampler.c sets it; NULL under the fuzzer). */
    void (*sample_soon)(server *srv);
    /* Take the newest finished sample into the cache, if there is one: called on the loop before
     * reading the cache (NULL under the fuzzer). */
    void (*adopt)(server *srv);
};

#define PROTOCOL_FAILED ((protocol *)-1)

/* metrics_http.c: /metrics' protocol, NULL when off (or the default address is taken),
 * PROTOCOL_FAILED when an address that was asked for cannot be served. Adds its listener to srv's. */
protocol *metrics_start(server *srv);
void metrics_stop(protocol *p);

/* dispatch.c: the wire protocol's hooks and limits, from srv's configuration. */
void rpc_protocol_init(protocol *p, const config *cfg);
/* dispatch.c: the connection HealthLog queries go through (opened when first needed), or NULL
 * with the last error set. */
uniConnectPtr server_query_conn(server *srv);
/* dispatch.c: answer every complete message in c->in, queueing replies in c->out; -1 when the
 * client was dropped (bad length, malformed header, not a call). */
int consume_input(client *c);
/* dispatch.c: log every write of a control call, with its caller (the library's audit hook). */
void dispatch_audit_setup(void);
