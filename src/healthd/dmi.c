/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SMBIOS type 17 (Memory Device) records, as the kernel exposes them in
 * /sys/firmware/dmi/entries/17-N/raw (DMTF DSP0134 section 7.18): size, locators, type, speed and
 * configured speed (with the 3.3 extended fields), maker and part number. Pure. */
#include "healthd.h"

static unsigned u16_at(const uint8_t *p, size_t off) {
    return (unsigned)p[off] | (unsigned)p[off + 1] << 8;
}

static uint32_t u32_at(const uint8_t *p, size_t off) {
    return (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 | (uint32_t)p[off + 3] << 24;
}

/* String number @n (1-based) of the strings that follow the formatted area; "" when 0 or absent. */
static void string_at(const uint8_t *raw, size_t len, size_t hlen, unsigned n, char *buf, size_t buflen) {
    size_t p = hlen;
    buf[0] = 0;
    if (n == 0)
        return;
    for (unsigned i = 1; p < len && raw[p]; i++) {
        size_t e = p;
        while (e < len && raw[e])
            e++;
        if (i == n) {
            size_t l = e - p, k = 0;
            /* Firmware pads with blanks; keep printable ASCII only. */
            for (size_t j = 0; j < l && k + 1 < buflen; j++)
                buf[k++] = raw[p + j] >= 0x20 && raw[p + j] < 0x7f ? (char)raw[p + j] : '?';
            while (k > 0 && buf[k - 1] == ' ')
                k--;
            buf[k] = 0;
            return;
        }
        p = e + 1;
    }
}

static const char *mem_type(unsigned t) {
    switch (t) {
    case 0x0f:
        return "SDRAM";
    case 0x12:
        return "DDR";
    case 0x13:
        return "DDR2";
    case 0x14:
        return "DDR2 FB-DIMM";
    case 0x18:
        return "DDR3";
    case 0x1a:
        return "DDR4";
    case 0x1b:
        return "LPDDR";
    case 0x1c:
        return "LPDDR2";
    case 0x1d:
        return "LPDDR3";
    case 0x1e:
        return "LPDDR4";
    case 0x1f:
        return "Logical non-volatile device";
    case 0x20:
        return "HBM";
    case 0x21:
        return "HBM2";
    case 0x22:
        return "DDR5";
    case 0x23:
        return "LPDDR5";
    case 0x24:
        return "HBM3";
    case 0x02:
        return "Unknown";
    default:
        return "Other";
    }
}

int dmi_parse_type17(const uint8_t *raw, size_t len, dmi_memdev *o) {
    size_t hlen;
    unsigned size;

    memset(o, 0, sizeof(*o));
    if (len < 4 || raw[0] != 17)
        return -EBADMSG;
    hlen = raw[1];
    /* SMBIOS 2.1 has 0x15 bytes; speed (0x15) came with 2.3, configured speed (0x20) with 2.7. */
    if (hlen < 0x15 || hlen > len)
        return -EBADMSG;
    size = u16_at(raw, 0x0c);
    if (size == 0 || size == 0xffff)
        o->size_mb = 0; /* no module installed, or unknown */
    else if (size == 0x7fff && hlen >= 0x20)
        o->size_mb = (int64_t)(u32_at(raw, 0x1c) & 0x7fffffff);
    else if (size & 0x8000)
        o->size_mb = (int64_t)(size & 0x7fff) / 1024; /* in KB */
    else
        o->size_mb = size;
    string_at(raw, len, hlen, raw[0x10], o->locator, sizeof(o->locator));
    string_at(raw, len, hlen, raw[0x11], o->bank, sizeof(o->bank));
    o->type = mem_type(raw[0x12]);
    if (hlen >= 0x17) {
        unsigned s = u16_at(raw, 0x15);
        o->speed_mts = s == 0xffff && hlen >= 0x58 ? (int64_t)u32_at(raw, 0x54) : s == 0xffff ? 0 : (int64_t)s;
    }
    if (hlen >= 0x1b) {
        string_at(raw, len, hlen, raw[0x17], o->manufacturer, sizeof(o->manufacturer));
        string_at(raw, len, hlen, raw[0x1a], o->part, sizeof(o->part));
    }
    if (hlen >= 0x22) {
        unsigned s = u16_at(raw, 0x20);
        o->configured_mts = s == 0xffff && hlen >= 0x5c ? (int64_t)u32_at(raw, 0x58) : s == 0xffff ? 0 : (int64_t)s;
    }
    return 0;
}
