/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-healthd's RAS tracepoints, read as rasdaemon reads them: its own tracefs instance
 * (instances/uni-healthd, so other tracers are not disturbed), the RAS events enabled in it, and
 * one non-blocking reader per CPU on per_cpu/cpuN/trace_pipe_raw, whole pages decoded with the
 * events' format files (trace.c). The instance outlives the daemon: events that happen while it
 * is down stay in the ring buffer and are read at the next start. Works the same on a fixture
 * tree whose trace_pipe_raw files are regular files or FIFOs that a test appends pages to. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "uni-healthd.h"

static const struct {
    const char *system, *name;
} wanted[TRACE_NEVENTS] = {
    [TRACE_MC_EVENT] = {"ras", "mc_event"},
    [TRACE_MCE_RECORD] = {"mce", "mce_record"},
    [TRACE_AER_EVENT] = {"ras", "aer_event"},
    [TRACE_ARM_EVENT] = {"ras", "arm_event"},
    [TRACE_NON_STANDARD_EVENT] = {"ras", "non_standard_event"},
    [TRACE_MEMORY_FAILURE_EVENT] = {"ras", "memory_failure_event"},
};

const char *trace_event_name(int i) {
    return wanted[i].name;
}

static int write_at(int dfd, const char *path, const char *value) {
    return write_file_at(dfd, path, value, O_TRUNC);
}

/* A file of the instance, else of the top-level tracefs (older kernels share events/ files). */
static ssize_t read_either(trace_src *t, const char *path, char **ret) {
    ssize_t n = read_file_at_alloc(t->inst_fd, path, ret);
    if (n == -ENOENT)
        n = read_file_at_alloc(t->root_fd, path, ret);
    return n;
}

