/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-simboard: a live /proc and /sys of a simulated X-Gene2-like board, served through FUSE, so
 * that everything of ours runs on it unchanged (uniserver:///system?procfs=DIR/proc&sysfs=DIR/sys).
 * Files are computed when read, from the board model (model.c) advanced to the present; writes
 * take effect at once and are refused, as the kernel refuses them, when invalid. The tree, the
 * per-PMD voltage and per-channel refresh interface and the simulation's own controls (DIR/sim/)
 * are described in docs/simboard.md. */
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "simboard_vms.h"

/* ---------------------------------------------------------------------------------------------
 * The tree
 * ------------------------------------------------------------------------------------------- */

typedef enum {
    N_DIR,
    N_LINK,
    F_TEXT, /* static */
    F_STAT,
    F_LOADAVG,
    F_POL_CUR,
    F_POL_GOV,
    F_POL_SETSPEED,
    F_POL_MIN,
    F_POL_MAX,
    F_HW_TEMP,
    F_HW_CPU_UW,
    F_HW_IO_UW,
    F_DRAM_UJ,
    F_MC_CE,
    F_MC_UE,
    F_DIMM_CE,
    F_DIMM_UE,
    F_PMD_CE,
    F_PMD_UE,
    F_SIM_FAILURES,
    F_ZERO,
    F_MC_SECONDS,
    F_PMD_PARAM,
    F_MC_PARAM, /* b: the parameter (SB_PMD_*, SB_MC_*) */
    F_SIM_LOAD,
    F_SIM_TIME,
    F_SIM_ADVANCE,
    F_SIM_TRUTH,
    F_SIM_VMS,
} kind;

typedef struct node {
    char *name;
    kind k;
    int a, b;
    char *text; /* F_TEXT content, N_LINK target */
    bool writable;
    struct node **kids;
    int nkids;
} node;

static node root = {.name = "", .k = N_DIR};
static sb_model board;
static bool manual_clock;
static double speed = 1.0;
static struct timespec started;

static void *xcalloc(size_t n, size_t sz) {
    void *p = calloc(n, sz);
    if (!p) {
        fprintf(stderr, "uni-simboard: out of memory\n");
        exit(1);
    }
    return p;
}

static node *child(node *dir, const char *name, size_t len) {
    for (int i = 0; i < dir->nkids; i++)
        if (strlen(dir->kids[i]->name) == len && memcmp(dir->kids[i]->name, name, len) == 0)
            return dir->kids[i];
    return NULL;
}

/* Add a node at @path (parents are made as directories). */
static node *add(kind k, int a, int b, bool writable, const char *text, const char *fmt, ...) {
    char path[256];
    va_list ap;
    node *dir = &root, *n;
    const char *p = path;

    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        n = child(dir, p, len);
        if (!n) {
            n = xcalloc(1, sizeof(*n));
            n->name = strndup(p, len);
            n->k = slash ? N_DIR : k;
            dir->kids = realloc(dir->kids, (size_t)(dir->nkids + 1) * sizeof(node *));
            if (!n->name || !dir->kids) {
                fprintf(stderr, "uni-simboard: out of memory\n");
                exit(1);
            }
            dir->kids[dir->nkids++] = n;
        }
        if (!slash)
            break;
        dir = n;
        p = slash + 1;
    }
    n->a = a;
    n->b = b;
    n->writable = writable;
    n->text = text ? strdup(text) : NULL;
    return n;
}

#define TEXT(text, ...) add(F_TEXT, 0, 0, false, text, __VA_ARGS__)
#define LIVE(k, a, b, ...) add(k, a, b, false, NULL, __VA_ARGS__)
#define RW(k, a, b, ...) add(k, a, b, true, NULL, __VA_ARGS__)

static node *lookup(const char *path) {
    node *n = &root;
    const char *p = path;
    while (*p == '/')
        p++;
    while (*p && n) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        n = n->k == N_DIR ? child(n, p, len) : NULL;
        p = slash ? slash + 1 : p + len;
    }
    return n;
}

