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
/* HealthLog events: one line each (time, source, component, severity, bits, count, where,
 * address, message), the VMs an event may have touched on the next line. */
void fmt_events_text(FILE *f, uniRecordPtr *ev, int n);
/* A JSON array of objects keyed by the events' dotted keys ("event.time_ms" ...). */
void fmt_events_json(FILE *f, uniRecordPtr *ev, int n);
/* The per-DIMM and per-core error counts of a record (host.errors.dimm.D.*, host.errors.core.N.*),
 * as ras-mc-ctl --summary shows them, or as JSON {"dimms": {D: {"ce", "ue"}}, "cores": {...}}. */
void fmt_error_summary_text(FILE *f, uniRecordPtr rec);
void fmt_error_summary_json(FILE *f, uniRecordPtr rec);
