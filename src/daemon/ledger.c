/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's ledger: the spans in which it served and the energy it measured, in a small file that survives restarts and crashes. */
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "ledger.h"
#include "util/lockfile.h"
#include "util/log.h"

#define LEDGER_MAGIC "uniserverd-ledger 1"
#define MAX_SPANS 20000 /* a source failing every other sample for days: the oldest go */

void ledger_init(ledger *l, int64_t gap_ms, bool fresh_counter) {
    memset(l, 0, sizeof(*l));
    l->gap_ms = gap_ms;
    l->fresh_counter = fresh_counter;
}

void ledger_done(ledger *l) {
    free(l->spans);
    free(l->marks);
    l->spans = NULL;
    l->marks = NULL;
    l->nspans = l->capspans = l->nmarks = l->capmarks = 0;
}

static int grow(void **p, size_t *cap, size_t n, size_t elem) {
    void *np;
    size_t nc;
    if (n < *cap)
        return 0;
    nc = *cap ? *cap * 2 : 16;
    if (!(np = realloc(*p, nc * elem)))
        return -ENOMEM;
    *p = np;
    *cap = nc;
    return 0;
}

static int span_add(ledger *l, int64_t start, int64_t end) {
    if (grow((void **)&l->spans, &l->capspans, l->nspans, sizeof(*l->spans)) < 0)
        return -ENOMEM;
    l->spans[l->nspans++] = (ledger_span){start, end};
    return 0;
}

static int mark_add(ledger *l, int64_t t, double kwh) {
    /* Marks stay in time order (a clock stepped back adds none until it catches up). */
    if (l->nmarks && t < l->marks[l->nmarks - 1].t_ms)
        return 0;
    if (grow((void **)&l->marks, &l->capmarks, l->nmarks, sizeof(*l->marks)) < 0)
        return -ENOMEM;
    l->marks[l->nmarks++] = (ledger_mark){t, kwh};
    return 0;
}

int ledger_served(ledger *l, int64_t now_ms, const char *boot_id) {
    ledger_span *last = l->nspans ? &l->spans[l->nspans - 1] : NULL;
    bool reboot = false;

    if (!l->since_ms)
        l->since_ms = now_ms;
    /* A new boot id is a reboot between the last sample and this one, however short: the host
     * was down from the last sample before it (whether that was this run's or a previous one). */
    if (boot_id && *boot_id && l->boot_id[0] && strcmp(boot_id, l->boot_id) != 0) {
        reboot = true;
        l->reboots++;
        l->open = false;
    }
    if (boot_id && *boot_id)
        snprintf(l->boot_id, sizeof(l->boot_id), "%s", boot_id);
    /* The span goes on while samples come in time; after a gap (the host suspended, the sampler
     * stuck) a new one begins: the time between is downtime. Spans never overlap: after the clock
     * stepped back, the span waits for it to pass its end (that time was counted once already),
     * and a new one begins no earlier than the last one ended. */
    if (l->open && last && now_ms - last->end_ms <= l->gap_ms) {
        if (now_ms > last->end_ms)
            last->end_ms = now_ms;
    } else {
        int64_t start = last && now_ms < last->end_ms ? last->end_ms : now_ms;
        (void)span_add(l, start, start);
        l->open = true;
    }
    return reboot;
}

void ledger_clock(ledger *l, int64_t wall_ms, int64_t boot_ms) {
    /* CLOCK_BOOTTIME runs through suspend and is never set: wall time that moved by more than it
     * did (beyond 2 s of slack) was stepped forward (NTP, an operator), and that is not downtime:
     * the open span moves with it. A suspend moves both, and stays a gap. */
    if (l->prev_boot_ms && boot_ms >= l->prev_boot_ms && l->open && l->nspans) {
        int64_t step = (wall_ms - l->prev_wall_ms) - (boot_ms - l->prev_boot_ms);
        if (step > 2000)
            l->spans[l->nspans - 1].end_ms += step;
    }
    l->prev_wall_ms = wall_ms;
    l->prev_boot_ms = boot_ms;
}

