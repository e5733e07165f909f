/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The public entry points of the spec's Table 4 (info, XML, scheduler, vCPUs, pinning, per-CPU
 * time, the list with infos) and of the reliability class: each checks its arguments, refuses a
 * read-only connection for the control calls (pinning, setting the class), then calls the driver
 * under the connection's lock. */
#include <strings.h>

#include "internal.h"

static const char *const reliability_names[] = {
    [UNI_RELIABILITY_NORMAL] = "normal", [UNI_RELIABILITY_HIGH] = "high", [UNI_RELIABILITY_LOW] = "low"};

const char *uni_reliability_name(int cls) {
    return cls >= 0 && (size_t)cls < ELEMENTSOF(reliability_names) ? reliability_names[cls] : "normal";
}

int uni_reliability_parse(const char *name) {
    for (size_t i = 0; name && i < ELEMENTSOF(reliability_names); i++)
        if (streq(name, reliability_names[i]))
            return (int)i;
    return -1;
}

void uni_cpumap_format(const unsigned char *map, int maplen, char *buf, size_t len) {
    size_t o = 0;
    buf[0] = 0;
    for (int c = 0; c < maplen * 8 && o < len; c++) {
        int e = c;
        if (!uni_cpumap_has(map, maplen, c))
            continue;
        while (uni_cpumap_has(map, maplen, e + 1))
            e++;
        o += (size_t)(e == c ? snprintf(buf + o, len - o, "%s%d", o ? "," : "", c)
                             : snprintf(buf + o, len - o, "%s%d-%d", o ? "," : "", c, e));
        c = e;
    }
}

/* The common start of a read call on a domain: a valid domain, known flags, a driver that has
 * @verb. */
#define DOM_BEGIN(dom, flags, verb, ret)                                                                               \
    do {                                                                                                               \
        uniResetLastError();                                                                                           \
        CHECK_DOM(dom, ret);                                                                                           \
        CHECK_FLAGS(flags, 0, ret);                                                                                    \
        if (!(dom)->conn->driver->verb) {                                                                              \
            uni_error_set(UNI_ERR_NO_SUPPORT, "%s: driver '%s' does not support it", __func__,                         \
                          (dom)->conn->driver->name);                                                                  \
            return ret;                                                                                                \
        }                                                                                                              \
    } while (0)

/* A driver's return value, with an error set when it failed without one. */
static int driver_end(uniConnectPtr conn, int r) {
    if (r < 0 && !uniGetLastError())
        uni_error_set(UNI_ERR_INTERNAL_ERROR, "driver '%s' failed without saying why", conn->driver->name);
    return r < 0 ? -1 : r;
}

#define LOCKED(conn, expr)                                                                                             \
    ({                                                                                                                 \
        int r_;                                                                                                        \
        pthread_mutex_lock(&(conn)->lock);                                                                             \
        r_ = (expr);                                                                                                   \
        pthread_mutex_unlock(&(conn)->lock);                                                                           \
        driver_end((conn), r_);                                                                                        \
    })

int uniDomainGetInfo(uniDomainPtr dom, uniDomainInfoPtr info, unsigned int flags) {
    DOM_BEGIN(dom, flags, domain_get_info, -1);
    if (!info) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: info is NULL", __func__);
        return -1;
    }
    memset(info, 0, sizeof(*info));
    return LOCKED(dom->conn, dom->conn->driver->domain_get_info(dom->conn, &dom->info, info)) < 0 ? -1 : 0;
}

unsigned long long uniDomainGetMaxMemory(uniDomainPtr dom, unsigned int flags) {
    uniDomainInfo info;
    return uniDomainGetInfo(dom, &info, flags) < 0 ? 0 : info.maxMem;
}

int uniDomainGetMaxVcpus(uniDomainPtr dom, unsigned int flags) {
    uniDomainInfo info;
    return uniDomainGetInfo(dom, &info, flags) < 0 ? -1 : (int)info.maxVcpus;
}

/* Every domain with its info: the driver's one step, else the list and an info each (a domain
 * that went away between the two is left out). Under the connection's lock. */
