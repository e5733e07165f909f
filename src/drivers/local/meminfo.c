/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parser of /proc/meminfo: the fields the spec's memory metrics need, all in kB. */
#include "parsers.h"

int parse_meminfo(const char *buf, size_t len, meminfo *out) {
    const char *p = buf, *end = buf + len;
    bool have_total = false, have_free = false, have_sf = false;

    memset(out, 0, sizeof(*out));
    if (!text_complete(buf, len))
        return -EBADMSG;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *colon;
        uint64_t *dst = NULL;
        bool *flag = NULL;
        size_t nl, vl, ul;
        const char *v, *u;

        if (!eol)
            eol = end;
        colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon)
            return -EBADMSG;
        nl = (size_t)(colon - p);
#define FIELD(name, field, fl)                                                                                         \
    else if (nl == sizeof(name) - 1 && memcmp(p, name, nl) == 0) {                                                     \
        dst = &out->field;                                                                                             \
        flag = fl;                                                                                                     \
    }
        if (0) {
        }
        FIELD("MemTotal", mem_total_kb, &have_total)
        FIELD("MemFree", mem_free_kb, &have_free)
        FIELD("MemAvailable", mem_available_kb, &out->have_available)
        FIELD("Cached", cached_kb, &out->have_cached)
        FIELD("SwapTotal", swap_total_kb, &out->have_swap)
        FIELD("SwapFree", swap_free_kb, &have_sf)
#undef FIELD
        if (dst) {
            v = next_token(colon + 1, eol, &vl);
            u = next_token(v + vl, eol, &ul);
            if (safe_atou64_n(v, vl, dst) < 0 || ul != 2 || memcmp(u, "kB", 2) != 0)
                return -EBADMSG;
            *flag = true;
        }
        p = eol + 1;
    }
    if (!have_total || !have_free || out->mem_total_kb == 0)
        return -EBADMSG;
    if (out->have_swap && !have_sf)
        return -EBADMSG;
    return 0;
}
