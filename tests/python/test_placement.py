# SPDX-License-Identifier: LGPL-2.1-or-later
"""uniserver-placement-sync against a real Placement (python3-placement's WSGI app under uwsgi, its own
SQLite database, auth_strategy noauth2), started and stopped here: three resource providers, each
node's class from a real source (a uniserverd and the local driver over fixture trees with
uni-healthd's HealthLog; the test driver, which has no class), the trait follows a flip within
seconds, `GET /resource_providers?required=CUSTOM_UNISERVER_RELIABLE` (the scheduler's query) returns
exactly the reliable nodes, other traits are kept, a 409 is retried, and Placement away, a refused
token and a missing provider are logged and retried with backoff, never a crash."""
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

import pytest
from testlib import free_port, wait_for

import uniserver

SRC = os.environ["SRCDIR"]
BUILD = os.environ["BUILDDIR"]
HEALTHD = os.path.join(BUILD, "bin", "uni-healthd")
UNISERVERD = os.path.join(BUILD, "bin", "uniserverd")
AGENT = [sys.executable, os.path.join(SRC, "python", "uniserver-placement-sync")]
THRESHOLD = 0.004  # the fixture's P(failure in 24 h): 0.003 with no failure, 0.0055 after one UE
R, X = "CUSTOM_UNISERVER_RELIABLE", "CUSTOM_UNISERVER_EXTENDED_MARGINS"

from uniserver_placement import agent as ag  # noqa: E402


@pytest.fixture(scope="module")
def placement():
    if not shutil.which("uwsgi") or not os.path.exists("/usr/bin/placement-api"):
        pytest.fail("python3-placement and uwsgi-plugin-python3 are needed (make deps-test installs them)")
    d = tempfile.mkdtemp(prefix="uni-placement-")
    port = free_port()
    with open(os.path.join(d, "placement.conf"), "w") as f:
        f.write(f"[DEFAULT]\ndebug = false\n[api]\nauth_strategy = noauth2\n[placement_database]\n"
                f"connection = sqlite:///{d}/placement.db\nsync_on_startup = true\n")
    url = f"http://127.0.0.1:{port}"
    p, log = uwsgi_app(d, port, "/usr/bin/placement-api", {"OS_PLACEMENT_CONFIG_DIR": d},
                       lambda: req("GET", url, "/resource_providers"))
    try:
        yield url, d
    finally:
        uwsgi_stop(p, log, d)


def uwsgi_app(d, port, wsgi_file, env, probe):
    """A WSGI app under uwsgi on 127.0.0.1:PORT, its log in D/uwsgi.log; returns once probe() answers."""
    log = open(os.path.join(d, "uwsgi.log"), "w")
    p = subprocess.Popen(["uwsgi", "--plugin", "python3", "--http-socket", f"127.0.0.1:{port}", "--wsgi-file",
                          wsgi_file, "--processes", "1", "--threads", "4", "--master", "--die-on-term", "--lazy-apps"],
                         stdout=log, stderr=subprocess.STDOUT, cwd=d, env=dict(os.environ, **env))

    def up():
        try:
            probe()
            return True
        except Exception:
            assert p.poll() is None, open(os.path.join(d, "uwsgi.log")).read()[-3000:]
            return False
    try:
        wait_for(up, f"{wsgi_file} under uwsgi", timeout=60)
    except AssertionError:
        uwsgi_stop(p, log, None)
        raise AssertionError(f"{wsgi_file} did not come up: " + open(os.path.join(d, "uwsgi.log")).read()[-3000:])
    return p, log


def uwsgi_stop(p, log, d):
    p.terminate()
    p.wait(timeout=20)
    log.close()
    if d:
        shutil.rmtree(d, ignore_errors=True)


