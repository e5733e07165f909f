/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QMP client: every VM's monitor conversation at once on one libuv loop, each under its own
 * deadline, so that a frozen QEMU costs its deadline and nothing else; and the parsers of the
 * replies (query-stats, query-cpus-fast, query-blockstats, query-block, query-status,
 * query-balloon). QMP: docs/interop/qmp-spec.rst in QEMU. */
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <json-c/json.h>
#include <uv.h>

#include "vms.h"

/* ---------------------------------------------------------------------------------------------
 * Reply parsers
 * ------------------------------------------------------------------------------------------- */

static bool get_u64(json_object *o, const char *key, uint64_t *ret) {
    json_object *v;
    int64_t i;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return false;
    i = json_object_get_int64(v);
    if (i < 0)
        return false;
    *ret = (uint64_t)i;
    return true;
}

static const char *get_str(json_object *o, const char *key) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static kvm_stat_kind guess_kind(const char *name) {
    return startswith(name, "max_") ? KVM_STAT_PEAK : KVM_STAT_CUMULATIVE;
}

kvm_stat_kind qmp_stat_kind(json_object *schemas, const char *target, const char *name) {
    size_t n = schemas && json_object_is_type(schemas, json_type_array) ? json_object_array_length(schemas) : 0;

    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(schemas, i), *stats;
        const char *t = get_str(s, "target");
        size_t m;
        if (!t || !streq(t, target) || !json_object_object_get_ex(s, "stats", &stats) ||
            !json_object_is_type(stats, json_type_array))
            continue;
        m = json_object_array_length(stats);
        for (size_t k = 0; k < m; k++) {
            json_object *d = json_object_array_get_idx(stats, k);
            const char *nm = get_str(d, "name"), *type = get_str(d, "type");
            if (!nm || !streq(nm, name) || !type)
                continue;
            if (streq(type, "instant"))
                return KVM_STAT_INSTANT;
            if (streq(type, "peak"))
                return KVM_STAT_PEAK;
            return KVM_STAT_CUMULATIVE;
        }
    }
    return guess_kind(name);
}

int qmp_parse_stats(json_object *ret, const char *const *qom_paths, size_t npaths, kvm_stat_cb cb, void *userdata) {
    size_t n;

    if (!json_object_is_type(ret, json_type_array))
        return -EBADMSG;
    n = json_object_array_length(ret);
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(ret, i), *stats;
        const char *qom = get_str(r, "qom-path");
        int vcpu = -1;
        size_t m;

        if (!json_object_is_type(r, json_type_object) || !json_object_object_get_ex(r, "stats", &stats) ||
            !json_object_is_type(stats, json_type_array))
            return -EBADMSG;
        if (qom) {
            for (size_t k = 0; k < npaths && vcpu < 0; k++)
                if (qom_paths[k] && streq(qom_paths[k], qom))
                    vcpu = (int)k;
            if (vcpu < 0)
                continue; /* a vCPU we cannot number (hot-plugged since the map was made) */
        }
        m = json_object_array_length(stats);
        for (size_t k = 0; k < m; k++) {
            json_object *s = json_object_array_get_idx(stats, k), *v;
            const char *name = get_str(s, "name");
            if (!name || !json_object_object_get_ex(s, "value", &v))
                return -EBADMSG;
            /* Scalars only: histograms (arrays) have no single value; their sums are separate
             * statistics (halt_wait_ns next to halt_wait_hist). */
            if (json_object_is_type(v, json_type_int)) {
                int64_t x = json_object_get_int64(v);
                if (x >= 0)
                    cb(userdata, vcpu, name, guess_kind(name), (uint64_t)x);
            } else if (json_object_is_type(v, json_type_boolean))
                cb(userdata, vcpu, name, KVM_STAT_INSTANT, json_object_get_boolean(v) ? 1 : 0);
            else if (!json_object_is_type(v, json_type_array))
                return -EBADMSG;
        }
    }
    return 0;
}

void qmp_cpus_free(qmp_cpu *c, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(c[i].qom_path);
    free(c);
}

