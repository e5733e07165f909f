#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""unish control commands end to end (nodesetfrequency, setgovernor, setpowerpolicy, oppoints,
setoppoint) on writable copies of fixture trees and on the test driver. Every refusal leaves the
whole tree as it was (every file's mode and content, every link's target); every change touches
exactly the files it should; a change that fails half-way is undone. Never the host's cpufreq."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from testlib import Uniserverd

SRC = os.environ["SRCDIR"]
UNISH = os.path.join(os.environ["BUILDDIR"], "bin", "unish")
FIX = os.path.join(SRC, "tests", "fixtures")
RO_ATTR = "/sys/devices/system/cpu/kernel_max"  # kernfs refuses writes to it, even root's
# Copies go to memory where there is a tmpfs: hundreds of small files per copy.
TMPROOT = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def snapshot(root):
    """relative path -> ('link', target) or ('file', mode, content) for the whole tree."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p))
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    out[rel] = ("file", os.stat(p).st_mode & 0o7777, f.read())
    return out


def diff(before, after):
    """The paths whose entry differs, with the new content (decoded) of files."""
    keys = set(before) | set(after)
    return {k: (after[k][2].decode() if after.get(k, ("",))[0] == "file" else after.get(k))
            for k in keys if before.get(k) != after.get(k)}


def ro_attr_usable():
    try:
        os.close(os.open(RO_ATTR, os.O_WRONLY))
        return False
    except OSError:
        return os.access(RO_ATTR, os.R_OK)


class Control(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="uni-control-", dir=TMPROOT)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def copy(self, host, shared=False):
        """A writable copy of fixture @host; @shared: the test's one copy of it, for calls that
        must not change it (each such call proves it did not, so the copy stays pristine)."""
        d = os.path.join(self.tmp, host + ("" if shared else f".{len(os.listdir(self.tmp))}"))
        if not (shared and os.path.exists(d)):
            subprocess.run(["cp", "-a", os.path.join(FIX, host), d], check=True)
        return d

    def unish(self, d, *args, ro=False):
        uri = f"uniserver:///system?procfs={d}/proc&sysfs={d}/sys" if d else "test:///default"
        cmd = [UNISH, "-c", uri] + (["-r"] if ro else []) + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def refused(self, host, args, rc, code, needle=None, ro=False, prepare=None):
        d = self.copy(host, shared=prepare is None)
        if prepare:
            prepare(d)
        before = snapshot(d)
        r, out, err = self.unish(d, *args, ro=ro)
        self.assertEqual(r, rc, f"{host} {args}: {err}")
        self.assertEqual(out, "", f"{host} {args}")
        self.assertTrue(err.startswith("error: "), err)
        if code:
            self.assertIn(f"({code})", err, f"{host} {args}")
        if needle:
            self.assertIn(needle, err, f"{host} {args}")
        self.assertEqual(diff(before, snapshot(d)), {}, f"{host} {args} changed the tree")

    def test_refusals_change_nothing(self):
        cases = [
            ("x86-acpi", ["nodesetfrequency", "--core", "12", "--frequency", "2.4GHz"], "NO_CORE", "core 12 does not exist (0-7 online)"),
            ("x86-pstate", ["nodesetfrequency", "--core", "7", "--frequency", "2.4GHz"], "NO_CORE", "core 7 is offline (0-6 online)"),
            ("x86-acpi", ["nodesetfrequency", "--core", "0", "--frequency", "2.8GHz"], "OUT_OF_RANGE", "outside core 0's limits 1200000-2600000 kHz"),
            ("x86-acpi", ["nodesetfrequency", "--core", "0", "--frequency", "1900MHz"], "OUT_OF_RANGE", "available frequencies"),
            ("xgene2", ["nodesetfrequency", "--core", "4", "--frequency", "2.5GHz"], "OUT_OF_RANGE", "300000-2400000"),
            ("x86-acpi", ["nodesetfrequency", "--core", "0", "--frequency", "fast"], "INVALID_ARG", "'fast'"),
            ("x86-acpi", ["nodesetfrequency", "--core", "0", "--frequency", "-1"], "INVALID_ARG", "'-1'"),
            ("x86-acpi", ["nodesetfrequency", "--core", "0", "--frequency", "2.4THz"], "INVALID_ARG", "'2.4THz'"),
            ("x86-acpi", ["nodesetfrequency", "--core", "0", "--frequency", "184467440737095516160"], "INVALID_ARG", "out of range"),
            ("x86-acpi", ["nodesetfrequency", "--core", "-3", "--frequency", "2GHz"], "INVALID_ARG", "core -3"),
            ("x86-acpi", ["setgovernor", "turbo"], "INVALID_ARG", "governor 'turbo' is not available"),
            ("x86-pstate", ["setgovernor", "--core", "1", "userspace"], "INVALID_ARG", "(available: performance powersave)"),
            ("x86-pstate", ["setpowerpolicy", "turbo"], "INVALID_ARG", "power policy 'turbo'"),
            ("x86-acpi", ["setpowerpolicy", "balance_power"], "INVALID_ARG", "raw EPP"),
            ("bare", ["setgovernor", "performance"], "NO_SUPPORT", "no online core has cpufreq"),
            ("xgene2", ["oppoints"], "NO_SUPPORT", "no operating points beyond cpufreq"),
            ("xgene2", ["setoppoint", "pmd0", "voltage_mv=900"], "NO_SUPPORT", "class/uniserver-opp"),
        ]
        for host, args, code, needle in cases:
            self.refused(host, args, 1, code, needle)

    def test_read_only_refused(self):
        for args in (["nodesetfrequency", "--core", "0", "--frequency", "2.4GHz"], ["setgovernor", "performance"],
                     ["setpowerpolicy", "power"], ["setoppoint", "pmd0", "voltage_mv=900"]):
            self.refused("x86-pstate", args, 1, "ACCESS_DENIED", "read-only", ro=True)

    def test_bad_usage_exits_2(self):
        for args in (["nodesetfrequency", "--core", "1"], ["nodesetfrequency", "--frequency", "2GHz"],
                     ["nodesetfrequency", "--core", "x", "--frequency", "2GHz"], ["setgovernor"],
                     ["setgovernor", "a", "b"], ["setpowerpolicy", "--bogus", "power"], ["setoppoint", "pmd0"],
                     ["setoppoint", "pmd0", "voltage_mv"], ["setoppoint", "pmd0", "voltage_mv=9x"], ["oppoints", "x"],
                     ["setgovernor", "performance", ";", "nosuch"], ["setgovernor", "performance", ";"]):
            self.refused("x86-acpi", args, 2, None)

    def test_set_frequency_touches_exactly_its_files(self):
        d = self.copy("x86-acpi")
        before = snapshot(d)
        rc, out, err = self.unish(d, "--json", "nodesetfrequency", "--core", "3", "--frequency", "1.8GHz")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), {"core": 3, "frequency": "1.8GHz", "count": 1, "cores": [3]})
        pol = "sys/devices/system/cpu/cpufreq/policy3"
        self.assertEqual(diff(before, snapshot(d)), {f"{pol}/scaling_governor": "userspace\n",
                                                     f"{pol}/scaling_setspeed": "1800000\n"})
        rc, out, _ = self.unish(d, "--json", "nodestats", "--select", "freq")
        j = json.loads(out)
        self.assertEqual(j["host.cpu.3.governor"], "userspace")
        self.assertEqual(j["host.cpu.governor"], "mixed")
        # The same value again changes nothing.
        before = snapshot(d)
        rc, out, err = self.unish(d, "nodesetfrequency", "--core", "3", "--frequency", "1800000")
        self.assertEqual((rc, out), (0, "1 core now at 1800000: 3\n"), err)
        self.assertEqual(diff(before, snapshot(d)), {})

        d = self.copy("xgene2")
        before = snapshot(d)
        rc, out, err = self.unish(d, "nodesetfrequency", "--core", "5", "--frequency", "2.1ghz")
        self.assertEqual((rc, out), (0, "2 cores now at 2.1ghz: 4 5\n"), err)
        pol = "sys/devices/system/cpu/cpufreq/policy4"
        self.assertEqual(diff(before, snapshot(d)), {f"{pol}/scaling_setspeed": "2100000\n"})  # already userspace

        d = self.copy("x86-pstate")
        before = snapshot(d)
        rc, out, err = self.unish(d, "nodesetfrequency", "--core", "6", "--frequency=2000MHz")
        self.assertEqual(rc, 0, err)
        pol = "sys/devices/system/cpu/cpufreq/policy6"
        self.assertEqual(diff(before, snapshot(d)), {f"{pol}/scaling_min_freq": "2000000\n",
                                                     f"{pol}/scaling_max_freq": "2000000\n"})

    def test_governor_and_policy(self):
        d = self.copy("xgene2")
        before = snapshot(d)
        rc, out, err = self.unish(d, "setgovernor", "schedutil", ";", "--json", "hostgovernor")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines()[0], "governor schedutil on 8 cores")
        self.assertEqual(json.loads(out.splitlines()[1]), {"host.cpu.governor": "schedutil"})
        self.assertEqual(diff(before, snapshot(d)), {f"sys/devices/system/cpu/cpufreq/policy{p}/scaling_governor": "schedutil\n"
                                                     for p in (0, 2, 4, 6)})
        d = self.copy("x86-pstate")
        before = snapshot(d)
        rc, out, err = self.unish(d, "--json", "setpowerpolicy", "power")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), {"core": -1, "power_policy": "power", "count": 7})
        # cpu7 is offline: its policy stays.
        self.assertEqual(diff(before, snapshot(d)),
                         {f"sys/devices/system/cpu/cpufreq/policy{p}/energy_performance_preference": "power\n" for p in range(7)})
        rc, out, _ = self.unish(d, "--json", "nodestats", "--select", "host.cpu.power_policy")
        self.assertEqual(json.loads(out)["host.cpu.power_policy"], "power")

    @unittest.skipUnless(ro_attr_usable(), f"{RO_ATTR} is not a read-only attribute here")
    def test_failure_half_way_is_undone(self):
        def refuse_policy5(d):
            p = f"{d}/sys/devices/system/cpu/cpufreq/policy5/scaling_governor"
            os.unlink(p)
            os.symlink(RO_ATTR, p)
        self.refused("x86-acpi", ["setgovernor", "performance"], 1, "SYSTEM_ERROR", "rolled back: 5 writes of this call undone",
                     prepare=refuse_policy5)

        def setspeed_does_not_stick(d):
            p = f"{d}/sys/devices/system/cpu/cpufreq/policy2/scaling_setspeed"
            os.unlink(p)
            os.symlink("/dev/null", p)
        self.refused("x86-acpi", ["nodesetfrequency", "--core", "2", "--frequency", "2.2GHz"], 1, "NOT_APPLIED",
                     "wrote '2200000', reads back ''", prepare=setspeed_does_not_stick)

    def test_test_driver_board(self):
        rc, out, err = self.unish(None, "help")
        for cmd in ("nodesetfrequency", "setgovernor", "setpowerpolicy", "oppoints", "setoppoint"):
            self.assertIn(cmd, out)
        # One connection, several commands: the board keeps the change.
        rc, out, err = self.unish(None, "setoppoint", "pmd2", "voltage_mv=900", "frequency_mhz=900", ";",
                                  "--json", "oppoints", ";", "--json", "nodestats", "--select", "freq")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0], "pmd2: voltage_mv=900 frequency_mhz=900")
        opp = json.loads(lines[1])
        pmd2 = next(x for x in opp["domains"] if x["name"] == "pmd2")
        self.assertEqual(pmd2["cores"], [4, 5])
        self.assertEqual(pmd2["params"]["voltage_mv"], {"value": 900, "unit": "mV", "nominal": 980, "min": 800,
                                                        "max": 1000, "step": 5, "readonly": False})
        self.assertEqual(pmd2["params"]["frequency_mhz"]["value"], 900)
        mc0 = next(x for x in opp["domains"] if x["name"] == "mc0")
        self.assertEqual(mc0["dimms"], ["DIMM0A", "DIMM0B"])
        rec = json.loads(lines[2])
        self.assertEqual((rec["host.cpu.4.freq_mhz"], rec["host.cpu.5.freq_mhz"]), (900, 900))
        self.assertEqual(rec["host.cpu.4.reserved_pct"], 62.5)
        # The first failure stops the sequence, with its status.
        rc, out, err = self.unish(None, "setgovernor", "turbo", ";", "uri")
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("governor 'turbo'", err)
        rc, out, err = self.unish(None, "setoppoint", "mc1", "refresh_ms=9999")
        self.assertEqual(rc, 1)
        self.assertIn("mc1 refresh_ms 9999 is outside the domain's limits 32-4096 ms (OUT_OF_RANGE)", err)
        rc, out, err = self.unish(None, "oppoints")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"(?m)^mc3 +memory +DIMM3A,DIMM3B +refresh_ms +64 +64 +32 +4096 +1  ms$")


    def test_board_interface_on_a_fixture(self):
        """A board's operating-point interface on a fixture tree (no FUSE): a cpu domain's frequency
        comes from cpufreq, its step from the board's frequency_mhz_step (cpufreq does not say;
        uni-simboard gives 300), and without that file the step is 0 (any value)."""
        d = self.copy("xgene2")
        opp = os.path.join(d, "sys", "class", "uniserver-opp", "pmd0")
        os.makedirs(opp)
        for name, text in (("kind", "cpu"), ("id", "0"), ("cpus", "0-1"), ("voltage_mv", "980"),
                           ("voltage_mv_min", "800"), ("voltage_mv_max", "1000"), ("voltage_mv_step", "5"),
                           ("frequency_mhz_step", "300")):
            with open(os.path.join(opp, name), "w") as f:
                f.write(text + "\n")
        rc, out, err = self.unish(d, "--json", "oppoints")
        self.assertEqual(rc, 0, err)
        pmd0 = json.loads(out)["domains"][0]["params"]
        self.assertEqual(pmd0["frequency_mhz"]["step"], 300)
        self.assertEqual(pmd0["voltage_mv"]["step"], 5)
        self.assertNotIn("frequency_mhz_step", pmd0)
        os.unlink(os.path.join(opp, "frequency_mhz_step"))
        rc, out, err = self.unish(d, "--json", "oppoints")
        self.assertEqual(json.loads(out)["domains"][0]["params"]["frequency_mhz"]["step"], 0)


class ThroughTheDaemon(unittest.TestCase):
    """The same calls through uniserverd's sockets: a read-write client changes the host, a
    read-only one cannot (refused by the client library and, for a client that pretends, by the
    daemon), errors arrive unchanged, every write is in the daemon's log with the caller."""

    def start(self, uri):
        self.d = Uniserverd(uri, "--interval", "200", "--metrics-listen", "off", tmp=TMPROOT, prefix="uni-control-daemon-")
        self.rw, self.ro = self.d.uri(), self.d.uri(ro=True)

    def tearDown(self):
        self.d.stop()

    def unish(self, uri, *args):
        p = subprocess.run([UNISH, "-c", uri, *args], capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def test_board_through_the_daemon(self):
        self.start("test:///default")
        rc, out, err = self.unish(self.rw, "--json", "nodesetfrequency", "--core", "5", "--frequency", "2.4GHz")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), {"core": 5, "frequency": "2.4GHz", "count": 2, "cores": [4, 5]})
        rc, out, err = self.unish(self.ro, "nodesetfrequency", "--core", "5", "--frequency", "300MHz")
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("(ACCESS_DENIED)", err)
        # A client that connects to the read-only socket but calls as if read-write: the daemon refuses.
        pretend = self.ro.replace("uniserver+unix:///ro", "uniserver+unix:///system")
        rc, out, err = self.unish(pretend, "setgovernor", "powersave")
        self.assertEqual(rc, 1)
        self.assertIn("control calls are refused on a read-only connection (ACCESS_DENIED)", err)
        rc, out, err = self.unish(self.rw, "nodesetfrequency", "--core", "12", "--frequency", "2.4GHz")
        self.assertIn("core 12 does not exist (0-7 online) (NO_CORE)", err)
        rc, out, err = self.unish(self.rw, "setoppoint", "pmd1", "voltage_mv=700")
        self.assertIn("outside the domain's limits 800-1000 mV (OUT_OF_RANGE)", err)
        rc, out, err = self.unish(self.rw, "setoppoint", "pmd1", "voltage_mv=900", ";", "--json", "oppoints")
        self.assertEqual(rc, 0, err)
        pmd1 = json.loads(out.splitlines()[1])["domains"][1]
        self.assertEqual((pmd1["name"], pmd1["params"]["voltage_mv"]["value"]), ("pmd1", 900))
        # The read-only client sees the change in the daemon's records (sampled again after it).
        for _ in range(100):
            rc, out, err = self.unish(self.ro, "--json", "nodestats", "--select", "host.cpu.4.freq_mhz")
            if json.loads(out).get("host.cpu.4.freq_mhz") == 2400:
                break
            time.sleep(0.05)
        self.assertEqual(json.loads(out)["host.cpu.4.freq_mhz"], 2400)
        log = self.d.log_text()
        self.assertRegex(log, r"audit: uniNodeSetFrequency by rw pid \d+ uid \d+: cpus 4-5 "
                              r"devices/system/cpu/cpufreq/policy4/scaling_setspeed: '1200000' -> '2400000'")
        self.assertIn("audit: uniNodeSetOperatingPoint by rw", log)

    def test_fixture_copy_through_the_daemon(self):
        d = os.path.join(tempfile.mkdtemp(prefix="uni-control-", dir=TMPROOT), "x86-acpi")
        subprocess.run(["cp", "-a", os.path.join(FIX, "x86-acpi"), d], check=True)
        try:
            self.start(f"uniserver:///system?procfs={d}/proc&sysfs={d}/sys")
            before = snapshot(d)
            rc, out, err = self.unish(self.rw, "nodesetfrequency", "--core", "0", "--frequency", "1900MHz")
            self.assertIn("(OUT_OF_RANGE)", err)
            rc, out, err = self.unish(self.ro, "setgovernor", "performance")
            self.assertIn("(ACCESS_DENIED)", err)
            self.assertEqual(diff(before, snapshot(d)), {})
            rc, out, err = self.unish(self.rw, "nodesetfrequency", "--core", "6", "--frequency", "2.2GHz")
            self.assertEqual((rc, out), (0, "1 core now at 2.2GHz: 6\n"), err)
            pol = "sys/devices/system/cpu/cpufreq/policy6"
            self.assertEqual(diff(before, snapshot(d)), {f"{pol}/scaling_governor": "userspace\n",
                                                         f"{pol}/scaling_setspeed": "2200000\n"})
            self.assertIn("devices/system/cpu/cpu6/cpufreq/scaling_governor: 'ondemand' -> 'userspace'", self.d.log_text())
        finally:
            shutil.rmtree(os.path.dirname(d))


if __name__ == "__main__":
    unittest.main(verbosity=2)
