/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parser of /proc/stat: aggregate and per-CPU times, procs_running, procs_blocked. */
#include "parsers.h"

static int parse_times(const char *p, const char *end, cpu_times *t) {
    unsigned n = 0;

    memset(t, 0, sizeof(*t));
    for (;;) {
        size_t len;
        const char *tok = next_token(p, end, &len);
        if (len == 0)
            break;
        if (n < CPUT_MAX) {
            int r = safe_atou64_n(tok, len, &t->t[n]);
            if (r < 0)
                return -EBADMSG;
        }
        /* Columns a future kernel appends are ignored. */
        n++;
        p = tok + len;
    }
    /* Kernels since 2.6.0 print at least user nice system idle iowait irq softirq
     * (fs/proc/stat.c): fewer is a cut or foreign line, not zeros. */
    if (n < CPUT_STEAL)
        return -EBADMSG;
    t->present = true;
    return 0;
}

int parse_proc_stat(const char *buf, size_t len, proc_stat *out) {
    const char *p = buf, *end = buf + len;
    bool have_all = false;

    memset(&out->all, 0, sizeof(out->all));
    for (unsigned i = 0; i < out->ncpu_max; i++)
        out->cpu[i].present = false;
    out->ncpu_seen = out->max_cpu_seen = 0;
    out->have_procs_running = false;
    out->procs_running = out->procs_blocked = 0;

    if (!text_complete(buf, len))
        return -EBADMSG;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end; /* not reached: the text ends with a newline */
        if (eol - p >= 4 && memcmp(p, "cpu ", 4) == 0) {
            if (parse_times(p + 4, eol, &out->all) < 0)
                return -EBADMSG;
            have_all = true;
        } else if (eol - p > 3 && memcmp(p, "cpu", 3) == 0) {
            const char *q = p + 3, *sp = memchr(q, ' ', (size_t)(eol - q));
            uint64_t n;
            if (!sp || safe_atou64_n(q, (size_t)(sp - q), &n) < 0 || n > 1u << 20)
                return -EBADMSG;
            if (n + 1 > out->max_cpu_seen)
                out->max_cpu_seen = (unsigned)n + 1;
            out->ncpu_seen++;
            if (n < out->ncpu_max) {
                if (parse_times(sp, eol, &out->cpu[n]) < 0)
                    return -EBADMSG;
            }
        } else if (eol - p > 14 && memcmp(p, "procs_running ", 14) == 0) {
            size_t l;
            const char *t = next_token(p + 14, eol, &l);
            if (safe_atou64_n(t, l, &out->procs_running) < 0)
                return -EBADMSG;
            out->have_procs_running = true;
        } else if (eol - p > 14 && memcmp(p, "procs_blocked ", 14) == 0) {
            size_t l;
            const char *t = next_token(p + 14, eol, &l);
            if (safe_atou64_n(t, l, &out->procs_blocked) < 0)
                return -EBADMSG;
        }
        p = eol + 1;
    }
    return have_all ? 0 : -EBADMSG;
}

uint64_t cpu_times_total(const cpu_times *t) {
    /* guest and guest_nice are already included in user and nice (kernel/sched/cputime.c). */
    uint64_t s = 0;
    for (int i = 0; i < CPUT_GUEST; i++)
        s += t->t[i];
    return s;
}

uint64_t cpu_times_busy(const cpu_times *t) {
    return cpu_times_total(t) - t->t[CPUT_IDLE] - t->t[CPUT_IOWAIT];
}
