/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of uni-healthd's pure parts: machine-check status decoding against values from the
 * Intel SDM and AMD's manuals, tracefs format files and ring-buffer pages built byte by byte
 * (good, truncated, damaged), the RAS records' conversion, SMBIOS type 17 records, EDAC trees
 * of both layouts, rasdaemon's timestamps. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "healthd/healthd.h"
#include "healthd/uni-healthd.h"

/* ---- machine checks ---- */

static void test_mca_intel(void **state) {
    mca_decoded d;
    (void)state;
    /* A patrol-scrub-like corrected memory read error with CMCI: VAL OVER MISCV ADDRV, MCACOD
     * 0000 0000 1001 0000 (memory controller, MMM=001 read, channel 0), MSCOD 1, count 2. */
    mca_decode(0xcc00008000010090ull, 1u << 10, 0, MCA_VENDOR_INTEL, &d);
    assert_true(d.val && d.over && !d.uc && d.miscv && d.addrv && !d.pcc);
    assert_int_equal(d.mcacod, 0x0090);
    assert_int_equal(d.mscod, 0x0001);
    assert_string_equal(d.component, "dram");
    assert_string_equal(d.severity, "corrected");
    assert_true(d.have_count);
    assert_int_equal(d.corrected_count, 2);
    assert_string_equal(d.desc, "memory controller error: read, channel 0");
    /* Without CMCI in MCG_CAP the count bits are not a count. */
    mca_decode(0xcc00008000010090ull, 0, 0, MCA_VENDOR_INTEL, &d);
    assert_false(d.have_count);
    /* SDM's SRAR data load (MCACOD 0x134: cache hierarchy, data read, data, L0): UC, S, AR, no PCC. */
    mca_decode(0xbd80000000100134ull, 1u << 10, 0, MCA_VENDOR_INTEL, &d);
    assert_true(d.uc && d.s && d.ar && !d.pcc && d.addrv && d.miscv);
    assert_string_equal(d.severity, "uncorrected");
    assert_string_equal(d.component, "l1");
    assert_string_equal(d.desc, "cache hierarchy error: L0, data, data read");
    assert_false(d.have_count);
    /* SRAR instruction fetch, MCACOD 0x150. */
    mca_decode(0xbd80000000000150ull, 0, 0, MCA_VENDOR_INTEL, &d);
    assert_string_equal(d.component, "l1");
    assert_string_equal(d.desc, "cache hierarchy error: L0, instruction, instruction fetch");
    /* L2 (MLC) generic read, MCACOD 0x010a with the filter bit 12 set: 0x110a. */
    mca_decode(0x900000400000110aull, 1u << 10, 0, MCA_VENDOR_INTEL, &d);
    assert_string_equal(d.component, "l2");
    assert_string_equal(d.severity, "corrected");
    assert_string_equal(d.desc, "cache hierarchy error: L2, generic, generic");
    /* Memory scrubbing (SRAO 0xC0-0xCF), channel 3. */
    mca_decode(0xbc000000000000c3ull, 0, 0, MCA_VENDOR_INTEL, &d);
    assert_string_equal(d.component, "dram");
    assert_string_equal(d.desc, "memory controller error: scrubbing, channel 3");
    /* Address/command error, channel not specified: the controller's own. */
    mca_decode(0x90000000000000bfull, 0, 0, MCA_VENDOR_INTEL, &d);
    assert_string_equal(d.component, "mcu");
    assert_string_equal(d.desc, "memory controller error: address/command, channel not specified");
    /* Internal parity error with PCC: fatal. */
    mca_decode(0xb200000000000005ull, 0, 0, MCA_VENDOR_INTEL, &d);
    assert_string_equal(d.severity, "fatal");
    assert_string_equal(d.component, "core");
    assert_string_equal(d.desc, "internal parity error");
    /* Internal timer, internal unclassified, generic I/O. */
    mca_decode(0x9000000000000400ull, 0, 0, MCA_VENDOR_INTEL, &d);
    assert_string_equal(d.desc, "internal timer error");
    mca_decode(0x9000000000000401ull, 0, 0, MCA_VENDOR_INTEL, &d);
    assert_string_equal(d.desc, "internal unclassified error (0x0401)");
    mca_decode(0x9000000000000e0bull, 0, 0, MCA_VENDOR_INTEL, &d);
    assert_string_equal(d.component, "bus");
    assert_string_equal(d.desc, "generic I/O error");
    /* TLB: 0000 0000 0001 0100: data TLB, level 0. */
    mca_decode(0x9000000000000014ull, 0, 0, MCA_VENDOR_INTEL, &d);
    assert_string_equal(d.component, "tlb");
    assert_string_equal(d.desc, "TLB error: L0, data");
    /* Bus and interconnect: 0000 1110 0001 1111: generic participation, timeout? no (T=0),
     * read request, other transaction, generic level. */
    mca_decode(0x9000000000000e1full, 0, 0, MCA_VENDOR_INTEL, &d);
    assert_string_equal(d.component, "bus");
    assert_string_equal(d.desc, "bus/interconnect error: generic level, generic, read, other transaction");
    mca_decode(0x9000000000000f1full, 0, 0, MCA_VENDOR_INTEL, &d);
    assert_string_equal(d.desc, "bus/interconnect error: generic level, generic, read, other transaction, timeout");
    /* Generic cache hierarchy, level 2 (0000 0000 0000 1110). */
    mca_decode(0x900000000000000eull, 0, 0, MCA_VENDOR_INTEL, &d);
    assert_string_equal(d.component, "l2");
    /* Not valid: recorded as information. */
    mca_decode(0x1000000000000090ull, 0, 0, MCA_VENDOR_INTEL, &d);
    assert_false(d.val);
    assert_string_equal(d.severity, "info");
}

