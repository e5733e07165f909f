/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's wire protocol: framing of a client's input, one handler per procedure, replies
 * from the cache. No I/O here: client.c moves bytes, the fuzzer feeds them directly. */
#include <arpa/inet.h>

#include "healthlog/healthlog.h"
#include "server_internal.h"

/* A wire-protocol client's own state (client_state). */
typedef struct {
    bool opened; /* CONNECT_OPEN answered: the other calls are allowed */
    /* The client's reason for its control calls (CONNECT_SET_AUDIT_REASON): recorded with every
     * change they make (the audit in the log, the HealthLog's control events). */
    char reason[UNI_AUDIT_REASON_MAX];
} rpc_state;

static rpc_state *rpc(client *c) {
    return client_state(c);
}

/* An error message as long as the caller's input can be (a 64 KiB selection quoted back) would not
 * fit the wire's string limit: it is cut, at a character's start, with a marker. */
#define ERROR_MESSAGE_MAX 1024

/* Encode and queue a reply; a reply that cannot be encoded even as an error drops the client (it
 * would otherwise wait for an answer that never comes). -1 when the client was dropped. */
static int queue_encoded(client *c, uni_message_header *h, xdrproc_t proc, void *body) {
    _cleanup_free_ char *buf = NULL;
    size_t len;
    if (wire_encode(h, proc, body, &buf, &len) < 0) {
        client_drop(c, "its reply cannot be encoded");
        return -1;
    }
    return client_queue(c, buf, len);
}

static int reply_error(client *c, const uni_message_header *call, int code, const char *msg) {
    uni_message_header h = *call;
    char cut[ERROR_MESSAGE_MAX + 64];
    uni_error_msg e = {.code = code, .message = (char *)msg};
    size_t n = strlen(msg);

    if (n > ERROR_MESSAGE_MAX) {
        size_t k = ERROR_MESSAGE_MAX;
        while (k > 0 && ((unsigned char)msg[k] & 0xC0) == 0x80)
            k--;
        snprintf(cut, sizeof(cut), "%.*s... [%zu bytes cut]", (int)k, msg, n - k);
        e.message = cut;
    }
    h.type = UNI_REPLY;
    h.status = UNI_STATUS_ERROR;
    return queue_encoded(c, &h, (xdrproc_t)xdr_uni_error_msg, &e);
}

static int reply(client *c, const uni_message_header *call, xdrproc_t proc, void *body) {
    uni_message_header h = *call;
    _cleanup_free_ char *buf = NULL;
    size_t len;

    h.type = UNI_REPLY;
    h.status = UNI_STATUS_OK;
    if (wire_encode(&h, proc, body, &buf, &len) < 0)
        return reply_error(c, call, UNI_ERR_INTERNAL_ERROR, "cannot encode the reply");
    return client_queue(c, buf, len);
}

/* reply_STEM(c, h, ret): a procedure's reply, typed by procs.def. */
#define REPLY_(NAME, stem, args, ret, access)                                                                          \
    static inline int reply_##stem(client *c, const uni_message_header *h, ret *r) {                                   \
        return reply(c, h, (xdrproc_t)xdr_##ret, r);                                                                   \
    }
UNI_PROCS(REPLY_)
#undef REPLY_

static int reply_last_error(client *c, const uni_message_header *call) {
    const uniError *e = uniGetLastError();
    return reply_error(c, call, e ? e->code : UNI_ERR_INTERNAL_ERROR, e && e->message ? e->message : "failed");
}

/* ---- procedures: h_STEM for each row of procs.def ---- */

static int h_connect_open(client *c, const uni_message_header *h, uni_connect_open_args *a) {
    uni_connect_open_ret r = {.readonly = 0};
    if (a->flags & ~(unsigned)UNI_CONNECT_RO)
        return reply_error(c, h, UNI_ERR_INVALID_ARG, "unsupported connection flags");
    c->ro = c->ro || (a->flags & UNI_CONNECT_RO);
    rpc(c)->opened = true;
    r.readonly = c->ro;
    r.source = c->srv->cfg->source_uri;
    r.interval_ms = c->srv->cfg->interval_ms;
    log_info("client %s opened a %s connection", c->peer, c->ro ? "read-only" : "read-write");
    return reply_connect_open(c, h, &r);
}

static int h_connect_close(client *c, const uni_message_header *h, wire_void *a) {
    (void)a;
    c->close_after_flush = true;
    return reply_connect_close(c, h, NULL);
}

static int h_descriptors(client *c, const uni_message_header *h, uni_connect_get_metric_descriptors_args *a) {
    uni_connect_get_metric_descriptors_ret r;
    const uniMetricDesc *d;
    int n, k;
    if (a->flags)
        return reply_error(c, h, UNI_ERR_INVALID_ARG, "unsupported flags");
    n = uniConnectGetMetricDescriptors(c->srv->source, &d, 0);
    if (n < 0)
        return reply_last_error(c, h);
    memset(&r, 0, sizeof(r));
    if (wire_from_descs(d, (unsigned)n, &r) < 0)
        return reply_error(c, h, UNI_ERR_NO_MEMORY, "out of memory");
    k = reply_descriptors(c, h, &r);
    free(r.descs.descs_val);
    return k;
}

