# SPDX-License-Identifier: LGPL-2.1-or-later
"""Gnocchi end to end: PostgreSQL and a local Gnocchi API (uwsgi) started here, uniserver's
resource types created, the pollsters' samples published with Ceilometer's real GnocchiPublisher
(auth gnocchi-basic), and the values read back from Gnocchi's REST API."""
import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request

import pytest
import uniserver
from testlib import free_port

pytest.importorskip("ceilometer", reason="python3-ceilometer is not installed")
pytest.importorskip("gnocchi", reason="python3-gnocchi is not installed")
SRC = os.environ["SRCDIR"]
PGBIN = "/usr/lib/postgresql/15/bin"


def as_postgres(*cmd, **kw):
    p = subprocess.run(["runuser", "-u", "postgres", "--", *cmd], capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {p.stdout}{p.stderr}")
    return p


@pytest.fixture(scope="module")
def gnocchi(tmp_path_factory):
    if not os.path.exists(f"{PGBIN}/initdb") or not shutil.which("uwsgi"):
        pytest.skip("PostgreSQL 15 or uwsgi is not installed")
    if os.geteuid() != 0:
        pytest.skip("needs root to run PostgreSQL as its own user")
    import pathlib
    import tempfile
    # PostgreSQL runs as its own user: its directory must be reachable by it (pytest's are 0700).
    d = pathlib.Path(tempfile.mkdtemp(prefix="uni-gnocchi-", dir="/tmp"))
    os.chmod(d, 0o777)
    pg, pgport, port = d / "pg", free_port(), free_port()
    as_postgres(f"{PGBIN}/initdb", "-D", str(pg), "-A", "trust", "-U", "postgres")
    as_postgres(f"{PGBIN}/pg_ctl", "-D", str(pg), "-w", "-o", f"-p {pgport} -k {d} -c listen_addresses=''", "-l",
                str(d / "pg.log"), "start")
    procs = []
    try:
        as_postgres(f"{PGBIN}/createdb", "-h", str(d), "-p", str(pgport), "gnocchi")
        conf = d / "gnocchi.conf"
        conf.write_text(f"""[DEFAULT]
debug = false
[api]
auth_mode = basic
[indexer]
url = postgresql://postgres@/gnocchi?host={d}&port={pgport}
[storage]
driver = file
file_basepath = {d}/data
""")
        subprocess.run(["gnocchi-upgrade", "--config-file", str(conf)], check=True, capture_output=True)
        api = subprocess.Popen(["uwsgi", "--plugin", "python3", "--http-socket", f"127.0.0.1:{port}", "--module",
                                "gnocchi.rest.wsgi", "--pyargv", f"--config-file {conf}", "--processes", "1",
                                "--threads", "4", "--master", "--die-on-term", "--lazy-apps"],
                               stdout=open(d / "uwsgi.log", "w"), stderr=subprocess.STDOUT)
        procs.append(api)
        url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                gget(url, "/v1/archive_policy")
                break
            except Exception:
                time.sleep(0.25)
        else:
            raise RuntimeError("gnocchi API did not come up: " + (d / "uwsgi.log").read_text()[-2000:])
        yield url, d
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=20)
        as_postgres(f"{PGBIN}/pg_ctl", "-D", str(pg), "-m", "fast", "stop")
        shutil.rmtree(d, ignore_errors=True)


