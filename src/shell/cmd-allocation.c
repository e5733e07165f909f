/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* unish allocation: the plan uni-allocd publishes (its state file), each VM's domain and each
 * domain's operating point with the reason, and the last round's actions. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "shell.h"

static const char *s_of(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                           : "";
}

static long long i_of(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? (long long)json_object_get_int64(v) : 0;
}

static json_object *arr(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_array) ? v : NULL;
}

int cmd_allocation(shell *sh, const cmd_def *cmd, int argc, char **argv) {
    const char *path = "/run/uniserver/allocation.json";
    json_object *root, *a;
    time_t t;
    char when[64];

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--state") && i + 1 < argc)
            path = argv[++i];
        else
            return arg_error(cmd, argc, argv, i, (const char *const[]){"--state", NULL});
    }
    if (!(root = json_object_from_file(path))) {
        FILE *f = fopen(path, "re");
        if (f)
            fclose(f);
        fprintf(stderr, "unish: %s: %s (NO_DATA)\n", path,
                f ? "not a plan uni-allocd wrote (not JSON)" : "no plan: uni-allocd has not published one here");
        return 1;
    }
    if (i_of(root, "version") != 1) {
        fprintf(stderr, "unish: %s: plan version %lld, this unish reads version 1 (NO_SUPPORT)\n", path,
                i_of(root, "version"));
        json_object_put(root);
        return 1;
    }
    if (sh->json) {
        printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
        json_object_put(root);
        return 0;
    }
    t = (time_t)(i_of(root, "time_ms") / 1000);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
    printf("Plan %lld of %s, made %s\n\n", i_of(root, "plan_seq"), s_of(root, "uri"), when);
    printf(" %-20s %-7s %5s  %-8s %s\n", "VM", "Class", "vCPUs", "Domain", "Why");
    for (size_t i = 0; (a = arr(root, "vms")) && i < json_object_array_length(a); i++) {
        json_object *v = json_object_array_get_idx(a, i);
        printf(" %-20s %-7s %5lld  %-8s %s\n", s_of(v, "name"), s_of(v, "class"), i_of(v, "vcpus"),
               *s_of(v, "domain") ? s_of(v, "domain") : "-", s_of(v, "reason"));
    }
    printf("\n %-8s %-15s %7s %8s  %-8s %s\n", "Domain", "Mode", "mV", "MHz", "Risk", "Why");
    for (size_t i = 0; (a = arr(root, "domains")) && i < json_object_array_length(a); i++) {
        json_object *d = json_object_array_get_idx(a, i);
        printf(" %-8s %-15s %7lld %8lld  %-8s %s\n", s_of(d, "name"), s_of(d, "mode"), i_of(d, "voltage_mv"),
               i_of(d, "frequency_mhz"), s_of(d, "risk"), s_of(d, "reason"));
    }
    if ((a = arr(root, "channels")) && json_object_array_length(a)) {
        printf("\n Memory: %s\n", s_of(root, "memory_reason"));
        for (size_t i = 0; i < json_object_array_length(a); i++) {
            json_object *c = json_object_array_get_idx(a, i);
            printf("  %-8s refresh %lld ms\n", s_of(c, "name"), i_of(c, "refresh_ms"));
        }
    }
    a = arr(root, "actions");
    printf("\n Actions of the last round: %zu, applied %lld, deferred by the rate limit %lld\n",
           a ? json_object_array_length(a) : (size_t)0, i_of(root, "applied"), i_of(root, "deferred"));
    for (size_t i = 0; a && i < json_object_array_length(a); i++) {
        json_object *x = json_object_array_get_idx(a, i), *fp;
        bool fast = json_object_object_get_ex(x, "fast_path", &fp) && json_object_get_boolean(fp);
        printf("  %zu. %s%s: %s\n", i + 1, fast ? "[fast path] " : "", s_of(x, "action"), s_of(x, "reason"));
    }
    /* A plan that stopped is not the host's state: say so last, where the eye ends. */
    if (*s_of(root, "error"))
        printf("\n STOPPED after %lld of %zu actions, the rest not applied: %s\n", i_of(root, "applied"),
               a ? json_object_array_length(a) : (size_t)0, s_of(root, "error"));
    json_object_put(root);
    return 0;
}
