#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""uni-healthd on the health fixture hosts: EDAC counters of both layouts raised by the test,
the recorded trace streams (every RAS event type, malformed, truncated, lost pages) appended to
the fixture's trace_pipe_raw files, thresholds and their actions on fixture sysfs files, the
rasdaemon import, sensors and SMBIOS, SIGTERM; and what the library and unish read from the
HealthLog: exact counts and rates, the spec's error views, the memory speed."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

from testlib import Uniserverd, healthlog_query

SRC = os.environ["SRCDIR"]
BUILD = os.environ["BUILDDIR"]
HEALTHD = os.path.join(BUILD, "bin", "uni-healthd")
UNISH = os.path.join(BUILD, "bin", "unish")
sys.path.insert(0, os.path.join(SRC, "tests", "healthd"))
import tracegen  # noqa: E402

BTIME_MS = 1764000000 * 1000
INST = "sys/kernel/tracing/instances/uni-healthd"
D00 = "CPU_SrcID#0_MC#0_Chan#0_DIMM#0"
D01 = "CPU_SrcID#0_MC#0_Chan#1_DIMM#0"
D10 = "CPU_SrcID#0_MC#1_Chan#0_DIMM#0"


def read(path):
    with open(path) as f:
        return f.read()


class Host:
    """A copy of a fixture host, its HealthLog, and the programs run on them."""

    def __init__(self, name):
        self.tmp = tempfile.mkdtemp(prefix="uni-healthd-")
        self.root = os.path.join(self.tmp, name)
        shutil.copytree(os.path.join(SRC, "tests", "fixtures", name), self.root, symlinks=True)
        self.db = os.path.join(self.tmp, "healthlog.db")
        self.proc = None

    def path(self, rel):
        return os.path.join(self.root, rel)

    def write(self, rel, text):
        with open(self.path(rel), "w") as f:
            f.write(text)

    def append_stream(self, name, cpu=0):
        with open(self.path("streams/" + name), "rb") as s, open(self.path(f"{INST}/per_cpu/cpu{cpu}/trace_pipe_raw"), "ab") as f:
            f.write(s.read())

    def append_pages(self, pages, cpu=0):
        with open(self.path(f"{INST}/per_cpu/cpu{cpu}/trace_pipe_raw"), "ab") as f:
            for p in pages:
                f.write(p)

    def args(self, *extra, defaults=False):
        # Most tests place events years back (the fixture's boot time): retention off, except
        # where a test runs the defaults.
        keep = [] if defaults else ["--set", "retention_days=0"]
        return [HEALTHD, "--db", self.db, "--procfs", self.path("proc"), "--sysfs", self.path("sys"),
                *keep, "--log-level", "debug", *extra]

    def once(self, *extra, defaults=False):
        r = subprocess.run(self.args("--once", *extra, defaults=defaults), capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"uni-healthd --once failed ({r.returncode}): {r.stderr}")
        # The kernel hands each page out once: what was read is gone.
        for c in range(4):
            p = self.path(f"{INST}/per_cpu/cpu{c}/trace_pipe_raw")
            if os.path.exists(p):
                open(p, "w").close()
        return r.stderr

    def start(self, *extra):
        self.log = open(os.path.join(self.tmp, "healthd.log"), "w+")
        self.proc = subprocess.Popen(self.args("-f", "--interval", "50", *extra), stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_log("uni-healthd ready")

    def wait_log(self, what, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            self.log.seek(0)
            text = self.log.read()
            if what in text:
                return text
            if self.proc.poll() is not None:
                raise AssertionError(f"uni-healthd exited: {text}")
            time.sleep(0.02)
        raise AssertionError(f"no '{what}' in the log: {text}")

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(timeout=10)
            self.proc = None
            self.log.close()
            return rc
        return None

    def q(self, sql, *args):
        return healthlog_query(self.db, sql, *args)

    def uri(self):
        return f"uniserver:///system?procfs={self.path('proc')}&sysfs={self.path('sys')}&healthlog={self.db}"

    def unish(self, *args, check=True):
        r = subprocess.run([UNISH, "-c", self.uri(), *args], capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError(f"unish {args} failed ({r.returncode}): {r.stderr}")
        return r

    def json(self, *args):
        return json.loads(self.unish("--json", *args).stdout)

    def close(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


class EdacCounters(unittest.TestCase):
    def setUp(self):
        self.h = Host("health-x86")

    def tearDown(self):
        self.h.close()

    def test_dimm_layout(self):
        h = self.h
        h.once("--set", "trace=no")
        # Counted before the first start: recorded at boot time, out of every rate window.
        rows = h.q("SELECT source, dimm, count, severity, time_ms FROM events")
        self.assertEqual(rows, [("edac", D00, 3, "corrected", BTIME_MS)])
        first_seen = h.q("SELECT value FROM state WHERE key = 'healthd.last_seen_ms'")[0][0]
        # The test raises counters while the daemon is not running.
        h.write("sys/devices/system/edac/mc/mc0/dimm0/dimm_ce_count", "8\n")
        h.write("sys/devices/system/edac/mc/mc1/dimm1/dimm_ue_count", "1\n")
        h.write("sys/devices/system/edac/mc/mc0/ce_noinfo_count", "2\n")
        h.once("--set", "trace=no")
        rows = h.q("SELECT dimm, count, severity, time_ms, location FROM events WHERE id > 1 ORDER BY id")
        self.assertEqual(rows, [(D00, 5, "corrected", first_seen, "mc0 dimm0 (channel 0 slot 0)"),
                                (None, 2, "corrected", first_seen, "mc0 (not placed on a DIMM)"),
                                ("CPU_SrcID#0_MC#1_Chan#1_DIMM#0", 1, "uncorrected", first_seen, "mc1 dimm1 (channel 1 slot 0)")])
        # Nothing changed: nothing new.
        h.once("--set", "trace=no")
        self.assertEqual(h.q("SELECT count(*) FROM events")[0][0], 4)
        # A counter that went down was reset (driver reload): what it shows now is new.
        h.write("sys/devices/system/edac/mc/mc0/dimm0/dimm_ce_count", "1\n")
        h.once("--set", "trace=no")
        self.assertEqual(h.q("SELECT dimm, count FROM events WHERE id = 5"), [(D00, 1)])
        # The library's view of it.
        rec = h.json("nodestats", "--select", "errors,memhw")
        self.assertEqual(rec["host.errors.dram.ce.count"], 3 + 5 + 2 + 1)
        self.assertEqual(rec["host.errors.dram.ue.count"], 1)
        self.assertEqual(rec[f"host.errors.dimm.{D00}.ce.count"], 9)
        self.assertEqual(rec[f"host.errors.dimm.{D01}.ce.count"], 0)
        self.assertEqual(rec["host.errors.dimm.CPU_SrcID#0_MC#1_Chan#1_DIMM#0.ue.count"], 1)
        self.assertEqual(rec["host.errors.mem.rate_per_min"], 5 + 2 + 1 + 1)
        self.assertAlmostEqual(rec["host.errors.mem.rate_60m_per_min"], 9 / 60)
        self.assertEqual(rec["host.errors.mem.sbit.count"], 0)  # EDAC counters do not say how many bits
        self.assertEqual(rec["host.mem.speed_mhz"], 2666)
        # No trace source: no CPU error source, the CPU keys are absent and say why.
        self.assertIn("no source of CPU errors", rec["absent"]["host.errors.L.count"])
        self.assertIn("no source of CPU errors", rec["absent"]["host.errors.C.ce.count"])
        self.assertEqual(h.q("PRAGMA integrity_check"), [("ok",)])

    def reboot(self, btime_s):
        stat = read(self.h.path("proc/stat"))
        self.h.write("proc/stat", stat.replace(f"btime {BTIME_MS // 1000}\n", f"btime {btime_s}\n"))

    def test_reboot(self):
        """A reboot (the boot time changed) restarts the EDAC counters from 0: what they show
        after it was counted since that boot, whether higher or lower than before it."""
        h = self.h
        ce = "sys/devices/system/edac/mc/mc0/dimm0/dimm_ce_count"
        h.once("--set", "trace=no")
        self.assertEqual(h.q("SELECT dimm, count, time_ms FROM events"), [(D00, 3, BTIME_MS)])
        # Rebooted, and the counter reads 5 (higher than the 3 before): 5 errors since the new
        # boot, placed at it, not 2 at the restart.
        boot2 = BTIME_MS // 1000 + 86400
        self.reboot(boot2)
        h.write(ce, "5\n")
        h.once("--set", "trace=no")
        # The reboot itself is an event (the node's MTBF and MTTR, docs/predictor.md): unplanned,
        # as a one-shot run records no stop; its downtime unknown, as the fixture's boot time is
        # before the run's last sign of life.
        self.assertEqual(h.q("SELECT time_ms, severity, counted, downtime_ms, substr(message, 1, 17) FROM events "
                             "WHERE class = 'platform'"), [(boot2 * 1000, "fatal", 0, None, "unplanned reboot:")])
        self.assertEqual(h.q("SELECT dimm, count, time_ms, message FROM events WHERE id > 1 AND class != 'platform'"),
                         [(D00, 5, boot2 * 1000, f"5 corrected errors on DIMM {D00} (counted by EDAC since boot)")])
        # Rebooted again, now 2 (lower than 5): 2 since that boot, not a driver reset.
        stat = read(h.path("proc/stat"))
        h.write("proc/stat", stat.replace(f"btime {boot2}\n", f"btime {boot2 + 3600}\n"))
        h.write(ce, "2\n")
        h.once("--set", "trace=no")
        self.assertEqual(h.q("SELECT dimm, count, time_ms, message FROM events WHERE id > 3 AND class != 'platform'"),
                         [(D00, 2, (boot2 + 3600) * 1000, f"2 corrected errors on DIMM {D00} (counted by EDAC since boot)")])
        # The same boot: only what is new since the last look.
        h.write(ce, "4\n")
        h.once("--set", "trace=no")
        self.assertEqual(h.q("SELECT dimm, count FROM events WHERE id > 5 AND class != 'platform'"), [(D00, 2)])
        self.assertEqual(h.q("SELECT count(*) FROM events WHERE class = 'platform'"), [(2,)])
        rec = h.json("nodestats", "--select", "errors")
        self.assertEqual(rec[f"host.errors.dimm.{D00}.ce.count"], 3 + 5 + 2 + 2)

    def test_csrow_layout(self):
        h = Host("health-arm64")
        try:
            h.once()
            self.assertEqual(h.q("SELECT count(*) FROM events")[0][0], 0)
            self.assertEqual(h.q("SELECT label, location, size_mb FROM dimms WHERE source = 'edac' ORDER BY label")[0],
                             ("MCU0_DIMM0", "mc0 csrow0 channel0", 4096))
            h.write("sys/devices/system/edac/mc/mc0/csrow0/ch1_ce_count", "4\n")
            h.write("sys/devices/system/edac/mc/mc0/csrow1/ue_count", "1\n")
            h.once()
            rows = h.q("SELECT dimm, count, severity, location FROM events ORDER BY id")
            self.assertEqual(rows, [("MCU0_DIMM1", 4, "corrected", "mc0 csrow0 channel1"),
                                    (None, 1, "uncorrected", "mc0 csrow1")])
            rec = h.json("errors", "--correctable")
            self.assertEqual(rec["host.errors.dram.ce.count"], 4)
            self.assertEqual(rec["host.errors.dram.ce.rate_per_min"], 4)
            # Its caches' edac_devices are a source of CPU errors, with none so far.
            self.assertEqual(rec["host.errors.l2.ce.count"], 0)
        finally:
            h.close()

    def test_daemon_live_and_sigterm(self):
        h = self.h
        h.start("--set", "trace=no")
        before = int(time.time() * 1000)
        h.write("sys/devices/system/edac/mc/mc0/dimm1/dimm_ce_count", "6\n")
        h.wait_log("ids 2-2")
        row = h.q("SELECT dimm, count, time_ms, message FROM events WHERE id = 2")[0]
        self.assertEqual(row[:2], (D01, 6))
        self.assertTrue(before <= row[2] <= int(time.time() * 1000))
        self.assertEqual(row[3], f"6 corrected errors on DIMM {D01} (EDAC counter)")
        t0 = time.time()
        self.assertEqual(h.stop(), 0)
        self.assertLess(time.time() - t0, 3)
        self.assertEqual(h.q("PRAGMA integrity_check"), [("ok",)])
        # A second writer is refused while one runs.
        h.start("--set", "trace=no")
        r = subprocess.run(h.args("--once"), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("another uni-healthd writes this HealthLog", r.stderr)


class RetentionDefaults(unittest.TestCase):
    """uni-healthd's retention as shipped (365 days of events, at most one million, 7 days of
    sensor samples), end to end on a HealthLog that exceeds each limit."""

    def test_defaults(self):
        h = Host("health-x86")
        try:
            h.once("--set", "trace=no", defaults=True)
            now = int(time.time() * 1000)
            day = 86400000
            c = sqlite3.connect(h.db)
            with c:
                # A million and two events younger than a year (the two oldest of them beyond the
                # million), two just older than a year, two just younger; samples of 8 and 6 days.
                c.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000002) "
                          "INSERT INTO events (time_ms, source, class, severity, count, counted, message) "
                          "SELECT ? + i, 'test', 'memory', 'corrected', 1, 0, 'bulk ' || i FROM n", (now - 30 * day,))
                for ago, m in ((365 * day + 60000, "older than a year"), (364 * day, "younger than a year")):
                    c.execute("INSERT INTO events (time_ms, source, class, severity, count, counted, message) "
                              "VALUES (?, 'test', 'memory', 'corrected', 1, 0, ?)", (now - ago, m))
                for ago, m in ((8 * day, "host.temp.8d"), (6 * day, "host.temp.6d")):
                    c.execute("INSERT INTO samples (time_ms, key, value) VALUES (?, ?, 1)", (now - ago, m))
            c.close()
            total = h.q("SELECT count(*) FROM events")[0][0]
            h.once("--set", "trace=no", defaults=True)
            # Older than 365 days: gone; then the oldest beyond a million: the first ones inserted.
            self.assertEqual(h.q("SELECT count(*) FROM events")[0][0], 1000000)
            self.assertEqual(h.q("SELECT count(*) FROM events WHERE message = 'older than a year'")[0][0], 0)
            self.assertEqual(h.q("SELECT count(*) FROM events WHERE message = 'younger than a year'")[0][0], 1)
            self.assertEqual(h.q("SELECT min(id) FROM events")[0][0], total - 1000000 + 1)
            self.assertEqual(h.q("SELECT key FROM samples WHERE key LIKE 'host.temp.%d' ORDER BY key"), [("host.temp.6d",)])
            # Counts are since the HealthLog began: the fixture's EDAC event counts, gone or not.
            self.assertEqual(h.json("nodestats", "--select", "errors")[f"host.errors.dimm.{D00}.ce.count"], 3)
            self.assertEqual(h.q("PRAGMA integrity_check"), [("ok",)])
        finally:
            h.close()


XG = "sys/devices/system/edac/"


class EdacDevices(unittest.TestCase):
    """X-Gene's cache counters (edac_devices l2cP/l2cP0/l2c2 per PMD, l3c, SOC) on health-arm64:
    CPU events on the PMD's cores (cacheinfo), the spec's CPU views, resets, garbage."""

    def setUp(self):
        self.h = Host("health-arm64")

    def tearDown(self):
        self.h.close()

    def set(self, path, ce=None, ue=None):
        # The instance counts what its one block counts, as edac_device_handle_ce/ue do.
        for d in (path.rsplit("/", 1)[0], path):
            if ce is not None:
                self.h.write(XG + d + "/ce_count", f"{ce}\n")
            if ue is not None:
                self.h.write(XG + d + "/ue_count", f"{ue}\n")

    def events(self, after=0):
        return self.h.q("SELECT source, class, component, severity, count, cpu, location, counted FROM events "
                        "WHERE id > ? ORDER BY id", after)

    def test_cache_counters(self):
        h = self.h
        # Counted before the first start (PMD1): recorded at boot time, on the PMD's first core.
        self.set("l2c1/l2c10/l2c2", ce=2)
        h.once()
        self.assertEqual(self.events(), [("edac", "cpu", "l2", "corrected", 2, 2, "l2c1/l2c10/l2c2 (CPUs 2-3)", 1)])
        self.assertEqual(h.q("SELECT time_ms FROM events")[0][0], BTIME_MS)
        # PMD2's L2 (3 corrected, 1 uncorrected), the L3 shared by all cores (no core), the SoC
        # (not a cache: a platform error, outside the CPU views).
        self.set("l2c2/l2c20/l2c2", ce=3, ue=1)
        self.set("l3c/l3c0/l3c0", ce=1)
        self.set("SOC/SOC0/SOC2", ue=1)
        h.once()
        self.assertEqual(self.events(1), [
            ("edac", "platform", None, "uncorrected", 1, None, "SOC/SOC0/SOC2", 1),
            ("edac", "cpu", "l2", "corrected", 3, 4, "l2c2/l2c20/l2c2 (CPUs 4-5)", 1),
            ("edac", "cpu", "l2", "uncorrected", 1, 4, "l2c2/l2c20/l2c2 (CPUs 4-5)", 1),
            ("edac", "cpu", "l3", "corrected", 1, None, "l3c/l3c0/l3c0", 1)])
        self.assertEqual(h.q("SELECT message, detail FROM events WHERE id = 3")[0],
                         ("3 corrected errors in L2 cache l2c2/l2c20/l2c2 (CPUs 4-5) (counted by EDAC while uni-healthd was not running)",
                          "EDAC counter dev/l2c2/l2c20/l2c2/ce"))
        # Nothing new: nothing recorded. A counter that went down (the driver reloaded) is a new
        # baseline: what it shows now was counted since.
        h.once()
        self.assertEqual(h.q("SELECT count(*) FROM events")[0][0], 5)
        self.set("l2c2/l2c20/l2c2", ce=1)
        h.once()
        self.assertEqual(self.events(5), [("edac", "cpu", "l2", "corrected", 1, 4, "l2c2/l2c20/l2c2 (CPUs 4-5)", 1)])
        self.assertIn("since its counters were reset", h.q("SELECT message FROM events WHERE id = 6")[0][0])
        # Garbage in one counter: skipped and logged, the others still read.
        h.write(XG + "l2c0/l2c00/l2c2/ce_count", "many\n")
        self.set("l2c3/l2c30/l2c2", ce=4)
        log = h.once()
        self.assertIn("EDAC: 1 edac_device counter skipped: l2c0/l2c00/l2c2/ce_count: Bad message", log)
        self.assertEqual(self.events(6), [("edac", "cpu", "l2", "corrected", 4, 6, "l2c3/l2c30/l2c2 (CPUs 6-7)", 1)])
        # The spec's CPU views: per-component and per-core counts, uniHealthLogQueryCPU.
        rec = h.json("nodestats", "--select", "errors")
        self.assertEqual(rec["host.errors.l2.ce.count"], 2 + 3 + 1 + 4)
        self.assertEqual(rec["host.errors.l2.ue.count"], 1)
        self.assertEqual(rec["host.errors.l3.ce.count"], 1)
        self.assertEqual(rec["host.errors.l2.count"], 11)
        self.assertEqual([rec[f"host.errors.core.{c}.ce.count"] for c in range(8)], [0, 0, 2, 0, 4, 0, 4, 0])
        self.assertEqual([rec[f"host.errors.core.{c}.ue.count"] for c in range(8)], [0, 0, 0, 0, 1, 0, 0, 0])
        ev = h.json("healthlog", "--core", "4")
        self.assertEqual([(e["event.source"], e["event.component"], e["event.severity"], e["event.count"], e["event.cpu"])
                          for e in ev],
                         [("edac", "l2", "corrected", 3, 4), ("edac", "l2", "uncorrected", 1, 4), ("edac", "l2", "corrected", 1, 4)])
        self.assertEqual(len(h.json("healthlog", "--cpu")), 6)  # the SoC's error is not a CPU error
        self.assertEqual(h.json("healthlog", "--summary")["cores"]["6"], {"ce": 4, "ue": 0})

    def test_daemon_live(self):
        h = self.h
        h.start()
        self.set("l2c2/l2c20/l2c2", ce=5)
        h.wait_log("ids 1-1")
        self.assertEqual(self.events(), [("edac", "cpu", "l2", "corrected", 5, 4, "l2c2/l2c20/l2c2 (CPUs 4-5)", 1)])
        self.assertEqual(h.q("SELECT message FROM events")[0][0], "5 corrected errors in L2 cache l2c2/l2c20/l2c2 (CPUs 4-5) (EDAC counter)")
        self.assertEqual(h.stop(), 0)


class TraceStreams(unittest.TestCase):
    def setUp(self):
        self.h = Host("health-x86")

    def tearDown(self):
        self.h.close()

    def test_every_type(self):
        h = self.h
        h.append_stream("every-type.raw", cpu=1)
        h.once()
        for name in ("mc_event", "mce_record", "aer_event", "arm_event", "non_standard_event", "memory_failure_event"):
            with open(h.path(f"{INST}/events/{'mce' if name == 'mce_record' else 'ras'}/{name}/enable")) as f:
                self.assertEqual(f.read(), "1")
        self.assertEqual(read(h.path(f"{INST}/buffer_percent")), "0")
        ev = {r[0]: r[1:] for r in h.q("SELECT id, source, class, component, severity, bits, count, cpu, dimm, address, counted, time_ms, message FROM events")}
        got = sorted((v[0], v[1], v[2], v[3]) for v in ev.values())
        self.assertEqual(got, sorted([
            ("mc_event", "memory", "dram", "corrected"), ("mc_event", "memory", "dram", "uncorrected"),
            ("mce", "cpu", "l2", "corrected"), ("mce", "memory", "dram", "corrected"),
            ("aer", "pcie", "pcie", "corrected"), ("arm", "cpu", "core", None), ("non_standard", "platform", None, "corrected"),
            ("memory_failure", "memory", None, "info"), ("edac", "memory", "dram", "corrected")]))
        mc = [v for v in ev.values() if v[0] == "mc_event"]
        self.assertEqual(sorted((v[4], v[5], v[7], v[8]) for v in mc),
                         [("multi", 1, D10, 0x2345678000), ("single", 2, D01, 0x1234567000)])
        mce = {v[2]: v for v in ev.values() if v[0] == "mce"}
        self.assertEqual((mce["l2"][6], mce["l2"][5], mce["l2"][9]), (2, 1, 1))
        # The machine check of the memory error: kept with its wall time, not counted (EDAC's
        # mc_event of the same error is).
        self.assertEqual((mce["dram"][9], mce["dram"][10]), (0, 1700000000000))
        self.assertEqual(h.q("SELECT message FROM events WHERE source = 'aer'")[0][0],
                         "PCIe corrected error on 0000:3b:00.0: Receiver Error;")
        self.assertEqual(h.q("SELECT detail FROM events WHERE source = 'non_standard'")[0][0],
                         "fru_id 00000000-0000-0000-0000-000000000000 section length 4 data 01 02 03 04")
        # The spec's views.
        ce = h.json("errors", "--correctable")
        self.assertEqual([k for k in ce if k.startswith("host.")][:8], ["host.errors.l2.ce.count", "host.errors.l2.ce.rate_per_min", "host.errors.l3.ce.count",
                                        "host.errors.l3.ce.rate_per_min", "host.errors.dram.ce.count",
                                        "host.errors.dram.ce.rate_per_min", "host.errors.mcu.ce.count",
                                        "host.errors.mcu.ce.rate_per_min"])
        self.assertEqual(ce["host.errors.l2.ce.count"], 1)
        self.assertEqual(ce["host.errors.l2.ce.rate_per_min"], 1)
        self.assertEqual(ce["host.errors.dram.ce.count"], 2 + 3)
        self.assertEqual(ce["host.errors.dram.ce.rate_per_min"], 2)
        self.assertEqual(ce["host.errors.mcu.ce.count"], 0)
        ue = h.json("errors", "--uncorrectable")
        self.assertEqual(ue["host.errors.dram.ue.count"], 1)
        self.assertEqual(ue["host.errors.l2.ue.count"], 0)
        rec = h.json("nodestats", "--select", "errors")
        self.assertEqual(rec["host.errors.cpu.rate_per_min"], 2)  # L2 and the ARM processor error
        self.assertEqual(rec["host.errors.mem.sbit.count"], 2)
        self.assertEqual(rec["host.errors.mem.mbit.count"], 1)
        self.assertEqual(rec["host.errors.core.2.ce.count"], 1)
        self.assertEqual(rec["host.errors.core.0.ce.count"], 0)
        text = h.unish("errors", "--correctable").stdout
        self.assertIn("host.errors.l2.ce.count", text)

    def test_malformed_truncated_lost(self):
        h = self.h
        h.append_stream("malformed.raw", cpu=0)
        h.append_stream("truncated.raw", cpu=1)
        h.append_stream("lost.raw", cpu=2)
        log = h.once()
        self.assertIn("malformed mc_event record", log)
        rows = h.q("SELECT cpu, component, count(*) FROM events WHERE source = 'mce' GROUP BY cpu ORDER BY cpu")
        # malformed.raw: the good record of page 1 and the two before the damage of page 2 (CPU 1,
        # L1 data read); truncated.raw: the three whole records (CPU 3); lost.raw: one (CPU 1).
        self.assertEqual(rows, [(1, "l1", 4), (3, "l1", 3)])
        self.assertEqual(h.q("SELECT message FROM events WHERE source = 'healthd'"),
                         [("the RAS trace ring buffer of CPU 2 overflowed: events were lost",)])
        self.assertEqual(h.q("PRAGMA integrity_check"), [("ok",)])

    def test_live_trace_and_edac_together(self):
        h = self.h
        h.once()
        # ras:mc_event was already enabled in the instance: the ring buffer recorded what
        # happened while the daemon was down, so counter increases are not counted twice.
        h.write("sys/devices/system/edac/mc/mc0/dimm1/dimm_ce_count", "2\n")
        h.once()
        self.assertEqual(h.q("SELECT count(*) FROM events WHERE source = 'edac'")[0][0], 1)
        h.start()
        h.write("sys/devices/system/edac/mc/mc0/dimm1/dimm_ce_count", "4\n")
        h.append_stream("every-type.raw", cpu=3)
        h.wait_log("committed 8 events")
        self.assertEqual(h.q("SELECT count(*) FROM events WHERE source = 'edac'")[0][0], 1)
        self.assertEqual(h.q("SELECT count(*) FROM events WHERE source = 'mc_event'")[0][0], 2)
        self.assertEqual(h.stop(), 0)


class Actions(unittest.TestCase):
    def setUp(self):
        self.h = Host("health-x86")
        f = tracegen.formats(self.h.path(INST))
        self.mc, self.mce = f["mc_event"], f["mce_record"]

    def tearDown(self):
        self.h.close()

    def ce(self, addr, label="CPU_SrcID#0_MC#0_Chan#1_DIMM#0", count=1):
        return self.mc.record(error_type=0, msg="memory read error", label=label, error_count=count, mc_index=0, top_layer=0,
                              middle_layer=1, lower_layer=-1, address=addr, grain_bits=6, syndrome=0, driver_detail="")

    def l2(self, cpu):
        return self.mce.record(mcgcap=0, mcgstatus=0, status=0x900000000000010a, cpu=cpu, socketid=0, bank=2, cpuvendor=0)

    def test_thresholds_act_once(self):
        h = self.h
        sets = ["--set", "page_ce_threshold=2", "--set", "page_action=soft_offline", "--set", "core_ce_threshold=2",
                "--set", "core_action=offline", "--set", "dimm_ce_threshold=3"]
        h.append_pages([tracegen.page([self.ce(0x5008), self.ce(0x5ff0), self.l2(3), self.l2(3), self.ce(0x9000)])])
        h.once(*sets)
        self.assertEqual(read(h.path("sys/devices/system/memory/soft_offline_page")), "0x5000\n")
        self.assertEqual(read(h.path("sys/devices/system/cpu/cpu3/online")), "1\n0\n")
        acts = h.q("SELECT action, address, cpu, dimm, count, counted, message FROM events WHERE class = 'action' ORDER BY id")
        self.assertEqual([a[0] for a in acts], ["soft_offline_page", "dimm_threshold", "core_offline"])
        self.assertEqual(acts[0][1:6], (0x5000, None, D01, 2, 0))
        self.assertEqual(acts[0][6], "page 0x5000 had 2 corrected errors in 24 h (threshold 2): soft-offlined")
        self.assertEqual(acts[1][6], f"DIMM {D01} had 3 corrected errors in 24 h (threshold 3): logged")
        self.assertEqual(acts[2][6], "core 3 had 2 corrected errors in 24 h (threshold 2): taken offline")
        # More errors on the same page and core: no second action.
        h.append_pages([tracegen.page([self.ce(0x5010), self.l2(3)])])
        h.once(*sets)
        self.assertEqual(read(h.path("sys/devices/system/memory/soft_offline_page")), "0x5000\n")
        self.assertEqual(h.q("SELECT count(*) FROM events WHERE class = 'action'")[0][0], 3)
        # Actions are not errors: the counts do not include them.
        rec = h.json("nodestats", "--select", "errors")
        self.assertEqual(rec["host.errors.l2.count"], 3)
        self.assertEqual(rec["host.errors.dram.ce.count"], 3 + 1 + 1 + 1 + 1)

    def test_default_is_log_only(self):
        h = self.h
        h.append_pages([tracegen.page([self.ce(0x7000)] * 3 + [self.l2(1)] * 3)])
        h.once("--set", "page_ce_threshold=3", "--set", "core_ce_threshold=3")
        self.assertEqual(read(h.path("sys/devices/system/memory/soft_offline_page")), "")
        self.assertEqual(read(h.path("sys/devices/system/cpu/cpu1/online")), "1\n")
        self.assertEqual(h.q("SELECT action FROM events WHERE class = 'action' ORDER BY id"), [("page_threshold",), ("core_threshold",)])

    def test_bad_action(self):
        r = subprocess.run(self.h.args("--once", "--set", "page_action=explode"), capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("page_action = 'explode': log or soft_offline", r.stderr)


class ControlSpool(unittest.TestCase):
    """The action spool beside the HealthLog (DB-actions): control calls' changes, imported as
    action events that can never count as errors; refused when someone else could have written
    it; neither lost nor doubled by a crash between the import's steps."""

    def setUp(self):
        self.h = Host("health-x86")
        self.h.once()
        self.spool = self.h.db + "-actions"

    def tearDown(self):
        self.h.close()

    def put(self, path, text, mode=0o600):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        os.write(fd, text.encode())
        os.close(fd)
        os.chmod(path, mode)

    def control(self):
        return self.h.q("SELECT source, class, severity, counted, count, dimm, action, reason FROM events "
                        "WHERE source = 'control' OR action LIKE 'uni%' ORDER BY id")

    def test_lines_are_actions_whatever_they_say(self):
        good = {"time_ms": 1764000000000, "source": "control", "class": "action", "action": "uniNodeSetFrequency",
                "message": "core 1 scaling_setspeed: '2400000' -> '1200000' by rw pid 7 uid 0", "reason": "a test"}
        # A line that claims to be an uncorrected DRAM error is still only an action, not counted.
        forged = {"time_ms": 1764000000001, "source": "edac", "class": "memory", "severity": "uncorrected",
                  "counted": 1, "count": 5, "dimm": D00, "action": "uniNodeSetGovernor"}
        self.put(self.spool, json.dumps(good) + "\n" + "not json\n" + json.dumps({"count": "five"}) + "\n" +
                 json.dumps(forged) + "\n" + '{"action": "torn')
        log = self.h.once()
        self.assertEqual(self.control(), [
            ("control", "action", "info", 0, None, None, "uniNodeSetFrequency", "a test"),
            ("control", "action", "info", 0, None, None, "uniNodeSetGovernor", None)])
        self.assertIn("skipped 3 malformed lines", log)
        self.assertFalse(os.path.exists(self.spool))
        rec = self.h.json("nodestats", "--select", "errors")
        self.assertEqual(rec.get("host.errors.dram.ue.count", 0), 0)
        # Imported once: a second run adds nothing.
        self.h.once()
        self.assertEqual(len(self.control()), 2)

    def test_untrusted_spool_is_left_alone(self):
        line = json.dumps({"action": "uniNodeSetFrequency", "message": "m"}) + "\n"
        for how in ("world-writable", "not ours", "symlink"):
            if how == "world-writable":
                self.put(self.spool, line, 0o666)
            elif how == "not ours":
                self.put(self.spool, line)
                os.chown(self.spool, 65534, 65534)
            else:
                self.put(self.spool + ".real", line)
                os.symlink(self.spool + ".real", self.spool)
            log = self.h.once()
            self.assertEqual(self.control(), [], how)
            self.assertTrue(os.path.lexists(self.spool), how)
            self.assertRegex(log, "control actions: .*(not imported|Too many levels of symbolic links)", how)
            os.unlink(self.spool)
        # A crash leftover that is a symlink (to a file root owns, with a good line) is not read.
        self.put(self.spool + ".real", line)
        os.symlink(self.spool + ".real", self.spool + ".importing")
        log = self.h.once()
        self.assertEqual(self.control(), [])
        self.assertRegex(log, r"control actions: .*\.importing: Too many levels of symbolic links")

    def identity(self, path):
        """spool.c's identity of a file: its inode and change time."""
        st, m = os.stat(path), (1 << 64) - 1
        v = ((st.st_ino << 32) & m) ^ ((st.st_ctime_ns // 10**9 * 10**9) & m) ^ (st.st_ctime_ns % 10**9)
        return v - (1 << 64) if v >= 1 << 63 else v

    def test_crash_between_steps(self):
        line = lambda a: json.dumps({"action": a, "message": "m"}) + "\n"  # noqa: E731
        # Killed after the rename, before the commit: the renamed file is imported, then the next.
        self.put(self.spool + ".importing", line("uniA"))
        self.put(self.spool, line("uniB"))
        self.h.once()
        self.assertEqual([e[6] for e in self.control()], ["uniA"])
        self.assertFalse(os.path.exists(self.spool + ".importing"))
        self.h.once()
        self.assertEqual([e[6] for e in self.control()], ["uniA", "uniB"])
        # Killed after the commit, before the unlink: the file is only removed, not imported again.
        self.put(self.spool + ".importing", line("uniC"))
        c = sqlite3.connect(self.h.db)
        c.execute("INSERT OR REPLACE INTO state (key, value) VALUES ('spool.imported', ?)",
                  (self.identity(self.spool + ".importing"),))
        c.commit()
        c.close()
        self.h.once()
        self.assertEqual([e[6] for e in self.control()], ["uniA", "uniB"])
        self.assertFalse(os.path.exists(self.spool + ".importing"))


class ShellAndApi(unittest.TestCase):
    """uniHealthLogQueryMemory/CPU through unish: in process, through uniserverd, and --follow."""

    @classmethod
    def setUpClass(cls):
        cls.h = Host("health-x86")
        cls.h.append_stream("every-type.raw", cpu=1)
        cls.h.once()

    @classmethod
    def tearDownClass(cls):
        cls.h.close()

    def test_dimm_and_core(self):
        h = self.h
        ev = h.json("healthlog", "--dimm", D01)
        self.assertEqual(len(ev), 1)
        e = ev[0]
        self.assertEqual((e["event.source"], e["event.component"], e["event.severity"], e["event.bits"], e["event.count"],
                          e["event.address"], e["event.dimm"]), ("mc_event", "dram", "corrected", "single", 2, 0x1234567000, D01))
        self.assertEqual(e["event.location"], "mc0 layers 0:1")
        self.assertNotIn("event.cpu", e)  # a field the event does not have is not there
        ev = h.json("healthlog", "--core", "2")
        self.assertEqual([(e["event.component"], e["event.cpu"], e["event.mca_status"]) for e in ev], [("l2", 2, 0x900000400000110a)])
        self.assertEqual(h.json("healthlog", "--memory", "--uncorrected")[0]["event.dimm"], D10)
        self.assertEqual(len(h.json("healthlog", "--memory", "--corrected")), 3)  # mc_event, mce, edac (not the info)
        self.assertEqual(h.json("healthlog", "--memory", "--since", "1m")[0]["event.source"], "mc_event")
        self.assertEqual(h.json("healthlog", "--cpu", "--since", "2099-01-01"), [])
        text = h.unish("healthlog", "--dimm", D01).stdout
        self.assertIn("memory read error on " + D01, text)
        self.assertIn("0x1234567000", text)

    def test_summary(self):
        h = self.h
        self.assertEqual(h.json("healthlog", "--summary"),
                         {"dimms": {D00: {"ce": 3, "ue": 0}, D01: {"ce": 2, "ue": 0}, D10: {"ce": 0, "ue": 1},
                                    "CPU_SrcID#0_MC#1_Chan#1_DIMM#0": {"ce": 0, "ue": 0}},
                          "cores": {"0": {"ce": 0, "ue": 0}, "1": {"ce": 0, "ue": 0}, "2": {"ce": 1, "ue": 0}, "3": {"ce": 0, "ue": 0}}})
        text = h.unish("healthlog", "--summary").stdout
        self.assertIn("Memory errors per DIMM", text)
        self.assertRegex(text, D00.replace("#", "#") + r"\s+3\s+0")

    def test_usage_and_errors(self):
        h = self.h
        for args in (["healthlog"], ["healthlog", "--dimm", "X", "--core", "1"], ["healthlog", "--core", "x"],
                     ["healthlog", "--memory", "--since", "yesterday"]):
            self.assertEqual(h.unish(*args, check=False).returncode, 2, args)
        r = subprocess.run([UNISH, "-c", h.uri().replace(h.db, h.db + ".missing"), "healthlog", "--memory"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no HealthLog at " + h.db + ".missing", r.stderr)
        self.assertIn("NO_SOURCE", r.stderr)

    def test_through_uniserverd(self):
        h = self.h
        d = Uniserverd(h.uri(), "--config", "/dev/null", "--metrics-listen", "off", tmp=h.tmp)
        try:
            remote = d.uri(ro=True)
            local = h.json("healthlog", "--memory")
            r = subprocess.run([UNISH, "-c", remote, "--json", "healthlog", "--memory"], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout), local)
            r = subprocess.run([UNISH, "-c", remote, "--json", "healthlog", "--core", "2"], capture_output=True, text=True, timeout=30)
            self.assertEqual(json.loads(r.stdout)[0]["event.component"], "l2")
            r = subprocess.run([UNISH, "-c", remote, "--json", "healthlog", "--summary"], capture_output=True, text=True, timeout=30)
            self.assertEqual(json.loads(r.stdout)["dimms"][D01], {"ce": 2, "ue": 0})
            r = subprocess.run([UNISH, "-c", remote, "healthlog", "--memory", "--follow"], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1)
            self.assertIn("NO_SUPPORT", r.stderr)
        finally:
            d.stop()

    def test_test_driver(self):
        r = subprocess.run([UNISH, "-c", "test:///default", "--json", "healthlog", "--dimm", "DIMM1B"], capture_output=True, text=True)
        ev = json.loads(r.stdout)
        self.assertTrue(ev)
        self.assertTrue(all(e["event.dimm"] == "DIMM1B" and e["event.mc"] == 1 for e in ev))
        # The board names a DIMM once: the HealthLog's label is the one its channel's domain lists.
        r = subprocess.run([UNISH, "-c", "test:///default", "--json", "oppoints"], capture_output=True, text=True)
        mc1 = [d for d in json.loads(r.stdout)["domains"] if d["name"] == "mc1"][0]
        self.assertIn("DIMM1B", mc1["dimms"])
        # Its events are the board's counts: their sum is the DIMM's count in the error metrics.
        r = subprocess.run([UNISH, "-c", "test:///default", "--json", "healthlog", "--summary"], capture_output=True,
                           text=True)
        self.assertEqual(sum(e["event.count"] for e in ev if e["event.severity"] == "corrected"),
                         json.loads(r.stdout)["dimms"]["DIMM1B"]["ce"])


class DaemonNotification(unittest.TestCase):
    def test_uniserverd_samples_on_commit(self):
        """uniserverd with a one-minute interval shows new errors within a second of the commit."""
        h = Host("health-x86")
        d = None
        try:
            h.start()
            d = Uniserverd(h.uri(), "--config", "/dev/null", "--metrics-listen", "off", "--interval", "60000", tmp=h.tmp)
            remote = ["-c", d.uri(ro=True), "--json", "errors", "--correctable"]

            def dram():
                r = subprocess.run([UNISH, *remote], capture_output=True, text=True, timeout=30)
                return json.loads(r.stdout)["host.errors.dram.ce.count"]
            self.assertEqual(dram(), 3)
            # One unish call's own cost, to tell it from the daemon's delay.
            t = time.time()
            dram()
            call = time.time() - t
            h.append_stream("every-type.raw", cpu=0)
            # The commit is logged once it is on disk: the daemon's delay starts there (read
            # every millisecond, so that the start is not late). How long uni-healthd takes to
            # get there on a loaded machine is not the promise; that it gets there is.
            end = time.time() + 30
            while "(ids 2-" not in (h.log.seek(0) or h.log.read()) and time.time() < end:
                time.sleep(0.001)
            h.log.seek(0)
            healthd_log = h.log.read()
            self.assertIn("(ids 2-", healthd_log, "uni-healthd did not commit the new events within 30 s")
            t0 = time.time()
            while dram() != 5 and time.time() - t0 < 5:
                pass
            elapsed = time.time() - t0
            self.assertEqual(dram(), 5, "uniserverd did not show the commit within 5 s; its log:\n" + d.log_text() +
                             "\nuni-healthd's:\n" + healthd_log[-3000:])
            print(f"# commit seen by uniserverd within {elapsed * 1000:.0f} ms (one unish call: {call * 1000:.0f} ms)")
            # The promise: tens of milliseconds after the commit. Measured on the shared 2-core
            # machine under load (load average 5-10), 8 runs: 18 to 35 ms, one call 4 to 12 ms.
            # The bound is the promise's 100 ms plus one unish call (polling costs one call).
            self.assertLess(elapsed, 0.1 + call)
        finally:
            if d:
                d.stop()
            h.close()


class Follow(unittest.TestCase):
    def test_follow_wakes_on_commit(self):
        h = Host("health-x86")
        try:
            h.start()
            f = subprocess.Popen([UNISH, "-c", h.uri(), "healthlog", "--memory", "--follow"], stdout=subprocess.PIPE, text=True)
            try:
                # The first line: the boot-time EDAC event already there.
                self.assertIn("before uni-healthd first ran", f.stdout.readline())
                h.append_stream("every-type.raw", cpu=2)
                got = [f.stdout.readline() for _ in range(3)]
                self.assertTrue(any("memory read error on " + D01 in l for l in got), got)
                self.assertTrue(any("memory-failure recovery" in l for l in got), got)
            finally:
                f.terminate()
                f.wait(timeout=10)
        finally:
            h.close()


class Other(unittest.TestCase):
    def setUp(self):
        self.h = Host("health-x86")

    def tearDown(self):
        self.h.close()

    def test_sensors_smbios(self):
        h = self.h
        h.once()
        rows = dict(h.q("SELECT key, value FROM samples"))
        self.assertEqual(rows["host.cpu.0.temp_c"], 45)
        self.assertEqual(rows["host.cpu.3.temp_c"], 48)
        self.assertEqual(h.q("SELECT label, size_mb, speed_mts, configured_mts, manufacturer, part FROM dimms "
                             "WHERE source = 'smbios' AND size_mb > 0"),
                         [("CPU1_DIMM_A1", 16384, 2933, 2666, "Samsung", "M393A2K43CB2-CVF"),
                          ("CPU1_DIMM_B1", 16384, 2933, 2666, "Samsung", "M393A2K43CB2-CVF")])
        self.assertEqual(h.json("hostmemstats")["host.mem.speed_mhz"], 2666)

    def test_no_healthlog(self):
        h = self.h
        rec = h.json("errors", "--correctable")
        why = rec["absent"]["host.errors.C.ce.count"]
        self.assertIn(f"no HealthLog at {h.db}", why)
        self.assertIn("uni-healthd", why)
        self.assertIn(f"no HealthLog at {h.db}", h.json("hostmemstats")["absent"]["host.mem.speed_mhz"])

    def test_import_rasdaemon(self):
        h = self.h
        ras = os.path.join(h.tmp, "ras-mc_event.db")
        c = sqlite3.connect(ras)
        c.executescript("""
            CREATE TABLE mc_event (id INTEGER PRIMARY KEY, timestamp TEXT, err_count INTEGER, err_type TEXT, err_msg TEXT,
                label TEXT, mc INTEGER, top_layer INTEGER, middle_layer INTEGER, lower_layer INTEGER, address INTEGER,
                grain INTEGER, syndrome INTEGER, driver_detail TEXT);
            CREATE TABLE mce_record (id INTEGER PRIMARY KEY, timestamp TEXT, mcgcap INTEGER, mcgstatus INTEGER, status INTEGER,
                addr INTEGER, misc INTEGER, ip INTEGER, tsc INTEGER, walltime INTEGER, cpu INTEGER, cpuid INTEGER,
                apicid INTEGER, socketid INTEGER, cs INTEGER, bank INTEGER, cpuvendor INTEGER, bank_name TEXT, error_msg TEXT,
                mcgstatus_msg TEXT, mcistatus_msg TEXT, mcastatus_msg TEXT, user_action TEXT, mc_location TEXT);
            CREATE TABLE aer_event (id INTEGER PRIMARY KEY, timestamp TEXT, err_type TEXT, err_msg TEXT, dev_name TEXT);
            INSERT INTO mc_event VALUES (1, '2025-12-01 10:00:00 +0100', 3, 'Corrected', 'memory read error', 'DIMM_A1', 0, 0, 1, -1,
                305419896, 64, 0, 'Multi-bit? no: single-bit');
            INSERT INTO mc_event VALUES (2, '2025-12-01 10:05:00 +0000', 1, 'Uncorrected', 'memory scrub error', 'any memory', 0,
                -1, -1, -1, 0, 64, 0, '');
            INSERT INTO mce_record (id, timestamp, mcgcap, status, addr, cpu, socketid, bank, cpuvendor, error_msg)
                VALUES (1, '2025-12-01 10:06:00 +0000', 0, -8070450532247928566, 0, 5, 0, 2, 0, 'L2 generic');
            INSERT INTO aer_event VALUES (1, '2025-12-01 10:07:00 +0000', 'Uncorrected (Fatal)', 'Surprise Down Error',
                '0000:00:1c.0');
        """)
        c.commit()
        c.close()
        log = h.once("--set", "trace=no", "--import-rasdaemon", ras)
        self.assertIn("imported 4 events from rasdaemon", log)
        rows = h.q("SELECT time_ms, class, component, severity, count, dimm, cpu, message FROM events WHERE source = 'rasdaemon' ORDER BY time_ms")
        self.assertEqual(rows[0], (1764579600000, "memory", "dram", "corrected", 3, "DIMM_A1", None, "memory read error"))
        self.assertEqual(rows[1][1:6], ("memory", "dram", "uncorrected", 1, None))
        self.assertEqual(rows[2][1:4] + (rows[2][6],), ("cpu", "l2", "corrected", 5))
        self.assertEqual(rows[3][1:4], ("pcie", "pcie", "fatal"))
        # Again: only new rows.
        log = h.once("--set", "trace=no", "--import-rasdaemon", ras)
        self.assertIn("imported 0 events", log)
        rec = h.json("nodestats", "--select", "errors")
        self.assertEqual(rec["host.errors.l2.ce.count"], 1)  # the import tells that the host had a CPU error source

    def test_usage(self):
        r = subprocess.run([HEALTHD, "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertIn("page_action", r.stdout)
        r = subprocess.run([HEALTHD, "--bogus"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([HEALTHD, "--once", "--db", "/nonexistent/dir/h.db", "--set", "trace=no"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/dir/h.db", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