static int list_info(uniConnectPtr conn, uni_domain_info **ret, uniDomainInfo **ret_infos, size_t *ret_n) {
    uni_domain_info *v = NULL;
    uniDomainInfo *infos;
    size_t n = 0, k = 0;

    if (conn->driver->domain_list_info)
        return conn->driver->domain_list_info(conn, ret, ret_infos, ret_n);
    if (conn->driver->list_domains(conn, &v, &n) < 0) {
        uni_domain_infos_free(v, n);
        return -1;
    }
    if (!(infos = calloc(n ? n : 1, sizeof(*infos)))) {
        uni_domain_infos_free(v, n);
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (conn->driver->domain_get_info(conn, &v[i], &infos[k]) < 0) {
            if (uniGetLastError() && uniGetLastError()->code == UNI_ERR_NO_DOMAIN) {
                uniResetLastError();
                uni_domain_info_done(&v[i]);
                continue;
            }
            uni_domain_infos_free(v, n);
            free(infos);
            return -1;
        }
        v[k++] = v[i];
    }
    *ret = v;
    *ret_infos = infos;
    *ret_n = k;
    return 0;
}

int uniConnectGetAllDomainInfo(uniConnectPtr conn, uniDomainPtr **ret_domains, uniDomainInfoPtr *ret_infos,
                               unsigned int flags) {
    uni_domain_info *v = NULL;
    uniDomainInfo *infos = NULL;
    uniDomainPtr *out = NULL;
    size_t n = 0, k = 0;
    int r;

    uniResetLastError();
    CHECK_CONN(conn, -1);
    CHECK_FLAGS(flags, UNI_CONNECT_LIST_DOMAINS_ACTIVE | UNI_CONNECT_LIST_DOMAINS_INACTIVE, -1);
    if (!ret_domains || !ret_infos) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: ret_domains or ret_infos is NULL", __func__);
        return -1;
    }
    if (!conn->driver->domain_list_info && (!conn->driver->list_domains || !conn->driver->domain_get_info)) {
        uni_error_set(UNI_ERR_NO_SUPPORT, "%s: driver '%s' does not support it", __func__, conn->driver->name);
        return -1;
    }
    r = LOCKED(conn, list_info(conn, &v, &infos, &n));
    if (r < 0)
        return -1;
    if (!(out = calloc(n + 1, sizeof(*out))))
        goto oom;
    for (size_t i = 0; i < n; i++) {
        bool active = v[i].active;
        if ((flags & (UNI_CONNECT_LIST_DOMAINS_ACTIVE | UNI_CONNECT_LIST_DOMAINS_INACTIVE)) &&
            !(flags & (active ? UNI_CONNECT_LIST_DOMAINS_ACTIVE : UNI_CONNECT_LIST_DOMAINS_INACTIVE)))
            continue;
        if (!(out[k] = uni_domain_new(conn, &v[i])))
            goto fail;
        infos[k++] = infos[i];
    }
    uni_domain_infos_free(v, n);
    *ret_domains = out;
    *ret_infos = infos;
    return (int)k;
oom:
    uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
fail:
    for (size_t i = 0; out && i < k; i++)
        uniDomainFree(out[i]);
    free(out);
    free(infos);
    uni_domain_infos_free(v, n);
    return -1;
}

char *uniDomainGetXMLDesc(uniDomainPtr dom, unsigned int flags) {
    char *xml = NULL;
    DOM_BEGIN(dom, flags, domain_get_xml, NULL);
    if (LOCKED(dom->conn, dom->conn->driver->domain_get_xml(dom->conn, &dom->info, &xml)) < 0) {
        free(xml);
        return NULL;
    }
    return xml;
}

/* The scheduler's type and parameters, as the driver gives them. */
static int get_sched(uniDomainPtr dom, char **ret_type, uniSchedParam **ret) {
    *ret_type = NULL;
    *ret = NULL;
    int n = LOCKED(dom->conn, dom->conn->driver->domain_get_sched(dom->conn, &dom->info, ret_type, ret));
    if (n < 0) {
        free(*ret_type);
        free(*ret);
        *ret_type = NULL;
        *ret = NULL;
    }
    return n;
}

char *uniDomainGetSchedulerType(uniDomainPtr dom, int *nparams, unsigned int flags) {
    char *type;
    uniSchedParam *p;
    int n;
    DOM_BEGIN(dom, flags, domain_get_sched, NULL);
    if ((n = get_sched(dom, &type, &p)) < 0)
        return NULL;
    free(p);
    if (nparams)
        *nparams = n;
    return type;
}

int uniDomainGetSchedulerParameters(uniDomainPtr dom, uniSchedParamPtr *ret_params, unsigned int flags) {
    char *type;
    int n;
    DOM_BEGIN(dom, flags, domain_get_sched, -1);
    if (!ret_params) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: ret_params is NULL", __func__);
        return -1;
    }
    if ((n = get_sched(dom, &type, ret_params)) < 0)
        return -1;
    free(type);
    return n;
}

