/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-stresslog's workloads: stress-ng pinned to the domain's cores (its exit status is the
 * verdict: 2 a stressor failed its verification = data corruption, 5 killed by a signal =
 * crash, 3 no resources = no verdict), our micro-viruses (uni-microvirus: each cache level of each
 * of the domain's cores in turn, the same exit statuses), or the simulated board's own load
 * (uni-simboard's sim/load, sim/advance_ms with its manual clock, and sim/failures for corruption
 * and crashes). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stresslog/stresslog.h"
#include "util/util.h"

static char saved_load[256];
static char board[4096];

static bool is_board(const sl_options *o) {
    return startswith(o->workload, "simboard:");
}

static int board_read(const char *rel, char *buf, size_t len) {
    char path[4352];
    FILE *f;
    size_t n;
    snprintf(path, sizeof(path), "%s/sim/%s", board, rel);
    if (!(f = fopen(path, "re")))
        return -errno;
    n = fread(buf, 1, len - 1, f);
    buf[n] = 0;
    fclose(f);
    return (int)n;
}

static int board_write(const char *rel, const char *value) {
    char path[4352];
    int fd, r = 0;
    snprintf(path, sizeof(path), "%s/sim/%s", board, rel);
    if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
        return -errno;
    if (write(fd, value, strlen(value)) != (ssize_t)strlen(value))
        r = -errno;
    close(fd);
    return r;
}

static char microvirus[4200];

/* uni-microvirus beside this program (the build tree, /usr/bin), else on PATH. */
static int microvirus_path(char *why, size_t len) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = 0;
        *strrchr(self, '/') = 0;
        snprintf(microvirus, sizeof(microvirus), "%s/uni-microvirus", self);
        if (access(microvirus, X_OK) == 0)
            return 0;
    }
    if (system("command -v uni-microvirus >/dev/null 2>&1") == 0) {
        snprintf(microvirus, sizeof(microvirus), "uni-microvirus");
        return 0;
    }
    snprintf(why, len, "uni-microvirus is neither beside uni-stresslog nor on PATH");
    return -ENOENT;
}

int sl_workload_check(const sl_options *o, char *why, size_t len) {
    if (streq(o->workload, "none"))
        return 0;
    if (is_board(o)) {
        char buf[256];
        snprintf(board, sizeof(board), "%s", o->workload + 9);
        if (board_read("failures", buf, sizeof(buf)) < 0) {
            snprintf(why, len, "%s/sim/failures cannot be read: not a uni-simboard mount", board);
            return -ENOENT;
        }
        return 0;
    }
    if (streq(o->workload, "microvirus") && microvirus_path(why, len) < 0)
        return -ENOENT;
    if (system("command -v stress-ng >/dev/null 2>&1") != 0) {
        snprintf(why, len, "stress-ng is not installed (Debian package stress-ng)");
        return -ENOENT;
    }
    return 0;
}

/* The board's load: the domain's cores at 100 % (every core for a memory channel: the memory
 * stress of all cores, and the DIMMs at their hottest). */
int sl_workload_begin(const sl_options *o, const sl_target *t) {
    char buf[256], *save = NULL, *tok;
    int load[64] = {0}, n = 0;
    size_t off = 0;

    if (!is_board(o))
        return 0;
    if (board_read("load", saved_load, sizeof(saved_load)) < 0) {
        fprintf(stderr, "uni-stresslog: cannot read %s/sim/load\n", board);
        return -EIO;
    }
    snprintf(buf, sizeof(buf), "%s", saved_load);
    for (tok = strtok_r(buf, " \n", &save); tok && n < 64; tok = strtok_r(NULL, " \n", &save)) {
        unsigned u;
        load[n++] = safe_atou(tok, &u) == 0 ? (int)u : 0;
    }
    for (int c = 0; c < n; c++) {
        bool mine = t->kind == UNI_OPP_MEMORY;
        for (int i = 0; i < t->ncores && !mine; i++)
            mine = t->cores[i] == c;
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%d", c ? " " : "", mine ? 100 : load[c]);
    }
    return board_write("load", buf) < 0 ? -EIO : 0;
}

void sl_workload_end(const sl_options *o) {
    if (is_board(o) && saved_load[0]) {
        saved_load[strcspn(saved_load, "\n")] = 0;
        board_write("load", saved_load);
        saved_load[0] = 0;
    }
}

