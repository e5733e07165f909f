/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bounded reads of /proc and /sys files relative to a root directory fd, with truncation detected. */
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

static ssize_t read_loop(int fd, char *buf, size_t bufsz, bool positional) {
    size_t n = 0;

    if (bufsz < 2)
        return -EINVAL;
    /* Ask for one byte more than we keep: if it arrives, the file did not fit. */
    for (;;) {
        ssize_t k = positional ? pread(fd, buf + n, bufsz - n, (off_t)n) : read(fd, buf + n, bufsz - n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (k == 0)
            break;
        n += (size_t)k;
        if (n >= bufsz)
            return -EFBIG;
        /* procfs (seq_file) and sysfs fill the whole buffer unless the file ended, as do regular
         * files: a short read is the end, which saves the second syscall on every sample. */
        if ((size_t)k < bufsz - (n - (size_t)k))
            break;
    }
    buf[n] = 0;
    return (ssize_t)n;
}

ssize_t read_fd_full(int fd, char *buf, size_t bufsz) {
    return read_loop(fd, buf, bufsz, false);
}

ssize_t pread_full(int fd, char *buf, size_t bufsz) {
    return read_loop(fd, buf, bufsz, true);
}

int open_source_at(int dirfd, const char *path) {
    /* Non-blocking, and never a FIFO, a socket or a block device: one planted in a source tree
     * would block the reader forever. /proc and /sys attributes are regular files; directories
     * are opened here too, and a character device is let through (the tests stand /dev/null in
     * for an attribute that takes writes and keeps nothing; reads stay bounded, 64 MiB at most). */
    _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return -errno;
    if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISBLK(st.st_mode))
        return -EINVAL;
    return TAKE_FD(fd);
}

ssize_t read_file_at(int dirfd, const char *path, char *buf, size_t bufsz) {
    _cleanup_close_ int fd = open_source_at(dirfd, path);
    if (fd < 0)
        return fd;
    return read_fd_full(fd, buf, bufsz);
}

ssize_t read_file_at_alloc(int dirfd, const char *path, char **ret) {
    _cleanup_close_ int fd = open_source_at(dirfd, path);
    _cleanup_free_ char *buf = NULL;
    size_t sz = 16384;

    if (fd < 0)
        return fd;
    for (;;) {
        ssize_t n;
        char *nb = realloc(buf, sz);
        if (!nb)
            return -ENOMEM;
        buf = nb;
        n = pread_full(fd, buf, sz);
        if (n >= 0) {
            *ret = TAKE_PTR(buf);
            return n;
        }
        if (n != -EFBIG)
            return n;
        if (sz >= 64u << 20)
            return -EFBIG;
        sz *= 4;
    }
}

/* The kernel ends every line of a sysfs attribute and a procfs file with a newline
 * (sysfs_emit's "%d\n", seq_printf): content without one was cut (a torn write in a copied tree, a
 * short read) and is malformed, not a shorter value. An empty file stays empty. */
static ssize_t strip_nl(char *buf, ssize_t n) {
    if (n > 0 && buf[n - 1] != '\n')
        return -EBADMSG;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = 0;
    return n;
}

ssize_t read_line_at(int dirfd, const char *path, char *buf, size_t bufsz) {
    ssize_t n = read_file_at(dirfd, path, buf, bufsz);
    return n < 0 ? n : strip_nl(buf, n);
}

ssize_t pread_line(int fd, char *buf, size_t bufsz) {
    ssize_t n = pread_full(fd, buf, bufsz);
    return n < 0 ? n : strip_nl(buf, n);
}

int write_file_at(int dirfd, const char *path, const char *value, int flags) {
    _cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | flags);
    size_t l = strlen(value);
    if (fd < 0)
        return -errno;
    return write(fd, value, l) == (ssize_t)l ? 0 : -errno;
}

int read_u64_at(int dirfd, const char *path, uint64_t *ret) {
    char buf[64];
    ssize_t n = read_line_at(dirfd, path, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    return safe_atou64(buf, ret) < 0 ? -EBADMSG : 0;
}

int read_i64_at(int dirfd, const char *path, int64_t *ret) {
    char buf[64];
    ssize_t n = read_line_at(dirfd, path, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    return safe_atoi64(buf, ret) < 0 ? -EBADMSG : 0;
}

int pread_u64(int fd, uint64_t *ret) {
    char buf[64];
    ssize_t n = pread_line(fd, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    return safe_atou64(buf, ret) < 0 ? -EBADMSG : 0;
}

int pread_i64(int fd, int64_t *ret) {
    char buf[64];
    ssize_t n = pread_line(fd, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    return safe_atoi64(buf, ret) < 0 ? -EBADMSG : 0;
}

uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int fd_wait(int fd, short events, uint64_t deadline) {
    for (;;) {
        uint64_t now = now_ns();
        struct pollfd p = {.fd = fd, .events = events};
        int r;
        if (now >= deadline)
            return -ETIMEDOUT;
        /* Rounded up: a wait never ends before the deadline it was given. */
        r = poll(&p, 1, (int)((deadline - now + 999999) / 1000000));
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

DIR *opendir_at(int dirfd, const char *path) {
    int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;
    if (fd < 0)
        return NULL;
    d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return d;
}

void close_inherited_fds(void) {
    DIR *d;
    struct dirent *e;
    if (close_range(3, ~0U, 0) == 0)
        return;
    /* Before Linux 5.9: each descriptor /proc/self/fd lists, but the one reading it. */
    if (!(d = opendir("/proc/self/fd")))
        return;
    while ((e = readdir(d))) {
        int fd = atoi(e->d_name);
        if (fd > 2 && fd != dirfd(d))
            close(fd);
    }
    closedir(d);
}
