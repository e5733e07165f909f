/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-allocd: the reliability-aware resource allocator (D5.1 section 1.1), placing each VM's
 * vCPUs and setting each domain's operating point by the VMs' reliability classes, the
 * predictor's risk and the StressLog's margins, through the public API (uni-allocd(8)). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "allocd/allocd.h"
#include "util/util.h"

volatile sig_atomic_t ad_stop;

static void on_signal(int sig) {
    ad_stop = sig;
}

static void usage(FILE *f) {
    fprintf(f, "Usage: uni-allocd [OPTION]...\n"
               "Place each VM by its reliability class on CPU domains and operating points (docs/allocator.md).\n"
               "\n"
               "  -c, --connect URI       the host (default uniserver:///system; uniserver+unix:///system through\n"
               "                          uniserverd; a read-only connection refuses every action)\n"
               "  -n, --dry-run           print the plan with its reasons and change nothing\n"
               "      --once              make and apply one plan, then exit\n"
               "  -i, --interval S        seconds between rounds (default 2)\n"
               "      --state FILE        the published plan and the allocator's memory\n"
               "                          (default /run/uniserver/allocation.json; unish allocation reads it)\n"
               "      --journal FILE      what it set, action by action (default /var/lib/uniserver/allocd.journal)\n"
               "      --ce-burst N        corrected errors on a domain within the window that make a burst (5)\n"
               "      --burst-window S    the window (default 60)\n"
               "      --guard-normal MV   added to the StressLog's safe voltage under normal-class VMs (15)\n"
               "      --guard-low MV      ... under low-class VMs only, and on idle domains (5)\n"
               "      --backoff MV        added to a domain's guard for each fault on it (10)\n"
               "      --hold S            a faulted domain stays at nominal this long (600)\n"
               "      --lower-after S     a domain goes down again only this long after it went up (60)\n"
               "      --vcpus-per-core N  a domain's capacity: vCPUs per core at most (4; the load decides within it)\n"
               "      --target-util F     ... and by load: VMs are placed while their demand (vCPU time + run-queue\n"
               "                          wait) stays within F of the domain's cores (0.85); one stays up to all of\n"
               "                          them, and moves off a domain whose demand is beyond its cores\n"
               "      --pack-margin F     VMs are packed back onto fewer domains only below F under the target (0.15)\n"
               "      --demand-window S   a VM's demand is the highest measured within S seconds (300)\n"
               "      --max-actions N     lowering actions per round (8); raises and moves never wait\n"
               "      --step-delay MS     pause between a plan's actions (to watch their order)\n"
               "      --clock-file FILE   read the time (ms) from FILE each round instead of the system clock\n"
               "                          (the simulated board's sim/time_ms under --manual-clock)\n"
               "  -q, --quiet             no line per action\n"
               "  -h, --help              this help\n"
               "\n"
               "Exit status: 0 done (or stopped by SIGINT/SIGTERM), 1 an action or a read failed (--once),\n"
               "2 bad usage.\n");
}

