/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* unish top: virt-top's view, a live frame of the host and its VMs, on the terminal (curses) or in batch. */
#include <curses.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shell.h"

typedef struct {
    char *name;
    double cpu, mem, swap;
    double exits, halts; /* per second, NAN when unknown */
    uint64_t exits_total, halts_total;
    bool have_exits, stale;
    const char *state;
    unsigned vcpus;
} top_row;

typedef struct {
    char **names;
    uint64_t *exits, *halts;
    size_t n;
    uint64_t t_ms;
} top_prev;

/* The keys that sort, once: the title names the order, `?` lists them, --sort takes them. */
static const struct {
    int key;
    const char *title, *help;
} top_sorts[] = {
    {'c', "CPU %", "sort by CPU %"},         {'m', "memory", "sort by memory"},
    {'e', "exits/s", "sort by KVM exits/s"}, {'h', "halts/s", "sort by halt exits/s"},
    {'n', "name", "sort by name"},
};

static int top_sort_key = 'c';

static const char *top_sort_title(int key) {
    for (size_t i = 0; i < sizeof(top_sorts) / sizeof(top_sorts[0]); i++)
        if (top_sorts[i].key == key)
            return top_sorts[i].title;
    return NULL;
}

static int top_cmp(const void *a, const void *b) {
    const top_row *x = a, *y = b;
    double u, v;
    switch (top_sort_key) {
    case 'm':
        u = x->mem, v = y->mem;
        break;
    case 'e':
        u = x->exits, v = y->exits;
        break;
    case 'h':
        u = x->halts, v = y->halts;
        break;
    case 'n':
        return strcmp(x->name, y->name);
    default:
        u = x->cpu, v = y->cpu;
    }
    if (isnan(u) != isnan(v))
        return isnan(u) ? 1 : -1;
    if (u != v && !isnan(u))
        return u > v ? -1 : 1;
    return strcmp(x->name, y->name);
}

static double rec_num(uniRecordPtr rec, const char *key) {
    const uniSample *s = uniRecordLookup(rec, key);
    if (!s)
        return NAN;
    return s->type == UNI_VALUE_U64 ? (double)s->value.u : s->type == UNI_VALUE_DOUBLE ? s->value.d : NAN;
}

