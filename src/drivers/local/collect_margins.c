/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The margins collector: uni-stresslog's margins file (src/util/margins.c reads it) as the
 * host.margin.NAME.* metrics, one instance per search (pmd2:voltage@2400MHz, mc1:refresh). No file:
 * the metrics are absent with that reason and the source is absent; a malformed file or one of a
 * newer version: the source is down with the reason, and no margin is guessed. */
#include <sys/stat.h>

#include "local_driver.h"
#include "local_internal.h"
#include "util/margins.h"

struct margins_state {
    char *path;
    uni_margins mg;
    int err;        /* 0: mg holds the file; -ENOENT: no file; else why it was refused */
    char why[1100]; /* the reason when err != 0 */
    bool loaded;
    /* The file as last read: read again only when one of these changed (a sample every second
     * costs one stat). */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
};

int margins_open(local_state *s, const char *path) {
    struct margins_state *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->path = strdup(path && *path ? path : UNI_MARGINS_DEFAULT_PATH);
    if (!m->path) {
        free(m);
        return -ENOMEM;
    }
    s->margins = m;
    return 0;
}

void margins_close(local_state *s) {
    if (!s->margins)
        return;
    uni_margins_free(&s->margins->mg);
    free(s->margins->path);
    free(s->margins);
    s->margins = NULL;
}

const char *margins_path(const local_state *s) {
    return s->margins ? s->margins->path : NULL;
}

const char *margins_absent(const local_state *s) {
    return s->margins && s->margins->loaded && s->margins->err == -ENOENT ? s->margins->why : NULL;
}

/* Read the file again when it changed since the last read (or was never read). */
static void refresh(struct margins_state *m) {
    struct stat st;

    if (stat(m->path, &st) < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            uni_margins_free(&m->mg);
            m->err = -ENOENT;
            snprintf(m->why, sizeof(m->why), "no margins file at %s: uni-stresslog writes it (docs/stresslog.md)",
                     m->path);
        } else {
            uni_margins_free(&m->mg);
            m->err = -errno;
            snprintf(m->why, sizeof(m->why), "margins file %s: %s", m->path, strerror(errno));
        }
        m->loaded = true;
        m->ino = 0;
        return;
    }
    if (m->loaded && m->ino && st.st_dev == m->dev && st.st_ino == m->ino && st.st_size == m->size &&
        st.st_mtim.tv_sec == m->mtime.tv_sec && st.st_mtim.tv_nsec == m->mtime.tv_nsec &&
        st.st_ctim.tv_sec == m->ctime.tv_sec && st.st_ctim.tv_nsec == m->ctime.tv_nsec)
        return;
    uni_margins_free(&m->mg);
    m->err = uni_margins_load(m->path, &m->mg, m->why, sizeof(m->why));
    m->loaded = true;
    m->dev = st.st_dev;
    m->ino = m->err == -ENOENT ? 0 : st.st_ino;
    m->size = st.st_size;
    m->mtime = st.st_mtim;
    m->ctime = st.st_ctim;
}

const uni_margins *margins_current(local_state *s) {
    if (!s->margins)
        return NULL;
    refresh(s->margins);
    return s->margins->err == 0 ? &s->margins->mg : NULL;
}

/* The three value metrics of a parameter: nominal, safe, guard band. */
static const struct {
    const char *param;
    unsigned nominal, safe, guard;
} rows[] = {
    {"voltage_mv", UNI_M_HOST_MARGIN_NAME_VOLTAGE_NOMINAL_MV, UNI_M_HOST_MARGIN_NAME_VOLTAGE_SAFE_MV,
     UNI_M_HOST_MARGIN_NAME_VOLTAGE_GUARD_MV},
    {"refresh_ms", UNI_M_HOST_MARGIN_NAME_REFRESH_NOMINAL_MS, UNI_M_HOST_MARGIN_NAME_REFRESH_SAFE_MS,
     UNI_M_HOST_MARGIN_NAME_REFRESH_GUARD_MS},
    {"frequency_mhz", UNI_M_HOST_MARGIN_NAME_FREQ_NOMINAL_MHZ, UNI_M_HOST_MARGIN_NAME_FREQ_SAFE_MHZ,
     UNI_M_HOST_MARGIN_NAME_FREQ_GUARD_MHZ},
};

static void all_absent(uniRecordPtr rec, const char *why) {
    for (unsigned id = 0; id < UNI_NMETRICS; id++)
        if (uni_catalog_group[id] == UNI_GROUP_MARGINS)
            rec_absent(rec, id, "%s", why);
}

int collect_margins(local_state *s, uniRecordPtr rec) {
    struct margins_state *m = s->margins;
    bool no_margin[ELEMENTSOF(rows)] = {false};

    refresh(m);
    if (m->err == -ENOENT) {
        all_absent(rec, m->why);
        return 0;
    }
    if (m->err < 0) {
        /* A file that is there but cannot be trusted: the source is down, and nothing is guessed. */
        source_down(s, SRC_MARGINS, "%s", m->why);
        all_absent(rec, m->why);
        return 0;
    }
    for (size_t i = 0; i < m->mg.n; i++) {
        const uni_margin *g = &m->mg.m[i];
        for (size_t r = 0; r < ELEMENTSOF(rows); r++) {
            if (!streq(g->param, rows[r].param))
                continue;
            rec_u64(rec, rows[r].nominal, -1, g->name, (uint64_t)g->nominal);
            if (g->has_safe) {
                rec_u64(rec, rows[r].safe, -1, g->name, (uint64_t)g->safe);
                rec_u64(rec, rows[r].guard, -1, g->name, (uint64_t)g->guard_band);
            } else {
                no_margin[r] = true;
            }
        }
        rec_u64(rec, UNI_M_HOST_MARGIN_NAME_MEASURED_TIMESTAMP_S, -1, g->name, (uint64_t)g->measured_s);
        rec_str(rec, UNI_M_HOST_MARGIN_NAME_RUN, -1, g->name, m->mg.run);
        rec_str(rec, UNI_M_HOST_MARGIN_NAME_STATUS, -1, g->name, g->status);
        rec_u64(rec, UNI_M_HOST_MARGIN_NAME_PARTIAL, -1, g->name, g->partial);
    }
    /* What the file has no value for says why: a search whose nominal step already failed has no
     * margin (its other metrics are there); a parameter no search was about has none at all. */
    for (size_t r = 0; r < ELEMENTSOF(rows); r++) {
        if (no_margin[r]) {
            rec_absent_partial(rec, rows[r].safe, "a search in %s failed at nominal: no margin to suggest", m->path);
            rec_absent_partial(rec, rows[r].guard, "a search in %s failed at nominal: no margin to suggest", m->path);
        }
        rec_absent(rec, rows[r].nominal, "no %s search in the margins file %s", rows[r].param, m->path);
        rec_absent(rec, rows[r].safe, "no %s margin in the margins file %s", rows[r].param, m->path);
        rec_absent(rec, rows[r].guard, "no %s margin in the margins file %s", rows[r].param, m->path);
    }
    all_absent(rec, "the margins file has no search");
    return 0;
}
