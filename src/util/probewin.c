/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A window of probe outcomes in fixed memory (probewin.h): VMs' availability counts its probes here. */
#include "util/probewin.h"

#include <string.h>

void probewin_init(probewin *w, uint64_t window_s) {
    memset(w, 0, sizeof(*w));
    w->window_ns = window_s * 1000000000ull;
    w->slot_ns = w->window_ns / PROBEWIN_SLOTS;
    if (w->slot_ns == 0)
        w->slot_ns = 1;
}

void probewin_add(probewin *w, uint64_t now_ns, bool ok) {
    uint64_t n = now_ns / w->slot_ns, start = n * w->slot_ns + 1; /* + 1: 0 means empty */
    unsigned i = (unsigned)(n % PROBEWIN_SLOTS);
    if (w->slot_start[i] != start) {
        w->slot_start[i] = start;
        w->probes[i] = w->ok[i] = 0;
    }
    w->probes[i]++;
    if (ok)
        w->ok[i]++;
}

double probewin_pct(const probewin *w, uint64_t now_ns, uint64_t *ret_n) {
    uint64_t probes = 0, ok = 0;
    for (unsigned i = 0; i < PROBEWIN_SLOTS; i++) {
        uint64_t start = w->slot_start[i];
        /* A slot whose span began more than a window ago is forgotten (it is being reused). */
        if (!start || start - 1 > now_ns || now_ns - (start - 1) >= w->window_ns)
            continue;
        probes += w->probes[i];
        ok += w->ok[i];
    }
    if (ret_n)
        *ret_n = probes;
    return probes ? 100.0 * (double)ok / (double)probes : -1;
}
