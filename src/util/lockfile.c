/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lock files: opened without following symlinks, locked with flock, and checked to be the file
 * still named by their path once locked (as libvirt's virPidFileAcquire). */
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "util/lockfile.h"
#include "util/util.h"

static pid_t read_pid(int fd) {
    char buf[32] = "";
    uint64_t v = 0;
    ssize_t k = pread(fd, buf, sizeof(buf) - 1, 0);
    if (k <= 0)
        return 0;
    buf[k] = 0;
    buf[strcspn(buf, "\n")] = 0;
    return safe_atou64(buf, &v) == 0 && v > 0 && v < (uint64_t)INT32_MAX ? (pid_t)v : 0;
}

int lockfile_take(int dirfd, const char *path, mode_t mode, pid_t *ret_holder) {
    if (ret_holder)
        *ret_holder = 0;
    /* A holder may remove and recreate the file between our open and our lock: the lock counts
     * only when the path still names the file we locked. */
    for (int attempt = 0; attempt < 16; attempt++) {
        _cleanup_close_ int fd = openat(dirfd, path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, mode);
        struct stat st, now;
        if (fd < 0)
            return -errno;
        if (fstat(fd, &st) < 0)
            return -errno;
        if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
            return -EINVAL;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            int r = errno == EWOULDBLOCK ? -EBUSY : -errno;
            if (r == -EBUSY && ret_holder)
                *ret_holder = read_pid(fd);
            return r;
        }
        if (fstatat(dirfd, path, &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_dev == st.st_dev && now.st_ino == st.st_ino)
            return TAKE_FD(fd);
    }
    return -EBUSY;
}

int lockfile_write_pid(int fd) {
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
        return -errno;
    return 0;
}

void lockfile_release(int dirfd, const char *path, int fd) {
    struct stat st, now;
    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && fstatat(dirfd, path, &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_dev == st.st_dev &&
        now.st_ino == st.st_ino)
        unlinkat(dirfd, path, 0);
    close(fd);
}
