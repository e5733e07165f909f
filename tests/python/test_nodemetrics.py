# SPDX-License-Identifier: LGPL-2.1-or-later
"""Section 2's metrics of interest in Python and Ceilometer: the view method in the spec's naming
style (getHostMetricsOfInterestUniserver) in process and through uniserverd, and the pollsters of
availability, utilisation and energy fed by uniserverd's ledger."""
import os
import time

import pytest
import uniserver
from testlib import Uniserverd

SRC = os.environ["SRCDIR"]


@pytest.fixture(scope="module")
def daemon():
    d = Uniserverd("test:///default", "--interval", "100", "--metrics-listen", "off", "--log-level", "error",
                   prefix="uni-py-nm-", settle_s=0.5)
    yield d
    d.stop()


def test_view_in_process_says_where_the_ledger_is():
    c = uniserver.open("test:///default")
    v = c.getHostMetricsOfInterestUniserver()
    # availability 1 h, 24 h, 30 d; CPU, memory, disk utilisation; energy 1 h, 24 h
    assert len(v) == 8
    assert v[:3] == [None, None, None] and v[6:] == [None, None]
    assert v[3] == 45.0 and v[4] == 50.0 and v[5] is None  # the board has no disks
    assert "getHostMetricsOfInterestUniserver" in dir(c)
    assert "host.availability.1h_pct" in c.getHostMetricsOfInterestUniserver.__doc__
    c.close()


def test_view_through_the_daemon(daemon):
    c = uniserver.openReadOnly(daemon.uri(ro=True))
    assert c is not None, uniserver.lastError()
    v = c.getHostMetricsOfInterestUniserver()
    assert v[0] == 100.0 and v[1] == 100.0 and v[2] == 100.0
    assert v[4] == 50.0
    assert v[6] > 0 and v[7] >= v[6]
    c.close()


def test_pollsters_through_the_daemon(daemon, tmp_path, monkeypatch):
    pytest.importorskip("ceilometer", reason="python3-ceilometer is not installed")
    from ceilometer import service
    from ceilometer.polling import manager as pm
    import uniserver_ceilometer.pollsters as p

    monkeypatch.setenv("UNISERVER_URI", daemon.uri(ro=True))
    p._conn = None
    (tmp_path / "polling.yaml").write_text(open(os.path.join(SRC, "python", "uniserver_ceilometer",
                                                             "polling.yaml")).read())
    (tmp_path / "ceilometer.conf").write_text(f"[DEFAULT]\ntransport_url = fake://\nhost = node-1\n"
                                              f"[polling]\ncfg_file = {tmp_path}/polling.yaml\n")
    conf = service.prepare_service([], [str(tmp_path / "ceilometer.conf")])
    agent = pm.AgentManager(0, conf, namespaces=["compute"])
    agent.polling_manager = pm.PollingManager(conf)
    got = []
    agent.notifier.sample = lambda ctx, event, payload: got.extend(payload["samples"])
    for task in agent.setup_polling_tasks().values():
        task.poll_and_notify()
    p._conn = None
    by = {}
    for s in got:
        by.setdefault(s["counter_name"], []).append(s)
    for w in ("1h", "24h", "30d"):
        assert by[f"uniserver.host.availability.{w}"][0]["counter_volume"] == 100.0
        assert by[f"uniserver.host.availability.{w}"][0]["counter_unit"] == "%"
    assert by["uniserver.host.memory.util"][0]["counter_volume"] == 50.0
    assert "uniserver.host.disk.util" not in by  # absent on the board: no sample, never a 0
    assert by["uniserver.host.energy.24h"][0]["counter_unit"] == "kWh"
    assert by["uniserver.host.energy.24h"][0]["counter_volume"] > 0
    avail = sorted((s["resource_metadata"]["instance_name"], s["counter_volume"])
                   for s in by["uniserver.instance.availability"])
    assert avail == [("vm-1", 100.0), ("vm-2", 100.0)]  # vm-3 is shut off: no instance sample
