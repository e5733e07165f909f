# SPDX-License-Identifier: LGPL-2.1-or-later
"""Ceilometer pollsters for uniserver.

One pollster per meter, registered as entry points in ``ceilometer.poll.compute`` (see
uniserver_ceilometer-*.dist-info/entry_points.txt). Every pollster of one poll cycle shares one
host record (the cycle's cache), read through the Python binding from ``uniserverd`` (default
``uniserver+unix:///ro``; set ``UNISERVER_URI`` in the agent's environment to change it).

Meter names never clash with Ceilometer's own: they all start with ``uniserver.``.
"""
import os
import socket

from ceilometer import sample
from ceilometer.polling import plugin_base

import uniserver

CACHE_KEY = "uniserver.host.record"

# (meter, dotted key of the catalogue, Ceilometer unit, sample type). N in a key: one sample per
# core, on the resource "<host>-cpu<N>". The list is the spec's host views (section 3.1.6) and
# its error tables (Table 3), in that order.
G, C = sample.TYPE_GAUGE, sample.TYPE_CUMULATIVE
METERS = [
    ("uniserver.host.cpu.count", "host.cpu.count", "cpu", G),
    ("uniserver.host.cpu.reserved", "host.cpu.reserved_pct", "%", G),
    ("uniserver.host.cpu.frequency", "host.cpu.N.freq_mhz", "MHz", G),
    ("uniserver.host.cpu.capacity", "host.cpu.capacity_mhz", "MHz", G),
    ("uniserver.host.cpu.util", "host.cpu.util_pct", "%", G),
    ("uniserver.host.cpu.core.util", "host.cpu.N.util_pct", "%", G),
    ("uniserver.host.cpu.iowait", "host.cpu.iowait_pct", "%", G),
    ("uniserver.host.cpu.idle", "host.cpu.idle_pct", "%", G),
    ("uniserver.host.cpu.system", "host.cpu.system_pct", "%", G),
    ("uniserver.host.cpu.max_util_time", "host.cpu.max_util_ms", "ms", C),
    ("uniserver.host.cpu.contention", "host.cpu.contention_pct", "%", G),
    ("uniserver.host.cpu.contention_time", "host.cpu.contention_ms", "ms", C),
    ("uniserver.host.cpu.governor.performance", "host.cpu.governor", "bool", G),
    ("uniserver.host.memory.total", "host.mem.total_mb", "MB", G),
    ("uniserver.host.memory.available", "host.mem.available_mb", "MB", G),
    ("uniserver.host.memory.available.percent", "host.mem.available_pct", "%", G),
    ("uniserver.host.memory.speed", "host.mem.speed_mhz", "MHz", G),
    ("uniserver.host.memory.cached", "host.mem.cached_mb", "MB", G),
    ("uniserver.host.memory.cached.percent", "host.mem.cached_pct", "%", G),
    ("uniserver.host.memory.contention", "host.mem.contention_pct", "%", G),
    ("uniserver.host.memory.contention.size", "host.mem.contention_mb", "MB", G),
    ("uniserver.host.swap.total", "host.swap.total_mb", "MB", G),
    ("uniserver.host.power.cpu", "host.power.cpu_w", "W", G),
    ("uniserver.host.power.memory", "host.power.mem_w", "W", G),
    ("uniserver.host.power.total", "host.power.total_w", "W", G),
    ("uniserver.host.temperature", "host.temp.cpu_avg_c", "C", G),
    ("uniserver.host.cpu.temperature", "host.cpu.N.temp_c", "C", G),
    ("uniserver.host.vms", "host.vms.count", "vm", G),
    ("uniserver.host.vms.active", "host.vms.active", "vm", G),
    ("uniserver.host.vms.memory", "host.vms.mem_mb", "MB", G),
    ("uniserver.host.vms.swap_wait", "host.vms.swap_wait_ms", "ms", G),
] + [
    (f"uniserver.host.errors.{c}.{kind}", f"host.errors.{c}.{kind}.count", "error", C)
    for c in ("l2", "l3", "dram", "mcu") for kind in ("ce", "ue")
] + [
    (f"uniserver.host.errors.{c}.{kind}.rate", f"host.errors.{c}.{kind}.rate_per_min", "error/min", G)
    for c in ("l2", "l3", "dram", "mcu") for kind in ("ce", "ue")
] + [
    ("uniserver.host.errors.memory.rate", "host.errors.mem.rate_per_min", "error/min", G),
    ("uniserver.host.errors.cpu.rate", "host.errors.cpu.rate_per_min", "error/min", G),
] + [
    # Section 2's metrics of interest (docs/node-metrics.md): availability over three windows,
    # utilisation (occupied over capacity; CPU is uniserver.host.cpu.util above), energy over an
    # hour and a day. Availability and energy come from uniserverd's ledger: through uniserverd
    # only (the default UNISERVER_URI).
    ("uniserver.host.availability.1h", "host.availability.1h_pct", "%", G),
    ("uniserver.host.availability.24h", "host.availability.24h_pct", "%", G),
    ("uniserver.host.availability.30d", "host.availability.30d_pct", "%", G),
    ("uniserver.host.memory.util", "host.mem.util_pct", "%", G),
    ("uniserver.host.disk.util", "host.disk.util_pct", "%", G),
    ("uniserver.host.energy.1h", "host.energy.1h_kwh", "kWh", G),
    ("uniserver.host.energy.24h", "host.energy.24h_kwh", "kWh", G),
] + [
    # Section 2's Reliability (the predictor, docs/predictor.md): the class as 1 (reliable) or 0 with
    # the class and its reason in the sample's metadata, the node's probabilities of failure, MTBF,
    # MTTR and failures; per component C (a core, a DIMM, a memory controller ...: one resource
    # "<host>-<C>") the probability of an uncorrected error within 24 h and its corrected-error rate.
    ("uniserver.host.reliability.reliable", "host.reliability.class", "bool", G),
    ("uniserver.host.reliability.p_fail.1h", "host.reliability.p_fail_1h", "ratio", G),
    ("uniserver.host.reliability.p_fail.24h", "host.reliability.p_fail_24h", "ratio", G),
    ("uniserver.host.reliability.p_fail.7d", "host.reliability.p_fail_7d", "ratio", G),
    ("uniserver.host.reliability.mtbf", "host.reliability.mtbf_h", "h", G),
    ("uniserver.host.reliability.mttr", "host.reliability.mttr_min", "min", G),
    ("uniserver.host.reliability.failures", "host.reliability.failures", "failure", G),
    ("uniserver.host.component.p_ue.24h", "host.component.C.p_ue_24h", "ratio", G),
    ("uniserver.host.component.ce_rate", "host.component.C.ce_rate_per_h", "error/h", G),
]

