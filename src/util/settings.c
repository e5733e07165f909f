/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemons' settings engine: the config file (/etc/uniserver/uniserverd.conf,
 * uni-healthd.conf) and flags, all through one table of keys per daemon, so a setting is the same
 * in the file and on the command line. */
#include <ctype.h>
#include <fcntl.h>

#include "util/lockfile.h"
#include "util/log.h"
#include "util/settings.h"
#include "util/util.h"

void settings_free(const settings_def *d, void *obj) {
    for (size_t i = 0; i < d->nkeys; i++)
        if (d->keys[i].type == K_STR)
            free(*(char **)((char *)obj + d->keys[i].off));
}

int settings_set(const settings_def *d, void *obj, const char *key, const char *value, char **err) {
    for (size_t i = 0; i < d->nkeys; i++) {
        const key_def *k = &d->keys[i];
        void *p = (char *)obj + k->off;
        if (!streq(k->name, key))
            continue;
        switch (k->type) {
        case K_STR: {
            char *v = strdup(value);
            if (!v)
                return asprintf(err, "out of memory"), -1;
            free(*(char **)p);
            *(char **)p = v;
            return 0;
        }
        case K_LONG: {
            int64_t v;
            if (safe_atoi64(value, &v) < 0 || v < k->min || v > k->max)
                return asprintf(err, "%s = '%s': a number from %ld to %ld", key, value, k->min, k->max), -1;
            *(long *)p = (long)v;
            return 0;
        }
        case K_BOOL:
            if (streq(value, "yes") || streq(value, "true") || streq(value, "1"))
                *(bool *)p = true;
            else if (streq(value, "no") || streq(value, "false") || streq(value, "0"))
                *(bool *)p = false;
            else
                return asprintf(err, "%s = '%s': yes or no", key, value), -1;
            return 0;
        case K_LEVEL: {
            int l = log_level_from_name(value);
            if (l < 0)
                return asprintf(err, "%s = '%s': error, warning, info or debug", key, value), -1;
            *(log_level *)p = (log_level)l;
            return 0;
        }
        }
    }
    return asprintf(err, "unknown setting '%s'", key), -1;
}

static char *trim(char *s) {
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

int settings_load(const settings_def *d, void *obj, const char *path, bool must_exist) {
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    char line[4096];
    int lineno = 0;

    if (!f) {
        if (!must_exist && errno == ENOENT)
            return 0;
        fprintf(stderr, "%s: %s: %s\n", d->prog, path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        char *l = trim(line), *eq, *key, *val, *err = NULL;
        size_t vl;
        lineno++;
        if (!*l || *l == '#')
            continue;
        eq = strchr(l, '=');
        if (!eq) {
            fprintf(stderr, "%s: %s:%d: expected 'key = value'\n", d->prog, path, lineno);
            return -1;
        }
        *eq = 0;
        key = trim(l);
        val = trim(eq + 1);
        vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = 0;
            val++;
        }
        if (settings_set(d, obj, key, val, &err) < 0) {
            fprintf(stderr, "%s: %s:%d: %s\n", d->prog, path, lineno, err ? err : "bad setting");
            free(err);
            return -1;
        }
    }
    return 0;
}

int settings_apply(const settings_def *d, void *obj, const char *path, const char *default_path, char *const *flag_keys,
                   char *const *vals, int n) {
    /* The file first, then the flags over it. */
    if (settings_load(d, obj, path ? path : default_path, path != NULL) < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        char *err = NULL;
        if (settings_set(d, obj, flag_keys[i], vals[i], &err) < 0) {
            fprintf(stderr, "%s: --%s: %s\n", d->prog, flag_keys[i], err ? err : "bad value");
            free(err);
            return -1;
        }
    }
    return 0;
}

int settings_flag_set(const settings_def *d, char *arg, char **keys, char **vals, int *n, int max) {
    char *eq = strchr(arg, '=');
    if (!eq || *n >= max) {
        fprintf(stderr, "%s: --set KEY=VALUE, not '%s'\n", d->prog, arg);
        return -1;
    }
    *eq = 0;
    keys[*n] = arg;
    vals[(*n)++] = eq + 1;
    return 0;
}

int pid_file_acquire(const char *path) {
    /* Locked for the process's life: a second instance started with the same pid file is refused
     * before it writes, so it cannot replace (or at its exit remove) the first one's pid. */
    pid_t holder = 0;
    int fd = lockfile_take(AT_FDCWD, path, 0644, &holder), r;
    if (fd == -EBUSY) {
        log_error("pid file %s is held by another running instance (pid %d)", path, (int)holder);
        return -1;
    }
    if (fd < 0 || (r = lockfile_write_pid(fd)) < 0) {
        log_error("cannot write the pid file %s: %s", path,
                  fd == -EINVAL ? "not a regular file with one name" : strerror(-(fd < 0 ? fd : r)));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

void pid_file_release(const char *path, int fd) {
    lockfile_release(AT_FDCWD, path, fd);
}
