/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The benchmarks' measure of another process's CPU: the scheduler's own account of each thread
 * (/proc/PID/task/TID/schedstat, ns), not utime + stime, which come in 100 Hz ticks (10 ms: a
 * scrape or a collection costs tens of us). */
#pragma once
#include <stdint.h>
#include <sys/types.h>

/* The CPU time of process @pid, all its threads, in ns; 0 when it is gone. */
uint64_t proc_cpu_ns(pid_t pid);
