/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's clients: their input and output buffers, reading, writing (over TLS when their
 * listener has it) and queueing, dropping, and the sweep of idle ones; what they say is their
 * protocol's (client.h). A client that sends garbage, too much, or nothing is dropped alone. */
#include <fnmatch.h>
#include <malloc.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <uv.h>

#include "server_internal.h"

void shared_buf_unref(shared_buf *b) {
    if (b && --b->refs == 0) {
        free(b->data);
        free(b);
    }
}

static void on_sweep(uv_timer_t *t);

static void client_free_cb(uv_handle_t *h) {
    client *c = h->data;
    if (c->session)
        gnutls_deinit(c->session);
    shared_buf_unref(c->body);
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
    if (!c->poll.loop)
        return; /* never started (the fuzzer's): not on the loop or the list */
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->proto->nclients--;
    if (c->counted_ro)
        c->proto->nro--;
    srv->queued -= c->outlen - c->outoff;
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, client_free_cb);
}

int client_queue(client *c, const char *buf, size_t len) {
    /* Past out_pause nothing more is answered (client_paused), so this is reached only by one
     * reply larger than the whole bound. */
    char *n;
    if (c->outlen - c->outoff + len > OUT_LIMIT) {
        client_drop(c, "does not read its replies (output queue over 64 MiB)");
        return -1;
    }
    if (c->outoff > 0 && c->outoff == c->outlen)
        c->outoff = c->outlen = 0;
    n = realloc(c->out, c->outlen + len);
    if (!n) {
        client_drop(c, "out of memory");
        return -1;
    }
    c->out = n;
    memcpy(c->out + c->outlen, buf, len);
    c->outlen += len;
    c->srv->queued += len;
    return 0;
}

bool client_paused(const client *c) {
    size_t mine = c->outlen - c->outoff;
    if (!mine)
        return false;
    return (c->proto->out_pause && mine >= c->proto->out_pause) ||
           (c->srv->cfg && c->srv->queued > (size_t)c->srv->cfg->max_queued_bytes);
}

static void on_client_event(uv_poll_t *p, int status, int events);

bool client_sending(const client *c) {
    return c->outlen > c->outoff || c->body;
}

static void update_events(client *c) {
    int ev = 0;
    /* A serial protocol's next request is read once the response to its last one is sent, so a
     * client that pipelines without reading its responses holds one response, not all of them. */
    if (!(c->proto->serial && client_sending(c)) && !client_paused(c))
        ev |= UV_READABLE | UV_DISCONNECT;
    if (client_sending(c) || (c->tls && !c->handshaken && gnutls_record_get_direction(c->session) == 1))
        ev |= UV_WRITABLE;
    /* Only tell epoll when the interest changes: a syscall saved on every reply. */
    if (ev != c->events) {
        uv_poll_start(&c->poll, ev, on_client_event);
        c->events = ev;
    }
}

/* Write from @a, then @b (a response's head and shared body: one syscall for both). */
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

void client_linger(client *c) {
    /* Closing with the client's input unread would reset the connection, and the reset
     * can destroy the response before the client reads it (RFC 9112, 9.6): the write
     * side is shut, and the rest is read and thrown away until the client closes. */
    shutdown(c->fd, SHUT_WR);
    c->lingering = true;
    c->inlen = 0;
    c->since_ns = now_ns();
}

/* Write what is queued (c->out, then a shared body); -1 when the client was dropped. */
static int flush(client *c) {
    bool was_sending = client_sending(c);
    while (client_sending(c)) {
        size_t hl = c->outlen - c->outoff, bl = c->body ? c->body->len - c->bodyoff : 0;
        ssize_t k = raw_write(c, c->out + c->outoff, hl, c->body ? c->body->data + c->bodyoff : NULL, bl);
        if (k == -EAGAIN || k == -EINTR)
            break;
        if (k <= 0) {
            client_drop(c, NULL);
            return -1;
        }
        c->since_ns = now_ns(); /* it reads: not idle */
        if ((size_t)k <= hl) {
            c->outoff += (size_t)k;
            c->srv->queued -= (size_t)k;
        } else {
            c->srv->queued -= hl;
            c->outoff = c->outlen;
            c->bodyoff += (size_t)k - hl;
        }
        if (c->outoff == c->outlen && (!c->body || c->bodyoff == c->body->len)) {
            c->outoff = c->outlen = 0;
            shared_buf_unref(c->body);
            c->body = NULL;
            c->bodyoff = 0;
        }
    }
    if (!client_sending(c)) {
        c->outoff = c->outlen = 0;
        if (c->proto->on_flushed(c, was_sending) < 0)
            return -1;
    }
    update_events(c);
    return 0;
}

/* Room for the next read; -1 when the client's input may not grow any more (the protocol's
 * in_max: a serial protocol answers the request that does not fit, and closes). */
