#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What operators install beside the programs: uniserver-pki makes certificates with the right
purposes that uniserverd and unish then use over TLS, and refuses bad input writing nothing; the
example settings files name every setting the daemons know (and nothing else); bash completion
offers unish's commands, the views' among them. (The packages and units themselves:
tests/deb-install-test, make deb-test.)"""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from testlib import Uniserverd, free_port

SRC = os.environ["SRCDIR"]
BUILD = os.environ["BUILDDIR"]
BIN = os.path.join(BUILD, "bin")
PKI = os.path.join(SRC, "src", "tools", "uniserver-pki")


def run(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60, **kw)


class Pki(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="uni-pki-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def purposes(self, cert):
        out = run("certtool", "-i", "--infile", cert).stdout
        return out

    def test_bad_input_writes_nothing(self):
        d = os.path.join(self.dir, "p")
        p = run(PKI, "server", "host1", "--dir", d)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no CA in", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(d, "servercert.pem")))
        for args, err in ((["nosuch"], "unknown command 'nosuch'"), (["client"], "client needs a name"),
                          (["client", "../x", "--dir", d], "is not a host or client name"),
                          (["ca", "--dir", d, "--days", "0"], "--days takes a positive number"),
                          (["ca", "--dir", d, "--bogus"], "unknown option '--bogus'")):
            p = run(PKI, *args)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn(err, p.stderr, args)
        self.assertEqual(os.listdir(d) if os.path.isdir(d) else [], [])
        self.assertEqual(run(PKI, "ca", "--dir", d).returncode, 0)
        p = run(PKI, "ca", "--dir", d)
        self.assertEqual(p.returncode, 1)
        self.assertIn("exists", p.stderr)

    def test_certificates_work_over_tls(self):
        if not shutil.which("certtool"):
            self.skipTest("certtool (gnutls-bin) is not installed")
        d = self.dir
        for args in (["ca"], ["server", "localhost", "--ip", "127.0.0.1"], ["client", "ops"]):
            p = run(PKI, *args, "--dir", d)
            self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("TLS WWW Server", self.purposes(os.path.join(d, "servercert.pem")))
        self.assertIn("TLS WWW Client", self.purposes(os.path.join(d, "ops", "clientcert.pem")))
        self.assertEqual(os.stat(os.path.join(d, "cakey.pem")).st_mode & 0o077, 0)
        port = free_port()
        daemon = Uniserverd("test:///default", "--listen-tls", f"127.0.0.1:{port}", "--tls-cert",
                            os.path.join(d, "servercert.pem"), "--tls-key", os.path.join(d, "serverkey.pem"),
                            "--tls-ca", os.path.join(d, "cacert.pem"))
        try:
            # The unix sockets are up (Uniserverd waited for them); the TLS listener may come a
            # moment later.
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            p = run(os.path.join(BIN, "unish"), "-c", f"uniserver+tls://localhost:{port}/system?pkipath={d}/ops",
                    "hostcpustats")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("host.cpu.count", p.stdout)
        finally:
            rc, log = daemon.stop()
            self.assertEqual(rc, 0, log)


def help_keys(text):
    """The setting names a daemon's --help lists in its settings section."""
    section = text.split("ettings", 1)[1]
    keys = set()
    # A name starts a line, or follows two spaces or ', ' ("syslog = yes|no   pid_file = FILE",
    # "page_ce_threshold = N, page_ce_window_s = S"), never a '|'.
    for m in re.finditer(r"(?:^|  |, )\s*([a-z_]+(?:, [a-z_]+)*) = ", section, re.M):
        keys.update(k.strip() for k in m.group(1).split(","))
    return keys


def example_keys(path):
    return {m.group(1) for m in re.finditer(r"^# ([a-z_]+) =", open(path).read(), re.M)}


class ExampleSettings(unittest.TestCase):
    def test_every_setting_in_the_examples(self):
        for prog, conf in (("uniserverd", "uniserverd.conf"), ("uni-healthd", "uni-healthd.conf")):
            p = run(os.path.join(BIN, prog), "--help")
            self.assertEqual(p.returncode, 0)
            want, got = help_keys(p.stdout), example_keys(os.path.join(SRC, "contrib", "etc", conf))
            self.assertGreater(len(want), 10, prog)
            self.assertEqual(sorted(want - got), [], f"{conf} lacks settings {prog} --help lists")
            self.assertEqual(sorted(got - want), [], f"{conf} names settings {prog} does not know")

    def test_examples_load(self):
        # Every example, as shipped (all commented), is a valid settings file.
        d = tempfile.mkdtemp(prefix="uni-conf-")
        try:
            daemon = Uniserverd("test:///default", "-c", os.path.join(SRC, "contrib", "etc", "uniserverd.conf"),
                                "--metrics-listen", "off", tmp=d)
            rc, log = daemon.stop()
            self.assertEqual(rc, 0, log)
            p = run(os.path.join(BIN, "uni-healthd"), "-c", os.path.join(SRC, "contrib", "etc", "uni-healthd.conf"),
                    "--once", "--db", os.path.join(d, "h.db"), "--procfs", os.path.join(SRC, "tests", "fixtures", "bare", "proc"),
                    "--sysfs", os.path.join(SRC, "tests", "fixtures", "bare", "sys"))
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)


class Completion(unittest.TestCase):
    def test_commands_and_domains(self):
        if not os.path.exists("/usr/share/bash-completion/bash_completion"):
            self.skipTest("bash-completion is not installed")
        script = ("source /usr/share/bash-completion/bash_completion; source %s/contrib/bash-completion/unish; "
                  "complete_line() { COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); COMP_LINE=\"$*\"; "
                  "COMP_POINT=${#COMP_LINE}; _unish; echo \"${COMPREPLY[*]}\"; }; "
                  "complete_line unish host; complete_line unish -c test:///default domstats vm; "
                  "complete_line unish nodestats --w" % SRC)
        p = run("bash", "-c", script, env=dict(os.environ, PATH=BIN + ":" + os.environ["PATH"]))
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 3, p.stderr)
        self.assertIn("hostcpustats", lines[0].split())
        self.assertIn("hostpressure", lines[0].split())  # a view's command, from unish help
        self.assertEqual(lines[1].split(), ["vm-1", "vm-2", "vm-3"])
        self.assertEqual(lines[2].split(), ["--window"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