# The safe margins uni-stresslog found (docs/stresslog.md): NAME in a key is one search
# (pmd2:voltage@2400MHz, mc1:refresh): one sample per search, on the resource
# "<host>-margin-<search>", with the search's status and run in its metadata.
MARGIN_METERS = [
    (f"uniserver.host.margin.{word}.{what}", f"host.margin.NAME.{key}_{what}_{unit.lower()}", unit, G)
    for word, key, unit in (("voltage", "voltage", "mV"), ("refresh", "refresh", "ms"), ("frequency", "freq", "MHz"))
    for what in ("nominal", "safe", "guard")
] + [
    ("uniserver.host.margin.measured", "host.margin.NAME.measured_timestamp_s", "s", G),
    ("uniserver.host.margin.partial", "host.margin.NAME.partial", "bool", G),
]

# Per-instance meters: one sample per running VM, on the resource of its UUID (Nova's instance
# UUID is the libvirt domain's UUID, which QEMU gets with -uuid).
INSTANCE_METERS = [
    ("uniserver.instance.memory.percent", "dom.mem_pct", "%", G),
    ("uniserver.instance.memory", "dom.mem_mb", "MB", G),
    ("uniserver.instance.interruption_time", "dom.interrupt_ms", "ms", C),
    ("uniserver.instance.swap_wait", "dom.swap_wait_ms", "ms", C),
    ("uniserver.instance.cpu.util", "dom.cpu.util_pct", "%", G),
    ("uniserver.instance.cpu.time", "dom.cpu.time_ms", "ms", C),
    ("uniserver.instance.kvm.exits", "dom.kvm.exits", "exit", C),
    ("uniserver.instance.kvm.halt_exits", "dom.kvm.halt_exits", "exit", C),
    ("uniserver.instance.kvm.mmio_exits", "dom.kvm.mmio_exits", "exit", C),
    ("uniserver.instance.kvm.irq_injections", "dom.kvm.irq_injections", "interrupt", C),
    # Section 2: the share of the probes (QMP query-status, the process) the VM answered.
    ("uniserver.instance.availability", "dom.availability_pct", "%", G),
]
DOMAINS_KEY = "uniserver.domains"

