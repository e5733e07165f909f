/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's disk utilisation (statvfs of the local filesystems) and boot id collectors. */
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "local_internal.h"

/* fstab(5) escapes a space, tab, newline and backslash in a field as \040, \011, \012, \134. */
static void unescape(char *s) {
    char *w = s;
    for (char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
            *w++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 3;
        } else
            *w++ = *p;
    }
    *w = 0;
}

int parse_mounts_line(char *line, char **ret_dev, char **ret_dir, char **ret_type) {
    char *f[3], *save = NULL, *p = line;
    for (int i = 0; i < 3; i++, p = NULL)
        if (!(f[i] = strtok_r(p, " \t\n", &save)))
            return -EBADMSG;
    for (int i = 0; i < 3; i++)
        unescape(f[i]);
    *ret_dev = f[0];
    *ret_dir = f[1];
    *ret_type = f[2];
    return 0;
}

/* Read-only images (a snap, a live CD) are always full and hold nothing a VM could grow into. */
static bool counted(const char *dev, const char *type) {
    return startswith(dev, "/dev/") && !streq(type, "squashfs") && !streq(type, "iso9660") && !streq(type, "erofs") &&
           !streq(type, "udf");
}

/* The spec (section 2): utilisation is occupied over capacity. For disks that is space: df's
 * used over used + available, summed over each local block-device filesystem once (a device
 * mounted twice, a bind mount, counts once). */
int collect_disk(local_state *s, uniRecordPtr rec) {
    _cleanup_free_ char *text = NULL;
    ssize_t n;
    dev_t seen[256];
    size_t nseen = 0;
    uint64_t used = 0, avail = 0;
    char *line, *save = NULL;

    if (!s->host_proc) {
        rec_absent(rec, UNI_M_HOST_DISK_UTIL_PCT, "statvfs(2) reads this host's filesystems, and %s is another tree",
                   s->procfs);
        return 0;
    }
    n = read_file_at_alloc(s->proc_fd, "self/mounts", &text);
    if (n < 0) {
        uni_error_errno((int)n, "%s/self/mounts", s->procfs);
        return -1;
    }
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *dev, *dir, *type;
        struct statvfs v;
        struct stat st;
        bool dup = false;
        if (parse_mounts_line(line, &dev, &dir, &type) < 0 || !counted(dev, type))
            continue;
        if (stat(dir, &st) < 0 || statvfs(dir, &v) < 0 || v.f_blocks == 0)
            continue; /* gone since the list was read, or not ours to see */
        for (size_t i = 0; i < nseen && !dup; i++)
            dup = seen[i] == st.st_dev;
        if (dup)
            continue;
        if (nseen < ELEMENTSOF(seen))
            seen[nseen++] = st.st_dev;
        used += (uint64_t)(v.f_blocks - v.f_bfree) * v.f_frsize;
        avail += (uint64_t)v.f_bavail * v.f_frsize;
    }
    if (used + avail == 0) {
        rec_absent(rec, UNI_M_HOST_DISK_UTIL_PCT, "no local block-device filesystem in %s/self/mounts", s->procfs);
        return 0;
    }
    rec_dbl(rec, UNI_M_HOST_DISK_UTIL_PCT, -1, NULL, disk_util_pct(used, avail));
    return 0;
}

/* The kernel makes a new random boot id at every boot (Documentation/admin-guide/sysctl/kernel.rst,
 * random): a change between two samples is a reboot, however short. */
void collect_boot_id(local_state *s, uniRecordPtr rec) {
    char id[64];
    ssize_t n;
    if (!rec_wants(rec, UNI_M_HOST_BOOT_ID))
        return;
    if (s->boot_id_fd < 0) {
        rec_absent(rec, UNI_M_HOST_BOOT_ID, "no %s/sys/kernel/random/boot_id", s->procfs);
        return;
    }
    n = pread(s->boot_id_fd, id, sizeof(id) - 1, 0);
    if (n <= 1 || id[n - 1] != '\n') {
        rec_absent(rec, UNI_M_HOST_BOOT_ID, "%s/sys/kernel/random/boot_id is unreadable or cut", s->procfs);
        return;
    }
    id[n - 1] = 0;
    rec_str(rec, UNI_M_HOST_BOOT_ID, -1, NULL, id);
}
