#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""libvirt as a source of domains: uniserver:///system?libvirt=test:///default (libvirt's
in-process test driver, no daemon) against what libvirt itself says of the same domain through
virsh: name, UUID, state, vCPUs, memory, per-vCPU CPU and pinning, and the spec's Table 4 calls
(dominfo, dumpxml, schedinfo, vcpuinfo, cpu-stats, vcpupin, setreliability) through libvirt. A libvirt URI that cannot be
opened is an error naming it. Without virsh: SKIP."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

UNISH = os.path.join(os.environ["BUILDDIR"], "bin", "unish")
VIRSH = shutil.which("virsh")
URI = "uniserver:///system?libvirt=test:///default"


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}: {p.stderr}")
    return p.stdout


def virsh(*args):
    return run([VIRSH, "-c", "test:///default", *args])


def fields(text):
    """'Key:   value' lines of virsh's dominfo/vcpuinfo, as a dict (the last value of a key)."""
    out = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def unish_json(*args):
    return json.loads(run([UNISH, "-c", URI, "--json", *args]))


class LibvirtTestDriver(unittest.TestCase):
    def test_same_domain_as_libvirt(self):
        uuid = virsh("domuuid", "test").strip()
        listed = {d["name"]: d for d in unish_json("list", "--all")}
        self.assertIn("test", listed)
        self.assertEqual(listed["test"]["uuid"], uuid)
        self.assertEqual(listed["test"]["source"], "libvirt")
        info = fields(virsh("dominfo", "test"))
        self.assertEqual(listed["test"]["state"], info["State"])
        r = unish_json("domstats", "test", "--record")["test"]
        self.assertEqual(r["dom.uuid"], uuid)
        self.assertEqual(r["dom.cpu.count"], int(info["CPU(s)"]))
        self.assertEqual(r["dom.mem.usage_mb"] * 1024, int(info["Used memory"].split()[0]))
        mem = dict(l.split() for l in virsh("dommemstat", "test").splitlines() if l.strip())
        self.assertEqual(r["dom.mem_mb"] * 1024, int(mem["rss"]))
        self.assertEqual(r["dom.mem.resident_mb"] * 1024, int(mem["rss"]))
        vcpus = [fields(block) for block in virsh("vcpuinfo", "test").strip().split("\n\n")]
        for v in vcpus:
            n = int(v["VCPU"])
            self.assertEqual(r[f"dom.vcpu.{n}.cpu"], int(v["CPU"]))
            allowed = [i for i, c in enumerate(v["CPU Affinity"]) if c == "y"]
            self.assertEqual(r[f"dom.vcpu.{n}.pinning"], f"{allowed[0]}-{allowed[-1]}")
        self.assertEqual(r["dom.stale"], 0)
        # What libvirt's test driver does not give is absent with a reason, not 0.
        self.assertIn("dom.interrupt_ms", r["absent"])
        # The spec's view and lookup by UUID go through libvirt too.
        v = unish_json("domstats", uuid.upper())
        self.assertEqual(v["dom.mem_mb"] * 1024, int(mem["rss"]))

    def test_nova_metadata(self):
        # An OpenStack instance: what Nova wrote into the domain's metadata (as virsh reads it back)
        # becomes dom.openstack.*, and uniserver's own element the reliability requirement.
        node = "test://" + os.path.join(os.environ["SRCDIR"], "tests", "fixtures", "libvirt", "nova-node.xml")
        nova = run([VIRSH, "-c", node, "metadata", "instance-0000002a", "http://openstack.org/xmlns/libvirt/nova/1.1"])
        self.assertIn("web &amp; data", nova)
        r = json.loads(run([UNISH, "-c", "uniserver:///system?libvirt=" + node, "--json", "domstats",
                            "instance-0000002a", "--record"]))["instance-0000002a"]
        self.assertEqual(r["dom.uuid"], "6c4e1a7d-3f0b-4d7e-9a51-2b8f0c9d1e11")
        self.assertEqual(r["dom.openstack.name"], "web-1")
        self.assertEqual(r["dom.openstack.flavor"], "m1.small")
        self.assertEqual(r["dom.openstack.user_id"], "a1b2c3d4e5f60718293a4b5c6d7e8f90")
        self.assertEqual(r["dom.openstack.project_id"], "0f1e2d3c4b5a69788796a5b4c3d2e1f0")
        self.assertEqual(r["dom.openstack.project_name"], "web & data")
        self.assertEqual(r["dom.reliability"], "high")
        # test:///default's domain is not an OpenStack instance: absent, with the reason.
        r = unish_json("domstats", "test", "--record")["test"]
        self.assertNotIn("dom.openstack.project_id", r)
        self.assertIn("no Nova metadata", r["absent"]["dom.openstack.project_id"])
        self.assertIn("urn:uniserver:libvirt:1", r["absent"]["dom.reliability"])

    def test_class_from_the_flavor(self):
        """Nova 26 writes the flavor's name, not its extra specs, into the domain's metadata: a VM with no
        class of its own gets its flavor's from the table uniserver-placement-sync writes (its own
        writer here); an explicit class (uniDomainSetReliability's metadata) wins; a flavor the table
        does not name leaves the class absent with the reason."""
        sys.path.insert(0, os.path.join(os.environ["SRCDIR"], "python"))
        from uniserver_placement import flavors
        node = "test://" + os.path.join(os.environ["SRCDIR"], "tests", "fixtures", "libvirt", "nova-flavors.xml")
        tmp = tempfile.mkdtemp(prefix="uni-flavors-")
        try:
            table = os.path.join(tmp, "flavor-classes")
            nova_flavors = [{"name": "r1.gold", "extra_specs": {"uniserver:reliability": "high", "hw:cpu_policy": "x"}},
                            {"name": "r1 bronze & spot", "extra_specs": {"uniserver:reliability": "low"}},
                            {"name": "m1.tiny", "extra_specs": {}}, {"name": "bad", "extra_specs": {"uniserver:reliability": "top"}}]
            self.assertTrue(flavors.write_table(table, flavors.table_text(nova_flavors)))
            self.assertFalse(flavors.write_table(table, flavors.table_text(nova_flavors)))  # unchanged: not rewritten
            uri = f"uniserver:///system?libvirt={node}&flavor_classes={table}"
            recs = json.loads(run([UNISH, "-c", uri, "--json", "domstats", "--all"]))
            self.assertEqual(recs["instance-0000002b"]["dom.openstack.flavor"], "r1.gold")
            self.assertEqual(recs["instance-0000002b"]["dom.reliability"], "high")
            self.assertEqual(recs["instance-0000002c"]["dom.reliability"], "normal")  # its own, not the flavor's low
            self.assertNotIn("dom.reliability", recs["instance-0000002d"])
            self.assertIn(f"flavor 'm1.tiny' has no class in {table}", recs["instance-0000002d"]["absent"]["dom.reliability"])
            # uniDomainGetReliability (the allocator's input) says the same; the table read again once replaced.
            out = run([UNISH, "-c", uri, "reliability", "instance-0000002b", ";", "reliability", "instance-0000002c", ";",
                       "reliability", "instance-0000002d"]).split()
            self.assertEqual(out, ["high", "normal", "normal"])
            flavors.write_table(table, flavors.table_text(nova_flavors[:1] + [{"name": "m1.tiny", "extra_specs": {"uniserver:reliability": "low"}}]))
            recs = json.loads(run([UNISH, "-c", uri, "--json", "domstats", "--all"]))
            self.assertEqual(recs["instance-0000002d"]["dom.reliability"], "low")
            # Without the table: as before, no class.
            recs = json.loads(run([UNISH, "-c", f"uniserver:///system?libvirt={node}&flavor_classes={tmp}/none",
                                   "--json", "domstats", "--all"]))
            self.assertNotIn("dom.reliability", recs["instance-0000002b"])
            r = subprocess.run([UNISH, "-c", f"uniserver:///system?libvirt={node}&flavor_classes=", "list"],
                               capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("flavor_classes takes a file's path", r.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_table4(self):
        """The spec's Table 4 on libvirt's test driver through libvirt, against virsh. The test
        driver's state lives in the process, so changes are read back within one unish run."""
        ui, vi = fields(run([UNISH, "-c", URI, "dominfo", "test"])), fields(virsh("dominfo", "test"))
        for k in ("Name", "State", "CPU(s)", "Max memory", "Used memory"):
            self.assertEqual(ui[k], vi[k])
        self.assertEqual(run([UNISH, "-c", URI, "dumpxml", "test"]).strip(), virsh("dumpxml", "test").strip())
        self.assertEqual(fields(run([UNISH, "-c", URI, "schedinfo", "test"])), fields(virsh("schedinfo", "test")))
        self.assertEqual(run([UNISH, "-c", URI, "maxvcpus", "test"]).strip(), "2")
        us = run([UNISH, "-c", URI, "vcpuinfo", "test"]).strip().split("\n\n")
        for u, v in zip(us, virsh("vcpuinfo", "test").strip().split("\n\n"), strict=True):
            u, v = fields(u), fields(v)
            for k in ("VCPU", "CPU", "State", "CPU time"):
                self.assertEqual(u[k], v[k])
            self.assertEqual(u["CPU Affinity"], "0-%d" % (len(v["CPU Affinity"]) - 1))
        cs = virsh("cpu-stats", "test")
        self.assertEqual(run([UNISH, "-c", URI, "cpu-stats", "test"]).count("\tcpu_time"), cs.count("\tcpu_time") - 1)  # less Total
        # Pinning and the class, read back in the same run (the test node's online CPUs: 0,2,4).
        out = run([UNISH, "-c", URI, "vcpupin", "test", "1", "2,4", ";", "vcpuinfo", "test", ";", "setreliability",
                   "test", "high", ";", "reliability", "test", ";", "domstats", "test", "--record", ";", "dumpxml",
                   "test"])
        self.assertRegex(out, r"VCPU: +1\n(.*\n){3}CPU Affinity: +2,4")
        self.assertRegex(out, r"(?m)^high$")
        self.assertRegex(out, r"dom.vcpu.1.pinning +2,4")
        self.assertRegex(out, r"dom.reliability +high")
        self.assertIn("<vcpupin vcpu='1' cpuset='2,4'/>", out)  # libvirt's own XML
        self.assertIn('<uniserver:reliability xmlns:uniserver="urn:uniserver:libvirt:1">high</uniserver:reliability>', out)
        # Bad input: a clear error with a code (that nothing changed is read back from the kernel
        # and virsh on the real libvirtd: libvirtd-test.py).
        for args, code in ((["vcpupin", "test", "1", "3"], "NO_CORE"), (["vcpupin", "test", "1", "99"], "NO_CORE"),
                           (["vcpupin", "test", "2", "0"], "INVALID_ARG"), (["setreliability", "test", "top"], "INVALID_ARG"),
                           (["vcpupin", "nosuch", "0", "0"], "NO_DOMAIN")):
            p = subprocess.run([UNISH, "-c", URI, *args], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1)
            self.assertIn(f"({code})", p.stderr)
        p = subprocess.run([UNISH, "-r", "-c", URI, "vcpupin", "test", "1", "0"], capture_output=True, text=True, timeout=60)
        self.assertIn("(ACCESS_DENIED)", p.stderr)

    def test_bad_libvirt_uri(self):
        p = subprocess.run([UNISH, "-c", "uniserver:///system?libvirt=nosuch:///x", "list"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("nosuch:///x", p.stderr)
        self.assertIn("NO_SOURCE", p.stderr)
        self.assertEqual(p.stderr.count("\n"), 1)  # libvirt itself prints nothing


if __name__ == "__main__":
    if not VIRSH:
        print("SKIP: no virsh (Debian package libvirt-clients)")
        sys.exit(77)
    unittest.main(verbosity=2)