_conn = None


def _connection():
    global _conn
    if _conn is None:
        _conn = uniserver.openReadOnly(os.environ.get("UNISERVER_URI", "uniserver+unix:///ro"))
    return _conn


def host_record(cache):
    """The host record of this poll cycle: read once, shared by every uniserver pollster."""
    if CACHE_KEY not in cache:
        global _conn
        conn = _connection()
        rec = conn.getStats() if conn is not None else None
        if rec is None:
            # A daemon that went away: drop the connection, the next cycle reconnects.
            err = uniserver.lastError()
            _conn = None
            raise RuntimeError("uniserver: cannot read the host record: %s" % (err[1] if err else "no connection"))
        cache[CACHE_KEY] = rec
    return cache[CACHE_KEY]


class UniserverHostPollster(plugin_base.PollsterBase):
    """Base: one meter of the host record. Subclasses set meter, key, unit and type."""

    meter = key = unit = None
    sample_type = G

    def setup_environment(self):
        # Nothing to set up: the record comes from uniserverd (or UNISERVER_URI).
        pass

    @property
    def default_discovery(self):
        return "local_node"

    def _host(self):
        return getattr(self.conf, "host", None) or socket.gethostname()

    def get_samples(self, manager, cache, resources):
        rec = host_record(cache)
        host = self._host()
        meta = {"host": host, "source": "uniserver", "key": self.key}
        if self.key == "host.cpu.governor":
            gov = rec.get(self.key)
            if gov is None:
                return
            yield self._sample(1 if gov == "performance" else 0, host, dict(meta, governor=gov))
            return
        if self.key == "host.reliability.class":
            cls = rec.get(self.key)
            if cls is None:
                return
            yield self._sample(1 if cls == "reliable" else 0, host,
                               dict(meta, reliability_class=cls, reason=rec.get("host.reliability.reason", "")))
            return
        if ".C." in self.key:
            prefix, suffix = self.key.split(".C.")
            comps = sorted(k[len(prefix) + 1:-len(suffix) - 1] for k in rec
                           if k.startswith(prefix + ".") and k.endswith("." + suffix) and len(k) > len(prefix) + len(suffix) + 2)
            for c in comps:
                yield self._sample(rec[f"{prefix}.{c}.{suffix}"], f"{host}-{c}", dict(meta, component=c))
            return
        if ".NAME." in self.key:
            prefix, suffix = self.key.split(".NAME.")
            for k in sorted(rec):
                if k.startswith(prefix + ".") and k.endswith("." + suffix):
                    name = k[len(prefix) + 1:-len(suffix) - 1]
                    extra = {f: rec[f"{prefix}.{name}.{f}"] for f in ("status", "run") if f"{prefix}.{name}.{f}" in rec}
                    yield self._sample(rec[k], f"{host}-margin-{name}", dict(meta, margin=name, **extra))
            return
        if ".N." in self.key:
            prefix, suffix = self.key.split(".N.")
            cores = sorted(int(k[len(prefix) + 1:].split(".")[0]) for k in rec
                           if k.startswith(prefix + ".") and k.endswith("." + suffix)
                           and k[len(prefix) + 1:].split(".")[0].isdigit())
            for n in cores:
                yield self._sample(rec[f"{prefix}.{n}.{suffix}"], f"{host}-cpu{n}", dict(meta, cpu=n))
            return
        if self.key in rec:
            yield self._sample(rec[self.key], host, meta)

    def _sample(self, volume, resource_id, metadata, user_id=None, project_id=None):
        return sample.Sample(name=self.meter, type=self.sample_type, unit=self.unit, volume=volume,
                             user_id=user_id, project_id=project_id, resource_id=resource_id,
                             resource_metadata=metadata)


def domain_records(cache):
    """Every VM's record of this poll cycle: read once, shared by every instance pollster."""
    if DOMAINS_KEY not in cache:
        global _conn
        conn = _connection()
        recs = conn.getAllDomainStats() if conn is not None else None
        if recs is None:
            err = uniserver.lastError()
            _conn = None
            raise RuntimeError("uniserver: cannot read the VMs' records: %s" % (err[1] if err else "no connection"))
        cache[DOMAINS_KEY] = [(d.name(), d.UUIDString(), rec) for d, rec in recs if d.isActive()]
    return cache[DOMAINS_KEY]