static int reply_record(client *c, const uni_message_header *h, uniRecordPtr rec) {
    wire_record_buf w;
    int k;
    if (wire_from_record(rec, &w) < 0)
        return reply_error(c, h, UNI_ERR_NO_MEMORY, "out of memory");
    /* uni_node_get_stats_ret and uni_node_get_view_ret are both { uni_wire_record rec; }. */
    k = reply(c, h, (xdrproc_t)xdr_uni_node_get_stats_ret, &w.rec);
    wire_record_release(&w);
    return k;
}

/* A caller's selection from the wire (NULL-terminated list, then compiled); -1 with the error set. */
static int select_from_wire(unsigned has, uni_nonnull_string *val, u_int len, const char ***ret_list, uni_select *sel,
                            int (*parse)(uni_select *, const char *const *)) {
    const char **list = NULL;
    if (has) {
        list = calloc(len + 1, sizeof(char *));
        if (!list) {
            uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
            return -1;
        }
        for (u_int i = 0; i < len; i++)
            list[i] = val[i];
    }
    *ret_list = list;
    return parse(sel, has ? list : NULL);
}

static int h_node_get_stats(client *c, const uni_message_header *h, uni_node_get_stats_args *a) {
    _cleanup_free_ const char **list = NULL;
    uni_select sel;
    uniRecordPtr rec = NULL;
    int k;

    if (a->flags & ~(unsigned)UNI_NODE_STATS_BEST_EFFORT)
        return reply_error(c, h, UNI_ERR_INVALID_ARG, "uniNodeGetStats: unsupported flags");
    uniResetLastError();
    if (select_from_wire(a->has_select, a->select.select_val, a->select.select_len, &list, &sel, uni_select_parse) < 0)
        return reply_last_error(c, h);
    k = uni_record_filter(c->srv->cache.rec, &sel, &rec);
    uni_select_done(&sel);
    if (k < 0)
        return reply_error(c, h, UNI_ERR_NO_MEMORY, "out of memory");
    k = reply_record(c, h, rec);
    uniRecordFree(rec);
    return k;
}

static int h_view(client *c, const uni_message_header *h, int view, unsigned flags) {
    uniRecordPtr rec = NULL;
    int k;
    if (flags)
        return reply_error(c, h, UNI_ERR_INVALID_ARG, "unsupported flags");
    if (uni_view_build(c->srv->cache.rec, view, &rec) < 0)
        return reply_error(c, h, UNI_ERR_NO_MEMORY, "out of memory");
    k = reply_record(c, h, rec);
    uniRecordFree(rec);
    return k;
}

/* A view by its spec name: every view of views.def, the new ones included. */
static int h_node_get_view(client *c, const uni_message_header *h, uni_node_get_view_by_name_args *a) {
    int view = uni_view_find(a->name);
    char m[160];
    if (view < 0 || uni_view_is_domain(view)) {
        snprintf(m, sizeof(m), "%s view '%.64s'",
                 view < 0 ? "no" : "a domain's view is asked of a domain, not the host:", a->name);
        return reply_error(c, h, UNI_ERR_INVALID_ARG, m);
    }
    return h_view(c, h, view, a->flags);
}

static int h_node_get_governor(client *c, const uni_message_header *h, uni_node_get_governor_args *a) {
    const uniSample *s;
    if (a->flags)
        return reply_error(c, h, UNI_ERR_INVALID_ARG, "unsupported flags");
    s = uniRecordLookup(c->srv->cache.rec, "host.cpu.governor");
    if (!s || s->type != UNI_VALUE_STRING) {
        const char *why = uniRecordAbsentReason(c->srv->cache.rec, "host.cpu.governor");
        char msg[1024];
        snprintf(msg, sizeof(msg), "no governor: %s", why ? why : "not provided");
        return reply_error(c, h, UNI_ERR_NO_DATA, msg);
    }
    {
        uni_node_get_governor_ret r = {.governor = (char *)s->value.s};
        return reply_node_get_governor(c, h, &r);
    }
}

/* ---- control: the public calls on the daemon's source connection ---- */

/* After a change: a fresh sample soon, so that the records show it. */
static void host_changed(client *c) {
    if (c->srv->sample_soon)
        c->srv->sample_soon(c->srv);
}

