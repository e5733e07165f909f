/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The benchmarks' measure of another process's CPU (proc_cpu.h). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>

#include "proc_cpu.h"
#include "util/util.h"

uint64_t proc_cpu_ns(pid_t pid) {
    char path[64];
    DIR *d;
    struct dirent *e;
    uint64_t sum = 0;
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    if (!(d = opendir(path)))
        return 0;
    while ((e = readdir(d))) {
        char f[400], buf[128];
        unsigned long long v;
        if (e->d_name[0] == '.')
            continue;
        snprintf(f, sizeof(f), "%s/%s/schedstat", path, e->d_name);
        if (read_file_at(AT_FDCWD, f, buf, sizeof(buf)) > 0 && sscanf(buf, "%llu", &v) == 1)
            sum += v;
    }
    closedir(d);
    return sum;
}