class UniserverInstancePollster(UniserverHostPollster):
    """Base: one per-VM meter; a sample per running VM, resource = the instance UUID. For a Nova
    instance (its libvirt metadata), the sample carries its user and project, and display_name
    is the name the user gave it (instance_name stays libvirt's, instance-NNNNNNNN)."""

    def get_samples(self, manager, cache, resources):
        host = self._host()
        for name, uuid, rec in domain_records(cache):
            if self.key in rec and uuid:
                meta = {"host": host, "instance_name": name, "display_name": rec.get("dom.openstack.name", name),
                        "source": "uniserver", "key": self.key}
                if "dom.openstack.flavor" in rec:
                    meta["flavor"] = rec["dom.openstack.flavor"]
                yield self._sample(rec[self.key], uuid, meta, rec.get("dom.openstack.user_id"),
                                   rec.get("dom.openstack.project_id"))


def _class_name(meter):
    return "".join(p.capitalize() for p in meter.replace("uniserver.", "").replace("_", ".").split(".")) + "Pollster"


# One class per meter, named after it (the entry points name these classes).
POLLSTERS = {}
for _meter, _key, _unit, _type in METERS + MARGIN_METERS + INSTANCE_METERS:
    _base = UniserverInstancePollster if _key.startswith("dom.") else UniserverHostPollster
    _cls = type(_class_name(_meter), (_base,),
                {"meter": _meter, "key": _key, "unit": _unit, "sample_type": _type,
                 "__doc__": f"Ceilometer meter {_meter}: uniserver's {_key} ({_unit})."})
    globals()[_cls.__name__] = _cls
    POLLSTERS[_meter] = _cls


def entry_points():
    """The text of entry_points.txt for these pollsters (tests/ceilometer checks the shipped one)."""
    lines = ["[ceilometer.poll.compute]"]
    lines += [f"{m} = uniserver_ceilometer.pollsters:{c.__name__}" for m, c in POLLSTERS.items()]
    return "\n".join(lines) + "\n"


# ---- Gnocchi: where the meters go ----

RESOURCE_TYPES = {
    # The host, one resource per core for per-core meters (keys with N), one per instance.
    "uniserver_host": {"host": {"type": "string", "required": False, "max_length": 255}},
    "uniserver_host_cpu": {"host": {"type": "string", "required": False, "max_length": 255},
                           "cpu": {"type": "number", "required": False, "min": 0, "max": 1048576}},
    "uniserver_instance": {"host": {"type": "string", "required": False, "max_length": 255},
                           "display_name": {"type": "string", "required": False, "max_length": 255}},
    # One per component of the predictor (a core, a DIMM, a memory controller ...).
    "uniserver_host_component": {"host": {"type": "string", "required": False, "max_length": 255},
                                 "component": {"type": "string", "required": False, "max_length": 255}},
    "uniserver_host_margin": {"host": {"type": "string", "required": False, "max_length": 255},
                              "margin": {"type": "string", "required": False, "max_length": 255}},
}


def gnocchi_resources():
    """The text of gnocchi_resources.yaml for these meters (Ceilometer's GnocchiPublisher reads
    it through resources_definition_file; merge it into the deployment's own)."""
    host = [m for m, k, _, _ in METERS if ".N." not in k and ".C." not in k]
    comp = [m for m, k, _, _ in METERS if ".C." in k]
    cpu = [m for m, k, _, _ in METERS if ".N." in k]
    out = ["---", "archive_policy_default: low", "resources:",
           "  - resource_type: uniserver_host", "    metrics:"]
    out += [f"      {m}:" for m in host]
    out += ["    attributes:", "      host: resource_metadata.host",
            "  - resource_type: uniserver_host_cpu", "    metrics:"]
    out += [f"      {m}:" for m in cpu]
    out += ["    attributes:", "      host: resource_metadata.host", "      cpu: resource_metadata.cpu",
            "  - resource_type: uniserver_instance", "    metrics:"]
    out += [f"      {m}:" for m, _, _, _ in INSTANCE_METERS]
    out += ["    attributes:", "      host: resource_metadata.host", "      display_name: resource_metadata.display_name",
            "  - resource_type: uniserver_host_component", "    metrics:"]
    out += [f"      {m}:" for m in comp]
    out += ["    attributes:", "      host: resource_metadata.host", "      component: resource_metadata.component",
            "  - resource_type: uniserver_host_margin", "    metrics:"]
    out += [f"      {m}:" for m, _, _, _ in MARGIN_METERS]
    out += ["    attributes:", "      host: resource_metadata.host", "      margin: resource_metadata.margin"]
    return "\n".join(out) + "\n"