int qmp_parse_cpus(json_object *ret, qmp_cpu **ret_cpus, size_t *ret_n) {
    size_t n;
    qmp_cpu *c;

    if (!json_object_is_type(ret, json_type_array))
        return -EBADMSG;
    n = json_object_array_length(ret);
    c = calloc(n ? n : 1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(ret, i);
        const char *qom = get_str(o, "qom-path");
        uint64_t idx, tid;
        if (!qom || !get_u64(o, "cpu-index", &idx) || !get_u64(o, "thread-id", &tid) || idx > 65535 ||
            tid > INT32_MAX || !(c[i].qom_path = strdup(qom))) {
            qmp_cpus_free(c, i + 1);
            return -EBADMSG;
        }
        c[i].index = (int)idx;
        c[i].tid = (pid_t)tid;
    }
    *ret_cpus = c;
    *ret_n = n;
    return 0;
}

void qmp_disks_free(qmp_disk *d, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(d[i].device);
    free(d);
}

/* A disk's name: the legacy "device" (-drive id), else the qdev id or path, else the node name. */
static const char *disk_name(json_object *o) {
    const char *d = get_str(o, "device");
    if (d && *d)
        return d;
    d = get_str(o, "qdev");
    if (d && *d)
        return d;
    d = get_str(o, "node-name");
    return d && *d ? d : NULL;
}

int qmp_parse_blockstats(json_object *ret, qmp_disk **ret_disks, size_t *ret_n) {
    size_t n, k = 0;
    qmp_disk *d;

    if (!json_object_is_type(ret, json_type_array))
        return -EBADMSG;
    n = json_object_array_length(ret);
    d = calloc(n ? n : 1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(ret, i), *s;
        const char *name = disk_name(o);
        qmp_disk *x = &d[k];
        if (!json_object_object_get_ex(o, "stats", &s) || !json_object_is_type(s, json_type_object)) {
            qmp_disks_free(d, k);
            return -EBADMSG;
        }
        if (!name)
            continue;
        if (!(x->device = strdup(name))) {
            qmp_disks_free(d, k);
            return -ENOMEM;
        }
        k++;
        if (!get_u64(s, "rd_bytes", &x->rd_bytes) || !get_u64(s, "wr_bytes", &x->wr_bytes) ||
            !get_u64(s, "rd_operations", &x->rd_ops) || !get_u64(s, "wr_operations", &x->wr_ops)) {
            qmp_disks_free(d, k);
            return -EBADMSG;
        }
        (void)get_u64(s, "failed_rd_operations", &x->failed_rd);
        (void)get_u64(s, "failed_wr_operations", &x->failed_wr);
        (void)get_u64(s, "rd_total_time_ns", &x->rd_time_ns);
        (void)get_u64(s, "wr_total_time_ns", &x->wr_time_ns);
    }
    *ret_disks = d;
    *ret_n = k;
    return 0;
}

void qmp_apply_block(json_object *ret, qmp_disk *disks, size_t n) {
    size_t m = json_object_is_type(ret, json_type_array) ? json_object_array_length(ret) : 0;

    for (size_t i = 0; i < m; i++) {
        json_object *o = json_object_array_get_idx(ret, i), *ins, *img;
        const char *name = disk_name(o);
        uint64_t vs, as;
        if (!name || !json_object_object_get_ex(o, "inserted", &ins) || !json_object_object_get_ex(ins, "image", &img) ||
            !get_u64(img, "virtual-size", &vs))
            continue;
        for (size_t k = 0; k < n; k++)
            if (streq(disks[k].device, name)) {
                disks[k].have_capacity = true;
                disks[k].capacity = vs;
                disks[k].allocation = get_u64(img, "actual-size", &as) ? as : 0;
            }
    }
}

