#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""uniserverd and uni-healthd against a hostile local user and against faults: the runtime
directory and its sockets (a symlink swap, a directory others may write, umask 077), one instance
and one writer (simultaneous starts, the pid file, a HealthLog through a symlink or a hard link),
client limits a user cannot turn against root, clients that do not read, the fd limit, an error
too long for the wire, TLS identity, a damaged HealthLog, and the small ones. The unprivileged
user is nobody (setpriv); the suite runs as root, and says SKIP where it does not."""
import fcntl
import json
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

from testlib import UNISERVERD as DAEMON, connect, error_of, frame, free_port, make_pki, opened, read_reply

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


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


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
            s = None
            try:
                s = connect(self.ro)
                s.sendall(frame(1, struct.pack(">I", 0)))
                r = read_reply(s)
                if r and r["status"] == 0:
                    return True
            except OSError:
                pass
            finally:
                if s:
                    s.close()
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


    def test_background_daemons_keep_no_inherited_descriptor(self):
        # Started in the background by a script that holds a lock (flock(1) around a test suite),
        # a daemon must not carry the lock's descriptor on: it would hold the lock for its whole
        # life (daemon(7): close every inherited descriptor above stderr).
        lock = os.path.join(self.tmp, "held.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.set_inheritable(fd, True)
        root = os.path.join(self.tmp, "tree")
        shutil.copytree(os.path.join(SRC, "tests", "fixtures", "x86-acpi"), root, symlinks=True)
        pids = {}
        for name, argv in (("uniserverd", [os.path.join(BUILD, "bin", "uniserverd"), "--runtime-dir",
                                           os.path.join(self.tmp, "run"), "--uri", "test:///default",
                                           "--pid-file", os.path.join(self.tmp, "d.pid")]),
                           ("uni-healthd", [HEALTHD, "--db", os.path.join(self.tmp, "h.db"), "--procfs",
                                            root + "/proc", "--sysfs", root + "/sys", "--set", "trace=no",
                                            "--set", "retention_days=0", "--pid-file",
                                            os.path.join(self.tmp, "h.pid")])):
            pidf = argv[-1]
            r = subprocess.run(argv, pass_fds=(fd,), capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            for _ in range(100):
                if os.path.exists(pidf) and os.path.getsize(pidf):
                    break
                time.sleep(0.05)
            with open(pidf) as f:
                pids[name] = int(f.read())
        os.close(fd)
        try:
            for name, pid in pids.items():
                held = [os.readlink(f"/proc/{pid}/fd/{n}") for n in os.listdir(f"/proc/{pid}/fd")]
                self.assertNotIn(lock, held, f"{name} kept the lock its starter held: {held}")
            # And the lock is free again once its holder closed it.
            fd2 = os.open(lock, os.O_RDWR)
            fcntl.flock(fd2, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.close(fd2)
        finally:
            for pid in pids.values():
                os.kill(pid, signal.SIGTERM)
            for pid in pids.values():
                for _ in range(100):
                    if not os.path.exists(f"/proc/{pid}"):
                        break
                    time.sleep(0.05)


class OneWriter(unittest.TestCase):
    def test_healthlog_through_symlink_and_hard_link(self):
        tmp = tempfile.mkdtemp(prefix="uni-harden-")
        root = os.path.join(tmp, "host")
        shutil.copytree(os.path.join(SRC, "tests", "fixtures", "health-x86"), root, symlinks=True)
        db = os.path.join(tmp, "healthlog.db")
        args = ["--procfs", os.path.join(root, "proc"), "--sysfs", os.path.join(root, "sys"), "--set", "retention_days=0"]
        first = subprocess.Popen([HEALTHD, "-f", "--db", db, *args], stderr=subprocess.DEVNULL)
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


# As user nobody: open up to N connections on the read-only socket (CONNECT_OPEN each), say how
# many were served, and hold them until stdin closes.
HOLDER = r'''
import resource, sys, testlib
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
path, n = sys.argv[1], int(sys.argv[2])
held = []
for i in range(n):
    try:
        held.append(testlib.opened(path))
    except Exception:
        pass
print(len(held), flush=True)
sys.stdin.read()
'''

# As user nobody: N read-only clients that send calls for the whole record and never read a
# reply, until the daemon stops reading them (the send would block) or 10 s pass; then hold.
NONREADER = r'''
import socket, struct, sys, time, testlib
path, n = sys.argv[1], int(sys.argv[2])
socks = [testlib.opened(path) for _ in range(n)]
call = b"".join(testlib.frame(4, struct.pack(">III", 0, 0, 0), serial=i) for i in range(2, 66))
deadline = time.monotonic() + 10
blocked = 0
for s in socks:
    s.setblocking(False)
    while time.monotonic() < deadline:
        try:
            s.send(call)
        except BlockingIOError:
            blocked += 1
            break
        except OSError:
            break
print(blocked, flush=True)
sys.stdin.read()
'''


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])


class Clients(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="uni-harden-")
        os.chmod(self.tmp, 0o755)
        self.d = None

    def tearDown(self):
        if self.d:
            self.d.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, *extra, **kw):
        self.d = Daemon(os.path.join(self.tmp, "run"), *extra, **kw)
        self.assertTrue(self.d.wait_serving(), self.d.log())
        return self.d

    def root_served(self, ro=False):
        uri = f"uniserver+unix:///{'ro' if ro else 'system'}?socket={self.d.ro if ro else self.d.rw}&timeout=3000"
        rc, out, err = unish(uri, "hostgovernor")
        return rc == 0 and out == "mixed\n"

    def hold(self, n):
        h = nobody_py(HOLDER, self.d.ro, str(n), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        return h, int(h.stdout.readline())

    @need_root
    def test_unprivileged_user_cannot_lock_root_out(self):
        # With the defaults, nobody gets its share (max_clients_per_uid) and no more; with that
        # share lifted, the read-only socket's limit still keeps the rest for root.
        d = self.start()
        h, n = self.hold(1100)
        try:
            self.assertEqual(n, 32)
            self.assertTrue(self.root_served(), d.log())
            self.assertTrue(self.root_served(ro=True), d.log())
        finally:
            h.stdin.close()
            h.wait()
        d.stop()
        d = self.start("--max-clients", "64", "--max-clients-per-uid", "1000")
        h, n = self.hold(200)
        try:
            self.assertEqual(n, 48)  # 64, less a quarter kept for the read-write socket
            self.assertTrue(self.root_served(), d.log())
            self.assertIn("max_ro_clients is 48", d.log())
            self.assertIn("read-only clients already (max_ro_clients)", d.log())
        finally:
            h.stdin.close()
            h.wait()

    def test_idle_opened_client_dropped_and_library_reconnects(self):
        d = self.start("--client-idle-timeout", "500")
        s = opened(d.ro)
        time.sleep(2.5)  # the sweep runs every second
        self.assertEqual(s.recv(16), b"")
        s.close()
        self.assertIn("sent no call for client_idle_timeout_ms", d.log())
        # The library notices the closed connection before its next call and opens a new one.
        env = dict(os.environ, PYTHONPATH=os.path.join(BUILD, "python"))
        if os.environ.get("UNI_PYTHON_PRELOAD"):
            env.update(LD_PRELOAD=os.environ["UNI_PYTHON_PRELOAD"], ASAN_OPTIONS="detect_leaks=0")
        script = ("import sys, time, uniserver\n"
                  "c = uniserver.open(sys.argv[1])\n"
                  "a = c.getHostGovernor()\n"
                  "time.sleep(2.5)\n"
                  "print(a, c.getHostGovernor())\n")
        p = subprocess.run(["/usr/bin/python3", "-c", script, f"uniserver+unix:///ro?socket={d.ro}"],
                           capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split(), ["mixed", "mixed"])
        self.assertGreaterEqual(d.log().count("sent no call for client_idle_timeout_ms"), 2)

    @need_root
    def test_clients_that_do_not_read(self):
        # 16 clients of nobody's call and never read: the daemon stops reading them once a
        # client has max_client_queue unread, so its resident memory stays within 16 such
        # queues (and a margin), where it grew by 64 MiB a client before; root is served.
        d = self.start()
        time.sleep(0.5)
        base = status_kb(d.proc.pid, "VmHWM")
        h = nobody_py(NONREADER, d.ro, "16", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            blocked = int(h.stdout.readline())
            self.assertTrue(self.root_served(), d.log())
            hwm, rss = status_kb(d.proc.pid, "VmHWM"), status_kb(d.proc.pid, "VmRSS")
            print(f"# 16 non-reading clients: daemon peak RSS {base} kB -> {hwm} kB, now {rss} kB; {blocked} of 16 "
                  f"were stopped being read")
            self.assertEqual(blocked, 16)
            if os.environ.get("UNI_SANITIZED"):
                print("# RSS not judged: ASan's quarantine keeps freed memory")
            else:
                self.assertLess(hwm - base, 16 * 2 * 1024 + 8192)
        finally:
            h.stdin.close()
            h.wait()

    @need_root
    def test_fd_limit(self):
        # Started with 128 fds: the client limits come down to fit, nobody holding every
        # read-only slot leaves root served, and the daemon idles. Then the limit is cut under
        # the fds it has: accept fails, the daemon says so and waits instead of spinning, and
        # serves again once there are fds.
        def low():
            import resource
            resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))
        d = self.start("--max-clients-per-uid", "1000", preexec=low)
        self.assertIn("the file descriptor limit is 128: max_clients lowered to", d.log())
        h, n = self.hold(200)
        try:
            self.assertGreater(n, 10)
            self.assertTrue(self.root_served(), d.log())
            t0 = cpu_ticks(d.proc.pid)
            time.sleep(2)
            self.assertLess(cpu_ticks(d.proc.pid) - t0, 20, "the daemon used over 10 % of a core")
            nfd = len(os.listdir(f"/proc/{d.proc.pid}/fd"))
            subprocess.run(["prlimit", f"--pid={d.proc.pid}", f"--nofile={nfd}:128"], check=True)
            waiting = [connect(d.rw) for _ in range(3)]
            time.sleep(0.5)
            t0 = cpu_ticks(d.proc.pid)
            time.sleep(2)
            spent = cpu_ticks(d.proc.pid) - t0
            self.assertLess(spent, 20, f"out of fds, the daemon used {spent} ticks in 2 s")
            self.assertIn("not accepting for 1 s", d.log())
            subprocess.run(["prlimit", f"--pid={d.proc.pid}", "--nofile=128:128"], check=True)
            for s in waiting:
                s.close()
            time.sleep(1.5)
            self.assertTrue(self.root_served(), d.log())
        finally:
            h.stdin.close()
            h.wait()


class Errors(unittest.TestCase):
    def test_64k_error_answered_and_connection_kept(self):
        tmp = tempfile.mkdtemp(prefix="uni-harden-")
        d = Daemon(os.path.join(tmp, "run"))
        try:
            self.assertTrue(d.wait_serving(), d.log())
            s = opened(d.ro)
            name = b"x" * 65536
            s.sendall(frame(4, struct.pack(">III", 1, 1, len(name)) + name + struct.pack(">I", 0), serial=2))
            r = read_reply(s)
            self.assertIsNotNone(r, "no answer to a call whose error is 64 KiB long")
            self.assertEqual((r["status"], r["serial"]), (1, 2))
            code, msg = error_of(r)
            self.assertLess(len(msg), 1200)
            self.assertRegex(msg, r"^'x+\.\.\. \[\d+ bytes cut\]$")
            s.sendall(frame(4, struct.pack(">III", 0, 0, 0), serial=3))
            r = read_reply(s)
            self.assertEqual((r["status"], r["serial"]), (0, 3))
            s.close()
        finally:
            d.stop()
            shutil.rmtree(tmp, ignore_errors=True)


class DamagedHealthLog(unittest.TestCase):
    def test_damaged_database_refused_and_moved_aside(self):
        tmp = tempfile.mkdtemp(prefix="uni-harden-")
        try:
            root = os.path.join(tmp, "host")
            shutil.copytree(os.path.join(SRC, "tests", "fixtures", "health-x86"), root, symlinks=True)
            db = os.path.join(tmp, "healthlog.db")
            args = [HEALTHD, "--once", "--db", db, "--procfs", os.path.join(root, "proc"), "--sysfs",
                    os.path.join(root, "sys"), "--set", "retention_days=0"]
            p = subprocess.run(args, capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            # Damage a table uni-healthd does not write at start (its root page claims cells it
            # has not): the file still opens and takes events, but quick_check fails.
            c = sqlite3.connect(db)
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            (page,) = c.execute("SELECT rootpage FROM sqlite_master WHERE name = 'links'").fetchone()
            (size,) = c.execute("PRAGMA page_size").fetchone()
            c.close()
            with open(db, "r+b") as f:
                f.seek((page - 1) * size + 3)
                f.write(b"\x00\x07")
            before = read_bytes(db)
            p = subprocess.run(args, capture_output=True, text=True, timeout=60)
            self.assertNotEqual(p.returncode, 0, "a damaged HealthLog was written to")
            self.assertIn("is damaged (quick_check:", p.stderr)
            self.assertIn("--move-damaged", p.stderr)
            self.assertEqual(read_bytes(db), before)
            p = subprocess.run(args + ["--move-damaged"], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            aside = [n for n in os.listdir(tmp) if n.startswith("healthlog.db.damaged-") and "-wal" not in n and
                     "-shm" not in n]
            self.assertEqual(len(aside), 1, os.listdir(tmp))
            self.assertEqual(read_bytes(os.path.join(tmp, aside[0])), before)
            self.assertIn("is kept as", p.stderr)
            c = sqlite3.connect(db)
            self.assertEqual(c.execute("PRAGMA quick_check").fetchone(), ("ok",))
            c.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class SmallOnes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="uni-harden-")
        cls.port = free_port()
        cls.d = Daemon(os.path.join(cls.tmp, "run"), "--metrics-listen", f"127.0.0.1:{cls.port}")
        assert cls.d.wait_serving(), cls.d.log()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_embedded_nul_refused(self):
        s = opened(self.d.ro)
        name = b"host.mem\0evil"
        s.sendall(frame(4, struct.pack(">III", 1, 1, len(name)) + name + b"\0" * (-len(name) % 4) + struct.pack(">I", 0),
                        serial=2))
        r = read_reply(s)
        self.assertEqual(r["status"], 1)
        self.assertEqual(error_of(r)[1], "malformed arguments")
        s.sendall(frame(4, struct.pack(">III", 0, 0, 0), serial=3))
        self.assertEqual(read_reply(s)["status"], 0)
        s.close()

    def test_one_domain_named_four_times(self):
        s = opened(self.d.ro)
        uuid = b"7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a61"  # vm-1's: a domain with a UUID is matched by it
        dom = struct.pack(">I", 4) + b"vm-1" + struct.pack(">I", len(uuid)) + uuid + b"\0" * (-len(uuid) % 4) + \
            struct.pack(">Iq", 1, -1)
        s.sendall(frame(21, struct.pack(">IIII", 0, 0, 1, 4) + dom * 4 + struct.pack(">I", 0), serial=2))
        r = read_reply(s)
        self.assertEqual(r["status"], 0, r["status"] and error_of(r))
        self.assertEqual(struct.unpack(">I", r["body"][:4])[0], 1)  # vm-1, once
        s.close()

    def test_http11_host_header(self):
        for head, want in ((b"GET /metrics HTTP/1.1\r\n\r\n", b" 400 "),
                           (b"GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", b" 400 "),
                           (b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", b" 200 "),
                           (b"GET /metrics HTTP/1.0\r\n\r\n", b" 200 ")):
            c = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            c.sendall(head)
            self.assertIn(want, c.recv(64), head)
            c.close()

    def test_fifo_in_a_source_tree(self):
        tree = os.path.join(self.tmp, "tree")
        shutil.copytree(os.path.join(SRC, "tests", "fixtures", "x86-acpi"), tree, symlinks=True)
        os.unlink(os.path.join(tree, "proc", "meminfo"))
        os.mkfifo(os.path.join(tree, "proc", "meminfo"))
        uri = f"uniserver:///system?procfs={tree}/proc&sysfs={tree}/sys"
        try:
            rc, out, err = unish(uri, "--json", "hostmemstats")
        except subprocess.TimeoutExpired:
            self.fail("a FIFO in the source tree blocked the reader")
        # Refused at once, naming the file (meminfo is found at open: without it there is no host).
        self.assertEqual(rc, 1, out)
        self.assertIn("proc/meminfo: Invalid argument", err)


class TlsIdentity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("certtool"):
            raise unittest.SkipTest("certtool (gnutls-bin) is not installed")
        cls.tmp = tempfile.mkdtemp(prefix="uni-harden-pki-")
        make_pki(cls.tmp, {"client": "cn = client\ntls_www_client\n", "ops": "cn = ops-1\no = Example\ntls_www_client\n"})
        # Client pki directories: each with the CA and one certificate as the client's.
        for name, cert in (("client", "client"), ("ops", "ops"), ("server", "server")):
            os.mkdir(os.path.join(cls.tmp, "as-" + name))
            shutil.copy(os.path.join(cls.tmp, "cacert.pem"), os.path.join(cls.tmp, "as-" + name))
            shutil.copy(os.path.join(cls.tmp, cert + "cert.pem"), os.path.join(cls.tmp, "as-" + name, "clientcert.pem"))
            shutil.copy(os.path.join(cls.tmp, cert + "key.pem"), os.path.join(cls.tmp, "as-" + name, "clientkey.pem"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def daemon(self, *extra):
        self.port = free_port()
        p = lambda n: os.path.join(self.tmp, n)
        d = Daemon(os.path.join(self.tmp, f"run{self.port}"), "--listen-tls", f"127.0.0.1:{self.port}", "--tls-cert",
                   p("servercert.pem"), "--tls-key", p("serverkey.pem"), "--tls-ca", p("cacert.pem"), *extra)
        self.assertTrue(d.wait_serving(), d.log())
        return d

    def call(self, who, *args):
        uri = f"uniserver+tls://localhost:{self.port}/system?pkipath={self.tmp}/as-{who}&timeout=5000"
        return unish(uri, *args)

    def test_server_certificate_refused_as_client(self):
        d = self.daemon()
        try:
            self.assertEqual(self.call("client", "hostgovernor")[:2], (0, "mixed\n"))
            rc, out, err = self.call("server", "hostgovernor")
            self.assertEqual((rc, out), (1, ""), "a server's certificate was taken for a client's")
            self.assertIn("RPC_FAILED", err)
        finally:
            rc, log = d.stop()
        self.assertIn("not meant for a client", log)

    def test_allowed_dn_list_and_read_only(self):
        d = self.daemon("--tls-allowed-dn", "CN=nobody-else;O=Example,CN=ops-*", "--tls-readonly")
        try:
            rc, out, err = self.call("client", "hostgovernor")
            self.assertEqual((rc, out), (1, ""), "a DN off the list was served")
            self.assertEqual(self.call("ops", "hostgovernor")[:2], (0, "mixed\n"))
            rc, out, err = self.call("ops", "setgovernor", "performance")
            self.assertEqual(rc, 1)
            self.assertIn("ACCESS_DENIED", err)
        finally:
            rc, log = d.stop()
        self.assertIn("is not on tls_allowed_dn_list", log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
