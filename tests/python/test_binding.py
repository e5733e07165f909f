# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Python binding: the spec's methods under the spec's names return the documented lists,
equal to the C API's values (through unish --json) for the same source; failures return None
with lastError(); calls release the GIL and share a connection across threads; no leaks."""
import json
import os
import socket
import subprocess
import threading

import pytest
import uniserver
from testlib import Uniserverd

SRC = os.environ["SRCDIR"]
UNISH = os.path.join(os.environ["BUILDDIR"], "bin", "unish")
FIX = os.path.join(SRC, "tests", "fixtures")
VIEWS = {
    "getHostCPUStatisticsUniserver": "hostcpustats",
    "getHostMemoryStatisticsUniserver": "hostmemstats",
    "getHostTemperatureUniserver": "hosttemp",
    "getHostPowerConsumptionUniserver": "hostpower",
    "getDomainsStatisticsUniserver": "domsstats",
}


def fixture_uri(host):
    return f"uniserver:///system?procfs={FIX}/{host}/proc&sysfs={FIX}/{host}/sys"


def c_view(uri, cmd):
    out = subprocess.run([UNISH, "-c", uri, "--json", cmd, "--window", "0"], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)


def flatten(view):
    out = []
    for el in view:
        out += el if isinstance(el, list) else [el]
    return out


@pytest.mark.parametrize("host", ["x86-acpi", "x86-pstate", "xgene2", "bare"])
def test_views_equal_c_api_on_fixtures(host):
    c = uniserver.open(fixture_uri(host))
    assert c is not None, uniserver.lastError()
    for method, cmd in VIEWS.items():
        got = getattr(c, method)()
        assert got is not None, (method, uniserver.lastError())
        want = c_view(fixture_uri(host), cmd)
        values = [v for k, v in want.items() if k not in ("window_ms", "absent")]
        assert [v for v in flatten(got) if v is not None] == values, method
    c.close()


def test_views_against_the_kernel_files():
    """The binding's values against the fixture's kernel files as this test reads them (not against
    unish, which is the same library): memory from /proc/meminfo, the CPU view from /proc/stat and
    each core's cpufreq files."""
    root = os.path.join(FIX, "x86-acpi")
    c = uniserver.open(fixture_uri("x86-acpi"))
    kb = {l.split(":")[0]: int(l.split()[1]) for l in open(os.path.join(root, "proc", "meminfo"))}
    mem = c.getHostMemoryStatisticsUniserver()
    assert mem[0] == kb["MemTotal"] / 1024
    assert abs(mem[1] - 100 * kb["MemAvailable"] / kb["MemTotal"]) < 1e-9
    assert mem[2] == kb["MemAvailable"] / 1024
    assert mem[3] is None  # no HealthLog: the speed is absent
    assert abs(mem[4] - 100 * kb["Cached"] / kb["MemTotal"]) < 1e-9 and mem[5] == kb["Cached"] / 1024
    assert mem[6] == kb["SwapTotal"] / 1024
    cores = sorted(int(l.split()[0][3:]) for l in open(os.path.join(root, "proc", "stat"))
                   if l.startswith("cpu") and l[3].isdigit())
    freq = lambda n, f: int(open(os.path.join(root, "sys/devices/system/cpu", f"cpu{n}", "cpufreq", f)).read())
    cur = [freq(n, "scaling_cur_freq") / 1000 for n in cores]
    top = [freq(n, "cpuinfo_max_freq") / 1000 for n in cores]
    cpu = c.getHostCPUStatisticsUniserver()
    assert cpu[0] == len(cores) and cpu[2] == cur
    assert abs(cpu[1] - sum(100 * (m - f) / m for f, m in zip(cur, top)) / len(cores)) < 1e-9
    c.close()


