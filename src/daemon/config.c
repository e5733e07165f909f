/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's settings: its table of keys, defaults and help (the engine that reads the file and
 * the flags through the table is src/util/settings.c). */
#include <ctype.h>

#include "daemon.h"
#include "drivers/remote/remote.h"
#include "rpc/wire.h"
#include "util/margins.h"

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
    {"tls_allowed_dn_list", K_STR, OFF(tls_allowed_dn_list), 0, 0},
    {"tls_readonly", K_BOOL, OFF(tls_readonly), 0, 0},
    {"sock_group", K_STR, OFF(sock_group), 0, 0},
    {"max_clients", K_LONG, OFF(max_clients), 2, 100000},
    {"max_ro_clients", K_LONG, OFF(max_ro_clients), 1, 100000},
    {"max_clients_per_uid", K_LONG, OFF(max_clients_per_uid), 1, 100000},
    {"client_idle_timeout_ms", K_LONG, OFF(client_idle_timeout_ms), 100, 86400000},
    {"max_client_queue", K_LONG, OFF(max_client_queue), 65536, UNI_MESSAGE_MAX},
    {"max_queued_bytes", K_LONG, OFF(max_queued_bytes), 65536, 1L << 32},
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
    {"state_dir", K_STR, OFF(state_dir), 0, 0},
    {"ledger_sync_ms", K_LONG, OFF(ledger_sync_ms), 0, 3600000},
    {"reliability_threshold", K_STR, OFF(reliability_threshold), 0, 0},
    {"predict_window_s", K_STR, OFF(predict_window_s), 0, 0},
    {"margins", K_STR, OFF(margins), 0, 0},
};

const char *const config_keys_help =
    "  runtime_dir = DIR       sockets' directory (default /run/uniserver)\n"
    "  uri = URI               what to sample (default uniserver:///system)\n"
    "  interval_ms = MS        sampling interval (default 1000)\n"
    "  listen_tls = ADDR:PORT  TLS listener, client certificates required (default off)\n"
    "  listen_tcp = ADDR:PORT  plain TCP listener: needs insecure_tcp = yes, loopback only (default off)\n"
    "  insecure_tcp = yes|no   allow listen_tcp's unauthenticated clients (default no)\n"
    "  tls_cert, tls_key, tls_ca = FILE   (default " UNI_DEFAULT_PKI_DIR "/servercert.pem, serverkey.pem, cacert.pem)\n"
    "  tls_allowed_dn_list = PATTERN;...  client certificates' DNs allowed (fnmatch, e.g. CN=ops-*,O=Example;\n"
    "                          default: any the CA signed); a client certificate must be meant for a client\n"
    "  tls_readonly = yes|no   TLS clients are read-only (default no)\n"
    "  sock_group = GROUP      group allowed on the read-write socket (mode 0660; default root only, 0600)\n"
    "  max_clients = N         wire clients at once (default 1024; lowered to fit the fd limit)\n"
    "  max_ro_clients = N      of which on the read-only socket (default 768; the rest is kept for read-write)\n"
    "  max_clients_per_uid = N read-only clients of one user, root's not counted (default 32)\n"
    "  max_call_bytes = N      the largest call (default 1048576)\n"
    "  idle_timeout_ms = MS    drop clients that do not open, send no HTTP request, or do not read their\n"
    "                          replies, in time (default 30000)\n"
    "  client_idle_timeout_ms = MS  drop an opened client that sends no call for this long (default 300000;\n"
    "                          the library reconnects at its next call)\n"
    "  max_client_queue = BYTES    a client's unread replies; past it nothing more is read from it (default 1048576)\n"
    "  max_queued_bytes = BYTES    all clients' unread replies; past it no client with any is read (default 67108864)\n"
    "  log_level = error|warning|info|debug (default info)   syslog = yes|no   pid_file = FILE\n"
    "  metrics_listen = ADDR:PORT|off   Prometheus /metrics (default 127.0.0.1:9177)\n"
    "  metrics_tls_cert, metrics_tls_key = FILE   serve /metrics over HTTPS\n"
    "  metrics_basic_auth = USER:HASH              require HTTP basic auth on /metrics; HASH is bcrypt or\n"
    "                          yescrypt, never the password: mkpasswd -m bcrypt -R 12 (Debian package whois)\n"
    "  metrics_max_clients = N                     HTTP clients at once (default 256)\n"
    "  state_dir = DIR         the availability and energy ledger's directory (default " UNI_DEFAULT_STATE_DIR ";\n"
    "                          with --runtime-dir given and no state_dir, that directory)\n"
    "  ledger_sync_ms = MS     save the ledger at most this often, and at stop (default 1000; a crash\n"
    "                          loses at most this much of the record of serving)\n"
    "  reliability_threshold = P   the node is unreliable when its P(failure within 24 h) >= P (default 0.05)\n"
    "  predict_window_s = S    the predictor's corrected-error window (default 3600)\n"
    "  margins = FILE          uni-stresslog's margins file: host.margin.* and the predictor's margins\n"
    "                          (default " UNI_MARGINS_DEFAULT_PATH ")\n"
    "                          (these three: docs/predictor.md; for a uniserver:/// source only)\n";

void config_defaults(config *c) {
    memset(c, 0, sizeof(*c));
    c->interval_ms = 1000;
    c->max_clients = 1024;
    c->max_ro_clients = 768;
    c->max_clients_per_uid = 32;
    c->client_idle_timeout_ms = 300000;
    c->max_client_queue = 1 << 20;
    c->max_queued_bytes = 64L << 20;
    c->max_call_bytes = 1 << 20;
    c->idle_timeout_ms = 30000;
    c->metrics_max_clients = 256;
    c->ledger_sync_ms = 1000;
    c->level = LOG_LEVEL_INFO;
}

const settings_def uniserverd_settings = {"uniserverd", keys, ELEMENTSOF(keys)};

/* Append @key=@value to the URI being built in @b, percent-encoding what a URI's query cannot hold. */
static int append_param(char **uri, const char *key, const char *value) {
    size_t n = strlen(*uri), len = n + strlen(key) + 3 * strlen(value) + 3;
    char *s = realloc(*uri, len), *p;
    if (!s)
        return -ENOMEM;
    *uri = s;
    p = s + n;
    p += sprintf(p, "%c%s=", strchr(s, '?') ? '&' : '?', key);
    for (const unsigned char *v = (const unsigned char *)value; *v; v++)
        p += isalnum(*v) || strchr("/._-~", *v) ? sprintf(p, "%c", *v) : sprintf(p, "%%%02X", *v);
    return 0;
}

int config_source_uri(config *c) {
    const struct {
        const char *key, *value;
    } p[] = {{"reliability_threshold", c->reliability_threshold},
             {"predict_window_s", c->predict_window_s},
             {"margins", c->margins}};
    for (size_t i = 0; i < ELEMENTSOF(p); i++) {
        if (!p[i].value)
            continue;
        if (strncmp(c->source_uri, "uniserver:///", 13) != 0) {
            fprintf(stderr, "uniserverd: %s applies to a uniserver:/// source (this host), not %s\n", p[i].key,
                    c->source_uri);
            return -EINVAL;
        }
        if (append_param(&c->source_uri, p[i].key, p[i].value) < 0)
            return -ENOMEM;
    }
    return 0;
}

void config_free(config *c) {
    settings_free(&uniserverd_settings, c);
    free(c->config_file);
}
