/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Public entry points: connections, the driver registry, host records and the spec's views.
 * Each entry point resets the last error, checks its arguments, then calls the driver. */
#include "internal.h"

static const uni_driver *const drivers[] = {
    &uni_local_driver,
    &uni_test_driver,
    &uni_remote_driver,
};

uniConnectPtr uniConnectOpen(const char *uri, unsigned int flags) {
    uni_uri u;
    uniConnectPtr conn;
    const uni_driver *drv = NULL;

    uniResetLastError();
    CHECK_FLAGS(flags, UNI_CONNECT_RO, NULL);
    if (!uri)
        uri = getenv("UNISERVER_DEFAULT_URI");
    if (!uri || !*uri)
        uri = "uniserver:///system";
    if (uni_uri_parse(uri, &u) < 0)
        return NULL;
    /* uniserver+TRANSPORT:// goes through a daemon; the plain schemes are in-process. */
    if (u.transport && streq(u.scheme, "uniserver"))
        drv = &uni_remote_driver;
    for (size_t i = 0; i < ELEMENTSOF(drivers) && !drv && !u.transport; i++)
        if (streq(u.scheme, drivers[i]->scheme))
            drv = drivers[i];
    if (!drv) {
        uni_error_set(UNI_ERR_NO_DRIVER,
                      "no driver for URI scheme '%s%s%s' in '%s' (known: uniserver, uniserver+unix, uniserver+tcp, "
                      "uniserver+tls, test)",
                      u.scheme, u.transport ? "+" : "", u.transport ? u.transport : "", uri);
        uni_uri_done(&u);
        return NULL;
    }
    conn = calloc(1, sizeof(*conn));
    if (!conn || !(conn->uri = strdup(uri))) {
        free(conn);
        uni_uri_done(&u);
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&conn->lock, NULL);
    conn->refs = 1;
    conn->flags = flags;
    conn->driver = drv;
    conn->descs = uni_catalog;
    conn->ndescs = UNI_NMETRICS;
    if (drv->open(conn, &u, flags) < 0) {
        uni_uri_done(&u);
        pthread_mutex_destroy(&conn->lock);
        free(conn->uri);
        free(conn);
        return NULL;
    }
    uni_uri_done(&u);
    return conn;
}

int uni_conn_unref(uniConnectPtr conn) {
    int left = __atomic_sub_fetch(&conn->refs, 1, __ATOMIC_ACQ_REL);
    if (left > 0)
        return left;
    if (conn->driver && conn->driver->close)
        conn->driver->close(conn);
    pthread_mutex_destroy(&conn->lock);
    free(conn->audit_reason);
    free(conn->uri);
    free(conn);
    return 0;
}

int uniConnectClose(uniConnectPtr conn) {
    uniResetLastError();
    if (!conn)
        return 0;
    return uni_conn_unref(conn);
}

const char *uniConnectGetURI(uniConnectPtr conn) {
    uniResetLastError();
    CHECK_CONN(conn, NULL);
    return conn->uri;
}

int uniConnectGetMetricDescriptors(uniConnectPtr conn, const uniMetricDesc **ret_descs, unsigned int flags) {
    uniResetLastError();
    CHECK_CONN(conn, -1);
    CHECK_FLAGS(flags, 0, -1);
    if (!ret_descs) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: ret_descs is NULL", __func__);
        return -1;
    }
    *ret_descs = conn->descs;
    return (int)conn->ndescs;
}

/* Collect the host record for a compiled selection: the one path every host call takes. */
static int node_stats(uniConnectPtr conn, const uni_select *sel, uniRecordPtr *ret, unsigned flags) {
    uniRecordPtr rec;
    int r;

    if (!conn->driver->node_get_stats) {
        uni_error_set(UNI_ERR_NO_SUPPORT, "driver '%s' cannot report host statistics", conn->driver->name);
        return -1;
    }
    rec = uni_record_new(conn->descs, conn->ndescs);
    if (!rec) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    rec->sel = sel;
    pthread_mutex_lock(&conn->lock);
    r = conn->driver->node_get_stats(conn, sel, rec, flags);
    pthread_mutex_unlock(&conn->lock);
    if (r < 0) {
        if (!uniGetLastError())
            uni_error_set(UNI_ERR_INTERNAL_ERROR, "driver '%s' failed without saying why", conn->driver->name);
        uniRecordFree(rec);
        return -1;
    }
    rec_finish(rec, sel, "not provided by this driver");
    *ret = rec;
    return 0;
}

