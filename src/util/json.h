/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lenient members of a json-c object, for the files the programs write and read back themselves
 * (uni-allocd's state, uni-stresslog's journal and report, unish allocation): absent, null or of
 * another type gives the caller's default. A file from elsewhere that must be refused whole when
 * malformed is read strictly instead (src/util/margins.c). */
#pragma once

#include <json-c/json.h>

/* Member @k of @o as a string, or @dflt when it is absent or not a string. */
const char *uj_str(json_object *o, const char *k, const char *dflt);
/* Member @k of @o as an integer (json-c's conversion), or @dflt when it is absent or null. */
long long uj_int(json_object *o, const char *k, long long dflt);
/* Member @k of @o when it is an array, else NULL. */
json_object *uj_array(json_object *o, const char *k);
