#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""uniserverd end to end over its real sockets: the shell through the daemon gives what it gives in
process on the same fixture tree; hostile clients are dropped alone and the daemon's memory does
not grow; TLS refuses clients without a trusted certificate or with the wrong host name; bad
settings are refused at start; SIGTERM shuts down cleanly and removes the sockets."""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest

from testlib import UNISERVERD as DAEMON, Uniserverd, connect, error_of, frame, free_port, make_pki, opened, read_reply

SRC = os.environ["SRCDIR"]
BUILD = os.environ["BUILDDIR"]
UNISH = os.path.join(BUILD, "bin", "unish")


def unish(uri, *args):
    p = subprocess.run([UNISH, "-c", uri, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def Daemon(uri, *extra):
    return Uniserverd(uri, "--interval", "100", *extra, settle_s=0.25)  # a second sample, for rates


class FixtureThroughDaemon(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tree = tempfile.mkdtemp(prefix="uni-fixture-")
        shutil.copytree(os.path.join(SRC, "tests", "fixtures", "x86-acpi"), cls.tree, dirs_exist_ok=True, symlinks=True)
        cls.local = f"uniserver:///system?procfs={cls.tree}/proc&sysfs={cls.tree}/sys"
        cls.d = Daemon(cls.local)

    @classmethod
    def tearDownClass(cls):
        rc, log = cls.d.stop()
        shutil.rmtree(cls.tree, ignore_errors=True)
        assert rc == 0, log

    def test_same_as_in_process(self):
        # The tree does not change, so every value must be equal, rates too: in process over a
        # window of two samples as the daemon's (each rate over counters that did not move: the
        # same 0, or absent for the same reason). Only what depends on the clock or on how long
        # the connection has lived differs: the time at maximum utilisation, the sources' own
        # metrics (durations, error counts, the daemon's own source), and the daemon's ledger
        # (availability, energy per hour and day: uniserverd's own record, absent in process).
        for cmd in ("nodestats", "hostcpustats", "hostmemstats", "hosttemp", "hostgovernor"):
            args = [cmd] + (["--window", "150"] if cmd != "hostgovernor" else [])
            rc1, out1, err1 = unish(self.local, "--json", *args)
            rc2, out2, err2 = unish(self.d.uri(), "--json", *args)
            self.assertEqual((rc1, rc2), (0, 0), err1 + err2)
            a, b = json.loads(out1), json.loads(out2)
            skip = lambda k: k.startswith(("host.source.", "host.availability.")) or k in (
                "window_ms", "absent", "host.cpu.max_util_ms", "host.energy.1h_kwh", "host.energy.24h_kwh")
            self.assertEqual({k: v for k, v in a.get("absent", {}).items() if not skip(k)},
                             {k: v for k, v in b.get("absent", {}).items() if not skip(k)}, cmd)
            ka = {k for k in a if not skip(k)} | {k for k in a.get("absent", {}) if not skip(k)}
            kb = {k for k in b if not skip(k)} | {k for k in b.get("absent", {}) if not skip(k)}
            self.assertEqual(ka, kb, cmd)
            for k in a:
                if not skip(k):
                    self.assertEqual(a[k], b[k], f"{cmd} {k}")
        # Views keep the spec's order through the daemon.
        rc, out, _ = unish(self.d.uri(True), "--json", "hostcpustats")
        self.assertEqual(list(json.loads(out))[1:4], ["host.cpu.count", "host.cpu.reserved_pct", "host.cpu.0.freq_mhz"])

    def test_every_view_everywhere(self):
        # Each row of views.def is a view in C (uniNodeGetView), over the wire (its released
        # procedure, or NODE_GET_VIEW by name), a unish command and a Python method, with no
        # other edit: every view is checked here, so a new row is checked too.
        rows = re.findall(r'V\((\w+), "(\w+)", "(\w+)", "([^"]+)"', open(os.path.join(SRC, "src", "catalog", "views.def")).read())
        self.assertGreaterEqual(len(rows), 12)
        rc, helptext, _ = unish(self.local, "help")
        script = ("import json, sys, uniserver\n"
                  "c = uniserver.open(sys.argv[1])\n"
                  "print(json.dumps({n: getattr(c, n)() for n in sys.argv[2:]}))\n")
        host_views = []
        for enum, spec, cname, cmd in rows:
            if enum == "DOMAIN":
                continue
            host_views.append(spec)
            words = cmd.split()
            self.assertRegex(helptext, rf"\n  {words[0]} ", spec)
            args = words + ([] if spec == "getHostGovernor" else ["--window", "0"] if len(words) == 1 else [])
            rc1, out1, err1 = unish(self.local, "--json", *args)
            rc2, out2, err2 = unish(self.d.uri(True), "--json", *args)
            self.assertEqual((rc1, rc2), (0, 0), f"{spec}: {err1} {err2}")
            a, b = json.loads(out1), json.loads(out2)
            if isinstance(a, dict):
                # The same keys, present or absent (a rate is absent in process with one sample,
                # present through the daemon, which has two).
                keys = lambda j: {k for k in j if k not in ("window_ms", "absent")} | set(j.get("absent", {}))
                self.assertEqual(keys(a), keys(b), spec)
                self.assertTrue(keys(a), spec)
        env = dict(os.environ, PYTHONPATH=os.path.join(BUILD, "python"))
        if os.environ.get("UNI_PYTHON_PRELOAD"):  # the binding built with the sanitizers
            env.update(LD_PRELOAD=os.environ["UNI_PYTHON_PRELOAD"], ASAN_OPTIONS="detect_leaks=0")
        for uri in (self.local, self.d.uri(True)):
            p = subprocess.run(["/usr/bin/python3", "-c", script, uri, *host_views], capture_output=True, text=True,
                               env=env, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            got = json.loads(p.stdout)
            for spec in host_views:
                self.assertIsNotNone(got[spec], f"{spec} through {uri}")
        # A view asked by a name the daemon does not know is a clear error, not a dropped client.
        s = opened(self.d.ro)
        name = b"getNoSuchViewUniserver"
        s.sendall(frame(24, struct.pack(">I", len(name)) + name + b"\0" * (-len(name) % 4) + struct.pack(">I", 0), serial=2))
        r = read_reply(s)
        self.assertEqual(r["status"], 1)
        self.assertEqual(error_of(r), (3, "no view 'getNoSuchViewUniserver'"))
        s.close()

    def test_readonly_socket(self):
        s = connect(self.d.ro)
        s.sendall(frame(1, struct.pack(">I", 0)))
        r = read_reply(s)
        self.assertEqual(r["status"], 0)
        self.assertEqual(struct.unpack(">I", r["body"][:4])[0], 1)  # the daemon says: read-only
        s.close()
        st = os.stat(self.d.ro)
        self.assertEqual(st.st_mode & 0o777, 0o666)
        self.assertEqual(os.stat(self.d.rw).st_mode & 0o777, 0o600)

    def test_every_control_procedure_refused_read_only(self):
        # The list comes from the daemon's own procedure table (src/rpc/procs.def), so a control
        # verb added later is tried here too. Refused before its arguments are decoded: an empty
        # body is enough; on the read-write socket the same empty body is at least understood as
        # that procedure (a malformed-arguments reply, not an unknown procedure).
        p = subprocess.run([DAEMON, "--list-procedures"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = [l.split("\t") for l in p.stdout.splitlines()]
        control = [(int(n), name) for n, name, access in rows if access == "control"]
        self.assertGreaterEqual(len(control), 4)
        self.assertIn((15, "NODE_SET_FREQUENCY"), control)
        ro, rw = opened(self.d.ro), opened(self.d.rw)
        for serial, (num, name) in enumerate(control, 2):
            ro.sendall(frame(num, serial=serial))
            r = read_reply(ro)
            self.assertEqual((r["status"], r["serial"]), (1, serial), name)
            self.assertEqual(error_of(r), (14, "control calls are refused on a read-only connection"), name)
            rw.sendall(frame(num, serial=serial))
            r = read_reply(rw)
            self.assertEqual(r["status"], 1, name)
            self.assertEqual(error_of(r)[1], "malformed arguments", name)
        ro.close()
        rw.close()

    def test_errors_travel_unchanged(self):
        rc, _, err = unish(self.d.uri(), "nodestats", "--select", "host.nope")
        self.assertEqual(rc, 1)
        self.assertIn("'host.nope' is neither a metric group", err)
        self.assertIn("UNKNOWN_METRIC", err)

    def test_hostile_clients(self):
        d = self.d
        rss0 = d.rss_kb()
        for round_ in range(3):
            for i in range(60):
                s = connect(d.rw)
                kind = i % 10
                if kind == 0:  # truncated message, then gone
                    s.sendall(frame(4)[:10])
                elif kind == 1:  # oversized length
                    s.sendall(struct.pack(">I", 0x7FFFFFF0) + b"x" * 100)
                elif kind == 2:  # wrong program
                    s.sendall(frame(1, struct.pack(">I", 0), prog=0x12345678))
                    r = read_reply(s)
                    self.assertEqual(r["status"], 1)
                    self.assertIn("unknown program", error_of(r)[1])
                elif kind == 3:  # wrong version
                    s.sendall(frame(1, struct.pack(">I", 0), vers=99))
                    self.assertEqual(read_reply(s)["status"], 1)
                elif kind == 4:  # unknown procedure, after opening
                    s.sendall(frame(1, struct.pack(">I", 0)))
                    read_reply(s)
                    s.sendall(frame(9999, serial=2))
                    r = read_reply(s)
                    self.assertEqual(error_of(r)[0], 7)  # NO_SUPPORT
                elif kind == 5:  # a call before opening
                    s.sendall(frame(4, struct.pack(">III", 0, 0, 0)))
                    self.assertEqual(error_of(read_reply(s))[0], 6)  # INVALID_CONN
                elif kind == 6:  # malformed arguments: a select array claiming a billion strings
                    s.sendall(frame(1, struct.pack(">I", 0)))
                    read_reply(s)
                    s.sendall(frame(4, struct.pack(">II", 1, 1_000_000_000), serial=3))
                    r = read_reply(s)
                    self.assertEqual(r["status"], 1)
                    self.assertIn("malformed arguments", error_of(r)[1])
                elif kind == 7:  # random bytes
                    s.sendall(os.urandom(512))
                elif kind == 8:  # asks for the whole record and leaves mid-reply
                    s.sendall(frame(1, struct.pack(">I", 0)))
                    read_reply(s)
                    s.sendall(frame(4, struct.pack(">III", 0, 0, 0), serial=2))
                elif kind == 9:  # a reply where a call belongs
                    s.sendall(frame(1, struct.pack(">I", 0), mtype=1))
                s.close()
            # Others are served all along.
            rc, out, err = unish(d.uri(True), "hostmemstats")
            self.assertEqual(rc, 0, err)
            self.assertTrue(d.alive())
        rss1 = d.rss_kb()
        print(f"# daemon RSS {rss0} kB -> {rss1} kB after 180 hostile clients")
        if os.environ.get("UNI_SANITIZED"):
            print("SKIP-PART: RSS growth not judged under ASan: its quarantine keeps freed memory")
        else:
            # The README's promise: under 5 MB resident (measured 3.9-4.1 MB on this host).
            self.assertLess(rss0, 5 * 1024)
            self.assertLess(rss1 - rss0, 4096)

    def test_silent_client_does_not_block_others(self):
        s = connect(self.d.rw)  # connects and never sends
        t0 = time.time()
        rc, _, err = unish(self.d.uri(), "hostmemstats")
        self.assertEqual(rc, 0, err)
        self.assertLess(time.time() - t0, 5)
        s.close()


class DaemonLifecycle(unittest.TestCase):
    def test_idle_client_dropped_and_clean_shutdown(self):
        d = Daemon("test:///default", "--log-level", "info")
        cfg_dir = d.dir
        rc, log = d.stop()
        self.assertEqual(rc, 0)
        self.assertIn("shutting down", log)
        self.assertFalse(os.path.exists(os.path.join(cfg_dir, "uniserver-sock")))
        conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
        conf.write("# test settings\nidle_timeout_ms = 300\nlog_level = info\n")
        conf.close()
        d = Daemon("test:///default", "--config", conf.name)
        s = connect(d.rw)
        time.sleep(1.6)
        s.settimeout(2)
        self.assertEqual(s.recv(10), b"")  # dropped
        s.close()
        rc, log = d.stop()
        os.unlink(conf.name)
        self.assertIn("did not open a connection in time", log)

    def test_bad_settings(self):
        for args, needle in ((["--interval", "abc"], "interval_ms"), (["--log-level", "loud"], "log_level"),
                             (["--listen-tcp", "0.0.0.0:0", "--insecure-tcp"], "loopback"),
                             (["--listen-tcp", "127.0.0.1:0"], "insecure_tcp"), (["--uri", "nosuch:///x"], "nosuch"),
                             (["--bogus"], "unrecognized")):
            d = tempfile.mkdtemp()
            p = subprocess.run([DAEMON, "-f", "--runtime-dir", d, *args], capture_output=True, text=True, timeout=10)
            shutil.rmtree(d, ignore_errors=True)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn(needle, p.stderr, args)
        conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
        conf.write("interval_ms = 100\nnot_a_key = 1\n")
        conf.close()
        p = subprocess.run([DAEMON, "-f", "--config", conf.name], capture_output=True, text=True, timeout=10)
        os.unlink(conf.name)
        self.assertEqual(p.returncode, 2)
        self.assertIn(":2: unknown setting 'not_a_key'", p.stderr)

    def test_domains_through_the_daemon(self):
        d = Daemon("test:///default")
        try:
            rc, out, err = unish(d.uri(True), "--json", "domstats", "--all")
            self.assertEqual(rc, 0, err)
            j = json.loads(out)
            self.assertEqual(sorted(j), ["vm-1", "vm-2", "vm-3"])  # as in process: vm-3 is shut off
            self.assertEqual(j["vm-3"]["dom.state"], "shut off")
            self.assertEqual(j["vm-1"]["dom.uuid"], "7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a61")
            self.assertEqual(j["vm-1"]["dom.mem_mb"], 2048)
            self.assertEqual(j["vm-2"]["dom.cpu.count"], 1)
            rc, out, err = unish(d.uri(), "--json", "domstats", "vm-2")
            self.assertEqual(rc, 0, err)
            self.assertEqual(list(json.loads(out))[1:5], ["dom.mem_pct", "dom.mem_mb", "dom.interrupt_ms", "dom.swap_wait_ms"])
            rc, out, err = unish(d.uri(), "domstats", "no-such-vm")
            self.assertEqual(rc, 1)
            self.assertIn("NO_DOMAIN", err)
            rc, out, err = unish(d.uri(), "--json", "domstats", "--all", "--select", "dom.kvm.")
            self.assertEqual(rc, 0, err)
            self.assertTrue(all(k.startswith("dom.kvm.") for k in json.loads(out)["vm-1"] if k.startswith("dom.")))
        finally:
            d.stop()

    def test_table4_through_the_daemon(self):
        # The spec's Table 4 and the reliability class over the wire, as in process, on the
        # test driver's VMs; pinning and the class are control calls: audited with the caller,
        # refused on the read-only socket, bad input a clear error with nothing changed.
        d = Daemon("test:///default")

        def pinning():
            rc, out, err = unish(d.uri(True), "--json", "domstats", "vm-1", "--record", "--select", "dom.vcpu.1.pinning")
            self.assertEqual(rc, 0, err)
            return json.loads(out)["vm-1"].get("dom.vcpu.1.pinning")

        try:
            for args in (["dominfo", "vm-2"], ["dominfo", "--all"], ["schedinfo", "vm-1"], ["dumpxml", "vm-2"],
                         ["maxvcpus", "vm-1"], ["reliability", "vm-2"]):
                rc1, out1, err1 = unish("test:///default", "--json", *args)
                rc2, out2, err2 = unish(d.uri(True), "--json", *args)
                self.assertEqual((rc1, rc2), (0, 0), err1 + err2)
                # The CPU time is the simulated clock's, which each connection's calls advance.
                self.assertEqual(re.sub(r'"cpu_time_ns": \d+', "", out1), re.sub(r'"cpu_time_ns": \d+', "", out2), args)
            rc, out, _ = unish(d.uri(True), "--json", "dominfo", "--all")
            self.assertEqual([(x["name"], x["state"], x["vcpus"]) for x in json.loads(out)],
                             [("vm-1", "running", 2), ("vm-2", "running", 1), ("vm-3", "shut off", 4)])
            self.assertEqual(pinning(), "0-1")
            rc, out, err = unish(d.uri(), "vcpupin", "vm-1", "1", "5-6")
            self.assertEqual(rc, 0, err)
            rc, out, err = unish(d.uri(True), "--json", "vcpuinfo", "vm-1")
            self.assertEqual([(v["cpu"], v["affinity"]) for v in json.loads(out)], [(0, "0-1"), (5, "5-6")])
            deadline = time.monotonic() + 5
            while pinning() != "5-6" and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(pinning(), "5-6")  # the record after the next sample
            for args, code in ((["vcpupin", "vm-1", "0", "9"], "NO_CORE"), (["vcpupin", "vm-1", "7", "2"], "INVALID_ARG"),
                               (["vcpupin", "vm-9", "0", "2"], "NO_DOMAIN"), (["setreliability", "vm-1", "gold"], "INVALID_ARG")):
                rc, _, err = unish(d.uri(), *args)
                self.assertEqual(rc, 1, args)
                self.assertIn(code, err)
            for args in (["vcpupin", "vm-1", "1", "2"], ["setreliability", "vm-1", "high"]):
                rc, _, err = unish(d.uri(True), *args)
                self.assertEqual(rc, 1)
                self.assertIn("ACCESS_DENIED", err)
            self.assertEqual(pinning(), "5-6")
            self.assertEqual(unish(d.uri(), "reliability", "vm-1")[1], "normal\n")
            self.assertEqual(unish(d.uri(), "setreliability", "vm-1", "low")[0], 0)
            self.assertEqual(unish(d.uri(True), "reliability", "vm-1")[1], "low\n")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                rc, out, _ = unish(d.uri(True), "--json", "domstats", "vm-1", "--record", "--select", "dom.reliability")
                if json.loads(out)["vm-1"].get("dom.reliability") == "low":
                    break
                time.sleep(0.05)
            self.assertEqual(json.loads(out)["vm-1"].get("dom.reliability"), "low")
            log = d.log_text()
            self.assertRegex(log, r"audit: uniDomainPinVcpu by rw pid \d+ uid \d+: domain vm-1 vcpu 1 affinity: '0-1' -> '5-6'")
            self.assertRegex(log, r"audit: uniDomainSetReliability by rw pid \d+ uid \d+: domain vm-1 reliability: '' -> 'low'")
            self.assertEqual(log.count("audit: uniDomain"), 2)  # the refused and bad calls changed nothing
        finally:
            d.stop()

    def test_second_daemon_refused(self):
        d = Daemon("test:///default")
        p = subprocess.run([DAEMON, "-f", "--runtime-dir", d.dir, "--uri", "test:///default"], capture_output=True,
                           text=True, timeout=10)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("another uniserverd", p.stderr)
        self.assertTrue(d.alive())
        d.stop()

    def test_loopback_tcp(self):
        port = free_port()
        d = Daemon("test:///default", "--listen-tcp", f"127.0.0.1:{port}", "--insecure-tcp")
        rc, out, err = unish(f"uniserver+tcp://127.0.0.1:{port}/system", "hostgovernor")
        d.stop()
        self.assertEqual((rc, out), (0, "mixed\n"), err)


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("certtool"):
            raise unittest.SkipTest("certtool (gnutls-bin) is not installed")
        cls.pki = tempfile.mkdtemp(prefix="uni-pki-")
        p = lambda n: os.path.join(cls.pki, n)
        make_pki(cls.pki, {"client": "cn = client\ntls_www_client\n"})
        make_pki(cls.pki, {"client": "cn = intruder\ntls_www_client\n"}, prefix="other-")
        # Client pki dirs: good, none (no client cert), untrusted (cert from another CA)
        for name, files in (("good", {"cacert.pem": "cacert.pem", "clientcert.pem": "clientcert.pem",
                                      "clientkey.pem": "clientkey.pem"}),
                            ("nocert", {"cacert.pem": "cacert.pem"}),
                            ("noca", {"clientcert.pem": "clientcert.pem", "clientkey.pem": "clientkey.pem"}),
                            ("wrongkey", {"cacert.pem": "cacert.pem", "clientcert.pem": "clientcert.pem",
                                          "clientkey.pem": "other-clientkey.pem"}),
                            ("untrusted", {"cacert.pem": "cacert.pem", "clientcert.pem": "other-clientcert.pem",
                                           "clientkey.pem": "other-clientkey.pem"})):
            os.mkdir(p(name))
            for dst, src in files.items():
                shutil.copy(p(src), os.path.join(p(name), dst))
        cls.port = free_port()
        cls.d = Daemon("test:///default", "--listen-tls", f"127.0.0.1:{cls.port}", "--tls-cert", p("servercert.pem"),
                       "--tls-key", p("serverkey.pem"), "--tls-ca", p("cacert.pem"))

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        shutil.rmtree(cls.pki, ignore_errors=True)

    def uri(self, host, pki):
        return f"uniserver+tls://{host}:{self.port}/system?pkipath={os.path.join(self.pki, pki)}&timeout=5000"

    def test_good_client(self):
        rc, out, err = unish(self.uri("localhost", "good"), "--json", "hostmemstats")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["host.mem.total_mb"], 16384)

    def test_gnutls_only_with_tls(self):
        # GnuTLS is loaded when TLS is configured, not linked: a daemon without it does not map it.
        self.assertTrue(any("libgnutls" in f for f in self.d.maps()), "--listen-tls without GnuTLS mapped")
        plain = Daemon("test:///default")
        try:
            self.assertFalse([f for f in plain.maps() if "libgnutls" in f or "libmicrohttpd" in f])
        finally:
            plain.stop()

    def test_refused(self):
        for host, pki, why in (("localhost", "nocert", "no client certificate"),
                               ("localhost", "untrusted", "certificate from another CA"),
                               ("127.0.0.1", "good", "the server's certificate does not name 127.0.0.1")):
            rc, out, err = unish(self.uri(host, pki), "hostmemstats")
            self.assertEqual(rc, 1, why)
            self.assertEqual(out, "", why)
            self.assertIn("RPC_FAILED", err, why)
        self.assertTrue(self.d.alive())

    def test_missing_credentials_say_so(self):
        """A pkipath without the CA (or none at all), or a client certificate with another key, is
        TLS_CREDENTIALS naming the file: not RPC_FAILED, which says the daemon or the network failed."""
        for pki, msg in (("noca", "TLS: no CA certificate in {}/cacert.pem"),
                         ("nosuchdir", "TLS: no CA certificate in {}/cacert.pem"),
                         ("wrongkey", "TLS: cannot load the client certificate {}/clientcert.pem with key "
                                      "{}/clientkey.pem")):
            d = os.path.join(self.pki, pki)
            rc, out, err = unish(self.uri("localhost", pki), "hostmemstats")
            self.assertEqual((rc, out), (1, ""), pki)
            self.assertIn("TLS_CREDENTIALS", err, pki)
            self.assertNotIn("RPC_FAILED", err, pki)
            self.assertIn(msg.format(d, d), err, pki)
        self.assertEqual(sorted(os.listdir(os.path.join(self.pki, "noca"))), ["clientcert.pem", "clientkey.pem"])
        self.assertTrue(self.d.alive())


if __name__ == "__main__":
    unittest.main(verbosity=2)
