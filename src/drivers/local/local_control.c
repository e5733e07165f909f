/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's control calls, forwarded to control.c and opp.c on the connection's sysfs. */
#include "control.h"
#include "local_internal.h"

/* ---------------------------------------------------------------------------------------------
 * Control (control.c, opp.c): on the connection's sysfs root
 * ------------------------------------------------------------------------------------------- */

static sysfs_root root_of(uniConnectPtr conn) {
    local_state *s = conn->priv;
    return (sysfs_root){.conn = conn, .sys_fd = s->sys_fd, .sysfs = s->sysfs};
}

int local_node_set_frequency(uniConnectPtr conn, int core, uint64_t khz, const char *text, uni_core_set *ret) {
    sysfs_root r = root_of(conn);
    return local_set_frequency(&r, core, khz, text, ret);
}

int local_node_set_governor(uniConnectPtr conn, int core, const char *governor, uni_core_set *ret) {
    sysfs_root r = root_of(conn);
    return local_set_governor(&r, core, governor, ret);
}

int local_node_set_power_policy(uniConnectPtr conn, int core, const char *policy, uni_core_set *ret) {
    sysfs_root r = root_of(conn);
    return local_set_power_policy(&r, core, policy, ret);
}

int local_node_get_operating_points(uniConnectPtr conn, uniOppListPtr list) {
    sysfs_root r = root_of(conn);
    return local_get_operating_points(&r, list);
}

int local_node_set_operating_point(uniConnectPtr conn, uniOppListPtr list, int domain, const uniOppSetting *settings,
                                   int n) {
    sysfs_root r = root_of(conn);
    return local_set_operating_point(&r, list, domain, settings, n);
}