/* A number with @decimals decimals, or "-" when unknown. */
static void top_cell(char *buf, size_t len, double v, int decimals) {
    if (isnan(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.*f", decimals, v);
}

/* One frame: the host line and a row per VM into @out (rows malloc'd); rates from @prev. */
static int top_sample(shell *sh, char *host, size_t hostlen, top_row **ret_rows, size_t *ret_n, top_prev *prev) {
    static const char *const hsel[] = {"cpu", "mem", "contention", "power", "errors", NULL};
    static const char *const dsel[] = {"dom.state",        "dom.stale",          "dom.cpu.count",
                                       "dom.cpu.util_pct", "dom.mem_mb",         "dom.swap_wait_pct",
                                       "dom.kvm.exits",    "dom.kvm.halt_exits", NULL};
    uniRecordPtr h = NULL;
    uniDomainStatsRecordPtr *st = NULL;
    top_row *rows;
    top_prev next = {0};
    uint64_t now = mono_ms();
    double win_s = prev->t_ms ? (double)(now - prev->t_ms) / 1000.0 : 0;
    int n;

    if (uniNodeGetStats(sh->conn, hsel, &h, 0) < 0)
        return -1;
    {
        char a[32], b[32], c[32], d[32], e[32];
        top_cell(a, sizeof(a), rec_num(h, "host.cpu.util_pct"), 1);
        top_cell(b, sizeof(b), rec_num(h, "host.mem.available_pct"), 0);
        top_cell(c, sizeof(c), rec_num(h, "host.cpu.contention_ratio"), 2);
        top_cell(d, sizeof(d), rec_num(h, "host.power.total_w"), 1);
        top_cell(e, sizeof(e), rec_num(h, "host.errors.mem.rate_per_min") + rec_num(h, "host.errors.cpu.rate_per_min"),
                 1);
        snprintf(host, hostlen, "host: CPU %s %%  memory %s %% available  contention %s  power %s W  errors %s /min", a,
                 b, c, d, e);
    }
    uniRecordFree(h);
    n = uniConnectGetAllDomainStats(sh->conn, dsel, &st, UNI_DOMAIN_STATS_ACTIVE);
    if (n < 0)
        return -1;
    rows = calloc((size_t)n + 1, sizeof(*rows));
    next.names = calloc((size_t)n + 1, sizeof(char *));
    next.exits = calloc((size_t)n + 1, sizeof(uint64_t));
    next.halts = calloc((size_t)n + 1, sizeof(uint64_t));
    if (!rows || !next.names || !next.exits || !next.halts) {
        uniDomainStatsRecordListFree(st);
        free(rows);
        free(next.names);
        free(next.exits);
        free(next.halts);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        uniRecordPtr r = st[i]->record;
        top_row *w = &rows[i];
        const uniSample *s = uniRecordLookup(r, "dom.state");
        double e = rec_num(r, "dom.kvm.exits"), hl = rec_num(r, "dom.kvm.halt_exits");
        w->name = strdup(uniDomainGetName(st[i]->dom));
        w->state = s ? (strcmp(s->value.s, "running") == 0 ? "R" : strcmp(s->value.s, "paused") == 0 ? "P" : "?") : "?";
        w->stale = rec_num(r, "dom.stale") == 1;
        w->vcpus = (unsigned)(isnan(rec_num(r, "dom.cpu.count")) ? 0 : rec_num(r, "dom.cpu.count"));
        w->cpu = rec_num(r, "dom.cpu.util_pct");
        w->mem = rec_num(r, "dom.mem_mb");
        w->swap = rec_num(r, "dom.swap_wait_pct");
        w->exits = w->halts = NAN;
        w->have_exits = !isnan(e);
        next.names[i] = strdup(w->name ? w->name : "");
        next.exits[i] = w->have_exits ? (uint64_t)e : 0;
        next.halts[i] = isnan(hl) ? 0 : (uint64_t)hl;
        /* Rates over the record's own window (the driver's clock), else the time between frames. */
        double win = uniRecordGetWindowMs(r) > 0 ? (double)uniRecordGetWindowMs(r) / 1000.0 : win_s;
        for (size_t k = 0; w->have_exits && win > 0 && k < prev->n; k++)
            if (prev->names[k] && w->name && strcmp(prev->names[k], w->name) == 0) {
                if (next.exits[i] >= prev->exits[k])
                    w->exits = (double)(next.exits[i] - prev->exits[k]) / win;
                if (next.halts[i] >= prev->halts[k])
                    w->halts = (double)(next.halts[i] - prev->halts[k]) / win;
            }
    }
    uniDomainStatsRecordListFree(st);
    for (size_t k = 0; k < prev->n; k++)
        free(prev->names[k]);
    free(prev->names);
    free(prev->exits);
    free(prev->halts);
    next.n = (size_t)n;
    next.t_ms = now;
    *prev = next;
    if (n > 1)
        qsort(rows, (size_t)n, sizeof(*rows), top_cmp);
    *ret_rows = rows;
    *ret_n = (size_t)n;
    return 0;
}

/* The title: the clock (a batch frame's full local time with its offset, for logs), the count of
 * VMs and the order; the terminal adds where the keys are, a batch frame has no keys. */
static void top_title(char *buf, size_t len, size_t n, bool batch) {
    char clock[48] = "?";
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm))
        strftime(clock, sizeof(clock), batch ? "%Y-%m-%dT%H:%M:%S%z" : "%H:%M:%S", &tm);
    snprintf(buf, len, "unish top - %s - %zu VM%s - sort: %s%s", clock, n, n == 1 ? "" : "s",
             top_sort_title(top_sort_key), batch ? "" : "  (? help, q quit)");
}

/* The frame as lines of text (the same for the terminal and for --batch); @note is the answer to
 * the last key (the terminal's third line), or "". */
static void top_lines(const char *host, top_row *rows, size_t n, bool batch, const char *note,
                      void (*line)(void *ud, int y, const char *s, bool bold), void *ud) {
    char buf[512];
    int y = 0;
    top_title(buf, sizeof(buf), n, batch);
    line(ud, y++, buf, true);
    line(ud, y++, host, false);
    line(ud, y++, note, false);
    snprintf(buf, sizeof(buf), "%-24s %2s %5s %8s %10s %12s %12s %8s", "NAME", "ST", "VCPU", "%CPU", "MEM MB",
             "EXITS/s", "HALTS/s", "SWAP%");
    line(ud, y++, buf, true);
    for (size_t i = 0; i < n; i++) {
        char c[16], m[16], e[24], h[24], sw[16];
        top_cell(c, sizeof(c), rows[i].cpu, 1);
        top_cell(m, sizeof(m), rows[i].mem, 1);
        top_cell(e, sizeof(e), rows[i].exits, 0);
        top_cell(h, sizeof(h), rows[i].halts, 0);
        top_cell(sw, sizeof(sw), rows[i].swap, 2);
        snprintf(buf, sizeof(buf), "%-24.24s %2s %5u %8s %10s %12s %12s %8s%s", rows[i].name ? rows[i].name : "?",
                 rows[i].state, rows[i].vcpus, c, m, e, h, sw, rows[i].stale ? "  stale" : "");
        line(ud, y++, buf, false);
    }
}

