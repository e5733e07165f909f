/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's server: samples its source into a cache every interval (in a sampler thread,
 * sampler.c), listens on the read-write and read-only unix sockets (and TLS or loopback TCP when
 * asked) and on /metrics' HTTP port, and answers every client from the cache, so a hundred
 * clients cost what one does. One libuv loop; a client that sends garbage, too much, or nothing
 * is dropped alone. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <uv.h>

#include "drivers/remote/remote.h"
#include "server_internal.h"
#include "util/gnutls_dl.h"


/* ---------------------------------------------------------------------------------------------
 * Clients
 * ------------------------------------------------------------------------------------------- */

static void on_sweep(uv_timer_t *t);

static void client_free_cb(uv_handle_t *h) {
    client *c = h->data;
    if (c->session)
        gnutls_deinit(c->session);
    http_body_unref(c->body);
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

void client_drop(client *c, const char *why) {
    server *srv = c->srv;
    if (c->closing)
        return;
    c->closing = true;
    if (why)
        log_info("client %s dropped: %s", c->peer, why);
    else
        log_debug("client %s disconnected", c->peer);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->http)
        srv->nhttp--;
    else
        srv->nclients--;
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, client_free_cb);
}

static void on_client_event(uv_poll_t *p, int status, int events);

static bool sending(const client *c) {
    return c->outlen > c->outoff || c->body;
}

static void update_events(client *c) {
    int ev = 0;
    /* An HTTP client's next request is read once the response to its last one is sent, so one
     * that pipelines without reading its responses holds one response, not all of them. */
    if (!(c->http && sending(c)))
        ev |= UV_READABLE | UV_DISCONNECT;
    if (sending(c) || (c->tls && !c->handshaken && gnutls_record_get_direction(c->session) == 1))
        ev |= UV_WRITABLE;
    /* Only tell epoll when the interest changes: a syscall saved on every reply. */
    if (ev != c->events) {
        uv_poll_start(&c->poll, ev, on_client_event);
        c->events = ev;
    }
}

/* Write from @a, then @b (an HTTP response's head and body: one syscall for both). */
static ssize_t raw_write(client *c, const char *a, size_t alen, const char *b, size_t blen) {
    if (c->tls) {
        ssize_t k = alen ? gnutls_record_send(c->session, a, alen) : gnutls_record_send(c->session, b, blen);
        if (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED)
            return -EAGAIN;
        return k < 0 ? -EPIPE : k;
    }
    {
        struct iovec iov[2] = {{.iov_base = (void *)a, .iov_len = alen}, {.iov_base = (void *)b, .iov_len = blen}};
        struct msghdr mh = {.msg_iov = alen ? iov : iov + 1, .msg_iovlen = alen && blen ? 2 : 1};
        ssize_t k = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        return k < 0 ? -errno : k;
    }
}

static ssize_t raw_read(client *c, char *buf, size_t len) {
    if (c->tls) {
        ssize_t k = gnutls_record_recv(c->session, buf, len);
        if (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED)
            return -EAGAIN;
        return k < 0 ? -ECONNRESET : k;
    }
    {
        ssize_t k = recv(c->fd, buf, len, MSG_DONTWAIT);
        return k < 0 ? -errno : k;
    }
}

/* Write what is queued (c->out, then an HTTP body); -1 when the client was dropped. */
static int flush(client *c) {
    bool was_sending = sending(c);
    while (sending(c)) {
        size_t hl = c->outlen - c->outoff, bl = c->body ? c->body->len - c->bodyoff : 0;
        ssize_t k = raw_write(c, c->out + c->outoff, hl, c->body ? c->body->data + c->bodyoff : NULL, bl);
        if (k == -EAGAIN || k == -EINTR)
            break;
        if (k <= 0) {
            client_drop(c, NULL);
            return -1;
        }
        if ((size_t)k <= hl)
            c->outoff += (size_t)k;
        else {
            c->outoff = c->outlen;
            c->bodyoff += (size_t)k - hl;
        }
        if (c->outoff == c->outlen && (!c->body || c->bodyoff == c->body->len)) {
            c->outoff = c->outlen = 0;
            http_body_unref(c->body);
            c->body = NULL;
            c->bodyoff = 0;
        }
    }
    if (!sending(c)) {
        c->outoff = c->outlen = 0;
        if (c->close_after_flush && !c->http) {
            client_drop(c, NULL);
            return -1;
        }
        if (c->close_after_flush && !c->lingering) {
            /* Closing with the client's input unread would reset the connection, and the reset
             * can destroy the response before the client reads it (RFC 9112, 9.6): the write
             * side is shut, and the rest is read and thrown away until the client closes. */
            shutdown(c->fd, SHUT_WR);
            c->lingering = true;
            c->inlen = 0;
            c->since_ns = now_ns();
        } else if (c->http && was_sending)
            c->since_ns = now_ns(); /* a response sent: the idle time starts again */
    }
    update_events(c);
    return 0;
}

