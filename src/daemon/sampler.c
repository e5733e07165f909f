/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's sampler: a thread samples the source into the cache every interval, and at once
 * when a control call changed the host or uni-healthd committed to the HealthLog. */
#include <uv.h>

#include "drivers/local/local_driver.h"
#include "healthlog/healthlog.h"
#include "server_internal.h"

/* One sample of the source into work, on the sampler thread (or before the loop starts). */
static void sample_collect(server *srv) {
    uint64_t t0 = now_ns();
    sample *w = &srv->work;
    *w = (sample){0};
    srv->work_error = NULL;
    /* The VMs first: their list (inactive ones too) and every running one's record. The host
     * record that follows takes its VM rows (host.vms.*, kvm.*) from these records rather than
     * collecting the VMs a second time (the local driver keeps their sums for it). */
    if (srv->source->driver->domain_stats) {
        uni_select sel;
        if (uni_select_parse_domain(&sel, NULL) == 0) {
            if (uni_domain_collect(srv->source, &sel, NULL, 0, &w->doms, &w->ndoms) < 0)
                w->doms = NULL, w->ndoms = 0;
            uni_select_done(&sel);
        }
    }
    /* The list is the collection's domains (every one, inactive too): one discovery, not two. */
    if (w->doms) {
        if (uni_domain_infos_copy(w->doms, w->ndoms, &w->dom_list) == 0)
            w->ndom_list = w->ndoms;
    } else if (srv->source->driver->list_domains && uni_domain_list(srv->source, &w->dom_list, &w->ndom_list) < 0)
        w->dom_list = NULL, w->ndom_list = 0;
    /* Best effort: a failing source is absent with its error, the rest is served. */
    if (uniNodeGetStats(srv->source, NULL, &w->rec, UNI_NODE_STATS_BEST_EFFORT) < 0) {
        const uniError *e = uniGetLastError();
        srv->work_error = strdup(e && e->message ? e->message : "unknown error");
    }
    uniResetLastError();
    srv->work_ns = now_ns() - t0;
}

void free_sample(sample *s) {
    uniRecordFree(s->rec);
    uni_domain_infos_free(s->dom_list, s->ndom_list);
    uni_domain_stats_free(s->doms, s->ndoms);
    *s = (sample){0};
}

/* The sample made: logged when it failed (the last good one stays in the cache), else made
 * pending for the loop, in place of a pending one no client has read. */
static void sample_finish(server *srv) {
    if (!srv->work.rec) {
        ledger_file_sample(&srv->ledger, NULL, uni_clock_wall_ms());
        srv->samples_failed++;
        /* Log when it starts failing, then once a minute of failures, not at every interval. */
        if (!srv->failing || srv->samples_failed % (uint64_t)(60000 / srv->cfg->interval_ms + 1) == 0)
            log_error("sampling %s failed: %s (%llu failures so far; serving the last good record)",
                      srv->cfg->source_uri, srv->work_error ? srv->work_error : "unknown error",
                      (unsigned long long)srv->samples_failed);
        srv->failing = true;
        free(srv->work_error);
        srv->work_error = NULL;
        free_sample(&srv->work);
        return;
    }
    if (srv->failing)
        log_info("sampling %s works again", srv->cfg->source_uri);
    srv->failing = false;
    srv->samples_ok++;
    /* The daemon's own collection, as one more source of the record. */
    rec_u64(srv->work.rec, UNI_M_HOST_SOURCE_NAME_UP, -1, "uniserverd", 1);
    rec_dbl(srv->work.rec, UNI_M_HOST_SOURCE_NAME_DURATION_MS, -1, "uniserverd", (double)srv->work_ns / 1e6);
    rec_u64(srv->work.rec, UNI_M_HOST_SOURCE_NAME_ERRORS, -1, "uniserverd", srv->samples_failed);
    /* Section 2's availability and energy windows, from the ledger this sample adds to. */
    ledger_file_sample(&srv->ledger, srv->work.rec, uni_clock_wall_ms());
    pthread_mutex_lock(&srv->sample_lock);
    free_sample(&srv->pend);
    srv->pend = srv->work;
    pthread_mutex_unlock(&srv->sample_lock);
    srv->work = (sample){0};
}

/* On the loop, which is the only reader of the cache (calls and /metrics): no lock but the
 * moment of taking the pending sample. */
static void server_adopt(server *srv) {
    sample s;

    pthread_mutex_lock(&srv->sample_lock);
    s = srv->pend;
    srv->pend = (sample){0};
    pthread_mutex_unlock(&srv->sample_lock);
    if (!s.rec)
        return;
    free_sample(&srv->cache);
    srv->cache = s;
    srv->cache_gen++;
}

static void timespec_add_ns(struct timespec *t, uint64_t ns) {
    uint64_t v = (uint64_t)t->tv_nsec + ns % 1000000000u;
    t->tv_sec += (time_t)(ns / 1000000000u + v / 1000000000u);
    t->tv_nsec = (long)(v % 1000000000u);
}

