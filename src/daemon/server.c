/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's server: samples its source into a cache every interval (in a sampler thread,
 * sampler.c), listens on the read-write and read-only unix sockets (and TLS or loopback TCP when
 * asked) and on /metrics' port (listen.c), and answers every client from the cache, so a hundred
 * clients cost what one does (client.c, with each listener's protocol). One libuv loop; this file
 * wires them together, and starts and stops them. */
#include <signal.h>
#include <sys/stat.h>
#include <uv.h>

#include "drivers/remote/remote.h"
#include "server_internal.h"

static void stop_all(server *srv) {
    clients_stop(srv);
    listeners_stop(srv);
    sampler_unwatch_healthlog(srv);
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
    uv_close((uv_handle_t *)&srv->sigint, NULL);
}

static void on_signal(uv_signal_t *s, int signum) {
    server *srv = s->data;
    log_info("%s: shutting down", strsignal(signum));
    stop_all(srv);
}

int server_run(const config *cfg) {
    server srv_, *srv = &srv_;
    int rc = 1;

    memset(srv, 0, sizeof(*srv));
    srv->cfg = cfg;
    srv->hl_fd = srv->run_fd = srv->lock_fd = srv->pid_fd = -1;
    srv->loop = uv_default_loop();
    signal(SIGPIPE, SIG_IGN);
    /* The instance lock first, then the pid file: a second daemon is refused before it touches
     * anything of the first one's. */
    if (runtime_dir_open(srv, cfg->runtime_dir) < 0 ||
        (cfg->pid_file && (srv->pid_fd = pid_file_acquire(cfg->pid_file)) < 0))
        goto out;
    srv->source = uniConnectOpen(cfg->source_uri, 0);
    if (!srv->source) {
        log_error("cannot open %s: %s", cfg->source_uri, uniGetLastError()->message);
        goto out;
    }
    dispatch_audit_setup();
    if (sampler_first(srv) < 0)
        goto out;
    rpc_protocol_init(&srv->rpc, cfg);
    if (listen_unix(srv, &srv->rpc, cfg->runtime_dir, UNI_SOCK_RW, false) < 0 ||
        listen_unix(srv, &srv->rpc, cfg->runtime_dir, UNI_SOCK_RO, true) < 0)
        goto out;
    if (cfg->listen_tls && (listen_tls_setup(srv) < 0 || listen_inet(srv, &srv->rpc, cfg->listen_tls, true) < 0))
        goto out;
    if (cfg->listen_tcp) {
        if (!cfg->insecure_tcp) {
            log_error("listen_tcp needs insecure_tcp = yes (--insecure-tcp): plain TCP has no authentication");
            goto out;
        }
        if (listen_inet(srv, &srv->rpc, cfg->listen_tcp, false) < 0)
            goto out;
    }
    srv->metrics = metrics_start(srv);
    if (srv->metrics == PROTOCOL_FAILED)
        goto out;
    listeners_start(srv);
    if (sampler_start(srv) < 0)
        goto out;
    clients_init(srv);
    sampler_watch_healthlog(srv);
    uv_signal_init(srv->loop, &srv->sigterm);
    srv->sigterm.data = srv;
    uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
    uv_signal_init(srv->loop, &srv->sigint);
    srv->sigint.data = srv;
    uv_signal_start(&srv->sigint, on_signal, SIGINT);
    log_info("uniserverd ready: sampling %s every %ld ms", cfg->source_uri, cfg->interval_ms);
    uv_run(srv->loop, UV_RUN_DEFAULT);
    rc = 0;
out:
    sampler_stop(srv);
    metrics_stop(srv->metrics);
    listeners_free(srv);
    sampler_free(srv);
    uniConnectClose(srv->source);
    uniConnectClose(srv->query);
    uv_loop_close(srv->loop);
    if (cfg->pid_file)
        pid_file_release(cfg->pid_file, srv->pid_fd);
    closep(&srv->lock_fd);
    closep(&srv->run_fd);
    return rc;
}
