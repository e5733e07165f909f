/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A native client of libvirtd's remote protocol (program 0x20008086, XDR over its unix socket)
 * for the local qemu URIs: libvirt.so and its dependencies cost uniserverd about 12 MB of
 * resident memory and an event-loop thread, for a handful of read-only calls. */
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "lvrpc.h"
#include "util/util.h"

_Static_assert(VIRNET_MESSAGE_HEADER_XDR_LEN == FRAME_HEADER_LEN, "virNetMessageHeader is the framer's header");
#define VIR_CONNECT_RO 1 /* libvirt's virConnectFlags */
#define VIR_DOMAIN_EVENT_ID_METADATA_CHANGE 23

/* libvirtd's sockets: the monolithic daemon's, else the modular QEMU daemon's. */
#define SOCK_RO_LIBVIRTD "/run/libvirt/libvirt-sock-ro"
#define SOCK_RO_VIRTQEMUD "/run/libvirt/virtqemud-sock-ro"

static bool is_socket(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

bool lvrpc_uri_native(const char *uri, char *sock, size_t socklen, char *name, size_t namelen) {
    const char *rest, *q;
    size_t plen;

    if (startswith(uri, "qemu:///"))
        rest = uri + strlen("qemu://");
    else if (startswith(uri, "qemu+unix:///"))
        rest = uri + strlen("qemu+unix://");
    else
        return false;
    /* Only the system instance: a session daemon's socket is per user and may be autostarted by
     * libvirt.so, which the native client does not do. */
    q = strchr(rest, '?');
    plen = q ? (size_t)(q - rest) : strlen(rest);
    if (plen != strlen("/system") || strncmp(rest, "/system", plen))
        return false;
    if (q) {
        /* ?socket=PATH alone: any other parameter (auth=, mode=, no_tty=...) means something to
         * libvirt's remote driver that this client does not do. Escaped paths are left to it. */
        const char *path = q + 1;
        if (!startswith(path, "socket=") || strpbrk(path + 7, "&%#") || !path[7] || path[7] != '/')
            return false;
        if ((size_t)snprintf(sock, socklen, "%s", path + 7) >= socklen)
            return false;
    } else
        snprintf(sock, socklen, "%s",
                 is_socket(SOCK_RO_LIBVIRTD) || !is_socket(SOCK_RO_VIRTQEMUD) ? SOCK_RO_LIBVIRTD : SOCK_RO_VIRTQEMUD);
    /* libvirt's remote driver opens the URI without its transport and its own parameters. */
    snprintf(name, namelen, "qemu:///system");
    return true;
}

/* ---------------------------------------------------------------------------------------------
 * Messages (framed by rpc/frame.c)
 * ------------------------------------------------------------------------------------------- */

int lvrpc_encode(unsigned prog, unsigned vers, int proc, virnet_message_type type, unsigned serial, xdrproc_t body_proc,
                 void *body, char **ret_buf, size_t *ret_len) {
    frame_header h = {.prog = prog, .vers = vers, .proc = proc, .type = type, .serial = serial, .status = VIRNET_OK};
    return frame_encode(&h, body_proc, body, VIRNET_MESSAGE_MAX, ret_buf, ret_len);
}

static void error_from(const remote_error *e, lvrpc_error *err) {
    err->code = e->code;
    snprintf(err->message, sizeof(err->message), "%s",
             e->message && *e->message ? *e->message : "unknown libvirt error");
}

int lvrpc_decode(const void *buf, size_t len, int proc, unsigned serial, xdrproc_t ret_proc, void *ret,
                 lvrpc_msg_kind *kind, lvrpc_error *err) {
    frame_header h;
    frame_msg m;
    int r;

    if (frame_open(&m, buf, len, VIRNET_MESSAGE_MAX, &h) < 0)
        return -EBADMSG;
    /* What the server sends on its own: keepalive PINGs (answered, though this client never asks
     * for them) and events (lvrpc_metadata_event tells the one asked for): neither is the reply. */
    if (h.type == VIRNET_MESSAGE) {
        frame_close(&m);
        *kind = h.prog == KEEPALIVE_PROGRAM && h.proc == KEEPALIVE_PROC_PING ? LVRPC_MSG_PING : LVRPC_MSG_IGNORED;
        return 0;
    }
    if (h.type != VIRNET_REPLY || h.prog != REMOTE_PROGRAM || h.vers != REMOTE_PROTOCOL_VERSION || h.proc != proc ||
        h.serial != serial) {
        frame_close(&m);
        return -EBADMSG;
    }
    *kind = LVRPC_MSG_REPLY;
    if (h.status == VIRNET_ERROR) {
        remote_error e;
        memset(&e, 0, sizeof(e));
        if (!xdr_remote_error(&m.x, &e)) {
            xdr_free((xdrproc_t)xdr_remote_error, (char *)&e);
            frame_close(&m);
            return -EBADMSG;
        }
        error_from(&e, err);
        xdr_free((xdrproc_t)xdr_remote_error, (char *)&e);
        frame_close(&m);
        return -EREMOTEIO;
    }
    if (h.status != VIRNET_OK) {
        frame_close(&m);
        return -EBADMSG;
    }
    if (ret_proc == (xdrproc_t)lvrpc_xdr_raw) {
        lvrpc_raw *raw = ret;
        raw->msg = NULL;
        raw->body = frame_rest(&m, &raw->len);
        frame_close(&m);
        return 0;
    }
    r = frame_decode_body(&m, ret_proc, ret);
    frame_close(&m);
    return r;
}

bool_t lvrpc_xdr_raw(XDR *x, lvrpc_raw *r) {
    /* lvrpc_decode points at the body itself (it knows where it ends); this only frees. */
    if (x->x_op != XDR_FREE)
        return FALSE;
    free(r->msg);
    *r = (lvrpc_raw){0};
    return TRUE;
}

/* ---------------------------------------------------------------------------------------------
 * GetAllDomainStats replies read in place
 * ------------------------------------------------------------------------------------------- */

static uint32_t be32_at(const char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return ntohl(v);
}

static uint64_t be64_at(const char *p) {
    return (uint64_t)be32_at(p) << 32 | be32_at(p + 4);
}

/* An XDR string's @n bytes with their padding to 4. */
static size_t padded(uint32_t n) {
    return ((size_t)n + 3) & ~(size_t)3;
}

/* Skip @n bytes at *@pos (within @len); false when they are not there. */
static bool take(size_t len, size_t *pos, size_t n) {
    if (n > len - *pos)
        return false;
    *pos += n;
    return true;
}

/* An XDR string of at most @max bytes at *@pos: its length word, bytes and padding. */
static bool take_string(const char *b, size_t len, size_t *pos, uint32_t max, uint32_t *ret_len) {
    uint32_t n;
    if (len - *pos < 4)
        return false;
    n = be32_at(b + *pos);
    *pos += 4;
    if (n > max || !take(len, pos, padded(n)))
        return false;
    *ret_len = n;
    return true;
}

/* One remote_typed_param at *@pos, checked. */
static bool take_param(const char *b, size_t len, size_t *pos) {
    uint32_t n, type;
    if (!take_string(b, len, pos, REMOTE_STRING_MAX, &n) || len - *pos < 4)
        return false;
    type = be32_at(b + *pos);
    *pos += 4;
    switch (type) {
    case LVRPC_T_INT:
    case LVRPC_T_UINT:
    case LVRPC_T_BOOLEAN:
        return take(len, pos, 4);
    case LVRPC_T_LLONG:
    case LVRPC_T_ULLONG:
    case LVRPC_T_DOUBLE:
        return take(len, pos, 8);
    case LVRPC_T_STRING:
        return take_string(b, len, pos, REMOTE_STRING_MAX, &n);
    default:
        return false; /* rpcgen's decoder refuses an unknown discriminant too */
    }
}

int lvrpc_stats_index(const char *b, size_t len, lvrpc_stats_rec **ret, size_t *ret_n) {
    /* The smallest record: an empty name, the UUID, the id and no parameters. */
    const size_t min_rec = 4 + 16 + 4 + 4;
    lvrpc_stats_rec *recs;
    size_t pos = 4;
    uint32_t n;

    if (len < 4 || (n = be32_at(b)) > REMOTE_DOMAIN_LIST_MAX || n > (len - 4) / min_rec)
        return -EBADMSG;
    if (!(recs = calloc(n ? n : 1, sizeof(*recs))))
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        lvrpc_stats_rec *r = &recs[i];
        size_t name_at = pos + 4;
        if (!take_string(b, len, &pos, REMOTE_STRING_MAX, &r->name_len) || len - pos < 16 + 4 + 4)
            goto bad;
        r->name = b + name_at;
        memcpy(r->uuid, b + pos, 16);
        r->id = (int32_t)be32_at(b + pos + 16);
        r->nparams = be32_at(b + pos + 20);
        pos += 24;
        r->params = pos;
        if (r->nparams > REMOTE_CONNECT_GET_ALL_DOMAIN_STATS_MAX)
            goto bad;
        for (uint32_t k = 0; k < r->nparams; k++)
            if (!take_param(b, len, &pos))
                goto bad;
    }
    if (pos != len)
        goto bad; /* bytes left over, as lvrpc_decode refuses */
    *ret = recs;
    *ret_n = n;
    return 0;
bad:
    free(recs);
    return -EBADMSG;
}