def test_spec_shapes_on_test_driver():
    c = uniserver.open("test:///default")
    cpu = c.getHostCPUStatisticsUniserver()
    assert cpu[0] == 8 and cpu[1] == 18.75 and cpu[2] == [2400.0] * 4 + [1200.0] * 2 + [1800.0] * 2
    mem = c.getHostMemoryStatisticsUniserver()
    assert mem == [16384.0, 50.0, 8192.0, 1600.0, 18.75, 3072.0, 1024.0]
    sysv = c.getHostSystemStatisticsUniserver()
    # The host's utilisation is the mean of its cores' (the board's load moves: no fixed value).
    assert len(sysv) == 6 and len(sysv[4]) == 8 and abs(sysv[0] - sum(sysv[4]) / 8) < 1e-9
    assert all(0 < u <= 100 for u in sysv[4])
    assert len(c.getHostContentionStatistics()) == 4
    assert c.getHostGovernor() == "mixed"
    power = c.getHostPowerConsumptionUniserver()
    assert 0 < power[1] < power[0]  # DRAM draws less than the CPUs
    temp = c.getHostTemperatureUniserver()
    assert isinstance(temp[0], float) and len(temp[1]) == 8
    ce, ue = c.getCorrectableErrorsUniserver(), c.getUncorrectableErrorsUniserver()
    assert len(ce) == 8 and len(ue) == 8 and all(v is not None for v in ce + ue)
    assert c.getDomainsStatisticsUniserver()[:3] == [3, 2, 3072.0]
    stats = c.getStats()
    assert stats["host.cpu.count"] == 8 and stats["window_ms"] == 1000
    assert c.getStats(["host.cpu.3."])["host.cpu.3.freq_mhz"] == 2400.0
    keys = [d["key"] for d in c.metricDescriptors()]
    assert "host.cpu.N.freq_mhz" in keys
    c.close()
    c.close()  # twice is harmless
    with pytest.raises(ValueError):
        c.getHostGovernor()


def test_absent_elements_are_none():
    c = uniserver.open(fixture_uri("bare"))
    cpu = c.getHostCPUStatisticsUniserver()
    assert cpu[0] == 2 and cpu[1] is None  # no cpufreq: reserved capacity unknown
    assert c.getHostGovernor() is None
    code, msg = uniserver.lastError()
    assert code == uniserver.ERR_NO_DATA and "no cpufreq" in msg
    assert c.getHostPowerConsumptionUniserver() == [None, None]
    assert c.getCorrectableErrorsUniserver() == [None] * 8


def test_margins():
    """uni-stresslog's margins are metrics of the host record: one key per search and field, with
    the same values as the fixture's margins file; a search that failed at nominal has no safe
    value (None), not a number."""
    c = uniserver.openReadOnly(fixture_uri("xgene2") + f"&margins={FIX}/xgene2/margins.json")
    s = c.getStats(["margins"])
    assert s["host.margin.pmd0:voltage@2400MHz.voltage_safe_mv"] == 910
    assert s["host.margin.pmd0:voltage@1200MHz.voltage_guard_mv"] == 5
    assert s["host.margin.mc0:refresh.refresh_safe_ms"] == 931
    assert s["host.margin.mc0:refresh.status"] == "budget"
    assert s["host.margin.mc0:refresh.run"] == "started 2026-12-07T02:40:00Z, raw log /var/lib/uniserver/stresslog.jsonl"
    assert s["host.margin.pmd1:voltage@2400MHz.measured_timestamp_s"] == 1796611860
    assert "host.margin.pmd1:voltage@2400MHz.voltage_safe_mv" not in s


def test_failures_return_none_with_last_error():
    assert uniserver.open("bogus:///x") is None
    assert uniserver.lastError()[0] == uniserver.ERR_NO_DRIVER
    assert uniserver.errorCodeName(uniserver.lastError()[0]) == "NO_DRIVER"
    assert uniserver.open("uniserver:///system?procfs=/nonexistent") is None
    code, msg = uniserver.lastError()
    assert code == uniserver.ERR_NO_SOURCE and "/nonexistent" in msg
    c = uniserver.open("test:///default")
    assert c.getStats(["host.nothing"]) is None
    assert uniserver.lastError()[0] == uniserver.ERR_UNKNOWN_METRIC
    assert c.getHostCPUStatisticsUniserver() is not None
    assert uniserver.lastError() is None  # a successful call clears it, as libvirt does