int qmp_parse_status(json_object *ret, const char **ret_state) {
    /* QEMU's RunState (qapi/run-state.json) in libvirt's words, which the spec's T4 uses. */
    static const struct {
        const char *qemu, *state;
    } map[] = {
        {"running", "running"}, {"paused", "paused"}, {"prelaunch", "paused"}, {"inmigrate", "paused"},
        {"postmigrate", "paused"}, {"finish-migrate", "paused"}, {"save-vm", "paused"},
        {"restore-vm", "paused"}, {"debug", "paused"}, {"io-error", "paused"}, {"watchdog", "paused"},
        {"colo", "paused"}, {"suspended", "pmsuspended"}, {"shutdown", "shutdown"},
        {"guest-panicked", "crashed"}, {"internal-error", "crashed"},
    };
    const char *s = get_str(ret, "status");

    if (!s)
        return -EBADMSG;
    for (size_t i = 0; i < ELEMENTSOF(map); i++)
        if (streq(s, map[i].qemu)) {
            *ret_state = map[i].state;
            return 0;
        }
    *ret_state = "paused"; /* a state newer than this code: not running guest code as far as we know */
    return 0;
}

int qmp_parse_balloon(json_object *ret, uint64_t *ret_bytes) {
    return get_u64(ret, "actual", ret_bytes) ? 0 : -EBADMSG;
}

int qmp_parse_reply_text(const char *text, int (*fn)(json_object *ret, void *userdata), void *userdata) {
    enum json_tokener_error e;
    json_object *o = json_tokener_parse_verbose(text, &e), *ret;
    int r;

    if (!o)
        return -EBADMSG;
    if (!json_object_object_get_ex(o, "return", &ret)) {
        json_object_put(o);
        return -EBADMSG;
    }
    r = fn(ret, userdata);
    json_object_put(o);
    return r;
}

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

typedef struct runner runner;
typedef struct {
    qmp_job *job;
    runner *run;
    uv_pipe_t pipe;
    uv_connect_t creq;
    uv_timer_t timer;
    json_tokener *tok;
    unsigned pending;
    int8_t order[QMP_NQ + 1]; /* the commands as sent: QEMU answers them in this order */
    unsigned nsent, nanswered;
    size_t received;
    int closing;
    bool finished;
    uint64_t t0;
    char buf[65536];
} conn;

struct runner {
    uv_loop_t loop;
    qmp_job *jobs;
    size_t n, next;
    unsigned active, deadline_ms;
};

static void start_next(runner *run);

static void on_closed(uv_handle_t *h) {
    conn *c = h->data;
    if (--c->closing == 0) {
        runner *run = c->run;
        if (c->tok)
            json_tokener_free(c->tok);
        c->job->priv = NULL;
        free(c);
        run->active--;
        start_next(run);
    }
}

/* End a conversation: record why when it failed (err < 0), close its handles. */
static void finish(conn *c, int err, const char *fmt, ...) _printf_(3, 4);
static void finish(conn *c, int err, const char *fmt, ...) {
    if (c->finished)
        return;
    c->finished = true;
    c->job->elapsed_ns = uv_hrtime() - c->t0;
    if (err < 0 && !c->job->err) {
        va_list ap;
        c->job->err = err;
        va_start(ap, fmt);
        vsnprintf(c->job->why, sizeof(c->job->why), fmt, ap);
        va_end(ap);
    }
    uv_timer_stop(&c->timer);
    c->closing = 2;
    uv_close((uv_handle_t *)&c->pipe, on_closed);
    uv_close((uv_handle_t *)&c->timer, on_closed);
}

static void on_timeout(uv_timer_t *t) {
    conn *c = t->data;
    c->job->timed_out = true;
    finish(c, -ETIMEDOUT, "QMP at %s did not answer within %u ms", c->job->path, c->run->deadline_ms);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    conn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->buf, sizeof(c->buf));
}

/* A message: an answer (it has "return" or "error") is to the next command not yet answered,
 * as QMP answers in order; the greeting and events are neither. */
