/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd: the node daemon. Samples the host into a cache and serves the uniserver API over
 * unix sockets (read-write and read-only), and TLS or loopback TCP when asked. */
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <sys/stat.h>

#include "daemon.h"
#include "drivers/remote/remote.h"

#define DEFAULT_CONFIG "/etc/uniserver/uniserverd.conf"

static void usage(FILE *f) {
    fprintf(f,
            "usage: uniserverd [OPTIONS]\n"
            "\n"
            "The uniserver node daemon: samples the host every interval into a cache and serves every\n"
            "client from it, on %s/%s (read-write, root or sock_group) and %s (read-only).\n"
            "\n"
            "  -f, --foreground         stay in the foreground (logs to stderr)\n"
            "  -c, --config FILE        settings file (default " DEFAULT_CONFIG " when it exists)\n"
            "      --runtime-dir DIR    sockets' directory (default " UNI_DEFAULT_RUNTIME_DIR ")\n"
            "      --uri URI            what to sample (default uniserver:///system; test:///default,\n"
            "                           uniserver:///system?procfs=DIR&sysfs=DIR also work)\n"
            "      --interval MS        sampling interval (default 1000)\n"
            "      --listen-tls ADDR:PORT   serve TLS with client certificates (--tls-cert/-key/-ca FILE)\n"
            "      --listen-tcp ADDR:PORT   plain TCP, loopback only, needs --insecure-tcp\n"
            "      --tls-allowed-dn PATTERN;...  DNs of the client certificates allowed (fnmatch)\n"
            "      --tls-readonly       TLS clients are read-only\n"
            "      --reliability-threshold P  the node is unreliable at P(failure within 24 h) >= P (default 0.05)\n"
            "      --sock-group GROUP   group allowed on the read-write socket\n"
            "      --log-level LEVEL    error, warning, info (default), debug\n"
            "      --syslog             log to syslog\n"
            "      --pid-file FILE      write the pid there\n"
            "      --state-dir DIR      the availability and energy ledger's directory (default\n"
            "                           " UNI_DEFAULT_STATE_DIR ", or --runtime-dir's when that is given)\n"
            "      --metrics-listen ADDR:PORT|off   Prometheus /metrics (default 127.0.0.1:9177)\n"
            "      --max-clients N, --max-ro-clients N, --max-clients-per-uid N\n"
            "      --client-idle-timeout MS, --max-client-queue BYTES, --max-queued-bytes BYTES\n"
            "                           client limits (the settings of the same names, below)\n"
            "      --set KEY=VALUE      any setting of the file\n"
            "      --list-procedures    print every wire procedure: number, name, access (open,\n"
            "                           read, control: refused on read-only connections)\n"
            "  -h, --help, -V, --version\n"
            "\n"
            "Settings file keys (the same settings; flags win over the file):\n%s"
            "\nStop it with SIGTERM. Talk to it: unish -c uniserver+unix:///system nodestats\n",
            UNI_DEFAULT_RUNTIME_DIR, UNI_SOCK_RW, UNI_SOCK_RO, config_keys_help);
}

