/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-healthd: the health daemon (spec sections 1.1 and 2.3). It watches the host's hardware
 * error sources (EDAC counters in sysfs, the RAS tracepoints), records every event in the
 * HealthLog with the VMs it may have touched, samples the sensors the spec puts there, reads the
 * memory modules' speed once, and takes the first-level actions. One writer of the HealthLog: an
 * event is acknowledged (logged "committed") only once its transaction is on disk. */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>

#include "uni-healthd.h"

/* ---------------------------------------------------------------------------------------------
 * The cycle and the loop
 * ------------------------------------------------------------------------------------------- */

/* The changes control calls made, from the action spool their makers append to beside the
 * HealthLog (src/healthlog/spool.c). A refusal (a spool file someone else could have written)
 * is logged when it changes, not every cycle. */
static void import_actions(hd *h) {
    char why[600] = "";
    int64_t bad, n = hl_spool_import(h->db, h->cfg->db, &bad, why, sizeof(why));
    if (n < 0 && strcmp(why, h->spool_why))
        log_error("control actions: %s", why);
    else if (bad > 0)
        log_warning("committed %lld control actions from %s" HL_SPOOL_SUFFIX ", skipped %lld malformed lines",
                    (long long)n, h->cfg->db, (long long)bad);
    else if (n > 0)
        log_info("committed %lld control actions from %s" HL_SPOOL_SUFFIX, (long long)n, h->cfg->db);
    snprintf(h->spool_why, sizeof(h->spool_why), "%s", n < 0 ? why : "");
}

static void cycle(hd *h, bool startup, bool final) {
    int64_t now = wall_ms();
    if (h->have_trace)
        trace_src_drain(&h->trace, final, hd_trace_sink, h);
    if (h->cfg->edac)
        hd_edac_cycle(h, startup, now);
    hd_flush(h, now);
    import_actions(h);
    if (h->cfg->sensor_interval_ms > 0 && now >= h->next_sensor_ms) {
        hd_sample_sensors(h, now);
        h->next_sensor_ms = now + h->cfg->sensor_interval_ms;
    }
    if (now >= h->next_retention_ms) {
        hd_retention(h, now);
        h->next_retention_ms = now + 3600000;
    }
}

static void on_timer(uv_timer_t *t) {
    cycle(t->data, false, false);
}

static void on_trace_readable(uv_poll_t *p, int status, int events) {
    hd *h = p->data;
    (void)status;
    (void)events;
    /* A page is ready on some CPU: take it now rather than at the next interval. */
    trace_src_drain(&h->trace, false, hd_trace_sink, h);
    hd_flush(h, wall_ms());
}

static void on_signal(uv_signal_t *s, int signum) {
    hd *h = s->data;
    log_info("signal %d: stopping", signum);
    uv_stop(h->loop);
}

static int64_t boot_time_ms(int proc_fd) {
    char buf[8192];
    ssize_t n = read_file_at(proc_fd, "stat", buf, sizeof(buf));
    const char *p;
    uint64_t v;
    if (n < 0 || !(p = strstr(buf, "\nbtime ")))
        return 0;
    p += 7;
    return safe_atou64_n(p, strcspn(p, "\n"), &v) == 0 ? (int64_t)v * 1000 : 0;
}

static int open_dir(const char *dir, const char *what) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        log_error("%s root %s: %s", what, dir, strerror(errno));
    return fd;
}