void ledger_failed(ledger *l) {
    l->open = false;
}

void ledger_energy(ledger *l, int64_t now_ms, bool have, double total_kwh) {
    if (have && isfinite(total_kwh) && total_kwh >= 0) {
        /* The source's counter is since its connection opened: this run's. Its first value is
         * the energy since then when the connection is ours (fresh_counter); a counter that went
         * down was reset under us, and that window's energy is unknown, not negative. */
        double base = l->have_prev_total ? l->prev_total : l->fresh_counter ? 0 : total_kwh;
        /* A run's first value: the energy stood still while uniserverd was down (it measured
         * none), so a mark now keeps that time out of the interpolation. */
        if (!l->have_prev_total)
            (void)mark_add(l, now_ms, l->kwh);
        if (total_kwh >= base)
            l->kwh += total_kwh - base;
        l->prev_total = total_kwh;
        l->have_prev_total = true;
        l->have_energy = true;
    }
    if (l->have_energy && (!l->nmarks || now_ms - l->marks[l->nmarks - 1].t_ms >= LEDGER_MARK_MS))
        (void)mark_add(l, now_ms, l->kwh);
}

double ledger_availability(const ledger *l, int64_t now_ms, int64_t window_ms) {
    int64_t lo, up = 0;
    if (window_ms <= 0)
        return -EINVAL;
    lo = now_ms - window_ms;
    if (l->since_ms > lo)
        lo = l->since_ms;
    if (!l->since_ms || now_ms <= lo)
        return -1;
    for (size_t i = 0; i < l->nspans; i++) {
        int64_t a = l->spans[i].start_ms > lo ? l->spans[i].start_ms : lo;
        int64_t b = l->spans[i].end_ms < now_ms ? l->spans[i].end_ms : now_ms;
        if (b > a)
            up += b - a;
    }
    return 100.0 * (double)up / (double)(now_ms - lo);
}

/* The energy measured until @t: between two marks, in proportion to the time. */
static double energy_at(const ledger *l, int64_t t, int64_t now_ms) {
    ledger_mark next;
    /* Before the first mark nothing was measured: the ledger's energy begins at 0. */
    if (!l->nmarks || t <= l->marks[0].t_ms)
        return 0;
    for (size_t i = 0; i < l->nmarks; i++) {
        const ledger_mark *a = &l->marks[i];
        next = i + 1 < l->nmarks ? l->marks[i + 1] : (ledger_mark){now_ms, l->kwh};
        if (t < next.t_ms && next.t_ms > a->t_ms)
            return a->kwh + (next.kwh - a->kwh) * (double)(t - a->t_ms) / (double)(next.t_ms - a->t_ms);
    }
    return l->kwh;
}

double ledger_energy_window(const ledger *l, int64_t now_ms, int64_t window_ms) {
    double e;
    if (window_ms <= 0)
        return -EINVAL;
    if (!l->have_energy)
        return -1;
    e = l->kwh - energy_at(l, now_ms - window_ms, now_ms);
    return e > 0 ? e : 0;
}

void ledger_prune(ledger *l, int64_t now_ms) {
    size_t k = 0;
    bool capped = false;
    /* Spans wholly older than the longest window go. */
    while (k < l->nspans && l->spans[k].end_ms < now_ms - LEDGER_30D_MS)
        k++;
    /* Past the bound the oldest go too, and the ledger then begins later: what it forgot is
     * no longer counted as either. */
    if (l->nspans - k > MAX_SPANS) {
        k = l->nspans - MAX_SPANS;
        capped = true;
    }
    if (k) {
        memmove(l->spans, l->spans + k, (l->nspans - k) * sizeof(*l->spans));
        l->nspans -= k;
        if (capped)
            l->since_ms = l->spans[0].start_ms;
    }
    /* Marks: the last one at or before a day ago stays, for the interpolation at the edge. */
    k = 0;
    while (k + 1 < l->nmarks && l->marks[k + 1].t_ms <= now_ms - LEDGER_DAY_MS)
        k++;
    if (k) {
        memmove(l->marks, l->marks + k, (l->nmarks - k) * sizeof(*l->marks));
        l->nmarks -= k;
    }
}

