/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The CPython module `uniserver`: connections with the spec's methods under the spec's exact
 * names (D5.1 section 3.1.6), returning lists in the spec's order (None for an element the host
 * cannot provide, None for the whole call when it fails, as the spec says; lastError() says why).
 * Calls release the GIL; a connection is safe to share between threads. The views are views.c. */
#include <string.h>

#include "binding.h"

/* ---- errors: the C library's per-thread last error, copied at once ---- */

static PyObject *last_error_obj(void) {
    const uniError *e = uniGetLastError();
    if (!e)
        Py_RETURN_NONE;
    return Py_BuildValue("(is)", e->code, e->message ? e->message : "");
}

/* uniserver.Error, and whether failures raise it (setRaiseOnError) rather than return None. */
static PyObject *UniError;
static int raise_on_error;

PyObject *uni_failed(void) {
    const uniError *e = uniGetLastError();
    if (!raise_on_error)
        Py_RETURN_NONE;
    if (e) {
        PyObject *v = Py_BuildValue("(iss)", e->code, uniErrorCodeName(e->code), e->message ? e->message : "");
        if (v)
            PyErr_SetObject(UniError, v);
        Py_XDECREF(v);
    } else
        PyErr_SetString(UniError, "the call failed");
    return NULL;
}

static PyObject *py_set_raise(PyObject *mod, PyObject *arg) {
    int on = PyObject_IsTrue(arg);
    (void)mod;
    if (on < 0)
        return NULL;
    raise_on_error = on;
    Py_RETURN_NONE;
}

static PyObject *py_last_error(PyObject *mod, PyObject *noargs) {
    (void)mod;
    (void)noargs;
    return last_error_obj();
}

static PyObject *py_error_code_name(PyObject *mod, PyObject *arg) {
    long code = PyLong_AsLong(arg);
    (void)mod;
    if (code == -1 && PyErr_Occurred())
        return NULL;
    return PyUnicode_FromString(uniErrorCodeName((int)code));
}

/* ---- values ---- */

PyObject *value_of(const uniSample *s) {
    switch (s->type) {
    case UNI_VALUE_U64:
        return PyLong_FromUnsignedLongLong(s->value.u);
    case UNI_VALUE_DOUBLE:
        return PyFloat_FromDouble(s->value.d);
    default:
        return PyUnicode_FromString(s->value.s ? s->value.s : "");
    }
}

bool key_has(const char *key, const char *placeholder) {
    size_t l = strlen(placeholder);
    for (const char *t = key; *t;) {
        const char *e = strchr(t, '.');
        size_t sl = e ? (size_t)(e - t) : strlen(t);
        if (sl == l && memcmp(t, placeholder, l) == 0)
            return true;
        if (!e)
            break;
        t = e + 1;
    }
    return false;
}

/* The whole record as {dotted key: value}; absent keys are not in it. */
static PyObject *record_dict(uniRecordPtr rec) {
    PyObject *d = PyDict_New();
    char key[256];
    if (!d)
        return NULL;
    for (int i = 0; i < uniRecordNumSamples(rec); i++) {
        PyObject *v;
        if (uniRecordFormatKey(rec, i, key, sizeof(key)) < 0)
            continue;
        v = value_of(uniRecordGetSample(rec, i));
        if (!v || PyDict_SetItemString(d, key, v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
    }
    return d;
}

/* A Python list of groups or key prefixes as a NULL-terminated C list (None: NULL, everything);
 * the strings live in *ret_seq, which select_free releases after the call. -1 with a Python
 * exception set. */
static int select_list(PyObject *sel, PyObject **ret_seq, const char ***ret_list) {
    PyObject *seq;
    const char **list;
    Py_ssize_t n;
    *ret_seq = NULL;
    *ret_list = NULL;
    if (sel == Py_None)
        return 0;
    /* One group or prefix is a list of one (a str is a sequence too: of its characters). */
    if (PyUnicode_Check(sel))
        seq = PyTuple_Pack(1, sel);
    else
        seq = PySequence_Fast(sel, "select must be a list of groups or key prefixes");
    if (!seq)
        return -1;
    n = PySequence_Fast_GET_SIZE(seq);
    list = calloc((size_t)n + 1, sizeof(char *));
    if (!list) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (!(list[i] = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i)))) {
            free(list);
            Py_DECREF(seq);
            return -1;
        }
    *ret_seq = seq;
    *ret_list = list;
    return 0;
}