static void fmtbuf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fmtbuf(char *buf, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* The limit files of an operating-point parameter (PARAM_min, _max, _nominal, _step). */
static void param_limits(const char *dir, int id, const sb_param *param) {
    static const char *const suffix[] = {"min", "max", "nominal", "step"};
    const int v[] = {param->min, param->max, param->nominal, param->step};
    char buf[32];
    for (int i = 0; i < 4; i++) {
        fmtbuf(buf, sizeof(buf), "%d\n", v[i]);
        TEXT(buf, "%s%d/%s_%s", dir, id, param->name, suffix[i]);
    }
}

/* An edac_device controller's own attributes (drivers/edac/edac_device_sysfs.c), at @dir<id>
 * (@id < 0: at @dir). */
static void edac_device_ctl(const char *dir, int id) {
    static const char *const attr[][2] = {
        {"log_ce", "1\n"}, {"log_ue", "1\n"}, {"panic_on_ue", "0\n"}, {"poll_msec", "1000\n"}};
    char path[128];
    if (id < 0)
        fmtbuf(path, sizeof(path), "%s", dir);
    else
        fmtbuf(path, sizeof(path), "%s%d", dir, id);
    for (size_t i = 0; i < sizeof(attr) / sizeof(attr[0]); i++)
        TEXT(attr[i][1], "%s/%s", path, attr[i][0]);
}

static void build_tree(void) {
    char buf[2048];
    size_t o = 0;

    /* /proc: what a 4.14 arm64 kernel shows (no PSI, cpuinfo without MHz). */
    for (int c = 0; c < SB_NCPU; c++)
        o += (size_t)snprintf(
            buf + o, sizeof(buf) - o,
            "processor\t: %d\nBogoMIPS\t: 100.00\nFeatures\t: fp asimd evtstrm cpuid\nCPU implementer\t: 0x50\n"
            "CPU architecture: 8\nCPU variant\t: 0x1\nCPU part\t: 0x000\nCPU revision\t: 0\n\n",
            c);
    TEXT(buf, "proc/cpuinfo");
    TEXT("MemTotal:       16645824 kB\nMemFree:         9123456 kB\nMemAvailable:   13456789 kB\nBuffers:           "
         "12544 kB\n"
         "Cached:          4567890 kB\nSwapCached:            0 kB\nActive:          3456789 kB\nInactive:        "
         "2345678 kB\n"
         "SwapTotal:       4194240 kB\nSwapFree:        4194240 kB\nDirty:               128 kB\n",
         "proc/meminfo");
    LIVE(F_STAT, 0, 0, "proc/stat");
    LIVE(F_LOADAVG, 0, 0, "proc/loadavg");

    /* CPUs, topology, cpufreq: one policy per PMD. */
    TEXT("0-7\n", "sys/devices/system/cpu/possible");
    TEXT("0-7\n", "sys/devices/system/cpu/present");
    TEXT("0-7\n", "sys/devices/system/cpu/online");
    TEXT("\n", "sys/devices/system/cpu/offline");
    TEXT("7\n", "sys/devices/system/cpu/kernel_max");
    for (int c = 0; c < SB_NCPU; c++) {
        int p = c / 2;
        TEXT("1\n", "sys/devices/system/cpu/cpu%d/online", c);
        fmtbuf(buf, sizeof(buf), "%d\n", c % 2);
        TEXT(buf, "sys/devices/system/cpu/cpu%d/topology/core_id", c);
        fmtbuf(buf, sizeof(buf), "%d\n", p);
        TEXT(buf, "sys/devices/system/cpu/cpu%d/topology/physical_package_id", c);
        fmtbuf(buf, sizeof(buf), "%d-%d\n", 2 * p, 2 * p + 1);
        TEXT(buf, "sys/devices/system/cpu/cpu%d/topology/core_siblings_list", c);
        fmtbuf(buf, sizeof(buf), "%d\n", c);
        TEXT(buf, "sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", c);
        fmtbuf(buf, sizeof(buf), "../cpufreq/policy%d", 2 * p);
        add(N_LINK, 0, 0, false, buf, "sys/devices/system/cpu/cpu%d/cpufreq", c);
        /* cacheinfo (drivers/base/cacheinfo.c): X-Gene2's 32K L1 I and D per core, 256K L2
         * per PMD, 8M L3 shared by all. */
        for (int i = 0; i < 4; i++) {
            static const char *const level[] = {"1", "1", "2", "3"}, *const type[] = {"Data", "Instruction", "Unified",
                                                                                      "Unified"};
            static const char *const size[] = {"32K", "32K", "256K", "8192K"};
            const char *d = "sys/devices/system/cpu/cpu";
            fmtbuf(buf, sizeof(buf), "%s\n", level[i]);
            TEXT(buf, "%s%d/cache/index%d/level", d, c, i);
            fmtbuf(buf, sizeof(buf), "%s\n", type[i]);
            TEXT(buf, "%s%d/cache/index%d/type", d, c, i);
            fmtbuf(buf, sizeof(buf), "%s\n", size[i]);
            TEXT(buf, "%s%d/cache/index%d/size", d, c, i);
            if (i < 2)
                fmtbuf(buf, sizeof(buf), "%d\n", c);
            else if (i == 2)
                fmtbuf(buf, sizeof(buf), "%d-%d\n", 2 * p, 2 * p + 1);
            else
                fmtbuf(buf, sizeof(buf), "0-%d\n", SB_NCPU - 1);
            TEXT(buf, "%s%d/cache/index%d/shared_cpu_list", d, c, i);
        }
    }
    for (int p = 0; p < SB_NPMD; p++) {
        const char *d = "sys/devices/system/cpu/cpufreq/policy";
        int pol = 2 * p;
        fmtbuf(buf, sizeof(buf), "%d %d \n", 2 * p, 2 * p + 1);
        TEXT(buf, "%s%d/affected_cpus", d, pol);
        TEXT(buf, "%s%d/related_cpus", d, pol);
        TEXT(buf, "%s%d/freqdomain_cpus", d, pol);
        fmtbuf(buf, sizeof(buf), "%u\n", SB_MAX_KHZ);
        TEXT(buf, "%s%d/cpuinfo_max_freq", d, pol);
        fmtbuf(buf, sizeof(buf), "%u\n", SB_MIN_KHZ);
        TEXT(buf, "%s%d/cpuinfo_min_freq", d, pol);
        TEXT("10000\n", "%s%d/cpuinfo_transition_latency", d, pol);
        fmtbuf(buf, sizeof(buf), "%s \n", sb_governor_list);
        TEXT(buf, "%s%d/scaling_available_governors", d, pol);
        TEXT("cppc_cpufreq\n", "%s%d/scaling_driver", d, pol);
        LIVE(F_POL_CUR, p, 0, "%s%d/scaling_cur_freq", d, pol);
        RW(F_POL_GOV, p, 0, "%s%d/scaling_governor", d, pol);
        RW(F_POL_SETSPEED, p, 0, "%s%d/scaling_setspeed", d, pol);
        RW(F_POL_MIN, p, 0, "%s%d/scaling_min_freq", d, pol);
        RW(F_POL_MAX, p, 0, "%s%d/scaling_max_freq", d, pol);
    }

    /* Sensors: the SLIMpro hwmon (X-Gene's), a thermal zone, a RAPL-like DRAM energy counter. */
    TEXT("apm_xgene\n", "sys/class/hwmon/hwmon0/name");
    TEXT("SoC Temperature\n", "sys/class/hwmon/hwmon0/temp1_label");
    LIVE(F_HW_TEMP, 0, 0, "sys/class/hwmon/hwmon0/temp1_input");
    TEXT("CPU power\n", "sys/class/hwmon/hwmon0/power1_label");
    LIVE(F_HW_CPU_UW, 0, 0, "sys/class/hwmon/hwmon0/power1_input");
    TEXT("IO power\n", "sys/class/hwmon/hwmon0/power2_label");
    LIVE(F_HW_IO_UW, 0, 0, "sys/class/hwmon/hwmon0/power2_input");
    TEXT("soc_thermal\n", "sys/class/thermal/thermal_zone0/type");
    LIVE(F_HW_TEMP, 0, 0, "sys/class/thermal/thermal_zone0/temp");
    TEXT("dram\n", "sys/class/powercap/intel-rapl:0/name");
    TEXT("1\n", "sys/class/powercap/intel-rapl:0/enabled");
    TEXT("262143328850\n", "sys/class/powercap/intel-rapl:0/max_energy_range_uj");
    LIVE(F_DRAM_UJ, 0, 0, "sys/class/powercap/intel-rapl:0/energy_uj");

    /* EDAC: a memory controller per channel (DIMM counters). */
    for (int c = 0; c < SB_NMC; c++) {
        const char *d = "sys/devices/system/edac/mc/mc";
        TEXT("APM X-Gene DDR3 MCU\n", "%s%d/mc_name", d, c);
        fmtbuf(buf, sizeof(buf), "%d\n", SB_DIMMS * SB_DIMM_MB);
        TEXT(buf, "%s%d/size_mb", d, c);
        TEXT("0\n", "%s%d/ce_noinfo_count", d, c);
        TEXT("0\n", "%s%d/ue_noinfo_count", d, c);
        LIVE(F_MC_CE, c, 0, "%s%d/ce_count", d, c);
        LIVE(F_MC_UE, c, 0, "%s%d/ue_count", d, c);
        LIVE(F_MC_SECONDS, c, 0, "%s%d/seconds_since_reset", d, c);
        for (int k = 0; k < SB_DIMMS; k++) {
            char label[16];
            sb_dimm_label(c, k, label, sizeof(label));
            fmtbuf(buf, sizeof(buf), "%s\n", label);
            TEXT(buf, "%s%d/dimm%d/dimm_label", d, c, k);
            fmtbuf(buf, sizeof(buf), "channel %d slot %d \n", c, k);
            TEXT(buf, "%s%d/dimm%d/dimm_location", d, c, k);
            fmtbuf(buf, sizeof(buf), "%d\n", SB_DIMM_MB);
            TEXT(buf, "%s%d/dimm%d/size", d, c, k);
            TEXT("Registered-DDR3\n", "%s%d/dimm%d/dimm_mem_type", d, c, k);
            TEXT("SECDED\n", "%s%d/dimm%d/dimm_edac_mode", d, c, k);
            LIVE(F_DIMM_CE, c, k, "%s%d/dimm%d/dimm_ce_count", d, c, k);
            LIVE(F_DIMM_UE, c, k, "%s%d/dimm%d/dimm_ue_count", d, c, k);
        }
    }
    /* The caches' edac_devices as xgene_edac registers them (drivers/edac/edac_device.c names
     * them: device NAME, instance NAME<i>, block BLOCK<j + offset>): per PMD "l2cP" with one
     * instance "l2cP0" and one block "l2c2" (offset 2), which counts the errors of the PMD's L2
     * and of its two cores' L1 alike; the L3 as "l3c" / "l3c0" / "l3c0". An instance counts
     * what its blocks count. */
    for (int p = 0; p < SB_NPMD; p++) {
        const char *d = "sys/devices/system/edac/l2c";
        edac_device_ctl(d, p);
        LIVE(F_PMD_CE, p, 0, "%s%d/l2c%d0/ce_count", d, p, p);
        LIVE(F_PMD_UE, p, 0, "%s%d/l2c%d0/ue_count", d, p, p);
        LIVE(F_PMD_CE, p, 0, "%s%d/l2c%d0/l2c2/ce_count", d, p, p);
        LIVE(F_PMD_UE, p, 0, "%s%d/l2c%d0/l2c2/ue_count", d, p, p);
    }
    edac_device_ctl("sys/devices/system/edac/l3c", -1);
    LIVE(F_ZERO, 0, 0, "sys/devices/system/edac/l3c/l3c0/ce_count");
    LIVE(F_ZERO, 0, 0, "sys/devices/system/edac/l3c/l3c0/ue_count");
    LIVE(F_ZERO, 0, 0, "sys/devices/system/edac/l3c/l3c0/l3c0/ce_count");
    LIVE(F_ZERO, 0, 0, "sys/devices/system/edac/l3c/l3c0/l3c0/ue_count");

    /* The operating-point interface (src/drivers/local/opp.c reads it). */
    for (int p = 0; p < SB_NPMD; p++) {
        const char *d = "sys/class/uniserver-opp/pmd";
        TEXT("cpu\n", "%s%d/kind", d, p);
        fmtbuf(buf, sizeof(buf), "%d\n", p);
        TEXT(buf, "%s%d/id", d, p);
        fmtbuf(buf, sizeof(buf), "%d-%d\n", 2 * p, 2 * p + 1);
        TEXT(buf, "%s%d/cpus", d, p);
        /* frequency_mhz is cpufreq's (the local driver reads the policy); its step, which
         * cppc_cpufreq does not publish, is the board's. */
        fmtbuf(buf, sizeof(buf), "%d\n", sb_pmd_params[SB_PMD_FREQ].step);
        TEXT(buf, "%s%d/frequency_mhz_step", d, p);
        RW(F_PMD_PARAM, p, SB_PMD_MV, "%s%d/%s", d, p, sb_pmd_params[SB_PMD_MV].name);
        param_limits(d, p, &sb_pmd_params[SB_PMD_MV]);
    }
    for (int c = 0; c < SB_NMC; c++) {
        const char *d = "sys/class/uniserver-opp/mc";
        TEXT("memory\n", "%s%d/kind", d, c);
        fmtbuf(buf, sizeof(buf), "%d\n", c);
        TEXT(buf, "%s%d/id", d, c);
        o = 0;
        for (int k = 0; k < SB_DIMMS; k++) {
            char label[16];
            sb_dimm_label(c, k, label, sizeof(label));
            o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", k ? " " : "", label);
        }
        snprintf(buf + o, sizeof(buf) - o, "\n");
        TEXT(buf, "%s%d/dimms", d, c);
        for (int q = 0; q < SB_MC_NPARAM; q++) {
            RW(F_MC_PARAM, c, q, "%s%d/%s", d, c, sb_mc_params[q].name);
            param_limits(d, c, &sb_mc_params[q]);
        }
    }

    /* The simulation's own controls. */
    RW(F_SIM_LOAD, 0, 0, "sim/load");
    LIVE(F_SIM_TIME, 0, 0, "sim/time_ms");
    RW(F_SIM_ADVANCE, 0, 0, "sim/advance_ms");
    LIVE(F_SIM_TRUTH, 0, 0, "sim/truth");
    LIVE(F_SIM_FAILURES, 0, 0, "sim/failures");
    RW(F_SIM_VMS, 0, 0, "sim/vms");
    /* The VMs' cgroups (simboard_vms.c serves what is below). */
    add(N_DIR, 0, 0, false, NULL, "sys/fs/cgroup/machine.slice");
    fmtbuf(buf, sizeof(buf), "%llu\n", (unsigned long long)board.seed);
    TEXT(buf, "sim/seed");
}

/* ---------------------------------------------------------------------------------------------
 * Time: the model follows the monotonic clock (times --speed), or only sim/advance_ms
 * ------------------------------------------------------------------------------------------- */

static void sync_clock(void) {
    struct timespec now;
    double ms;
    if (manual_clock)
        return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = ((double)(now.tv_sec - started.tv_sec) * 1e3 + (double)(now.tv_nsec - started.tv_nsec) / 1e6) * speed;
    if (ms > (double)board.now_ms + SB_TICK_MS)
        sb_advance(&board, (uint64_t)ms - board.now_ms);
}

/* ---------------------------------------------------------------------------------------------
 * Reading and writing
 * ------------------------------------------------------------------------------------------- */

static int render(const node *n, char *buf, size_t len) {
    const sb_model *m = &board;
    int p = n->a;
    size_t o = 0;

    switch (n->k) {
    case F_TEXT:
        return snprintf(buf, len, "%s", n->text);
    case F_STAT: {
        uint64_t t[4] = {0, 0, 0, 0};
        for (int c = 0; c < SB_NCPU; c++)
            for (int k = 0; k < 4; k++)
                t[k] += m->jiffies[c][k];
        o += (size_t)snprintf(buf + o, len - o, "cpu  %llu 0 %llu %llu %llu 0 0 0 0 0\n", (unsigned long long)t[0],
                              (unsigned long long)t[1], (unsigned long long)t[2], (unsigned long long)t[3]);
        for (int c = 0; c < SB_NCPU; c++)
            o += (size_t)snprintf(buf + o, len - o, "cpu%d %llu 0 %llu %llu %llu 0 0 0 0 0\n", c,
                                  (unsigned long long)m->jiffies[c][0], (unsigned long long)m->jiffies[c][1],
                                  (unsigned long long)m->jiffies[c][2], (unsigned long long)m->jiffies[c][3]);
        o += (size_t)snprintf(buf + o, len - o,
                              "intr 0\nctxt 0\nbtime 1764000000\nprocesses 9876\nprocs_running %d\nprocs_blocked 0\n",
                              (int)lround(m->load1) + 1);
        return (int)o;
    }
    case F_LOADAVG:
        return snprintf(buf, len, "%.2f %.2f %.2f %d/412 %ld\n", m->load1, m->load1, m->load1,
                        (int)lround(m->load1) + 1, sbv_last_pid(m));
    case F_POL_CUR:
        return snprintf(buf, len, "%u\n", sb_pmd_khz(m, p));
    case F_POL_GOV:
        return snprintf(buf, len, "%s\n", sb_governor_names[m->gov[p]]);
    case F_POL_SETSPEED:
        /* cpufreq shows the current frequency under userspace, else nothing to show. */
        return m->gov[p] == SB_GOV_USERSPACE ? snprintf(buf, len, "%u\n", sb_pmd_khz(m, p))
                                             : snprintf(buf, len, "<unsupported>\n");
    case F_POL_MIN:
        return snprintf(buf, len, "%u\n", m->min_khz[p] < m->max_khz[p] ? m->min_khz[p] : m->max_khz[p]);
    case F_POL_MAX:
        return snprintf(buf, len, "%u\n", m->max_khz[p]);
    case F_HW_TEMP:
        return snprintf(buf, len, "%ld\n", lround(m->soc_c * 1000));
    case F_HW_CPU_UW:
        return snprintf(buf, len, "%ld\n", lround(sb_cpu_power_w(m) * 1e6));
    case F_HW_IO_UW:
        return snprintf(buf, len, "%ld\n", lround(sb_io_power_w(m) * 1e6));
    case F_DRAM_UJ:
        return snprintf(buf, len, "%llu\n", (unsigned long long)fmod(m->dram_energy_uj, 262143328850.0));
    case F_MC_CE:
        return snprintf(buf, len, "%llu\n", (unsigned long long)(m->dimm_ce[p][0] + m->dimm_ce[p][1]));
    case F_MC_UE:
        return snprintf(buf, len, "%llu\n", (unsigned long long)(m->dimm_ue[p][0] + m->dimm_ue[p][1]));
    case F_DIMM_CE:
        return snprintf(buf, len, "%llu\n", (unsigned long long)m->dimm_ce[p][n->b]);
    case F_DIMM_UE:
        return snprintf(buf, len, "%llu\n", (unsigned long long)m->dimm_ue[p][n->b]);
    case F_MC_SECONDS:
        return snprintf(buf, len, "%llu\n", (unsigned long long)(m->now_ms / 1000));
    case F_PMD_CE:
        return snprintf(buf, len, "%llu\n", (unsigned long long)(m->pmd_ce[p][0] + m->pmd_ce[p][1]));
    case F_PMD_UE:
        return snprintf(buf, len, "%llu\n", (unsigned long long)m->pmd_ue[p]);
    case F_ZERO:
        return snprintf(buf, len, "0\n");
    case F_PMD_PARAM:
        return snprintf(buf, len, "%d\n", *sb_pmd_setting(&board, p, n->b));
    case F_MC_PARAM:
        return snprintf(buf, len, "%d\n", *sb_mc_setting(&board, p, n->b));
    case F_SIM_LOAD:
        for (int c = 0; c < SB_NCPU; c++)
            o += (size_t)snprintf(buf + o, len - o, "%s%ld", c ? " " : "", lround(m->load[c] * 100));
        return (int)o + snprintf(buf + o, len - o, "\n");
    case F_SIM_TIME:
        return snprintf(buf, len, "%llu\n", (unsigned long long)m->now_ms);
    case F_SIM_ADVANCE:
        return snprintf(buf, len, "%s\n", manual_clock ? "manual" : "real-time");
    case F_SIM_TRUTH:
        for (int q = 0; q < SB_NPMD; q++)
            o += (size_t)snprintf(buf + o, len - o,
                                  "pmd%d khz %u vmin_mv %.1f margin_mv %.1f util %.2f ce_per_s %.4g ue_per_s %.4g\n", q,
                                  sb_pmd_khz(m, q), sb_pmd_vmin_mv(m, q), m->pmd_mv[q] - sb_pmd_vmin_mv(m, q),
                                  sb_pmd_util(m, q), sb_pmd_ce_rate(m, q), sb_pmd_ue_rate(m, q));
        for (int c = 0; c < SB_NMC; c++)
            o += (size_t)snprintf(buf + o, len - o,
                                  "mc%d temp_c %.1f retention_ms %.0f refresh_ms %d ce_per_s %.4g ue_per_s %.4g\n", c,
                                  sb_dimm_temp_c(m, c), sb_retention_ms(m, c), m->refresh_ms[c], sb_mc_ce_rate(m, c),
                                  sb_mc_ue_rate(m, c));
        o += (size_t)snprintf(buf + o, len - o, "power_w cpu %.3f io %.3f dram %.3f soc_c %.2f\n", sb_cpu_power_w(m),
                              sb_io_power_w(m), sb_dram_power_w(m), m->soc_c);
        return (int)o + sbv_truth(m, buf + o, len - o);
    case F_SIM_VMS:
        return sbv_truth(m, buf, len);
    case F_SIM_FAILURES:
        /* What a workload on each domain would report itself (stress-ng --verify, its exit status). */
        for (int q = 0; q < SB_NPMD; q++)
            o += (size_t)snprintf(buf + o, len - o, "pmd%d sdc %llu crash %llu\n", q, (unsigned long long)m->pmd_sdc[q],
                                  (unsigned long long)m->pmd_crash[q]);
        for (int c = 0; c < SB_NMC; c++)
            o += (size_t)snprintf(buf + o, len - o, "mc%d sdc %llu crash %llu\n", c, (unsigned long long)m->mc_sdc[c],
                                  (unsigned long long)m->mc_crash[c]);
        return (int)o;
    default:
        return -EIO;
    }
}

static int parse_long(const char *s, long *ret) {
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return -EINVAL;
    *ret = v;
    return 0;
}

/* A value within [lo, hi]. */
static int parse_in(const char *s, long lo, long hi, long *ret) {
    if (parse_long(s, ret) < 0 || *ret < lo || *ret > hi)
        return -EINVAL;
    return 0;
}

/* A value of an operating-point parameter that the board's regulators accept, into @setting. */
static int store_param(const sb_param *param, int *setting, const char *s) {
    long v;
    if (parse_long(s, &v) < 0 || !sb_param_accepts(param, v))
        return -EINVAL;
    *setting = (int)v;
    return 0;
}

static int store(const node *n, const char *s) {
    sb_model *m = &board;
    int p = n->a;
    long v;

    switch (n->k) {
    case F_POL_GOV: {
        int g = sb_governor_of(s);
        if (g < 0)
            return -EINVAL;
        m->gov[p] = (sb_governor)g;
        /* The userspace governor starts at the current frequency. */
        if (g == SB_GOV_USERSPACE)
            m->setspeed_khz[p] = sb_pmd_khz(m, p);
        return 0;
    }
    case F_POL_SETSPEED:
        if (m->gov[p] != SB_GOV_USERSPACE || parse_long(s, &v) < 0 || v < 0)
            return -EINVAL;
        m->setspeed_khz[p] = (unsigned)v;
        return 0;
    case F_POL_MIN:
    case F_POL_MAX:
        if (parse_long(s, &v) < 0 || v < 0)
            return -EINVAL;
        v = v < (long)SB_MIN_KHZ ? (long)SB_MIN_KHZ : v > (long)SB_MAX_KHZ ? (long)SB_MAX_KHZ : v;
        if (n->k == F_POL_MIN)
            m->min_khz[p] = (unsigned)v;
        else
            m->max_khz[p] = (unsigned)v;
        return 0;
    case F_PMD_PARAM:
        return store_param(&sb_pmd_params[n->b], sb_pmd_setting(m, p, n->b), s);
    case F_MC_PARAM:
        return store_param(&sb_mc_params[n->b], sb_mc_setting(m, p, n->b), s);
    case F_SIM_LOAD: {
        double l[SB_NCPU];
        int k = 0;
        char copy[256], *save = NULL;
        snprintf(copy, sizeof(copy), "%s", s);
        for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
            if (k == SB_NCPU || parse_in(t, 0, 100, &v) < 0)
                return -EINVAL;
            l[k++] = (double)v / 100.0;
        }
        if (k != 1 && k != SB_NCPU)
            return -EINVAL;
        for (int c = 0; c < SB_NCPU; c++)
            m->load[c] = l[k == 1 ? 0 : c];
        return 0;
    }
    case F_SIM_VMS:
        return sbv_control(m, s);
    case F_SIM_ADVANCE:
        if (!manual_clock || parse_in(s, 0, 86400000, &v) < 0)
            return -EINVAL;
        sb_advance(m, (uint64_t)v);
        return 0;
    default:
        return -EACCES;
    }
}

