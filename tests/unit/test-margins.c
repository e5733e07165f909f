/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The margins file's reader (src/util/margins.c) on literal files: every value read exactly, and
 * every malformed or newer file refused with the field named, never a guessed margin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/margins.h"
#include "util/util.h"

static const char good[] =
    "{\"schema\": \"uniserver-margins\", \"version\": 1, \"generated\": \"2026-12-07T03:00:00Z\",\n"
    " \"run_started\": \"2026-12-07T02:50:00Z\", \"log\": \"/var/lib/uniserver/stresslog.jsonl\",\n"
    " \"uri\": \"uniserver:///system\", \"complete\": false,\n"
    " \"margins\": [\n"
    "  {\"domain\": \"pmd0\", \"kind\": \"cpu\", \"cores\": [0, 1], \"dimms\": [], \"param\": \"voltage_mv\",\n"
    "   \"unit\": \"mV\", \"nominal\": 980, \"limit\": 800, \"direction\": \"down\", \"status\": \"failure\",\n"
    "   \"partial\": false, \"last_clean\": 905, \"safe\": 910, \"guard_band\": 5,\n"
    "   \"first_failure\": {\"value\": 900, \"verdict\": \"ce\"}, \"conditions\": {\"frequency_mhz\": 2400},\n"
    "   \"evidence\": [], \"measured\": \"2026-12-07T02:55:00Z\"},\n"
    "  {\"domain\": \"mc1\", \"kind\": \"memory\", \"cores\": [], \"dimms\": [\"DIMM2\", \"DIMM3\"],\n"
    "   \"param\": \"refresh_ms\", \"unit\": \"ms\", \"nominal\": 64, \"limit\": 4000, \"direction\": \"up\",\n"
    "   \"status\": \"budget\", \"partial\": true, \"last_clean\": 1500, \"safe\": 1350, \"guard_band\": 150,\n"
    "   \"first_failure\": null, \"conditions\": {\"frequency_mhz\": null}, \"evidence\": []},\n"
    "  {\"domain\": \"pmd1\", \"kind\": \"cpu\", \"cores\": [2, 3], \"dimms\": [], \"param\": \"voltage_mv\",\n"
    "   \"unit\": \"mV\", \"nominal\": 980, \"limit\": 800, \"direction\": \"down\", \"status\": \"failure\",\n"
    "   \"partial\": false, \"last_clean\": null, \"safe\": null, \"guard_band\": null,\n"
    "   \"first_failure\": {\"value\": 980, \"verdict\": \"ue\"}, \"conditions\": {\"frequency_mhz\": 1200},\n"
    "   \"evidence\": []}\n"
    " ]}\n";

/* @good with the first occurrence of @from replaced by @to. */
static char *variant(const char *from, const char *to) {
    const char *at = strstr(good, from);
    char *out;
    assert_non_null(at);
    out = malloc(sizeof(good) + strlen(to));
    assert_non_null(out);
    memcpy(out, good, (size_t)(at - good));
    strcpy(out + (at - good), to);
    strcat(out, at + strlen(from));
    return out;
}

static void test_good(void **state) {
    uni_margins f;
    char why[512] = "";
    (void)state;
    assert_int_equal(uni_margins_parse(good, strlen(good), &f, why, sizeof(why)), 0);
    assert_int_equal(f.version, 1);
    assert_false(f.complete);
    assert_int_equal(f.generated_s, 1796612400); /* date -u -d 2026-12-07T03:00:00Z +%s */
    assert_string_equal(f.run, "started 2026-12-07T02:50:00Z, raw log /var/lib/uniserver/stresslog.jsonl");
    assert_int_equal(f.n, 3);

    assert_string_equal(f.m[0].name, "pmd0:voltage@2400MHz");
    assert_string_equal(f.m[0].param, "voltage_mv");
    assert_int_equal(f.m[0].freq_mhz, 2400);
    assert_int_equal(f.m[0].dir, -1);
    assert_int_equal(f.m[0].nominal, 980);
    assert_int_equal(f.m[0].limit, 800);
    assert_true(f.m[0].has_safe);
    assert_int_equal(f.m[0].last_clean, 905);
    assert_int_equal(f.m[0].safe, 910);
    assert_int_equal(f.m[0].guard_band, 5);
    assert_int_equal(f.m[0].measured_s, 1796612100); /* its own "measured" */
    assert_int_equal(f.m[0].ncores, 2);
    assert_int_equal(f.m[0].cores[1], 1);
    assert_false(f.m[0].partial);

    assert_string_equal(f.m[1].name, "mc1:refresh");
    assert_int_equal(f.m[1].freq_mhz, 0);
    assert_int_equal(f.m[1].dir, 1);
    assert_int_equal(f.m[1].safe, 1350);
    assert_int_equal(f.m[1].guard_band, 150);
    assert_true(f.m[1].partial);
    assert_string_equal(f.m[1].status, "budget");
    assert_int_equal(f.m[1].measured_s, 1796612400); /* none of its own: the file's */
    assert_int_equal(f.m[1].ndimms, 2);
    assert_string_equal(f.m[1].dimms[1], "DIMM3");

    /* Failed at nominal: no margin, and none made up. */
    assert_string_equal(f.m[2].name, "pmd1:voltage@1200MHz");
    assert_false(f.m[2].has_safe);
    uni_margins_free(&f);
}

