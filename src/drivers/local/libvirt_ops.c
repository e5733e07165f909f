/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The spec's Table 4 and the reliability class on libvirt's domains, through libvirt (the native
 * client or libvirt.so): its info, XML, scheduler, vCPUs and per-CPU time as libvirt gives them,
 * and the two control calls (pinning a vCPU, setting the class in the domain's metadata) on a
 * read-write connection opened for the call alone, checked first, audited, read back on the
 * read-only connection and rolled back when libvirt shows something else. */
#include "libvirt_internal.h"
#include "lib/control_util.h"
#include "lib/domain.h"

#define VIR_DOMAIN_VCPU_MAXIMUM_ 4 /* virDomainVcpuFlags' VIR_DOMAIN_VCPU_MAXIMUM */

/* A domain looked up on one connection: libvirt.so's handle, or the native client's. */
typedef struct {
    lv_conn *c;
    const char *name;
    lv_dom d;
    remote_domain_lookup_by_uuid_ret look; /* native: the domain, decoded */
    bool have_look;
} lvd;

/* libvirt's error number as uniserver's code. */
static int code_of(int vir) {
    switch (vir) {
    case VIR_ERR_NO_DOMAIN:
        return UNI_ERR_NO_DOMAIN;
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_OPERATION_UNSUPPORTED:
        return UNI_ERR_NO_SUPPORT;
    case VIR_ERR_INVALID_ARG:
        return UNI_ERR_INVALID_ARG;
    case VIR_ERR_OPERATION_DENIED:
    case VIR_ERR_ACCESS_DENIED:
        return UNI_ERR_ACCESS_DENIED;
    case VIR_ERR_OPERATION_INVALID: /* mostly "domain is not running" */
        return UNI_ERR_NO_DATA;
    default:
        return UNI_ERR_SYSTEM_ERROR;
    }
}

/* Set the error of a failed libvirt call @what on @name: libvirt.so's last error, or @err. */
static int fail(const char *name, const char *what, const lvrpc_error *err, int r) {
    if (err) {
        if (r == -EREMOTEIO)
            uni_error_set(code_of(err->code), "%s of libvirt domain '%s': %s", what, name, err->message);
        else
            uni_error_set(UNI_ERR_NO_SOURCE, "%s of libvirt domain '%s': libvirtd: %s", what, name, strerror(-r));
    } else {
        virErrorPtr e = virGetLastError();
        uni_error_set(code_of(e ? e->code : 0), "%s of libvirt domain '%s': %s", what, name,
                      e && e->message ? e->message : "unknown libvirt error");
        virResetLastError();
    }
    return -1;
}

/* One native call on @h's connection; -1 with the error set. */
static int rpc(lvd *h, int proc, xdrproc_t ap, void *a, xdrproc_t rp, void *r, const char *what) {
    lvrpc_error err = {0};
    int k = lvrpc_call(h->c->rpc, proc, ap, a, rp, r, &err);
    return k < 0 ? fail(h->name, what, &err, k) : 0;
}

static int uuid_bytes(const char *s, unsigned char out[16]) {
    for (int i = 0; i < 16; i++) {
        while (*s == '-')
            s++;
        if (sscanf(s, "%2hhx", &out[i]) != 1)
            return -EINVAL;
        s += 2;
    }
    return 0;
}

static int lookup(lv_conn *c, const char *uuid, const char *name, lvd *h) {
    *h = (lvd){.c = c, .name = name};
    if (c->rpc) {
        remote_domain_lookup_by_uuid_args a;
        if (uuid_bytes(uuid, (unsigned char *)a.uuid) < 0) {
            uni_error_set(UNI_ERR_NO_DOMAIN, "libvirt domain '%s' has no UUID", name);
            return -1;
        }
        if (rpc(h, REMOTE_PROC_DOMAIN_LOOKUP_BY_UUID, (xdrproc_t)xdr_remote_domain_lookup_by_uuid_args, &a,
                (xdrproc_t)xdr_remote_domain_lookup_by_uuid_ret, &h->look, "looking up") < 0)
            return -1;
        h->have_look = true;
        h->d.rd = &h->look.dom;
        return 0;
    }
    if (!(h->d.d = virDomainLookupByUUIDString(c->c, uuid)))
        return fail(name, "looking up", NULL, 0);
    return 0;
}

static void lvd_done(lvd *h) {
    if (h->have_look)
        xdr_free((xdrproc_t)xdr_remote_domain_lookup_by_uuid_ret, (char *)&h->look);
    if (h->d.d)
        virDomainFree(h->d.d);
    *h = (lvd){0};
}

/* Domain @uuid on a read-write connection to the same libvirt (in @tmp), opened for one control
 * call; close it with close_rw. */
static int open_rw(const lvd *ro, const char *uuid, lv_conn *tmp, lvd *rw) {
    char why[256] = "";
    *tmp = (lv_conn){.uri = ro->c->uri};
    if (ro->c->rpc) {
        int r = lvrpc_open_rw(ro->c->uri, &tmp->rpc, why, sizeof(why));
        if (r < 0) {
            uni_error_set(r == -EACCES || r == -ECONNREFUSED ? UNI_ERR_ACCESS_DENIED : UNI_ERR_NO_SOURCE,
                          "a read-write connection to libvirt (%s) for '%s': %s", ro->c->uri, ro->name, why);
            return -1;
        }
    } else if (!(tmp->c = virConnectOpen(ro->c->uri))) {
        return fail(ro->name, "a read-write connection to libvirt", NULL, 0);
    } else
        virConnSetErrorFunc(tmp->c, NULL, NULL);
    if (lookup(tmp, uuid, ro->name, rw) < 0) {
        lvrpc_close(tmp->rpc);
        if (tmp->c)
            virConnectClose(tmp->c);
        return -1;
    }
    return 0;
}

static void close_rw(lv_conn *tmp, lvd *rw) {
    lvd_done(rw);
    lvrpc_close(tmp->rpc);
    if (tmp->c)
        virConnectClose(tmp->c);
}

/* A typed parameter's value as a number (strings have none: false). */
static bool param_number(int type, const void *v, long long *ret) {
    switch (type) {
    case VIR_TYPED_PARAM_INT:
    case VIR_TYPED_PARAM_BOOLEAN:
        *ret = *(const int *)v;
        return true;
    case VIR_TYPED_PARAM_UINT:
        *ret = *(const unsigned *)v;
        return true;
    case VIR_TYPED_PARAM_LLONG:
    case VIR_TYPED_PARAM_ULLONG:
        *ret = *(const long long *)v;
        return true;
    case VIR_TYPED_PARAM_DOUBLE:
        *ret = (long long)*(const double *)v;
        return true;
    default:
        return false;
    }
}

static int info_of(lvd *h, uniDomainInfo *ret) {
    if (h->c->rpc) {
        remote_domain_get_info_args a = {.dom = *h->d.rd};
        remote_domain_get_info_ret r = {0};
        remote_domain_get_vcpus_flags_args va = {.dom = *h->d.rd, .flags = VIR_DOMAIN_VCPU_MAXIMUM_};
        remote_domain_get_vcpus_flags_ret vr = {0};
        if (rpc(h, REMOTE_PROC_DOMAIN_GET_INFO, (xdrproc_t)xdr_remote_domain_get_info_args, &a,
                (xdrproc_t)xdr_remote_domain_get_info_ret, &r, "the information") < 0)
            return -1;
        *ret = (uniDomainInfo){.state = r.state,
                               .maxMem = r.maxMem,
                               .memory = r.memory,
                               .nrVirtCpu = r.nrVirtCpu,
                               .cpuTime = r.cpuTime,
                               .maxVcpus = r.nrVirtCpu};
        if (lvrpc_call(h->c->rpc, REMOTE_PROC_DOMAIN_GET_VCPUS_FLAGS, (xdrproc_t)xdr_remote_domain_get_vcpus_flags_args,
                       &va, (xdrproc_t)xdr_remote_domain_get_vcpus_flags_ret, &vr, NULL) == 0 &&
            vr.num > (int)ret->maxVcpus)
            ret->maxVcpus = (unsigned)vr.num;
        return 0;
    }
    virDomainInfo i;
    int max;
    if (virDomainGetInfo(h->d.d, &i) < 0)
        return fail(h->name, "the information", NULL, 0);
    *ret = (uniDomainInfo){.state = i.state,
                           .maxMem = i.maxMem,
                           .memory = i.memory,
                           .nrVirtCpu = i.nrVirtCpu,
                           .cpuTime = i.cpuTime,
                           .maxVcpus = i.nrVirtCpu};
    if ((max = virDomainGetVcpusFlags(h->d.d, VIR_DOMAIN_VCPU_MAXIMUM_)) > (int)ret->maxVcpus)
        ret->maxVcpus = (unsigned)max;
    virResetLastError();
    return 0;
}

int lv_dom_get_info(lv_conn *c, const char *uuid, const char *name, uniDomainInfo *ret) {
    lvd h;
    int r;
    if (lookup(c, uuid, name, &h) < 0)
        return -1;
    r = info_of(&h, ret);
    lvd_done(&h);
    return r;
}

int lv_dom_get_xml(lv_conn *c, const char *uuid, const char *name, char **ret) {
    lvd h;
    int r = 0;
    if (lookup(c, uuid, name, &h) < 0)
        return -1;
    if (c->rpc) {
        remote_domain_get_xml_desc_args a = {.dom = *h.d.rd};
        remote_domain_get_xml_desc_ret x = {0};
        r = rpc(&h, REMOTE_PROC_DOMAIN_GET_XML_DESC, (xdrproc_t)xdr_remote_domain_get_xml_desc_args, &a,
                (xdrproc_t)xdr_remote_domain_get_xml_desc_ret, &x, "the XML");
        *ret = x.xml; /* the decoded string, ours */
    } else if (!(*ret = virDomainGetXMLDesc(h.d.d, 0)))
        r = fail(name, "the XML", NULL, 0);
    lvd_done(&h);
    return r;
}

int lv_dom_get_sched(lv_conn *c, const char *uuid, const char *name, char **ret_type, uniSchedParam **ret) {
    lvd h;
    int n = 0, k = 0;
    if (lookup(c, uuid, name, &h) < 0)
        return -1;
    if (c->rpc) {
        remote_domain_get_scheduler_type_args ta = {.dom = *h.d.rd};
        remote_domain_get_scheduler_type_ret tr = {0};
        remote_domain_get_scheduler_parameters_flags_args pa = {.dom = *h.d.rd};
        remote_domain_get_scheduler_parameters_flags_ret pr = {0};
        if (rpc(&h, REMOTE_PROC_DOMAIN_GET_SCHEDULER_TYPE, (xdrproc_t)xdr_remote_domain_get_scheduler_type_args, &ta,
                (xdrproc_t)xdr_remote_domain_get_scheduler_type_ret, &tr, "the scheduler type") < 0)
            goto fail;
        *ret_type = tr.type;
        pa.nparams = tr.nparams;
        if (rpc(&h, REMOTE_PROC_DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS,
                (xdrproc_t)xdr_remote_domain_get_scheduler_parameters_flags_args, &pa,
                (xdrproc_t)xdr_remote_domain_get_scheduler_parameters_flags_ret, &pr, "the scheduler parameters") < 0)
            goto fail;
        n = (int)pr.params.params_len;
        if ((*ret = calloc((size_t)n + 1, sizeof(**ret))))
            for (int i = 0; i < n; i++) {
                const remote_typed_param *p = &pr.params.params_val[i];
                if (param_number(p->value.type, &p->value.remote_typed_param_value_u, &(*ret)[k].value))
                    snprintf((*ret)[k++].field, UNI_FIELD_LENGTH, "%s", p->field);
            }
        xdr_free((xdrproc_t)xdr_remote_domain_get_scheduler_parameters_flags_ret, (char *)&pr);
    } else {
        virTypedParameterPtr p;
        if (!(*ret_type = virDomainGetSchedulerType(h.d.d, &n))) {
            fail(name, "the scheduler type", NULL, 0);
            goto fail;
        }
        p = calloc((size_t)n + 1, sizeof(*p));
        /* Without flags, as virsh schedinfo asks: libvirt.so's _Flags variant adds
         * VIR_TYPED_PARAM_STRING_OKAY, which some drivers (test:///) refuse. */
        if (p && virDomainGetSchedulerParameters(h.d.d, p, &n) < 0) {
            free(p);
            fail(name, "the scheduler parameters", NULL, 0);
            goto fail;
        }
        if (p && (*ret = calloc((size_t)n + 1, sizeof(**ret))))
            for (int i = 0; i < n; i++)
                if (param_number(p[i].type, &p[i].value, &(*ret)[k].value))
                    snprintf((*ret)[k++].field, UNI_FIELD_LENGTH, "%s", p[i].field);
        if (p)
            virTypedParamsClear(p, n);
        free(p);
    }
    lvd_done(&h);
    if (!*ret) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    return k;
fail:
    lvd_done(&h);
    return -1;
}

/* The node's CPUs as libvirt sees them: their count and the online ones (a new map, free it). */
static int node_cpus(lvd *h, unsigned char **online) {
    if (h->c->rpc) {
        remote_node_get_cpu_map_args a = {.need_map = 1, .need_online = 1};
        remote_node_get_cpu_map_ret r = {0};
        if (rpc(h, REMOTE_PROC_NODE_GET_CPU_MAP, (xdrproc_t)xdr_remote_node_get_cpu_map_args, &a,
                (xdrproc_t)xdr_remote_node_get_cpu_map_ret, &r, "the host's CPUs") < 0)
            return -1;
        *online = (unsigned char *)r.cpumap.cpumap_val; /* ours; as long as ret says */
        if (r.ret <= 0 || r.cpumap.cpumap_len < (unsigned)UNI_CPU_MAPLEN(r.ret)) {
            free(*online);
            uni_error_set(UNI_ERR_SYSTEM_ERROR, "libvirt gave a malformed CPU map of the host");
            return -1;
        }
        return r.ret;
    }
    int n = virNodeGetCPUMap(virDomainGetConnect(h->d.d), online, NULL, 0);
    return n < 0 ? fail(h->name, "the host's CPUs", NULL, 0) : n;
}

int lv_dom_get_vcpus(lv_conn *c, const char *uuid, const char *name, uniVcpuInfo **ret_info, unsigned char **ret_maps,
                     int *ret_ncpus) {
    _cleanup_free_ unsigned char *online = NULL;
    uniDomainInfo info;
    lvd h;
    int ncpus, maplen, n = -1;
    if (lookup(c, uuid, name, &h) < 0)
        return -1;
    if ((ncpus = node_cpus(&h, &online)) < 0 || info_of(&h, &info) < 0)
        goto out;
    maplen = UNI_CPU_MAPLEN(ncpus);
    *ret_info = calloc(info.nrVirtCpu + 1u, sizeof(**ret_info));
    *ret_maps = calloc(info.nrVirtCpu + 1u, (size_t)maplen);
    if (!*ret_info || !*ret_maps) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        goto out;
    }
    if (c->rpc) {
        remote_domain_get_vcpus_args a = {.dom = *h.d.rd, .maxinfo = info.nrVirtCpu, .maplen = maplen};
        remote_domain_get_vcpus_ret r = {0};
        if (rpc(&h, REMOTE_PROC_DOMAIN_GET_VCPUS, (xdrproc_t)xdr_remote_domain_get_vcpus_args, &a,
                (xdrproc_t)xdr_remote_domain_get_vcpus_ret, &r, "the vCPUs") < 0)
            goto out;
        n = (int)r.info.info_len <= info.nrVirtCpu ? (int)r.info.info_len : info.nrVirtCpu;
        for (int i = 0; i < n; i++)
            (*ret_info)[i] = (uniVcpuInfo){r.info.info_val[i].number, r.info.info_val[i].state,
                                           r.info.info_val[i].cpu_time, r.info.info_val[i].cpu};
        memcpy(*ret_maps, r.cpumaps.cpumaps_val,
               r.cpumaps.cpumaps_len < (unsigned)(n * maplen) ? r.cpumaps.cpumaps_len : (size_t)(n * maplen));
        xdr_free((xdrproc_t)xdr_remote_domain_get_vcpus_ret, (char *)&r);
    } else {
        _cleanup_free_ virVcpuInfoPtr vi = calloc(info.nrVirtCpu + 1u, sizeof(*vi));
        if (!vi || (n = virDomainGetVcpus(h.d.d, vi, info.nrVirtCpu, *ret_maps, maplen)) < 0) {
            n = fail(name, "the vCPUs", NULL, 0);
            goto out;
        }
        for (int i = 0; i < n; i++)
            (*ret_info)[i] = (uniVcpuInfo){vi[i].number, vi[i].state, vi[i].cpuTime, vi[i].cpu};
    }
    *ret_ncpus = ncpus;
out:
    lvd_done(&h);
    return n;
}

