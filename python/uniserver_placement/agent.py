# SPDX-License-Identifier: LGPL-2.1-or-later
"""uniserver-placement-sync: publishes this compute node's reliability class, margin mode and
P(failure within 24 h) as Placement traits on its resource provider (docs/placement.md).

Each cycle reads the node through the uniserver Python binding, GETs the provider's traits and,
only when uniserver's traits differ, PUTs them back with every other trait kept (read-modify-write
on resource_provider_generation; a 409 re-reads and retries). Fail safe: whatever is not known is
published as the less reliable answer (no CUSTOM_UNISERVER_RELIABLE, CUSTOM_UNISERVER_EXTENDED_MARGINS
set, no probability trait). Placement away, a refused token, a missing provider: a log line and
exponential backoff up to backoff_max, never an exit.
"""
import argparse
import configparser
import logging
import os
import socket
import sys
import time

log = logging.getLogger("uniserver-placement-sync")

PREFIX = "CUSTOM_UNISERVER_"
TRAIT_RELIABLE = PREFIX + "RELIABLE"
TRAIT_EXTENDED = PREFIX + "EXTENDED_MARGINS"
# P(failure within 24 h) as a bucket: the trait names the bucket's upper bound in parts per million
# (two buckets a decade), CUSTOM_UNISERVER_PFAIL24H_LE_3000 = at most 0.3 %. Nine names at most,
# so Placement's trait table stays small; the weigher (uniserver_nova) reads the bound.
PFAIL_PREFIX = PREFIX + "PFAIL24H_LE_"
PFAIL_BOUNDS_PPM = (100, 300, 1000, 3000, 10000, 30000, 100000, 300000, 1000000)
MICROVERSION = "placement 1.6"  # traits on resource providers (1.6)

DEFAULTS = {
    "uri": "uniserver+unix:///ro",
    "resource_provider": "",
    "interval": "30",
    "backoff_max": "300",
    "flavor_classes": "/var/lib/uniserver/flavor-classes",
    "flavor_interval": "300",
}


def pfail_trait(p):
    """The bucket trait of a probability (None: no trait)."""
    if p is None or not 0 <= p <= 1:
        return None
    ppm = p * 1e6
    for b in PFAIL_BOUNDS_PPM:
        if ppm <= b:
            return f"{PFAIL_PREFIX}{b}"
    return None


def pfail_of_traits(traits):
    """The probability a provider's traits claim (the bucket's upper bound), None without one."""
    got = [int(t[len(PFAIL_PREFIX):]) for t in traits if t.startswith(PFAIL_PREFIX) and t[len(PFAIL_PREFIX):].isdigit()]
    return max(got) / 1e6 if got else None


def margin_mode(opps, err):
    """Extended margins from the operating points: (True/False/None, why). A domain whose voltage is
    below its nominal or whose DRAM refresh period is longer than nominal runs at extended margins.
    A host with no operating points beyond cpufreq (UNI_ERR_NO_SUPPORT) runs at the vendor's margins.
    Anything else (the call failed): None, unknown."""
    import uniserver
    if opps is None:
        if err and err[0] == uniserver.ERR_NO_SUPPORT:
            return False, "no operating points beyond cpufreq: the vendor's margins"
        return None, "operating points unreadable: %s" % (err[1] if err else "no answer")
    for d in opps:
        for name, p in d["params"].items():
            if p["nominal"] is None:
                continue
            if name == "voltage_mv" and p["current"] < p["nominal"]:
                return True, f"{d['name']} at {p['current']} mV, below its nominal {p['nominal']} mV"
            if name == "refresh_ms" and p["current"] > p["nominal"]:
                return True, f"{d['name']} refreshes every {p['current']} ms, nominal {p['nominal']} ms"
    return False, "every domain at or above its nominal voltage and at or below its nominal refresh"


class Node:
    """This node as uniserver sees it, read through the Python binding."""

    def __init__(self, uri):
        self.uri = uri
        self.conn = None

    def read(self):
        """(reliable, extended, p_fail_24h, why): reliable is True only when uniserver says
        'reliable'; extended None when unknown; p None when absent."""
        import uniserver
        if self.conn is None:
            self.conn = uniserver.openReadOnly(self.uri)
            if self.conn is None:
                err = uniserver.lastError()
                return False, None, None, "uniserver unreachable at %s: %s" % (self.uri, err[1] if err else "?")
        rec = self.conn.getStats(select=["reliability"])
        if rec is None:
            err = uniserver.lastError()
            self.conn = None  # reconnect next cycle
            return False, None, None, "uniserver: cannot read the host record: %s" % (err[1] if err else "?")
        cls, p = rec.get("host.reliability.class"), rec.get("host.reliability.p_fail_24h")
        opps = self.conn.getOperatingPoints()
        extended, mwhy = margin_mode(opps, None if opps is not None else uniserver.lastError())
        if cls is None:
            why = "reliability class absent: %s" % rec.get("absent", {}).get("host.reliability.class", "?")
        else:
            why = "class %s (%s)" % (cls, rec.get("host.reliability.reason", ""))
        return cls == "reliable", extended, p, why + "; margins: " + mwhy


