#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The spec's formulas on the fixture hosts, exactly: each expected value below was computed by hand
from the fixture files (tests/fixtures/README.md shows the arithmetic), not from our output."""
import json
import os
import subprocess
import unittest

SRC = os.environ["SRCDIR"]
BUILD = os.environ["BUILDDIR"]


def samples(host):
    out = subprocess.run([os.path.join(SRC, "tests", "golden-run"), BUILD, host, "--json"], check=True,
                         capture_output=True, text=True).stdout
    return [json.loads(l) for l in out.splitlines()]


class Fixtures(unittest.TestCase):
    def eq(self, rec, key, want, tol=1e-9):
        self.assertIn(key, rec, rec.get("absent", {}).get(key))
        self.assertAlmostEqual(rec[key], want, delta=tol, msg=key)

    def test_x86_acpi(self):
        a, b = samples("x86-acpi")
        self.assertIsNone(a["window_ms"])
        self.assertEqual(b["window_ms"], 1000)
        freqs = [1200, 2600, 1800, 2000, 2400, 1200, 2200, 1600]
        for c, f in enumerate(freqs):
            self.eq(a, f"host.cpu.{c}.freq_mhz", f)
            self.eq(a, f"host.cpu.{c}.reserved_pct", 100 * (1 - f / 2600))  # 1 - f_cur/f_max
        self.eq(a, "host.cpu.reserved_pct", sum(100 * (1 - f / 2600) for f in freqs) / 8)
        self.eq(a, "host.cpu.reserved_mhz", 5800)
        self.eq(b, "host.cpu.reserved_mhz", 4200)
        self.eq(a, "host.cpu.capacity_mhz", 20800)
        for c, u in enumerate([25, 75, 50, 100, 0, 12, 45, 70]):
            self.eq(b, f"host.cpu.{c}.util_pct", u)
        self.eq(b, "host.cpu.util_pct", 100 * 377 / 800)
        self.eq(b, "host.cpu.util_mhz", 377 / 800 * 20800, 1e-6)
        self.eq(b, "host.cpu.iowait_pct", 1.875)
        self.eq(b, "host.cpu.idle_pct", 51)
        self.eq(b, "host.cpu.system_pct", 7.75)
        # 1 - (MemFree - (SwapTotal - SwapFree)) / MemTotal, above 1: used swap exceeds free memory
        self.eq(a, "host.mem.contention_ratio", 1 + 524288 / 131899468)
        self.eq(a, "host.mem.contention_pct", 100 * (1 + 524288 / 131899468))
        self.eq(a, "host.mem.contention_mb", 512)
        # section 2's utilisation, occupied over capacity: (MemTotal - MemAvailable) / MemTotal
        self.eq(a, "host.mem.util_pct", 100 * (131899468 - 10485760) / 131899468)
        self.assertEqual(a["host.boot_id"], "3f2c8a51-6d0e-4b7a-9c1f-2e5d7b8a9c10")
        # loadavg says 9/... and 11/...: the reader of the file is one of them (not load)
        self.eq(a, "host.cpu.contention_ratio", (9 - 1) / 8)
        self.eq(b, "host.cpu.contention_ratio", (11 - 1) / 8)
        self.eq(a, "host.cpu.max_util_ms", 0)
        self.eq(b, "host.cpu.max_util_ms", 1000)
        self.eq(b, "host.cpu.contention_pct", 1.2)
        self.eq(a, "host.temp.cpu_avg_c", 58.25)
        self.eq(b, "host.temp.cpu_avg_c", 60.125)
        self.eq(b, "host.cpu.3.temp_c", 71)
        # package-1's energy_uj wraps at max_energy_range_uj between the samples
        self.eq(b, "host.power.cpu_w", 177.76095, 1e-6)
        self.eq(b, "host.power.mem_w", 23.33325, 1e-6)
        self.eq(b, "host.power.total_w", 201.0942, 1e-6)
        self.eq(b, "host.energy.total_kwh", 201.0942 / 3.6e6, 1e-12)
        self.assertEqual(b["host.cpu.governor"], "ondemand")
        self.assertEqual(b["host.cpu.power_policy"], "balanced")

    def test_x86_pstate(self):
        a, b = samples("x86-pstate")
        self.eq(a, "host.cpu.count", 7)  # cpu7 offline
        self.assertNotIn("host.cpu.7.freq_mhz", a)
        self.eq(a, "host.cpu.capacity_mhz", 27300)
        self.eq(a, "host.cpu.reserved_mhz", 10200)
        self.eq(b, "host.cpu.reserved_mhz", 600)
        self.eq(b, "host.cpu.util_pct", 100 * 297 / 700)
        self.assertEqual(a["host.cpu.governor"], "powersave")
        self.assertEqual(a["host.cpu.power_policy"], "balanced")  # EPP balance_performance wins
        self.eq(a, "host.temp.cpu_avg_c", 45.5)
        self.eq(b, "host.temp.cpu_avg_c", 47)
        # SMT siblings share their core's sensor
        self.assertEqual(b["host.cpu.0.temp_c"], b["host.cpu.4.temp_c"])
        self.eq(b, "host.power.cpu_w", 35.25)  # not 70.5: intel-rapl-mmio is the same package
        self.eq(b, "host.power.mem_w", 2.75)
        self.eq(b, "host.power.total_w", 52.5)  # psys
        for k in ("host.power.cpu_w", "host.power.mem_w", "host.power.total_w"):
            self.assertIn("first sample", a["absent"][k])

    def test_xgene2(self):
        a, b = samples("xgene2")
        self.assertEqual(a["host.cpu.governor"], "mixed")
        self.assertEqual(a["host.cpu.power_policy"], "mixed")
        self.eq(a, "host.cpu.reserved_pct", 18.75)
        self.eq(a, "host.cpu.reserved_mhz", 3600)
        self.eq(b, "host.cpu.reserved_pct", 15.625)
        self.eq(b, "host.cpu.util_pct", 42.5)
        self.eq(b, "host.cpu.util_mhz", 8160)
        self.eq(a, "host.cpu.contention_ms", 0)  # no PSI: windows with more runnable than cores
        self.eq(b, "host.cpu.contention_ms", 1000)
        self.eq(b, "host.cpu.contention_pct", 100)
        self.eq(a, "host.temp.cpu_avg_c", 51)
        self.eq(b, "host.temp.cpu_avg_c", 53)
        self.eq(a, "host.power.cpu_w", 23.456)
        self.eq(a, "host.power.total_w", 32.221)
        self.eq(b, "host.power.cpu_w", 25)
        self.eq(b, "host.power.total_w", 33.5)
        self.eq(b, "host.energy.total_kwh", 33.5 / 3.6e6, 1e-12)
        self.assertIn("host.power.mem_w", b["absent"])
        self.assertIn("host.psi.cpu.some_ms", b["absent"])
        self.assertNotIn("host.cpu.N.freq_mhz", a["absent"])

    def test_many256(self):
        a, b = samples("many256")
        self.eq(a, "host.cpu.count", 256)
        self.eq(a, "host.cpu.reserved_mhz", 160000)
        self.eq(b, "host.cpu.reserved_mhz", 70400)
        self.eq(b, "host.cpu.util_pct", 100 * 11531 / 25600)
        for c in (0, 100, 101, 255):
            self.eq(b, f"host.cpu.{c}.util_pct", c % 101)
        self.eq(b, "host.cpu.contention_pct", 25)
        self.eq(a, "host.temp.cpu_avg_c", 54.34375)
        self.eq(b, "host.temp.cpu_avg_c", 54.515625)
        self.eq(b, "host.power.cpu_w", 586.5)
        self.eq(b, "host.power.mem_w", 81.5)
        self.eq(b, "host.power.total_w", 668)

    def test_bare(self):
        a, b = samples("bare")
        self.eq(a, "host.cpu.capacity_mhz", 2 * 2596.122, 1e-9)
        self.eq(b, "host.cpu.util_pct", 10)
        self.eq(b, "host.cpu.util_mhz", 0.1 * 2 * 2596.122, 1e-9)
        self.eq(b, "host.cpu.contention_pct", 0.2)
        for k in ("host.cpu.N.max_mhz", "host.cpu.reserved_pct", "host.cpu.governor", "host.temp.cpu_avg_c",
                  "host.power.total_w"):
            self.assertIn(k, b["absent"])
        self.assertIn("no cpufreq", b["absent"]["host.cpu.reserved_pct"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