int lv_dom_get_cpu_stats(lv_conn *c, const char *uuid, const char *name, unsigned long long **ret) {
    lvd h;
    int ncpus = -1, per = 0;
    if (lookup(c, uuid, name, &h) < 0)
        return -1;
    if (c->rpc) {
        /* libvirt's protocol: nparams 0 asks for the count (of CPUs with ncpus 0, of a CPU's
         * parameters with ncpus 1). */
        remote_domain_get_cpu_stats_args a = {.dom = *h.d.rd};
        remote_domain_get_cpu_stats_ret r = {0};
        if (rpc(&h, REMOTE_PROC_DOMAIN_GET_CPU_STATS, (xdrproc_t)xdr_remote_domain_get_cpu_stats_args, &a,
                (xdrproc_t)xdr_remote_domain_get_cpu_stats_ret, &r, "the per-CPU time") < 0)
            goto out;
        ncpus = r.nparams;
        xdr_free((xdrproc_t)xdr_remote_domain_get_cpu_stats_ret, (char *)&r);
        a.ncpus = 1;
        memset(&r, 0, sizeof(r));
        if (rpc(&h, REMOTE_PROC_DOMAIN_GET_CPU_STATS, (xdrproc_t)xdr_remote_domain_get_cpu_stats_args, &a,
                (xdrproc_t)xdr_remote_domain_get_cpu_stats_ret, &r, "the per-CPU time") < 0) {
            ncpus = -1;
            goto out;
        }
        per = r.nparams;
        xdr_free((xdrproc_t)xdr_remote_domain_get_cpu_stats_ret, (char *)&r);
        if (ncpus > REMOTE_DOMAIN_GET_CPU_STATS_NCPUS_MAX)
            ncpus = REMOTE_DOMAIN_GET_CPU_STATS_NCPUS_MAX; /* libvirt's own remote driver's bound too */
        a.nparams = (unsigned)per;
        a.ncpus = (unsigned)ncpus;
        memset(&r, 0, sizeof(r));
        if (per <= 0 || !(*ret = calloc((size_t)ncpus + 1, sizeof(**ret))) ||
            rpc(&h, REMOTE_PROC_DOMAIN_GET_CPU_STATS, (xdrproc_t)xdr_remote_domain_get_cpu_stats_args, &a,
                (xdrproc_t)xdr_remote_domain_get_cpu_stats_ret, &r, "the per-CPU time") < 0) {
            if (per <= 0)
                uni_error_set(UNI_ERR_NO_DATA, "libvirt gives no per-CPU time of domain '%s'", name);
            ncpus = -1;
            goto out;
        }
        /* Each CPU's row holds r.nparams parameters; its "cpu_time" is the one wanted. */
        for (unsigned i = 0; r.nparams > 0 && i < r.params.params_len; i++) {
            const remote_typed_param *p = &r.params.params_val[i];
            if (streq(p->field, "cpu_time") && p->value.type == VIR_TYPED_PARAM_ULLONG &&
                i / (unsigned)r.nparams < (unsigned)ncpus)
                (*ret)[i / (unsigned)r.nparams] = p->value.remote_typed_param_value_u.ul;
        }
        xdr_free((xdrproc_t)xdr_remote_domain_get_cpu_stats_ret, (char *)&r);
    } else {
        virTypedParameterPtr p = NULL;
        if ((ncpus = virDomainGetCPUStats(h.d.d, NULL, 0, 0, 0, 0)) < 0 ||
            (per = virDomainGetCPUStats(h.d.d, NULL, 0, 0, 1, 0)) < 0) {
            ncpus = fail(name, "the per-CPU time", NULL, 0);
            goto out;
        }
        if (per <= 0 || !(p = calloc((size_t)ncpus * (size_t)per + 1, sizeof(*p))) ||
            !(*ret = calloc((size_t)ncpus + 1, sizeof(**ret))) ||
            virDomainGetCPUStats(h.d.d, p, (unsigned)per, 0, (unsigned)ncpus, 0) < 0) {
            if (per <= 0)
                uni_error_set(UNI_ERR_NO_DATA, "libvirt gives no per-CPU time of domain '%s'", name);
            else
                fail(name, "the per-CPU time", NULL, 0);
            free(p);
            ncpus = -1;
            goto out;
        }
        for (int i = 0; i < ncpus * per; i++)
            if (streq(p[i].field, "cpu_time") && p[i].type == VIR_TYPED_PARAM_ULLONG)
                (*ret)[i / per] = p[i].value.ul;
        virTypedParamsClear(p, ncpus * per);
        free(p);
    }
out:
    lvd_done(&h);
    return ncpus;
}

