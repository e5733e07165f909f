/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The inside of the local driver (local.c and the files beside it): the connection's state and the
 * functions its files share. */
#pragma once

#include "domains.h"
#include "healthlog/healthlog.h"
#include "lib/internal.h"
#include "parsers.h"
#include "util/margins.h"

#define MAX_CPUS 8192

typedef struct {
    int cur_fd, gov_fd, epp_fd; /* kept open; -1 when absent */
    uint64_t max_khz;
    dev_t dev;
    ino_t ino;
} freq_policy;

typedef struct {
    int fd;
    temp_class cls;
    int id;  /* core id (TEMP_CORE) */
    int pkg; /* package the chip belongs to */
} temp_sensor;

typedef struct {
    int fd;
    power_class cls;
} power_sensor;

typedef struct {
    int fd;
    power_class cls; /* POWER_CPU package, POWER_MEM dram, POWER_TOTAL psys */
    uint64_t max_range, prev;
    bool have_prev;
} rapl_zone;

/* The sources of a sample, for their health metrics (host.source.NAME.*). */
enum {
    SRC_STAT,
    SRC_CPUFREQ,
    SRC_MEMINFO,
    SRC_LOADAVG,
    SRC_PSI,
    SRC_SENSORS,
    SRC_POWER,
    SRC_HEALTHLOG,
    SRC_VMS,
    SRC_DISK,
    SRC_MARGINS,
    SRC_MAX
};

typedef struct {
    int proc_fd, sys_fd;
    char *procfs, *sysfs;
    long hz;

    unsigned ncpu; /* array size: highest possible CPU + 1 */
    uint8_t *online;
    unsigned n_online;
    int online_fd;
    int *core_id, *pkg_id;
    double *cpu_temp; /* scratch: per-CPU temperature of one sample */

    double *cpuinfo_mhz;
    bool have_cpuinfo_mhz;

    int stat_fd, meminfo_fd, loadavg_fd, psi_fd[3];
    uint64_t mem_total_kb, mem_total_ns; /* MemTotal and when meminfo was last read (0: never) */
    char *buf;
    size_t bufsz;

    freq_policy *policies;
    unsigned npolicies;
    int *cpu_policy; /* per CPU: index into policies or -1 */
    bool have_cpufreq;

    temp_sensor *temps;
    unsigned ntemps;
    power_sensor *powers;
    unsigned npowers;
    rapl_zone *rapl;
    unsigned nrapl;

    /* Previous sample, for rates. */
    proc_stat stat[2];
    int cur; /* which of stat[] is the newest */
    bool have_stat_prev;
    uint64_t stat_ns;
    uint64_t last_ns; /* previous call */
    bool have_last;
    uint64_t psi_cpu_prev_us;
    bool have_psi_prev;
    psi psi_cpu;           /* pressure/cpu as collect_contention read it, */
    bool psi_cpu_fresh;    /* for collect_psi in the same sample */
    uint64_t cont_ns;      /* derived contention time when PSI is absent */
    uint64_t cont_prev_ms; /* contention_ms at the previous sample */
    bool have_cont_prev;
    max_util_state maxu;
    uint64_t power_ns;
    bool have_power_prev;
    double energy_j;
    uint64_t src_errors[SRC_MAX]; /* failed collections per source (SRC_*) */
    /* A source that should be there and is not, though its collection went on (a HealthLog whose
     * writer stopped, a malformed PSI file): the reason, set by its collector; "" when none. */
    char src_down[SRC_MAX][512];

    vms_state *vms;         /* the VMs of this host (domains.c) */
    char *hl_path;          /* the HealthLog (uni-healthd's database) */
    hl_db *hl;              /* opened read-only when first needed */
    uint64_t hl_missing_ns; /* when opening it last found none (0: not missing) */
    int hl_watch;           /* its change notification, made by the first uniHealthLogWait */
    hl_db *hl_wait;         /* uniHealthLogWait's own reader (no connection lock while waiting) */
    int64_t wait_version;   /* PRAGMA data_version at the end of the previous wait */
    bool have_wait_version;
    pthread_mutex_t watch_lock;
    bool host_proc;                /* procfs is this host's /proc (statvfs of its mounts means something) */
    int boot_id_fd;                /* sys/kernel/random/boot_id, or -1 */
    struct predict_state *pred;    /* the predictor's history and settings (collect_reliability.c) */
    struct margins_state *margins; /* uni-stresslog's margins file (collect_margins.c) */
} local_state;

