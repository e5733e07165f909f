/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the control calls share between the library and the drivers: the cores a call moved,
 * frequency parsing, argument checks, power policies, operating-point lists and the audit hook. */
#pragma once

#include "lib/errors.h"
#include "uniserver/uniserver.h"

/* ---- control (control.c) ---- */
/* The cores a control call moved: drivers add them in ascending order; only the first @max are
 * stored, @n counts them all. */
typedef struct {
    int *cores;
    int max;
    int n;
} uni_core_set;
static inline void uni_core_set_add(uni_core_set *s, int core) {
    if (s->n < s->max)
        s->cores[s->n] = core;
    s->n++;
}

/* "2400000" (kHz), "2400MHz", "2.4GHz", "2400000kHz", "2400000000Hz", units case-insensitive, to
 * kHz: -EINVAL malformed or unknown unit, -EDOM not a whole kHz, -ERANGE zero or above
 * cpufreq's range (UINT32_MAX kHz) or overflow. */
int uni_parse_frequency_khz(const char *s, uint64_t *ret_khz);
/* The driver-independent checks, each setting the error that names the value:
 * a core that is not there (UNI_ERR_NO_CORE: "core 12 does not exist (0-7 online)", or "core 7
 * is offline (0-6 online)"); a frequency outside [min, max] (UNI_ERR_OUT_OF_RANGE) or not in
 * the available list when there is one (UNI_ERR_OUT_OF_RANGE); a name not among the
 * space-separated @available (UNI_ERR_INVALID_ARG: "governor 'turbo' is not available for core
 * 0 (available: ...)"). The checks return 0 or -1. */
int uni_error_no_core(int core, bool exists, const char *online_list);
int uni_check_frequency(int core, uint64_t khz, const char *text, uint64_t min_khz, uint64_t max_khz,
                        const uint64_t *avail, size_t navail);
int uni_check_listed(const char *what, const char *name, int core, const char *available);
/* Whether @name is one of the blank-separated words of @list. */
bool uni_word_in_list(const char *name, const char *list);
/* The power policy a core runs (host.cpu.power_policy): from its governor, overridden by its
 * energy_performance_preference where it has one (NULL for an EPP value we cannot name). */
const char *uni_policy_of_governor(const char *governor);
const char *uni_policy_of_epp(const char *epp);
/* What to write for power policy @policy ("power", "balanced", "performance", or a raw EPP
 * name): with EPP (@epp_available non-NULL) the EPP value; without, the governor, given the
 * current governor and the available ones. NULL with the error set when impossible. */
const char *uni_policy_to_epp(const char *policy, int core, const char *epp_available);
const char *uni_policy_to_governor(const char *policy, int core, const char *current, const char *available);

/* Operating-point lists (uniNodeGetOperatingPoints), built by drivers. Returns the domain's
 * index, or -ENOMEM. @members may be NULL. */
int uni_opp_add_domain(uniOppListPtr l, int kind, int id, const char *name, const int *cores, int ncores,
                       const char *const *members, int nmembers);
int uni_opp_add_param(uniOppListPtr l, int domain, const uniOppParam *p);
uniOppListPtr uni_opp_list_new(void);
/* Find a domain by name, or NULL (a parameter by name: the public uniOppListFindParam). */
const uniOppDomain *uni_opp_find(uniOppListPtr l, const char *name, int *ret_index);
/* Check a value against a parameter: limits, step, read-only (sets the error: OUT_OF_RANGE,
 * NO_SUPPORT). */
int uni_opp_check(const uniOppDomain *d, const uniOppParam *p, long long value);

/* ---- audit ----
 * Every change a control call makes is reported, write by write, to a hook: the daemon sets one
 * that logs (with the caller's identity it sets per request); the library alone logs nothing.
 * The event and its strings live only during the call. */
typedef struct {
    const char *call;      /* the public call: "uniNodeSetFrequency" */
    const char *caller;    /* uni_audit_set_caller()'s identity, else "pid P uid U (in-process)" */
    const char *uri;       /* the connection's URI */
    const char *object;    /* what was changed: "core 4 (cpus 4 5)", "pmd2", "mc1" */
    const char *attribute; /* the file or parameter: "$SYSFS/devices/system/cpu/cpu4/cpufreq/scaling_setspeed" */
    const char *before;    /* the value read before the write */
    const char *after;     /* the value written */
    int error;             /* 0 written and read back; -errno failed; -EREMOTEIO read back different */
    bool rollback;         /* a write restoring @before after a later step failed */
    const char *reason;    /* the caller's reason (uniConnectSetAuditReason), or NULL */
} uni_audit_event;
typedef void (*uni_audit_fn)(const uni_audit_event *ev, void *userdata);
/* Install the hook (NULL removes it). Process-wide; set it before connections are used. */
void uni_set_audit_hook(uni_audit_fn fn, void *userdata);
/* The identity of whoever this thread is serving now ("uid 1000 pid 4242 on the rw socket");
 * NULL resets to the in-process default. The string is copied. */
void uni_audit_set_caller(const char *identity);
/* The reason of the client this thread is serving now (uniserverd: what its client set with
 * uniConnectSetAuditReason); it wins over the connection's own. NULL resets. Not copied: it must
 * live until reset. */
void uni_audit_set_reason(const char *reason);
/* What an audit event's @error says ("" for 0). */
const char *uni_audit_error_text(int error);
/* uniConnectSetAuditReason's check of a reason: 0, or -1 with UNI_ERR_INVALID_ARG set. */
int uni_audit_reason_check(const char *reason);
/* The entry points of control calls (control.c, domain_ops.c): uni_control_begin checks a
 * connection, @flags == 0, a read-write connection and @has_verb, and names @call for the audit
 * events; uni_control_end ends the call, returning -1 (with an error set) or @r. */
int uni_control_begin(uniConnectPtr conn, unsigned flags, const char *call, bool has_verb);
int uni_control_end(uniConnectPtr conn, int r);
/* Drivers: report one write. */
void uni_audit(uniConnectPtr conn, const char *object, const char *attribute, const char *before, const char *after,
               int error, bool rollback);
