/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's listeners (listen.c): unix and TCP sockets, the TLS credentials, and accepting
 * clients, each for the protocol of its listener. */
#pragma once

#include <netdb.h>
#include <uv.h>

#include "client.h"
#include "util/gnutls_dl.h"

typedef struct listener {
    server *srv;
    protocol *proto; /* what its clients speak */
    uv_poll_t poll;
    int fd;
    bool ro, tls, tcp;
    bool verify_peer;           /* TLS: require a client certificate that chains to the CA */
    bool tls_ro;                /* TLS: its clients are read-only (tls_readonly) */
    unsigned long refused;      /* clients refused over a limit */
    uint64_t refused_logged_ns; /* when that was last said */
    gnutls_certificate_credentials_t cred;
    gnutls_priority_t prio;
    char *path; /* unix socket's name in the runtime directory, unlinked at exit if still ours */
    dev_t dev;  /* the socket file's identity */
    ino_t ino;
    char *name;
} listener;

/* Resolve "ADDR:PORT" or "[V6]:PORT" for listening; NULL (logged, naming @what) when it is not one.
 * ret_host (may be NULL) gets the host part, to be freed. */
struct addrinfo *resolve_listen(const char *spec, const char *what, char **ret_host);
/* A non-blocking TCP socket listening on @res's address (SO_REUSEADDR), or -errno. */
int listen_tcp_socket(const struct addrinfo *res);
/* A new listener slot for @p's clients (zeroed but for srv, proto and fd), or NULL when all are taken. */
listener *listener_add(server *srv, int fd, protocol *p);
/* The lock file of one uniserverd in its runtime directory. */
#define UNI_INSTANCE_LOCK "uniserverd.lock"
/* Open the runtime directory @dir (made 0755 when missing; refused when a symlink, owned by another
 * user or writable by others) into srv->run_fd, and take its instance lock (srv->lock_fd); -1
 * after logging why (another uniserverd runs there). */
int runtime_dir_open(server *srv, const char *dir);
/* The unix socket @dir/@name, read-only or read-write (mode 0666, or 0660 for sock_group, else 0600). */
int listen_unix(server *srv, protocol *proto, const char *dir, const char *name, bool ro);
/* TCP on @spec: with TLS and client certificates, or plain and then only on loopback. */
int listen_inet(server *srv, protocol *proto, const char *spec, bool tls);
/* The TLS credentials of listen_inet's TLS listeners, from tls_ca, tls_cert and tls_key. */
int listen_tls_setup(server *srv);
/* Accept on every listener (on the loop), and stop (at shutdown). */
void listeners_start(server *srv);
void listeners_stop(server *srv);
/* Close the sockets (unlinking the unix ones) and free the TLS credentials. */
void listeners_free(server *srv);
