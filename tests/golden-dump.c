/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Golden-file generator: the whole host record of a fixture tree, twice. Sample 1 is the tree as
 * it is; then every file under DIR/next/ is written over its twin (in place, so the driver's
 * kept-open fds see it, as they would see the kernel's new values), the clock advances exactly
 * 1000 ms, and sample 2 shows the rates. Run on a copy of the fixture: it modifies the tree. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "lib/internal.h"
#include "lib/exposition.h"
#include "shell/format.h"

static uint64_t fake_ns = 1000000000ull;
static uint64_t fake_clock(void) {
    return fake_ns;
}
static int64_t fake_wall(void) {
    return 1764000000000ll + (int64_t)(fake_ns / 1000000);
}

/* Copy every regular file of src/rel into dst/rel, truncating in place. */
static int overlay(const char *src, const char *dst, const char *rel) {
    char sp[8192], dp[8192];
    DIR *d;
    struct dirent *de;
    int r = 0;

    snprintf(sp, sizeof(sp), "%s/%s", src, rel);
    d = opendir(sp);
    if (!d)
        return -errno;
    while ((de = readdir(d)) && r == 0) {
        char nrel[4096], buf[1 << 16];
        struct stat st;
        if (de->d_name[0] == '.')
            continue;
        snprintf(nrel, sizeof(nrel), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        snprintf(sp, sizeof(sp), "%s/%s", src, nrel);
        if (stat(sp, &st) < 0)
            return -errno;
        if (S_ISDIR(st.st_mode)) {
            r = overlay(src, dst, nrel);
            continue;
        }
        snprintf(dp, sizeof(dp), "%s/%s", dst, nrel);
        {
            _cleanup_close_ int in = open(sp, O_RDONLY | O_CLOEXEC);
            _cleanup_close_ int out = open(dp, O_WRONLY | O_TRUNC | O_CLOEXEC);
            ssize_t n;
            if (in < 0 || out < 0) {
                fprintf(stderr, "overlay %s -> %s: %s\n", sp, dp, strerror(errno));
                r = -EIO;
                break;
            }
            while ((n = read(in, buf, sizeof(buf))) > 0)
                if (write(out, buf, (size_t)n) != n) {
                    r = -EIO;
                    break;
                }
        }
    }
    closedir(d);
    return r;
}

static bool json;
static int prom; /* 1: classic text, 2: OpenMetrics, of the last sample only */
static uniRecordPtr last;

static int dump(uniConnectPtr c, const char *title) {
    uniRecordPtr rec = NULL;
    if (uniNodeGetStats(c, NULL, &rec, 0) < 0) {
        fprintf(stderr, "uniNodeGetStats: %s\n", uniGetLastError()->message);
        return -1;
    }
    if (prom) {
        uniRecordFree(last);
        last = rec;
        return 0;
    }
    if (json)
        fmt_record_json(stdout, rec);
    else {
        printf("## %s (window_ms %lld)\n", title, uniRecordGetWindowMs(rec));
        fmt_record_text(stdout, rec, true);
    }
    uniRecordFree(rec);
    return 0;
}

/* Every series name the catalogue declares for /metrics (a counter's with _total, a text's with
 * _info), by the exposition's own rules; not the KVM statistics, named by the kernel at run time. */
static int catalogue_names(void) {
    _cleanup_free_ prom_desc *pd = NULL;
    if (prom_map_init(uni_catalog, UNI_NMETRICS, &pd) < 0)
        return 1;
    for (unsigned i = 0; i < UNI_NMETRICS; i++)
        if (!pd[i].skip && !pd[i].kvm_name)
            printf("%s%s\n", pd[i].name,
                   pd[i].type == UNI_METRIC_COUNTER ? "_total"
                   : pd[i].type == UNI_METRIC_TEXT  ? "_info"
                                                    : "");
    return 0;
}

int main(int argc, char **argv) {
    char uri[8192], next[4096];
    struct stat st;
    uniConnectPtr c;

    if (argc == 2 && streq(argv[1], "--catalogue-names"))
        return catalogue_names();
    if (argc == 3 && streq(argv[2], "--json"))
        json = true; /* one JSON object per line and sample, full precision */
    else if (argc == 3 && streq(argv[2], "--prometheus"))
        prom = 1;
    else if (argc == 3 && streq(argv[2], "--openmetrics"))
        prom = 2;
    else if (argc != 2) {
        fprintf(stderr, "usage: golden-dump FIXTURE_COPY_DIR [--json|--prometheus|--openmetrics]\n"
                        "       golden-dump --catalogue-names\n");
        return 2;
    }
    uni_clock_ns = fake_clock;
    uni_clock_wall_ms = fake_wall;
    /* The HealthLog and the margins file of the fixture (none unless the fixture has one), never
     * this machine's. */
    snprintf(uri, sizeof(uri),
             "uniserver:///system?procfs=%s/proc&sysfs=%s/sys&healthlog=%s/healthlog.db&margins=%s/margins.json",
             argv[1], argv[1], argv[1], argv[1]);
    c = uniConnectOpen(uri, 0);
    if (!c) {
        fprintf(stderr, "open: %s: %s\n", uniErrorCodeName(uniGetLastError()->code), uniGetLastError()->message);
        return 1;
    }
    if (dump(c, "sample 1") < 0)
        return 1;
    snprintf(next, sizeof(next), "%s/next", argv[1]);
    if (stat(next, &st) == 0) {
        if (overlay(next, argv[1], "") < 0)
            return 1;
        fake_ns += 1000000000ull;
        if (dump(c, "sample 2: next/ applied, 1000 ms later") < 0)
            return 1;
    }
    if (prom && last) {
        prom_desc *pd = NULL;
        prom_record pr = {.rec = last};
        char *text = NULL;
        size_t len;
        if (prom_map_init(uni_catalog, UNI_NMETRICS, &pd) < 0 ||
            prom_render(&pr, 1, uni_catalog, pd, UNI_NMETRICS, prom == 2, &text, &len) < 0)
            return 1;
        fwrite(text, 1, len, stdout);
        free(text);
        free(pd);
        uniRecordFree(last);
    }
    uniConnectClose(c);
    return 0;
}