/* ---- local_discover.c: the sources, found once at open ---- */
int open_ro(int dirfd, const char *path);
bool cpu_online(const local_state *s, unsigned cpu);
int read_online(local_state *s);
int discover_cpus(local_state *s);
void discover_cpuinfo(local_state *s);
void discover_cpufreq(local_state *s);
void discover_hwmon(local_state *s);
void discover_thermal(local_state *s);
void discover_rapl(local_state *s);

/* ---- local.c: the driver's core ---- */
/* Mark source @src down for this sample (its state "down", up 0, the reason as its last error)
 * without failing the call: its collector made the metrics it could absent with their reasons. */
void source_down(local_state *s, int src, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Read a kept-open file whole into the state's buffer, growing it when the file outgrew it. */
ssize_t pread_buf(local_state *s, int fd);

/* ---- the collectors of a sample, one file each (collect_NAME.c) ---- */
int collect_cpu(local_state *s, uniRecordPtr rec, uint64_t now);
int collect_freq(local_state *s, uniRecordPtr rec);
int read_meminfo(local_state *s, meminfo *m);
/* collect_disk.c: host.disk.util_pct from statvfs of the local filesystems. */
int collect_disk(local_state *s, uniRecordPtr rec);
/* collect_disk.c: host.boot_id. */
void collect_boot_id(local_state *s, uniRecordPtr rec);
/* The host's memory in MB, for the VMs' shares of it (dom.mem_pct, host.vms.mem_pct), or NAN. */
double mem_total_mb(local_state *s);
void collect_mem(local_state *s, uniRecordPtr rec, const meminfo *m);
int collect_contention(local_state *s, uniRecordPtr rec, const meminfo *m, uint64_t now, bool *ret_psi);
void collect_psi(local_state *s, uniRecordPtr rec);
void collect_temp(local_state *s, uniRecordPtr rec);
void collect_power(local_state *s, uniRecordPtr rec, uint64_t now);

/* ---- collect_reliability.c: the predictor's metrics (src/predict/) ---- */
typedef struct predict_state predict_state;
/* The predictor's settings from the URI (margins, reliability_threshold, predict_window_s,
 * predict_short_s, predict_horizons): -1 with UNI_ERR_INVALID_ARG naming a bad one. */
int predict_open(local_state *s, const uni_uri *uri);
void predict_close(local_state *s);
int collect_reliability(local_state *s, uniRecordPtr rec);
#define PREDICT_URI_PARAMS "reliability_threshold", "predict_window_s", "predict_short_s", "predict_horizons"
/* ---- collect_margins.c: uni-stresslog's margins file (?margins=PATH) ---- */
int margins_open(local_state *s, const char *path);
void margins_close(local_state *s);
const char *margins_path(const local_state *s);
/* Why the margins are absent (no margins file), or NULL when there is one. */
const char *margins_absent(const local_state *s);
/* The margins file as now (read again if it changed), or NULL when there is none or it was refused:
 * what the predictor compares each domain's operating point with. */
const uni_margins *margins_current(local_state *s);
int collect_margins(local_state *s, uniRecordPtr rec);

/* ---- local_healthlog.c: uni-healthd's HealthLog ---- */
/* Open the HealthLog read-only when first needed, and again until it exists. -ENOENT/-ENODATA
 * when there is none (yet), with the reason in @why. */
int ensure_healthlog(local_state *s, char *why, size_t len);
/* The HealthLog for a collector, opened and its writer checked: 1 ready; 0 there is none (the
 * source is down; the collector makes its metrics absent with @why); -1 failed (error set). */
int healthlog_ready(local_state *s, char *why, size_t len);
/* The error metrics and the memory speed, from the HealthLog. */
int collect_healthlog(local_state *s, uniRecordPtr rec);
int local_healthlog_query(uniConnectPtr conn, const uni_healthlog_query *q, uniRecordPtr **ret);
int local_healthlog_wait(uniConnectPtr conn, int timeout_ms);
void local_audit(uniConnectPtr conn, const uni_audit_event *ev);

/* ---- local_control.c: control, forwarded to control.c and opp.c on the connection's sysfs ---- */
int local_node_set_frequency(uniConnectPtr conn, int core, uint64_t khz, const char *text, uni_core_set *ret);
int local_node_set_governor(uniConnectPtr conn, int core, const char *governor, uni_core_set *ret);
int local_node_set_power_policy(uniConnectPtr conn, int core, const char *policy, uni_core_set *ret);
int local_node_get_operating_points(uniConnectPtr conn, uniOppListPtr list);
int local_node_set_operating_point(uniConnectPtr conn, uniOppListPtr list, int domain, const uniOppSetting *settings,
                                   int n);
