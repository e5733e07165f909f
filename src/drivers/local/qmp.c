/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QMP client: every VM's monitor conversation at once in one poll(), each under its own
 * deadline, so that a frozen QEMU costs its deadline and nothing else. Its replies are parsed
 * by qmp_parse.c. QMP: docs/interop/qmp-spec.rst in QEMU. */
#include <poll.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <json-c/json.h>

#include "vms.h"

/* ---------------------------------------------------------------------------------------------
 * The client
 * ------------------------------------------------------------------------------------------- */

#define MAX_INFLIGHT 64
#define MAX_REPLY (16u << 20)
#define CAPS (-1) /* in conn.order: qmp_capabilities */

/* Each query: the command and its arguments (QMP's "arguments" member, or ""). */
static const struct {
    const char *cmd, *args;
} queries[QMP_NQ] = {
    [QMP_Q_STATUS] = {"query-status", ""},
    [QMP_Q_CPUS] = {"query-cpus-fast", ""},
    [QMP_Q_STATS_VM] = {"query-stats", ",\"arguments\":{\"target\":\"vm\"}"},
    [QMP_Q_STATS_VCPU] = {"query-stats", ",\"arguments\":{\"target\":\"vcpu\"}"},
    [QMP_Q_SCHEMAS] = {"query-stats-schemas", ""},
    [QMP_Q_BLOCKSTATS] = {"query-blockstats", ""},
    [QMP_Q_BLOCK] = {"query-block", ""},
    [QMP_Q_BALLOON] = {"query-balloon", ""},
};

/* A conversation: one connection, its commands sent at once, its answers as they come. */
typedef struct {
    qmp_job *job;
    int fd;
    bool finished;
    unsigned pending;
    int8_t order[QMP_NQ + 1]; /* the commands as sent: QEMU answers them in this order */
    unsigned nsent, nanswered;
    uint64_t t0, deadline;
    size_t received;
    /* what came and is not yet a whole message, and the framing's state over in[scanned..len) */
    char *in;
    size_t len, cap, scanned;
    int depth;
    uint64_t arrays; /* bit d: the open bracket at depth d + 1 is '[' (depth <= 64) */
    bool in_str, esc;
} conn;

/* End a conversation: record why when it failed (err < 0). */
static void finish(conn *c, int err, const char *fmt, ...) _printf_(3, 4);
static void finish(conn *c, int err, const char *fmt, ...) {
    if (c->finished)
        return;
    c->finished = true;
    c->job->elapsed_ns = now_ns() - c->t0;
    if (err < 0 && !c->job->err) {
        va_list ap;
        c->job->err = err;
        va_start(ap, fmt);
        vsnprintf(c->job->why, sizeof(c->job->why), fmt, ap);
        va_end(ap);
    }
}

/* A whole message: an answer (it has "return" or "error") is to the next command not yet
 * answered, as QMP answers in order; the greeting and events are neither. */
static void handle_message(conn *c, const char *msg, size_t len) {
    const char *v;
    size_t vl;
    int ok = qmp_message_member(msg, len, "return", &v, &vl), q;

    if (ok < 0) {
        finish(c, -EBADMSG, "QMP at %s sent malformed JSON", c->job->path);
        return;
    }
    if ((!ok && qmp_message_member(msg, len, "error", &v, &vl) != 1) || c->nanswered >= c->nsent)
        return;
    q = c->order[c->nanswered++];
    if (q == CAPS) {
        if (!ok)
            finish(c, -EPROTO, "QMP at %s refused qmp_capabilities", c->job->path);
        return;
    }
    c->pending &= ~(1u << q);
    if (ok) {
        if (!(c->job->text[q] = strndup(v, vl))) {
            finish(c, -ENOMEM, "out of memory");
            return;
        }
        c->job->len[q] = vl;
    } else {
        const char *d;
        size_t dl;
        char *desc = NULL;
        if (qmp_message_member(v, vl, "desc", &d, &dl) == 1 && *d == '"' && (desc = malloc(dl)) &&
            !qmp_json_string(d, d + dl, desc, dl))
            free(TAKE_PTR(desc));
        c->job->error[q] = desc ? desc : strdup("error without description");
    }
    if (c->pending == 0)
        finish(c, 0, "%s", "");
}

