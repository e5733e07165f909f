#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""uniserverd and uni-healthd against a hostile local user and against faults: the runtime
directory and its sockets (a symlink swap, a directory others may write, umask 077), one instance
and one writer (simultaneous starts, the pid file, a HealthLog through a symlink or a hard link),
client limits a user cannot turn against root, clients that do not read, the fd limit, an error
too long for the wire, TLS identity, a damaged HealthLog, and the small ones. The unprivileged
user is nobody (setpriv); the suite runs as root, and says SKIP where it does not."""
import os
import pwd
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import unittest

from testlib import UNISERVERD as DAEMON, connect, error_of, frame, opened, read_reply

SRC = os.environ["SRCDIR"]
BUILD = os.environ["BUILDDIR"]
HEALTHD = os.path.join(BUILD, "bin", "uni-healthd")
UNISH = os.path.join(BUILD, "bin", "unish")
TESTS = os.path.join(SRC, "tests")
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
ROOT = os.geteuid() == 0


def need_root(test):
    return unittest.skipUnless(ROOT and shutil.which("setpriv"), "needs root and setpriv to act as user nobody")(test)


def unish(uri, *args):
    p = subprocess.run([UNISH, "-c", uri, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def nobody_py(script, *args, **kw):
    """Run a Python script as user nobody, with tests/ on its path (testlib)."""
    env = dict(os.environ, PYTHONPATH=TESTS)
    env.pop("LD_PRELOAD", None)
    return subprocess.Popen(NOBODY + ["/usr/bin/python3", "-c", script, *args], env=env, text=True, **kw)


def give_to_nobody(path):
    pw = pwd.getpwnam("nobody")
    os.chown(path, pw.pw_uid, pw.pw_gid)


class Daemon:
    """uniserverd -f on a runtime directory of the test's choosing; start() does not wait."""

    def __init__(self, rundir, *extra, uri="test:///default", umask=None, preexec=None, gate=None):
        self.rundir = rundir
        self.ro = os.path.join(rundir, "uniserver-sock-ro")
        self.rw = os.path.join(rundir, "uniserver-sock")
        self.logf = tempfile.NamedTemporaryFile("w+", prefix="uni-harden-log-", delete=False)
        args = [DAEMON, "-f", "--runtime-dir", rundir, "--uri", uri, "--metrics-listen", "off", *extra]
        if gate:  # wait for the FIFO @gate to be closed by the test, then start: many start at once
            args = ["/bin/sh", "-c", 'read x < "$0"; exec "$@"', gate] + args

        def pre():
            if umask is not None:
                os.umask(umask)
            if preexec:
                preexec()

        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=subprocess.STDOUT, preexec_fn=pre)

    def wait_serving(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                opened(self.ro).close()
                return True
            except OSError:
                time.sleep(0.02)
        return False

    def log(self):
        self.logf.flush()
        with open(self.logf.name) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        rc = self.proc.wait(timeout=10)
        text = self.log()
        self.logf.close()
        os.unlink(self.logf.name)
        return rc, text


# A user who can write the runtime directory replaces each temporary socket the daemon makes
# with a symlink to a file of root's, the moment it appears (inotify), hoping that the daemon's
# chmod or chown follows it.
SWAPPER = r'''
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
d, target = sys.argv[1:3]
fd = libc.inotify_init()
libc.inotify_add_watch(fd, d.encode(), 0x100)  # IN_CREATE
print("watching", flush=True)
n = 0
while True:
    buf = os.read(fd, 65536)
    i = 0
    while i < len(buf):
        wd, mask, cookie, ln = struct.unpack_from("iIII", buf, i)
        name = buf[i + 16:i + 16 + ln].rstrip(b"\0").decode()
        i += 16 + ln
        if name.endswith(".tmp"):
            n += 1
            evil = os.path.join(d, ".evil%d" % n)
            try:
                os.symlink(target, evil)
                os.rename(evil, os.path.join(d, name))
            except OSError:
                pass
'''


class RuntimeDirectory(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="uni-harden-")
        os.chmod(self.tmp, 0o755)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    @need_root
    def test_symlink_swap(self):
        # A directory nobody may write, a file of root's mode 0600, and nobody swapping each new
        # socket for a symlink to it. The file's mode and group never change: the daemon refuses
        # the directory (and makes its sockets with the umask, not chmod through a path).
        run = os.path.join(self.tmp, "run")
        os.mkdir(run)
        give_to_nobody(run)
        target = os.path.join(self.tmp, "secret")
        with open(target, "w") as f:
            f.write("root's\n")
        os.chmod(target, 0o600)
        swapper = nobody_py(SWAPPER, run, target, stdout=subprocess.PIPE)
        try:
            self.assertEqual(swapper.stdout.readline().strip(), "watching")
            for attempt in range(20):
                d = Daemon(run, "--sock-group", "nogroup")
                d.wait_serving(5)
                rc, log = d.stop()
                st = os.stat(target)
                self.assertEqual((st.st_mode & 0o777, st.st_gid), (0o600, 0), f"attempt {attempt}: {log}")
                self.assertNotEqual(rc, 0, log)
                self.assertIn("is owned by uid", log)
        finally:
            swapper.kill()
            swapper.wait()

    def test_directory_others_may_write_refused(self):
        cases = []
        open_dir = os.path.join(self.tmp, "world")
        os.mkdir(open_dir)
        os.chmod(open_dir, 0o1777)
        cases.append((open_dir, "writable by others"))
        real = os.path.join(self.tmp, "real")
        os.mkdir(real)
        link = os.path.join(self.tmp, "link")
        os.symlink(real, link)
        cases.append((link, "a symlink"))
        if ROOT:
            theirs = os.path.join(self.tmp, "theirs")
            os.mkdir(theirs)
            give_to_nobody(theirs)
            cases.append((theirs, "is owned by uid"))
        for rundir, needle in cases:
            d = Daemon(rundir)
            self.assertFalse(d.wait_serving(5), rundir)
            rc, log = d.stop()
            self.assertNotEqual(rc, 0, log)
            self.assertIn(needle, log)
            self.assertFalse(os.path.exists(os.path.join(rundir, "uniserver-sock-ro")), log)

    @need_root
    def test_read_only_socket_usable_under_umask_077(self):
        run = os.path.join(self.tmp, "run")
        d = Daemon(run, umask=0o077)
        try:
            self.assertTrue(d.wait_serving(), d.log())
            self.assertEqual(os.stat(run).st_mode & 0o777, 0o755)
            self.assertEqual(os.stat(d.ro).st_mode & 0o777, 0o666)
            self.assertEqual(os.stat(d.rw).st_mode & 0o777, 0o600)
            p = nobody_py("import sys, testlib; testlib.opened(sys.argv[1]).close(); print('served')", d.ro,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = p.communicate(timeout=30)
            self.assertEqual(out.strip(), "served", err)
        finally:
            d.stop()


class OneInstance(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="uni-harden-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_simultaneous_starts(self):
        # Ten times, 20 daemons started together on one directory: exactly one lives, and once
        # the others have gone the survivor's sockets are still there and serve.
        for round_ in range(10):
            run = os.path.join(self.tmp, f"run{round_}")
            gate = os.path.join(self.tmp, f"gate{round_}")
            os.mkfifo(gate)
            ds = [Daemon(run, gate=gate) for _ in range(20)]
            time.sleep(0.2)
            os.close(os.open(gate, os.O_WRONLY))  # all 20 go
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and sum(d.proc.poll() is None for d in ds) > 1:
                time.sleep(0.05)
            alive = [d for d in ds if d.proc.poll() is None]
            logs = [d.stop()[1] for d in ds if d not in alive]
            self.assertEqual(len(alive), 1, f"round {round_}: {len(alive)} alive\n" + "\n".join(logs))
            self.assertTrue(alive[0].wait_serving(), f"round {round_}: the survivor does not serve")
            self.assertTrue(all("another uniserverd" in log for log in logs), "\n".join(logs))
            rc, log = alive[0].stop()
            self.assertEqual(rc, 0, log)

    def test_pid_file(self):
        run = os.path.join(self.tmp, "run")
        pidf = os.path.join(self.tmp, "uniserverd.pid")
        a = Daemon(run, "--pid-file", pidf)
        try:
            self.assertTrue(a.wait_serving(), a.log())
            with open(pidf) as f:
                self.assertEqual(int(f.read()), a.proc.pid)
            # A second instance on the same directory, then one elsewhere with the same pid file:
            # both refused, and neither touches the first one's pid file.
            for rundir, needle in ((run, "another uniserverd"), (os.path.join(self.tmp, "run2"), "held by another")):
                b = Daemon(rundir, "--pid-file", pidf)
                rc, log = b.proc.wait(timeout=10), b.log()
                b.stop()
                self.assertNotEqual(rc, 0, log)
                self.assertIn(needle, log)
                with open(pidf) as f:
                    self.assertEqual(int(f.read()), a.proc.pid, log)
            self.assertTrue(a.wait_serving())
        finally:
            rc, log = a.stop()
        self.assertEqual(rc, 0, log)
        self.assertFalse(os.path.exists(pidf))


class OneWriter(unittest.TestCase):
    def test_healthlog_through_symlink_and_hard_link(self):
        tmp = tempfile.mkdtemp(prefix="uni-harden-")
        root = os.path.join(tmp, "host")
        shutil.copytree(os.path.join(SRC, "tests", "fixtures", "health-x86"), root, symlinks=True)
        db = os.path.join(tmp, "healthlog.db")
        args = ["--procfs", os.path.join(root, "proc"), "--sysfs", os.path.join(root, "sys"), "--set", "retention_days=0"]
        first = subprocess.Popen([HEALTHD, "-f", "--db", db, *args], stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(db + "-wal") and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertIsNone(first.poll())
            os.symlink(db, os.path.join(tmp, "link.db"))
            os.mkdir(os.path.join(tmp, "sub"))
            os.symlink(tmp, os.path.join(tmp, "sub", "up"))
            for name, needle in ((os.path.join(tmp, "link.db"), "another uni-healthd"),
                                 (os.path.join(tmp, "sub", "up", "healthlog.db"), "another uni-healthd")):
                p = subprocess.run([HEALTHD, "--once", "--db", name, *args], capture_output=True, text=True, timeout=60)
                self.assertNotEqual(p.returncode, 0, f"{name}: a second writer ran")
                self.assertIn(needle, p.stderr)
            os.link(db, os.path.join(tmp, "hard.db"))
            p = subprocess.run([HEALTHD, "--once", "--db", os.path.join(tmp, "hard.db"), *args], capture_output=True,
                               text=True, timeout=60)
            self.assertNotEqual(p.returncode, 0, "a second writer through a hard link ran")
            self.assertIn("has 2 names (hard links)", p.stderr)
            self.assertIsNone(first.poll())
        finally:
            first.terminate()
            first.wait(timeout=10)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