/* ---------------------------------------------------------------------------------------------
 * FUSE
 * ------------------------------------------------------------------------------------------- */

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
    (void)conn;
    /* Like sysfs: every read asks the board, nothing is cached. */
    cfg->direct_io = 1;
    cfg->kernel_cache = 0;
    cfg->attr_timeout = 0;
    cfg->entry_timeout = 0;
    cfg->negative_timeout = 0;
    cfg->use_ino = 0;
    return NULL;
}

/* A path of the simulated VMs (simboard_vms.c), not in the fixed tree. */
static sbv_type vm_path(const char *path) {
    return sbv_lookup(&board, path + strspn(path, "/"));
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
    node *n = lookup(path);
    sbv_type t = n ? SBV_NONE : vm_path(path);
    (void)fi;
    if (!n && t == SBV_NONE)
        return -ENOENT;
    memset(st, 0, sizeof(*st));
    st->st_uid = getuid();
    st->st_gid = getgid();
    if (!n) {
        st->st_mode = t == SBV_DIR ? S_IFDIR | 0555 : S_IFREG | (t == SBV_RWFILE ? 0644 : 0444);
        st->st_nlink = t == SBV_DIR ? 2 : 1;
        st->st_size = t == SBV_DIR ? 0 : 4096;
    } else if (n->k == N_DIR) {
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
    } else if (n->k == N_LINK) {
        st->st_mode = S_IFLNK | 0777;
        st->st_nlink = 1;
        st->st_size = (off_t)strlen(n->text);
    } else {
        st->st_mode = S_IFREG | (n->writable ? 0644 : 0444);
        st->st_nlink = 1;
        st->st_size = 4096; /* as sysfs says of every attribute */
    }
    return 0;
}

