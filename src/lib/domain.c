/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Public entry points for domains (VMs): listing, lookup by name and UUID, their records
 * (uniConnectGetAllDomainStats, uniDomainListGetStats) and the spec's per-domain view
 * (uniDomainGetStatistics). Each resets the last error, checks its arguments, then calls the
 * driver's list_domains or domain_stats. A domain object holds a reference on its connection. */
#include <ctype.h>
#include <strings.h>

#include "internal.h"

void uni_domain_info_done(uni_domain_info *d) {
    free(d->name);
    d->name = NULL;
}

bool uni_domain_info_matches(const uni_domain_info *d, const uni_domain_info *ref) {
    if (ref->uuid[0])
        return strcasecmp(d->uuid, ref->uuid) == 0;
    return !d->uuid[0] && d->name && ref->name && streq(d->name, ref->name);
}

void uni_domain_stats_free(uni_domain_stats *v, size_t n) {
    if (!v)
        return;
    for (size_t i = 0; i < n; i++) {
        uni_domain_info_done(&v[i].info);
        uniRecordFree(v[i].rec);
    }
    free(v);
}

void uni_domain_infos_free(uni_domain_info *v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        uni_domain_info_done(&v[i]);
    free(v);
}

int uni_domain_infos_copy(const uni_domain_stats *v, size_t n, uni_domain_info **ret) {
    uni_domain_info *out = calloc(n ? n : 1, sizeof(*out));
    for (size_t i = 0; out && i < n; i++) {
        out[i] = v[i].info;
        if (v[i].info.name && !(out[i].name = strdup(v[i].info.name))) {
            uni_domain_infos_free(out, i);
            out = NULL;
        }
    }
    if (!out)
        return -ENOMEM;
    *ret = out;
    return 0;
}

uniDomainPtr uni_domain_new(uniConnectPtr conn, uni_domain_info *info) {
    uniDomainPtr d = calloc(1, sizeof(*d));
    if (!d) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    d->conn = conn;
    d->info = *info;
    info->name = NULL;
    __atomic_add_fetch(&conn->refs, 1, __ATOMIC_ACQ_REL);
    return d;
}

int uniDomainFree(uniDomainPtr dom) {
    if (!dom)
        return 0;
    uni_domain_info_done(&dom->info);
    if (dom->conn)
        uni_conn_unref(dom->conn);
    free(dom);
    return 0;
}

/* The driver's domains, or -1 with the error set. */
int uni_domain_list(uniConnectPtr conn, uni_domain_info **ret, size_t *ret_n) {
    int r;
    if (!conn->driver->list_domains) {
        uni_error_set(UNI_ERR_NO_SUPPORT, "driver '%s' cannot list domains", conn->driver->name);
        return -1;
    }
    *ret = NULL;
    *ret_n = 0;
    pthread_mutex_lock(&conn->lock);
    r = conn->driver->list_domains(conn, ret, ret_n);
    pthread_mutex_unlock(&conn->lock);
    if (r < 0) {
        if (!uniGetLastError())
            uni_error_set(UNI_ERR_INTERNAL_ERROR, "driver '%s' failed to list domains without saying why",
                          conn->driver->name);
        uni_domain_infos_free(*ret, *ret_n);
        return -1;
    }
    return 0;
}

static bool state_wanted(bool active, unsigned flags, unsigned f_active, unsigned f_inactive) {
    if (!(flags & (f_active | f_inactive)))
        return true;
    return active ? (flags & f_active) != 0 : (flags & f_inactive) != 0;
}

int uniConnectListAllDomains(uniConnectPtr conn, uniDomainPtr **ret_domains, unsigned int flags) {
    uni_domain_info *infos = NULL;
    size_t n = 0, k = 0;
    uniDomainPtr *out = NULL;

    uniResetLastError();
    CHECK_CONN(conn, -1);
    CHECK_FLAGS(flags, UNI_CONNECT_LIST_DOMAINS_ACTIVE | UNI_CONNECT_LIST_DOMAINS_INACTIVE, -1);
    if (uni_domain_list(conn, &infos, &n) < 0)
        return -1;
    if (ret_domains && !(out = calloc(n + 1, sizeof(*out)))) {
        uni_domain_infos_free(infos, n);
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!state_wanted(infos[i].active, flags, UNI_CONNECT_LIST_DOMAINS_ACTIVE, UNI_CONNECT_LIST_DOMAINS_INACTIVE))
            continue;
        if (out && !(out[k] = uni_domain_new(conn, &infos[i]))) {
            for (size_t j = 0; j < k; j++)
                uniDomainFree(out[j]);
            free(out);
            uni_domain_infos_free(infos, n);
            return -1;
        }
        k++;
    }
    uni_domain_infos_free(infos, n);
    if (ret_domains)
        *ret_domains = out;
    return (int)k;
}

