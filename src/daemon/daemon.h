/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's parts: configuration (config.c) and the server (server.c); the settings engine and
 * the log are shared with uni-healthd (util/settings.h, util/log.h). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "lib/internal.h"
#include "util/log.h"
#include "util/settings.h"

typedef struct {
    char *config_file;
    char *runtime_dir; /* the sockets' directory */
    char *source_uri;  /* what the daemon samples: uniserver:///system, test:///default, a fixture */
    long interval_ms;  /* sampling interval */
    char *listen_tls;  /* ADDR:PORT, or NULL: no TLS */
    char *listen_tcp;  /* ADDR:PORT, plain TCP: only with insecure_tcp and only on loopback */
    bool insecure_tcp;
    char *tls_cert, *tls_key, *tls_ca;
    char *tls_allowed_dn_list;   /* ';'-separated patterns (fnmatch) a client certificate's DN must match, or NULL */
    bool tls_readonly;           /* TLS clients are read-only */
    char *sock_group;            /* group allowed on the read-write socket (mode 0660), or NULL (0600) */
    long max_clients;            /* wire clients at once, all listeners (lowered to fit the fd limit) */
    long max_ro_clients;         /* of which on the read-only socket: the rest is kept for read-write */
    long max_clients_per_uid;    /* read-only socket clients of one user (root's are not counted) */
    long client_idle_timeout_ms; /* an opened client that sends no call (or reads nothing) is dropped */
    long max_client_queue;       /* a client's unread replies: past this nothing more is read from it */
    long max_queued_bytes;       /* all clients' unread replies: past this no client with any is read */
    long max_call_bytes;         /* the largest call a client may send */
    long idle_timeout_ms;        /* a client that has not opened (or finished TLS), or an HTTP client that
                           * has sent no complete request, by then is dropped */
    log_level level;
    bool syslog;
    bool foreground;
    char *pid_file;
    char *metrics_listen; /* ADDR:PORT of /metrics (default 127.0.0.1:9177), or "off" */
    char *metrics_tls_cert, *metrics_tls_key;
    char *metrics_basic_auth; /* user:password, or NULL */
    long metrics_max_clients; /* HTTP clients at once; more are refused */
    char *margins_file;       /* uni-stresslog's margins file for host.margin.* (local source), or NULL: the default */
} config;

/* uniserverd's settings table (config.c). */
extern const settings_def uniserverd_settings;

void config_defaults(config *c);
void config_free(config *c);
/* The documented settings, for --help and the man page. */
extern const char *const config_keys_help;

/* Run the server until SIGTERM/SIGINT; returns the exit status. */
int server_run(const config *cfg);

/* dispatch.c: every procedure the daemon answers, one line each: "NUMBER\tNAME\tACCESS" (open,
 * read or control), from procs.def and views.def (uniserverd --list-procedures; the read-only
 * tests try every control one). */
void dispatch_list_procedures(FILE *f);
