#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A real libvirtd managing one tiny guest: discovery through libvirt (the default
qemu:///system) gives the same VM as discovery from the QEMU processes alone (?libvirt=), merged
by UUID; libvirt's KVM statistics stand in for the monitor libvirt holds; the binary fast path
works on libvirt's QEMU (seccomp sandbox and all). qemu:///system goes through uniserver's native
client of libvirtd's protocol: uniserverd does not map libvirt.so.0 and reports what virsh says
(state, vCPUs, memory, statistic names, metadata), for running and inactive domains, on the
read-only socket and on the one ?socket= names.

The test runs its own libvirtd, whatever the host has: in a private mount namespace it puts its
own configuration over /etc/libvirt (root's QEMU, no security driver, QEMU's output to files, so no
virtlogd), empty directories over /run/libvirt, /var/lib/libvirt, /var/cache/libvirt and
/var/log/libvirt, and, when the host lacks it, a libvirt-qemu user in a private /etc/passwd (the
QEMU driver looks its default user up before it reads qemu.conf; libvirt-daemon-system, which makes
it, is not installed). Nothing of the host's /etc changes, a libvirtd of the host is neither used
nor disturbed, and everything goes with the namespace (where the packages made none of those
directories, an empty one is made as the mount point). SKIP only without root, KVM, QEMU or the
libvirt packages; a libvirtd that does not start is a failure, with its log.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

from testlib import Uniserverd

BUILD = os.environ["BUILDDIR"]
UNISH = os.path.join(BUILD, "bin", "unish")
GUEST = os.path.join(BUILD, "tests", "guest", "tinyguest.elf")
SOCK = "/run/libvirt/libvirt-sock"
NAME = f"uni-lvd-{os.getpid()}"
UUID = str(uuid.uuid4())
LIBVIRTD = []  # the libvirtd this test started (a Popen), and its log's path

XML = f"""<domain type='kvm'><name>{NAME}</name><uuid>{UUID}</uuid><memory unit='MiB'>32</memory><vcpu>2</vcpu>
<os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type><loader type='rom'>/usr/share/qemu/qboot.rom</loader>
<kernel>{GUEST}</kernel><cmdline>mb=1 spin=0 io=0 mmio=20 halt=1 hz=100 report=0</cmdline></os>
<devices><memballoon model='none'/></devices></domain>"""


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def run(*cmd, check=True):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}: {p.stderr.strip()}")
    return p


def unish_json(uri, *args):
    return json.loads(run(UNISH, "-c", uri, "--json", *args).stdout)


