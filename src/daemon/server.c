/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's server: samples its source into a cache every interval (in a sampler thread,
 * sampler.c), listens on the read-write and read-only unix sockets (and TLS or loopback TCP when
 * asked) and on /metrics' port (listen.c), and answers every client from the cache, so a hundred
 * clients cost what one does (client.c, with each listener's protocol). One libuv loop; this file
 * wires them together, and starts and stops them. */
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <uv.h>

#include "drivers/local/local_driver.h"
#include "drivers/remote/remote.h"
#include "server_internal.h"

static void stop_all(server *srv) {
    clients_stop(srv);
    listeners_stop(srv);
    sampler_unwatch_healthlog(srv);
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
    uv_close((uv_handle_t *)&srv->sigint, NULL);
}

/* The fds in use now (the source's kept-open files, the listeners). */
static long fds_in_use(void) {
    _cleanup_closedir_ DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    long n = 0;
    if (!d)
        return 64;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    return n;
}

/* Every client is an fd: the soft limit goes up to the hard one, and the client limits come down
 * to what is left of it (a margin kept for the source's files: VMs come and go), so that a full
 * house is refused by a limit, not met by EMFILE. */
static void fit_fd_limit(server *srv) {
    struct rlimit rl;
    long avail, want, http = srv->metrics ? srv->metrics->max_clients : 0;
    protocol *p = &srv->rpc;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    avail = (rl.rlim_cur > 1L << 30 ? 1L << 30 : (long)rl.rlim_cur) - fds_in_use() - 64;
    want = p->max_clients + http;
    if (want <= avail)
        return;
    if (avail < 4)
        avail = 4;
    if (http) {
        http = http * avail / want > 1 ? http * avail / want : 1;
        srv->metrics->max_clients = http;
    }
    p->max_clients = avail - http > 2 ? avail - http : 2;
    log_warning("the file descriptor limit is %ld: max_clients lowered to %ld%s", (long)rl.rlim_cur, p->max_clients,
                http ? " and metrics_max_clients in proportion" : "");
}

/* The read-only socket's share leaves at least a quarter of max_clients (and one) to the others. */
static void keep_reserve(protocol *p) {
    long reserve = p->max_clients / 4 > 1 ? p->max_clients / 4 : 1;
    if (p->max_ro > p->max_clients - reserve) {
        p->max_ro = p->max_clients - reserve;
        log_info("max_ro_clients is %ld: %ld clients are kept for the read-write socket", p->max_ro, reserve);
    }
}

static void on_signal(uv_signal_t *s, int signum) {
    server *srv = s->data;
    log_info("%s: shutting down", strsignal(signum));
    stop_all(srv);
}

/* The ledger: a daemon without one still serves, its availability and energy windows absent with
 * the reason (an unwritable state directory, another daemon's ledger). */
static void ledger_start(server *srv) {
    const config *cfg = srv->cfg;
    bool damaged = false;
    /* Two good samples further apart than this are not one span: the sampler skips ticks when a
     * sample overruns (QMP deadlines), so a few intervals and two seconds. */
    int64_t gap = 3 * (int64_t)cfg->interval_ms + 2000;
    /* A remote source's energy counter is as old as that daemon's connection, not ours. */
    bool fresh = !startswith(cfg->source_uri, "uniserver+");

    if (ledger_file_open(&srv->ledger, cfg->state_dir, gap, cfg->ledger_sync_ms, fresh, &damaged) < 0)
        log_warning("no ledger: %s (host.availability.* and host.energy.1h_kwh, 24h_kwh are absent)", srv->ledger.why);
    else if (damaged)
        log_error("the ledger %s/ledger was damaged: kept as ledger.damaged, a new one begins now", cfg->state_dir);
    else if (srv->ledger.l.since_ms)
        log_info("ledger %s/ledger: since %lld ms, %zu spans served, %.6f kWh measured", cfg->state_dir,
                 (long long)srv->ledger.l.since_ms, srv->ledger.l.nspans, srv->ledger.l.kwh);
}

static void ledger_stop(server *srv) {
    int r;
    if (srv->ledger.lock_fd >= 0 && (r = ledger_file_save(&srv->ledger, uni_clock_wall_ms(), true)) < 0)
        log_warning("cannot save the ledger at stop: %s", strerror(-r));
    ledger_file_close(&srv->ledger);
}

int server_run(const config *cfg) {
    server srv_, *srv = &srv_;
    int rc = 1;

    memset(srv, 0, sizeof(*srv));
    srv->cfg = cfg;
    srv->hl_fd = srv->run_fd = srv->lock_fd = srv->pid_fd = -1;
    srv->ledger.lock_fd = srv->ledger.dir_fd = -1;
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
    ledger_start(srv);
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
    fit_fd_limit(srv);
    keep_reserve(&srv->rpc);
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
    ledger_stop(srv);
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
