/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Swap-in delay of a VM (spec Table 3, "wait time in swapping"): taskstats over raw generic
 * netlink, TASKSTATS_CMD_GET by thread group (kernel Documentation/accounting/taskstats.rst).
 * The reply parsers are pure and tested on literal datagrams. */
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/taskstats.h>
#include <stddef.h>
#include <sys/socket.h>

#include "vms.h"

struct taskstats_conn {
    int fd;
    uint16_t family;
    uint32_t seq;
};

/* Walk netlink attributes in [p, p+len): calls fn for each; -EBADMSG when one overruns. */
static int walk_attrs(const uint8_t *p, size_t len,
                      int (*fn)(uint16_t type, const uint8_t *data, size_t dlen, void *ud), void *ud) {
    while (len >= NLA_HDRLEN) {
        struct nlattr a;
        size_t alen, step;
        int r;
        memcpy(&a, p, sizeof(a));
        alen = a.nla_len;
        if (alen < NLA_HDRLEN || alen > len)
            return -EBADMSG;
        r = fn(a.nla_type & NLA_TYPE_MASK, p + NLA_HDRLEN, alen - NLA_HDRLEN, ud);
        if (r != 0)
            return r;
        step = NLA_ALIGN(alen);
        if (step >= len)
            break;
        p += step;
        len -= step;
    }
    return 0;
}

/* The generic netlink message in a datagram: its payload after the genl header, or -errno. */
static int genl_payload(const void *buf, size_t len, const uint8_t **ret, size_t *ret_len) {
    struct nlmsghdr h;

    if (len < NLMSG_HDRLEN)
        return -EBADMSG;
    memcpy(&h, buf, sizeof(h));
    if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len)
        return -EBADMSG;
    if (h.nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr e;
        if (h.nlmsg_len < NLMSG_HDRLEN + sizeof(e))
            return -EBADMSG;
        memcpy(&e, (const uint8_t *)buf + NLMSG_HDRLEN, sizeof(e));
        return e.error < 0 ? e.error : -EBADMSG;
    }
    if (h.nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN)
        return -EBADMSG;
    *ret = (const uint8_t *)buf + NLMSG_HDRLEN + GENL_HDRLEN;
    *ret_len = h.nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
    return 0;
}

static int family_attr(uint16_t type, const uint8_t *data, size_t dlen, void *ud) {
    if (type == CTRL_ATTR_FAMILY_ID) {
        if (dlen < 2)
            return -EBADMSG;
        memcpy(ud, data, 2);
        return 1;
    }
    return 0;
}

int parse_genl_family_id(const void *buf, size_t len, uint16_t *ret_id) {
    const uint8_t *p;
    size_t pl;
    int r = genl_payload(buf, len, &p, &pl);
    if (r < 0)
        return r;
    r = walk_attrs(p, pl, family_attr, ret_id);
    return r == 1 ? 0 : r < 0 ? r : -ENOENT;
}

typedef struct {
    uint32_t tgid;
    bool tgid_ok, have_stats;
    taskstats_delays *out;
} aggr_ctx;

#define TS_FIELD(buf, len, field, dst)                                                                                 \
    do {                                                                                                               \
        if ((len) < offsetof(struct taskstats, field) + sizeof(dst))                                                   \
            return -EBADMSG;                                                                                           \
        memcpy(&(dst), (buf) + offsetof(struct taskstats, field), sizeof(dst));                                        \
    } while (0)

static int aggr_attr(uint16_t type, const uint8_t *data, size_t dlen, void *ud) {
    aggr_ctx *c = ud;
    if (type == TASKSTATS_TYPE_TGID || type == TASKSTATS_TYPE_PID) {
        uint32_t id;
        if (dlen < 4)
            return -EBADMSG;
        memcpy(&id, data, 4);
        c->tgid_ok = id == c->tgid;
    } else if (type == TASKSTATS_TYPE_STATS) {
        /* The struct grows at its end with new kernels (version); older fields keep their place. */
        TS_FIELD(data, dlen, version, c->out->version);
        TS_FIELD(data, dlen, cpu_count, c->out->cpu_count);
        TS_FIELD(data, dlen, cpu_delay_total, c->out->cpu_delay_total_ns);
        TS_FIELD(data, dlen, blkio_delay_total, c->out->blkio_delay_total_ns);
        TS_FIELD(data, dlen, swapin_count, c->out->swapin_count);
        TS_FIELD(data, dlen, swapin_delay_total, c->out->swapin_delay_total_ns);
        c->have_stats = true;
    }
    return 0;
}

