/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's /metrics: the cached host record as Prometheus text or OpenMetrics (on
 * Accept: application/openmetrics-text), gzip when asked, on 127.0.0.1:9177 by default; optional
 * HTTPS and basic auth. HTTP/1.1 on the daemon's own loop and its client machinery (client.c):
 * keep-alive, pipelining, a request-header limit, an idle and slow-client timeout and a maximum
 * of clients, without a library (libmicrohttpd brought GnuTLS into every daemon, TLS or not).
 * A scrape costs only the serialisation, and not even that when the record has not changed since
 * the last scrape in that format: every client sends the same shared rendering. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <time.h>
#include <zlib.h>

#include "daemon/http_auth.h"
#include "daemon/http_request.h"
#include "lib/exposition.h"
#include "server_internal.h"

/* A body larger than this on a request (which /metrics never reads) is answered 413. */
#define HTTP_BODY_MAX (1u << 20)
#define HTTP_HEADER_MAX 8192 /* an HTTP request's line and headers; larger is answered 431 */

/* A rendering of /metrics, shared by the clients still sending it and the cache of renderings. */
typedef shared_buf http_body;

typedef struct metrics_http {
    protocol proto; /* first: a client's protocol is its metrics_http */
    server *srv;
    prom_desc *pd;
    const uniMetricDesc *descs;
    unsigned ndescs;
    gnutls_certificate_credentials_t cred; /* HTTPS, or NULL */
    gnutls_priority_t prio;
    http_auth *auth; /* metrics_basic_auth's checker, or NULL: no auth */
    /* The last rendering per format (0 classic, 1 OpenMetrics) and per encoding (0 plain, 1 gzip). */
    http_body *body[2][2];
    uint64_t gen[2][2];
} metrics_http;

/* An HTTP client's own state (client_state). */
typedef struct {
    uint64_t discard; /* bytes of a request body still to skip */
} http_state;

static http_state *http(client *c) {
    return client_state(c);
}

static http_body *body_new(char *data, size_t len) {
    http_body *b = malloc(sizeof(*b));
    if (!b) {
        free(data);
        return NULL;
    }
    *b = (http_body){.refs = 1, .len = len, .data = data};
    return b;
}

static void body_set(metrics_http *m, int om, int gz, http_body *b) {
    shared_buf_unref(m->body[om][gz]);
    m->body[om][gz] = b;
    m->gen[om][gz] = m->srv->cache_gen;
}

static int gzip_buf(const char *in, size_t n, char **ret, size_t *ret_len) {
    z_stream z = {0};
    size_t cap = compressBound((uLong)n) + 32;
    char *out = malloc(cap);
    if (!out)
        return -ENOMEM;
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(out);
        return -EIO;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
        deflateEnd(&z);
        free(out);
        return -EIO;
    }
    *ret_len = z.total_out;
    deflateEnd(&z);
    *ret = out;
    return 0;
}

/* The exposition in one format, rendered again only when the cache changed (the loop adopts
 * samples into the cache, and the loop calls this: no lock). */
static int render(metrics_http *m, int om, int gz) {
    server *srv = m->srv;
    http_body *b;
    if (srv->adopt)
        srv->adopt(srv); /* the newest sample */
    if (m->body[om][gz] && m->gen[om][gz] == srv->cache_gen)
        return 0;
    if (!m->body[om][0] || m->gen[om][0] != srv->cache_gen) {
        /* The host record, then every VM's with its domain, uuid and project as labels. */
        size_t nrec = 1 + srv->cache.ndoms;
        prom_record *pr = calloc(nrec, sizeof(*pr));
        const char **kv = calloc(2 * PROM_VM_LABELS * (srv->cache.ndoms + 1), sizeof(char *));
        char *t;
        size_t l;
        int r;
        if (!pr || !kv) {
            free(pr);
            free(kv);
            return -ENOMEM;
        }
        pr[0].rec = srv->cache.rec;
        for (size_t i = 0; i < srv->cache.ndoms; i++) {
            const char **keys = &kv[2 * PROM_VM_LABELS * i], **vals = keys + PROM_VM_LABELS;
            size_t n = prom_vm_labels(&srv->cache.doms[i], keys, vals);
            pr[1 + i] = (prom_record){.rec = srv->cache.doms[i].rec, .labels = {.keys = keys, .values = vals, .n = n}};
        }
        r = prom_render(pr, nrec, m->descs, m->pd, m->ndescs, om, &t, &l);
        free(pr);
        free(kv);
        if (r < 0 || !(b = body_new(t, l)))
            return -ENOMEM;
        body_set(m, om, 0, b);
    }
    if (gz) {
        char *g;
        size_t gl;
        if (gzip_buf(m->body[om][0]->data, m->body[om][0]->len, &g, &gl) < 0 || !(b = body_new(g, gl)))
            return -ENOMEM;
        body_set(m, om, 1, b);
    }
    return 0;
}

