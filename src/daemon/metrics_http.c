/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's /metrics: the cached host record as Prometheus text or OpenMetrics (on
 * Accept: application/openmetrics-text), gzip when asked, over libmicrohttpd on 127.0.0.1:9177 by
 * default; optional TLS and basic auth. A scrape costs only the serialisation, and not even that
 * when the record has not changed since the last scrape in that format. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <zlib.h>

#include "lib/exposition.h"
#include "server_internal.h"

struct metrics_http {
    server *srv;
    struct MHD_Daemon *d;
    prom_desc *pd;
    const uniMetricDesc *descs;
    unsigned ndescs;
    char *cert, *key; /* PEM contents, for TLS */
    /* The last rendering per format (0 classic, 1 OpenMetrics) and per encoding (0 plain, 1 gzip). */
    char *text[2][2];
    size_t len[2][2];
    uint64_t gen[2][2];
    uint64_t scrapes;
};

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

/* The exposition in one format, rendered again only when the cache changed. Called with the
 * cache lock held. */
static int render(metrics_http *m, int om, int gz) {
    server *srv = m->srv;
    if (m->text[om][gz] && m->gen[om][gz] == srv->cache_gen)
        return 0;
    if (!m->text[om][0] || m->gen[om][0] != srv->cache_gen) {
        /* The host record, then every VM's with its domain, uuid and project as labels. */
        size_t nrec = 1 + srv->ndoms;
        prom_record *pr = calloc(nrec, sizeof(*pr));
        const char **kv = calloc(2 * PROM_VM_LABELS * (srv->ndoms + 1), sizeof(char *));
        char *t;
        size_t l;
        int r;
        if (!pr || !kv) {
            free(pr);
            free(kv);
            return -ENOMEM;
        }
        pr[0].rec = srv->cache;
        for (size_t i = 0; i < srv->ndoms; i++) {
            const char **keys = &kv[2 * PROM_VM_LABELS * i], **vals = keys + PROM_VM_LABELS;
            size_t n = prom_vm_labels(&srv->doms[i], keys, vals);
            pr[1 + i] = (prom_record){.rec = srv->doms[i].rec, .labels = {.keys = keys, .values = vals, .n = n}};
        }
        r = prom_render(pr, nrec, m->descs, m->pd, m->ndescs, om, &t, &l);
        free(pr);
        free(kv);
        if (r < 0)
            return -ENOMEM;
        free(m->text[om][0]);
        m->text[om][0] = t;
        m->len[om][0] = l;
        m->gen[om][0] = srv->cache_gen;
    }
    if (gz) {
        char *g;
        size_t gl;
        if (gzip_buf(m->text[om][0], m->len[om][0], &g, &gl) < 0)
            return -ENOMEM;
        free(m->text[om][1]);
        m->text[om][1] = g;
        m->len[om][1] = gl;
        m->gen[om][1] = srv->cache_gen;
    }
    return 0;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status, const char *text) {
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret;
    MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static bool header_has(struct MHD_Connection *c, const char *name, const char *token) {
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    return v && strcasestr(v, token);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **state) {
    metrics_http *m = cls;
    const config *cfg = m->srv->cfg;
    struct MHD_Response *r;
    enum MHD_Result ret;
    int om, gz, k;
    (void)version;
    static int first_call;
    (void)upload;

    /* MHD calls the handler once the headers are in, then again when the request is complete:
     * answering on the second call keeps the connection alive, as Prometheus expects. */
    if (!*state) {
        *state = &first_call;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* a body on a GET: ignored */
        return MHD_YES;
    }

    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET /metrics\n");
    if (cfg->metrics_basic_auth) {
        char *pass = NULL, *user = MHD_basic_auth_get_username_password(c, &pass);
        const char *colon = strchr(cfg->metrics_basic_auth, ':');
        bool ok = user && pass && colon && strlen(user) == (size_t)(colon - cfg->metrics_basic_auth) &&
                  strncmp(user, cfg->metrics_basic_auth, strlen(user)) == 0 && streq(pass, colon + 1);
        MHD_free(user);
        MHD_free(pass);
        if (!ok) {
            static const char denied[] = "authentication required\n";
            r = MHD_create_response_from_buffer(sizeof(denied) - 1, (void *)denied, MHD_RESPMEM_PERSISTENT);
            ret = MHD_queue_basic_auth_fail_response(c, "uniserverd", r);
            MHD_destroy_response(r);
            return ret;
        }
    }
    if (streq(url, "/"))
        return respond_text(c, MHD_HTTP_OK, "uniserverd: the host record is at /metrics\n");
    if (!streq(url, "/metrics"))
        return respond_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
    om = header_has(c, "Accept", "application/openmetrics-text");
    gz = header_has(c, "Accept-Encoding", "gzip");
    pthread_mutex_lock(&m->srv->cache_lock);
    k = render(m, om, gz);
    r = k < 0 ? NULL : MHD_create_response_from_buffer(m->len[om][gz], m->text[om][gz], MHD_RESPMEM_MUST_COPY);
    m->scrapes++;
    pthread_mutex_unlock(&m->srv->cache_lock);
    if (!r)
        return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    MHD_add_response_header(r, "Content-Type", om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                                  : "text/plain; version=0.0.4; charset=utf-8");
    if (gz)
        MHD_add_response_header(r, "Content-Encoding", "gzip");
    MHD_add_response_header(r, "Vary", "Accept, Accept-Encoding");
    ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static char *slurp(const char *path) {
    char *buf = NULL;
    ssize_t n = read_file_at_alloc(AT_FDCWD, path, &buf);
    if (n < 0) {
        log_error("cannot read %s: %s", path, strerror((int)-n));
        return NULL;
    }
    return buf;
}

metrics_http *metrics_http_start(server *srv) {
    const config *cfg = srv->cfg;
    const char *spec = cfg->metrics_listen ? cfg->metrics_listen : "127.0.0.1:9177";
    bool explicit = cfg->metrics_listen != NULL;
    _cleanup_free_ char *host = NULL;
    struct addrinfo *res;
    metrics_http *m;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    int n;

    if (streq(spec, "off"))
        return NULL;
    if (!(res = resolve_listen(spec, "metrics_listen", &host)))
        return explicit ? METRICS_HTTP_FAILED : NULL;
    m = calloc(1, sizeof(*m));
    m->srv = srv;
    n = uniConnectGetMetricDescriptors(srv->source, &m->descs, 0);
    m->ndescs = n > 0 ? (unsigned)n : 0;
    if (prom_map_init(m->descs, m->ndescs, &m->pd) < 0) {
        log_error("the catalogue does not map onto Prometheus names");
        goto fail;
    }
    if (res->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (cfg->metrics_tls_cert) {
        m->cert = slurp(cfg->metrics_tls_cert);
        m->key = cfg->metrics_tls_key ? slurp(cfg->metrics_tls_key) : NULL;
        if (!m->cert || !m->key) {
            log_error("metrics TLS needs metrics_tls_cert and metrics_tls_key");
            goto fail;
        }
        flags |= MHD_USE_TLS;
    }
    m->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, m, MHD_OPTION_SOCK_ADDR, res->ai_addr,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                            m->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, m->cert, MHD_OPTION_HTTPS_MEM_KEY, m->key,
                            MHD_OPTION_END);
    if (!m->d) {
        if (explicit)
            log_error("cannot serve /metrics on %s", spec);
        else
            log_warning("cannot serve /metrics on %s (in use?); set metrics_listen to another address or off", spec);
        goto fail;
    }
    {
        const union MHD_DaemonInfo *i = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
        log_info("serving %s://%s:%u/metrics%s", m->cert ? "https" : "http", host, i ? i->port : 0,
                 cfg->metrics_basic_auth ? " (basic auth)" : "");
    }
    freeaddrinfo(res);
    return m;
fail:
    freeaddrinfo(res);
    free(m->pd);
    free(m->cert);
    free(m->key);
    free(m);
    return explicit ? METRICS_HTTP_FAILED : NULL;
}

void metrics_http_stop(metrics_http *m) {
    if (!m || m == METRICS_HTTP_FAILED)
        return;
    MHD_stop_daemon(m->d);
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
            free(m->text[a][b]);
    free(m->pd);
    free(m->cert);
    free(m->key);
    free(m);
}
