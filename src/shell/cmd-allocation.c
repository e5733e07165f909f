/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* unish allocation: the plan uni-allocd publishes (its state file), each VM's domain and each
 * domain's operating point with the reason, and the last round's actions. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "shell.h"
#include "util/json.h"

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
    if (uj_int(root, "version", 0) != 1) {
        fprintf(stderr, "unish: %s: plan version %lld, this unish reads version 1 (NO_SUPPORT)\n", path,
                uj_int(root, "version", 0));
        json_object_put(root);
        return 1;
    }
    if (sh->json) {
        printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
        json_object_put(root);
        return 0;
    }
    t = (time_t)(uj_int(root, "time_ms", 0) / 1000);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
    printf("Plan %lld of %s, made %s\n\n", uj_int(root, "plan_seq", 0), uj_str(root, "uri", ""), when);
    printf(" %-20s %-7s %5s %7s  %-8s %s\n", "VM", "Class", "vCPUs", "Demand", "Domain", "Why");
    for (size_t i = 0; (a = uj_array(root, "vms")) && i < json_object_array_length(a); i++) {
        json_object *v = json_object_array_get_idx(a, i), *d;
        char demand[16] = "?"; /* cores' worth; unknown before two samples */
        if (json_object_object_get_ex(v, "demand_cores", &d) && json_object_is_type(d, json_type_double))
            snprintf(demand, sizeof(demand), "%.2f", json_object_get_double(d));
        printf(" %-20s %-7s %5lld %7s  %-8s %s\n", uj_str(v, "name", ""), uj_str(v, "class", ""), uj_int(v, "vcpus", 0),
               demand, *uj_str(v, "domain", "") ? uj_str(v, "domain", "") : "-", uj_str(v, "reason", ""));
    }
    printf("\n %-8s %-15s %7s %8s  %-8s %s\n", "Domain", "Mode", "mV", "MHz", "Risk", "Why");
    for (size_t i = 0; (a = uj_array(root, "domains")) && i < json_object_array_length(a); i++) {
        json_object *d = json_object_array_get_idx(a, i);
        printf(" %-8s %-15s %7lld %8lld  %-8s %s\n", uj_str(d, "name", ""), uj_str(d, "mode", ""),
               uj_int(d, "voltage_mv", 0), uj_int(d, "frequency_mhz", 0), uj_str(d, "risk", ""),
               uj_str(d, "reason", ""));
    }
    if ((a = uj_array(root, "channels")) && json_object_array_length(a)) {
        printf("\n Memory: %s\n", uj_str(root, "memory_reason", ""));
        for (size_t i = 0; i < json_object_array_length(a); i++) {
            json_object *c = json_object_array_get_idx(a, i);
            printf("  %-8s refresh %lld ms\n", uj_str(c, "name", ""), uj_int(c, "refresh_ms", 0));
        }
    }
    a = uj_array(root, "actions");
    printf("\n Actions of the last round: %zu, applied %lld, deferred by the rate limit %lld\n",
           a ? json_object_array_length(a) : (size_t)0, uj_int(root, "applied", 0), uj_int(root, "deferred", 0));
    for (size_t i = 0; a && i < json_object_array_length(a); i++) {
        json_object *x = json_object_array_get_idx(a, i), *fp;
        bool fast = json_object_object_get_ex(x, "fast_path", &fp) && json_object_get_boolean(fp);
        printf("  %zu. %s%s: %s\n", i + 1, fast ? "[fast path] " : "", uj_str(x, "action", ""),
               uj_str(x, "reason", ""));
    }
    /* A plan that stopped is not the host's state: say so last, where the eye ends. */
    if (*uj_str(root, "error", ""))
        printf("\n STOPPED after %lld of %zu actions, the rest not applied: %s\n", uj_int(root, "applied", 0),
               a ? json_object_array_length(a) : (size_t)0, uj_str(root, "error", ""));
    json_object_put(root);
    return 0;
}