/* Room for the next read; -1 when the client's input may not grow any more. HTTP input grows
 * a kilobyte at a time, up to the request-header limit (http_consume answers 431 there). */
static int input_room(client *c) {
    size_t step = c->http ? 1024 : 65536, max = c->http ? HTTP_HEADER_MAX : (size_t)c->srv->cfg->max_call_bytes + 65536;
    size_t nc;
    char *n;
    if (c->http ? c->inlen < c->incap : c->incap - c->inlen >= step)
        return 0;
    nc = c->incap ? c->incap * 2 : step;
    if (nc > max)
        nc = max;
    if (nc <= c->incap)
        return -1;
    n = realloc(c->in, nc);
    if (!n)
        return -1;
    c->in = n;
    c->incap = nc;
    return 0;
}

static void on_readable(client *c) {
    for (;;) {
        ssize_t k;
        if (c->lingering) {
            char junk[4096];
            k = raw_read(c, junk, sizeof(junk));
            if (k == -EAGAIN || k == -EINTR)
                break;
            if (k <= 0) {
                client_drop(c, NULL);
                return;
            }
            continue;
        }
        if (c->http) {
            /* The request already here first; while its response is in flight, nothing more is
             * read (update_events stops asking). */
            if (http_consume(c) < 0)
                return;
            if (sending(c)) {
                if (flush(c) < 0 || sending(c))
                    return;
                continue;
            }
        }
        if (input_room(c) < 0) {
            client_drop(c, "input buffer full");
            return;
        }
        k = raw_read(c, c->in + c->inlen, c->incap - c->inlen);
        if (k == -EAGAIN || k == -EINTR)
            break;
        if (k <= 0) {
            client_drop(c, k == 0 || k == -ECONNRESET ? NULL : "read error");
            return;
        }
        c->inlen += (size_t)k;
        if (!c->http && consume_input(c) < 0)
            return;
    }
    flush(c);
}

static void on_client_event(uv_poll_t *p, int status, int events) {
    client *c = p->data;
    if (status < 0 || (events & UV_DISCONNECT && !(events & UV_READABLE))) {
        client_drop(c, NULL);
        return;
    }
    if (c->tls && !c->handshaken) {
        int r = gnutls_handshake(c->session);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
            update_events(c);
            return;
        }
        if (r < 0) {
            char why[256];
            snprintf(why, sizeof(why), "TLS handshake failed: %s", gnutls_strerror(r));
            client_drop(c, why);
            return;
        }
        if (c->verify_peer) {
            unsigned st = 0;
            if (gnutls_certificate_verify_peers2(c->session, &st) < 0 || st != 0) {
                client_drop(c, "TLS client certificate not trusted");
                return;
            }
            log_info("client %s: TLS established, client certificate verified", c->peer);
        } else
            log_debug("client %s: TLS established", c->peer);
        c->handshaken = true;
    }
    if (events & UV_WRITABLE && flush(c) < 0)
        return;
    /* Once an HTTP response is sent, the next request may be waiting in c->in or in GnuTLS's
     * buffer, where no readiness event would announce it. */
    if (events & UV_READABLE || (c->http && !sending(c)))
        on_readable(c);
    else
        update_events(c);
}