/* A file of an older writer: no run_started, no log, no measured. */
static void test_minimal_v1(void **state) {
    static const char v1[] =
        "{\"schema\":\"uniserver-margins\",\"version\":1,\"generated\":\"2025-01-01T12:00:00Z\","
        "\"uri\":\"x\",\"complete\":true,\"margins\":[{\"domain\":\"cpu0\",\"kind\":\"cpufreq\","
        "\"param\":\"frequency_mhz\",\"nominal\":1200,\"limit\":2400,\"direction\":\"up\","
        "\"status\":\"limit\",\"partial\":false,\"last_clean\":2400,\"safe\":2200,"
        "\"guard_band\":200,\"conditions\":{\"frequency_mhz\":null}},"
        /* a cpufreq sweep: from its lowest frequency up to nominal, the top */
        "{\"domain\":\"cpu2\",\"kind\":\"cpufreq\",\"param\":\"frequency_mhz\",\"nominal\":2600,"
        "\"limit\":2600,\"direction\":\"up\",\"status\":\"limit\",\"partial\":false,"
        "\"last_clean\":2600,\"safe\":2000,\"guard_band\":600,\"conditions\":{\"frequency_mhz\":null},"
        "\"evidence\":[{\"value\":2000},{\"value\":2600}]}]}";
    uni_margins f;
    char why[512] = "";
    (void)state;
    assert_int_equal(uni_margins_parse(v1, strlen(v1), &f, why, sizeof(why)), 0);
    assert_string_equal(f.run, "written 2025-01-01T12:00:00Z");
    assert_string_equal(f.m[0].name, "cpu0:frequency");
    assert_int_equal(f.m[0].measured_s, 1735732800);
    assert_int_equal(f.m[0].safe, 2200);
    assert_string_equal(f.m[1].name, "cpu2:frequency");
    assert_int_equal(f.m[1].safe, 2000);
    uni_margins_free(&f);
}

static void refused(const char *from, const char *to, int want, const char *why_has) {
    _cleanup_free_ char *text = variant(from, to);
    uni_margins f;
    char why[512] = "";
    int r = uni_margins_parse(text, strlen(text), &f, why, sizeof(why));
    if (r != want || !strstr(why, why_has))
        fail_msg("'%s' -> '%s': got %d '%s', want %d with '%s'", from, to, r, why, want, why_has);
    assert_null(f.m);
    assert_int_equal(f.n, 0);
}

static void test_newer_version_refused(void **state) {
    (void)state;
    refused("\"version\": 1", "\"version\": 2", -EPROTONOSUPPORT, "version 2 is newer than this reader's (1)");
    refused("\"version\": 1", "\"version\": 0", -EBADMSG, "version 0");
    refused("\"version\": 1", "\"version\": \"1\"", -EBADMSG, "\"version\"");
}

