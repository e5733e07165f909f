/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uniserverd's sampler (sampler.c): a thread samples the source into a pending sample, which the
 * loop adopts into the cache clients read; a commit to the HealthLog asks for a sample at once. */
#pragma once

#include "daemon.h"

typedef struct server server;

/* One sample of the source: the host record, the domains (inactive ones too) and their records. */
typedef struct {
    uniRecordPtr rec;
    uni_domain_info *dom_list;
    size_t ndom_list;
    uni_domain_stats *doms;
    size_t ndoms;
} sample;

void free_sample(sample *s);
/* The first sample, before the loop starts (so that no call finds an empty cache); -1 after
 * logging why when there is none. */
int sampler_first(server *srv);
/* The sampler thread; stopped after the sample it may be making. */
int sampler_start(server *srv);
void sampler_stop(server *srv);
/* Watch the HealthLog of a local source (if there is one), and stop watching (at shutdown). */
void sampler_watch_healthlog(server *srv);
void sampler_unwatch_healthlog(server *srv);
/* Free the samples (the cache too) and the sampler's lock. */
void sampler_free(server *srv);