int uniNodeGetStats(uniConnectPtr conn, const char *const *select, uniRecordPtr *ret, unsigned int flags) {
    uni_select sel;
    int r;

    uniResetLastError();
    CHECK_CONN(conn, -1);
    CHECK_FLAGS(flags, UNI_NODE_STATS_BEST_EFFORT, -1);
    if (!ret) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: ret is NULL", __func__);
        return -1;
    }
    if (uni_select_parse(&sel, select) < 0)
        return -1;
    r = node_stats(conn, &sel, ret, flags);
    uni_select_done(&sel);
    return r;
}

/* ---- views ---- */

#define UNI_V_IDS_(e, spec, cname, cmd, summary, proc, window, note, ...)                                              \
    static const unsigned view_ids_##e[] = {__VA_ARGS__};
UNI_VIEWS(UNI_V_IDS_)
#undef UNI_V_IDS_

static const uniViewDesc views[] = {
#define UNI_V_DESC_(e, spec, cname, cmd, summary, proc, window, note, ...)                                             \
    {spec, cname, cmd, summary, view_ids_##e, (int)ELEMENTSOF(view_ids_##e), window, note},
    UNI_VIEWS(UNI_V_DESC_)
#undef UNI_V_DESC_
};

static const int view_procs[] = {
#define UNI_V_PROC_(e, spec, cname, cmd, summary, proc, ...) proc,
    UNI_VIEWS(UNI_V_PROC_)
#undef UNI_V_PROC_
};

int uni_view_proc(int view) {
    return view >= 0 && view < (int)ELEMENTSOF(view_procs) ? view_procs[view] : 0;
}

int uni_view_find(const char *spec_name) {
    for (int i = 0; spec_name && i < (int)ELEMENTSOF(views); i++)
        if (streq(views[i].spec_name, spec_name))
            return i;
    return -1;
}

bool uni_view_is_domain(int view) {
    const uniViewDesc *v = uniViewGet(view);
    return v && v->nmetrics > 0 && startswith(uni_catalog[v->metrics[0]].key, "dom.");
}

static const char *const error_components[] = {UNI_ERROR_COMPONENTS};

int uniViewCount(void) {
    return (int)ELEMENTSOF(views);
}

const uniViewDesc *uniViewGet(int i) {
    return i >= 0 && i < (int)ELEMENTSOF(views) ? &views[i] : NULL;
}

static bool has_placeholder(const char *key, char kind) {
    for (const char *t = key; *t;) {
        const char *e = strchrnul(t, '.');
        if (uni_placeholder_kind(t, (size_t)(e - t)) == kind)
            return true;
        t = *e ? e + 1 : e;
    }
    return false;
}

/* Append to @out the samples of @src for metric @m (all instances, in the driver's order, which
 * is core order), optionally only those whose string label is @name. */
static int copy_metric(uniRecordPtr out, uniRecordPtr src, unsigned m, const char *name) {
    bool found = false;
    for (size_t i = 0; i < src->n; i++) {
        const uniSample *s = &src->samples[i];
        int r = 0;
        if (s->metric != m || (name && (!s->name || !streq(s->name, name))))
            continue;
        found = true;
        if ((r = rec_copy(out, s)) < 0)
            return r;
    }
    if (!found) {
        const char *why = NULL;
        for (size_t i = 0; i < src->nabsent && !why; i++)
            if (src->absent[i].metric == m)
                why = src->absent[i].reason;
        rec_absent(out, m, "%s", why ? why : "not provided");
    }
    return 0;
}

void uni_view_select(int view, uni_select *sel) {
    const uniViewDesc *v = uniViewGet(view);
    memset(sel, 0, sizeof(*sel));
    for (int k = 0; v && k < v->nmetrics; k++) {
        uni_select_add(sel, v->metrics[k]);
        sel->whole[v->metrics[k] / 8] |= (uint8_t)(1u << (v->metrics[k] % 8));
    }
}

int uni_view_build(uniRecordPtr full, int view, uniRecordPtr *ret) {
    const uniViewDesc *v = uniViewGet(view);
    uniRecordPtr out = uni_record_new(full->descs, full->ndescs);
    int r = 0;

    if (!out)
        return -ENOMEM;
    out->window_ms = full->window_ms;
    out->timestamp = full->timestamp;
    /* The spec orders component views component by component: l2 count, l2 rate, l3 count ... */
    if (has_placeholder(uni_catalog[v->metrics[0]].key, 's')) {
        for (size_t c = 0; c < ELEMENTSOF(error_components) && r >= 0; c++)
            for (int k = 0; k < v->nmetrics && r >= 0; k++)
                r = copy_metric(out, full, v->metrics[k], error_components[c]);
    } else
        for (int k = 0; k < v->nmetrics && r >= 0; k++)
            r = copy_metric(out, full, v->metrics[k], NULL);
    if (r < 0) {
        uniRecordFree(out);
        return r;
    }
    *ret = out;
    return 0;
}

int uni_view_from_record(int view, uniRecordPtr full, uniRecordPtr *ret) {
    if (uni_view_build(full, view, ret) < 0) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    return 0;
}

int uniNodeGetView(uniConnectPtr conn, int i, uniRecordPtr *ret, unsigned int flags) {
    const uniViewDesc *v = uniViewGet(i);
    uni_select sel;
    uniRecordPtr full = NULL;
    int r;

    uniResetLastError();
    CHECK_CONN(conn, -1);
    CHECK_FLAGS(flags, 0, -1);
    if (!v || !ret) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: no view %d (0-%d) or ret is NULL", __func__, i, uniViewCount() - 1);
        return -1;
    }
    if (uni_view_is_domain(i)) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s is a per-domain view: call %s on a domain", v->spec_name, v->c_name);
        return -1;
    }
    if (conn->driver->node_get_view) {
        pthread_mutex_lock(&conn->lock);
        r = conn->driver->node_get_view(conn, i, ret);
        pthread_mutex_unlock(&conn->lock);
        return r;
    }
    uni_view_select(i, &sel);
    if (node_stats(conn, &sel, &full, 0) < 0)
        return -1;
    r = uni_view_build(full, i, ret);
    uniRecordFree(full);
    if (r < 0) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    return 0;
}