static int h_node_set_frequency(client *c, const uni_message_header *h, uni_node_set_frequency_args *a) {
    uni_node_set_frequency_ret r = {0};
    _cleanup_free_ int *cores = NULL;
    unsigned max = a->maxcores < UNI_CORES_MAX ? a->maxcores : UNI_CORES_MAX;
    int n;

    if (max && !(cores = calloc(max, sizeof(int))))
        return reply_error(c, h, UNI_ERR_NO_MEMORY, "out of memory");
    n = uniNodeSetFrequencyEx(c->srv->source, a->core, a->frequency, cores, (int)max, a->flags);
    if (n < 0)
        return reply_last_error(c, h);
    host_changed(c);
    r.count = n;
    r.cores.cores_len = (u_int)((unsigned)n < max ? (unsigned)n : max);
    r.cores.cores_val = cores;
    return reply_node_set_frequency(c, h, &r);
}

static int set_named(client *c, const uni_message_header *h, uni_node_set_named_args *a, bool governor) {
    uni_node_set_named_ret r = {0};
    int n = governor ? uniNodeSetGovernor(c->srv->source, a->core, a->name, a->flags)
                     : uniNodeSetPowerPolicy(c->srv->source, a->core, a->name, a->flags);
    if (n < 0)
        return reply_last_error(c, h);
    host_changed(c);
    r.count = n;
    return reply_node_set_governor(c, h, &r); /* the same reply type as set_power_policy's */
}

static int h_node_set_governor(client *c, const uni_message_header *h, uni_node_set_named_args *a) {
    return set_named(c, h, a, true);
}

static int h_node_set_power_policy(client *c, const uni_message_header *h, uni_node_set_named_args *a) {
    return set_named(c, h, a, false);
}

/* The wire form of a list points into the list; only its arrays are allocated. */
static int h_node_get_operating_points(client *c, const uni_message_header *h, uni_node_get_operating_points_args *a) {
    uni_node_get_operating_points_ret r = {0};
    uniOppListPtr l = NULL;
    int n = uniNodeGetOperatingPoints(c->srv->source, &l, a->flags), k = 0;

    if (n < 0)
        return reply_last_error(c, h);
    r.domains.domains_val = calloc((size_t)n + 1, sizeof(uni_opp_domain));
    for (int i = 0; i < n && r.domains.domains_val && k == 0; i++) {
        const uniOppDomain *d = uniOppListGetDomain(l, i);
        uni_opp_domain *w = &r.domains.domains_val[i];
        *w = (uni_opp_domain){.kind = d->kind, .id = d->id, .name = (char *)d->name};
        w->cores.cores_len = (u_int)d->ncores;
        w->cores.cores_val = (int *)d->cores;
        w->members.members_len = (u_int)d->nmembers;
        w->members.members_val = (char **)d->members;
        w->params.params_val = calloc((size_t)d->nparams + 1, sizeof(uni_opp_param));
        if (!w->params.params_val)
            k = -1;
        for (int p = 0; p < d->nparams && k == 0; p++) {
            const uniOppParam *q = uniOppListGetParam(l, i, p);
            w->params.params_val[p] = (uni_opp_param){.name = (char *)q->name,
                                                      .unit = (char *)q->unit,
                                                      .current = q->current,
                                                      .nominal = q->nominal,
                                                      .min = q->min,
                                                      .max = q->max,
                                                      .step = q->step,
                                                      .flags = q->flags};
        }
        w->params.params_len = (u_int)d->nparams;
        r.domains.domains_len = (u_int)i + 1;
    }
    if (!r.domains.domains_val || k < 0)
        k = reply_error(c, h, UNI_ERR_NO_MEMORY, "out of memory");
    else
        k = reply_node_get_operating_points(c, h, &r);
    for (u_int i = 0; r.domains.domains_val && i < r.domains.domains_len; i++)
        free(r.domains.domains_val[i].params.params_val);
    free(r.domains.domains_val);
    uniOppListFree(l);
    return k;
}

static int h_node_set_operating_point(client *c, const uni_message_header *h, uni_node_set_operating_point_args *a) {
    _cleanup_free_ uniOppSetting *set = calloc(a->settings.settings_len + 1, sizeof(*set));

    if (!set)
        return reply_error(c, h, UNI_ERR_NO_MEMORY, "out of memory");
    for (u_int i = 0; i < a->settings.settings_len; i++)
        set[i] = (uniOppSetting){.name = a->settings.settings_val[i].name, .value = a->settings.settings_val[i].value};
    if (uniNodeSetOperatingPoint(c->srv->source, a->domain, set, (int)a->settings.settings_len, a->flags) < 0)
        return reply_last_error(c, h);
    host_changed(c);
    return reply_node_set_operating_point(c, h, NULL);
}

/* The audit hook: every write a control call makes, in the daemon's log. */
static void audit_to_log(const uni_audit_event *ev, void *userdata) {
    (void)userdata;
    log_info("audit: %s by %s: %s %s: '%s' -> '%s'%s%s%s%s%s", ev->call, ev->caller, ev->object, ev->attribute,
             ev->before, ev->after, ev->rollback ? " (rollback)" : "", ev->error ? ": " : "",
             uni_audit_error_text(ev->error), ev->reason ? ": because " : "", ev->reason ? ev->reason : "");
}