/* The board's failure counters of @t's domain: "pmd2 sdc 0 crash 0". */
static int board_failures(const sl_target *t, unsigned long long *sdc, unsigned long long *crash) {
    char buf[1024], name[40];
    int pmd = t->kind == SL_KIND_CPUFREQ ? t->cores[0] / 2 : -1;
    if (board_read("failures", buf, sizeof(buf)) < 0)
        return -EIO;
    if (pmd >= 0)
        snprintf(name, sizeof(name), "pmd%d", pmd);
    else
        snprintf(name, sizeof(name), "%s", t->domain);
    for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char d[40];
        if (sscanf(line, "%39s sdc %llu crash %llu", d, sdc, crash) == 3 && streq(d, name))
            return 0;
    }
    return -ENOENT;
}

static void sleep_s(double s) {
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - floor(s)) * 1e9)};
    while (!sl_stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int board_run(const sl_target *t, double seconds, sl_workload_result *r) {
    unsigned long long s0, c0, s1, c1;
    char mode[32], ms[32];
    if (board_failures(t, &s0, &c0) < 0 || board_read("advance_ms", mode, sizeof(mode)) < 0) {
        r->error = true;
        snprintf(r->detail, sizeof(r->detail), "the board's sim/failures has no line for %s", t->domain);
        return -EIO;
    }
    if (startswith(mode, "manual")) {
        snprintf(ms, sizeof(ms), "%.0f", seconds * 1000);
        if (board_write("advance_ms", ms) < 0) {
            r->error = true;
            snprintf(r->detail, sizeof(r->detail), "cannot advance the board's clock");
            return -EIO;
        }
    } else {
        sleep_s(seconds);
    }
    if (board_failures(t, &s1, &c1) < 0)
        return -EIO;
    r->sdc = s1 - s0;
    r->crash = c1 - c0;
    return 0;
}

/* stress-ng's exit status (stress-ng(1), EXIT STATUS) as a verdict. */
int sl_stress_ng_verdict(int status, sl_workload_result *r) {
    if (WIFSIGNALED(status)) {
        r->crash = 1;
        snprintf(r->detail, sizeof(r->detail), "stress-ng killed by signal %d", WTERMSIG(status));
        return 0;
    }
    switch (WEXITSTATUS(status)) {
    case 0:
        return 0;
    case 2:
        r->sdc = 1;
        snprintf(r->detail, sizeof(r->detail), "a stressor failed its verification (exit 2)");
        return 0;
    case 5:
        r->crash = 1;
        snprintf(r->detail, sizeof(r->detail), "a stressor was killed by a signal (exit 5)");
        return 0;
    case 3:
        r->error = true;
        snprintf(r->detail, sizeof(r->detail), "stress-ng had no resources to run (exit 3)");
        return 0;
    default:
        r->error = true;
        snprintf(r->detail, sizeof(r->detail), "stress-ng failed (exit %d)", WEXITSTATUS(status));
        return 0;
    }
}

static int stress_ng_run(const sl_target *t, double seconds, sl_workload_result *r) {
    char cpus[1024] = "", n[16], timeout[32];
    size_t off = 0;
    double deadline;
    int status = 0;
    pid_t pid;

    for (int i = 0; i < t->ncores; i++)
        off += (size_t)snprintf(cpus + off, sizeof(cpus) - off, "%s%d", i ? "," : "", t->cores[i]);
    snprintf(n, sizeof(n), "%d", t->ncores > 0 ? t->ncores : 1);
    snprintf(timeout, sizeof(timeout), "%ds", (int)ceil(seconds) > 0 ? (int)ceil(seconds) : 1);
    if ((pid = fork()) < 0) {
        r->error = true;
        snprintf(r->detail, sizeof(r->detail), "fork: %s", strerror(errno));
        return -errno;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
        }
        /* Its own process group: a SIGINT at the terminal reaches uni-stresslog, which ends it. */
        setpgid(0, 0);
        if (t->kind == UNI_OPP_MEMORY)
            execlp("stress-ng", "stress-ng", "--vm", "2", "--vm-bytes", "10%", "--vm-method", "all", "--verify",
                   "--timeout", timeout, (char *)NULL);
        else if (t->ncores > 0)
            execlp("stress-ng", "stress-ng", "--taskset", cpus, "--cpu", n, "--cpu-method", "all", "--cache", n,
                   "--verify", "--timeout", timeout, (char *)NULL);
        else
            execlp("stress-ng", "stress-ng", "--cpu", "1", "--verify", "--timeout", timeout, (char *)NULL);
        _exit(127);
    }
    /* A stressor that outlives its timeout by 30 s has hung: killed, and a hang. */
    deadline = seconds + 30;
    for (double waited = 0;; waited += 0.1) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (sl_stop || waited > deadline) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            if (sl_stop)
                return 0;
            r->hang = 1;
            snprintf(r->detail, sizeof(r->detail), "stress-ng did not end %.0f s past its timeout", deadline - seconds);
            return 0;
        }
        sleep_s(0.1);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        r->error = true;
        snprintf(r->detail, sizeof(r->detail), "stress-ng could not be started");
        return 0;
    }
    return sl_stress_ng_verdict(status, r);
}

