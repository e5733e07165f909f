#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""uni-simboard end to end: the board mounted with FUSE (manual clock, fixed seed), read and
controlled through the local driver exactly as a real host (unish -c uniserver:///system?...):
frequencies that move, a request the hardware rounds (NOT_APPLIED, undone), operating points and
their limits, undervolting that makes corrected then uncorrected errors appear in EDAC while
power falls, a relaxed DRAM refresh that makes DIMM errors appear, refusals that change nothing;
uni-healthd on the board's tree recording an undervolted PMD's cache errors as CPU events.
Needs /dev/fuse and root; SKIPs otherwise."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import testlib

BUILD = os.environ["BUILDDIR"]
UNISH = os.path.join(BUILD, "bin", "unish")
SIMBOARD = os.path.join(BUILD, "bin", "uni-simboard")
HEALTHD = os.path.join(BUILD, "bin", "uni-healthd")


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


class Simboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="uni-simboard-")
        cls.mnt = os.path.join(cls.tmp, "board")
        os.mkdir(cls.mnt)
        cls.proc = subprocess.Popen([SIMBOARD, "--seed", "42", "--manual-clock", cls.mnt],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(100):
            if os.path.exists(os.path.join(cls.mnt, "sys/devices/system/cpu/online")):
                break
            if cls.proc.poll() is not None:
                err = cls.proc.stderr.read()
                shutil.rmtree(cls.tmp)
                # FUSE, root and the program are all here (checked before): a board that does
                # not start is a failure, never a skip.
                raise AssertionError(f"uni-simboard exited at start ({cls.proc.returncode}): {err.strip()}")
            time.sleep(0.05)
        cls.uri = f"uniserver:///system?procfs={cls.mnt}/proc&sysfs={cls.mnt}/sys"

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        try:
            cls.proc.wait(10)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
        subprocess.run(["umount", "-l", cls.mnt], capture_output=True)
        shutil.rmtree(cls.tmp)

    def unish(self, *args, ok=True, ro=False):
        p = subprocess.run([UNISH, "-c", self.uri] + (["-r"] if ro else []) + list(args),
                           capture_output=True, text=True, timeout=60)
        if ok:
            self.assertEqual(p.returncode, 0, f"{args}: {p.stderr}")
        return p.returncode, p.stdout, p.stderr

    def json(self, *args):
        return json.loads(self.unish("--json", *args)[1])

    def read(self, rel):
        with open(os.path.join(self.mnt, rel)) as f:
            return f.read().strip()

    def write(self, rel, value):
        with open(os.path.join(self.mnt, rel), "w") as f:
            f.write(value)

    def advance(self, ms):
        self.write("sim/advance_ms", str(ms))

    def truth(self):
        out = {}
        for line in self.read("sim/truth").splitlines():
            words = line.split()
            out[words[0]] = {words[i]: float(words[i + 1]) for i in range(1, len(words) - 1, 2)}
        return out

    def test_1_record(self):
        j = self.json("nodestats")
        self.assertEqual(j["host.cpu.count"], 8)
        self.assertEqual([j[f"host.cpu.{c}.freq_mhz"] for c in range(8)], [2400, 2400, 2400, 2400, 1200, 1200, 1800, 1800])
        self.assertEqual(j["host.cpu.governor"], "mixed")
        self.assertGreater(j["host.power.cpu_w"], 5)
        self.assertGreater(j["host.temp.cpu_avg_c"], 35)
        self.assertEqual(j["window_ms"], None)

    def test_2_frequency(self):
        rc, out, _ = self.unish("nodesetfrequency", "--core", "1", "--frequency", "1.5GHz")
        self.assertEqual(out, "2 cores now at 1.5GHz: 0 1\n")
        # A live tree: the current frequency moves, and the record with it.
        self.assertEqual(self.read("sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq"), "1500000")
        j = self.json("nodestats", "--select", "freq")
        self.assertEqual((j["host.cpu.0.freq_mhz"], j["host.cpu.1.freq_mhz"]), (1500, 1500))
        self.assertEqual(j["host.cpu.0.reserved_pct"], 37.5)
        self.assertEqual(j["host.cpu.0.governor"], "userspace")
        # The board serves 2.0 GHz at 2.1 GHz: the value reads back different, the call is undone.
        rc, out, err = self.unish("nodesetfrequency", "--core", "2", "--frequency", "2GHz", ok=False)
        self.assertEqual(rc, 1)
        self.assertIn("wrote '2000000', reads back '2100000' (the hardware did not take it)", err)
        self.assertIn("(NOT_APPLIED)", err)
        self.assertEqual(self.read("sys/devices/system/cpu/cpufreq/policy2/scaling_governor"), "performance")
        self.assertEqual(self.read("sys/devices/system/cpu/cpufreq/policy2/scaling_cur_freq"), "2400000")
        # The kernel's own refusals stay refusals.
        with self.assertRaises(OSError):
            self.write("sys/devices/system/cpu/cpufreq/policy2/scaling_setspeed", "1200000")  # not userspace
        with self.assertRaises(PermissionError):
            self.write("sys/devices/system/cpu/cpufreq/policy2/cpuinfo_max_freq", "1")
        self.unish("setgovernor", "--core", "0", "performance")
        self.assertEqual(self.read("sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq"), "2400000")

    def test_3_operating_points(self):
        j = self.json("oppoints")
        names = [d["name"] for d in j["domains"]]
        self.assertEqual(names, ["pmd0", "pmd1", "pmd2", "pmd3", "mc0", "mc1", "mc2", "mc3"])
        pmd1 = j["domains"][1]
        self.assertEqual(pmd1["cores"], [2, 3])
        self.assertEqual(pmd1["params"]["voltage_mv"], {"value": 980, "unit": "mV", "nominal": 980, "min": 800, "max": 1000,
                                                        "step": 5, "readonly": False})
        self.assertEqual(pmd1["params"]["frequency_mhz"]["value"], 2400)
        self.assertEqual(pmd1["params"]["frequency_mhz"]["step"], 300)  # cppc's 300 MHz steps, not 0
        self.assertEqual(j["domains"][5]["dimms"], ["DIMM1A", "DIMM1B"])
        # One description of the board: the test driver's domains are the board's as it starts
        # (DIMM labels, limits, steps, settings).
        p = subprocess.run([UNISH, "-c", "test:///default", "--json", "oppoints"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout), j)
        self.assertEqual(j["domains"][5]["params"]["refresh_ms"]["max"], 4096)
        # Refusals, before anything is written.
        for args, code, needle in ((["pmd1", "voltage_mv=790"], "OUT_OF_RANGE", "800-1000 mV"),
                                   (["pmd1", "voltage_mv=902"], "OUT_OF_RANGE", "5 mV steps"),
                                   (["mc0", "refresh_ms=8192"], "OUT_OF_RANGE", "32-4096 ms"),
                                   (["pmd3", "frequency_mhz=2000"], "OUT_OF_RANGE", "300 MHz steps"),
                                   (["pmd7", "voltage_mv=900"], "INVALID_ARG", "no operating-point domain 'pmd7'")):
            rc, out, err = self.unish("setoppoint", *args, ok=False)
            self.assertEqual(rc, 1)
            self.assertIn(f"({code})", err)
            self.assertIn(needle, err)
        rc, out, err = self.unish("setoppoint", "pmd1", "voltage_mv=900", ok=False, ro=True)
        self.assertIn("(ACCESS_DENIED)", err)
        self.assertEqual(self.read("sys/class/uniserver-opp/pmd1/voltage_mv"), "980")
        # Voltage and frequency as one change, the frequency off the board's 300 MHz steps (the
        # board would run 2.1 GHz): refused before either is written.
        rc, out, err = self.unish("setoppoint", "pmd3", "voltage_mv=950", "frequency_mhz=2000", ok=False)
        self.assertIn("(OUT_OF_RANGE)", err)
        self.assertEqual(self.read("sys/class/uniserver-opp/pmd3/voltage_mv"), "980")
        self.assertEqual(self.read("sys/devices/system/cpu/cpufreq/policy6/scaling_cur_freq"), "1800000")
        # Lowering both: frequency first, then voltage.
        self.unish("setoppoint", "pmd3", "voltage_mv=950", "frequency_mhz=1500")
        self.assertEqual(self.read("sys/class/uniserver-opp/pmd3/voltage_mv"), "950")
        self.assertEqual(self.read("sys/devices/system/cpu/cpufreq/policy6/scaling_cur_freq"), "1500000")

    def test_4_undervolt_errors_and_power(self):
        t = self.truth()
        vmin = t["pmd2"]["vmin_mv"]
        # xgene_edac's layout: edac_device "l2c2" (PMD 2), instance "l2c20", block "l2c2".
        ce = "sys/devices/system/edac/l2c2/l2c20/ce_count"
        ue = "sys/devices/system/edac/l2c2/l2c20/ue_count"
        self.write("sim/load", "50")
        self.unish("nodesetfrequency", "--core", "4", "--frequency", "2.4GHz")
        vmin = self.truth()["pmd2"]["vmin_mv"]
        w0 = self.truth()["power_w"]["cpu"]
        safe = int(vmin // 5 * 5 + 5)  # the lowest step still above the safe voltage
        self.unish("setoppoint", "pmd2", f"voltage_mv={safe}")
        # PMD2's share of CPU power falls as V^2 at once (the thermal lag comes later).
        self.assertLess(self.truth()["power_w"]["cpu"], w0)
        self.advance(60000)
        self.assertEqual((self.read(ce), self.read(ue)), ("0", "0"))
        counts = []
        for below in (5, 10, 20, 30):
            self.unish("setoppoint", "pmd2", f"voltage_mv={safe - below}")
            before = int(self.read(ce))
            self.advance(60000)
            counts.append(int(self.read(ce)) - before)
        # Corrected errors appear below the safe voltage and grow as it drops ...
        self.assertGreater(counts[0], 0)
        self.assertEqual(counts, sorted(counts))
        self.assertGreater(counts[3], 10 * counts[0])
        # ... uncorrected ones only deep below; the other PMDs see nothing.
        self.assertGreater(int(self.read(ue)), 0)
        self.assertEqual(self.read("sys/devices/system/edac/l2c0/l2c00/ce_count"), "0")
        # The instance counts what its one block counts.
        self.assertEqual(self.read("sys/devices/system/edac/l2c2/l2c20/l2c2/ce_count"), self.read(ce))
        self.assertEqual(self.read("sys/devices/system/edac/l2c2/l2c20/l2c2/ue_count"), self.read(ue))
        # The host record's CPU power rises again when the voltage goes back up.
        low = self.json("nodestats", "--select", "power")["host.power.cpu_w"]
        self.unish("setoppoint", "pmd2", "voltage_mv=980")
        self.assertGreater(self.json("nodestats", "--select", "power")["host.power.cpu_w"], low)

    def test_5_dram_refresh(self):
        mc = "sys/devices/system/edac/mc/mc1"
        self.advance(60000)
        self.assertEqual(self.read(f"{mc}/ce_count"), "0")
        retention = self.truth()["mc1"]["retention_ms"]
        self.unish("setoppoint", "mc1", f"refresh_ms={int(retention * 2)}")
        self.advance(120000)
        ce = int(self.read(f"{mc}/ce_count"))
        self.assertGreater(ce, 0)
        self.assertEqual(ce, int(self.read(f"{mc}/dimm0/dimm_ce_count")) + int(self.read(f"{mc}/dimm1/dimm_ce_count")))
        self.assertEqual(self.read("sys/devices/system/edac/mc/mc0/ce_count"), "0")
        # A relaxed refresh saves DRAM power (the RAPL-like counter, over a window).
        relaxed = self.truth()["power_w"]["dram"]
        self.unish("setoppoint", "mc1", "refresh_ms=64")
        self.assertGreater(self.truth()["power_w"]["dram"], relaxed)

    def test_6_healthd_cache_errors(self):
        """uni-healthd reads the PMDs' edac_devices: PMD1 below its safe voltage gives L2 events on core 2."""
        db = os.path.join(self.tmp, "healthlog.db")
        uri = self.uri + "&healthlog=" + db
        ce, ue = "sys/devices/system/edac/l2c1/l2c10/ce_count", "sys/devices/system/edac/l2c1/l2c10/ue_count"

        def once():
            r = subprocess.run([HEALTHD, "--db", db, "--procfs", self.mnt + "/proc", "--sysfs", self.mnt + "/sys", "--once",
                                "--set", "trace=no", "--set", "sensor_interval_ms=0", "--set", "retention_days=0"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)

        def l2c1_events():
            return testlib.healthlog_query(db, "SELECT source, class, component, severity, count, cpu, location FROM "
                                           "events WHERE detail LIKE 'EDAC counter dev/l2c1/%' ORDER BY id")
        once()
        self.assertEqual((self.read(ce), self.read(ue)), ("0", "0"))
        # 10-15 mV below the safe point: corrected errors, no uncorrected ones yet.
        vmin = self.truth()["pmd1"]["vmin_mv"]
        self.unish("setoppoint", "pmd1", f"voltage_mv={int(vmin // 5 * 5 - 10)}")
        self.advance(60000)
        self.unish("setoppoint", "pmd1", "voltage_mv=980")
        n = int(self.read(ce))
        self.assertGreater(n, 0)
        self.assertEqual(self.read(ue), "0")
        once()
        self.assertEqual(l2c1_events(), [("edac", "cpu", "l2", "corrected", n, 2, "l2c1/l2c10/l2c2 (CPUs 2-3)")])
        # The spec's CPU views on the board.
        r = subprocess.run([UNISH, "-c", uri, "--json", "healthlog", "--core", "2"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([(e["event.component"], e["event.severity"], e["event.count"]) for e in json.loads(r.stdout)],
                         [("l2", "corrected", n)])
        r = subprocess.run([UNISH, "-c", uri, "--json", "nodestats", "--select", "errors"], capture_output=True, text=True, timeout=60)
        rec = json.loads(r.stdout)
        self.assertEqual((rec["host.errors.core.2.ce.count"], rec["host.errors.core.3.ce.count"]), (n, 0))
        self.assertEqual(rec["host.errors.core.0.ce.count"], 0)


if __name__ == "__main__":
    if not os.path.exists(SIMBOARD):
        skip("uni-simboard was not built (no libfuse3)")
    if not os.path.exists("/dev/fuse"):
        skip("no /dev/fuse")
    if os.geteuid() != 0:
        skip("mounting the simulated board needs root")
    unittest.main(verbosity=2)
