/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The inside of the remote driver (remote.c, remote_domain.c): a connection's state, the typed
 * calls of procs.def, and the domain verbs of the spec's Table 4. */
#pragma once

#include "remote.h"
#include "rpc/wire.h"
#include "util/gnutls_dl.h"

typedef enum { T_UNIX, T_TCP, T_TLS } transport;

typedef struct {
    transport t;
    char *socket_path; /* unix */
    char *host;        /* tcp, tls */
    int port;
    char *pkipath;
    int timeout_ms;
    bool ro;
    int fd;
    gnutls_session_t tls;
    gnutls_certificate_credentials_t cred;
    unsigned serial;
    uniMetricDesc *descs; /* from the daemon, owned here */
    unsigned ndescs;
    bool have_descs;
    uniMetricDesc *event_descs; /* the HealthLog's event fields, from the first query's reply */
    unsigned nevent_descs;
    char *where; /* "socket /run/uniserver/uniserver-sock" for messages */
} remote_state;

/* Send one call and wait for its reply. On a transport failure the connection is dropped and
 * the error says so; the next call reconnects. */
int remote_call(remote_state *s, int proc, xdrproc_t args_proc, void *args, xdrproc_t ret_proc, void *ret);

/* call_STEM(s, args, ret): each procedure of procs.def, typed. */
#define CALL_(NAME, stem, args, ret, access)                                                                           \
    static inline int call_##stem(remote_state *s, args *a, ret *r) {                                                  \
        return remote_call(s, UNI_PROC_##NAME, (xdrproc_t)xdr_##args, a, (xdrproc_t)xdr_##ret, r);                     \
    }
UNI_PROCS(CALL_)
#undef CALL_

/* A wire domain as the library's (name copied); -1 when malformed or out of memory. */
int remote_info_from_wire(const uni_wire_domain *w, uni_domain_info *d);

/* remote_domain.c: the spec's Table 4 and the reliability class (uni_driver's members). */
int remote_domain_get_info(uniConnectPtr conn, const uni_domain_info *dom, uniDomainInfo *ret);
int remote_domain_list_info(uniConnectPtr conn, uni_domain_info **ret, uniDomainInfo **ret_infos, size_t *ret_n);
int remote_domain_get_xml(uniConnectPtr conn, const uni_domain_info *dom, char **ret);
int remote_domain_get_sched(uniConnectPtr conn, const uni_domain_info *dom, char **ret_type, uniSchedParam **ret);
int remote_domain_get_vcpus(uniConnectPtr conn, const uni_domain_info *dom, uniVcpuInfo **ret_info,
                            unsigned char **ret_maps, int *ret_ncpus);
int remote_domain_pin_vcpu(uniConnectPtr conn, const uni_domain_info *dom, unsigned vcpu, const unsigned char *map,
                           int maplen);
int remote_domain_get_cpu_stats(uniConnectPtr conn, const uni_domain_info *dom, unsigned long long **ret);
int remote_domain_get_reliability(uniConnectPtr conn, const uni_domain_info *dom);
int remote_domain_set_reliability(uniConnectPtr conn, const uni_domain_info *dom, int cls);
