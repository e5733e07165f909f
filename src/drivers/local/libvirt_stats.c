/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt's statistics of its domains (virConnectGetAllDomainStats, or the native client's reply
 * read in place) turned into the VMs' records, and the per-domain calls that fill what the
 * statistics lack. */
#include "lib/internal.h"
#include "libvirt_internal.h"

/* Our canonical UUID text as libvirt's 16 bytes; -EINVAL when it is not one. */
static int uuid_parse_bytes(const char *s, unsigned char out[16]) {
    size_t k = 0;
    for (size_t i = 0; s[i] && k < 32; i++) {
        int v;
        if (s[i] == '-')
            continue;
        if (s[i] >= '0' && s[i] <= '9')
            v = s[i] - '0';
        else if (s[i] >= 'a' && s[i] <= 'f')
            v = s[i] - 'a' + 10;
        else
            return -EINVAL;
        out[k / 2] = (unsigned char)(k % 2 ? out[k / 2] | v : v << 4);
        k++;
    }
    return k == 32 ? 0 : -EINVAL;
}

/* ---------------------------------------------------------------------------------------------
 * Statistics
 * ------------------------------------------------------------------------------------------- */

struct lv_stats {
    virDomainStatsRecordPtr *recs; /* libvirt.so's */
    int n;
    lvrpc_raw raw;        /* the native client's: the reply as it came, */
    lvrpc_stats_rec *idx; /* and its records */
    size_t nidx;
    bool native_ok; /* the native call succeeded: its records are every domain */
};

/* The groups the records use: not iothread, memory bandwidth or dirty rate, which cost libvirtd
 * (and QEMU) a query per domain and nothing here reads. A libvirt without a group (VM before 8.9)
 * leaves it out without failing (no ..._ENFORCE_STATS). */
#define LV_GROUPS                                                                                                      \
    (VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_VCPU |          \
     VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK | VIR_DOMAIN_STATS_PERF | VIR_DOMAIN_STATS_VM)