def req(method, url, path, body=None, token="admin", version="1.6"):
    r = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                               headers={"X-Auth-Token": token, "OpenStack-API-Version": f"placement {version}",
                                        "Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=30) as resp:
        text = resp.read()
        return json.loads(text) if text else None


def traits(url, rp):
    return set(req("GET", url, f"/resource_providers/{rp}/traits")["traits"])


def reliable_names(url):
    return {p["name"] for p in req("GET", url, f"/resource_providers?required={R}", version="1.18")["resource_providers"]}


def make_rp(url, name):
    rp = str(uuid.uuid4())
    req("POST", url, "/resource_providers", {"name": name, "uuid": rp})
    return rp


class Host:
    """A fixture tree (health-x86) with uni-healthd's HealthLog: its local-driver URI has a class."""

    def __init__(self, tmp, name):
        self.root = os.path.join(tmp, name)
        shutil.copytree(os.path.join(SRC, "tests", "fixtures", "health-x86"), self.root, symlinks=True)
        self.db = os.path.join(tmp, name + ".db")
        self.healthd()

    def healthd(self):
        subprocess.run([HEALTHD, "--once", "--db", self.db, "--procfs", self.root + "/proc", "--sysfs",
                        self.root + "/sys", "--set", "trace=no", "--log-level", "error"], check=True, timeout=60)

    def uri(self):
        return (f"uniserver:///system?procfs={self.root}/proc&sysfs={self.root}/sys&healthlog={self.db}"
                f"&reliability_threshold={THRESHOLD}")

    def uncorrected_error(self):
        """One uncorrected error on a DIMM, as EDAC counts it, then uni-healthd's pass records it."""
        with open(os.path.join(self.root, "sys/devices/system/edac/mc/mc1/dimm1/dimm_ue_count"), "w") as f:
            f.write("1\n")
        self.healthd()


def conf_file(tmp, name, url, uri, token="admin", interval=0.5, backoff_max=4):
    path = os.path.join(tmp, name + ".conf")
    with open(path, "w") as f:
        f.write(f"[DEFAULT]\nuri = {uri}\nresource_provider = {name}\ninterval = {interval}\n"
                f"backoff_max = {backoff_max}\n[placement]\nauth_type = admin_token\nendpoint = {url}\n"
                f"token = {token}\ntimeout = 5\n")
    return path


def start_agent(conf, tmp, name):
    log = open(os.path.join(tmp, name + ".log"), "w+")
    p = subprocess.Popen(AGENT + ["--config", conf, "--log-level", "info"], stdout=log, stderr=subprocess.STDOUT,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    return p, log


def text(log):
    log.flush()
    with open(log.name) as f:
        return f.read()


def start_uniserverd(rundir, uri):
    p = subprocess.Popen([UNISERVERD, "-f", "--runtime-dir", rundir, "--uri", uri, "--interval", "200",
                          "--metrics-listen", "off", "--log-level", "error"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    wait_for(lambda: os.path.exists(os.path.join(rundir, "uniserver-sock-ro")) or p.poll() is not None, "uniserverd")
    assert p.poll() is None, "uniserverd exited"
    return p


def stop(p):
    if p.poll() is None:
        p.terminate()
    p.wait(timeout=20)


def test_margin_rule_on_operating_points():
    c = uniserver.open("test:///default")
    opps = c.getOperatingPoints()
    # The test driver's board: every domain at its nominal voltage and refresh (pmd2 runs at a lower
    # frequency, which is not a margin).
    assert ag.margin_mode(opps, None)[0] is False
    opps[1]["params"]["voltage_mv"]["current"] -= 10
    ext, why = ag.margin_mode(opps, None)
    assert ext is True and "pmd1 at 970 mV, below its nominal 980 mV" in why
    opps[1]["params"]["voltage_mv"]["current"] += 10
    opps[4]["params"]["refresh_ms"]["current"] = 128
    assert ag.margin_mode(opps, None) == (True, "mc0 refreshes every 128 ms, nominal 64 ms")
    # A host without a board interface: the vendor's margins; a failed call: unknown.
    assert ag.margin_mode(None, (uniserver.ERR_NO_SUPPORT, "no board"))[0] is False
    assert ag.margin_mode(None, (uniserver.ERR_RPC_FAILED, "gone"))[0] is None
    assert ag.wanted_traits(True, None, 0.0029) == {R, X, "CUSTOM_UNISERVER_PFAIL24H_LE_3000"}
    assert ag.wanted_traits(False, False, None) == set()
    assert ag.pfail_of_traits({"CUSTOM_UNISERVER_PFAIL24H_LE_3000", "HW_CPU_X86_AVX2"}) == 0.003


def test_traits_follow_the_class(placement, capsys):
    url, d = placement
    tmp = tempfile.mkdtemp(prefix="uni-plsync-")
    procs = []
    try:
        a, b = Host(tmp, "node-a"), Host(tmp, "node-b")
        b.uncorrected_error()  # node-b is unreliable from the start
        rps = {n: make_rp(url, n) for n in ("node-a", "node-b", "node-c")}
        # An operator's and Nova's own traits on node-a: kept through every change.
        req("PUT", url, "/traits/CUSTOM_RACK_7")
        gen = req("GET", url, f"/resource_providers/{rps['node-a']}")["generation"]
        req("PUT", url, f"/resource_providers/{rps['node-a']}/traits",
            {"traits": ["HW_CPU_X86_AVX2", "CUSTOM_RACK_7"], "resource_provider_generation": gen})
        # node-a through a uniserverd (its runtime directory fixed, so it can be restarted).
        rundir = os.path.join(tmp, "run-a")
        os.mkdir(rundir)
        ud = start_uniserverd(rundir, a.uri())
        procs.append(ud)
        a_uri = f"uniserver+unix:///ro?socket={rundir}/uniserver-sock-ro"
        agents = {}
        for name, uri in (("node-a", a_uri), ("node-b", b.uri()), ("node-c", "test:///default")):
            p, log = start_agent(conf_file(tmp, name, url, uri), tmp, name)
            procs.append(p)
            agents[name] = log
        want_a = {"HW_CPU_X86_AVX2", "CUSTOM_RACK_7", R, "CUSTOM_UNISERVER_PFAIL24H_LE_3000"}
        wait_for(lambda: traits(url, rps["node-a"]) == want_a, "node-a reliable")
        # node-b: unreliable (P 0.0055 >= 0.004), at the vendor's margins (no board interface).
        wait_for(lambda: traits(url, rps["node-b"]) == {"CUSTOM_UNISERVER_PFAIL24H_LE_10000"}, "node-b unreliable")
        # node-c: the test driver has no predictor: class absent, so not reliable; its board is at nominal.
        wait_for(lambda: "traits of 'node-c'" in text(agents["node-c"]), "node-c's first pass")
        assert traits(url, rps["node-c"]) == set(), text(agents["node-c"])
        assert "reliability class absent" in text(agents["node-c"])
        assert reliable_names(url) == {"node-a"}

        # uniserverd stops: nothing vouches for node-a any more (fail safe).
        t0 = time.monotonic()
        stop(ud)
        wait_for(lambda: R not in traits(url, rps["node-a"]), "RELIABLE removed when uniserver is unreachable")
        unreachable_s = time.monotonic() - t0
        assert traits(url, rps["node-a"]) == {"HW_CPU_X86_AVX2", "CUSTOM_RACK_7", X}
        assert reliable_names(url) == set()
        assert "uniserver: cannot read the host record" in text(agents["node-a"]), text(agents["node-a"])
        # Back: reliable again.
        t0 = time.monotonic()
        ud = start_uniserverd(rundir, a.uri())
        procs.append(ud)
        wait_for(lambda: traits(url, rps["node-a"]) == want_a, "node-a reliable again")
        back_s = time.monotonic() - t0
        # The flip: an uncorrected error in node-a's HealthLog turns it unreliable.
        t0 = time.monotonic()
        a.uncorrected_error()
        wait_for(lambda: R not in traits(url, rps["node-a"]), "RELIABLE removed after the uncorrected error")
        flip_s = time.monotonic() - t0
        assert traits(url, rps["node-a"]) == {"HW_CPU_X86_AVX2", "CUSTOM_RACK_7", "CUSTOM_UNISERVER_PFAIL24H_LE_10000"}
        assert reliable_names(url) == set()
        for p in procs:
            assert p.poll() is None or p in (procs[0],), "an agent exited"
        with capsys.disabled():
            print(f"\ntrait latency (agent interval 0.5 s, uniserverd interval 0.2 s): unreliable after a UE "
                  f"{flip_s:.2f} s, RELIABLE removed {unreachable_s:.2f} s after uniserverd stopped, "
                  f"back {back_s:.2f} s after it started")
        # The promise: the agent's interval plus uniserverd's sample and a round trip; 10 s on a loaded machine.
        assert flip_s < 10 and unreachable_s < 10 and back_s < 10
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)


def agent_for(url, name, uri="test:///default", token="admin", interval=1, backoff_max=8):
    conf = ag.load_config(None)
    conf["DEFAULT"].update({"uri": uri, "resource_provider": name, "interval": str(interval),
                            "backoff_max": str(backoff_max)})
    conf["placement"].update({"auth_type": "admin_token", "endpoint": url, "token": token, "timeout": "5"})
    return ag.Agent(conf)


def test_one_get_per_cycle_when_nothing_changes(placement, capsys):
    url, _ = placement
    rp = make_rp(url, "node-quiet")
    a = agent_for(url, "node-quiet")
    assert a.once()  # finds the provider, writes the traits
    assert traits(url, rp) == set()  # the test driver: no class, margins nominal
    req("PUT", url, "/traits/CUSTOM_UNISERVER_RELIABLE")  # someone else's stale claim ...
    gen = req("GET", url, f"/resource_providers/{rp}")["generation"]
    req("PUT", url, f"/resource_providers/{rp}/traits", {"traits": [R, "HW_CPU_X86_SSE"], "resource_provider_generation": gen})
    assert a.once()
    assert traits(url, rp) == {"HW_CPU_X86_SSE"}  # ... removed, the other trait kept
    calls = []
    orig = a.placement.call
    a.placement.call = lambda m, p, **kw: calls.append((m, p)) or orig(m, p, **kw)
    for _ in range(3):
        assert a.once()
    assert calls == [("GET", f"/resource_providers/{rp}/traits")] * 3
    with capsys.disabled():
        print(f"\nPlacement requests per cycle with nothing changed: {len(calls) / 3:.0f} ({calls[0][0]} {calls[0][1]})")


def test_conflict_is_retried(placement):
    url, _ = placement
    rp = make_rp(url, "node-busy")
    a = agent_for(url, "node-busy", uri="test:///default")
    a.node.read = lambda: (True, False, 0.0001, "forced")
    a.placement = ag.Placement(a.conf["placement"])
    orig = a.placement.put_traits
    raced = []

    def racing_put(uuid_, new, gen):
        if not raced:  # another writer (nova-compute) gets in between our GET and our PUT
            req("PUT", url, "/traits/CUSTOM_NOVA_THING")
            req("PUT", url, f"/resource_providers/{rp}/traits", {"traits": ["CUSTOM_NOVA_THING"],
                                                               "resource_provider_generation": gen})
            raced.append(gen)
        return orig(uuid_, new, gen)

    a.placement.put_traits = racing_put
    assert a.once()
    assert traits(url, rp) == {"CUSTOM_NOVA_THING", R, "CUSTOM_UNISERVER_PFAIL24H_LE_100"}


def test_failures_are_logged_and_backed_off(placement, caplog):
    url, _ = placement
    caplog.set_level(logging.INFO, logger="uniserver-placement-sync")
    dead = f"http://127.0.0.1:{free_port()}"
    for target, name, token, expect in ((dead, "node-x", "admin", "cannot reach Placement"),
                                        (url, "node-x", "nobody", "Placement refused the token (HTTP 403"),
                                        (url, "no-such-node", "admin", "no resource provider named 'no-such-node'")):
        caplog.clear()
        a = agent_for(target, name, token=token, interval=1, backoff_max=8)
        delays = []
        for _ in range(5):
            assert a.once() is False
            delays.append(a.delay())
        assert delays == [2, 4, 8, 8, 8], delays
        msgs = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(msgs) == 5 and all(expect in m for m in msgs), msgs
        assert "retrying in 2 s" in msgs[0] and "retrying in 8 s" in msgs[-1]
    # Recovery: the provider appears, the next pass succeeds and the wait is the interval again.
    make_rp(url, "no-such-node")
    assert a.once() and a.delay() == 1
    assert "Placement reachable again after 5 failed attempts" in caplog.text


def test_deleted_provider_is_found_again(placement):
    url, _ = placement
    rp = make_rp(url, "node-moved")
    a = agent_for(url, "node-moved")
    a.node.read = lambda: (True, False, 0.0001, "forced")
    assert a.once() and R in traits(url, rp)
    req("DELETE", url, f"/resource_providers/{rp}")
    assert a.once() is False  # 404: logged, the provider looked up again next pass
    rp2 = make_rp(url, "node-moved")
    assert a.once() and R in traits(url, rp2)


def test_the_service_keeps_running(placement):
    """The CLI with Placement away, a wrong token and a missing provider: running, logging, backing off."""
    url, _ = placement
    tmp = tempfile.mkdtemp(prefix="uni-plsync-")
    procs = []
    try:
        cases = [(f"http://127.0.0.1:{free_port()}", "node-y", "admin", "cannot reach Placement"),
                 (url, "node-y", "nobody", "Placement refused the token"),
                 (url, "node-nowhere", "admin", "no resource provider named 'node-nowhere-2'")]
        logs = []
        for i, (target, name, token, expect) in enumerate(cases):
            p, log = start_agent(conf_file(tmp, f"{name}-{i}", target, "test:///default", token=token, interval=0.25,
                                           backoff_max=1), tmp, f"case{i}")
            procs.append(p)
            logs.append((log, expect))
        for p, (log, expect) in zip(procs, logs):
            wait_for(lambda: text(log).count(expect) >= 3, f"three warnings '{expect}'")
            out = text(log)
            assert p.poll() is None, out
            assert "Traceback" not in out, out
            assert "retrying in 0.5 s" in out and "retrying in 1 s" in out, out  # 0.5 s, then the 1 s cap
        # --once: one pass, exit 1 when it could not publish, 0 when it did.
        r = subprocess.run(AGENT + ["--config", conf_file(tmp, "node-once", url, "test:///default", token="nobody"),
                                    "--once"], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
        assert r.returncode == 1 and "refused the token" in r.stderr, r.stderr
        make_rp(url, "node-once")
        r = subprocess.run(AGENT + ["--config", conf_file(tmp, "node-once", url, "test:///default"), "--once"],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
        assert r.returncode == 0 and "traits of 'node-once' up to date" in r.stderr, r.stderr
        r = subprocess.run(AGENT + ["--help"], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
        assert r.returncode == 0 and "CUSTOM_UNISERVER_RELIABLE" in r.stdout and "--once" in r.stdout
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)


def nova_conf(tmp_path, url, cache_s=60):
    """nova.conf as an operator writes it for the weigher; Nova's CONF parsed from it."""
    import nova.conf
    path = tmp_path / "nova.conf"
    path.write_text(f"[placement]\nauth_type = admin_token\nendpoint = {url}\ntoken = admin\n"
                    f"[filter_scheduler]\nweight_classes = nova.scheduler.weights.all_weighers,"
                    f"uniserver_nova.weigher.UniserverReliabilityWeigher\n"
                    f"uniserver_reliability_weight_multiplier = 10.0\nuniserver_traits_cache_seconds = {cache_s}\n")
    nova.conf.CONF([], project="nova", default_config_files=[str(path)])
    from nova.scheduler.client import report
    from uniserver_nova import weigher
    report.PLACEMENTCLIENT = None  # Nova's singleton, made again from this CONF
    weigher.UniserverReliabilityWeigher._client = None
    weigher.UniserverReliabilityWeigher._cache.clear()
    return nova.conf.CONF


def test_weigher_with_novas_scheduler_classes(placement, tmp_path, caplog):
    """The weigher loaded the way Nova's HostManager loads weight_classes, weighing python3-nova's
    HostState objects with its HostWeightHandler; the probabilities are the traits the real agent
    published in Placement."""
    url, _ = placement
    from nova import objects
    objects.register_all()
    from nova.scheduler import host_manager, weights
    conf = nova_conf(tmp_path, url)
    p_of = {"w-safe": 0.00005, "w-mid": 0.002, "w-risky": 0.08, "w-unknown": None}
    hosts = []
    for name, p in p_of.items():
        rp = make_rp(url, name)
        a = agent_for(url, name)
        a.node.read = lambda p=p: (p is not None and p < 0.05, False, p, "forced")
        assert a.once()
        h = host_manager.HostState(name, name, "00000000-0000-0000-0000-000000000001")
        # As the HostManager fills it from the compute node's record; every other weigher ties.
        h.update(compute=objects.ComputeNode(
            uuid=rp, host=name, hypervisor_hostname=name, vcpus=8, vcpus_used=0, memory_mb=16384, free_ram_mb=16384,
            local_gb=100, local_gb_used=0, free_disk_gb=100, disk_available_least=100, host_ip="192.0.2.1",
            hypervisor_type="QEMU", hypervisor_version=7002000, cpu_info="{}", numa_topology=None,
            pci_device_pools=objects.PciDevicePoolList(objects=[]), supported_hv_specs=[], updated_at=None,
            cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0, disk_allocation_ratio=1.0, stats={}, metrics="[]"),
            service={"disabled": False}, aggregates=[], inst_dict={})
        assert h.uuid == rp
        hosts.append(h)
    handler = weights.HostWeightHandler()
    classes = handler.get_matching_classes(conf.filter_scheduler.weight_classes)
    assert any(c.__name__ == "UniserverReliabilityWeigher" for c in classes)
    assert len(classes) > 5  # Nova's own weighers too
    weighers = [c() for c in classes]

    def spec(cls):
        specs = {"uniserver:reliability": cls} if cls else {}
        return objects.RequestSpec(flavor=objects.Flavor(name="m1", extra_specs=specs), num_instances=1,
                                   instance_group=None, scheduler_hints={}, requested_destination=None,
                                   project_id="p", user_id="u", ignore_hosts=None, force_hosts=None, force_nodes=None)

    ranked = handler.get_weighed_objects(weighers, list(hosts), spec("high"))
    assert [w.obj.host for w in ranked] == ["w-safe", "w-mid", "w-risky", "w-unknown"], \
        [(w.obj.host, w.weight) for w in ranked]
    # 10 x normalised nines: 1e-4 (bucket 100 ppm) weighs 4, 3e-3 2.52, 0.1 1, unknown 0.
    assert abs(ranked[0].weight - ranked[-1].weight - 10.0) < 1e-6
    ours = [w for w in weighers if type(w).__name__ == "UniserverReliabilityWeigher"][0]
    for cls in ("normal", "low", None):
        assert ours.weigh_objects([weights.WeighedHost(h, 0.0) for h in hosts], spec(cls)) == [0.0] * 4
    # The traits are cached: no more requests within uniserver_traits_cache_seconds.
    calls = []
    orig = ours._client.get_provider_traits
    ours._client.get_provider_traits = lambda ctx, rp: calls.append(rp) or orig(ctx, rp)
    handler.get_weighed_objects(weighers, list(hosts), spec("high"))
    assert calls == []
    # Placement away: every host is unknown (weighs as the worst), a warning, no exception.
    nova_conf(tmp_path, f"http://127.0.0.1:{free_port()}", cache_s=0)
    ranked = handler.get_weighed_objects([c() for c in classes], list(hosts), spec("high"))
    assert len(ranked) == 4
    assert "uniserver weigher: cannot read the traits of w-safe" in caplog.text


API_PASTE = """[composite:osapi_compute]
use = call:nova.api.openstack.urlmap:urlmap_factory
/v2.1: openstack_compute_api_v21
[composite:openstack_compute_api_v21]
use = call:nova.api.auth:pipeline_factory_v21
noauth2 = request_id faultwrap noauth2 osapi_compute_app_v21
keystone = request_id faultwrap noauth2 osapi_compute_app_v21
[filter:request_id]
paste.filter_factory = oslo_middleware:RequestId.factory
[filter:faultwrap]
paste.filter_factory = nova.api.openstack:FaultWrapper.factory
[filter:noauth2]
paste.filter_factory = nova.api.openstack.auth:NoAuthMiddleware.factory
[app:osapi_compute_app_v21]
paste.app_factory = nova.api.openstack.compute:APIRouterV21.factory
"""


@pytest.fixture(scope="module")
def nova_api():
    """python3-nova's compute API (osapi_compute) under uwsgi with its own SQLite API and main
    databases (nova-manage api_db sync, db sync), auth_strategy noauth2: Nova's flavor list."""
    d = tempfile.mkdtemp(prefix="uni-nova-")
    port = free_port()
    with open(os.path.join(d, "api-paste.ini"), "w") as f:
        f.write(API_PASTE)
    with open(os.path.join(d, "nova.conf"), "w") as f:
        f.write(f"[DEFAULT]\ndebug = false\ntransport_url = fake://\n[api]\nauth_strategy = noauth2\n"
                f"[wsgi]\napi_paste_config = {d}/api-paste.ini\n[api_database]\nconnection = sqlite:///{d}/api.db\n"
                f"[database]\nconnection = sqlite:///{d}/main.db\n")
    with open(os.path.join(d, "app.py"), "w") as f:
        f.write("from nova.api.openstack.compute import wsgi\napplication = wsgi.init_application()\n")
    for sync in ("api_db", "db"):
        subprocess.run([sys.executable, "-c", "import sys; from nova.cmd.manage import main; sys.exit(main())",
                        "--config-file", f"{d}/nova.conf", sync, "sync"], check=True, capture_output=True, timeout=300)
    url = f"http://127.0.0.1:{port}/v2.1"
    p, log = uwsgi_app(d, port, f"{d}/app.py", {"OS_NOVA_CONFIG_DIR": d}, lambda: nreq("GET", url, "/flavors"))
    try:
        yield url
    finally:
        uwsgi_stop(p, log, d)


def nreq(method, url, path, body=None):
    r = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                               headers={"X-Auth-Token": "admin:admin", "Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=60) as resp:
        text = resp.read()
        return json.loads(text) if text else None


def test_flavor_table_from_novas_flavor_list(nova_api, placement, tmp_path):
    """The agent reads Nova's flavor list (extra specs, microversion 2.61) from a real nova-api and
    writes the table the libvirt driver reads (tests/libvirt-test.py reads what this writer writes)."""
    url, _ = placement
    from uniserver_placement import flavors
    for name, cls in (("r1.gold", "high"), ("r1 bronze & spot", "low"), ("m1.tiny", None), ("r1.odd", "top")):
        fid = nreq("POST", nova_api, "/flavors", {"flavor": {"name": name, "ram": 512, "vcpus": 1, "disk": 1}})["flavor"]["id"]
        if cls:
            nreq("POST", nova_api, f"/flavors/{fid}/os-extra_specs", {"extra_specs": {"uniserver:reliability": cls}})
    table = tmp_path / "flavor-classes"
    conf = tmp_path / "sync.conf"
    conf.write_text(f"[DEFAULT]\nuri = test:///default\nresource_provider = node-flavors\nflavor_classes = {table}\n"
                    f"[placement]\nauth_type = admin_token\nendpoint = {url}\ntoken = admin\n"
                    f"[nova]\nauth_type = admin_token\nendpoint = {nova_api}\ntoken = admin:admin\n")
    make_rp(url, "node-flavors")
    r = subprocess.run(AGENT + ["--config", str(conf), "--once"], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert r.returncode == 0, r.stderr
    assert "flavor 'r1.odd': uniserver:reliability='top' is not one of high/normal/low" in r.stderr
    assert f"flavor table {table}: 2 flavors with a reliability class" in r.stderr
    rows = [line for line in table.read_text().splitlines() if not line.startswith("#")]
    assert rows == ["high\tr1.gold", "low\tr1 bronze & spot"]
    # Nova away: the old table stays, a warning.
    conf.write_text(conf.read_text().replace(nova_api, f"http://127.0.0.1:{free_port()}/v2.1"))
    r = subprocess.run(AGENT + ["--config", str(conf), "--once"], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert f"flavor table {table} not refreshed" in r.stderr, r.stderr
    assert [line for line in table.read_text().splitlines() if not line.startswith("#")] == rows
    assert flavors.table_text([]) == flavors.HEADER


def test_margins_follow_the_operating_points(placement, tmp_path):
    """On the simulated board (uni-simboard, FUSE): a PMD undervolted below its nominal, then DRAM
    refreshed less often than nominal, sets CUSTOM_UNISERVER_EXTENDED_MARGINS; back at nominal, it goes."""
    simboard, unish = os.path.join(BUILD, "bin", "uni-simboard"), os.path.join(BUILD, "bin", "unish")
    if not os.path.exists(simboard) or not os.path.exists("/dev/fuse") or os.geteuid() != 0:
        pytest.skip("the simulated board needs uni-simboard (libfuse3), /dev/fuse and root")
    url, _ = placement
    mnt = tmp_path / "board"
    mnt.mkdir()
    board = subprocess.Popen([simboard, "--seed", "42", "--manual-clock", str(mnt)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    agent = None
    try:
        wait_for(lambda: (mnt / "sys/devices/system/cpu/online").exists() or board.poll() is not None, "the board")
        assert board.poll() is None, board.stderr.read()
        uri = f"uniserver:///system?procfs={mnt}/proc&sysfs={mnt}/sys"
        rp = make_rp(url, "node-board")
        agent, log = start_agent(conf_file(str(tmp_path), "node-board", url, uri), str(tmp_path), "node-board")

        def setopp(*args):
            subprocess.run([unish, "-c", uri, "setoppoint", *args], check=True, capture_output=True, timeout=60)

        wait_for(lambda: "traits of 'node-board'" in text(log), "the first pass")
        assert X not in traits(url, rp), text(log)
        for change, back in ((("pmd1", "voltage_mv=950"), ("pmd1", "voltage_mv=980")),
                             (("mc1", "refresh_ms=256"), ("mc1", "refresh_ms=64"))):
            setopp(*change)
            wait_for(lambda: X in traits(url, rp), f"EXTENDED_MARGINS after {change}")
            setopp(*back)
            wait_for(lambda: X not in traits(url, rp), f"no EXTENDED_MARGINS after {back}")
        assert "pmd1 at 950 mV, below its nominal 980 mV" in text(log)
        assert "mc1 refreshes every 256 ms, nominal 64 ms" in text(log)
    finally:
        if agent:
            stop(agent)
        board.terminate()
        board.wait(timeout=10)
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