/* ---- control calls ---- */

/* vCPU @vcpu's affinity as libvirt keeps it (its pinning), @maplen bytes into @map. */
static int pin_info(lvd *h, unsigned nvcpus, unsigned vcpu, int maplen, unsigned char *map) {
    if (h->c->rpc) {
        remote_domain_get_vcpu_pin_info_args a = {.dom = *h->d.rd, .ncpumaps = (int)nvcpus, .maplen = maplen};
        remote_domain_get_vcpu_pin_info_ret r = {0};
        if (rpc(h, REMOTE_PROC_DOMAIN_GET_VCPU_PIN_INFO, (xdrproc_t)xdr_remote_domain_get_vcpu_pin_info_args, &a,
                (xdrproc_t)xdr_remote_domain_get_vcpu_pin_info_ret, &r, "the vCPUs' pinning") < 0)
            return -1;
        bool ok = vcpu < (unsigned)r.num && r.cpumaps.cpumaps_len >= (vcpu + 1) * (unsigned)maplen;
        if (ok)
            memcpy(map, r.cpumaps.cpumaps_val + vcpu * (unsigned)maplen, (size_t)maplen);
        xdr_free((xdrproc_t)xdr_remote_domain_get_vcpu_pin_info_ret, (char *)&r);
        if (!ok)
            uni_error_set(UNI_ERR_NOT_APPLIED, "libvirt shows no pinning of vCPU %u of '%s'", vcpu, h->name);
        return ok ? 0 : -1;
    }
    _cleanup_free_ unsigned char *maps = calloc(nvcpus + 1u, (size_t)maplen);
    int n = maps ? virDomainGetVcpuPinInfo(h->d.d, (int)nvcpus, maps, maplen, 0) : -1;
    if (n < 0)
        return fail(h->name, "the vCPUs' pinning", NULL, 0);
    if (vcpu >= (unsigned)n) {
        uni_error_set(UNI_ERR_NOT_APPLIED, "libvirt shows no pinning of vCPU %u of '%s'", vcpu, h->name);
        return -1;
    }
    memcpy(map, maps + vcpu * (unsigned)maplen, (size_t)maplen);
    return 0;
}

