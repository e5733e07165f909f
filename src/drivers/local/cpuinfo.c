/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parser of /proc/cpuinfo: processor numbers and 'cpu MHz' (x86). Read once per connection. */
#include <math.h>

#include "parsers.h"

int parse_cpuinfo(const char *buf, size_t len, cpuinfo *out) {
    const char *p = buf, *end = buf + len;
    long cur = -1;

    for (unsigned i = 0; i < out->ncpu_max; i++)
        out->mhz[i] = NAN;
    out->nprocessors = 0;
    if (!text_complete(buf, len))
        return -EBADMSG;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p)), *colon, *v, *ke;
        size_t vl;
        if (!eol)
            eol = end;
        colon = memchr(p, ':', (size_t)(eol - p));
        if (colon) {
            ke = colon;
            while (ke > p && (ke[-1] == ' ' || ke[-1] == '\t'))
                ke--;
            v = next_token(colon + 1, eol, &vl);
            if (ke - p == 9 && memcmp(p, "processor", 9) == 0) {
                uint64_t n;
                if (safe_atou64_n(v, vl, &n) < 0 || n > 1u << 20)
                    return -EBADMSG;
                cur = (long)n;
                out->nprocessors++;
            } else if (ke - p == 7 && memcmp(p, "cpu MHz", 7) == 0) {
                double mhz;
                if (cur < 0 || safe_atod_n(v, vl, &mhz) < 0 || mhz < 0)
                    return -EBADMSG;
                if ((unsigned long)cur < out->ncpu_max)
                    out->mhz[cur] = mhz;
            }
        }
        p = eol + 1;
    }
    return out->nprocessors > 0 ? 0 : -EBADMSG;
}
