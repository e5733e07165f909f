#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Smoke test on this machine's real /proc and /sys: the record agrees with the kernel's own files
and with nproc; rates are present over a window; what the machine lacks is absent with a reason."""
import json
import os
import subprocess
import sys
import unittest

UNISH = os.path.join(os.environ["BUILDDIR"], "bin", "unish")


def unish_json(*args):
    p = subprocess.run([UNISH, "-c", "uniserver:///system", "--json", *args], capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0:
        raise AssertionError(p.stderr)
    return json.loads(p.stdout)


class RealHost(unittest.TestCase):
    def test_record(self):
        hz = os.sysconf("SC_CLK_TCK")

        def kernel_ms():
            f = open("/proc/stat").readline().split()
            return {"idle": int(f[4]) * 1000 // hz, "system": int(f[3]) * 1000 // hz, "iowait": int(f[5]) * 1000 // hz}
        before = kernel_ms()
        j = unish_json("nodestats", "--window", "200")
        after = kernel_ms()
        # The counters are the kernel's, read between our two reads (utilisation + idle + iowait
        # = 100 below holds by construction; these do not).
        for k in ("idle", "system", "iowait"):
            self.assertTrue(before[k] <= j[f"host.cpu.{k}_ms"] <= after[k], (k, before[k], j[f"host.cpu.{k}_ms"], after[k]))
        self.assertEqual(j["host.cpu.count"], os.cpu_count())
        memtotal = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal:"))
        self.assertAlmostEqual(j["host.mem.total_mb"], memtotal / 1024, places=3)
        self.assertGreaterEqual(j["window_ms"], 200)
        for k in ("host.cpu.util_pct", "host.cpu.idle_pct", "host.mem.available_pct", "host.mem.contention_ratio",
                  "host.cpu.contention_ratio"):
            self.assertIn(k, j)
        self.assertTrue(0 <= j["host.cpu.util_pct"] <= 100)
        self.assertAlmostEqual(j["host.cpu.util_pct"] + j["host.cpu.idle_pct"] + j["host.cpu.iowait_pct"], 100, delta=0.01)
        for n in range(os.cpu_count()):
            self.assertIn(f"host.cpu.{n}.util_pct", j)
        # Whatever is missing here has a reason, never a made-up value.
        for k, why in j["absent"].items():
            self.assertTrue(len(why) > 10, k)
        if not os.path.isdir("/sys/devices/system/cpu/cpu0/cpufreq"):
            self.assertIn("no cpufreq", j["absent"]["host.cpu.reserved_pct"])
            print("SKIP-PART: no cpufreq on this machine: frequencies tested on fixtures")
        if os.path.exists("/proc/pressure/cpu"):
            self.assertIn("host.psi.cpu.some_ms", j)


if __name__ == "__main__":
    unittest.main(verbosity=2)
