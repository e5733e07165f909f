# SPDX-License-Identifier: LGPL-2.1-or-later
"""OpenStack Ceilometer pollsters for uniserver: the UniServer spec's host metrics and hardware
error counts and rates as meters under ``uniserver.host.`` (see pollsters.py and docs/ceilometer.md)."""