static void on_accept(uv_poll_t *p, int status, int events) {
    listener *l = p->data;
    server *srv = l->srv;
    (void)events;
    if (status < 0)
        return;
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof(sa);
        int fd = accept4(l->fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        client *c;
        if (fd < 0)
            return;
        if (l->http ? srv->nhttp >= srv->cfg->metrics_max_clients : srv->nclients >= srv->cfg->max_clients) {
            log_warning("refusing a client on %s: %ld clients already (%s)", l->name, l->http ? srv->nhttp : srv->nclients,
                        l->http ? "metrics_max_clients" : "max_clients");
            close(fd);
            continue;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->srv = srv;
        c->fd = fd;
        c->ro = l->ro;
        c->tls = l->tls;
        c->http = l->http;
        c->verify_peer = l->verify_peer;
        c->since_ns = now_ns();
        if (!l->tcp) {
            socklen_t cl = sizeof(c->cred);
            c->have_cred = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &cl) == 0;
            snprintf(c->peer, sizeof(c->peer), "%s pid %d uid %d", l->ro ? "ro" : "rw", c->have_cred ? (int)c->cred.pid : -1,
                     c->have_cred ? (int)c->cred.uid : -1);
        } else {
            char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";
            int one = 1;
            getnameinfo((struct sockaddr *)&sa, sl, host, sizeof(host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
            snprintf(c->peer, sizeof(c->peer), "%s %s:%s", l->http ? (l->tls ? "https" : "http") : l->tls ? "tls" : "tcp", host,
                     port);
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        if (c->tls) {
            if (gnutls_init(&c->session, GNUTLS_SERVER | GNUTLS_NONBLOCK) < 0) {
                close(fd);
                free(c);
                continue;
            }
            gnutls_priority_set(c->session, l->prio);
            gnutls_credentials_set(c->session, GNUTLS_CRD_CERTIFICATE, l->cred);
            if (l->verify_peer)
                gnutls_certificate_server_set_request(c->session, GNUTLS_CERT_REQUIRE);
            gnutls_transport_set_int(c->session, fd);
        }
        uv_poll_init(srv->loop, &c->poll, fd);
        c->poll.data = c;
        if (!uv_is_active((uv_handle_t *)&srv->sweep_timer))
            uv_timer_start(&srv->sweep_timer, on_sweep, 1000, 1000);
        c->next = srv->clients;
        if (srv->clients)
            srv->clients->prev = c;
        srv->clients = c;
        if (c->http)
            srv->nhttp++;
        else
            srv->nclients++;
        log_debug("client %s connected on %s", c->peer, l->name);
        c->events = UV_READABLE | UV_DISCONNECT;
        uv_poll_start(&c->poll, c->events, on_client_event);
    }
}

/* Drop clients that connected but never opened (or never finished TLS) in time, and HTTP
 * clients that sent no complete request (slowloris), or did not read the response, in time. */
static void on_sweep(uv_timer_t *t) {
    server *srv = t->data;
    uint64_t now = now_ns(), limit = (uint64_t)srv->cfg->idle_timeout_ms * 1000000;
    if (!srv->clients) {
        uv_timer_stop(t); /* started again by the next client: an idle daemon's loop sleeps */
        return;
    }
    for (client *c = srv->clients, *n; c; c = n) {
        n = c->next;
        if (c->http) {
            if (c->lingering && now - c->since_ns > 1000000000)
                client_drop(c, NULL);
            else if (!c->lingering && now - c->since_ns > limit)
                /* A keep-alive connection that is merely idle goes quietly, as it would with any server. */
                client_drop(c, sending(c)           ? "did not read its response in time (idle_timeout_ms)"
                               : c->inlen || (c->tls && !c->handshaken) ? "sent no complete request in time (idle_timeout_ms)"
                                                                      : NULL);
        } else if (!c->opened && now - c->since_ns > limit)
            client_drop(c, "did not open a connection in time (idle_timeout_ms)");
    }
}

/* ---------------------------------------------------------------------------------------------
 * Listeners
 * ------------------------------------------------------------------------------------------- */

listener *server_add_listener(server *srv, int fd) {
    listener *l;
    if (srv->nlisteners >= (int)ELEMENTSOF(srv->listeners))
        return NULL;
    l = &srv->listeners[srv->nlisteners++];
    *l = (listener){.srv = srv, .fd = fd};
    return l;
}

static int listen_unix(server *srv, const char *dir, const char *name, bool ro) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    listener *l;
    int fd;

    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name) >= sizeof(sa.sun_path)) {
        log_error("socket path %s/%s is too long", dir, name);
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* A socket file left by a daemon that died is removed; a live daemon is not displaced. */
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN) {
        log_error("another uniserverd is listening on %s", sa.sun_path);
        close(fd);
        return -1;
    }
    close(fd);
    /* Bound, given its mode and listening under a temporary name, then renamed into place: the
     * socket never appears with the wrong mode, and a client never finds it not yet listening. */
    {
        struct sockaddr_un tmp = sa;
        char final_path[sizeof(sa.sun_path)];
        snprintf(final_path, sizeof(final_path), "%s", sa.sun_path);
        if ((size_t)snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%s.%d.tmp", final_path, (int)getpid()) >= sizeof(tmp.sun_path)) {
            log_error("socket path %s is too long", final_path);
            return -1;
        }
        unlink(tmp.sun_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&tmp, sizeof(tmp)) < 0) {
            log_error("cannot bind %s: %s", tmp.sun_path, strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        if (ro)
            chmod(tmp.sun_path, 0666);
        else if (srv->cfg->sock_group) {
            struct group *g = getgrnam(srv->cfg->sock_group);
            if (!g) {
                log_error("sock_group '%s' does not exist", srv->cfg->sock_group);
                close(fd);
                unlink(tmp.sun_path);
                return -1;
            }
            if (chown(tmp.sun_path, (uid_t)-1, g->gr_gid) < 0)
                log_warning("cannot give %s to group %s: %s", final_path, g->gr_name, strerror(errno));
            chmod(tmp.sun_path, 0660);
        } else
            chmod(tmp.sun_path, 0600);
        if (listen(fd, 128) < 0 || rename(tmp.sun_path, final_path) < 0) {
            log_error("cannot listen on %s: %s", final_path, strerror(errno));
            close(fd);
            unlink(tmp.sun_path);
            return -1;
        }
    }
    if (!(l = server_add_listener(srv, fd))) {
        close(fd);
        return -1;
    }
    l->ro = ro;
    l->path = strdup(sa.sun_path);
    l->name = strdup(sa.sun_path);
    log_info("listening on %s (%s)", sa.sun_path, ro ? "read-only" : "read-write");
    return 0;
}

static bool is_loopback(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return false;
}

struct addrinfo *resolve_listen(const char *spec, const char *what, char **ret_host) {
    _cleanup_free_ char *copy = strdup(spec);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res = NULL;
    char *host, *port;

    if (!copy)
        return NULL;
    port = strrchr(copy, ':');
    if (!port || port == copy) {
        log_error("%s '%s' is not ADDR:PORT", what, spec);
        return NULL;
    }
    *port++ = 0;
    host = copy;
    if (*host == '[' && host[strlen(host) - 1] == ']') {
        host[strlen(host) - 1] = 0;
        host++;
    }
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res) {
        log_error("cannot resolve %s '%s'", what, spec);
        return NULL;
    }
    if (ret_host && !(*ret_host = strdup(host))) {
        freeaddrinfo(res);
        return NULL;
    }
    return res;
}