def wanted_traits(reliable, extended, p):
    """uniserver's traits for this state; unknown is published as the less reliable answer."""
    out = set()
    if reliable:
        out.add(TRAIT_RELIABLE)
    if extended is not False:
        out.add(TRAIT_EXTENDED)
    t = pfail_trait(p)
    if t:
        out.add(t)
    return out


class PlacementError(Exception):
    pass


def make_session(section):
    """A keystoneauth session from a config section's auth_type and its plugin's options."""
    from keystoneauth1 import loading, session
    auth_type = section.get("auth_type", "password")
    loader = loading.get_plugin_loader(auth_type)
    opts = {o.dest: section.get(o.dest) for o in loader.get_options() if section.get(o.dest) is not None}
    auth = loader.load_from_options(**opts)
    verify = section.get("cafile") or not section.getboolean("insecure", fallback=False)
    return session.Session(auth=auth, verify=verify, timeout=section.getfloat("timeout", fallback=10))


class Placement:
    """Placement's REST API through a keystoneauth adapter (microversion 1.6)."""

    def __init__(self, section):
        from keystoneauth1 import adapter
        self.requests = 0
        self.created = set()
        self.adapter = adapter.Adapter(make_session(section), service_type="placement",
                                       interface=section.get("valid_interfaces", "public"),
                                       region_name=section.get("region_name"),
                                       endpoint_override=section.get("endpoint_override"),
                                       additional_headers={"OpenStack-API-Version": MICROVERSION},
                                       # A kept-alive connection the server closed meanwhile: once more.
                                       connect_retries=1)

    def call(self, method, path, **kw):
        from keystoneauth1 import exceptions as ksa
        self.requests += 1
        try:
            r = self.adapter.request(path, method, raise_exc=False, **kw)
        except ksa.ConnectFailure as e:
            raise PlacementError(f"cannot reach Placement: {e}")
        except ksa.http.Unauthorized as e:
            raise PlacementError(f"the identity service refused the credentials: {e}")
        except ksa.ClientException as e:
            raise PlacementError(f"Placement request {method} {path} failed: {e}")
        if r.status_code in (401, 403):
            raise PlacementError(f"Placement refused the token (HTTP {r.status_code} on {method} {path}): "
                                 f"{r.text.strip()[:200]}")
        if r.status_code >= 500:
            raise PlacementError(f"Placement answered HTTP {r.status_code} on {method} {path}: {r.text.strip()[:200]}")
        return r

    def provider(self, name):
        r = self.call("GET", "/resource_providers", params={"name": name})
        if r.status_code != 200:
            raise PlacementError(f"listing resource providers: HTTP {r.status_code}: {r.text.strip()[:200]}")
        rps = r.json()["resource_providers"]
        if not rps:
            raise PlacementError(f"no resource provider named '{name}' (is nova-compute running and registered "
                                 f"under this name? set resource_provider in the config)")
        return rps[0]["uuid"]

    def traits(self, uuid):
        r = self.call("GET", f"/resource_providers/{uuid}/traits")
        if r.status_code == 404:
            raise ProviderGone(f"resource provider {uuid} no longer exists")
        if r.status_code != 200:
            raise PlacementError(f"reading the traits of {uuid}: HTTP {r.status_code}: {r.text.strip()[:200]}")
        j = r.json()
        return set(j["traits"]), j["resource_provider_generation"]

    def ensure_trait(self, name):
        if name in self.created:
            return
        r = self.call("PUT", f"/traits/{name}")
        if r.status_code not in (201, 204):
            raise PlacementError(f"creating trait {name}: HTTP {r.status_code}: {r.text.strip()[:200]}")
        self.created.add(name)

    def put_traits(self, uuid, traits, generation):
        """True when written, False on a generation conflict (409)."""
        r = self.call("PUT", f"/resource_providers/{uuid}/traits",
                      json={"traits": sorted(traits), "resource_provider_generation": generation})
        if r.status_code == 409:
            return False
        if r.status_code == 404:
            raise ProviderGone(f"resource provider {uuid} no longer exists")
        if r.status_code != 200:
            raise PlacementError(f"writing the traits of {uuid}: HTTP {r.status_code}: {r.text.strip()[:200]}")
        return True


