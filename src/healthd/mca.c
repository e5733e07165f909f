/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Machine-check status decoding: MCi_STATUS flags and the architectural MCA error codes (simple
 * and compound, Intel SDM vol. 3B section 16.9 and tables 16-7 to 16-12; the same encoding in
 * AMD's APM vol. 2 section 9.3) into component, severity and a description; on AMD SMCA parts
 * the bank's unit from MCA_IPID (Linux arch/x86/kernel/cpu/mce/amd.c). Pure: tested on values. */
#include "healthd.h"

#define BIT(n) (1ull << (n))

static const char *const tt_names[4] = {"instruction", "data", "generic", "reserved"};
static const char *const ll_names[4] = {"L0", "L1", "L2", "generic level"};
static const char *const rrrr_names[16] = {
    "generic",  "read",     "write", "data read", "data write", "instruction fetch",
    "prefetch", "eviction", "snoop", "9",         "10",         "11",
    "12",       "13",       "14",    "15"};
static const char *const pp_names[4] = {"local processor originated", "responding", "observed", "generic"};
static const char *const ii_names[4] = {"memory access", "reserved", "I/O", "other transaction"};
static const char *const mmm_names[8] = {"generic", "read", "write", "address/command", "scrubbing", "5", "6", "7"};

static const struct {
    unsigned code;
    const char *component, *desc;
} simple_codes[] = {
    {0x0000, "core", "no error"},
    {0x0001, "core", "unclassified error"},
    {0x0002, "core", "microcode ROM parity error"},
    {0x0003, "bus", "external error (BINIT# from another processor)"},
    {0x0004, "core", "functional redundancy check error"},
    {0x0005, "core", "internal parity error"},
    {0x0006, "core", "SMM handler code access violation"},
    {0x0400, "core", "internal timer error"},
    {0x0e0b, "bus", "generic I/O error"},
};

/* LL: level 0 is the core's own first level and counts as L1; the generic level (LG) is the
 * last-level cache on the parts that report it (AMD's L3 in the northbridge bank). */
static const char *level_component(unsigned ll) {
    return ll <= 1 ? "l1" : ll == 2 ? "l2" : "l3";
}

/* AMD Scalable MCA: the bank's unit, from MCA_IPID's HardwareID (43:32) and McaType (63:48). */
static const char *smca_component(uint64_t ipid, const char **ret_unit) {
    static const struct {
        unsigned hwid, type;
        const char *unit, *component;
    } units[] = {
        {0xb0, 0x0, "load-store unit", "l1"},
        {0xb0, 0x1, "instruction fetch unit", "l1"},
        {0xb0, 0x2, "L2 cache", "l2"},
        {0xb0, 0x3, "decode unit", "core"},
        {0xb0, 0x5, "execution unit", "core"},
        {0xb0, 0x6, "floating point unit", "core"},
        {0xb0, 0x7, "L3 cache", "l3"},
        {0x96, 0x0, "unified memory controller", "dram"},
        {0x2e, 0x0, "coherent slave (data fabric)", "bus"},
        {0x2e, 0x1, "power, interrupts etc. (data fabric)", "bus"},
        {0x2e, 0x2, "coherent slave (data fabric)", "bus"},
    };
    unsigned hwid = (unsigned)((ipid >> 32) & 0xfff), type = (unsigned)(ipid >> 48);
    for (size_t i = 0; i < ELEMENTSOF(units); i++)
        if (units[i].hwid == hwid && units[i].type == type) {
            *ret_unit = units[i].unit;
            return units[i].component;
        }
    return NULL;
}

void mca_decode(uint64_t status, uint64_t mcgcap, uint64_t ipid, int vendor, mca_decoded *o) {
    unsigned c;
    bool amd = vendor == MCA_VENDOR_AMD || vendor == MCA_VENDOR_HYGON;

    memset(o, 0, sizeof(*o));
    o->val = status & BIT(63);
    o->over = status & BIT(62);
    o->uc = status & BIT(61);
    o->en = status & BIT(60);
    o->miscv = status & BIT(59);
    o->addrv = status & BIT(58);
    o->pcc = status & BIT(57);
    o->mcacod = (unsigned)(status & 0xffff);
    o->mscod = (unsigned)((status >> 16) & 0xffff);
    if (amd) {
        o->deferred = status & BIT(44);
        o->poison = status & BIT(43);
    } else {
        o->s = status & BIT(56);
        o->ar = status & BIT(55);
        /* The corrected-error count (bits 52:38) exists when the processor has CMCI. */
        if (vendor == MCA_VENDOR_INTEL && (mcgcap & BIT(10)) && !o->uc) {
            o->corrected_count = (unsigned)((status >> 38) & 0x7fff);
            o->have_count = true;
        }
    }
    if (!o->val)
        o->severity = "info";
    else if (!o->uc)
        o->severity = o->deferred ? "deferred" : "corrected";
    else if (o->pcc)
        o->severity = "fatal";
    else if (o->deferred)
        o->severity = "deferred";
    else
        o->severity = "uncorrected";

    /* Simple error codes (table 16-7), on the whole code. */
    c = o->mcacod;
    for (size_t i = 0; i < ELEMENTSOF(simple_codes); i++)
        if (simple_codes[i].code == c) {
            o->component = simple_codes[i].component;
            snprintf(o->desc, sizeof(o->desc), "%s", simple_codes[i].desc);
            goto unit;
        }
    if ((c & 0xfc00) == 0x0400) {
        o->component = "core";
        snprintf(o->desc, sizeof(o->desc), "internal unclassified error (0x%04x)", c);
        goto unit;
    }
    /* Compound error codes (table 16-8); bit 12 is the corrected-report filtering flag. */
    c &= 0xefff;
    if ((c & 0xfffc) == 0x000c) {
        unsigned ll = c & 3;
        o->component = level_component(ll);
        snprintf(o->desc, sizeof(o->desc), "generic cache hierarchy error: %s", ll_names[ll]);
    } else if ((c & 0xfff0) == 0x0010) {
        unsigned tt = (c >> 2) & 3, ll = c & 3;
        o->component = "tlb";
        snprintf(o->desc, sizeof(o->desc), "TLB error: %s, %s", ll_names[ll], tt_names[tt]);
    } else if ((c & 0xff80) == 0x0080) {
        unsigned mmm = (c >> 4) & 7, cccc = c & 0xf;
        /* Reads, writes and scrubbing find bad data in DRAM; generic and address/command
         * errors are the controller's own. */
        o->component = mmm == 1 || mmm == 2 || mmm == 4 ? "dram" : "mcu";
        if (cccc == 0xf)
            snprintf(o->desc, sizeof(o->desc), "memory controller error: %s, channel not specified", mmm_names[mmm]);
        else
            snprintf(o->desc, sizeof(o->desc), "memory controller error: %s, channel %u", mmm_names[mmm], cccc);
    } else if ((c & 0xff00) == 0x0100) {
        unsigned rrrr = (c >> 4) & 0xf, tt = (c >> 2) & 3, ll = c & 3;
        o->component = level_component(ll);
        snprintf(o->desc, sizeof(o->desc), "cache hierarchy error: %s, %s, %s", ll_names[ll], tt_names[tt],
                 rrrr_names[rrrr]);
    } else if ((c & 0xf800) == 0x0800) {
        unsigned pp = (c >> 9) & 3, t = (c >> 8) & 1, rrrr = (c >> 4) & 0xf, ii = (c >> 2) & 3, ll = c & 3;
        o->component = "bus";
        snprintf(o->desc, sizeof(o->desc), "bus/interconnect error: %s, %s, %s, %s%s", ll_names[ll], pp_names[pp],
                 rrrr_names[rrrr], ii_names[ii], t ? ", timeout" : "");
    } else {
        o->component = "core";
        snprintf(o->desc, sizeof(o->desc), "model-specific error code 0x%04x", o->mcacod);
    }
unit:
    if (amd && ipid) {
        const char *unit = NULL, *comp = smca_component(ipid, &unit);
        if (comp) {
            size_t l = strlen(o->desc);
            o->component = comp;
            snprintf(o->desc + l, sizeof(o->desc) - l, " (%s)", unit);
        }
    }
}