/* Look a domain up by name (@uuid NULL) or by canonical UUID. */
static uniDomainPtr lookup(uniConnectPtr conn, const char *name, const char *uuid) {
    uni_domain_info *infos = NULL;
    size_t n = 0;
    uniDomainPtr d = NULL;

    if (uni_domain_list(conn, &infos, &n) < 0)
        return NULL;
    for (size_t i = 0; i < n && !d; i++)
        if (uuid ? strcasecmp(infos[i].uuid, uuid) == 0 : streq(infos[i].name, name)) {
            d = uni_domain_new(conn, &infos[i]);
            if (!d) {
                uni_domain_infos_free(infos, n);
                return NULL;
            }
        }
    uni_domain_infos_free(infos, n);
    if (!d)
        uni_error_set(UNI_ERR_NO_DOMAIN, "no domain %s '%s' on %s (unish list shows them)",
                      uuid ? "with UUID" : "named", uuid ? uuid : name, conn->uri);
    return d;
}

uniDomainPtr uniDomainLookupByName(uniConnectPtr conn, const char *name, unsigned int flags) {
    uniResetLastError();
    CHECK_CONN(conn, NULL);
    CHECK_FLAGS(flags, 0, NULL);
    if (!name || !*name) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: name is NULL or empty", __func__);
        return NULL;
    }
    return lookup(conn, name, NULL);
}

static bool uuid_valid(const char *s) {
    if (strlen(s) != UNI_UUID_STRING_BUFLEN - 1)
        return false;
    for (int i = 0; i < UNI_UUID_STRING_BUFLEN - 1; i++)
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

uniDomainPtr uniDomainLookupByUUIDString(uniConnectPtr conn, const char *uuid, unsigned int flags) {
    uniResetLastError();
    CHECK_CONN(conn, NULL);
    CHECK_FLAGS(flags, 0, NULL);
    if (!uuid || !uuid_valid(uuid)) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: '%s' is not a UUID (8-4-4-4-12 hex digits)", __func__,
                      uuid ? uuid : "(null)");
        return NULL;
    }
    return lookup(conn, NULL, uuid);
}

const char *uniDomainGetName(uniDomainPtr dom) {
    uniResetLastError();
    CHECK_DOM(dom, NULL);
    return dom->info.name;
}

int uniDomainGetUUIDString(uniDomainPtr dom, char *buf) {
    uniResetLastError();
    CHECK_DOM(dom, -1);
    if (!buf) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: buf is NULL", __func__);
        return -1;
    }
    if (!dom->info.uuid[0]) {
        uni_error_set(UNI_ERR_NO_DATA, "domain '%s' has no UUID (QEMU started without -uuid)", dom->info.name);
        return -1;
    }
    for (int i = 0; i < UNI_UUID_STRING_BUFLEN; i++)
        buf[i] = (char)tolower((unsigned char)dom->info.uuid[i]);
    return 0;
}

int uniDomainIsActive(uniDomainPtr dom) {
    uniResetLastError();
    CHECK_DOM(dom, -1);
    return dom->info.active ? 1 : 0;
}

/* Records of the domains matching @only (NULL: all), finished; -1 with the error set. */
int uni_domain_collect(uniConnectPtr conn, const uni_select *sel, const uni_domain_info *only, size_t nonly,
                       uni_domain_stats **ret, size_t *ret_n) {
    int r;

    if (!conn->driver->domain_stats) {
        uni_error_set(UNI_ERR_NO_SUPPORT, "driver '%s' cannot report domain statistics", conn->driver->name);
        return -1;
    }
    *ret = NULL;
    *ret_n = 0;
    pthread_mutex_lock(&conn->lock);
    r = conn->driver->domain_stats(conn, sel, only, nonly, ret, ret_n);
    pthread_mutex_unlock(&conn->lock);
    if (r < 0) {
        if (!uniGetLastError())
            uni_error_set(UNI_ERR_INTERNAL_ERROR, "driver '%s' failed without saying why", conn->driver->name);
        uni_domain_stats_free(*ret, *ret_n);
        return -1;
    }
    for (size_t i = 0; i < *ret_n; i++)
        rec_finish((*ret)[i].rec, sel, "not provided by this driver");
    return 0;
}

void uniDomainStatsRecordListFree(uniDomainStatsRecordPtr *stats) {
    if (!stats)
        return;
    for (size_t i = 0; stats[i]; i++) {
        uniDomainFree(stats[i]->dom);
        uniRecordFree(stats[i]->record);
        free(stats[i]);
    }
    free(stats);
}

