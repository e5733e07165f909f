/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* EDAC counters in sysfs. The memory controllers (Documentation/admin-guide/ras.rst, "sysfs
 * interface"), both layouts: the per-DIMM one (mcN/dimmK or mcN/rankK: dimm_ce_count,
 * dimm_ue_count, dimm_label, dimm_location, size, dimm_mem_type) and the legacy csrow one
 * (mcN/csrowR: chX_ce_count, chX_dimm_label, ue_count, size_mb, mem_type); plus each controller's
 * ce_noinfo_count / ue_noinfo_count. Where a kernel shows both layouts the per-DIMM one is read.
 * And the edac_devices (drivers/edac/edac_device_sysfs.c): every other directory of
 * devices/system/edac but pci/ (edac_pci's parity counters) is one, DEV/INSTANCE/BLOCK with
 * ce_count and ue_count at the instance and block levels; the CPU caches of X-Gene
 * (l2cN/l2cN0/l2c2, l3c/l3c0/l3c0), Octeon, Armada, Altera ... are reported this way. */
#include <dirent.h>
#include <fcntl.h>

#include "healthd.h"

static int add_counter(edac_scan *s, const char *key, const char *label, const char *location, int mc, bool ue,
                       bool noinfo, uint64_t v) {
    edac_counter *n = realloc(s->c, (s->n + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    s->c = n;
    n = &s->c[s->n];
    memset(n, 0, sizeof(*n));
    n->key = strdup(key);
    n->label = label ? strdup(label) : NULL;
    n->location = strdup(location);
    n->mc = mc;
    n->uncorrected = ue;
    n->noinfo = noinfo;
    n->value = v;
    s->n++;
    if (!n->key || !n->location || (label && !n->label))
        return -ENOMEM;
    hl_label_sanitize(n->label);
    return 0;
}

static void skip_note(edac_scan *s, const char *path, const char *attr, int err);

static int add_dimm(edac_scan *s, const char *label, const char *location, const char *type, int mc, int64_t size_mb) {
    edac_dimm *n = realloc(s->d, (s->nd + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    s->d = n;
    n = &s->d[s->nd++];
    n->label = strdup(label);
    n->location = strdup(location);
    n->mem_type = type && *type ? strdup(type) : NULL;
    n->mc = mc;
    n->size_mb = size_mb;
    if (!n->label || !n->location)
        return -ENOMEM;
    hl_label_sanitize(n->label);
    return 0;
}

void edac_scan_free(edac_scan *s) {
    for (size_t i = 0; i < s->n; i++) {
        free(s->c[i].key);
        free(s->c[i].label);
        free(s->c[i].location);
    }
    for (size_t i = 0; i < s->nd; i++) {
        free(s->d[i].label);
        free(s->d[i].location);
        free(s->d[i].mem_type);
    }
    free(s->c);
    free(s->d);
    memset(s, 0, sizeof(*s));
}

/* Entries of @dfd named PREFIX<number>, in numeric order. */
static int numbered(int dfd, const char *prefix, struct dirent ***ret) {
    struct dirent **ents = NULL;
    int n = scandirat(dfd, ".", &ents, NULL, versionsort), k = 0;
    size_t pl = strlen(prefix);
    if (n < 0)
        return -errno;
    for (int i = 0; i < n; i++) {
        unsigned v;
        if (strncmp(ents[i]->d_name, prefix, pl) == 0 && safe_atou(ents[i]->d_name + pl, &v) == 0)
            ents[k++] = ents[i];
        else
            free(ents[i]);
    }
    *ret = ents;
    return k;
}

static void free_ents(struct dirent **e, int n) {
    for (int i = 0; i < n; i++)
        free(e[i]);
    free(e);
}

/* The per-DIMM layout: returns how many DIMM directories there were. */
static int read_dimms(edac_scan *s, int mcfd, int mc, const char *prefix) {
    struct dirent **ents = NULL;
    int n = numbered(mcfd, prefix, &ents), r = 0, found = 0;

    for (int i = 0; i < n && r >= 0; i++) {
        _cleanup_close_ int dfd = openat(mcfd, ents[i]->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char label[128] = "", where[128] = "", type[32] = "", key[160], loc[320];
        const char *dn = ents[i]->d_name; /* "dimm12": short, bounded below for the compiler */
        uint64_t ce, ue, size = 0;

        if (dfd < 0 || faccessat(dfd, "dimm_ce_count", F_OK, 0) < 0)
            continue;
        /* The DIMM is there even when its counter does not read this time: the controller is
         * still of the per-DIMM layout (never its totals as new errors), and this counter keeps
         * its baseline until it reads again. */
        found++;
        if ((r = read_u64_at(dfd, "dimm_ce_count", &ce)) < 0) {
            skip_note(s, dn, "dimm_ce_count", r);
            r = 0;
            continue;
        }
        (void)read_line_at(dfd, "dimm_label", label, sizeof(label));
        (void)read_line_at(dfd, "dimm_location", where, sizeof(where));
        if (read_line_at(dfd, "dimm_mem_type", type, sizeof(type)) < 0)
            (void)read_line_at(dfd, "mem_type", type, sizeof(type));
        (void)read_u64_at(dfd, "size", &size);
        if (!*label)
            snprintf(label, sizeof(label), "mc%d_%.32s", mc, dn);
        snprintf(loc, sizeof(loc), "mc%d %.32s%s%.128s%s", mc, dn, *where ? " (" : "", where, *where ? ")" : "");
        snprintf(key, sizeof(key), "mc%d/%.32s/ce", mc, dn);
        r = add_counter(s, key, label, loc, mc, false, false, ce);
        if (r >= 0 && read_u64_at(dfd, "dimm_ue_count", &ue) == 0) {
            snprintf(key, sizeof(key), "mc%d/%.32s/ue", mc, dn);
            r = add_counter(s, key, label, loc, mc, true, false, ue);
        }
        if (r >= 0)
            r = add_dimm(s, label, loc, type, mc, (int64_t)size);
    }
    free_ents(ents, n > 0 ? n : 0);
    return r < 0 ? r : found;
}

/* The legacy csrow layout: corrected errors per channel (each channel is a DIMM with a label),
 * uncorrected per chip-select row. @ret_sum: what the rows and channels placed, per kind (0 CE,
 * 1 UE); @ret_complete: false when a counter did not read (the sums are short). */
static int read_csrows(edac_scan *s, int mcfd, int mc, uint64_t ret_sum[2], bool *ret_complete) {
    struct dirent **ents = NULL;
    int n = numbered(mcfd, "csrow", &ents), r = 0, found = 0;

    for (int i = 0; i < n && r >= 0; i++) {
        _cleanup_close_ int dfd = openat(mcfd, ents[i]->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char type[32] = "", key[160], loc[320], only_label[128] = "";
        const char *dn = ents[i]->d_name;
        uint64_t ue, size = 0;
        int nch = 0;

        if (dfd < 0)
            continue;
        found++;
        (void)read_line_at(dfd, "mem_type", type, sizeof(type));
        (void)read_u64_at(dfd, "size_mb", &size);
        for (int ch = 0; ch < 64 && r >= 0; ch++) {
            char attr[64], label[128] = "";
            uint64_t ce;
            int rr;
            snprintf(attr, sizeof(attr), "ch%d_ce_count", ch);
            if ((rr = read_u64_at(dfd, attr, &ce)) == -ENOENT)
                break;
            if (rr < 0) {
                skip_note(s, dn, attr, rr);
                *ret_complete = false;
                continue;
            }
            ret_sum[0] += ce;
            nch++;
            snprintf(attr, sizeof(attr), "ch%d_dimm_label", ch);
            (void)read_line_at(dfd, attr, label, sizeof(label));
            if (!*label)
                snprintf(label, sizeof(label), "mc%d_%.32s_ch%d", mc, dn, ch);
            snprintf(loc, sizeof(loc), "mc%d %.32s channel%d", mc, dn, ch);
            snprintf(key, sizeof(key), "mc%d/%.32s/ch%d/ce", mc, dn, ch);
            r = add_counter(s, key, label, loc, mc, false, false, ce);
            if (r >= 0)
                r = add_dimm(s, label, loc, type, mc, 0);
            snprintf(only_label, sizeof(only_label), "%s", label);
        }
        /* The row's size is split over its channels. */
        for (size_t k = s->nd - (size_t)nch; nch > 0 && k < s->nd; k++)
            s->d[k].size_mb = (int64_t)size / nch;
        if (r >= 0 && faccessat(dfd, "ue_count", F_OK, 0) == 0 && read_u64_at(dfd, "ue_count", &ue) < 0)
            *ret_complete = false;
        else if (r >= 0 && faccessat(dfd, "ue_count", F_OK, 0) == 0) {
            ret_sum[1] += ue;
            /* A row with one channel is one DIMM; with more the error is not placed on a DIMM. */
            snprintf(loc, sizeof(loc), "mc%d %.32s", mc, dn);
            snprintf(key, sizeof(key), "mc%d/%.32s/ue", mc, dn);
            r = add_counter(s, key, nch == 1 ? only_label : NULL, loc, mc, true, false, ue);
        }
    }
    free_ents(ents, n > 0 ? n : 0);
    return r < 0 ? r : found;
}

/* The memory controllers under @efd (devices/system/edac); none is not an error. */
static int read_mcs(int efd, edac_scan *out) {
    _cleanup_close_ int cfd = openat(efd, "mc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct dirent **mcs = NULL;
    int n, r = 0;

    if (cfd < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
    n = numbered(cfd, "mc", &mcs);
    if (n < 0)
        return n;
    for (int i = 0; i < n && r >= 0; i++) {
        _cleanup_close_ int mfd = openat(cfd, mcs[i]->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        unsigned mc;
        uint64_t v;
        char key[64], loc[64];
        uint64_t sum[2] = {0, 0};
        bool csrows = false, complete = true;
        int placed;

        if (mfd < 0 || safe_atou(mcs[i]->d_name + 2, &mc) < 0)
            continue;
        out->nmc++;
        placed = read_dimms(out, mfd, (int)mc, "dimm");
        if (placed == 0)
            placed = read_dimms(out, mfd, (int)mc, "rank");
        if (placed == 0 && (placed = read_csrows(out, mfd, (int)mc, sum, &complete)) > 0)
            csrows = true;
        if ((r = placed) < 0)
            break;
        snprintf(loc, sizeof(loc), "mc%u (not placed on a DIMM)", mc);
        if (csrows) {
            /* An uncorrected error whose row is known and channel is not is counted in the row
             * AND in ue_noinfo_count (drivers/edac/edac_mc.c: edac_inc_csrow, edac_inc_ue_error):
             * rows plus no-info counts it twice. The controller's totals are the truth, the rows
             * the placement: what is not placed is the total less the rows. Skipped for a
             * cycle when a row's counter did not read (the difference would be inflated). */
            static const char *const tot[2] = {"ce_count", "ue_count"};
            for (int u = 0; u < 2 && r >= 0 && complete; u++)
                if (read_u64_at(mfd, tot[u], &v) == 0) {
                    snprintf(key, sizeof(key), "mc%u/%s_unplaced", mc, u ? "ue" : "ce");
                    r = add_counter(out, key, NULL, loc, (int)mc, u, true, v > sum[u] ? v - sum[u] : 0);
                }
        } else if (placed > 0) {
            /* Errors the driver could not place are in the controller's no-info counters. */
            snprintf(key, sizeof(key), "mc%u/ce_noinfo", mc);
            if (read_u64_at(mfd, "ce_noinfo_count", &v) == 0)
                r = add_counter(out, key, NULL, loc, (int)mc, false, true, v);
            snprintf(key, sizeof(key), "mc%u/ue_noinfo", mc);
            if (r >= 0 && read_u64_at(mfd, "ue_noinfo_count", &v) == 0)
                r = add_counter(out, key, NULL, loc, (int)mc, true, true, v);
        } else {
            /* A controller without rows or DIMMs: its totals are all there is. */
            snprintf(key, sizeof(key), "mc%u/ce", mc);
            if (read_u64_at(mfd, "ce_count", &v) == 0)
                r = add_counter(out, key, NULL, loc, (int)mc, false, true, v);
            snprintf(key, sizeof(key), "mc%u/ue", mc);
            if (r >= 0 && read_u64_at(mfd, "ue_count", &v) == 0)
                r = add_counter(out, key, NULL, loc, (int)mc, true, true, v);
        }
    }
    free_ents(mcs, n);
    return r;
}

/* ---- edac_devices ---- */

/* The cache level a device, instance or block name tells: "l2c2", "L3", "l1" -> 1..3, else 0. */
static int cache_level_of(const char *name) {
    if ((name[0] == 'l' || name[0] == 'L') && name[1] >= '1' && name[1] <= '3' && !(name[2] >= '0' && name[2] <= '9'))
        return name[1] - '0';
    return 0;
}

static bool is_dot(const char *name) {
    return streq(name, ".") || streq(name, "..");
}

static void skip_note(edac_scan *s, const char *path, const char *attr, int err) {
    if (s->nskipped++ == 0)
        snprintf(s->skipped, sizeof(s->skipped), "%.80s/%.24s: %.40s", path, attr, strerror(-err));
}

/* The ce_count and ue_count of the instance or block at @dfd, named @path ("l2c2/l2c20/l2c2"). */
static int read_device_counters(edac_scan *s, int dfd, const char *path, int level) {
    static const char *const attr[2] = {"ce_count", "ue_count"};
    for (int u = 0; u < 2; u++) {
        char key[320];
        uint64_t v;
        int r = read_u64_at(dfd, attr[u], &v);
        if (r == -ENOENT)
            continue;
        if (r < 0) {
            /* Unreadable or not a number: this counter is left out, the others are read. */
            skip_note(s, path, attr[u], r);
            continue;
        }
        snprintf(key, sizeof(key), "dev/%s/%s", path, u ? "ue" : "ce");
        if ((r = add_counter(s, key, NULL, path, -1, u, false, v)) < 0)
            return r;
        s->c[s->n - 1].cache_level = level;
    }
    return 0;
}

/* Is @name in @dfd a directory with a ce_count (an instance or a block)? Its fd, else -1. */
static int counter_dir(int dfd, const char *name) {
    int fd;
    if (is_dot(name) || (fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return -1;
    if (faccessat(fd, "ce_count", F_OK, 0) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One instance: its blocks' counters, or its own when it has no block (the instance's counters
 * sum its blocks': reading both would count twice). @ninst counts the instances of each cache
 * level so far, which gives this one's index. */
static int read_instance(edac_scan *s, int ifd, const char *dev, const char *inst, int ninst[4]) {
    struct dirent **ents = NULL;
    int n = scandirat(ifd, ".", &ents, NULL, versionsort), r = 0, nblocks = 0;
    int ilevel = cache_level_of(inst) ? cache_level_of(inst) : cache_level_of(dev);
    bool seen[4] = {false};
    size_t first = s->n;
    char path[200];

    for (int i = 0; i < n && r >= 0; i++) {
        _cleanup_close_ int bfd = counter_dir(ifd, ents[i]->d_name);
        int level = cache_level_of(ents[i]->d_name);
        if (bfd < 0)
            continue;
        nblocks++;
        snprintf(path, sizeof(path), "%.63s/%.63s/%.63s", dev, inst, ents[i]->d_name);
        r = read_device_counters(s, bfd, path, level ? level : ilevel);
    }
    free_ents(ents, n > 0 ? n : 0);
    if (r >= 0 && nblocks == 0) {
        snprintf(path, sizeof(path), "%.63s/%.63s", dev, inst);
        r = read_device_counters(s, ifd, path, ilevel);
    }
    for (size_t k = first; k < s->n; k++) {
        int l = s->c[k].cache_level;
        if (l) {
            s->c[k].cache_index = ninst[l];
            seen[l] = true;
        }
    }
    for (int l = 1; l < 4; l++)
        ninst[l] += seen[l];
    return r;
}

static int read_devices(int efd, edac_scan *s) {
    struct dirent **devs = NULL;
    int n = scandirat(efd, ".", &devs, NULL, versionsort), r = 0, ninst[4] = {0};

    if (n < 0)
        return -errno;
    for (int i = 0; i < n && r >= 0; i++) {
        const char *dev = devs[i]->d_name;
        _cleanup_close_ int dfd = -1;
        struct dirent **insts = NULL;
        int m, found = 0;

        /* mc: the memory controllers above; pci: edac_pci's parity counters, not errors of a
         * device's own. */
        if (is_dot(dev) || streq(dev, "mc") || streq(dev, "pci") ||
            (dfd = openat(efd, dev, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
            continue;
        m = scandirat(dfd, ".", &insts, NULL, versionsort);
        for (int k = 0; k < m && r >= 0; k++) {
            _cleanup_close_ int ifd = counter_dir(dfd, insts[k]->d_name);
            if (ifd < 0)
                continue;
            found++;
            r = read_instance(s, ifd, dev, insts[k]->d_name, ninst);
        }
        free_ents(insts, m > 0 ? m : 0);
        s->ndev += found > 0;
    }
    free_ents(devs, n);
    for (size_t k = 0; k < s->n; k++)
        if (s->c[k].mc < 0 && s->c[k].cache_level)
            s->c[k].cache_count = ninst[s->c[k].cache_level];
    return r;
}

int edac_read(int sys_fd, edac_scan *out) {
    _cleanup_close_ int efd = openat(sys_fd, "devices/system/edac", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r;

    memset(out, 0, sizeof(*out));
    if (efd < 0)
        return -errno;
    r = read_mcs(efd, out);
    if (r >= 0)
        r = read_devices(efd, out);
    if (r < 0) {
        edac_scan_free(out);
        return r;
    }
    return out->nmc || out->ndev ? 0 : -ENOENT;
}

/* The first set bit of a bitmap of @bytes, or -1. */
static int first_bit(const uint8_t *map, size_t bytes) {
    for (size_t i = 0; i < bytes; i++)
        if (map[i])
            return (int)(i * 8) + __builtin_ctz(map[i]);
    return -1;
}

int edac_cache_cpus(int sys_fd, const edac_counter *c, uint8_t *bitmap, unsigned max, unsigned *ret_n, bool *ret_all) {
    _cleanup_close_ int cfd = openat(sys_fd, "devices/system/cpu", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    size_t bytes = (max + 7) / 8, nsets = 0;
    _cleanup_free_ uint8_t *all = calloc(1, bytes), *map = calloc(1, bytes);
    _cleanup_free_ uint8_t *sets = NULL;
    _cleanup_free_ unsigned *counts = NULL;
    struct dirent **cpus = NULL;
    int n, r = 0;

    if (c->mc >= 0 || !c->cache_level)
        return -ENODATA;
    if (!all || !map)
        return -ENOMEM;
    if (cfd < 0 || (n = numbered(cfd, "cpu", &cpus)) < 0)
        return -ENODATA;
    for (int i = 0; i < n && r >= 0; i++) {
        unsigned cpu;
        if (safe_atou(cpus[i]->d_name + 3, &cpu) < 0 || cpu >= max)
            continue;
        for (int idx = 0; idx < 32 && r >= 0; idx++) {
            char path[128], list[4096];
            uint64_t level;
            unsigned cnt;
            ssize_t l;
            size_t at;

            snprintf(path, sizeof(path), "%.32s/cache/index%d/level", cpus[i]->d_name, idx);
            if (read_u64_at(cfd, path, &level) < 0)
                break;
            all[cpu / 8] |= (uint8_t)(1u << (cpu % 8));
            if (level != (uint64_t)c->cache_level)
                continue;
            snprintf(path, sizeof(path), "%.32s/cache/index%d/shared_cpu_list", cpus[i]->d_name, idx);
            memset(map, 0, bytes);
            if ((l = read_line_at(cfd, path, list, sizeof(list))) < 0 ||
                parse_cpu_list(list, (size_t)l, map, max, &cnt) < 0 || cnt == 0)
                continue;
            /* An L1's data and instruction halves share one list: each cache once, in the
             * order of their first CPU. */
            for (at = 0; at < nsets && memcmp(sets + at * bytes, map, bytes) != 0; at++)
                ;
            if (at < nsets)
                continue;
            for (at = 0; at < nsets && first_bit(sets + at * bytes, bytes) < first_bit(map, bytes); at++)
                ;
            {
                uint8_t *ns = realloc(sets, (nsets + 1) * bytes);
                unsigned *nc = realloc(counts, (nsets + 1) * sizeof(*nc));
                if (ns)
                    sets = ns;
                if (nc)
                    counts = nc;
                if (!ns || !nc) {
                    r = -ENOMEM;
                    break;
                }
            }
            memmove(sets + (at + 1) * bytes, sets + at * bytes, (nsets - at) * bytes);
            memmove(counts + at + 1, counts + at, (nsets - at) * sizeof(*counts));
            memcpy(sets + at * bytes, map, bytes);
            counts[at] = cnt;
            nsets++;
        }
    }
    free_ents(cpus, n);
    if (r < 0)
        return r;
    /* EDAC and cacheinfo must see the same caches, or the one at this index is not this one. */
    if (nsets == 0 || nsets != (size_t)c->cache_count || c->cache_index < 0 || (size_t)c->cache_index >= nsets)
        return -ENODATA;
    memcpy(bitmap, sets + (size_t)c->cache_index * bytes, bytes);
    *ret_n = counts[c->cache_index];
    *ret_all = memcmp(bitmap, all, bytes) == 0;
    return 0;
}
