/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GnuTLS loaded on first use: the few calls uniserver makes, as a table filled by dlopen, under
 * their own names. Include this instead of <gnutls/gnutls.h> and call uni_gnutls_load() first. */
#pragma once

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stddef.h>

/* Every GnuTLS call uniserver makes. A macro (gnutls_transport_set_int) is listed as the
 * function it expands to. */
#define UNI_GNUTLS_FUNCS(X)                                                                                            \
    X(gnutls_certificate_allocate_credentials)                                                                         \
    X(gnutls_certificate_free_credentials)                                                                             \
    X(gnutls_certificate_server_set_request)                                                                           \
    X(gnutls_certificate_set_x509_key_file)                                                                            \
    X(gnutls_certificate_set_x509_trust_file)                                                                          \
    X(gnutls_certificate_verify_peers2)                                                                                \
    X(gnutls_certificate_verify_peers)                                                                                 \
    X(gnutls_certificate_get_peers)                                                                                    \
    X(gnutls_x509_crt_init)                                                                                            \
    X(gnutls_x509_crt_import)                                                                                          \
    X(gnutls_x509_crt_get_dn)                                                                                          \
    X(gnutls_x509_crt_deinit)                                                                                          \
    X(gnutls_credentials_set)                                                                                          \
    X(gnutls_deinit)                                                                                                   \
    X(gnutls_handshake)                                                                                                \
    X(gnutls_init)                                                                                                     \
    X(gnutls_priority_deinit)                                                                                          \
    X(gnutls_priority_init)                                                                                            \
    X(gnutls_priority_set)                                                                                             \
    X(gnutls_record_check_pending)                                                                                     \
    X(gnutls_record_get_direction)                                                                                     \
    X(gnutls_record_recv)                                                                                              \
    X(gnutls_record_send)                                                                                              \
    X(gnutls_server_name_set)                                                                                          \
    X(gnutls_session_set_verify_cert)                                                                                  \
    X(gnutls_set_default_priority)                                                                                     \
    X(gnutls_strerror)                                                                                                 \
    X(gnutls_transport_set_int2)

#define UNI_GNUTLS_FIELD(f) __typeof__(f) *f;
typedef struct {
    UNI_GNUTLS_FUNCS(UNI_GNUTLS_FIELD)
} uni_gnutls_api;
#undef UNI_GNUTLS_FIELD

/* Filled by uni_gnutls_load(); read only after it returned 0. */
extern uni_gnutls_api uni_gnutls;

/* Load libgnutls.so.30 (once per process; later calls return the first outcome). 0 when loaded;
 * -ENOENT when it is not installed or lacks a call, with why (len bytes) saying so. Thread-safe. */
int uni_gnutls_load(char *why, size_t len);

/* The calls by their names, through the table (not in gnutls_dl.c, which fills it). */
#ifndef UNI_GNUTLS_DL_IMPL
#define gnutls_certificate_allocate_credentials (uni_gnutls.gnutls_certificate_allocate_credentials)
#define gnutls_certificate_free_credentials (uni_gnutls.gnutls_certificate_free_credentials)
#define gnutls_certificate_server_set_request (uni_gnutls.gnutls_certificate_server_set_request)
#define gnutls_certificate_set_x509_key_file (uni_gnutls.gnutls_certificate_set_x509_key_file)
#define gnutls_certificate_set_x509_trust_file (uni_gnutls.gnutls_certificate_set_x509_trust_file)
#define gnutls_certificate_verify_peers2 (uni_gnutls.gnutls_certificate_verify_peers2)
#define gnutls_certificate_verify_peers (uni_gnutls.gnutls_certificate_verify_peers)
#define gnutls_certificate_get_peers (uni_gnutls.gnutls_certificate_get_peers)
#define gnutls_x509_crt_init (uni_gnutls.gnutls_x509_crt_init)
#define gnutls_x509_crt_import (uni_gnutls.gnutls_x509_crt_import)
#define gnutls_x509_crt_get_dn (uni_gnutls.gnutls_x509_crt_get_dn)
#define gnutls_x509_crt_deinit (uni_gnutls.gnutls_x509_crt_deinit)
#define gnutls_credentials_set (uni_gnutls.gnutls_credentials_set)
#define gnutls_deinit (uni_gnutls.gnutls_deinit)
#define gnutls_handshake (uni_gnutls.gnutls_handshake)
#define gnutls_init (uni_gnutls.gnutls_init)
#define gnutls_priority_deinit (uni_gnutls.gnutls_priority_deinit)
#define gnutls_priority_init (uni_gnutls.gnutls_priority_init)
#define gnutls_priority_set (uni_gnutls.gnutls_priority_set)
#define gnutls_record_check_pending (uni_gnutls.gnutls_record_check_pending)
#define gnutls_record_get_direction (uni_gnutls.gnutls_record_get_direction)
#define gnutls_record_recv (uni_gnutls.gnutls_record_recv)
#define gnutls_record_send (uni_gnutls.gnutls_record_send)
#define gnutls_server_name_set (uni_gnutls.gnutls_server_name_set)
#define gnutls_session_set_verify_cert (uni_gnutls.gnutls_session_set_verify_cert)
#define gnutls_set_default_priority (uni_gnutls.gnutls_set_default_priority)
#define gnutls_strerror (uni_gnutls.gnutls_strerror)
#define gnutls_transport_set_int2 (uni_gnutls.gnutls_transport_set_int2)
#endif