static void select_free(PyObject *seq, const char **list) {
    free(list);
    Py_XDECREF(seq);
}

/* ---- connections ---- */

int conn_enter(ConnObject *self) {
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock(self->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    if (!self->conn) {
        PyThread_release_lock(self->lock);
        PyErr_SetString(PyExc_ValueError, "the connection is closed");
        return -1;
    }
    return 0;
}

void conn_leave(ConnObject *self) {
    PyThread_release_lock(self->lock);
}

static PyObject *do_open(PyObject *args, unsigned flags) {
    const char *uri = NULL;
    uniConnectPtr c;
    ConnObject *o;

    if (!PyArg_ParseTuple(args, "|z", &uri))
        return NULL;
    Py_BEGIN_ALLOW_THREADS c = uniConnectOpen(uri, flags);
    Py_END_ALLOW_THREADS if (
        !c) return uni_failed(); /* libvirt-python raises; the spec's interface returns None: lastError() says why */
    o = PyObject_New(ConnObject, &ConnType);
    if (!o) {
        uniConnectClose(c);
        return NULL;
    }
    o->conn = c;
    o->lock = PyThread_allocate_lock();
    o->uri = PyUnicode_FromString(uniConnectGetURI(c));
    return (PyObject *)o;
}

static PyObject *py_open(PyObject *mod, PyObject *args) {
    (void)mod;
    return do_open(args, 0);
}

static PyObject *py_open_ro(PyObject *mod, PyObject *args) {
    (void)mod;
    return do_open(args, UNI_CONNECT_RO);
}

static void conn_dealloc(ConnObject *self) {
    if (self->conn)
        uniConnectClose(self->conn);
    if (self->lock)
        PyThread_free_lock(self->lock);
    Py_XDECREF(self->uri);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *conn_close(ConnObject *self, PyObject *noargs) {
    uniConnectPtr c;
    (void)noargs;
    if (conn_enter(self) < 0) {
        PyErr_Clear();
        Py_RETURN_NONE; /* closing twice is harmless */
    }
    c = self->conn;
    self->conn = NULL;
    Py_BEGIN_ALLOW_THREADS uniConnectClose(c);
    Py_END_ALLOW_THREADS conn_leave(self);
    Py_RETURN_NONE;
}

static PyObject *m_getHostGovernor(ConnObject *self, PyObject *noargs) {
    char *g;
    PyObject *out;
    (void)noargs;
    if (conn_enter(self) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS g = uniNodeGetGovernor(self->conn, 0);
    Py_END_ALLOW_THREADS conn_leave(self);
    if (!g)
        return uni_failed();
    out = PyUnicode_FromString(g);
    free(g);
    return out;
}

/* nodeSetFrequency(core, frequency): the spec's control call (section 3.1.2). */
static PyObject *m_nodeSetFrequency(ConnObject *self, PyObject *args) {
    int core, r, cores[256], n = 0;
    PyObject *freq_obj, *str = NULL, *out;
    const char *freq;

    if (!PyArg_ParseTuple(args, "iO", &core, &freq_obj))
        return NULL;
    /* The spec passes the frequency as a string; a number (kHz, cpufreq's unit) is accepted too. */
    str = PyUnicode_Check(freq_obj) ? (Py_INCREF(freq_obj), freq_obj) : PyObject_Str(freq_obj);
    if (!str || !(freq = PyUnicode_AsUTF8(str))) {
        Py_XDECREF(str);
        return NULL;
    }
    if (conn_enter(self) < 0) {
        Py_DECREF(str);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS r = uniNodeSetFrequencyEx(self->conn, core, freq, cores, 256, 0);
    Py_END_ALLOW_THREADS conn_leave(self);
    Py_DECREF(str);
    if (r < 0)
        return uni_failed();
    n = r < 256 ? r : 256;
    out = PyList_New(n);
    for (int i = 0; out && i < n; i++)
        PyList_SET_ITEM(out, i, PyLong_FromLong(cores[i]));
    return out;
}

static PyObject *set_text(ConnObject *self, PyObject *args, PyObject *kw, int which) {
    static char *kwlist[] = {"value", "core", NULL};
    const char *value;
    int core = -1, r;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|i", kwlist, &value, &core))
        return NULL;
    if (conn_enter(self) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS r =
        which ? uniNodeSetPowerPolicy(self->conn, core, value, 0) : uniNodeSetGovernor(self->conn, core, value, 0);
    Py_END_ALLOW_THREADS conn_leave(self);
    if (r < 0)
        return uni_failed();
    return PyLong_FromLong(r);
}

static PyObject *m_nodeSetGovernor(ConnObject *self, PyObject *args, PyObject *kw) {
    return set_text(self, args, kw, 0);
}

static PyObject *m_nodeSetPowerPolicy(ConnObject *self, PyObject *args, PyObject *kw) {
    return set_text(self, args, kw, 1);
}

static PyObject *m_getStats(ConnObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"select", "flags", NULL};
    PyObject *sel = Py_None, *seq = NULL, *out;
    unsigned int flags = 0;
    const char **list = NULL;
    uniRecordPtr rec = NULL;
    int r;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OI", kwlist, &sel, &flags) || select_list(sel, &seq, &list) < 0)
        return NULL;
    if (conn_enter(self) < 0) {
        select_free(seq, list);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS r = uniNodeGetStats(self->conn, list, &rec, flags);
    Py_END_ALLOW_THREADS conn_leave(self);
    select_free(seq, list);
    if (r < 0)
        return uni_failed();
    out = record_dict(rec);
    if (out) {
        long long w = uniRecordGetWindowMs(rec);
        PyObject *absent = PyDict_New();
        for (int i = 0; absent && i < uniRecordNumAbsent(rec); i++) {
            const uniAbsence *a = uniRecordGetAbsence(rec, i);
            const uniMetricDesc *d = uniRecordGetDescriptor(rec, a->metric);
            PyObject *why = PyUnicode_FromString(a->reason);
            if (d && why)
                PyDict_SetItemString(absent, d->key, why);
            Py_XDECREF(why);
        }
        if (w >= 0) {
            PyObject *wo = PyLong_FromLongLong(w);
            PyDict_SetItemString(out, "window_ms", wo);
            Py_XDECREF(wo);
        } else
            PyDict_SetItemString(out, "window_ms", Py_None);
        if (absent)
            PyDict_SetItemString(out, "absent", absent);
        Py_XDECREF(absent);
    }
    uniRecordFree(rec);
    return out;
}

/* The HealthLog's events (spec 3.2.2's get_healthlog_memory): a list of {event.NAME: value}. */
static PyObject *events_list(uniRecordPtr *ev, int n) {
    PyObject *list = PyList_New(n);
    for (int i = 0; list && i < n; i++) {
        PyObject *d = record_dict(ev[i]);
        if (!d) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, d);
    }
    uniRecordListFree(ev);
    return list;
}

static PyObject *m_get_healthlog_memory(ConnObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"dimm", "since_ms", "flags", NULL};
    const char *dimm = NULL;
    long long since = 0;
    unsigned int flags = 0;
    uniRecordPtr *ev = NULL;
    int n;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|zLI", kwlist, &dimm, &since, &flags) || conn_enter(self) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS n = uniHealthLogQueryMemory(self->conn, dimm, since, &ev, flags);
    Py_END_ALLOW_THREADS conn_leave(self);
    if (n < 0)
        return uni_failed();
    return events_list(ev, n);
}

static PyObject *m_get_healthlog_cpu(ConnObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"core", "since_ms", "flags", NULL};
    int core = -1;
    long long since = 0;
    unsigned int flags = 0;
    uniRecordPtr *ev = NULL;
    int n;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|iLI", kwlist, &core, &since, &flags) || conn_enter(self) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS n = uniHealthLogQueryCPU(self->conn, core, since, &ev, flags);
    Py_END_ALLOW_THREADS conn_leave(self);
    if (n < 0)
        return uni_failed();
    return events_list(ev, n);
}

static PyObject *m_metricDescriptors(ConnObject *self, PyObject *noargs) {
    const uniMetricDesc *d;
    PyObject *list;
    int n;
    static const char *const kinds[] = {"gauge", "counter", "text"};
    (void)noargs;
    if (conn_enter(self) < 0)
        return NULL;
    n = uniConnectGetMetricDescriptors(self->conn, &d, 0);
    conn_leave(self);
    if (n < 0)
        return uni_failed();
    list = PyList_New(n);
    for (int i = 0; list && i < n; i++)
        PyList_SET_ITEM(list, i,
                        Py_BuildValue("{s:I,s:s,s:s,s:s,s:s,s:s,s:s}", "id", d[i].id, "key", d[i].key, "kind",
                                      kinds[d[i].kind >= 0 && d[i].kind < 3 ? d[i].kind : 0], "unit", d[i].unit,
                                      "group", d[i].group, "source", d[i].source, "help", d[i].help));
    return list;
}

static PyObject *m_getURI(ConnObject *self, PyObject *noargs) {
    (void)noargs;
    Py_INCREF(self->uri);
    return self->uri;
}

static PyObject *m_enter(ConnObject *self, PyObject *noargs) {
    (void)noargs;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *m_exit(ConnObject *self, PyObject *args) {
    (void)args;
    return conn_close(self, NULL);
}

/* ---- domains ---- */

PyObject *dom_wrap(ConnObject *conn, uniDomainPtr d) {
    DomObject *o = PyObject_New(DomObject, &DomType);
    if (!o) {
        uniDomainFree(d);
        return NULL;
    }
    o->dom = d;
    Py_INCREF(conn);
    o->conn = (PyObject *)conn;
    return (PyObject *)o;
}

static void dom_dealloc(DomObject *self) {
    if (self->dom)
        uniDomainFree(self->dom);
    Py_XDECREF(self->conn);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *m_lookup(ConnObject *self, PyObject *args, bool by_uuid) {
    const char *key;
    uniDomainPtr d;
    if (!PyArg_ParseTuple(args, "s", &key))
        return NULL;
    if (conn_enter(self) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS d =
        by_uuid ? uniDomainLookupByUUIDString(self->conn, key, 0) : uniDomainLookupByName(self->conn, key, 0);
    Py_END_ALLOW_THREADS conn_leave(self);
    if (!d)
        return uni_failed();
    return dom_wrap(self, d);
}

static PyObject *m_lookupByName(ConnObject *self, PyObject *args) {
    return m_lookup(self, args, false);
}

static PyObject *m_lookupByUUIDString(ConnObject *self, PyObject *args) {
    return m_lookup(self, args, true);
}

static PyObject *m_listAllDomains(ConnObject *self, PyObject *args) {
    unsigned int flags = 0;
    uniDomainPtr *doms = NULL;
    PyObject *list;
    int n;
    if (!PyArg_ParseTuple(args, "|I", &flags))
        return NULL;
    if (conn_enter(self) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS n = uniConnectListAllDomains(self->conn, &doms, flags);
    Py_END_ALLOW_THREADS conn_leave(self);
    if (n < 0)
        return uni_failed();
    list = PyList_New(0);
    for (int i = 0; i < n; i++) {
        PyObject *o = list ? dom_wrap(self, doms[i]) : NULL;
        if (!o || PyList_Append(list, o) < 0) {
            Py_XDECREF(o);
            for (int k = i + 1; k < n; k++)
                uniDomainFree(doms[k]);
            Py_XDECREF(list);
            free(doms);
            return NULL;
        }
        Py_DECREF(o);
    }
    free(doms);
    return list;
}

static PyObject *m_getAllDomainStats(ConnObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"select", "flags", NULL};
    PyObject *sel = Py_None, *seq = NULL, *out;
    unsigned int flags = 0;
    const char **list = NULL;
    uniDomainStatsRecordPtr *stats = NULL;
    int r;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OI", kwlist, &sel, &flags) || select_list(sel, &seq, &list) < 0)
        return NULL;
    if (conn_enter(self) < 0) {
        select_free(seq, list);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS r = uniConnectGetAllDomainStats(self->conn, list, &stats, flags);
    Py_END_ALLOW_THREADS conn_leave(self);
    select_free(seq, list);
    if (r < 0)
        return uni_failed();
    out = PyList_New(0);
    for (int i = 0; out && stats[i]; i++) {
        PyObject *d = record_dict(stats[i]->record), *dom, *t;
        /* The domain object takes over stats[i]->dom. */
        dom = dom_wrap(self, stats[i]->dom);
        stats[i]->dom = NULL;
        t = d && dom ? PyTuple_Pack(2, dom, d) : NULL;
        Py_XDECREF(d);
        Py_XDECREF(dom);
        if (!t || PyList_Append(out, t) < 0) {
            Py_XDECREF(t);
            Py_CLEAR(out);
            break;
        }
        Py_DECREF(t);
    }
    uniDomainStatsRecordListFree(stats);
    return out;
}

static PyObject *d_name(DomObject *self, PyObject *noargs) {
    (void)noargs;
    return PyUnicode_FromString(uniDomainGetName(self->dom) ? uniDomainGetName(self->dom) : "");
}

static PyObject *d_uuid(DomObject *self, PyObject *noargs) {
    char buf[UNI_UUID_STRING_BUFLEN];
    (void)noargs;
    if (uniDomainGetUUIDString(self->dom, buf) < 0)
        return uni_failed();
    return PyUnicode_FromString(buf);
}

static PyObject *d_isActive(DomObject *self, PyObject *noargs) {
    (void)noargs;
    return PyBool_FromLong(uniDomainIsActive(self->dom) > 0);
}

static PyObject *d_getDomainStatisticsUniserver(DomObject *self, PyObject *noargs) {
    ConnObject *c = (ConnObject *)self->conn;
    uniRecordPtr rec = NULL;
    PyObject *out;
    int r;
    (void)noargs;
    if (conn_enter(c) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS r = uniDomainGetStatistics(self->dom, &rec, 0);
    Py_END_ALLOW_THREADS conn_leave(c);
    if (r < 0)
        return uni_failed();
    out = view_list(rec, uniViewGet(view_index("getDomainStatisticsUniserver")));
    uniRecordFree(rec);
    return out;
}

static PyObject *d_getStats(DomObject *self, PyObject *args) {
    PyObject *sel = Py_None, *seq = NULL;
    const char **list = NULL;
    uniDomainStatsRecordPtr *stats = NULL;
    uniDomainPtr doms[2] = {self->dom, NULL};
    ConnObject *c = (ConnObject *)self->conn;
    PyObject *out;
    int r;
    if (!PyArg_ParseTuple(args, "|O", &sel) || select_list(sel, &seq, &list) < 0)
        return NULL;
    if (conn_enter(c) < 0) {
        select_free(seq, list);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS r = uniDomainListGetStats(doms, list, &stats, 0);
    Py_END_ALLOW_THREADS conn_leave(c);
    select_free(seq, list);
    if (r < 0)
        return uni_failed();
    out = stats[0] ? record_dict(stats[0]->record) : (Py_INCREF(Py_None), Py_None);
    uniDomainStatsRecordListFree(stats);
    return out;
}

static PyMethodDef dom_methods[] = {
    {"name", (PyCFunction)d_name, METH_NOARGS, "name() -> str"},
    {"UUIDString", (PyCFunction)d_uuid, METH_NOARGS, "UUIDString() -> str ('' when the VM has none)"},
    {"isActive", (PyCFunction)d_isActive, METH_NOARGS, "isActive() -> bool"},
    {"getDomainStatisticsUniserver", (PyCFunction)d_getDomainStatisticsUniserver, METH_NOARGS, NULL},
    {"getStats", (PyCFunction)d_getStats, METH_VARARGS,
     "getStats(select=None) -> dict: the VM's whole record keyed by dotted keys (dom.*), KVM statistics\n"
     "included; select: groups ('dom', 'kvm') or key prefixes. None on failure."},
    {NULL, NULL, 0, NULL},
};

PyTypeObject DomType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "uniserver.Domain",
    .tp_basicsize = sizeof(DomObject),
    .tp_dealloc = (destructor)dom_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A domain (VM): the spec's virDomain (conn.lookupByName(name)).",
    .tp_methods = dom_methods,
};

/* Method table. The host's views are added at import (ViewMethod), with docstrings written from
 * the views and the catalogue, naming each element with its key and unit. */
static PyMethodDef conn_methods[] = {
    {"getHostGovernor", (PyCFunction)m_getHostGovernor, METH_NOARGS,
     "getHostGovernor() -> str: the governor of the system (host.cpu.governor): one governor name, or\n"
     "'mixed' when cores differ. None when the call fails (uniserver.lastError() says why)."},
    {"nodeSetFrequency", (PyCFunction)m_nodeSetFrequency, METH_VARARGS,
     "nodeSetFrequency(core, frequency) -> list of int: the spec's control call. frequency: '2400000'\n"
     "(kHz), '2400MHz', '2.4GHz' or a number in kHz. Returns the cores that moved (the core's clock\n"
     "domain); None on failure (read-only connection, unknown core, out of range ...: lastError())."},
    {"nodeSetGovernor", (PyCFunction)(void (*)(void))m_nodeSetGovernor, METH_VARARGS | METH_KEYWORDS,
     "nodeSetGovernor(governor, core=-1) -> int: cores changed (core -1: all); None on failure."},
    {"nodeSetPowerPolicy", (PyCFunction)(void (*)(void))m_nodeSetPowerPolicy, METH_VARARGS | METH_KEYWORDS,
     "nodeSetPowerPolicy(policy, core=-1) -> int: 'power', 'balanced', 'performance' (or an EPP\n"
     "name); cores changed; None on failure."},
    {"getStats", (PyCFunction)(void (*)(void))m_getStats, METH_VARARGS | METH_KEYWORDS,
     "getStats(select=None, flags=0) -> dict: the whole host record keyed by dotted keys\n"
     "(metricDescriptors() describes them), plus 'window_ms' and 'absent' (key -> reason).\n"
     "select: groups ('cpu', 'mem', 'temp' ...) or key prefixes ('host.cpu.3.'). None on failure."},
    {"metricDescriptors", (PyCFunction)m_metricDescriptors, METH_NOARGS,
     "metricDescriptors() -> list of dict(id, key, kind, unit, group, source, help)."},
    {"get_healthlog_memory", (PyCFunction)(void (*)(void))m_get_healthlog_memory, METH_VARARGS | METH_KEYWORDS,
     "get_healthlog_memory(dimm=None, since_ms=0, flags=0) -> list or None: the memory events of a DIMM (spec 3.2.2;\n"
     "every DIMM when None), oldest first, each a dict {'event.time_ms': ..., 'event.severity': ..., 'event.vms': "
     "...}.\n"
     "flags: HEALTHLOG_CORRECTED, HEALTHLOG_UNCORRECTED, HEALTHLOG_ACTIONS (uniHealthLogQueryMemory)."},
    {"get_healthlog_cpu", (PyCFunction)(void (*)(void))m_get_healthlog_cpu, METH_VARARGS | METH_KEYWORDS,
     "get_healthlog_cpu(core=-1, since_ms=0, flags=0) -> list or None: the CPU events a core reported (every core\n"
     "when -1), as get_healthlog_memory (uniHealthLogQueryCPU)."},
    {"getURI", (PyCFunction)m_getURI, METH_NOARGS, "getURI() -> str: the connection's URI."},
    {"lookupByName", (PyCFunction)m_lookupByName, METH_VARARGS, "lookupByName(name) -> Domain, or None (lastError())."},
    {"healthLogQueryMemory", (PyCFunction)(void (*)(void))m_get_healthlog_memory, METH_VARARGS | METH_KEYWORDS,
     "healthLogQueryMemory(dimm=None, since_ms=0, flags=0): get_healthlog_memory under the binding's\n"
     "camelCase names. The spec's\n"
     "get_healthlog_memory(dimm id): the memory error events of a DIMM (every DIMM with None), oldest\n"
     "first, each keyed 'event.time_ms', 'event.severity', 'event.dimm', 'event.vms' ...; None on failure."},
    {"healthLogQueryCPU", (PyCFunction)(void (*)(void))m_get_healthlog_cpu, METH_VARARGS | METH_KEYWORDS,
     "healthLogQueryCPU(core=-1, since_ms=0, flags=0) -> list of dict: the CPU error events of a core\n"
     "(every core with -1); None on failure."},
    {"lookupByUUIDString", (PyCFunction)m_lookupByUUIDString, METH_VARARGS,
     "lookupByUUIDString(uuid) -> Domain, or None (lastError())."},
    {"listAllDomains", (PyCFunction)m_listAllDomains, METH_VARARGS,
     "listAllDomains(flags=0) -> list of Domain (flags: LIST_DOMAINS_ACTIVE | LIST_DOMAINS_INACTIVE)."},
    {"getAllDomainStats", (PyCFunction)(void (*)(void))m_getAllDomainStats, METH_VARARGS | METH_KEYWORDS,
     "getAllDomainStats(select=None, flags=0) -> list of (Domain, dict): every VM's whole record."},
    {"close", (PyCFunction)conn_close, METH_NOARGS, "close(): release the connection (twice is harmless)."},
    {"__enter__", (PyCFunction)m_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)m_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

PyTypeObject ConnType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "uniserver.Connection",
    .tp_basicsize = sizeof(ConnObject),
    .tp_dealloc = (destructor)conn_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A connection to a uniserver driver (uniserver.open(uri)); the spec's virConnect.",
    .tp_methods = conn_methods,
};

static PyMethodDef module_methods[] = {
    {"open", py_open, METH_VARARGS,
     "open(uri=None) -> Connection or None: uniserver:///system (this host), test:///default,\n"
     "uniserver+unix:///system (through uniserverd) ... None on failure: lastError() says why."},
    {"openReadOnly", py_open_ro, METH_VARARGS,
     "openReadOnly(uri=None) -> Connection or None: read-only: control refused."},
    {"lastError", py_last_error, METH_NOARGS,
     "lastError() -> (code, message) of the last failed call in this thread, or None."},
    {"errorCodeName", py_error_code_name, METH_O, "errorCodeName(code) -> str ('INVALID_URI', ...)."},
    {"setRaiseOnError", py_set_raise, METH_O,
     "setRaiseOnError(flag): with True, a failing call raises uniserver.Error(code, name, message)\n"
     "instead of returning None (the spec's interface, and the default, return None: lastError())."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT,
    "uniserver",
    "uniserver: reliability-aware telemetry and control of KVM hosts (UniServer D5.1 section 3.1.6).\n"
    "Every method of the spec returns a list in the spec's order (None for an element the host\n"
    "cannot provide; None for the whole call when it fails, with lastError()).",
    -1,
    module_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit_uniserver(void);
PyMODINIT_FUNC PyInit_uniserver(void) {
    PyObject *m;
    uniConnectPtr t = uniConnectOpen("test:///default", 0);
    const uniMetricDesc *descs = NULL;
    int nd = t ? uniConnectGetMetricDescriptors(t, &descs, 0) : 0;

    if (nd > 0)
        dom_methods[3].ml_doc = view_doc(uniViewGet(view_index("getDomainStatisticsUniserver")), descs, nd);
    if (PyType_Ready(&ConnType) < 0 || PyType_Ready(&DomType) < 0 || views_install(&ConnType, descs, nd) < 0 ||
        domain_ops_install(&DomType, &ConnType) < 0) {
        uniConnectClose(t);
        return NULL;
    }
    uniConnectClose(t);
    uniResetLastError();
    m = PyModule_Create(&moduledef);
    if (!m)
        return NULL;
    Py_INCREF(&ConnType);
    if (PyModule_AddObject(m, "Connection", (PyObject *)&ConnType) < 0) {
        Py_DECREF(&ConnType);
        Py_DECREF(m);
        return NULL;
    }
#define CONST(name) PyModule_AddIntConstant(m, #name, name)
    UniError = PyErr_NewExceptionWithDoc(
        "uniserver.Error", "A failed call, with setRaiseOnError(True): args are (code, name, message).", NULL, NULL);
    if (!UniError || PyModule_AddObject(m, "Error", UniError) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(UniError);
    Py_INCREF(&DomType);
    PyModule_AddObject(m, "Domain", (PyObject *)&DomType);
    CONST(UNI_CONNECT_RO);
    PyModule_AddIntConstant(m, "LIST_DOMAINS_ACTIVE", UNI_CONNECT_LIST_DOMAINS_ACTIVE);
    PyModule_AddIntConstant(m, "LIST_DOMAINS_INACTIVE", UNI_CONNECT_LIST_DOMAINS_INACTIVE);
    CONST(UNI_NODE_STATS_BEST_EFFORT);
    PyModule_AddIntConstant(m, "HEALTHLOG_CORRECTED", UNI_HEALTHLOG_CORRECTED);
    PyModule_AddIntConstant(m, "HEALTHLOG_UNCORRECTED", UNI_HEALTHLOG_UNCORRECTED);
    PyModule_AddIntConstant(m, "HEALTHLOG_ACTIONS", UNI_HEALTHLOG_ACTIONS);
#define ERR_CONST_(name, num, summary) PyModule_AddIntConstant(m, "ERR_" #name, num);
    UNI_ERROR_CODES(ERR_CONST_)
#undef ERR_CONST_
    return m;
}