def listening(sock):
    """A daemon answers on @sock (a socket file a stopped daemon left behind does not)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sock)
        return True
    except OSError:
        return False
    finally:
        s.close()


QEMU_CONF = """# The test's own: QEMU as root (/dev/kvm may be root's alone), no AppArmor or SELinux profile,
# QEMU's output to /var/log/libvirt/qemu/NAME.log rather than through virtlogd.
user = "root"
group = "root"
security_driver = "none"
stdio_handler = "file"
"""
# No polkit (it may not run here) on sockets that only this namespace sees.
LIBVIRTD_CONF = 'auth_unix_ro = "none"\nauth_unix_rw = "none"\n'


def private_libvirt(tmp):
    """In this process's own mount namespace: the test's /etc/libvirt, empty run, state, cache and
    log directories, and a libvirt-qemu user if the host has none."""
    def over(path, src=None):
        os.makedirs(path, exist_ok=True)  # the packages make them; an empty one otherwise
        d = src or os.path.join(tmp, path.strip("/").replace("/", "-"))
        os.makedirs(d, exist_ok=True)
        run("mount", "--bind", d, path)

    etc = os.path.join(tmp, "etc-libvirt")
    os.makedirs(os.path.join(etc, "qemu"))
    with open(os.path.join(etc, "qemu.conf"), "w") as f:
        f.write(QEMU_CONF)
    with open(os.path.join(etc, "libvirtd.conf"), "w") as f:
        f.write(LIBVIRTD_CONF)
    over("/etc/libvirt", etc)
    for d in ("/var/lib/libvirt", "/var/cache/libvirt", "/var/log/libvirt"):
        over(d)
    os.makedirs("/run/libvirt", exist_ok=True)
    run("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run/libvirt")
    for db, line in (("passwd", "libvirt-qemu:x:{id}:{id}:libvirt (uniserver's test):/var/lib/libvirt:/usr/sbin/nologin\n"),
                     ("group", "libvirt-qemu:x:{id}:\n")):
        with open(f"/etc/{db}") as f:
            text = f.read()
        if any(l.startswith("libvirt-qemu:") for l in text.splitlines()):
            continue
        used = {int(l.split(":")[2]) for l in text.splitlines() if l.count(":") >= 3 and l.split(":")[2].isdigit()}
        free = next(i for i in range(64055, 65000) if i not in used)
        path = os.path.join(tmp, db)
        with open(path, "w") as f:
            f.write(text + ("" if text.endswith("\n") else "\n") + line.format(id=free))
        run("mount", "--bind", path, f"/etc/{db}")


def start_libvirtd(tmp):
    """libvirtd on the private directories; returns once qemu:///system answers. AssertionError
    with libvirtd's log when it exits or does not answer within 60 s."""
    log = os.path.join(tmp, "libvirtd.log")
    proc = subprocess.Popen([shutil.which("libvirtd") or "/usr/sbin/libvirtd", "--pid-file", "/run/libvirt/libvirtd.pid"],
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    LIBVIRTD[:] = [proc, log]
    deadline = time.monotonic() + 60
    while True:
        if listening(SOCK) and run("virsh", "-c", "qemu:///system", "uri", check=False).returncode == 0:
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            with open(log) as f:
                raise AssertionError(f"the test's libvirtd did not start (exit {proc.poll()}):\n{f.read()}")
        time.sleep(0.1)


def stop_libvirtd():
    if not LIBVIRTD:
        return
    proc, log = LIBVIRTD
    LIBVIRTD.clear()
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def domstats(name):
    """virsh domstats NAME as {key: value text}."""
    out = run("virsh", "-c", "qemu:///system", "domstats", name).stdout
    return dict(line.strip().split("=", 1) for line in out.splitlines() if "=" in line)


def cpu_list(cpus):
    """[0, 1, 2, 5] -> "0-2,5", as uniserver writes CPU lists."""
    out, i = [], 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        out.append(str(cpus[i]) if i == j else f"{cpus[i]}-{cpus[j]}")
        i = j + 1
    return ",".join(out)


def fields(text):
    """'Key:   value' lines (virsh dominfo, schedinfo; unish's the same) as a dict."""
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in text.splitlines() if ":" in line)}


def qemu_pid():
    with open(f"/run/libvirt/qemu/{NAME}.pid") as f:
        return int(f.read())


