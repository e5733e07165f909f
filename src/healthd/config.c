/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-healthd's settings: its table of keys, their defaults and help, and what is derived from
 * them. */
#include <limits.h>
#include <sys/stat.h>

#include "uni-healthd.h"

#define OFF(f) offsetof(hd_config, f)
static const key_def keys[] = {
    {"db", K_STR, OFF(db), 0, 0},
    {"procfs", K_STR, OFF(procfs), 0, 0},
    {"sysfs", K_STR, OFF(sysfs), 0, 0},
    {"tracefs", K_STR, OFF(tracefs), 0, 0},
    {"interval_ms", K_LONG, OFF(interval_ms), 10, 3600000},
    {"sensor_interval_ms", K_LONG, OFF(sensor_interval_ms), 0, 86400000},
    {"retention_days", K_LONG, OFF(retention_days), 0, 36500},
    {"retention_max_events", K_LONG, OFF(retention_max_events), 0, 1000000000},
    {"sensor_retention_days", K_LONG, OFF(sensor_retention_days), 0, 36500},
    {"page_ce_threshold", K_LONG, OFF(page_ce_threshold), 0, 1000000000},
    {"page_ce_window_s", K_LONG, OFF(page_ce_window_s), 1, 31536000},
    {"page_action", K_STR, OFF(page_action), 0, 0},
    {"dimm_ce_threshold", K_LONG, OFF(dimm_ce_threshold), 0, 1000000000},
    {"dimm_ce_window_s", K_LONG, OFF(dimm_ce_window_s), 1, 31536000},
    {"dimm_action", K_STR, OFF(dimm_action), 0, 0},
    {"core_ce_threshold", K_LONG, OFF(core_ce_threshold), 0, 1000000000},
    {"core_ce_window_s", K_LONG, OFF(core_ce_window_s), 1, 31536000},
    {"core_action", K_STR, OFF(core_action), 0, 0},
    {"trace", K_BOOL, OFF(trace), 0, 0},
    {"edac", K_BOOL, OFF(edac), 0, 0},
    {"vm_links", K_BOOL, OFF(vm_links), 0, 0},
    {"import_rasdaemon", K_STR, OFF(import_rasdaemon), 0, 0},
    {"log_level", K_LEVEL, OFF(level), 0, 0},
    {"syslog", K_BOOL, OFF(syslog), 0, 0},
    {"move_damaged", K_BOOL, OFF(move_damaged), 0, 0},
    {"pid_file", K_STR, OFF(pid_file), 0, 0},
};

const settings_def hd_settings = {"uni-healthd", keys, ELEMENTSOF(keys)};

static const char *const keys_help =
    "  db = PATH                 the HealthLog (default " HL_DEFAULT_PATH ")\n"
    "  procfs, sysfs = DIR       the trees to read (default /proc, /sys)\n"
    "  tracefs = DIR             (default /sys/kernel/tracing, else /sys/kernel/debug/tracing;\n"
    "                            SYSFS/kernel/tracing when sysfs is not /sys)\n"
    "  interval_ms = MS          EDAC polling and trace draining (default 1000)\n"
    "  sensor_interval_ms = MS   temperatures and power into the HealthLog (default 60000; 0 off)\n"
    "  retention_days = N        events older are deleted (default 365; 0 keeps them)\n"
    "  retention_max_events = N  at most this many events, the oldest go first (default 1000000; 0 no limit)\n"
    "  sensor_retention_days = N sensor samples older are deleted (default 7)\n"
    "  page_ce_threshold = N, page_ce_window_s = S, page_action = log|soft_offline\n"
    "                            (default 50 corrected errors in 86400 s, log)\n"
    "  dimm_ce_threshold = N, dimm_ce_window_s = S, dimm_action = log   (default 1000 in 86400 s)\n"
    "  core_ce_threshold = N, core_ce_window_s = S, core_action = log|degrade|offline\n"
    "                            (default 18 in 86400 s, log); a threshold of 0 turns the rule off\n"
    "  trace = yes|no, edac = yes|no   the sources (default yes)\n"
    "  vm_links = yes|no         link errors to the VMs they may have touched (default yes)\n"
    "  import_rasdaemon = PATH   import a rasdaemon database at start (new rows only)\n"
    "  log_level = error|warning|info|debug   syslog = yes|no   pid_file = FILE\n"
    "  move_damaged = yes|no     a HealthLog that fails PRAGMA quick_check at start is moved aside to\n"
    "                            PATH.damaged-TIME and a new one started (default no: refused)\n";

