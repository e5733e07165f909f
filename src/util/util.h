/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small shared helpers: cleanup attributes, strict number parsing, bounded file reads at a root. */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static inline void freep(void *p) {
    free(*(void **)p);
}
static inline void closep(int *fd) {
    if (*fd >= 0)
        close(*fd);
}
static inline void fclosep(FILE **f) {
    if (*f)
        fclose(*f);
}
static inline void closedirp(DIR **d) {
    if (*d)
        closedir(*d);
}
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)

/* Hand ownership out of a cleanup variable. */
#define TAKE_PTR(p)                                                                                                    \
    ({                                                                                                                 \
        __typeof__(p) _p = (p);                                                                                        \
        (p) = NULL;                                                                                                    \
        _p;                                                                                                            \
    })
#define TAKE_FD(fd)                                                                                                    \
    ({                                                                                                                 \
        int _fd = (fd);                                                                                                \
        (fd) = -1;                                                                                                     \
        _fd;                                                                                                           \
    })

static inline bool streq(const char *a, const char *b) {
    return strcmp(a, b) == 0;
}
static inline bool startswith(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}
/* The value of hexadecimal digit @c, or -1 (URIs' percent escapes, JSON's \u escapes). */
static inline int hexval(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Strict number parsing (parse.c): the whole token must be a number that fits, else -EINVAL
 * (not a number) or -ERANGE (does not fit). Leading and trailing blanks are not accepted. */
int safe_atou64(const char *s, uint64_t *ret);
int safe_atoi64(const char *s, int64_t *ret);
int safe_atou(const char *s, unsigned *ret);
int safe_atod(const char *s, double *ret);
/* Same on a counted token (not NUL-terminated). */
int safe_atou64_n(const char *s, size_t n, uint64_t *ret);
int safe_atod_n(const char *s, size_t n, double *ret);

/* FNV-1a of a NUL-terminated string, for hash tables of names. */
uint32_t str_hash(const char *s);
/* Skip blanks (space, tab); return the next token's start and store its length. */
const char *next_token(const char *p, const char *end, size_t *ret_len);

/* Parse a kernel CPU list ("0-3,8,10-11") into a bitmap of at most max bits; -EBADMSG on garbage,
 * -ERANGE for an index >= max. ret_count gets the number of set bits. */
int parse_cpu_list(const char *s, size_t len, uint8_t *bitmap, unsigned max, unsigned *ret_count);
/* The ISO 8601 UTC time "YYYY-MM-DDTHH:MM:SSZ" (the margins file's, the raw StressLog's) as Unix
 * time; -EINVAL when @s is not exactly one. */
int uni_parse_iso_utc(const char *s, int64_t *ret);
/* The same for cpufreq's blank-separated lists ("0 1 ", related_cpus), whose words may also be
 * ranges. An empty list is 0 CPUs. */
int parse_cpu_words(const char *s, uint8_t *bitmap, unsigned max, unsigned *ret_count);
/* A bitmap of nbits as a kernel CPU list ("0-3,8"; "" when empty): its length, or -ERANGE when
 * @buf is too small. */
int format_cpu_list(const uint8_t *bitmap, unsigned nbits, char *buf, size_t len);

/* fileio.c: one bounded read of a whole (small) file. Reads at most bufsz-1 bytes, NUL-terminates,
 * and returns the length; -EFBIG when the file is larger than the buffer (truncation is detected
 * by asking for one byte more), -errno on failure. */
ssize_t read_fd_full(int fd, char *buf, size_t bufsz);
ssize_t pread_full(int fd, char *buf, size_t bufsz);
ssize_t read_file_at(int dirfd, const char *path, char *buf, size_t bufsz);
/* fileio.c: open a source file (or directory) for reading, non-blocking, refused (-EINVAL) when it
 * is a FIFO, a socket or a block device (one planted in a source tree would block the reader);
 * the fd or -errno. */
int open_source_at(int dirfd, const char *path);
/* Read a file that may be large (e.g. /proc/cpuinfo on 256 cores) into a malloc'd buffer. */
ssize_t read_file_at_alloc(int dirfd, const char *path, char **ret);
/* Read a one-line sysfs attribute and strip the trailing newline; -EBADMSG when it has none (cut). */
ssize_t read_line_at(int dirfd, const char *path, char *buf, size_t bufsz);
/* The directory @path under @dirfd, opened for readdir (close-on-exec); NULL with errno set. */
DIR *opendir_at(int dirfd, const char *path);
/* A daemon going to the background closes every descriptor it inherited above stderr (daemon(7)):
 * a held lock or pipe of whoever started it must not live on in the daemon. */
void close_inherited_fds(void);
int read_u64_at(int dirfd, const char *path, uint64_t *ret);
int read_i64_at(int dirfd, const char *path, int64_t *ret);
/* Write @value to an existing file at a root in one write(): sysfs and tracefs attributes.
 * @flags: O_TRUNC (a setting) or O_APPEND (a fixture file then keeps every write). */
int write_file_at(int dirfd, const char *path, const char *value, int flags);
/* A kept-open fd read again with pread(); the same contract as pread_full, trailing newline cut
 * (-EBADMSG when there is none: the content was cut). */
ssize_t pread_line(int fd, char *buf, size_t bufsz);
int pread_u64(int fd, uint64_t *ret);
int pread_i64(int fd, int64_t *ret);

/* Monotonic and wall-clock time in nanoseconds / milliseconds. */
uint64_t now_ns(void);
int64_t wall_ms(void);
/* Wait until @fd has @events (poll's POLLIN, POLLOUT) or @deadline (now_ns() time) passes:
 * 0, -ETIMEDOUT, or -errno; EINTR is waited through. */
int fd_wait(int fd, short events, uint64_t deadline);