void dispatch_audit_setup(void) {
    uni_set_audit_hook(audit_to_log, NULL);
}

/* ---- domains, from the cache ---- */

static void wire_domain(const uni_domain_info *d, uni_wire_domain *w) {
    w->name = d->name ? d->name : (char *)"";
    w->uuid = (char *)d->uuid;
    w->active = d->active;
    w->id = d->id;
}

static int h_list_domains(client *c, const uni_message_header *h, uni_connect_list_domains_args *a) {
    uni_connect_list_domains_ret r;
    server *srv = c->srv;
    int k;
    if (a->flags)
        return reply_error(c, h, UNI_ERR_INVALID_ARG, "unsupported flags");
    memset(&r, 0, sizeof(r));
    r.domains.domains_val = calloc(srv->cache.ndom_list ? srv->cache.ndom_list : 1, sizeof(uni_wire_domain));
    if (!r.domains.domains_val)
        return reply_error(c, h, UNI_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < srv->cache.ndom_list; i++)
        wire_domain(&srv->cache.dom_list[i], &r.domains.domains_val[i]);
    r.domains.domains_len = (u_int)srv->cache.ndom_list;
    k = reply_list_domains(c, h, &r);
    free(r.domains.domains_val);
    return k;
}

static int h_domain_stats(client *c, const uni_message_header *h, uni_domain_stats_args *a) {
    uni_domain_stats_ret r;
    server *srv = c->srv;
    _cleanup_free_ const char **list = NULL;
    uniRecordPtr *recs = NULL;
    wire_record_buf *bufs = NULL;
    _cleanup_free_ bool *taken = NULL;
    uni_select sel;
    size_t n = 0;
    int k = 0;

    if (a->flags)
        return reply_error(c, h, UNI_ERR_INVALID_ARG, "unsupported flags");
    uniResetLastError();
    if (select_from_wire(a->has_select, a->select.select_val, a->select.select_len, &list, &sel,
                         uni_select_parse_domain) < 0)
        return reply_last_error(c, h);
    memset(&r, 0, sizeof(r));
    r.stats.stats_val = calloc(srv->cache.ndoms ? srv->cache.ndoms : 1, sizeof(uni_wire_domain_stats));
    recs = calloc(srv->cache.ndoms ? srv->cache.ndoms : 1, sizeof(*recs));
    bufs = calloc(srv->cache.ndoms ? srv->cache.ndoms : 1, sizeof(*bufs));
    taken = calloc(srv->cache.ndoms ? srv->cache.ndoms : 1, sizeof(*taken));
    if (!r.stats.stats_val || !recs || !bufs || !taken) {
        k = reply_error(c, h, UNI_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    /* Every cached domain, or those asked for, in the asker's order; each once, however often it
     * is named. */
    for (size_t o = 0; o < (a->has_only ? a->only.only_len : 1); o++)
        for (size_t i = 0; i < srv->cache.ndoms; i++) {
            if (taken[i])
                continue;
            if (a->has_only) {
                uni_domain_info ref = {.name = a->only.only_val[o].name};
                snprintf(ref.uuid, sizeof(ref.uuid), "%s", a->only.only_val[o].uuid);
                if (!uni_domain_info_matches(&srv->cache.doms[i].info, &ref))
                    continue;
            }
            if (n >= srv->cache.ndoms || uni_record_filter(srv->cache.doms[i].rec, &sel, &recs[n]) < 0 ||
                wire_from_record(recs[n], &bufs[n]) < 0) {
                k = reply_error(c, h, UNI_ERR_NO_MEMORY, "out of memory");
                goto done;
            }
            wire_domain(&srv->cache.doms[i].info, &r.stats.stats_val[n].dom);
            r.stats.stats_val[n].rec = bufs[n].rec;
            taken[i] = true;
            n++;
        }
    r.stats.stats_len = (u_int)n;
    k = reply_domain_stats(c, h, &r);
done:
    for (size_t i = 0; i < n + 1 && recs && i < srv->cache.ndoms; i++) {
        uniRecordFree(recs[i]);
        wire_record_release(&bufs[i]);
    }
    free(recs);
    free(bufs);
    free(r.stats.stats_val);
    uni_select_done(&sel);
    return k;
}

uniConnectPtr server_query_conn(server *srv) {
    /* The sampler's connection is busy in its worker thread; queries get their own. */
    if (!srv->query)
        srv->query = uniConnectOpen(srv->cfg->source_uri, 0);
    return srv->query;
}

static int reply_events(client *c, const uni_message_header *h, uniRecordPtr *list, int n) {
    wire_events_buf w;
    int k;
    if (n < 0)
        return reply_last_error(c, h);
    /* The wire form points into the records: they live until it is encoded. */
    k = wire_from_events(list, n, uni_event_catalog, HL_NFIELDS, &w);
    if (k >= 0)
        k = reply_healthlog_query_cpu(c, h, &w.ret); /* both queries reply with uni_healthlog_query_ret */
    else
        k = reply_error(c, h, UNI_ERR_NO_MEMORY, "out of memory");
    wire_events_release(&w);
    uniRecordListFree(list);
    return k;
}

/* Both HealthLog queries: answered from the HealthLog of the daemon's source, not the cache. */
static int h_healthlog(client *c, const uni_message_header *h, bool cpu, const char *dimm, int core, long long since,
                       unsigned flags) {
    uniConnectPtr q = server_query_conn(c->srv);
    uniRecordPtr *list = NULL;
    int n;
    if (!q)
        return reply_last_error(c, h);
    n = cpu ? uniHealthLogQueryCPU(q, core, since, &list, flags)
            : uniHealthLogQueryMemory(q, dimm, since, &list, flags);
    return reply_events(c, h, list, n);
}

static int h_healthlog_query_memory(client *c, const uni_message_header *h, uni_healthlog_query_memory_args *a) {
    return h_healthlog(c, h, false, a->dimm ? *a->dimm : NULL, -1, a->since_ms, a->flags);
}

static int h_healthlog_query_cpu(client *c, const uni_message_header *h, uni_healthlog_query_cpu_args *a) {
    return h_healthlog(c, h, true, NULL, a->core, a->since_ms, a->flags);
}

/* ---- the spec's Table 4 and the reliability class: the public calls on the source connection ---- */

/* A domain object on the daemon's source connection for the client's wire domain; NULL after
 * replying with the error. */
static uniDomainPtr wire_dom(client *c, const uni_message_header *h, const uni_wire_domain *w) {
    uni_domain_info info = {.active = w->active != 0, .id = w->id};
    uniDomainPtr d;
    if (strlen(w->uuid) >= sizeof(info.uuid)) {
        reply_error(c, h, UNI_ERR_INVALID_ARG, "malformed domain UUID");
        return NULL;
    }
    snprintf(info.uuid, sizeof(info.uuid), "%s", w->uuid);
    if (!(info.name = strdup(w->name)) || !(d = uni_domain_new(c->srv->source, &info))) {
        free(info.name);
        reply_error(c, h, UNI_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    return d;
}

static void wire_info(const uniDomainInfo *i, uni_wire_domain_info *w) {
    *w = (uni_wire_domain_info){.state = i->state,
                                .max_mem = i->maxMem,
                                .memory = i->memory,
                                .nr_virt_cpu = i->nrVirtCpu,
                                .cpu_time = i->cpuTime,
                                .max_vcpus = i->maxVcpus};
}

static int h_domain_get_info(client *c, const uni_message_header *h, uni_domain_args *a) {
    uni_domain_get_info_ret r = {0};
    uniDomainInfo info;
    _cleanup_(uni_domain_freep) uniDomainPtr d = wire_dom(c, h, &a->dom);
    if (!d)
        return 0;
    if (uniDomainGetInfo(d, &info, a->flags) < 0)
        return reply_last_error(c, h);
    wire_info(&info, &r.info);
    return reply_domain_get_info(c, h, &r);
}

static int h_list_domains_info(client *c, const uni_message_header *h, uni_connect_list_domains_args *a) {
    uni_connect_list_domains_info_ret r = {0};
    uniDomainPtr *doms = NULL;
    uniDomainInfo *infos = NULL;
    int n = uniConnectGetAllDomainInfo(c->srv->source, &doms, &infos, a->flags), k;

    if (n < 0)
        return reply_last_error(c, h);
    r.domains.domains_val = calloc((size_t)n + 1, sizeof(uni_wire_domain));
    r.infos.infos_val = calloc((size_t)n + 1, sizeof(uni_wire_domain_info));
    if (!r.domains.domains_val || !r.infos.infos_val)
        k = reply_error(c, h, UNI_ERR_NO_MEMORY, "out of memory");
    else {
        for (int i = 0; i < n; i++) {
            wire_domain(&doms[i]->info, &r.domains.domains_val[i]);
            wire_info(&infos[i], &r.infos.infos_val[i]);
        }
        r.domains.domains_len = r.infos.infos_len = (u_int)n;
        k = reply_list_domains_info(c, h, &r);
    }
    free(r.domains.domains_val);
    free(r.infos.infos_val);
    for (int i = 0; i < n; i++)
        uniDomainFree(doms[i]);
    free(doms);
    free(infos);
    return k;
}

static int h_domain_get_xml_desc(client *c, const uni_message_header *h, uni_domain_args *a) {
    _cleanup_(uni_domain_freep) uniDomainPtr d = wire_dom(c, h, &a->dom);
    _cleanup_free_ char *xml = NULL;
    uni_domain_get_xml_desc_ret r;
    if (!d)
        return 0;
    if (!(xml = uniDomainGetXMLDesc(d, a->flags)))
        return reply_last_error(c, h);
    r.xml = xml;
    return reply_domain_get_xml_desc(c, h, &r);
}

static int h_domain_get_scheduler(client *c, const uni_message_header *h, uni_domain_args *a) {
    _cleanup_(uni_domain_freep) uniDomainPtr d = wire_dom(c, h, &a->dom);
    _cleanup_free_ char *type = NULL;
    _cleanup_free_ uniSchedParam *p = NULL;
    _cleanup_free_ uni_sched_param *w = NULL;
    uni_domain_get_scheduler_ret r = {0};
    int n;
    if (!d)
        return 0;
    if (!(type = uniDomainGetSchedulerType(d, NULL, a->flags)) || (n = uniDomainGetSchedulerParameters(d, &p, 0)) < 0)
        return reply_last_error(c, h);
    if (!(w = calloc((size_t)n + 1, sizeof(*w))))
        return reply_error(c, h, UNI_ERR_NO_MEMORY, "out of memory");
    for (int i = 0; i < n; i++)
        w[i] = (uni_sched_param){.field = p[i].field, .value = p[i].value};
    r.type = type;
    r.params.params_len = (u_int)n;
    r.params.params_val = w;
    return reply_domain_get_scheduler(c, h, &r);
}

static int h_domain_get_vcpus(client *c, const uni_message_header *h, uni_domain_args *a) {
    _cleanup_(uni_domain_freep) uniDomainPtr d = wire_dom(c, h, &a->dom);
    _cleanup_free_ uniVcpuInfo *info = NULL;
    _cleanup_free_ unsigned char *maps = NULL;
    _cleanup_free_ uni_wire_vcpu *w = NULL;
    uni_domain_get_vcpus_ret r = {0};
    int ncpus = 0, n;
    if (!d)
        return 0;
    if ((n = uniDomainGetVcpus(d, &info, &maps, &ncpus, a->flags)) < 0)
        return reply_last_error(c, h);
    if (!(w = calloc((size_t)n + 1, sizeof(*w))))
        return reply_error(c, h, UNI_ERR_NO_MEMORY, "out of memory");
    for (int i = 0; i < n; i++)
        w[i] = (uni_wire_vcpu){
            .number = info[i].number, .state = info[i].state, .cpu_time = info[i].cpuTime, .cpu = info[i].cpu};
    r.ncpus = ncpus;
    r.vcpus.vcpus_len = (u_int)n;
    r.vcpus.vcpus_val = w;
    r.cpumaps.cpumaps_len = (u_int)(n * UNI_CPU_MAPLEN(ncpus));
    r.cpumaps.cpumaps_val = (char *)maps;
    return reply_domain_get_vcpus(c, h, &r);
}

static int h_domain_pin_vcpu(client *c, const uni_message_header *h, uni_domain_pin_vcpu_args *a) {
    _cleanup_(uni_domain_freep) uniDomainPtr d = wire_dom(c, h, &a->dom);
    if (!d)
        return 0;
    if (uniDomainPinVcpu(d, a->vcpu, (const unsigned char *)a->cpumap.cpumap_val, (int)a->cpumap.cpumap_len, a->flags) <
        0)
        return reply_last_error(c, h);
    host_changed(c);
    return reply_domain_pin_vcpu(c, h, NULL);
}

static int h_domain_get_cpu_stats(client *c, const uni_message_header *h, uni_domain_args *a) {
    _cleanup_(uni_domain_freep) uniDomainPtr d = wire_dom(c, h, &a->dom);
    _cleanup_free_ unsigned long long *t = NULL;
    uni_domain_get_cpu_stats_ret r = {0};
    int n;
    if (!d)
        return 0;
    if ((n = uniDomainGetCPUStats(d, &t, a->flags)) < 0)
        return reply_last_error(c, h);
    r.cpu_time.cpu_time_len = (u_int)n;
    r.cpu_time.cpu_time_val = (u_quad_t *)t;
    return reply_domain_get_cpu_stats(c, h, &r);
}

static int h_domain_get_reliability(client *c, const uni_message_header *h, uni_domain_args *a) {
    _cleanup_(uni_domain_freep) uniDomainPtr d = wire_dom(c, h, &a->dom);
    uni_domain_get_reliability_ret r;
    const char *cls;
    if (!d)
        return 0;
    if (!(cls = uniDomainGetReliability(d, a->flags)))
        return reply_last_error(c, h);
    r.reliability = uni_reliability_parse(cls);
    return reply_domain_get_reliability(c, h, &r);
}

static int h_domain_set_reliability(client *c, const uni_message_header *h, uni_domain_set_reliability_args *a) {
    _cleanup_(uni_domain_freep) uniDomainPtr d = wire_dom(c, h, &a->dom);
    if (!d)
        return 0;
    if (uniDomainSetReliability(d, a->reliability, a->flags) < 0)
        return reply_last_error(c, h);
    host_changed(c);
    return reply_domain_set_reliability(c, h, NULL);
}

/* The reason is checked as a local caller's is (its length, one line of printable text), then
 * kept per client. */
static int h_set_audit_reason(client *c, const uni_message_header *h, uni_connect_set_audit_reason_args *a) {
    if (a->flags)
        return reply_error(c, h, UNI_ERR_INVALID_ARG, "uniConnectSetAuditReason: unsupported flags");
    if (uni_audit_reason_check(a->reason) < 0)
        return reply_last_error(c, h);
    snprintf(rpc(c)->reason, sizeof(rpc(c)->reason), "%s", a->reason);
    return reply_set_audit_reason(c, h, NULL);
}

/* ---- the procedure table, from procs.def and views.def ---- */

typedef int (*handler_fn)(client *c, const uni_message_header *h, void *args);
typedef struct {
    int proc;
    const char *name;
    xdrproc_t args_proc;
    size_t args_size;
    handler_fn fn;
    uni_access access;
} proc_def;

/* Each handler takes its own argument type; the table holds them behind one signature. */
#define THUNK_(NAME, stem, args, ret, access)                                                                          \
    static int t_##stem(client *c, const uni_message_header *h, void *a) {                                             \
        return h_##stem(c, h, a);                                                                                      \
    }
UNI_PROCS(THUNK_)
#undef THUNK_

static const proc_def procs[] = {
#define ROW_(NAME, stem, args, ret, access)                                                                            \
    {UNI_PROC_##NAME, #NAME, (xdrproc_t)xdr_##args, sizeof(args), t_##stem, UNI_ACCESS_##access},
    UNI_PROCS(ROW_)
#undef ROW_
};

/* The released views' own procedures (views.def's procedure column): one shape, answered from
 * the cache. */
static int t_view(client *c, const uni_message_header *h, void *a) {
    for (int v = 0; v < uniViewCount(); v++)
        if (uni_view_proc(v) == h->proc)
            return h_view(c, h, v, ((uni_node_get_view_args *)a)->flags);
    return reply_error(c, h, UNI_ERR_NO_SUPPORT, "no such view procedure");
}

/* The row of procedure @proc (a view's is made in @buf), or NULL. */
static const proc_def *find_proc(int proc, proc_def *buf) {
    for (size_t i = 0; i < ELEMENTSOF(procs); i++)
        if (procs[i].proc == proc)
            return &procs[i];
    for (int v = 0; v < uniViewCount(); v++)
        if (uni_view_proc(v) == proc) {
            *buf = (proc_def){
                proc,   uniViewGet(v)->spec_name, (xdrproc_t)xdr_uni_node_get_view_args, sizeof(uni_node_get_view_args),
                t_view, UNI_ACCESS_READ};
            return buf;
        }
    return NULL;
}

void dispatch_list_procedures(FILE *f) {
    static const char *const access[] = {"open", "read", "control"};
    for (size_t i = 0; i < ELEMENTSOF(procs); i++)
        fprintf(f, "%d\t%s\t%s\n", procs[i].proc, procs[i].name, access[procs[i].access]);
    for (int v = 0; v < uniViewCount(); v++) {
        proc_def buf;
        const proc_def *p = uni_view_proc(v) ? find_proc(uni_view_proc(v), &buf) : NULL;
        if (p == &buf)
            fprintf(f, "%d\t%s\tread\n", p->proc, p->name);
    }
}

/* One complete message from a client. -1 when the client was dropped. */
static int dispatch(client *c, const char *msg, size_t len) {
    uni_message_header h;
    const proc_def *p = NULL;
    proc_def view_row;
    _cleanup_free_ void *args = NULL;
    int r;

    if (wire_decode_header(msg, len, &h) < 0) {
        client_drop(c, "malformed message header");
        return -1;
    }
    if (c->srv->adopt)
        c->srv->adopt(c->srv); /* the newest sample, for whatever this call reads */
    if (h.type != UNI_CALL) {
        client_drop(c, "sent something other than a call");
        return -1;
    }
    if (h.prog != UNI_PROGRAM || h.vers != UNI_PROTOCOL_VERSION) {
        char m[128];
        snprintf(m, sizeof(m), "unknown program 0x%x version %u (this daemon speaks 0x%x version %u)", h.prog, h.vers,
                 (unsigned)UNI_PROGRAM, (unsigned)UNI_PROTOCOL_VERSION);
        return reply_error(c, &h, UNI_ERR_RPC_FAILED, m);
    }
    if (!(p = find_proc(h.proc, &view_row))) {
        char m[64];
        snprintf(m, sizeof(m), "unknown procedure %d", h.proc);
        return reply_error(c, &h, UNI_ERR_NO_SUPPORT, m);
    }
    if (!rpc(c)->opened && p->access != UNI_ACCESS_OPEN)
        return reply_error(c, &h, UNI_ERR_INVALID_CONN, "the connection is not open (call CONNECT_OPEN first)");
    /* Refused before its arguments are even decoded: a read-only client reaches no control
     * code at all, whatever it sends. */
    if (p->access == UNI_ACCESS_CONTROL && c->ro)
        return reply_error(c, &h, UNI_ERR_ACCESS_DENIED, "control calls are refused on a read-only connection");
    args = calloc(1, p->args_size ? p->args_size : 1);
    if (!args)
        return reply_error(c, &h, UNI_ERR_NO_MEMORY, "out of memory");
    if (wire_decode(msg, len, &h, p->args_proc, args) < 0)
        return reply_error(c, &h, UNI_ERR_RPC_FAILED, "malformed arguments");
    if (p->access == UNI_ACCESS_CONTROL) {
        log_info("control call %s from %s (pid %d uid %d)", p->name, c->peer, (int)c->cred.pid, (int)c->cred.uid);
        /* Every change the call makes is logged under the client's identity (audit_to_log). */
        uni_audit_set_caller(c->peer);
        uni_audit_set_reason(rpc(c)->reason);
    }
    r = p->fn(c, &h, args);
    if (p->access == UNI_ACCESS_CONTROL) {
        uni_audit_set_caller(NULL);
        uni_audit_set_reason(NULL);
    }
    xdr_free(p->args_proc, args);
    return r;
}

int consume_input(client *c) {
    /* Every complete message, in order. */
    while (c->inlen >= 4 && !c->closing) {
        uint32_t be, len;
        /* A client that does not read its replies gets no more until it does (client_paused);
         * what it sent waits in its input, and nothing more is read from it. */
        if (client_paused(c))
            break;
        memcpy(&be, c->in, 4);
        len = ntohl(be);
        if (len < FRAME_MIN_LEN || len > (uint32_t)c->srv->cfg->max_call_bytes) {
            char why[96];
            snprintf(why, sizeof(why), "message length %u outside %d..%ld", len, FRAME_MIN_LEN,
                     c->srv->cfg->max_call_bytes);
            client_drop(c, why);
            return -1;
        }
        if (c->inlen < len)
            break;
        c->since_ns = now_ns(); /* a call: not idle */
        if (dispatch(c, c->in, len) < 0 || c->closing)
            return -1;
        memmove(c->in, c->in + len, c->inlen - len);
        c->inlen -= len;
    }
    return 0;
}

/* All sent: a client that asked to close (CONNECT_CLOSE) is closed now. */
static int rpc_on_flushed(client *c, bool was_sending) {
    (void)was_sending;
    if (c->close_after_flush) {
        client_drop(c, NULL);
        return -1;
    }
    return 0;
}

/* A client that connected but never opened (or never finished TLS), or does not read its replies,
 * within idle_timeout_ms; or an opened one that sent no call for client_idle_timeout_ms. */
static void rpc_on_idle(client *c) {
    const config *cfg = c->srv->cfg;
    uint64_t idle_ms = (now_ns() - c->since_ns) / 1000000;
    if (!rpc(c)->opened && idle_ms > (uint64_t)cfg->idle_timeout_ms)
        client_drop(c, "did not open a connection in time (idle_timeout_ms)");
    else if (rpc(c)->opened && client_sending(c) && idle_ms > (uint64_t)cfg->idle_timeout_ms)
        client_drop(c, "does not read its replies (idle_timeout_ms)");
    else if (rpc(c)->opened && !client_sending(c) && idle_ms > (uint64_t)cfg->client_idle_timeout_ms)
        client_drop(c, "sent no call for client_idle_timeout_ms");
}

void rpc_protocol_init(protocol *p, const config *cfg) {
    *p = (protocol){
        .scheme = "tcp",
        .tls_scheme = "tls",
        .max_clients = cfg->max_clients,
        .max_clients_key = "max_clients",
        .max_ro = cfg->max_ro_clients,
        .max_per_uid = cfg->max_clients_per_uid,
        .out_pause = (size_t)cfg->max_client_queue,
        /* The sweep looks at a client after the shorter of the two timeouts; rpc_on_idle says which applies. */
        .idle_timeout_ms =
            cfg->idle_timeout_ms < cfg->client_idle_timeout_ms ? cfg->idle_timeout_ms : cfg->client_idle_timeout_ms,
        /* Reads of up to 64 KiB; the input holds the largest call (max_call_bytes) and a read more. */
        .in_step = 65536,
        .in_room = 65536,
        .in_max = (size_t)cfg->max_call_bytes + 65536,
        .state_size = sizeof(rpc_state),
        .consume = consume_input,
        .on_flushed = rpc_on_flushed,
        .on_idle = rpc_on_idle,
    };
}
