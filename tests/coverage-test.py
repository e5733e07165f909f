#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Coverage: every host descriptor whose source exists in a fixture tree appears in that host's
golden output (the last sample); every one whose source is missing is absent with a reason.
Sources are judged from the fixture tree itself, independently of the driver's code."""
import glob
import json
import os
import re
import sys

SRC = os.environ["SRCDIR"]


def catalogue():
    keys = []
    for line in open(os.path.join(SRC, "tests", "data", "metric-ids.txt")):
        if not line.startswith("#"):
            keys.append(line.split()[1])
    return [k for k in keys if not k.startswith("dom.")]


def last_sample(host):
    text = open(os.path.join(SRC, "tests", "golden", host + ".txt")).read()
    section = text.split("## ")[-1]
    present, absent = set(), {}
    for line in section.splitlines()[1:]:
        m = re.match(r"(\S+)\s+-\s+\((.*)\)$", line)
        if m:
            absent[m.group(1)] = m.group(2)
        elif line.strip():
            present.add(line.split()[0])
    return present, absent


def template_of(key):
    parts = key.split(".")
    out = []
    for i, p in enumerate(parts):
        if p.isdigit():
            out.append("N")
        elif key.startswith("host.errors.") and i == 2 and p in ("l1", "l2", "l3", "dram", "mcu"):
            out.append("?")
        elif key.startswith(("host.source.", "host.margin.")) and i == 2:
            out.append("NAME")
        else:
            out.append(p)
    return ".".join(out)


def read(path):
    try:
        return open(path).read().strip()
    except OSError:
        return None


def sources(root):
    sys_ = os.path.join(root, "sys")
    proc = os.path.join(root, "proc")
    s = {}
    s["cpufreq"] = bool(glob.glob(f"{sys_}/devices/system/cpu/cpu*/cpufreq/scaling_cur_freq"))
    s["cpufreq_max"] = bool(glob.glob(f"{sys_}/devices/system/cpu/cpu*/cpufreq/cpuinfo_max_freq"))
    s["cpuinfo_mhz"] = "cpu MHz" in (read(f"{proc}/cpuinfo") or "")
    s["governor"] = bool(glob.glob(f"{sys_}/devices/system/cpu/cpu*/cpufreq/scaling_governor"))
    chips = {}
    for h in glob.glob(f"{sys_}/class/hwmon/hwmon*"):
        chips[h] = read(f"{h}/name")
    labels = [read(l) or "" for h, n in chips.items() if n == "coretemp" for l in glob.glob(f"{h}/temp*_label")]
    s["core_temp"] = any(l.startswith("Core ") for l in labels)
    s["cpu_temp"] = s["core_temp"] or any(n in ("coretemp", "k10temp", "apm_xgene") and glob.glob(f"{h}/temp*_input")
                                          for h, n in chips.items())
    for z in glob.glob(f"{sys_}/class/thermal/thermal_zone*"):
        t = read(f"{z}/type") or ""
        if t == "x86_pkg_temp" or "cpu" in t.lower() or "soc" in t.lower():
            s["cpu_temp"] = True
    rapl = {read(f"{z}/name") for z in glob.glob(f"{sys_}/class/powercap/intel-rapl:*") if os.path.exists(f"{z}/energy_uj")}
    plabels = [(read(l) or "").lower() for l in glob.glob(f"{sys_}/class/hwmon/hwmon*/power*_label")]
    s["cpu_power"] = any(n and n.startswith("package") for n in rapl) or any("cpu" in l for l in plabels)
    s["mem_power"] = "dram" in rapl or any("dram" in l or "mem" in l for l in plabels)
    s["any_power"] = bool(rapl) or bool(glob.glob(f"{sys_}/class/hwmon/hwmon*/power*_input"))
    s["two_samples"] = os.path.isdir(os.path.join(root, "next"))
    s["boot_id"] = os.path.exists(f"{proc}/sys/kernel/random/boot_id")
    for f, k in (("cpu", "psi_cpu"), ("memory", "psi_mem"), ("io", "psi_io")):
        s[k] = os.path.exists(f"{proc}/pressure/{f}")
    # uni-stresslog's margins file, where the fixture has one: which parameters it has searches
    # for, and margins (a search that failed at nominal has none).
    s["margins"] = []
    if os.path.exists(os.path.join(root, "margins.json")):
        with open(os.path.join(root, "margins.json")) as f:
            s["margins"] = json.load(f)["margins"]
    return s


