#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""uni-stresslog end to end. On uni-simboard (manual clock) with uni-healthd recording its errors:
for several seeds every PMD's safe voltage at 2.4 GHz and 1.2 GHz and every channel's refresh
limit are found within one step of the board's hidden truth and never beyond it (the test reads
sim/truth; the tool never does); a run killed with SIGKILL is restored to nominal by the next
start and --resume gives the same result; a guard band past the limits is refused. On a copy of
the x86-acpi fixture a short frequency sweep with stress-ng writes a raw log and a margins file
and puts the governor back. On this host (no voltage, no cpufreq) it says what it cannot do.
Bad input changes nothing. The board parts need /dev/fuse and root; they SKIP otherwise."""
import glob
import json
import os
import pty
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = os.environ["BUILDDIR"]
SRC = os.path.dirname(os.path.abspath(__file__))
STRESSLOG = os.path.join(BUILD, "bin", "uni-stresslog")
UNISH = os.path.join(BUILD, "bin", "unish")
SIMBOARD = os.path.join(BUILD, "bin", "uni-simboard")
HEALTHD = os.path.join(BUILD, "bin", "uni-healthd")
SEEDS = (3, 11, 42)
BOARD_ARGS = ["--frequencies", "2400,1200", "--dwell", "30", "--memory-dwell", "400", "--repeats", "3", "--settle", "2"]


def board_why_not():
    if not os.path.exists(SIMBOARD):
        return "uni-simboard was not built (no libfuse3)"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    if os.geteuid() != 0:
        return "mounting the simulated board needs root"
    return None


class Board:
    """uni-simboard --manual-clock and uni-healthd polling its EDAC every 10 ms, sensors every cycle
    (so that uni-stresslog's wait on the HealthLog ends after a whole cycle)."""

    def __init__(self, seed, tmp):
        self.mnt = os.path.join(tmp, f"board{seed}")
        self.db = os.path.join(tmp, f"health{seed}.db")
        os.makedirs(self.mnt)
        self.proc = subprocess.Popen([SIMBOARD, "--seed", str(seed), "--manual-clock", self.mnt],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(200):
            if os.path.exists(os.path.join(self.mnt, "sys/devices/system/cpu/online")):
                break
            if self.proc.poll() is not None:
                raise unittest.SkipTest(f"uni-simboard could not mount: {self.proc.stderr.read().strip()}")
            time.sleep(0.05)
        self.healthd = subprocess.Popen([HEALTHD, "-f", "--db", self.db, "--procfs", self.mnt + "/proc", "--sysfs",
                                         self.mnt + "/sys", "--interval", "10", "--set", "trace=no", "--set",
                                         "sensor_interval_ms=10", "--set", "retention_days=0"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(self.db):
                break
            time.sleep(0.05)
        time.sleep(0.3)
        self.uri = f"uniserver:///system?procfs={self.mnt}/proc&sysfs={self.mnt}/sys&healthlog={self.db}"

    def close(self):
        for p in (self.healthd, self.proc):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        self.proc.stderr.close()

    def read(self, rel):
        with open(os.path.join(self.mnt, rel)) as f:
            return f.read().strip()

    def write(self, rel, value):
        with open(os.path.join(self.mnt, rel), "w") as f:
            f.write(str(value))

    def truth(self):
        out = {}
        for line in self.read("sim/truth").splitlines():
            w = line.split()
            out[w[0]] = {w[i]: float(w[i + 1]) for i in range(1, len(w) - 1, 2)}
        return out

    def vmin(self, pmd, mhz):
        """The board's safe voltage of PMD @pmd at @mhz, read from its truth at that frequency."""
        pol = f"sys/devices/system/cpu/cpufreq/policy{2 * pmd}"
        gov, = (self.read(f"{pol}/scaling_governor"),)
        self.write(f"{pol}/scaling_governor", "userspace")
        self.write(f"{pol}/scaling_setspeed", mhz * 1000)
        v = self.truth()[f"pmd{pmd}"]["vmin_mv"]
        self.write(f"{pol}/scaling_governor", gov)
        return v

    def x_at(self, mc, refresh):
        """refresh / weakest-cell retention of channel @mc at @refresh ms under the tool's memory load."""
        load = self.read("sim/load")
        self.write("sim/load", "100")
        self.write(f"sys/class/uniserver-opp/mc{mc}/refresh_ms", refresh)
        t = self.truth()[f"mc{mc}"]
        self.write(f"sys/class/uniserver-opp/mc{mc}/refresh_ms", 64)
        self.write("sim/load", load)
        return t["refresh_ms"] / t["retention_ms"]

    def at_nominal(self):
        return ([self.read(f"sys/class/uniserver-opp/pmd{p}/voltage_mv") for p in range(4)] == ["980"] * 4 and
                [self.read(f"sys/class/uniserver-opp/mc{c}/refresh_ms") for c in range(4)] == ["64"] * 4)


def png_size(path):
    """The width and height in a PNG's header (its IHDR chunk)."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", head
    return struct.unpack(">II", head[16:24])


def stresslog(*args, timeout=900):
    return subprocess.run([STRESSLOG] + list(args), capture_output=True, text=True, timeout=timeout)


class OnBoard(unittest.TestCase):
    def setUp(self):
        why = board_why_not()
        if why:
            self.skipTest(why)
        self.tmp = tempfile.mkdtemp(prefix="uni-stresslog-")
        self.boards = []

    def tearDown(self):
        for b in self.boards:
            b.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def board(self, seed):
        b = Board(seed, self.tmp)
        self.boards.append(b)
        return b

    def files(self, name):
        return ["--margins", os.path.join(self.tmp, name + ".json"), "--log", os.path.join(self.tmp, name + ".jsonl"),
                "--journal", os.path.join(self.tmp, name + ".journal")]

    def margins(self, name):
        with open(os.path.join(self.tmp, name + ".json")) as f:
            m = json.load(f)
        self.assertEqual((m["schema"], m["version"]), ("uniserver-margins", 1))
        return {(e["domain"], e["conditions"]["frequency_mhz"]): e for e in m["margins"]}

    def check_against_truth(self, b, e):
        """The safe value is within the truth, and two steps beyond it is not: within one step of
        the truth on the tool's grid. Returns the truth's distance below the first failing step."""
        ev = [s["value"] for s in e["evidence"]]
        self.assertIsNotNone(e["safe"], f"no clean step at all: {e}")
        i = ev.index(e["safe"])
        self.assertEqual(e["status"], "failure", e)
        self.assertEqual(e["first_failure"]["value"], ev[-1])
        self.assertLessEqual(i + 2, len(ev) - 1, f"{e['domain']}: safe {e['safe']} more than one step back: {ev}")
        beyond = ev[i + 2]
        if e["param"] == "voltage_mv":
            v = b.vmin(int(e["domain"][3:]), e["conditions"]["frequency_mhz"])
            self.assertGreaterEqual(e["safe"], v, f"{e['domain']} safe {e['safe']} mV is below the truth {v}")
            self.assertLess(beyond, v, f"{e['domain']}: {beyond} mV is still safe (truth {v}): more than one step")
            return e["first_failure"]["value"], v - e["first_failure"]["value"]
        c = int(e["domain"][2:])
        self.assertLessEqual(b.x_at(c, e["safe"]), 1.0, f"{e['domain']} safe {e['safe']} ms is beyond the truth")
        self.assertGreater(b.x_at(c, beyond), 1.0, f"{e['domain']}: {beyond} ms is still safe: more than one step")
        return e["first_failure"]["value"], b.x_at(c, e["first_failure"]["value"]) - 1

    def test_1_seeds_against_truth(self):
        # One board per seed, searched at once (the searches mostly wait on uni-healthd).
        runs = []
        for seed in SEEDS:
            b = self.board(seed)
            runs.append((seed, b, subprocess.Popen([STRESSLOG, "-c", b.uri, "--workload", "simboard:" + b.mnt,
                                                    *BOARD_ARGS, *self.files(f"s{seed}")],
                                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
        for seed, b, p in runs:
            out, err = p.communicate(timeout=900)
            self.assertEqual(p.returncode, 0, err + out)
            m = self.margins(f"s{seed}")
            self.assertEqual(sorted(m), sorted([(f"pmd{p}", f) for p in range(4) for f in (2400, 1200)] +
                                               [(f"mc{c}", None) for c in range(4)]))
            self.assertTrue(b.at_nominal())
            for e in m.values():
                self.check_against_truth(b, e)
            with open(os.path.join(self.tmp, f"s{seed}.jsonl")) as f:
                steps = [json.loads(line) for line in f]
            self.assertEqual(sum(1 for s in steps if s["type"] == "step"), sum(len(e["evidence"]) for e in m.values()))
            self.assertEqual({s["verdict"] for s in steps if s["type"] == "step"} - {"clean"}, {"ce"})

    def test_2_kill_and_resume(self):
        b, twin = self.board(5), Board(5, os.path.join(self.tmp, "twin"))
        self.boards.append(twin)
        args = ["-c", b.uri, "--workload", "simboard:" + b.mnt, "--domain", "pmd1,pmd2,mc0"] + BOARD_ARGS
        raw = os.path.join(self.tmp, "k.jsonl")
        # The same search uninterrupted, at the same time on a board of the same seed.
        whole_run = subprocess.Popen([STRESSLOG, "-c", twin.uri, "--workload", "simboard:" + twin.mnt, "--domain",
                                      "pmd1,pmd2,mc0"] + BOARD_ARGS + self.files("whole"),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        p = subprocess.Popen([STRESSLOG] + args + self.files("k"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Killed mid-run: after the first search, in the second PMD's voltage search.
        for _ in range(1200):
            if os.path.exists(raw):
                with open(raw) as f:
                    if sum(1 for _ in f) >= 30:
                        break
            time.sleep(0.05)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        self.assertTrue(os.path.exists(os.path.join(self.tmp, "k.journal")))
        self.assertFalse(b.at_nominal(), "killed mid-run, some domain should be off nominal")
        r = stresslog(*args, *self.files("k"), "--resume")
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.assertIn("a previous run did not finish: restoring", r.stdout)
        self.assertIn("resuming from", r.stdout)
        self.assertTrue(b.at_nominal())
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "k.journal")))
        resumed = self.margins("k")
        out, err = whole_run.communicate(timeout=900)
        self.assertEqual(whole_run.returncode, 0, err + out)
        whole = self.margins("whole")
        self.assertEqual(sorted(resumed), sorted(whole))
        for key, e in resumed.items():
            fail, below = self.check_against_truth(b, e)
            self.check_against_truth(b, whole[key])
            # The same result, where the first step past the truth is far enough past it to be
            # seen in every run (a step a fraction of a mV past the truth is seen by chance).
            if (e["param"] == "voltage_mv" and below <= -1) or (e["param"] == "refresh_ms" and below >= 0.08):
                self.assertEqual(e["safe"], whole[key]["safe"], key)

    def test_3_refusals_change_nothing(self):
        b = self.board(7)
        for args, needle in ((["--guard-band", "voltage_mv=500"], "wider than pmd0's whole range 800-1000 mV"),
                             (["--domain", "pmd9"], "no domain 'pmd9'"),
                             (["--frequencies", "9000"], "not 9000 MHz")):
            r = stresslog("-c", b.uri, "--workload", "simboard:" + b.mnt, *args, *self.files("bad"))
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(needle, r.stderr)
            self.assertFalse(os.path.exists(os.path.join(self.tmp, "bad.jsonl")))
        self.assertTrue(b.at_nominal())
        # SIGINT mid-search: partial results, the domain back at nominal, the journal gone.
        p = subprocess.Popen([STRESSLOG, "-c", b.uri, "--workload", "simboard:" + b.mnt, "--domain", "pmd3",
                              "--settle", "2", *self.files("int")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        raw = os.path.join(self.tmp, "int.jsonl")
        for _ in range(400):
            if os.path.exists(raw) and os.path.getsize(raw) > 0:
                break
            time.sleep(0.02)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 5, err)
        self.assertIn("interrupted: partial results, domains restored", out)
        self.assertTrue(b.at_nominal())
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "int.journal")))
        e, = self.margins("int").values()
        self.assertEqual((e["status"], e["partial"]), ("stopped", True))
        # A budget that runs out: partial results, marked, exit 4.
        r = stresslog("-c", b.uri, "--workload", "simboard:" + b.mnt, "--domain", "pmd3,mc0", "--budget", "0.5",
                      "--settle", "2", *self.files("budget"))
        self.assertEqual(r.returncode, 4, r.stderr)
        with open(os.path.join(self.tmp, "budget.json")) as f:
            m = json.load(f)
        self.assertFalse(m["complete"])
        self.assertEqual([(e["status"], e["partial"]) for e in m["margins"]], [("budget", True)] * 2)
        self.assertTrue(b.at_nominal())
        # Without the HealthLog the search would be blind: refused, with the reason.
        uri = b.uri.split("&healthlog=")[0] + "&healthlog=" + os.path.join(self.tmp, "none.db")
        r = stresslog("-c", uri, "--workload", "simboard:" + b.mnt, "--domain", "pmd0", *self.files("blind"))
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("cannot see its corrected and uncorrected errors", r.stderr)
        self.assertTrue(b.at_nominal())


class Elsewhere(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="uni-stresslog-")
        self.tree = os.path.join(self.tmp, "x86")
        shutil.copytree(os.path.join(SRC, "fixtures", "x86-acpi"), self.tree, symlinks=True)
        self.uri = f"uniserver:///system?procfs={self.tree}/proc&sysfs={self.tree}/sys"
        self.pol = os.path.join(self.tree, "sys/devices/system/cpu/cpufreq/policy0")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def out(self, name):
        return os.path.join(self.tmp, name)

    def state(self):
        out = {}
        for name in ("scaling_governor", "scaling_setspeed", "scaling_min_freq", "scaling_max_freq"):
            with open(os.path.join(self.pol, name)) as f:
                out[name] = f.read()
        return out

    def test_fixture_frequency_sweep(self):
        if not shutil.which("stress-ng"):
            self.skipTest("stress-ng is not installed (Debian package stress-ng)")
        before = self.state()
        r = stresslog("-c", self.uri, "--domain", "cpu0", "--frequencies", "2600,2000", "--dwell", "1", "--repeats",
                      "1", "--settle", "0", "--margins", self.out("m.json"), "--log", self.out("raw.jsonl"),
                      "--journal", self.out("j"), "--report", self.out("report"))
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.assertIn("errors are not visible", r.stderr)
        with open(self.out("raw.jsonl")) as f:
            lines = [json.loads(line) for line in f]
        steps = [s for s in lines if s["type"] == "step"]
        self.assertEqual([(s["domain"], s["value"], s["verdict"]) for s in steps],
                         [("cpu0", 2000, "clean"), ("cpu0", 2600, "clean")])
        self.assertEqual(steps[0]["settings"], {"frequency_mhz": 2000})
        self.assertEqual([s["status"] for s in lines if s["type"] == "result"], ["limit"])
        with open(self.out("m.json")) as f:
            m = json.load(f)
        e, = m["margins"]
        self.assertEqual((e["domain"], e["kind"], e["last_clean"], e["safe"], e["status"]),
                         ("cpu0", "cpufreq", 2600, 2000, "limit"))
        self.assertTrue(m["complete"])
        self.assertEqual(self.state()["scaling_governor"], before["scaling_governor"])
        self.assertFalse(os.path.exists(self.out("j")))
        with open(self.out("report/report.md")) as f:
            rep = f.read()
        self.assertIn("| cpu0 | frequency_mhz | - | 2600 | 2600 | 2000 | - | limit |", rep)
        self.assertIn("![cpu0.frequency_mhz](cpu0-frequency_mhz.png)", rep)
        # The plot's data is the measured steps, in order: value, ce, ue, sdc, crash.
        with open(self.out("report/cpu0-frequency_mhz.dat")) as f:
            self.assertEqual([line.split() for line in f if not line.startswith("#")],
                             [["2000", "0", "0", "0", "0"], ["2600", "0", "0", "0", "0"]])
        if shutil.which("gnuplot"):
            self.assertEqual(png_size(self.out("report/cpu0-frequency_mhz.png")), (800, 480))
        # Not a terminal: one plain line per step, with the verdict and the steps done of the plan.
        self.assertEqual([line.split("  [")[0] for line in r.stdout.splitlines() if line.startswith("cpu0 ")],
                         ["cpu0 frequency_mhz 2000 MHz: clean (ce 0, ue 0, sdc 0, crash 0)",
                          "cpu0 frequency_mhz 2600 MHz: clean (ce 0, ue 0, sdc 0, crash 0)"])
        self.assertRegex(r.stdout, r"\[1/2 steps, \d+ s\]\n.*\[2/2 steps, \d+ s\]")
        self.assertNotIn("\r", r.stdout)
        # The margins file as metrics of the host record, and as unish margins prints them.
        self.check_margins_in_record(m, e)

    def check_margins_in_record(self, m, e):
        uri = self.uri + "&margins=" + self.out("m.json")
        p = subprocess.run([UNISH, "-c", uri, "--json", "nodestats", "--select", "margins"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        rec = json.loads(p.stdout)
        name = "host.margin.cpu0:frequency."
        measured = rec[name + "measured_timestamp_s"]
        self.assertEqual((rec[name + "freq_nominal_mhz"], rec[name + "freq_safe_mhz"], rec[name + "freq_guard_mhz"],
                          rec[name + "status"], rec[name + "partial"]), (e["nominal"], 2000, 600, "limit", 0))
        self.assertLessEqual(abs(measured - time.time()), 120)
        self.assertEqual(rec[name + "run"], f"started {m['run_started']}, raw log {self.out('raw.jsonl')}")
        p = subprocess.run([UNISH, "-c", uri, "margins"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(measured))
        self.assertRegex(p.stdout, rf"cpu0:frequency +{e['nominal']} MHz +2000 MHz +600 MHz +{when} +limit +"
                                   rf"started {m['run_started']}, raw log {self.out('raw.jsonl')}\n")

    def test_fixture_progress_on_a_terminal(self):
        """On a terminal, one progress bar redrawn in place: the domain, the step, the time elapsed,
        the bound on the time left and the errors so far."""
        if not shutil.which("stress-ng"):
            self.skipTest("stress-ng is not installed (Debian package stress-ng)")
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(STRESSLOG, [STRESSLOG, "-c", self.uri, "--domain", "cpu0", "--frequencies", "2600,2000",
                                 "--dwell", "1", "--repeats", "1", "--settle", "0", "--margins", self.out("m.json"),
                                 "--log", self.out("raw.jsonl"), "--journal", self.out("j")])
        out = b""
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, out)
        text = out.decode()
        bars = re.findall(r"\r\x1b\[K\[([# ]{24})\] cpu0 frequency_mhz step (\d+) (\d+) MHz  "
                          r"(\d+):(\d\d) elapsed, ETA <= (\d+):(\d\d)  ce (\d+) ue (\d+)", text)
        self.assertEqual([(b[0].count("#"), b[1], b[2], b[7], b[8]) for b in bars],
                         [(12, "1", "2000", "0", "0"), (24, "2", "2600", "0", "0")], text)
        self.assertEqual((bars[-1][5], bars[-1][6]), ("0", "00"))  # nothing left after the last step
        self.assertNotIn("cpu0 frequency_mhz 2000 MHz: clean", text)  # no plain lines on a terminal

    def test_microvirus(self):
        """uni-microvirus, one per cache level: a buffer of 3/4 of the level's size on this host's
        core 0, read back clean; a flipped bit is seen (exit 2, the word named); no such cache or a
        bad argument says so."""
        mv = os.path.join(BUILD, "bin", "uni-microvirus")
        sizes = {}
        for idx in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*"):
            with open(f"{idx}/level") as f, open(f"{idx}/type") as g, open(f"{idx}/size") as h:
                level, kind, size = int(f.read()), g.read().strip(), h.read().strip()
            if kind != "Instruction" and size[-1] in "KM":
                sizes[level] = int(size[:-1]) * (1024 if size[-1] == "M" else 1)
        if not sizes:
            self.skipTest("this host's sysfs describes no cache of core 0")
        for level, kb in sorted(sizes.items()):
            r = subprocess.run([mv, "--level", str(level), "--cpu", "0", "--seconds", "0.2"], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, rf"^level {level} cpu 0: {kb * 3 // 4} KiB of a {kb} KiB cache, [1-9]\d* passes, "
                                       r"[1-9]\d* reads of every word, 0 errors\n$")
        level = max(sizes)
        r = subprocess.run([mv, "--level", str(level), "--cpu", "0", "--seconds", "0.2"], capture_output=True, text=True,
                           timeout=60, env=dict(os.environ, UNI_MICROVIRUS_INJECT_FAULT="0"))
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertRegex(r.stderr, rf"level {level} cpu 0: word \d+ of pass 0 read 0x[0-9a-f]{{16}}, wrote "
                                   r"0x[0-9a-f]{16} \(bits 0x0000000000000001 differ\)")
        r = subprocess.run([mv, "--level", "2", "--cpu", "0", "--sysfs", self.tmp], capture_output=True, text=True)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(f"core 0 has no level 2 data or unified cache in {self.tmp}", r.stderr)
        for args in (["--level", "4", "--cpu", "0"], ["--level", "1"], ["--level", "1", "--cpu", "0", "--seconds", "0"]):
            self.assertEqual(subprocess.run([mv, *args], capture_output=True).returncode, 1, args)

    def test_fixture_microvirus_sweep(self):
        """--workload microvirus: each step runs levels 1 to 3 on the domain's cores; their clean
        reads make a clean step, and a word read back wrong makes the step's verdict sdc."""
        if not os.path.isdir("/sys/devices/system/cpu/cpu0/cache"):
            self.skipTest("this host's sysfs describes no cache of core 0")
        before = self.state()
        base = ["-c", self.uri, "--domain", "cpu0", "--frequencies", "2600,2000", "--dwell", "0.6", "--repeats", "1",
                "--settle", "0", "--workload", "microvirus", "--journal", self.out("j")]
        r = stresslog(*base, "--margins", self.out("m.json"), "--log", self.out("raw.jsonl"))
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        with open(self.out("raw.jsonl")) as f:
            steps = [json.loads(line) for line in f if '"type":"step"' in line]
        self.assertEqual([(s["value"], s["verdict"], s["sdc"]) for s in steps], [(2000, "clean", 0), (2600, "clean", 0)])
        with open(self.out("m.json")) as f:
            e, = json.load(f)["margins"]
        self.assertEqual((e["conditions"]["workload"], e["safe"], e["status"]), ("microvirus", 2000, "limit"))
        env = dict(os.environ, UNI_MICROVIRUS_INJECT_FAULT="0")
        r = subprocess.run([STRESSLOG, *base, "--margins", self.out("m2.json"), "--log", self.out("raw2.jsonl")],
                           capture_output=True, text=True, timeout=300, env=env)
        with open(self.out("raw2.jsonl")) as f:
            steps = [json.loads(line) for line in f if '"type":"step"' in line]
        self.assertEqual([(s["value"], s["verdict"], s["sdc"]) for s in steps], [(2000, "sdc", 1)], r.stderr)
        with open(self.out("m2.json")) as f:
            e, = json.load(f)["margins"]
        self.assertEqual((e["status"], e["safe"], e["first_failure"]), ("failure", None, {"value": 2000, "verdict": "sdc"}))
        self.assertEqual(self.state()["scaling_governor"], before["scaling_governor"])

    def test_vms_refused_unless_forced(self):
        """The simulated node runs vm-1 pinned to PMD 0's cores and vm-2 to PMD 1's: those domains, and
        every channel, are refused (nothing written, nothing set) unless --force; PMD 2 has none."""
        files = ["--margins", self.out("v.json"), "--log", self.out("v.jsonl"), "--journal", self.out("v.j")]
        # The budget and the timeout bound a run that is not refused (it would search for minutes).
        r = stresslog("-c", "test:///default", "--workload", "none", "--settle", "0", "--budget", "2", *files,
                      timeout=60)
        self.assertEqual(r.returncode, 2, r.stderr)
        for dom, vm in (("pmd0", "vm-1"), ("pmd1", "vm-2"), ("mc0", "vm-1"), ("mc3", "vm-1")):
            self.assertIn(f"uni-stresslog: {dom}: VM {vm} runs on it; --force tests it anyway", r.stderr)
        self.assertNotIn("pmd2:", r.stderr)
        self.assertEqual(r.stdout, "")
        for f in ("v.json", "v.jsonl", "v.j"):
            self.assertFalse(os.path.exists(self.out(f)), f)
        r = stresslog("-c", "test:///default", "--workload", "none", "--domain", "pmd0", "--dry-run", *files)
        self.assertEqual(r.returncode, 2, r.stderr)
        r = stresslog("-c", "test:///default", "--workload", "none", "--domain", "pmd2", "--dry-run", *files)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("pmd2   voltage_mv from 980 toward 800 mV", r.stdout)
        r = stresslog("-c", "test:///default", "--workload", "none", "--domain", "pmd0,mc0", "--dry-run", "--force",
                      *files)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("uni-stresslog: pmd0: VM vm-1 runs on it (--force: testing anyway)", r.stderr)
        self.assertIn("pmd0   voltage_mv from 980 toward 800 mV", r.stdout)
        self.assertIn("mc0    refresh_ms from 64 toward 4096 ms", r.stdout)

    def test_dry_run(self):
        before = self.state()
        r = stresslog("-c", self.uri, "--domain", "cpu0", "--frequencies", "2600,2000", "--dry-run",
                      "--margins", self.out("m.json"), "--log", self.out("raw.jsonl"), "--journal", self.out("j"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("cpu0   frequency_mhz sweep 2000..2600 MHz: 2 steps", r.stdout)
        self.assertIn("estimated time: at most 65 s", r.stdout)
        self.assertEqual(self.state(), before)
        self.assertFalse(os.path.exists(self.out("raw.jsonl")))

    def test_bad_input_changes_nothing(self):
        before = self.state()
        base = ["-c", self.uri, "--margins", self.out("m.json"), "--log", self.out("raw.jsonl"), "--journal",
                self.out("j"), "--workload", "none"]
        for args, needle in ((["--domain", "cpu99"], "no domain 'cpu99'"),
                             (["--step", "voltage_mv=0"], "voltage_mv=0: must be more than zero"),
                             (["--step", "refresh_ms=-5%"], "refresh_ms=-5: must be more than zero"),
                             (["--budget", "-1"], "--budget must be more than zero, not '-1'"),
                             (["--guard-band", "voltage_mv=-5"], "must be zero or more"),
                             (["--repeats", "0"], "--repeats"),
                             (["--frequencies", "fast"], "'fast' is not a frequency"),
                             (["--margins", "/nonexistent/dir/m.json"], "/nonexistent/dir/m.json: No such file")):
            r = stresslog(*base, *args)
            self.assertEqual(r.returncode, 2, f"{args}: {r.stderr}")
            self.assertIn(needle, r.stderr)
            self.assertEqual(self.state(), before, args)
            for f in ("m.json", "raw.jsonl", "j"):
                self.assertFalse(os.path.exists(self.out(f)), (args, f))

    def test_this_host_says_why_not(self):
        if os.path.exists("/sys/class/uniserver-opp") or os.path.exists("/sys/devices/system/cpu/cpu0/cpufreq"):
            self.skipTest("this host has operating points or cpufreq: there is something to characterise")
        r = stresslog("--dry-run", "--workload", "none")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("nothing to characterise on uniserver:///system: no voltage or refresh control", r.stderr)
        self.assertIn("no cpufreq", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
