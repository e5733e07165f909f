/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemons' log (uniserverd, uni-healthd; log.c): stderr with a timestamp, or syslog. */
#pragma once

#include <stdbool.h>

typedef enum { LOG_LEVEL_ERROR, LOG_LEVEL_WARNING, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG } log_level;

void log_setup(log_level level, bool use_syslog);
/* The program name in log lines and syslog (default "uniserverd"); call before log_setup. */
void log_set_ident(const char *name);
void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
int log_level_from_name(const char *s);
