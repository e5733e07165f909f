/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the QMP replies the collector reads in place every collection (qmp.c): a
 * message's "return" found by qmp_message_member, then read by qmp_parse_stats for both targets.
 * The value found must lie inside the input, reading it twice must give the same answer, and
 * every statistic handed on must have a name. Built by fuzz/meson.build; fuzz/run drives it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/local/vms.h"

/* Not assert(): the checks hold in every build type. */
#define CHECK(x)                                                                                                       \
    do {                                                                                                               \
        if (!(x))                                                                                                      \
            abort();                                                                                                   \
    } while (0)

static void count_cb(void *ud, int vcpu, const char *name, kvm_stat_kind kind, uint64_t value) {
    (void)kind;
    (void)value;
    CHECK(name && *name && vcpu >= -1 && vcpu < 2);
    ++*(size_t *)ud;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const paths[] = {"/machine/unattached/device[0]", "/machine/unattached/device[1]"};
    /* A copy of exactly @size bytes: reading past it is a heap overflow ASan reports. */
    char *buf = malloc(size ? size : 1);
    const char *ret = NULL;
    size_t len = 0, n1 = 0, n2 = 0;
    int r;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    r = qmp_message_member(buf, size, "return", &ret, &len);
    CHECK(r >= -EBADMSG && r <= 1);
    if (r == 1) {
        CHECK(ret >= buf && ret + len <= buf + size && len > 0);
        int a = qmp_parse_stats(ret, len, NULL, 0, count_cb, &n1),
            b = qmp_parse_stats(ret, len, NULL, 0, count_cb, &n2);
        CHECK(a == b && n1 == n2);
        n1 = n2 = 0;
        a = qmp_parse_stats(ret, len, paths, 2, count_cb, &n1);
        b = qmp_parse_stats(ret, len, paths, 2, count_cb, &n2);
        CHECK(a == b && n1 == n2);
    }
    /* The whole input as a "return" too: the parser must hold on any bytes. */
    (void)qmp_parse_stats(buf, size, paths, 2, count_cb, &n1);
    free(buf);
    return 0;
}