/* The messages that are whole in what came: a stream of JSON objects, one per line or
 * pretty-printed over many (-qmp-pretty), told apart by their nesting. */
static void frame(conn *c) {
    size_t start = 0, i;
    for (i = c->scanned; i < c->len && !c->finished; i++) {
        char ch = c->in[i];
        if (c->depth == 0) { /* between messages: each is an object */
            if (ch == '{')
                c->depth = 1, c->arrays = 0;
            else if (ch == ' ' || ch == '\r' || ch == '\n' || ch == '\t')
                start = i + 1;
            else
                finish(c, -EBADMSG, "QMP at %s sent malformed JSON", c->job->path);
            continue;
        }
        if (c->in_str) {
            if (c->esc)
                c->esc = false;
            else if (ch == '\\')
                c->esc = true;
            else if (ch == '"')
                c->in_str = false;
        } else if (ch == '"')
            c->in_str = true;
        else if (ch == '{' || ch == '[') {
            if (c->depth == QMP_JSON_MAX_DEPTH) {
                finish(c, -EBADMSG, "QMP at %s sent JSON nested deeper than %d", c->job->path, QMP_JSON_MAX_DEPTH);
                continue;
            }
            c->arrays = (c->arrays & ~(1ull << c->depth)) | (uint64_t)(ch == '[') << c->depth;
            c->depth++;
        } else if (ch == '}' || ch == ']') {
            if ((ch == ']') != (bool)(c->arrays >> (c->depth - 1) & 1)) {
                finish(c, -EBADMSG, "QMP at %s sent malformed JSON", c->job->path);
                continue;
            }
            if (--c->depth == 0) {
                handle_message(c, c->in + start, i + 1 - start);
                start = i + 1;
            }
        }
    }
    memmove(c->in, c->in + start, c->len - start);
    c->len -= start;
    c->scanned = c->len;
}

static void on_readable(conn *c) {
    ssize_t r;
    if (c->cap - c->len < 4096) {
        size_t ncap = c->cap ? 2 * c->cap : 16384;
        char *n = realloc(c->in, ncap);
        if (!n) {
            finish(c, -ENOMEM, "out of memory");
            return;
        }
        c->in = n;
        c->cap = ncap;
    }
    r = read(c->fd, c->in + c->len, c->cap - c->len);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        finish(c, -ECONNRESET, "QMP at %s closed the connection (%s)", c->job->path,
               r == 0 ? "end of file" : strerror(errno));
        return;
    }
    c->received += (size_t)r;
    if (c->received > MAX_REPLY) {
        finish(c, -EFBIG, "QMP at %s sent more than %u MiB", c->job->path, MAX_REPLY >> 20);
        return;
    }
    c->len += (size_t)r;
    frame(c);
}

/* Connect and send every command: 0, or -1 with the job's error set. */
static int start_job(conn *c, qmp_job *j, unsigned deadline_ms) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    char msg[2048];
    size_t o = 0;

    *c = (conn){.job = j, .fd = -1, .pending = j->want & ((1u << QMP_NQ) - 1), .t0 = now_ns()};
    c->deadline = c->t0 + (uint64_t)deadline_ms * 1000000ull;
    if (strlen(j->path) >= sizeof(a.sun_path)) {
        finish(c, -ENAMETOOLONG, "QMP socket path too long for a unix socket: %s", j->path);
        return -1;
    }
    strcpy(a.sun_path, j->path);
    if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
        finish(c, -errno, "cannot make a socket: %s", strerror(errno));
        return -1;
    }
    /* A unix connect completes at once, or fails: EAGAIN when the listener's queue is full, as
     * when another client holds the monitor and our earlier connections wait behind it. That
     * monitor does not answer, as one that lets the deadline pass. */
    if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int e = errno;
        if (e == EAGAIN) {
            j->unanswered = true;
            finish(c, -EAGAIN, "QMP at %s accepts no connection: its queue is full (another client holds the monitor?)",
                   j->path);
        } else
            finish(c, e == ENOENT ? -ENOENT : -ECONNREFUSED, "cannot connect to QMP at %s: %s", j->path, strerror(e));
        return -1;
    }
    /* The commands go out at once, before the greeting: QEMU answers them in order once the
     * capabilities are negotiated. No ids and no separators: QEMU's monitor reads its input one
     * byte per read, each costing it about 3 us, so every byte sent is QEMU's CPU (an id would
     * add a fifth to a query-stats). A few hundred bytes always fit the socket buffer; send()
     * with MSG_NOSIGNAL, as a QEMU that just exited must not kill us with SIGPIPE. */
    o += (size_t)snprintf(msg + o, sizeof(msg) - o, "{\"execute\":\"qmp_capabilities\"}");
    c->order[c->nsent++] = CAPS;
    for (int q = 0; q < QMP_NQ; q++)
        if (c->pending & (1u << q)) {
            o += (size_t)snprintf(msg + o, sizeof(msg) - o, "{\"execute\":\"%s\"%s}", queries[q].cmd, queries[q].args);
            c->order[c->nsent++] = (int8_t)q;
        }
    if (send(c->fd, msg, o, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)o) {
        finish(c, -EIO, "cannot write to QMP at %s: %s", j->path, strerror(errno));
        return -1;
    }
    return 0;
}