static int fs_readlink(const char *path, char *buf, size_t len) {
    node *n = lookup(path);
    if (!n || n->k != N_LINK)
        return -EINVAL;
    snprintf(buf, len, "%s", n->text);
    return 0;
}

typedef struct {
    void *buf;
    fuse_fill_dir_t fill;
} fill_ctx;

static void fill_one(void *ctx, const char *name) {
    fill_ctx *c = ctx;
    c->fill(c->buf, name, NULL, 0, 0);
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
                      enum fuse_readdir_flags flags) {
    node *n = lookup(path);
    (void)off;
    (void)fi;
    (void)flags;
    if (!n && vm_path(path) != SBV_DIR)
        return vm_path(path) == SBV_NONE ? -ENOENT : -ENOTDIR;
    if (n && n->k != N_DIR)
        return -ENOTDIR;
    fill(buf, ".", NULL, 0, 0);
    fill(buf, "..", NULL, 0, 0);
    for (int i = 0; n && i < n->nkids; i++)
        fill(buf, n->kids[i]->name, NULL, 0, 0);
    sbv_readdir(&board, path + strspn(path, "/"), fill_one, &(fill_ctx){buf, fill});
    return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi) {
    node *n = lookup(path);
    if (!n) {
        sbv_type t = vm_path(path);
        if (t == SBV_NONE || t == SBV_DIR)
            return t == SBV_NONE ? -ENOENT : -EISDIR;
        if ((fi->flags & O_ACCMODE) != O_RDONLY && t != SBV_RWFILE)
            return -EACCES;
        fi->direct_io = 1;
        return 0;
    }
    if (n->k == N_DIR)
        return -EISDIR;
    /* As kernfs: an attribute without a store method cannot be opened for writing, even by root. */
    if ((fi->flags & O_ACCMODE) != O_RDONLY && !n->writable)
        return -EACCES;
    fi->direct_io = 1;
    return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
    node *n = lookup(path);
    char text[4096];
    int len;
    (void)fi;
    if (!n && vm_path(path) == SBV_NONE)
        return -ENOENT;
    sync_clock();
    len = n ? render(n, text, sizeof(text)) : sbv_render(&board, path + strspn(path, "/"), text, sizeof(text));
    if (len < 0)
        return len;
    if (len >= (int)sizeof(text))
        len = (int)sizeof(text) - 1;
    if (off >= len)
        return 0;
    if (size > (size_t)(len - off))
        size = (size_t)(len - off);
    memcpy(buf, text + off, size);
    return (int)size;
}

