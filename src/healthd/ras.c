/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RAS trace records into HealthLog events: ras:mc_event (EDAC), mce:mce_record (x86 machine
 * checks, decoded by mca.c), ras:aer_event (PCIe AER), ras:arm_event (ARM processor errors from
 * GHES), ras:non_standard_event (CPER sections the kernel does not know) and
 * ras:memory_failure_event (the kernel's recovery of a poisoned page). Fields are read by name
 * from each event's format file. Pure: a record in, an event out. */
#include <ctype.h>
#include <unistd.h>

#include "healthd.h"

/* The words EDAC drivers and firmware use to say how many bits were wrong. */
const char *ras_bits_from_text(const char *s) {
    static const char *const single[] = {"single-bit", "single bit", "single_bit", "1-bit", "sbe"};
    static const char *const multi[] = {"multi-bit",  "multi bit",  "multiple-bit", "multiple bit", "multi_bit",
                                        "double-bit", "double bit", "2-bit",        "mbe",          "dbe"};
    char low[512];
    size_t i;
    if (!s)
        return NULL;
    for (i = 0; s[i] && i + 1 < sizeof(low); i++)
        low[i] = (char)tolower((unsigned char)s[i]);
    low[i] = 0;
    for (i = 0; i < ELEMENTSOF(multi); i++)
        if (strstr(low, multi[i]))
            return "multi";
    for (i = 0; i < ELEMENTSOF(single); i++)
        if (strstr(low, single[i]))
            return "single";
    return NULL;
}

static int64_t geti(const trace_format *f, const char *name, const uint8_t *rec, size_t len, bool *ok) {
    int64_t v = 0;
    if (trace_get_int(trace_field_find(f, name), rec, len, &v) < 0)
        *ok = false;
    return v;
}

static bool geti_opt(const trace_format *f, const char *name, const uint8_t *rec, size_t len, int64_t *ret) {
    return trace_get_int(trace_field_find(f, name), rec, len, ret) == 0;
}

static int gets(const trace_format *f, const char *name, const uint8_t *rec, size_t len, char *buf, size_t bl) {
    buf[0] = 0;
    return trace_get_str(trace_field_find(f, name), rec, len, buf, bl);
}

/* GHES severities (include/acpi/ghes.h): no, corrected, recoverable, panic. */
static const char *ghes_severity(int64_t sev) {
    switch (sev) {
    case 1:
        return "corrected";
    case 2:
        return "uncorrected";
    case 3:
        return "fatal";
    default:
        return "info";
    }
}

static int conv_mc_event(const trace_format *f, const uint8_t *rec, size_t len, ras_record *o) {
    static const char *const types[] = {"corrected", "uncorrected", "deferred", "fatal", "info"};
    char msg[192], detail[256];
    bool ok = true;
    int64_t type = geti(f, "error_type", rec, len, &ok), count = geti(f, "error_count", rec, len, &ok);
    int64_t mc = geti(f, "mc_index", rec, len, &ok), layer[3], v;
    size_t l = 0;

    if (!ok || gets(f, "msg", rec, len, msg, sizeof(msg)) < 0 ||
        gets(f, "label", rec, len, o->dimm, sizeof(o->dimm)) < 0)
        return -EBADMSG;
    (void)gets(f, "driver_detail", rec, len, detail, sizeof(detail));
    o->ev.source = "mc_event";
    o->ev.class = "memory";
    o->ev.component = "dram";
    o->ev.severity = type >= 0 && type < (int64_t)ELEMENTSOF(types) ? types[type] : "info";
    HL_SET(&o->ev, count, count > 0 ? count : 1);
    HL_SET(&o->ev, mc, mc);
    o->ev.bits = ras_bits_from_text(msg) ? ras_bits_from_text(msg) : ras_bits_from_text(detail);
    /* EDAC says "any memory" or "unknown memory" when it could not place the error, and joins
     * labels with " or " when it could only narrow it down. */
    if (!*o->dimm || strstr(o->dimm, "any memory") || strstr(o->dimm, "unknown memory") || strstr(o->dimm, " or "))
        o->dimm[0] = 0;
    else
        hl_label_sanitize(o->dimm);
    o->ev.dimm = *o->dimm ? o->dimm : NULL;
    layer[0] = geti(f, "top_layer", rec, len, &ok);
    layer[1] = geti(f, "middle_layer", rec, len, &ok);
    layer[2] = geti(f, "lower_layer", rec, len, &ok);
    l = (size_t)snprintf(o->location, sizeof(o->location), "mc%lld", (long long)mc);
    for (int i = 0; ok && i < 3 && l < sizeof(o->location); i++)
        if (layer[i] >= 0)
            l += (size_t)snprintf(o->location + l, sizeof(o->location) - l, "%s%lld", i == 0 ? " layers " : ":",
                                  (long long)layer[i]);
    o->ev.location = o->location;
    if (geti_opt(f, "address", rec, len, &v) && v != 0)
        HL_SET(&o->ev, address, v);
    if (geti_opt(f, "syndrome", rec, len, &v) && v != 0)
        HL_SET(&o->ev, syndrome, v);
    /* Bounded pieces: the message and the DIMM always fit, whatever the kernel sent. */
    snprintf(o->message, sizeof(o->message), "%.180s%s%.64s", msg, *o->dimm ? " on " : "", o->dimm);
    o->ev.message = o->message;
    l = (size_t)snprintf(o->detail, sizeof(o->detail), "%s", detail);
    if (geti_opt(f, "grain_bits", rec, len, &v) && l < sizeof(o->detail))
        snprintf(o->detail + l, sizeof(o->detail) - l, "%sgrain %lld bytes", l ? "; " : "", v < 63 ? 1ll << v : 0);
    o->ev.detail = *o->detail ? o->detail : NULL;
    return 0;
}

static int conv_mce(const trace_format *f, const uint8_t *rec, size_t len, bool edac_live, ras_record *o) {
    bool ok = true;
    uint64_t status = (uint64_t)geti(f, "status", rec, len, &ok);
    int64_t cpu = geti(f, "cpu", rec, len, &ok), bank = geti(f, "bank", rec, len, &ok);
    int64_t mcgcap = 0, mcgstatus = 0, ipid = 0, vendor = MCA_VENDOR_UNKNOWN, addr = 0, misc = 0, v;
    mca_decoded d;
    size_t l;

    if (!ok)
        return -EBADMSG;
    (void)geti_opt(f, "mcgcap", rec, len, &mcgcap);
    (void)geti_opt(f, "mcgstatus", rec, len, &mcgstatus);
    (void)geti_opt(f, "ipid", rec, len, &ipid);
    (void)geti_opt(f, "cpuvendor", rec, len, &vendor);
    (void)geti_opt(f, "addr", rec, len, &addr);
    (void)geti_opt(f, "misc", rec, len, &misc);
    mca_decode(status, (uint64_t)mcgcap, (uint64_t)ipid, (int)vendor, &d);
    o->ev.source = "mce";
    o->ev.component = d.component;
    o->ev.class = hl_class_of_component(d.component);
    o->ev.severity = d.severity;
    HL_SET(&o->ev, count, d.have_count && d.corrected_count > 0 ? (int64_t)d.corrected_count : 1);
    HL_SET(&o->ev, cpu, cpu);
    if (geti_opt(f, "socketid", rec, len, &v))
        HL_SET(&o->ev, socket, v);
    HL_SET(&o->ev, bank, bank);
    HL_SET(&o->ev, mca_status, (int64_t)status);
    if (d.addrv)
        HL_SET(&o->ev, address, addr);
    if (d.miscv)
        HL_SET(&o->ev, mca_misc, misc);
    /* With an EDAC driver loaded the same memory error also arrives as ras:mc_event, placed on a
     * DIMM: that one is counted, this one kept for its raw status. */
    bool counted = d.val && !(edac_live && streq(o->ev.class, "memory"));
    HL_SET(&o->ev, counted, counted);
    snprintf(o->message, sizeof(o->message), "%s%s", d.desc, d.over ? " (overflow: more errors were lost)" : "");
    o->ev.message = o->message;
    l = (size_t)snprintf(o->detail, sizeof(o->detail), "bank %lld status 0x%016llx", (long long)bank,
                         (unsigned long long)status);
    if (d.addrv)
        l += (size_t)snprintf(o->detail + l, sizeof(o->detail) - l, " addr 0x%llx", (unsigned long long)addr);
    if (d.miscv)
        l += (size_t)snprintf(o->detail + l, sizeof(o->detail) - l, " misc 0x%llx", (unsigned long long)misc);
    l += (size_t)snprintf(o->detail + l, sizeof(o->detail) - l, " mcgstatus 0x%llx mcacod 0x%04x mscod 0x%04x%s%s%s",
                          (unsigned long long)mcgstatus, d.mcacod, d.mscod, d.pcc ? " PCC" : "", d.s ? " S" : "",
                          d.ar ? " AR" : "");
    if (ipid && l < sizeof(o->detail))
        l += (size_t)snprintf(o->detail + l, sizeof(o->detail) - l, " ipid 0x%llx", (unsigned long long)ipid);
    if (!counted && d.val && l < sizeof(o->detail))
        snprintf(o->detail + l, sizeof(o->detail) - l, "; counted through EDAC (ras:mc_event)");
    o->ev.detail = o->detail;
    return 0;
}

static int conv_aer(const trace_format *f, const uint8_t *rec, size_t len, ras_record *o) {
    static const char *const ce_bits[32] = {[0] = "Receiver Error",
                                            [6] = "Bad TLP",
                                            [7] = "Bad DLLP",
                                            [8] = "RELAY_NUM Rollover",
                                            [12] = "Replay Timer Timeout",
                                            [13] = "Advisory Non-Fatal",
                                            [14] = "Corrected Internal Error",
                                            [15] = "Header Log Overflow"};
    static const char *const ue_bits[32] = {[4] = "Data Link Protocol",
                                            [5] = "Surprise Down Error",
                                            [12] = "Poisoned TLP",
                                            [13] = "Flow Control Protocol",
                                            [14] = "Completion Timeout",
                                            [15] = "Completer Abort",
                                            [16] = "Unexpected Completion",
                                            [17] = "Receiver Overflow",
                                            [18] = "Malformed TLP",
                                            [19] = "ECRC",
                                            [20] = "Unsupported Request",
                                            [21] = "ACS Violation",
                                            [22] = "Uncorrectable Internal Error",
                                            [23] = "MC Blocked TLP",
                                            [24] = "AtomicOp Egress Blocked",
                                            [25] = "TLP Prefix Blocked Error"};
    bool ok = true;
    uint32_t status = (uint32_t)geti(f, "status", rec, len, &ok);
    int64_t sev = geti(f, "severity", rec, len, &ok);
    const char *const *names;
    size_t l;

    if (!ok || gets(f, "dev_name", rec, len, o->device, sizeof(o->device)) < 0)
        return -EBADMSG;
    /* include/linux/aer.h: AER_NONFATAL 0, AER_FATAL 1, AER_CORRECTABLE 2. */
    o->ev.severity = sev == 2 ? "corrected" : sev == 1 ? "fatal" : "uncorrected";
    names = sev == 2 ? ce_bits : ue_bits;
    o->ev.source = "aer";
    o->ev.class = "pcie";
    o->ev.component = "pcie";
    o->ev.device = o->device;
    HL_SET(&o->ev, count, 1);
    l = (size_t)snprintf(o->message, sizeof(o->message), "PCIe %s error on %s:", o->ev.severity, o->device);
    for (int b = 0; b < 32 && l < sizeof(o->message); b++)
        if (status & (1u << b))
            l += names[b] ? (size_t)snprintf(o->message + l, sizeof(o->message) - l, " %s;", names[b])
                          : (size_t)snprintf(o->message + l, sizeof(o->message) - l, " status bit %d;", b);
    o->ev.message = o->message;
    snprintf(o->detail, sizeof(o->detail), "status 0x%08x", status);
    o->ev.detail = o->detail;
    return 0;
}

static int conv_arm(const trace_format *f, const uint8_t *rec, size_t len, ras_record *o) {
    bool ok = true;
    uint64_t mpidr = (uint64_t)geti(f, "mpidr", rec, len, &ok), midr = (uint64_t)geti(f, "midr", rec, len, &ok);
    int64_t running = geti(f, "running_state", rec, len, &ok), psci = geti(f, "psci_state", rec, len, &ok), sev, aff;

    if (!ok)
        return -EBADMSG;
    o->ev.source = "arm";
    o->ev.class = "cpu";
    o->ev.component = "core";
    o->ev.severity = geti_opt(f, "sev", rec, len, &sev) ? ghes_severity(sev) : NULL;
    HL_SET(&o->ev, count, 1);
    if (!geti_opt(f, "affinity", rec, len, &aff))
        aff = -1;
    snprintf(o->message, sizeof(o->message), "ARM processor error on MPIDR 0x%llx", (unsigned long long)mpidr);
    o->ev.message = o->message;
    snprintf(o->detail, sizeof(o->detail),
             "mpidr 0x%llx midr 0x%llx affinity level %lld running state %lld psci state 0x%llx",
             (unsigned long long)mpidr, (unsigned long long)midr, (long long)aff, (long long)running,
             (unsigned long long)psci);
    o->ev.detail = o->detail;
    return 0;
}

static void uuid_text(const uint8_t *b, char *out, size_t len) {
    /* guid_t byte order: the first three groups are little-endian. */
    snprintf(out, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[3], b[2], b[1], b[0],
             b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static int conv_non_standard(const trace_format *f, const uint8_t *rec, size_t len, ras_record *o) {
    const uint8_t *sec, *fru, *buf;
    size_t sl, fl, bl, l;
    char st[40], fi[40], text[64];
    int64_t sev = 0;

    if (trace_get_bytes(trace_field_find(f, "sec_type"), rec, len, &sec, &sl) < 0 || sl < 16 ||
        trace_get_bytes(trace_field_find(f, "fru_id"), rec, len, &fru, &fl) < 0 || fl < 16)
        return -EBADMSG;
    uuid_text(sec, st, sizeof(st));
    uuid_text(fru, fi, sizeof(fi));
    (void)gets(f, "fru_text", rec, len, text, sizeof(text));
    (void)geti_opt(f, "sev", rec, len, &sev);
    o->ev.source = "non_standard";
    o->ev.class = "platform";
    o->ev.severity = ghes_severity(sev);
    HL_SET(&o->ev, count, 1);
    snprintf(o->message, sizeof(o->message), "non-standard error section %s%s%s", st, *text ? " from " : "", text);
    o->ev.message = o->message;
    l = (size_t)snprintf(o->detail, sizeof(o->detail), "fru_id %s", fi);
    if (trace_get_bytes(trace_field_find(f, "buf"), rec, len, &buf, &bl) == 0) {
        l += (size_t)snprintf(o->detail + l, sizeof(o->detail) - l, " section length %zu data", bl);
        for (size_t i = 0; i < bl && i < 64 && l + 4 < sizeof(o->detail); i++)
            l += (size_t)snprintf(o->detail + l, sizeof(o->detail) - l, " %02x", buf[i]);
    }
    o->ev.detail = o->detail;
    return 0;
}

static int conv_memory_failure(const trace_format *f, const uint8_t *rec, size_t len, ras_record *o) {
    static const char *const results[] = {"ignored", "failed", "delayed", "recovered"};
    bool ok = true;
    int64_t pfn = geti(f, "pfn", rec, len, &ok), result = geti(f, "result", rec, len, &ok), type = 0;
    long page = sysconf(_SC_PAGESIZE);

    if (!ok)
        return -EBADMSG;
    (void)geti_opt(f, "type", rec, len, &type);
    o->ev.source = "memory_failure";
    o->ev.class = "memory";
    o->ev.severity = "info";
    HL_SET(&o->ev, counted, 0);
    HL_SET(&o->ev, address, pfn * (page > 0 ? page : 4096));
    snprintf(o->message, sizeof(o->message), "the kernel's memory-failure recovery of page frame 0x%llx: %s",
             (unsigned long long)pfn, result >= 0 && result < 4 ? results[result] : "unknown result");
    o->ev.message = o->message;
    snprintf(o->detail, sizeof(o->detail), "page type %lld", (long long)type);
    o->ev.detail = o->detail;
    return 0;
}

int ras_record_convert(const trace_format *f, const uint8_t *rec, size_t len, bool edac_live, ras_record *o) {
    int r;
    memset(o, 0, sizeof(*o));
    if (!f->system || !f->name)
        return -ENOENT;
    if (streq(f->system, "ras") && streq(f->name, "mc_event"))
        r = conv_mc_event(f, rec, len, o);
    else if (streq(f->system, "mce") && streq(f->name, "mce_record"))
        r = conv_mce(f, rec, len, edac_live, o);
    else if (streq(f->system, "ras") && streq(f->name, "aer_event"))
        r = conv_aer(f, rec, len, o);
    else if (streq(f->system, "ras") && streq(f->name, "arm_event"))
        r = conv_arm(f, rec, len, o);
    else if (streq(f->system, "ras") && streq(f->name, "non_standard_event"))
        r = conv_non_standard(f, rec, len, o);
    else if (streq(f->system, "ras") && streq(f->name, "memory_failure_event"))
        r = conv_memory_failure(f, rec, len, o);
    else
        return -ENOENT;
    if (r < 0)
        return r;
    if (!HL_HAS(&o->ev, counted))
        HL_SET(&o->ev, counted, 1);
    return 0;
}
