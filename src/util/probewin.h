/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A window of probe outcomes in fixed memory: the share of probes in the last W seconds that succeeded. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The window is cut into PROBEWIN_SLOTS slots of W / PROBEWIN_SLOTS each (10 s of a 1 h window):
 * a probe counts in its slot, and a slot older than the window is forgotten whole, so the share
 * covers between W - W/PROBEWIN_SLOTS and W of the probes. */
#define PROBEWIN_SLOTS 360

typedef struct {
    uint64_t window_ns, slot_ns;
    uint64_t slot_start[PROBEWIN_SLOTS]; /* the start of the slot's span (ns), 0: empty */
    uint32_t probes[PROBEWIN_SLOTS], ok[PROBEWIN_SLOTS];
} probewin;

/* An empty window of @window_s seconds (>= 1). */
void probewin_init(probewin *w, uint64_t window_s);
/* One probe at @now_ns (a monotonic clock): @ok when it succeeded. */
void probewin_add(probewin *w, uint64_t now_ns, bool ok);
/* The share of the probes of the last window before @now_ns that succeeded, in percent, and
 * their number in *ret_n; -1 when there was none. */
double probewin_pct(const probewin *w, uint64_t now_ns, uint64_t *ret_n);
