# SPDX-License-Identifier: LGPL-2.1-or-later
"""uniserver in OpenStack's scheduling: the Placement sync agent (uniserver-placement-sync) and the
flavor table it keeps (docs/placement.md)."""
