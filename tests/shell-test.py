#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""unish end to end: every command on the test driver and on fixtures, --json parsed strictly,
exit statuses (0 ok, 1 failed call, 2 bad usage), errors on stderr naming the bad value."""
import contextlib
import datetime
import json
import os
import re
import shutil
import subprocess
import tempfile
import sys
import unittest

SRC = os.environ["SRCDIR"]
UNISH = os.path.join(os.environ["BUILDDIR"], "bin", "unish")
FIX = os.path.join(SRC, "tests", "fixtures")


def fixture_uri(host):
    return f"uniserver:///system?procfs={FIX}/{host}/proc&sysfs={FIX}/{host}/sys"


@contextlib.contextmanager
def fixture_copy(host):
    """A writable copy of fixture HOST: (its root, its uniserver:/// URI); removed afterwards."""
    tmp = tempfile.mkdtemp(prefix=f"uni-shell-{host}-")
    try:
        root = os.path.join(tmp, host)
        shutil.copytree(os.path.join(FIX, host), root, symlinks=True)
        yield root, f"uniserver:///system?procfs={root}/proc&sysfs={root}/sys"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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
                    "hostgovernor", "hostpower", "hosttemp", "metrics", "help", "list", "domstats", "domsstats",
                    "kvmstat", "top"):
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

    def test_cut_kernel_files_are_malformed(self):
        """A /proc/stat whose last line is cut inside a number (no newline), or whose CPU line is short
        of the 7 columns every kernel prints, fails with PARSE_FAILED naming the file; a cut PSI file
        makes its metrics absent and the psi source down."""
        with fixture_copy("x86-acpi") as (root, uri):
            stat = open(os.path.join(root, "proc", "stat")).read()
            lines = stat.splitlines()
            cpu0 = next(i for i, l in enumerate(lines) if l.startswith("cpu0 "))
            for text in ("\n".join(lines[:cpu0 + 1])[:-3],  # cut inside cpu0's last column
                         "\n".join(lines[:cpu0]) + "\ncpu0 1 2 3 4\n"):  # cpu0 with 4 columns
                with open(os.path.join(root, "proc", "stat"), "w") as f:
                    f.write(text)
                rc, out, err = unish("nodestats", "--select", "cpu", uri=uri)
                self.assertEqual(rc, 1, out)
                self.assertIn("PARSE_FAILED", err)
                self.assertIn(f"{root}/proc/stat", err)
            with open(os.path.join(root, "proc", "stat"), "w") as f:
                f.write(stat)
            psi = open(os.path.join(root, "proc", "pressure", "io")).read()
            with open(os.path.join(root, "proc", "pressure", "io"), "w") as f:
                f.write(psi.rstrip("\n")[:-2])
            rc, out, err = unish("nodestats", "--select", "psi,sources", uri=uri)
            self.assertEqual(rc, 0, err)
            self.assertRegex(out, r"host\.psi\.io\.some_ms +- +\(.*pressure/io malformed \(cut")
            self.assertRegex(out, r"host\.source\.psi\.state +down")
            self.assertRegex(out, r"host\.source\.psi\.up +0")

    def test_hardware_counted_rightly(self):
        """k10temp's Tctl (a fan-control value with an offset) is not averaged in where Tdie/Tccd exist;
        an old hwmon driver's attributes under hwmonN/device/ are read; a Raspberry Pi's
        bcm2835_thermal zone is a CPU zone; a meminfo without swap lines is missing data."""
        with fixture_copy("bare") as (root, uri):

            def put(rel, text):
                os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
                with open(os.path.join(root, rel), "w") as f:
                    f.write(text)

            def avg():
                rc, out, err = unish("nodestats", "--select", "host.temp.cpu_avg_c", uri=uri)
                self.assertEqual(rc, 0, err)
                return out.split()[1]
            put("sys/class/hwmon/hwmon0/name", "k10temp\n")
            for n, (label, mc) in enumerate((("Tctl", 90000), ("Tdie", 60000), ("Tccd1", 62000)), 1):
                put(f"sys/class/hwmon/hwmon0/temp{n}_label", label + "\n")
                put(f"sys/class/hwmon/hwmon0/temp{n}_input", f"{mc}\n")
            self.assertEqual(float(avg()), 61.0)  # (60 + 62) / 2; with Tctl it was 70.67
            shutil.rmtree(os.path.join(root, "sys/class/hwmon/hwmon0"))
            put("sys/class/hwmon/hwmon1/device/name", "k10temp\n")
            put("sys/class/hwmon/hwmon1/device/temp1_input", "55000\n")
            self.assertEqual(float(avg()), 55.0)
            shutil.rmtree(os.path.join(root, "sys/class/hwmon"))
            put("sys/class/thermal/thermal_zone0/type", "bcm2835_thermal\n")
            put("sys/class/thermal/thermal_zone0/temp", "48312\n")
            self.assertAlmostEqual(float(avg()), 48.31, places=2)
            meminfo = open(os.path.join(root, "proc/meminfo")).read()
            put("proc/meminfo", "".join(l for l in meminfo.splitlines(True) if not l.startswith("Swap")))
            rc, out, err = unish("nodestats", "--select", "mem,contention", uri=uri)
            self.assertEqual(rc, 0, err)
            self.assertRegex(out, r"host\.swap\.total_mb +- +\(no SwapTotal")
            self.assertRegex(out, r"host\.mem\.contention_ratio +- +\(no SwapTotal/SwapFree")

    def test_not_found_and_missing_values_say_so(self):
        """'Not found' is an error (exit 1) everywhere; an option without its value or with a bad one
        says so; uni-healthd does not go to the background with an import it cannot do."""
        bare = fixture_uri("bare")
        for args, uri, code, what in ((["healthlog", "--dimm", "NOPE"], "test:///default", "NO_SOURCE", "'NOPE'"),
                                      (["healthlog", "--core", "99"], "test:///default", "NO_CORE", "core 99"),
                                      (["domstats", "--all"], bare, "NO_DOMAIN", "no domain")):
            rc, out, err = unish(*args, uri=uri)
            self.assertEqual((rc, out), (1, ""), args)
            self.assertIn(code, err, args)
            self.assertIn(what, err, args)
        rc, out, _ = unish("healthlog", "--core", "1")
        self.assertEqual(rc, 0)
        for args, msg in ((["top", "--sort", "x"], "--sort takes one of"),
                          (["nodestats", "--window"], "option '--window' needs a value"),
                          (["healthlog", "--dimm"], "option '--dimm' needs a value")):
            rc, out, err = unish(*args)
            self.assertEqual(rc, 2, args)
            self.assertIn(msg, err, args)
        p = subprocess.run([UNISH, "-c"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("option '-c' needs a URI", p.stderr)
        healthd = os.path.join(os.path.dirname(UNISH), "uni-healthd")
        tmp = tempfile.mkdtemp(prefix="uni-shell-import-")
        try:
            p = subprocess.run([healthd, "--db", os.path.join(tmp, "h.db"), "--import-rasdaemon", "/nonexistent/ras.db"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("/nonexistent/ras.db", p.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_no_silent_fallback(self):
        """A core whose cpufreq value is malformed takes /proc/cpuinfo's frequency and says so
        (host.cpu.N.freq_source); its maximum stays (capacity counts it); the metrics absent for it
        name the core and why; the host-wide reserved capacity is not an average of the others."""
        with fixture_copy("x86-acpi") as (root, uri):
            with open(os.path.join(root, "sys/devices/system/cpu/cpu3/cpufreq/scaling_cur_freq"), "w") as f:
                f.write("12x4\n")
            rc, out, err = unish("nodestats", "--select", "freq", uri=uri)
            self.assertEqual(rc, 0, err)
            self.assertRegex(out, r"host\.cpu\.3\.freq_source +cpuinfo")
            self.assertRegex(out, r"host\.cpu\.2\.freq_source +cpufreq")
            self.assertRegex(out, r"host\.cpu\.3\.max_mhz +2600")
            self.assertRegex(out, r"host\.cpu\.N\.reserved_pct +- +\(core 3: scaling_cur_freq malformed\)")
            self.assertRegex(out, r"host\.cpu\.reserved_pct +- +\(not every online core")

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

    def test_health(self):
        # Section 2 on one screen: what the host has in the view's order, then each absence with
        # its reason (in process the ledger's metrics say where they are: uniserverd).
        j = self.json_of("health", "--window", "1")
        # (The predictor's reliability keys are to follow these: appended to the view's row.)
        self.assertEqual([k for k in j if k.startswith(("host.cpu.", "host.mem."))], ["host.cpu.util_pct", "host.mem.util_pct"])
        self.assertEqual(j["host.mem.util_pct"], 50)
        self.assertLessEqual({"host.availability.1h_pct", "host.availability.24h_pct", "host.availability.30d_pct",
                              "host.disk.util_pct", "host.energy.1h_kwh", "host.energy.24h_kwh"}, set(j["absent"]))
        self.assertIn("uniserverd", j["absent"]["host.energy.24h_kwh"])
        rc, out, _ = unish("help", "health")
        self.assertEqual(rc, 0)
        self.assertIn("getHostMetricsOfInterestUniserver", out)
        rc, out, _ = unish("health")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"(?m)^host.mem.util_pct +50 %$")

    def test_nodestats_json(self):
        j = self.json_of("nodestats")
        self.assertIsNone(j["window_ms"])
        self.assertEqual(j["host.cpu.count"], 8)
        self.assertIn("host.cpu.util_pct", j["absent"])
        j = self.json_of("nodestats", "--window", "1")
        self.assertEqual(j["window_ms"], 1000)
        self.assertAlmostEqual(j["host.cpu.util_pct"], 100 - j["host.cpu.idle_pct"] - j["host.cpu.iowait_pct"], 9)
        self.assertAlmostEqual(j["host.cpu.util_pct"], sum(j[f"host.cpu.{c}.util_pct"] for c in range(8)) / 8, 9)
        self.assertEqual(j["host.errors.l2.count"], j["host.errors.l2.ce.count"] + j["host.errors.l2.ue.count"])
        j = self.json_of("nodestats", "--select", "mem,temp")
        self.assertTrue(all(k.startswith(("host.mem.", "host.swap.", "host.temp.", "host.cpu.")) for k in j
                            if k not in ("window_ms", "absent")))
        self.assertIn("host.cpu.0.temp_c", j)
        self.assertNotIn("host.cpu.count", j)

    def test_one_error_model(self):
        """The simulated node's error views are one set of counters: errors --correctable and
        --uncorrectable, healthlog --summary and the events healthlog lists agree, DIMM by DIMM,
        and name the DIMMs oppoints names; another seed is another board."""
        for seed in (1, 4):
            uri = f"test:///default?seed={seed}"
            ce = self.json_of("errors", "--correctable", uri=uri)
            ue = self.json_of("errors", "--uncorrectable", uri=uri)
            summary = self.json_of("healthlog", "--summary", uri=uri)
            labels = [d for dom in self.json_of("oppoints", uri=uri)["domains"] for d in dom.get("dimms", [])]
            self.assertEqual(sorted(summary["dimms"]), sorted(labels))
            self.assertEqual(sum(d["ce"] for d in summary["dimms"].values()), ce["host.errors.dram.ce.count"])
            self.assertEqual(sum(d["ue"] for d in summary["dimms"].values()), ue["host.errors.dram.ue.count"])
            self.assertEqual(sum(c["ce"] for c in summary["cores"].values()),
                             ce["host.errors.l2.ce.count"] + self.json_of("nodestats", "--select", "host.errors.l1.count",
                                                                          uri=uri)["host.errors.l1.count"])
            self.assertGreater(ce["host.errors.dram.ce.count"], 0)
            for label in labels[:3]:
                ev = self.json_of("healthlog", "--dimm", label, uri=uri)
                self.assertEqual(sum(e["event.count"] for e in ev if e["event.severity"] == "corrected"),
                                 summary["dimms"][label]["ce"], label)
            if seed == 1:
                first = summary
        self.assertNotEqual(first, summary)

    def test_human_output(self):
        rc, out, _ = unish("hostmemstats")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"(?m)^host.mem.total_mb +16384 MB$")
        rc, out, _ = unish("hostcpustats", uri=fixture_uri("bare"))
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"host.cpu.reserved_pct\s+-\s+\(no cpufreq on this host")

    def test_margins(self):
        """unish margins: each search of uni-stresslog's margins file with its nominal, safe value,
        guard band, when and which run (tests/fixtures/xgene2/margins.json); no file: the reason;
        a malformed or newer file: exit 1 with the reason, the source down, no value."""
        uri = fixture_uri("xgene2") + f"&margins={FIX}/xgene2/margins.json"
        rc, out, err = unish("margins", uri=uri)
        self.assertEqual(rc, 0, err)
        run = "started 2026-12-07T02:40:00Z, raw log /var/lib/uniserver/stresslog.jsonl"
        rows = [line.split(None, 10) for line in out.splitlines()[1:]]
        self.assertEqual([r[:10] for r in rows], [
            ["pmd0:voltage@2400MHz", "980", "mV", "910", "mV", "5", "mV", "2026-12-07", "02:45:10", "failure"],
            ["pmd0:voltage@1200MHz", "980", "mV", "875", "mV", "5", "mV", "2026-12-07", "02:50:30", "failure"],
            ["pmd1:voltage@2400MHz", "980", "mV", "-", "-", "2026-12-07", "02:51:00", "failure", "started",
             "2026-12-07T02:40:00Z,"],
            ["mc0:refresh", "64", "ms", "931", "ms", "93", "ms", "2026-12-07", "03:00:00", "budget"]])
        self.assertTrue(all(line.endswith(run) for line in out.splitlines()[1:]), out)
        self.assertIn("budget (partial)", out)
        rec = self.json_of("nodestats", "--select", "margins", uri=uri)
        self.assertEqual(rec["host.margin.pmd0:voltage@1200MHz.voltage_safe_mv"], 875)
        self.assertEqual(rec["host.margin.mc0:refresh.refresh_guard_ms"], 93)
        self.assertNotIn("host.margin.pmd1:voltage@2400MHz.voltage_safe_mv", rec)  # failed at nominal: none
        # No margins file: nothing made up, the reason instead.
        rc, out, err = unish("margins", uri=fixture_uri("xgene2") + "&margins=/nonexistent/margins.json")
        self.assertEqual((rc, out), (0, "no margins: no margins file at /nonexistent/margins.json: uni-stresslog "
                                        "writes it (docs/stresslog.md)\n"), err)
        with open(f"{FIX}/xgene2/margins.json") as f:
            good = f.read()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.json")
            for text, why in ((good.replace('"version": 1', '"version": 2'),
                               "version 2 is newer than this reader's (1): update uniserver"),
                              (good.replace('"safe": 931', '"safe": 1100'),
                               "margins[3] (mc0): safe 1100 is outside the search's first step 64 .. last_clean 1024"),
                              (good[:len(good) // 2], "not JSON")):
                with open(path, "w") as f:
                    f.write(text)
                uri = fixture_uri("xgene2") + f"&margins={path}"
                rc, out, err = unish("margins", uri=uri)
                self.assertEqual((rc, out), (1, ""), why)
                self.assertIn(f"unish: margins: margins file {path}: {why}", err)
                rec = self.json_of("nodestats", "--select", "margins,host.source.margins.", uri=uri)
                self.assertEqual(rec["host.source.margins.state"], "down")
                self.assertFalse([k for k in rec if k.startswith("host.margin.")], rec)
                self.assertIn(why, rec["absent"]["host.margin.NAME.voltage_safe_mv"])

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

    def test_domains(self):
        j = self.json_of("list", "--all")
        self.assertEqual([d["name"] for d in j], ["vm-1", "vm-2", "vm-3"])
        self.assertEqual([d["state"] for d in j], ["running", "running", "shut off"])
        self.assertEqual(j[0]["uuid"], "7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a61")
        self.assertEqual(len(self.json_of("list")), 2)
        rc, out, _ = unish("list")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"(?m)^ 4000 +vm-1 +7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a61 +running")
        # The spec's per-domain view, in its order; by name or UUID.
        views = load_views()
        j = self.json_of("domstats", "vm-1")
        self.assertEqual([k for k in j if k not in ("window_ms", "absent")], views["getDomainStatisticsUniserver"])
        self.assertEqual(j["dom.mem_mb"], 2048)
        self.assertEqual(self.json_of("domstats", "7B3F8A2E-5D41-4C6E-9A0B-1C2D3E4F5A62")["dom.mem_mb"], 1024)
        # Every VM's record: an object keyed by domain name, each keyed by dotted key.
        j = self.json_of("domstats", "--all", "--window", "1")
        self.assertEqual(list(j), ["vm-1", "vm-2", "vm-3"])
        self.assertEqual(j["vm-1"]["window_ms"], 1000)
        self.assertEqual(j["vm-1"]["dom.vcpu.1.kvm.exits"], 24000)
        self.assertEqual(j["vm-2"]["dom.cpu.util_pct"], 25)
        self.assertEqual(j["vm-3"]["dom.state"], "shut off")
        self.assertEqual(j["vm-3"]["absent"]["dom.mem_mb"], "the domain is not running")
        j = self.json_of("domstats", "--all", "--active", "--select", "kvm")
        self.assertEqual(list(j), ["vm-1", "vm-2"])
        self.assertTrue(all(k.startswith(("dom.kvm", "dom.vcpu.")) for k in j["vm-2"] if k not in ("window_ms", "absent")))
        j = self.json_of("domstats", "vm-2", "--record", "--select", "dom.disk.")
        self.assertEqual(j["vm-2"]["dom.disk.0.device"], "vda")
        rc, out, _ = unish("domstats", "--all", "--select", "dom.state")
        self.assertEqual(rc, 0)
        self.assertIn("Domain: 'vm-3'\n  dom.state  shut off", out)
        # Errors: no such domain (1), bad usage (2), a host key in a domain selection (1).
        rc, out, err = unish("domstats", "nosuch")
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("NO_DOMAIN", err)
        for args in (["domstats"], ["domstats", "vm-1", "--all"], ["domstats", "vm-1", "--select", "kvm"],
                     ["list", "--bogus"], ["kvmstat", "--fields", "("], ["kvmstat", "--once", "--log"],
                     ["kvmstat", "--interval", "0"]):
            rc, out, err = unish(*args)
            self.assertEqual(rc, 2, args)
            self.assertTrue(err.startswith("error: "), err)
        rc, _, err = unish("domstats", "--all", "--select", "host.cpu")
        self.assertEqual(rc, 1)
        self.assertIn("UNKNOWN_METRIC", err)

    def test_kvmstat(self):
        # Host-wide sums over vm-1 (2 vCPUs) and vm-2 (1): exits 12000/s per vCPU.
        j = self.json_of("kvmstat", "--once", "--interval", "1")
        self.assertEqual(j["window_ms"], 1000)
        self.assertEqual(j["fields"]["exits"]["rate"], 36000)
        j = self.json_of("kvmstat", "--once", "--guest", "vm-2", "--fields", "^halt", "--interval", "1")
        self.assertEqual(j["fields"], {"halt_exits": {"total": 1600, "rate": 800}})
        rc, out, _ = unish("kvmstat", "--log", "--count", "2", "--interval", "1", "--fields", "^(exits|io_exits)$")
        self.assertEqual(rc, 0)
        rows = out.strip().splitlines()
        self.assertEqual(rows[0], "time,exits,io_exits")
        self.assertEqual([r.split(",")[1:] for r in rows[1:]], [["36000", "4500"], ["36000", "4500"]])
        rc, out, _ = unish("kvmstat", "--once", "--interval", "1", "--table2")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"(?m)^ exits +72000 ")
        self.assertIn("efer_reload", out)
        rc, out, err = unish("kvmstat", "--once", "--guest", "nosuch", "--interval", "1")
        self.assertEqual(rc, 1)
        self.assertIn("NO_DOMAIN", err)

    def test_top_batch(self):
        rc, out, err = unish("top", "--batch", "--count", "2", "--interval", "100", "--sort", "e")
        self.assertEqual(rc, 0, err)
        frames = ["unish top -" + f for f in out.split("unish top -")[1:]]
        self.assertEqual(len(frames), 2)
        # Each batch frame is titled with its date and time (ISO 8601, with the UTC offset), for
        # logs, and carries no key hints: there are no keys in a batch.
        for f in frames:
            title = f.splitlines()[0]
            self.assertRegex(title, r"^unish top - \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} - 2 VMs - sort: exits/s$")
            self.assertNotIn("quit", f)
            self.assertNotIn("help", f)
        t0, t1 = (datetime.datetime.strptime(f.split(" - ")[1], "%Y-%m-%dT%H:%M:%S%z") for f in frames)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - t1).total_seconds()), 60)  # the clock is the host's, not a made-up one
        self.assertLessEqual(t0, t1)
        self.assertIn("host: CPU", frames[1])
        self.assertRegex(frames[1], r"contention [0-9.]+  power [1-9][0-9.]+ W  errors [0-9.]+ /min")
        # vm-1 (2 vCPUs) makes 24000 exits/s, vm-2 12000: sorted by exits/s.
        self.assertRegex(frames[1], r"(?m)^vm-1 +R +2 +50.0 +2048.0 +24000 +1600 +0.80$")
        self.assertRegex(frames[1], r"(?m)^vm-2 +R +1 +25.0 +1024.0 +12000 +800 +0.40$")
        self.assertLess(frames[1].index("vm-1"), frames[1].index("vm-2"))
        rc, _, _ = unish("top", "--sort", "x")
        self.assertEqual(rc, 2)
        rc, _, _ = unish("--json", "top", "--batch")
        self.assertEqual(rc, 2)

    def test_top_counts_vms_in_english(self):
        """One VM is "1 VM", none "0 VMs" (a fixture host with one QEMU process, the bare host)."""
        with fixture_copy("kvm-host") as (root, uri):
            shutil.rmtree(os.path.join(root, "proc", "5151"))  # the paused one: fix-a is left
            rc, out, err = unish("top", "--batch", "--count", "1", uri=uri)
            self.assertEqual(rc, 0, err)
            self.assertRegex(out.splitlines()[0], r" - 1 VM - sort: CPU %$")
            self.assertRegex(out, r"(?m)^fix-a +R +2 ")
        rc, out, err = unish("top", "--batch", "--count", "1", uri=fixture_uri("bare"))
        self.assertEqual(rc, 0, err)
        self.assertRegex(out.splitlines()[0], r" - 0 VMs - sort: CPU %$")

    def test_top_terminal(self):
        """The curses view in a real terminal (tmux): a clock, `?` lists the keys, an unknown key is
        named and changes nothing, a key sorts, q quits and restores the terminal."""
        import time
        if not shutil.which("tmux"):
            print("SKIP-PART: no tmux: the terminal view is not driven")
            return
        sess = f"unish-top-{os.getpid()}"

        def screen():
            return subprocess.run(["tmux", "capture-pane", "-p", "-t", sess], capture_output=True, text=True).stdout

        def key(k, until, timeout=5):
            subprocess.run(["tmux", "send-keys", "-t", sess, k], check=True)
            s = ""
            for _ in range(int(timeout * 10)):
                time.sleep(0.1)
                s = screen()
                if until(s):
                    break
            return s

        subprocess.run(["tmux", "new-session", "-d", "-s", sess, "-x", "120", "-y", "24",
                        f"{UNISH} -c test:///default top --interval 200; sleep 5"], check=True)
        try:
            s = ""
            for _ in range(50):
                time.sleep(0.1)
                s = screen()
                if "vm-2" in s and "24000" in s:
                    break
            title = s.splitlines()[0]
            self.assertRegex(title, r"^unish top - \d\d:\d\d:\d\d - 2 VMs - sort: CPU %  \(\? help, q quit\)")
            self.assertRegex(s, r"vm-1 +R +2 +50.0")
            # The clock runs: a later frame shows a later time.
            t0 = title.split(" - ")[1]
            for _ in range(30):
                time.sleep(0.1)
                if screen().splitlines()[0].split(" - ")[1] != t0:
                    break
            self.assertNotEqual(screen().splitlines()[0].split(" - ")[1], t0)
            # An unknown key is named, and changes nothing.
            s = key("x", lambda s: "unknown key" in s)
            self.assertIn("unknown key 'x': ? lists the keys", s)
            self.assertIn("sort: CPU %", s)
            self.assertRegex(s, r"vm-1 +R +2 +50.0")
            # ? lists every key; any key returns (and clears the note).
            s = key("?", lambda s: "unish top - keys" in s)
            self.assertIn("unish top - keys", s)
            for k, what in (("c", "CPU %"), ("m", "memory"), ("e", "KVM exits/s"), ("h", "halt exits/s"),
                            ("n", "name"), ("?", "this help"), ("q", "quit")):
                self.assertRegex(s, rf"(?m)^  {re.escape(k)}  .*{re.escape(what)}")
            self.assertNotIn("vm-1", s)
            s = key("Space", lambda s: "vm-1" in s)
            self.assertNotIn("unish top - keys", s)
            self.assertIn("sort: CPU %", s)  # the key that closed the help did not sort
            self.assertNotIn("unknown key", s)
            s = key("n", lambda s: "sort: name" in s)
            self.assertIn("sort: name", s)
            s = key("q", lambda s: "unish top -" not in s)
            self.assertNotIn("unish top -", s)  # quit: the terminal is restored
        finally:
            subprocess.run(["tmux", "kill-session", "-t", sess], capture_output=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