static const char *reason(unsigned status) {
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 501:
        return "Not Implemented";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Internal Server Error";
    }
}

/* RFC 9110 6.6.1: an origin server with a clock sends Date; formatted once a second. */
static const char *http_date(void) {
    static char buf[40];
    static time_t last;
    time_t now = time(NULL);
    struct tm tm;
    if (now != last && gmtime_r(&now, &tm)) {
        strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return buf;
}

/* Queue a response: its head in c->out, then @text (copied) or @body (shared); neither for HEAD.
 * @close ends the connection once it is sent. */
static int respond(client *c, unsigned status, const char *headers, const char *text, http_body *body, bool head,
                   bool close) {
    char h[1024];
    size_t len = body ? body->len : strlen(text);
    int n = snprintf(h, sizeof(h), "HTTP/1.1 %u %s\r\nDate: %s\r\n%sContent-Length: %zu\r\n%s\r\n", status,
                     reason(status), http_date(), headers ? headers : "Content-Type: text/plain; charset=utf-8\r\n",
                     len, close ? "Connection: close\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof(h) || client_queue(c, h, (size_t)n) < 0)
        return -1;
    if (!head && len > 0) {
        if (body) {
            c->body = body;
            body->refs++;
            c->bodyoff = 0;
        } else if (client_queue(c, text, len) < 0)
            return -1;
    }
    c->close_after_flush |= close;
    return 0;
}

static int respond_error(client *c, unsigned status, const char *text, bool close) {
    log_debug("client %s: %u %s", c->peer, status, reason(status));
    return respond(c, status, NULL, text, NULL, false, close);
}

/* Answer a parsed request: GET or HEAD, then the credentials, then the path. */
static int answer(client *c, const http_request *rq) {
    metrics_http *m = (metrics_http *)c->proto;
    bool head;
    int om, gz;

    if (rq->content_length > HTTP_BODY_MAX)
        return respond_error(c, 413, "request body too large\n", true);
    http(c)->discard = rq->content_length;
    head = rq->method_len == 4 && memcmp(rq->method, "HEAD", 4) == 0;
    if (!head && !(rq->method_len == 3 && memcmp(rq->method, "GET", 3) == 0)) {
        log_debug("client %s: 405 %.*s", c->peer, (int)rq->method_len, rq->method);
        return respond(c, 405, "Allow: GET, HEAD\r\nContent-Type: text/plain; charset=utf-8\r\n", "only GET /metrics\n",
                       NULL, false, !rq->keep_alive);
    }
    if (m->auth && !http_auth_ok(m->auth, rq->authorization, rq->authorization_len))
        return respond(c, 401,
                       "WWW-Authenticate: Basic realm=\"uniserverd\", charset=\"UTF-8\"\r\n"
                       "Content-Type: text/plain; charset=utf-8\r\n",
                       "authentication required\n", NULL, head, !rq->keep_alive);
    if (rq->path_len == 1 && rq->path[0] == '/')
        return respond(c, 200, NULL, "uniserverd: the host record is at /metrics\n", NULL, head, !rq->keep_alive);
    if (!(rq->path_len == 8 && memcmp(rq->path, "/metrics", 8) == 0))
        return respond(c, 404, NULL, "not found: try /metrics\n", NULL, head, !rq->keep_alive);
    om = rq->openmetrics;
    gz = rq->gzip;
    if (render(m, om, gz) < 0)
        return respond_error(c, 500, "out of memory\n", true);
    return respond(c, 200,
                   om ? (gz ? "Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n"
                              "Content-Encoding: gzip\r\nVary: Accept, Accept-Encoding\r\n"
                            : "Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n"
                              "Vary: Accept, Accept-Encoding\r\n")
                      : (gz ? "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                              "Content-Encoding: gzip\r\nVary: Accept, Accept-Encoding\r\n"
                            : "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                              "Vary: Accept, Accept-Encoding\r\n"),
                   NULL, m->body[om][gz], head, !rq->keep_alive);
}

/* Answer the request at the head of c->in, if it is complete and no response is in flight (one at
 * a time: pipelined requests are answered in order, each once the previous one is sent); -1 when
 * the client was dropped. */
static int http_consume(client *c) {
    http_request rq;
    ssize_t hl;
    int r;

    if (c->closing || c->close_after_flush || c->outlen > c->outoff || c->body)
        return 0;
    /* The body of the previous request, which nothing here reads. */
    if (http(c)->discard) {
        size_t n = http(c)->discard < c->inlen ? (size_t)http(c)->discard : c->inlen;
        memmove(c->in, c->in + n, c->inlen - n);
        c->inlen -= n;
        http(c)->discard -= n;
        if (http(c)->discard)
            return 0;
    }
    hl = http_parse_request(c->in, c->inlen, &rq);
    if (hl == 0) {
        if (c->inlen < HTTP_HEADER_MAX)
            return 0;
        return respond_error(c, 431, "request headers too large\n", true);
    }
    if (hl < 0)
        return hl == -EPROTONOSUPPORT ? respond_error(c, 505, "only HTTP/1.x\n", true)
               : hl == -EOPNOTSUPP    ? respond_error(c, 501, "no request bodies here\n", true)
                                      : respond_error(c, 400, "malformed request\n", true);
    r = answer(c, &rq);
    /* Only now: rq points into c->in. */
    memmove(c->in, c->in + hl, c->inlen - (size_t)hl);
    c->inlen -= (size_t)hl;
    return r;
}

/* All sent: after a response that closes, the connection lingers (client_linger); after any
 * other, the idle time starts again. */
static int http_on_flushed(client *c, bool was_sending) {
    if (c->close_after_flush && !c->lingering)
        client_linger(c);
    else if (was_sending)
        c->since_ns = now_ns(); /* a response sent: the idle time starts again */
    return 0;
}

/* A client that sent no complete request (slowloris), or did not read the response, in time. */
static void http_on_idle(client *c) {
    /* A keep-alive connection that is merely idle goes quietly, as it would with any server. */
    client_drop(c, client_sending(c)                        ? "did not read its response in time (idle_timeout_ms)"
                   : c->inlen || (c->tls && !c->handshaken) ? "sent no complete request in time (idle_timeout_ms)"
                                                            : NULL);
}

/* HTTPS: the certificate and key; GnuTLS is loaded here, only when they are set. */
static int setup_tls(metrics_http *m, const config *cfg) {
    char why[300];
    int r;
    if (!cfg->metrics_tls_key) {
        log_error("metrics TLS needs metrics_tls_cert and metrics_tls_key");
        return -1;
    }
    if (uni_gnutls_load(why, sizeof(why)) < 0) {
        log_error("/metrics over HTTPS: %s", why);
        return -1;
    }
    if (gnutls_certificate_allocate_credentials(&m->cred) < 0 || gnutls_priority_init(&m->prio, NULL, NULL) < 0)
        return -1;
    if ((r = gnutls_certificate_set_x509_key_file(m->cred, cfg->metrics_tls_cert, cfg->metrics_tls_key,
                                                  GNUTLS_X509_FMT_PEM)) < 0) {
        log_error("metrics TLS: cannot load %s with key %s: %s", cfg->metrics_tls_cert, cfg->metrics_tls_key,
                  gnutls_strerror(r));
        return -1;
    }
    return 0;
}

static void free_metrics(metrics_http *m) {
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
            shared_buf_unref(m->body[a][b]);
    if (m->cred)
        gnutls_certificate_free_credentials(m->cred);
    if (m->prio)
        gnutls_priority_deinit(m->prio);
    http_auth_free(m->auth);
    free(m->pd);
    free(m);
}

protocol *metrics_start(server *srv) {
    const config *cfg = srv->cfg;
    const char *spec = cfg->metrics_listen ? cfg->metrics_listen : "127.0.0.1:9177";
    bool explicit = cfg->metrics_listen != NULL;
    _cleanup_free_ char *host = NULL;
    struct addrinfo *res;
    metrics_http *m;
    listener *l;
    int n, fd;

    if (streq(spec, "off"))
        return NULL;
    if (!(res = resolve_listen(spec, "metrics_listen", &host)))
        return explicit ? PROTOCOL_FAILED : NULL;
    if (!(m = calloc(1, sizeof(*m)))) {
        freeaddrinfo(res);
        return PROTOCOL_FAILED;
    }
    m->proto = (protocol){
        .scheme = "http",
        .tls_scheme = "https",
        .max_clients = cfg->metrics_max_clients,
        .max_clients_key = "metrics_max_clients",
        .idle_timeout_ms = cfg->idle_timeout_ms,
        /* Input grows a kilobyte at a time, up to the request-header limit (http_consume answers
         * 431 there). */
        .in_step = 1024,
        .in_room = 1,
        .in_max = HTTP_HEADER_MAX,
        .serial = true,
        .state_size = sizeof(http_state),
        .consume = http_consume,
        .on_flushed = http_on_flushed,
        .on_idle = http_on_idle,
    };
    m->srv = srv;
    n = uniConnectGetMetricDescriptors(srv->source, &m->descs, 0);
    m->ndescs = n > 0 ? (unsigned)n : 0;
    if (prom_map_init(m->descs, m->ndescs, &m->pd) < 0) {
        log_error("the catalogue does not map onto Prometheus names");
        goto fail;
    }
    if (cfg->metrics_basic_auth) {
        char why[512];
        if (!(m->auth = http_auth_new(cfg->metrics_basic_auth, why, sizeof(why)))) {
            /* A password that would sit in the file in clear, or a hash that matches nothing: stop
             * rather than serve /metrics open or closed to everyone. */
            log_error("%s", why);
            free_metrics(m);
            freeaddrinfo(res);
            return PROTOCOL_FAILED;
        }
    }
    if (cfg->metrics_tls_cert && setup_tls(m, cfg) < 0)
        goto fail;
    fd = listen_tcp_socket(res);
    if (fd < 0) {
        /* The default address taken (another uniserverd, a test) is not fatal: the API still is served. */
        if (explicit)
            log_error("cannot serve /metrics on %s: %s", spec, strerror(-fd));
        else
            log_warning("cannot serve /metrics on %s (%s); set metrics_listen to another address or off", spec,
                        strerror(-fd));
        goto fail;
    }
    if (!(l = listener_add(srv, fd, &m->proto))) {
        close(fd);
        goto fail;
    }
    l->tcp = true;
    l->tls = m->cred != NULL;
    l->cred = m->cred;
    l->prio = m->prio;
    {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        char port[8] = "?";
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        getnameinfo((struct sockaddr *)&ss, sl, NULL, 0, port, sizeof(port), NI_NUMERICSERV);
        if (asprintf(&l->name, "%s %s:%s", l->tls ? "https" : "http", host, port) < 0)
            l->name = NULL;
        log_info("serving %s://%s:%s/metrics%s", l->tls ? "https" : "http", host, port,
                 cfg->metrics_basic_auth ? " (basic auth)" : "");
    }
    freeaddrinfo(res);
    return &m->proto;
fail:
    freeaddrinfo(res);
    free_metrics(m);
    return explicit ? PROTOCOL_FAILED : NULL;
}

void metrics_stop(protocol *p) {
    if (!p || p == PROTOCOL_FAILED)
        return;
    free_metrics((metrics_http *)p);
}
