#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The README's five-minute tour, run as written: `make run` starts uni-healthd and uniserverd,
then every other `$` line of the tour's console blocks runs in bash and must exit 0 (or as its
block's "(exit status N)" says) and print lines of the shape the README shows ("..." stands for
what differs between hosts; a line of "..." for any lines), so the tour cannot drift from the code.

What the test changes, and why: `make run` gets BUILD= (this build directory, e.g. an ASan one) and
RUNTIME_DIR= (a temporary directory, not /run/uniserver), the commands UNISERVER_RUNTIME_DIR= so
that `uniserver+unix:///ro` reaches these daemons, and everything runs in its own network
namespace, so that /metrics' default port 127.0.0.1:9177 is this daemon's whatever else runs."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SRC = os.environ["SRCDIR"]
BUILD = os.path.abspath(os.environ["BUILDDIR"])


def tour_steps(readme):
    """[{cmd, out: [expected lines], exit}] of the console blocks between the tour's markers."""
    m = re.search(r"<!-- tour:.*?-->(.*?)<!-- /tour -->", readme, re.S)
    if not m:
        raise AssertionError("README.md has no <!-- tour: ... --> ... <!-- /tour --> section")
    steps = []
    for block in re.findall(r"```console\n(.*?)```", m.group(1), re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append({"cmd": line[2:], "out": [], "exit": 0})
            elif not steps:
                raise AssertionError(f"a console block of the tour starts with output, not a command: {line!r}")
            elif (e := re.fullmatch(r"\(exit status (\d+)\)", line)):
                steps[-1]["exit"] = int(e.group(1))
            else:
                steps[-1]["out"].append(line)
    return steps


def line_re(expected):
    """An expected line as a regular expression: "..." is anything, a run of blanks is any run."""
    toks = [t for t in re.split(r"(\.\.\.|\s+)", expected.strip()) if t]
    return re.compile("".join(".*" if t == "..." else r"\s+" if t.isspace() else re.escape(t) for t in toks))


def shape_matches(expected, actual):
    """doctest's ELLIPSIS by lines: the runs of expected lines between lines of "..." match runs of
    consecutive output lines, in order; the first run starts the output and the last ends it
    unless a "..." line stands before or after them."""
    runs = [[]]
    for e in expected:
        if e.strip() == "...":
            runs.append([])
        else:
            runs[-1].append(line_re(e))
    lines = [a.strip() for a in actual]

    def run_at(run, i):
        return i + len(run) <= len(lines) and all(r.fullmatch(lines[i + k]) for k, r in enumerate(run))

    if len(runs) == 1:
        return len(runs[0]) == len(lines) and run_at(runs[0], 0)
    if not run_at(runs[0], 0):
        return False
    pos = len(runs[0])
    for run in runs[1:-1]:
        i = next((i for i in range(pos, len(lines) - len(run) + 1) if run_at(run, i)), None)
        if i is None:
            return False
        pos = i + len(run)
    return len(lines) - len(runs[-1]) >= pos and run_at(runs[-1], len(lines) - len(runs[-1]))


def self_check():
    """The matcher itself fails what it must (a test of the test)."""
    assert shape_matches(["a ...", "..."], ["a 1", "b", "c"])
    assert not shape_matches(["a ..."], ["a 1", "b"])  # no trailing "...": nothing may follow
    assert not shape_matches(["x"], ["y"])
    assert shape_matches(["...", "b", "c", "..."], ["a", "b", "c", "d"])
    assert not shape_matches(["...", "b", "c", "..."], ["a", "b", "x", "c"])  # a run is consecutive
    assert shape_matches(["host.cpu.count 8"], ["host.cpu.count         8"])
    assert not shape_matches(["host.cpu.count 8"], ["host.cpu.count 9"])
    assert not shape_matches(["[...]"], ["error: no"])


def main():
    self_check()
    if os.geteuid() != 0:
        print("SKIP: the tour is root's (`make run` as root on Debian 12); this test runs as uid", os.geteuid())
        return 77
    if os.environ.get("UNI_TOUR_NETNS") != "1":
        os.environ["UNI_TOUR_NETNS"] = "1"
        os.execvp("unshare", ["unshare", "--net", "--", sys.executable, os.path.abspath(__file__)])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)

    with open(os.path.join(SRC, "README.md")) as f:
        steps = tour_steps(f.read())
    assert len(steps) >= 8, f"the tour has {len(steps)} commands"
    assert steps[0]["cmd"] == "make run", f"the tour starts with {steps[0]['cmd']!r}, not make run"
    tmp = tempfile.mkdtemp(prefix="uni-tour-")
    rt, wd = os.path.join(tmp, "run"), os.path.join(tmp, "wd")
    os.mkdir(wd)
    os.symlink(BUILD, os.path.join(wd, "build"))  # the README's build/ is this build directory
    env = dict(os.environ, UNISERVER_RUNTIME_DIR=rt)
    env.pop("UNISERVER_DEFAULT_URI", None)
    log = open(os.path.join(tmp, "make-run.log"), "w+")
    run = subprocess.Popen(["make", "-C", SRC, "run", f"BUILD={BUILD}", f"RUNTIME_DIR={rt}"], stdout=log,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    failed = []
    try:
        # Ready: both daemons say so, and the daemon has two samples (rates need a window).
        deadline = time.monotonic() + 180
        text = ""
        while True:
            log.flush()
            text = open(log.name).read()
            if "uniserverd ready" in text and "uni-healthd ready" in text:
                p = subprocess.run([os.path.join(BUILD, "bin", "unish"), "-c", "uniserver+unix:///ro", "--json",
                                    "hostmemstats"], env=env, capture_output=True, text=True, timeout=60)
                if p.returncode == 0 and '"window_ms": null' not in p.stdout:
                    break
            if run.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"make run did not get both daemons serving (exit {run.poll()}):\n{text}")
            time.sleep(0.2)
        head = text[:text.index("\n", text.index("From another terminal:")) + 1]
        if shape_matches(steps[0]["out"], head.splitlines()):
            print("ok: make run")
        else:
            failed.append(("make run", steps[0], head, None))
        for st in steps[1:]:
            e = dict(env)
            if "python3" in st["cmd"] and os.environ.get("UNI_PYTHON_PRELOAD"):
                # An instrumented module in Debian's python3 needs the sanitizers' runtimes first.
                e.update(LD_PRELOAD=os.environ["UNI_PYTHON_PRELOAD"], ASAN_OPTIONS="detect_leaks=0")
            p = subprocess.run(["bash", "-c", st["cmd"]], cwd=wd, env=e, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=120)
            out = p.stdout.rstrip("\n").split("\n") if p.stdout.strip() else []
            if p.returncode == st["exit"] and shape_matches(st["out"], out):
                print(f"ok: {st['cmd']}")
            else:
                failed.append((st["cmd"], st, p.stdout, p.returncode))
        if run.poll() is not None:
            failed.append(("make run", {"out": ["(still running)"], "exit": 0}, open(log.name).read(), run.poll()))
    finally:
        try:
            os.killpg(run.pid, signal.SIGTERM)  # Ctrl-C's part: make's trap stops uni-healthd too
            run.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    for cmd, st, out, rc in failed:
        print(f"FAIL: {cmd}\n  exit status {rc} (README: {st['exit']})\n  the README shows:")
        print("".join(f"    {line}\n" for line in st["out"]), end="")
        print("  it printed:")
        print("".join(f"    {line}\n" for line in out.splitlines()), end="")
    if failed:
        log.flush()
        print("make run's output:\n" + open(log.name).read())
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"the README's tour: {len(steps)} commands as shown")
    return 0


if __name__ == "__main__":
    sys.exit(main())
