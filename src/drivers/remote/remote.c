/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The remote driver: the client side of the wire protocol, to uniserverd over its unix sockets
 * (uniserver+unix:///system, ?mode=ro or uniserver+unix:///ro), TCP (uniserver+tcp://, loopback
 * and insecure) or TLS with client certificates (uniserver+tls://host[:port]/system).
 * One call at a time per connection; a lost daemon is a clear error and the next call reconnects. */
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "remote_internal.h"

static void disconnect(remote_state *s) {
    if (s->tls) {
        gnutls_deinit(s->tls);
        s->tls = NULL;
    }
    closep(&s->fd);
    s->fd = -1;
}

static int send_all(remote_state *s, const char *buf, size_t len, uint64_t deadline) {
    size_t o = 0;
    while (o < len) {
        ssize_t k;
        int r;
        if (s->tls) {
            k = gnutls_record_send(s->tls, buf + o, len - o);
            if (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED) {
                if ((r = fd_wait(s->fd, POLLOUT, deadline)) < 0)
                    return r;
                continue;
            }
            if (k < 0)
                return -EPROTO;
        } else {
            /* A blocking socket with SO_SNDTIMEO: one syscall in the common case. */
            k = send(s->fd, buf + o, len - o, MSG_NOSIGNAL);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0)
                return errno == EAGAIN ? -ETIMEDOUT : -errno;
        }
        o += (size_t)k;
    }
    return 0;
}

static int recv_all(remote_state *s, char *buf, size_t len, uint64_t deadline) {
    size_t o = 0;
    while (o < len) {
        ssize_t k;
        int r;
        if (s->tls) {
            if (gnutls_record_check_pending(s->tls) == 0 && (r = fd_wait(s->fd, POLLIN, deadline)) < 0)
                return r;
            k = gnutls_record_recv(s->tls, buf + o, len - o);
            if (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED)
                continue;
            if (k < 0)
                return -EPROTO;
        } else {
            /* Blocking with SO_RCVTIMEO: no poll() before each read. */
            k = recv(s->fd, buf + o, len - o, MSG_WAITALL);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0)
                return errno == EAGAIN ? -ETIMEDOUT : -errno;
        }
        if (k == 0)
            return -ECONNRESET;
        o += (size_t)k;
    }
    return 0;
}

/* Plain sockets block, bounded by the call timeout on each send and receive. */
static int set_blocking_with_timeout(remote_state *s) {
    struct timeval tv = {.tv_sec = s->timeout_ms / 1000, .tv_usec = (s->timeout_ms % 1000) * 1000};
    int fl = fcntl(s->fd, F_GETFL);
    if (fl < 0 || fcntl(s->fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
        setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
        return -errno;
    return 0;
}

static int connect_unix(remote_state *s) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(s->socket_path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, s->socket_path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    s->fd = fd;
    return 0;
}

static int connect_tcp(remote_state *s, uint64_t deadline) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    char port[16];
    int r = -ECONNREFUSED;

    snprintf(port, sizeof(port), "%d", s->port);
    if (getaddrinfo(s->host, port, &hints, &res) != 0)
        return -EHOSTUNREACH;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        int one = 1;
        if (fd < 0)
            continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
            r = -errno;
            close(fd);
            continue;
        }
        s->fd = fd;
        r = fd_wait(s->fd, POLLOUT, deadline);
        if (r == 0) {
            int err = 0;
            socklen_t l = sizeof(err);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
            r = -err;
        }
        if (r == 0)
            break;
        close(fd);
        s->fd = -1;
    }
    freeaddrinfo(res);
    return r;
}

