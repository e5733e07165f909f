#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""contrib/: the alert rules pass promtool, and every uniserver_* metric the rules and the Grafana
dashboard name is one that uniserver really exports (test driver, fixture hosts, and a fixture host
with a HealthLog for the predictor's metrics), and every name a program exports is in the catalogue; the predictor's alerts fire on the series they are
for and stay silent on a steady risk."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from testlib import Uniserverd, free_port

SRC = os.environ["SRCDIR"]
UNISH = os.path.join(os.environ["BUILDDIR"], "bin", "unish")
HEALTHD = os.path.join(os.environ["BUILDDIR"], "bin", "uni-healthd")
ALERTS = os.path.join(SRC, "contrib", "prometheus-alerts.yml")


def healthlog_up(d, want, timeout=10):
    """Wait until uniserverd's /metrics says uniserver_host_source_up{source="healthlog"} WANT."""
    end = time.monotonic() + timeout
    while True:
        _, _, body = d.get()
        m = re.search(r'^uniserver_host_source_up\{source="healthlog"\} (\S+)$', body.decode(), re.M)
        got = m.group(1) if m else None
        if got == want or time.monotonic() > end:
            return got, body.decode()
        time.sleep(0.05)


def alert_fires(tmp, value):
    """Does UniserverHealthPipelineDown fire after 5 minutes of uniserver_host_source_up{source="healthlog"}
    at VALUE?"""
    return rule_fires("UniserverHealthPipelineDown", 'uniserver_host_source_up{source="healthlog",instance="h"}',
                      f"{value}x10", "5m",
                      want='alertname="UniserverHealthPipelineDown", instance="h", severity="critical"')


def availability_alert_fires(tmp, value):
    """Does UniserverNodeAvailabilityLow fire on uniserver_host_availability_24h_ratio at VALUE?"""
    return rule_fires("UniserverNodeAvailabilityLow", 'uniserver_host_availability_24h_ratio{instance="h"}',
                      f"{value}x10", "2m",
                      want='alertname="UniserverNodeAvailabilityLow", instance="h", severity="warning"')


def daemon_metrics():
    """The /metrics of a uniserverd on the test driver: the host and every simulated VM."""
    # settle: a second sample, and the ledger's availability with it (the first has no time yet).
    d = Uniserverd("test:///default", "--interval", "200", "--log-level", "error", metrics_port=free_port(),
                   prefix="uni-contrib-", settle_s=0.5)
    try:
        st, _, body = d.get()
        assert st == 200, f"uniserverd's /metrics answered {st}"
        return body.decode()
    finally:
        d.stop()


def predictor_metrics():
    """The reliability group on the health-x86 fixture with a HealthLog uni-healthd wrote once."""
    tmp = tempfile.mkdtemp(prefix="uni-contrib-")
    try:
        root = os.path.join(tmp, "host")
        shutil.copytree(os.path.join(SRC, "tests", "fixtures", "health-x86"), root, symlinks=True)
        db = os.path.join(tmp, "healthlog.db")
        subprocess.run([HEALTHD, "--once", "--db", db, "--procfs", root + "/proc", "--sysfs", root + "/sys",
                        "--log-level", "error"], check=True, capture_output=True)
        return subprocess.run([UNISH, "-c", f"uniserver:///system?procfs={root}/proc&sysfs={root}/sys&healthlog={db}",
                               "--prometheus", "nodestats", "--select", "reliability"], check=True,
                              capture_output=True, text=True).stdout
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def rule_fires(alert, series, values, eval_time, want=None):
    """Does ALERT fire at EVAL_TIME on SERIES (promtool test rules on the shipped rules, expecting no
    alert: WANT, default its name, in what it got instead)?"""
    tmp = tempfile.mkdtemp(prefix="uni-contrib-")
    try:
        test = os.path.join(tmp, "rule-test.yml")
        with open(test, "w") as f:
            f.write(f"rule_files: [{ALERTS}]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n"
                    f"    input_series:\n      - series: '{series}'\n        values: '{values}'\n"
                    f"    alert_rule_test:\n      - eval_time: {eval_time}\n        alertname: {alert}\n"
                    f"        exp_alerts: []\n")
        p = subprocess.run(["promtool", "test", "rules", test], capture_output=True, text=True)
        if p.returncode == 0:
            return False
        got = (p.stdout + p.stderr).split("got:", 1)
        if len(got) == 2 and (want or f'alertname="{alert}"') in got[1]:
            return True
        raise AssertionError("promtool test rules failed: " + p.stdout + p.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def catalogue_names():
    """Every series name the catalogue (src/catalog/metrics.def) declares for /metrics, by the
    exposition's rules (golden-dump --catalogue-names): not the golden files, which are only what
    the code printed when they were last regenerated."""
    out = subprocess.run([os.path.join(os.environ["BUILDDIR"], "tests", "golden-dump"), "--catalogue-names"],
                         check=True, capture_output=True, text=True).stdout
    return set(out.split())


def exported_names():
    """The catalogue's names, and the series a running uniserverd and unish really export (the
    KVM statistics are named by the kernel at run time: only these give them)."""
    names = catalogue_names()
    out = subprocess.run([UNISH, "-c", "test:///default", "--prometheus", "nodestats", "--window", "1"], check=True,
                         capture_output=True, text=True).stdout
    # This host's own record too: disk utilisation is statvfs of a real host's filesystems.
    real = subprocess.run([UNISH, "--prometheus", "nodestats", "--select", "disk"], check=True, capture_output=True,
                          text=True).stdout
    texts = [out, real, daemon_metrics(), predictor_metrics()]
    for t in texts:
        for line in t.splitlines():
            if line and not line.startswith("#"):
                name = re.split(r"[{ ]", line, 1)[0]
                if not re.match(r"uniserver_(vm_)?(vcpu_)?kvm_", name):
                    # Everything else a program exports is in the catalogue.
                    assert name in names, f"{name} is exported but not in the catalogue's names"
                names.add(name)
    return names


class Contrib(unittest.TestCase):
    def test_rules(self):
        if not shutil.which("promtool"):
            self.skipTest("promtool (Debian prometheus) is not installed")
        p = subprocess.run(["promtool", "check", "rules", os.path.join(SRC, "contrib", "prometheus-alerts.yml")],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_health_pipeline_down(self):
        """A real uniserverd with no uni-healthd says the HealthLog source is down and the shipped alert
        fires; with uni-healthd running it is up and the alert is silent; when uni-healthd stops it is
        down again at once."""
        if not shutil.which("promtool"):
            self.skipTest("promtool (Debian prometheus) is not installed")
        tmp = tempfile.mkdtemp(prefix="uni-contrib-")
        root = os.path.join(tmp, "host")
        shutil.copytree(os.path.join(SRC, "tests", "fixtures", "health-x86"), root, symlinks=True)
        db = os.path.join(tmp, "healthlog.db")
        uri = f"uniserver:///system?procfs={root}/proc&sysfs={root}/sys&healthlog={db}"
        d = Uniserverd(uri, "--interval", "100", "--log-level", "error", metrics_port=free_port(), tmp=tmp)
        hd = None
        try:
            got, body = healthlog_up(d, "0")
            self.assertEqual(got, "0", body)
            self.assertIn('uniserver_host_source_state_info{source="healthlog",state="down"} 1', body)
            self.assertRegex(body, r'uniserver_host_source_last_error_info\{source="healthlog",last_error="no HealthLog')
            self.assertTrue(alert_fires(tmp, got))
            hd = subprocess.Popen([HEALTHD, "-f", "--db", db, "--procfs", root + "/proc", "--sysfs", root + "/sys",
                                   "--interval", "100", "--log-level", "error"], stderr=subprocess.DEVNULL)
            got, body = healthlog_up(d, "1")
            self.assertEqual(got, "1", body)
            self.assertFalse(alert_fires(tmp, got))
            hd.send_signal(signal.SIGTERM)
            self.assertEqual(hd.wait(timeout=10), 0)
            got, body = healthlog_up(d, "0")
            self.assertEqual(got, "0", body)
            self.assertRegex(body, r'last_error="uni-healthd stopped \d+ s ago')
        finally:
            if hd and hd.poll() is None:
                hd.kill()
                hd.wait()
            d.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_availability_alert_fires_after_downtime(self):
        """A real uniserverd stopped for a while and started again on the same ledger exports an
        availability below 99 % for the last 24 hours, and the shipped alert fires on that value;
        at 100 % it is silent."""
        if not shutil.which("promtool"):
            self.skipTest("promtool (Debian prometheus) is not installed")
        tmp = tempfile.mkdtemp(prefix="uni-contrib-avail-")
        state = os.path.join(tmp, "state")
        try:
            args = ("--interval", "100", "--log-level", "error", "--state-dir", state)
            d = Uniserverd("test:///default", *args, metrics_port=free_port(), settle_s=0.5)
            value = lambda body: float(re.search(r"^uniserver_host_availability_24h_ratio (\S+)$", body, re.M).group(1))
            self.assertEqual(value(d.get()[2].decode()), 1.0)
            self.assertFalse(availability_alert_fires(tmp, 1.0))
            d.stop()
            time.sleep(1)
            d = Uniserverd("test:///default", *args, metrics_port=free_port(), settle_s=0.3)
            try:
                v = value(d.get()[2].decode())
            finally:
                d.stop()
            self.assertLess(v, 0.99)
            self.assertTrue(availability_alert_fires(tmp, v))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_predictor_alerts(self):
        if not shutil.which("promtool"):
            self.skipTest("promtool (Debian prometheus) is not installed")
        unrel = 'uniserver_host_reliability_class_info{class="unreliable",instance="h"}'
        self.assertTrue(rule_fires("UniserverNodeUnreliable", unrel, "1x10", "5m"))
        self.assertFalse(rule_fires("UniserverNodeUnreliable", unrel, "0x10", "5m"))
        p = 'uniserver_host_component_p_ue_24h_ratio{component="pmd2",instance="h"}'
        # From the prior to 0.4 within the hour: rising. Steady at 0.4 for over an hour: not.
        self.assertTrue(rule_fires("UniserverComponentRiskRising", p, "0.00006x30 0.4x30", "40m"))
        self.assertFalse(rule_fires("UniserverComponentRiskRising", p, "0.4x90", "80m"))
        self.assertFalse(rule_fires("UniserverComponentRiskRising", p, "0.00006x30 0.05x30", "40m"))

    def test_names_exist(self):
        names = exported_names()
        self.assertIn("uniserver_host_cpu_number", names)
        self.assertIn("uniserver_host_errors_dimm_ce_total", names)
        self.assertIn("uniserver_vm_errors_ue_total", names)
        self.assertIn("uniserver_host_reliability_p_fail_24h_ratio", names)
        dash = json.load(open(os.path.join(SRC, "contrib", "grafana-dashboard.json")))
        exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
        exprs += re.findall(r"expr: (.*)", open(os.path.join(SRC, "contrib", "prometheus-alerts.yml")).read())
        used = {n for e in exprs for n in re.findall(r"uniserver_[a-z0-9_]+", e)}
        self.assertTrue(used)
        self.assertEqual(used - names, set(), "contrib/ names metrics that uniserver does not export")


if __name__ == "__main__":
    unittest.main(verbosity=2)
