/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The spec's Table 4 and the reliability class in Python, under libvirt-python's names: on Domain
 * info, maxMemory, maxVcpus, XMLDesc, schedulerType, schedulerParameters, vcpus, pinVcpu,
 * getCPUStats, reliability, setReliability; on Connection listAllDomainsInfo and getOperatingPoints. A failure returns
 * None (or -1 for the calls libvirt-python gives an int) with uniserver.lastError() saying why. */
#include "binding.h"

#define CALL(self, expr)                                                                                               \
    ({                                                                                                                 \
        ConnObject *c_ = (ConnObject *)(self)->conn;                                                                   \
        __typeof__(expr) r_;                                                                                           \
        if (conn_enter(c_) < 0)                                                                                        \
            return NULL;                                                                                               \
        Py_BEGIN_ALLOW_THREADS r_ = (expr);                                                                            \
        Py_END_ALLOW_THREADS conn_leave(c_);                                                                           \
        r_;                                                                                                            \
    })

static PyObject *info_list(const uniDomainInfo *i) {
    /* libvirt-python's info(): [state, maxMem KiB, memory KiB, nrVirtCpu, cpuTime ns] */
    return Py_BuildValue("[iKKiK]", i->state, i->maxMem, i->memory, i->nrVirtCpu, i->cpuTime);
}

static PyObject *d_info(DomObject *self, PyObject *noargs) {
    uniDomainInfo i;
    (void)noargs;
    if (CALL(self, uniDomainGetInfo(self->dom, &i, 0)) < 0)
        Py_RETURN_NONE;
    return info_list(&i);
}

static PyObject *d_maxMemory(DomObject *self, PyObject *noargs) {
    (void)noargs;
    unsigned long long m = CALL(self, uniDomainGetMaxMemory(self->dom, 0));
    if (m == 0)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(m);
}

static PyObject *d_maxVcpus(DomObject *self, PyObject *noargs) {
    (void)noargs;
    return PyLong_FromLong(CALL(self, uniDomainGetMaxVcpus(self->dom, 0)));
}

static PyObject *d_XMLDesc(DomObject *self, PyObject *args) {
    unsigned flags = 0;
    char *xml;
    PyObject *out;
    if (!PyArg_ParseTuple(args, "|I", &flags))
        return NULL;
    if (!(xml = CALL(self, uniDomainGetXMLDesc(self->dom, flags))))
        Py_RETURN_NONE;
    out = PyUnicode_FromString(xml);
    free(xml);
    return out;
}

static PyObject *d_schedulerType(DomObject *self, PyObject *noargs) {
    int n = 0;
    char *t;
    PyObject *out;
    (void)noargs;
    if (!(t = CALL(self, uniDomainGetSchedulerType(self->dom, &n, 0))))
        Py_RETURN_NONE;
    out = Py_BuildValue("[si]", t, n);
    free(t);
    return out;
}

static PyObject *d_schedulerParameters(DomObject *self, PyObject *args) {
    unsigned flags = 0;
    uniSchedParam *p = NULL;
    PyObject *out;
    int n;
    if (!PyArg_ParseTuple(args, "|I", &flags))
        return NULL;
    if ((n = CALL(self, uniDomainGetSchedulerParameters(self->dom, &p, flags))) < 0)
        Py_RETURN_NONE;
    out = PyDict_New();
    for (int i = 0; out && i < n; i++) {
        PyObject *v = PyLong_FromLongLong(p[i].value);
        if (!v || PyDict_SetItemString(out, p[i].field, v) < 0)
            Py_CLEAR(out);
        Py_XDECREF(v);
    }
    free(p);
    return out;
}

static PyObject *d_vcpus(DomObject *self, PyObject *noargs) {
    uniVcpuInfo *info = NULL;
    unsigned char *maps = NULL;
    PyObject *infos, *cpumaps, *out = NULL;
    int ncpus = 0, n;
    (void)noargs;
    if ((n = CALL(self, uniDomainGetVcpus(self->dom, &info, &maps, &ncpus, 0))) < 0)
        Py_RETURN_NONE;
    /* libvirt-python's vcpus(): ([(number, state, cpuTime, cpu)...], [(bool per host CPU)...]) */
    infos = PyList_New(n);
    cpumaps = PyList_New(n);
    for (int i = 0; infos && cpumaps && i < n; i++) {
        PyObject *t = PyTuple_New(ncpus);
        for (int c = 0; t && c < ncpus; c++)
            PyTuple_SET_ITEM(t, c, PyBool_FromLong(UNI_CPU_USABLE(maps, UNI_CPU_MAPLEN(ncpus), i, c)));
        PyList_SET_ITEM(infos, i, Py_BuildValue("(iiKi)", info[i].number, info[i].state, info[i].cpuTime, info[i].cpu));
        PyList_SET_ITEM(cpumaps, i, t);
    }
    if (infos && cpumaps && !PyErr_Occurred())
        out = PyTuple_Pack(2, infos, cpumaps);
    Py_XDECREF(infos);
    Py_XDECREF(cpumaps);
    free(info);
    free(maps);
    return out;
}

