#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""uniserverd's /metrics: promtool lints the classic text, python3-prometheus-client parses the
OpenMetrics strictly, no series appears twice, gzip, errors, basic auth; and a real Prometheus
scrapes two daemons (this host, a fixture host) and its query API returns their values."""
import gzip
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request
import base64

from testlib import Uniserverd, free_port

SRC = os.environ["SRCDIR"]


def Daemon(uri, *extra):
    return Uniserverd(uri, "--interval", "200", *extra, metrics_port=free_port(), settle_s=0.5, prefix="uni-metrics-")


def series_of(text):
    out = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            out.append(line.rsplit(" ", 1)[0])
    return out


class Exposition(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon("test:///default", "--config", "/dev/null")

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def test_classic_promtool(self):
        st, h, body = self.d.get()
        self.assertEqual(st, 200)
        self.assertTrue(h["Content-Type"].startswith("text/plain; version=0.0.4"))
        p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
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
        conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
        conf.write("metrics_basic_auth = scraper:s3cret\n")
        conf.close()
        d = Daemon("test:///default", "--config", conf.name)
        try:
            self.assertEqual(d.get()[0], 401)
            bad = base64.b64encode(b"scraper:wrong").decode()
            self.assertEqual(d.get(headers={"Authorization": "Basic " + bad})[0], 401)
            good = base64.b64encode(b"scraper:s3cret").decode()
            st, _, body = d.get(headers={"Authorization": "Basic " + good})
            self.assertEqual(st, 200)
            self.assertIn(b"uniserver_host_cpu_number", body)
        finally:
            d.stop()
            os.unlink(conf.name)


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
