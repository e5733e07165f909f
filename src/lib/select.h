/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Selections: which metrics (and which instances) a caller asked for, compiled from groups and
 * key prefixes. */
#pragma once

#include "lib/catalog.h"

/* ---- selections ---- */
#define UNI_BITMAP_BYTES(n) (((n) + 7) / 8)
typedef struct {
    uint8_t metrics[UNI_BITMAP_BYTES(UNI_NMETRICS)]; /* wanted metric ids */
    uint8_t whole[UNI_BITMAP_BYTES(UNI_NMETRICS)];   /* wanted for every instance */
    uint32_t groups;                                 /* groups of the wanted metrics */
    char **prefixes; /* instance-specific prefixes ("host.cpu.3."): samples are filtered by key */
    size_t nprefixes;
    const char *const *list; /* the caller's list as given (NULL: everything), for the wire */
} uni_select;

static inline bool uni_select_has(const uni_select *s, unsigned metric) {
    return s->metrics[metric / 8] & (1u << (metric % 8));
}
static inline bool uni_select_group(const uni_select *s, unsigned g) {
    return s->groups & (1u << g);
}
void uni_select_add(uni_select *s, unsigned metric);
/* Build from a caller's list of groups and prefixes; -1 with UNI_ERR_UNKNOWN_METRIC on a name
 * that matches nothing. */
int uni_select_parse(uni_select *s, const char *const *list);
void uni_select_done(uni_select *s);