void hd_usage(FILE *f) {
    fprintf(f,
            "usage: uni-healthd [--db PATH] [OPTIONS]\n"
            "\n"
            "The uniserver health daemon: hardware errors (EDAC counters, RAS tracepoints), sensors and\n"
            "memory speed into the HealthLog, first-level actions on thresholds.\n"
            "\n"
            "  --db PATH                the HealthLog (default " HL_DEFAULT_PATH ")\n"
            "  --procfs DIR, --sysfs DIR, --tracefs DIR   other trees (fixtures)\n"
            "  --interval MS            polling interval (default 1000)\n"
            "  --once                   one pass (EDAC, trace, sensors, SMBIOS), then exit\n"
            "  --move-damaged           a damaged HealthLog is moved aside and a new one started\n"
            "  --import-rasdaemon PATH  import an existing rasdaemon database\n"
            "  -f, --foreground         stay in the foreground, log to stderr\n"
            "  -c, --config FILE        settings file (default " HD_DEFAULT_CONFIG " when it exists)\n"
            "      --set KEY=VALUE      any setting below\n"
            "      --log-level LEVEL    error, warning, info (default), debug (logs each commit)\n"
            "      --pid-file FILE\n"
            "  -h, --help, -V, --version\n"
            "\nSettings (file or --set; flags win):\n%s"
            "\nStop it with SIGTERM. Read the HealthLog: unish healthlog --summary\n",
            keys_help);
}

void hd_config_defaults(hd_config *c) {
    memset(c, 0, sizeof(*c));
    c->interval_ms = 1000;
    c->sensor_interval_ms = 60000;
    c->retention_days = 365;
    c->retention_max_events = 1000000;
    c->sensor_retention_days = 7;
    c->page_ce_threshold = 50;
    c->page_ce_window_s = 86400;
    c->dimm_ce_threshold = 1000;
    c->dimm_ce_window_s = 86400;
    c->core_ce_threshold = 18;
    c->core_ce_window_s = 86400;
    c->trace = c->edac = c->vm_links = true;
    c->level = LOG_LEVEL_INFO;
}

/* Fill what the file and flags left unset, and check the action names. */
int hd_config_finish(hd_config *c, act_config *a) {
    static const struct {
        const char *what;
        size_t off;
    } acts[] = {{"page", offsetof(act_config, page)},
                {"dimm", offsetof(act_config, dimm)},
                {"core", offsetof(act_config, core)}};
    char **names[] = {&c->page_action, &c->dimm_action, &c->core_action};
    const long thr[] = {c->page_ce_threshold, c->dimm_ce_threshold, c->core_ce_threshold};
    const long win[] = {c->page_ce_window_s, c->dimm_ce_window_s, c->core_ce_window_s};

    if (!c->db)
        c->db = strdup(HL_DEFAULT_PATH);
    if (!c->procfs)
        c->procfs = strdup("/proc");
    if (!c->sysfs)
        c->sysfs = strdup("/sys");
    if (!c->tracefs) {
        struct stat st;
        if (!streq(c->sysfs, "/sys")) {
            if (asprintf(&c->tracefs, "%s/kernel/tracing", c->sysfs) < 0)
                c->tracefs = NULL;
        } else
            c->tracefs = strdup(stat("/sys/kernel/tracing/events", &st) == 0 ? "/sys/kernel/tracing"
                                                                             : "/sys/kernel/debug/tracing");
    }
    if (!c->db || !c->procfs || !c->sysfs || !c->tracefs)
        return -ENOMEM;
    /* A daemon works from /: relative paths are made absolute first. */
    {
        char **paths[] = {&c->db, &c->procfs, &c->sysfs, &c->tracefs, &c->import_rasdaemon, &c->pid_file};
        char cwd[PATH_MAX];
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
            char *abs;
            if (!*paths[i] || (*paths[i])[0] == '/')
                continue;
            if (!getcwd(cwd, sizeof(cwd)) || asprintf(&abs, "%s/%s", cwd, *paths[i]) < 0)
                return -ENOMEM;
            free(*paths[i]);
            *paths[i] = abs;
        }
    }
    for (size_t i = 0; i < ELEMENTSOF(acts); i++) {
        act_rule *r = (act_rule *)((char *)a + acts[i].off);
        if (!*names[i] && !(*names[i] = strdup("log")))
            return -ENOMEM;
        if (act_parse(acts[i].what, *names[i], &r->action) < 0) {
            fprintf(stderr, "uni-healthd: %s_action = '%s': %s\n", acts[i].what, *names[i],
                    i == 0   ? "log or soft_offline"
                    : i == 1 ? "log"
                             : "log, degrade or offline");
            return -EINVAL;
        }
        r->threshold = thr[i];
        r->window_ms = (int64_t)win[i] * 1000;
    }
    return 0;
}
