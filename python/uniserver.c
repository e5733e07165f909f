/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The CPython module `uniserver`: connections with the spec's methods under the spec's exact
 * names (D5.1 section 3.1.6), returning lists in the spec's order (None for an element the host
 * cannot provide, None for the whole call when it fails, as the spec says; lastError() says why).
 * Calls release the GIL; a connection is safe to share between threads. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>
#include <stdbool.h>
#include <string.h>

#include "uniserver/uniserver.h"

typedef struct {
    PyObject_HEAD
    uniConnectPtr conn;
    PyThread_type_lock lock; /* one call at a time, and close() waits for it */
    PyObject *uri;
} ConnObject;

static PyTypeObject ConnType;
static PyTypeObject DomType;

/* A domain (VM): the spec's virDomain. It keeps its connection object alive. */
typedef struct {
    PyObject_HEAD
    uniDomainPtr dom;
    PyObject *conn; /* the ConnObject */
} DomObject;

/* ---- errors: the C library's per-thread last error, copied at once ---- */

static PyObject *last_error_obj(void) {
    const uniError *e = uniGetLastError();
    if (!e)
        Py_RETURN_NONE;
    return Py_BuildValue("(is)", e->code, e->message ? e->message : "");
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

static PyObject *value_of(const uniSample *s) {
    switch (s->type) {
    case UNI_VALUE_U64:
        return PyLong_FromUnsignedLongLong(s->value.u);
    case UNI_VALUE_DOUBLE:
        return PyFloat_FromDouble(s->value.d);
    default:
        return PyUnicode_FromString(s->value.s ? s->value.s : "");
    }
}

static bool key_has(const char *key, const char *placeholder) {
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

/* A view record as the spec's list: one element per view metric, a nested list for per-core keys
 * (N), component views (C) flattened component by component; None where the host has nothing. */
static PyObject *view_list(uniRecordPtr rec, const uniViewDesc *v) {
    static const char *const comps[] = {"l2", "l3", "dram", "mcu"};
    PyObject *list = PyList_New(0);
    const uniMetricDesc *d0 = uniRecordGetDescriptor(rec, v->metrics[0]);
    bool per_comp = d0 && key_has(d0->key, "C");
    int ncomp = per_comp ? 4 : 1;

    if (!list)
        return NULL;
    for (int c = 0; c < ncomp; c++)
        for (int k = 0; k < v->nmetrics; k++) {
            const uniMetricDesc *d = uniRecordGetDescriptor(rec, v->metrics[k]);
            bool per_core = d && key_has(d->key, "N");
            PyObject *el = NULL, *inner = per_core ? PyList_New(0) : NULL;
            for (int i = 0; i < uniRecordNumSamples(rec); i++) {
                const uniSample *s = uniRecordGetSample(rec, i);
                if (s->metric != v->metrics[k] || (per_comp && (!s->name || strcmp(s->name, comps[c]))))
                    continue;
                if (per_core) {
                    PyObject *x = value_of(s);
                    if (!x || PyList_Append(inner, x) < 0) {
                        Py_XDECREF(x);
                        Py_DECREF(inner);
                        Py_DECREF(list);
                        return NULL;
                    }
                    Py_DECREF(x);
                } else if (!el)
                    el = value_of(s);
            }
            if (per_core) {
                if (PyList_GET_SIZE(inner) == 0) {
                    Py_DECREF(inner);
                    inner = NULL;
                }
                el = inner;
            }
            if (!el) {
                el = Py_None;
                Py_INCREF(el);
            }
            if (PyList_Append(list, el) < 0) {
                Py_DECREF(el);
                Py_DECREF(list);
                return NULL;
            }
            Py_DECREF(el);
        }
    return list;
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
    if (!(seq = PySequence_Fast(sel, "select must be a list of groups or key prefixes")))
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

static int conn_enter(ConnObject *self) {
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

static void conn_leave(ConnObject *self) {
    PyThread_release_lock(self->lock);
}

static PyObject *do_open(PyObject *args, unsigned flags) {
    const char *uri = NULL;
    uniConnectPtr c;
    ConnObject *o;

    if (!PyArg_ParseTuple(args, "|z", &uri))
        return NULL;
    Py_BEGIN_ALLOW_THREADS c = uniConnectOpen(uri, flags);
    Py_END_ALLOW_THREADS
    if (!c)
        Py_RETURN_NONE; /* libvirt-python raises; the spec's interface returns None: lastError() says why */
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
    Py_END_ALLOW_THREADS
    conn_leave(self);
    Py_RETURN_NONE;
}

static int view_index(const char *spec_name) {
    for (int i = 0; i < uniViewCount(); i++)
        if (strcmp(uniViewGet(i)->spec_name, spec_name) == 0)
            return i;
    return -1;
}

static PyObject *call_view(ConnObject *self, int vi) {
    uniRecordPtr rec = NULL;
    PyObject *out;
    int r;

    if (conn_enter(self) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS r = uniNodeGetView(self->conn, vi, &rec, 0);
    Py_END_ALLOW_THREADS
    conn_leave(self);
    if (r < 0)
        Py_RETURN_NONE;
    out = view_list(rec, uniViewGet(vi));
    uniRecordFree(rec);
    return out;
}

/* ---- the host's views as methods named after them: one per view of the library (views.def),
 * made at import, so a new view is a new method with no edit here ---- */

typedef struct {
    PyObject_HEAD
    int view;
    PyObject *doc;  /* str, or NULL */
    PyObject *conn; /* the Connection it is bound to; NULL in the class */
} ViewMethodObject;

static PyTypeObject ViewMethodType;

static void vm_dealloc(ViewMethodObject *self) {
    Py_XDECREF(self->doc);
    Py_XDECREF(self->conn);
    PyObject_Del(self);
}

/* conn.getHostCPUStatisticsUniserver: the method bound to conn. */
static PyObject *vm_descr_get(PyObject *self, PyObject *obj, PyObject *type) {
    ViewMethodObject *m = (ViewMethodObject *)self, *b;
    (void)type;
    if (!obj || obj == Py_None) {
        Py_INCREF(self);
        return self;
    }
    if (!PyObject_TypeCheck(obj, &ConnType))
        return PyErr_Format(PyExc_TypeError, "%s is a method of uniserver.Connection", uniViewGet(m->view)->spec_name);
    b = PyObject_New(ViewMethodObject, &ViewMethodType);
    if (!b)
        return NULL;
    b->view = m->view;
    b->doc = m->doc;
    Py_XINCREF(b->doc);
    b->conn = obj;
    Py_INCREF(obj);
    return (PyObject *)b;
}

static PyObject *vm_call(PyObject *self, PyObject *args, PyObject *kw) {
    ViewMethodObject *m = (ViewMethodObject *)self;
    const char *name = uniViewGet(m->view)->spec_name;
    if (!m->conn)
        return PyErr_Format(PyExc_TypeError, "%s() is called on a uniserver.Connection", name);
    if (PyTuple_GET_SIZE(args) || (kw && PyDict_GET_SIZE(kw)))
        return PyErr_Format(PyExc_TypeError, "%s() takes no arguments", name);
    return call_view((ConnObject *)m->conn, m->view);
}

static PyObject *vm_get_doc(ViewMethodObject *self, void *closure) {
    (void)closure;
    if (!self->doc)
        Py_RETURN_NONE;
    Py_INCREF(self->doc);
    return self->doc;
}

static PyObject *vm_get_name(ViewMethodObject *self, void *closure) {
    (void)closure;
    return PyUnicode_FromString(uniViewGet(self->view)->spec_name);
}

static PyGetSetDef vm_getset[] = {
    {"__doc__", (getter)vm_get_doc, NULL, NULL, NULL},
    {"__name__", (getter)vm_get_name, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ViewMethodType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "uniserver.ViewMethod",
    .tp_basicsize = sizeof(ViewMethodObject),
    .tp_dealloc = (destructor)vm_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A view of the spec (section 3.1.6) as a method of Connection: returns its list.",
    .tp_descr_get = vm_descr_get,
    .tp_call = vm_call,
    .tp_getset = vm_getset,
};

/* Whether view @v is a domain's (its keys are dom.*): a method of Domain, not of Connection. */
static bool view_is_domain(const uniViewDesc *v, const uniMetricDesc *descs, int ndescs) {
    return v->nmetrics > 0 && (int)v->metrics[0] < ndescs && strncmp(descs[v->metrics[0]].key, "dom.", 4) == 0;
}

static PyObject *m_getHostGovernor(ConnObject *self, PyObject *noargs) {
    char *g;
    PyObject *out;
    (void)noargs;
    if (conn_enter(self) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS g = uniNodeGetGovernor(self->conn, 0);
    Py_END_ALLOW_THREADS
    conn_leave(self);
    if (!g)
        Py_RETURN_NONE;
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
    Py_END_ALLOW_THREADS
    conn_leave(self);
    Py_DECREF(str);
    if (r < 0)
        Py_RETURN_NONE;
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
    Py_BEGIN_ALLOW_THREADS r = which ? uniNodeSetPowerPolicy(self->conn, core, value, 0)
                                     : uniNodeSetGovernor(self->conn, core, value, 0);
    Py_END_ALLOW_THREADS
    conn_leave(self);
    if (r < 0)
        Py_RETURN_NONE;
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
    Py_END_ALLOW_THREADS
    conn_leave(self);
    select_free(seq, list);
    if (r < 0)
        Py_RETURN_NONE;
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
    Py_END_ALLOW_THREADS
    conn_leave(self);
    if (n < 0)
        Py_RETURN_NONE;
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
    Py_END_ALLOW_THREADS
    conn_leave(self);
    if (n < 0)
        Py_RETURN_NONE;
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
        Py_RETURN_NONE;
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

static PyObject *dom_wrap(ConnObject *conn, uniDomainPtr d) {
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
    Py_BEGIN_ALLOW_THREADS d = by_uuid ? uniDomainLookupByUUIDString(self->conn, key, 0) : uniDomainLookupByName(self->conn, key, 0);
    Py_END_ALLOW_THREADS
    conn_leave(self);
    if (!d)
        Py_RETURN_NONE;
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
    Py_END_ALLOW_THREADS
    conn_leave(self);
    if (n < 0)
        Py_RETURN_NONE;
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
    Py_END_ALLOW_THREADS
    conn_leave(self);
    select_free(seq, list);
    if (r < 0)
        Py_RETURN_NONE;
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
        Py_RETURN_NONE;
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
    Py_END_ALLOW_THREADS
    conn_leave(c);
    if (r < 0)
        Py_RETURN_NONE;
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
    Py_END_ALLOW_THREADS
    conn_leave(c);
    select_free(seq, list);
    if (r < 0)
        Py_RETURN_NONE;
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

static PyTypeObject DomType = {
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
     "every DIMM when None), oldest first, each a dict {'event.time_ms': ..., 'event.severity': ..., 'event.vms': ...}.\n"
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

static PyTypeObject ConnType = {
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
    {"openReadOnly", py_open_ro, METH_VARARGS, "openReadOnly(uri=None) -> Connection or None: read-only: control refused."},
    {"lastError", py_last_error, METH_NOARGS,
     "lastError() -> (code, message) of the last failed call in this thread, or None."},
    {"errorCodeName", py_error_code_name, METH_O, "errorCodeName(code) -> str ('INVALID_URI', ...)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "uniserver",
    "uniserver: reliability-aware telemetry and control of KVM hosts (UniServer D5.1 section 3.1.6).\n"
    "Every method of the spec returns a list in the spec's order (None for an element the host\n"
    "cannot provide; None for the whole call when it fails, with lastError()).",
    -1, module_methods, NULL, NULL, NULL, NULL,
};

/* "getHostCPUStatisticsUniserver() -> list: [0] host.cpu.count (count), ..." */
static char *view_doc(const uniViewDesc *v, const uniMetricDesc *descs, int ndescs) {
    size_t cap = 4096, o = 0;
    char *doc = malloc(cap);
    bool comp = false;
    int pos = 0;
    if (!doc)
        return NULL;
    o += (size_t)snprintf(doc + o, cap - o, "%s() -> list: %s.\nElements, in the spec's order:\n", v->spec_name, v->summary);
    if (v->nmetrics && (int)v->metrics[0] < ndescs)
        comp = key_has(descs[v->metrics[0]].key, "C");
    for (int c = 0; c < (comp ? 4 : 1); c++)
        for (int k = 0; k < v->nmetrics && o < cap - 256; k++) {
            const uniMetricDesc *d = &descs[v->metrics[k]];
            static const char *const comps[] = {"l2", "l3", "dram", "mcu"};
            char key[128];
            snprintf(key, sizeof(key), "%s", d->key);
            if (comp) {
                char *p = strstr(key, ".C.");
                if (p) {
                    char tail[128];
                    snprintf(tail, sizeof(tail), "%s", p + 2);
                    snprintf(p, sizeof(key) - (size_t)(p - key), ".%s%s", comps[c], tail);
                }
            }
            o += (size_t)snprintf(doc + o, cap - o, "  [%d] %s (%s)%s: %s\n", pos++, key, d->unit,
                                  key_has(d->key, "N") ? ", a list with one value per online core" : "", d->help);
        }
    snprintf(doc + o, cap - o, "None for an element the host cannot provide; None when the call fails\n"
                               "(uniserver.lastError() says why).");
    return doc;
}

PyMODINIT_FUNC PyInit_uniserver(void);
PyMODINIT_FUNC PyInit_uniserver(void) {
    PyObject *m;
    uniConnectPtr t = uniConnectOpen("test:///default", 0);
    const uniMetricDesc *descs = NULL;
    int nd = t ? uniConnectGetMetricDescriptors(t, &descs, 0) : 0;

    if (nd > 0)
        dom_methods[3].ml_doc = view_doc(uniViewGet(view_index("getDomainStatisticsUniserver")), descs, nd);
    if (PyType_Ready(&ConnType) < 0 || PyType_Ready(&DomType) < 0 || PyType_Ready(&ViewMethodType) < 0) {
        uniConnectClose(t);
        return NULL;
    }
    /* Every host view the library has, under its spec name, unless Connection has a method of
     * that name already (getHostGovernor returns a str, not a list). */
    for (int v = 0; v < uniViewCount(); v++) {
        const uniViewDesc *vd = uniViewGet(v);
        ViewMethodObject *vm;
        char *doc;
        int k;
        if (view_is_domain(vd, descs, nd) || PyDict_GetItemString(ConnType.tp_dict, vd->spec_name))
            continue;
        vm = PyObject_New(ViewMethodObject, &ViewMethodType);
        if (!vm) {
            uniConnectClose(t);
            return NULL;
        }
        vm->view = v;
        vm->conn = NULL;
        doc = nd > 0 ? view_doc(vd, descs, nd) : NULL;
        vm->doc = PyUnicode_FromString(doc ? doc : vd->summary);
        free(doc);
        k = vm->doc ? PyDict_SetItemString(ConnType.tp_dict, vd->spec_name, (PyObject *)vm) : -1;
        Py_DECREF(vm);
        if (k < 0) {
            uniConnectClose(t);
            return NULL;
        }
    }
    PyType_Modified(&ConnType);
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