static int fs_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
    node *n = lookup(path);
    char val[256];
    size_t len = size;
    int r;
    (void)fi;
    if (n ? !n->writable : vm_path(path) != SBV_RWFILE)
        return -EACCES;
    /* sysfs takes a store in one write from the start of the file. */
    if (off != 0 || size >= sizeof(val))
        return -EINVAL;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        len--;
    memcpy(val, buf, len);
    val[len] = 0;
    sync_clock();
    r = n ? store(n, val) : sbv_store(&board, path + strspn(path, "/"), val);
    return r < 0 ? r : (int)size;
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
    node *n = lookup(path);
    (void)size;
    (void)fi;
    if (!n)
        return vm_path(path) == SBV_RWFILE ? 0 : vm_path(path) == SBV_NONE ? -ENOENT : -EACCES;
    return n->writable ? 0 : -EACCES;
}

static const struct fuse_operations ops = {
    .init = fs_init,
    .getattr = fs_getattr,
    .readlink = fs_readlink,
    .readdir = fs_readdir,
    .open = fs_open,
    .read = fs_read,
    .write = fs_write,
    .truncate = fs_truncate,
};

static void usage(FILE *f) {
    fprintf(f, "usage: uni-simboard [--seed N] [--manual-clock] [--speed X] MOUNTPOINT\n"
               "\n"
               "Serves a live /proc and /sys of a simulated X-Gene2-like board (8 cores in 4 PMDs, 4 DDR3\n"
               "channels with 2 DIMMs each) at MOUNTPOINT/proc and MOUNTPOINT/sys, with the board's own\n"
               "controls in MOUNTPOINT/sim. Read it with\n"
               "  unish -c 'uniserver:///system?procfs=MOUNTPOINT/proc&sysfs=MOUNTPOINT/sys' nodestats\n"
               "Runs in the foreground until SIGINT or SIGTERM, then unmounts. Needs FUSE (/dev/fuse) and root.\n"
               "\n"
               "  --seed N         the board's part-to-part variation (safe voltages, DRAM retention) and\n"
               "                   error draws (default 1)\n"
               "  --manual-clock   time advances only by writes to MOUNTPOINT/sim/advance_ms (tests)\n"
               "  --speed X        simulated seconds per real second (default 1)\n"
               "\n"
               "docs/simboard.md describes the tree, the model and its sources.\n");
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"seed", required_argument, NULL, 's'},
        {"manual-clock", no_argument, NULL, 'm'},
        {"speed", required_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    unsigned long long seed = 1;
    char *fargv[8], *end;
    int c, fargc = 0;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            errno = 0;
            seed = strtoull(optarg, &end, 10);
            if (errno || *end || end == optarg) {
                fprintf(stderr, "uni-simboard: --seed takes a number, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'm':
            manual_clock = true;
            break;
        case 'x':
            speed = strtod(optarg, &end);
            if (*end || end == optarg || !(speed > 0 && speed <= 1e6)) {
                fprintf(stderr, "uni-simboard: --speed takes a positive number, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    sb_init(&board, seed);
    build_tree();
    clock_gettime(CLOCK_MONOTONIC, &started);
    fargv[fargc++] = argv[0];
    fargv[fargc++] = argv[optind];
    fargv[fargc++] = "-f";
    fargv[fargc++] = "-s";
    fargv[fargc++] = "-o";
    fargv[fargc++] = "fsname=uni-simboard,subtype=uni-simboard";
    fargv[fargc] = NULL;
    return fuse_main(fargc, fargv, &ops, NULL);
}
