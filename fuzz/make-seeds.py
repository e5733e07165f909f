#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Write the seed corpus of fuzz-dispatch: valid call sequences a client sends (open, descriptors,
stats with a selection, each view, close), so the fuzzer starts from real messages."""
import os
import struct
import sys

PROG, VERS = 0x554E4953, 1
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus-dispatch")


def frame(proc, body=b"", serial=1):
    hdr = struct.pack(">IIiiIi", PROG, VERS, proc, 0, serial, 0)
    return struct.pack(">I", 4 + len(hdr) + len(body)) + hdr + body


def xstr(s):
    b = s.encode()
    return struct.pack(">I", len(b)) + b + b"\0" * ((4 - len(b) % 4) % 4)


open_ = frame(1, struct.pack(">I", 0))
seeds = {
    "open-only": open_,
    "descriptors": open_ + frame(3, struct.pack(">I", 0), 2),
    "stats-all": open_ + frame(4, struct.pack(">III", 0, 0, 0), 2),
    "stats-select": open_ + frame(4, struct.pack(">II", 1, 2) + xstr("mem") + xstr("host.cpu.3.") + struct.pack(">I", 0), 2),
    "views": open_ + b"".join(frame(p, struct.pack(">I", 0), p) for p in range(5, 15)),
    "close": open_ + frame(2, b"", 2),
    "no-open": frame(4, struct.pack(">III", 0, 0, 0)),
    # HealthLog queries: a DIMM (optional string present), every memory event, a core.
    "healthlog": open_ + frame(15, struct.pack(">I", 1) + xstr("DIMM_A1") + struct.pack(">qI", 0, 0), 2)
    + frame(15, struct.pack(">I", 0) + struct.pack(">qI", 1000, 3), 3) + frame(16, struct.pack(">iqI", 2, 0, 4), 4),
}
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
