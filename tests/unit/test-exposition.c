/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The values /metrics exports, in base units: every metric of the catalogue without placeholders
 * given a value in its own unit comes out converted exactly (per minute to per second, MHz to
 * hertz, ms to seconds, MB and KB to bytes, % to a ratio, kWh to joules), under its family name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/exposition.h"
#include "testutil.h"

static bool has_placeholder(const char *key) {
    for (const char *t = key;;) {
        const char *e = strchrnul(t, '.');
        if (uni_placeholder_kind(t, (size_t)(e - t)))
            return true;
        if (!*e)
            return false;
        t = e + 1;
    }
}

/* The value of the series @name (no labels) in @text, or NAN. */
static double value_of(const char *text, const char *name) {
    size_t l = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, name, l) == 0 && p[l] == ' ')
            return strtod(p + l + 1, NULL);
    return NAN;
}

static void test_base_units(void **state) {
    static const struct {
        const char *unit, *suffix;
        double given, exported;
    } units[] = {
        {"per_min", "_per_second", 120, 2}, {"MHz", "_hertz", 2400, 2.4e9}, {"ms", "_seconds", 1500, 1.5},
        {"MB", "_bytes", 3, 3 * 1048576.0}, {"KB", "_bytes", 3, 3072},      {"%", "_ratio", 25, 0.25},
        {"kWh", "_joules", 2, 7.2e6},
    };
    uniRecordPtr rec = uni_record_new(uni_catalog, UNI_NMETRICS);
    prom_desc *pd = NULL;
    prom_record pr = {.rec = rec};
    char *text = NULL;
    size_t len = 0;
    unsigned checked[ELEMENTSOF(units)] = {0};
    (void)state;
    assert_int_equal(prom_map_init(uni_catalog, UNI_NMETRICS, &pd), 0);
    for (unsigned i = 0; i < UNI_NMETRICS; i++)
        for (size_t u = 0; u < ELEMENTSOF(units); u++)
            if (streq(uni_catalog[i].unit, units[u].unit) && !has_placeholder(uni_catalog[i].key))
                rec_dbl(rec, i, -1, NULL, units[u].given);
    assert_int_equal(prom_render(&pr, 1, uni_catalog, pd, UNI_NMETRICS, false, &text, &len), 0);
    for (unsigned i = 0; i < UNI_NMETRICS; i++)
        for (size_t u = 0; u < ELEMENTSOF(units); u++) {
            const char *name = pd[i].name;
            double v;
            /* Not exported: a rate beside its counter, an alias in another unit (metrics.def). */
            if (!streq(uni_catalog[i].unit, units[u].unit) || has_placeholder(uni_catalog[i].key) || pd[i].skip)
                continue;
            if (strlen(name) < strlen(units[u].suffix) ||
                !streq(name + strlen(name) - strlen(units[u].suffix), units[u].suffix))
                fail_msg("%s (%s) is exported as %s, not in %s", uni_catalog[i].key, units[u].unit, name,
                         units[u].suffix + 1);
            v = value_of(text, name);
            if (isnan(v)) { /* a counter's series */
                char total[PROM_NAME_MAX + 8];
                snprintf(total, sizeof(total), "%s_total", name);
                v = value_of(text, total);
            }
            if (!(fabs(v - units[u].exported) <= 1e-9 * units[u].exported))
                fail_msg("%s = %g %s is exported as %s %.17g, not %.17g", uni_catalog[i].key, units[u].given,
                         units[u].unit, name, v, units[u].exported);
            checked[u]++;
        }
    /* The catalogue has metrics of these units: a rule that matched none would prove nothing. */
    assert_true(checked[0] >= 6); /* the HealthLog's memory and CPU rates over 1, 5 and 60 minutes */
    assert_true(checked[1] >= 1);
    free(text);
    free(pd);
    uniRecordFree(rec);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_units),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
