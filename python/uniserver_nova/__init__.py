# SPDX-License-Identifier: LGPL-2.1-or-later
"""uniserver in Nova's scheduler: a host weigher preferring nodes with a lower P(failure within
24 h) for flavors with the extra spec uniserver:reliability=high (docs/placement.md)."""
