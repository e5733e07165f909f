/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsers of /proc/loadavg and the PSI files /proc/pressure/{cpu,memory,io}. */
#include "parsers.h"

int parse_loadavg(const char *buf, size_t len, loadavg *out) {
    const char *p = buf, *end = buf + len, *tok, *slash;
    double *loads[3] = {&out->load1, &out->load5, &out->load15};
    size_t l;

    /* "0.41 0.10 0.03 1/79 1852\n" */
    if (!text_complete(buf, len))
        return -EBADMSG;
    for (int i = 0; i < 3; i++) {
        tok = next_token(p, end, &l);
        if (safe_atod_n(tok, l, loads[i]) < 0 || *loads[i] < 0)
            return -EBADMSG;
        p = tok + l;
    }
    tok = next_token(p, end, &l);
    slash = memchr(tok, '/', l);
    if (!slash || safe_atou64_n(tok, (size_t)(slash - tok), &out->running) < 0 ||
        safe_atou64_n(slash + 1, (size_t)(tok + l - slash - 1), &out->total) < 0)
        return -EBADMSG;
    tok = next_token(tok + l, end, &l);
    if (l == 0) /* the last-pid field: a file cut before it is truncated */
        return -EBADMSG;
    return 0;
}

int parse_psi(const char *buf, size_t len, psi *out) {
    const char *p = buf, *end = buf + len;
    bool have_some = false;

    memset(out, 0, sizeof(*out));
    if (!text_complete(buf, len))
        return -EBADMSG;
    /* "some avg10=0.00 avg60=0.00 avg300=0.00 total=2163112" and the same for "full". */
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p)), *t;
        uint64_t *dst;
        bool *flag;
        if (!eol)
            eol = end;
        if (eol - p > 5 && memcmp(p, "some ", 5) == 0) {
            dst = &out->some_us;
            flag = &have_some;
        } else if (eol - p > 5 && memcmp(p, "full ", 5) == 0) {
            dst = &out->full_us;
            flag = &out->have_full;
        } else if (eol == p) {
            p = eol + 1;
            continue;
        } else
            return -EBADMSG;
        t = memmem(p, (size_t)(eol - p), " total=", 7);
        if (!t)
            return -EBADMSG;
        t += 7;
        if (safe_atou64_n(t, (size_t)(eol - t), dst) < 0)
            return -EBADMSG;
        *flag = true;
        p = eol + 1;
    }
    return have_some ? 0 : -EBADMSG;
}
