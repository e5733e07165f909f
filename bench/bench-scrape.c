/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmark: scrape latency and the server's CPU per scrape of a /metrics endpoint, as
 * Prometheus scrapes (HTTP/1.1 keep-alive, GET /metrics). Run against uniserverd and
 * node_exporter side by side (bench/run). usage: bench-scrape NAME PORT PID [SCRAPES] */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "proc_cpu.h"
#include "util/util.h"

static char buf[1 << 22];

/* RSS counts every page mapped, shared library pages included (and the kernel maps file pages
 * around each fault, 64 kB at a time); PSS shares those out among the processes mapping them;
 * anon (RssAnon) is the memory the process itself allocated: heap, stacks, Go's arenas. All
 * three are reported. */
static long mem_kb(int pid, const char *file, const char *field) {
    char path[64], b[8192];
    const char *p;
    snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
    if (read_file_at(AT_FDCWD, path, b, sizeof(b)) < 0 || !(p = strstr(b, field)))
        return -1;
    return strtol(p + strlen(field), NULL, 10);
}

/* One response: headers, then a Content-Length or chunked body. Returns the body size. */
static long read_response(int fd) {
    size_t n = 0;
    char *hdr_end;
    long clen = -1, body = 0;
    bool chunked;
    for (;;) {
        ssize_t k = recv(fd, buf + n, sizeof(buf) - n - 1, 0);
        if (k <= 0)
            return -1;
        n += (size_t)k;
        buf[n] = 0;
        if ((hdr_end = strstr(buf, "\r\n\r\n")))
            break;
    }
    chunked = strcasestr(buf, "Transfer-Encoding: chunked") != NULL;
    {
        char *cl = strcasestr(buf, "Content-Length:");
        if (cl && cl < hdr_end)
            clen = strtol(cl + 15, NULL, 10);
    }
    {
        size_t have = n - (size_t)(hdr_end + 4 - buf);
        memmove(buf, hdr_end + 4, have);
        n = have;
    }
    if (!chunked) {
        while ((long)n < clen) {
            ssize_t k = recv(fd, buf + n, sizeof(buf) - n, 0);
            if (k <= 0)
                return -1;
            n += (size_t)k;
        }
        return (long)n;
    }
    /* chunked: size line, data, CRLF ... until a 0 chunk */
    for (size_t pos = 0;;) {
        char *crlf;
        long sz;
        while (!(crlf = memmem(buf + pos, n - pos, "\r\n", 2))) {
            ssize_t k = recv(fd, buf + n, sizeof(buf) - n, 0);
            if (k <= 0)
                return -1;
            n += (size_t)k;
        }
        sz = strtol(buf + pos, NULL, 16);
        pos = (size_t)(crlf - buf) + 2;
        while (n < pos + (size_t)sz + 2) {
            ssize_t k = recv(fd, buf + n, sizeof(buf) - n, 0);
            if (k <= 0)
                return -1;
            n += (size_t)k;
        }
        pos += (size_t)sz + 2;
        body += sz;
        if (sz == 0)
            return body;
        /* keep the buffer small */
        memmove(buf, buf + pos, n - pos);
        n -= pos;
        pos = 0;
    }
}

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    struct sockaddr_in sa = {.sin_family = AF_INET};
    const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: identity\r\n\r\n";
    int fd, one = 1, pid, n;
    long size = 0, series = 0;
    uint64_t c0, c1;
    uint64_t *t;

    if (argc < 4) {
        fprintf(stderr, "usage: bench-scrape NAME PORT PID [SCRAPES]\n");
        return 2;
    }
    pid = atoi(argv[3]);
    n = argc > 4 ? atoi(argv[4]) : 500;
    t = calloc((size_t)n, sizeof(*t));
    sa.sin_port = htons((uint16_t)atoi(argv[2]));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("connect");
        return 1;
    }
    for (int i = 0; i < 5; i++) { /* warm up */
        if (send(fd, req, sizeof(req) - 1, 0) < 0 || (size = read_response(fd)) < 0)
            return 1;
    }
    for (char *p = buf; (p = strchr(p, '\n')); p++)
        if (p[1] && p[1] != '#')
            series++;
    c0 = proc_cpu_ns(pid);
    for (int i = 0; i < n; i++) {
        uint64_t t0 = now_ns();
        if (send(fd, req, sizeof(req) - 1, 0) < 0 || read_response(fd) < 0) {
            fprintf(stderr, "%s: scrape %d failed\n", argv[1], i);
            return 1;
        }
        t[i] = now_ns() - t0;
    }
    c1 = proc_cpu_ns(pid);
    qsort(t, (size_t)n, sizeof(*t), cmp);
    printf("%-14s %6ld bytes %4ld series  scrape median %7.1f us  p99 %7.1f us  CPU/scrape %7.1f us  RSS %6ld kB  PSS "
           "%6ld kB  anon %6ld kB\n",
           argv[1], size, series, (double)t[n / 2] / 1000.0, (double)t[n * 99 / 100] / 1000.0,
           (double)(c1 - c0) / 1e3 / n, mem_kb(pid, "status", "VmRSS:"), mem_kb(pid, "smaps_rollup", "Pss:"),
           mem_kb(pid, "status", "RssAnon:"));
    close(fd);
    return 0;
}
