/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's pressure collector (/proc/pressure: PSI). */
#include "local_internal.h"

void collect_psi(local_state *s, uniRecordPtr rec) {
    static const unsigned some_ids[3] = {UNI_M_HOST_PSI_CPU_SOME_MS, UNI_M_HOST_PSI_MEM_SOME_MS,
                                         UNI_M_HOST_PSI_IO_SOME_MS};
    static const int full_ids[3] = {-1, UNI_M_HOST_PSI_MEM_FULL_MS, UNI_M_HOST_PSI_IO_FULL_MS};
    static const char *const files[3] = {"cpu", "memory", "io"};

    for (int i = 0; i < 3; i++) {
        char buf[256];
        psi p;
        ssize_t n = 0;
        if (i == 0 && s->psi_cpu_fresh)
            p = s->psi_cpu; /* read a moment ago for the contention metrics */
        else if ((n = s->psi_fd[i] >= 0 ? pread_full(s->psi_fd[i], buf, sizeof(buf)) : -ENOENT) >= 0 &&
                 parse_psi(buf, (size_t)n, &p) < 0)
            n = -EBADMSG;
        if (i == 0)
            s->psi_cpu_fresh = false;
        if (n < 0) {
            const char *why = n == -EOPNOTSUPP   ? "PSI disabled (boot with psi=1)"
                              : n == -EBADMSG    ? "PSI unreadable"
                              : s->psi_fd[i] < 0 ? "no PSI"
                                                 : "PSI unreadable";
            const char *what = n == -EBADMSG      ? "malformed (cut, or not the kernel's format)"
                               : s->psi_fd[i] < 0 ? "does not exist"
                                                  : "unreadable";
            rec_absent(rec, some_ids[i], "%s: %s/pressure/%s %s", why, s->procfs, files[i], what);
            if (full_ids[i] >= 0)
                rec_absent(rec, (unsigned)full_ids[i], "%s: %s/pressure/%s %s", why, s->procfs, files[i], what);
            /* A kernel without PSI has no /proc/pressure (the source is absent); a file it has
             * and that cannot be read or parsed is a source that is down. */
            if (s->psi_fd[i] >= 0 && n != -EOPNOTSUPP)
                source_down(s, SRC_PSI, "%s/pressure/%s %s", s->procfs, files[i], what);
            continue;
        }
        rec_u64(rec, some_ids[i], -1, NULL, p.some_us / 1000);
        if (full_ids[i] >= 0 && p.have_full)
            rec_u64(rec, (unsigned)full_ids[i], -1, NULL, p.full_us / 1000);
    }
}
