#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The wire protocol is append-only: every line of the released protocol (tests/data/protocol-released.x)
is still in src/rpc/uniserver_protocol.x, in the same order and unchanged, and no procedure number
changed or was reused. New lines may be added anywhere; to release them, copy the file over."""
import os
import re
import sys

SRC = os.environ["SRCDIR"]


def lines(path):
    return [l.rstrip() for l in open(path) if l.strip()]


def procs(ls):
    return {m.group(1): int(m.group(2)) for l in ls for m in [re.search(r"(UNI_PROC_\w+)\s*=\s*(\d+)", l)] if m}


released = lines(os.path.join(SRC, "tests", "data", "protocol-released.x"))
current = lines(os.path.join(SRC, "src", "rpc", "uniserver_protocol.x"))
it = iter(current)
missing = [l for l in released if not any(l == c for c in it)]
if missing:
    print("FAIL: released protocol lines changed or removed (the protocol is append-only):")
    for l in missing[:10]:
        print("   ", l)
    sys.exit(1)
rp, cp = procs(released), procs(current)
for name, num in rp.items():
    if cp.get(name) != num:
        print(f"FAIL: {name} was {num}, now {cp.get(name)}")
        sys.exit(1)
nums = list(cp.values())
if len(nums) != len(set(nums)):
    print("FAIL: a procedure number is used twice")
    sys.exit(1)
print(f"ok: {len(released)} released lines kept, {len(cp)} procedures ({len(cp) - len(rp)} new)")
