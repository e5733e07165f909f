/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's VM availability: every collection of a VM probes it, dom.availability_pct is the share of its probes it answered. */
#include "domains_internal.h"

#define DEFAULT_WINDOW_S 3600u
#define MAX_WINDOW_S (30u * 86400u)

int vm_availability_window_parse(const char *v, unsigned *ret) {
    unsigned w;
    *ret = DEFAULT_WINDOW_S;
    if (!v)
        return 0;
    /* safe_atou refuses a sign: "-5" is as wrong as "0", and both are named. */
    if (safe_atou(v, &w) < 0 || w < 1 || w > MAX_WINDOW_S) {
        uni_error_set(UNI_ERR_INVALID_URI,
                      "vm_availability_window_s takes a window in seconds from 1 to %u (30 days), not '%s'",
                      MAX_WINDOW_S, v);
        return -1;
    }
    *ret = w;
    return 0;
}

static const uniSample *find(uniRecordPtr rec, unsigned metric) {
    for (size_t i = 0; i < rec->n; i++)
        if (rec->samples[i].metric == metric)
            return &rec->samples[i];
    return NULL;
}

/* The spec (section 2): a VM is available as it answers probes. The probe is this collection of
 * the VM: it answered when it runs (QMP query-status "running" where QEMU has a monitor, else
 * libvirt's or the process's state) and no source of it missed the deadline (dom.stale 0: QMP or
 * libvirt answered in time, the process is not stopped). A paused, stopped, shut off or hung VM
 * fails the probe. */
void vm_availability(vm_ctx *c) {
    const uniSample *state, *stale;
    bool ok;
    double pct;
    uint64_t n;

    if (!rec_wants(c->rec, UNI_M_DOM_AVAILABILITY_PCT))
        return;
    state = find(c->rec, UNI_M_DOM_STATE);
    stale = find(c->rec, UNI_M_DOM_STALE);
    ok = state && state->type == UNI_VALUE_STRING && streq(state->value.s, "running") &&
         !(stale && stale->type == UNI_VALUE_U64 && stale->value.u);
    if (!c->v->probes) {
        if (!(c->v->probes = malloc(sizeof(*c->v->probes)))) {
            rec_absent(c->rec, UNI_M_DOM_AVAILABILITY_PCT, "out of memory");
            return;
        }
        probewin_init(c->v->probes, c->s->avail_window_s);
    }
    probewin_add(c->v->probes, c->now, ok);
    pct = probewin_pct(c->v->probes, c->now, &n);
    if (pct >= 0)
        rec_dbl(c->rec, UNI_M_DOM_AVAILABILITY_PCT, -1, NULL, pct);
}
