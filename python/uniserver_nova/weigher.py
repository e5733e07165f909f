# SPDX-License-Identifier: LGPL-2.1-or-later
"""UniserverReliabilityWeigher: a Nova host weigher that, for a flavor with the extra spec
uniserver:reliability=high, prefers hosts with a lower P(failure within 24 h).

Where the probability comes from: the trait CUSTOM_UNISERVER_PFAIL24H_LE_<ppm> that
uniserver-placement-sync keeps on each compute node's resource provider in Placement (the bucket's
upper bound is taken: the weigher never thinks a host safer than it is). Placement is the store the
scheduler already queries and the agent already writes, with the credentials both already have;
Nova's compute monitors cannot carry it (MonitorHandler loads only nova.compute.monitors.cpu, one
monitor at a time) and aggregate metadata would need Nova API credentials on every compute node and
one aggregate per host. The traits are read with Nova's own Placement client (nova.conf [placement])
and cached for uniserver_traits_cache_seconds, so a scheduling request costs at most one GET per
host per cache period. A host whose traits cannot be read, or that has no bucket, weighs as
P = 1 (the worst).

nova.conf:
    [filter_scheduler]
    weight_classes = nova.scheduler.weights.all_weighers,uniserver_nova.weigher.UniserverReliabilityWeigher
    uniserver_reliability_weight_multiplier = 10.0
"""
import math
import threading
import time

from oslo_config import cfg
from oslo_log import log as logging

import nova.conf
from nova import context as nova_context
from nova.scheduler import utils
from nova.scheduler import weights

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF

EXTRA_SPEC = "uniserver:reliability"
PFAIL_PREFIX = "CUSTOM_UNISERVER_PFAIL24H_LE_"

opts = [
    cfg.FloatOpt("uniserver_reliability_weight_multiplier", default=1.0,
                 help="Multiplier of uniserver's reliability weigher (uniserver_nova.weigher."
                      "UniserverReliabilityWeigher): for flavors with uniserver:reliability=high, hosts with a "
                      "lower P(failure within 24 h) weigh more. Negative values do the opposite. Can be "
                      "overridden per aggregate (metadata key uniserver_reliability_weight_multiplier)."),
    cfg.IntOpt("uniserver_traits_cache_seconds", default=60, min=0,
               help="How long uniserver's reliability weigher keeps a host's traits read from Placement."),
]
CONF.register_opts(opts, group="filter_scheduler")


def list_opts():
    """For oslo-config-generator (namespace uniserver_nova)."""
    return [("filter_scheduler", opts)]


def pfail_of_traits(traits):
    got = [int(t[len(PFAIL_PREFIX):]) for t in traits if t.startswith(PFAIL_PREFIX) and t[len(PFAIL_PREFIX):].isdigit()]
    return max(got) / 1e6 if got else None


class UniserverReliabilityWeigher(weights.BaseHostWeigher):
    _cache = {}  # provider uuid -> (monotonic time read, P or None)
    _lock = threading.Lock()
    _client = None

    def weight_multiplier(self, host_state):
        return utils.get_weight_multiplier(host_state, "uniserver_reliability_weight_multiplier",
                                           CONF.filter_scheduler.uniserver_reliability_weight_multiplier)

    @classmethod
    def _traits(cls, rp_uuid):
        if cls._client is None:
            from nova.scheduler.client import report
            cls._client = report.report_client_singleton()
        return cls._client.get_provider_traits(nova_context.get_admin_context(), rp_uuid).traits

    def p_fail(self, host_state):
        """The host's P(failure within 24 h) as its traits say; 1.0 when unknown."""
        rp = host_state.uuid
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(rp)
        if hit and now - hit[0] < CONF.filter_scheduler.uniserver_traits_cache_seconds:
            p = hit[1]
        else:
            try:
                p = pfail_of_traits(self._traits(rp)) if rp else None
            except Exception as e:  # Placement away: the host is unknown, weighed as the worst
                LOG.warning("uniserver weigher: cannot read the traits of %s (%s): %s", host_state.host, rp, e)
                p = None
            with self._lock:
                self._cache[rp] = (now, p)
        return 1.0 if p is None else p

    def _weigh_object(self, host_state, weight_properties):
        """Higher weights win. For high-class flavors -log10 P(failure within 24 h) (the "nines":
        0.0001 weighs 4, 0.003 2.5, unknown 0), so that orders of magnitude count once Nova has
        normalised the weights across the hosts to 0..1; 0 for every host otherwise."""
        flavor = getattr(weight_properties, "flavor", None)
        specs = (flavor.extra_specs if flavor is not None and "extra_specs" in flavor else None) or {}
        if specs.get(EXTRA_SPEC) != "high":
            return 0.0
        return -math.log10(max(self.p_fail(host_state), 1e-6))
