/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lock files that name one thing (lockfile.c): a daemon's instance, its pid file, the HealthLog's
 * writer. Opened without following a symlink, locked without waiting, checked to still be the
 * file at the path once locked. */
#pragma once

#include <sys/types.h>

/* Open @path (relative to @dirfd, or AT_FDCWD), creating it with @mode, never through a symlink,
 * and lock it exclusively (flock) without waiting. Returns the locked fd; -EBUSY when another
 * process holds it (*ret_holder: the pid written in it, or 0; may be NULL); -EINVAL when it is not
 * a regular file with one name; other -errno. */
int lockfile_take(int dirfd, const char *path, mode_t mode, pid_t *ret_holder);
/* Write this process's pid into the locked file @fd (replacing what it held); -errno. */
int lockfile_write_pid(int fd);
/* Remove @path if it is still @fd's file (another process may have replaced it), then close @fd. */
void lockfile_release(int dirfd, const char *path, int fd);