/* Turn driver records into the public list, keeping those the flags want. */
static int stats_list(uniConnectPtr conn, uni_domain_stats *v, size_t n, unsigned flags,
                      uniDomainStatsRecordPtr **ret) {
    uniDomainStatsRecordPtr *out = calloc(n + 1, sizeof(*out));
    size_t k = 0;

    if (!out)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        if (!state_wanted(v[i].info.active, flags, UNI_DOMAIN_STATS_ACTIVE, UNI_DOMAIN_STATS_INACTIVE))
            continue;
        if (!(out[k] = calloc(1, sizeof(*out[k]))))
            goto oom;
        if (!(out[k]->dom = uni_domain_new(conn, &v[i].info))) {
            free(out[k]);
            out[k] = NULL;
            goto oom;
        }
        out[k]->record = v[i].rec;
        v[i].rec = NULL;
        k++;
    }
    uni_domain_stats_free(v, n);
    *ret = out;
    return (int)k;
oom:
    uniDomainStatsRecordListFree(out);
    uni_domain_stats_free(v, n);
    uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
    return -1;
}

/* Records of the domains matching @only (NULL: all) for a caller's selection, as the public list. */
static int select_stats(uniConnectPtr conn, const char *const *select, const uni_domain_info *only, size_t nonly,
                        unsigned flags, uniDomainStatsRecordPtr **ret_stats) {
    uni_select sel;
    uni_domain_stats *v = NULL;
    size_t n = 0;
    int r;

    if (uni_select_parse_domain(&sel, select) < 0)
        return -1;
    r = uni_domain_collect(conn, &sel, only, nonly, &v, &n);
    uni_select_done(&sel);
    if (r < 0)
        return -1;
    return stats_list(conn, v, n, flags, ret_stats);
}

int uniConnectGetAllDomainStats(uniConnectPtr conn, const char *const *select, uniDomainStatsRecordPtr **ret_stats,
                                unsigned int flags) {
    uniResetLastError();
    CHECK_CONN(conn, -1);
    CHECK_FLAGS(flags, UNI_DOMAIN_STATS_ACTIVE | UNI_DOMAIN_STATS_INACTIVE, -1);
    if (!ret_stats) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: ret_stats is NULL", __func__);
        return -1;
    }
    return select_stats(conn, select, NULL, 0, flags, ret_stats);
}

int uniDomainListGetStats(uniDomainPtr *doms, const char *const *select, uniDomainStatsRecordPtr **ret_stats,
                          unsigned int flags) {
    uni_domain_info *only;
    uniConnectPtr conn;
    size_t nd = 0;
    int r;

    uniResetLastError();
    if (!doms || !doms[0] || !ret_stats) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: no domains, or ret_stats is NULL", __func__);
        return -1;
    }
    conn = doms[0]->conn;
    CHECK_CONN(conn, -1);
    CHECK_FLAGS(flags, UNI_DOMAIN_STATS_ACTIVE | UNI_DOMAIN_STATS_INACTIVE, -1);
    for (nd = 0; doms[nd]; nd++)
        if (doms[nd]->conn != conn) {
            uni_error_set(UNI_ERR_INVALID_ARG, "%s: domains '%s' and '%s' come from different connections", __func__,
                          doms[0]->info.name, doms[nd]->info.name);
            return -1;
        }
    only = calloc(nd, sizeof(*only));
    if (!only) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < nd; i++)
        only[i] = doms[i]->info; /* shallow: the names stay the domains' */
    r = select_stats(conn, select, only, nd, flags, ret_stats);
    free(only);
    return r;
}

int uniDomainGetStatistics(uniDomainPtr dom, uniRecordPtr *ret, unsigned int flags) {
    uni_select sel;
    uni_domain_stats *v = NULL;
    size_t n = 0;
    int r;

    uniResetLastError();
    CHECK_DOM(dom, -1);
    CHECK_FLAGS(flags, 0, -1);
    if (!ret) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: ret is NULL", __func__);
        return -1;
    }
    uni_view_select(UNI_VIEW_DOMAIN, &sel);
    r = uni_domain_collect(dom->conn, &sel, &dom->info, 1, &v, &n);
    if (r < 0)
        return -1;
    if (n == 0) {
        uni_domain_stats_free(v, n);
        uni_error_set(UNI_ERR_NO_DOMAIN, "domain '%s' no longer exists on %s", dom->info.name, dom->conn->uri);
        return -1;
    }
    r = uni_view_from_record(UNI_VIEW_DOMAIN, v[0].rec, ret);
    uni_domain_stats_free(v, n);
    return r;
}
