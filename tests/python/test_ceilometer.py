# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Ceilometer pollsters: found through Ceilometer's real entry-point loading, and the real
AgentManager poll cycle (oslo.messaging fake:// transport, no OpenStack services) yields the
expected samples."""
import os

import pytest

ceilometer = pytest.importorskip("ceilometer", reason="python3-ceilometer is not installed")
SRC = os.environ["SRCDIR"]


@pytest.fixture()
def agent(tmp_path, monkeypatch):
    from ceilometer import service
    from ceilometer.polling import manager as pm
    import uniserver_ceilometer.pollsters as p

    monkeypatch.setenv("UNISERVER_URI", "test:///default")
    p._conn = None
    (tmp_path / "polling.yaml").write_text(open(os.path.join(SRC, "python", "uniserver_ceilometer",
                                                             "polling.yaml")).read())
    (tmp_path / "ceilometer.conf").write_text(f"[DEFAULT]\ntransport_url = fake://\nhost = node-1\n"
                                              f"[polling]\ncfg_file = {tmp_path}/polling.yaml\n")
    conf = service.prepare_service([], [str(tmp_path / "ceilometer.conf")])
    m = pm.AgentManager(0, conf, namespaces=["compute"])
    m.polling_manager = pm.PollingManager(conf)
    return m


def test_entry_points_shipped_match(agent):
    import uniserver_ceilometer.pollsters as p
    shipped = open(os.path.join(SRC, "python", "uniserver_ceilometer-0.1.dist-info", "entry_points.txt")).read()
    assert shipped == p.entry_points()
    loaded = {e.name for e in agent.extensions if e.name.startswith("uniserver.")}
    assert loaded == set(p.POLLSTERS)
    # Never a clash with Ceilometer's own meters.
    assert all(n.startswith("uniserver.") for n in p.POLLSTERS)


def test_poll_cycle(agent):
    got = []
    agent.notifier.sample = lambda ctx, event, payload: got.extend(payload["samples"])
    for task in agent.setup_polling_tasks().values():
        task.poll_and_notify()
    by = {}
    for s in got:
        by.setdefault(s["counter_name"], []).append(s)
    assert by["uniserver.host.cpu.count"][0]["counter_volume"] == 8
    assert by["uniserver.host.cpu.count"][0]["resource_id"] == "node-1"
    freqs = sorted((s["resource_id"], s["counter_volume"]) for s in by["uniserver.host.cpu.frequency"])
    assert freqs[0] == ("node-1-cpu0", 2400.0) and freqs[4] == ("node-1-cpu4", 1200.0) and len(freqs) == 8
    assert by["uniserver.host.memory.total"][0]["counter_unit"] == "MB"
    assert by["uniserver.host.memory.total"][0]["counter_volume"] == 16384.0
    assert by["uniserver.host.errors.dram.ce"][0]["counter_type"] == "cumulative"
    assert by["uniserver.host.errors.dram.ce.rate"][0]["counter_unit"] == "error/min"
    assert by["uniserver.host.cpu.governor.performance"][0]["resource_metadata"]["governor"] == "mixed"
    # One host record per cycle, shared by every pollster: the test driver's clock moved once.
    assert len({s["resource_metadata"]["source"] for s in got}) == 1


def test_instance_pollsters(agent):
    got = []
    agent.notifier.sample = lambda ctx, event, payload: got.extend(payload["samples"])
    for task in agent.setup_polling_tasks().values():
        task.poll_and_notify()
    mem = sorted((s["resource_id"], s["counter_volume"], s["resource_metadata"]["instance_name"])
                 for s in got if s["counter_name"] == "uniserver.instance.memory")
    # vm-1 and vm-2 run; vm-3 is shut off and has no sample. The resource is the instance UUID.
    assert mem == [("7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a61", 2048.0, "vm-1"),
                   ("7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a62", 1024.0, "vm-2")]
    # vm-2 is an OpenStack instance (the test driver's Nova metadata): its samples carry its user and
    # project, and display_name is the name its user gave it; vm-1 is not, and has neither.
    by_vm = {s["resource_metadata"]["instance_name"]: s for s in got if s["counter_name"] == "uniserver.instance.memory"}
    assert by_vm["vm-2"]["project_id"] == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert by_vm["vm-2"]["user_id"] == "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    assert by_vm["vm-2"]["resource_metadata"]["display_name"] == "db-1"
    assert by_vm["vm-2"]["resource_metadata"]["flavor"] == "m1.small"
    assert by_vm["vm-1"]["project_id"] is None and by_vm["vm-1"]["resource_metadata"]["display_name"] == "vm-1"
    exits = [s for s in got if s["counter_name"] == "uniserver.instance.kvm.exits"]
    assert len(exits) == 2 and all(s["counter_type"] == "cumulative" for s in exits)


def test_section2_pollsters_through_uniserverd(agent, monkeypatch):
    """Availability and energy are uniserverd's ledger: the pollsters read them through it."""
    from testlib import Uniserverd
    import uniserver_ceilometer.pollsters as p

    d = Uniserverd("test:///default", "--interval", "100", "--metrics-listen", "off", "--log-level", "error",
                   prefix="uni-ceilo-", settle_s=0.5)
    try:
        monkeypatch.setenv("UNISERVER_URI", d.uri(ro=True))
        p._conn = None
        got = []
        agent.notifier.sample = lambda ctx, event, payload: got.extend(payload["samples"])
        for task in agent.setup_polling_tasks().values():
            task.poll_and_notify()
        p._conn = None
    finally:
        d.stop()
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
def test_margin_pollsters(agent, monkeypatch):
    """uni-stresslog's margins as meters: one sample per search, on its own resource, with the
    search's status and run (the xgene2 fixture's margins file)."""
    import uniserver_ceilometer.pollsters as p
    fix = os.path.join(SRC, "tests", "fixtures", "xgene2")
    monkeypatch.setenv("UNISERVER_URI", f"uniserver:///system?procfs={fix}/proc&sysfs={fix}/sys"
                                        f"&margins={fix}/margins.json")
    p._conn = None
    got = []
    agent.notifier.sample = lambda ctx, event, payload: got.extend(payload["samples"])
    for task in agent.setup_polling_tasks().values():
        task.poll_and_notify()
    safe = sorted((s["resource_id"], s["counter_volume"], s["counter_unit"], s["resource_metadata"]["margin"])
                  for s in got if s["counter_name"] == "uniserver.host.margin.voltage.safe")
    assert safe == [("node-1-margin-pmd0:voltage@1200MHz", 875, "mV", "pmd0:voltage@1200MHz"),
                    ("node-1-margin-pmd0:voltage@2400MHz", 910, "mV", "pmd0:voltage@2400MHz")]
    refresh, = [s for s in got if s["counter_name"] == "uniserver.host.margin.refresh.guard"]
    assert (refresh["counter_volume"], refresh["resource_metadata"]["status"]) == (93, "budget")
    assert refresh["resource_metadata"]["run"].startswith("started 2026-12-07T02:40:00Z")
    assert not [s for s in got if s["counter_name"] == "uniserver.host.margin.frequency.safe"]
    p._conn = None
