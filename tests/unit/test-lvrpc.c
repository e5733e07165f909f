/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The native libvirt client (lvrpc.c): which URIs it serves, the framing (rpc/frame.c, whose
 * header is rpcgen's of both protocols) and decoding of libvirtd's messages on literal bytes
 * (typed parameters of every type, truncated, oversized, another program, an error status, bytes
 * left over), and a conversation with a fake libvirtd on a unix socket (keepalive PING answered
 * with PONG, an error reply, a lost connection opened again at the next call, a server that does
 * not answer, metadata-change events noted and the registration for them made again on a new
 * connection). */
#include <arpa/inet.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>

#include "drivers/local/lvrpc.h"
#include "rpc/uniserver_protocol.h"
#include "util/util.h"

static void test_uri(void **state) {
    char sock[108], name[64];
    (void)state;
    assert_true(lvrpc_uri_native("qemu:///system", sock, sizeof(sock), name, sizeof(name)));
    assert_string_equal(name, "qemu:///system");
    assert_true(startswith(sock, "/run/libvirt/"));
    assert_true(lvrpc_uri_native("qemu+unix:///system?socket=/tmp/s", sock, sizeof(sock), name, sizeof(name)));
    assert_string_equal(sock, "/tmp/s");
    assert_string_equal(name, "qemu:///system");
    assert_true(lvrpc_uri_native("qemu:///system?socket=/x/y", sock, sizeof(sock), name, sizeof(name)));
    assert_string_equal(sock, "/x/y");
    /* Everything else is libvirt.so's. */
    assert_false(lvrpc_uri_native("test:///default", sock, sizeof(sock), name, sizeof(name)));
    assert_false(lvrpc_uri_native("qemu:///session", sock, sizeof(sock), name, sizeof(name)));
    assert_false(lvrpc_uri_native("qemu+ssh://host/system", sock, sizeof(sock), name, sizeof(name)));
    assert_false(lvrpc_uri_native("qemu://host/system", sock, sizeof(sock), name, sizeof(name)));
    assert_false(lvrpc_uri_native("qemu+tls:///system", sock, sizeof(sock), name, sizeof(name)));
    assert_false(lvrpc_uri_native("qemu:///system?mode=legacy", sock, sizeof(sock), name, sizeof(name)));
    assert_false(lvrpc_uri_native("qemu+unix:///system?socket=/a&auth=sasl", sock, sizeof(sock), name, sizeof(name)));
    assert_false(lvrpc_uri_native("qemu+unix:///system?socket=rel", sock, sizeof(sock), name, sizeof(name)));
    assert_false(lvrpc_uri_native("qemu:///systemd", sock, sizeof(sock), name, sizeof(name)));
}

/* The framer's one header routine (rpc/frame.c) writes and reads the bytes rpcgen's routines for
 * libvirt's virnet_message_header and uniserver's uni_message_header do. */
static void test_frame_header(void **state) {
    frame_header f = {.prog = REMOTE_PROGRAM,
                      .vers = 7,
                      .proc = -3,
                      .type = VIRNET_MESSAGE,
                      .serial = 0xfffffffeu,
                      .status = VIRNET_CONTINUE},
                 back;
    virnet_message_header v = {.prog = f.prog,
                               .vers = f.vers,
                               .proc = f.proc,
                               .type = VIRNET_MESSAGE,
                               .serial = f.serial,
                               .status = VIRNET_CONTINUE};
    uni_message_header u = {.prog = f.prog,
                            .vers = f.vers,
                            .proc = f.proc,
                            .type = (uni_message_type)VIRNET_MESSAGE,
                            .serial = f.serial,
                            .status = (uni_message_status)VIRNET_CONTINUE};
    char a[FRAME_HEADER_LEN], b[FRAME_HEADER_LEN], c[FRAME_HEADER_LEN];
    XDR x;
    (void)state;

    xdrmem_create(&x, a, sizeof(a), XDR_ENCODE);
    assert_true(frame_xdr_header(&x, &f));
    assert_int_equal(xdr_getpos(&x), FRAME_HEADER_LEN);
    xdr_destroy(&x);
    xdrmem_create(&x, b, sizeof(b), XDR_ENCODE);
    assert_true(xdr_virnet_message_header(&x, &v));
    xdr_destroy(&x);
    xdrmem_create(&x, c, sizeof(c), XDR_ENCODE);
    assert_true(xdr_uni_message_header(&x, &u));
    xdr_destroy(&x);
    assert_memory_equal(a, b, sizeof(a));
    assert_memory_equal(a, c, sizeof(a));
    xdrmem_create(&x, b, sizeof(b), XDR_DECODE);
    assert_true(frame_xdr_header(&x, &back));
    xdr_destroy(&x);
    assert_memory_equal(&back, &f, sizeof(f));
    /* Short of a field: refused. */
    xdrmem_create(&x, b, sizeof(b) - 4, XDR_DECODE);
    assert_false(frame_xdr_header(&x, &back));
    xdr_destroy(&x);
}

/* A message as libvirtd would send it: @status patched into the header lvrpc_encode wrote. */
static char *message(unsigned prog, int proc, virnet_message_type type, unsigned serial, unsigned status,
                     xdrproc_t body_proc, void *body, size_t *len) {
    char *buf = NULL;
    uint32_t be = htonl(status);
    assert_int_equal(lvrpc_encode(prog, REMOTE_PROTOCOL_VERSION, proc, type, serial, body_proc, body, &buf, len), 0);
    memcpy(buf + 4 + 20, &be, 4);
    return buf;
}

static void set_len(char *buf, size_t len) {
    uint32_t be = htonl((uint32_t)len);
    memcpy(buf, &be, 4);
}

/* Statistics with one parameter of each of libvirt's seven types. */
static void stats_reply(remote_connect_get_all_domain_stats_ret *r, remote_domain_stats_record *rec,
                        remote_typed_param *p) {
    static char name[] = "vm1", s[] = "vda";
    static char *fields[] = {"state.state", "vcpu.current",          "vm.exits.sum", "cpu.time",
                             "x.ratio",     "vcpu.0.guest_mode.cur", "block.0.name"};
    memset(rec, 0, sizeof(*rec));
    rec->dom.name = name;
    for (int i = 0; i < 16; i++)
        rec->dom.uuid[i] = (char)i;
    rec->dom.id = 7;
    for (int i = 0; i < 7; i++) {
        p[i].field = fields[i];
        p[i].value.type = i + 1;
    }
    p[0].value.remote_typed_param_value_u.i = -3;
    p[1].value.remote_typed_param_value_u.ui = 4000000000u;
    p[2].value.remote_typed_param_value_u.l = -5000000000ll;
    p[3].value.remote_typed_param_value_u.ul = 18000000000000000000ull;
    p[4].value.remote_typed_param_value_u.d = 0.25;
    p[5].value.remote_typed_param_value_u.b = 1;
    p[6].value.remote_typed_param_value_u.s = s;
    rec->params.params_len = 7;
    rec->params.params_val = p;
    r->retStats.retStats_len = 1;
    r->retStats.retStats_val = rec;
}

static void test_decode_stats(void **state) {
    remote_connect_get_all_domain_stats_ret in, out;
    remote_domain_stats_record rec;
    remote_typed_param p[7];
    lvrpc_msg_kind kind;
    lvrpc_error err = {0};
    size_t len;
    _cleanup_free_ char *buf = NULL;
    (void)state;

    stats_reply(&in, &rec, p);
    buf = message(REMOTE_PROGRAM, REMOTE_PROC_CONNECT_GET_ALL_DOMAIN_STATS, VIRNET_REPLY, 9, VIRNET_OK,
                  (xdrproc_t)xdr_remote_connect_get_all_domain_stats_ret, &in, &len);
    memset(&out, 0, sizeof(out));
    assert_int_equal(lvrpc_decode(buf, len, REMOTE_PROC_CONNECT_GET_ALL_DOMAIN_STATS, 9,
                                  (xdrproc_t)xdr_remote_connect_get_all_domain_stats_ret, &out, &kind, &err),
                     0);
    assert_int_equal(kind, LVRPC_MSG_REPLY);
    assert_int_equal(out.retStats.retStats_len, 1);
    {
        remote_domain_stats_record *r = &out.retStats.retStats_val[0];
        remote_typed_param_value *v[7];
        assert_string_equal(r->dom.name, "vm1");
        assert_int_equal(r->dom.id, 7);
        assert_int_equal(r->dom.uuid[15], 15);
        assert_int_equal(r->params.params_len, 7);
        for (int i = 0; i < 7; i++) {
            v[i] = &r->params.params_val[i].value;
            assert_int_equal(v[i]->type, i + 1);
        }
        assert_string_equal(r->params.params_val[5].field, "vcpu.0.guest_mode.cur");
        assert_int_equal(v[0]->remote_typed_param_value_u.i, -3);
        assert_int_equal(v[1]->remote_typed_param_value_u.ui, 4000000000u);
        assert_true(v[2]->remote_typed_param_value_u.l == -5000000000ll);
        assert_true(v[3]->remote_typed_param_value_u.ul == 18000000000000000000ull);
        assert_true(v[4]->remote_typed_param_value_u.d == 0.25);
        assert_int_equal(v[5]->remote_typed_param_value_u.b, 1);
        assert_string_equal(v[6]->remote_typed_param_value_u.s, "vda");
    }
    xdr_free((xdrproc_t)xdr_remote_connect_get_all_domain_stats_ret, (char *)&out);
}

static void test_decode_malformed(void **state) {
    remote_connect_get_all_domain_stats_ret in, out;
    remote_domain_stats_record rec;
    remote_typed_param p[7];
    lvrpc_msg_kind kind;
    lvrpc_error err = {0};
    size_t len, n;
    _cleanup_free_ char *buf = NULL, *copy = NULL;
    const xdrproc_t proc = (xdrproc_t)xdr_remote_connect_get_all_domain_stats_ret;
    const int P = REMOTE_PROC_CONNECT_GET_ALL_DOMAIN_STATS;
    char word[4];
    (void)state;

    stats_reply(&in, &rec, p);
    buf = message(REMOTE_PROGRAM, P, VIRNET_REPLY, 9, VIRNET_OK, proc, &in, &len);
    copy = malloc(len + 8);
    /* Lengths: smaller than a header, larger than the maximum, not what was read. */
    set_len(word, 27);
    assert_int_equal(frame_length(word, VIRNET_MESSAGE_MAX, &n), -EBADMSG);
    set_len(word, VIRNET_MESSAGE_MAX + 1);
    assert_int_equal(frame_length(word, VIRNET_MESSAGE_MAX, &n), -EMSGSIZE);
    set_len(word, 0xffffffffu);
    assert_int_equal(frame_length(word, VIRNET_MESSAGE_MAX, &n), -EMSGSIZE);
    assert_int_equal(frame_length(buf, VIRNET_MESSAGE_MAX, &n), 0);
    assert_int_equal(n, len);
    assert_int_equal(lvrpc_decode(buf, len - 1, P, 9, proc, &out, &kind, &err), -EBADMSG);
    /* Truncated anywhere in the header or the body (the length word says so). */
    for (size_t cut = 4; cut < len; cut += 3) {
        memcpy(copy, buf, cut);
        set_len(copy, cut);
        memset(&out, 0, sizeof(out));
        assert_int_equal(lvrpc_decode(copy, cut, P, 9, proc, &out, &kind, &err), -EBADMSG);
    }
    /* Bytes left over after the body. */
    memcpy(copy, buf, len);
    memset(copy + len, 0, 8);
    set_len(copy, len + 8);
    memset(&out, 0, sizeof(out));
    assert_int_equal(lvrpc_decode(copy, len + 8, P, 9, proc, &out, &kind, &err), -EBADMSG);
    /* A reply of another call, serial, program. */
    assert_int_equal(lvrpc_decode(buf, len, REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS, 9, proc, &out, &kind, &err),
                     -EBADMSG);
    assert_int_equal(lvrpc_decode(buf, len, P, 10, proc, &out, &kind, &err), -EBADMSG);
    free(buf);
    buf = message(KEEPALIVE_PROGRAM, P, VIRNET_REPLY, 9, VIRNET_OK, proc, &in, &len);
    assert_int_equal(lvrpc_decode(buf, len, P, 9, proc, &out, &kind, &err), -EBADMSG);
    free(buf);
    /* A typed parameter of a type this client does not know: one INT parameter "abc" whose
     * discriminant (after the count, the domain's name, UUID and id, the parameter count and
     * name) becomes 8. */
    p[0].field = "abc";
    rec.params.params_len = 1;
    buf = message(REMOTE_PROGRAM, P, VIRNET_REPLY, 9, VIRNET_OK, proc, &in, &len);
    assert_int_equal(len, 28 + 44 + 8);
    set_len(word, 8);
    memcpy(buf + 28 + 44, word, 4);
    memset(&out, 0, sizeof(out));
    assert_int_equal(lvrpc_decode(buf, len, P, 9, proc, &out, &kind, &err), -EBADMSG);
    /* A stream or a status CONTINUE is not a reply to these calls. */
    free(buf);
    buf = message(REMOTE_PROGRAM, P, VIRNET_REPLY, 9, VIRNET_CONTINUE, NULL, NULL, &len);
    assert_int_equal(lvrpc_decode(buf, len, P, 9, proc, &out, &kind, &err), -EBADMSG);
}

/* The statistics reply read in place (lvrpc_xdr_raw, lvrpc_stats_index, lvrpc_param_at) says
 * what rpcgen's decoder says, and refuses what it refuses. */
static void test_stats_in_place(void **state) {
    remote_connect_get_all_domain_stats_ret in;
    remote_domain_stats_record rec[2];
    remote_typed_param p[7];
    lvrpc_msg_kind kind;
    lvrpc_error err = {0};
    lvrpc_raw raw = {0};
    lvrpc_stats_rec *idx = NULL;
    size_t len, n, pos;
    lvrpc_param w;
    _cleanup_free_ char *buf = NULL, *copy = NULL;
    const int P = REMOTE_PROC_CONNECT_GET_ALL_DOMAIN_STATS;
    static char name2[] = "second-vm";
    (void)state;

    stats_reply(&in, &rec[0], p);
    rec[1] = rec[0];
    rec[1].dom.name = name2;
    rec[1].dom.id = -1;
    rec[1].dom.uuid[0] = 99;
    rec[1].params.params_len = 0;
    in.retStats.retStats_len = 2;
    in.retStats.retStats_val = rec;
    buf = message(REMOTE_PROGRAM, P, VIRNET_REPLY, 9, VIRNET_OK, (xdrproc_t)xdr_remote_connect_get_all_domain_stats_ret,
                  &in, &len);
    assert_int_equal(lvrpc_decode(buf, len, P, 9, (xdrproc_t)lvrpc_xdr_raw, &raw, &kind, &err), 0);
    assert_int_equal(kind, LVRPC_MSG_REPLY);
    assert_int_equal(raw.len, len - 28);
    assert_memory_equal(raw.body, buf + 28, raw.len);
    assert_int_equal(lvrpc_stats_index(raw.body, raw.len, &idx, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(idx[0].name_len, 3);
    assert_memory_equal(idx[0].name, "vm1", 3);
    assert_int_equal(idx[0].id, 7);
    assert_int_equal(idx[0].uuid[15], 15);
    assert_int_equal(idx[0].nparams, 7);
    assert_int_equal(idx[1].name_len, 9);
    assert_memory_equal(idx[1].name, "second-vm", 9);
    assert_int_equal(idx[1].id, -1);
    assert_int_equal(idx[1].uuid[0], 99);
    assert_int_equal(idx[1].nparams, 0);
    pos = idx[0].params;
    for (int i = 0; i < 7; i++) {
        lvrpc_param_at(raw.body, &pos, &w);
        assert_int_equal(w.type, i + 1);
        assert_int_equal(w.field_len, strlen(p[i].field));
        assert_memory_equal(w.field, p[i].field, w.field_len);
    }
    assert_int_equal(pos, idx[1].params - 24 - 4 - 12); /* the second record's name, UUID, id, count */
    pos = idx[0].params;
    lvrpc_param_at(raw.body, &pos, &w);
    assert_int_equal(w.v.i, -3);
    lvrpc_param_at(raw.body, &pos, &w);
    assert_int_equal(w.v.ui, 4000000000u);
    lvrpc_param_at(raw.body, &pos, &w);
    assert_true(w.v.l == -5000000000ll);
    lvrpc_param_at(raw.body, &pos, &w);
    assert_true(w.v.ul == 18000000000000000000ull);
    lvrpc_param_at(raw.body, &pos, &w);
    assert_true(w.v.d == 0.25);
    lvrpc_param_at(raw.body, &pos, &w);
    assert_int_equal(w.v.b, 1);
    lvrpc_param_at(raw.body, &pos, &w);
    assert_int_equal(w.v.s.len, 3);
    assert_memory_equal(w.v.s.p, "vda", 3);
    free(idx);
    idx = NULL;

    /* Truncated anywhere, bytes left over, an unknown type, counts over the maximum or larger
     * than the bytes could hold: refused, nothing allocated beyond the body's size. */
    copy = malloc(raw.len + 8);
    for (size_t cut = 0; cut < raw.len; cut++)
        assert_int_equal(lvrpc_stats_index(raw.body, cut, &idx, &n), -EBADMSG);
    memcpy(copy, raw.body, raw.len);
    memset(copy + raw.len, 0, 8);
    assert_int_equal(lvrpc_stats_index(copy, raw.len + 4, &idx, &n), -EBADMSG);
    set_len(copy, 3); /* three records where there are two */
    assert_int_equal(lvrpc_stats_index(copy, raw.len, &idx, &n), -EBADMSG);
    set_len(copy, REMOTE_DOMAIN_LIST_MAX + 1);
    assert_int_equal(lvrpc_stats_index(copy, raw.len, &idx, &n), -EBADMSG);
    set_len(copy, 0xffffffffu);
    assert_int_equal(lvrpc_stats_index(copy, raw.len, &idx, &n), -EBADMSG);
    memcpy(copy, raw.body, raw.len);
    set_len(copy + 4 + 4 + 4 + 16 + 4, REMOTE_CONNECT_GET_ALL_DOMAIN_STATS_MAX + 1); /* vm1's parameter count */
    assert_int_equal(lvrpc_stats_index(copy, raw.len, &idx, &n), -EBADMSG);
    memcpy(copy, raw.body, raw.len);
    set_len(copy + 4 + 4 + 4 + 16 + 4 + 4 + 4 + 12, 8); /* the first parameter's type ("state.state") */
    assert_int_equal(lvrpc_stats_index(copy, raw.len, &idx, &n), -EBADMSG);
    memcpy(copy, raw.body, raw.len);
    set_len(copy + 4, 0x7ffffff0u); /* vm1's name length */
    assert_int_equal(lvrpc_stats_index(copy, raw.len, &idx, &n), -EBADMSG);
    /* An empty reply: no domains. */
    set_len(copy, 0);
    assert_int_equal(lvrpc_stats_index(copy, 4, &idx, &n), 0);
    assert_int_equal(n, 0);
    free(idx);
    raw.msg = TAKE_PTR(buf); /* as lvrpc_call hands it over */
    xdr_free((xdrproc_t)lvrpc_xdr_raw, (char *)&raw);
    assert_null(raw.msg);
    assert_null(raw.body);
}

/* A metadata-change event as libvirtd 9.0 sent it (captured from `virsh event --event
 * metadata-change` while `virsh metadata uni-g-1 urn:test:x ... --set` ran). */
static void test_metadata_event(void **state) {
    static const unsigned char ev[] = {
        0x00, 0x00, 0x00, 0x58, 0x20, 0x00, 0x80, 0x86, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x7b, 0x00, 0x00,
        0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,
        0x75, 0x6e, 0x69, 0x2d, 0x67, 0x2d, 0x31, 0x00, 0x04, 0x00, 0x45, 0xca, 0x77, 0x8e, 0x4d, 0x20, 0xbc, 0xe7,
        0x12, 0x2a, 0xdb, 0x05, 0x5d, 0xa3, 0x00, 0x00, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x0a, 0x75, 0x72, 0x6e, 0x3a, 0x74, 0x65, 0x73, 0x74, 0x3a, 0x78, 0x00, 0x00};
    static const unsigned char uuid[16] = {0x04, 0x00, 0x45, 0xca, 0x77, 0x8e, 0x4d, 0x20,
                                           0xbc, 0xe7, 0x12, 0x2a, 0xdb, 0x05, 0x5d, 0xa3};
    unsigned char u[16], copy[sizeof(ev)];
    size_t len;
    _cleanup_free_ char *other = NULL;
    (void)state;

    assert_int_equal(lvrpc_metadata_event(ev, sizeof(ev), u), 0);
    assert_memory_equal(u, uuid, 16);
    /* Truncated (the length word says so), or bytes left over: malformed. */
    memcpy(copy, ev, sizeof(ev));
    set_len((char *)copy, sizeof(ev) - 4);
    assert_int_equal(lvrpc_metadata_event(copy, sizeof(ev) - 4, u), -EBADMSG);
    assert_int_equal(lvrpc_metadata_event(ev, sizeof(ev) - 1, u), -EBADMSG);
    /* Another event, or a reply: not this one. */
    other = message(REMOTE_PROGRAM, 315, VIRNET_MESSAGE, 0, VIRNET_OK, NULL, NULL, &len);
    assert_int_equal(lvrpc_metadata_event(other, len, u), -ENOMSG);
    copy[4 + 12 + 3] = VIRNET_REPLY; /* the header's type */
    set_len((char *)copy, sizeof(ev));
    assert_int_equal(lvrpc_metadata_event(copy, sizeof(ev), u), -ENOMSG);
}

static void test_decode_error_and_others(void **state) {
    char msg[] = "Domain not found: no domain with matching uuid", *m = msg;
    remote_error e = {.code = LVRPC_ERR_NO_DOMAIN, .domain = 10, .message = &m, .level = 2};
    remote_domain_get_metadata_ret out = {0};
    lvrpc_msg_kind kind;
    lvrpc_error err = {0};
    size_t len;
    _cleanup_free_ char *buf = NULL;
    (void)state;

    buf = message(REMOTE_PROGRAM, REMOTE_PROC_DOMAIN_GET_METADATA, VIRNET_REPLY, 3, VIRNET_ERROR,
                  (xdrproc_t)xdr_remote_error, &e, &len);
    assert_int_equal(lvrpc_decode(buf, len, REMOTE_PROC_DOMAIN_GET_METADATA, 3,
                                  (xdrproc_t)xdr_remote_domain_get_metadata_ret, &out, &kind, &err),
                     -EREMOTEIO);
    assert_int_equal(err.code, LVRPC_ERR_NO_DOMAIN);
    assert_string_equal(err.message, msg);
    /* An error whose body is cut short is malformed, not an error. */
    set_len(buf, len - 4);
    assert_int_equal(lvrpc_decode(buf, len - 4, REMOTE_PROC_DOMAIN_GET_METADATA, 3,
                                  (xdrproc_t)xdr_remote_domain_get_metadata_ret, &out, &kind, &err),
                     -EBADMSG);
    free(buf);
    /* What the server sends unasked: a keepalive PING, an event. */
    buf = message(KEEPALIVE_PROGRAM, KEEPALIVE_PROC_PING, VIRNET_MESSAGE, 0, VIRNET_OK, NULL, NULL, &len);
    assert_int_equal(lvrpc_decode(buf, len, REMOTE_PROC_DOMAIN_GET_METADATA, 3, NULL, NULL, &kind, &err), 0);
    assert_int_equal(kind, LVRPC_MSG_PING);
    free(buf);
    buf = message(REMOTE_PROGRAM, 315, VIRNET_MESSAGE, 0, VIRNET_OK, NULL, NULL, &len);
    assert_int_equal(lvrpc_decode(buf, len, REMOTE_PROC_DOMAIN_GET_METADATA, 3, NULL, NULL, &kind, &err), 0);
    assert_int_equal(kind, LVRPC_MSG_IGNORED);
}

/* ---- a fake libvirtd ---- */

typedef struct {
    int lfd;
    char path[108];
    int conns;      /* connections accepted */
    int pongs;      /* PONGs received */
    int closes;     /* CONNECT_CLOSE received */
    bool mute;      /* do not answer LIST_ALL_DOMAINS */
    bool hangup;    /* close the connection after answering LIST_ALL_DOMAINS */
    unsigned auth;  /* what AUTH_LIST says: 0 none listed, else REMOTE_AUTH_* + 1 */
    int registered; /* metadata-change registrations; an event of domain AB.. then comes before each list */
    bool old;       /* refuse the registration, as a libvirtd before 3.0 does */
} fake;

static int read_msg(int fd, char **ret, size_t *ret_len) {
    char w[4];
    size_t n;
    if (recv(fd, w, 4, MSG_WAITALL) != 4 || frame_length(w, VIRNET_MESSAGE_MAX, &n) < 0)
        return -1;
    *ret = malloc(n);
    memcpy(*ret, w, 4);
    if (recv(fd, *ret + 4, n - 4, MSG_WAITALL) != (ssize_t)(n - 4)) {
        free(*ret);
        return -1;
    }
    *ret_len = n;
    return 0;
}

static void send_msg(int fd, char *buf, size_t len) {
    assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
    free(buf);
}

static void *fake_run(void *arg) {
    fake *f = arg;
    int fd;
    while ((fd = accept(f->lfd, NULL, NULL)) >= 0) {
        char *in;
        size_t len;
        f->conns++;
        while (read_msg(fd, &in, &len) == 0) {
            XDR x;
            virnet_message_header h = {0};
            size_t olen;
            char *out = NULL;
            xdrmem_create(&x, in + 4, (u_int)(len - 4), XDR_DECODE);
            xdr_virnet_message_header(&x, &h);
            xdr_destroy(&x);
            free(in);
            if (h.prog == KEEPALIVE_PROGRAM) {
                f->pongs += h.proc == KEEPALIVE_PROC_PONG;
                continue;
            }
            switch (h.proc) {
            case REMOTE_PROC_AUTH_LIST: {
                remote_auth_type t = (remote_auth_type)(f->auth - 1);
                remote_auth_list_ret r = {.types = {.types_len = f->auth ? 1 : 0, .types_val = &t}};
                out = message(REMOTE_PROGRAM, h.proc, VIRNET_REPLY, h.serial, VIRNET_OK,
                              (xdrproc_t)xdr_remote_auth_list_ret, &r, &olen);
                break;
            }
            case REMOTE_PROC_AUTH_POLKIT: {
                remote_auth_polkit_ret r = {.complete = 1};
                out = message(REMOTE_PROGRAM, h.proc, VIRNET_REPLY, h.serial, VIRNET_OK,
                              (xdrproc_t)xdr_remote_auth_polkit_ret, &r, &olen);
                break;
            }
            case REMOTE_PROC_CONNECT_OPEN:
                out = message(REMOTE_PROGRAM, h.proc, VIRNET_REPLY, h.serial, VIRNET_OK, NULL, NULL, &olen);
                break;
            case REMOTE_PROC_CONNECT_CLOSE:
                f->closes++;
                out = message(REMOTE_PROGRAM, h.proc, VIRNET_REPLY, h.serial, VIRNET_OK, NULL, NULL, &olen);
                break;
            case REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY: {
                remote_connect_domain_event_callback_register_any_ret r = {.callbackID = 0};
                if (f->old) {
                    char msg[] = "unknown procedure: 316", *m = msg;
                    remote_error e = {.code = 1, .message = &m};
                    out = message(REMOTE_PROGRAM, h.proc, VIRNET_REPLY, h.serial, VIRNET_ERROR,
                                  (xdrproc_t)xdr_remote_error, &e, &olen);
                    break;
                }
                f->registered++;
                out = message(REMOTE_PROGRAM, h.proc, VIRNET_REPLY, h.serial, VIRNET_OK,
                              (xdrproc_t)xdr_remote_connect_domain_event_callback_register_any_ret, &r, &olen);
                break;
            }
            case REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS: {
                static char name[] = "vm1";
                remote_nonnull_domain d = {.name = name, .id = 3};
                remote_connect_list_all_domains_ret r = {.domains = {.domains_len = 1, .domains_val = &d}, .ret = 1};
                if (f->mute)
                    continue;
                if (f->registered) {
                    char ns[] = "urn:x", *nsp = ns;
                    remote_domain_event_callback_metadata_change_msg ev = {.msg = {.dom = d, .type = 2, .nsuri = &nsp}};
                    ev.msg.dom.uuid[0] = (char)0xab;
                    out =
                        message(REMOTE_PROGRAM, REMOTE_PROC_DOMAIN_EVENT_CALLBACK_METADATA_CHANGE, VIRNET_MESSAGE, 1,
                                VIRNET_OK, (xdrproc_t)xdr_remote_domain_event_callback_metadata_change_msg, &ev, &olen);
                    send_msg(fd, out, olen);
                }
                /* A keepalive PING and an event before the reply. */
                out = message(KEEPALIVE_PROGRAM, KEEPALIVE_PROC_PING, VIRNET_MESSAGE, 0, VIRNET_OK, NULL, NULL, &olen);
                send_msg(fd, out, olen);
                out = message(REMOTE_PROGRAM, 315, VIRNET_MESSAGE, 0, VIRNET_OK, NULL, NULL, &olen);
                send_msg(fd, out, olen);
                out = message(REMOTE_PROGRAM, h.proc, VIRNET_REPLY, h.serial, VIRNET_OK,
                              (xdrproc_t)xdr_remote_connect_list_all_domains_ret, &r, &olen);
                break;
            }
            default: {
                char msg[] = "Requested metadata element is not present", *m = msg;
                remote_error e = {.code = LVRPC_ERR_NO_DOMAIN_METADATA, .message = &m};
                out = message(REMOTE_PROGRAM, h.proc, VIRNET_REPLY, h.serial, VIRNET_ERROR, (xdrproc_t)xdr_remote_error,
                              &e, &olen);
            }
            }
            send_msg(fd, out, olen);
            if (h.proc == REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS && f->hangup) {
                f->hangup = false;
                break;
            }
        }
        close(fd);
    }
    return NULL;
}

static void fake_start(fake *f, pthread_t *t) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(f->path, sizeof(f->path), "/tmp/test-lvrpc-%d.sock", (int)getpid());
    unlink(f->path);
    memcpy(sa.sun_path, f->path, sizeof(f->path));
    f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->lfd, 4), 0);
    assert_int_equal(pthread_create(t, NULL, fake_run, f), 0);
}

