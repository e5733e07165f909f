#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""uni-allocd end to end on uni-simboard (manual clock) with uni-healthd recording its errors and
simulated VMs (sim/vms) that the local driver finds as QEMU processes and pins through their
cgroups: --dry-run changes nothing (the board's tree and the VMs' affinities compared before and
after); --once places every VM as planned (high-class on a nominal domain, low-class on an
extended one, idle domains at their lowest frequency; dom.vcpu.V.pinning and unish allocation
show it); the running daemon answers an injected uncorrected error on an extended domain with
that domain back to nominal, and a burst of corrected errors under a high-class VM with the VM
moved off, within seconds, and a VM started, a class changed and a VM stopped too; a VM's
demand (vCPU time + run-queue wait) rising beyond its PMD's cores moves a VM off, and one within
the hysteresis band moves nothing; killed with SIGKILL in the middle of a plan it converges on restart;
bad options are refused and change nothing. The margins file is written by the test from the
board's truth (as uni-stresslog would find it: tests/stresslog-test.py proves that part). Needs
/dev/fuse and root; SKIPs otherwise."""
import importlib.util
import fcntl
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

import testlib

BUILD = os.environ["BUILDDIR"]
SRC = os.path.dirname(os.path.abspath(__file__))
ALLOCD = os.path.join(BUILD, "bin", "uni-allocd")
UNISH = os.path.join(BUILD, "bin", "unish")

# The board helper of the StressLog's test: uni-simboard --manual-clock and uni-healthd on it.
_spec = importlib.util.spec_from_file_location("stresslog_test", os.path.join(SRC, "stresslog-test.py"))
stresslog_test = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stresslog_test)


def margins_file(board, path, offsets=None):
    """A margins file as uni-stresslog writes it: each PMD's safe voltage at 2.4 GHz 10 mV above
    its truth (or @offsets[pmd] mV: bench/allocd-evaluate's measurement errors), rounded up to the
    5 mV grid, each channel's safe refresh at half its retention."""
    truth = board.truth()
    ms = []
    for p in range(4):
        # The truth's vmin is at the PMD's frequency now: ask for it at 2400 MHz.
        v = board.vmin(p, 2400)
        safe = int(-(-(v + (offsets[p] if offsets else 10)) // 5) * 5)
        ms.append({"domain": f"pmd{p}", "kind": "cpu", "cores": [2 * p, 2 * p + 1], "dimms": [],
                   "param": "voltage_mv", "unit": "mV", "nominal": 980, "limit": 800, "direction": "down",
                   "status": "failure", "partial": False, "last_clean": safe - 5, "safe": safe, "guard_band": 5,
                   "first_failure": {"value": safe - 10, "verdict": "ce"},
                   "conditions": {"frequency_mhz": 2400, "workload": "simboard", "load_pct": 100, "dwell_s": 30,
                                  "repeats": 3, "ce_threshold": 0},
                   "evidence": [], "measured": "2026-12-07T02:45:10Z"})
    for c in range(4):
        r = int(truth[f"mc{c}"]["retention_ms"] / 2)
        ms.append({"domain": f"mc{c}", "kind": "memory", "cores": [], "dimms": [f"DIMM{c}A", f"DIMM{c}B"],
                   "param": "refresh_ms", "unit": "ms", "nominal": 64, "limit": 4096, "direction": "up",
                   "status": "failure", "partial": False, "last_clean": r, "safe": r, "guard_band": 0,
                   "first_failure": {"value": r * 2, "verdict": "ce"},
                   "conditions": {"frequency_mhz": None, "workload": "simboard", "load_pct": 100, "dwell_s": 400, "repeats": 1,
                                  "ce_threshold": 0},
                   "evidence": [], "measured": "2026-12-07T02:45:10Z"})
    doc = {"schema": "uniserver-margins", "version": 1, "generated": "2026-12-07T03:00:00Z",
           "run_started": "2026-12-07T02:40:00Z", "log": "/dev/null", "uri": "uniserver:///system",
           "complete": True, "margins": ms}
    with open(path, "w") as f:
        json.dump(doc, f)


class AllocdBoard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        why = stresslog_test.board_why_not()
        if why:
            raise unittest.SkipTest(why)
        cls.tmp = tempfile.mkdtemp(prefix="allocd-test-")

    def setUp(self):
        self.board = stresslog_test.Board(7, self.tmp + f"/{self._testMethodName}")
        self.addCleanup(self.board.close)
        d = os.path.dirname(self.board.mnt)
        self.state = os.path.join(d, "allocation.json")
        self.journal = os.path.join(d, "allocd.journal")
        self.margins = os.path.join(d, "margins.json")
        margins_file(self.board, self.margins)
        self.board.write("sim/load", "0")
        for vm in ("add web1 high 2 40", "add app1 normal 2 50", "add batch1 low 2 80"):
            self.board.write("sim/vms", vm)
        self.uri = (self.board.uri + f"&reliability_state={d}/reliability.state&margins={self.margins}")
        for name, cls in (("web1", "high"), ("app1", "normal"), ("batch1", "low")):
            self.unish("setreliability", name, cls)

    def unish(self, *args, check=True):
        r = subprocess.run([UNISH, "-c", self.uri, *args], capture_output=True, text=True, timeout=60)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def allocd(self, *args, check=True):
        r = subprocess.run([ALLOCD, "-c", self.uri, "--state", self.state, "--journal", self.journal, *args],
                           capture_output=True, text=True, timeout=120)
        if check:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def snapshot(self):
        """Every setting of the board a tool can change: operating points, cpufreq, the VMs'
        cpusets and their threads' affinities."""
        out = {}
        m = self.board.mnt
        for base in ("sys/class/uniserver-opp", "sys/devices/system/cpu/cpufreq", "sys/fs/cgroup"):
            for root, dirs, files in os.walk(os.path.join(m, base)):
                for f in files:
                    p = os.path.join(root, f)
                    if f.endswith("cur_freq"):
                        continue
                    with open(p) as fh:
                        out[os.path.relpath(p, m)] = fh.read()
        for pid in os.listdir(os.path.join(m, "proc")):
            if pid.isdigit():
                for tid in os.listdir(os.path.join(m, "proc", pid, "task")):
                    st = self.board.read(f"proc/{pid}/task/{tid}/status")
                    out[f"proc/{pid}/task/{tid}"] = re.search(r"Cpus_allowed_list:\s*(\S+)", st).group(1)
        return out

    def vms(self):
        """sim/vms as {name: {cpus, pmd_ce, ...}} (the truth)."""
        out = {}
        for line in self.board.read("sim/vms").splitlines():
            w = line.split()
            out[w[1]] = dict(zip(w[2::2], w[3::2]))
        return out

    def pmds_of(self, cpus):
        cores = set()
        for part in cpus.split(","):
            a, _, b = part.partition("-")
            cores.update(range(int(a), int(b or a) + 1))
        return {c // 2 for c in cores}

    def opp(self, dom, param):
        return int(self.board.read(f"sys/class/uniserver-opp/{dom}/{param}"))

    def test_dry_run_changes_nothing(self):
        before = self.snapshot()
        r = self.allocd("--dry-run")
        self.assertEqual(self.snapshot(), before)
        self.assertFalse(os.path.exists(self.state))
        self.assertFalse(os.path.exists(self.journal))
        # The plan is printed with a reason per VM and per action.
        for vm in ("web1", "app1", "batch1"):
            self.assertRegex(r.stdout, rf"{vm}\s+\S+\s+2 vCPUs\s+demand (\?|\d+\.\d\d)\s+pmd\d\s+placed on pmd\d")
        acts = re.findall(r"^  \d+\. (.*)$", r.stdout, re.M)
        self.assertGreaterEqual(len(acts), 3)
        for a in acts:
            self.assertRegex(a, r": \S.{10,}")

    def test_places_as_planned(self):
        r = self.allocd("--once")
        self.assertIn("pin web1", r.stdout)
        vms = self.vms()
        pmd = {}
        for name in ("web1", "app1", "batch1"):
            pmds = self.pmds_of(vms[name]["cpus"])
            self.assertEqual(len(pmds), 1, f"{name} spread over {pmds}")
            pmd[name] = pmds.pop()
        self.assertEqual(len(set(pmd.values())), 3, pmd)
        # High: nominal; normal: safe + 15; low: safe + 5; idle: 300 MHz.
        with open(self.margins) as f:
            safe = {m["domain"]: m["safe"] for m in json.load(f)["margins"]}
        self.assertEqual(self.opp(f"pmd{pmd['web1']}", "voltage_mv"), 980)
        self.assertEqual(self.opp(f"pmd{pmd['app1']}", "voltage_mv"), safe[f"pmd{pmd['app1']}"] + 15)
        self.assertEqual(self.opp(f"pmd{pmd['batch1']}", "voltage_mv"), safe[f"pmd{pmd['batch1']}"] + 5)
        idle = ({0, 1, 2, 3} - set(pmd.values())).pop()
        self.assertEqual(int(self.board.read(f"sys/devices/system/cpu/cpufreq/policy{2 * idle}/scaling_cur_freq")),
                         300000)
        # A high-class VM on the node: DRAM refresh stays at 64 ms.
        for c in range(4):
            self.assertEqual(self.opp(f"mc{c}", "refresh_ms"), 64)
        # The record shows the pinning; unish allocation shows the plan and why.
        text = self.unish("domstats", "web1", "--record", "--select", "dom.vcpu").stdout
        cores = f"{2 * pmd['web1']}-{2 * pmd['web1'] + 1}"
        self.assertRegex(text, rf"dom\.vcpu\.0\.pinning\s+{cores}\b")
        self.assertRegex(text, rf"dom\.vcpu\.1\.pinning\s+{cores}\b")
        a = self.unish("allocation", "--state", self.state).stdout
        self.assertRegex(a, rf"web1\s+high\s+2\s+(\?|\d+\.\d\d)\s+pmd{pmd['web1']}\s+placed on")
        self.assertRegex(a, rf"pmd{pmd['web1']}\s+nominal\s+980\s+2400\s+\S+\s+nominal: a high-class VM runs here")
        # A second round changes nothing: the plan is stable (hysteresis).
        r = self.allocd("--once")
        self.assertNotIn("uni-allocd: ", r.stdout)

    def start_daemon(self, *extra):
        log = open(os.path.join(os.path.dirname(self.state), "allocd.log"), "w")
        p = subprocess.Popen([ALLOCD, "-c", self.uri, "--state", self.state, "--journal", self.journal,
                              "--interval", "0.5", "--ce-burst", "5", *extra], stdout=log, stderr=log, text=True)

        def stop():
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            log.close()
        self.addCleanup(stop)
        return p, log.name

    def wait_for(self, what, cond, timeout):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            v = cond()
            if v:
                return time.monotonic() - t0
            time.sleep(0.1)
        self.fail(f"{what}: not within {timeout} s")

    def control_events(self):
        """The HealthLog's control actions (the board's uni-healthd imported them from the spool)."""
        return testlib.healthlog_query(self.board.db, "SELECT action, message, reason, class, severity, counted, "
                                       "count FROM events WHERE source = 'control' ORDER BY id")

    def test_actions_are_healthlog_events(self):
        """Every change uni-allocd makes is an action event in the HealthLog with the plan step's
        reason (through the action spool beside it, which uni-healthd imports and removes)."""
        # setUp's three setreliability calls: control events too, with no reason.
        self.wait_for("setUp's three changes in the HealthLog", lambda: len(self.control_events()) >= 3, 10)
        before = self.control_events()
        self.assertEqual([(e[0], e[2]) for e in before], [("uniDomainSetReliability", None)] * 3, before)
        r = self.allocd("--once")
        steps = re.findall(r"(?m)^uni-allocd: (.*?): (\S.*)$", r.stdout)
        self.assertGreaterEqual(len(steps), 3, r.stdout)
        calls = {"pin": "uniDomainPinVcpu"}

        def every_step():
            rs = [e[2] for e in self.control_events()]
            return not os.path.exists(self.board.db + "-actions") and all(
                any(x and x.startswith(f"uni-allocd plan 1 step {k + 1}/") for x in rs) for k in range(len(steps)))

        got = self.wait_for("the plan's changes in the HealthLog", every_step, 10)
        print(f"{len(steps)} actions in the HealthLog {got:.1f} s after the plan", file=sys.stderr)
        evs = self.control_events()[len(before):]
        for k, (what, why) in enumerate(steps):
            mine = [e for e in evs if e[2] and re.match(rf"uni-allocd plan 1 step {k + 1}/\d+: ", e[2])]
            self.assertTrue(mine, f"step {k + 1} ({what}) has no event: {evs}")
            for e in mine:
                # The step's own reason, its own call, and an action that never counts as an error.
                self.assertTrue(e[2].endswith(why.replace("[fast path] ", "")), (e[2], why))
                self.assertEqual(e[0], calls.get(what.split()[0], "uniNodeSetOperatingPoint"), e)
                self.assertEqual(e[3:], ("action", "info", 0, None), e)
        # Every event belongs to a step; each pin names the VM it moved.
        self.assertEqual(len(evs), sum(1 for e in evs if e[2] and e[2].startswith("uni-allocd plan 1 step ")), evs)
        self.assertTrue(any(e[0] == "uniDomainPinVcpu" and "domain web1 vcpu" in e[1] for e in evs), evs)
        self.assertFalse(os.path.exists(self.board.db + "-actions"), "the spool was left behind")
        # The operator's view: unish shows them with their reasons.
        out = self.unish("healthlog", "--cpu", "--actions").stdout
        self.assertRegex(out, r"control .* uniDomainPinVcpu: domain web1 vcpu 0 .*\n    because: uni-allocd plan 1 step")
        print(out, file=sys.stderr)

    def test_concurrent_changes_none_lost(self):
        """Three writers change VMs' classes at once while uni-healthd imports the spool every
        10 ms: every change is one event, none lost, none doubled, each with its writer's reason
        (and the reliability state file keeps every writer's change: it is changed under a lock)."""
        self.wait_for("setUp's three changes in the HealthLog", lambda: len(self.control_events()) == 3, 10)
        # Each writer owns a VM and alternates it between the two classes it did not have: every
        # change is a write.
        plan = {"web1": ("normal", "low"), "app1": ("low", "high"), "batch1": ("high", "normal")}
        procs = []
        for w, (vm, classes) in enumerate(plan.items()):
            script = "; ".join(f"{UNISH} -c '{self.uri}' --reason 'writer {w} change {k}' setreliability {vm} "
                               f"{classes[k % 2]} >/dev/null" for k in range(12))
            procs.append(subprocess.Popen(["sh", "-ec", script]))
        for p in procs:
            self.assertEqual(p.wait(120), 0)
        self.wait_for("the spool imported", lambda: not os.path.exists(self.board.db + "-actions"), 10)
        time.sleep(0.2)
        reasons = [e[2] for e in self.control_events()[3:]]
        self.assertEqual(sorted(reasons), sorted(f"writer {w} change {k}" for w in range(3) for k in range(12)))
        for vm, classes in plan.items():
            self.assertEqual(self.unish("reliability", vm).stdout.split(), [classes[1]])

    def test_writer_never_appends_to_a_taken_spool(self):
        """A writer that opened the spool just before an import took it (renamed it under the
        lock) writes its line into a new spool, never into the taken file, which the import has
        read or is reading (it would be lost). Deterministic: the test plays the import."""
        self.board.healthd.terminate()  # no importer of its own
        self.board.healthd.wait(10)
        spool = self.board.db + "-actions"
        self.unish("setreliability", "web1", "low")  # the spool exists
        with open(spool, "a") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            w = subprocess.Popen([UNISH, "-c", self.uri, "--reason", "the late writer", "setreliability", "web1",
                                  "normal"], stdout=subprocess.DEVNULL)

            def waiting_on_spool():
                try:
                    fds = [os.readlink(f"/proc/{w.pid}/fd/{f}") for f in os.listdir(f"/proc/{w.pid}/fd")]
                except OSError:
                    return False
                return spool in fds
            self.wait_for("the writer holding the spool open", waiting_on_spool, 20)
            time.sleep(0.2)  # it waits for the lock
            os.rename(spool, spool + ".importing")
            # ... and another writer has started the next spool meanwhile.
            os.close(os.open(spool, os.O_WRONLY | os.O_CREAT, 0o600))
        self.assertEqual(w.wait(20), 0)
        with open(spool + ".importing") as f:
            self.assertNotIn("the late writer", f.read())
        with open(spool) as f:
            self.assertIn('"reason":"the late writer"', f.read())

    def test_writer_refuses_a_foreign_spool(self):
        """A spool file another user made (or one writable by others) gets no line: uni-healthd
        would not import it, and the line would be theirs to read or change. The change itself
        is made."""
        self.board.healthd.terminate()  # no importer: the file stays as the writer left it
        self.board.healthd.wait(10)
        spool = self.board.db + "-actions"
        for how in ("not ours", "writable by others"):
            if os.path.exists(spool):
                os.unlink(spool)
            os.close(os.open(spool, os.O_WRONLY | os.O_CREAT, 0o600))
            if how == "not ours":
                os.chown(spool, 65534, 65534)
            else:
                os.chmod(spool, 0o622)
            cls = "low" if how == "not ours" else "normal"
            self.unish("--reason", how, "setreliability", "web1", cls)
            self.assertEqual(os.path.getsize(spool), 0, how)
            self.assertEqual(self.unish("reliability", "web1").stdout.split(), [cls])

    def test_fast_path(self):
        self.allocd("--once")
        p, logname = self.start_daemon()
        vms = self.vms()
        low = self.pmds_of(vms["batch1"]["cpus"]).pop()
        high = self.pmds_of(vms["web1"]["cpus"]).pop()
        self.assertLess(self.opp(f"pmd{low}", "voltage_mv"), 980)
        time.sleep(1.5)  # the daemon's first rounds: its baseline of the error counts
        # An uncorrected error on the low VM's extended domain: back to nominal within seconds.
        self.board.write("sim/vms", f"inject pmd{low} ue 1")
        t = self.wait_for("the domain back to nominal", lambda: self.opp(f"pmd{low}", "voltage_mv") == 980, 10)
        print(f"pmd{low} back to nominal {t:.1f} s after an injected UE", file=sys.stderr)
        # A burst of corrected errors under the high-class VM: it moves off that domain.
        self.board.write("sim/vms", f"inject pmd{high} ce 20")
        t = self.wait_for("the high-class VM off the erring domain",
                          lambda: high not in self.pmds_of(self.vms()["web1"]["cpus"]), 10)
        print(f"web1 left pmd{high} {t:.1f} s after 20 injected CEs", file=sys.stderr)
        dest = self.pmds_of(self.vms()["web1"]["cpus"]).pop()
        self.assertEqual(self.opp(f"pmd{dest}", "voltage_mv"), 980)
        self.assertNotEqual(dest, low)  # the UE's domain is held at nominal, not of the lowest risk
        time.sleep(1)
        p.terminate()
        p.wait(10)
        with open(logname) as f:
            log = f.read()
        self.assertRegex(log, rf"\[fast path\] pmd{low} voltage_mv=980.*uncorrected")
        self.assertRegex(log, r"\[fast path\] pin web1 .*fault on its domain")
        # The high VM's truth: the injected burst hit it, nothing uncorrected did.
        self.assertGreaterEqual(int(self.vms()["web1"]["pmd_ce"]), 20)
        self.assertEqual(int(self.vms()["web1"]["pmd_ue"]), 0)

    def test_risk_rise_moves_high_class(self):
        """The predictor's risk, not the fast path: a few corrected errors on the high-class VM's
        domain (below --ce-burst) raise that domain's risk above the others'; the running daemon
        moves the VM to a domain of the lowest risk within seconds."""
        self.allocd("--once")
        p, logname = self.start_daemon("--ce-burst", "1000")
        high = self.pmds_of(self.vms()["web1"]["cpus"]).pop()
        time.sleep(1.5)  # the daemon's baseline of the error counts
        self.board.write("sim/vms", f"inject pmd{high} ce 3")
        t = self.wait_for("the high-class VM off the riskier domain",
                          lambda: high not in self.pmds_of(self.vms()["web1"]["cpus"]), 15)
        print(f"web1 left pmd{high} {t:.1f} s after 3 injected CEs (no burst)", file=sys.stderr)
        p.terminate()
        p.wait(10)
        with open(logname) as f:
            log = f.read()
        # Moved for the risk, not as a fault (the raise of its new domain before it is a safety step).
        self.assertNotIn("fault on its domain", log)
        self.assertRegex(log, rf"(?m)^uni-allocd: pin web1 .*moves pmd{high} -> pmd\d: a high-class VM needs a domain "
                              "of the lowest risk")

    def test_reacts_to_vm_and_class_changes(self):
        self.allocd("--once")
        p, logname = self.start_daemon()
        time.sleep(1)
        # A VM started: placed within seconds, a high-class one on a domain at nominal.
        self.board.write("sim/vms", "add web2 high 1 30")
        self.unish("setreliability", "web2", "high")

        def web2_placed():
            pmds = self.pmds_of(self.vms()["web2"]["cpus"])
            return len(pmds) == 1 and self.opp(f"pmd{min(pmds)}", "voltage_mv") == 980
        t = self.wait_for("the new high-class VM on a nominal domain", web2_placed, 10)
        print(f"web2 placed {t:.1f} s after it started", file=sys.stderr)
        # A class changed: the low-class VM made high runs at nominal within seconds.
        low = self.pmds_of(self.vms()["batch1"]["cpus"]).pop()
        self.assertLess(self.opp(f"pmd{low}", "voltage_mv"), 980)
        self.unish("setreliability", "batch1", "high")

        def batch1_nominal():
            pmds = self.pmds_of(self.vms()["batch1"]["cpus"])
            return len(pmds) == 1 and self.opp(f"pmd{min(pmds)}", "voltage_mv") == 980
        t = self.wait_for("batch1 at nominal after its class went high", batch1_nominal, 10)
        print(f"batch1 at nominal {t:.1f} s after its class went high", file=sys.stderr)
        # A VM stopped: its domain, now empty, goes to its lowest-power point (after the hysteresis).
        app = self.pmds_of(self.vms()["app1"]["cpus"]).pop()
        self.board.write("sim/vms", "del app1")
        pol = f"sys/devices/system/cpu/cpufreq/policy{2 * app}/scaling_cur_freq"
        if not any(app in self.pmds_of(v["cpus"]) for v in self.vms().values()):
            t = self.wait_for("the emptied domain idle", lambda: int(self.board.read(pol)) == 300000, 10)
            print(f"pmd{app} idle {t:.1f} s after its only VM stopped", file=sys.stderr)
        p.terminate()
        p.wait(10)
        self.assertEqual(p.returncode, 0)

    def load_round(self):
        """One round on the board's clock: the board runs 30 s (the VMs run, and their vCPUs' time
        and wait grow as the board's model gives them), then uni-allocd --once (its demand history
        is in the state file, as across the daemon's rounds). Its output."""
        self.board.write("sim/advance_ms", "30000")
        return self.allocd("--once", "--clock-file", os.path.join(self.board.mnt, "sim/time_ms")).stdout

    def load_setup(self):
        """A second normal-class VM (1 vCPU, 30 %) beside app1 (2 vCPUs, 50 %): once their demand is
        measured (two samples) they share one PMD (1.3 cores of 2, below the packing threshold
        0.70 x 2)."""
        self.board.write("sim/vms", "add app2 normal 1 30")
        self.unish("setreliability", "app2", "normal")
        for i in range(4):
            self.load_round()
            vms = self.vms()
            a, b = self.pmds_of(vms["app1"]["cpus"]), self.pmds_of(vms["app2"]["cpus"])
            if len(a) == 1 and a == b:
                return a.pop()
        self.fail(f"app1 and app2 not packed on one PMD in 4 rounds: {self.vms()}")

    def test_demand_rise_moves_vm(self):
        """app1's demand rises to 100 % (2 cores) beside app2 (0.3): the PMD is asked for 2.3 cores
        of 2 (their vCPUs wait: schedstat's run_delay on the board); uni-allocd moves one of them off
        within a few rounds, and the VMs then ask for no more than their cores give."""
        pmd = self.load_setup()
        self.board.write("sim/vms", "demand app1 100")
        out = ""
        for rounds in range(1, 4):
            out += self.load_round()
            vms = self.vms()
            if self.pmds_of(vms["app1"]["cpus"]) != self.pmds_of(vms["app2"]["cpus"]):
                break
        else:
            self.fail(f"no VM moved off pmd{pmd} in 3 rounds: {out}")
        print(f"a VM left pmd{pmd} {rounds} round(s) after app1's demand rose", file=sys.stderr)
        self.assertRegex(out, rf"pin app[12] .*moves pmd{pmd} -> pmd\d: its domain is overloaded \(its VMs ask for "
                              r"2\.[0-9]+ cores of 2\)")
        # Apart, the VMs wait no longer, and they stay apart while app1 asks for 2 cores.
        w0 = {n: float(v["wait_s"]) for n, v in self.vms().items()}
        where = {n: v["cpus"] for n, v in self.vms().items()}
        for _ in range(3):
            self.assertNotIn("pin ", self.load_round())
        for n, v in self.vms().items():
            self.assertLess(float(v["wait_s"]) - w0[n], 0.2, n)
        self.assertEqual({n: v["cpus"] for n, v in self.vms().items()}, where)

    def test_demand_in_band_nothing_moves(self):
        """app1's demand rises to 80 % (1.6 + 0.3 = 1.9 cores of 2): above --target-util (1.7), within
        the cores: the hysteresis band; over ten rounds nothing moves."""
        self.load_setup()
        where = {n: v["cpus"] for n, v in self.vms().items()}
        self.board.write("sim/vms", "demand app1 80")
        for _ in range(10):
            self.assertNotIn("pin ", self.load_round())
        self.assertEqual({n: v["cpus"] for n, v in self.vms().items()}, where)
        with open(self.state) as f:
            dem = {v["name"]: v["demand_cores"] for v in json.load(f)["vms"]}
        self.assertAlmostEqual(dem["app1"], 1.6, delta=0.02)
        self.assertAlmostEqual(dem["app2"], 0.3, delta=0.02)

    def journal_text(self):
        try:
            with open(self.journal) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def test_sigkill_mid_plan_converges(self):
        out = os.path.join(os.path.dirname(self.state), "allocd.out")
        with open(out, "w") as f:
            p = subprocess.Popen([ALLOCD, "-c", self.uri, "--state", self.state, "--journal", self.journal, "--once",
                                  "--step-delay", "400"], stdout=f, stderr=subprocess.STDOUT)
        try:
            # Kill it after its second action is done.
            self.wait_for("two actions done", lambda: self.journal_text().count('"done":true') >= 2, 30)
        finally:
            p.kill()
            p.wait()
            with open(out) as f:
                sys.stderr.write(f.read())
        lines = [json.loads(x) for x in self.journal_text().splitlines() if x.strip()]
        self.assertFalse(any("end" in x for x in lines), "the kill landed after the plan ended")
        total = lines[0]["actions"]
        self.assertGreater(total, 2)
        # Mid-plan nothing is unsafe: a high-class VM is never on a domain below nominal.
        web = self.pmds_of(self.vms()["web1"]["cpus"])
        if len(web) == 1:
            self.assertEqual(self.opp(f"pmd{web.pop()}", "voltage_mv"), 980)
        r = self.allocd("--once")
        self.assertRegex(r.stdout, rf"plan \d+ was cut after 2 of {total} actions")
        r = self.allocd("--once")
        self.assertNotIn("uni-allocd: ", r.stdout)  # converged: nothing left to do
        vms = self.vms()
        self.assertEqual(len({min(self.pmds_of(vms[n]["cpus"])) for n in ("web1", "app1", "batch1")}), 3)
        self.assertEqual(self.opp(f"pmd{self.pmds_of(vms['web1']['cpus']).pop()}", "voltage_mv"), 980)

    def test_through_uniserverd_read_only_refused(self):
        """Through uniserverd: on the read-only socket every action is refused and nothing changes
        (no pin, no operating point, no plan published); on the read-write socket the same round
        places every VM."""
        ud = testlib.Uniserverd(self.uri, "--interval", "200", "--metrics-listen", "off", "--log-level", "error",
                                tmp=os.path.dirname(self.state))
        self.addCleanup(ud.stop)
        before = self.snapshot()
        ro = ud.uri(ro=True)
        r = subprocess.run([ALLOCD, "-c", ro, "--state", self.state, "--journal", self.journal, "--once"],
                           capture_output=True, text=True, timeout=120)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("read-only", r.stdout + r.stderr)
        self.assertEqual(self.snapshot(), before)  # the VMs' cpusets and affinities, the operating points
        self.wait_for("setUp's three changes in the HealthLog", lambda: len(self.control_events()) >= 3, 10)
        nbefore = len(self.control_events())
        # The plan is published as stopped at its first action: never as the host's state.
        with open(self.state) as f:
            st = json.load(f)
        self.assertEqual((st["applied"], st["error"][:4]), (0, "pin "), st["error"])
        self.assertIn("read-only", st["error"])
        out = self.unish("allocation", "--state", self.state).stdout
        self.assertRegex(out, r"STOPPED after 0 of \d+ actions, the rest not applied: pin \S+ .*read-only")
        rw = ud.uri()
        r = subprocess.run([ALLOCD, "-c", rw, "--state", self.state, "--journal", self.journal, "--once"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("pin web1", r.stdout)
        self.assertNotEqual(self.snapshot(), before)
        with open(self.state) as f:
            st = json.load(f)
        self.assertEqual((st["applied"], st["error"]), (len(st["actions"]), None))
        self.assertNotIn("STOPPED", self.unish("allocation", "--state", self.state).stdout)
        # uniserverd made the changes: each is a HealthLog event under the client's identity, with
        # the reason the client sent (CONNECT_SET_AUDIT_REASON); the refused round left none.
        n = len(st["actions"])
        self.wait_for("the rw round's changes in the HealthLog", lambda: any(
            (e[2] or "").startswith(f"uni-allocd plan {st['plan_seq']} step {n}/{n}:") for e in self.control_events()), 10)
        evs = self.control_events()[nbefore:]
        self.assertTrue(evs)
        for e in evs:
            self.assertRegex(e[2] or "", rf"^uni-allocd plan {st['plan_seq']} step \d+/{n}: \S", e)
            self.assertNotIn("(in-process)", e[1])
            self.assertRegex(e[1], r" by rw pid \d+ uid 0$")

    def test_bad_options_change_nothing(self):
        before = self.snapshot()
        for args, msg in ((["--interval", "0"], "--interval"), (["--guard-low", "20"], "above --guard-normal"),
                          (["--ce-burst", "x"], "--ce-burst"), (["extra"], "unexpected argument")):
            r = self.allocd(*args, check=False)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(msg, r.stderr)
        r = subprocess.run([ALLOCD, "-c", "nosuch:///x", "--once"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        # A clock file that holds no time: the round is refused, nothing applied.
        r = self.allocd("--once", "--clock-file", os.path.join(self.board.mnt, "sim/seed") + ".nosuch", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("clock file", r.stderr)
        self.assertEqual(self.snapshot(), before)
        self.assertFalse(os.path.exists(self.state))
        r = self.unish("allocation", "--state", self.state, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no plan", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