def test_missing_tls_ca_is_its_own_error(tmp_path):
    # A listener that never speaks: the client checks its credentials before any handshake.
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        port = srv.getsockname()[1]
        c = uniserver.open(f"uniserver+tls://localhost:{port}/system?pkipath={tmp_path}&timeout=2000")
        if c is not None:
            assert c.getHostCPUStatisticsUniserver() is None
        code, msg = uniserver.lastError()
        assert uniserver.errorCodeName(code) == "TLS_CREDENTIALS" and code == uniserver.ERR_TLS_CREDENTIALS
        assert msg == f"TLS: no CA certificate in {tmp_path}/cacert.pem"


def test_errors_as_exceptions_on_request():
    # The spec's None stays the default; setRaiseOnError(True) raises uniserver.Error instead.
    try:
        uniserver.setRaiseOnError(True)
        with pytest.raises(uniserver.Error) as e:
            uniserver.open("bogus:///x")
        assert e.value.args[0] == uniserver.ERR_NO_DRIVER and e.value.args[1] == "NO_DRIVER"
        c = uniserver.open("test:///default")
        with pytest.raises(uniserver.Error) as e:
            c.getStats(["host.nothing"])
        assert e.value.args[1] == "UNKNOWN_METRIC" and "host.nothing" in e.value.args[2]
    finally:
        uniserver.setRaiseOnError(False)
    assert uniserver.open("bogus:///x") is None


def test_select_one_string_is_one_group():
    c = uniserver.open("test:///default")
    s = c.getStats("mem")  # not the characters m, e, m
    assert s is not None and "host.mem.total_mb" in s and not any(k.startswith("host.cpu.") for k in s)


def test_first_windowed_view_has_its_window():
    # The first call on a connection waits the view's window (as unish does): its rates are values.
    c = uniserver.open("uniserver:///system")
    v = c.getHostSystemStatisticsUniserver()
    assert v is not None and v[0] is not None and v[1] is not None, v


def test_docstrings_name_keys_and_units():
    doc = uniserver.Connection.getHostMemoryStatisticsUniserver.__doc__
    assert "[0] host.mem.total_mb (MB)" in doc and "[3] host.mem.speed_mhz (MHz)" in doc
    doc = uniserver.Connection.getCorrectableErrorsUniserver.__doc__
    assert "[6] host.errors.mcu.ce.count" in doc


