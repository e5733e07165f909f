# SPDX-License-Identifier: LGPL-2.1-or-later
"""The flavor -> reliability class table the libvirt driver reads (?flavor_classes=FILE, default
/var/lib/uniserver/flavor-classes): Nova 26 writes only the flavor's name into a domain's metadata
(<nova:flavor name=...>), not its extra specs, so the host maps the name through this table, kept
by uniserver-placement-sync from Nova's flavor list (extra spec uniserver:reliability)."""
import logging
import os
import tempfile
import time

log = logging.getLogger("uniserver-placement-sync")

EXTRA_SPEC = "uniserver:reliability"
CLASSES = ("high", "normal", "low")
HEADER = ("# uniserver flavor classes: <class> TAB <flavor name>, one a line; written by uniserver-placement-sync\n"
          "# from Nova's flavor list (extra spec uniserver:reliability). docs/placement.md\n")


def table_text(flavors):
    """The file's text for Nova's flavors (dicts with 'name' and 'extra_specs'): only the flavors whose
    extra spec names a known class; others are left out (their VMs keep the default, normal)."""
    rows = []
    for f in flavors:
        cls = (f.get("extra_specs") or {}).get(EXTRA_SPEC)
        if cls in CLASSES and "\n" not in f["name"]:
            rows.append(f"{cls}\t{f['name']}\n")
        elif cls is not None:
            log.warning("flavor '%s': %s=%r is not one of %s: left out", f["name"], EXTRA_SPEC, cls, "/".join(CLASSES))
    return HEADER + "".join(sorted(rows))


def write_table(path, text):
    """Replace the file atomically (readers see the old or the new table, never half of one).
    True when it changed."""
    try:
        with open(path) as f:
            if f.read() == text:
                return False
    except OSError:
        pass
    d = os.path.dirname(path) or "."
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".flavor-classes.", dir=d)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True


class FlavorTable:
    """Nova's flavor list, every flavor_interval seconds, through its API (microversion 2.61: flavors
    carry their extra specs)."""

    def __init__(self, section, path, interval):
        self.section, self.path, self.interval = section, path, interval
        self.next = 0.0
        self.adapter = None

    @classmethod
    def from_config(cls, conf):
        if not conf.has_section("nova"):
            return None  # no Nova credentials: the table is kept by hand (or not used)
        d = conf["DEFAULT"]
        return cls(conf["nova"], d.get("flavor_classes"), d.getfloat("flavor_interval"))

    def fetch(self):
        from keystoneauth1 import adapter

        from uniserver_placement.agent import make_session
        if self.adapter is None:
            self.adapter = adapter.Adapter(make_session(self.section), service_type="compute",
                                           interface=self.section.get("valid_interfaces", "public"),
                                           region_name=self.section.get("region_name"),
                                           endpoint_override=self.section.get("endpoint_override"),
                                           additional_headers={"OpenStack-API-Version": "compute 2.61"})
        flavors, path = [], "/flavors/detail?is_public=None"
        while path:
            r = self.adapter.get(path, raise_exc=False)
            if r.status_code != 200:
                raise RuntimeError(f"Nova's flavor list: HTTP {r.status_code}: {r.text.strip()[:200]}")
            j = r.json()
            flavors += j["flavors"]
            nxt = [link["href"] for link in j.get("flavors_links", []) if link.get("rel") == "next"]
            path = nxt[0] if nxt else None
        return flavors

    def maybe_refresh(self):
        if time.monotonic() < self.next:
            return
        self.next = time.monotonic() + self.interval
        try:
            flavors = self.fetch()
        except Exception as e:  # the old table stays; next try after the interval
            log.warning("flavor table %s not refreshed: %s", self.path, e)
            return
        if write_table(self.path, table_text(flavors)):
            log.info("flavor table %s: %d flavors with a reliability class", self.path,
                     sum(1 for f in flavors if (f.get("extra_specs") or {}).get(EXTRA_SPEC) in CLASSES))
