/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The compiled metric catalogue (expanded from catalog/metrics.def) and selections over it. */
#include <pthread.h>

#include "internal.h"

#define GS_CPU "cpu"
#define GS_FREQ "freq"
#define GS_CONTENTION "contention"
#define GS_MEM "mem"
#define GS_MEMHW "memhw"
#define GS_TEMP "temp"
#define GS_POWER "power"
#define GS_PSI "psi"
#define GS_ERRORS "errors"
#define GS_VMS "vms"
#define GS_DOM "dom"
#define GS_KVM "kvm"
#define GS_SOURCES "sources"
#define GS_DISK "disk"
#define GS_RELIABILITY "reliability"
#define GS_MARGINS "margins"

const uniMetricDesc uni_catalog[UNI_NMETRICS] = {
#define UNI_M_DESC_(e, id_, key_, kind_, unit_, group_, spec_, source_, help_)                                         \
    [id_] = {.id = id_,                                                                                                \
             .key = key_,                                                                                              \
             .kind = UNI_METRIC_##kind_,                                                                               \
             .unit = unit_,                                                                                            \
             .group = GS_##group_,                                                                                     \
             .spec = spec_,                                                                                            \
             .source = source_,                                                                                        \
             .help = help_},
    UNI_METRICS(UNI_M_DESC_)
#undef UNI_M_DESC_
};

const uint8_t uni_catalog_group[UNI_NMETRICS] = {
#define UNI_M_GROUP_(e, id_, key_, kind_, unit_, group_, ...) [id_] = UNI_GROUP_##group_,
    UNI_METRICS(UNI_M_GROUP_)
#undef UNI_M_GROUP_
};

static const char *const group_names[UNI_NGROUPS] = {
#define UNI_G_NAME_(e, s) [UNI_GROUP_##e] = s,
    UNI_GROUPS(UNI_G_NAME_)
#undef UNI_G_NAME_
};

int uni_group_from_name(const char *s) {
    for (unsigned g = 0; g < UNI_NGROUPS; g++)
        if (streq(s, group_names[g]))
            return (int)g;
    return -1;
}

char uni_placeholder_kind(const char *seg, size_t len) {
    if (len == 1 && (seg[0] == 'N' || seg[0] == 'V' || seg[0] == 'I'))
        return 'i';
    if (len == 1 && (seg[0] == 'L' || seg[0] == 'C' || seg[0] == 'D'))
        return 's';
    if (len == 4 && memcmp(seg, "NAME", 4) == 0)
        return 's';
    return 0;
}

int uni_catalog_find(const char *key) {
    for (unsigned i = 0; i < UNI_NMETRICS; i++)
        if (streq(uni_catalog[i].key, key))
            return (int)i;
    return -1;
}

void uni_select_add(uni_select *s, unsigned metric) {
    s->metrics[metric / 8] |= (uint8_t)(1u << (metric % 8));
    s->groups |= 1u << uni_catalog_group[metric];
}

static bool is_host_metric(unsigned i) {
    return !startswith(uni_catalog[i].key, "dom.");
}

/* Is metric @i in the scope of a host record (dom false) or of a domain record (dom true)? */
static bool in_scope(unsigned i, bool dom) {
    return is_host_metric(i) != dom;
}

/* Everything of the host's or a domain's record: made once (every sample of uniserverd asks). */
static uni_select all_sel[2];
static pthread_once_t all_once = PTHREAD_ONCE_INIT;

static void all_init(void) {
    for (int dom = 0; dom < 2; dom++)
        for (unsigned i = 0; i < UNI_NMETRICS; i++)
            if (in_scope(i, dom)) {
                uni_select_add(&all_sel[dom], i);
                all_sel[dom].whole[i / 8] |= (uint8_t)(1u << (i % 8));
            }
}

static void select_all(uni_select *s, bool dom) {
    pthread_once(&all_once, all_init);
    *s = all_sel[dom];
}

/* Does the prefix @p (dotted, possibly naming instances: "host.cpu.3.") cover template @key?
 * ret_concrete is set when the prefix fixes a placeholder's value, so samples need filtering. */
static bool prefix_matches(const char *p, const char *key, bool *ret_concrete) {
    const char *a = p, *b = key;

    *ret_concrete = false;
    while (*a) {
        const char *ae = strchrnul(a, '.'), *be = strchrnul(b, '.');
        size_t al = (size_t)(ae - a), bl = (size_t)(be - b);
        bool last = *ae == 0;

        if (*b == 0)
            return false;
        if (uni_placeholder_kind(b, bl) && !(al == bl && memcmp(a, b, al) == 0)) {
            if (al == 0 && last)
                return true;
            *ret_concrete = true;
        } else if (last) {
            /* A partial last segment matches the start of a name: "host.mem.avail". */
            return strncmp(b, a, al) == 0;
        } else if (al != bl || memcmp(a, b, al) != 0)
            return false;
        if (last)
            return true;
        a = ae + 1;
        b = *be ? be + 1 : be;
    }
    return true;
}

static int select_parse(uni_select *s, const char *const *list, bool dom) {
    memset(s, 0, sizeof(*s));
    if (!list) {
        select_all(s, dom);
        return 0;
    }
    s->list = list;
    for (; *list; list++) {
        const char *item = *list;
        int g = uni_group_from_name(item);
        bool any = false, any_concrete = false;

        if (g >= 0) {
            for (unsigned i = 0; i < UNI_NMETRICS; i++)
                if (uni_catalog_group[i] == g && in_scope(i, dom)) {
                    uni_select_add(s, i);
                    s->whole[i / 8] |= (uint8_t)(1u << (i % 8));
                }
            continue;
        }
        for (unsigned i = 0; i < UNI_NMETRICS; i++) {
            bool concrete;
            if (in_scope(i, dom) && prefix_matches(item, uni_catalog[i].key, &concrete)) {
                uni_select_add(s, i);
                if (!concrete)
                    s->whole[i / 8] |= (uint8_t)(1u << (i % 8));
                any = true;
                any_concrete |= concrete;
            }
        }
        if (!any) {
            uni_select_done(s);
            if (dom)
                uni_error_set(UNI_ERR_UNKNOWN_METRIC,
                              "'%s' is neither a domain group (dom, kvm) nor the prefix of a domain metric key (dom.)",
                              item);
            else
                uni_error_set(UNI_ERR_UNKNOWN_METRIC,
                              "'%s' is neither a metric group nor the prefix of a host metric key%s", item,
                              startswith(item, "dom") ? " (dom.* keys are per domain, not in the host record)" : "");
            return -1;
        }
        if (any_concrete) {
            char **np = realloc(s->prefixes, (s->nprefixes + 1) * sizeof(char *));
            if (!np || !(np[s->nprefixes] = strdup(item))) {
                s->prefixes = np ? np : s->prefixes;
                uni_select_done(s);
                uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
                return -1;
            }
            s->prefixes = np;
            s->nprefixes++;
        }
    }
    return 0;
}

int uni_select_parse(uni_select *s, const char *const *list) {
    return select_parse(s, list, false);
}

int uni_select_parse_domain(uni_select *s, const char *const *list) {
    return select_parse(s, list, true);
}

void uni_select_done(uni_select *s) {
    for (size_t i = 0; i < s->nprefixes; i++)
        free(s->prefixes[i]);
    free(s->prefixes);
    s->prefixes = NULL;
    s->nprefixes = 0;
}