static PyObject *d_pinVcpu(DomObject *self, PyObject *args) {
    unsigned vcpu;
    PyObject *seq, *fast;
    unsigned char *map;
    Py_ssize_t n;
    int r;
    if (!PyArg_ParseTuple(args, "IO", &vcpu, &seq) || !(fast = PySequence_Fast(seq, "cpumap: a sequence of bools")))
        return NULL;
    n = PySequence_Fast_GET_SIZE(fast);
    if (!(map = calloc((size_t)UNI_CPU_MAPLEN(n) + 1, 1))) {
        Py_DECREF(fast);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t c = 0; c < n; c++) {
        int t = PyObject_IsTrue(PySequence_Fast_GET_ITEM(fast, c));
        if (t < 0) {
            free(map);
            Py_DECREF(fast);
            return NULL;
        }
        if (t)
            UNI_USE_CPU(map, c);
    }
    Py_DECREF(fast);
    r = CALL(self, uniDomainPinVcpu(self->dom, vcpu, map, (int)(n ? UNI_CPU_MAPLEN(n) : 0), 0));
    free(map);
    return PyLong_FromLong(r);
}

static PyObject *d_getCPUStats(DomObject *self, PyObject *args) {
    int total = 0, n;
    unsigned long long *t = NULL;
    PyObject *out;
    if (!PyArg_ParseTuple(args, "|p", &total))
        return NULL;
    if (total) {
        /* libvirt-python's getCPUStats(True): [{'cpu_time': ns}] of the whole domain. */
        uniDomainInfo i;
        if (CALL(self, uniDomainGetInfo(self->dom, &i, 0)) < 0)
            Py_RETURN_NONE;
        return Py_BuildValue("[{sK}]", "cpu_time", i.cpuTime);
    }
    if ((n = CALL(self, uniDomainGetCPUStats(self->dom, &t, 0))) < 0)
        Py_RETURN_NONE;
    out = PyList_New(n);
    for (int i = 0; out && i < n; i++)
        PyList_SET_ITEM(out, i, Py_BuildValue("{sK}", "cpu_time", t[i]));
    free(t);
    return out;
}

static PyObject *d_reliability(DomObject *self, PyObject *noargs) {
    const char *r;
    (void)noargs;
    if (!(r = CALL(self, uniDomainGetReliability(self->dom, 0))))
        Py_RETURN_NONE;
    return PyUnicode_FromString(r);
}

static PyObject *d_setReliability(DomObject *self, PyObject *args) {
    const char *cls;
    if (!PyArg_ParseTuple(args, "s", &cls))
        return NULL;
    return PyLong_FromLong(CALL(self, uniDomainSetReliability(self->dom, cls, 0)));
}

