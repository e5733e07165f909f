/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Classification of hwmon temperature/power channels and thermal zones (pure, tested). */
#include <ctype.h>

#include "parsers.h"

static bool has_ci(const char *s, const char *needle) {
    return strcasestr(s, needle) != NULL;
}

static bool endswith(const char *s, const char *suffix) {
    size_t l = strlen(s), k = strlen(suffix);
    return l >= k && streq(s + l - k, suffix);
}

temp_class classify_hwmon_temp(const char *chip, const char *label, int *ret_id) {
    *ret_id = -1;
    if (streq(chip, "coretemp")) {
        /* drivers/hwmon/coretemp.c: "Core %u" per physical core, "Package id %u" per package. */
        if (startswith(label, "Core ")) {
            unsigned id;
            if (safe_atou(label + 5, &id) == 0) {
                *ret_id = (int)id;
                return TEMP_CORE;
            }
            return TEMP_OTHER;
        }
        if (startswith(label, "Package id ")) {
            unsigned id;
            if (safe_atou(label + 11, &id) == 0)
                *ret_id = (int)id;
            return TEMP_PACKAGE;
        }
        if (startswith(label, "Physical id ")) /* kernels before 3.3 */
            return TEMP_PACKAGE;
        return TEMP_OTHER;
    }
    if (streq(chip, "k10temp") || streq(chip, "zenpower")) {
        /* drivers/hwmon/k10temp.c: Tctl, Tdie, Tccd1..Tccd12 are all die/package level. */
        if (streq(label, "Tctl") || streq(label, "Tdie") || startswith(label, "Tccd") || label[0] == 0)
            return TEMP_PACKAGE;
        return TEMP_OTHER;
    }
    if (startswith(chip, "apm_xgene") || streq(chip, "xgene_hwmon")) {
        /* drivers/hwmon/xgene-hwmon.c: temp1 "SoC Temperature". */
        return has_ci(label, "soc") || has_ci(label, "cpu") || label[0] == 0 ? TEMP_PACKAGE : TEMP_OTHER;
    }
    if (streq(chip, "cpu_thermal") || streq(chip, "cpu-thermal") || streq(chip, "soc_thermal"))
        return TEMP_PACKAGE;
    return TEMP_OTHER;
}

bool thermal_zone_is_cpu(const char *type) {
    /* Arm SoCs name their zones after the block they sit on, "NAME-thermal" (device tree
     * thermal-zones nodes): the CPU clusters' are cpu*, cluster*, big*, little*, core*, ap*; a
     * GPU's, DRAM's or NPU's is not a CPU zone. The Raspberry Pi's is its SoC driver's name. */
    static const char *const cpu_prefixes[] = {"cluster", "big", "little", "core", "ap-", "a53",
                                               "a55",     "a57", "a72",    "a73",  "a76", "a78"};
    if (streq(type, "x86_pkg_temp") || has_ci(type, "cpu") || has_ci(type, "soc") || has_ci(type, "pkg") ||
        startswith(type, "Tctl") || streq(type, "bcm2835_thermal") || streq(type, "bcm2711_thermal"))
        return true;
    if (endswith(type, "-thermal") || endswith(type, "_thermal"))
        for (size_t i = 0; i < ELEMENTSOF(cpu_prefixes); i++)
            if (strncasecmp(type, cpu_prefixes[i], strlen(cpu_prefixes[i])) == 0)
                return true;
    return false;
}

power_class classify_hwmon_power(const char *chip, const char *label) {
    if (has_ci(label, "dram") || has_ci(label, "mem") || has_ci(label, "dimm"))
        return POWER_MEM;
    if (has_ci(label, "cpu") || has_ci(label, "pmd") || has_ci(label, "core") || has_ci(label, "package") ||
        has_ci(label, "soc") || has_ci(chip, "amd_energy") || has_ci(label, "socket"))
        return POWER_CPU;
    if (has_ci(label, "total") || has_ci(label, "system") || has_ci(label, "node") ||
        has_ci(chip, "acpi_power_meter") || has_ci(chip, "power_meter"))
        return POWER_TOTAL;
    return POWER_OTHER;
}