static int add_cpu(trace_src *t, int cpu, int fd) {
    trace_cpu *n = realloc(t->cpus, (t->ncpus + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    t->cpus = n;
    n = &t->cpus[t->ncpus];
    memset(n, 0, sizeof(*n));
    n->cpu = cpu;
    n->fd = fd;
    n->buf = malloc(t->layout.page_size);
    if (!n->buf)
        return -ENOMEM;
    t->ncpus++;
    return 0;
}

int trace_src_open(trace_src *t, const char *dir, char *why, size_t wl) {
    _cleanup_free_ char *hp = NULL;
    _cleanup_close_ int pcfd = -1;
    struct dirent **ents = NULL;
    ssize_t n;
    int r, k;

    memset(t, 0, sizeof(*t));
    t->root_fd = t->inst_fd = -1;
    t->root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (t->root_fd < 0) {
        r = -errno;
        snprintf(why, wl, "no tracefs at %s: %s", dir, strerror(errno));
        return r;
    }
    if (mkdirat(t->root_fd, "instances/" TRACE_INSTANCE, 0755) < 0 && errno != EEXIST) {
        r = -errno;
        snprintf(why, wl, "cannot create the tracefs instance %s/instances/" TRACE_INSTANCE ": %s", dir,
                 strerror(errno));
        return r;
    }
    t->inst_fd = openat(t->root_fd, "instances/" TRACE_INSTANCE, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (t->inst_fd < 0) {
        r = -errno;
        snprintf(why, wl, "%s/instances/" TRACE_INSTANCE ": %s", dir, strerror(errno));
        return r;
    }
    n = read_either(t, "events/header_page", &hp);
    if (n < 0 || trace_header_page_parse(hp, (size_t)n, &t->layout) < 0) {
        snprintf(why, wl, "%s/events/header_page: %s", dir, n < 0 ? strerror((int)-n) : "malformed");
        return n < 0 ? (int)n : -EBADMSG;
    }
    for (int i = 0; i < TRACE_NEVENTS; i++) {
        char path[160], en[8] = "";
        _cleanup_free_ char *fb = NULL;
        trace_format f;
        snprintf(path, sizeof(path), "events/%s/%s/format", wanted[i].system, wanted[i].name);
        n = read_either(t, path, &fb);
        if (n < 0 || trace_format_parse(fb, (size_t)n, &f) < 0)
            continue; /* the kernel lacks this event (no CONFIG_RAS, not x86 ...) */
        f.system = strdup(wanted[i].system);
        snprintf(path, sizeof(path), "events/%s/%s/enable", wanted[i].system, wanted[i].name);
        /* Enabled already: a previous uni-healthd's instance has been recording since. */
        (void)read_line_at(t->inst_fd, path, en, sizeof(en));
        if (!f.system || write_at(t->inst_fd, path, "1") < 0) {
            trace_format_done(&f);
            continue;
        }
        {
            trace_format *nf = realloc(t->fmts, (t->nfmts + 1) * sizeof(*nf));
            if (!nf) {
                trace_format_done(&f);
                return -ENOMEM;
            }
            t->fmts = nf;
            t->fmts[t->nfmts] = f;
            t->fmt_event[t->nfmts++] = i;
        }
        t->live[i] = true;
        t->was_enabled[i] = streq(en, "1");
    }
    if (t->nfmts == 0) {
        snprintf(why, wl, "no RAS tracepoint in %s/events (ras:*, mce:mce_record)", dir);
        return -ENOENT;
    }
    /* Wake readers at every event, not when half the buffer is full; a small buffer per CPU
     * (RAS events are rare); recording on. Files a kernel lacks are skipped. */
    (void)write_at(t->inst_fd, "buffer_percent", "0");
    (void)write_at(t->inst_fd, "buffer_size_kb", "256");
    (void)write_at(t->inst_fd, "tracing_on", "1");
    pcfd = openat(t->inst_fd, "per_cpu", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    k = pcfd < 0 ? -1 : scandirat(pcfd, ".", &ents, NULL, versionsort);
    for (int i = 0; i < k; i++) {
        unsigned cpu;
        char path[128];
        int fd;
        if (startswith(ents[i]->d_name, "cpu") && safe_atou(ents[i]->d_name + 3, &cpu) == 0) {
            snprintf(path, sizeof(path), "%.32s/trace_pipe_raw", ents[i]->d_name);
            fd = openat(pcfd, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
            if (fd >= 0 && add_cpu(t, (int)cpu, fd) < 0) {
                close(fd);
                k = -1;
            }
        }
        free(ents[i]);
    }
    free(ents);
    if (t->ncpus == 0) {
        snprintf(why, wl, "no readable %s/instances/" TRACE_INSTANCE "/per_cpu/cpu*/trace_pipe_raw", dir);
        return -ENOENT;
    }
    return 0;
}

void trace_src_close(trace_src *t) {
    for (size_t i = 0; i < t->ncpus; i++) {
        closep(&t->cpus[i].fd);
        free(t->cpus[i].buf);
    }
    free(t->cpus);
    for (size_t i = 0; i < t->nfmts; i++)
        trace_format_done(&t->fmts[i]);
    free(t->fmts);
    closep(&t->inst_fd);
    closep(&t->root_fd);
    memset(t, 0, sizeof(*t));
    t->root_fd = t->inst_fd = -1;
}

typedef struct {
    trace_src *t;
    int cpu;
    trace_sink sink;
    void *u;
} walk_ctx;

static int on_record(void *u, const uint8_t *rec, size_t len, uint64_t ts) {
    walk_ctx *w = u;
    uint16_t type;
    (void)ts;
    memcpy(&type, rec, 2);
    for (size_t i = 0; i < w->t->nfmts; i++)
        if (w->t->fmts[i].id == type)
            return w->sink(w->u, &w->t->fmts[i], w->t->fmt_event[i], rec, len, w->cpu);
    /* Another event in our instance (someone enabled it): not ours to decode. */
    w->t->foreign++;
    return 0;
}

static void page_done(trace_src *t, trace_cpu *c, size_t len, trace_sink sink, void *u) {
    walk_ctx w = {.t = t, .cpu = c->cpu, .sink = sink, .u = u};
    bool lost = false;
    int r = trace_page_walk(&t->layout, c->buf, len, on_record, &w, &lost);
    t->pages++;
    if (r < 0)
        t->malformed++;
    else
        t->records += (uint64_t)r;
    if (lost)
        t->lost_pages++;
    if (lost && t->on_lost)
        t->on_lost(u, c->cpu);
}

int trace_src_drain(trace_src *t, bool final, trace_sink sink, void *u) {
    int total = 0;
    for (size_t i = 0; i < t->ncpus; i++) {
        trace_cpu *c = &t->cpus[i];
        for (;;) {
            ssize_t n = read(c->fd, c->buf + c->have, t->layout.page_size - c->have);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno != EAGAIN) {
                t->read_errors++;
                break;
            }
            if (n > 0)
                c->have += (size_t)n;
            if (c->have == t->layout.page_size) {
                page_done(t, c, c->have, sink, u);
                c->have = 0;
                total++;
                continue;
            }
            if (n <= 0)
                break;
        }
        /* The kernel hands out whole pages; a partial one is a writer not done yet, except at
         * the end of a one-shot run, where it is a truncated page. */
        if (final && c->have > 0) {
            page_done(t, c, c->have, sink, u);
            c->have = 0;
            total++;
        }
    }
    return total;
}
