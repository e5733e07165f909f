#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Trace records and ring-buffer pages as the kernel writes them to per_cpu/cpuN/trace_pipe_raw
(kernel/trace/ring_buffer.c: a page header {u64 timestamp, local_t commit}, then compressed
event headers {type_len:5, time_delta:27} and the records, 4-byte aligned; records longer than
112 bytes carry their length in array[0]). Each record is laid out from the event's own format
file (field offsets and sizes, __data_loc strings after the fixed part), so the streams follow
the fixture's formats exactly as a kernel's follow its own. Used by make-streams.py and the tests."""
import os
import re
import struct

PAGE = 4096
DATA_OFF = 16
MISSED_EVENTS = 1 << 31


class Format:
    def __init__(self, path):
        self.fields = {}
        self.id = None
        self.name = None
        self.size = 0
        with open(path) as f:
            lines = f.read().splitlines()
        for line in lines:
            line = line.strip()
            if line.startswith("name: "):
                self.name = line[6:]
            elif line.startswith("ID: "):
                self.id = int(line[4:])
            elif line.startswith("field:"):
                m = re.match(r"field:(.*?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);", line)
                decl, off, size, signed = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
                name = decl.split()[-1].split("[")[0]
                kind = "loc" if "__data_loc" in decl else "array" if "[" in decl else "int"
                self.fields[name] = (off, size, signed, kind)
                self.size = max(self.size, off + size)

    def record(self, **values):
        """The record's bytes: fixed fields at their offsets, strings after them."""
        fixed = bytearray(self.size)
        tail = bytearray()
        struct.pack_into("<H", fixed, 0, self.id)
        for name, v in values.items():
            off, size, signed, kind = self.fields[name]
            if kind == "int":
                fmt = {1: "b", 2: "h", 4: "i", 8: "q"}[size]
                fixed[off:off + size] = struct.pack("<" + (fmt if signed or v < 0 else fmt.upper()), v)
            elif kind == "array":
                b = v.encode() if isinstance(v, str) else bytes(v)
                fixed[off:off + size] = b[:size].ljust(size, b"\0")
            else:
                b = (v.encode() + b"\0") if isinstance(v, str) else bytes(v)
                loc_off = self.size + len(tail)
                struct.pack_into("<I", fixed, off, (len(b) << 16) | loc_off)
                tail += b
        return bytes(fixed + tail)


def formats(instance_dir):
    out = {}
    ev = os.path.join(instance_dir, "events")
    for system in sorted(os.listdir(ev)):
        d = os.path.join(ev, system)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            f = os.path.join(d, name, "format")
            if os.path.exists(f):
                out[name] = Format(f)
    return out


def page(records, ts=1000, lost=False, delta=10, commit_extra=0, size=PAGE):
    """One page holding @records (bytes each), @delta ticks apart."""
    body = bytearray()
    for r in records:
        length = (len(r) + 3) & ~3
        r = r.ljust(length, b"\0")
        if length <= 112:
            body += struct.pack("<I", (length // 4) | (delta << 5)) + r
        else:
            body += struct.pack("<II", 0 | (delta << 5), length + 4) + r
    commit = len(body) + commit_extra
    if lost:
        commit |= MISSED_EVENTS
    p = struct.pack("<QQ", ts, commit) + bytes(body)
    if len(p) > size:
        raise ValueError("records do not fit in one page")
    return p.ljust(size, b"\0")
