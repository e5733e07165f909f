#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The tree's structure, as docs/architecture.md draws it: no #include cycle between files, none
between folders (a folder's files include only folders below it), and no source file over 900
lines unless it says at its top why it is longer ("longer than 900 lines because")."""
import collections
import os
import re
import sys

SRC = os.environ["SRCDIR"]
ROOTS = ["src", "python", "include", "bench", "fuzz"]
LIMIT = 900


def sources():
    for top in ROOTS:
        for root, _, names in os.walk(os.path.join(SRC, top)):
            for n in names:
                if n.endswith((".c", ".h", ".def")):
                    yield os.path.relpath(os.path.join(root, n), SRC)


def resolve(frm, inc):
    for base in (os.path.dirname(frm), "src", "include"):
        p = os.path.normpath(os.path.join(base, inc))
        if os.path.exists(os.path.join(SRC, p)):
            return p
    return None  # generated (rpc/*_protocol.h) or a system header


def cycles(graph):
    found, color = [], {}

    def visit(u, stack):
        color[u] = 1
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            if color.get(v) == 1:
                found.append(stack[stack.index(v):] + [v])
            elif not color.get(v):
                visit(v, stack)
        stack.pop()
        color[u] = 2

    for u in sorted(graph):
        if not color.get(u):
            visit(u, [])
    return found


files = list(sources())
fg, dg = collections.defaultdict(set), collections.defaultdict(set)
for f in files:
    text = open(os.path.join(SRC, f), errors="replace").read()
    for m in re.finditer(r'^\s*#\s*include\s+"([^"]+)"', text, re.M):
        t = resolve(f, m.group(1))
        if t:
            fg[f].add(t)
            if os.path.dirname(t) != os.path.dirname(f):
                dg[os.path.dirname(f)].add(os.path.dirname(t))
bad = 0
for c in cycles(fg):
    print("FAIL: #include cycle:", " -> ".join(c))
    bad += 1
for c in cycles(dg):
    print("FAIL: folders include each other:", " -> ".join(c))
    bad += 1
for f in files:
    text = open(os.path.join(SRC, f), errors="replace").read()
    n = text.count("\n")
    if n > LIMIT and "longer than 900 lines because" not in text[:2000]:
        print(f"FAIL: {f} has {n} lines (over {LIMIT}) and does not say why at its top")
        bad += 1
if bad:
    sys.exit(1)
print(f"ok: {len(files)} files, {sum(len(v) for v in fg.values())} includes, no cycle; "
      f"{len(dg)} folders that include others, none in a circle; none over {LIMIT} lines")
