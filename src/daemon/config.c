/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemons' settings: defaults, the config file (/etc/uniserver/uniserverd.conf,
 * uni-healthd.conf) and flags, all through one table of keys per daemon, so a setting is the same
 * in the file and on the command line. */
#include <ctype.h>
#include <stdarg.h>
#include <syslog.h>

#include "daemon.h"
#include "drivers/remote/remote.h"
#include "rpc/wire.h"

#define OFF(f) offsetof(config, f)
static const key_def keys[] = {
    {"runtime_dir", K_STR, OFF(runtime_dir), 0, 0},
    {"uri", K_STR, OFF(source_uri), 0, 0},
    {"interval_ms", K_LONG, OFF(interval_ms), 10, 3600000},
    {"listen_tls", K_STR, OFF(listen_tls), 0, 0},
    {"listen_tcp", K_STR, OFF(listen_tcp), 0, 0},
    {"insecure_tcp", K_BOOL, OFF(insecure_tcp), 0, 0},
    {"tls_cert", K_STR, OFF(tls_cert), 0, 0},
    {"tls_key", K_STR, OFF(tls_key), 0, 0},
    {"tls_ca", K_STR, OFF(tls_ca), 0, 0},
    {"sock_group", K_STR, OFF(sock_group), 0, 0},
    {"max_clients", K_LONG, OFF(max_clients), 1, 100000},
    {"max_call_bytes", K_LONG, OFF(max_call_bytes), 1024, UNI_MESSAGE_MAX},
    {"idle_timeout_ms", K_LONG, OFF(idle_timeout_ms), 100, 86400000},
    {"log_level", K_LEVEL, OFF(level), 0, 0},
    {"syslog", K_BOOL, OFF(syslog), 0, 0},
    {"pid_file", K_STR, OFF(pid_file), 0, 0},
    {"metrics_listen", K_STR, OFF(metrics_listen), 0, 0},
    {"metrics_tls_cert", K_STR, OFF(metrics_tls_cert), 0, 0},
    {"metrics_tls_key", K_STR, OFF(metrics_tls_key), 0, 0},
    {"metrics_basic_auth", K_STR, OFF(metrics_basic_auth), 0, 0},
    {"metrics_max_clients", K_LONG, OFF(metrics_max_clients), 1, 100000},
};

const char *const config_keys_help =
    "  runtime_dir = DIR       sockets' directory (default /run/uniserver)\n"
    "  uri = URI               what to sample (default uniserver:///system)\n"
    "  interval_ms = MS        sampling interval (default 1000)\n"
    "  listen_tls = ADDR:PORT  TLS listener, client certificates required (default off)\n"
    "  listen_tcp = ADDR:PORT  plain TCP listener: needs insecure_tcp = yes, loopback only (default off)\n"
    "  tls_cert, tls_key, tls_ca = FILE   (default " UNI_DEFAULT_PKI_DIR "/servercert.pem, serverkey.pem, cacert.pem)\n"
    "  sock_group = GROUP      group allowed on the read-write socket (mode 0660; default root only, 0600)\n"
    "  max_clients = N         (default 1024)   max_call_bytes = N (default 1048576)\n"
    "  idle_timeout_ms = MS    drop clients that do not open, or send no HTTP request, in time (default 30000)\n"
    "  log_level = error|warning|info|debug (default info)   syslog = yes|no   pid_file = FILE\n"
    "  metrics_listen = ADDR:PORT|off   Prometheus /metrics (default 127.0.0.1:9177)\n"
    "  metrics_tls_cert, metrics_tls_key = FILE   serve /metrics over HTTPS\n"
    "  metrics_basic_auth = USER:PASSWORD          require HTTP basic auth on /metrics\n"
    "  metrics_max_clients = N                     HTTP clients at once (default 256)\n";