/* ---- the file's text ---- */

typedef struct {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void _printf_(2, 3) sb_add(sbuf *b, const char *fmt, ...) {
    va_list ap;
    int k;
    if (b->oom)
        return;
    for (;;) {
        va_start(ap, fmt);
        k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        char *np = realloc(b->p, b->cap * 2 + (size_t)k);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = b->cap * 2 + (size_t)k;
    }
}

char *ledger_format(const ledger *l, int64_t now_ms) {
    sbuf b = {.p = malloc(4096), .cap = 4096};
    if (!b.p)
        return NULL;
    b.p[0] = 0;
    /* A run's last energy is a mark too: after a restart the energy does not look spread over
     * the time uniserverd was down. */
    sb_add(&b, "%s\nsince_ms %lld\nboot_id %s\nreboots %llu\nhave_energy %d\nkwh %.17g\nsaved_ms %lld\n", LEDGER_MAGIC,
           (long long)l->since_ms, l->boot_id[0] ? l->boot_id : "-", (unsigned long long)l->reboots,
           l->have_energy ? 1 : 0, l->kwh, (long long)now_ms);
    for (size_t i = 0; i < l->nspans; i++)
        sb_add(&b, "span %lld %lld\n", (long long)l->spans[i].start_ms, (long long)l->spans[i].end_ms);
    for (size_t i = 0; i < l->nmarks; i++)
        sb_add(&b, "mark %lld %.17g\n", (long long)l->marks[i].t_ms, l->marks[i].kwh);
    sb_add(&b, "end\n");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static int parse_i64(const char *s, int64_t *ret) {
    return safe_atoi64(s, ret) < 0 ? -EBADMSG : 0;
}

int ledger_parse(ledger *l, const char *text) {
    ledger n;
    _cleanup_free_ char *copy = strdup(text);
    char *line, *save = NULL;
    bool ended = false, first = true;
    int64_t saved = 0;

    if (!copy)
        return -ENOMEM;
    ledger_init(&n, l->gap_ms, l->fresh_counter);
    for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *key = line, *a = strchr(line, ' '), *b2 = NULL;
        int64_t x = 0, y = 0;
        double d = 0;
        int r = 0;
        if (first) {
            first = false;
            if (!streq(line, LEDGER_MAGIC))
                goto bad;
            continue;
        }
        if (ended)
            goto bad;
        if (streq(line, "end")) {
            ended = true;
            continue;
        }
        if (!a)
            goto bad;
        *a++ = 0;
        if ((b2 = strchr(a, ' ')))
            *b2++ = 0;
        if (streq(key, "since_ms") && !b2)
            r = parse_i64(a, &n.since_ms);
        else if (streq(key, "boot_id") && !b2 && strlen(a) < sizeof(n.boot_id))
            snprintf(n.boot_id, sizeof(n.boot_id), "%s", streq(a, "-") ? "" : a);
        else if (streq(key, "reboots") && !b2)
            r = safe_atou64(a, &n.reboots);
        else if (streq(key, "have_energy") && !b2 && (streq(a, "0") || streq(a, "1")))
            n.have_energy = a[0] == '1';
        else if (streq(key, "kwh") && !b2)
            r = safe_atod(a, &n.kwh);
        else if (streq(key, "saved_ms") && !b2)
            r = parse_i64(a, &saved);
        else if (streq(key, "span") && b2 && parse_i64(a, &x) == 0 && parse_i64(b2, &y) == 0 && y >= x &&
                 (!n.nspans || x >= n.spans[n.nspans - 1].end_ms))
            r = span_add(&n, x, y);
        else if (streq(key, "mark") && b2 && parse_i64(a, &x) == 0 && safe_atod(b2, &d) == 0 &&
                 (!n.nmarks || x >= n.marks[n.nmarks - 1].t_ms))
            r = mark_add(&n, x, d);
        else
            goto bad;
        if (r < 0)
            goto bad;
    }
    if (!ended || !isfinite(n.kwh) || n.kwh < 0)
        goto bad;
    if (n.have_energy && saved && (!n.nmarks || n.marks[n.nmarks - 1].t_ms < saved))
        (void)mark_add(&n, saved, n.kwh);
    ledger_done(l);
    *l = n;
    return 0;
bad:
    ledger_done(&n);
    return -EBADMSG;
}

/* ---- the file ---- */

int ledger_file_open(ledger_file *f, const char *dir, int64_t gap_ms, int64_t sync_ms, bool fresh_counter,
                     bool *ret_damaged) {
    _cleanup_free_ char *text = NULL;
    pid_t holder = 0;
    ssize_t n;
    int r;

    memset(f, 0, sizeof(*f));
    f->lock_fd = -1;
    f->sync_ms = sync_ms;
    *ret_damaged = false;
    ledger_init(&f->l, gap_ms, fresh_counter);
    /* systemd's StateDirectory= makes it; a daemon started by hand makes it itself. */
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        log_debug("mkdir %s: %s", dir, strerror(errno));
    f->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (f->dir_fd < 0) {
        r = -errno;
        snprintf(f->why, sizeof(f->why), "the ledger's directory %s cannot be opened: %s", dir, strerror(-r));
        return r;
    }
    r = lockfile_take(f->dir_fd, "ledger.lock", 0600, &holder);
    if (r < 0) {
        if (r == -EBUSY)
            snprintf(f->why, sizeof(f->why), "the ledger in %s is another uniserverd's (pid %d)", dir, (int)holder);
        else
            snprintf(f->why, sizeof(f->why), "the ledger's lock %s/ledger.lock: %s", dir, strerror(-r));
        return r;
    }
    f->lock_fd = r;
    (void)lockfile_write_pid(f->lock_fd);
    n = read_file_at_alloc(f->dir_fd, "ledger", &text);
    if (n == -ENOENT)
        return 0;
    if (n < 0) {
        snprintf(f->why, sizeof(f->why), "the ledger %s/ledger cannot be read: %s", dir, strerror((int)-n));
        return (int)n;
    }
    if (ledger_parse(&f->l, text) < 0) {
        /* Kept for a person to look at; a new ledger begins (the history is not made up). */
        (void)renameat(f->dir_fd, "ledger", f->dir_fd, "ledger.damaged");
        *ret_damaged = true;
    }
    return 0;
}

static int write_all(int fd, const char *p, size_t len) {
    while (len) {
        ssize_t k = write(fd, p, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -EIO;
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

int ledger_file_save(ledger_file *f, int64_t now_ms, bool force) {
    _cleanup_free_ char *text = NULL;
    _cleanup_close_ int fd = -1;
    size_t len;
    int r = 0;

    /* A ledger that could not be read is not overwritten with an empty one. */
    if (f->lock_fd < 0 || f->why[0] || (!force && now_ms - f->saved_ms < f->sync_ms && now_ms >= f->saved_ms))
        return 0;
    ledger_prune(&f->l, now_ms);
    if (!(text = ledger_format(&f->l, now_ms)))
        return -ENOMEM;
    len = strlen(text);
    /* A temporary file, its data on disk, then the rename: a crash leaves the old ledger or the
     * new one whole, never half of one (and the directory's fsync makes the rename last). */
    fd = openat(f->dir_fd, "ledger.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    r = write_all(fd, text, len);
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (r == 0 && renameat(f->dir_fd, "ledger.tmp", f->dir_fd, "ledger") < 0)
        r = -errno;
    if (r == 0 && fsync(f->dir_fd) < 0)
        r = -errno;
    if (r == 0)
        f->saved_ms = now_ms;
    return r;
}

void ledger_file_close(ledger_file *f) {
    ledger_done(&f->l);
    if (f->lock_fd >= 0)
        lockfile_release(f->dir_fd, "ledger.lock", f->lock_fd);
    f->lock_fd = -1;
    closep(&f->dir_fd);
}

static const char *reason_of(uniRecordPtr rec, unsigned metric) {
    for (size_t i = 0; i < rec->nabsent; i++)
        if (rec->absent[i].metric == metric)
            return rec->absent[i].reason;
    return NULL;
}

static const uniSample *sample_of(uniRecordPtr rec, unsigned metric) {
    for (size_t i = 0; i < rec->n; i++)
        if (rec->samples[i].metric == metric)
            return &rec->samples[i];
    return NULL;
}

static void put(uniRecordPtr rec, unsigned metric, double v, const char *why) {
    rec_unabsent(rec, metric);
    if (v >= 0)
        rec_dbl(rec, metric, -1, NULL, v);
    else
        rec_absent(rec, metric, "%s", why);
}

void ledger_file_sample(ledger_file *f, uniRecordPtr rec, int64_t now_ms) {
    static const struct {
        unsigned metric;
        int64_t window;
    } avail[] = {{UNI_M_HOST_AVAILABILITY_1H_PCT, LEDGER_HOUR_MS},
                 {UNI_M_HOST_AVAILABILITY_24H_PCT, LEDGER_DAY_MS},
                 {UNI_M_HOST_AVAILABILITY_30D_PCT, LEDGER_30D_MS}},
      energy[] = {{UNI_M_HOST_ENERGY_1H_KWH, LEDGER_HOUR_MS}, {UNI_M_HOST_ENERGY_24H_KWH, LEDGER_DAY_MS}};
    const uniSample *boot, *total;
    const char *why_energy;
    char why[600];
    int r;

    if (!rec) {
        ledger_failed(&f->l);
        return;
    }
    {
        struct timespec bt;
        if (clock_gettime(CLOCK_BOOTTIME, &bt) == 0)
            ledger_clock(&f->l, now_ms, (int64_t)bt.tv_sec * 1000 + bt.tv_nsec / 1000000);
    }
    if (f->why[0]) {
        for (size_t i = 0; i < ELEMENTSOF(avail); i++)
            put(rec, avail[i].metric, -1, f->why);
        for (size_t i = 0; i < ELEMENTSOF(energy); i++)
            put(rec, energy[i].metric, -1, f->why);
        return;
    }
    boot = sample_of(rec, UNI_M_HOST_BOOT_ID);
    if (ledger_served(&f->l, now_ms, boot && boot->type == UNI_VALUE_STRING ? boot->value.s : NULL))
        log_warning("the source rebooted (boot id now %s): down from the last sample before it", f->l.boot_id);
    total = sample_of(rec, UNI_M_HOST_ENERGY_TOTAL_KWH);
    ledger_energy(&f->l, now_ms, total && total->type == UNI_VALUE_DOUBLE, total ? total->value.d : 0);
    for (size_t i = 0; i < ELEMENTSOF(avail); i++)
        put(rec, avail[i].metric, ledger_availability(&f->l, now_ms, avail[i].window),
            "the ledger began at this sample: no time to measure yet");
    why_energy = reason_of(rec, UNI_M_HOST_ENERGY_TOTAL_KWH);
    snprintf(why, sizeof(why), "no energy measured yet%s%s", why_energy ? ": " : "", why_energy ? why_energy : "");
    for (size_t i = 0; i < ELEMENTSOF(energy); i++)
        put(rec, energy[i].metric, ledger_energy_window(&f->l, now_ms, energy[i].window), why);
    r = ledger_file_save(f, now_ms, false);
    if (r < 0 && !f->warned) {
        log_warning("cannot save the ledger: %s (availability and energy are kept in memory until it can)",
                    strerror(-r));
        f->warned = true;
    } else if (r == 0 && f->warned && f->saved_ms == now_ms) {
        log_info("the ledger is saved again");
        f->warned = false;
    }
}
