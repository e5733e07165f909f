# SPDX-License-Identifier: LGPL-2.1-or-later
"""Section 2's metrics of interest in Python and Ceilometer: the view method in the spec's naming
style (getHostMetricsOfInterestUniserver) in process and through uniserverd (the pollsters of
availability, utilisation and energy: test_ceilometer.py)."""
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
    # availability 1 h, 24 h, 30 d; CPU, memory, disk utilisation; energy 1 h, 24 h; the predictor's
    # class, P(failure within 24 h) and reason (the test driver has no predictor: absent)
    assert len(v) == 11
    assert v[:3] == [None, None, None] and v[6:8] == [None, None] and v[8:] == [None, None, None]
    # CPU utilisation is the board model's, which moves with its seed's workload; memory is half used.
    assert 0 < v[3] < 100 and v[4] == 50.0 and v[5] is None  # the board has no disks
    assert uniserver.open("test:///default?seed=2").getHostMetricsOfInterestUniserver()[3] != v[3]
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