static void test_mca_amd(void **state) {
    mca_decoded d;
    (void)state;
    /* Zen (SMCA): a corrected error in the unified memory controller, MCA_IPID HardwareID 0x96,
     * McaType 0 (instance 0x50f00): DRAM, whatever the error code says. */
    mca_decode(0x9c20400000000000ull | 0x0008, 0, 0x0000009600050f00ull, MCA_VENDOR_AMD, &d);
    assert_string_equal(d.component, "dram");
    assert_string_equal(d.severity, "corrected");
    assert_non_null(strstr(d.desc, "(unified memory controller)"));
    /* L3 cache (HardwareID 0xB0, McaType 7): the LL bits would say L2. */
    mca_decode(0x982000000002010aull, 0, 0x000700b000000000ull, MCA_VENDOR_AMD, &d);
    assert_string_equal(d.component, "l3");
    /* Load-store unit: L1. */
    mca_decode(0x9020000000000135ull, 0, 0x000000b000000000ull, MCA_VENDOR_AMD, &d);
    assert_string_equal(d.component, "l1");
    /* Deferred (bit 44), UC clear. */
    mca_decode(0x8400100000000000ull, 0, 0, MCA_VENDOR_AMD, &d);
    assert_true(d.deferred);
    assert_string_equal(d.severity, "deferred");
    /* Bit 44 means nothing on Intel. */
    mca_decode(0x8400100000000000ull, 0, 0, MCA_VENDOR_INTEL, &d);
    assert_string_equal(d.severity, "corrected");
    /* Pre-SMCA (no IPID): the generic level of AMD's northbridge is L3. */
    mca_decode(0x9000000000000113ull, 0, 0, MCA_VENDOR_AMD, &d);
    assert_string_equal(d.component, "l3");
    /* An IPID this table does not know leaves the error code's answer. */
    mca_decode(0x9000000000000113ull, 0, 0x0001000500000000ull, MCA_VENDOR_AMD, &d);
    assert_string_equal(d.component, "l3");
}

/* ---- tracefs ---- */

static const char mc_event_format[] = "name: mc_event\n"
                                      "ID: 1234\n"
                                      "format:\n"
                                      "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
                                      "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
                                      "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
                                      "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
                                      "\n"
                                      "\tfield:unsigned int error_type;\toffset:8;\tsize:4;\tsigned:0;\n"
                                      "\tfield:__data_loc char[] msg;\toffset:12;\tsize:4;\tsigned:0;\n"
                                      "\tfield:__data_loc char[] label;\toffset:16;\tsize:4;\tsigned:0;\n"
                                      "\tfield:u16 error_count;\toffset:20;\tsize:2;\tsigned:0;\n"
                                      "\tfield:u8 mc_index;\toffset:22;\tsize:1;\tsigned:0;\n"
                                      "\tfield:s8 top_layer;\toffset:23;\tsize:1;\tsigned:1;\n"
                                      "\tfield:s8 middle_layer;\toffset:24;\tsize:1;\tsigned:1;\n"
                                      "\tfield:s8 lower_layer;\toffset:25;\tsize:1;\tsigned:1;\n"
                                      "\tfield:long address;\toffset:32;\tsize:8;\tsigned:1;\n"
                                      "\tfield:u8 grain_bits;\toffset:40;\tsize:1;\tsigned:0;\n"
                                      "\tfield:long syndrome;\toffset:48;\tsize:8;\tsigned:1;\n"
                                      "\tfield:__data_loc char[] driver_detail;\toffset:56;\tsize:4;\tsigned:0;\n"
                                      "\n"
                                      "print fmt: \"%d %s error%s:%s%s on %s\", REC->error_count, ...\n";

static const char header_page[] = "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
                                  "\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n"
                                  "\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
                                  "\tfield: char data;\toffset:16;\tsize:4080;\tsigned:1;\n";

static void put32(uint8_t *p, uint32_t v) {
    memcpy(p, &v, 4);
}

