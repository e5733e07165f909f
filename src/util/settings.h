/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemons' settings engine (settings.c): a daemon's settings file and flags, through one
 * table of keys. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A daemon's settings as a table of keys into its settings struct: the file and the flags go
 * through the same table (settings.c). */
typedef enum { K_STR, K_LONG, K_BOOL, K_LEVEL } key_type;
typedef struct {
    const char *name;
    key_type type;
    size_t off;
    long min, max;
} key_def;
typedef struct {
    const char *prog; /* for messages */
    const key_def *keys;
    size_t nkeys;
} settings_def;
/* Set one setting by name; -1 with *err set on a bad name or value. */
int settings_set(const settings_def *d, void *obj, const char *key, const char *value, char **err);
/* Read key = value lines; -1 with a message naming the file, line and key on a bad one. */
int settings_load(const settings_def *d, void *obj, const char *path, bool must_exist);
/* Free the string settings. */
void settings_free(const settings_def *d, void *obj);
/* The file (@path, else @default_path when it exists), then the flags' @n key/value pairs over it;
 * -1 after a message on stderr. */
int settings_apply(const settings_def *d, void *obj, const char *path, const char *default_path, char *const *flag_keys,
                   char *const *vals, int n);
/* A --set KEY=VALUE flag (@arg, cut at its '='): appended to @keys and @vals (*@n of @max used);
 * -1 after a message on stderr when it is not KEY=VALUE or there is no room. */
int settings_flag_set(const settings_def *d, char *arg, char **keys, char **vals, int *n, int max);
/* Write this process's pid to @path, locked for the process's life (never through a symlink): the
 * fd to keep, or -1 after logging why (another instance holds it, or it cannot be written). */
int pid_file_acquire(const char *path);
/* Remove the pid file if it is still ours, and close @fd (-1: nothing). */
void pid_file_release(const char *path, int fd);