class ProviderGone(PlacementError):
    pass


class Agent:
    def __init__(self, conf, node=None, placement=None):
        d = conf["DEFAULT"]
        self.name = d.get("resource_provider") or socket.gethostname()
        self.interval = d.getfloat("interval")
        self.backoff_max = d.getfloat("backoff_max")
        self.node = node or Node(d.get("uri"))
        self.conf = conf
        self.placement = placement
        self.uuid = None
        self.failures = 0
        self.last = None  # the traits last published (for the log)

    def sync(self):
        """One pass: True when Placement holds uniserver's traits for the node's state now."""
        reliable, extended, p, why = self.node.read()
        want = wanted_traits(reliable, extended, p)
        if self.placement is None:
            self.placement = Placement(self.conf["placement"])
        if self.uuid is None:
            self.uuid = self.placement.provider(self.name)
            log.info("resource provider '%s' is %s", self.name, self.uuid)
        for attempt in range(5):
            try:
                have, gen = self.placement.traits(self.uuid)
            except ProviderGone:
                self.uuid = None
                raise
            ours = {t for t in have if t.startswith(PREFIX)}
            if ours == want:
                if self.last != want:
                    log.info("traits of '%s' up to date: %s (%s)", self.name, sorted(want) or "none of uniserver's", why)
                    self.last = want
                return True
            for t in want - ours:
                self.placement.ensure_trait(t)
            if self.placement.put_traits(self.uuid, (have - ours) | want, gen):
                log.info("traits of '%s': %s -> %s (%s)", self.name, sorted(ours) or "none", sorted(want) or "none", why)
                self.last = want
                return True
            log.info("traits of '%s' changed under us (generation %s): reading them again", self.name, gen)
        raise PlacementError(f"the traits of '{self.name}' kept changing under us (5 conflicts)")

    def delay(self):
        """The wait before the next pass: the interval, or after failures interval x 2^k up to backoff_max."""
        if not self.failures:
            return self.interval
        return min(self.interval * 2 ** self.failures, self.backoff_max)

    def once(self):
        try:
            self.sync()
            if self.failures:
                log.info("Placement reachable again after %d failed attempts", self.failures)
            self.failures = 0
            return True
        except Exception as e:  # keep running whatever fails; the log says what
            self.failures += 1
            if not isinstance(e, PlacementError):
                e = f"{type(e).__name__}: {e}"
            log.warning("%s; retrying in %g s", e, self.delay())
            return False

    def run(self, flavors=None):
        while True:
            self.once()
            if flavors:
                flavors.maybe_refresh()
            time.sleep(self.delay())


def load_config(path):
    conf = configparser.ConfigParser(defaults=DEFAULTS, interpolation=None)
    if path and not conf.read(path):
        raise SystemExit(f"uniserver-placement-sync: cannot read the config file {path}")
    if not conf.has_section("placement"):
        conf.add_section("placement")
    return conf


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="uniserver-placement-sync",
        description="Publish this compute node's uniserver reliability class (CUSTOM_UNISERVER_RELIABLE), margin "
                    "mode (CUSTOM_UNISERVER_EXTENDED_MARGINS) and P(failure within 24 h) "
                    "(CUSTOM_UNISERVER_PFAIL24H_LE_<ppm>) as Placement traits on its resource provider, and keep the "
                    "flavor -> reliability class table the libvirt driver reads. See docs/placement.md.")
    ap.add_argument("-c", "--config", default="/etc/uniserver/placement-sync.conf",
                    help="INI file (default %(default)s; contrib/etc/placement-sync.conf documents every option)")
    ap.add_argument("--once", action="store_true", help="one pass, then exit: 0 when Placement holds the traits")
    ap.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    a = ap.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=a.log_level.upper(),
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    # keystoneauth's own retry notes: our warning says what failed.
    logging.getLogger("keystoneauth").setLevel(max(logging.WARNING, log.getEffectiveLevel()))
    conf = load_config(a.config if os.path.exists(a.config) or a.config != ap.get_default("config") else None)
    from uniserver_placement.flavors import FlavorTable
    flavors = FlavorTable.from_config(conf)
    agent = Agent(conf)
    if a.once:
        ok = agent.once()
        if flavors:
            flavors.maybe_refresh()
        return 0 if ok else 1
    try:
        agent.run(flavors)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
