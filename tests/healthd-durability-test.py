#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The HealthLog's durability: uni-healthd is killed with SIGKILL at a random moment while events
stream in fast (trace pages through a FIFO in place of trace_pipe_raw, each record numbered in
its address; an EDAC counter raised in a loop). After each kill: PRAGMA integrity_check is ok,
every event the daemon acknowledged (its "committed ... ids A-B" log line, written after the
commit) is there, the trace records are a gap-free, duplicate-free prefix of what was sent, the
EDAC events add up to the baseline committed with them, and a restart accounts for every error
the counter shows. Trials: UNI_DURABILITY_TRIALS (default 20)."""
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.environ["SRCDIR"]
BUILD = os.environ["BUILDDIR"]
HEALTHD = os.path.join(BUILD, "bin", "uni-healthd")
sys.path.insert(0, os.path.join(SRC, "tests", "healthd"))
import tracegen  # noqa: E402

INST = "sys/kernel/tracing/instances/uni-healthd"
COUNTER = "sys/devices/system/edac/mc/mc0/dimm1/dimm_ce_count"
PER_PAGE = 20


def trial(n, seed):
    """Even trials stream trace records, odd ones raise an EDAC counter (with ras:mc_event traced,
    counters are only followed: the trace has the same errors)."""
    traced = n % 2 == 0
    rnd = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="uni-durability-")
    root = os.path.join(tmp, "host")
    shutil.copytree(os.path.join(SRC, "tests", "fixtures", "health-x86"), root, symlinks=True)
    db = os.path.join(tmp, "healthlog.db")
    fifo = os.path.join(root, INST, "per_cpu", "cpu0", "trace_pipe_raw")
    os.unlink(fifo)
    os.mkfifo(fifo)
    mc = tracegen.formats(os.path.join(root, INST))["mc_event"]
    args = [HEALTHD, "--db", db, "--procfs", os.path.join(root, "proc"), "--sysfs", os.path.join(root, "sys"),
            "--set", "retention_days=0", "--set", "sensor_interval_ms=0", "--log-level", "debug"]
    proc = subprocess.Popen(args + ["-f", "--interval", "10", "--set", "trace=" + ("yes" if traced else "no")],
                            stderr=subprocess.PIPE, text=True)
    acked = [0]
    ready = threading.Event()
    stop = threading.Event()
    sent = [0]
    counter = [0]

    def read_log():
        for line in proc.stderr:
            if "uni-healthd ready" in line:
                ready.set()
            m = re.search(r"committed \d+ events \(ids (\d+)-(\d+)", line)
            if m:
                acked[0] = max(acked[0], int(m.group(2)))

    def write_trace():
        try:
            fd = os.open(fifo, os.O_WRONLY)
        except OSError:
            return
        try:
            while not stop.is_set():
                recs = [mc.record(error_type=0, msg="memory read error", label="STREAM", error_count=1, mc_index=0, top_layer=0,
                                  middle_layer=0, lower_layer=-1, address=sent[0] + i + 1, grain_bits=6, syndrome=0,
                                  driver_detail="") for i in range(PER_PAGE)]
                os.write(fd, tracegen.page(recs))
                sent[0] += PER_PAGE
        except OSError:
            pass
        finally:
            os.close(fd)

    def raise_counter():
        path = os.path.join(root, COUNTER)
        while not stop.is_set():
            counter[0] += 1
            with open(path + ".tmp", "w") as f:
                f.write("%d\n" % counter[0])
            os.rename(path + ".tmp", path)
            time.sleep(0.0005)

    threads = [threading.Thread(target=f) for f in (read_log, write_trace if traced else raise_counter)]
    threads[0].start()
    if not ready.wait(timeout=30):
        proc.kill()
        proc.wait()
        raise SystemExit("uni-healthd did not start")
    threads[1].start()
    t0 = time.time()
    time.sleep(rnd.uniform(0.15, 0.6))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    elapsed = time.time() - t0
    stop.set()
    for t in threads:
        t.join(timeout=10)
    final = counter[0]

    c = sqlite3.connect(db)
    try:
        problems = []
        if c.execute("PRAGMA integrity_check").fetchall() != [("ok",)]:
            problems.append("integrity_check failed")
        k = acked[0]
        # A trial that acknowledged nothing proved nothing (the daemon may never have committed).
        if k == 0:
            problems.append("no event was acknowledged before the kill")
        present = c.execute("SELECT count(*) FROM events WHERE id <= ?", (k,)).fetchone()[0]
        if present != k:
            problems.append(f"{k - present} acknowledged events missing (acked up to id {k}, {present} there)")
        seq = [r[0] for r in c.execute("SELECT address FROM events WHERE source = 'mc_event' AND dimm = 'STREAM' ORDER BY address")]
        if seq != list(range(1, len(seq) + 1)):  # records are numbered from 1 (address 0 means none)
            problems.append(f"trace records are not a gap-free, duplicate-free prefix: {len(seq)} rows, {len(set(seq))} distinct")
        base = c.execute("SELECT value FROM state WHERE key = 'edac:mc0/dimm1/ce'").fetchone()
        edac = c.execute("SELECT coalesce(sum(count), 0) FROM events WHERE source = 'edac' AND dimm = ?",
                         ("CPU_SrcID#0_MC#0_Chan#1_DIMM#0",)).fetchone()[0]
        if not traced and base and base[0] != edac:
            problems.append(f"EDAC events add up to {edac}, the committed baseline is {base[0]}")
        trace_rows = len(seq)
    finally:
        c.close()
    # A restart recovers the file and accounts for what the counter shows.
    r = subprocess.run(args + ["--once", "--set", "trace=no"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        problems.append("restart failed: " + r.stderr[-500:])
    c = sqlite3.connect(db)
    try:
        edac = c.execute("SELECT coalesce(sum(count), 0) FROM events WHERE source = 'edac' AND dimm = ?",
                         ("CPU_SrcID#0_MC#0_Chan#1_DIMM#0",)).fetchone()[0]
        if not traced and edac != final:
            problems.append(f"after the restart EDAC events add up to {edac}, the counter shows {final}")
    finally:
        c.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return problems, acked[0], trace_rows, sent[0], elapsed


def main():
    if not os.path.exists(HEALTHD):
        print("SKIP: uni-healthd not built")
        sys.exit(77)
    trials = int(os.environ.get("UNI_DURABILITY_TRIALS", "20"))
    seed = int(os.environ.get("UNI_DURABILITY_SEED", str(int(time.time()))))
    failed = 0
    total_rows = total_time = 0
    for n in range(trials):
        problems, acked, rows, sent, elapsed = trial(n, seed + n)
        if n % 2 == 0:
            total_rows += rows
            total_time += elapsed
        status = "ok" if not problems else "FAIL: " + "; ".join(problems)
        print(f"trial {n + 1}/{trials} (seed {seed + n}): killed after {elapsed * 1000:.0f} ms, {acked} events acknowledged, "
              f"{rows} of {sent} trace records committed: {status}")
        failed += bool(problems)
    print(f"{trials - failed}/{trials} trials ok; trace records committed while streaming: "
          f"{total_rows / total_time if total_time else 0:.0f} events/s (each commit on disk, synchronous=FULL)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