def expected(key, s):
    """True: must be present; False: must be absent."""
    if key in ("host.vms.count", "host.vms.active", "host.vms.mem_mb", "host.vms.mem_pct"):
        return True  # QEMU processes are found in the fixture's /proc (none: 0 VMs)
    if key.startswith(("host.errors.", "host.vms.", "kvm.", "host.reliability.", "host.component.")) or key in (
            "host.mem.speed_mhz", "host.mem.refresh_ms"):
        return False  # the HealthLog (and the predictor on it), taskstats and KVM (QMP) are not part of a fixture tree
    if key == "host.source.NAME.last_error":
        return True  # a fixture host has no uni-healthd: its HealthLog source is down, and says why
    if key == "host.cpu.N.freq_source":
        return s["cpufreq"] or s["cpuinfo_mhz"]
    if key == "host.cpu.N.freq_mhz":
        return s["cpufreq"] or s["cpuinfo_mhz"]
    if key == "host.cpu.capacity_mhz" or key.endswith("util_mhz"):
        return s["cpufreq_max"] or s["cpuinfo_mhz"]
    if key in ("host.cpu.N.max_mhz", "host.cpu.N.reserved_pct", "host.cpu.reserved_pct", "host.cpu.reserved_mhz"):
        return s["cpufreq"] and s["cpufreq_max"]
    if key in ("host.cpu.N.governor", "host.cpu.governor", "host.cpu.power_policy"):
        return s["governor"]
    if key == "host.cpu.N.temp_c":
        return s["core_temp"]
    if key == "host.temp.cpu_avg_c":
        return s["cpu_temp"]
    if key == "host.power.cpu_w":
        return s["cpu_power"]
    if key == "host.power.mem_w":
        return s["mem_power"]
    if key == "host.power.total_w":
        return s["any_power"]
    if key == "host.energy.total_kwh":
        return s["any_power"] and s["two_samples"]
    if key == "host.boot_id":
        return s["boot_id"]
    if key.startswith("host.availability.") or key in ("host.energy.1h_kwh", "host.energy.24h_kwh"):
        return False  # uniserverd's ledger, not a fixture tree's (docs/node-metrics.md)
    if key == "host.disk.util_pct":
        return False  # statvfs(2) of this host's filesystems: a fixture tree has none
    if key.startswith("host.margin."):
        field = key.split(".")[3]
        word = {"voltage": "voltage_mv", "refresh": "refresh_ms", "freq": "frequency_mhz"}.get(field.split("_")[0])
        if word is None:
            return bool(s["margins"])  # measured_timestamp_s, run, status, partial: one per search
        searches = [m for m in s["margins"] if m["param"] == word]
        return any(m["safe"] is not None for m in searches) if "_nominal_" not in field else bool(searches)
    if key.startswith("host.psi."):
        return s["psi_" + key.split(".")[2]]
    if key.endswith("_pct") and not s["two_samples"] and key not in (
            "host.mem.available_pct", "host.mem.cached_pct", "host.mem.contention_pct", "host.mem.util_pct"):
        return False
    return True


def main():
    hosts = sys.argv[2:]
    failures = 0
    keys = catalogue()
    for host in hosts:
        s = sources(os.path.join(SRC, "tests", "fixtures", host))
        present, absent = last_sample(host)
        ptemplates = {template_of(k) for k in present}
        n_present = 0
        for key in keys:
            t = key.replace(".L.", ".?.").replace(".C.", ".?.")
            is_present = t in ptemplates
            is_absent = key in absent
            want = expected(key, s)
            if want and not is_present:
                print(f"FAIL {host}: {key} has a source in the fixture but is missing ({absent.get(key, 'no reason')})")
                failures += 1
            elif not want and is_present:
                print(f"FAIL {host}: {key} is present but the fixture has no source for it")
                failures += 1
            elif not is_present and not is_absent:
                print(f"FAIL {host}: {key} is neither present nor absent with a reason")
                failures += 1
            n_present += is_present
        print(f"{host}: {n_present} of {len(keys)} host metrics present, the rest absent with a reason")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
