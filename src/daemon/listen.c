/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's listeners: the unix sockets, TCP with TLS (or plain on loopback), and accepting
 * their clients, each for the protocol its listener serves. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <uv.h>

#include "drivers/remote/remote.h"
#include "server_internal.h"
#include "util/lockfile.h"

listener *listener_add(server *srv, int fd, protocol *p) {
    listener *l;
    if (srv->nlisteners >= (int)ELEMENTSOF(srv->listeners))
        return NULL;
    l = &srv->listeners[srv->nlisteners++];
    *l = (listener){.srv = srv, .proto = p, .fd = fd};
    return l;
}

int runtime_dir_open(server *srv, const char *dir) {
    bool created = mkdir(dir, 0755) == 0;
    struct stat st;
    pid_t holder = 0;
    int fd, r;

    if (!created && errno != EEXIST) {
        log_error("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    /* Never through a symlink: the directory checked below is the one the sockets go in. */
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        log_error("runtime directory %s: %s", dir,
                  errno == ELOOP || errno == ENOTDIR ? "a symlink or not a directory: refused" : strerror(errno));
        return -1;
    }
    srv->run_fd = fd;
    if (fstat(fd, &st) < 0) {
        log_error("runtime directory %s: %s", dir, strerror(errno));
        return -1;
    }
    /* Whoever else may write it could swap a socket for a symlink, or plant one of their own. */
    if (st.st_uid != geteuid()) {
        log_error("runtime directory %s is owned by uid %d, not by uniserverd's user (uid %d): refused", dir,
                  (int)st.st_uid, (int)geteuid());
        return -1;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        log_error("runtime directory %s is writable by others (mode %04o): refused", dir,
                  (unsigned)(st.st_mode & 07777));
        return -1;
    }
    /* Made by us: 0755 whatever the umask, so that others reach the read-only socket. */
    if (created && fchmod(fd, 0755) < 0)
        log_warning("cannot make %s mode 0755: %s", dir, strerror(errno));
    else if (!created && (st.st_mode & 0005) != 0005)
        log_warning("runtime directory %s is mode %04o: others cannot reach the read-only socket", dir,
                    (unsigned)(st.st_mode & 07777));
    /* One instance per directory: the lock is held for the daemon's life, taken before anything in
     * the directory is touched (and never removed: removing a lock file races with its next taker). */
    r = lockfile_take(fd, UNI_INSTANCE_LOCK, 0600, &holder);
    if (r == -EBUSY) {
        log_error("another uniserverd (pid %d) runs on %s", (int)holder, dir);
        return -1;
    }
    if (r < 0 || lockfile_write_pid(r) < 0) {
        log_error("cannot lock %s/%s: %s", dir, UNI_INSTANCE_LOCK, strerror(r < 0 ? -r : errno));
        if (r >= 0)
            close(r);
        return -1;
    }
    srv->lock_fd = r;
    return 0;
}

int listen_unix(server *srv, protocol *proto, const char *dir, const char *name, bool ro) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char tmp[64], final_path[sizeof(sa.sun_path)];
    mode_t mode = ro ? 0666 : srv->cfg->sock_group ? 0660 : 0600, old_umask;
    struct stat st;
    listener *l;
    int fd, r;

    if ((size_t)snprintf(final_path, sizeof(final_path), "%s/%s", dir, name) >= sizeof(final_path)) {
        log_error("socket path %s/%s is too long", dir, name);
        return -1;
    }
    /* Bound under a temporary name with its mode already (the umask around bind: no chmod that a
     * symlink could redirect), listening, then renamed into place: the socket never appears with
     * the wrong mode, and a client never finds it not yet listening. Bound through the directory
     * opened and checked at start (/proc/self/fd/N: the path cannot be redirected). */
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", name, (int)getpid());
    snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", srv->run_fd, tmp);
    unlinkat(srv->run_fd, tmp, 0);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    old_umask = umask(~mode & 0777);
    r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old_umask);
    if (r < 0) {
        log_error("cannot bind %s/%s: %s", dir, tmp, strerror(errno));
        close(fd);
        return -1;
    }
    if (!ro && srv->cfg->sock_group) {
        struct group *g = getgrnam(srv->cfg->sock_group);
        if (!g) {
            log_error("sock_group '%s' does not exist", srv->cfg->sock_group);
            close(fd);
            unlinkat(srv->run_fd, tmp, 0);
            return -1;
        }
        if (fchownat(srv->run_fd, tmp, (uid_t)-1, g->gr_gid, AT_SYMLINK_NOFOLLOW) < 0)
            log_warning("cannot give %s to group %s: %s", final_path, g->gr_name, strerror(errno));
    }
    if (listen(fd, 128) < 0 || fstatat(srv->run_fd, tmp, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        renameat(srv->run_fd, tmp, srv->run_fd, name) < 0) {
        log_error("cannot listen on %s: %s", final_path, strerror(errno));
        close(fd);
        unlinkat(srv->run_fd, tmp, 0);
        return -1;
    }
    if (!(l = listener_add(srv, fd, proto))) {
        close(fd);
        return -1;
    }
    l->ro = ro;
    l->path = strdup(name);
    l->name = strdup(final_path);
    l->dev = st.st_dev;
    l->ino = st.st_ino;
    log_info("listening on %s (%s)", final_path, ro ? "read-only" : "read-write");
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
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

int listen_inet(server *srv, protocol *proto, const char *spec, bool tls) {
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
    if (!(l = listener_add(srv, fd, proto))) {
        close(fd);
        return -1;
    }
    l->tls = tls;
    l->tcp = true;
    if (tls) {
        l->verify_peer = true;
        l->tls_ro = srv->cfg->tls_readonly;
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
    log_info("listening on %s%s", l->name ? l->name : spec,
             tls ? " (client certificates required)" : " (INSECURE, loopback)");
    return 0;
}

int listen_tls_setup(server *srv) {
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

/* Log a refusal at most once a second per listener: a flood of connections is not a flood of log. */
static void refuse(listener *l, int fd, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void refuse(listener *l, int fd, const char *fmt, ...) {
    uint64_t now = now_ns();
    close(fd);
    l->refused++;
    if (now - l->refused_logged_ns > 1000000000) {
        char why[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        log_warning("refusing clients on %s: %s (%lu refused)", l->name, why, l->refused);
        l->refused_logged_ns = now;
    }
}

/* The read-only clients of @uid now. */
static long clients_of_uid(server *srv, uid_t uid) {
    long n = 0;
    for (client *c = srv->clients; c; c = c->next)
        n += c->counted_ro && c->have_cred && c->cred.uid == uid && !c->closing;
    return n;
}

static void on_accept(uv_poll_t *p, int status, int events);

static void on_accept_again(uv_timer_t *t) {
    server *srv = t->data;
    srv->accept_paused = false;
    for (int i = 0; i < srv->nlisteners; i++)
        uv_poll_start(&srv->listeners[i].poll, UV_READABLE, on_accept);
    log_info("accepting clients again");
}

/* Out of file descriptors (or memory): the listener stays readable, so accepting again at once
 * would spin. Every listener stops for a second, said once. */
static void accept_pause(server *srv, int err) {
    long n = 0;
    for (client *c = srv->clients; c; c = c->next)
        n++;
    log_warning("cannot accept a client: %s (%ld clients): not accepting for 1 s", strerror(err), n);
    srv->accept_paused = true;
    for (int i = 0; i < srv->nlisteners; i++)
        uv_poll_stop(&srv->listeners[i].poll);
    uv_timer_start(&srv->accept_timer, on_accept_again, 1000, 0);
}

static void on_accept(uv_poll_t *p, int status, int events) {
    listener *l = p->data;
    server *srv = l->srv;
    protocol *pr = l->proto;
    (void)events;
    if (status < 0)
        return;
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof(sa), cl;
        struct ucred cred = {0};
        bool have_cred = false;
        int fd = accept4(l->fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        client *c;
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_pause(srv, errno);
            else if (errno == ECONNABORTED || errno == EINTR)
                continue;
            return;
        }
        if (!l->tcp) {
            cl = sizeof(cred);
            have_cred = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0;
        }
        /* Read-only clients have their own limit under the total, so that the rest is kept for
         * the read-write socket; and one user (root aside) may hold only a few of them. */
        if (pr->nclients >= pr->max_clients) {
            refuse(l, fd, "%ld clients already (%s)", pr->nclients, pr->max_clients_key);
            continue;
        }
        if (l->ro && pr->max_ro && pr->nro >= pr->max_ro) {
            refuse(l, fd, "%ld read-only clients already (max_ro_clients)", pr->nro);
            continue;
        }
        if (l->ro && pr->max_per_uid && have_cred && cred.uid != 0 &&
            clients_of_uid(srv, cred.uid) >= pr->max_per_uid) {
            refuse(l, fd, "uid %d has %ld read-only clients already (max_clients_per_uid)", (int)cred.uid,
                   pr->max_per_uid);
            continue;
        }
        c = client_new(srv, pr, fd);
        if (!c) {
            close(fd);
            continue;
        }
        c->ro = l->ro || l->tls_ro;
        c->counted_ro = l->ro;
        if (l->ro)
            pr->nro++;
        c->tls = l->tls;
        c->verify_peer = l->verify_peer;
        c->tls_ro = l->tls_ro;
        if (!l->tcp) {
            c->cred = cred;
            c->have_cred = have_cred;
            snprintf(c->peer, sizeof(c->peer), "%s pid %d uid %d", l->ro ? "ro" : "rw", have_cred ? (int)cred.pid : -1,
                     have_cred ? (int)cred.uid : -1);
        } else {
            char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";
            int one = 1;
            getnameinfo((struct sockaddr *)&sa, sl, host, sizeof(host), port, sizeof(port),
                        NI_NUMERICHOST | NI_NUMERICSERV);
            snprintf(c->peer, sizeof(c->peer), "%s %s:%s", l->tls ? pr->tls_scheme : pr->scheme, host, port);
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        if (c->tls) {
            if (gnutls_init(&c->session, GNUTLS_SERVER | GNUTLS_NONBLOCK) < 0) {
                if (l->ro)
                    pr->nro--;
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
        client_start(c, l->name);
    }
}

void listeners_start(server *srv) {
    uv_timer_init(srv->loop, &srv->accept_timer);
    srv->accept_timer.data = srv;
    for (int i = 0; i < srv->nlisteners; i++) {
        uv_poll_init(srv->loop, &srv->listeners[i].poll, srv->listeners[i].fd);
        srv->listeners[i].poll.data = &srv->listeners[i];
        uv_poll_start(&srv->listeners[i].poll, UV_READABLE, on_accept);
    }
}

void listeners_stop(server *srv) {
    uv_timer_stop(&srv->accept_timer);
    uv_close((uv_handle_t *)&srv->accept_timer, NULL);
    for (int i = 0; i < srv->nlisteners; i++) {
        uv_poll_stop(&srv->listeners[i].poll);
        uv_close((uv_handle_t *)&srv->listeners[i].poll, NULL);
    }
}

void listeners_free(server *srv) {
    for (int i = 0; i < srv->nlisteners; i++) {
        struct stat st;
        close(srv->listeners[i].fd);
        /* Only our own socket: never one a later daemon put at that name. */
        if (srv->listeners[i].path && fstatat(srv->run_fd, srv->listeners[i].path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            st.st_dev == srv->listeners[i].dev && st.st_ino == srv->listeners[i].ino)
            unlinkat(srv->run_fd, srv->listeners[i].path, 0);
        free(srv->listeners[i].path);
        free(srv->listeners[i].name);
    }
    if (srv->tls_cred)
        gnutls_certificate_free_credentials(srv->tls_cred);
    if (srv->tls_prio)
        gnutls_priority_deinit(srv->tls_prio);
}
