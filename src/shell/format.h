/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rendering of records and descriptors as aligned text and as JSON (unish, golden files). */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "uniserver/uniserver.h"

/* "key  value unit" lines, aligned; absent metrics as "key  -  (reason)" when show_absent. */
void fmt_record_text(FILE *f, uniRecordPtr rec, bool show_absent);
/* The same with @indent before each line (domstats --all: records under a domain's name). */
void fmt_record_text_indent(FILE *f, uniRecordPtr rec, bool show_absent, const char *indent);
/* One JSON object keyed by the dotted keys, plus "window_ms" and "absent" (key -> reason), and a
 * newline; fmt_record_json_object writes the object alone (to nest it). */
void fmt_record_json(FILE *f, uniRecordPtr rec);
void fmt_record_json_object(FILE *f, uniRecordPtr rec);
void fmt_descriptors_text(FILE *f, const uniMetricDesc *d, int n);
void fmt_descriptors_json(FILE *f, const uniMetricDesc *d, int n);
/* Operating points (uniNodeGetOperatingPoints): one line per parameter, or one JSON object
 * {"domains": [{"name", "kind", "id", "cores" | "dimms", "params": {NAME: {...}}}]}. */
void fmt_opp_text(FILE *f, uniOppListPtr l);
void fmt_opp_json(FILE *f, uniOppListPtr l);
/* A JSON string literal with escapes. */
void fmt_json_string(FILE *f, const char *s);
/* A sample's value as text (no unit); returns buf. */
const char *fmt_value(const uniSample *s, char *buf, size_t len);
