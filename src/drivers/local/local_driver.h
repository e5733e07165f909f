/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's hooks for the programs beside the library (uniserverd, bench/): what only a
 * local connection has. The driver itself is uni_local_driver (lib/internal.h). */
#pragma once

#include "lib/internal.h"

/* The HealthLog a local connection reads, or NULL for other drivers (uniserverd watches it). */
const char *uni_local_healthlog_path(uniConnectPtr conn);
/* bench/: the fds one whole-record sample of a local connection reads. */
size_t uni_local_sample_fds(uniConnectPtr conn, int *fds, size_t max);
/* uniserverd's margins_file: the margins file a local connection reads (host.margin.*), in place
 * of ?margins= or the default. -EINVAL for other drivers, -ENOMEM. */
int uni_local_set_margins_path(uniConnectPtr conn, const char *path);