static int start_tls(remote_state *s, uint64_t deadline) {
    char ca[4096], cert[4096], key[4096];
    int r;

    snprintf(ca, sizeof(ca), "%s/cacert.pem", s->pkipath);
    snprintf(cert, sizeof(cert), "%s/clientcert.pem", s->pkipath);
    snprintf(key, sizeof(key), "%s/clientkey.pem", s->pkipath);
    if (!s->cred) {
        /* GnuTLS is loaded by the first TLS connection: programs that never use one never map it. */
        char why[300];
        if (uni_gnutls_load(why, sizeof(why)) < 0) {
            uni_error_set(UNI_ERR_RPC_FAILED, "TLS to %s:%d: %s", s->host, s->port, why);
            return -ENOENT;
        }
        if (gnutls_certificate_allocate_credentials(&s->cred) < 0)
            return -ENOMEM;
        if (gnutls_certificate_set_x509_trust_file(s->cred, ca, GNUTLS_X509_FMT_PEM) <= 0) {
            uni_error_set(UNI_ERR_TLS_CREDENTIALS, "TLS: no CA certificate in %s", ca);
            return -EACCES;
        }
        if (access(cert, R_OK) == 0 &&
            gnutls_certificate_set_x509_key_file(s->cred, cert, key, GNUTLS_X509_FMT_PEM) < 0) {
            uni_error_set(UNI_ERR_TLS_CREDENTIALS, "TLS: cannot load the client certificate %s with key %s", cert, key);
            return -EACCES;
        }
    }
    if (gnutls_init(&s->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0)
        return -ENOMEM;
    gnutls_set_default_priority(s->tls);
    gnutls_credentials_set(s->tls, GNUTLS_CRD_CERTIFICATE, s->cred);
    gnutls_server_name_set(s->tls, GNUTLS_NAME_DNS, s->host, strlen(s->host));
    /* The daemon's certificate must chain to our CA and name the host we dialled. */
    gnutls_session_set_verify_cert(s->tls, s->host, 0);
    gnutls_transport_set_int(s->tls, s->fd);
    do {
        r = gnutls_handshake(s->tls);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
            int w = fd_wait(s->fd, gnutls_record_get_direction(s->tls) ? POLLOUT : POLLIN, deadline);
            if (w < 0)
                return w;
        }
    } while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
    if (r < 0) {
        uni_error_set(UNI_ERR_RPC_FAILED, "TLS handshake with %s:%d failed: %s", s->host, s->port, gnutls_strerror(r));
        return -EPROTO;
    }
    return 0;
}

