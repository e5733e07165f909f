# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the Python tests share: a free TCP port, and uniserverd run in the foreground in its own
runtime directory, waited for until it serves. The scripts under tests/ import it from their own
directory; tests/python/conftest.py puts tests/ on the path for pytest."""
import http.client
import os
import shutil
import socket
import sqlite3
import struct
import subprocess
import tempfile
import time

UNISERVERD = os.path.join(os.environ.get("BUILDDIR", os.path.join(os.path.dirname(__file__), "..", "build")), "bin", "uniserverd")
PROG, VERS = 0x554E4953, 1


def wait_for(pred, what, timeout=10):
    """pred()'s first true value, polled every 50 ms; AssertionError naming WHAT after TIMEOUT s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def healthlog_query(db, sql, *args):
    """Rows of @sql on the HealthLog @db, opened read-only (uni-healthd may be writing it)."""
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Uniserverd:
    """uniserverd -f --runtime-dir DIR --uri URI EXTRA..., its output in DIR/log. Returns once its
    read-only socket exists and, with metrics_port, once that port accepts; raises AssertionError
    with the daemon's log if it exits or does not get there within 10 s. settle_s then waits for a
    further sample (rates want two)."""

    def __init__(self, uri, *extra, metrics_port=None, settle_s=0, tmp=None, prefix="uni-daemon-"):
        self.dir = tempfile.mkdtemp(prefix=prefix, dir=tmp)
        self.port = metrics_port
        self.rw = os.path.join(self.dir, "uniserver-sock")
        self.ro = os.path.join(self.dir, "uniserver-sock-ro")
        self.log = open(os.path.join(self.dir, "log"), "w+")
        args = [UNISERVERD, "-f", "--runtime-dir", self.dir, "--uri", uri]
        if metrics_port:
            args += ["--metrics-listen", f"127.0.0.1:{metrics_port}"]
        args += extra
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not self.serving():
            if not self.alive() or time.monotonic() > deadline:
                rc, text = self.stop()
                raise AssertionError(f"uniserverd did not serve within 10 s (exit code {rc}):\n{text}")
            time.sleep(0.02)
        time.sleep(settle_s)

    def serving(self):
        if not os.path.exists(self.ro):
            return False
        if self.port:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            except OSError:
                return False
        return True

    def alive(self):
        return self.proc.poll() is None

    def uri(self, ro=False):
        return f"uniserver+unix:///{'ro' if ro else 'system'}?socket={self.ro if ro else self.rw}"

    def log_text(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])

    def maps(self):
        """The files it has mapped (its shared libraries), from /proc/PID/maps."""
        with open(f"/proc/{self.proc.pid}/maps") as f:
            return {line.split()[5] for line in f if len(line.split()) > 5}

    def get(self, path="/metrics", headers=None):
        """GET from its /metrics listener: (status, headers, body)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, dict(r.getheaders()), body

    def stop(self):
        """SIGTERM, wait, remove the runtime directory: (exit code, the daemon's log)."""
        if self.alive():
            self.proc.terminate()
        rc = self.proc.wait(timeout=10)
        text = self.log_text()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc, text


# The wire protocol by hand: a call, a reply, an error, a socket, an opened connection.
def frame(proc, body=b"", prog=PROG, vers=VERS, mtype=0, serial=1):
    hdr = struct.pack(">IIiiIi", prog, vers, proc, mtype, serial, 0)
    return struct.pack(">I", 4 + len(hdr) + len(body)) + hdr + body


def read_reply(s):
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            return None
        head += chunk
    (n,) = struct.unpack(">I", head)
    data = b""
    while len(data) < n - 4:
        chunk = s.recv(n - 4 - len(data))
        if not chunk:
            return None
        data += chunk
    prog, vers, proc, mtype, serial, status = struct.unpack(">IIiiIi", data[:24])
    return {"proc": proc, "type": mtype, "serial": serial, "status": status, "body": data[24:]}


def error_of(reply):
    code, n = struct.unpack(">iI", reply["body"][:8])
    return code, reply["body"][8:8 + n].decode()


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    return s


def opened(path):
    s = connect(path)
    s.sendall(frame(1, struct.pack(">I", 0)))
    r = read_reply(s)
    assert r and r["status"] == 0, r
    return s


def make_pki(d, certs, prefix=""):
    """In directory @d: a CA (PREFIXcacert.pem, PREFIXcakey.pem), a server certificate for localhost
    (PREFIXservercert.pem, its key) and one certificate signed by that CA for each NAME: template
    lines of @certs (PREFIXNAMEcert.pem, PREFIXNAMEkey.pem), by certtool (gnutls-bin)."""
    p = lambda n: os.path.join(d, prefix + n)

    def certtool(*args):
        subprocess.run(["certtool", *args], check=True, capture_output=True)

    def tmpl(name, text):
        with open(p(name), "w") as f:
            f.write(text + "expiration_days = 2\n")

    certtool("--generate-privkey", "--outfile", p("cakey.pem"))
    tmpl("ca.info", "cn = uniserver test CA\nca\ncert_signing_key\n")
    certtool("--generate-self-signed", "--load-privkey", p("cakey.pem"), "--template", p("ca.info"), "--outfile",
             p("cacert.pem"))
    all_certs = {"server": "cn = localhost\ndns_name = localhost\ntls_www_server\n", **certs}
    for name, info in all_certs.items():
        certtool("--generate-privkey", "--outfile", p(name + "key.pem"))
        tmpl(name + ".info", info + "encryption_key\nsigning_key\n")
        certtool("--generate-certificate", "--load-privkey", p(name + "key.pem"), "--load-ca-certificate",
                 p("cacert.pem"), "--load-ca-privkey", p("cakey.pem"), "--template", p(name + ".info"), "--outfile",
                 p(name + "cert.pem"))
