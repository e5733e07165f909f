#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Section 2's metrics of interest end to end (docs/node-metrics.md): uniserverd's availability
survives its restart and counts the time it was stopped and a reboot (a fixture tree whose boot id
changes) as downtime, from the last sample before; the energy of the last day survives a restart
(the test driver's simulated power); a real QEMU guest's dom.availability_pct falls when it is
paused and rises when it runs again; bad windows and unknown VMs are clear errors. The bounds are
the ledger's promise: downtime from the last sample before a stop to the first after."""
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import Uniserverd, wait_for  # noqa: E402

SRC = os.environ["SRCDIR"]
BUILD = os.environ["BUILDDIR"]
UNISH = os.path.join(BUILD, "bin", "unish")
INTERVAL_MS = 100


def unish(uri, *args, check=True):
    p = subprocess.run([UNISH, "-c", uri, *args], capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"unish {' '.join(args)}: exit {p.returncode}: {p.stderr}")
    return p


def health(d):
    return json.loads(unish(d.uri(True), "--json", "health", "--window", "0").stdout)


def ledger(state):
    """The ledger file's spans and fields (its format: docs/node-metrics.md)."""
    spans, fields = [], {}
    with open(os.path.join(state, "ledger")) as f:
        text = f.read()
    for line in text.splitlines():
        k, _, v = line.strip().partition(" ")
        if k == "span":
            a, b = v.split()
            spans.append((int(a), int(b)))
        elif v:
            fields[k] = v
    return spans, fields


def now_ms():
    return time.time() * 1000


def daemon(uri, state, *extra):
    return Uniserverd(uri, "--interval", str(INTERVAL_MS), "--state-dir", state, "--set", "ledger_sync_ms=0", *extra,
                      settle_s=0.5)


class NodeAvailability(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="uni-nodemetrics-")
        self.tree = os.path.join(self.tmp, "bare")
        shutil.copytree(os.path.join(SRC, "tests", "fixtures", "bare"), self.tree, symlinks=True)
        self.boot_id = os.path.join(self.tree, "proc", "sys", "kernel", "random", "boot_id")
        os.makedirs(os.path.dirname(self.boot_id))
        self.set_boot("11111111-1111-4111-8111-111111111111")
        self.state = os.path.join(self.tmp, "state")
        self.uri = f"uniserver:///system?procfs={self.tree}/proc&sysfs={self.tree}/sys"

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def set_boot(self, bid):
        with open(self.boot_id, "w") as f:
            f.write(bid + "\n")

    def test_restart_and_reboot_are_downtime(self):
        d = daemon(self.uri, self.state)
        h = wait_for(lambda: (lambda h: h if "host.availability.1h_pct" in h else None)(health(d)), "availability")
        self.assertEqual(h["host.availability.1h_pct"], 100)
        self.assertEqual(h["host.availability.30d_pct"], 100)
        # The bare host has no power sensor: no energy, and the reason says so.
        self.assertIn("no power source", h["absent"]["host.energy.24h_kwh"])
        # In process the ledger's metrics are absent, saying where they are.
        local = json.loads(unish(self.uri, "--json", "health", "--window", "0").stdout)
        self.assertIn("uniserverd", local["absent"]["host.availability.1h_pct"])
        t_stop = now_ms()
        rc, log = d.stop()
        self.assertEqual(rc, 0, log)
        t_stopped = now_ms()
        spans1, f1 = ledger(self.state)
        self.assertEqual(len(spans1), 1)
        # The last sample before the stop is at most an interval (and a sample) before it.
        self.assertLessEqual(t_stop - spans1[0][1], INTERVAL_MS + 500)
        # Down for a while, and the host reboots meanwhile: a new boot id.
        time.sleep(1.5)
        self.set_boot("22222222-2222-4222-8222-222222222222")
        t_start = now_ms()
        d = daemon(self.uri, self.state)
        t_up = now_ms()  # its first sample was before it served
        try:
            wait_for(lambda: len(ledger(self.state)[0]) == 2, "the second run's span")
            spans, f = ledger(self.state)
            down = spans[1][0] - spans[0][1]
            # Downtime from the last sample before the stop to the first sample after the start.
            self.assertGreaterEqual(down, t_start - t_stopped)
            self.assertLessEqual(down, t_up - t_stop + INTERVAL_MS + 500)
            self.assertEqual(f["reboots"], "1")
            self.assertEqual(f["boot_id"], "22222222-2222-4222-8222-222222222222")
            self.assertEqual(int(f["since_ms"]), spans1[0][0])
            time.sleep(0.5)
            h = health(d)
            spans, _ = ledger(self.state)
            # What the view says is the ledger's arithmetic: served / covered, at one sample
            # (the view and the file can be a sample apart: one interval of the covered time).
            up = sum(b - a for a, b in spans)
            covered = spans[-1][1] - spans[0][0]
            want = 100 * up / covered
            self.assertLess(h["host.availability.1h_pct"], 100)
            self.assertAlmostEqual(h["host.availability.1h_pct"], want, delta=100 * INTERVAL_MS / covered + 0.01)
            self.assertAlmostEqual(h["host.availability.24h_pct"], h["host.availability.1h_pct"], delta=1e-9)
            # A reboot while uniserverd runs (its source is another host's tree, as a remote
            # source would be): down from the sample before the new boot id to the first with it.
            n = len(spans)
            self.set_boot("33333333-3333-4333-8333-333333333333")
            wait_for(lambda: len(ledger(self.state)[0]) == n + 1, "the span after the reboot")
            spans, f = ledger(self.state)
            self.assertEqual(f["reboots"], "2")
            gap = spans[-1][0] - spans[-2][1]
            self.assertGreater(gap, 0)
            self.assertLessEqual(gap, INTERVAL_MS + 1000)
        finally:
            rc, log = d.stop()
        self.assertEqual(rc, 0, log)
        self.assertIn("the source rebooted", log)

    def test_bad_state_dir_is_absent_with_reason(self):
        # A ledger that cannot be kept: the daemon serves, the metrics say why they are absent.
        blocker = os.path.join(self.tmp, "file")
        open(blocker, "w").close()
        d = daemon(self.uri, os.path.join(blocker, "sub"))
        try:
            h = health(d)
            self.assertIn("cannot be opened", h["absent"]["host.availability.1h_pct"])
            self.assertEqual(h["host.mem.util_pct"], h["host.mem.util_pct"])  # present: served
        finally:
            d.stop()
        # Two daemons on one state directory: the second's ledger metrics say whose it is.
        a = daemon(self.uri, self.state)
        b = daemon(self.uri, self.state)
        try:
            h = health(b)
            self.assertIn("another uniserverd", h["absent"]["host.availability.1h_pct"])
            self.assertIn("host.availability.1h_pct", health(a))
        finally:
            b.stop()
            a.stop()


class Energy(unittest.TestCase):
    def test_day_energy_survives_restart(self):
        tmp = tempfile.mkdtemp(prefix="uni-energy-")
        try:
            d = daemon("test:///default", tmp)
            e1 = wait_for(lambda: health(d).get("host.energy.24h_kwh"), "energy")
            self.assertGreater(e1, 0)
            d.stop()
            kwh = float(ledger(tmp)[1]["kwh"])
            self.assertGreaterEqual(kwh, e1)
            d = daemon("test:///default", tmp)
            try:
                # Kept across the restart: the first samples of the new run report at least it.
                e2 = health(d)["host.energy.24h_kwh"]
                self.assertGreaterEqual(e2, kwh - 1e-12)
                e3 = wait_for(lambda: (lambda e: e if e > e2 else None)(health(d)["host.energy.24h_kwh"]), "energy grows")
                self.assertGreater(e3, e2)
                self.assertLessEqual(health(d)["host.energy.1h_kwh"], health(d)["host.energy.24h_kwh"] + 1e-12)
            finally:
                d.stop()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class BadInput(unittest.TestCase):
    def test_windows_and_unknown_vm(self):
        for w in ("0", "-5", "abc", "2592001"):
            p = unish(f"test:///default?vm_availability_window_s={w}", "list", check=False)
            # The test driver takes no such parameter; the local driver names the window.
            self.assertEqual(p.returncode, 1)
            p = unish(f"uniserver:///system?vm_availability_window_s={w}", "list", check=False)
            self.assertEqual(p.returncode, 1, w)
            self.assertIn("vm_availability_window_s takes a window in seconds from 1 to 2592000", p.stderr)
            self.assertIn(f"not '{w}'", p.stderr)
        p = unish("uniserver:///system?vm_availability_window_s=60", "list")
        p = unish("test:///default", "domstats", "no-such-vm", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no-such-vm", p.stderr)


def load_vm_test():
    spec = importlib.util.spec_from_file_location("vm_test", os.path.join(SRC, "tests", "vm-test.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class VMAvailability(unittest.TestCase):
    def test_paused_guest_fails_its_probes(self):
        vt = load_vm_test()
        if not os.path.exists("/dev/kvm") or not vt.QEMU or not os.path.exists(vt.GUEST):
            self.skipTest("no /dev/kvm, QEMU or the tiny guest")
        tmp = tempfile.mkdtemp(prefix="uni-vmavail-")
        g = vt.Guest(tmp, f"{vt.TAG}-avail", 1, "mb=1 spin=0 io=0 mmio=0 halt=1 hz=10 report=0",
                     ["-name", "guest=@NAME@,debug-threads=on", "-qmp", "unix:@QMP@,server=on,wait=off"])
        d = None
        try:
            g.start()
            g.wait_ready(time.time() + 20)
            # A 2 s window: the share is of the probes of the last 2 s, one each interval.
            d = Uniserverd("uniserver:///system?libvirt=&vm_availability_window_s=2", "--interval", str(INTERVAL_MS),
                           "--state-dir", tmp, "--metrics-listen", "off", settle_s=0.3)

            def avail():
                p = unish(d.uri(True), "--json", "domstats", g.name, "--record", "--select",
                          "dom.availability_pct,dom.state", check=False)
                return json.loads(p.stdout)[g.name] if p.returncode == 0 else None

            r = wait_for(lambda: (lambda r: r if r and "dom.availability_pct" in r else None)(avail()), "a probe")
            self.assertEqual(r["dom.state"], "running")
            self.assertEqual(r["dom.availability_pct"], 100)
            # Paused through QMP (query-status "paused"): every probe from now fails.
            qmp(g.qmp, "stop")
            time.sleep(1.0)
            r = avail()
            self.assertEqual(r["dom.state"], "paused")
            self.assertGreater(r["dom.availability_pct"], 0)
            self.assertLess(r["dom.availability_pct"], 100)
            # Past the window, none of its probes answered.
            wait_for(lambda: avail()["dom.availability_pct"] == 0, "0 % after a paused window", timeout=2 + 3)
            # A stopped QEMU process (SIGSTOP): its monitor cannot answer; still down.
            os.kill(g.pid, signal.SIGCONT)
            qmp(g.qmp, "cont")
            wait_for(lambda: avail()["dom.availability_pct"] == 100, "100 % after a running window", timeout=2 + 3)
            os.kill(g.pid, signal.SIGSTOP)
            try:
                wait_for(lambda: avail()["dom.availability_pct"] < 100, "a stopped process fails", timeout=3)
            finally:
                os.kill(g.pid, signal.SIGCONT)
            # An unknown VM through the daemon: a clear error.
            p = unish(d.uri(True), "domstats", f"{vt.TAG}-nosuch", check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("NO_DOMAIN", p.stderr)
        finally:
            if d:
                d.stop()
            g.stop()
            shutil.rmtree(tmp, ignore_errors=True)


def qmp(path, command):
    import socket
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    f = s.makefile("rw")
    f.readline()  # the greeting
    for c in ("qmp_capabilities", command):
        f.write(json.dumps({"execute": c}) + "\n")
        f.flush()
        while True:
            reply = json.loads(f.readline())
            if "return" in reply or "error" in reply:
                break
        if "error" in reply:
            raise AssertionError(f"QMP {c}: {reply['error']}")
    s.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
