/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-simboard's VMs as files (simboard_vms.c): lookups, listings, reads and writes of the paths
 * that belong to the simulated VMs, which simboard.c's fixed tree does not hold. */
#pragma once

#include <stddef.h>

#include "model.h"

typedef enum { SBV_NONE, SBV_DIR, SBV_FILE, SBV_RWFILE } sbv_type;
typedef void (*sbv_fill)(void *ctx, const char *name);

/* @path is relative to the mount point, without a leading '/'. */
sbv_type sbv_lookup(const sb_model *m, const char *path);
/* The entries of @path; "proc" and the machine slice list only the VMs' own. -ENOENT. */
int sbv_readdir(const sb_model *m, const char *path, sbv_fill fill, void *ctx);
int sbv_render(const sb_model *m, const char *path, char *buf, size_t len);
/* A write of @val to a vCPU's cpuset.cpus: -EINVAL for a list the board cannot take, -EACCES. */
int sbv_store(sb_model *m, const char *path, const char *val);
/* sim/vms: "add NAME CLASS VCPUS DEMAND_PCT", "del NAME", "demand NAME DEMAND_PCT", and
 * "inject pmdP|mcC ce|ue N": N errors counted at once on that part, attributed as drawn ones are. */
int sbv_control(sb_model *m, const char *cmd);
/* The VMs' lines of sim/truth (their errors) and of sim/vms. */
int sbv_truth(const sb_model *m, char *buf, size_t len);
/* /proc/loadavg's last PID: moves when a VM is added, as the kernel's does on fork. */
long sbv_last_pid(const sb_model *m);
