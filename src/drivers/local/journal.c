/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A journal of sysfs writes: each value is read before it is written and read back after, so
 * that a value the hardware did not take is an error and a failed multi-step change can be
 * undone, newest first. Every write, and every restoring write, goes to the audit hook. */
#include <fcntl.h>

#include "control.h"

static int write_attr(int dirfd, const char *path, const char *value) {
    _cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
    char buf[160];
    int n;
    ssize_t k;

    if (fd < 0)
        return -errno;
    /* One write() of the whole value: sysfs takes a store in a single call. */
    n = snprintf(buf, sizeof(buf), "%s\n", value);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return -E2BIG;
    k = write(fd, buf, (size_t)n);
    if (k < 0)
        return -errno;
    return k == n ? 0 : -EIO;
}

/* Write and read back; 0, -errno, or -EREMOTEIO with @ret_readback when the value differs. */
static int write_checked(int dirfd, const char *path, const char *value, char *ret_readback, size_t len) {
    ssize_t n;
    int r = write_attr(dirfd, path, value);

    ret_readback[0] = 0;
    if (r < 0)
        return r;
    n = read_line_at(dirfd, path, ret_readback, len);
    if (n < 0)
        return (int)n;
    return streq(ret_readback, value) ? 0 : -EREMOTEIO;
}

int journal_write(journal *j, const char *object, const char *path, const char *value) {
    const sysfs_root *root = j->root;
    journal_entry e = {0}, *ne;
    char back[256];
    ssize_t n;
    int r;

    if (strlen(path) >= sizeof(e.path) || strlen(object) >= sizeof(e.object) || strlen(value) >= sizeof(e.after)) {
        uni_error_set(UNI_ERR_INTERNAL_ERROR, "%s/%s: path or value too long", root->sysfs, path);
        return -1;
    }
    n = read_line_at(root->sys_fd, path, e.before, sizeof(e.before));
    if (n < 0) {
        uni_error_errno((int)n, "%s/%s (reading it before the change)", root->sysfs, path);
        return -1;
    }
    if (streq(e.before, value))
        return 0;
    snprintf(e.path, sizeof(e.path), "%s", path);
    snprintf(e.object, sizeof(e.object), "%s", object);
    snprintf(e.after, sizeof(e.after), "%s", value);
    r = write_checked(root->sys_fd, path, value, back, sizeof(back));
    uni_audit(root->conn, object, path, e.before, value, r, false);
    if (r == -EREMOTEIO) {
        /* The file may hold something else now: restoring it is part of the rollback. */
        uni_error_set(UNI_ERR_NOT_APPLIED, "%s/%s: wrote '%s', reads back '%s' (the hardware did not take it)",
                      root->sysfs, path, value, back);
    } else if (r < 0)
        uni_error_set(UNI_ERR_SYSTEM_ERROR, "writing '%s' to %s/%s: %s", value, root->sysfs, path, strerror(-r));
    if (r == 0 || r == -EREMOTEIO) {
        ne = realloc(j->e, (j->n + 1) * sizeof(*ne));
        if (!ne) {
            uni_error_set(UNI_ERR_NO_MEMORY, "out of memory after writing %s/%s", root->sysfs, path);
            return -1;
        }
        j->e = ne;
        j->e[j->n++] = e;
    }
    return r < 0 ? -1 : 0;
}

/* A value the kernel prints but does not take back: scaling_setspeed shows "<unsupported>"
 * under any governor but userspace, and restoring the governor restores it. */
static bool placeholder(const char *v) {
    return v[0] == '<' || v[0] == 0;
}

void journal_rollback(journal *j) {
    const uniError *e = uniGetLastError();
    int code = e ? e->code : UNI_ERR_INTERNAL_ERROR;
    _cleanup_free_ char *msg = strdup(e && e->message ? e->message : "failed");
    char failed[512] = "";
    size_t restored = 0, o = 0;

    if (j->n == 0)
        return;
    for (size_t i = j->n; i-- > 0;) {
        journal_entry *x = &j->e[i];
        char back[256];
        int r = write_checked(j->root->sys_fd, x->path, x->before, back, sizeof(back));
        uni_audit(j->root->conn, x->object, x->path, x->after, x->before, r, true);
        if (r == 0 || placeholder(x->before))
            restored++;
        else if (o < sizeof(failed))
            o += (size_t)snprintf(failed + o, sizeof(failed) - o, "%s%s/%s back to '%s': %s", o ? "; " : "",
                                  j->root->sysfs, x->path, x->before,
                                  r == -EREMOTEIO ? "reads back different" : strerror(-r));
    }
    if (o)
        uni_error_set(code, "%s; restoring failed for %s (the host may be left changed)", msg ? msg : "failed", failed);
    else
        uni_error_set(code, "%s; rolled back: %zu write%s of this call undone", msg ? msg : "failed", restored,
                      restored == 1 ? "" : "s");
    j->n = 0;
}

void journal_done(journal *j) {
    free(j->e);
    j->e = NULL;
    j->n = 0;
}
