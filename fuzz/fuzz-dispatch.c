/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: bytes as a client would send them to uniserverd, through its framing, message
 * decoder and dispatcher (src/daemon/dispatch.c), answered from a real cached record of the test
 * driver. The client is never started on a loop (client.c then only marks it closing when it is
 * dropped). Built with libFuzzer by fuzz/run, and as a corpus replayer for the test suite. */
#include <stdint.h>
#include <stdlib.h>

#include "daemon/server_internal.h"

static server srv;
static config cfg;

static void init(void) {
    static bool done;
    if (done)
        return;
    done = true;
    config_defaults(&cfg);
    cfg.source_uri = (char *)"test:///default";
    cfg.interval_ms = 1000;
    log_setup(LOG_LEVEL_ERROR, false);
    srv.cfg = &cfg;
    rpc_protocol_init(&srv.rpc, &cfg);
    srv.source = uniConnectOpen("test:///default", 0);
    /* Two samples: the cache then has rates, as in a running daemon. */
    uniNodeGetStats(srv.source, NULL, &srv.cache.rec, 0);
    uniRecordFree(srv.cache.rec);
    uniNodeGetStats(srv.source, NULL, &srv.cache.rec, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    client *c;
    init();
    c = client_new(&srv, &srv.rpc, -1);
    if (!c)
        return 0;
    c->in = malloc(size + 1);
    if (!c->in) {
        free(c);
        return 0;
    }
    memcpy(c->in, data, size);
    c->inlen = c->incap = size;
    /* Read-write once, read-only once: both paths see every input. */
    for (int ro = 0; ro < 2; ro++) {
        c->ro = ro;
        c->closing = c->close_after_flush = false;
        memset(client_state(c), 0, srv.rpc.state_size); /* not opened */
        c->inlen = size;
        memcpy(c->in, data, size);
        (void)srv.rpc.consume(c);
        free(c->out);
        c->out = NULL;
        c->outlen = c->outoff = 0;
        srv.queued = 0; /* what client_queue counted: nothing is queued any more */
    }
    free(c->in);
    free(c);
    return 0;
}
