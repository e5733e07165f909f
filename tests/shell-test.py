#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""unish end to end: every command on the test driver and on fixtures, --json parsed strictly,
exit statuses (0 ok, 1 failed call, 2 bad usage), errors on stderr naming the bad value."""
import json
import os
import subprocess
import sys
import unittest

SRC = os.environ["SRCDIR"]
UNISH = os.path.join(os.environ["BUILDDIR"], "bin", "unish")
FIX = os.path.join(SRC, "tests", "fixtures")


def fixture_uri(host):
    return f"uniserver:///system?procfs={FIX}/{host}/proc&sysfs={FIX}/{host}/sys"


def unish(*args, uri="test:///default"):
    p = subprocess.run([UNISH, "-c", uri, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def load_views():
    views = {}
    for line in open(os.path.join(SRC, "tests", "data", "views.tsv")):
        if line.startswith("#") or line.startswith("view\t"):
            continue
        view, pos, key = line.split("\t")[:3]
        views.setdefault(view, []).append(key)
    return views


class Shell(unittest.TestCase):
    def json_of(self, *args, uri="test:///default"):
        rc, out, err = unish("--json", *args, uri=uri)
        self.assertEqual(rc, 0, err)
        return json.loads(out)

    def test_help_and_usage(self):
        rc, out, _ = unish("help")
        self.assertEqual(rc, 0)
        for cmd in ("nodestats", "hostcpustats", "hostmemstats", "hostsysstats", "hostcontention",
                    "hostgovernor", "hostpower", "hosttemp", "metrics", "help"):
            self.assertIn(cmd, out)
        rc, out, _ = unish("help", "hostcpustats")
        self.assertEqual(rc, 0)
        self.assertIn("getHostCPUStatisticsUniserver", out)
        p = subprocess.run([UNISH, "--help"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0)
        self.assertIn("usage: unish", p.stdout)

    def test_bad_usage_exits_2(self):
        for args in (["nosuchcmd"], ["nodestats", "--bogus"], ["nodestats", "--window", "-5"],
                     ["nodestats", "--window", "abc"], ["errors"], ["help", "nosuch"], ["hostgovernor", "x"]):
            rc, out, err = unish(*args)
            self.assertEqual(rc, 2, args)
            self.assertEqual(out, "", args)
            self.assertTrue(err.startswith("error: "), err)
        p = subprocess.run([UNISH], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        p = subprocess.run([UNISH, "--frobnicate"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--frobnicate", p.stderr)

    def test_failed_calls_exit_1(self):
        cases = [("nosuch:///x", "NO_DRIVER"), ("uniserver:///system?procfs=/nonexistent", "NO_SOURCE"),
                 ("uniserver:///system?wrong=1", "INVALID_URI"),
                 (fixture_uri("broken-garbage"), "PARSE_FAILED"),
                 (fixture_uri("broken-truncated"), "PARSE_FAILED"),
                 (fixture_uri("broken-nostat"), "NO_SOURCE")]
        for uri, code in cases:
            rc, out, err = unish("nodestats", uri=uri)
            self.assertEqual(rc, 1, uri)
            self.assertEqual(out, "", f"{uri}: partial output {out!r}")
            self.assertIn(code, err, uri)
            self.assertTrue(err.startswith("error: "), err)
        rc, _, err = unish("nodestats", "--select", "host.nothing")
        self.assertEqual(rc, 1)
        self.assertIn("host.nothing", err)

    def test_views_in_spec_order(self):
        views = load_views()
        commands = {"hostcpustats": "getHostCPUStatisticsUniserver",
                    "hostmemstats": "getHostMemoryStatisticsUniserver",
                    "hostsysstats": "getHostSystemStatisticsUniserver",
                    "hostcontention": "getHostContentionStatistics",
                    "hostpower": "getHostPowerConsumptionUniserver",
                    "hosttemp": "getHostTemperatureUniserver",
                    "domsstats": "getDomainsStatisticsUniserver"}
        for cmd, view in commands.items():
            j = self.json_of(cmd, "--window", "1")
            keys = [k for k in j if k not in ("window_ms", "absent")]
            # Per-core keys (N) expand to cores 0..7 in order.
            expect = []
            for k in views[view]:
                expect += [k.replace(".N.", f".{n}.") for n in range(8)] if ".N." in k else [k]
            self.assertEqual(keys, expect, cmd)
        for flag, kind in (("--correctable", "ce"), ("--uncorrectable", "ue")):
            j = self.json_of("errors", flag)
            keys = [k for k in j if k not in ("window_ms", "absent")]
            self.assertEqual(keys, [f"host.errors.{c}.{kind}.{m}" for c in ("l2", "l3", "dram", "mcu")
                                    for m in ("count", "rate_per_min")])
        self.assertEqual(self.json_of("hostgovernor"), {"host.cpu.governor": "mixed"})

    def test_nodestats_json(self):
        j = self.json_of("nodestats")
        self.assertIsNone(j["window_ms"])
        self.assertEqual(j["host.cpu.count"], 8)
        self.assertIn("host.cpu.util_pct", j["absent"])
        j = self.json_of("nodestats", "--window", "1")
        self.assertEqual(j["window_ms"], 1000)
        self.assertEqual(j["host.cpu.7.util_pct"], 80)
        self.assertEqual(j["host.errors.l2.ce.count"], 2)  # 60 per minute, t = 2 s
        j = self.json_of("nodestats", "--select", "mem,temp")
        self.assertTrue(all(k.startswith(("host.mem.", "host.swap.", "host.temp.", "host.cpu.")) for k in j
                            if k not in ("window_ms", "absent")))
        self.assertIn("host.cpu.0.temp_c", j)
        self.assertNotIn("host.cpu.count", j)

    def test_human_output(self):
        rc, out, _ = unish("hostmemstats")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"(?m)^host.mem.total_mb +16384 MB$")
        rc, out, _ = unish("hostcpustats", uri=fixture_uri("bare"))
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"host.cpu.reserved_pct\s+-\s+\(no cpufreq on this host")

    def test_metrics(self):
        j = self.json_of("metrics")
        keys = [d["key"] for d in j]
        self.assertIn("host.cpu.N.freq_mhz", keys)
        for d in j:
            self.assertEqual(set(d), {"id", "key", "kind", "unit", "group", "spec", "source", "help"})
        rc, out, _ = unish("metrics")
        self.assertEqual(rc, 0)
        self.assertEqual(len(out.splitlines()), len(j))

    def test_every_fixture_host(self):
        for host in ("x86-acpi", "x86-pstate", "xgene2", "many256", "bare"):
            for cmd in ("nodestats", "hostcpustats", "hostmemstats", "hosttemp", "hostpower", "hostgovernor"):
                rc, out, err = unish("--json", cmd, "--window", "0", uri=fixture_uri(host)) if cmd != "hostgovernor" \
                    else unish("--json", cmd, uri=fixture_uri(host))
                if cmd == "hostgovernor" and host == "bare":
                    self.assertEqual(rc, 1)
                    self.assertIn("NO_DATA", err)
                    continue
                self.assertEqual(rc, 0, f"{host} {cmd}: {err}")
                json.loads(out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
