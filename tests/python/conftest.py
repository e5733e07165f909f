# SPDX-License-Identifier: LGPL-2.1-or-later
"""pytest setup: the module from the build tree, the pollster package from the source tree, the
tests' shared helpers (tests/testlib.py)."""
import os
import sys

BUILD = os.environ.get("BUILDDIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SRC = os.environ.get("SRCDIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path[:0] = [os.path.join(BUILD, "python"), os.path.join(SRC, "python"), os.path.join(SRC, "tests")]