static int input_room(client *c) {
    const protocol *p = c->proto;
    size_t nc;
    char *n;
    if (c->incap - c->inlen >= p->in_room)
        return 0;
    nc = c->incap ? c->incap * 2 : p->in_step;
    if (nc > p->in_max)
        nc = p->in_max;
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
        if (c->proto->serial) {
            /* The request already here first; while its response is in flight, nothing more is
             * read (update_events stops asking). */
            if (c->proto->consume(c) < 0)
                return;
            if (client_sending(c)) {
                if (flush(c) < 0 || client_sending(c))
                    return;
                continue;
            }
        } else {
            /* What was left unanswered while the client did not read, first; while it still does
             * not, nothing more is read or answered (update_events stops asking). */
            if (c->inlen && !client_paused(c) && c->proto->consume(c) < 0)
                return;
            if (client_paused(c)) {
                if (flush(c) < 0 || client_paused(c))
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
        if (!c->proto->serial && c->proto->consume(c) < 0)
            return;
    }
    flush(c);
}

/* A TLS client's certificate: signed by the CA, meant for a client (a server's certificate from
 * the same CA is no client's), and its DN on tls_allowed_dn_list when there is one. */
static int tls_check_client(client *c, char *dn, size_t dnlen, char *why, size_t whylen) {
    gnutls_typed_vdata_st purpose = {.type = GNUTLS_DT_KEY_PURPOSE_OID, .data = (void *)GNUTLS_KP_TLS_WWW_CLIENT};
    const char *list = c->srv->cfg->tls_allowed_dn_list;
    const gnutls_datum_t *certs;
    gnutls_x509_crt_t crt = NULL;
    unsigned st = 0, n = 0;
    size_t len = dnlen;
    int r;

    if (gnutls_certificate_verify_peers(c->session, &purpose, 1, &st) < 0 || st != 0) {
        snprintf(why, whylen, "TLS client certificate not trusted%s",
                 st & GNUTLS_CERT_PURPOSE_MISMATCH ? " (not meant for a client: its key purpose)" : "");
        return -1;
    }
    if (!(certs = gnutls_certificate_get_peers(c->session, &n)) || n == 0 || gnutls_x509_crt_init(&crt) < 0) {
        snprintf(why, whylen, "TLS client certificate unreadable");
        return -1;
    }
    r = gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER);
    if (r >= 0)
        r = gnutls_x509_crt_get_dn(crt, dn, &len);
    gnutls_x509_crt_deinit(crt);
    if (r < 0) {
        snprintf(why, whylen, "TLS client certificate's DN unreadable");
        return -1;
    }
    if (!list)
        return 0;
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, ";");
        char pat[512];
        snprintf(pat, sizeof(pat), "%.*s", (int)k, p);
        if (*pat && fnmatch(pat, dn, 0) == 0)
            return 0;
        p += k + (p[k] == ';');
    }
    snprintf(why, whylen, "TLS client certificate %.256s is not on tls_allowed_dn_list", dn);
    return -1;
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
            char why[512], dn[256] = "";
            if (tls_check_client(c, dn, sizeof(dn), why, sizeof(why)) < 0) {
                client_drop(c, why);
                return;
            }
            log_info("client %s: TLS established, client certificate %s verified%s", c->peer, dn,
                     c->ro ? " (read-only: tls_readonly)" : "");
        } else
            log_debug("client %s: TLS established", c->peer);
        c->handshaken = true;
    }
    if (events & UV_WRITABLE && flush(c) < 0)
        return;
    /* Once a serial protocol's response is sent, the next request may be waiting in c->in or in
     * GnuTLS's buffer, where no readiness event would announce it. */
    if (events & UV_READABLE || (c->proto->serial && !client_sending(c)) ||
        (!c->proto->serial && c->inlen && !client_paused(c)))
        on_readable(c);
    else
        update_events(c);
}

client *client_new(server *srv, protocol *p, int fd) {
    client *c = calloc(1, sizeof(*c) + p->state_size);
    if (!c)
        return NULL;
    c->srv = srv;
    c->proto = p;
    c->fd = fd;
    c->since_ns = now_ns();
    return c;
}

void client_start(client *c, const char *where) {
    server *srv = c->srv;
    uv_poll_init(srv->loop, &c->poll, c->fd);
    c->poll.data = c;
    if (!uv_is_active((uv_handle_t *)&srv->sweep_timer))
        uv_timer_start(&srv->sweep_timer, on_sweep, 1000, 1000);
    c->next = srv->clients;
    if (srv->clients)
        srv->clients->prev = c;
    srv->clients = c;
    c->proto->nclients++;
    log_debug("client %s connected on %s", c->peer, where);
    c->events = UV_READABLE | UV_DISCONNECT;
    uv_poll_start(&c->poll, c->events, on_client_event);
}

/* Drop clients that stayed idle past their protocol's limit (each protocol says which: one that
 * never opened, never finished TLS, sent no complete request or did not read its response), and
 * lingering ones after a second. */
static void on_sweep(uv_timer_t *t) {
    server *srv = t->data;
    uint64_t now = now_ns();
    if (!srv->clients) {
        /* The last client left: give the buffers of a burst of clients back to the kernel (64
         * clients' queues are megabytes; the heap in use is about 150 kB), so resident memory
         * after a burst is the daemon's, not the burst's. */
        malloc_trim(0);
        uv_timer_stop(t); /* started again by the next client: an idle daemon's loop sleeps */
        return;
    }
    for (client *c = srv->clients, *n; c; c = n) {
        n = c->next;
        if (c->lingering) {
            if (now - c->since_ns > 1000000000)
                client_drop(c, NULL);
        } else if (now - c->since_ns > (uint64_t)c->proto->idle_timeout_ms * 1000000)
            c->proto->on_idle(c);
    }
}

void clients_init(server *srv) {
    uv_timer_init(srv->loop, &srv->sweep_timer);
    srv->sweep_timer.data = srv;
}

void clients_stop(server *srv) {
    uv_timer_stop(&srv->sweep_timer);
    for (client *c = srv->clients, *n; c; c = n) {
        n = c->next;
        client_drop(c, NULL);
    }
    uv_close((uv_handle_t *)&srv->sweep_timer, NULL);
}