static PyObject *c_setAuditReason(ConnObject *self, PyObject *args) {
    const char *reason = NULL;
    int r;
    if (!PyArg_ParseTuple(args, "z", &reason))
        return NULL;
    if (conn_enter(self) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS r = uniConnectSetAuditReason(self->conn, reason, 0);
    Py_END_ALLOW_THREADS conn_leave(self);
    return PyLong_FromLong(r);
}

static PyObject *c_listAllDomainsInfo(ConnObject *self, PyObject *args) {
    unsigned flags = 0;
    uniDomainPtr *doms = NULL;
    uniDomainInfo *infos = NULL;
    PyObject *out;
    int n;
    if (!PyArg_ParseTuple(args, "|I", &flags))
        return NULL;
    if (conn_enter(self) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS n = uniConnectGetAllDomainInfo(self->conn, &doms, &infos, flags);
    Py_END_ALLOW_THREADS conn_leave(self);
    if (n < 0)
        Py_RETURN_NONE;
    out = PyList_New(0);
    for (int i = 0; i < n; i++) {
        PyObject *d = out ? dom_wrap(self, doms[i]) : NULL, *inf = d ? info_list(&infos[i]) : NULL;
        PyObject *t = inf ? PyTuple_Pack(2, d, inf) : NULL;
        if (!d)
            uniDomainFree(doms[i]);
        if (!t || PyList_Append(out, t) < 0)
            Py_CLEAR(out);
        Py_XDECREF(t);
        Py_XDECREF(d);
        Py_XDECREF(inf);
    }
    free(doms);
    free(infos);
    return out;
}

/* The host's operating-point domains (uniNodeGetOperatingPoints) as plain values: a list of
 * {'name', 'kind' ('cpu' or 'memory'), 'params': {name: {'current', 'nominal' (None when unknown),
 * 'min', 'max', 'step', 'unit', 'readonly'}}}. */
static PyObject *opp_domain(uniOppListPtr list, int i) {
    const uniOppDomain *d = uniOppListGetDomain(list, i);
    PyObject *params = PyDict_New(), *out;
    for (int p = 0; params && p < d->nparams; p++) {
        const uniOppParam *q = uniOppListGetParam(list, i, p);
        PyObject *nominal = q->nominal < 0 ? (Py_INCREF(Py_None), Py_None) : PyLong_FromLongLong(q->nominal);
        PyObject *v = nominal ? Py_BuildValue("{sLsOsLsLsLsssO}", "current", q->current, "nominal", nominal, "min",
                                              q->min, "max", q->max, "step", q->step, "unit", q->unit, "readonly",
                                              (q->flags & UNI_OPP_PARAM_READONLY) ? Py_True : Py_False)
                              : NULL;
        Py_XDECREF(nominal);
        if (!v || PyDict_SetItemString(params, q->name, v) < 0)
            Py_CLEAR(params);
        Py_XDECREF(v);
    }
    if (!params)
        return NULL;
    out =
        Py_BuildValue("{sssssO}", "name", d->name, "kind", d->kind == UNI_OPP_CPU ? "cpu" : "memory", "params", params);
    Py_DECREF(params);
    return out;
}

static PyObject *c_getOperatingPoints(ConnObject *self, PyObject *noargs) {
    uniOppListPtr list = NULL;
    PyObject *out;
    int r, n;
    (void)noargs;
    if (conn_enter(self) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS r = uniNodeGetOperatingPoints(self->conn, &list, 0);
    Py_END_ALLOW_THREADS conn_leave(self);
    if (r < 0)
        return uni_failed();
    n = uniOppListNumDomains(list);
    out = PyList_New(0);
    for (int i = 0; out && i < n; i++) {
        PyObject *d = opp_domain(list, i);
        if (!d || PyList_Append(out, d) < 0)
            Py_CLEAR(out);
        Py_XDECREF(d);
    }
    uniOppListFree(list);
    return out;
}

static PyMethodDef dom_ops[] = {
    {"info", (PyCFunction)d_info, METH_NOARGS, "info() -> [state, maxMem KiB, memory KiB, nrVirtCpu, cpuTime ns]"},
    {"maxMemory", (PyCFunction)d_maxMemory, METH_NOARGS, "maxMemory() -> KiB"},
    {"maxVcpus", (PyCFunction)d_maxVcpus, METH_NOARGS, "maxVcpus() -> int (-1 on failure)"},
    {"XMLDesc", (PyCFunction)d_XMLDesc, METH_VARARGS, "XMLDesc(flags=0) -> str"},
    {"schedulerType", (PyCFunction)d_schedulerType, METH_NOARGS, "schedulerType() -> ['posix', nparams]"},
    {"schedulerParameters", (PyCFunction)d_schedulerParameters, METH_VARARGS,
     "schedulerParameters(flags=0) -> {'cpu_shares': N, ...}"},
    {"vcpus", (PyCFunction)d_vcpus, METH_NOARGS,
     "vcpus() -> ([(number, state, cpuTime ns, cpu)], [(bool per host CPU)])"},
    {"pinVcpu", (PyCFunction)d_pinVcpu, METH_VARARGS, "pinVcpu(vcpu, cpumap: bools per host CPU) -> 0, or -1"},
    {"getCPUStats", (PyCFunction)d_getCPUStats, METH_VARARGS,
     "getCPUStats(total=False) -> [{'cpu_time': ns}] per host CPU, or of the whole domain"},
    {"reliability", (PyCFunction)d_reliability, METH_NOARGS, "reliability() -> 'high', 'normal' or 'low'"},
    {"setReliability", (PyCFunction)d_setReliability, METH_VARARGS,
     "setReliability(cls) -> 0, or -1: 'high', 'normal' or 'low' (a control call)"},
    {NULL, NULL, 0, NULL},
};
static PyMethodDef conn_ops[] = {
    {"setAuditReason", (PyCFunction)c_setAuditReason, METH_VARARGS,
     "setAuditReason(reason or None) -> 0, or -1: why the control calls that follow are made; recorded with each\n"
     "change they make (uniserverd's audit, the HealthLog's control actions). One line, under 512 bytes."},
    {"listAllDomainsInfo", (PyCFunction)c_listAllDomainsInfo, METH_VARARGS,
     "listAllDomainsInfo(flags=0) -> [(Domain, info())]: get_domains_and_infos in one call"},
    {"getOperatingPoints", (PyCFunction)c_getOperatingPoints, METH_NOARGS,
     "getOperatingPoints() -> [{'name', 'kind', 'params': {name: {'current', 'nominal', 'min', 'max', 'step',\n"
     "'unit', 'readonly'}}}]: the host's operating-point domains (uniNodeGetOperatingPoints); None on failure."},
    {NULL, NULL, 0, NULL},
};

static int install(PyTypeObject *type, PyMethodDef *defs) {
    for (PyMethodDef *d = defs; d->ml_name; d++) {
        PyObject *m = PyDescr_NewMethod(type, d);
        int r = m ? PyDict_SetItemString(type->tp_dict, d->ml_name, m) : -1;
        Py_XDECREF(m);
        if (r < 0)
            return -1;
    }
    PyType_Modified(type);
    return 0;
}

int domain_ops_install(PyTypeObject *dom_type, PyTypeObject *conn_type) {
    return install(dom_type, dom_ops) < 0 || install(conn_type, conn_ops) < 0 ? -1 : 0;
}
