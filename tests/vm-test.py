#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Real VMs: the suite boots its own tiny guests under KVM (tests/guest/, QEMU -M microvm) and
checks what uniserver says of them against what the kernel and QEMU say:

  idle  1 vCPU, -name guest=NAME,debug-threads=on, -qmp unix:PATH, halts at 10 Hz
  busy  2 vCPUs, -name NAME,debug-threads=on, -qmp-pretty, computes and writes MMIO
  mixed 4 vCPUs, no thread names, -chardev socket + -mon mode=control, MMIO at 50 Hz, a disk,
        and a tap NIC when /dev/net/tun exists

Discovery (names, UUIDs, vCPU threads), KVM counters that exist and move, CPU time of the busy
guest against the idle one, memory against /proc, the spec's interruption time, disks and NICs,
the deadline (a SIGSTOPped QEMU and a QMP monitor held by another client are stale, the others
complete), host rows, kvmstat, the binary fast path, swap wait and perf reasons. The guests are
torn down even when a test fails. Without /dev/kvm or QEMU: SKIP."""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # testlib

BUILD = os.environ["BUILDDIR"]
UNISH = os.path.join(BUILD, "bin", "unish")
GUEST = os.path.join(BUILD, "tests", "guest", "tinyguest.elf")
QEMU = shutil.which("qemu-system-x86_64")
TAG = f"ut{os.getpid()}"


def rd(path, errors=None):
    with open(path, errors=errors) as f:
        return f.read()


def wr(path, text):
    with open(path, "w") as f:
        f.write(text)


def lines(path):
    return rd(path).splitlines()


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def unish(*args, uri="uniserver:///system", check=True, timeout=60):
    p = subprocess.run([UNISH, "-c", uri, *args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"unish {' '.join(args)}: exit {p.returncode}: {p.stderr}")
    return p


def unish_json(*args, uri="uniserver:///system"):
    return json.loads(unish("--json", *args, uri=uri).stdout)


class Guest:
    def __init__(self, tmp, name, vcpus, append, extra, mb=64):
        self.name, self.vcpus, self.uuid = name, vcpus, str(uuid.uuid4())
        self.serial = os.path.join(tmp, name + ".serial")
        self.pidfile = os.path.join(tmp, name + ".pid")
        self.qmp = os.path.join(tmp, name + ".qmp")
        self.cmd = [QEMU, "-accel", "kvm", "-M", "microvm", "-m", str(mb), "-smp", str(vcpus), "-nodefaults",
                    "-no-user-config", "-display", "none", "-uuid", self.uuid.upper() if vcpus == 4 else self.uuid,
                    "-chardev", f"file,id=ser0,path={self.serial}", "-serial", "chardev:ser0", "-kernel", GUEST,
                    "-append", append, "-no-reboot", "-daemonize", "-pidfile", self.pidfile] + [
                        a.replace("@QMP@", self.qmp).replace("@NAME@", name) for a in extra]
        self.pid = None

    def start(self):
        p = subprocess.run(self.cmd, capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise RuntimeError(f"qemu for {self.name}: {p.stderr.strip()}")
        self.pid = int(rd(self.pidfile))

    def wait_ready(self, deadline):
        while time.time() < deadline:
            if os.path.exists(self.serial) and "GUEST-READY" in rd(self.serial, errors="replace"):
                return
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} did not print GUEST-READY: {rd(self.serial, errors='replace')[-300:]}")

    def stop(self):
        if self.pid:
            for sig in (signal.SIGCONT, signal.SIGKILL):
                try:
                    os.kill(self.pid, sig)
                except ProcessLookupError:
                    pass
            self.pid = None


GUESTS = {}
TMP = None
TAP = None


def teardown():
    for g in GUESTS.values():
        g.stop()
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def boot():
    global TMP, TAP
    TMP = tempfile.mkdtemp(prefix="uniserver-vm-")
    atexit.register(teardown)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, lambda *_: sys.exit(1))
    disk = os.path.join(TMP, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(8 << 20)
    mixed_extra = ["-chardev", "socket,id=mon0,path=@QMP@,server=on,wait=off", "-mon", "chardev=mon0,mode=control",
                   "-name", "@NAME@", "-drive", f"file={disk},if=none,id=drive0,format=raw",
                   "-device", "virtio-blk-device,drive=drive0"]
    if os.path.exists("/dev/net/tun"):
        TAP = f"uni{os.getpid() % 100000}"
        mixed_extra += ["-netdev", f"tap,id=n0,ifname={TAP},script=no,downscript=no",
                        "-device", "virtio-net-device,netdev=n0,mac=52:54:00:12:34:56"]
    specs = [
        ("idle", 1, "mb=1 spin=0 io=0 mmio=0 halt=1 hz=10 report=0",
         ["-name", "guest=@NAME@,debug-threads=on", "-qmp", "unix:@QMP@,server=on,wait=off"]),
        ("busy", 2, "mb=4 spin=1500 io=0 mmio=100 halt=1 hz=100 report=0",
         ["-name", "@NAME@,debug-threads=on", "-qmp-pretty", "unix:@QMP@,server=on,wait=off"]),
        ("mixed", 4, "mb=1 spin=0 io=0 mmio=20 halt=1 hz=50 report=0", mixed_extra),
    ]
    for role, vcpus, append, extra in specs:
        GUESTS[role] = Guest(TMP, f"{TAG}-{role}", vcpus, append, extra)
    for g in GUESTS.values():
        g.start()
    deadline = time.time() + 20
    for g in GUESTS.values():
        g.wait_ready(deadline)


def qmp(path, command):
    """One QMP command on the monitor at @path (QEMU serves one client at a time: held briefly)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        s.settimeout(10)
        f = s.makefile("rwb")
        json.loads(f.readline())  # the greeting
        for cmd in ({"execute": "qmp_capabilities"}, command):
            f.write(json.dumps(cmd).encode() + b"\n")
            f.flush()
            while True:
                reply = json.loads(f.readline())
                if "event" not in reply:
                    break
            if "error" in reply:
                raise AssertionError(f"QMP {cmd}: {reply['error']}")
        return reply["return"]


