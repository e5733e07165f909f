/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the binding's files share: the Connection and Domain objects, and the helpers the views
 * (views.c) use from the module (uniserver.c). */
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>
#include <stdbool.h>

#include "uniserver/uniserver.h"

typedef struct {
    PyObject_HEAD uniConnectPtr conn;
    PyThread_type_lock lock; /* one call at a time, and close() waits for it */
    PyObject *uri;
} ConnObject;

extern PyTypeObject ConnType, DomType;

/* A domain (VM): the spec's virDomain. It keeps its connection object alive. */
typedef struct {
    PyObject_HEAD uniDomainPtr dom;
    PyObject *conn; /* the ConnObject */
} DomObject;

/* uniserver.c: one call at a time on a connection (-1 with ValueError when it is closed), and
 * the end of that call; a sample's value as a Python object; whether a key template has the
 * placeholder segment @placeholder ("N", "C"). */
int conn_enter(ConnObject *self);
/* A call failed (the library's last error says why): None, as the spec's interface returns, or
 * with setRaiseOnError(True) a uniserver.Error(code, name, message) raised. */
PyObject *uni_failed(void);
void conn_leave(ConnObject *self);
PyObject *value_of(const uniSample *s);
bool key_has(const char *key, const char *placeholder);

/* views.c: a view record as the spec's list; a view's index by spec name (-1); its docstring
 * (malloc'd); one method per host view installed in @type. */
PyObject *view_list(uniRecordPtr rec, const uniViewDesc *v);
int view_index(const char *spec_name);
char *view_doc(const uniViewDesc *v, const uniMetricDesc *descs, int ndescs);
int views_install(PyTypeObject *type, const uniMetricDesc *descs, int nd);

/* uniserver.c: a Domain object taking over @d (NULL with an exception set). */
PyObject *dom_wrap(ConnObject *conn, uniDomainPtr d);

/* domain.c: the spec's Table 4 and the reliability class, under libvirt-python's names, added to
 * Domain and Connection once they are ready. */
int domain_ops_install(PyTypeObject *dom_type, PyTypeObject *conn_type);