/* An mc_event record: "memory read error" on DIMM_A1, 3 errors, mc 1, layers 0:2:-1. */
static size_t make_mc_record(uint8_t *r, uint16_t id, uint32_t type) {
    static const char msg[] = "memory read error", label[] = "DIMM_A1", detail[] = "SECDED single-bit error";
    size_t off = 60;
    uint16_t count = 3;
    int64_t addr = 0x12345000, synd = 0x5a;
    memset(r, 0, 128);
    memcpy(r, &id, 2);
    put32(r + 8, type);
    put32(r + 12, (uint32_t)(sizeof(msg) << 16 | off));
    memcpy(r + off, msg, sizeof(msg));
    off += sizeof(msg);
    put32(r + 16, (uint32_t)(sizeof(label) << 16 | off));
    memcpy(r + off, label, sizeof(label));
    off += sizeof(label);
    memcpy(r + 20, &count, 2);
    r[22] = 1;
    r[23] = 0;
    r[24] = 2;
    r[25] = 0xff;
    memcpy(r + 32, &addr, 8);
    r[40] = 6;
    memcpy(r + 48, &synd, 8);
    put32(r + 56, (uint32_t)(sizeof(detail) << 16 | off));
    memcpy(r + off, detail, sizeof(detail));
    off += sizeof(detail);
    return (off + 3) & ~3u;
}

static void test_trace_format(void **state) {
    trace_format f;
    trace_page_layout l;
    const trace_field *fl;
    (void)state;
    assert_int_equal(trace_format_parse(mc_event_format, strlen(mc_event_format), &f), 0);
    assert_string_equal(f.name, "mc_event");
    assert_int_equal(f.id, 1234);
    assert_int_equal(f.nf, 16);
    fl = trace_field_find(&f, "msg");
    assert_non_null(fl);
    assert_true(fl->data_loc);
    assert_int_equal(fl->kind, TF_STR);
    fl = trace_field_find(&f, "middle_layer");
    assert_int_equal(fl->offset, 24);
    assert_true(fl->is_signed);
    trace_format_done(&f);
    assert_int_equal(trace_format_parse("name: x\nformat:\n", 16, &f), -EBADMSG);
    assert_int_equal(trace_format_parse("garbage", 7, &f), -EBADMSG);
    {
        static const char bad[] = "name: x\nID: 7\n\tfield:int a;\toffset:zz;\tsize:4;\tsigned:1;\n";
        assert_int_equal(trace_format_parse(bad, strlen(bad), &f), -EBADMSG);
    }
    {
        static const char arr[] =
            "name: non_standard_event\nID: 9\n\tfield:char sec_type[16];\toffset:8;\tsize:16;\tsigned:0;\n"
            "\tfield:u32 tlp_header[4];\toffset:24;\tsize:16;\tsigned:0;\n"
            "\tfield:__rel_loc char[] rel;\toffset:40;\tsize:4;\tsigned:0;\n";
        assert_int_equal(trace_format_parse(arr, strlen(arr), &f), 0);
        assert_int_equal(trace_field_find(&f, "sec_type")->kind, TF_STR);
        assert_int_equal(trace_field_find(&f, "sec_type")->size, 16);
        assert_int_equal(trace_field_find(&f, "tlp_header")->kind, TF_ARRAY);
        assert_true(trace_field_find(&f, "rel")->rel_loc);
        trace_format_done(&f);
    }
    assert_int_equal(trace_header_page_parse(header_page, strlen(header_page), &l), 0);
    assert_int_equal(l.commit_off, 8);
    assert_int_equal(l.commit_size, 8);
    assert_int_equal(l.data_off, 16);
    assert_int_equal(l.page_size, 4096);
    assert_int_equal(trace_header_page_parse("nothing", 7, &l), -EBADMSG);
}

typedef struct {
    int n;
    size_t len[8];
    uint64_t ts[8];
    uint16_t type[8];
} seen;

static int collect(void *u, const uint8_t *rec, size_t len, uint64_t ts) {
    seen *s = u;
    if (s->n < 8) {
        s->len[s->n] = len;
        s->ts[s->n] = ts;
        memcpy(&s->type[s->n], rec, 2);
    }
    s->n++;
    return 0;
}

/* A page: an 8-byte record (type_len 2, delta 5), a time extend, a 140-byte record (type_len 0:
 * array[0] = length + 4), padding, then a 12-byte record. */
static size_t make_page(uint8_t *page, uint64_t commit_extra) {
    uint8_t *p = page + 16;
    uint64_t ts = 1000, commit;
    uint16_t t1 = 7, t2 = 8, t3 = 9;
    memset(page, 0, 4096);
    memcpy(page, &ts, 8);
    put32(p, 2 | 5u << 5);
    memcpy(p + 4, &t1, 2);
    p += 12;
    put32(p, 30 | 3u << 5); /* time extend: (1 << 27) + 3 */
    put32(p + 4, 1);
    p += 8;
    put32(p, 0 | 10u << 5);
    put32(p + 4, 144);
    memcpy(p + 8, &t2, 2);
    p += 8 + 140;
    put32(p, 29 | 1u << 5); /* padding of 8 bytes after its header */
    put32(p + 4, 8);
    p += 4 + 8;
    put32(p, 3 | 2u << 5);
    memcpy(p + 4, &t3, 2);
    p += 16;
    commit = (uint64_t)(p - page - 16) + commit_extra;
    memcpy(page + 8, &commit, 8);
    return (size_t)(p - page);
}

