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
    long idle_timeout_ms; /* a client that has not opened (or finished TLS), or an HTTP client that
                           * has sent no complete request, by then is dropped */
    log_level level;
    bool syslog;
    bool foreground;
    char *pid_file;
    char *metrics_listen;     /* ADDR:PORT of /metrics (default 127.0.0.1:9177), or "off" */
    char *metrics_tls_cert, *metrics_tls_key;
    char *metrics_basic_auth; /* user:password, or NULL */
    long metrics_max_clients; /* HTTP clients at once; more are refused */
} config;

/* A daemon's settings as a table of keys into its settings struct: the file and the flags go
 * through the same table (config.c). */
typedef enum { K_STR, K_LONG, K_BOOL, K_LEVEL } key_type;
typedef struct {
    const char *name;
    key_type type;
    size_t off;
    long min, max;
} key_def;
typedef struct {
    const char *prog; /* for messages */
    const key_def *keys;
    size_t nkeys;
} settings_def;
/* Set one setting by name; -1 with *err set on a bad name or value. */
int settings_set(const settings_def *d, void *obj, const char *key, const char *value, char **err);
/* Read key = value lines; -1 with a message naming the file, line and key on a bad one. */
int settings_load(const settings_def *d, void *obj, const char *path, bool must_exist);
/* Free the string settings. */
void settings_free(const settings_def *d, void *obj);
/* The file (@path, else @default_path when it exists), then the flags' @n key/value pairs over it;
 * -1 after a message on stderr. */
int settings_apply(const settings_def *d, void *obj, const char *path, const char *default_path, char *const *flag_keys,
                   char *const *vals, int n);
/* Write this process's pid to @path; -1 after logging why. */
int pid_file_write(const char *path);

/* uniserverd's settings table (config.c). */
extern const settings_def uniserverd_settings;

void config_defaults(config *c);
void config_free(config *c);
/* The documented settings, for --help and the man page. */
extern const char *const config_keys_help;

void log_setup(log_level level, bool use_syslog);
/* The program name in log lines and syslog (default "uniserverd"); call before log_setup. */
void log_set_ident(const char *name);
void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
int log_level_from_name(const char *s);

/* Run the server until SIGTERM/SIGINT; returns the exit status. */
int server_run(const config *cfg);

/* dispatch.c: every procedure the daemon answers, one line each: "NUMBER\tNAME\tACCESS" (open,
 * read or control), from procs.def and views.def (uniserverd --list-procedures; the read-only
 * tests try every control one). */
void dispatch_list_procedures(FILE *f);
