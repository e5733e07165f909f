/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's parsers (pure: text in, struct out, tested on literal strings) and the
 * spec's derived-metric formulas (derive.c), shared by the collectors and the test driver. */
#pragma once

#include "util/util.h"

/* Every parser here takes a file's whole text. The kernel ends every line with a newline: a text
 * whose last line has none was cut (a short read, a torn copy) and is malformed (-EBADMSG), even
 * when what is left would parse: a cut "idle" column is a small number, not the value. */
static inline bool text_complete(const char *buf, size_t len) {
    return len > 0 && buf[len - 1] == '\n';
}

/* ---- /proc/stat ---- */
enum {
    CPUT_USER,
    CPUT_NICE,
    CPUT_SYSTEM,
    CPUT_IDLE,
    CPUT_IOWAIT,
    CPUT_IRQ,
    CPUT_SOFTIRQ,
    CPUT_STEAL,
    CPUT_GUEST,
    CPUT_GUEST_NICE,
    CPUT_MAX
};
typedef struct {
    uint64_t t[CPUT_MAX]; /* jiffies (USER_HZ) */
    bool present;
} cpu_times;
typedef struct {
    cpu_times all;
    cpu_times *cpu; /* indexed by CPU number, ncpu_max entries, caller-allocated */
    unsigned ncpu_max;
    unsigned ncpu_seen;    /* per-CPU lines parsed */
    unsigned max_cpu_seen; /* highest CPU number + 1 */
    uint64_t procs_running, procs_blocked;
    bool have_procs_running;
} proc_stat;
/* -EBADMSG when the text was cut (no final newline), the aggregate "cpu" line is missing, a CPU
 * line has fewer than the 7 columns every kernel since 2.6.0 prints (user .. softirq), or a number
 * overflows; CPU numbers >= ncpu_max are counted in max_cpu_seen but not stored. Columns beyond
 * those the kernel has today are ignored; steal, guest, guest_nice of kernels before 2.6.11,
 * 2.6.24, 2.6.33 are 0. */
int parse_proc_stat(const char *buf, size_t len, proc_stat *out);
uint64_t cpu_times_total(const cpu_times *t);
/* Busy = total - idle - iowait (guest time is already in user/nice). */
uint64_t cpu_times_busy(const cpu_times *t);

/* ---- /proc/meminfo ---- */
typedef struct {
    uint64_t mem_total_kb, mem_free_kb, mem_available_kb, cached_kb, swap_total_kb, swap_free_kb;
    bool have_available, have_cached, have_swap;
} meminfo;
/* -EBADMSG when MemTotal or MemFree is missing, a value is not "<n> kB", or a number overflows. */
int parse_meminfo(const char *buf, size_t len, meminfo *out);

/* ---- /proc/loadavg ---- */
typedef struct {
    double load1, load5, load15;
    uint64_t running, total;
} loadavg;
int parse_loadavg(const char *buf, size_t len, loadavg *out);

/* ---- /proc/pressure/{cpu,memory,io} ---- */
typedef struct {
    uint64_t some_us, full_us;
    bool have_full;
} psi;
int parse_psi(const char *buf, size_t len, psi *out);

/* ---- /proc/cpuinfo: 'cpu MHz' per processor (x86); absent on arm64 ---- */
typedef struct {
    double *mhz; /* indexed by processor number, NAN when not given; caller-allocated */
    unsigned ncpu_max;
    unsigned nprocessors;
} cpuinfo;
int parse_cpuinfo(const char *buf, size_t len, cpuinfo *out);

/* ---- hwmon labels ---- */
typedef enum { TEMP_OTHER, TEMP_CORE, TEMP_PACKAGE } temp_class;
/* Classify a hwmon chip (name) and a temperature label: "Core 3" -> TEMP_CORE with id 3,
 * "Package id 0", k10temp's Tctl/Tdie/Tccd*, X-Gene's "SoC Temperature" -> TEMP_PACKAGE. */
temp_class classify_hwmon_temp(const char *chip, const char *label, int *ret_id);
/* CPU package thermal zone types: x86_pkg_temp, cpu-thermal, cpu0-thermal, soc_thermal ... */
bool thermal_zone_is_cpu(const char *type);
typedef enum { POWER_OTHER, POWER_CPU, POWER_MEM, POWER_TOTAL } power_class;
power_class classify_hwmon_power(const char *chip, const char *label);

/* ---- derive.c: the spec's formulas (section 2.3), exact ---- */
/* ReservedCapacity = 1 - f_cur / f_max, as a percentage, clamped to 0..100 (turbo runs above
 * f_max); NAN without a maximum. */
double reserved_pct(double f_cur, double f_max);
/* Contention_mem = 1 - (MemFree - (SwapTotal - SwapFree)) / MemTotal. */
double mem_contention_ratio(const meminfo *m);
/* Memory demanded beyond what is free, MB: max(0, (SwapTotal - SwapFree) - MemFree). */
double mem_contention_mb(const meminfo *m);
/* Contention_CPU = runnable / cores. */
double cpu_contention_ratio(uint64_t runnable, unsigned cores);
/* Share of a window: 100 * part / total; NAN when total is 0. */
double pct_of(uint64_t part, uint64_t total);
/* Time at maximum utilisation (spec 2.3): a timestamp is set when the load reaches the number of
 * CPUs; when it drops below, the time since the stamp is added to the total and the stamp reset.
 * Call with each sample; returns the total including a running interval. */
typedef struct {
    uint64_t total_ns;
    uint64_t since_ns; /* 0 when not at maximum */
    bool at_max;
} max_util_state;
uint64_t max_util_step(max_util_state *s, double load, unsigned ncpu, uint64_t now_ns);
/* Difference of a counter that wraps at max_range (RAPL energy_uj at max_energy_range_uj);
 * UINT64_MAX (unknown) when it went down by less than half its range: a reset, not a wrap. */
uint64_t counter_delta(uint64_t prev, uint64_t cur, uint64_t max_range);
/* Jiffies to ms. */
uint64_t jiffies_to_ms(uint64_t j, long hz);

/* ---- section 2's utilisation (derive.c, collect_disk.c) ---- */
/* Memory occupied over capacity, percent: 100 x (MemTotal - MemAvailable) / MemTotal; NAN
 * without a total. */
double mem_util_pct(uint64_t total_kb, uint64_t available_kb);
/* Disk space occupied over capacity, percent, as df's Use%: used / (used + available to users),
 * the root-reserved blocks being neither; NAN when both are 0. */
double disk_util_pct(uint64_t used, uint64_t avail);
/* One line of /proc/self/mounts (fstab(5) fields, octal escapes such as \040 decoded in place):
 * its device and mount point, and its filesystem type, pointing into @line, which is modified.
 * -EBADMSG when it has fewer than three fields. */
int parse_mounts_line(char *line, char **ret_dev, char **ret_dir, char **ret_type);