static int ensure_connected(remote_state *s) {
    uint64_t deadline = now_ns() + (uint64_t)s->timeout_ms * 1000000;
    uni_connect_open_args oa = {.flags = s->ro ? UNI_CONNECT_RO : 0};
    uni_connect_open_ret orr;
    int r;

    /* A connection the daemon closed while it was idle (client_idle_timeout_ms, a restart) is
     * shut on its side before anything is sent: it is opened again, and the call goes through. */
    if (s->fd >= 0) {
        struct pollfd pfd = {.fd = s->fd, .events = POLLRDHUP};
        if (poll(&pfd, 1, 0) == 0 || !(pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
            return 0;
        disconnect(s);
    }
    if (s->t == T_UNIX)
        r = connect_unix(s);
    else
        r = connect_tcp(s, deadline);
    if (r < 0) {
        uni_error_set(UNI_ERR_RPC_FAILED, "cannot connect to uniserverd at %s: %s%s", s->where, strerror(-r),
                      r == -ENOENT || r == -ECONNREFUSED ? " (is uniserverd running?)" : "");
        disconnect(s);
        return -1;
    }
    if (s->t != T_TLS && (r = set_blocking_with_timeout(s)) < 0) {
        uni_error_set(UNI_ERR_RPC_FAILED, "socket to %s: %s", s->where, strerror(-r));
        disconnect(s);
        return -1;
    }
    if (s->t == T_TLS && (r = start_tls(s, deadline)) < 0) {
        if (!uniGetLastError())
            uni_error_set(UNI_ERR_RPC_FAILED, "TLS to %s: %s", s->where, strerror(-r));
        disconnect(s);
        return -1;
    }
    memset(&orr, 0, sizeof(orr));
    if (call_connect_open(s, &oa, &orr) < 0)
        return -1;
    xdr_free((xdrproc_t)xdr_uni_connect_open_ret, (char *)&orr);
    if (!s->have_descs) {
        uni_connect_get_metric_descriptors_args da = {0};
        uni_connect_get_metric_descriptors_ret dr;
        memset(&dr, 0, sizeof(dr));
        if (call_descriptors(s, &da, &dr) < 0)
            return -1;
        r = descs_from_wire(&dr, &s->descs, &s->ndescs);
        xdr_free((xdrproc_t)xdr_uni_connect_get_metric_descriptors_ret, (char *)&dr);
        if (r < 0) {
            uni_error_set(UNI_ERR_RPC_FAILED, "malformed descriptors from uniserverd at %s", s->where);
            disconnect(s);
            return -1;
        }
        s->have_descs = true;
    }
    return 0;
}

int remote_call(remote_state *s, int proc, xdrproc_t args_proc, void *args, xdrproc_t ret_proc, void *ret) {
    uint64_t deadline = now_ns() + (uint64_t)s->timeout_ms * 1000000;
    uni_message_header h = {.prog = UNI_PROGRAM,
                            .vers = UNI_PROTOCOL_VERSION,
                            .proc = proc,
                            .type = UNI_CALL,
                            .serial = ++s->serial,
                            .status = UNI_STATUS_OK};
    _cleanup_free_ char *out = NULL, *in = NULL;
    size_t outlen;
    char first[4];
    size_t len = 0;
    int r;

    if (proc != UNI_PROC_CONNECT_OPEN && ensure_connected(s) < 0)
        return -1;
    r = wire_encode(&h, args_proc, args, &out, &outlen);
    if (r < 0) {
        uni_error_set(r == -EMSGSIZE ? UNI_ERR_OUT_OF_RANGE : UNI_ERR_INTERNAL_ERROR, "cannot encode the call: %s",
                      strerror(-r));
        return -1;
    }
    r = send_all(s, out, outlen, deadline);
    if (r == 0)
        r = recv_all(s, first, 4, deadline);
    if (r == 0) {
        if (frame_length(first, UNI_MESSAGE_MAX, &len) < 0)
            r = -EBADMSG;
        else if (!(in = malloc(len)))
            r = -ENOMEM;
        else {
            memcpy(in, first, 4);
            r = recv_all(s, in + 4, len - 4, deadline);
        }
    }
    if (r < 0) {
        disconnect(s);
        if (r == -ETIMEDOUT)
            uni_error_set(UNI_ERR_TIMEOUT, "uniserverd at %s did not answer within %d ms", s->where, s->timeout_ms);
        else
            uni_error_set(UNI_ERR_RPC_FAILED, "lost connection to uniserverd at %s: %s", s->where, strerror(-r));
        return -1;
    }
    {
        uni_message_header rh;
        if (wire_decode_header(in, len, &rh) < 0 || rh.prog != UNI_PROGRAM || rh.vers != UNI_PROTOCOL_VERSION ||
            rh.type != UNI_REPLY || rh.serial != h.serial || rh.proc != proc) {
            disconnect(s);
            uni_error_set(UNI_ERR_RPC_FAILED, "malformed or mismatched reply from uniserverd at %s", s->where);
            return -1;
        }
        if (rh.status == UNI_STATUS_ERROR) {
            uni_error_msg e;
            memset(&e, 0, sizeof(e));
            if (wire_decode(in, len, &rh, (xdrproc_t)xdr_uni_error_msg, &e) < 0) {
                disconnect(s);
                uni_error_set(UNI_ERR_RPC_FAILED, "malformed error reply from uniserverd at %s", s->where);
                return -1;
            }
            /* The daemon's error, unchanged. */
            uni_error_set(e.code, "%s", e.message);
            xdr_free((xdrproc_t)xdr_uni_error_msg, (char *)&e);
            return -1;
        }
        if (wire_decode(in, len, &rh, ret_proc, ret) < 0) {
            disconnect(s);
            uni_error_set(UNI_ERR_RPC_FAILED, "malformed reply to procedure %d from uniserverd at %s", proc, s->where);
            return -1;
        }
    }
    return 0;
}

static void remote_close(uniConnectPtr conn) {
    remote_state *s = conn->priv;
    if (!s)
        return;
    if (s->fd >= 0) {
        /* Best effort: tell the daemon, without waiting long for a daemon that went away. */
        s->timeout_ms = s->timeout_ms > 1000 ? 1000 : s->timeout_ms;
        (void)call_connect_close(s, NULL, NULL);
        uniResetLastError();
    }
    disconnect(s);
    if (s->cred)
        gnutls_certificate_free_credentials(s->cred);
    free(s->descs);
    free(s->event_descs);
    free(s->socket_path);
    free(s->host);
    free(s->pkipath);
    free(s->where);
    free(s);
    conn->priv = NULL;
}

const char *uni_default_runtime_dir(void) {
    const char *e = getenv("UNISERVER_RUNTIME_DIR");
    return e && *e ? e : UNI_DEFAULT_RUNTIME_DIR;
}

/* The daemon records the reason with the changes it makes for this connection. */
static int remote_set_audit_reason(uniConnectPtr conn, const char *reason) {
    uni_connect_set_audit_reason_args a = {.reason = (char *)(reason ? reason : "")};
    return call_set_audit_reason(conn->priv, &a, NULL);
}

static int remote_open(uniConnectPtr conn, const uni_uri *uri, unsigned flags) {
    static const char *const known[] = {"socket", "mode", "timeout", "pkipath", NULL};
    remote_state *s;
    const char *mode = uni_uri_param(uri, "mode"), *tmo = uni_uri_param(uri, "timeout");
    uint64_t t;

    if (uni_uri_check_params(uri, known) < 0)
        return -1;
    s = calloc(1, sizeof(*s));
    if (!s) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    s->fd = -1;
    s->timeout_ms = 30000;
    conn->priv = s;
    if (tmo) {
        if (safe_atou64(tmo, &t) < 0 || t == 0 || t > 3600000) {
            uni_error_set(UNI_ERR_INVALID_URI, "timeout=%s: milliseconds from 1 to 3600000", tmo);
            goto fail;
        }
        s->timeout_ms = (int)t;
    }
    s->ro = flags & UNI_CONNECT_RO;
    if (mode) {
        if (streq(mode, "ro"))
            s->ro = true;
        else if (!streq(mode, "rw")) {
            uni_error_set(UNI_ERR_INVALID_URI, "mode=%s: 'ro' or 'rw'", mode);
            goto fail;
        }
    }
    if (streq(uri->transport, "unix")) {
        const char *sock = uni_uri_param(uri, "socket");
        s->t = T_UNIX;
        if (uri->host && *uri->host) {
            uni_error_set(UNI_ERR_INVALID_URI, "uniserver+unix:// takes no host (got '%s')", uri->host);
            goto fail;
        }
        if (streq(uri->path, "/ro"))
            s->ro = true;
        else if (!streq(uri->path, "/system")) {
            uni_error_set(UNI_ERR_INVALID_URI, "unknown path '%s' for uniserver+unix:// (/system or /ro)", uri->path);
            goto fail;
        }
        if (sock)
            s->socket_path = strdup(sock);
        else if (asprintf(&s->socket_path, "%s/%s", uni_default_runtime_dir(),
                          s->ro ? "uniserver-sock-ro" : "uniserver-sock") < 0)
            s->socket_path = NULL;
        if (!s->socket_path || asprintf(&s->where, "socket %s", s->socket_path) < 0) {
            uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
            goto fail;
        }
    } else if (streq(uri->transport, "tcp") || streq(uri->transport, "tls")) {
        const char *pki = uni_uri_param(uri, "pkipath");
        s->t = streq(uri->transport, "tls") ? T_TLS : T_TCP;
        if (!uri->host || !*uri->host) {
            uni_error_set(UNI_ERR_INVALID_URI, "uniserver+%s:// needs a host", uri->transport);
            goto fail;
        }
        if (!streq(uri->path, "/system")) {
            uni_error_set(UNI_ERR_INVALID_URI, "unknown path '%s' for uniserver+%s:// (only /system)", uri->path,
                          uri->transport);
            goto fail;
        }
        s->host = strdup(uri->host);
        s->port = uri->port > 0 ? uri->port : s->t == T_TLS ? UNI_DEFAULT_TLS_PORT : UNI_DEFAULT_TCP_PORT;
        s->pkipath = strdup(pki ? pki : UNI_DEFAULT_PKI_DIR);
        if (!s->host || !s->pkipath || asprintf(&s->where, "%s:%d (%s)", s->host, s->port, uri->transport) < 0) {
            uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
            goto fail;
        }
    } else {
        uni_error_set(UNI_ERR_NO_DRIVER, "unknown transport '+%s' (unix, tcp, tls)", uri->transport);
        goto fail;
    }
    conn->flags |= s->ro ? UNI_CONNECT_RO : 0;
    /* Connect now: a wrong socket or a dead daemon is reported by uniConnectOpen. */
    if (ensure_connected(s) < 0)
        goto fail;
    conn->descs = s->descs;
    conn->ndescs = s->ndescs;
    return 0;
fail:
    remote_close(conn);
    return -1;
}

static int remote_node_get_stats(uniConnectPtr conn, const uni_select *sel, uniRecordPtr rec, unsigned flags) {
    remote_state *s = conn->priv;
    uni_node_get_stats_args a = {.flags = flags};
    uni_node_get_stats_ret ret;
    uniRecordPtr got = NULL;
    size_t n = 0;
    int r;

    if (sel->list) {
        while (sel->list[n])
            n++;
        a.has_select = 1;
        a.select.select_len = (u_int)n;
        a.select.select_val = (uni_nonnull_string *)sel->list;
    }
    memset(&ret, 0, sizeof(ret));
    if (call_node_get_stats(s, &a, &ret) < 0)
        return -1;
    r = record_from_wire(&ret.rec, conn->descs, conn->ndescs, &got);
    xdr_free((xdrproc_t)xdr_uni_node_get_stats_ret, (char *)&ret);
    if (r < 0) {
        uni_error_set(UNI_ERR_RPC_FAILED, "malformed record from uniserverd at %s", s->where);
        return -1;
    }
    /* Hand the received samples over to the caller's record. */
    {
        uniRecord tmp = *rec;
        *rec = *got;
        *got = tmp;
        rec->sel = tmp.sel;
        got->sel = NULL;
    }
    uniRecordFree(got);
    return 0;
}

static int remote_node_get_view(uniConnectPtr conn, int view, uniRecordPtr *ret) {
    remote_state *s = conn->priv;
    int proc = uni_view_proc(view), r;

    if (proc == UNI_PROC_NODE_GET_GOVERNOR) {
        uni_node_get_governor_args a = {0};
        uni_node_get_governor_ret gr;
        uniRecordPtr rec;
        memset(&gr, 0, sizeof(gr));
        if (call_node_get_governor(s, &a, &gr) < 0)
            return -1;
        rec = uni_record_new(conn->descs, conn->ndescs);
        r = rec ? rec_str(rec, UNI_M_HOST_CPU_GOVERNOR, -1, NULL, gr.governor) : -ENOMEM;
        xdr_free((xdrproc_t)xdr_uni_node_get_governor_ret, (char *)&gr);
        if (r < 0) {
            uniRecordFree(rec);
            uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
            return -1;
        }
        *ret = rec;
        return 0;
    }
    {
        uni_node_get_view_args a = {0};
        uni_node_get_view_by_name_args na = {.name = (char *)uniViewGet(view)->spec_name};
        uni_node_get_view_ret vr;
        memset(&vr, 0, sizeof(vr));
        /* A released view has its own procedure (older daemons know only those); any other
         * goes by its name. */
        if ((proc ? remote_call(s, proc, (xdrproc_t)xdr_uni_node_get_view_args, &a,
                                (xdrproc_t)xdr_uni_node_get_view_ret, &vr)
                  : call_node_get_view(s, &na, &vr)) < 0)
            return -1;
        r = record_from_wire(&vr.rec, conn->descs, conn->ndescs, ret);
        xdr_free((xdrproc_t)xdr_uni_node_get_view_ret, (char *)&vr);
        if (r < 0) {
            uni_error_set(UNI_ERR_RPC_FAILED, "malformed record from uniserverd at %s", s->where);
            return -1;
        }
    }
    return 0;
}

/* ---- control: the daemon checks and applies; its errors come back unchanged ---- */

static int remote_node_set_frequency(uniConnectPtr conn, int core, uint64_t khz, const char *text, uni_core_set *ret) {
    remote_state *s = conn->priv;
    uni_node_set_frequency_args a = {.core = core, .frequency = (char *)text, .maxcores = (u_int)ret->max};
    uni_node_set_frequency_ret fr;
    (void)khz; /* the daemon parses the caller's text itself */
    memset(&fr, 0, sizeof(fr));
    if (call_node_set_frequency(s, &a, &fr) < 0)
        return -1;
    for (u_int i = 0; i < fr.cores.cores_len && (int)i < ret->max; i++)
        uni_core_set_add(ret, fr.cores.cores_val[i]);
    ret->n = fr.count;
    xdr_free((xdrproc_t)xdr_uni_node_set_frequency_ret, (char *)&fr);
    return ret->n;
}

static int remote_node_set_governor(uniConnectPtr conn, int core, const char *governor, uni_core_set *ret) {
    uni_node_set_named_args a = {.core = core, .name = (char *)governor};
    uni_node_set_named_ret nr = {0};
    if (call_node_set_governor(conn->priv, &a, &nr) < 0)
        return -1;
    return ret->n = nr.count;
}

static int remote_node_set_power_policy(uniConnectPtr conn, int core, const char *policy, uni_core_set *ret) {
    uni_node_set_named_args a = {.core = core, .name = (char *)policy};
    uni_node_set_named_ret nr = {0};
    if (call_node_set_power_policy(conn->priv, &a, &nr) < 0)
        return -1;
    return ret->n = nr.count;
}

static int remote_node_get_operating_points(uniConnectPtr conn, uniOppListPtr l) {
    remote_state *s = conn->priv;
    uni_node_get_operating_points_args a = {0};
    uni_node_get_operating_points_ret opr;
    int r = 0;

    memset(&opr, 0, sizeof(opr));
    if (call_node_get_operating_points(s, &a, &opr) < 0)
        return -1;
    for (u_int i = 0; i < opr.domains.domains_len && r >= 0; i++) {
        const uni_opp_domain *w = &opr.domains.domains_val[i];
        int d = uni_opp_add_domain(l, w->kind, w->id, w->name, w->cores.cores_val, (int)w->cores.cores_len,
                                   (const char *const *)w->members.members_val, (int)w->members.members_len);
        r = d;
        for (u_int k = 0; k < w->params.params_len && r >= 0; k++) {
            const uni_opp_param *wp = &w->params.params_val[k];
            uniOppParam p = {.name = wp->name,
                             .unit = wp->unit,
                             .current = wp->current,
                             .nominal = wp->nominal,
                             .min = wp->min,
                             .max = wp->max,
                             .step = wp->step,
                             .flags = wp->flags};
            r = uni_opp_add_param(l, d, &p);
        }
    }
    xdr_free((xdrproc_t)xdr_uni_node_get_operating_points_ret, (char *)&opr);
    if (r < 0) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    return 0;
}

static int remote_node_set_operating_point(uniConnectPtr conn, uniOppListPtr l, int di, const uniOppSetting *set,
                                           int n) {
    remote_state *s = conn->priv;
    uni_node_set_operating_point_args a = {.domain = (char *)uniOppListGetDomain(l, di)->name};
    _cleanup_free_ uni_opp_setting *w = calloc((size_t)n, sizeof(*w));

    if (!w) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++)
        w[i] = (uni_opp_setting){.name = (char *)set[i].name, .value = set[i].value};
    a.settings.settings_len = (u_int)n;
    a.settings.settings_val = w;
    return call_node_set_operating_point(s, &a, NULL);
}

/* ---- domains: the two driver verbs, answered from the daemon's cache ---- */

int remote_info_from_wire(const uni_wire_domain *w, uni_domain_info *d) {
    memset(d, 0, sizeof(*d));
    if (strlen(w->uuid) >= sizeof(d->uuid) || !(d->name = strdup(w->name)))
        return -1;
    snprintf(d->uuid, sizeof(d->uuid), "%s", w->uuid);
    d->active = w->active != 0;
    d->id = w->id;
    return 0;
}

static int remote_list_domains(uniConnectPtr conn, uni_domain_info **ret, size_t *ret_n) {
    remote_state *s = conn->priv;
    uni_connect_list_domains_args a = {0};
    uni_connect_list_domains_ret r;
    uni_domain_info *v;
    u_int n;

    memset(&r, 0, sizeof(r));
    if (call_list_domains(s, &a, &r) < 0)
        return -1;
    n = r.domains.domains_len;
    v = calloc(n ? n : 1, sizeof(*v));
    for (u_int i = 0; v && i < n; i++)
        if (remote_info_from_wire(&r.domains.domains_val[i], &v[i]) < 0) {
            uni_domain_infos_free(v, i);
            v = NULL;
        }
    xdr_free((xdrproc_t)xdr_uni_connect_list_domains_ret, (char *)&r);
    if (!v) {
        uni_error_set(UNI_ERR_RPC_FAILED, "malformed domain list from uniserverd at %s", s->where);
        return -1;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

static int remote_domain_stats(uniConnectPtr conn, const uni_select *sel, const uni_domain_info *only, size_t nonly,
                               uni_domain_stats **ret, size_t *ret_n) {
    remote_state *s = conn->priv;
    uni_domain_stats_args a = {0};
    uni_domain_stats_ret r;
    _cleanup_free_ uni_wire_domain *w = NULL;
    uni_domain_stats *v = NULL;
    size_t n = 0;
    int k = 0;

    if (sel->list) {
        while (sel->list[n])
            n++;
        a.has_select = 1;
        a.select.select_len = (u_int)n;
        a.select.select_val = (uni_nonnull_string *)sel->list;
    }
    if (only) {
        w = calloc(nonly ? nonly : 1, sizeof(*w));
        if (!w) {
            uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < nonly; i++) {
            w[i].name = only[i].name ? only[i].name : (char *)"";
            w[i].uuid = (char *)only[i].uuid;
            w[i].active = only[i].active;
            w[i].id = only[i].id;
        }
        a.has_only = 1;
        a.only.only_len = (u_int)nonly;
        a.only.only_val = w;
    }
    memset(&r, 0, sizeof(r));
    if (call_domain_stats(s, &a, &r) < 0)
        return -1;
    n = r.stats.stats_len;
    v = calloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; v && i < n && k >= 0; i++) {
        k = remote_info_from_wire(&r.stats.stats_val[i].dom, &v[i].info);
        if (k >= 0)
            k = record_from_wire(&r.stats.stats_val[i].rec, conn->descs, conn->ndescs, &v[i].rec);
        if (k >= 0)
            v[i].rec->sel = sel; /* the library finishes it against the caller's selection */
    }
    xdr_free((xdrproc_t)xdr_uni_domain_stats_ret, (char *)&r);
    if (!v || k < 0) {
        uni_domain_stats_free(v, n);
        uni_error_set(UNI_ERR_RPC_FAILED, "malformed domain records from uniserverd at %s", s->where);
        return -1;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

static int remote_healthlog_query(uniConnectPtr conn, const uni_healthlog_query *q, uniRecordPtr **ret) {
    remote_state *s = conn->priv;
    uni_healthlog_query_ret r;
    int n;

    memset(&r, 0, sizeof(r));
    if (q->cpu) {
        uni_healthlog_query_cpu_args a = {.core = q->core, .since_ms = q->since_ms, .flags = q->flags};
        if (call_healthlog_query_cpu(s, &a, &r) < 0)
            return -1;
    } else {
        char *dimm = (char *)q->dimm;
        uni_healthlog_query_memory_args a = {
            .dimm = q->dimm ? &dimm : NULL, .since_ms = q->since_ms, .flags = q->flags};
        if (call_healthlog_query_memory(s, &a, &r) < 0)
            return -1;
    }
    n = events_from_wire(&r, &s->event_descs, &s->nevent_descs, ret);
    xdr_free((xdrproc_t)xdr_uni_healthlog_query_ret, (char *)&r);
    if (n < 0) {
        uni_error_set(UNI_ERR_RPC_FAILED, "malformed HealthLog events from uniserverd at %s", s->where);
        return -1;
    }
    return n;
}

const uni_driver uni_remote_driver = {
    .name = "remote",
    .scheme = "uniserver+",
    .open = remote_open,
    .close = remote_close,
    .node_get_stats = remote_node_get_stats,
    .node_get_view = remote_node_get_view,
    .node_set_frequency = remote_node_set_frequency,
    .node_set_governor = remote_node_set_governor,
    .node_set_power_policy = remote_node_set_power_policy,
    .node_get_operating_points = remote_node_get_operating_points,
    .node_set_operating_point = remote_node_set_operating_point,
    .list_domains = remote_list_domains,
    .domain_stats = remote_domain_stats,
    .healthlog_query = remote_healthlog_query,
    .domain_get_info = remote_domain_get_info,
    .domain_list_info = remote_domain_list_info,
    .domain_get_xml = remote_domain_get_xml,
    .domain_get_sched = remote_domain_get_sched,
    .domain_get_vcpus = remote_domain_get_vcpus,
    .domain_pin_vcpu = remote_domain_pin_vcpu,
    .domain_get_cpu_stats = remote_domain_get_cpu_stats,
    .domain_get_reliability = remote_domain_get_reliability,
    .domain_set_reliability = remote_domain_set_reliability,
    .set_audit_reason = remote_set_audit_reason,
};
