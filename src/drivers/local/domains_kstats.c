/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's VMs: each VM's KVM statistics (spec Table 2), kept by name between
 * collections. */
#include "domains_internal.h"

/* ---------------------------------------------------------------------------------------------
 * KVM statistics: gathered from a source, then emitted per vCPU, per VM and host-wide
 * ------------------------------------------------------------------------------------------- */

/* A statistic's name for a table kept between samples: rec_intern's (records then refer to it),
 * else a copy the table owns (*@owned: free it); NULL when out of memory. */
const char *keep_name(const char *name, bool *owned) {
    const char *kept = rec_intern(name);
    *owned = !kept;
    return kept ? kept : strdup(name);
}

/* A sample of a kept name: referred to when it is rec_intern's, else copied. */
int rec_u64_kept(uniRecordPtr rec, unsigned metric, int index, const char *name, bool owned, uint64_t v) {
    return (owned ? rec_u64 : rec_u64_interned)(rec, metric, index, name, v);
}

void kstat_set_kind(kstat *e, kvm_stat_kind kind) {
    e->kind = kind;
    /* The exposition types the family by it: an instant or peak value is a gauge, not a counter. */
    if (!e->owned)
        rec_name_set_kind(e->name, kind == KVM_STAT_CUMULATIVE ? REC_NAME_COUNTER : REC_NAME_GAUGE);
}

/* Put entry i in the index (which has room). */
static void kstat_index(kstats *k, size_t i) {
    size_t m = k->nslots - 1, h = str_hash(k->e[i].name) & m;
    while (k->slot[h])
        h = (h + 1) & m;
    k->slot[h] = (uint32_t)i + 1;
}

/* The entry of statistic @name, made on first sight (a VM has tens of statistics, each seen once
 * per vCPU: a hash keeps that linear). */
static kstat *kstat_get(kstats *k, const char *name, kvm_stat_kind kind) {
    kstat *ne;
    /* A source gives its statistics in the same order every collection: the entry after the
     * last one found is most likely the one. */
    if (k->guess < k->n && (k->e[k->guess].name == name || streq(k->e[k->guess].name, name)))
        return &k->e[k->guess++];
    if (k->nslots) {
        size_t m = k->nslots - 1;
        for (size_t h = str_hash(name) & m; k->slot[h]; h = (h + 1) & m)
            if (streq(k->e[k->slot[h] - 1].name, name)) {
                k->guess = k->slot[h];
                return &k->e[k->slot[h] - 1];
            }
    }
    if (2 * (k->n + 1) > k->nslots) {
        size_t ns = k->nslots ? 2 * k->nslots : 256;
        uint32_t *nsl = calloc(ns, sizeof(*nsl));
        if (!nsl)
            return NULL;
        free(k->slot);
        k->slot = nsl;
        k->nslots = ns;
        for (size_t i = 0; i < k->n; i++)
            kstat_index(k, i);
    }
    ne = realloc(k->e, (k->n + 1) * sizeof(*ne));
    if (!ne)
        return NULL;
    k->e = ne;
    ne = &k->e[k->n];
    memset(ne, 0, sizeof(*ne));
    if (!(ne->name = keep_name(name, &ne->owned)))
        return NULL;
    kstat_set_kind(ne, kind);
    if (k->nvcpu &&
        (!(ne->vcpu = calloc(k->nvcpu, sizeof(uint64_t))) || !(ne->vcpu_round = calloc(k->nvcpu, sizeof(uint32_t))))) {
        if (ne->owned)
            free((char *)ne->name);
        free(ne->vcpu);
        return NULL;
    }
    kstat_index(k, k->n++);
    k->guess = k->n;
    return ne;
}

void kstats_cb(void *ud, int vcpu, const char *name, kvm_stat_kind kind, uint64_t value) {
    kstats *k = ud;
    kstat *e;
    if (vcpu >= (int)k->nvcpu)
        return;
    e = kstat_get(k, name, kind);
    if (!e) {
        k->err = -ENOMEM;
        return;
    }
    k->nseen++;
    if (vcpu < 0) {
        e->vm_round = k->round;
        e->vm_value = value;
    } else {
        e->vcpu[vcpu] = value;
        e->vcpu_round[vcpu] = k->round;
    }
}

void kstats_done(kstats *k) {
    for (size_t i = 0; i < k->n; i++) {
        if (k->e[i].owned)
            free((char *)k->e[i].name);
        free(k->e[i].vcpu);
        free(k->e[i].vcpu_round);
    }
    free(k->e);
    free(k->slot);
    memset(k, 0, sizeof(*k));
}

/* A new round of values for @n vCPU slots: the entries stay (made again only when the number of
 * slots changed), their values are forgotten. */
void kstats_begin(kstats *k, unsigned n) {
    if (n != k->nvcpu)
        kstats_done(k);
    k->nvcpu = n;
    k->nseen = 0;
    k->guess = 0;
    k->err = 0;
    if (++k->round == 0) { /* wrapped: no value may look like one of this round */
        for (size_t i = 0; i < k->n; i++) {
            k->e[i].vm_round = 0;
            if (n)
                memset(k->e[i].vcpu_round, 0, n * sizeof(uint32_t));
        }
        k->round = 1;
    }
}

/* dom.kvm.NAME: the VM-scope statistics, and every vCPU statistic summed over the vCPUs (a
 * high-water mark: their maximum), as KVM's debugfs and kvm_stat give them per VM; then
 * dom.vcpu.V.kvm.NAME. */
void kstats_emit(kstats *k, uniRecordPtr rec) {
    for (size_t i = 0; i < k->n; i++) {
        kstat *e = &k->e[i];
        bool any = e->vm_round == k->round;
        uint64_t v = any ? e->vm_value : 0;
        for (unsigned c = 0; c < k->nvcpu; c++)
            if (e->vcpu_round[c] == k->round) {
                v = e->kind == KVM_STAT_PEAK ? (e->vcpu[c] > v ? e->vcpu[c] : v) : v + e->vcpu[c];
                any = true;
            }
        if (any)
            rec_u64_kept(rec, UNI_M_DOM_KVM_NAME, -1, e->name, e->owned, v);
    }
    for (unsigned c = 0; c < k->nvcpu; c++)
        for (size_t i = 0; i < k->n; i++)
            if (k->e[i].vcpu_round[c] == k->round)
                rec_u64_kept(rec, UNI_M_DOM_VCPU_V_KVM_NAME, (int)c, k->e[i].name, k->e[i].owned, k->e[i].vcpu[c]);
    k->nseen = 0; /* emitted once (the values are forgotten at the next kstats_begin) */
}
