/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The remote driver's verbs of the spec's Table 4 and of the reliability class: one typed call
 * each (procs.def); uniserverd answers from its source connection and its errors come back
 * unchanged. */
#include "remote_internal.h"

/* ---- the spec's Table 4 and the reliability class: the daemon answers from its source ---- */

static void dom_to_wire(const uni_domain_info *d, uni_wire_domain *w) {
    w->name = d->name ? d->name : (char *)"";
    w->uuid = (char *)d->uuid;
    w->active = d->active;
    w->id = d->id;
}

static void info_from_wire_info(const uni_wire_domain_info *w, uniDomainInfo *i) {
    *i = (uniDomainInfo){.state = (unsigned char)w->state,
                         .maxMem = w->max_mem,
                         .memory = w->memory,
                         .nrVirtCpu = (unsigned short)w->nr_virt_cpu,
                         .cpuTime = w->cpu_time,
                         .maxVcpus = w->max_vcpus};
}

static int remote_oom(void) {
    uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
    return -1;
}

int remote_domain_get_info(uniConnectPtr conn, const uni_domain_info *dom, uniDomainInfo *ret) {
    uni_domain_args a = {0};
    uni_domain_get_info_ret r;
    memset(&r, 0, sizeof(r));
    dom_to_wire(dom, &a.dom);
    if (call_domain_get_info(conn->priv, &a, &r) < 0)
        return -1;
    info_from_wire_info(&r.info, ret);
    return 0;
}

int remote_domain_list_info(uniConnectPtr conn, uni_domain_info **ret, uniDomainInfo **ret_infos, size_t *ret_n) {
    remote_state *s = conn->priv;
    uni_connect_list_domains_args a = {0};
    uni_connect_list_domains_info_ret r;
    uni_domain_info *v;
    uniDomainInfo *infos;
    u_int n;

    memset(&r, 0, sizeof(r));
    if (call_list_domains_info(s, &a, &r) < 0)
        return -1;
    n = r.domains.domains_len;
    v = calloc(n ? n : 1, sizeof(*v));
    infos = calloc(n ? n : 1, sizeof(*infos));
    if (v && infos && r.infos.infos_len != n) {
        free(v);
        v = NULL;
    }
    for (u_int i = 0; v && infos && i < n; i++) {
        info_from_wire_info(&r.infos.infos_val[i], &infos[i]);
        if (remote_info_from_wire(&r.domains.domains_val[i], &v[i]) < 0) {
            uni_domain_infos_free(v, i);
            v = NULL;
        }
    }
    xdr_free((xdrproc_t)xdr_uni_connect_list_domains_info_ret, (char *)&r);
    if (!v || !infos) {
        uni_domain_infos_free(v, n);
        free(infos);
        uni_error_set(UNI_ERR_RPC_FAILED, "malformed domain list from uniserverd at %s", s->where);
        return -1;
    }
    *ret = v;
    *ret_infos = infos;
    *ret_n = n;
    return 0;
}

int remote_domain_get_xml(uniConnectPtr conn, const uni_domain_info *dom, char **ret) {
    uni_domain_args a = {0};
    uni_domain_get_xml_desc_ret r;
    memset(&r, 0, sizeof(r));
    dom_to_wire(dom, &a.dom);
    if (call_domain_get_xml_desc(conn->priv, &a, &r) < 0)
        return -1;
    *ret = r.xml; /* the decoded string, ours */
    return 0;
}

int remote_domain_get_sched(uniConnectPtr conn, const uni_domain_info *dom, char **ret_type, uniSchedParam **ret) {
    uni_domain_args a = {0};
    uni_domain_get_scheduler_ret r;
    u_int n;
    memset(&r, 0, sizeof(r));
    dom_to_wire(dom, &a.dom);
    if (call_domain_get_scheduler(conn->priv, &a, &r) < 0)
        return -1;
    n = r.params.params_len;
    *ret_type = strdup(r.type);
    *ret = calloc(n ? n : 1, sizeof(**ret));
    for (u_int i = 0; *ret && i < n; i++) {
        snprintf((*ret)[i].field, sizeof((*ret)[i].field), "%s", r.params.params_val[i].field);
        (*ret)[i].value = r.params.params_val[i].value;
    }
    xdr_free((xdrproc_t)xdr_uni_domain_get_scheduler_ret, (char *)&r);
    if (!*ret_type || !*ret)
        return remote_oom();
    return (int)n;
}