void config_defaults(config *c) {
    memset(c, 0, sizeof(*c));
    c->interval_ms = 1000;
    c->max_clients = 1024;
    c->max_call_bytes = 1 << 20;
    c->idle_timeout_ms = 30000;
    c->metrics_max_clients = 256;
    c->level = LOG_LEVEL_INFO;
}

const settings_def uniserverd_settings = {"uniserverd", keys, ELEMENTSOF(keys)};

void settings_free(const settings_def *d, void *obj) {
    for (size_t i = 0; i < d->nkeys; i++)
        if (d->keys[i].type == K_STR)
            free(*(char **)((char *)obj + d->keys[i].off));
}

void config_free(config *c) {
    settings_free(&uniserverd_settings, c);
    free(c->config_file);
}

int log_level_from_name(const char *s) {
    static const char *const names[] = {"error", "warning", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (streq(s, names[i]))
            return i;
    return -1;
}

int settings_set(const settings_def *d, void *obj, const char *key, const char *value, char **err) {
    for (size_t i = 0; i < d->nkeys; i++) {
        const key_def *k = &d->keys[i];
        void *p = (char *)obj + k->off;
        if (!streq(k->name, key))
            continue;
        switch (k->type) {
        case K_STR: {
            char *v = strdup(value);
            if (!v)
                return asprintf(err, "out of memory"), -1;
            free(*(char **)p);
            *(char **)p = v;
            return 0;
        }
        case K_LONG: {
            int64_t v;
            if (safe_atoi64(value, &v) < 0 || v < k->min || v > k->max)
                return asprintf(err, "%s = '%s': a number from %ld to %ld", key, value, k->min, k->max), -1;
            *(long *)p = (long)v;
            return 0;
        }
        case K_BOOL:
            if (streq(value, "yes") || streq(value, "true") || streq(value, "1"))
                *(bool *)p = true;
            else if (streq(value, "no") || streq(value, "false") || streq(value, "0"))
                *(bool *)p = false;
            else
                return asprintf(err, "%s = '%s': yes or no", key, value), -1;
            return 0;
        case K_LEVEL: {
            int l = log_level_from_name(value);
            if (l < 0)
                return asprintf(err, "%s = '%s': error, warning, info or debug", key, value), -1;
            *(log_level *)p = (log_level)l;
            return 0;
        }
        }
    }
    return asprintf(err, "unknown setting '%s'", key), -1;
}


static char *trim(char *s) {
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

int settings_load(const settings_def *d, void *obj, const char *path, bool must_exist) {
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    char line[4096];
    int lineno = 0;

    if (!f) {
        if (!must_exist && errno == ENOENT)
            return 0;
        fprintf(stderr, "%s: %s: %s\n", d->prog, path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        char *l = trim(line), *eq, *key, *val, *err = NULL;
        size_t vl;
        lineno++;
        if (!*l || *l == '#')
            continue;
        eq = strchr(l, '=');
        if (!eq) {
            fprintf(stderr, "%s: %s:%d: expected 'key = value'\n", d->prog, path, lineno);
            return -1;
        }
        *eq = 0;
        key = trim(l);
        val = trim(eq + 1);
        vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = 0;
            val++;
        }
        if (settings_set(d, obj, key, val, &err) < 0) {
            fprintf(stderr, "%s: %s:%d: %s\n", d->prog, path, lineno, err ? err : "bad setting");
            free(err);
            return -1;
        }
    }
    return 0;
}


int settings_apply(const settings_def *d, void *obj, const char *path, const char *default_path, char *const *flag_keys,
                   char *const *vals, int n) {
    /* The file first, then the flags over it. */
    if (settings_load(d, obj, path ? path : default_path, path != NULL) < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        char *err = NULL;
        if (settings_set(d, obj, flag_keys[i], vals[i], &err) < 0) {
            fprintf(stderr, "%s: --%s: %s\n", d->prog, flag_keys[i], err ? err : "bad value");
            free(err);
            return -1;
        }
    }
    return 0;
}

int pid_file_write(const char *path) {
    FILE *f = fopen(path, "we");
    if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0) {
        log_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