static int pin(lvd *h, unsigned vcpu, unsigned char *map, int maplen) {
    if (h->c->rpc) {
        remote_domain_pin_vcpu_args a = {.dom = *h->d.rd, .vcpu = vcpu};
        a.cpumap.cpumap_val = (char *)map;
        a.cpumap.cpumap_len = (unsigned)maplen;
        return rpc(h, REMOTE_PROC_DOMAIN_PIN_VCPU, (xdrproc_t)xdr_remote_domain_pin_vcpu_args, &a, NULL, NULL,
                   "pinning");
    }
    return virDomainPinVcpu(h->d.d, vcpu, map, maplen) < 0 ? fail(h->name, "pinning", NULL, 0) : 0;
}

int lv_dom_pin_vcpu(uniConnectPtr conn, lv_conn *c, const char *uuid, const char *name, unsigned vcpu,
                    const unsigned char *map, int maplen) {
    _cleanup_free_ unsigned char *online = NULL, *want = NULL, *before = NULL, *back = NULL;
    char online_list[512], b[512], a[512], obj[300];
    uniDomainInfo info;
    lv_conn tmp;
    lvd h, rw;
    int ncpus, lmaplen, r = -1;
    bool any = false;

    if (lookup(c, uuid, name, &h) < 0)
        return -1;
    /* Everything is checked before anything changes: the CPUs exist and are online on
     * libvirt's host, the vCPU exists. */
    if ((ncpus = node_cpus(&h, &online)) < 0 || info_of(&h, &info) < 0)
        goto out;
    lmaplen = UNI_CPU_MAPLEN(ncpus);
    uni_cpumap_format(online, lmaplen, online_list, sizeof(online_list));
    want = calloc((size_t)lmaplen, 1);
    before = calloc((size_t)lmaplen, 1);
    back = calloc((size_t)lmaplen, 1);
    if (!want || !before || !back) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        goto out;
    }
    for (int cpu = 0; cpu < maplen * 8; cpu++) {
        if (!uni_cpumap_has(map, maplen, cpu))
            continue;
        if (cpu >= ncpus || !uni_cpumap_has(online, lmaplen, cpu)) {
            uni_error_no_core(cpu, cpu < ncpus, online_list);
            goto out;
        }
        UNI_USE_CPU(want, cpu);
        any = true;
    }
    if (!any) {
        uni_error_set(UNI_ERR_INVALID_ARG, "an empty CPU map for vCPU %u of '%s'", vcpu, name);
        goto out;
    }
    if (vcpu >= info.nrVirtCpu) {
        uni_error_set(UNI_ERR_INVALID_ARG, "vCPU %u of '%s' does not exist (it has %u from 0)", vcpu, name,
                      (unsigned)info.nrVirtCpu);
        goto out;
    }
    if (pin_info(&h, info.nrVirtCpu, vcpu, lmaplen, before) < 0)
        goto out;
    if (!memcmp(before, want, (size_t)lmaplen)) {
        r = 0;
        goto out;
    }
    if (open_rw(&h, uuid, &tmp, &rw) < 0)
        goto out;
    uni_cpumap_format(before, lmaplen, b, sizeof(b));
    uni_cpumap_format(want, lmaplen, a, sizeof(a));
    snprintf(obj, sizeof(obj), "domain %s vcpu %u", name, vcpu);
    r = pin(&rw, vcpu, want, lmaplen);
    /* Read back on the read-only connection: what every reader sees. */
    if (r == 0 && pin_info(&h, info.nrVirtCpu, vcpu, lmaplen, back) == 0 && memcmp(back, want, (size_t)lmaplen)) {
        uni_audit(conn, obj, "libvirt vcpupin", b, a, -EREMOTEIO, false);
        int u = pin(&rw, vcpu, before, lmaplen);
        uni_audit(conn, obj, "libvirt vcpupin", a, b, u < 0 ? -EIO : 0, true);
        uni_error_set(UNI_ERR_NOT_APPLIED, "vCPU %u of '%s': asked libvirt for CPUs %s, it shows another pinning%s",
                      vcpu, name, a, u < 0 ? " (restoring the old one failed)" : "; the old one is restored");
        r = -1;
    } else
        uni_audit(conn, obj, "libvirt vcpupin", b, a, r < 0 ? -EIO : 0, false);
    close_rw(&tmp, &rw);
