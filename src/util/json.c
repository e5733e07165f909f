/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lenient members of a json-c object (json.h). */
#include "util/json.h"

const char *uj_str(json_object *o, const char *k, const char *dflt) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                           : dflt;
}

long long uj_int(json_object *o, const char *k, long long dflt) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && !json_object_is_type(v, json_type_null)
               ? (long long)json_object_get_int64(v)
               : dflt;
}

json_object *uj_array(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_array) ? v : NULL;
}