static int hd_start(hd *h) {
    char why[1024] = "";
    int64_t v;
    int r;

    if ((h->proc_fd = open_dir(h->cfg->procfs, "procfs")) < 0 || (h->sys_fd = open_dir(h->cfg->sysfs, "sysfs")) < 0)
        return -1;
    h->ncpu = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    r = hl_open(h->cfg->db, HL_OPEN_WRITE, &h->db, why, sizeof(why));
    if (r == -EUCLEAN && h->cfg->move_damaged) {
        /* The way out of a damaged HealthLog: kept aside for forensics, and a new one started. */
        char aside[PATH_MAX];
        log_error("%s", why);
        if ((r = hl_move_aside(h->cfg->db, aside, sizeof(aside))) < 0) {
            log_error("cannot move %s aside: %s", h->cfg->db, strerror(-r));
            return -1;
        }
        log_warning("the damaged HealthLog is kept as %s; starting a new one at %s", aside, h->cfg->db);
        r = hl_open(h->cfg->db, HL_OPEN_WRITE, &h->db, why, sizeof(why));
    }
    if (r < 0) {
        log_error("%s", why);
        return -1;
    }
    /* A reboot resets the EDAC counters and empties the trace buffers. */
    h->boot_ms = boot_time_ms(h->proc_fd);
    if (hl_state_get(h->db, "boot.btime_ms", &v) == 0 && h->boot_ms && v != h->boot_ms)
        h->rebooted = true;
    if (hl_state_get(h->db, "healthd.last_seen_ms", &v) == 0)
        h->last_seen_ms = v;
    {
        int64_t stopped = 0;
        (void)hl_state_get(h->db, "healthd.stopped_ms", &stopped);
        hd_reboot_event(h, h->last_seen_ms, stopped);
        /* Where the history begins, for the node's observed time (MTBF). */
        if (hl_state_get(h->db, "history.start_ms", &v) < 0)
            (void)hd_state_later(h, "history.start_ms", wall_ms());
    }
    if (h->cfg->trace) {
        const char *dir = h->cfg->tracefs;
        if ((r = trace_src_open(&h->trace, dir, why, sizeof(why))) < 0) {
            log_info("RAS tracepoints: %s", why);
            trace_src_close(&h->trace);
        } else {
            char list[256] = "";
            size_t l = 0;
            h->have_trace = true;
            h->trace.on_lost = hd_trace_lost;
            for (int i = 0; i < TRACE_NEVENTS; i++)
                if (h->trace.live[i])
                    l += (size_t)snprintf(list + l, sizeof(list) - l, "%s%s", l ? ", " : "", trace_event_name(i));
            log_info("RAS tracepoints in %s: %s on %zu CPUs", dir, list, h->trace.ncpus);
        }
    }
    h->act.sys_fd = h->sys_fd;
    h->act.sysfs = h->cfg->sysfs;
    if (h->cfg->import_rasdaemon) {
        int64_t n = rasdaemon_import(h->db, h->cfg->import_rasdaemon, why, sizeof(why));
        if (n < 0) {
            /* Asked for and not done: the daemon does not start as though it were. */
            log_error("importing rasdaemon's %s: %s", h->cfg->import_rasdaemon, why);
            return -1;
        } else
            log_info("imported %lld events from rasdaemon's %s", (long long)n, h->cfg->import_rasdaemon);
    }
    hd_read_smbios(h);
    {
        /* The first EDAC pass tells whether there is a memory controller, or a cache that
         * counts its errors (an edac_device named after a cache level). */
        edac_scan s;
        bool edac = h->cfg->edac && edac_read(h->sys_fd, &s) == 0, edac_mem = false, edac_cpu = false;
        unsigned ndev = 0;
        int64_t imp_mem = 0, imp_cpu = 0;
        if (edac) {
            edac_mem = s.nmc > 0;
            ndev = s.ndev;
            for (size_t i = 0; i < s.n; i++)
                edac_cpu |= s.c[i].mc < 0 && s.c[i].cache_level > 0;
            edac_scan_free(&s);
        }
        (void)hl_state_get(h->db, "cap.memory.imported", &imp_mem);
        (void)hl_state_get(h->db, "cap.cpu.imported", &imp_cpu);
        /* What this host can report: counts are zeros where a source exists, absent where none. */
        (void)hd_state_later(
            h, "cap.memory",
            edac_mem || (h->have_trace && (h->trace.live[TRACE_MC_EVENT] || h->trace.live[TRACE_MCE_RECORD])) ||
                imp_mem);
        (void)hd_state_later(
            h, "cap.cpu",
            edac_cpu || (h->have_trace && (h->trace.live[TRACE_MCE_RECORD] || h->trace.live[TRACE_ARM_EVENT])) ||
                imp_cpu);
        if (h->boot_ms)
            (void)hd_state_later(h, "boot.btime_ms", h->boot_ms);
        /* Readers tell a running writer from a stopped one by healthd.last_seen_ms, written at
         * least every minute (commit.c) or every interval when that is longer. */
        (void)hd_state_later(h, "healthd.heartbeat_ms", h->cfg->interval_ms > 60000 ? h->cfg->interval_ms : 60000);
        if (edac)
            log_info("EDAC: %s, %u edac_device%s%s", edac_mem ? "memory controllers" : "no memory controller", ndev,
                     ndev == 1 ? "" : "s", edac_cpu ? " (CPU caches)" : "");
        else
            log_info("EDAC: none");
    }
    if (h->cfg->sensor_interval_ms > 0) {
        _cleanup_free_ char *uri = NULL;
        /* The library's local driver reads the same trees; it never opens the HealthLog for
         * the temp and power groups. */
        if (asprintf(&uri, "uniserver:///system?procfs=%s&sysfs=%s", h->cfg->procfs, h->cfg->sysfs) > 0)
            h->sensors = uniConnectOpen(uri, 0);
        if (!h->sensors)
            log_warning("sensors: %s", uniGetLastError() ? uniGetLastError()->message : "cannot open");
    }
    cycle(h, true, h->cfg->once);
    return 0;
}