static void test_trace_pages(void **state) {
    trace_page_layout l;
    uint8_t page[4096];
    seen s;
    bool lost;
    uint64_t c;
    (void)state;
    assert_int_equal(trace_header_page_parse(header_page, strlen(header_page), &l), 0);
    make_page(page, 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(trace_page_walk(&l, page, sizeof(page), collect, &s, &lost), 3);
    assert_false(lost);
    assert_int_equal(s.type[0], 7);
    assert_int_equal(s.len[0], 8);
    assert_true(s.ts[0] == 1005);
    assert_int_equal(s.type[1], 8);
    assert_int_equal(s.len[1], 140);
    assert_true(s.ts[1] == 1005 + (1ull << 27) + 3 + 10);
    assert_int_equal(s.type[2], 9);
    assert_int_equal(s.len[2], 12);
    assert_true(s.ts[2] == s.ts[1] + 1 + 2);
    /* Lost events are flagged in the commit word. */
    memcpy(&c, page + 8, 8);
    c |= 1ull << 31;
    memcpy(page + 8, &c, 8);
    memset(&s, 0, sizeof(s));
    assert_int_equal(trace_page_walk(&l, page, sizeof(page), collect, &s, &lost), 3);
    assert_true(lost);
    /* Truncated: the page says more data than arrived; the complete records still come. */
    {
        size_t used = make_page(page, 0);
        memset(&s, 0, sizeof(s));
        assert_int_equal(trace_page_walk(&l, page, used - 6, collect, &s, NULL), -EBADMSG);
        assert_int_equal(s.n, 2);
    }
    /* Damaged: a commit beyond the page, and a record longer than the data. */
    make_page(page, 8000);
    memset(&s, 0, sizeof(s));
    assert_int_equal(trace_page_walk(&l, page, sizeof(page), collect, &s, NULL), -EBADMSG);
    assert_int_equal(s.n, 3);
    make_page(page, 0);
    put32(page + 16 + 12 + 8 + 4, 60000);
    memset(&s, 0, sizeof(s));
    assert_int_equal(trace_page_walk(&l, page, sizeof(page), collect, &s, NULL), -EBADMSG);
    assert_int_equal(s.n, 1);
    /* A page shorter than its header. */
    assert_int_equal(trace_page_walk(&l, page, 10, collect, &s, NULL), -EBADMSG);
    /* An empty page. */
    memset(page, 0, sizeof(page));
    assert_int_equal(trace_page_walk(&l, page, sizeof(page), collect, &s, NULL), 0);
}

static void test_ras_mc_event(void **state) {
    trace_format f;
    uint8_t rec[128];
    size_t len;
    ras_record o;
    (void)state;
    assert_int_equal(trace_format_parse(mc_event_format, strlen(mc_event_format), &f), 0);
    f.system = strdup("ras");
    len = make_mc_record(rec, 1234, 0);
    assert_int_equal(ras_record_convert(&f, rec, len, false, &o), 0);
    assert_string_equal(o.ev.source, "mc_event");
    assert_string_equal(o.ev.class, "memory");
    assert_string_equal(o.ev.component, "dram");
    assert_string_equal(o.ev.severity, "corrected");
    assert_string_equal(o.ev.bits, "single");
    assert_string_equal(o.ev.dimm, "DIMM_A1");
    assert_true(o.ev.count == 3 && o.ev.mc == 1 && o.ev.address == 0x12345000 && o.ev.syndrome == 0x5a);
    assert_string_equal(o.ev.location, "mc1 layers 0:2");
    assert_string_equal(o.ev.message, "memory read error on DIMM_A1");
    assert_string_equal(o.ev.detail, "SECDED single-bit error; grain 64 bytes");
    assert_true(HL_HAS(&o.ev, counted) && o.ev.counted == 1);
    /* Uncorrected. */
    len = make_mc_record(rec, 1234, 1);
    assert_int_equal(ras_record_convert(&f, rec, len, false, &o), 0);
    assert_string_equal(o.ev.severity, "uncorrected");
    /* A string that points outside the record, and a record cut short. */
    put32(rec + 12, 200u << 16 | 60);
    assert_int_equal(ras_record_convert(&f, rec, len, false, &o), -EBADMSG);
    make_mc_record(rec, 1234, 0);
    assert_int_equal(ras_record_convert(&f, rec, 30, false, &o), -EBADMSG);
    /* Not ours. */
    free(f.system);
    f.system = strdup("sched");
    assert_int_equal(ras_record_convert(&f, rec, len, false, &o), -ENOENT);
    trace_format_done(&f);
    assert_string_equal(ras_bits_from_text("Multi-bit ECC error"), "multi");
    assert_string_equal(ras_bits_from_text("double bit"), "multi");
    assert_string_equal(ras_bits_from_text("single bit"), "single");
    assert_null(ras_bits_from_text("memory read error"));
}

static void test_ras_mce(void **state) {
    static const char fmt[] = "name: mce_record\nID: 99\nformat:\n"
                              "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
                              "\tfield:u64 mcgcap;\toffset:8;\tsize:8;\tsigned:0;\n"
                              "\tfield:u64 mcgstatus;\toffset:16;\tsize:8;\tsigned:0;\n"
                              "\tfield:u64 status;\toffset:24;\tsize:8;\tsigned:0;\n"
                              "\tfield:u64 addr;\toffset:32;\tsize:8;\tsigned:0;\n"
                              "\tfield:u64 misc;\toffset:40;\tsize:8;\tsigned:0;\n"
                              "\tfield:u64 ipid;\toffset:48;\tsize:8;\tsigned:0;\n"
                              "\tfield:u64 walltime;\toffset:56;\tsize:8;\tsigned:0;\n"
                              "\tfield:u32 cpu;\toffset:64;\tsize:4;\tsigned:0;\n"
                              "\tfield:u32 socketid;\toffset:68;\tsize:4;\tsigned:0;\n"
                              "\tfield:u8 bank;\toffset:72;\tsize:1;\tsigned:0;\n"
                              "\tfield:u8 cpuvendor;\toffset:73;\tsize:1;\tsigned:0;\n";
    trace_format f;
    uint8_t rec[80] = {0};
    uint64_t v;
    ras_record o;
    (void)state;
    assert_int_equal(trace_format_parse(fmt, strlen(fmt), &f), 0);
    f.system = strdup("mce");
    v = 1u << 10;
    memcpy(rec + 8, &v, 8);
    v = 0xcc00008000010090ull;
    memcpy(rec + 24, &v, 8);
    v = 0x7654321000ull;
    memcpy(rec + 32, &v, 8);
    rec[64] = 3;
    rec[68] = 1;
    rec[72] = 7;
    assert_int_equal(ras_record_convert(&f, rec, sizeof(rec), false, &o), 0);
    assert_string_equal(o.ev.class, "memory");
    assert_string_equal(o.ev.component, "dram");
    assert_true(o.ev.cpu == 3 && o.ev.socket == 1 && o.ev.bank == 7 && o.ev.count == 2 && o.ev.counted == 1);
    assert_true(o.ev.address == 0x7654321000ll);
    assert_true((uint64_t)o.ev.mca_status == 0xcc00008000010090ull);
    assert_string_equal(o.ev.message, "memory controller error: read, channel 0 (overflow: more errors were lost)");
    /* With ras:mc_event traced, EDAC counts it. */
    assert_int_equal(ras_record_convert(&f, rec, sizeof(rec), true, &o), 0);
    assert_int_equal(o.ev.counted, 0);
    assert_non_null(strstr(o.ev.detail, "counted through EDAC"));
    /* An L2 error is a CPU error whatever the EDAC state. */
    v = 0x900000400000110aull;
    memcpy(rec + 24, &v, 8);
    assert_int_equal(ras_record_convert(&f, rec, sizeof(rec), true, &o), 0);
    assert_string_equal(o.ev.class, "cpu");
    assert_string_equal(o.ev.component, "l2");
    assert_int_equal(o.ev.counted, 1);
    assert_false(HL_HAS(&o.ev, address));
    trace_format_done(&f);
}

/* ---- SMBIOS ---- */

static void test_dmi(void **state) {
    /* SMBIOS 3.2 type 17, 0x28 bytes (up to configured voltage), 16 GB DDR4 at 2933/2666 MT/s. */
    uint8_t raw[0x28 + 64] = {0};
    size_t n = 0x28;
    dmi_memdev m;
    (void)state;
    raw[0] = 17;
    raw[1] = 0x28;
    raw[0x0c] = 0x00;
    raw[0x0d] = 0x40; /* 0x4000 MB */
    raw[0x10] = 1;
    raw[0x11] = 2;
    raw[0x12] = 0x1a;
    raw[0x15] = 2933 & 0xff;
    raw[0x16] = 2933 >> 8;
    raw[0x17] = 3;
    raw[0x1a] = 4;
    raw[0x20] = 2666 & 0xff;
    raw[0x21] = 2666 >> 8;
    memcpy(raw + n, "DIMM_A1\0P0_Node0_Channel0_Dimm0\0Samsung\0M393A2K43CB2-CVF  \0\0", 61);
    assert_int_equal(dmi_parse_type17(raw, n + 61, &m), 0);
    assert_string_equal(m.locator, "DIMM_A1");
    assert_string_equal(m.bank, "P0_Node0_Channel0_Dimm0");
    assert_string_equal(m.manufacturer, "Samsung");
    assert_string_equal(m.part, "M393A2K43CB2-CVF");
    assert_string_equal(m.type, "DDR4");
    assert_true(m.size_mb == 16384 && m.speed_mts == 2933 && m.configured_mts == 2666);
    /* An empty slot. */
    raw[0x0c] = raw[0x0d] = 0;
    assert_int_equal(dmi_parse_type17(raw, n + 61, &m), 0);
    assert_true(m.size_mb == 0);
    /* Extended size (0x7fff) of 32 GB. */
    raw[0x0c] = 0xff;
    raw[0x0d] = 0x7f;
    raw[0x1c] = 0x00;
    raw[0x1d] = 0x80;
    assert_int_equal(dmi_parse_type17(raw, n + 61, &m), 0);
    assert_true(m.size_mb == 32768);
    /* Not type 17; a header longer than the data; an SMBIOS 2.1 record without speeds. */
    raw[0] = 16;
    assert_int_equal(dmi_parse_type17(raw, n, &m), -EBADMSG);
    raw[0] = 17;
    assert_int_equal(dmi_parse_type17(raw, 0x20, &m), -EBADMSG);
    raw[1] = 0x15;
    assert_int_equal(dmi_parse_type17(raw, 0x15 + 2, &m), 0);
    assert_true(m.speed_mts == 0 && m.configured_mts == 0);
}

/* ---- EDAC trees ---- */

static void put_file(int dfd, const char *path, const char *text) {
    char dir[512], *slash;
    int fd;
    snprintf(dir, sizeof(dir), "%s", path);
    for (slash = strchr(dir, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = 0;
        (void)mkdirat(dfd, dir, 0755);
        *slash = '/';
    }
    fd = openat(dfd, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static int tmp_tree(char *dir) {
    strcpy(dir, "/tmp/uni-edac-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return open(dir, O_RDONLY | O_DIRECTORY);
}

static void test_edac_layouts(void **state) {
    char dir[64], cmd[128];
    int fd = tmp_tree(dir);
    edac_scan s;
    (void)state;
    assert_int_equal(edac_read(fd, &s), -ENOENT);
    /* mc0: per-DIMM layout, one labelled DIMM and one without a label. */
    put_file(fd, "devices/system/edac/mc/mc0/ce_noinfo_count", "4\n");
    put_file(fd, "devices/system/edac/mc/mc0/ue_noinfo_count", "0\n");
    put_file(fd, "devices/system/edac/mc/mc0/dimm0/dimm_ce_count", "7\n");
    put_file(fd, "devices/system/edac/mc/mc0/dimm0/dimm_ue_count", "1\n");
    put_file(fd, "devices/system/edac/mc/mc0/dimm0/dimm_label", "CPU_SrcID#0_Ha#0_Chan#0_DIMM#0\n");
    put_file(fd, "devices/system/edac/mc/mc0/dimm0/dimm_location", "channel 0 slot 0 \n");
    put_file(fd, "devices/system/edac/mc/mc0/dimm0/size", "16384\n");
    put_file(fd, "devices/system/edac/mc/mc0/dimm0/dimm_mem_type", "Registered-DDR4\n");
    put_file(fd, "devices/system/edac/mc/mc0/dimm1/dimm_ce_count", "0\n");
    put_file(fd, "devices/system/edac/mc/mc0/dimm1/dimm_ue_count", "0\n");
    put_file(fd, "devices/system/edac/mc/mc0/dimm1/dimm_label", "\n");
    /* mc1: the legacy csrow layout, two channels. 4 uncorrected errors: 3 in row 0 on no known
     * channel (the kernel counts them in the row and in ue_noinfo_count), 1 on no known row. */
    put_file(fd, "devices/system/edac/mc/mc1/ce_noinfo_count", "0\n");
    put_file(fd, "devices/system/edac/mc/mc1/ue_noinfo_count", "4\n");
    put_file(fd, "devices/system/edac/mc/mc1/ce_count", "11\n");
    put_file(fd, "devices/system/edac/mc/mc1/ue_count", "4\n");
    put_file(fd, "devices/system/edac/mc/mc1/csrow0/ch0_ce_count", "5\n");
    put_file(fd, "devices/system/edac/mc/mc1/csrow0/ch0_dimm_label", "DIMM B1.x\n");
    put_file(fd, "devices/system/edac/mc/mc1/csrow0/ch1_ce_count", "6\n");
    put_file(fd, "devices/system/edac/mc/mc1/csrow0/ch1_dimm_label", "DIMM_B2\n");
    put_file(fd, "devices/system/edac/mc/mc1/csrow0/ue_count", "3\n");
    put_file(fd, "devices/system/edac/mc/mc1/csrow0/size_mb", "8192\n");
    put_file(fd, "devices/system/edac/mc/mc1/csrow0/mem_type", "Unbuffered-DDR3\n");
    assert_int_equal(edac_read(fd, &s), 0);
    assert_int_equal(s.nmc, 2);
    assert_int_equal(s.n, 4 + 2 + 3 + 2);
    assert_string_equal(s.c[0].key, "mc0/dimm0/ce");
    assert_string_equal(s.c[0].label, "CPU_SrcID#0_Ha#0_Chan#0_DIMM#0");
    assert_string_equal(s.c[0].location, "mc0 dimm0 (channel 0 slot 0)");
    assert_true(s.c[0].value == 7 && !s.c[0].uncorrected);
    assert_true(s.c[1].value == 1 && s.c[1].uncorrected);
    assert_string_equal(s.c[2].label, "mc0_dimm1");
    assert_string_equal(s.c[4].key, "mc0/ce_noinfo");
    assert_true(s.c[4].noinfo && s.c[4].value == 4 && !s.c[4].label);
    assert_string_equal(s.c[6].key, "mc1/csrow0/ch0/ce");
    assert_string_equal(s.c[6].label, "DIMM_B1_x"); /* a label is one segment of a dotted key */
    assert_string_equal(s.c[8].key, "mc1/csrow0/ue");
    assert_null(s.c[8].label); /* two channels: the row's uncorrected errors are not on one DIMM */
    assert_true(s.c[8].value == 3 && s.c[8].uncorrected);
    /* The controller's totals are the truth, the rows the placement: 3 placed + 1 not = 4, not
     * 3 + ue_noinfo's 4 = 7. */
    assert_string_equal(s.c[9].key, "mc1/ce_unplaced");
    assert_true(s.c[9].value == 0 && s.c[9].noinfo);
    assert_string_equal(s.c[10].key, "mc1/ue_unplaced");
    assert_true(s.c[10].value == 1 && s.c[10].noinfo && s.c[10].uncorrected);
    assert_int_equal(s.nd, 4);
    assert_string_equal(s.d[0].mem_type, "Registered-DDR4");
    assert_true(s.d[0].size_mb == 16384 && s.d[2].size_mb == 4096);
    edac_scan_free(&s);
    /* Both layouts in one controller: the per-DIMM one is read. */
    put_file(fd, "devices/system/edac/mc/mc0/csrow0/ch0_ce_count", "7\n");
    assert_int_equal(edac_read(fd, &s), 0);
    assert_int_equal(s.n, 11);
    edac_scan_free(&s);
    /* Garbage in a counter: that DIMM is skipped, the rest read. */
    put_file(fd, "devices/system/edac/mc/mc0/dimm1/dimm_ce_count", "many\n");
    assert_int_equal(edac_read(fd, &s), 0);
    assert_int_equal(s.n, 9);
    edac_scan_free(&s);
    /* Every DIMM counter of mc0 failing at once (a transient read failure): still the per-DIMM
     * layout, never the controller's totals counted as new errors. */
    put_file(fd, "devices/system/edac/mc/mc0/ce_count", "11\n");
    put_file(fd, "devices/system/edac/mc/mc0/dimm0/dimm_ce_count", "7");
    assert_int_equal(edac_read(fd, &s), 0);
    for (size_t i = 0; i < s.n; i++) {
        assert_true(strcmp(s.c[i].key, "mc0/ce") != 0 && strcmp(s.c[i].key, "mc0/ue") != 0);
        assert_true(strncmp(s.c[i].key, "mc0/dimm", 8) != 0);
    }
    assert_true(s.nskipped >= 2);
    edac_scan_free(&s);
    close(fd);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* edac_devices as xgene_edac lays them out, a device of per-instance counters only, what is not
 * an edac_device (pci/, power/), and the cores from cacheinfo. */
static void test_edac_devices(void **state) {
    char dir[64], cmd[128];
    int fd = tmp_tree(dir);
    uint8_t map[8] = {0};
    unsigned n = 0;
    bool all = false;
    edac_scan s;
    (void)state;
    for (int p = 0; p < 2; p++) {
        char path[128];
        snprintf(path, sizeof(path), "devices/system/edac/l2c%d/l2c%d0/ce_count", p, p);
        put_file(fd, path, p ? "5\n" : "0\n");
        snprintf(path, sizeof(path), "devices/system/edac/l2c%d/l2c%d0/l2c2/ce_count", p, p);
        put_file(fd, path, p ? "5\n" : "0\n");
        snprintf(path, sizeof(path), "devices/system/edac/l2c%d/l2c%d0/l2c2/ue_count", p, p);
        put_file(fd, path, "0\n");
        snprintf(path, sizeof(path), "devices/system/edac/l2c%d/log_ce", p);
        put_file(fd, path, "1\n");
    }
    put_file(fd, "devices/system/edac/l3c/l3c0/ce_count", "1\n");
    put_file(fd, "devices/system/edac/l3c/l3c0/ue_count", "2\n");
    put_file(fd, "devices/system/edac/pci/pci0/pe_count", "9\n");
    put_file(fd, "devices/system/edac/power/control", "auto\n");
    assert_int_equal(edac_read(fd, &s), 0); /* no memory controller, still EDAC */
    assert_int_equal(s.nmc, 0);
    assert_int_equal(s.ndev, 3);
    assert_int_equal(s.n, 2 + 2 + 2); /* the blocks' counters, not their instances' too */
    assert_string_equal(s.c[2].key, "dev/l2c1/l2c10/l2c2/ce");
    assert_string_equal(s.c[2].location, "l2c1/l2c10/l2c2");
    assert_true(s.c[2].mc == -1 && s.c[2].value == 5 && !s.c[2].uncorrected);
    assert_true(s.c[2].cache_level == 2 && s.c[2].cache_index == 1 && s.c[2].cache_count == 2);
    assert_string_equal(s.c[5].key, "dev/l3c/l3c0/ue");
    assert_true(s.c[5].uncorrected && s.c[5].value == 2 && s.c[5].cache_level == 3 && s.c[5].cache_count == 1);
    /* No cacheinfo: the cores cannot be told. */
    assert_int_equal(edac_cache_cpus(fd, &s.c[2], map, 64, &n, &all), -ENODATA);
    /* Two PMDs of two cores; each core's L1 D and I halves list only itself. */
    for (int c = 0; c < 4; c++) {
        char path[128], list[16];
        snprintf(path, sizeof(path), "devices/system/cpu/cpu%d/cache/index0/level", c);
        put_file(fd, path, "1\n");
        snprintf(path, sizeof(path), "devices/system/cpu/cpu%d/cache/index0/shared_cpu_list", c);
        snprintf(list, sizeof(list), "%d\n", c);
        put_file(fd, path, list);
        snprintf(path, sizeof(path), "devices/system/cpu/cpu%d/cache/index1/level", c);
        put_file(fd, path, "2\n");
        snprintf(path, sizeof(path), "devices/system/cpu/cpu%d/cache/index1/shared_cpu_list", c);
        snprintf(list, sizeof(list), "%d-%d\n", c / 2 * 2, c / 2 * 2 + 1);
        put_file(fd, path, list);
        snprintf(path, sizeof(path), "devices/system/cpu/cpu%d/cache/index2/level", c);
        put_file(fd, path, "3\n");
        snprintf(path, sizeof(path), "devices/system/cpu/cpu%d/cache/index2/shared_cpu_list", c);
        put_file(fd, path, "0-3\n");
    }
    assert_int_equal(edac_cache_cpus(fd, &s.c[2], map, 64, &n, &all), 0);
    assert_true(map[0] == 0x0c && n == 2 && !all); /* l2c1: CPUs 2-3 */
    assert_int_equal(edac_cache_cpus(fd, &s.c[5], map, 64, &n, &all), 0);
    assert_true(map[0] == 0x0f && n == 4 && all);
    s.c[2].cache_count = 4; /* EDAC and cacheinfo disagree: nothing is told */
    assert_int_equal(edac_cache_cpus(fd, &s.c[2], map, 64, &n, &all), -ENODATA);
    edac_scan_free(&s);
    /* A counter that is not a number is skipped, and said so; the others are read. */
    put_file(fd, "devices/system/edac/l2c0/l2c00/l2c2/ce_count", "many\n");
    assert_int_equal(edac_read(fd, &s), 0);
    assert_int_equal(s.n, 5);
    assert_int_equal(s.nskipped, 1);
    assert_string_equal(s.skipped, "l2c0/l2c00/l2c2/ce_count: Bad message");
    edac_scan_free(&s);
    close(fd);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_rasdaemon_time(void **state) {
    int64_t ms;
    (void)state;
    assert_int_equal(rasdaemon_time("2024-01-15 10:20:30 +0000", &ms), 0);
    assert_true(ms == 1705314030000ll);
    assert_int_equal(rasdaemon_time("2024-01-15 11:20:30 +0100", &ms), 0);
    assert_true(ms == 1705314030000ll);
    assert_int_equal(rasdaemon_time("2024-01-15 10:20:30", &ms), 0);
    assert_int_equal(rasdaemon_time("yesterday", &ms), -EBADMSG);
    assert_int_equal(rasdaemon_time("2024-01-15 10:20:30 +9999", &ms), -EBADMSG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mca_intel),    cmocka_unit_test(test_mca_amd),
        cmocka_unit_test(test_trace_format), cmocka_unit_test(test_trace_pages),
        cmocka_unit_test(test_ras_mc_event), cmocka_unit_test(test_ras_mce),
        cmocka_unit_test(test_dmi),          cmocka_unit_test(test_edac_layouts),
        cmocka_unit_test(test_edac_devices), cmocka_unit_test(test_rasdaemon_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
