#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Conformance from outside: the local driver reads prometheus/procfs's fixture tree (a kernel tree
that another project maintains, tests/upstream/procfs/) and every value both read equals what that
project's own tests expect (their file and line are cited per value). Each difference kept is
asserted too, with the kernel documentation that decides it (tests/upstream/procfs/README.md)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SRC = os.environ["SRCDIR"]
UNISH = os.path.join(os.environ["BUILDDIR"], "bin", "unish")
UP = os.path.join(SRC, "tests", "upstream", "procfs")

# (our key, the value prometheus/procfs's tests expect, converted to our unit, where they expect it)
SAME = [
    ("host.cpu.count", 8, "cpuinfo_test.go TestCPUInfoX86: 8 processors"),
    ("host.mem.total_mb", 15666184 / 1024, "meminfo_test.go: MemTotal 15666184 kB"),
    ("host.mem.cached_mb", 12007640 / 1024, "meminfo_test.go: Cached 12007640 kB"),
    ("host.swap.total_mb", 0, "meminfo_test.go: SwapTotal 0"),
    ("host.cpu.0.freq_mhz", 1219917 / 1000, "sysfs/system_cpu_test.go: cpu0 ScalingCurrentFrequency 1219917 kHz"),
    ("host.cpu.0.max_mhz", 2400000 / 1000, "sysfs/system_cpu_test.go: cpu0 CpuinfoMaximumFrequency 2400000"),
    ("host.cpu.1.max_mhz", 3300000 / 1000, "sysfs/system_cpu_test.go: cpu1 CpuinfoMaximumFrequency 3300000"),
    # cpu1 has no scaling_cur_freq: the hardware's cpuinfo_cur_freq (Documentation/admin-guide/pm/cpufreq.rst)
    ("host.cpu.1.freq_mhz", 1200195 / 1000, "sysfs/system_cpu_test.go: cpu1 CpuinfoCurrentFrequency 1200195"),
    ("host.cpu.0.governor", "powersave", "sysfs/system_cpu_test.go: cpu0 Governor powersave"),
    ("host.cpu.1.governor", "powersave", "sysfs/system_cpu_test.go: cpu1 Governor powersave"),
    # thermal_zone0 is bcm2835_thermal (the SoC's CPU zone); thermal_zone1 acpitz is not the CPU's
    ("host.temp.cpu_avg_c", 49925 / 1000, "sysfs/class_thermal_test.go: zone 0 bcm2835_thermal Temp 49925"),
]

# Values both read where uniserver says something else on purpose: (key, ours, theirs, why).
KEPT = [
    ("host.psi.cpu.some_ms", 0, "proc_psi_test.go: some Total 15 (us)",
     "Documentation/accounting/psi.rst: total is in microseconds; uniserver's PSI counters are whole "
     "milliseconds (metrics.def), 15 us is 0 ms"),
    ("host.psi.mem.full_ms", 0, "proc_psi_test.go: full Total 25 (us)", "the same: 25 us is 0 ms"),
    ("host.mem.available_mb", None, "meminfo_test.go: MemAvailable nil (not in the fixture)",
     "absent with the reason (Documentation/filesystems/proc.rst: MemAvailable since 3.14), never 0"),
    ("host.cpu.contention_ratio", 0, "loadavg_test.go: 0.02 0.04 0.05 (running 1/497 not asserted)",
     "the one running task is the reader of /proc/loadavg (kernel/sched/loadavg.c counts it): 0 runnable"),
]


def untar(ttar, dest):
    """Unpack upstream's ttar archive as its `ttar -x` does (tests/upstream/procfs/ttar, extract():
    Path/Lines/Mode/Directory/SymlinkTo records; in content lines NULLBYTE is a NUL and a trailing
    unescaped EOF means no newline), in Python: the bash script takes a minute for this tree."""
    import re
    path, left = None, 0
    with open(ttar, "rb") as f:
        lines = f.read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for line in lines:
        if left > 0:
            no_nl = re.search(rb"[^\\]EOF", line) is not None
            line = re.sub(rb"^NULLBYTE", b"\x00", line)
            line = re.sub(rb"(?<!\\)NULLBYTE", b"\x00", line)
            line = line.replace(b"\\NULLBYTE", b"NULLBYTE")
            line = re.sub(rb"([^\\])EOF", rb"\1", line)
            line = line.replace(b"\\EOF", b"EOF")
            with open(os.path.join(dest, path), "ab") as out:
                out.write(line if no_nl else line + b"\n")
            left -= 1
            continue
        text = line.decode()
        if text.startswith("Path: "):
            path = text[6:]
        elif text.startswith("Lines: "):
            left = int(text[7:])
            open(os.path.join(dest, path), "wb").close()
        elif text.startswith("Mode: "):
            os.chmod(os.path.join(dest, path), int(text[6:], 8))
        elif text.startswith("Directory: "):
            path = text[11:]
            os.makedirs(os.path.join(dest, path), exist_ok=True)
        elif text.startswith("SymlinkTo: "):
            os.symlink(text[11:], os.path.join(dest, path))
        elif not text.startswith("#"):
            raise AssertionError(f"ttar: unknown record {text!r}")


class ProcfsConformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="uni-procfs-")
        untar(os.path.join(UP, "fixtures.ttar"), cls.tmp)
        root = os.path.join(cls.tmp, "fixtures")
        uri = f"uniserver:///system?procfs={root}/proc&sysfs={root}/sys&healthlog={cls.tmp}/none.db"
        p = subprocess.run([UNISH, "--json", "-c", uri, "nodestats", "--select", "cpu,freq,mem,contention,psi,temp"],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"unish on prometheus/procfs's tree failed: {p.stderr}")
        cls.rec = json.loads(p.stdout)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_values_both_read_agree(self):
        for key, want, where in SAME:
            with self.subTest(key=key):
                self.assertIn(key, self.rec, f"{key}: absent ({self.rec.get('absent', {}).get(key)}); {where}")
                have = self.rec[key]
                if isinstance(want, str):
                    self.assertEqual(have, want, where)
                else:
                    self.assertAlmostEqual(have, want, places=6, msg=where)

    def test_differences_kept(self):
        for key, ours, theirs, why in KEPT:
            with self.subTest(key=key):
                if ours is None:
                    self.assertNotIn(key, self.rec, why)
                    self.assertIn(key, self.rec.get("absent", {}), why)
                else:
                    self.assertEqual(self.rec.get(key), ours, f"{theirs}: {why}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--untar":  # for comparing with upstream's ttar -x
        untar(os.path.join(UP, "fixtures.ttar"), sys.argv[2])
        sys.exit(0)
    unittest.main(verbosity=2)
