/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* EDAC memory-controller counters in sysfs (Documentation/admin-guide/ras.rst, "sysfs interface"),
 * both layouts: the per-DIMM one (mcN/dimmK or mcN/rankK: dimm_ce_count, dimm_ue_count,
 * dimm_label, dimm_location, size, dimm_mem_type) and the legacy csrow one (mcN/csrowR:
 * chX_ce_count, chX_dimm_label, ue_count, size_mb, mem_type); plus each controller's
 * ce_noinfo_count / ue_noinfo_count. Where a kernel shows both layouts the per-DIMM one is read. */
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

        if (dfd < 0 || read_u64_at(dfd, "dimm_ce_count", &ce) < 0)
            continue;
        found++;
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
 * uncorrected per chip-select row. */
static int read_csrows(edac_scan *s, int mcfd, int mc) {
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
            snprintf(attr, sizeof(attr), "ch%d_ce_count", ch);
            if (read_u64_at(dfd, attr, &ce) < 0)
                break;
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
        if (r >= 0 && read_u64_at(dfd, "ue_count", &ue) == 0) {
            /* A row with one channel is one DIMM; with more the error is not placed on a DIMM. */
            snprintf(loc, sizeof(loc), "mc%d %.32s", mc, dn);
            snprintf(key, sizeof(key), "mc%d/%.32s/ue", mc, dn);
            r = add_counter(s, key, nch == 1 ? only_label : NULL, loc, mc, true, false, ue);
        }
    }
    free_ents(ents, n > 0 ? n : 0);
    return r < 0 ? r : found;
}

int edac_read(int sys_fd, edac_scan *out) {
    _cleanup_close_ int cfd = openat(sys_fd, "devices/system/edac/mc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct dirent **mcs = NULL;
    int n, r = 0;

    memset(out, 0, sizeof(*out));
    if (cfd < 0)
        return -errno;
    n = numbered(cfd, "mc", &mcs);
    if (n < 0)
        return n;
    for (int i = 0; i < n && r >= 0; i++) {
        _cleanup_close_ int mfd = openat(cfd, mcs[i]->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        unsigned mc;
        uint64_t v;
        char key[64], loc[64];
        int placed;

        if (mfd < 0 || safe_atou(mcs[i]->d_name + 2, &mc) < 0)
            continue;
        out->nmc++;
        placed = read_dimms(out, mfd, (int)mc, "dimm");
        if (placed == 0)
            placed = read_dimms(out, mfd, (int)mc, "rank");
        if (placed == 0)
            placed = read_csrows(out, mfd, (int)mc);
        if ((r = placed) < 0)
            break;
        snprintf(loc, sizeof(loc), "mc%u (not placed on a DIMM)", mc);
        if (placed > 0) {
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
    if (r < 0) {
        edac_scan_free(out);
        return r;
    }
    return out->nmc ? 0 : -ENOENT;
}