int listen_tcp_socket(const struct addrinfo *res) {
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
        listen(fd, 128) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

static int listen_inet(server *srv, const char *spec, bool tls) {
    struct addrinfo *res = resolve_listen(spec, "listen address", NULL);
    listener *l;
    int fd;

    if (!res)
        return -1;
    if (!tls && !is_loopback(res->ai_addr)) {
        log_error("refusing plain TCP on %s: without TLS only a loopback address is allowed", spec);
        freeaddrinfo(res);
        return -1;
    }
    fd = listen_tcp_socket(res);
    freeaddrinfo(res);
    if (fd < 0) {
        log_error("cannot listen on %s: %s", spec, strerror(-fd));
        return -1;
    }
    if (!(l = server_add_listener(srv, fd))) {
        close(fd);
        return -1;
    }
    l->tls = tls;
    l->tcp = true;
    if (tls) {
        l->verify_peer = true;
        l->cred = srv->tls_cred;
        l->prio = srv->tls_prio;
    }
    {
        /* Report the real port (port 0 asks the kernel for a free one: tests use it). */
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        char h[INET6_ADDRSTRLEN] = "?", p[8] = "?";
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), p, sizeof(p), NI_NUMERICHOST | NI_NUMERICSERV);
        if (asprintf(&l->name, "%s %s:%s", tls ? "tls" : "tcp", h, p) < 0)
            l->name = NULL;
    }
    log_info("listening on %s%s", l->name ? l->name : spec, tls ? " (client certificates required)" : " (INSECURE, loopback)");
    return 0;
}

