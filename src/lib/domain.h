/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Domains (VMs) as drivers name them, and their records. */
#pragma once

#include "lib/record.h"

/* ---- domains ---- */
/* What a driver says identifies a domain: a name, a UUID ("" when the VM has none: a QEMU
 * started without -uuid), whether it runs, and an id (QEMU's PID, libvirt's id, -1). */
typedef struct {
    char *name;
    char uuid[UNI_UUID_STRING_BUFLEN];
    bool active;
    long long id;
} uni_domain_info;
void uni_domain_info_done(uni_domain_info *d);
/* Does @d denote the same domain as @ref (by UUID when @ref has one, else by name)? */
bool uni_domain_info_matches(const uni_domain_info *d, const uni_domain_info *ref);

/* One domain's record, as a driver returns it. */
typedef struct {
    uni_domain_info info;
    uniRecordPtr rec;
} uni_domain_stats;
void uni_domain_stats_free(uni_domain_stats *v, size_t n);
void uni_domain_infos_free(uni_domain_info *v, size_t n);
/* A copy of the infos of @n records (free with uni_domain_infos_free); -ENOMEM. */
int uni_domain_infos_copy(const uni_domain_stats *v, size_t n, uni_domain_info **ret);
/* The driver's domains (list_domains), and their finished records (domain_stats), each under the
 * connection's lock; -1 with the error set. uniserverd samples its cache through these. */
int uni_domain_list(uniConnectPtr conn, uni_domain_info **ret, size_t *ret_n);
int uni_domain_collect(uniConnectPtr conn, const uni_select *sel, const uni_domain_info *only, size_t nonly,
                       uni_domain_stats **ret, size_t *ret_n);

/* Selections over the domain record (dom.*): groups "dom" and "kvm", dotted prefixes; NULL for
 * every domain metric. -1 with UNI_ERR_UNKNOWN_METRIC on a name that matches nothing. */
int uni_select_parse_domain(uni_select *s, const char *const *list);

/* Domain objects (domain.c) for domain_ops.c: a new one taking @info's contents and a reference
 * on @conn; NULL with the error set. */
uniDomainPtr uni_domain_new(uniConnectPtr conn, uni_domain_info *info);

/* Reliability classes: the name of a uniReliabilityClass ("normal" for an unknown one), and a
 * name's class (-1 when it is none). */
const char *uni_reliability_name(int cls);
int uni_reliability_parse(const char *name);

/* CPU maps: whether host CPU @cpu is set in @map of @maplen bytes; the CPUs of @map as a list
 * ("0-2,5") into @buf. */
static inline bool uni_cpumap_has(const unsigned char *map, int maplen, int cpu) {
    return cpu >= 0 && cpu / 8 < maplen && ((map[cpu / 8] >> (cpu % 8)) & 1);
}
void uni_cpumap_format(const unsigned char *map, int maplen, char *buf, size_t len);
static inline void uni_domain_freep(uniDomainPtr *p) {
    uniDomainFree(*p);
}