/* The `?` screen: every key and what the columns mean. */
static void top_help_lines(void (*line)(void *ud, int y, const char *s, bool bold), void *ud) {
    static const char *const tail[] = {
        "  ?  this help",
        "  q  quit",
        "",
        "ST is R running or P paused; %CPU the VM's CPU time; MEM MB its memory; EXITS/s and HALTS/s",
        "its KVM exits and halt exits per second; SWAP% its time waiting for swap-in; 'stale' when its",
        "monitor did not answer in time; '-' a value the host cannot give.",
        "",
        "Any key returns to the view; q quits.",
    };
    char buf[128];
    int y = 0;
    line(ud, y++, "unish top - keys", true);
    line(ud, y++, "", false);
    for (size_t i = 0; i < sizeof(top_sorts) / sizeof(top_sorts[0]); i++) {
        snprintf(buf, sizeof(buf), "  %c  %s", top_sorts[i].key, top_sorts[i].help);
        line(ud, y++, buf, false);
    }
    for (size_t i = 0; i < sizeof(tail) / sizeof(tail[0]); i++)
        line(ud, y++, tail[i], false);
}

static void print_line(void *ud, int y, const char *s, bool bold) {
    (void)ud;
    (void)y;
    (void)bold;
    printf("%s\n", s);
}

static void curses_line(void *ud, int y, const char *s, bool bold) {
    (void)ud;
    if (y >= LINES)
        return;
    if (bold)
        attron(A_BOLD);
    mvaddnstr(y, 0, s, COLS);
    if (bold)
        attroff(A_BOLD);
}

static void top_rows_free(top_row *rows, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(rows[i].name);
    free(rows);
}

int cmd_top(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    bool batch = false;
    long interval = 1000, count = 0;
    top_prev prev = {0};
    bool help = false;
    char note[96] = "";
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        int r = 0;
        if (strcmp(argv[i], "--batch") == 0 || strcmp(argv[i], "-b") == 0)
            batch = true;
        else if ((strcmp(argv[i], "--interval") == 0 || strcmp(argv[i], "-d") == 0) && i + 1 < argc)
            r = parse_count(cmd, "--interval", argv[++i], 100, 3600000, &interval);
        else if ((strcmp(argv[i], "--count") == 0 || strcmp(argv[i], "-n") == 0) && i + 1 < argc)
            r = parse_count(cmd, "--count", argv[++i], 1, 1000000000, &count);
        else if (strcmp(argv[i], "--sort") == 0 && i + 1 < argc && top_sort_title(argv[i + 1][0]) && !argv[i + 1][1])
            top_sort_key = argv[++i][0];
        else {
            static const char *const valued[] = {"--interval", "-d", "--count", "-n", "--sort", NULL};
            if (strcmp(argv[i], "--sort") == 0 && i + 1 < argc)
                return usage_error(cmd,
                                   "--sort takes one of c (CPU), m (memory), e (exits), h (halts), n (name), not '%s'",
                                   argv[i + 1]);
            return arg_error(cmd, argc, argv, i, valued);
        }
        if (r)
            return r;
    }
    if (sh->json)
        return usage_error(cmd, "top is a terminal view: use domstats --all --json");
    if (!batch && !isatty(STDOUT_FILENO))
        batch = true;
    if (ensure_conn(sh) < 0)
        return 1;
    if (!batch) {
        initscr();
        cbreak();
        noecho();
        curs_set(0);
        keypad(stdscr, TRUE);
        timeout((int)interval);
    }
    for (long it = 0; !count || it < count; it++) {
        char host[256];
        top_row *rows = NULL;
        size_t n = 0;
        if (top_sample(sh, host, sizeof(host), &rows, &n, &prev) < 0) {
            if (!batch)
                endwin();
            print_error(cmd->name);
            goto out;
        }
        if (batch) {
            /* The first frame has no window for rates: a batch prints from the second. */
            if (it > 0 || count == 1) {
                top_lines(host, rows, n, true, "", print_line, NULL);
                printf("\n");
                fflush(stdout);
            } else
                count += count ? 1 : 0;
            top_rows_free(rows, n);
            sleep_ms(interval);
            continue;
        }
        erase();
        if (help)
            top_help_lines(curses_line, NULL);
        else
            top_lines(host, rows, n, false, note, curses_line, NULL);
        refresh();
        top_rows_free(rows, n);
        {
            int ch = getch();
            /* No key in the interval, or a resized terminal: only a new frame. */
            if (ch == ERR || ch == KEY_RESIZE)
                continue;
            note[0] = '\0';
            if (ch == 'q' || ch == 'Q')
                break;
            if (help)
                help = false;
            else if (ch == '?')
                help = true;
            else if (top_sort_title(ch))
                top_sort_key = ch;
            else {
                const char *k = keyname(ch);
                snprintf(note, sizeof(note), "unknown key '%s': ? lists the keys", k ? k : "?");
            }
        }
    }
    if (!batch)
        endwin();
    rc = 0;
out:
    for (size_t k = 0; k < prev.n; k++)
        free(prev.names[k]);
    free(prev.names);
    free(prev.exits);
    free(prev.halts);
    return rc;
}
