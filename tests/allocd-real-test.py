#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""uni-allocd on this host with real tiny KVM guests (tests/guest) found from their QEMU processes:
a high-class and a low-class guest (classes in the reliability state file); uni-allocd pins their
vCPUs as planned (dom.vcpu.V.pinning and the kernel's affinity of each vCPU thread agree, each
guest within one core: on a host without operating points every core is a placement domain of
its own); then corrected errors on the high-class guest's core, written by uni-healthd into a
fixture HealthLog from MCE trace records, and the high-class guest leaves that core within
seconds. The same again with the high-class guest under a libvirtd of the test's own (its class
in the domain's metadata, pinned through libvirt: virsh vcpupin shows it). The test runs in a PID namespace of its own with its own /proc, so that uni-allocd sees
and pins only this test's guests, never another QEMU of the machine. SKIP without root, /dev/kvm,
QEMU, the guest or two CPUs."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = os.environ["BUILDDIR"]
SRC = os.environ.get("SRCDIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALLOCD = os.path.join(BUILD, "bin", "uni-allocd")
UNISH = os.path.join(BUILD, "bin", "unish")
HEALTHD = os.path.join(BUILD, "bin", "uni-healthd")
GUEST = os.path.join(BUILD, "tests", "guest", "tinyguest.elf")
QEMU = shutil.which("qemu-system-x86_64")
INST = "sys/kernel/tracing/instances/uni-healthd"
sys.path.insert(0, os.path.join(SRC, "tests", "healthd"))
import tracegen  # noqa: E402

# The private libvirtd of tests/libvirtd-test.py (its configuration over /etc/libvirt in this
# test's mount namespace), for the guest under libvirt.
_spec = importlib.util.spec_from_file_location("libvirtd_test", os.path.join(SRC, "tests", "libvirtd-test.py"))
lvd = importlib.util.module_from_spec(_spec)
sys.path.insert(0, os.path.join(SRC, "tests"))
_spec.loader.exec_module(lvd)


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def cores_of(text):
    out = set()
    for part in text.split(","):
        a, _, b = part.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out


class Guest:
    def __init__(self, tmp, name, vcpus):
        self.name = name
        self.serial = os.path.join(tmp, name + ".serial")
        pidfile = os.path.join(tmp, name + ".pid")
        subprocess.run([QEMU, "-accel", "kvm", "-M", "microvm", "-m", "64", "-smp", str(vcpus), "-name",
                        name + ",debug-threads=on", "-nodefaults", "-no-user-config", "-display", "none", "-chardev",
                        f"file,id=ser0,path={self.serial}", "-serial", "chardev:ser0", "-kernel", GUEST, "-append",
                        "mb=1 spin=50 io=0 mmio=0 halt=1 hz=100 report=0", "-no-reboot", "-daemonize", "-pidfile",
                        pidfile], check=True, timeout=30, capture_output=True)
        with open(pidfile) as f:
            self.pid = int(f.read())

    def ready(self):
        try:
            with open(self.serial, errors="replace") as f:
                return "GUEST-READY" in f.read()
        except FileNotFoundError:
            return False

    def vcpu_tids(self):
        out = {}
        for t in os.listdir(f"/proc/{self.pid}/task"):
            with open(f"/proc/{self.pid}/task/{t}/comm") as f:
                comm = f.read().strip()
            if comm.startswith("CPU ") and comm.endswith("/KVM"):
                out[int(comm.split()[1].split("/")[0])] = int(t)
        return out


class LibvirtGuest(Guest):
    def __init__(self, name):
        self.name = name
        with open(f"/run/libvirt/qemu/{name}.pid") as f:
            self.pid = int(f.read())

    def vcpu_tids(self):
        try:
            return super().vcpu_tids()
        except FileNotFoundError:
            return {}


def libvirt_why_not():
    if not shutil.which("virsh"):
        return "no virsh (libvirt-clients)"
    if not (shutil.which("libvirtd") or os.path.exists("/usr/sbin/libvirtd")) or not os.path.exists(
            "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so"):
        return "no libvirtd with its QEMU driver (libvirt-daemon, libvirt-daemon-driver-qemu)"
    if not os.path.exists("/usr/share/qemu/qboot.rom"):
        return "no /usr/share/qemu/qboot.rom (qemu-system-data)"
    return None


class AllocdRealHost(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="allocd-real-")
        # The fixture sysfs uni-healthd reads its RAS trace records from (this host's own /proc).
        cls.root = os.path.join(cls.tmp, "host")
        shutil.copytree(os.path.join(SRC, "tests", "fixtures", "health-x86"), cls.root, symlinks=True)
        cls.clear_trace()
        cls.db = os.path.join(cls.tmp, "healthlog.db")
        cls.healthd_once()
        cls.state = os.path.join(cls.tmp, "reliability.state")
        cls.uri = f"uniserver:///system?libvirt=&healthlog={cls.db}&reliability_state={cls.state}"
        cls.guests = {"hi": Guest(cls.tmp, "allocd-hi", 1), "lo": Guest(cls.tmp, "allocd-lo", 1)}
        deadline = time.monotonic() + 20
        while not all(g.ready() for g in cls.guests.values()):
            if time.monotonic() > deadline:
                raise AssertionError("the guests did not print GUEST-READY within 20 s")
            time.sleep(0.05)
        for g, cls_ in (("hi", "high"), ("lo", "low")):
            cls.unish("setreliability", cls.guests[g].name, cls_)

    @classmethod
    def tearDownClass(cls):
        for g in cls.guests.values():
            try:
                os.kill(g.pid, 9)
            except ProcessLookupError:
                pass
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def clear_trace(cls):
        for c in range(4):
            p = os.path.join(cls.root, INST, "per_cpu", f"cpu{c}", "trace_pipe_raw")
            if os.path.exists(p):
                open(p, "w").close()

    @classmethod
    def healthd_once(cls):
        r = subprocess.run([HEALTHD, "--once", "--db", cls.db, "--procfs", "/proc", "--sysfs",
                            os.path.join(cls.root, "sys"), "--set", "retention_days=0", "--set", "sensor_interval_ms=0",
                            "--log-level", "error"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        cls.clear_trace()  # the kernel hands each page out once

    @classmethod
    def unish(cls, *args):
        r = subprocess.run([UNISH, "-c", cls.uri, *args], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"unish {args}: {r.stderr}"
        return r.stdout

    def pinning(self, g):
        rec = json.loads(self.unish("--json", "domstats", g.name, "--record", "--select", "dom.vcpu"))[g.name]
        return {int(k.split(".")[2]): v for k, v in rec.items() if k.startswith("dom.vcpu.") and k.endswith(".pinning")}

    def kernel_affinity(self, g):
        return {v: os.sched_getaffinity(t) for v, t in g.vcpu_tids().items()}

    def placed(self, g):
        """The one core all of @g's vCPUs are pinned to (the record and the kernel agreeing), or None."""
        pins = self.pinning(g)
        aff = self.kernel_affinity(g)
        if not pins or set(pins) != set(aff):
            return None
        cores = set()
        for v, text in pins.items():
            if cores_of(text) != aff[v]:
                return None
            cores |= aff[v]
        return cores.pop() if len(cores) == 1 else None

    def wait_for(self, what, cond, timeout):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            v = cond()
            if v is not None and v is not False:
                return v, time.monotonic() - t0
            time.sleep(0.1)
        self.fail(f"{what}: not within {timeout} s (log: {self.log_text()})")

    def log_text(self):
        try:
            with open(getattr(self, "logname", "/nonexistent")) as f:
                return f.read()[-3000:]
        except FileNotFoundError:
            return ""

    def scenario(self, hi, lo, tag):
        """uni-allocd pins @hi (high) and @lo (low) each within one core; corrected errors on @hi's
        core move it off within seconds."""
        state, journal = os.path.join(self.tmp, f"{tag}.json"), os.path.join(self.tmp, f"{tag}.journal")
        before = {g.name: self.kernel_affinity(g) for g in (hi, lo)}
        # --dry-run first: a plan with reasons, and no thread's affinity changed.
        r = subprocess.run([ALLOCD, "-c", self.uri, "--dry-run", "--state", state, "--journal", journal],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, rf"{hi.name}\s+high\s+{len(hi.vcpu_tids())} vCPUs\s+demand (\?|\d+\.\d\d)\s+core\d")
        self.assertEqual({g.name: self.kernel_affinity(g) for g in (hi, lo)}, before)
        self.assertFalse(os.path.exists(state) or os.path.exists(journal))
        self.logname = os.path.join(self.tmp, f"{tag}.log")
        log = open(self.logname, "w")
        p = subprocess.Popen([ALLOCD, "-c", self.uri, "--state", state, "--journal", journal, "--interval", "0.5",
                              "--ce-burst", "5"], stdout=log, stderr=subprocess.STDOUT)
        try:
            (core, t) = self.wait_for(f"{hi.name} pinned to one core", lambda: self.placed(hi), 15)
            self.wait_for(f"{lo.name} pinned to one core", lambda: self.placed(lo), 15)
            print(f"{hi.name} pinned to core {core} {t:.1f} s after uni-allocd started; "
                  f"{lo.name} on core {self.placed(lo)}", file=sys.stderr)
            a = self.unish("allocation", "--state", state)
            self.assertRegex(a, rf"{hi.name}\s+high\s+{len(hi.vcpu_tids())}\s+(\?|\d+\.\d\d)\s+core{core}\s")
            time.sleep(1.5)  # a few rounds: the daemon's baseline of the HealthLog's counts
            counted = json.loads(self.unish("--json", "nodestats", "--select", f"host.errors.core.{core}.ce.count"))
            n0 = counted.get(f"host.errors.core.{core}.ce.count", 0)
            # Six corrected machine checks reported by the high-class guest's core, as the kernel's
            # mce_record tracepoint delivers them, into the HealthLog by uni-healthd.
            f = tracegen.formats(os.path.join(self.root, INST))
            page = tracegen.page([f["mce_record"].record(mcgcap=0, mcgstatus=0, status=0x900000000000010a, cpu=core,
                                                         socketid=0, bank=2, cpuvendor=0) for _ in range(6)])
            with open(os.path.join(self.root, INST, "per_cpu", "cpu0", "trace_pipe_raw"), "ab") as fh:
                fh.write(page)
            t0 = time.monotonic()
            self.healthd_once()
            counted = json.loads(self.unish("--json", "nodestats", "--select", f"host.errors.core.{core}.ce.count"))
            self.assertEqual(counted.get(f"host.errors.core.{core}.ce.count", 0), n0 + 6, counted)
            (dest, _) = self.wait_for(f"{hi.name} off the erring core",
                                      lambda: (lambda c: c if c is not None and c != core else None)(self.placed(hi)),
                                      10)
            t = time.monotonic() - t0
            print(f"{hi.name} left core {core} for core {dest} {t:.1f} s after 6 corrected errors were recorded",
                  file=sys.stderr)
            self.assertLess(t, 10)
            for v, cpus in self.kernel_affinity(hi).items():
                self.assertNotIn(core, cpus, f"vCPU {v}")
        finally:
            p.terminate()
            p.wait(10)
            log.close()
        self.assertEqual(p.returncode, 0)
        with open(self.logname) as fh:
            text = fh.read()
        self.assertRegex(text, rf"\[fast path\] pin {hi.name} .*fault on its domain")
        return dest

    def test_1_process_guests(self):
        self.scenario(self.guests["hi"], self.guests["lo"], "proc")

    def test_2_libvirt_guest(self):
        """The high-class guest is a libvirt domain (its own libvirtd in this namespace), its class
        in the domain's metadata, pinned through libvirt (virsh vcpupin shows it)."""
        why = libvirt_why_not()
        if why:
            self.skipTest(why)
        os.kill(self.guests["hi"].pid, 9)  # one high-class guest: the libvirt one
        lvd.private_libvirt(os.path.join(self.tmp, "libvirt"))
        lvd.start_libvirtd(os.path.join(self.tmp, "libvirt"))
        self.addCleanup(lvd.stop_libvirtd)
        xml = os.path.join(self.tmp, "lv.xml")
        with open(xml, "w") as f:
            f.write(lvd.XML.replace(lvd.NAME, "allocd-lv").replace("<vcpu>2</vcpu>", "<vcpu>1</vcpu>"))
        lvd.run("virsh", "-c", "qemu:///system", "create", xml)
        self.addCleanup(lvd.run, "virsh", "-c", "qemu:///system", "destroy", "allocd-lv", check=False)
        # libvirt's domains too (the default): the class goes to the domain's metadata.
        uri = type(self).uri
        type(self).uri = uri.replace("libvirt=&", "")
        self.addCleanup(setattr, type(self), "uri", uri)
        lv = LibvirtGuest("allocd-lv")
        self.wait_for("the libvirt guest's vCPU thread", lambda: lv.vcpu_tids() or None, 20)
        self.unish("setreliability", lv.name, "high")
        meta = lvd.run("virsh", "-c", "qemu:///system", "metadata", lv.name, "urn:uniserver:libvirt:1").stdout
        self.assertIn("<reliability>high</reliability>", meta)
        dest = self.scenario(lv, self.guests["lo"], "libvirt")
        pins = lvd.run("virsh", "-c", "qemu:///system", "vcpupin", lv.name).stdout
        self.assertRegex(pins, rf"(?m)^ 0 +{dest}$")


def main():
    if os.geteuid() != 0:
        skip("needs root (KVM guests, a PID namespace, the vCPU threads' affinity)")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        skip("no usable /dev/kvm: real-VM tests need KVM")
    if not QEMU:
        skip("no qemu-system-x86_64 (Debian package qemu-system-x86)")
    if not os.path.exists(GUEST):
        skip("tinyguest.elf was not built (x86_64 gcc and ld needed)")
    if len(os.sched_getaffinity(0)) < 2:
        skip("needs two CPUs to move a guest from one core to another")
    if os.environ.get("UNI_ALLOCD_NS") != "1":
        # Again in a PID namespace with its own /proc (the same meson timeout: unshare waits for
        # it and kills it when it goes; every guest goes with the namespace).
        os.environ["UNI_ALLOCD_NS"] = "1"
        os.execvp("unshare", ["unshare", "--pid", "--fork", "--kill-child", "--mount", "--propagation", "private",
                              "--mount-proc", "--", sys.executable, os.path.abspath(__file__)])
    if os.getpid() == 1:
        # The namespace's init reaps every orphan (a daemonized QEMU, libvirt's probes: libvirt
        # waits for a killed QEMU to be gone, and an unreaped one never is); the test runs in a
        # child of it, whose own children stay its own.
        child = os.fork()
        if child:
            while True:
                pid, status = os.wait()
                if pid == child:
                    sys.exit(os.waitstatus_to_exitcode(status))
    prog = unittest.main(verbosity=2, exit=False)
    sys.exit(0 if prog.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