class RealLibvirtd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open("/tmp/" + NAME + ".xml", "w") as f:
            f.write(XML)
        p = run("virsh", "-c", "qemu:///system", "create", "/tmp/" + NAME + ".xml", check=False)
        os.unlink("/tmp/" + NAME + ".xml")
        if p.returncode != 0:
            # libvirtd runs (checked before): a domain it refuses is this test's failure.
            raise AssertionError(f"libvirtd refused the tiny guest: {p.stderr.strip()}")
        for _ in range(100):
            if os.path.exists(f"/run/libvirt/qemu/{NAME}.pid"):
                break
            time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        run("virsh", "-c", "qemu:///system", "destroy", NAME, check=False)

    def test_same_vm_both_ways(self):
        pid = qemu_pid()
        merged = {d["name"]: d for d in unish_json("uniserver:///system", "list")}
        procs = {d["name"]: d for d in unish_json("uniserver:///system?libvirt=", "list")}
        self.assertIn(NAME, merged)
        self.assertIn(NAME, procs)  # libvirt's -name guest=NAME,debug-threads=on
        self.assertEqual(merged[NAME]["source"], "process+libvirt")
        self.assertEqual(procs[NAME]["source"], "process")
        for d in (merged[NAME], procs[NAME]):
            self.assertEqual(d["uuid"], UUID)
            self.assertEqual(d["pid"], pid)
            self.assertEqual(d["state"], "running")
        a = unish_json("uniserver:///system", "domstats", NAME, "--record", "--select", "dom.vcpu.,dom.cpu.count,dom.kvm.exits,dom.kvmstats_source")[NAME]
        b = unish_json("uniserver:///system?libvirt=", "domstats", NAME, "--record", "--select", "dom.vcpu.,dom.cpu.count,dom.kvm.exits")[NAME]
        self.assertEqual(a["dom.cpu.count"], 2)
        self.assertEqual(b["dom.cpu.count"], 2)
        for v in range(2):
            self.assertEqual(a[f"dom.vcpu.{v}.tid"], b[f"dom.vcpu.{v}.tid"])
        # libvirt holds the monitor: its KVM statistics through libvirt, none without it.
        self.assertEqual(a["dom.kvmstats_source"], "libvirt")
        self.assertGreater(a["dom.kvm.exits"], 0)
        self.assertIn("dom.vcpu.1.kvm.halt_exits", a)
        self.assertIn("passed file descriptor", b["absent"]["dom.kvm.NAME"])
        # What libvirt says of the domain itself.
        info = run("virsh", "-c", "qemu:///system", "dominfo", NAME).stdout
        self.assertIn("CPU(s):         2", info)

    def test_native_client(self):
        run("virsh", "-c", "qemu:///system", "metadata", NAME, "urn:uniserver:libvirt:1", "--key", "uniserver",
            "--set", "<reliability>high</reliability>")
        d = Uniserverd("uniserver:///system", "--interval", "500", "--metrics-listen", "off", settle_s=0.6)
        try:
            listed = {x["name"]: x for x in json.loads(run(UNISH, "-c", d.uri(), "--json", "list").stdout)}
            r = json.loads(run(UNISH, "-c", d.uri(), "--json", "domstats", NAME, "--record").stdout)[NAME]
            maps = d.maps()
            rss = d.rss_kb()
            # A change of the metadata while the daemon runs: libvirtd announces it (metadata-change
            # event), and the next samples show it, not the next periodic refresh.
            run("virsh", "-c", "qemu:///system", "metadata", NAME, "urn:uniserver:libvirt:1", "--key", "uniserver",
                "--set", "<reliability>low</reliability>")
            changed = None
            for _ in range(20):
                time.sleep(0.25)
                changed = json.loads(run(UNISH, "-c", d.uri(), "--json", "domstats", NAME, "--record",
                                         "--select", "dom.reliability").stdout)[NAME].get("dom.reliability")
                if changed == "low":
                    break
        finally:
            d.stop()
            run("virsh", "-c", "qemu:///system", "metadata", NAME, "urn:uniserver:libvirt:1", "--key", "uniserver",
                "--set", "<reliability>high</reliability>")
        self.assertEqual(changed, "low")
        # The native client: libvirt.so and its dependencies are not loaded.
        self.assertEqual([m for m in maps if "libvirt" in m], [])
        if os.environ.get("UNI_SANITIZED"):
            print("SKIP-PART: resident memory under ASan (its shadow memory and quarantine) is not the daemon's")
        else:
            # The README's promise, libvirt included (the native client): under 5 MB resident.
            print(f"# uniserverd with libvirt's domains: {rss} kB resident")
            self.assertLess(rss, 5 * 1024)
        self.assertEqual(listed[NAME]["source"], "process+libvirt")
        self.assertEqual(r["dom.source"], "process+libvirt")
        self.assertEqual(r["dom.reliability"], "high")
        self.assertEqual(r["dom.kvmstats_source"], "libvirt")
        v = domstats(NAME)
        self.assertEqual(v["state.state"], "1")  # VIR_DOMAIN_RUNNING
        self.assertEqual(r["dom.state"], "running")
        self.assertEqual(r["dom.cpu.count"], int(v["vcpu.current"]))
        self.assertEqual(r["dom.mem.usage_mb"] * 1024, int(v["balloon.current"]))
        # Every KVM statistic libvirt names (vm.NAME.sum, vcpu.N.NAME.sum/.cur/.max) is reported.
        names = [k for k in v if k.startswith(("vm.", "vcpu.0.")) and k.endswith((".sum", ".cur", ".max"))]
        self.assertTrue(names)
        for k in names:
            key = "dom.kvm." + k[3:-4] if k.startswith("vm.") else "dom.vcpu.0.kvm." + k[7:-4]
            self.assertIn(key, r)
        # The per-domain calls (virDomainGetInfo's, virDomainGetVcpus') agree with virsh.
        info = run("virsh", "-c", "qemu:///system", "vcpuinfo", NAME).stdout
        aff = [line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("CPU Affinity")]
        p = unish_json("uniserver:///system", "domstats", NAME, "--record", "--select", "dom.vcpu.0.pinning")[NAME]
        self.assertEqual(p["dom.vcpu.0.pinning"], cpu_list([i for i, c in enumerate(aff[0]) if c == "y"]))

    def test_native_client_socket_and_inactive(self):
        """qemu+unix:///system?socket= (the read-write socket) and an inactive domain, which only
        the per-domain calls describe (virDomainGetInfo natively)."""
        name = NAME + "-off"
        with open("/tmp/" + name + ".xml", "w") as f:
            f.write(XML.replace(NAME, name).replace(UUID, str(uuid.uuid4())).replace("<vcpu>2</vcpu>", "<vcpu>3</vcpu>"))
        run("virsh", "-c", "qemu:///system", "define", "/tmp/" + name + ".xml")
        os.unlink("/tmp/" + name + ".xml")
        try:
            uri = "uniserver:///system?libvirt=qemu+unix:///system?socket=/run/libvirt/libvirt-sock"
            listed = {x["name"]: x for x in unish_json(uri, "list", "--all")}
            self.assertEqual(listed[name]["state"], "shut off")
            self.assertEqual(listed[name]["source"], "libvirt")
            self.assertEqual(listed[NAME]["source"], "process+libvirt")
            r = unish_json(uri, "domstats", name, "--record")[name]
            info = dict(line.split(":", 1) for line in run("virsh", "-c", "qemu:///system", "dominfo", name).stdout.splitlines()
                        if ":" in line)
            self.assertEqual(r["dom.cpu.count"], int(info["CPU(s)"].strip()))
            self.assertEqual(r["dom.cpu.count"], 3)
        finally:
            run("virsh", "-c", "qemu:///system", "undefine", name, check=False)

    def test_table4_through_libvirt(self):
        """The spec's Table 4 on a libvirt domain through libvirt, natively (qemu:///system) and
        through libvirt.so (a URI parameter the native client leaves to it): what virsh says,
        pinning that moves the vCPU thread's affinity in the kernel, the class in the domain's
        metadata; bad input refused with a code, nothing changed."""
        pid = qemu_pid()
        vi = fields(run("virsh", "-c", "qemu:///system", "dominfo", NAME).stdout)
        for uri in ("uniserver:///system", "uniserver:///system?libvirt=qemu:///system?no_tty=1"):
            with self.subTest(uri=uri):
                ui = fields(run(UNISH, "-c", uri, "dominfo", NAME).stdout)
                for k in ("State", "CPU(s)", "Max memory"):
                    self.assertEqual(ui[k], vi[k])
                self.assertEqual(run(UNISH, "-c", uri, "dumpxml", NAME).stdout.strip(),
                                 run("virsh", "-c", "qemu:///system", "dumpxml", NAME).stdout.strip())
                self.assertEqual(fields(run(UNISH, "-c", uri, "schedinfo", NAME).stdout),
                                 fields(run("virsh", "-c", "qemu:///system", "schedinfo", NAME).stdout))
                vs = run("virsh", "-c", "qemu:///system", "cpu-stats", NAME, check=False)
                us = subprocess.run([UNISH, "-c", uri, "cpu-stats", NAME], capture_output=True, text=True, timeout=60)
                self.assertEqual(us.returncode, vs.returncode, us.stderr)
                if vs.returncode == 0:
                    self.assertEqual(us.stdout.count("CPU"), vs.stdout.count("CPU") - ("Total:" in vs.stdout))
                else:
                    self.assertRegex(us.stderr, r"\((NO_SUPPORT|NO_DATA|SYSTEM_ERROR)\)")
                tid = unish_json(uri, "domstats", NAME, "--record", "--select", "dom.vcpu.")[NAME]["dom.vcpu.1.tid"]
                before = os.sched_getaffinity(tid)
                for cpu in (0, 1):
                    run(UNISH, "-c", uri, "vcpupin", NAME, "1", str(cpu))
                    self.assertEqual(os.sched_getaffinity(tid), {cpu})  # the kernel's, not a copy
                    pins = run("virsh", "-c", "qemu:///system", "vcpupin", NAME).stdout
                    self.assertRegex(pins, rf"(?m)^ 1 +{cpu}$")
                    r = unish_json(uri, "domstats", NAME, "--record", "--select", "dom.vcpu.1.pinning")[NAME]
                    self.assertEqual(r["dom.vcpu.1.pinning"], str(cpu))
                # Bad input: a clear error with a code, nothing changed.
                for args, code in ((["vcpupin", NAME, "5", "0"], "INVALID_ARG"),
                                   (["vcpupin", NAME, "0", "4096"], "NO_CORE"),
                                   (["setreliability", NAME, "bogus"], "INVALID_ARG"),
                                   (["vcpupin", "nosuch-" + NAME, "0", "0"], "NO_DOMAIN")):
                    p = subprocess.run([UNISH, "-c", uri, *args], capture_output=True, text=True, timeout=60)
                    self.assertEqual(p.returncode, 1)
                    self.assertIn(f"({code})", p.stderr)
                p = subprocess.run([UNISH, "-r", "-c", uri, "vcpupin", NAME, "1", "0"], capture_output=True, text=True,
                                   timeout=60)
                self.assertIn("(ACCESS_DENIED)", p.stderr)
                self.assertEqual(os.sched_getaffinity(tid), {1})
                run(UNISH, "-c", uri, "vcpupin", NAME, "1", cpu_list(sorted(before)))
                self.assertEqual(os.sched_getaffinity(tid), before)
                # The class, in the domain's metadata as virsh reads it.
                for cls in ("low", "high"):
                    run(UNISH, "-c", uri, "setreliability", NAME, cls)
                    meta = run("virsh", "-c", "qemu:///system", "metadata", NAME, "urn:uniserver:libvirt:1").stdout
                    self.assertIn(f"<reliability>{cls}</reliability>", meta)
                    self.assertEqual(run(UNISH, "-c", uri, "reliability", NAME).stdout.strip(), cls)
        self.assertEqual(pid, qemu_pid())

    def test_binary_path_under_libvirt(self):
        r = unish_json("uniserver:///system?kvmstats=binary", "domstats", NAME, "--record", "--select", "kvm,dom.stale")[NAME]
        self.assertEqual(r.get("dom.kvmstats_source"), "binary", r.get("absent"))
        self.assertGreater(r["dom.kvm.exits"], 0)
        state = run("virsh", "-c", "qemu:///system", "domstate", NAME).stdout.strip()
        self.assertEqual(state, "running")
        self.assertEqual(unish_json("uniserver:///system", "domstats", NAME, "--record", "--select", "dom.stale")[NAME]["dom.stale"], 0)


