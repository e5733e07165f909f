/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /metrics' HTTP request parser on literal requests: complete, incomplete, malformed, and the
 * header lists (Accept, Accept-Encoding, Connection) and basic auth it decides on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/http_auth.h"
#include "daemon/http_request.h"

static ssize_t parse(const char *s, http_request *r) {
    return http_parse_request(s, strlen(s), r);
}

static void test_complete(void **state) {
    const char *s =
        "GET /metrics?x=1 HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\nAccept: application/openmetrics-text;"
        "version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    http_request r;
    (void)state;
    assert_int_equal(parse(s, &r), strstr(s, "\r\n\r\n") + 4 - s);
    assert_int_equal(r.method_len, 3);
    assert_memory_equal(r.method, "GET", 3);
    assert_int_equal(r.path_len, 8);
    assert_memory_equal(r.path, "/metrics", 8);
    assert_true(r.keep_alive && r.gzip && r.openmetrics);
    assert_int_equal(r.minor, 1);
    assert_null(r.authorization);
    /* Bare LFs, leading empty lines, absolute-form, HTTP/1.0 without keep-alive. */
    assert_int_equal(parse("\r\nHEAD http://h:9177/metrics HTTP/1.0\nConnection: x, Keep-Alive\n\n", &r), 65);
    assert_memory_equal(r.path, "/metrics", 8);
    assert_true(r.keep_alive);
    assert_true(parse("GET / HTTP/1.0\r\n\r\n", &r) > 0);
    assert_false(r.keep_alive);
    assert_true(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 12\r\n\r\n", &r) > 0);
    assert_false(r.keep_alive);
    assert_int_equal(r.content_length, 12);
}

static void test_incomplete(void **state) {
    http_request r;
    (void)state;
    assert_int_equal(parse("", &r), 0);
    assert_int_equal(parse("\r\n\r\n", &r), 0);
    assert_int_equal(parse("GET /metr", &r), 0);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: h\r\n", &r), 0);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: h\r\n\r", &r), 0);
}

