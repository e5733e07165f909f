/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers the cmocka version in Debian 12 (1.1.5) lacks. */
#pragma once
#include <math.h>

#define assert_double_equal(a, b, eps)                                                                                 \
    do {                                                                                                               \
        double a_ = (a), b_ = (b);                                                                                     \
        if (!(fabs(a_ - b_) <= (eps)))                                                                                 \
            fail_msg("%s = %.12g, expected %.12g (+- %g)", #a, a_, b_, (double)(eps));                                 \
    } while (0)

#ifdef UNI_TESTUTIL_RECORDS
#include "uniserver/uniserver.h"
/* The number @r holds under @key (an integer sample as a double); the test fails, naming the
 * absence's reason, when it holds none. */
static inline double record_num(uniRecordPtr r, const char *key) {
    const uniSample *s = uniRecordLookup(r, key);
    if (!s)
        fail_msg("%s missing (%s)", key, uniRecordAbsentReason(r, key) ? uniRecordAbsentReason(r, key) : "no reason");
    return s->type == UNI_VALUE_U64 ? (double)s->value.u : s->value.d;
}
#endif