void lvrpc_param_at(const char *b, size_t *pos, lvrpc_param *p) {
    size_t at = *pos;
    p->field_len = be32_at(b + at);
    p->field = b + at + 4;
    at += 4 + padded(p->field_len);
    p->type = (int)be32_at(b + at);
    at += 4;
    switch (p->type) {
    case LVRPC_T_INT:
    case LVRPC_T_BOOLEAN:
        p->v.i = (int32_t)be32_at(b + at);
        at += 4;
        break;
    case LVRPC_T_UINT:
        p->v.ui = be32_at(b + at);
        at += 4;
        break;
    case LVRPC_T_LLONG:
    case LVRPC_T_ULLONG:
        p->v.ul = be64_at(b + at);
        at += 8;
        break;
    case LVRPC_T_DOUBLE: {
        uint64_t u = be64_at(b + at);
        memcpy(&p->v.d, &u, 8); /* XDR doubles are IEEE 754, big-endian */
        at += 8;
        break;
    }
    default: /* STRING: the index allowed nothing else */
        p->v.s.len = be32_at(b + at);
        p->v.s.p = b + at + 4;
        at += 4 + padded(p->v.s.len);
        break;
    }
    *pos = at;
}

int lvrpc_metadata_event(const void *buf, size_t len, unsigned char uuid[16]) {
    remote_domain_event_callback_metadata_change_msg ev;
    frame_header h;
    frame_msg m;
    int r;

    if (frame_open(&m, buf, len, VIRNET_MESSAGE_MAX, &h) < 0)
        return -EBADMSG;
    if (h.type != VIRNET_MESSAGE || h.prog != REMOTE_PROGRAM ||
        h.proc != REMOTE_PROC_DOMAIN_EVENT_CALLBACK_METADATA_CHANGE) {
        frame_close(&m);
        return -ENOMSG;
    }
    memset(&ev, 0, sizeof(ev));
    r = frame_decode_body(&m, (xdrproc_t)xdr_remote_domain_event_callback_metadata_change_msg, &ev);
    frame_close(&m);
    if (r < 0)
        return r;
    memcpy(uuid, ev.msg.dom.uuid, 16);
    xdr_free((xdrproc_t)xdr_remote_domain_event_callback_metadata_change_msg, (char *)&ev);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * The connection
 * ------------------------------------------------------------------------------------------- */

struct lvrpc {
    pthread_mutex_t lock;              /* one call at a time on the socket */
    bool watch_meta;                   /* metadata-change events asked for (lvrpc_watch_metadata) */
    bool meta_events;                  /* and registered on the current connection */
    bool meta_all;                     /* a connection was opened since the last drain */
    unsigned char (*meta_changed)[16]; /* domains announced since the last drain */
    size_t nmeta_changed;
    int fd;  /* -1 between a lost connection and the next call */
    bool rw; /* opened read-write (lvrpc_open_rw) */
    unsigned serial;
    unsigned timeout_ms;
    char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char name[64];
};

/* A message that is not the reply: a metadata change is noted (a bounded list; past it, every
 * domain counts as changed). */
static void note_event(lvrpc *c, const char *buf, size_t len) {
    unsigned char u[16];
    if (lvrpc_metadata_event(buf, len, u) < 0)
        return;
    for (size_t i = 0; i < c->nmeta_changed; i++)
        if (!memcmp(c->meta_changed[i], u, 16))
            return;
    if (c->nmeta_changed >= 4096) {
        c->meta_all = true;
        return;
    }
    unsigned char(*n)[16] = realloc(c->meta_changed, (c->nmeta_changed + 1) * sizeof(*n));
    if (!n) {
        c->meta_all = true;
        return;
    }
    c->meta_changed = n;
    memcpy(c->meta_changed[c->nmeta_changed++], u, 16);
}

/* Send or receive exactly @len bytes before @deadline. */
static int io_all(int fd, char *buf, size_t len, bool out, uint64_t deadline) {
    while (len) {
        ssize_t n = out ? send(fd, buf, len, MSG_NOSIGNAL) : recv(fd, buf, len, 0);
        if (n == 0 && !out)
            return -ECONNRESET; /* libvirtd closed the connection */
        if (n < 0) {
            int r;
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return -errno;
            if ((r = fd_wait(fd, out ? POLLOUT : POLLIN, deadline)) < 0)
                return r;
            continue;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One message from the socket, whole, in a new buffer. */
static int recv_message(int fd, char **ret, size_t *ret_len, uint64_t deadline) {
    char first[4];
    size_t total;
    char *buf;
    int r;

    if ((r = io_all(fd, first, 4, false, deadline)) < 0)
        return r;
    if ((r = frame_length(first, VIRNET_MESSAGE_MAX, &total)) < 0)
        return r;
    if (!(buf = malloc(total)))
        return -ENOMEM;
    memcpy(buf, first, 4);
    if ((r = io_all(fd, buf + 4, total - 4, false, deadline)) < 0) {
        free(buf);
        return r;
    }
    *ret = buf;
    *ret_len = total;
    return 0;
}

/* A call on the open socket; the caller holds the lock. */
static int call_locked(lvrpc *c, int proc, xdrproc_t args_proc, void *args, xdrproc_t ret_proc, void *ret,
                       lvrpc_error *err) {
    uint64_t deadline = now_ns() + (uint64_t)c->timeout_ms * 1000000;
    unsigned serial = ++c->serial;
    _cleanup_free_ char *out = NULL;
    size_t outlen;
    int r;

    if ((r = lvrpc_encode(REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION, proc, VIRNET_CALL, serial, args_proc, args, &out,
                          &outlen)) < 0)
        return r;
    if ((r = io_all(c->fd, out, outlen, true, deadline)) < 0)
        return r;
    /* libvirtd takes a moment to answer (milliseconds for every domain's statistics): wait,
     * rather than try to read first. */
    if ((r = fd_wait(c->fd, POLLIN, deadline)) < 0)
        return r;
    for (;;) {
        _cleanup_free_ char *in = NULL;
        size_t inlen;
        lvrpc_msg_kind kind;
        if ((r = recv_message(c->fd, &in, &inlen, deadline)) < 0)
            return r;
        r = lvrpc_decode(in, inlen, proc, serial, ret_proc, ret, &kind, err);
        if (r == 0 && kind == LVRPC_MSG_REPLY && ret_proc == (xdrproc_t)lvrpc_xdr_raw)
            ((lvrpc_raw *)ret)->msg = TAKE_PTR(in); /* the body lies in it */
        if (r < 0 || kind == LVRPC_MSG_REPLY)
            return r;
        if (kind == LVRPC_MSG_IGNORED && c->meta_events)
            note_event(c, in, inlen);
        if (kind == LVRPC_MSG_PING) {
            _cleanup_free_ char *pong = NULL;
            size_t ponglen;
            if ((r = lvrpc_encode(KEEPALIVE_PROGRAM, KEEPALIVE_PROTOCOL_VERSION, KEEPALIVE_PROC_PONG, VIRNET_MESSAGE, 0,
                                  NULL, NULL, &pong, &ponglen)) < 0 ||
                (r = io_all(c->fd, pong, ponglen, true, deadline)) < 0)
                return r;
        }
    }
}

static void drop(lvrpc *c) {
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->meta_events = false;
}

static bool_t xdr_nothing(XDR *x, void *p) {
    (void)x;
    (void)p;
    return TRUE;
}

/* Register for metadata-change events on the open connection: 0, -EREMOTEIO when libvirtd
 * refused (it is too old: announcements are then not made), or a failure of the connection. */
static int register_meta_locked(lvrpc *c) {
    remote_connect_domain_event_callback_register_any_args a = {.eventID = VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
                                                                .dom = NULL};
    remote_connect_domain_event_callback_register_any_ret rr = {0};
    lvrpc_error err = {0};
    int r = call_locked(c, REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY,
                        (xdrproc_t)xdr_remote_connect_domain_event_callback_register_any_args, &a,
                        (xdrproc_t)xdr_remote_connect_domain_event_callback_register_any_ret, &rr, &err);
    c->meta_events = r == 0;
    c->meta_all = true; /* what changed while no connection was registered went unannounced */
    return r;
}

/* Connect, authenticate and open the hypervisor connection; the caller holds the lock. */
static int connect_locked(lvrpc *c, char *why, size_t whylen) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    remote_auth_list_ret auth;
    remote_connect_open_args open_args;
    char *name = c->name;
    lvrpc_error err = {0};
    int r;

    drop(c);
    memcpy(sa.sun_path, c->sock, sizeof(sa.sun_path));
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = -errno;
        snprintf(why, whylen, "cannot connect to %s: %s", c->sock, strerror(errno));
        drop(c);
        return r;
    }
    /* libvirt's remote driver: authenticate with the first type the server lists (none when it
     * lists none). */
    memset(&auth, 0, sizeof(auth));
    r = call_locked(c, REMOTE_PROC_AUTH_LIST, NULL, NULL, (xdrproc_t)xdr_remote_auth_list_ret, &auth, &err);
    if (r < 0) {
        snprintf(why, whylen, "%s: listing authentication types: %s", c->sock,
                 r == -EREMOTEIO ? err.message : strerror(-r));
        drop(c);
        return r;
    }
    r = 0;
    if (auth.types.types_len > 0) {
        switch (auth.types.types_val[0]) {
        case REMOTE_AUTH_NONE:
            break;
        case REMOTE_AUTH_POLKIT: {
            /* libvirtd asks polkit about this process (root is allowed); the reply's "complete"
             * carries nothing more than success. */
            remote_auth_polkit_ret pk = {0};
            r = call_locked(c, REMOTE_PROC_AUTH_POLKIT, NULL, NULL, (xdrproc_t)xdr_remote_auth_polkit_ret, &pk, &err);
            if (r < 0)
                snprintf(why, whylen, "%s: polkit authentication failed: %s", c->sock,
                         r == -EREMOTEIO ? err.message : strerror(-r));
            if (r == -EREMOTEIO)
                r = -EACCES;
            break;
        }
        default:
            snprintf(why, whylen, "%s asks for SASL authentication, which the native client does not speak", c->sock);
            r = -EACCES;
        }
    }
    xdr_free((xdrproc_t)xdr_remote_auth_list_ret, (char *)&auth);
    if (r < 0) {
        drop(c);
        return r;
    }
    open_args = (remote_connect_open_args){.name = &name, .flags = c->rw ? 0 : VIR_CONNECT_RO};
    r = call_locked(c, REMOTE_PROC_CONNECT_OPEN, (xdrproc_t)xdr_remote_connect_open_args, &open_args,
                    (xdrproc_t)xdr_nothing, NULL, &err);
    if (r < 0) {
        snprintf(why, whylen, "%s: opening %s: %s", c->sock, c->name, r == -EREMOTEIO ? err.message : strerror(-r));
        drop(c);
        return r == -EREMOTEIO ? -ECONNREFUSED : r;
    }
    if (c->watch_meta && (r = register_meta_locked(c)) < 0 && r != -EREMOTEIO) {
        snprintf(why, whylen, "%s: registering for metadata events: %s", c->sock, strerror(-r));
        drop(c);
        return r;
    }
    return 0;
}

static int open_mode(const char *uri, bool rw, lvrpc **ret, char *why, size_t whylen) {
    lvrpc *c;
    int r;

    if (!(c = calloc(1, sizeof(*c)))) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    c->fd = -1;
    c->timeout_ms = LVRPC_TIMEOUT_MS;
    pthread_mutex_init(&c->lock, NULL);
    if (!lvrpc_uri_native(uri, c->sock, sizeof(c->sock), c->name, sizeof(c->name))) {
        snprintf(why, whylen, "'%s' is not a local qemu URI", uri);
        free(c);
        return -EINVAL;
    }
    /* libvirtd's read-write socket lies beside its read-only one: libvirt-sock(-ro),
     * virtqemud-sock(-ro). A socket named otherwise (?socket=) is taken as given. */
    c->rw = rw;
    size_t sl = strlen(c->sock);
    if (rw && sl > 8 && streq(c->sock + sl - 8, "-sock-ro"))
        c->sock[sl - 3] = 0;
    pthread_mutex_lock(&c->lock);
    r = connect_locked(c, why, whylen);
    pthread_mutex_unlock(&c->lock);
    if (r < 0) {
        lvrpc_close(c);
        return r;
    }
    *ret = c;
    return 0;
}

int lvrpc_open(const char *uri, lvrpc **ret, char *why, size_t whylen) {
    return open_mode(uri, false, ret, why, whylen);
}

int lvrpc_open_rw(const char *uri, lvrpc **ret, char *why, size_t whylen) {
    return open_mode(uri, true, ret, why, whylen);
}

void lvrpc_set_timeout(lvrpc *c, unsigned ms) {
    c->timeout_ms = ms;
}

void lvrpc_close(lvrpc *c) {
    if (!c)
        return;
    if (c->fd >= 0) {
        lvrpc_error err;
        /* A polite goodbye, not worth waiting long for. */
        c->timeout_ms = c->timeout_ms < 1000 ? c->timeout_ms : 1000;
        (void)call_locked(c, REMOTE_PROC_CONNECT_CLOSE, NULL, NULL, (xdrproc_t)xdr_nothing, NULL, &err);
        drop(c);
    }
    pthread_mutex_destroy(&c->lock);
    free(c->meta_changed);
    free(c);
}

/* Failures of the connection itself, after which a new connection may succeed. */
static bool connection_lost(int r) {
    return r == -ECONNRESET || r == -EPIPE || r == -ENOTCONN || r == -ECONNREFUSED || r == -ENOENT;
}

int lvrpc_call(lvrpc *c, int proc, xdrproc_t args_proc, void *args, xdrproc_t ret_proc, void *ret, lvrpc_error *err) {
    lvrpc_error e = {0};
    char why[256];
    bool reused;
    int r;

    if (!err)
        err = &e;
    pthread_mutex_lock(&c->lock);
    reused = c->fd >= 0;
    if (!reused && (r = connect_locked(c, why, sizeof(why))) < 0)
        goto out;
    r = call_locked(c, proc, args_proc, args, ret_proc ? ret_proc : (xdrproc_t)xdr_nothing, ret, err);
    /* A connection kept since an earlier call may have been closed by a libvirtd that restarted
     * since: once more on a new one (the read calls are safe to repeat, and so are the two
     * control calls, which set a state rather than change it by a step). */
    if (reused && connection_lost(r) && connect_locked(c, why, sizeof(why)) == 0)
        r = call_locked(c, proc, args_proc, args, ret_proc ? ret_proc : (xdrproc_t)xdr_nothing, ret, err);
    /* After a timeout or a malformed message the stream's position is unknown: start over at
     * the next call. */
    if (r < 0 && r != -EREMOTEIO)
        drop(c);
out:
    pthread_mutex_unlock(&c->lock);
    return r;
}

int lvrpc_watch_metadata(lvrpc *c) {
    char why[256];
    int r;
    pthread_mutex_lock(&c->lock);
    c->watch_meta = true;
    /* Registered on the open connection, or as the connection opens. */
    r = c->fd < 0 ? connect_locked(c, why, sizeof(why)) : register_meta_locked(c);
    if (r == 0 && !c->meta_events)
        r = -EOPNOTSUPP;
    if (r < 0)
        c->watch_meta = false;
    pthread_mutex_unlock(&c->lock);
    return r;
}

bool lvrpc_metadata_changes(lvrpc *c, unsigned char (**ret)[16], size_t *ret_n, bool *ret_all) {
    bool watching;
    pthread_mutex_lock(&c->lock);
    watching = c->watch_meta;
    *ret = c->meta_changed;
    *ret_n = c->nmeta_changed;
    *ret_all = c->meta_all;
    c->meta_changed = NULL;
    c->nmeta_changed = 0;
    c->meta_all = false;
    pthread_mutex_unlock(&c->lock);
    return watching;
}
