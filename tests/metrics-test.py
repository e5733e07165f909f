#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""uniserverd's /metrics: promtool lints the classic text, python3-prometheus-client parses the
OpenMetrics strictly, no series appears twice, gzip, errors, basic auth, HTTPS; hostile HTTP
clients (truncated, oversized, silent, slow, pipelining, two hundred at once) are answered or
dropped alone; and a real Prometheus scrapes two daemons (this host, a fixture host) and its
query API returns their values."""
import gzip
import http.client
import json
import os
import shutil
import re
import subprocess
import tempfile
import time
import sys
import unittest
import urllib.request
import base64
import socket
import ssl
import threading

from testlib import Uniserverd, free_port

SRC = os.environ["SRCDIR"]
# mkpasswd -m bcrypt s3cret (Debian package whois)
S3CRET_BCRYPT = "$2b$05$y43kwnJcIzo3F.odrhoF1.xJwfAeZY8Tekdus/n53/glHqFwrKEyO"


def Daemon(uri, *extra):
    return Uniserverd(uri, "--interval", "200", *extra, metrics_port=free_port(), settle_s=0.5, prefix="uni-metrics-")


def daemon_with(settings):
    """A daemon on the test driver with @settings as its settings file: (daemon, the file's path)."""
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as conf:
        conf.write(settings)
    return Daemon("test:///default", "--config", conf.name), conf.name


def series_of(text):
    out = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            out.append(line.rsplit(" ", 1)[0])
    return out


class OnTestDriver(unittest.TestCase):
    """A daemon on the test driver with the default settings, for every test of the class."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon("test:///default", "--config", "/dev/null")

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()


class Exposition(OnTestDriver):

    def test_classic_promtool(self):
        st, h, body = self.d.get()
        self.assertEqual(st, 200)
        self.assertTrue(h["Content-Type"].startswith("text/plain; version=0.0.4"))
        p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout + p.stderr, b"", "promtool has something to say")
        # Units said once and right: a _hertz family's HELP does not speak of MHz, a per-second
        # family's HELP not of minutes; a rate precomputed beside its counter and the percentage
        # copy of a ratio are not families (Prometheus computes rates).
        helps = dict(re.findall(r"^# HELP (\S+) (.*)$", body.decode(), re.M))
        for fam, help_ in helps.items():
            if fam.endswith("_hertz"):
                self.assertNotIn("MHz", help_, fam)
                self.assertNotIn("_mhz", help_, fam)
            if fam.endswith("_per_second"):
                self.assertNotIn("per minute", help_, fam)
        for gone in ("uniserver_host_mem_contention_pct_ratio", "uniserver_host_errors_ce_rate_per_second",
                     "uniserver_host_errors_ce_rate_5m_per_second", "uniserver_vm_disk_read_bytes_per_second",
                     "uniserver_vm_net_rx_bytes_per_second", "uniserver_vm_disk_iops_per_second",
                     "uniserver_vm_errors_ce_rate_per_second"):
            self.assertNotIn(gone, helps)
        self.assertIn("uniserver_vm_disk_read_bytes_total", helps)
        s = series_of(body.decode())
        self.assertEqual(len(s), len(set(s)), "a series appears twice")
        text = body.decode()
        self.assertIn('uniserver_host_cpu_freq_hertz{cpu="4"} 1200000000\n', text)
        self.assertIn("uniserver_host_mem_total_bytes 17179869184\n", text)
        self.assertIn('uniserver_host_errors_ce_total{component="dram"}', text)
        self.assertIn('uniserver_host_source_up{source="uniserverd"} 1\n', text)
        self.assertIn('uniserver_host_cpu_governor_info{governor="mixed"} 1\n', text)
        # Every VM's record, labelled with its domain and uuid; KVM statistics under the kernel's names.
        self.assertIn('uniserver_vm_mem_bytes{domain="vm-1",uuid="7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a61"} 2147483648\n', text)
        # vm-2 is an OpenStack instance: its project (Nova's metadata) labels every series of it,
        # and the project's own info series are not repeated (the labels carry them).
        proj = 'project_id="0f1e2d3c4b5a69788796a5b4c3d2e1f0",project_name="webteam"'
        self.assertRegex(text, r'uniserver_vm_kvm_exits_total\{domain="vm-2",uuid="[0-9a-f-]+",' + proj + r'\} \d+')
        self.assertIn('uniserver_vm_openstack_name_info{domain="vm-2",uuid="7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a62",'
                      + proj + ',name="db-1"} 1\n', text)
        self.assertIn('uniserver_vm_reliability_info{domain="vm-2",uuid="7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a62",'
                      + proj + ',reliability="high"} 1\n', text)
        self.assertNotIn("uniserver_vm_openstack_project_id_info", text)
        self.assertNotIn("uniserver_vm_openstack_project_name_info", text)
        self.assertNotRegex(text, r'domain="vm-1"[^}]*project_id')
        self.assertRegex(text, r'uniserver_vm_vcpu_kvm_halt_exits_total\{domain="vm-1",uuid="[0-9a-f-]+",vcpu="1"\} \d+')
        self.assertRegex(text, r'uniserver_vm_disk_device_info\{domain="vm-1",uuid="[0-9a-f-]+",device="0",value="vda"\} 1')

    def test_openmetrics_strict(self):
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
        st, h, body = self.d.get(headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        self.assertEqual(st, 200)
        self.assertTrue(h["Content-Type"].startswith("application/openmetrics-text"))
        text = body.decode()
        self.assertTrue(text.endswith("# EOF\n"))
        fams = list(text_string_to_metric_families(text))
        names = [f.name for f in fams]
        self.assertEqual(len(names), len(set(names)))
        types = {f.name: f.type for f in fams}
        self.assertEqual(types["uniserver_host_cpu_idle_seconds"], "counter")
        self.assertEqual(types["uniserver_host_cpu_governor"], "info")
        units = {f.name: f.unit for f in fams}
        self.assertEqual(units["uniserver_host_cpu_freq_hertz"], "hertz")
        seen = set()
        for f in fams:
            for s in f.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                self.assertNotIn(key, seen)
                seen.add(key)

    def test_gzip_and_errors(self):
        st, h, body = self.d.get(headers={"Accept-Encoding": "gzip"})
        self.assertEqual(h.get("Content-Encoding"), "gzip")
        self.assertIn(b"uniserver_host_cpu_number 8", gzip.decompress(body))
        self.assertEqual(self.d.get("/nope")[0], 404)
        c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=5)
        c.request("POST", "/metrics", body=b"x")
        self.assertEqual(c.getresponse().status, 405)
        c.close()

    def test_basic_auth(self):
        """metrics_basic_auth = USER:HASH with the hash an operator makes with mkpasswd (bcrypt, and
        yescrypt, Debian's default), checked by a real HTTP client (curl): the right password is
        served, a wrong password or user is not, and a plain-text password stops the daemon."""
        for method in ("bcrypt", "yescrypt"):
            p = subprocess.run(["mkpasswd", "-m", method, "-R", "10" if method == "bcrypt" else "5", "s3cret"],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, "mkpasswd (Debian package whois) is needed: " + p.stderr)
            hashed = p.stdout.strip()
            self.assertTrue(hashed.startswith("$2b$10$" if method == "bcrypt" else "$y$"), hashed)
            d, conf = daemon_with(f"metrics_basic_auth = scraper:{hashed}\n")
            try:
                url = f"http://127.0.0.1:{d.port}/metrics"

                def curl(*args):
                    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", *args, url],
                                       capture_output=True, text=True, timeout=30)
                    return r.stdout
                self.assertEqual(curl(), "401")
                self.assertEqual(curl("-u", "scraper:s3cret"), "200")
                self.assertEqual(curl("-u", "scraper:wrong"), "401")
                self.assertEqual(curl("-u", "scraper:s3cre"), "401")
                self.assertEqual(curl("-u", "scrapers:s3cret"), "401")
                self.assertEqual(curl("-u", f"scraper:{hashed}"), "401")  # the hash is not the password
                # Served from the success kept: wrong passwords, however many, do not lock it out.
                self.assertEqual(curl("-u", "scraper:s3cret"), "200")
                r = subprocess.run(["curl", "-sS", "-u", "scraper:s3cret", url], capture_output=True, timeout=30)
                self.assertIn(b"uniserver_host_cpu_number 8\n", r.stdout)
                r = subprocess.run(["curl", "-sS", "-i", url], capture_output=True, timeout=30)
                self.assertIn(b'WWW-Authenticate: Basic realm="uniserverd", charset="UTF-8"', r.stdout)
                self.assertNotIn(b"s3cret", r.stdout)
            finally:
                d.stop()
                os.unlink(conf)
    def test_wrong_passwords_cannot_stall_the_daemon(self):
        """Each wrong password costs a hash (bcrypt cost 12: about a quarter of a second): a flood of
        them may take at most 250 ms of the daemon's loop per second, and the scraper whose
        password was accepted before is still served."""
        p = subprocess.run(["mkpasswd", "-m", "bcrypt", "-R", "12", "s3cret"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        d, conf = daemon_with(f"metrics_basic_auth = scraper:{p.stdout.strip()}\n")
        good = {"Authorization": "Basic " + base64.b64encode(b"scraper:s3cret").decode()}
        bad = {"Authorization": "Basic " + base64.b64encode(b"scraper:wrong").decode()}
        stop = threading.Event()

        def cpu_s():
            with open(f"/proc/{d.proc.pid}/stat") as f:
                w = f.read().rsplit(")", 1)[1].split()
            return (int(w[11]) + int(w[12])) / os.sysconf("SC_CLK_TCK")

        def flood():
            # 20 wrong passwords a second each, 80 in all: without the cap 20 s of hashing a second
            # (the loop saturated); with it at most 0.25 s, and 80 refusals cost little beside.
            while not stop.is_set():
                d.get(headers=bad)
                time.sleep(0.05)
        def scrape(seconds):
            """The accepted scraper every 0.2 s for SECONDS: its statuses, and the daemon's CPU share."""
            served, c0, t0 = [], cpu_s(), time.monotonic()
            while time.monotonic() - t0 < seconds:
                served.append(d.get(headers=good)[0])
                time.sleep(0.2)
            return served, (cpu_s() - c0) / (time.monotonic() - t0)
        try:
            self.assertEqual(d.get(headers=good)[0], 200)
            # What the daemon costs without the flood (its sampler thread, the scraper; several
            # times more under ASan), then with it: the difference is the flood's.
            _, idle = scrape(2)
            threads = [threading.Thread(target=flood) for _ in range(4)]
            for t in threads:
                t.start()
            served, share = scrape(4)
            stop.set()
            for t in threads:
                t.join()
            # 250 ms of hashing per second is 25 % of a core; the rest of 80 refusals a second
            # (accept, parse, answer 401) is small beside it. Without the cap the flood takes the
            # whole loop.
            self.assertLess(share - idle, 0.4, f"the daemon took {share:.0%} of a core under the flood, "
                            f"{idle:.0%} without it")
            self.assertEqual(set(served), {200})
            print(f"wrong-password flood: {share - idle:.2f} of a core (bound 0.4; the hashing budget 0.25)",
                  file=sys.stderr)
        finally:
            stop.set()
            d.stop()
            os.unlink(conf)

    def test_plain_password_refused(self):
        # A password in plain text (or a hash cut short) stops the daemon, saying what to write.
        tmp = tempfile.mkdtemp(prefix="uni-metrics-")
        try:
            for value, why in (("scraper:s3cret", "metrics_basic_auth: the password must be a bcrypt ($2b$) or "
                                                  "yescrypt ($y$) hash, not plain text: make one with 'mkpasswd -m "
                                                  "bcrypt -R 12' (Debian package whois) and write USER:HASH"),
                               ("scraper:$2b$10$abc", "is not a whole bcrypt or yescrypt hash")):
                p = subprocess.run([os.path.join(os.environ["BUILDDIR"], "bin", "uniserverd"), "-f", "--runtime-dir",
                                    os.path.join(tmp, "run"), "--uri", "test:///default", "--metrics-listen",
                                    f"127.0.0.1:{free_port()}", "--set", f"metrics_basic_auth={value}"],
                                   capture_output=True, text=True, timeout=30)
                self.assertNotEqual(p.returncode, 0)
                self.assertIn(why, p.stdout + p.stderr)
                self.assertNotIn("s3cret", p.stdout + p.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def read_response(f, head=False):
    """One HTTP/1.1 response from the buffered reader f: (status, headers with lower-case names,
    body), or None at the end of the stream."""
    line = f.readline()
    if not line:
        return None
    status = int(line.split(b" ", 2)[1])
    headers = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        k, v = line.decode().split(":", 1)
        headers[k.strip().lower()] = v.strip()
    body = b"" if head else f.read(int(headers.get("content-length", "0")))
    return status, headers, body


class Raw:
    """A raw connection to the daemon's /metrics port, for what http.client will not send."""

    def __init__(self, port, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.s.makefile("rb")

    def send(self, data):
        self.s.sendall(data)
        return self

    def response(self, head=False):
        return read_response(self.f, head)

    def at_eof(self):
        """True once the daemon closed the connection (EOF or reset)."""
        try:
            return self.f.read() is not None
        except (ConnectionResetError, BrokenPipeError):
            return True

    def close(self):
        self.f.close()
        self.s.close()


def get(path, extra=""):
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()


class HostileHttp(OnTestDriver):
    def assertServes(self):
        self.assertTrue(self.d.alive())
        st, _, body = self.d.get()
        self.assertEqual(st, 200)
        self.assertIn(b"uniserver_host_cpu_number 8\n", body)

    def test_truncated_request_then_close(self):
        for partial in (b"GET /metr", b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/pl",
                        b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r"):
            Raw(self.d.port).send(partial).close()
        # A body promised and not sent.
        Raw(self.d.port).send(b"POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nab").close()
        self.assertServes()

    def test_header_too_large(self):
        r = Raw(self.d.port)
        r.send(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        st, h, body = r.response()
        self.assertIn(st, (431, 413))
        self.assertEqual(h.get("connection"), "close")
        self.assertTrue(r.at_eof())
        r.close()
        # Many headers, each small, add up the same way.
        r = Raw(self.d.port)
        r.send(b"GET /metrics HTTP/1.1\r\n" + b"".join(b"X-H%d: %d\r\n" % (i, i) for i in range(2000)) + b"\r\n")
        self.assertIn(r.response()[0], (431, 413))
        r.close()
        # A request body too large to skip.
        r = Raw(self.d.port).send(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 999999999999\r\n\r\n")
        self.assertEqual(r.response()[0], 413)
        r.close()
        self.assertServes()

    def test_malformed(self):
        for req, want in ((b"GET /metrics\r\n\r\n", 400), (b"GET  /metrics HTTP/1.1\r\n\r\n", 400),
                          (b"GET /metrics HTTP/1.1\r\n folded: x\r\n\r\n", 400),
                          (b"GET /metrics HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
                          (b"GET /metrics HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
                          (b"GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
                          (b"GET /metrics HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400),
                          (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),  # TLS on the plain port
                          (b"GET /metrics HTTP/2.0\r\n\r\n", 505),
                          (b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501)):
            r = Raw(self.d.port).send(req)
            resp = r.response()
            self.assertIsNotNone(resp, req)
            self.assertEqual(resp[0], want, req)
            self.assertTrue(r.at_eof(), req)
            r.close()
        self.assertServes()

    def test_wrong_method_and_unknown_path(self):
        r = Raw(self.d.port)
        for method in (b"DELETE", b"PUT", b"OPTIONS", b"BREW"):
            st, h, _ = r.send(method + b" /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").response()
            self.assertEqual(st, 405, method)
            self.assertEqual(h["allow"], "GET, HEAD")
        # A body on a refused POST is skipped: the connection goes on.
        st, _, _ = r.send(b"POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello").response()
        self.assertEqual(st, 405)
        for path, want in (("/nope", 404), ("/metricsx", 404), ("/metrics/", 404), ("/", 200), ("/metrics?x=1", 200),
                           ("http://127.0.0.1/metrics", 200)):
            st, _, body = r.send(get(path)).response()
            self.assertEqual(st, want, path)
        st, h, body = r.send(b"HEAD /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").response(head=True)
        self.assertEqual(st, 200)
        self.assertGreater(int(h["content-length"]), 1000)
        st, _, body = r.send(get("/metrics")).response()  # nothing was left over by HEAD
        self.assertEqual((st, int(h["content-length"]) > 0), (200, True))
        r.close()

    def test_pipelined_in_order(self):
        r = Raw(self.d.port)
        r.send(get("/nope") + get("/metrics") + get("/metrics", "Accept-Encoding: gzip\r\n") + get("/") +
               get("/metrics", "Connection: close\r\n") + get("/never-answered"))
        st1, _, _ = r.response()
        st2, h2, b2 = r.response()
        st3, h3, b3 = r.response()
        st4, _, b4 = r.response()
        st5, h5, b5 = r.response()
        self.assertEqual((st1, st2, st3, st4, st5), (404, 200, 200, 200, 200))
        self.assertIn(b"uniserver_host_cpu_number 8\n", b2)
        self.assertEqual(h3.get("content-encoding"), "gzip")
        self.assertIn(b"uniserver_host_cpu_number 8\n", gzip.decompress(b3))
        self.assertIn(b"/metrics", b4)
        self.assertEqual(h5.get("connection"), "close")
        self.assertTrue(r.at_eof(), "the request after Connection: close was answered")
        r.close()
        # HTTP/1.0 closes unless asked to keep the connection alive.
        r = Raw(self.d.port).send(b"GET /metrics HTTP/1.0\r\n\r\n")
        self.assertEqual(r.response()[0], 200)
        self.assertTrue(r.at_eof())
        r.close()
        r = Raw(self.d.port).send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + b"GET / HTTP/1.0\r\n\r\n")
        self.assertEqual((r.response()[0], r.response()[0]), (200, 200))
        r.close()

    def test_many_keepalive_clients(self):
        nclients, nscrapes = 200, 50
        for _ in range(3):  # every rendering exists before the baseline
            for h in ({}, {"Accept-Encoding": "gzip"}, {"Accept": "application/openmetrics-text"}):
                self.d.get(headers=h)
        before = self.d.rss_kb()
        errors, peak = [], []
        start, done = threading.Barrier(nclients + 1), threading.Barrier(nclients + 1)

        def client(i):
            headers = [{}, {"Accept-Encoding": "gzip"}, {"Accept": "application/openmetrics-text"}][i % 3]
            c = None
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=60)
                c.connect()
                start.wait(timeout=60)
                for _ in range(nscrapes):
                    c.request("GET", "/metrics", headers=headers)
                    r = c.getresponse()
                    body = r.read()
                    if r.status != 200 or not body or r.getheader("Connection") == "close":
                        errors.append(f"client {i}: {r.status}, {len(body)} bytes")
            except Exception as e:  # noqa: BLE001 - every failure is counted
                errors.append(f"client {i}: {e!r}")
            finally:
                try:
                    done.wait(timeout=120)
                except threading.BrokenBarrierError:
                    pass
                if c:
                    c.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(nclients)]
        for t in threads:
            t.start()
        start.wait(timeout=60)
        done.wait(timeout=120)  # every client connected at once, its scrapes done
        peak.append(self.d.rss_kb())
        for t in threads:
            t.join(timeout=60)
        time.sleep(0.3)
        after = self.d.rss_kb()
        self.assertEqual(errors, [])
        print(f"# {nclients} keep-alive clients x {nscrapes} scrapes: RSS {before} kB before, {peak[0]} kB with all "
              f"connected, {after} kB after")
        if os.environ.get("UNI_SANITIZED"):
            print("SKIP-PART: RSS growth not judged under ASan: its quarantine keeps freed memory")
        else:
            self.assertLessEqual(max(peak[0], after) - before, 1024)
        self.assertServes()


class SlowClients(unittest.TestCase):
    def test_silent_and_slow_dropped_others_served(self):
        d, conf = daemon_with("idle_timeout_ms = 1000\n")
        try:
            silent = Raw(d.port)
            slow = Raw(d.port)
            t0 = time.monotonic()
            # The slow one sends a byte every 200 ms: each is progress, but the request never completes in time.
            req = get("/metrics")
            dropped = None
            for i in range(len(req)):
                try:
                    slow.send(req[i:i + 1])
                except OSError:
                    dropped = time.monotonic() - t0
                    break
                # Others are served meanwhile.
                if i % 5 == 0:
                    self.assertEqual(d.get()[0], 200)
                time.sleep(0.2)
            self.assertIsNotNone(dropped, "a client trickling its request was never dropped")
            self.assertLess(dropped, 5)
            self.assertTrue(silent.at_eof())
            self.assertLess(time.monotonic() - t0, 8)
            silent.close()
            slow.close()
            # An idle keep-alive connection goes the same way, once its response is sent.
            r = Raw(d.port)
            self.assertEqual(r.send(get("/")).response()[0], 200)
            self.assertTrue(r.at_eof())
            r.close()
            self.assertEqual(d.get()[0], 200)
        finally:
            rc, log = d.stop()
            os.unlink(conf)
        self.assertIn("sent no complete request in time", log)


class Https(unittest.TestCase):
    def test_https_and_gnutls_loaded_only_then(self):
        if not shutil.which("certtool"):
            self.skipTest("certtool (gnutls-bin) is not installed")
        pki = tempfile.mkdtemp(prefix="uni-metrics-pki-")
        p = lambda n: os.path.join(pki, n)
        with open(p("cert.info"), "w") as f:
            f.write("cn = localhost\ndns_name = localhost\ntls_www_server\nencryption_key\nsigning_key\n"
                    "expiration_days = 2\n")
        subprocess.run(["certtool", "--generate-privkey", "--outfile", p("key.pem")], check=True, capture_output=True)
        subprocess.run(["certtool", "--generate-self-signed", "--load-privkey", p("key.pem"), "--template",
                        p("cert.info"), "--outfile", p("cert.pem")], check=True, capture_output=True)
        with open(p("https.conf"), "w") as f:
            f.write(f"metrics_tls_cert = {p('cert.pem')}\nmetrics_tls_key = {p('key.pem')}\n"
                    f"metrics_basic_auth = scraper:{S3CRET_BCRYPT}\n")
        plain = Daemon("test:///default", "--config", "/dev/null")
        d = Daemon("test:///default", "--config", p("https.conf"))
        port = d.port
        try:
            self.assertFalse([f for f in plain.maps() if "libgnutls" in f], "GnuTLS mapped without TLS")
            self.assertTrue([f for f in d.maps() if "libgnutls" in f])
            self.assertIn(f"serving https://127.0.0.1:{port}/metrics (basic auth)", d.log_text())
            ctx = ssl.create_default_context(cafile=p("cert.pem"))
            good = base64.b64encode(b"scraper:s3cret").decode()
            c = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
            for auth, want in ((None, 401), ("Basic " + good, 200), ("Basic " + good, 200)):
                c.request("GET", "/metrics", headers={"Authorization": auth} if auth else {})
                r = c.getresponse()
                body = r.read()
                self.assertEqual(r.status, want)
            self.assertIn(b"uniserver_host_cpu_number 8\n", body)
            c.close()
            # Plain HTTP on the HTTPS port is refused, and the daemon goes on.
            r = Raw(port).send(get("/metrics"))
            self.assertTrue(r.at_eof())
            r.close()
            self.assertTrue(d.alive())
        finally:
            plain.stop()
            d.stop()
            shutil.rmtree(pki, ignore_errors=True)


class Margins(unittest.TestCase):
    """uniserverd's margins setting: uni-stresslog's margins on /metrics, read again when the file
    changes; a newer or malformed file puts the source down and exports no margin; no file makes
    them absent; the setting is refused on a source that is not local."""

    def wait_for(self, d, needle, present=True):
        deadline = time.monotonic() + 10
        while True:
            body = d.get()[2].decode()
            if (needle in body) == present or time.monotonic() > deadline:
                return body
            time.sleep(0.1)

    def test_margins_file(self):
        fix = os.path.join(SRC, "tests", "fixtures", "xgene2")
        with open(os.path.join(fix, "margins.json")) as f:
            good = f.read()
        tmp = tempfile.mkdtemp(prefix="uni-margins-")
        path = os.path.join(tmp, "margins.json")
        with open(path, "w") as f:
            f.write(good)
        d = Daemon(f"uniserver:///system?procfs={fix}/proc&sysfs={fix}/sys", "--set", f"margins={path}")
        try:
            body = d.get()[2].decode()
            for line in ('uniserver_host_margin_voltage_safe_volts{margin="pmd0:voltage@2400MHz"} 0.91',
                         'uniserver_host_margin_voltage_safe_volts{margin="pmd0:voltage@1200MHz"} 0.875',
                         'uniserver_host_margin_voltage_guard_volts{margin="pmd0:voltage@2400MHz"} 0.005',
                         'uniserver_host_margin_voltage_nominal_volts{margin="pmd1:voltage@2400MHz"} 0.98',
                         'uniserver_host_margin_refresh_safe_seconds{margin="mc0:refresh"} 0.931',
                         'uniserver_host_margin_measured_timestamp_seconds{margin="mc0:refresh"} 1796612400',
                         'uniserver_host_margin_status_info{margin="mc0:refresh",status="budget"} 1',
                         'uniserver_host_margin_partial{margin="mc0:refresh"} 1',
                         'uniserver_host_source_up{source="margins"} 1'):
                self.assertIn(line + "\n", body)
            self.assertNotIn('_safe_volts{margin="pmd1:', body)  # failed at nominal: no safe value
            p = subprocess.run(["promtool", "check", "metrics"], input=body.encode(), capture_output=True)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            # A newer version: down, with the reason, and not one margin.
            with open(path + ".tmp", "w") as f:
                f.write(good.replace('"version": 1', '"version": 2'))
            os.rename(path + ".tmp", path)
            body = self.wait_for(d, 'uniserver_host_source_up{source="margins"} 0')
            self.assertIn(f'uniserver_host_source_last_error_info{{source="margins",last_error="margins file {path}: '
                          f'version 2 is newer than this reader\'s (1): update uniserver"}} 1', body)
            self.assertNotIn("uniserver_host_margin_", body)
            # A new run's file, written in place: its values, not the old ones.
            with open(path, "w") as f:
                f.write(good.replace('"safe": 910, "guard_band": 5', '"safe": 915, "guard_band": 10'))
            body = self.wait_for(d, 'uniserver_host_margin_voltage_safe_volts{margin="pmd0:voltage@2400MHz"} 0.915')
            self.assertIn('uniserver_host_margin_voltage_guard_volts{margin="pmd0:voltage@2400MHz"} 0.01\n', body)
            self.assertIn('uniserver_host_source_up{source="margins"} 1', body)
            # Gone: absent, which is neither up nor down.
            os.unlink(path)
            body = self.wait_for(d, 'uniserver_host_source_state_info{source="margins",state="absent"} 1')
            self.assertIn('uniserver_host_source_state_info{source="margins",state="absent"} 1', body)
            self.assertNotIn('uniserver_host_source_up{source="margins"}', body)
            self.assertNotIn("uniserver_host_margin_", body)
        finally:
            d.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_margins_file_needs_a_local_source(self):
        tmp = tempfile.mkdtemp(prefix="uni-margins-")
        try:
            p = subprocess.run([os.path.join(os.environ["BUILDDIR"], "bin", "uniserverd"), "-f", "--runtime-dir",
                                os.path.join(tmp, "run"), "--uri", "test:///default", "--metrics-listen", "off",
                                "--set", "margins=/tmp/m.json"], capture_output=True, text=True, timeout=30)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("margins applies to a uniserver:/// source (this host), not test:///default",
                          p.stdout + p.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class RealPrometheus(unittest.TestCase):
    def test_scrape_and_query(self):
        if not shutil.which("prometheus"):
            self.skipTest("prometheus is not installed")
        tree = tempfile.mkdtemp(prefix="uni-fixture-")
        shutil.copytree(os.path.join(SRC, "tests", "fixtures", "x86-acpi"), tree, dirs_exist_ok=True, symlinks=True)
        host = Daemon("uniserver:///system", "--config", "/dev/null")
        fix = Daemon(f"uniserver:///system?procfs={tree}/proc&sysfs={tree}/sys", "--config", "/dev/null")
        pdir = tempfile.mkdtemp(prefix="uni-prom-")
        pport = free_port()
        with open(os.path.join(pdir, "prometheus.yml"), "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: host
    static_configs: [{{targets: ['127.0.0.1:{host.port}']}}]
  - job_name: fixture
    static_configs: [{{targets: ['127.0.0.1:{fix.port}']}}]
""")
        prom = subprocess.Popen(["prometheus", f"--config.file={pdir}/prometheus.yml", f"--storage.tsdb.path={pdir}/data",
                                 f"--web.listen-address=127.0.0.1:{pport}"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

        def query(q):
            url = f"http://127.0.0.1:{pport}/api/v1/query?query=" + urllib.parse.quote(q)
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.load(r)["data"]["result"]

        try:
            deadline = time.time() + 40
            got = []
            while time.time() < deadline:
                try:
                    got = query('uniserver_host_cpu_number{job="host"}')
                    if got and query('uniserver_host_cpu_temp_celsius{job="fixture",cpu="3"}'):
                        break
                except OSError:
                    pass
                time.sleep(0.5)
            self.assertTrue(got, "Prometheus never had the host's CPU count")
            self.assertEqual(float(got[0]["value"][1]), os.cpu_count())
            # Core 3 of package 0 is hwmon0's temp5 (label 'Core 3') in the fixture tree.
            t = query('uniserver_host_cpu_temp_celsius{job="fixture",cpu="3"}')
            with open(os.path.join(SRC, "tests", "fixtures", "x86-acpi", "sys", "class", "hwmon", "hwmon0", "temp5_input")) as f:
                want = int(f.read()) / 1000
            self.assertEqual(float(t[0]["value"][1]), want)
            with urllib.request.urlopen(f"http://127.0.0.1:{pport}/api/v1/targets", timeout=5) as r:
                targets = json.load(r)["data"]["activeTargets"]
            self.assertEqual(sorted(x["health"] for x in targets), ["up", "up"], targets)
            print(f"# Prometheus scraped both daemons; CPU count {got[0]['value'][1]}, fixture core 3 at {want} C")
        finally:
            prom.terminate()
            prom.wait(timeout=10)
            host.stop()
            fix.stop()
            shutil.rmtree(pdir, ignore_errors=True)
            shutil.rmtree(tree, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