#define NAMED_VIEW_(fn, e)                                                                                             \
    int fn(uniConnectPtr conn, uniRecordPtr *ret, unsigned int flags) {                                                \
        return uniNodeGetView(conn, UNI_VIEW_##e, ret, flags);                                                         \
    }
NAMED_VIEW_(uniNodeGetCPUStatistics, HOST_CPU)
NAMED_VIEW_(uniNodeGetMemoryStatistics, HOST_MEMORY)
NAMED_VIEW_(uniNodeGetSystemStatistics, HOST_SYSTEM)
NAMED_VIEW_(uniNodeGetContentionStatistics, HOST_CONTENTION)
NAMED_VIEW_(uniNodeGetPowerConsumption, HOST_POWER)
NAMED_VIEW_(uniNodeGetTemperature, HOST_TEMPERATURE)
NAMED_VIEW_(uniNodeGetDomainsStatistics, DOMAINS)
NAMED_VIEW_(uniNodeGetCorrectableErrors, CORRECTABLE_ERRORS)
NAMED_VIEW_(uniNodeGetUncorrectableErrors, UNCORRECTABLE_ERRORS)

char *uniNodeGetGovernor(uniConnectPtr conn, unsigned int flags) {
    uniRecordPtr rec = NULL;
    const uniSample *s;
    char *g = NULL;

    if (uniNodeGetView(conn, UNI_VIEW_HOST_GOVERNOR, &rec, flags) < 0)
        return NULL;
    s = uniRecordGetSample(rec, 0);
    if (!s || s->type != UNI_VALUE_STRING) {
        const uniAbsence *a = uniRecordGetAbsence(rec, 0);
        uni_error_set(UNI_ERR_NO_DATA, "no governor: %s", a ? a->reason : "not provided");
    } else if (!(g = strdup(s->value.s)))
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
    uniRecordFree(rec);
    return g;
}

/* ---- the HealthLog ---- */

static int healthlog_query(uniConnectPtr conn, const uni_healthlog_query *q, uniRecordPtr **ret) {
    int n;
    if (!conn->driver->healthlog_query) {
        uni_error_set(UNI_ERR_NO_SUPPORT, "driver '%s' has no HealthLog", conn->driver->name);
        return -1;
    }
    pthread_mutex_lock(&conn->lock);
    n = conn->driver->healthlog_query(conn, q, ret);
    pthread_mutex_unlock(&conn->lock);
    if (n < 0 && !uniGetLastError())
        uni_error_set(UNI_ERR_INTERNAL_ERROR, "driver '%s' failed without saying why", conn->driver->name);
    return n;
}

#define HEALTHLOG_FLAGS (UNI_HEALTHLOG_CORRECTED | UNI_HEALTHLOG_UNCORRECTED | UNI_HEALTHLOG_ACTIONS)

int uniHealthLogQueryMemory(uniConnectPtr conn, const char *dimm, long long since_ms, uniRecordPtr **ret_events,
                            unsigned int flags) {
    uni_healthlog_query q = {.cpu = false, .dimm = dimm, .core = -1, .since_ms = since_ms, .flags = flags};
    uniResetLastError();
    CHECK_CONN(conn, -1);
    CHECK_FLAGS(flags, HEALTHLOG_FLAGS, -1);
    if (!ret_events || since_ms < 0 || (dimm && (!*dimm || strlen(dimm) > 255))) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: %s", __func__,
                      !ret_events    ? "ret_events is NULL"
                      : since_ms < 0 ? "since_ms is negative"
                                     : "a DIMM label is 1 to 255 characters");
        return -1;
    }
    return healthlog_query(conn, &q, ret_events);
}