static void hd_stop(hd *h) {
    if (h->db)
        hd_flush(h, wall_ms());
    /* A daemon that stops says so: readers report the HealthLog's source down at once rather
     * than two heartbeats later. A one-shot run (--once) is not a daemon. */
    if (h->db && !h->cfg->once && hl_state_set(h->db, "healthd.stopped_ms", wall_ms()) < 0)
        log_warning("the HealthLog does not take the stop time: readers see it stale in two minutes");
    pending_free(h->pend, h->npend);
    hd_state_drop(h);
    if (h->have_trace)
        trace_src_close(&h->trace);
    uniConnectClose(h->sensors);
    hl_close(h->db);
    closep(&h->proc_fd);
    closep(&h->sys_fd);
}

static int run_loop(hd *h) {
    h->loop = uv_default_loop();
    uv_timer_init(h->loop, &h->timer);
    h->timer.data = h;
    uv_timer_start(&h->timer, on_timer, (uint64_t)h->cfg->interval_ms, (uint64_t)h->cfg->interval_ms);
    uv_signal_init(h->loop, &h->sigterm);
    uv_signal_init(h->loop, &h->sigint);
    h->sigterm.data = h->sigint.data = h;
    uv_signal_start(&h->sigterm, on_signal, SIGTERM);
    uv_signal_start(&h->sigint, on_signal, SIGINT);
    for (size_t i = 0; h->have_trace && i < h->trace.ncpus; i++) {
        trace_cpu *c = &h->trace.cpus[i];
        /* epoll refuses regular files (fixtures): those are read at the interval only. */
        if (uv_poll_init(h->loop, &c->poll, c->fd) == 0) {
            c->poll.data = h;
            c->polling = true;
            uv_poll_start(&c->poll, UV_READABLE, on_trace_readable);
        }
    }
    log_info("uni-healthd ready: HealthLog %s, every %ld ms", h->cfg->db, h->cfg->interval_ms);
    uv_run(h->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, NULL);
    uv_close((uv_handle_t *)&h->sigterm, NULL);
    uv_close((uv_handle_t *)&h->sigint, NULL);
    for (size_t i = 0; h->have_trace && i < h->trace.ncpus; i++)
        if (h->trace.cpus[i].polling)
            uv_close((uv_handle_t *)&h->trace.cpus[i].poll, NULL);
    uv_run(h->loop, UV_RUN_DEFAULT);
    uv_loop_close(h->loop);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * The command line
 * ------------------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"db", required_argument, NULL, 1},
        {"procfs", required_argument, NULL, 2},
        {"sysfs", required_argument, NULL, 3},
        {"tracefs", required_argument, NULL, 4},
        {"interval", required_argument, NULL, 5},
        {"import-rasdaemon", required_argument, NULL, 6},
        {"log-level", required_argument, NULL, 7},
        {"pid-file", required_argument, NULL, 8},
        {"syslog", no_argument, NULL, 9},
        {"once", no_argument, NULL, 'o'},
        {"foreground", no_argument, NULL, 'f'},
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"move-damaged", no_argument, NULL, 10},
        {NULL, 0, NULL, 0},
    };
    static const char *const keyof[] = {
        [1] = "db",          [2] = "procfs",           [3] = "sysfs",     [4] = "tracefs",
        [5] = "interval_ms", [6] = "import_rasdaemon", [7] = "log_level", [8] = "pid_file",
        [9] = "syslog",      [10] = "move_damaged"};
    hd_config cfg;
    hd h = {.proc_fd = -1, .sys_fd = -1};
    const char *config_path = NULL;
    char *set_keys[64], *set_vals[64];
    int nset = 0, o, rc = 0, pid_fd = -1;

    hd_config_defaults(&cfg);
    while ((o = getopt_long(argc, argv, "fc:s:hV", opts, NULL)) != -1) {
        switch (o) {
        case 'f':
            cfg.foreground = true;
            break;
        case 'o':
            cfg.once = true;
            break;
        case 'c':
            config_path = optarg;
            break;
        case 's':
            if (settings_flag_set(&hd_settings, optarg, set_keys, set_vals, &nset, 64) < 0)
                return 2;
            break;
        case 'h':
            hd_usage(stdout);
            return 0;
        case 'V':
            printf("uni-healthd (uniserver) %d.%d.%d\n", UNI_VERSION_MAJOR, UNI_VERSION_MINOR, UNI_VERSION_MICRO);
            return 0;
        default:
            if (o >= 1 && o <= 10 && nset < 64) {
                set_keys[nset] = (char *)keyof[o];
                set_vals[nset++] = optarg ? optarg : (char *)"yes";
                break;
            }
            fprintf(stderr, "Try 'uni-healthd --help'.\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "uni-healthd: unexpected argument '%s'\nTry 'uni-healthd --help'.\n", argv[optind]);
        return 2;
    }
    if (settings_apply(&hd_settings, &cfg, config_path, HD_DEFAULT_CONFIG, set_keys, set_vals, nset) < 0 ||
        hd_config_finish(&cfg, &h.act) < 0) {
        settings_free(&hd_settings, &cfg);
        return 2;
    }
    h.cfg = &cfg;
    /* Checked before going to the background, where a failure would exit 0 to the caller. */
    if (cfg.import_rasdaemon && access(cfg.import_rasdaemon, R_OK) < 0) {
        fprintf(stderr, "uni-healthd: --import-rasdaemon %s: %s\n", cfg.import_rasdaemon, strerror(errno));
        settings_free(&hd_settings, &cfg);
        return 1;
    }
    if (!cfg.foreground && !cfg.once)
        close_inherited_fds();
    log_set_ident("uni-healthd");
    log_setup(cfg.level, cfg.syslog || (!cfg.foreground && !cfg.once));
    if (!cfg.foreground && !cfg.once && daemon(0, 0) < 0) {
        fprintf(stderr, "uni-healthd: cannot become a daemon: %s\n", strerror(errno));
        settings_free(&hd_settings, &cfg);
        return 1;
    }
    if (cfg.pid_file && (pid_fd = pid_file_acquire(cfg.pid_file)) < 0) {
        settings_free(&hd_settings, &cfg);
        return 1;
    }
    if (hd_start(&h) < 0)
        rc = 1;
    else if (!cfg.once)
        rc = run_loop(&h);
    hd_stop(&h);
    if (cfg.pid_file)
        pid_file_release(cfg.pid_file, pid_fd);
    settings_free(&hd_settings, &cfg);
    return rc;
}