int lv_stats_get(lv_conn *c, lv_stats **ret) {
    lv_stats *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    if (c->rpc) {
        /* The same call as virConnectGetAllDomainStats: no domains named (all of them). Its
         * reply is read in place (a hundred typed parameters per domain, each sample). */
        remote_connect_get_all_domain_stats_args a = {.stats = LV_GROUPS,
                                                      .flags = VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT};
        int r = lvrpc_call(c->rpc, REMOTE_PROC_CONNECT_GET_ALL_DOMAIN_STATS,
                           (xdrproc_t)xdr_remote_connect_get_all_domain_stats_args, &a, (xdrproc_t)lvrpc_xdr_raw,
                           &s->raw, NULL);
        if (r == 0)
            r = lvrpc_stats_index(s->raw.body, s->raw.len, &s->idx, &s->nidx);
        if (r == -ENOMEM) {
            lv_stats_free(s);
            return r;
        }
        s->native_ok = r == 0;
        if (r < 0)
            s->nidx = 0;
        *ret = s;
        return 0;
    }
    /* NOWAIT: a domain busy with a job gives what it can without blocking. */
    s->n = virConnectGetAllDomainStats(c->c, LV_GROUPS, &s->recs, VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
    if (s->n < 0) {
        virResetLastError();
        s->n = 0;
        s->recs = NULL;
    }
    *ret = s;
    return 0;
}

void lv_stats_free(lv_stats *s) {
    if (!s)
        return;
    if (s->recs)
        virDomainStatsRecordListFree(s->recs);
    xdr_free((xdrproc_t)lvrpc_xdr_raw, (char *)&s->raw);
    free(s->idx);
    free(s);
}

int lv_stats_list(lv_conn *c, lv_stats *s, lv_meta_due_fn meta_due, void *ud, lv_dom_info **ret, size_t *ret_n) {
    lv_dom_info *out;

    if (!c->rpc || !s || !s->native_ok)
        return 0;
    lv_meta_take(c);
    out = calloc(s->nidx ? s->nidx : 1, sizeof(*out));
    for (size_t i = 0; out && i < s->nidx; i++) {
        const lvrpc_stats_rec *sr = &s->idx[i];
        remote_nonnull_domain rd = {.name = strndup(sr->name, sr->name_len), .id = sr->id};
        memcpy(rd.uuid, sr->uuid, sizeof(rd.uuid));
        if (lv_info_native(c, &rd, rd.name, meta_due, ud, &out[i]) < 0) {
            lv_infos_free(out, i + 1);
            out = NULL;
        }
    }
    if (!out)
        return -ENOMEM;
    *ret = out;
    *ret_n = s->nidx;
    return 1;
}

static bool param_u64(const virTypedParameter *p, uint64_t *ret) {
    switch (p->type) {
    case VIR_TYPED_PARAM_INT:
        if (p->value.i < 0)
            return false;
        *ret = (uint64_t)p->value.i;
        return true;
    case VIR_TYPED_PARAM_UINT:
        *ret = p->value.ui;
        return true;
    case VIR_TYPED_PARAM_LLONG:
        if (p->value.l < 0)
            return false;
        *ret = (uint64_t)p->value.l;
        return true;
    case VIR_TYPED_PARAM_ULLONG:
        *ret = p->value.ul;
        return true;
    case VIR_TYPED_PARAM_BOOLEAN:
        *ret = p->value.b ? 1 : 0;
        return true;
    default:
        return false;
    }
}

const char *lv_state_name(int st) {
    static const char *const names[] = {"no state", "running",  "blocked", "paused",
                                        "shutdown", "shut off", "crashed", "pmsuspended"};
    return st >= 0 && (size_t)st < ELEMENTSOF(names) ? names[st] : "no state";
}

/* "N.rest" -> N and a pointer to rest; false when not a number followed by '.'. */
static bool split_index(const char *s, unsigned *ret_n, const char **ret_rest) {
    const char *dot = strchr(s, '.');
    uint64_t v;
    if (!dot || safe_atou64_n(s, (size_t)(dot - s), &v) < 0 || v > 65535)
        return false;
    *ret_n = (unsigned)v;
    *ret_rest = dot + 1;
    return true;
}

/* libvirt's KVM statistics: "NAME.sum" (cumulative), ".cur" (instant), ".max" (peak). */
static bool kvm_suffix(const char *s, char *name, size_t len, kvm_stat_kind *ret_kind) {
    size_t n = strlen(s);
    const char *dot = n > 4 ? s + n - 4 : NULL;
    if (!dot || *dot != '.' || (size_t)(dot - s) >= len)
        return false;
    if (streq(dot, ".sum"))
        *ret_kind = KVM_STAT_CUMULATIVE;
    else if (streq(dot, ".cur"))
        *ret_kind = KVM_STAT_INSTANT;
    else if (streq(dot, ".max"))
        *ret_kind = KVM_STAT_PEAK;
    else
        return false;
    memcpy(name, s, (size_t)(dot - s));
    name[dot - s] = 0;
    return !memchr(name, '.', (size_t)(dot - s));
}

/* Is typed parameter @k one of the KVM statistics (vm.NAME.KIND, vcpu.V.NAME.KIND)? Its vCPU
 * (-1: VM scope), name and kind. */
static bool kvm_param(const char *k, int *ret_vcpu, char *name, size_t len, kvm_stat_kind *ret_kind) {
    const char *rest;
    unsigned n;
    if (k[0] == 'v' && k[1] == 'm' && k[2] == '.') {
        *ret_vcpu = -1;
        return kvm_suffix(k + 3, name, len, ret_kind);
    }
    if (startswith(k, "vcpu.") && k[5] >= '0' && k[5] <= '9' && split_index(k + 5, &n, &rest) &&
        kvm_suffix(rest, name, len, ret_kind)) {
        *ret_vcpu = (int)n;
        return true;
    }
    return false;
}

typedef struct {
    uniRecordPtr rec;
    bool had_cpu, had_mem, had_vcpu, had_net, had_disk, had_perf, had_state, had_count, had_balloon;
} fill_ctx;

static void fill_param(fill_ctx *f, const virTypedParameter *p, kvm_stat_cb cb, void *ud) {
    uniRecordPtr rec = f->rec;
    const char *k = p->field, *rest;
    char name[VIR_TYPED_PARAM_FIELD_LENGTH];
    unsigned n;
    uint64_t v;
    kvm_stat_kind kind;
    int vcpu;

    /* Most parameters are KVM statistics (vm.NAME.sum, vcpu.V.NAME.cur): those first. */
    if (kvm_param(k, &vcpu, name, sizeof(name), &kind)) {
        if (cb && param_u64(p, &v))
            cb(ud, vcpu, name, kind, v);
    } else if (startswith(k, "vcpu.") && split_index(k + 5, &n, &rest)) {
        if (streq(rest, "time") && param_u64(p, &v) && !f->had_vcpu)
            rec_u64(rec, UNI_M_DOM_VCPU_V_TIME_MS, (int)n, NULL, v / 1000000);
    } else if (streq(k, "state.state") && p->type == VIR_TYPED_PARAM_INT) {
        if (!f->had_state)
            rec_str(rec, UNI_M_DOM_STATE, -1, NULL, lv_state_name(p->value.i));
    } else if (streq(k, "cpu.time") && param_u64(p, &v)) {
        if (!f->had_cpu)
            rec_u64(rec, UNI_M_DOM_CPU_TIME_MS, -1, NULL, v / 1000000);
    } else if (streq(k, "balloon.current") && param_u64(p, &v)) {
        if (!f->had_balloon)
            rec_dbl(rec, UNI_M_DOM_MEM_USAGE_MB, -1, NULL, (double)v / 1024.0);
    } else if (streq(k, "balloon.rss") && param_u64(p, &v)) {
        if (!f->had_mem) {
            rec_dbl(rec, UNI_M_DOM_MEM_MB, -1, NULL, (double)v / 1024.0);
            rec_dbl(rec, UNI_M_DOM_MEM_RESIDENT_MB, -1, NULL, (double)v / 1024.0);
        }
    } else if (streq(k, "vcpu.current") && param_u64(p, &v)) {
        if (!f->had_count)
            rec_u64(rec, UNI_M_DOM_CPU_COUNT, -1, NULL, v);
    } else if (startswith(k, "net.") && !f->had_net && split_index(k + 4, &n, &rest)) {
        static const struct {
            const char *key;
            unsigned m;
        } map[] = {{"rx.bytes", UNI_M_DOM_NET_I_RX_BYTES},
                   {"rx.pkts", UNI_M_DOM_NET_I_RX_PACKETS},
                   {"tx.bytes", UNI_M_DOM_NET_I_TX_BYTES},
                   {"tx.pkts", UNI_M_DOM_NET_I_TX_PACKETS}};
        if (streq(rest, "name") && p->type == VIR_TYPED_PARAM_STRING)
            rec_str(rec, UNI_M_DOM_NET_I_NAME, (int)n, NULL, p->value.s);
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
            if (streq(rest, map[i].key) && param_u64(p, &v))
                rec_u64(rec, map[i].m, (int)n, NULL, v);
    } else if (startswith(k, "block.") && !f->had_disk && split_index(k + 6, &n, &rest)) {
        static const struct {
            const char *key;
            unsigned m;
        } map[] = {{"rd.bytes", UNI_M_DOM_DISK_I_READ_BYTES},
                   {"rd.reqs", UNI_M_DOM_DISK_I_READ_REQUESTS},
                   {"wr.bytes", UNI_M_DOM_DISK_I_WRITE_BYTES},
                   {"wr.reqs", UNI_M_DOM_DISK_I_WRITE_REQUESTS},
                   {"errors", UNI_M_DOM_DISK_I_ERRORS},
                   {"capacity", UNI_M_DOM_DISK_I_CAPACITY_BYTES},
                   {"allocation", UNI_M_DOM_DISK_I_ALLOCATION_BYTES},
                   {"physical", UNI_M_DOM_DISK_I_PHYSICAL_BYTES}};
        if (streq(rest, "name") && p->type == VIR_TYPED_PARAM_STRING)
            rec_str(rec, UNI_M_DOM_DISK_I_DEVICE, (int)n, NULL, p->value.s);
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
            if (streq(rest, map[i].key) && param_u64(p, &v))
                rec_u64(rec, map[i].m, (int)n, NULL, v);
    } else if (startswith(k, "perf.") && !f->had_perf && param_u64(p, &v)) {
        static const struct {
            const char *key;
            unsigned m;
        } map[] = {{"perf.cycles", UNI_M_DOM_PERF_CYCLES},
                   {"perf.instructions", UNI_M_DOM_PERF_INSTRUCTIONS},
                   {"perf.cache_references", UNI_M_DOM_PERF_CACHE_REFERENCES},
                   {"perf.cache_misses", UNI_M_DOM_PERF_CACHE_MISSES}};
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
            if (streq(k, map[i].key))
                rec_u64(rec, map[i].m, -1, NULL, v);
    }
}

/* ---- per-domain calls, either way ---- */

static int dom_info(lv_conn *c, const lv_dom *d, virDomainInfo *info) {
    remote_domain_get_info_args a;
    remote_domain_get_info_ret r = {0};
    if (!c->rpc)
        return virDomainGetInfo(d->d, info);
    a.dom = *d->rd;
    if (lvrpc_call(c->rpc, REMOTE_PROC_DOMAIN_GET_INFO, (xdrproc_t)xdr_remote_domain_get_info_args, &a,
                   (xdrproc_t)xdr_remote_domain_get_info_ret, &r, NULL) < 0)
        return -1;
    *info = (virDomainInfo){
        .state = r.state, .maxMem = r.maxMem, .memory = r.memory, .nrVirtCpu = r.nrVirtCpu, .cpuTime = r.cpuTime};
    return 0;
}

static int dom_memory_stats(lv_conn *c, const lv_dom *d, virDomainMemoryStatStruct *ms, unsigned n) {
    remote_domain_memory_stats_args a;
    remote_domain_memory_stats_ret r;
    int k = 0;
    if (!c->rpc)
        return virDomainMemoryStats(d->d, ms, n, 0);
    a = (remote_domain_memory_stats_args){.dom = *d->rd, .maxStats = n, .flags = 0};
    memset(&r, 0, sizeof(r));
    if (lvrpc_call(c->rpc, REMOTE_PROC_DOMAIN_MEMORY_STATS, (xdrproc_t)xdr_remote_domain_memory_stats_args, &a,
                   (xdrproc_t)xdr_remote_domain_memory_stats_ret, &r, NULL) < 0)
        return -1;
    for (; (unsigned)k < r.stats.stats_len && (unsigned)k < n; k++)
        ms[k] = (virDomainMemoryStatStruct){.tag = r.stats.stats_val[k].tag, .val = r.stats.stats_val[k].val};
    xdr_free((xdrproc_t)xdr_remote_domain_memory_stats_ret, (char *)&r);
    return k;
}

static int dom_is_active(lv_conn *c, const lv_dom *d) {
    /* A domain's id comes with it on the wire (from the list, the lookup or the statistics
     * record); libvirt's virDomainIsActive answers from the same id (-1: inactive) one round
     * trip later. */
    if (c->rpc)
        return d->rd->id >= 0;
    return virDomainIsActive(d->d);
}

/* The number of the host's CPUs as libvirt counts them (the width of its CPU maps). */
static int node_ncpus(lv_conn *c, const lv_dom *d) {
    remote_node_get_cpu_map_args a = {.need_map = 0, .need_online = 0, .flags = 0};
    remote_node_get_cpu_map_ret r;
    int n;
    if (!c->rpc)
        return virNodeGetCPUMap(virDomainGetConnect(d->d), NULL, NULL, 0);
    memset(&r, 0, sizeof(r));
    if (lvrpc_call(c->rpc, REMOTE_PROC_NODE_GET_CPU_MAP, (xdrproc_t)xdr_remote_node_get_cpu_map_args, &a,
                   (xdrproc_t)xdr_remote_node_get_cpu_map_ret, &r, NULL) < 0)
        return -1;
    n = r.ret;
    xdr_free((xdrproc_t)xdr_remote_node_get_cpu_map_ret, (char *)&r);
    return n;
}

static int dom_vcpus(lv_conn *c, const lv_dom *d, virVcpuInfo *vi, int maxinfo, unsigned char *maps, int maplen) {
    remote_domain_get_vcpus_args a;
    remote_domain_get_vcpus_ret r;
    int n;
    if (!c->rpc)
        return virDomainGetVcpus(d->d, vi, maxinfo, maps, maplen);
    a = (remote_domain_get_vcpus_args){.dom = *d->rd, .maxinfo = maxinfo, .maplen = maplen};
    memset(&r, 0, sizeof(r));
    if (lvrpc_call(c->rpc, REMOTE_PROC_DOMAIN_GET_VCPUS, (xdrproc_t)xdr_remote_domain_get_vcpus_args, &a,
                   (xdrproc_t)xdr_remote_domain_get_vcpus_ret, &r, NULL) < 0)
        return -1;
    /* libvirt's client refuses more than it asked for, as here. */
    if (r.info.info_len > (u_int)maxinfo || r.cpumaps.cpumaps_len > (u_int)maxinfo * (u_int)maplen) {
        xdr_free((xdrproc_t)xdr_remote_domain_get_vcpus_ret, (char *)&r);
        return -1;
    }
    n = (int)r.info.info_len;
    for (int i = 0; i < n; i++)
        vi[i] = (virVcpuInfo){.number = r.info.info_val[i].number,
                              .state = r.info.info_val[i].state,
                              .cpuTime = r.info.info_val[i].cpu_time,
                              .cpu = r.info.info_val[i].cpu};
    memset(maps, 0, (size_t)maxinfo * (size_t)maplen);
    memcpy(maps, r.cpumaps.cpumaps_val, r.cpumaps.cpumaps_len);
    xdr_free((xdrproc_t)xdr_remote_domain_get_vcpus_ret, (char *)&r);
    return n;
}

static void reset_error(lv_conn *c) {
    if (!c->rpc)
        virResetLastError();
}

/* Per-domain calls for what the bulk statistics lacked (libvirt's test driver gives only the
 * state in bulk). */
static void fill_fallback(lv_conn *c, const lv_dom *d, fill_ctx *f) {
    uniRecordPtr rec = f->rec;
    virDomainInfo info;
    virDomainMemoryStatStruct ms[VIR_DOMAIN_MEMORY_STAT_NR];
    int nms;

    /* A round trip to libvirtd per call: only for what the bulk statistics did not give. */
    if ((!rec_has(rec, UNI_M_DOM_STATE) || !rec_has(rec, UNI_M_DOM_CPU_TIME_MS) || !rec_has(rec, UNI_M_DOM_CPU_COUNT) ||
         !rec_has(rec, UNI_M_DOM_MEM_USAGE_MB)) &&
        dom_info(c, d, &info) == 0) {
        if (!rec_has(rec, UNI_M_DOM_STATE))
            rec_str(rec, UNI_M_DOM_STATE, -1, NULL, lv_state_name(info.state));
        if (!rec_has(rec, UNI_M_DOM_CPU_TIME_MS))
            rec_u64(rec, UNI_M_DOM_CPU_TIME_MS, -1, NULL, info.cpuTime / 1000000);
        if (!rec_has(rec, UNI_M_DOM_CPU_COUNT))
            rec_u64(rec, UNI_M_DOM_CPU_COUNT, -1, NULL, info.nrVirtCpu);
        if (!rec_has(rec, UNI_M_DOM_MEM_USAGE_MB))
            rec_dbl(rec, UNI_M_DOM_MEM_USAGE_MB, -1, NULL, (double)info.memory / 1024.0);
    }
    /* An inactive domain has no memory statistics: not asked (a round trip each sample). */
    if (!rec_has(rec, UNI_M_DOM_MEM_MB) && dom_is_active(c, d) == 1 &&
        (nms = dom_memory_stats(c, d, ms, VIR_DOMAIN_MEMORY_STAT_NR)) > 0)
        for (int i = 0; i < nms; i++)
            if (ms[i].tag == VIR_DOMAIN_MEMORY_STAT_RSS) {
                rec_dbl(rec, UNI_M_DOM_MEM_MB, -1, NULL, (double)ms[i].val / 1024.0);
                rec_dbl(rec, UNI_M_DOM_MEM_RESIDENT_MB, -1, NULL, (double)ms[i].val / 1024.0);
            }
    if (!rec_has(rec, UNI_M_DOM_VCPU_V_CPU) && dom_is_active(c, d) == 1) {
        int ncpus = node_ncpus(c, d);
        virVcpuInfo vi[256];
        size_t maplen = ncpus > 0 ? (size_t)VIR_CPU_MAPLEN(ncpus) : 0;
        unsigned char *maps = maplen ? calloc(ELEMENTSOF(vi), maplen) : NULL;
        int nv = maps ? dom_vcpus(c, d, vi, ELEMENTSOF(vi), maps, (int)maplen) : -1;
        for (int i = 0; i < nv; i++) {
            char list[4096];
            if (!rec_has(rec, UNI_M_DOM_VCPU_V_TIME_MS) || !f->had_vcpu)
                rec_u64(rec, UNI_M_DOM_VCPU_V_TIME_MS, (int)vi[i].number, NULL, vi[i].cpuTime / 1000000);
            if (vi[i].cpu >= 0)
                rec_u64(rec, UNI_M_DOM_VCPU_V_CPU, (int)vi[i].number, NULL, (uint64_t)vi[i].cpu);
            /* libvirt's cpumap: bit c of byte c/8 is CPU c, as our bitmaps. */
            if (format_cpu_list(maps + (size_t)i * maplen, (unsigned)ncpus, list, sizeof(list)) >= 0)
                rec_str(rec, UNI_M_DOM_VCPU_V_PINNING, (int)vi[i].number, NULL, list);
        }
        free(maps);
    }
    reset_error(c);
}

/* A typed parameter's number from the wire in libvirt's form (false for a string). */
static bool value_from_raw(const lvrpc_param *w, virTypedParameter *p) {
    p->type = w->type;
    switch (w->type) {
    case VIR_TYPED_PARAM_INT:
        p->value.i = w->v.i;
        return true;
    case VIR_TYPED_PARAM_UINT:
        p->value.ui = w->v.ui;
        return true;
    case VIR_TYPED_PARAM_LLONG:
        p->value.l = w->v.l;
        return true;
    case VIR_TYPED_PARAM_ULLONG:
        p->value.ul = w->v.ul;
        return true;
    case VIR_TYPED_PARAM_DOUBLE:
        p->value.d = w->v.d;
        return true;
    case VIR_TYPED_PARAM_BOOLEAN:
        p->value.b = (char)(w->v.b != 0);
        return true;
    default:
        return false;
    }
}

/* A typed parameter from the wire in libvirt's form, for fill_param: a string value is copied
 * to @sbuf, or to *@heap (free it) when longer. False for a name libvirt's own client refuses
 * (VIR_TYPED_PARAM_FIELD_LENGTH bytes or more) and when out of memory. */
static bool param_from_raw(const lvrpc_param *w, virTypedParameter *p, char *sbuf, size_t sbuflen, char **heap) {
    if (w->field_len >= sizeof(p->field))
        return false;
    memcpy(p->field, w->field, w->field_len);
    p->field[w->field_len] = 0;
    switch (w->type) {
    case VIR_TYPED_PARAM_STRING:
        p->type = w->type;
        if (w->v.s.len < sbuflen)
            p->value.s = sbuf;
        else if (!(p->value.s = *heap = malloc((size_t)w->v.s.len + 1)))
            return false;
        memcpy(p->value.s, w->v.s.p, w->v.s.len);
        p->value.s[w->v.s.len] = 0;
        return true;
    default:
        return value_from_raw(w, p);
    }
}

/* What the native client learnt of a domain's statistics: libvirt sends the same parameters in
 * the same order every time, so a parameter is recognised by comparing its name with the one at
 * its position last time, and a KVM statistic goes straight to @cb under its kept name. */
typedef struct {
    const char *field; /* rec_intern's (every VM's are the same few names), or NULL */
    uint32_t len;
    int vcpu;         /* a KVM statistic's vCPU (-1: VM scope), */
    const char *name; /* and name (rec_intern's); NULL: another parameter */
    kvm_stat_kind kind;
} lv_slot;

struct lv_layout {
    lv_slot *s;
    size_t n;
};

void lv_layout_free(lv_layout *l) {
    if (!l)
        return;
    free(l->s);
    free(l);
}

/* Slot @k of @l for parameter @w (made or made again when the name differs); NULL when it cannot
 * be kept. */
static const lv_slot *layout_slot(lv_layout *l, uint32_t k, const lvrpc_param *w) {
    lv_slot *sl;
    char name[VIR_TYPED_PARAM_FIELD_LENGTH];
    if (w->field_len >= VIR_TYPED_PARAM_FIELD_LENGTH)
        return NULL;
    if (k >= l->n) {
        lv_slot *ns = realloc(l->s, (k + 1) * sizeof(*ns));
        if (!ns)
            return NULL;
        memset(ns + l->n, 0, (k + 1 - l->n) * sizeof(*ns));
        l->s = ns;
        l->n = k + 1;
    }
    sl = &l->s[k];
    if (sl->field && sl->len == w->field_len && !memcmp(sl->field, w->field, w->field_len))
        return sl;
    memcpy(name, w->field, w->field_len);
    name[w->field_len] = 0;
    if (!(sl->field = rec_intern(name)))
        return NULL;
    sl->len = w->field_len;
    sl->name = kvm_param(sl->field, &sl->vcpu, name, sizeof(name), &sl->kind) ? rec_intern(name) : NULL;
    return sl;
}

/* A parameter's value as an unsigned count, as param_u64 takes it. */
static bool raw_u64(const lvrpc_param *w, uint64_t *ret) {
    virTypedParameter p;
    return value_from_raw(w, &p) && param_u64(&p, ret);
}

static int fill_native(lv_conn *c, lv_stats *st, const char *uuid, fill_ctx *f, kvm_stat_cb cb, void *ud,
                       lv_layout **layout) {
    remote_domain_lookup_by_uuid_args a;
    remote_domain_lookup_by_uuid_ret r;
    lv_dom d = {0};

    /* The 16 bytes the wire carries, once; each record is then one memcmp. */
    if (uuid_parse_bytes(uuid, (unsigned char *)a.uuid) < 0)
        return 0;
    for (size_t i = 0; st && i < st->nidx; i++) {
        const lvrpc_stats_rec *sr = &st->idx[i];
        remote_nonnull_domain rd = {.id = sr->id};
        size_t pos = sr->params;
        char sbuf[1024];
        if (memcmp(sr->uuid, a.uuid, sizeof(a.uuid)))
            continue;
        if (layout && !*layout)
            *layout = calloc(1, sizeof(**layout));
        for (uint32_t k = 0; k < sr->nparams; k++) {
            lvrpc_param w;
            virTypedParameter p;
            _cleanup_free_ char *heap = NULL;
            const lv_slot *sl;
            uint64_t v;
            lvrpc_param_at(st->raw.body, &pos, &w);
            if (layout && *layout && (sl = layout_slot(*layout, k, &w)) && sl->name) {
                if (cb && raw_u64(&w, &v))
                    cb(ud, sl->vcpu, sl->name, sl->kind, v);
            } else if (param_from_raw(&w, &p, sbuf, sizeof(sbuf), &heap))
                fill_param(f, &p, cb, ud);
        }
        memcpy(rd.uuid, sr->uuid, sizeof(rd.uuid));
        if (!(rd.name = strndup(sr->name, sr->name_len)))
            return -ENOMEM;
        d.rd = &rd;
        fill_fallback(c, &d, f);
        free(rd.name);
        return 1;
    }
    /* Not in the statistics (busy with a job, or they failed): what the per-domain calls give. */
    memset(&r, 0, sizeof(r));
    if (lvrpc_call(c->rpc, REMOTE_PROC_DOMAIN_LOOKUP_BY_UUID, (xdrproc_t)xdr_remote_domain_lookup_by_uuid_args, &a,
                   (xdrproc_t)xdr_remote_domain_lookup_by_uuid_ret, &r, NULL) < 0)
        return 0;
    d.rd = &r.dom;
    fill_fallback(c, &d, f);
    xdr_free((xdrproc_t)xdr_remote_domain_lookup_by_uuid_ret, (char *)&r);
    return 0;
}

int lv_fill(lv_conn *c, lv_stats *st, const char *uuid, uniRecordPtr rec, kvm_stat_cb cb, void *ud,
            lv_layout **layout) {
    fill_ctx f = {.rec = rec};
    lv_dom d = {0};
    int found = 0;

    f.had_state = rec_has(rec, UNI_M_DOM_STATE);
    f.had_cpu = rec_has(rec, UNI_M_DOM_CPU_TIME_MS);
    f.had_mem = rec_has(rec, UNI_M_DOM_MEM_MB);
    f.had_balloon = rec_has(rec, UNI_M_DOM_MEM_USAGE_MB);
    f.had_count = rec_has(rec, UNI_M_DOM_CPU_COUNT);
    f.had_vcpu = rec_has(rec, UNI_M_DOM_VCPU_V_TIME_MS);
    f.had_net = rec_has(rec, UNI_M_DOM_NET_I_NAME);
    f.had_disk = rec_has(rec, UNI_M_DOM_DISK_I_DEVICE);
    f.had_perf = rec_has(rec, UNI_M_DOM_PERF_CYCLES);
    if (c->rpc)
        return fill_native(c, st, uuid, &f, cb, ud, layout);
    for (int i = 0; st && i < st->n && !d.d; i++) {
        char u[VIR_UUID_STRING_BUFLEN], cu[UUID_STRING_LEN + 1];
        if (virDomainGetUUIDString(st->recs[i]->dom, u) == 0 && uuid_canonical(u, cu) == 0 && streq(cu, uuid)) {
            d.d = st->recs[i]->dom;
            for (int k = 0; k < st->recs[i]->nparams; k++)
                fill_param(&f, &st->recs[i]->params[k], cb, ud);
            found = 1;
        }
    }
    if (!d.d) {
        d.d = virDomainLookupByUUIDString(c->c, uuid);
        if (!d.d) {
            virResetLastError();
            return 0;
        }
        fill_fallback(c, &d, &f);
        virDomainFree(d.d);
        return 0;
    }
    fill_fallback(c, &d, &f);
    return found;
}
