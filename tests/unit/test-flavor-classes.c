/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The flavor table uniserver-placement-sync writes and the libvirt driver reads (flavor_classes.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "drivers/local/domains_internal.h"
#include "uniserver/uniserver.h"

/* "<class> TAB <name>" lines, names with spaces, comments, rows that do not parse skipped, a name
 * that is only a prefix of another not matched, a last line without its newline. */
static void test_flavor_table(void **state) {
    static const char t[] = "# uniserver flavor classes\nhigh\tr1.gold\nlow\tr1 bronze & spot\ntop\tr1.bad\n"
                            "garbage\nnormal\tr1.gold.big\nlow\tlast-without-newline";
    (void)state;
    assert_int_equal(flavor_class_parse(t, strlen(t), "r1.gold"), UNI_RELIABILITY_HIGH);
    assert_int_equal(flavor_class_parse(t, strlen(t), "r1 bronze & spot"), UNI_RELIABILITY_LOW);
    assert_int_equal(flavor_class_parse(t, strlen(t), "r1.gold.big"), UNI_RELIABILITY_NORMAL);
    assert_int_equal(flavor_class_parse(t, strlen(t), "last-without-newline"), UNI_RELIABILITY_LOW);
    assert_int_equal(flavor_class_parse(t, strlen(t), "r1.bad"), -ENOENT);
    assert_int_equal(flavor_class_parse(t, strlen(t), "r1"), -ENOENT);
    assert_int_equal(flavor_class_parse(t, strlen(t), "uniserver flavor classes"), -ENOENT);
    assert_int_equal(flavor_class_parse("", 0, "r1.gold"), -ENOENT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flavor_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