out:
    lvd_done(&h);
    return r;
}

/* The class the domain's metadata names, as libvirt gives it now: 1 with *@ret (free it, NULL
 * when none is set), or -1. */
static int class_of(lvd *h, char **ret) {
    _cleanup_free_ char *x = lv_metadata(h->c, &h->d, LV_UNISERVER_NS);
    *ret = x ? lv_xml_text(x, "reliability") : NULL;
    return 1;
}

int lv_dom_get_reliability(lv_conn *c, const char *uuid, const char *name, bool *ret_set) {
    _cleanup_free_ char *cls = NULL;
    lvd h;
    if (lookup(c, uuid, name, &h) < 0)
        return -1;
    class_of(&h, &cls);
    lvd_done(&h);
    *ret_set = cls && uni_reliability_parse(cls) >= 0;
    return cls && uni_reliability_parse(cls) >= 0 ? uni_reliability_parse(cls) : UNI_RELIABILITY_NORMAL;
}

/* Write @cls (NULL: remove the element) into the domain's metadata: live and in its persistent
 * definition where it has both, else the one it has. */
static int set_class(lvd *h, bool active, const char *cls) {
    char xml[64];
    char *ns = LV_UNISERVER_NS, *key = "uniserver", *text = xml;
    unsigned flags = active ? VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG : VIR_DOMAIN_AFFECT_CONFIG;
    snprintf(xml, sizeof(xml), "<reliability>%s</reliability>", cls ? cls : "");
    for (int tries = 0; tries < 2; tries++, flags = VIR_DOMAIN_AFFECT_LIVE) { /* a transient domain: live only */
        if (h->c->rpc) {
            remote_domain_set_metadata_args a = {.dom = *h->d.rd,
                                                 .type = VIR_DOMAIN_METADATA_ELEMENT,
                                                 .metadata = cls ? &text : NULL,
                                                 .key = cls ? &key : NULL,
                                                 .uri = &ns,
                                                 .flags = flags};
            lvrpc_error err = {0};
            int r = lvrpc_call(h->c->rpc, REMOTE_PROC_DOMAIN_SET_METADATA,
                               (xdrproc_t)xdr_remote_domain_set_metadata_args, &a, NULL, NULL, &err);
            if (r == 0)
                return 0;
            if (!(active && r == -EREMOTEIO && err.code == VIR_ERR_OPERATION_INVALID && tries == 0))
                return fail(h->name, "setting the reliability class", &err, r);
        } else {
            if (virDomainSetMetadata(h->d.d, VIR_DOMAIN_METADATA_ELEMENT, cls ? xml : NULL, cls ? key : NULL, ns,
                                     flags) == 0)
                return 0;
            virErrorPtr e = virGetLastError();
            if (!(active && e && e->code == VIR_ERR_OPERATION_INVALID && tries == 0))
                return fail(h->name, "setting the reliability class", NULL, 0);
            virResetLastError();
        }
    }
    return -1;
}