static int setup_tls(server *srv) {
    const config *cfg = srv->cfg;
    char ca[4096], cert[4096], key[4096];
    int r;

    snprintf(ca, sizeof(ca), "%s", cfg->tls_ca ? cfg->tls_ca : UNI_DEFAULT_PKI_DIR "/cacert.pem");
    snprintf(cert, sizeof(cert), "%s", cfg->tls_cert ? cfg->tls_cert : UNI_DEFAULT_PKI_DIR "/servercert.pem");
    snprintf(key, sizeof(key), "%s", cfg->tls_key ? cfg->tls_key : UNI_DEFAULT_PKI_DIR "/serverkey.pem");
    {
        /* GnuTLS is loaded here, not linked: a daemon without TLS never maps it. */
        char why[300];
        if (uni_gnutls_load(why, sizeof(why)) < 0) {
            log_error("TLS: %s", why);
            return -1;
        }
    }
    if (gnutls_certificate_allocate_credentials(&srv->tls_cred) < 0)
        return -1;
    if (gnutls_certificate_set_x509_trust_file(srv->tls_cred, ca, GNUTLS_X509_FMT_PEM) <= 0) {
        log_error("TLS: no CA certificate in %s", ca);
        return -1;
    }
    if ((r = gnutls_certificate_set_x509_key_file(srv->tls_cred, cert, key, GNUTLS_X509_FMT_PEM)) < 0) {
        log_error("TLS: cannot load %s with key %s: %s", cert, key, gnutls_strerror(r));
        return -1;
    }
    if (gnutls_priority_init(&srv->tls_prio, NULL, NULL) < 0)
        return -1;
    return 0;
}

static void stop_all(server *srv) {
    uv_timer_stop(&srv->sweep_timer);
    for (client *c = srv->clients, *n; c; c = n) {
        n = c->next;
        client_drop(c, NULL);
    }
    for (int i = 0; i < srv->nlisteners; i++) {
        uv_poll_stop(&srv->listeners[i].poll);
        uv_close((uv_handle_t *)&srv->listeners[i].poll, NULL);
    }
    uv_close((uv_handle_t *)&srv->sweep_timer, NULL);
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
    srv->hl_fd = -1;
    srv->loop = uv_default_loop();
    signal(SIGPIPE, SIG_IGN);
    srv->source = uniConnectOpen(cfg->source_uri, 0);
    if (!srv->source) {
        log_error("cannot open %s: %s", cfg->source_uri, uniGetLastError()->message);
        return 1;
    }
    dispatch_audit_setup();
    if (sampler_first(srv) < 0)
        goto out;
    if (mkdir(cfg->runtime_dir, 0755) < 0 && errno != EEXIST) {
        log_error("cannot create %s: %s", cfg->runtime_dir, strerror(errno));
        goto out;
    }
    if (listen_unix(srv, cfg->runtime_dir, UNI_SOCK_RW, false) < 0 || listen_unix(srv, cfg->runtime_dir, UNI_SOCK_RO, true) < 0)
        goto out;
    if (cfg->listen_tls && (setup_tls(srv) < 0 || listen_inet(srv, cfg->listen_tls, true) < 0))
        goto out;
    if (cfg->listen_tcp) {
        if (!cfg->insecure_tcp) {
            log_error("listen_tcp needs insecure_tcp = yes (--insecure-tcp): plain TCP has no authentication");
            goto out;
        }
        if (listen_inet(srv, cfg->listen_tcp, false) < 0)
            goto out;
    }
    srv->metrics = metrics_http_start(srv);
    if (srv->metrics == METRICS_HTTP_FAILED)
        goto out;
    for (int i = 0; i < srv->nlisteners; i++) {
        uv_poll_init(srv->loop, &srv->listeners[i].poll, srv->listeners[i].fd);
        srv->listeners[i].poll.data = &srv->listeners[i];
        uv_poll_start(&srv->listeners[i].poll, UV_READABLE, on_accept);
    }
    if (sampler_start(srv) < 0)
        goto out;
    uv_timer_init(srv->loop, &srv->sweep_timer);
    srv->sweep_timer.data = srv;
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
    metrics_http_stop(srv->metrics);
    for (int i = 0; i < srv->nlisteners; i++) {
        close(srv->listeners[i].fd);
        if (srv->listeners[i].path)
            unlink(srv->listeners[i].path);
        free(srv->listeners[i].path);
        free(srv->listeners[i].name);
    }
    if (srv->tls_cred)
        gnutls_certificate_free_credentials(srv->tls_cred);
    if (srv->tls_prio)
        gnutls_priority_deinit(srv->tls_prio);
    sampler_free(srv);
    uniConnectClose(srv->source);
    uniConnectClose(srv->query);
    uv_loop_close(srv->loop);
    return rc;
}
