/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's VMs (domains*.c) as local.c sees them: open with the URI's parameters, list,
 * per-VM records, and the host rows derived from them (host.vms.*, kvm.NAME). */
#pragma once

#include "lib/internal.h"

typedef struct vms_state vms_state;

/* Read the VM parameters of a uniserver:///system URI (?libvirt=URI, ?vm_deadline_ms=MS,
 * ?kvmstats=qmp|binary|off, ?reliability_state=FILE). @host_proc says procfs is this host's /proc, where live sources
 * (QMP sockets, taskstats, perf, sched_getaffinity, the default libvirt) apply. -1 with the
 * error set. */
int vms_open(vms_state **ret, int proc_fd, const char *procfs, bool host_proc, const uni_uri *uri);
void vms_close(vms_state *s);
/* The URI parameters vms_open reads. */
#define VMS_URI_PARAMS                                                                                                 \
    "libvirt", "vm_deadline_ms", "kvmstats", "reliability_state", "vm_availability_window_s", "flavor_classes"
int vms_list(vms_state *s, uni_domain_info **ret, size_t *ret_n);
/* @mem_total_mb: the host's MemTotal (for dom.mem_pct), or NAN. */
int vms_domain_stats(vms_state *s, const uni_select *sel, const uni_domain_info *only, size_t nonly,
                     double mem_total_mb, uni_domain_stats **ret, size_t *ret_n);
/* host.vms.* and kvm.NAME into the host record, as @sel wants them. */
int vms_node_stats(vms_state *s, const uni_select *sel, uniRecordPtr rec, double mem_total_mb);

/* domains_ops.c: the spec's Table 4 and the reliability class (uni_driver's members). VMs found
 * from their QEMU process keep their class in a state file (?reliability_state=FILE, else
 * /var/lib/uniserver/reliability.state). A Nova domain with no class of its own gets its flavor's
 * from uniserver-placement-sync's table (?flavor_classes=FILE, else /var/lib/uniserver/flavor-classes). */
int vms_domain_get_info(vms_state *s, const uni_domain_info *dom, uniDomainInfo *ret);
int vms_domain_get_xml(vms_state *s, const uni_domain_info *dom, char **ret);
int vms_domain_get_sched(vms_state *s, const uni_domain_info *dom, char **ret_type, uniSchedParam **ret);
int vms_domain_get_vcpus(vms_state *s, const uni_domain_info *dom, uniVcpuInfo **ret_info, unsigned char **ret_maps,
                         int *ret_ncpus);
int vms_domain_pin_vcpu(uniConnectPtr conn, vms_state *s, const uni_domain_info *dom, unsigned vcpu,
                        const unsigned char *map, int maplen);
int vms_domain_get_cpu_stats(vms_state *s, const uni_domain_info *dom, unsigned long long **ret);
int vms_domain_get_reliability(vms_state *s, const uni_domain_info *dom);
int vms_domain_set_reliability(uniConnectPtr conn, vms_state *s, const uni_domain_info *dom, int cls);
/* The class the state file gives VM @v (a struct vm), or NULL. */
const char *vms_reliability_of(vms_state *s, const void *v);