static void fake_stop(fake *f, pthread_t t) {
    shutdown(f->lfd, SHUT_RDWR);
    close(f->lfd);
    pthread_join(t, NULL);
    unlink(f->path);
}

static int list(lvrpc *c, u_int *ret_n) {
    remote_connect_list_all_domains_args a = {.need_results = 1};
    remote_connect_list_all_domains_ret r;
    int e;
    memset(&r, 0, sizeof(r));
    e = lvrpc_call(c, REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS, (xdrproc_t)xdr_remote_connect_list_all_domains_args, &a,
                   (xdrproc_t)xdr_remote_connect_list_all_domains_ret, &r, NULL);
    if (e == 0) {
        *ret_n = r.domains.domains_len;
        assert_string_equal(r.domains.domains_val[0].name, "vm1");
        xdr_free((xdrproc_t)xdr_remote_connect_list_all_domains_ret, (char *)&r);
    }
    return e;
}

static void test_conversation(void **state) {
    fake f = {.auth = REMOTE_AUTH_POLKIT + 1};
    pthread_t t;
    char uri[200], why[256];
    lvrpc *c = NULL;
    lvrpc_error err = {0};
    remote_domain_get_metadata_ret md = {0};
    remote_domain_get_metadata_args ma = {0};
    char name[] = "vm1", *ns = "urn:x";
    u_int n = 0;
    unsigned char(*changed)[16] = NULL;
    size_t nchanged;
    bool all;
    (void)state;

    fake_start(&f, &t);
    snprintf(uri, sizeof(uri), "qemu+unix:///system?socket=%s", f.path);
    assert_int_equal(lvrpc_open(uri, &c, why, sizeof(why)), 0);
    lvrpc_set_timeout(c, 300);
    /* The PING is answered with a PONG, the event skipped, the reply returned. */
    assert_int_equal(list(c, &n), 0);
    assert_int_equal(n, 1);
    /* Not watching: no changes, none asked for. */
    assert_false(lvrpc_metadata_changes(c, &changed, &nchanged, &all));
    assert_int_equal(nchanged, 0);
    assert_false(all);
    free(changed);
    /* Watching: registered at once; the metadata change that comes before a reply is noted,
     * once; the registration itself counts every domain as changed. */
    assert_int_equal(lvrpc_watch_metadata(c), 0);
    assert_int_equal(f.registered, 1);
    assert_int_equal(list(c, &n), 0);
    assert_int_equal(list(c, &n), 0);
    assert_true(lvrpc_metadata_changes(c, &changed, &nchanged, &all));
    assert_int_equal(nchanged, 1);
    assert_int_equal(changed[0][0], 0xab);
    assert_true(all);
    free(changed);
    assert_true(lvrpc_metadata_changes(c, &changed, &nchanged, &all));
    assert_int_equal(nchanged, 0);
    assert_false(all);
    free(changed);
    /* libvirt's error comes back with its code and message. */
    ma.dom.name = name;
    ma.type = 2;
    ma.uri = &ns;
    assert_int_equal(lvrpc_call(c, REMOTE_PROC_DOMAIN_GET_METADATA, (xdrproc_t)xdr_remote_domain_get_metadata_args, &ma,
                                (xdrproc_t)xdr_remote_domain_get_metadata_ret, &md, &err),
                     -EREMOTEIO);
    assert_int_equal(err.code, LVRPC_ERR_NO_DOMAIN_METADATA);
    assert_string_equal(err.message, "Requested metadata element is not present");
    /* libvirtd went away after a reply: the next call opens a new connection. */
    f.hangup = true;
    assert_int_equal(list(c, &n), 0);
    assert_int_equal(list(c, &n), 0);
    assert_int_equal(f.conns, 2);
    /* registered again on the new connection, and what changed in between may be anything */
    assert_int_equal(f.registered, 2);
    assert_true(lvrpc_metadata_changes(c, &changed, &nchanged, &all));
    assert_true(all);
    free(changed);
    /* A server that does not answer: -ETIMEDOUT, and the next call starts over. */
    f.mute = true;
    assert_int_equal(list(c, &n), -ETIMEDOUT);
    f.mute = false;
    assert_int_equal(list(c, &n), 0);
    assert_int_equal(f.conns, 3);
    assert_true(f.pongs >= 2);
    lvrpc_close(c);
    fake_stop(&f, t);
    assert_int_equal(f.closes, 1);

    /* A libvirtd that cannot announce metadata changes: refused, not watching, and the connection
     * still serves calls. */
    f = (fake){.auth = REMOTE_AUTH_POLKIT + 1, .old = true};
    fake_start(&f, &t);
    assert_int_equal(lvrpc_open(uri, &c, why, sizeof(why)), 0);
    lvrpc_set_timeout(c, 300);
    assert_true(lvrpc_watch_metadata(c) < 0);
    assert_false(lvrpc_metadata_changes(c, &changed, &nchanged, &all));
    free(changed);
    assert_int_equal(list(c, &n), 0);
    assert_int_equal(f.conns, 1);
    lvrpc_close(c);
    fake_stop(&f, t);

    /* SASL: refused with a reason, for the caller to use libvirt.so. */
    f = (fake){.auth = REMOTE_AUTH_SASL + 1};
    fake_start(&f, &t);
    assert_int_equal(lvrpc_open(uri, &c, why, sizeof(why)), -EACCES);
    assert_non_null(strstr(why, "SASL"));
    fake_stop(&f, t);
    /* Nothing listening. */
    assert_int_equal(lvrpc_open(uri, &c, why, sizeof(why)), -ENOENT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri),
        cmocka_unit_test(test_frame_header),
        cmocka_unit_test(test_decode_stats),
        cmocka_unit_test(test_decode_malformed),
        cmocka_unit_test(test_stats_in_place),
        cmocka_unit_test(test_metadata_event),
        cmocka_unit_test(test_decode_error_and_others),
        cmocka_unit_test(test_conversation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
