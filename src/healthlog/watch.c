/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HealthLog's change notification: an inotify watch readers wait on for the writer's
 * commits. */
#include <libgen.h>
#include <sys/inotify.h>

#include "healthlog.h"

/* ---------------------------------------------------------------------------------------------
 * Notification
 * ------------------------------------------------------------------------------------------- */

int hl_watch_open(const char *path) {
    _cleanup_free_ char *copy = strdup(path);
    int fd, r;
    if (!copy)
        return -ENOMEM;
    fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* The directory: the -wal file comes and goes with writers, and the HealthLog may not exist
     * yet when a reader starts waiting. */
    if (inotify_add_watch(fd, dirname(copy), IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

int hl_watch_drain(int fd, const char *path) {
    _cleanup_free_ char *copy = strdup(path);
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    const char *base;
    size_t bl;
    int hit = 0;

    if (!copy)
        return -ENOMEM;
    base = basename(copy);
    bl = strlen(base);
    /* What is pending now, not what keeps coming (other files in the directory may be written
     * all the time): a bounded number of reads. */
    for (int i = 0; i < 64; i++) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0)
            return errno == EAGAIN ? hit : -errno;
        if (n == 0)
            return hit;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (ev->len && strncmp(ev->name, base, bl) == 0 && (ev->name[bl] == 0 || streq(ev->name + bl, "-wal")))
                hit = 1;
            p += sizeof(*ev) + ev->len;
        }
    }
    return hit;
}