static void test_malformed_refused(void **state) {
    (void)state;
    refused("uniserver-margins", "uniserver-margin", -EBADMSG, "schema");
    refused("\"safe\": 910", "\"safe\": \"910\"", -EBADMSG, "(pmd0): \"safe\" is missing or not an integer");
    refused("\"safe\": 910", "\"safe\": 910.5", -EBADMSG, "\"safe\"");
    refused("\"safe\": 910", "\"safe\": -910", -EBADMSG, "\"safe\" is out of range");
    refused("\"safe\": 910", "\"safe\": 99999999999999999999", -EBADMSG, "\"safe\"");
    /* A safe value past the last clean step, or beyond nominal: a damaged file, not a margin. */
    refused("\"safe\": 910, \"guard_band\": 5", "\"safe\": 900, \"guard_band\": 5", -EBADMSG,
            "safe 900 is outside the search's first step 980 .. last_clean 905");
    refused("\"safe\": 910, \"guard_band\": 5", "\"safe\": 990, \"guard_band\": 85", -EBADMSG, "safe 990");
    refused("\"guard_band\": 5", "\"guard_band\": 10", -EBADMSG, "guard_band 10 is not the distance");
    refused("\"last_clean\": 905", "\"last_clean\": 700", -EBADMSG, "last_clean 700 is outside");
    refused("\"evidence\": [], \"measured\"", "\"evidence\": [{\"value\": 900}], \"measured\"", -EBADMSG,
            "last_clean 905 is outside the search's first step 900 .. limit 800");
    refused("\"evidence\": [], \"measured\"", "\"evidence\": [{\"value\": \"x\"}], \"measured\"", -EBADMSG,
            "evidence[0]");
    refused("\"limit\": 800", "\"limit\": 1000", -EBADMSG, "limit 1000 is on the wrong side of nominal 980");
    refused("\"last_clean\": 905", "\"last_clean\": null", -EBADMSG, "all be null or all be numbers");
    refused("\"direction\": \"down\"", "\"direction\": \"left\"", -EBADMSG, "direction \"left\" is neither");
    refused("\"param\": \"voltage_mv\"", "\"param\": \"voltage\"", -EBADMSG, "unknown param");
    refused("\"domain\": \"pmd0\"", "\"domain\": \"pmd.0\"", -EBADMSG, "is not a name");
    refused("\"status\": \"failure\"", "\"status\": \"fine\"", -EBADMSG, "unknown status");
    refused("\"partial\": false", "\"partial\": 0", -EBADMSG, "\"partial\"");
    refused("\"frequency_mhz\": 2400", "\"frequency_mhz\": 0", -EBADMSG, "not a frequency");
    /* The same search twice: which one would be the margin? */
    {
        _cleanup_free_ char *once = variant("\"frequency_mhz\": 1200", "\"frequency_mhz\": 2400");
        char *twice = strstr(once, "\"pmd1\"");
        uni_margins f;
        char why[512] = "";
        assert_non_null(twice);
        twice[4] = '0';
        assert_int_equal(uni_margins_parse(once, strlen(once), &f, why, sizeof(why)), -EBADMSG);
        assert_string_equal(why, "margins[2] repeats the search pmd0:voltage@2400MHz of margins[0]");
    }
    refused("\"measured\": \"2026-12-07T02:55:00Z\"", "\"measured\": \"yesterday\"", -EBADMSG, "\"measured\"");
    refused("\"generated\": \"2026-12-07T03:00:00Z\"", "\"generated\": \"2026-12-07 03:00:00\"", -EBADMSG,
            "\"generated\"");
    refused("\"margins\": [", "\"margins\": {\"x\": [", -EBADMSG, "not JSON");
    refused(" ]}\n", " ]}\n{}", -EBADMSG, "text after the JSON object");
    refused(" ]}\n", " ]", -EBADMSG, "not JSON");
    refused("\"complete\": false", "\"complete\": \"no\"", -EBADMSG, "\"complete\"");
}

static void test_load(void **state) {
    char dir[] = "/tmp/test-margins-XXXXXX", path[64], why[512] = "";
    uni_margins f;
    FILE *o;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/margins.json", dir);
    assert_int_equal(uni_margins_load(path, &f, why, sizeof(why)), -ENOENT);
    assert_non_null(strstr(why, "no margins file at"));
    assert_non_null(o = fopen(path, "w"));
    fputs(good, o);
    fclose(o);
    assert_int_equal(uni_margins_load(path, &f, why, sizeof(why)), 0);
    assert_int_equal(f.n, 3);
    uni_margins_free(&f);
    assert_non_null(o = fopen(path, "w"));
    fputs("{\"schema\":\"uniserver-margins\",\"version\":7}", o);
    fclose(o);
    assert_int_equal(uni_margins_load(path, &f, why, sizeof(why)), -EPROTONOSUPPORT);
    assert_non_null(strstr(why, path)); /* the reason names the file */
    unlink(path);
    assert_int_equal(uni_margins_load(dir, &f, why, sizeof(why)) < 0, 1);
    rmdir(dir);
}

static void test_iso_utc(void **state) {
    int64_t t = 0;
    (void)state;
    assert_int_equal(uni_parse_iso_utc("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(uni_parse_iso_utc("2026-12-07T02:55:00Z", &t), 0);
    assert_int_equal(t, 1796612100);
    assert_int_equal(uni_parse_iso_utc("2026-12-07T02:55:00", &t), -EINVAL);
    assert_int_equal(uni_parse_iso_utc("2026-12-07T02:55:00Z ", &t), -EINVAL);
    assert_int_equal(uni_parse_iso_utc("2026-13-07T02:55:00Z", &t), -EINVAL);
    assert_int_equal(uni_parse_iso_utc("", &t), -EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_minimal_v1),
        cmocka_unit_test(test_newer_version_refused),
        cmocka_unit_test(test_malformed_refused),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_iso_utc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