int uniHealthLogQueryCPU(uniConnectPtr conn, int core, long long since_ms, uniRecordPtr **ret_events,
                         unsigned int flags) {
    uni_healthlog_query q = {.cpu = true, .core = core, .since_ms = since_ms, .flags = flags};
    uniResetLastError();
    CHECK_CONN(conn, -1);
    CHECK_FLAGS(flags, HEALTHLOG_FLAGS, -1);
    if (!ret_events || since_ms < 0 || core < -1) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: %s", __func__,
                      !ret_events    ? "ret_events is NULL"
                      : since_ms < 0 ? "since_ms is negative"
                                     : "core is a CPU number or -1");
        return -1;
    }
    return healthlog_query(conn, &q, ret_events);
}

int uniHealthLogWait(uniConnectPtr conn, int timeout_ms, unsigned int flags) {
    int r;
    uniResetLastError();
    CHECK_CONN(conn, -1);
    CHECK_FLAGS(flags, 0, -1);
    if (timeout_ms < -1) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: timeout_ms %d (milliseconds, or -1 for no limit)", __func__,
                      timeout_ms);
        return -1;
    }
    if (!conn->driver->healthlog_wait) {
        uni_error_set(UNI_ERR_NO_SUPPORT, "driver '%s' cannot wait for the HealthLog (connect to the host itself)",
                      conn->driver->name);
        return -1;
    }
    /* No connection lock: waiting must not block the connection's other calls. */
    r = conn->driver->healthlog_wait(conn, timeout_ms);
    if (r < 0 && !uniGetLastError())
        uni_error_set(UNI_ERR_INTERNAL_ERROR, "waiting for the HealthLog failed");
    return r;
}

void uniRecordListFree(uniRecordPtr *list) {
    for (uniRecordPtr *p = list; p && *p; p++)
        uniRecordFree(*p);
    free(list);
}