static int daemonize(void) {
    pid_t pid = fork();
    int fd;
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (chdir("/") < 0)
        return -1;
    close_inherited_fds();
    fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    return 0;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"foreground", no_argument, NULL, 'f'},
        {"config", required_argument, NULL, 'c'},
        {"runtime-dir", required_argument, NULL, 1},
        {"uri", required_argument, NULL, 2},
        {"interval", required_argument, NULL, 3},
        {"listen-tls", required_argument, NULL, 4},
        {"listen-tcp", required_argument, NULL, 5},
        {"insecure-tcp", no_argument, NULL, 6},
        {"tls-cert", required_argument, NULL, 7},
        {"tls-key", required_argument, NULL, 8},
        {"tls-ca", required_argument, NULL, 9},
        {"sock-group", required_argument, NULL, 10},
        {"log-level", required_argument, NULL, 11},
        {"syslog", no_argument, NULL, 12},
        {"pid-file", required_argument, NULL, 13},
        {"metrics-listen", required_argument, NULL, 14},
        {"max-clients", required_argument, NULL, 16},
        {"max-ro-clients", required_argument, NULL, 17},
        {"max-clients-per-uid", required_argument, NULL, 18},
        {"client-idle-timeout", required_argument, NULL, 19},
        {"max-client-queue", required_argument, NULL, 20},
        {"max-queued-bytes", required_argument, NULL, 21},
        {"set", required_argument, NULL, 22},
        {"tls-allowed-dn", required_argument, NULL, 23},
        {"tls-readonly", no_argument, NULL, 24},
        {"state-dir", required_argument, NULL, 25},
        {"reliability-threshold", required_argument, NULL, 26},
        {"help", no_argument, NULL, 'h'},
        {"list-procedures", no_argument, NULL, 15},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    static const char *const keyof[] = {[1] = "runtime_dir",
                                        [2] = "uri",
                                        [3] = "interval_ms",
                                        [4] = "listen_tls",
                                        [5] = "listen_tcp",
                                        [6] = "insecure_tcp",
                                        [7] = "tls_cert",
                                        [8] = "tls_key",
                                        [9] = "tls_ca",
                                        [10] = "sock_group",
                                        [11] = "log_level",
                                        [12] = "syslog",
                                        [13] = "pid_file",
                                        [14] = "metrics_listen",
                                        [16] = "max_clients",
                                        [17] = "max_ro_clients",
                                        [18] = "max_clients_per_uid",
                                        [19] = "client_idle_timeout_ms",
                                        [20] = "max_client_queue",
                                        [21] = "max_queued_bytes",
                                        [23] = "tls_allowed_dn_list",
                                        [24] = "tls_readonly",
                                        [25] = "state_dir",
                                        [26] = "reliability_threshold"};
    config cfg, flags;
    const char *config_path = NULL;
    char *set_keys[32], *set_vals[32];
    int nset = 0, o, rc;

    config_defaults(&cfg);
    config_defaults(&flags);
    while ((o = getopt_long(argc, argv, "fc:hV", opts, NULL)) != -1) {
        switch (o) {
        case 'f':
            cfg.foreground = true;
            break;
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 15:
            dispatch_list_procedures(stdout);
            return 0;
        case 'V':
            printf("uniserverd (uniserver) %d.%d.%d\n", UNI_VERSION_MAJOR, UNI_VERSION_MINOR, UNI_VERSION_MICRO);
            return 0;
        case 22: /* --set KEY=VALUE: any setting of the file */
            if (settings_flag_set(&uniserverd_settings, optarg, set_keys, set_vals, &nset, 32) < 0)
                return 2;
            break;
        default:
            if (o >= 1 && o <= 26 && o != 15 && o != 22 && nset < 32) {
                set_keys[nset] = (char *)keyof[o];
                set_vals[nset++] = optarg ? optarg : (char *)"yes";
                break;
            }
            fprintf(stderr, "Try 'uniserverd --help'.\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "uniserverd: unexpected argument '%s'\nTry 'uniserverd --help'.\n", argv[optind]);
        return 2;
    }
    if (settings_apply(&uniserverd_settings, &cfg, config_path, DEFAULT_CONFIG, set_keys, set_vals, nset) < 0)
        return 2;
    /* A daemon in a runtime directory of its own (a test, a second instance) keeps its ledger
     * there unless told otherwise: the host's ledger is the system daemon's. */
    if (!cfg.state_dir)
        cfg.state_dir = strdup(cfg.runtime_dir ? cfg.runtime_dir : UNI_DEFAULT_STATE_DIR);
    if (!cfg.runtime_dir)
        cfg.runtime_dir = strdup(UNI_DEFAULT_RUNTIME_DIR);
    if (!cfg.source_uri)
        cfg.source_uri = strdup("uniserver:///system");
    if (config_source_uri(&cfg) < 0)
        return 2;
    log_setup(cfg.level, cfg.syslog || !cfg.foreground);
    if (!cfg.foreground && daemonize() < 0) {
        fprintf(stderr, "uniserverd: cannot become a daemon: %s\n", strerror(errno));
        return 1;
    }
    /* Small by design: one worker samples (libuv's pool would start four), and the threads
     * share malloc's arenas instead of growing one each. */
    setenv("UV_THREADPOOL_SIZE", "1", 0);
    mallopt(M_ARENA_MAX, 1);
    rc = server_run(&cfg);
    config_free(&cfg);
    config_free(&flags);
    return rc;
}