static int top_attr(uint16_t type, const uint8_t *data, size_t dlen, void *ud) {
    if (type == TASKSTATS_TYPE_AGGR_TGID || type == TASKSTATS_TYPE_AGGR_PID)
        return walk_attrs(data, dlen, aggr_attr, ud);
    return 0;
}

int parse_taskstats_reply(const void *buf, size_t len, uint32_t tgid, taskstats_delays *out) {
    aggr_ctx c = {.tgid = tgid, .out = out};
    const uint8_t *p;
    size_t pl;
    int r;

    memset(out, 0, sizeof(*out));
    r = genl_payload(buf, len, &p, &pl);
    if (r < 0)
        return r;
    r = walk_attrs(p, pl, top_attr, &c);
    if (r < 0)
        return r;
    if (!c.have_stats)
        return -EBADMSG;
    return c.tgid_ok ? 0 : -ENOENT;
}

/* ---- the socket ---- */

static int send_genl(taskstats_conn *c, uint16_t family, uint8_t cmd, uint16_t attr, const void *val, uint16_t vlen) {
    struct {
        struct nlmsghdr n;
        struct genlmsghdr g;
        char attrs[64];
    } req;
    struct nlattr a = {.nla_len = (uint16_t)(NLA_HDRLEN + vlen), .nla_type = attr};
    struct sockaddr_nl to = {.nl_family = AF_NETLINK};

    memset(&req, 0, sizeof(req));
    memcpy(req.attrs, &a, sizeof(a));
    memcpy(req.attrs + NLA_HDRLEN, val, vlen);
    req.n.nlmsg_len = (uint32_t)(NLMSG_LENGTH(GENL_HDRLEN) + NLA_ALIGN(a.nla_len));
    req.n.nlmsg_type = family;
    req.n.nlmsg_flags = NLM_F_REQUEST;
    req.n.nlmsg_seq = ++c->seq;
    req.n.nlmsg_pid = 0;
    req.g.cmd = cmd;
    req.g.version = 1;
    if (sendto(c->fd, &req, req.n.nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
        return -errno;
    return 0;
}

/* Receive the reply to the last request (skipping stale ones), into buf. */
static ssize_t recv_reply(taskstats_conn *c, void *buf, size_t len) {
    for (;;) {
        ssize_t n = recv(c->fd, buf, len, 0);
        struct nlmsghdr h;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if ((size_t)n < sizeof(h))
            return -EBADMSG;
        memcpy(&h, buf, sizeof(h));
        if (h.nlmsg_seq == c->seq)
            return n;
    }
}

int taskstats_open(taskstats_conn **ret) {
    taskstats_conn *c = calloc(1, sizeof(*c));
    struct sockaddr_nl local = {.nl_family = AF_NETLINK};
    struct timeval tv = {.tv_sec = 1};
    static const char family[] = TASKSTATS_GENL_NAME;
    char buf[4096];
    ssize_t n;
    int r = 0;

    if (!c)
        return -ENOMEM;
    c->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    if (c->fd < 0) {
        r = -errno;
        free(c);
        return r;
    }
    /* The kernel answers at once; the timeout only guards against a kernel that never does. */
    (void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (bind(c->fd, (struct sockaddr *)&local, sizeof(local)) < 0 ||
        (r = send_genl(c, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_NAME, family, sizeof(family))) < 0) {
        r = r < 0 ? r : -errno;
        taskstats_close(c);
        return r;
    }
    n = recv_reply(c, buf, sizeof(buf));
    r = n < 0 ? (int)n : parse_genl_family_id(buf, (size_t)n, &c->family);
    if (r < 0) {
        taskstats_close(c);
        return r;
    }
    *ret = c;
    return 0;
}

int taskstats_get_tgid(taskstats_conn *c, pid_t tgid, taskstats_delays *ret) {
    uint32_t id = (uint32_t)tgid;
    char buf[2048];
    ssize_t n;
    int r = send_genl(c, c->family, TASKSTATS_CMD_GET, TASKSTATS_CMD_ATTR_TGID, &id, sizeof(id));
    if (r < 0)
        return r;
    n = recv_reply(c, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    return parse_taskstats_reply(buf, (size_t)n, id, ret);
}

void taskstats_close(taskstats_conn *c) {
    if (!c)
        return;
    closep(&c->fd);
    free(c);
}