int remote_domain_get_vcpus(uniConnectPtr conn, const uni_domain_info *dom, uniVcpuInfo **ret_info,
                            unsigned char **ret_maps, int *ret_ncpus) {
    remote_state *s = conn->priv;
    uni_domain_args a = {0};
    uni_domain_get_vcpus_ret r;
    u_int n;
    int k = 0;
    memset(&r, 0, sizeof(r));
    dom_to_wire(dom, &a.dom);
    if (call_domain_get_vcpus(s, &a, &r) < 0)
        return -1;
    n = r.vcpus.vcpus_len;
    if (r.ncpus < 0 || r.cpumaps.cpumaps_len != n * (u_int)UNI_CPU_MAPLEN(r.ncpus)) {
        uni_error_set(UNI_ERR_RPC_FAILED, "malformed vCPU maps from uniserverd at %s", s->where);
        k = -1;
    } else if (!(*ret_info = calloc(n ? n : 1, sizeof(**ret_info))) ||
               !(*ret_maps = malloc(r.cpumaps.cpumaps_len ? r.cpumaps.cpumaps_len : 1)))
        k = remote_oom();
    for (u_int i = 0; k == 0 && i < n; i++)
        (*ret_info)[i] = (uniVcpuInfo){.number = r.vcpus.vcpus_val[i].number,
                                       .state = r.vcpus.vcpus_val[i].state,
                                       .cpuTime = r.vcpus.vcpus_val[i].cpu_time,
                                       .cpu = r.vcpus.vcpus_val[i].cpu};
    if (k == 0) {
        memcpy(*ret_maps, r.cpumaps.cpumaps_val, r.cpumaps.cpumaps_len);
        *ret_ncpus = r.ncpus;
    }
    xdr_free((xdrproc_t)xdr_uni_domain_get_vcpus_ret, (char *)&r);
    return k < 0 ? -1 : (int)n;
}

int remote_domain_pin_vcpu(uniConnectPtr conn, const uni_domain_info *dom, unsigned vcpu, const unsigned char *map,
                           int maplen) {
    uni_domain_pin_vcpu_args a = {.vcpu = vcpu};
    dom_to_wire(dom, &a.dom);
    a.cpumap.cpumap_len = (u_int)maplen;
    a.cpumap.cpumap_val = (char *)map;
    return call_domain_pin_vcpu(conn->priv, &a, NULL);
}

int remote_domain_get_cpu_stats(uniConnectPtr conn, const uni_domain_info *dom, unsigned long long **ret) {
    uni_domain_args a = {0};
    uni_domain_get_cpu_stats_ret r;
    u_int n;
    memset(&r, 0, sizeof(r));
    dom_to_wire(dom, &a.dom);
    if (call_domain_get_cpu_stats(conn->priv, &a, &r) < 0)
        return -1;
    n = r.cpu_time.cpu_time_len;
    if ((*ret = calloc(n ? n : 1, sizeof(**ret))))
        for (u_int i = 0; i < n; i++)
            (*ret)[i] = r.cpu_time.cpu_time_val[i];
    xdr_free((xdrproc_t)xdr_uni_domain_get_cpu_stats_ret, (char *)&r);
    return *ret ? (int)n : remote_oom();
}

int remote_domain_get_reliability(uniConnectPtr conn, const uni_domain_info *dom) {
    uni_domain_args a = {0};
    uni_domain_get_reliability_ret r = {0};
    dom_to_wire(dom, &a.dom);
    if (call_domain_get_reliability(conn->priv, &a, &r) < 0)
        return -1;
    return r.reliability;
}

int remote_domain_set_reliability(uniConnectPtr conn, const uni_domain_info *dom, int cls) {
    uni_domain_set_reliability_args a = {.reliability = (char *)uni_reliability_name(cls)};
    dom_to_wire(dom, &a.dom);
    return call_domain_set_reliability(conn->priv, &a, NULL);
}