static bool timespec_le(const struct timespec *a, const struct timespec *b) {
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec);
}

/* Samples at every tick of the interval (a sample that overruns skips ticks: never piles up),
 * and at once when asked (sample_soon). */
static void *sampler_main(void *arg) {
    server *srv = arg;
    uint64_t interval = (uint64_t)srv->cfg->interval_ms * 1000000u;
    struct timespec next, now;

    clock_gettime(CLOCK_MONOTONIC, &next);
    timespec_add_ns(&next, interval);
    pthread_mutex_lock(&srv->sample_lock);
    for (;;) {
        while (!srv->sample_stop && !srv->sample_asked)
            if (pthread_cond_timedwait(&srv->sample_cond, &srv->sample_lock, &next) == ETIMEDOUT)
                break;
        if (srv->sample_stop)
            break;
        srv->sample_asked = false;
        pthread_mutex_unlock(&srv->sample_lock);
        sample_collect(srv);
        sample_finish(srv);
        clock_gettime(CLOCK_MONOTONIC, &now);
        while (timespec_le(&next, &now))
            timespec_add_ns(&next, interval);
        pthread_mutex_lock(&srv->sample_lock);
    }
    pthread_mutex_unlock(&srv->sample_lock);
    return NULL;
}

static void sample_soon(server *srv) {
    pthread_mutex_lock(&srv->sample_lock);
    srv->sample_asked = true;
    pthread_cond_signal(&srv->sample_cond);
    pthread_mutex_unlock(&srv->sample_lock);
}

int sampler_first(server *srv) {
    pthread_mutex_init(&srv->sample_lock, NULL);
    /* The first sample before the first client, so that no call finds an empty cache. */
    sample_collect(srv);
    if (!srv->work.rec) {
        log_error("cannot sample %s: %s", srv->cfg->source_uri, srv->work_error ? srv->work_error : "unknown error");
        free(srv->work_error);
        return -1;
    }
    sample_finish(srv);
    server_adopt(srv);
    return 0;
}

int sampler_start(server *srv) {
    pthread_condattr_t a;
    int r;
    srv->sample_soon = sample_soon;
    srv->adopt = server_adopt;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->sample_cond, &a);
    pthread_condattr_destroy(&a);
    if ((r = pthread_create(&srv->sampler, NULL, sampler_main, srv)) != 0) {
        log_error("cannot start the sampler thread: %s", strerror(r));
        return -1;
    }
    srv->sampler_running = true;
    return 0;
}

void sampler_stop(server *srv) {
    if (!srv->sampler_running)
        return;
    pthread_mutex_lock(&srv->sample_lock);
    srv->sample_stop = true;
    pthread_cond_signal(&srv->sample_cond);
    pthread_mutex_unlock(&srv->sample_lock);
    pthread_join(srv->sampler, NULL); /* after the sample it may be making */
    srv->sampler_running = false;
    pthread_cond_destroy(&srv->sample_cond);
}

/* A commit to the HealthLog: new errors are in the cache within tens of milliseconds instead of
 * at the next interval (a sample running now is followed by another). */
static void on_healthlog_settled(uv_timer_t *t) {
    sample_soon(t->data);
}

static void on_healthlog_change(uv_poll_t *p, int status, int events) {
    server *srv = p->data;
    (void)status;
    (void)events;
    if (hl_watch_drain(srv->hl_fd, uni_local_healthlog_path(srv->source)) > 0 &&
        !uv_is_active((uv_handle_t *)&srv->hl_timer))
        uv_timer_start(&srv->hl_timer, on_healthlog_settled, 20, 0);
}

void sampler_watch_healthlog(server *srv) {
    const char *path = uni_local_healthlog_path(srv->source);
    srv->hl_fd = path ? hl_watch_open(path) : -1;
    if (srv->hl_fd < 0)
        return;
    uv_timer_init(srv->loop, &srv->hl_timer);
    srv->hl_timer.data = srv;
    uv_poll_init(srv->loop, &srv->hl_poll, srv->hl_fd);
    srv->hl_poll.data = srv;
    uv_poll_start(&srv->hl_poll, UV_READABLE, on_healthlog_change);
    srv->hl_watching = true;
    log_info("watching the HealthLog %s: new errors are sampled when uni-healthd commits them", path);
}

void sampler_unwatch_healthlog(server *srv) {
    if (srv->hl_watching) {
        uv_poll_stop(&srv->hl_poll);
        uv_close((uv_handle_t *)&srv->hl_poll, NULL);
        uv_close((uv_handle_t *)&srv->hl_timer, NULL);
    }
}

void sampler_free(server *srv) {
    free_sample(&srv->cache);
    free_sample(&srv->work);
    free_sample(&srv->pend);
    pthread_mutex_destroy(&srv->sample_lock);
    if (srv->hl_fd >= 0)
        close(srv->hl_fd);
}