def test_threads_share_a_connection():
    c = uniserver.open(fixture_uri("x86-acpi"))
    errors = []

    def work():
        for _ in range(500):
            v = c.getHostCPUStatisticsUniserver()
            if v is None or v[0] != 8:
                errors.append(v)

    ts = [threading.Thread(target=work) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []


def rss_kb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


@pytest.mark.skipif(bool(os.environ.get("UNI_SANITIZED")), reason="ASan's quarantine keeps freed memory: RSS says nothing")
def test_no_reference_leaks():
    c = uniserver.open("test:///default")
    for _ in range(2000):  # warm up allocators
        c.getHostCPUStatisticsUniserver()
        c.getStats(["mem"])
    before = rss_kb()
    for _ in range(100000):
        c.getHostCPUStatisticsUniserver()
        c.getStats(["mem"])
        uniserver.open("bogus:///x")
    grown = rss_kb() - before
    assert grown < 2048, f"RSS grew {grown} kB over 100000 calls"


def test_through_the_daemon():
    d = Uniserverd("test:///default", "--metrics-listen", "off", "--log-level", "error", prefix="uni-py-")
    try:
        c = uniserver.openReadOnly(d.uri(ro=True))
        assert c is not None, uniserver.lastError()
        assert c.getHostMemoryStatisticsUniserver() == [16384.0, 50.0, 8192.0, 1600.0, 18.75, 3072.0, 1024.0]
        assert c.getHostGovernor() == "mixed"
        c.close()
    finally:
        d.stop()


def test_node_set_frequency():
    c = uniserver.open("test:///default")
    # PMD 2 (cores 4 and 5) moves together, as an X-Gene2's V/F domain does.
    assert c.nodeSetFrequency(4, "1.8GHz") == [4, 5]
    assert c.getHostCPUStatisticsUniserver()[2][4:6] == [1800.0, 1800.0]
    assert c.nodeSetFrequency(4, 2400000) == [4, 5]
    assert c.nodeSetFrequency(42, "2GHz") is None
    assert uniserver.lastError()[0] == uniserver.ERR_NO_CORE
    assert c.nodeSetFrequency(4, "fast") is None
    assert uniserver.lastError()[0] == uniserver.ERR_INVALID_ARG
    assert c.nodeSetFrequency(4, "9GHz") is None
    assert uniserver.lastError()[0] == uniserver.ERR_OUT_OF_RANGE
    ro = uniserver.openReadOnly("test:///default")
    assert ro.nodeSetFrequency(4, "1.8GHz") is None
    assert uniserver.lastError()[0] == uniserver.ERR_ACCESS_DENIED
    assert c.nodeSetGovernor("performance") == 8
    assert c.getHostGovernor() == "performance"
    assert c.nodeSetGovernor("turbo-mode") is None


def test_domains():
    c = uniserver.open("test:///default")
    assert [d.name() for d in c.listAllDomains()] == ["vm-1", "vm-2", "vm-3"]
    assert [d.name() for d in c.listAllDomains(uniserver.LIST_DOMAINS_ACTIVE)] == ["vm-1", "vm-2"]
    d = c.lookupByName("vm-1")
    assert d.UUIDString() == "7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a61" and d.isActive()
    st = d.getDomainStatisticsUniserver()
    assert st[0] == 12.5 and st[1] == 2048.0 and len(st) == 4  # the spec's 4 elements
    assert c.lookupByUUIDString("7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a62").name() == "vm-2"
    assert c.lookupByName("nope") is None
    assert uniserver.lastError()[0] == uniserver.ERR_NO_DOMAIN
    stats = dict((dom.name(), rec) for dom, rec in c.getAllDomainStats())
    assert stats["vm-1"]["dom.cpu.count"] == 2 and stats["vm-3"]["dom.state"] == "shut off"
    assert "dom.kvm.exits" in stats["vm-1"]
    assert set(d.getStats(["dom.mem"])) == {"dom.mem.usage_mb", "dom.mem.resident_mb", "dom.mem_mb", "dom.mem_pct"}
    assert d.getStats(("dom.mem",)) == d.getStats(["dom.mem"])  # any sequence, as the connection's getStats
    with pytest.raises(TypeError):
        d.getStats([1])
    c.close()
    with pytest.raises(ValueError):  # its connection is closed
        d.getDomainStatisticsUniserver()


def test_healthlog_queries():
    c = uniserver.open("test:///default")
    mem = c.healthLogQueryMemory()
    assert mem and all(e["event.class"] == "memory" for e in mem)
    dimm = mem[0]["event.dimm"]
    one = c.healthLogQueryMemory(dimm)
    assert one and all(e["event.dimm"] == dimm for e in one)  # the spec's get_healthlog_memory(dimm id)
    cpu = c.healthLogQueryCPU(2)
    assert cpu and all(e["event.cpu"] == 2 for e in cpu)
    h = uniserver.open("uniserver:///system?healthlog=/nonexistent/healthlog.db")
    assert h.healthLogQueryMemory("DIMM_A1") is None
    code, msg = uniserver.lastError()
    assert code == uniserver.ERR_NO_SOURCE and "uni-healthd" in msg


def test_healthlog():
    """get_healthlog_memory / get_healthlog_cpu: the same events the C API gives unish."""
    c = uniserver.open("test:///default")
    ev = c.get_healthlog_memory("DIMM0B")
    assert ev and all(e["event.dimm"] == "DIMM0B" for e in ev)
    out = subprocess.run([UNISH, "-c", "test:///default", "--json", "healthlog", "--dimm", "DIMM0B"], check=True,
                         capture_output=True, text=True).stdout
    assert [(e["event.severity"], e["event.count"]) for e in ev] == [(e["event.severity"], e["event.count"]) for e in json.loads(out)]
    ue = c.get_healthlog_memory("DIMM0B", flags=uniserver.HEALTHLOG_UNCORRECTED)
    assert ue and all(e["event.severity"] == "uncorrected" for e in ue)
    assert len(ue) < len(ev)
    cpu = c.get_healthlog_cpu(3)
    assert cpu and all(e["event.cpu"] == 3 and e["event.component"] in ("l1", "l2") for e in cpu)
    assert c.get_healthlog_cpu(-2) is None
    assert uniserver.lastError()[0] == uniserver.ERR_INVALID_ARG
    c.close()
    none = uniserver.open(f"uniserver:///system?healthlog={FIX}/no-such-healthlog.db")
    assert none.get_healthlog_memory() is None
    assert "no HealthLog at" in uniserver.lastError()[1]
    none.close()


def test_table4_and_reliability_under_libvirt_python_names():
    # The spec's Table 4 as libvirt-python names it, on the test driver's simulated VMs.
    c = uniserver.open("test:///default")
    d = c.lookupByName("vm-1")
    state, maxmem, mem, nvcpu, cputime = d.info()
    assert (state, maxmem, mem, nvcpu) == (1, 2048 * 1024, 2048 * 1024, 2)
    assert d.maxMemory() == 2048 * 1024 and d.maxVcpus() == 4
    assert "<name>vm-1</name>" in d.XMLDesc(0)
    assert d.schedulerType() == ["posix", 3]
    assert d.schedulerParameters() == {"cpu_shares": 1024, "vcpu_period": 100000, "vcpu_quota": -1}
    infos, maps = d.vcpus()
    assert [i[3] for i in infos] == [0, 1] and maps[1] == (True, True, False, False, False, False, False, False)
    assert d.pinVcpu(1, (False,) * 5 + (True,)) == 0
    infos, maps = d.vcpus()
    assert infos[1][3] == 5 and maps[1][5] and not maps[1][0]
    assert len(d.getCPUStats(False)) == 8 and "cpu_time" in d.getCPUStats(True)[0]
    assert d.pinVcpu(1, (False,) * 8) == -1 and uniserver.errorCodeName(uniserver.lastError()[0]) == "INVALID_ARG"
    assert d.pinVcpu(1, (False,) * 9 + (True,)) == -1 and uniserver.errorCodeName(uniserver.lastError()[0]) == "NO_CORE"
    assert d.reliability() == "normal"
    assert d.setReliability("gold") == -1 and "gold" in uniserver.lastError()[1]
    assert d.setReliability("high") == 0 and d.reliability() == "high"
    # The reason that goes with the changes: one line of text under 512 bytes, or refused.
    assert c.setAuditReason("x" * 512) == -1 and "at most 511" in uniserver.lastError()[1]
    assert c.setAuditReason("two\nlines") == -1
    assert uniserver.errorCodeName(uniserver.lastError()[0]) == "INVALID_ARG"
    assert c.setAuditReason("ticket 42: rebalance") == 0 and c.setAuditReason(None) == 0
    assert d.getStats(["dom.reliability"])["dom.reliability"] == "high"
    listed = c.listAllDomainsInfo()
    assert [(x.name(), i[0]) for x, i in listed] == [("vm-1", 1), ("vm-2", 1), ("vm-3", 5)]
    ro = uniserver.openReadOnly("test:///default")
    assert ro.lookupByName("vm-1").setReliability("low") == -1
    assert uniserver.errorCodeName(uniserver.lastError()[0]) == "ACCESS_DENIED"
