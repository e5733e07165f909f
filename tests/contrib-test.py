#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""contrib/: the alert rules pass promtool, and every uniserver_* metric the rules and the Grafana
dashboard name is one that uniserver really exports (test driver and fixture hosts)."""
import glob
import json
import os
import re
import shutil
import subprocess
import unittest

from testlib import Uniserverd, free_port

SRC = os.environ["SRCDIR"]
UNISH = os.path.join(os.environ["BUILDDIR"], "bin", "unish")


def daemon_metrics():
    """The /metrics of a uniserverd on the test driver: the host and every simulated VM."""
    d = Uniserverd("test:///default", "--interval", "200", "--log-level", "error", metrics_port=free_port(),
                   prefix="uni-contrib-")
    try:
        st, _, body = d.get()
        assert st == 200, f"uniserverd's /metrics answered {st}"
        return body.decode()
    finally:
        d.stop()


def exported_names():
    names = set()
    out = subprocess.run([UNISH, "-c", "test:///default", "--prometheus", "nodestats", "--window", "1"], check=True,
                         capture_output=True, text=True).stdout
    texts = [out, daemon_metrics()] + [open(p).read() for p in glob.glob(os.path.join(SRC, "tests", "golden", "*.prom"))]
    for t in texts:
        for line in t.splitlines():
            if line and not line.startswith("#"):
                names.add(re.split(r"[{ ]", line, 1)[0])
    return names


class Contrib(unittest.TestCase):
    def test_rules(self):
        if not shutil.which("promtool"):
            self.skipTest("promtool (Debian prometheus) is not installed")
        p = subprocess.run(["promtool", "check", "rules", os.path.join(SRC, "contrib", "prometheus-alerts.yml")],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_names_exist(self):
        names = exported_names()
        self.assertIn("uniserver_host_cpu_number", names)
        self.assertIn("uniserver_vm_errors_ue_total", names)
        dash = json.load(open(os.path.join(SRC, "contrib", "grafana-dashboard.json")))
        exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
        exprs += re.findall(r"expr: (.*)", open(os.path.join(SRC, "contrib", "prometheus-alerts.yml")).read())
        used = {n for e in exprs for n in re.findall(r"uniserver_[a-z0-9_]+", e)}
        self.assertTrue(used)
        self.assertEqual(used - names, set(), "contrib/ names metrics that uniserver does not export")


if __name__ == "__main__":
    unittest.main(verbosity=2)