def gget(url, path):
    req = urllib.request.Request(url + path, headers={"Authorization": "Basic " + base64.b64encode(b"admin:").decode()})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def test_publish_and_read_back(gnocchi, tmp_path, monkeypatch):
    url, d = gnocchi
    from uniserver_ceilometer import gnocchi_setup, pollsters
    assert open(os.path.join(SRC, "python", "uniserver_ceilometer", "gnocchi_resources.yaml")).read() == \
        pollsters.gnocchi_resources()
    assert set(gnocchi_setup.create_types(url)) == {"uniserver_host", "uniserver_host_cpu", "uniserver_instance",
                                                     "uniserver_host_component", "uniserver_host_margin"}
    assert gnocchi_setup.create_types(url) == []  # again: nothing to do

    from ceilometer import service
    from ceilometer.polling import manager as pm
    from ceilometer.publisher import gnocchi as gp
    from oslo_utils import netutils

    monkeypatch.setenv("UNISERVER_URI", "test:///default")
    pollsters._conn = None
    (tmp_path / "polling.yaml").write_text("sources:\n  - name: uniserver\n    interval: 60\n    meters: ['uniserver.*']\n")
    (tmp_path / "ceilometer.conf").write_text(f"""[DEFAULT]
transport_url = fake://
host = node-1
[polling]
cfg_file = {tmp_path}/polling.yaml
[service_credentials]
auth_type = gnocchi-basic
user = admin
endpoint = {url}
""")
    conf = service.prepare_service([], [str(tmp_path / "ceilometer.conf")])
    m = pm.AgentManager(0, conf, namespaces=["compute"])
    m.polling_manager = pm.PollingManager(conf)
    got = []
    m.notifier.sample = lambda ctx, event, payload: got.extend(payload["samples"])
    for task in m.setup_polling_tasks().values():
        task.poll_and_notify()
    assert got
    from ceilometer import sample as smp
    # What the agent would have sent on the bus, as the notification agent hands it to publishers.
    samples = [smp.Sample(name=s["counter_name"], type=s["counter_type"], unit=s["counter_unit"],
                          volume=s["counter_volume"], user_id=s["user_id"], project_id=s["project_id"],
                          resource_id=s["resource_id"], timestamp=s["timestamp"], resource_metadata=s["resource_metadata"])
               for s in got]
    resdef = os.path.join(SRC, "python", "uniserver_ceilometer", "gnocchi_resources.yaml")
    pub = gp.GnocchiPublisher(conf, netutils.urlsplit(f"gnocchi://?filter_project=service&archive_policy=low"
                                                      f"&resources_definition_file={resdef}"))
    pub.publish_samples(samples)

    res = gget(url, "/v1/resource/uniserver_host/node-1")
    assert res["host"] == "node-1"
    meas = gget(url, f"/v1/resource/uniserver_host/node-1/metric/uniserver.host.cpu.count/measures?refresh=true")
    assert meas and meas[-1][2] == 8
    meas = gget(url, f"/v1/resource/uniserver_host/node-1/metric/uniserver.host.memory.total/measures?refresh=true")
    assert meas[-1][2] == 16384
    cpu4 = [r for r in gget(url, "/v1/resource/uniserver_host_cpu") if r["original_resource_id"] == "node-1-cpu4"]
    assert cpu4 and cpu4[0]["cpu"] == 4
    meas = gget(url, f"/v1/resource/uniserver_host_cpu/{cpu4[0]['id']}/metric/uniserver.host.cpu.frequency/measures?refresh=true")
    assert meas[-1][2] == 1200.0
    # Per instance: the resource is the VM's (Nova's instance) UUID.
    vm = gget(url, "/v1/resource/uniserver_instance/7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a61")
    assert vm["display_name"] == "vm-1"
    meas = gget(url, "/v1/resource/uniserver_instance/7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a61/metric/uniserver.instance.memory/measures?refresh=true")
    assert meas[-1][2] == 2048.0
    # uni-stresslog's margins (a fixture host's margins file): one resource per search.
    fix = os.path.join(SRC, "tests", "fixtures", "xgene2")
    monkeypatch.setenv("UNISERVER_URI", f"uniserver:///system?procfs={fix}/proc&sysfs={fix}/sys"
                                        f"&margins={fix}/margins.json")
    pollsters._conn = None
    got.clear()
    for task in m.setup_polling_tasks().values():
        task.poll_and_notify()
    pub.publish_samples([smp.Sample(name=s["counter_name"], type=s["counter_type"], unit=s["counter_unit"],
                                    volume=s["counter_volume"], user_id=s["user_id"], project_id=s["project_id"],
                                    resource_id=s["resource_id"], timestamp=s["timestamp"],
                                    resource_metadata=s["resource_metadata"])
                         for s in got if s["counter_name"].startswith("uniserver.host.margin.")])
    pollsters._conn = None
    margin = [r for r in gget(url, "/v1/resource/uniserver_host_margin")
              if r["original_resource_id"] == "node-1-margin-pmd0:voltage@2400MHz"]
    assert margin and margin[0]["margin"] == "pmd0:voltage@2400MHz" and margin[0]["host"] == "node-1"
    meas = gget(url, f"/v1/resource/uniserver_host_margin/{margin[0]['id']}/metric/uniserver.host.margin.voltage.safe"
                     "/measures?refresh=true")
    assert meas[-1][2] == 910.0

    # Reliability (the predictor) from a node with a HealthLog: the health-x86 fixture, its HealthLog
    # written by uni-healthd with one uncorrected error on a DIMM.
    root = tmp_path / "host"
    shutil.copytree(os.path.join(SRC, "tests", "fixtures", "health-x86"), root, symlinks=True)
    db = tmp_path / "healthlog.db"
    healthd = [os.path.join(os.environ["BUILDDIR"], "bin", "uni-healthd"), "--once", "--db", str(db), "--procfs",
               f"{root}/proc", "--sysfs", f"{root}/sys", "--set", "trace=no", "--log-level", "error"]
    subprocess.run(healthd, check=True)
    (root / "sys/devices/system/edac/mc/mc1/dimm1/dimm_ue_count").write_text("1\n")
    subprocess.run(healthd, check=True)
    uri = f"uniserver:///system?procfs={root}/proc&sysfs={root}/sys&healthlog={db}"
    want = uniserver.open(uri).getHostReliabilityUniserver()
    monkeypatch.setenv("UNISERVER_URI", uri)
    pollsters._conn = None
    conf.set_override("host", "node-2")
    got.clear()
    for task in m.setup_polling_tasks().values():
        task.poll_and_notify()
    pub.publish_samples([smp.Sample(name=s["counter_name"], type=s["counter_type"], unit=s["counter_unit"],
                                    volume=s["counter_volume"], user_id=s["user_id"], project_id=s["project_id"],
                                    resource_id=s["resource_id"], timestamp=s["timestamp"],
                                    resource_metadata=s["resource_metadata"]) for s in got])
    meas = gget(url, "/v1/resource/uniserver_host/node-2/metric/uniserver.host.reliability.p_fail.24h/measures?refresh=true")
    assert abs(meas[-1][2] - want[2]) < 1e-3 and want[2] > 0.005  # one failure in the history
    meas = gget(url, "/v1/resource/uniserver_host/node-2/metric/uniserver.host.reliability.reliable/measures?refresh=true")
    assert meas[-1][2] == (1 if want[0] == "reliable" else 0)
    meas = gget(url, "/v1/resource/uniserver_host/node-2/metric/uniserver.host.reliability.failures/measures?refresh=true")
    assert meas[-1][2] == 1
    dimm = [r for r in gget(url, "/v1/resource/uniserver_host_component")
            if r["original_resource_id"] == "node-2-CPU_SrcID#0_MC#1_Chan#1_DIMM#0"]
    assert dimm and dimm[0]["component"] == "CPU_SrcID#0_MC#1_Chan#1_DIMM#0"
    meas = gget(url, f"/v1/resource/uniserver_host_component/{dimm[0]['id']}/metric/uniserver.host.component.p_ue.24h/measures?refresh=true")
    assert 0 < meas[-1][2] <= 1
