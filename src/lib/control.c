/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The control calls' public entry points (frequency, governor, power policy, operating points),
 * the checks every driver shares (frequency syntax and limits, names against the kernel's
 * lists, the power-policy mapping), operating-point lists, and the audit hook. */
#include <inttypes.h>
#include <stdatomic.h>
#include <strings.h>

#include "internal.h"

/* ---------------------------------------------------------------------------------------------
 * Frequencies
 * ------------------------------------------------------------------------------------------- */

int uni_parse_frequency_khz(const char *s, uint64_t *ret_khz) {
    static const struct {
        const char *name;
        int exp; /* power of ten relative to kHz */
    } units[] = {{"", 0}, {"hz", -3}, {"khz", 0}, {"mhz", 3}, {"ghz", 6}};
    uint64_t mant = 0;
    int frac = 0, exp = -1000;
    const char *p = s;
    bool dot = false;

    if (!s)
        return -EINVAL;
    /* The number: digits, optionally a dot and more digits. Signs, blanks, exponents, hex and
     * a bare dot are not frequencies. */
    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (; (*p >= '0' && *p <= '9') || (*p == '.' && !dot); p++) {
        if (*p == '.') {
            dot = true;
            if (p[1] < '0' || p[1] > '9')
                return -EINVAL;
            continue;
        }
        if (mant > (UINT64_MAX - 9) / 10)
            return -ERANGE;
        mant = mant * 10 + (uint64_t)(*p - '0');
        frac += dot;
    }
    for (size_t i = 0; i < ELEMENTSOF(units); i++)
        if (strcasecmp(p, units[i].name) == 0)
            exp = units[i].exp;
    if (exp == -1000)
        return -EINVAL;
    exp -= frac;
    for (; exp > 0; exp--) {
        if (mant > UINT64_MAX / 10)
            return -ERANGE;
        mant *= 10;
    }
    for (; exp < 0; exp++) {
        if (mant % 10)
            return -EDOM;
        mant /= 10;
    }
    /* cpufreq keeps frequencies as unsigned int kHz. */
    if (mant == 0 || mant > UINT32_MAX)
        return -ERANGE;
    *ret_khz = mant;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Checks shared by the drivers
 * ------------------------------------------------------------------------------------------- */

int uni_error_no_core(int core, bool exists, const char *online_list) {
    if (exists)
        uni_error_set(UNI_ERR_NO_CORE, "core %d is offline (%s online)", core, online_list);
    else
        uni_error_set(UNI_ERR_NO_CORE, "core %d does not exist (%s online)", core, online_list);
    return -1;
}

int uni_check_frequency(int core, uint64_t khz, const char *text, uint64_t min_khz, uint64_t max_khz,
                        const uint64_t *avail, size_t navail) {
    char list[512];
    size_t len = 0;

    if (khz < min_khz || khz > max_khz) {
        uni_error_set(UNI_ERR_OUT_OF_RANGE,
                      "frequency %s (%" PRIu64 " kHz) is outside core %d's limits %" PRIu64 "-%" PRIu64 " kHz", text,
                      khz, core, min_khz, max_khz);
        return -1;
    }
    if (navail == 0)
        return 0;
    for (size_t i = 0; i < navail; i++)
        if (avail[i] == khz)
            return 0;
    list[0] = 0;
    for (size_t i = 0; i < navail && len < sizeof(list); i++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%" PRIu64, i ? " " : "", avail[i]);
    uni_error_set(UNI_ERR_OUT_OF_RANGE,
                  "frequency %s (%" PRIu64 " kHz) is not one of core %d's available frequencies (%s kHz)", text, khz,
                  core, list);
    return -1;
}

bool uni_word_in_list(const char *name, const char *list) {
    size_t n = strlen(name);
    const char *p = list;

    if (n == 0)
        return false;
    while (*p) {
        size_t w;
        p += strspn(p, " \t\n");
        w = strcspn(p, " \t\n");
        if (w == n && memcmp(p, name, n) == 0)
            return true;
        p += w;
    }
    return false;
}

int uni_check_listed(const char *what, const char *name, int core, const char *available) {
    if (uni_word_in_list(name, available))
        return 0;
    uni_error_set(UNI_ERR_INVALID_ARG, "%s '%s' is not available for core %d (available: %s)", what, name, core,
                  available);
    return -1;
}

const char *uni_policy_of_governor(const char *gov) {
    if (streq(gov, "performance"))
        return "performance";
    if (streq(gov, "powersave"))
        return "power";
    return "balanced";
}

/* energy_performance_preference: default, performance, balance_performance, balance_power,
 * power (Documentation/admin-guide/pm/intel_pstate.rst), or a raw number 0-255. */
const char *uni_policy_of_epp(const char *epp) {
    uint64_t v;
    if (streq(epp, "performance"))
        return "performance";
    if (streq(epp, "power"))
        return "power";
    if (startswith(epp, "balance") || streq(epp, "default"))
        return "balanced";
    if (safe_atou64(epp, &v) == 0)
        return v < 64 ? "performance" : v >= 192 ? "power" : "balanced";
    return NULL;
}

static bool is_spec_policy(const char *p) {
    return streq(p, "power") || streq(p, "balanced") || streq(p, "performance");
}

/* The first of @candidates (NULL-terminated) that @available lists, or NULL. */
static const char *first_listed(const char *const *candidates, const char *available) {
    for (; *candidates; candidates++)
        if (uni_word_in_list(*candidates, available))
            return *candidates;
    return NULL;
}

const char *uni_policy_to_epp(const char *policy, int core, const char *available) {
    static const char *const balanced[] = {"balance_performance", "balance_power", "default", NULL};
    const char *v = NULL;

    if (streq(policy, "balanced"))
        v = first_listed(balanced, available);
    else if (uni_word_in_list(policy, available))
        v = policy;
    if (v)
        return v;
    uni_error_set(UNI_ERR_INVALID_ARG,
                  "power policy '%s' is not available for core %d (power, balanced, performance, or one of %s)", policy,
                  core, available);
    return NULL;
}

const char *uni_policy_to_governor(const char *policy, int core, const char *current, const char *available) {
    static const char *const balanced[] = {"schedutil", "ondemand", "conservative", NULL};
    const char *v = NULL;

    if (!is_spec_policy(policy)) {
        uni_error_set(UNI_ERR_INVALID_ARG,
                      "power policy '%s' is not one of power, balanced, performance "
                      "(core %d has no energy_performance_preference, so raw EPP names do not apply)",
                      policy, core);
        return NULL;
    }
    if (current && streq(uni_policy_of_governor(current), policy))
        return current;
    if (streq(policy, "balanced"))
        v = first_listed(balanced, available);
    else {
        const char *g = streq(policy, "power") ? "powersave" : "performance";
        v = uni_word_in_list(g, available) ? g : NULL;
    }
    if (v)
        return v;
    uni_error_set(UNI_ERR_NO_SUPPORT, "power policy '%s' needs a governor core %d does not have (available: %s)",
                  policy, core, available);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Audit
 * ------------------------------------------------------------------------------------------- */

static _Atomic(uni_audit_fn) audit_fn;
static void *_Atomic audit_userdata;
static __thread char *audit_caller;
static __thread const char *audit_call;
static __thread const char *audit_reason;

void uni_set_audit_hook(uni_audit_fn fn, void *userdata) {
    atomic_store(&audit_userdata, userdata);
    atomic_store(&audit_fn, fn);
}

void uni_audit_set_caller(const char *identity) {
    free(audit_caller);
    audit_caller = identity ? strdup(identity) : NULL;
}

void uni_audit_set_reason(const char *reason) {
    audit_reason = reason;
}

void uni_audit(uniConnectPtr conn, const char *object, const char *attribute, const char *before, const char *after,
               int error, bool rollback) {
    uni_audit_fn fn = atomic_load(&audit_fn);
    char self[64];
    uni_audit_event ev;

    if (!fn && !conn->driver->audit)
        return;
    snprintf(self, sizeof(self), "pid %ld uid %ld (in-process)", (long)getpid(), (long)getuid());
    ev = (uni_audit_event){
        .call = audit_call ? audit_call : "?",
        .caller = audit_caller ? audit_caller : self,
        .uri = conn->uri,
        .object = object,
        .attribute = attribute,
        .before = before,
        .after = after,
        .error = error,
        .rollback = rollback,
        .reason = audit_reason && *audit_reason ? audit_reason : conn->audit_reason,
    };
    if (fn)
        fn(&ev, atomic_load(&audit_userdata));
    if (conn->driver->audit)
        conn->driver->audit(conn, &ev);
}

const char *uni_audit_error_text(int error) {
    return error == -EREMOTEIO ? "reads back different" : error ? strerror(-error) : "";
}

/* A reason is one line of printable text: it lands in logs and in the HealthLog verbatim. */
int uni_audit_reason_check(const char *reason) {
    size_t n = strlen(reason);
    if (n >= UNI_AUDIT_REASON_MAX) {
        uni_error_set(UNI_ERR_INVALID_ARG, "uniConnectSetAuditReason: a reason of %zu bytes (at most %d)", n,
                      UNI_AUDIT_REASON_MAX - 1);
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)reason; *p; p++)
        if (*p < 0x20 || *p == 0x7f) {
            uni_error_set(UNI_ERR_INVALID_ARG,
                          "uniConnectSetAuditReason: control character 0x%02x at byte %td (one line of text)", *p,
                          (const char *)p - reason);
            return -1;
        }
    return 0;
}

int uniConnectSetAuditReason(uniConnectPtr conn, const char *reason, unsigned int flags) {
    char *copy = NULL;
    int r = 0;
    uniResetLastError();
    CHECK_CONN(conn, -1);
    CHECK_FLAGS(flags, 0, -1);
    if (reason && !*reason)
        reason = NULL;
    if (reason && (uni_audit_reason_check(reason) < 0 || !(copy = strdup(reason)))) {
        if (!uniGetLastError())
            uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    pthread_mutex_lock(&conn->lock);
    if (conn->driver->set_audit_reason)
        r = conn->driver->set_audit_reason(conn, reason);
    if (r < 0)
        free(copy);
    else {
        free(conn->audit_reason);
        conn->audit_reason = copy;
    }
    pthread_mutex_unlock(&conn->lock);
    return r < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------------
 * Operating-point lists
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    uniOppDomain pub; /* first: uniOppListGetDomain hands out its address */
    char *name;
    int *cores;
    char **members;
    uniOppParam *params;
} opp_domain;

struct _uniOppList {
    opp_domain *d;
    int n;
};

uniOppListPtr uni_opp_list_new(void) {
    return calloc(1, sizeof(struct _uniOppList));
}

int uni_opp_add_domain(uniOppListPtr l, int kind, int id, const char *name, const int *cores, int ncores,
                       const char *const *members, int nmembers) {
    opp_domain *nd = realloc(l->d, (size_t)(l->n + 1) * sizeof(*nd)), *d;

    if (!nd)
        return -ENOMEM;
    l->d = nd;
    d = &l->d[l->n];
    memset(d, 0, sizeof(*d));
    d->name = strdup(name);
    d->cores = ncores ? malloc((size_t)ncores * sizeof(int)) : NULL;
    d->members = nmembers ? calloc((size_t)nmembers, sizeof(char *)) : NULL;
    l->n++; /* counted now, so that uniOppListFree releases a half-built domain */
    if (!d->name || (ncores && !d->cores) || (nmembers && !d->members))
        return -ENOMEM;
    if (ncores)
        memcpy(d->cores, cores, (size_t)ncores * sizeof(int));
    for (int i = 0; i < nmembers; i++)
        if (!(d->members[i] = strdup(members[i])))
            return -ENOMEM;
    d->pub = (uniOppDomain){.kind = kind,
                            .id = id,
                            .name = d->name,
                            .ncores = ncores,
                            .cores = d->cores,
                            .nmembers = nmembers,
                            .members = (const char *const *)d->members};
    return l->n - 1;
}

/* The list owns copies of the name and unit (a remote list's strings come from a message). */
int uni_opp_add_param(uniOppListPtr l, int domain, const uniOppParam *p) {
    opp_domain *d = &l->d[domain];
    uniOppParam *np = realloc(d->params, (size_t)(d->pub.nparams + 1) * sizeof(*np));
    char *name, *unit;

    if (!np)
        return -ENOMEM;
    d->params = np;
    name = strdup(p->name);
    unit = strdup(p->unit);
    if (!name || !unit) {
        free(name);
        free(unit);
        return -ENOMEM;
    }
    d->params[d->pub.nparams] = *p;
    d->params[d->pub.nparams].name = name;
    d->params[d->pub.nparams].unit = unit;
    d->pub.nparams++;
    return 0;
}

int uniOppListNumDomains(uniOppListPtr list) {
    return list ? list->n : -1;
}

const uniOppDomain *uniOppListGetDomain(uniOppListPtr list, int i) {
    return list && i >= 0 && i < list->n ? &list->d[i].pub : NULL;
}

const uniOppParam *uniOppListGetParam(uniOppListPtr list, int i, int p) {
    if (!list || i < 0 || i >= list->n || p < 0 || p >= list->d[i].pub.nparams)
        return NULL;
    return &list->d[i].params[p];
}

const uniOppParam *uniOppListFindParam(uniOppListPtr list, int i, const char *name) {
    if (!list || i < 0 || i >= list->n || !name)
        return NULL;
    for (int p = 0; p < list->d[i].pub.nparams; p++)
        if (streq(list->d[i].params[p].name, name))
            return &list->d[i].params[p];
    return NULL;
}

void uniOppListFree(uniOppListPtr list) {
    if (!list)
        return;
    for (int i = 0; i < list->n; i++) {
        opp_domain *d = &list->d[i];
        for (int k = 0; d->members && k < d->pub.nmembers; k++)
            free(d->members[k]);
        for (int k = 0; k < d->pub.nparams; k++) {
            free((char *)d->params[k].name);
            free((char *)d->params[k].unit);
        }
        free(d->members);
        free(d->cores);
        free(d->params);
        free(d->name);
    }
    free(list->d);
    free(list);
}

const uniOppDomain *uni_opp_find(uniOppListPtr l, const char *name, int *ret_index) {
    for (int i = 0; i < l->n; i++)
        if (streq(l->d[i].pub.name, name)) {
            *ret_index = i;
            return &l->d[i].pub;
        }
    return NULL;
}

int uni_opp_check(const uniOppDomain *d, const uniOppParam *p, long long value) {
    if (p->flags & UNI_OPP_PARAM_READONLY) {
        uni_error_set(UNI_ERR_NO_SUPPORT, "%s %s is read-only on this host", d->name, p->name);
        return -1;
    }
    if (value < p->min || value > p->max) {
        uni_error_set(UNI_ERR_OUT_OF_RANGE, "%s %s %lld is outside the domain's limits %lld-%lld %s", d->name, p->name,
                      value, p->min, p->max, p->unit);
        return -1;
    }
    if (p->step > 1 && (value - p->min) % p->step) {
        uni_error_set(UNI_ERR_OUT_OF_RANGE, "%s %s %lld is not on the domain's %lld %s steps from %lld", d->name,
                      p->name, value, p->step, p->unit, p->min);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Public entry points
 * ------------------------------------------------------------------------------------------- */

/* What every control call checks first: a connection, known flags, a read-write connection,
 * a driver that implements the verb. Sets the call's name for the audit events. */
int uni_control_begin(uniConnectPtr conn, unsigned flags, const char *call, bool has_verb) {
    uniResetLastError();
    audit_call = call;
    if (!conn || !conn->driver) {
        uni_error_set(UNI_ERR_INVALID_CONN, "%s: invalid connection", call);
        return -1;
    }
    if (flags) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: unsupported flags 0x%x", call, flags);
        return -1;
    }
    if (conn->flags & UNI_CONNECT_RO) {
        uni_error_set(UNI_ERR_ACCESS_DENIED,
                      "%s: the connection to %s is read-only (control needs a read-write connection)", call, conn->uri);
        return -1;
    }
    if (!has_verb) {
        uni_error_set(UNI_ERR_NO_SUPPORT, "%s: driver '%s' has no control of this kind", call, conn->driver->name);
        return -1;
    }
    return 0;
}

int uni_control_end(uniConnectPtr conn, int r) {
    audit_call = NULL;
    if (r < 0 && !uniGetLastError())
        uni_error_set(UNI_ERR_INTERNAL_ERROR, "driver '%s' failed without saying why", conn->driver->name);
    return r < 0 ? -1 : r;
}

static int check_core(const char *call, int core, bool allow_all) {
    if (core >= 0 || (allow_all && core == -1))
        return 0;
    uni_error_set(UNI_ERR_INVALID_ARG, "%s: core %d: expected a core number >= 0%s", call, core,
                  allow_all ? " or -1 (all)" : "");
    return -1;
}

static int check_name(const char *call, const char *what, const char *s) {
    if (s && *s && strlen(s) < 64 && strcspn(s, " \t\n/") == strlen(s))
        return 0;
    uni_error_set(UNI_ERR_INVALID_ARG, "%s: invalid %s '%s'", call, what, s ? s : "(null)");
    return -1;
}

int uniNodeSetFrequencyEx(uniConnectPtr conn, int core, const char *frequency, int *ret_cores, int maxcores,
                          unsigned int flags) {
    uni_core_set set = {.cores = ret_cores, .max = maxcores};
    uint64_t khz = 0;
    int r;

    if (uni_control_begin(conn, flags, "uniNodeSetFrequency",
                          conn && conn->driver && conn->driver->node_set_frequency) < 0)
        return -1;
    if (check_core("uniNodeSetFrequency", core, false) < 0)
        return -1;
    if (maxcores < 0 || (maxcores > 0 && !ret_cores)) {
        uni_error_set(UNI_ERR_INVALID_ARG, "uniNodeSetFrequencyEx: maxcores %d with ret_cores %p", maxcores,
                      (void *)ret_cores);
        return -1;
    }
    r = uni_parse_frequency_khz(frequency, &khz);
    if (r == -EDOM)
        uni_error_set(UNI_ERR_INVALID_ARG, "invalid frequency '%s': not a whole number of kHz", frequency);
    else if (r == -ERANGE)
        uni_error_set(UNI_ERR_INVALID_ARG, "invalid frequency '%s': out of range (above 0, at most %u kHz)", frequency,
                      UINT32_MAX);
    else if (r < 0)
        uni_error_set(UNI_ERR_INVALID_ARG,
                      "invalid frequency '%s': expected kHz (2400000) or a number with a unit "
                      "Hz, kHz, MHz or GHz (2400MHz, 2.4GHz)",
                      frequency ? frequency : "(null)");
    if (r < 0)
        return -1;
    pthread_mutex_lock(&conn->lock);
    r = conn->driver->node_set_frequency(conn, core, khz, frequency, &set);
    pthread_mutex_unlock(&conn->lock);
    return uni_control_end(conn, r);
}

int uniNodeSetFrequency(uniConnectPtr conn, int core, const char *frequency, unsigned int flags) {
    return uniNodeSetFrequencyEx(conn, core, frequency, NULL, 0, flags);
}

/* uniNodeSetGovernor and uniNodeSetPowerPolicy: a name for one core's domain or all. */
static int set_named(uniConnectPtr conn, int core, const char *value, unsigned flags, bool governor) {
    const char *call = governor ? "uniNodeSetGovernor" : "uniNodeSetPowerPolicy";
    int (*verb)(uniConnectPtr, int, const char *, uni_core_set *) = NULL;
    uni_core_set set = {0};
    int r;

    if (conn && conn->driver)
        verb = governor ? conn->driver->node_set_governor : conn->driver->node_set_power_policy;
    if (uni_control_begin(conn, flags, call, verb != NULL) < 0 || check_core(call, core, true) < 0 ||
        check_name(call, governor ? "governor" : "power policy", value) < 0)
        return -1;
    pthread_mutex_lock(&conn->lock);
    r = verb(conn, core, value, &set);
    pthread_mutex_unlock(&conn->lock);
    return uni_control_end(conn, r);
}

int uniNodeSetGovernor(uniConnectPtr conn, int core, const char *governor, unsigned int flags) {
    return set_named(conn, core, governor, flags, true);
}

int uniNodeSetPowerPolicy(uniConnectPtr conn, int core, const char *policy, unsigned int flags) {
    return set_named(conn, core, policy, flags, false);
}

/* Fill a new list from the driver; the caller holds conn->lock. */
static int get_opp(uniConnectPtr conn, uniOppListPtr *ret) {
    uniOppListPtr l = uni_opp_list_new();
    if (!l) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    if (conn->driver->node_get_operating_points(conn, l) < 0) {
        uniOppListFree(l);
        return -1;
    }
    *ret = l;
    return 0;
}

int uniNodeGetOperatingPoints(uniConnectPtr conn, uniOppListPtr *ret, unsigned int flags) {
    uniOppListPtr l = NULL;
    int r;

    uniResetLastError();
    if (!conn || !conn->driver) {
        uni_error_set(UNI_ERR_INVALID_CONN, "%s: invalid connection", __func__);
        return -1;
    }
    if (flags) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: unsupported flags 0x%x", __func__, flags);
        return -1;
    }
    if (!ret) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: ret is NULL", __func__);
        return -1;
    }
    if (!conn->driver->node_get_operating_points) {
        uni_error_set(UNI_ERR_NO_SUPPORT, "driver '%s' has no operating points", conn->driver->name);
        return -1;
    }
    pthread_mutex_lock(&conn->lock);
    r = get_opp(conn, &l);
    pthread_mutex_unlock(&conn->lock);
    if (r < 0)
        return uni_control_end(conn, r);
    *ret = l;
    return l->n;
}

/* Names of the list's domains, or of domain @d's parameters, for messages. */
static void opp_names(uniOppListPtr l, int d, char *buf, size_t len) {
    size_t o = 0;
    int n = d < 0 ? l->n : l->d[d].pub.nparams;
    buf[0] = 0;
    for (int i = 0; i < n && o < len; i++)
        o +=
            (size_t)snprintf(buf + o, len - o, "%s%s", i ? " " : "", d < 0 ? l->d[i].pub.name : l->d[d].params[i].name);
}

int uniNodeSetOperatingPoint(uniConnectPtr conn, const char *domain, const uniOppSetting *settings, int nsettings,
                             unsigned int flags) {
    static const char call[] = "uniNodeSetOperatingPoint";
    uniOppListPtr l = NULL;
    const uniOppDomain *d;
    char names[512];
    int r = -1, di;

    if (uni_control_begin(conn, flags, call,
                          conn && conn->driver && conn->driver->node_set_operating_point &&
                              conn->driver->node_get_operating_points) < 0 ||
        check_name(call, "domain", domain) < 0)
        return -1;
    if (nsettings <= 0 || !settings) {
        uni_error_set(UNI_ERR_INVALID_ARG, "%s: no settings for %s", call, domain);
        return -1;
    }
    for (int i = 0; i < nsettings; i++) {
        if (check_name(call, "parameter", settings[i].name) < 0)
            return -1;
        for (int k = 0; k < i; k++)
            if (streq(settings[k].name, settings[i].name)) {
                uni_error_set(UNI_ERR_INVALID_ARG, "%s: %s %s given twice", call, domain, settings[i].name);
                return -1;
            }
    }
    pthread_mutex_lock(&conn->lock);
    if (get_opp(conn, &l) < 0)
        goto out;
    if (!(d = uni_opp_find(l, domain, &di))) {
        opp_names(l, -1, names, sizeof(names));
        uni_error_set(UNI_ERR_INVALID_ARG, "no operating-point domain '%s' (domains: %s)", domain, names);
        goto out;
    }
    for (int i = 0; i < nsettings; i++) {
        const uniOppParam *p = uniOppListFindParam(l, di, settings[i].name);
        if (!p) {
            opp_names(l, di, names, sizeof(names));
            uni_error_set(UNI_ERR_INVALID_ARG, "%s has no parameter '%s' (parameters: %s)", domain, settings[i].name,
                          names);
            goto out;
        }
        if (uni_opp_check(d, p, settings[i].value) < 0)
            goto out;
    }
    r = conn->driver->node_set_operating_point(conn, l, di, settings, nsettings);
out:
    pthread_mutex_unlock(&conn->lock);
    uniOppListFree(l);
    return uni_control_end(conn, r < 0 ? r : 0);
}
