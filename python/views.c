/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The views in the binding: a view record as the spec's list, and one method of Connection per
 * host view of the library (views.def), made at import, each with a docstring written from the
 * view and the catalogue. A new view is a new method with no edit here. */
#include <time.h>

#include "binding.h"

/* A view record as the spec's list: one element per view metric, a nested list for per-core keys
 * (N), component views (C) flattened component by component; None where the host has nothing. */
PyObject *view_list(uniRecordPtr rec, const uniViewDesc *v) {
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

int view_index(const char *spec_name) {
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
    /* A view with rates needs a window: the first call on a connection has none (every rate
     * None). It waits the view's window, as unish does, and samples again. */
    if (r >= 0 && uniViewGet(vi)->window_ms > 0 && uniRecordGetWindowMs(rec) < 0) {
        struct timespec ts = {uniViewGet(vi)->window_ms / 1000, (uniViewGet(vi)->window_ms % 1000) * 1000000};
        uniRecordFree(rec);
        rec = NULL;
        nanosleep(&ts, NULL);
        r = uniNodeGetView(self->conn, vi, &rec, 0);
    }
    Py_END_ALLOW_THREADS conn_leave(self);
    if (r < 0)
        return uni_failed();
    out = view_list(rec, uniViewGet(vi));
    uniRecordFree(rec);
    return out;
}

/* ---- the host's views as methods named after them: one per view of the library (views.def),
 * made at import, so a new view is a new method with no edit here ---- */

typedef struct {
    PyObject_HEAD int view;
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

/* "getHostCPUStatisticsUniserver() -> list: [0] host.cpu.count (count), ..." */
char *view_doc(const uniViewDesc *v, const uniMetricDesc *descs, int ndescs) {
    size_t cap = 4096, o = 0;
    char *doc = malloc(cap);
    bool comp = false;
    int pos = 0;
    if (!doc)
        return NULL;
    o += (size_t)snprintf(doc + o, cap - o, "%s() -> list: %s.\nElements, in the spec's order:\n", v->spec_name,
                          v->summary);
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
    snprintf(doc + o, cap - o,
             "None for an element the host cannot provide; None when the call fails\n"
             "(uniserver.lastError() says why).");
    return doc;
}

int views_install(PyTypeObject *type, const uniMetricDesc *descs, int nd) {
    if (PyType_Ready(&ViewMethodType) < 0)
        return -1;
    /* Every host view the library has, under its spec name, unless Connection has a method of
     * that name already (getHostGovernor returns a str, not a list). */
    for (int v = 0; v < uniViewCount(); v++) {
        const uniViewDesc *vd = uniViewGet(v);
        ViewMethodObject *vm;
        char *doc;
        int k;
        if (view_is_domain(vd, descs, nd) || PyDict_GetItemString(type->tp_dict, vd->spec_name))
            continue;
        vm = PyObject_New(ViewMethodObject, &ViewMethodType);
        if (!vm) {
            return -1;
        }
        vm->view = v;
        vm->conn = NULL;
        doc = nd > 0 ? view_doc(vd, descs, nd) : NULL;
        vm->doc = PyUnicode_FromString(doc ? doc : vd->summary);
        free(doc);
        k = vm->doc ? PyDict_SetItemString(type->tp_dict, vd->spec_name, (PyObject *)vm) : -1;
        Py_DECREF(vm);
        if (k < 0) {
            return -1;
        }
    }
    PyType_Modified(type);
    return 0;
}
