/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The compiled catalogue (the catalog/ .def files): metric and view enums, metric groups, the
 * descriptor array and key lookups. */
#pragma once

#include <stdint.h>

#include "uniserver/uniserver.h"
#include "util/util.h"

/* ---- catalogue ---- */
#include "catalog/metrics.def"
#include "catalog/views.def"

enum {
#define UNI_M_ENUM_(e, id, ...) UNI_M_##e = id,
    UNI_METRICS(UNI_M_ENUM_)
#undef UNI_M_ENUM_
};
enum {
#define UNI_M_COUNT_(e, ...) +1
    UNI_NMETRICS = 0 UNI_METRICS(UNI_M_COUNT_)
#undef UNI_M_COUNT_
};

enum {
#define UNI_V_ENUM_(e, ...) UNI_VIEW_##e,
    UNI_VIEWS(UNI_V_ENUM_)
#undef UNI_V_ENUM_
        UNI_NVIEWS
};

/* clang-format off */
#define UNI_GROUPS(G) \
    G(CPU, "cpu") G(FREQ, "freq") G(CONTENTION, "contention") G(MEM, "mem") G(MEMHW, "memhw") \
    G(TEMP, "temp") G(POWER, "power") G(PSI, "psi") G(ERRORS, "errors") G(VMS, "vms") G(DOM, "dom") \
    G(KVM, "kvm") G(SOURCES, "sources") G(DISK, "disk") G(RELIABILITY, "reliability") G(MARGINS, "margins")
/* clang-format on */
typedef enum {
#define UNI_G_ENUM_(e, s) UNI_GROUP_##e,
    UNI_GROUPS(UNI_G_ENUM_)
#undef UNI_G_ENUM_
        UNI_NGROUPS
} uni_group;

extern const uniMetricDesc uni_catalog[UNI_NMETRICS];
extern const uint8_t uni_catalog_group[UNI_NMETRICS];
int uni_group_from_name(const char *s);
/* The placeholder kind of a template segment: 'i' numeric (N V I), 's' string (L C D NAME), 0 none. */
char uni_placeholder_kind(const char *seg, size_t len);
/* Metric id of an exact template key ("host.cpu.N.freq_mhz"), or -1. */
int uni_catalog_find(const char *key);
