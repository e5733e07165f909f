/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-microvirus: a short targeted kernel for one cache level of one core (the X-Gene2
 * characterisations' micro-viruses): it pins itself to the core, keeps a buffer sized to fit the
 * level (and to miss the level below) filled with changing patterns, and reads every word back
 * against the pattern. A word that reads back different is silent data corruption: exit 2, as
 * stress-ng's --verify, so uni-stresslog's verdict logic reads both alike. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

enum { MV_OK = 0, MV_USAGE = 1, MV_CORRUPT = 2, MV_CANNOT = 3 };

static const char usage[] =
    "usage: uni-microvirus --level 1|2|3 --cpu N [--seconds S (1)] [--sysfs DIR (/sys)]\n"
    "Stress cache level L of core N for S seconds: a buffer of 3/4 of the level's size (data or\n"
    "unified cache, from sysfs devices/system/cpu/cpuN/cache), written with changing patterns and\n"
    "read back word by word. Exit 0 clean, 2 a word read back wrong (data corruption), 3 it cannot\n"
    "run here (no such cache, the core cannot be used), 1 bad usage. UNI_MICROVIRUS_INJECT_FAULT=P\n"
    "flips one bit after P passes (for the tests: the verification must see it).\n";

/* The size in bytes of core @cpu's data or unified cache of level @level, from sysfs. */
static int cache_size(const char *sysfs, int cpu, int level, uint64_t *ret, char *why, size_t len) {
    for (int i = 0; i < 16; i++) {
        char path[4200], buf[64];
        uint64_t lv, kb;
        int root;
        ssize_t n;

        snprintf(path, sizeof(path), "%s/devices/system/cpu/cpu%d/cache/index%d", sysfs, cpu, i);
        root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
            break;
        if (read_u64_at(root, "level", &lv) < 0 || read_line_at(root, "type", buf, sizeof(buf)) < 0) {
            close(root);
            continue;
        }
        if ((int)lv != level || streq(buf, "Instruction")) {
            close(root);
            continue;
        }
        n = read_line_at(root, "size", buf, sizeof(buf));
        close(root);
        /* "32K", "8192K", "1M" */
        if (n > 1 && (buf[n - 1] == 'K' || buf[n - 1] == 'M')) {
            char unit = buf[n - 1];
            buf[n - 1] = 0;
            if (safe_atou64(buf, &kb) == 0 && kb > 0) {
                *ret = kb * (unit == 'M' ? 1024 * 1024 : 1024);
                return 0;
            }
        }
        snprintf(why, len, "%s/size: not a cache size", path);
        return -EBADMSG;
    }
    snprintf(why, len, "core %d has no level %d data or unified cache in %s/devices/system/cpu/cpu%d/cache", cpu, level,
             sysfs, cpu);
    return -ENOENT;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The pattern of pass @pass at word @i: alternating checkerboards (every bit toggles between two
 * passes) mixed with an address- and pass-dependent value (a word stuck to an old value or to a
 * neighbour's is seen). */
static inline uint64_t pattern(uint64_t pass, uint64_t i) {
    uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ULL ^ (pass * 0xD1B54A32D192ED03ULL);
    x ^= x >> 29;
    return (pass & 1 ? 0xAAAAAAAAAAAAAAAAULL : 0x5555555555555555ULL) ^ (x & 0x0F0F0F0F0F0F0F0FULL);
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"level", required_argument, NULL, 'l'},   {"cpu", required_argument, NULL, 'c'},
        {"seconds", required_argument, NULL, 's'}, {"sysfs", required_argument, NULL, 'y'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *sysfs = "/sys", *inject = getenv("UNI_MICROVIRUS_INJECT_FAULT");
    unsigned level = 0, cpu = 0;
    double seconds = 1, t_end;
    uint64_t size = 0, words, pass, inject_at = UINT64_MAX, reads = 0;
    bool have_cpu = false;
    volatile uint64_t *buf;
    char why[4400];
    cpu_set_t set;
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (safe_atou(optarg, &level) < 0 || level < 1 || level > 3) {
                fprintf(stderr, "uni-microvirus: --level must be 1, 2 or 3, not '%s'\n", optarg);
                return MV_USAGE;
            }
            break;
        case 'c':
            if (safe_atou(optarg, &cpu) < 0 || cpu >= CPU_SETSIZE) {
                fprintf(stderr, "uni-microvirus: --cpu must be a core number, not '%s'\n", optarg);
                return MV_USAGE;
            }
            have_cpu = true;
            break;
        case 's':
            if (safe_atod(optarg, &seconds) < 0 || !(seconds > 0) || seconds > 86400) {
                fprintf(stderr, "uni-microvirus: --seconds must be more than 0, not '%s'\n", optarg);
                return MV_USAGE;
            }
            break;
        case 'y':
            sysfs = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return MV_OK;
        default:
            fputs(usage, stderr);
            return MV_USAGE;
        }
    }
    if (!level || !have_cpu || optind < argc) {
        fputs(usage, stderr);
        return MV_USAGE;
    }
    if (inject && (safe_atou64(inject, &inject_at) < 0)) {
        fprintf(stderr, "uni-microvirus: UNI_MICROVIRUS_INJECT_FAULT must be a pass number\n");
        return MV_USAGE;
    }
    if (cache_size(sysfs, (int)cpu, (int)level, &size, why, sizeof(why)) < 0) {
        fprintf(stderr, "uni-microvirus: %s\n", why);
        return MV_CANNOT;
    }
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) < 0) {
        fprintf(stderr, "uni-microvirus: cannot run on core %u: %s\n", cpu, strerror(errno));
        return MV_CANNOT;
    }
    /* Three quarters of the level: it stays in the level (with room for the rest of the process)
     * and, above L1, is larger than the level below, whose misses it then meets every pass. */
    words = size * 3 / 4 / sizeof(uint64_t);
    if (!(buf = aligned_alloc(64, words * sizeof(uint64_t)))) {
        fprintf(stderr, "uni-microvirus: out of memory for %llu bytes\n", (unsigned long long)(words * 8));
        return MV_CANNOT;
    }
    t_end = now_s() + seconds;
    for (pass = 0; pass == 0 || now_s() < t_end; pass++) {
        for (uint64_t i = 0; i < words; i++)
            buf[i] = pattern(pass, i);
        if (pass == inject_at)
            buf[words / 2] ^= 1ULL << (pass % 64);
        /* Read back several times: the cells hold the pattern while the line is hot in the level. */
        for (int r = 0; r < 4; r++, reads++)
            for (uint64_t i = 0; i < words; i++) {
                uint64_t want = pattern(pass, i), got = buf[i];
                if (got != want) {
                    fprintf(stderr,
                            "uni-microvirus: level %u cpu %u: word %llu of pass %llu read 0x%016llx, wrote "
                            "0x%016llx (bits 0x%016llx differ)\n",
                            level, cpu, (unsigned long long)i, (unsigned long long)pass, (unsigned long long)got,
                            (unsigned long long)want, (unsigned long long)(got ^ want));
                    free((void *)buf);
                    return MV_CORRUPT;
                }
            }
    }
    printf("level %u cpu %u: %llu KiB of a %llu KiB cache, %llu passes, %llu reads of every word, 0 errors\n", level,
           cpu, (unsigned long long)(words * 8 / 1024), (unsigned long long)(size / 1024), (unsigned long long)pass,
           (unsigned long long)reads);
    free((void *)buf);
    return MV_OK;
}