int lv_dom_set_reliability(uniConnectPtr conn, lv_conn *c, const char *uuid, const char *name, int cls) {
    _cleanup_free_ char *before = NULL, *back = NULL;
    const char *want = uni_reliability_name(cls);
    char obj[300];
    uniDomainInfo info;
    lv_conn tmp;
    lvd h, rw;
    int r = -1;

    if (lookup(c, uuid, name, &h) < 0)
        return -1;
    if (info_of(&h, &info) < 0)
        goto out;
    class_of(&h, &before);
    if (before && streq(before, want)) {
        r = 0;
        goto out;
    }
    if (open_rw(&h, uuid, &tmp, &rw) < 0)
        goto out;
    snprintf(obj, sizeof(obj), "domain %s", name);
    bool active = info.state != UNI_DOMAIN_SHUTOFF && info.state != UNI_DOMAIN_NOSTATE;
    r = set_class(&rw, active, want);
    if (r == 0 && (class_of(&h, &back), !back || !streq(back, want))) {
        uni_audit(conn, obj, "libvirt metadata " LV_UNISERVER_NS, before ? before : "", want, -EREMOTEIO, false);
        int u = set_class(&rw, active, before);
        uni_audit(conn, obj, "libvirt metadata " LV_UNISERVER_NS, want, before ? before : "", u < 0 ? -EIO : 0, true);
        uni_error_set(UNI_ERR_NOT_APPLIED, "the reliability class of '%s': libvirt reads back '%s', not '%s'%s", name,
                      back ? back : "(none)", want,
                      u < 0 ? " (restoring the old one failed)" : "; the old one is restored");
        r = -1;
    } else
        uni_audit(conn, obj, "libvirt metadata " LV_UNISERVER_NS, before ? before : "", want, r < 0 ? -EIO : 0, false);
    close_rw(&tmp, &rw);
out:
    lvd_done(&h);
    return r;
}
