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

SRC = os.environ["SRCDIR"]
UNISH = os.path.join(os.environ["BUILDDIR"], "bin", "unish")


def exported_names():
    names = set()
    out = subprocess.run([UNISH, "-c", "test:///default", "--prometheus", "nodestats", "--window", "1"], check=True,
                         capture_output=True, text=True).stdout
    texts = [out] + [open(p).read() for p in glob.glob(os.path.join(SRC, "tests", "golden", "*.prom"))]
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
        dash = json.load(open(os.path.join(SRC, "contrib", "grafana-dashboard.json")))
        exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
        exprs += re.findall(r"expr: (.*)", open(os.path.join(SRC, "contrib", "prometheus-alerts.yml")).read())
        used = {n for e in exprs for n in re.findall(r"uniserver_[a-z0-9_]+", e)}
        self.assertTrue(used)
        self.assertEqual(used - names, set(), "contrib/ names metrics that uniserver does not export")


if __name__ == "__main__":
    unittest.main(verbosity=2)