def main():
    if os.geteuid() != 0:
        skip("a libvirtd of the test's own, with QEMU/KVM guests, needs root")
    if not os.path.exists("/dev/kvm") or not shutil.which("qemu-system-x86_64") or not os.path.exists(GUEST):
        skip("needs /dev/kvm, qemu-system-x86_64 and the tiny guest")
    if not shutil.which("virsh"):
        skip("no virsh (libvirt-clients)")
    if not (shutil.which("libvirtd") or os.path.exists("/usr/sbin/libvirtd")) or \
            not os.path.exists("/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so"):
        skip("no libvirtd with its QEMU driver (libvirt-daemon, libvirt-daemon-driver-qemu)")
    if not os.path.exists("/usr/share/qemu/qboot.rom"):
        skip("no /usr/share/qemu/qboot.rom (qemu-system-data)")
    if os.environ.get("UNI_LIBVIRTD_NS") != "1":
        # Again in a mount namespace of its own (unshare execs: the same pid, for meson's timeout).
        os.environ["UNI_LIBVIRTD_NS"] = "1"
        os.execvp("unshare", ["unshare", "--mount", "--propagation", "private", "--", sys.executable,
                              os.path.abspath(__file__)])
    tmp = tempfile.mkdtemp(prefix="uni-libvirtd-")
    try:
        private_libvirt(tmp)
        start_libvirtd(tmp)
        ok = unittest.main(verbosity=2, exit=False).result.wasSuccessful()
    finally:
        stop_libvirtd()
    if not ok:
        with open(os.path.join(tmp, "libvirtd.log")) as f:
            print("the test's libvirtd said:\n" + f.read())
    shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
