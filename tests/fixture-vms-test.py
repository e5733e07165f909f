#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""VMs found in a fixture tree (tests/fixtures/kvm-host): QEMU processes and their threads read
from a fake /proc, so that discovery and the /proc-based VM metrics are tested anywhere, KVM or
not. fix-a has libvirt's -name guest=NAME,debug-threads=on, a UUID, two named vCPU threads, a
thread whose name holds ") (", and a tap NIC; qemu-5151 has no name, no UUID, unnamed threads and
is stopped; 6000 is a shell and 6001 is named like QEMU but its executable is not."""
import json
import os
import subprocess
import unittest

SRC = os.environ["SRCDIR"]
UNISH = os.path.join(os.environ["BUILDDIR"], "bin", "unish")
FIX = os.path.join(SRC, "tests", "fixtures", "kvm-host")
URI = f"uniserver:///system?procfs={FIX}/proc&sysfs={FIX}/sys"
MEMTOTAL_MB = 24684092 / 1024


def unish_json(*args):
    p = subprocess.run([UNISH, "-c", URI, "--json", *args], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(p.stderr)
    return json.loads(p.stdout)


class FixtureVMs(unittest.TestCase):
    def test_list(self):
        self.assertEqual(unish_json("list", "--all"),
                         [{"name": "fix-a", "uuid": "11111111-2222-3333-4444-555555555555", "pid": 4242,
                           "state": "running", "source": "process"},
                          {"name": "qemu-5151", "uuid": None, "pid": 5151, "state": "paused", "source": "process"}])

    def test_records(self):
        j = unish_json("domstats", "--all")
        a, b = j["fix-a"], j["qemu-5151"]
        # USER_HZ 100: ticks x 10 = ms. Interruption = utime + stime - guest_time (spec Table 3).
        self.assertEqual(a["dom.cpu.time_ms"], (1000 + 200) * 10)
        self.assertEqual(a["dom.interrupt_ms"], (1000 + 200 - 800) * 10)
        self.assertEqual(a["dom.mem_mb"], 32768 * os.sysconf("SC_PAGE_SIZE") / 2**20)
        self.assertAlmostEqual(a["dom.mem_pct"], 100 * a["dom.mem_mb"] / MEMTOTAL_MB, places=9)
        self.assertEqual(a["dom.mem.resident_mb"], 128)
        self.assertEqual(a["dom.cpu.count"], 2)
        self.assertEqual((a["dom.vcpu.0.tid"], a["dom.vcpu.0.time_ms"], a["dom.vcpu.0.cpu"]), (4245, 5200, 1))
        self.assertEqual((a["dom.vcpu.1.tid"], a["dom.vcpu.1.time_ms"], a["dom.vcpu.1.cpu"]), (4246, 4100, 0))
        # Run-queue wait: schedstat's run_delay (ns) as ms; vCPU 1's reads 0 0 0 though it ran
        # (sched_info off): absent with the reason, not a made-up 0.
        self.assertEqual(a["dom.vcpu.0.wait_ms"], 1234)
        self.assertNotIn("dom.vcpu.1.wait_ms", a)
        self.assertIn("1 of 2 vCPUs: schedstat reads 0 0 0", a["absent"]["dom.vcpu.V.wait_ms"])
        # The tap's counters from the guest's side: the host's transmit is the guest's receive.
        self.assertEqual((a["dom.net.0.name"], a["dom.net.0.mac"]), ("tapfixa", "52:54:00:aa:00:01"))
        self.assertEqual((a["dom.net.0.rx_bytes"], a["dom.net.0.tx_bytes"]), (2000000, 500000))
        self.assertEqual((a["dom.net.0.rx_packets"], a["dom.net.0.tx_packets"]), (1500, 400))
        self.assertIn("first sample", a["absent"]["dom.net.I.rx_bytes_rate"])
        self.assertEqual((a["dom.state"], a["dom.stale"]), ("running", 0))
        # Live sources are this host's only: absent with the reason on a fixture tree.
        for k in ("dom.swap_wait_ms", "dom.perf.cycles", "dom.kvm.NAME", "dom.vcpu.V.pinning"):
            self.assertIn("this host", a["absent"][k], k)
        # No -uuid, no -name, unnamed threads, stopped.
        self.assertIn("without -uuid", b["absent"]["dom.uuid"])
        self.assertEqual(b["dom.cpu.count"], 4)  # -smp cpus=4,maxcpus=8
        self.assertIn("not named", b["absent"]["dom.vcpu.V.time_ms"])
        self.assertIn("not named", b["absent"]["dom.vcpu.V.wait_ms"])
        self.assertEqual((b["dom.state"], b["dom.stale"]), ("paused", 1))
        self.assertEqual(b["dom.interrupt_ms"], (3000 + 1000 - 2500) * 10)
        self.assertIn("no network interface", b["absent"]["dom.net.I.name"])

    def test_views(self):
        v = unish_json("domstats", "fix-a")
        self.assertEqual([k for k in v if k not in ("window_ms", "absent")], ["dom.mem_pct", "dom.mem_mb", "dom.interrupt_ms"])
        self.assertEqual(unish_json("domstats", "11111111-2222-3333-4444-555555555555")["dom.mem_mb"], v["dom.mem_mb"])
        h = unish_json("domsstats")
        self.assertEqual((h["host.vms.count"], h["host.vms.active"]), (2, 2))
        self.assertEqual(h["host.vms.mem_mb"], v["dom.mem_mb"] + 65536 * os.sysconf("SC_PAGE_SIZE") / 2**20)
        self.assertIn("this host", h["absent"]["host.vms.swap_wait_ms"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