static void conn_close(conn *c) {
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
}

/* One poll() over the sockets rather than a libuv loop (DESIGN.md's event loop, which the
 * daemons use): a collection is a one-shot wait on at most 64 sockets, and a libuv loop made for
 * it costs its setup (epoll, eventfd, pipe) and epoll_ctl calls per VM: 82 against 60 us of CPU
 * for one VM's collection, 63 against 60 us per VM for ten (measured side by side). */
int qmp_run(qmp_job *jobs, size_t n, unsigned deadline_ms) {
    conn *cs = NULL;
    struct pollfd pfd[MAX_INFLIGHT];
    size_t next = 0, active = 0;

    for (size_t i = 0; i < n && !cs; i++)
        if (jobs[i].want && !(cs = calloc(MAX_INFLIGHT, sizeof(*cs))))
            return -ENOMEM;
    if (!cs)
        return 0; /* nothing to ask (VMs whose monitor libvirt holds, or none) */
    for (;;) {
        uint64_t now, first;
        int timeout;
        while (active < MAX_INFLIGHT && next < n) {
            qmp_job *j = &jobs[next++];
            if (!j->want)
                continue;
            if (start_job(&cs[active], j, deadline_ms) == 0)
                active++;
            else
                conn_close(&cs[active]);
        }
        if (!active)
            break;
        first = UINT64_MAX;
        for (size_t i = 0; i < active; i++) {
            pfd[i] = (struct pollfd){.fd = cs[i].fd, .events = POLLIN};
            first = cs[i].deadline < first ? cs[i].deadline : first;
        }
        now = now_ns();
        timeout = first <= now ? 0 : (int)((first - now + 999999) / 1000000);
        if (poll(pfd, active, timeout) < 0 && errno != EINTR) {
            int e = errno;
            for (size_t i = 0; i < active; i++) {
                finish(&cs[i], -e, "cannot wait for QMP at %s: %s", cs[i].job->path, strerror(e));
                conn_close(&cs[i]);
            }
            break;
        }
        now = now_ns();
        /* From the last, so that the last can take a finished one's place. */
        for (size_t i = active; i-- > 0;) {
            conn *c = &cs[i];
            if (pfd[i].revents)
                on_readable(c);
            if (!c->finished && now >= c->deadline) {
                c->job->unanswered = true;
                finish(c, -ETIMEDOUT, "QMP at %s did not answer within %u ms", c->job->path, deadline_ms);
            }
            if (c->finished) {
                conn_close(c);
                *c = cs[--active];
            }
        }
    }
    free(cs);
    return 0;
}

json_object *qmp_reply(qmp_job *j, qmp_query q) {
    if (!j->reply[q] && j->text[q])
        j->reply[q] = json_tokener_parse(j->text[q]);
    return j->reply[q];
}

void qmp_job_done(qmp_job *j) {
    for (int q = 0; q < QMP_NQ; q++) {
        if (j->reply[q])
            json_object_put(j->reply[q]);
        free(j->text[q]);
        free(j->error[q]);
        j->reply[q] = NULL;
        j->text[q] = NULL;
        j->error[q] = NULL;
    }
}
