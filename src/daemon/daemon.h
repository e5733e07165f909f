/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's parts: configuration (config.c), logging (log.c) and the server (server.c). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "lib/internal.h"

typedef enum { LOG_LEVEL_ERROR, LOG_LEVEL_WARNING, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG } log_level;

typedef struct {
    char *config_file;
    char *runtime_dir;   /* the sockets' directory */
    char *source_uri;    /* what the daemon samples: uniserver:///system, test:///default, a fixture */
    long interval_ms;    /* sampling interval */
    char *listen_tls;    /* ADDR:PORT, or NULL: no TLS */
    char *listen_tcp;    /* ADDR:PORT, plain TCP: only with insecure_tcp and only on loopback */
    bool insecure_tcp;
    char *tls_cert, *tls_key, *tls_ca;
    char *sock_group;    /* group allowed on the read-write socket (mode 0660), or NULL (0600) */
    long max_clients;
    long max_call_bytes; /* the largest call a client may send */
    long idle_timeout_ms; /* a client that has not opened (or finished TLS) by then is dropped */
    log_level level;
    bool syslog;
    bool foreground;
    char *pid_file;
    char *metrics_listen;     /* ADDR:PORT of /metrics (default 127.0.0.1:9177), or "off" */
    char *metrics_tls_cert, *metrics_tls_key;
    char *metrics_basic_auth; /* user:password, or NULL */
} config;

void config_defaults(config *c);
/* Read key = value lines; -1 with a message naming the file, line and key on a bad one. */
int config_load(config *c, const char *path, bool must_exist);
void config_free(config *c);
/* The documented settings, for --help and the man page. */
extern const char *const config_keys_help;
/* Set one setting by name ("interval_ms", "600"); -1 with *err set on a bad name or value. */
int config_set(config *c, const char *key, const char *value, char **err);

void log_setup(log_level level, bool use_syslog);
void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
int log_level_from_name(const char *s);

/* Run the server until SIGTERM/SIGINT; returns the exit status. */
int server_run(const config *cfg);