int uniDomainGetVcpus(uniDomainPtr dom, uniVcpuInfoPtr *ret_info, unsigned char **ret_cpumaps, int *ret_ncpus,
                      unsigned int flags) {
    uniVcpuInfo *info = NULL;
    unsigned char *maps = NULL;
    int ncpus = 0, n;

    DOM_BEGIN(dom, flags, domain_get_vcpus, -1);
    if (!ret_info || !ret_ncpus) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: ret_info or ret_ncpus is NULL", __func__);
        return -1;
    }
    n = LOCKED(dom->conn, dom->conn->driver->domain_get_vcpus(dom->conn, &dom->info, &info, &maps, &ncpus));
    if (n < 0) {
        free(info);
        free(maps);
        return -1;
    }
    *ret_info = info;
    *ret_ncpus = ncpus;
    if (ret_cpumaps)
        *ret_cpumaps = maps;
    else
        free(maps);
    return n;
}

int uniDomainPinVcpu(uniDomainPtr dom, unsigned int vcpu, const unsigned char *cpumap, int maplen, unsigned int flags) {
    static const char call[] = "uniDomainPinVcpu";
    bool any = false;
    int r;

    if (!dom) {
        uniResetLastError();
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: invalid domain", call);
        return -1;
    }
    if (uni_control_begin(dom->conn, flags, call,
                          dom->conn && dom->conn->driver && dom->conn->driver->domain_pin_vcpu) < 0)
        return uni_control_end(dom->conn, -1);
    if (!cpumap || maplen <= 0) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: no CPU map (cpumap %p, maplen %d)", call, (const void *)cpumap, maplen);
        return uni_control_end(dom->conn, -1);
    }
    for (int i = 0; i < maplen; i++)
        any |= cpumap[i] != 0;
    if (!any) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: the CPU map of vCPU %u of '%s' is empty (it names no host CPU)", call,
                      vcpu, dom->info.name);
        return uni_control_end(dom->conn, -1);
    }
    pthread_mutex_lock(&dom->conn->lock);
    r = dom->conn->driver->domain_pin_vcpu(dom->conn, &dom->info, vcpu, cpumap, maplen);
    pthread_mutex_unlock(&dom->conn->lock);
    return uni_control_end(dom->conn, r < 0 ? -1 : 0);
}

int uniDomainGetCPUStats(uniDomainPtr dom, unsigned long long **ret_cpu_time, unsigned int flags) {
    unsigned long long *v = NULL;
    int n;
    DOM_BEGIN(dom, flags, domain_get_cpu_stats, -1);
    if (!ret_cpu_time) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: ret_cpu_time is NULL", __func__);
        return -1;
    }
    n = LOCKED(dom->conn, dom->conn->driver->domain_get_cpu_stats(dom->conn, &dom->info, &v));
    if (n < 0) {
        free(v);
        return -1;
    }
    *ret_cpu_time = v;
    return n;
}

int uniDomainSetReliability(uniDomainPtr dom, const char *reliability, unsigned int flags) {
    static const char call[] = "uniDomainSetReliability";
    int cls, r;

    if (!dom) {
        uniResetLastError();
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: invalid domain", call);
        return -1;
    }
    if (uni_control_begin(dom->conn, flags, call,
                          dom->conn && dom->conn->driver && dom->conn->driver->domain_set_reliability) < 0)
        return uni_control_end(dom->conn, -1);
    if ((cls = uni_reliability_parse(reliability)) < 0) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: unknown reliability class '%s' (classes: high, normal, low)", call,
                      reliability ? reliability : "(null)");
        return uni_control_end(dom->conn, -1);
    }
    pthread_mutex_lock(&dom->conn->lock);
    r = dom->conn->driver->domain_set_reliability(dom->conn, &dom->info, cls);
    pthread_mutex_unlock(&dom->conn->lock);
    return uni_control_end(dom->conn, r < 0 ? -1 : 0);
}

const char *uniDomainGetReliability(uniDomainPtr dom, unsigned int flags) {
    int cls;
    DOM_BEGIN(dom, flags, domain_get_reliability, NULL);
    cls = LOCKED(dom->conn, dom->conn->driver->domain_get_reliability(dom->conn, &dom->info));
    return cls < 0 ? NULL : uni_reliability_name(cls);
}