/* The micro-viruses: levels 1, 2 and 3 in turn, a third of the dwell each, one per core of the
 * domain at once. Their exit statuses are stress-ng's (2 corruption, a signal a crash, 3 cannot
 * run); the worst of a level's decides, and a failure ends the run. */
static int microvirus_run(const sl_target *t, double seconds, sl_workload_result *r) {
    char secs[32];
    snprintf(secs, sizeof(secs), "%.3f", seconds / 3 > 0.01 ? seconds / 3 : 0.01);
    for (int level = 1; level <= 3; level++) {
        pid_t pids[SL_MAX_CORES];
        int n = 0, worst = 0, worst_status = 0;
        for (int i = 0; i < t->ncores; i++) {
            char lv[8], cpu[16];
            pid_t pid = fork();
            if (pid < 0)
                break;
            if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);
                if (null >= 0)
                    dup2(null, STDOUT_FILENO);
                setpgid(0, 0);
                snprintf(lv, sizeof(lv), "%d", level);
                snprintf(cpu, sizeof(cpu), "%d", t->cores[i]);
                execlp(microvirus, "uni-microvirus", "--level", lv, "--cpu", cpu, "--seconds", secs, (char *)NULL);
                _exit(127);
            }
            pids[n++] = pid;
        }
        if (n < t->ncores) {
            r->error = true;
            snprintf(r->detail, sizeof(r->detail), "fork: %s", strerror(errno));
        }
        /* A micro-virus that outlives its time by 30 s has hung. */
        for (double waited = 0; n > 0; waited += 0.05) {
            for (int i = 0; i < n; i++) {
                int status;
                if (waitpid(pids[i], &status, WNOHANG) != pids[i])
                    continue;
                /* Severity: a signal (crash) over corruption (2) over cannot run (3, 127) over clean. */
                int sev = WIFSIGNALED(status) ? 4 : WEXITSTATUS(status) == 2 ? 3 : WEXITSTATUS(status) ? 2 : 0;
                if (sev > worst) {
                    worst = sev;
                    worst_status = status;
                }
                pids[i--] = pids[--n];
            }
            if (n && (sl_stop || waited > seconds / 3 + 30)) {
                for (int i = 0; i < n; i++) {
                    kill(-pids[i], SIGKILL);
                    kill(pids[i], SIGKILL);
                    waitpid(pids[i], NULL, 0);
                }
                if (sl_stop)
                    return 0;
                r->hang = 1;
                snprintf(r->detail, sizeof(r->detail), "uni-microvirus (level %d) did not end 30 s past its time",
                         level);
                return 0;
            }
            if (n)
                sleep_s(0.05);
        }
        if (r->error)
            return 0;
        if (worst == 4) {
            r->crash = 1;
            snprintf(r->detail, sizeof(r->detail), "uni-microvirus (level %d) killed by signal %d", level,
                     WTERMSIG(worst_status));
            return 0;
        }
        if (worst == 3) {
            r->sdc = 1;
            snprintf(r->detail, sizeof(r->detail), "uni-microvirus (level %d) read back a wrong word (exit 2)", level);
            return 0;
        }
        if (worst == 2) {
            r->error = true;
            snprintf(r->detail, sizeof(r->detail), "uni-microvirus (level %d) could not run (exit %d)", level,
                     WEXITSTATUS(worst_status));
            return 0;
        }
    }
    return 0;
}

int sl_workload_run(const sl_options *o, const sl_target *t, double seconds, sl_workload_result *r) {
    memset(r, 0, sizeof(*r));
    if (streq(o->workload, "none")) {
        sleep_s(seconds);
        return 0;
    }
    if (is_board(o))
        return board_run(t, seconds, r);
    /* The micro-viruses are for the cores' caches; a channel's memory is stress-ng's --vm. */
    if (streq(o->workload, "microvirus") && t->kind != UNI_OPP_MEMORY && t->ncores > 0)
        return microvirus_run(t, seconds, r);
    return stress_ng_run(t, seconds, r);
}
