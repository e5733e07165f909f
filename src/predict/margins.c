/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The StressLog's margins file (schema uniserver-margins, version 1: docs/stresslog.md) parsed
 * from its text into the safe value of each domain's parameter, for the predictor. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "predict.h"

static const char *str_of(json_object *o, const char *key) {
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                             : NULL;
}

static bool num_of(json_object *o, const char *key, double *ret) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) ||
        !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
        return false;
    *ret = json_object_get_double(v);
    return true;
}

int pr_margins_parse(const char *text, size_t len, pr_margin **ret, size_t *ret_n, char *err, size_t errlen) {
    json_tokener *tok = json_tokener_new();
    json_object *root = NULL, *list, *v;
    pr_margin *m = NULL;
    size_t n = 0, cap;
    const char *schema;
    int r = -EINVAL;

    *ret = NULL;
    *ret_n = 0;
    if (!tok) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    root = json_tokener_parse_ex(tok, text, (int)len);
    if (!root || json_tokener_get_error(tok) != json_tokener_success || !json_object_is_type(root, json_type_object)) {
        snprintf(err, errlen, "not a JSON object");
        goto out;
    }
    schema = str_of(root, "schema");
    if (!schema || strcmp(schema, "uniserver-margins") != 0) {
        snprintf(err, errlen, "schema '%s', not uniserver-margins", schema ? schema : "(none)");
        goto out;
    }
    if (!json_object_object_get_ex(root, "version", &v) || json_object_get_int(v) != 1) {
        snprintf(err, errlen, "version %s: this reader knows version 1", v ? json_object_to_json_string(v) : "(none)");
        goto out;
    }
    if (!json_object_object_get_ex(root, "margins", &list) || !json_object_is_type(list, json_type_array)) {
        snprintf(err, errlen, "no \"margins\" array");
        goto out;
    }
    cap = json_object_array_length(list);
    if (cap && !(m = calloc(cap, sizeof(*m)))) {
        snprintf(err, errlen, "out of memory");
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < cap; i++) {
        json_object *e = json_object_array_get_idx(list, i), *cond;
        const char *dom = str_of(e, "domain"), *param = str_of(e, "param"), *dir = str_of(e, "direction");
        double safe, f = 0;
        /* A search that found nothing safe (safe null: not even nominal was clean) gives no
         * margin to compare with: the component is rated on its errors alone. */
        if (!dom || !param || !num_of(e, "safe", &safe) || strlen(dom) >= PR_NAME_MAX || strlen(param) >= PR_NAME_MAX)
            continue;
        if (json_object_object_get_ex(e, "conditions", &cond))
            (void)num_of(cond, "frequency_mhz", &f);
        snprintf(m[n].domain, sizeof(m[n].domain), "%s", dom);
        snprintf(m[n].param, sizeof(m[n].param), "%s", param);
        m[n].up = dir && strcmp(dir, "up") == 0;
        m[n].safe = safe;
        m[n].frequency_mhz = f;
        n++;
    }
    *ret = m;
    *ret_n = n;
    m = NULL;
    r = 0;
out:
    free(m);
    if (root)
        json_object_put(root);
    json_tokener_free(tok);
    return r;
}

const pr_margin *pr_margin_find(const pr_margin *m, size_t n, const char *domain, const char *param, double freq_mhz) {
    const pr_margin *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].domain, domain) == 0 && strcmp(m[i].param, param) == 0 &&
            (!best || fabs(m[i].frequency_mhz - freq_mhz) < fabs(best->frequency_mhz - freq_mhz)))
            best = &m[i];
    return best;
}