static void handle_message(conn *c, json_object *o) {
    json_object *v;
    bool ok = json_object_object_get_ex(o, "return", &v);
    int q;

    if ((!ok && !json_object_object_get_ex(o, "error", &v)) || c->nanswered >= c->nsent)
        return;
    q = c->order[c->nanswered++];
    if (q == CAPS) {
        if (!ok)
            finish(c, -EPROTO, "QMP at %s refused qmp_capabilities", c->job->path);
        return;
    }
    c->pending &= ~(1u << q);
    if (ok)
        c->job->reply[q] = json_object_get(v);
    else {
        const char *desc = get_str(v, "desc");
        c->job->error[q] = strdup(desc ? desc : "error without description");
    }
    if (c->pending == 0)
        finish(c, 0, "%s", "");
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    conn *c = s->data;
    const char *p = buf->base;
    size_t left;

    if (c->finished)
        return;
    if (nread < 0) {
        finish(c, -ECONNRESET, "QMP at %s closed the connection (%s)", c->job->path, uv_strerror((int)nread));
        return;
    }
    c->received += (size_t)nread;
    if (c->received > MAX_REPLY) {
        finish(c, -EFBIG, "QMP at %s sent more than %u MiB", c->job->path, MAX_REPLY >> 20);
        return;
    }
    /* A stream of JSON objects, one per line or pretty-printed over many (-qmp-pretty). */
    left = (size_t)nread;
    while (left > 0 && !c->finished) {
        json_object *o = json_tokener_parse_ex(c->tok, p, (int)left);
        enum json_tokener_error e = json_tokener_get_error(c->tok);
        size_t used;
        if (!o) {
            if (e != json_tokener_continue)
                finish(c, -EBADMSG, "QMP at %s sent malformed JSON (%s)", c->job->path, json_tokener_error_desc(e));
            break;
        }
        used = json_tokener_get_parse_end(c->tok);
        if (used == 0 || used > left)
            used = left;
        handle_message(c, o);
        json_object_put(o);
        json_tokener_reset(c->tok);
        p += used;
        left -= used;
    }
}

static void on_connect(uv_connect_t *req, int status) {
    conn *c = req->data;
    char msg[2048];
    size_t o = 0;
    uv_os_fd_t fd;

    if (c->finished)
        return;
    if (status < 0) {
        finish(c, status == UV_ENOENT ? -ENOENT : -ECONNREFUSED, "cannot connect to QMP at %s: %s", c->job->path,
               uv_strerror(status));
        return;
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
    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 || send(fd, msg, o, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)o) {
        finish(c, -EIO, "cannot write to QMP at %s: %s", c->job->path, strerror(errno));
        return;
    }
    uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, on_read);
}

static void start_job(runner *run, qmp_job *j) {
    conn *c;

    if (strlen(j->path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        j->err = -ENAMETOOLONG;
        snprintf(j->why, sizeof(j->why), "QMP socket path too long for a unix socket: %s", j->path);
        return;
    }
    c = calloc(1, sizeof(*c));
    if (!c || !(c->tok = json_tokener_new())) {
        free(c);
        j->err = -ENOMEM;
        snprintf(j->why, sizeof(j->why), "out of memory");
        return;
    }
    c->job = j;
    c->run = run;
    c->pending = j->want & ((1u << QMP_NQ) - 1);
    c->t0 = uv_hrtime();
    j->priv = c;
    uv_pipe_init(&run->loop, &c->pipe, 0);
    uv_timer_init(&run->loop, &c->timer);
    c->pipe.data = c->timer.data = c->creq.data = c;
    run->active++;
    uv_timer_start(&c->timer, on_timeout, run->deadline_ms, 0);
    uv_pipe_connect(&c->creq, &c->pipe, j->path, on_connect);
}

static void start_next(runner *run) {
    while (run->active < MAX_INFLIGHT && run->next < run->n) {
        qmp_job *j = &run->jobs[run->next++];
        if (j->want)
            start_job(run, j);
    }
}

int qmp_run(qmp_job *jobs, size_t n, unsigned deadline_ms) {
    runner run = {.jobs = jobs, .n = n, .deadline_ms = deadline_ms};
    size_t want = 0;

    for (size_t i = 0; i < n; i++)
        want += jobs[i].want != 0;
    if (!want)
        return 0; /* no event loop for nothing (VMs whose monitor libvirt holds, or none) */
    if (uv_loop_init(&run.loop) < 0)
        return -ENOMEM;
    start_next(&run);
    uv_run(&run.loop, UV_RUN_DEFAULT);
    uv_loop_close(&run.loop);
    return 0;
}

void qmp_job_done(qmp_job *j) {
    for (int q = 0; q < QMP_NQ; q++) {
        if (j->reply[q])
            json_object_put(j->reply[q]);
        free(j->error[q]);
        j->reply[q] = NULL;
        j->error[q] = NULL;
    }
}