def mine(obj):
    """The entries of a domstats --all --json object that are this test's guests, by role."""
    return {role: obj[g.name] for role, g in GUESTS.items() if g.name in obj}


def proc_stat(pid, tid=None):
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    text = rd(path)
    return text[text.rindex(")") + 2:].split()


class RealVMs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        boot()

    def test_01_discovery(self):
        listed = {d["name"]: d for d in unish_json("list")}
        for role, g in GUESTS.items():
            self.assertIn(g.name, listed, role)
            d = listed[g.name]
            self.assertEqual(d["uuid"], g.uuid.lower())
            self.assertEqual(d["pid"], g.pid)
            self.assertEqual(d["state"], "running")
            self.assertEqual(d["source"], "process")
        recs = mine(unish_json("domstats", "--all", "--select", "dom.cpu.count,dom.vcpu.,dom.pid,dom.uuid"))
        for role, g in GUESTS.items():
            r = recs[role]
            self.assertEqual(r["dom.cpu.count"], g.vcpus, role)
            tids = [r[f"dom.vcpu.{v}.tid"] for v in range(g.vcpus)]
            self.assertEqual(len(set(tids)), g.vcpus)
            for v, tid in enumerate(tids):
                self.assertTrue(os.path.exists(f"/proc/{g.pid}/task/{tid}"), (role, v, tid))
                comm = rd(f"/proc/{g.pid}/task/{tid}/comm").strip()
                if role == "mixed":
                    # No debug-threads: the threads are told apart by QMP's query-cpus-fast.
                    self.assertNotIn("/KVM", comm)
                else:
                    self.assertEqual(comm, f"CPU {v}/KVM")
                self.assertIn(f"dom.vcpu.{v}.pinning", r)
                self.assertIn(f"dom.vcpu.{v}.cpu", r)
        # Lookup by name and by UUID (any case) through the shell.
        g = GUESTS["mixed"]
        by_uuid = unish_json("domstats", g.uuid.upper(), "--record", "--select", "dom.pid")
        self.assertEqual(by_uuid[g.name]["dom.pid"], g.pid)
        p = unish("domstats", f"{TAG}-nosuch", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("NO_DOMAIN", p.stderr)

    def test_02_kvm_counters_move(self):
        sel = "dom.kvm.,dom.vcpu.0.kvm.,dom.kvmstats_source"
        a = mine(unish_json("domstats", "--all", "--select", sel))
        time.sleep(0.5)
        b = mine(unish_json("domstats", "--all", "--select", sel))
        for role in ("busy", "mixed"):
            self.assertEqual(b[role]["dom.kvmstats_source"], "qmp")
            for name in ("exits", "halt_exits", "mmio_exits", "irq_injections"):
                for key in (f"dom.kvm.{name}", f"dom.vcpu.0.kvm.{name}"):
                    self.assertIn(key, a[role], (role, key))
                    self.assertGreater(b[role][key], a[role][key], (role, key))
        # The idle guest still halts and takes timer interrupts, and does no MMIO.
        for name in ("exits", "halt_exits", "irq_injections"):
            self.assertGreater(b["idle"][f"dom.kvm.{name}"], a["idle"][f"dom.kvm.{name}"], name)
        self.assertEqual(b["idle"]["dom.kvm.mmio_exits"], a["idle"]["dom.kvm.mmio_exits"])
        # Per VM = the sum over its vCPUs (exits is a vCPU statistic).
        r = mine(unish_json("domstats", "--all", "--select", "dom.kvm.exits,dom.vcpu."))["mixed"]
        self.assertEqual(r["dom.kvm.exits"], sum(r[f"dom.vcpu.{v}.kvm.exits"] for v in range(4)))
        # Self-describing: every statistic QEMU reports, not a list of ours.
        self.assertGreater(len([k for k in b["busy"] if k.startswith("dom.kvm.")]), 30)

    def test_03_cpu_time_busy_vs_idle(self):
        a = mine(unish_json("domstats", "--all", "--select", "dom.cpu.,dom.vcpu.", "--window", "1000"))
        busy, idle = a["busy"], a["idle"]
        self.assertGreater(busy["dom.cpu.util_pct"], 10)
        self.assertLess(idle["dom.cpu.util_pct"], 5)
        self.assertGreater(busy["dom.cpu.util_pct"], 4 * idle["dom.cpu.util_pct"])
        # Against the kernel: the process's utime + stime, a moment later.
        g = GUESTS["busy"]
        f = proc_stat(g.pid)
        hz = os.sysconf("SC_CLK_TCK")
        now_ms = (int(f[11]) + int(f[12])) * 1000 // hz
        self.assertLessEqual(busy["dom.cpu.time_ms"], now_ms)
        self.assertGreater(busy["dom.cpu.time_ms"], now_ms - 2000)
        self.assertEqual(a["busy"]["window_ms"] >= 1000, True)

    def test_04_memory_and_interruption(self):
        page = os.sysconf("SC_PAGE_SIZE")
        hz = os.sysconf("SC_CLK_TCK")
        for role, g in GUESTS.items():
            r = unish_json("domstats", g.name, "--record", "--select", "dom.mem,dom.cpu.time_ms,dom.interrupt_ms")[g.name]
            f = proc_stat(g.pid)
            rss_mb = int(f[21]) * page / 2**20
            self.assertAlmostEqual(r["dom.mem_mb"], rss_mb, delta=2, msg=role)
            vmrss = next(int(l.split()[1]) for l in lines(f"/proc/{g.pid}/status") if l.startswith("VmRSS:"))
            self.assertAlmostEqual(r["dom.mem.resident_mb"], vmrss / 1024, delta=2, msg=role)
            total = next(int(l.split()[1]) for l in lines("/proc/meminfo") if l.startswith("MemTotal:")) / 1024
            self.assertAlmostEqual(r["dom.mem_pct"], 100 * r["dom.mem_mb"] / total, places=6)
            # The spec's interruption time: execution time - guest time (field 43).
            exec_ms = (int(f[11]) + int(f[12])) * 1000 // hz
            guest_ms = int(f[40]) * 1000 // hz
            self.assertLessEqual(r["dom.interrupt_ms"], r["dom.cpu.time_ms"])
            self.assertAlmostEqual(r["dom.interrupt_ms"], exec_ms - guest_ms, delta=300, msg=role)
        # The spec's view of one domain, in its order.
        g = GUESTS["idle"]
        v = unish_json("domstats", g.name)
        self.assertEqual([k for k in v if k not in ("window_ms", "absent")],
                         ["dom.mem_pct", "dom.mem_mb", "dom.interrupt_ms"])
        self.assertIn("dom.swap_wait_ms", v["absent"])

    def test_05_disk_and_nic(self):
        r = mine(unish_json("domstats", "--all", "--select", "dom.disk.,dom.net.", "--window", "200"))["mixed"]
        self.assertEqual(r["dom.disk.0.device"], "drive0")
        self.assertEqual(r["dom.disk.0.capacity_bytes"], 8 << 20)
        for k in ("read_bytes", "read_requests", "write_bytes", "write_requests", "errors", "iops", "read_bytes_rate"):
            self.assertIn(f"dom.disk.0.{k}", r)
        self.assertIn("dom.disk.I.physical_bytes", r["absent"])
        if TAP:
            self.assertEqual(r["dom.net.0.name"], TAP)
            self.assertEqual(r["dom.net.0.mac"], "52:54:00:12:34:56")
            line = next(l for l in lines("/proc/net/dev") if l.strip().startswith(TAP + ":"))
            host = [int(x) for x in line.split(":", 1)[1].split()]
            # The guest's receive is the tap's transmit.
            self.assertLessEqual(r["dom.net.0.rx_bytes"], host[8])
            self.assertLessEqual(r["dom.net.0.tx_bytes"], host[0])
            self.assertIn("dom.net.0.rx_bytes_rate", r)
            self.known_bytes_from_the_guest()
        # The others have neither, and say so.
        idle = mine(unish_json("domstats", "--all", "--select", "dom.disk.,dom.net."))["idle"]
        self.assertIn("no disk", idle["absent"]["dom.disk.I.device"])
        self.assertIn("no network interface", idle["absent"]["dom.net.I.name"])

    def known_bytes_from_the_guest(self):
        """Known bytes in one direction only: QEMU's announce-self makes the guest's NIC send
        gratuitous RARP frames of 60 bytes each (net/announce.c), which are the guest's transmit and
        the tap's receive, so the guest's tx_bytes grows by exactly 3 x 60 and its rx_bytes not at
        all (swapped rx/tx fails). The tap is up without an address and without IPv6, so the host
        sends nothing to the guest; tinyguest has no NIC driver and sends nothing of its own."""
        with open(f"/proc/sys/net/ipv6/conf/{TAP}/disable_ipv6", "w") as f:
            f.write("1")
        subprocess.run(["ip", "link", "set", TAP, "up"], check=True)
        time.sleep(0.2)

        def net():
            return mine(unish_json("domstats", "--all", "--select", "dom.net.0."))["mixed"]

        def tap_rx_packets():
            line = next(l for l in lines("/proc/net/dev") if l.strip().startswith(TAP + ":"))
            return int(line.split(":", 1)[1].split()[1])
        before, seen = net(), tap_rx_packets()
        qmp(GUESTS["mixed"].qmp, {"execute": "announce-self",
                                  "arguments": {"initial": 50, "max": 100, "rounds": 3, "step": 50}})
        deadline = time.time() + 5
        while tap_rx_packets() < seen + 3 and time.time() < deadline:
            time.sleep(0.05)
        after = net()
        self.assertEqual(after["dom.net.0.tx_bytes"] - before["dom.net.0.tx_bytes"], 3 * 60)
        self.assertEqual(after["dom.net.0.tx_packets"] - before["dom.net.0.tx_packets"], 3)
        self.assertEqual(after["dom.net.0.rx_bytes"], before["dom.net.0.rx_bytes"])

    def test_06_stale_when_stopped(self):
        g = GUESTS["idle"]
        uri = "uniserver:///system?vm_deadline_ms=400"
        os.kill(g.pid, signal.SIGSTOP)
        try:
            t0 = time.time()
            r = mine(unish_json("domstats", "--all", "--select", "dom.state,dom.stale,dom.kvm.exits", uri=uri))
            elapsed = time.time() - t0
        finally:
            os.kill(g.pid, signal.SIGCONT)
        self.assertLess(elapsed, 0.4 + 2.0)
        self.assertEqual(r["idle"]["dom.stale"], 1)
        self.assertEqual(r["idle"]["dom.state"], "paused")
        self.assertIn("stopped", r["idle"]["absent"]["dom.kvm.NAME"])
        for role in ("busy", "mixed"):
            self.assertEqual(r[role]["dom.stale"], 0)
            self.assertIn("dom.kvm.exits", r[role])

    def test_07_stale_when_monitor_does_not_answer(self):
        # QMP serves one client at a time: a held monitor leaves ours unanswered.
        g = GUESTS["busy"]
        s = socket.socket(socket.AF_UNIX)
        s.connect(g.qmp)
        s.settimeout(5)
        try:
            # Hold it only once QEMU serves us (its greeting), not while we wait in its backlog
            # behind an earlier client it has not yet seen leave.
            greeting = b""
            while b"QMP" not in greeting:
                chunk = s.recv(4096)
                self.assertTrue(chunk, "QEMU closed the monitor")
                greeting += chunk
            t0 = time.time()
            r = mine(unish_json("domstats", "--all", "--select", "dom.stale,dom.kvm.exits",
                                uri="uniserver:///system?vm_deadline_ms=400"))
            elapsed = time.time() - t0
            # Held longer, our earlier connections fill its queue: still stale, however it says so.
            later = [mine(unish_json("domstats", "--all", "--select", "dom.stale,dom.kvm.exits",
                                     uri="uniserver:///system?vm_deadline_ms=400")) for _ in range(3)]
        finally:
            s.close()
        for x in later:
            self.assertEqual(x["busy"]["dom.stale"], 1)
            self.assertRegex(x["busy"]["absent"]["dom.kvm.NAME"], "did not answer within 400 ms|accepts no connection")
            self.assertEqual(x["idle"]["dom.stale"], 0)
        self.assertGreaterEqual(elapsed, 0.4)
        self.assertLess(elapsed, 0.4 + 2.0)
        self.assertEqual(r["busy"]["dom.stale"], 1)
        self.assertIn("did not answer within 400 ms", r["busy"]["absent"]["dom.kvm.NAME"])
        for role in ("idle", "mixed"):
            self.assertEqual(r[role]["dom.stale"], 0)
            self.assertIn("dom.kvm.exits", r[role])

    def test_08_host_rows_and_kvmstat(self):
        v = unish_json("domsstats")
        self.assertGreaterEqual(v["host.vms.count"], 3)
        self.assertGreaterEqual(v["host.vms.active"], 3)
        ours = sum(unish_json("domstats", g.name)["dom.mem_mb"] for g in GUESTS.values())
        self.assertGreaterEqual(v["host.vms.mem_mb"], ours - 5)
        # Our guests' exits first, the host's after: counters only grow, so the host's total
        # (every VM's) is at least the sum of ours, with no slack.
        doms = mine(unish_json("domstats", "--all", "--select", "dom.kvm.exits"))
        host = unish_json("nodestats", "--select", "kvm.exits")
        self.assertGreaterEqual(host["kvm.exits"], sum(d["dom.kvm.exits"] for d in doms.values()))
        k = unish_json("kvmstat", "--once", "--guest", GUESTS["busy"].name, "--fields", "^(exits|mmio_exits)$",
                       "--interval", "300")
        self.assertEqual(sorted(k["fields"]), ["exits", "mmio_exits"])
        self.assertGreater(k["fields"]["exits"]["rate"], 0)
        p = unish("kvmstat", "--log", "--count", "2", "--interval", "200", "--fields", "exits$")
        lines = p.stdout.strip().splitlines()
        self.assertEqual(len(lines), 3)
        self.assertTrue(lines[0].startswith("time,"))
        self.assertIn("halt_exits", lines[0])
        self.assertEqual(len(lines[1].split(",")), len(lines[0].split(",")))
        p = unish("kvmstat", "--once", "--table2", "--interval", "200")
        self.assertIn("irq_window_exits (irq_window)", p.stdout)
        self.assertIn("not a statistic of this kernel", p.stdout)

    def test_09_binary_fast_path(self):
        uri = "uniserver:///system?kvmstats=binary"
        before = mine(unish_json("domstats", "--all", "--select", "dom.kvm.exits"))
        r = mine(unish_json("domstats", "--all", "--select", "dom.kvm.,dom.vcpu.,dom.kvmstats_source", uri=uri))
        for role, g in GUESTS.items():
            self.assertEqual(r[role]["dom.kvmstats_source"], "binary", role)
            self.assertGreaterEqual(r[role]["dom.kvm.exits"], before[role]["dom.kvm.exits"], role)
            for v in range(g.vcpus):
                self.assertIn(f"dom.vcpu.{v}.kvm.halt_exits", r[role])
        # QEMU is unharmed: no fd left behind, its monitor answers, the guest still runs.
        for role, g in GUESTS.items():
            fds = [os.readlink(f"/proc/{g.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{g.pid}/fd")]
            self.assertEqual(sum("kvm-vm-stats" in f or "kvm-vcpu-stats" in f for f in fds), 0, fds)
        time.sleep(0.2)
        after = mine(unish_json("domstats", "--all", "--select", "dom.kvm.exits,dom.state,dom.stale"))
        for role in GUESTS:
            self.assertEqual(after[role]["dom.stale"], 0)
            self.assertEqual(after[role]["dom.state"], "running")
            self.assertGreater(after[role]["dom.kvm.exits"], before[role]["dom.kvm.exits"])

    def test_10_swap_wait_and_perf(self):
        g = GUESTS["idle"]
        knob = "/proc/sys/kernel/task_delayacct"
        old = rd(knob).strip() if os.path.exists(knob) else None
        r = unish_json("domstats", g.name, "--record", "--select", "dom.swap_wait,dom.perf")[g.name]
        if old == "0":
            self.assertIn("kernel.task_delayacct=1", r["absent"]["dom.swap_wait_ms"])
        if old is not None:
            # With delay accounting on, taskstats answers (0 ms without swap pressure).
            try:
                wr(knob, "1")
                r2 = unish_json("domstats", g.name, "--record", "--select", "dom.swap_wait", "--window", "100")[g.name]
            finally:
                wr(knob, old)
            # Swap-in delay, not another of taskstats' delays (CPU, block I/O): QEMU waits for a CPU
            # on this shared machine, but a host without swap never waits for a swap-in.
            swap = next(int(l.split()[1]) for l in lines("/proc/meminfo") if l.startswith("SwapTotal:"))
            if swap == 0:
                self.assertEqual((r2["dom.swap_wait_ms"], r2["dom.swap_wait_pct"]), (0, 0))
            else:
                self.assertGreaterEqual(r2["dom.swap_wait_ms"], 0)
                self.assertTrue(0 <= r2["dom.swap_wait_pct"] <= 100)
        if "dom.perf.cycles" not in r:
            self.assertIn("perf_event_open", r["absent"]["dom.perf.cycles"])
            print("SKIP-PART: perf counters: " + r["absent"]["dom.perf.cycles"])

    def test_11_daemon_sees_late_exec_and_exit(self):
        # uniserverd keeps what it learnt of each PID between samples and lists /proc only when
        # the kernel handed out a PID since. A launcher that forks and execs QEMU a second later
        # (as libvirt does, in milliseconds) must still be found once it is QEMU, and a VM that
        # exits must leave the list, with no new process to trigger a scan.
        from testlib import Uniserverd
        d = Uniserverd("uniserver:///system?libvirt=", "--interval", "200", "--metrics-listen", "off", tmp=TMP)
        late = Guest(TMP, f"{TAG}-late", 1, "mb=1 spin=0 io=0 mmio=0 halt=1 hz=10 report=0",
                     ["-name", "@NAME@", "-qmp", "unix:@QMP@,server=on,wait=off"])
        late.cmd.remove("-daemonize")
        p = subprocess.Popen(["sh", "-c", 'sleep 1; exec "$@"', "sh", *late.cmd], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            def listed():
                return {x["name"]: x for x in unish_json("list", uri=d.uri(ro=True))}
            time.sleep(0.5)  # the daemon has sampled the shell (a young process) by now
            self.assertNotIn(late.name, listed())
            deadline, found = time.time() + 6, None
            while time.time() < deadline and not found:
                found = listed().get(late.name)
                time.sleep(0.1)
            self.assertIsNotNone(found, "the exec'd QEMU was not discovered")
            self.assertEqual(found["pid"], p.pid)
            p.kill()
            p.wait()
            deadline, gone = time.time() + 3, False
            while time.time() < deadline and not gone:
                gone = late.name not in listed()
                time.sleep(0.1)
            self.assertTrue(gone, "the exited VM stayed in the list")
            self.assertTrue(d.alive())
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            d.stop()

    def test_12_table4_and_reliability(self):
        # The spec's Table 4 on real guests found from their QEMU process, and the reliability
        # class in the state file; each checked against what the kernel says.
        g = GUESTS["busy"]
        info = unish_json("dominfo", g.name)
        self.assertEqual((info["state"], info["vcpus"], info["max_memory_kib"]), ("running", 2, 64 * 1024))
        self.assertGreater(info["cpu_time_ns"], 0)
        self.assertEqual(unish("maxvcpus", g.name).stdout, "2\n")
        everyone = {d["name"]: d for d in unish_json("dominfo", "--all")}
        self.assertEqual(everyone[GUESTS["mixed"].name]["vcpus"], 4)
        xml = unish("dumpxml", GUESTS["mixed"].name).stdout
        self.assertIn(f"<name>{GUESTS['mixed'].name}</name>", xml)
        self.assertIn(f"<uuid>{GUESTS['mixed'].uuid.lower()}</uuid>", xml)
        self.assertIn(f"<source file='{TMP}/disk.img'/>", xml)
        if TAP:
            self.assertIn("<mac address='52:54:00:12:34:56'/>", xml)
        # The scheduler's parameters are those of the cgroup the process is in.
        cg = dict(l.split(":", 2)[1:] for l in lines(f"/proc/{g.pid}/cgroup"))
        sched = unish_json("schedinfo", g.name)
        cpu = next((k for k in cg if "cpu" in k.split(",")), None)
        if cpu is not None:
            d = f"/sys/fs/cgroup/{cpu}{cg[cpu]}"
            self.assertEqual(sched["cpu_shares"], int(rd(f"{d}/cpu.shares")))
            self.assertEqual(sched["global_quota"], int(rd(f"{d}/cpu.cfs_quota_us")))
        # vCPU affinities are the threads' (Cpus_allowed_list).
        def allowed(tid):
            return next(l.split(":")[1].strip() for l in lines(f"/proc/{g.pid}/task/{tid}/status")
                        if l.startswith("Cpus_allowed_list"))
        tids = [int(t) for t in os.listdir(f"/proc/{g.pid}/task")
                if rd(f"/proc/{g.pid}/task/{t}/comm").strip() == "CPU 1/KVM"]
        tid = tids[0]
        vc = unish_json("vcpuinfo", g.name)
        self.assertEqual(len(vc), 2)
        self.assertEqual(vc[1]["affinity"], allowed(tid))
        before = allowed(tid)
        # Pin vCPU 1 to CPU 0: the thread's affinity moves and the record shows it.
        unish("vcpupin", g.name, "1", "0")
        self.assertEqual(allowed(tid), "0")
        rec = unish_json("domstats", g.name, "--record", "--select", "dom.vcpu.1.pinning")[g.name]
        self.assertEqual(rec["dom.vcpu.1.pinning"], "0")
        self.assertEqual(unish_json("vcpuinfo", g.name)[1]["affinity"], "0")
        # Bad input: a clear error with a code, nothing changed.
        ncpu = os.cpu_count()
        for args, code in ((["vcpupin", g.name, "1", str(ncpu + 3)], "NO_CORE"),
                           (["vcpupin", g.name, "5", "0"], "INVALID_ARG"),
                           (["vcpupin", f"{TAG}-nosuch", "0", "0"], "NO_DOMAIN"),
                           (["setreliability", g.name, "gold"], "INVALID_ARG")):
            p = unish(*args, check=False)
            self.assertEqual(p.returncode, 1, args)
            self.assertIn(code, p.stderr)
        p = unish("-r", "vcpupin", g.name, "1", "1", check=False)
        self.assertIn("ACCESS_DENIED", p.stderr)
        self.assertEqual(allowed(tid), "0")
        unish("vcpupin", g.name, "1", before)
        self.assertEqual(allowed(tid), before)
        # Per-CPU time: cgroup v1's cpuacct of the VM's own cgroup; a guest in the host's root
        # cgroup has none of its own, and the error says so.
        p = unish("cpu-stats", g.name, check=False)
        if p.returncode:
            self.assertIn("NO_DATA", p.stderr)
            self.assertRegex(p.stderr, "root cpuacct cgroup|cgroup v2")
        # The class: in a state file that a new process (a restarted daemon) reads.
        state = os.path.join(TMP, "reliability.state")
        uri = f"uniserver:///system?reliability_state={state}"
        self.assertEqual(unish("reliability", g.name, uri=uri).stdout, "normal\n")
        unish("setreliability", g.name, "high", uri=uri)
        self.assertEqual(rd(state), f"{g.uuid} high\n")
        self.assertEqual(unish("reliability", g.name, uri=uri).stdout, "high\n")
        rec = unish_json("domstats", g.name, "--record", "--select", "dom.reliability", uri=uri)[g.name]
        self.assertEqual(rec["dom.reliability"], "high")
        p = unish("setreliability", g.name, "gold", uri=uri, check=False)
        self.assertIn("INVALID_ARG", p.stderr)
        self.assertEqual(rd(state), f"{g.uuid} high\n")
    def test_13_metrics_types_and_units(self):
        # KVM statistics of kind instant or peak are gauges (no _total), times in ns go out in
        # seconds, each statistic has its own HELP, and promtool has nothing to say.
        import re
        from testlib import Uniserverd, free_port
        if not shutil.which("promtool"):
            self.skipTest("promtool (Debian prometheus) is not installed")
        d = Uniserverd("uniserver:///system?libvirt=", "--interval", "200", metrics_port=free_port(), settle_s=0.6,
                       tmp=TMP)
        try:
            st, _, body = d.get()
            self.assertEqual(st, 200)
            text = body.decode()
        finally:
            d.stop()
        lint = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
        self.assertEqual(lint.returncode, 0, lint.stdout.decode() + lint.stderr.decode())
        self.assertEqual(lint.stdout.decode() + lint.stderr.decode(), "")
        types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
        kvm = {k: v for k, v in types.items() if k.startswith("uniserver_vm_kvm_")}
        self.assertTrue(kvm, "no KVM statistic in /metrics")
        # The kernel's instant and peak statistics (virt/kvm/kvm_main.c, arch/x86/kvm/x86.c).
        for level in ("uniserver_vm_kvm_pages_4k", "uniserver_vm_kvm_max_mmu_page_hash_collisions",
                      "uniserver_vm_vcpu_kvm_guest_mode", "uniserver_vm_kvm_mmu_unsync"):
            if level in types:
                self.assertEqual(types[level], "gauge", level)
        self.assertTrue(any(types.get(n) == "gauge" for n in ("uniserver_vm_kvm_pages_4k", "uniserver_vm_vcpu_kvm_guest_mode")),
                        sorted(kvm))
        self.assertFalse([n for n in types if n.endswith("_ns_total") or n.endswith("_ns")], "a time left in ns")
        self.assertEqual(types.get("uniserver_vm_kvm_halt_wait_seconds_total"), "counter", sorted(kvm))
        self.assertRegex(text, r"# HELP uniserver_vm_kvm_halt_wait_seconds_total KVM statistic halt_wait_ns \(cumulative, in seconds\)")
        self.assertRegex(text, r"# HELP uniserver_vm_kvm_pages_4k KVM statistic pages_4k \(an instant or peak value\)")
        # Rates beside their counters and the percentage copy of a ratio are not families.
        for gone in ("uniserver_vm_disk_read_bytes_per_second", "uniserver_vm_disk_iops_per_second",
                     "uniserver_host_mem_contention_pct_ratio", "uniserver_vm_errors_ce_rate_per_second"):
            self.assertNotIn(gone, types)
        m = re.search(r'^uniserver_vm_kvm_halt_wait_seconds_total\{[^}]*\} (\S+)$', text, re.M)
        self.assertIsNotNone(m)
        self.assertLess(float(m.group(1)), 1e6, "halt_wait still in nanoseconds")


def main():
    if not os.path.exists("/dev/kvm") or not os.access("/dev/kvm", os.R_OK | os.W_OK):
        skip("no usable /dev/kvm: real-VM tests need KVM")
    if not QEMU:
        skip("no qemu-system-x86_64 (Debian package qemu-system-x86)")
    if not os.path.exists(GUEST):
        skip("tinyguest.elf was not built (x86_64 gcc and ld needed)")
    prog = unittest.main(verbosity=2, exit=False)
    teardown()
    sys.exit(0 if prog.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