static int parse_opts(int argc, char **argv, ad_options *o) {
    static const struct option opts[] = {
        {"connect", required_argument, NULL, 'c'},
        {"dry-run", no_argument, NULL, 'n'},
        {"once", no_argument, NULL, 1},
        {"interval", required_argument, NULL, 'i'},
        {"state", required_argument, NULL, 2},
        {"journal", required_argument, NULL, 3},
        {"ce-burst", required_argument, NULL, 4},
        {"burst-window", required_argument, NULL, 5},
        {"guard-normal", required_argument, NULL, 6},
        {"guard-low", required_argument, NULL, 7},
        {"backoff", required_argument, NULL, 8},
        {"hold", required_argument, NULL, 9},
        {"lower-after", required_argument, NULL, 10},
        {"vcpus-per-core", required_argument, NULL, 11},
        {"max-actions", required_argument, NULL, 12},
        {"quiet", no_argument, NULL, 'q'},
        {"step-delay", required_argument, NULL, 13},
        {"clock-file", required_argument, NULL, 14},
        {"target-util", required_argument, NULL, 15},
        {"pack-margin", required_argument, NULL, 16},
        {"demand-window", required_argument, NULL, 17},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    *o = (ad_options){.uri = "uniserver:///system",
                      .state = "/run/uniserver/allocation.json",
                      .journal = "/var/lib/uniserver/allocd.journal",
                      .interval_s = 2,
                      .burst_window_s = 60,
                      .demand_window_s = 300,
                      .ce_burst = 5,
                      .max_actions = 8};
    ap_params_default(&o->p);
    while ((c = getopt_long(argc, argv, "c:ni:qh", opts, NULL)) != -1) {
        unsigned u = 0;
        double d = 0;
        int r = 0;
        switch (c) {
        case 'c':
            o->uri = optarg;
            continue;
        case 'n':
            o->dry_run = true;
            continue;
        case 1:
            o->once = true;
            continue;
        case 2:
            o->state = optarg;
            continue;
        case 3:
            o->journal = optarg;
            continue;
        case 14:
            o->clock_file = optarg;
            continue;
        case 'q':
            o->quiet = true;
            continue;
        case 'h':
            usage(stdout);
            exit(0);
        case 15:
        case 16:
            if ((r = safe_atod(optarg, &d)) < 0 || d < (c == 15 ? 0.05 : 0) || d > (c == 15 ? 1 : 0.95))
                break;
            if (c == 15)
                o->p.target_util = d;
            else
                o->p.pack_margin = d;
            continue;
        case 'i':
        case 5:
        case 9:
        case 10:
        case 17:
            if ((r = safe_atod(optarg, &d)) < 0 || d <= 0 || d > 86400)
                break;
            if (c == 'i')
                o->interval_s = d;
            else if (c == 5)
                o->burst_window_s = d;
            else if (c == 17)
                o->demand_window_s = d;
            else if (c == 9)
                o->p.fault_hold_ms = (int64_t)(d * 1000);
            else
                o->p.lower_after_ms = (int64_t)(d * 1000);
            continue;
        case 4:
        case 6:
        case 7:
        case 8:
        case 11:
        case 12:
        case 13:
            if ((r = safe_atou(optarg, &u)) < 0 || u > (c == 13 ? 60000 : 1000) || ((c == 4 || c == 11) && u == 0))
                break;
            if (c == 4)
                o->ce_burst = u;
            else if (c == 6)
                o->p.guard_normal_mv = (int)u;
            else if (c == 7)
                o->p.guard_low_mv = (int)u;
            else if (c == 8)
                o->p.fault_backoff_mv = (int)u;
            else if (c == 11)
                o->p.vcpus_per_core = (int)u;
            else if (c == 13)
                o->step_delay_ms = u;
            else
                o->max_actions = (int)u;
            continue;
        default:
            usage(stderr);
            return -EINVAL;
        }
        for (const struct option *p = opts; p->name; p++)
            if (p->val == c)
                fprintf(stderr, "uni-allocd: bad value '%s' for --%s (INVALID_ARG)\n", optarg, p->name);
        return -EINVAL;
    }
    if (optind < argc) {
        fprintf(stderr, "uni-allocd: unexpected argument '%s' (INVALID_ARG)\n", argv[optind]);
        return -EINVAL;
    }
    if (o->p.pack_margin >= o->p.target_util) {
        fprintf(stderr,
                "uni-allocd: --pack-margin %g is not below --target-util %g: VMs would never be packed back "
                "(INVALID_ARG)\n",
                o->p.pack_margin, o->p.target_util);
        return -EINVAL;
    }
    if (o->p.guard_low_mv > o->p.guard_normal_mv) {
        fprintf(stderr,
                "uni-allocd: --guard-low %d is above --guard-normal %d: the low class would be the safer "
                "(INVALID_ARG)\n",
                o->p.guard_low_mv, o->p.guard_normal_mv);
        return -EINVAL;
    }
    return 0;
}

/* The time of a round: the system's, or a simulated clock's (--clock-file), so that windows,
 * holds and hysteresis count the board's time when the evaluation runs a day in minutes. */
static int now_ms(const ad_options *o, int64_t *ret) {
    struct timespec ts;
    if (o->clock_file) {
        _cleanup_fclose_ FILE *f = fopen(o->clock_file, "re");
        char text[64] = "";
        int64_t v = 0;
        if (f && fgets(text, sizeof(text), f))
            text[strcspn(text, "\n")] = 0;
        if (!f || safe_atoi64(text, &v) < 0 || v < 0) {
            fprintf(stderr, "uni-allocd: cannot read a time in ms from the clock file %s\n", o->clock_file);
            return -EIO;
        }
        *ret = v;
        return 0;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    *ret = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    return 0;
}

/* One round: read, plan, print or apply, publish. */
static int round_once(uniConnectPtr conn, const ad_options *o, ad_state *st) {
    static ad_world w;
    static ap_plan plan;
    ap_memory before = st->mem;
    int64_t now = 0;
    int r = now_ms(o, &now);
    if (r < 0 || (r = ad_read_world(conn, o, st, &w, now)) < 0)
        return r;
    r = ap_plan_make(&w.in, &o->p, &st->mem, &plan);
    if (r == -EINVAL)
        fprintf(stderr, "uni-allocd: more VMs or domains than the planner holds (%d VMs, %d domains)\n", w.in.nvm,
                w.in.ndom);
    if (o->dry_run) {
        st->mem = before;
        ad_print_plan(stdout, &w, &plan);
        ad_world_free(&w);
        return r == -EINVAL ? r : 0;
    }
    if (r != -EINVAL)
        r = ad_apply(conn, o, st, &w, &plan);
    if (ad_state_save(o, st, &w, &plan) < 0 && r == 0)
        r = -EIO;
    ad_world_free(&w);
    return r;
}

int main(int argc, char **argv) {
    struct sigaction sa = {.sa_handler = on_signal};
    ad_options o;
    static ad_state st;
    uniConnectPtr conn;
    int r = 0;

    if (parse_opts(argc, argv, &o) < 0)
        return 2;
    if (!(conn = uniConnectOpen(o.uri, 0))) {
        fprintf(stderr, "uni-allocd: cannot open %s: %s\n", o.uri, uniGetLastError()->message);
        return uniGetLastError()->code == UNI_ERR_INVALID_URI || uniGetLastError()->code == UNI_ERR_NO_DRIVER ? 2 : 1;
    }
    if ((r = ad_state_load(&o, &st)) < 0)
        fprintf(stderr, "uni-allocd: the state file %s is not valid JSON: starting without the last plan's memory\n",
                o.state);
    if (!o.dry_run)
        ad_journal_recover(&o);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    for (;;) {
        r = round_once(conn, &o, &st);
        if (r < 0 && (o.once || o.dry_run))
            break;
        if (o.once || o.dry_run || ad_stop)
            break;
        /* Sleep in small steps so that a signal ends the wait at once. */
        for (double t = 0; t < o.interval_s && !ad_stop; t += 0.1)
            usleep(100000);
        if (ad_stop)
            break;
    }
    uniConnectClose(conn);
    return r < 0 && (o.once || o.dry_run) ? 1 : 0;
}
