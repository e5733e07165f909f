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
