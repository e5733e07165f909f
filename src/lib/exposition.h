/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prometheus exposition (classic text and OpenMetrics) of records, with names derived from the
 * catalogue's descriptors by rule. Used by uniserverd's /metrics and by the golden tests. */
#pragma once

#include "internal.h"

#define PROM_NAME_MAX 160

typedef struct {
    char name[PROM_NAME_MAX]; /* family name (no _total/_info) */
    const char *index_label;  /* label of the numeric placeholder (cpu, vcpu, device) */
    const char *name_label;   /* label of the string placeholder (component, dimm, source) */
    char info_label[64];      /* text metrics: the label carrying the text */
    double scale;             /* catalogue unit -> base unit */
    const char *unit;         /* base unit suffix (hertz, seconds, bytes, ratio ...) or NULL */
    int type;                 /* uniMetricKind */
    bool kvm_name;            /* the NAME placeholder is part of the metric name */
    size_t name_pos;          /* where it goes in name */
    bool skip;                /* not exported: a rate beside its counter, an alias in another unit */
} prom_desc;

/* Labels every sample of a record carries (a VM's domain and uuid). */
typedef struct {
    const char *const *keys;
    const char *const *values;
    size_t n;
} prom_labels;

typedef struct {
    uniRecordPtr rec;
    prom_labels labels;
} prom_record;

/* The labels of a VM's series: domain and uuid (for an OpenStack instance, Nova's instance UUID),
 * then project_id and project_name where Nova's metadata gives them. Fills up to PROM_VM_LABELS
 * entries of @keys and @values (pointing into @d); returns how many. */
#define PROM_VM_LABELS 4
size_t prom_vm_labels(const uni_domain_stats *d, const char *keys[PROM_VM_LABELS], const char *values[PROM_VM_LABELS]);

/* Names, units and labels of every descriptor; no two descriptors share a family. */
int prom_map_init(const uniMetricDesc *d, unsigned n, prom_desc **ret);
/* Render records into one exposition (each family once, every series once). */
int prom_render(const prom_record *recs, size_t nrecs, const uniMetricDesc *d, const prom_desc *p, unsigned ndescs,
                bool openmetrics, char **ret, size_t *ret_len);