static void test_malformed(void **state) {
    static const char *const bad[] = {
        "GET /metrics\r\n\r\n",
        "GET  /metrics HTTP/1.1\r\n\r\n",
        "GET /metrics  HTTP/1.1\r\n\r\n",
        "GET metrics HTTP/1.1\r\n\r\n",
        "G(T /metrics HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1 \r\n\r\n",
        "GET /metrics HTTP/1.10\r\n\r\n",
        "GET /metrics http/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1\r\n folded\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nName : v\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nNo colon\r\n\r\n",
        "GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nX: a\rb\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    };
    http_request r;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (parse(bad[i], &r) != -EBADMSG)
            fail_msg("accepted: %s", bad[i]);
    assert_int_equal(http_parse_request("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 27, &r), -EBADMSG);
    assert_int_equal(parse("GET / HTTP/2.0\r\n\r\n", &r), -EPROTONOSUPPORT);
    assert_int_equal(parse("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r), -EOPNOTSUPP);
    /* The same length twice is one length. */
    assert_true(parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", &r) > 0);
    /* RFC 9112 3.2: HTTP/1.1 needs exactly one Host header (HTTP/1.0 none). */
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\n\r\n", &r), -EBADMSG);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", &r), -EBADMSG);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nhost: a\r\nHOST: a\r\n\r\n", &r), -EBADMSG);
    assert_true(parse("GET /metrics HTTP/1.1\r\nhost: a\r\n\r\n", &r) > 0);
    assert_true(parse("GET /metrics HTTP/1.0\r\n\r\n", &r) > 0);
}

static void test_lists(void **state) {
    (void)state;
    assert_true(http_list_has("gzip", 4, "gzip"));
    assert_true(http_list_has("deflate, GZIP;q=0.5", 19, "gzip"));
    assert_false(http_list_has("gzip;q=0", 8, "gzip"));
    assert_false(http_list_has("gzip; q=0.000, br", 17, "gzip"));
    assert_false(http_list_has("x-gzip", 6, "gzip"));
    assert_false(http_list_has("gzipx", 5, "gzip"));
    assert_false(http_list_has("", 0, "gzip"));
    assert_true(
        http_list_has("text/plain, application/openmetrics-text; version=1.0.0", 56, "application/openmetrics-text"));
}

static void test_basic_credentials(void **state) {
    char out[64];
    (void)state;
    /* base64("scraper:s3cret") */
    assert_int_equal(http_basic_credentials("Basic c2NyYXBlcjpzM2NyZXQ=", 26, out, sizeof(out)), 14);
    assert_string_equal(out, "scraper:s3cret");
    assert_int_equal(http_basic_credentials("basic   c2NyYXBlcjpzM2NyZXQ=", 28, out, sizeof(out)), 14);
    assert_int_equal(http_basic_credentials("Basic c2NyYXBlcjpzM2NyZXQ=x", 27, out, sizeof(out)), -1);
    assert_int_equal(http_basic_credentials("Bearer c2NyYXBlcjpzM2NyZXQ=", 27, out, sizeof(out)), -1);
    assert_int_equal(http_basic_credentials("Basic c2NyYXBl*jpzM2NyZXQ=", 26, out, sizeof(out)), -1);
    assert_int_equal(http_basic_credentials(NULL, 0, out, sizeof(out)), -1);
    /* Credentials longer than the room are refused, not cut. */
    assert_int_equal(http_basic_credentials("Basic c2NyYXBlcjpzM2NyZXQ=", 26, out, 14), -1);
    assert_int_equal(http_basic_credentials("Basic c2NyYXBlcjpzM2NyZXQ=", 26, out, 15), 14);
}

/* Hashes of "s3cret": mkpasswd -m bcrypt / -m yescrypt (Debian package whois); $2y$ is what
 * htpasswd -B writes, the same algorithm. */
#define BCRYPT "$2b$05$y43kwnJcIzo3F.odrhoF1.xJwfAeZY8Tekdus/n53/glHqFwrKEyO"
#define BCRYPT_2Y "$2y$05$y43kwnJcIzo3F.odrhoF1.xJwfAeZY8Tekdus/n53/glHqFwrKEyO"
#define YESCRYPT "$y$j9T$.9NOlj1bhS3x0Y6F1xVxn/$RQGmuib8dNu76o8j/hxqh4FS08262yiO9mov0jyyiX6"

static void test_hashed_auth(void **state) {
    static const char *const hashes[] = {"scraper:" BCRYPT, "scraper:" BCRYPT_2Y, "scraper:" YESCRYPT};
    char why[512];
    (void)state;
    for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
        http_auth *a = http_auth_new(hashes[i], why, sizeof(why));
        assert_non_null(a);
        assert_true(http_auth_ok(a, "Basic c2NyYXBlcjpzM2NyZXQ=", 26));  /* scraper:s3cret */
        assert_true(http_auth_ok(a, "Basic c2NyYXBlcjpzM2NyZXQ=", 26));  /* again, from the cache */
        assert_false(http_auth_ok(a, "Basic c2NyYXBlcjpzM2NyZXg=", 26)); /* scraper:s3crex */
        assert_false(http_auth_ok(a, "Basic c2NyYXBlcjpzM2NyZQ==", 26)); /* scraper:s3cre */
        assert_false(http_auth_ok(a, "Basic c2NyYXBlcnM6czNjcmV0", 26)); /* scrapers:s3cret */
        assert_false(http_auth_ok(a, "Basic c2NyYXBlcg==", 18));         /* scraper, no colon */
        assert_false(http_auth_ok(a, "Basic OnMzY3JldA==", 18));         /* :s3cret */
        assert_false(http_auth_ok(a, NULL, 0));
        assert_true(http_auth_ok(a, "Basic c2NyYXBlcjpzM2NyZXQ=", 26));
        http_auth_free(a);
    }
}

static void test_plain_or_broken_hash_refused(void **state) {
    char why[512] = "";
    (void)state;
    assert_null(http_auth_new("scraper:s3cret", why, sizeof(why)));
    assert_non_null(strstr(why, "must be a bcrypt ($2b$) or yescrypt ($y$) hash, not plain text"));
    assert_non_null(strstr(why, "mkpasswd -m bcrypt -R 12"));
    assert_null(http_auth_new("scraper:$6$salt$abc", why, sizeof(why))); /* sha512crypt: not accepted */
    assert_non_null(strstr(why, "not plain text"));
    assert_null(http_auth_new("$2b$05$y43kwnJcIzo3F.odrhoF1.xJwfAeZY8Tekdus/n53/glHqFwrKEyO", why, sizeof(why)));
    assert_null(http_auth_new(":" BCRYPT, why, sizeof(why)));
    assert_non_null(strstr(why, "USER:HASH"));
    /* Cut short, or only the salt: would refuse every password. */
    assert_null(http_auth_new("scraper:$2b$05$y43kwnJcIzo3F.odrhoF1.xJwfAeZY8Tekdus/n53/glHqFwrKE", why, sizeof(why)));
    assert_non_null(strstr(why, "is not a whole bcrypt or yescrypt hash"));
    assert_null(http_auth_new("scraper:$2b$05$y43kwnJcIzo3F.odrhoF1.", why, sizeof(why)));
    assert_null(http_auth_new("scraper:$y$j9T$.9NOlj1bhS3x0Y6F1xVxn/", why, sizeof(why)));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete),
        cmocka_unit_test(test_incomplete),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_basic_credentials),
        cmocka_unit_test(test_hashed_auth),
        cmocka_unit_test(test_plain_or_broken_hash_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
