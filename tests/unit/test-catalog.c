/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The catalogue against the spec's tables: every metrics.tsv key with its kind and unit, the
 * published ids unchanged (append-only), and every view's keys in the order of views.tsv. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/internal.h"

static char *srcdir;

static FILE *open_data(const char *name) {
    char path[4096];
    FILE *f;
    snprintf(path, sizeof(path), "%s/tests/data/%s", srcdir, name);
    f = fopen(path, "re");
    if (!f)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    return f;
}

static void test_metrics_tsv(void **state) {
    FILE *f = open_data("metrics.tsv");
    char line[2048];
    int rows = 0;
    (void)state;
    while (fgets(line, sizeof(line), f)) {
        char *key, *kind, *unit, *save = NULL;
        int id;
        if (line[0] == '#' || startswith(line, "key\t"))
            continue;
        key = strtok_r(line, "\t", &save);
        kind = strtok_r(NULL, "\t", &save);
        unit = strtok_r(NULL, "\t", &save);
        assert_non_null(unit);
        id = uni_catalog_find(key);
        if (id < 0)
            fail_msg("metrics.tsv key %s is not in the catalogue", key);
        assert_string_equal(uni_catalog[id].unit, unit);
        assert_int_equal(uni_catalog[id].kind, streq(kind, "counter") ? UNI_METRIC_COUNTER
                                               : streq(kind, "text")  ? UNI_METRIC_TEXT
                                                                      : UNI_METRIC_GAUGE);
        rows++;
    }
    fclose(f);
    assert_true(rows >= 116);
}

static void test_ids_append_only(void **state) {
    FILE *f = open_data("metric-ids.txt");
    char line[512];
    unsigned n = 0;
    (void)state;
    while (fgets(line, sizeof(line), f)) {
        unsigned id;
        char key[256];
        if (line[0] == '#')
            continue;
        assert_int_equal(sscanf(line, "%u %255s", &id, key), 2);
        assert_true(id < UNI_NMETRICS);
        if (!streq(uni_catalog[id].key, key))
            fail_msg("published id %u was %s, the catalogue now says %s: ids are append-only", id, key,
                     uni_catalog[id].key);
        n++;
    }
    fclose(f);
    /* Every catalogue entry is published, and ids are dense. */
    assert_int_equal(n, UNI_NMETRICS);
    for (unsigned i = 0; i < UNI_NMETRICS; i++)
        assert_int_equal(uni_catalog[i].id, i);
}

static void test_views_tsv(void **state) {
    FILE *f = open_data("views.tsv");
    char line[2048];
    (void)state;
    while (fgets(line, sizeof(line), f)) {
        char *view, *pos, *key, *save = NULL;
        const uniViewDesc *v = NULL;
        int p;
        if (line[0] == '#' || startswith(line, "view\t"))
            continue;
        view = strtok_r(line, "\t", &save);
        pos = strtok_r(NULL, "\t", &save);
        key = strtok_r(NULL, "\t", &save);
        assert_non_null(key);
        for (int i = 0; i < uniViewCount(); i++)
            if (streq(uniViewGet(i)->spec_name, view))
                v = uniViewGet(i);
        if (!v)
            fail_msg("view %s of views.tsv is missing", view);
        p = streq(pos, "-") ? 0 : atoi(pos);
        if (startswith(key, "host.errors.")) {
            /* Component views list l2 count, l2 rate, l3 ...: the template at position p % 2. */
            const char *tmpl = uni_catalog[v->metrics[p % 2]].key;
            char expect[128];
            const char *comp = key + strlen("host.errors.");
            const char *dot = strchr(comp, '.');
            snprintf(expect, sizeof(expect), "host.errors.C%s", dot);
            assert_string_equal(tmpl, expect);
        } else {
            assert_true(p < v->nmetrics);
            assert_string_equal(uni_catalog[v->metrics[p]].key, key);
        }
    }
    fclose(f);
}

static void test_groups_and_placeholders(void **state) {
    (void)state;
    for (unsigned i = 0; i < UNI_NMETRICS; i++) {
        assert_non_null(uni_catalog[i].group);
        assert_int_equal(uni_group_from_name(uni_catalog[i].group), uni_catalog_group[i]);
        assert_true(strlen(uni_catalog[i].help) > 5);
    }
    assert_int_equal(uni_placeholder_kind("N", 1), 'i');
    assert_int_equal(uni_placeholder_kind("NAME", 4), 's');
    assert_int_equal(uni_placeholder_kind("cpu", 3), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_tsv),
        cmocka_unit_test(test_ids_append_only),
        cmocka_unit_test(test_views_tsv),
        cmocka_unit_test(test_groups_and_placeholders),
    };
    srcdir = getenv("SRCDIR");
    if (!srcdir)
        srcdir = ".";
    return cmocka_run_group_tests(tests, NULL, NULL);
}
