#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Errors tied to VMs, with real tiny KVM guests: two QEMU guests (tinyguest), guest 1's vCPU pinned
to CPU 0 and guest 2's to CPU 1. A memory error at a physical page that belongs to guest 1's RAM
(found through its /proc/PID/pagemap) is linked to guest 1 and no other; a CPU error on CPU 1 to
guest 2 only. uni-healthd reads the real /proc (the QEMU processes) and a fixture sysfs whose
trace_pipe_raw carries the two records. SKIP without root, /dev/kvm, QEMU or the guest."""
import glob
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

SRC = os.environ["SRCDIR"]
BUILD = os.environ["BUILDDIR"]
HEALTHD = os.path.join(BUILD, "bin", "uni-healthd")
UNISH = os.path.join(BUILD, "bin", "unish")
QEMU = shutil.which("qemu-system-x86_64")
sys.path.insert(0, os.path.join(SRC, "tests", "healthd"))
import tracegen  # noqa: E402

INST = "sys/kernel/tracing/instances/uni-healthd"


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def guest_elf(tmp):
    """The project's tiny guest (tests/guest, built with the tree) or, before that is in this
    tree, the reference copy on this machine built here."""
    built = os.path.join(BUILD, "tests", "guest", "tinyguest.elf")
    if os.path.exists(built):
        return built
    ref = os.environ.get("TINYGUEST_SRC", "/work/shared/reference/tinyguest")
    if not os.path.exists(os.path.join(ref, "Makefile")):
        skip("no tiny guest: tests/guest/tinyguest.elf is not built and no reference tinyguest at " + ref)
    d = os.path.join(tmp, "tinyguest")
    shutil.copytree(ref, d)
    r = subprocess.run(["make", "-s", "-C", d], capture_output=True, text=True)
    if r.returncode != 0:
        skip("cannot build the tiny guest: " + r.stderr[-300:])
    return os.path.join(d, "tinyguest.elf")


def start_guest(tmp, elf, name):
    serial = os.path.join(tmp, name + ".serial")
    pidfile = os.path.join(tmp, name + ".pid")
    subprocess.run([QEMU, "-accel", "kvm", "-M", "microvm", "-m", "64", "-smp", "1", "-name", name + ",debug-threads=on",
                    "-nodefaults", "-no-user-config", "-display", "none", "-chardev", f"file,id=ser0,path={serial}",
                    "-serial", "chardev:ser0", "-kernel", elf, "-append", "mb=32 spin=20 io=0 mmio=0 halt=1 hz=100",
                    "-no-reboot", "-daemonize", "-pidfile", pidfile], check=True, timeout=30)
    pid = int(open(pidfile).read())
    for _ in range(300):
        if os.path.exists(serial) and "GUEST-READY" in open(serial, errors="replace").read():
            break
        time.sleep(0.02)
    else:
        raise AssertionError(f"{name} did not become ready: " + open(serial, errors="replace").read()[-300:])
    vcpu = None
    for comm in glob.glob(f"/proc/{pid}/task/*/comm"):
        if open(comm).read().strip() == "CPU 0/KVM":
            vcpu = int(comm.split("/")[4])
    if vcpu is None:
        raise AssertionError(f"{name}: no 'CPU 0/KVM' thread")
    return pid, vcpu


def guest_ram(pid):
    """Anonymous read-write mappings of at least 32 MiB: the guest's RAM (-m 64)."""
    out = []
    for line in open(f"/proc/{pid}/maps"):
        f = line.split()
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        if f[1].startswith("rw") and len(f) == 5 and hi - lo >= 32 << 20:
            out.append((lo, hi))
    return out


def frames(pid, ranges, exclusive=False):
    """Page frames present in @ranges (bit 56: mapped by this process only)."""
    pfns = {}
    with open(f"/proc/{pid}/pagemap", "rb") as pm:
        for lo, hi in ranges:
            pm.seek(lo // 4096 * 8)
            data = pm.read((hi - lo) // 4096 * 8)
            for i in range(len(data) // 8):
                (e,) = struct.unpack_from("<Q", data, i * 8)
                if e >> 63 and (not exclusive or (e >> 56) & 1) and e & ((1 << 55) - 1):
                    pfns[e & ((1 << 55) - 1)] = lo + i * 4096
    return pfns


def main():
    if os.geteuid() != 0:
        skip("needs root (pagemap frame numbers, KVM)")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        skip("no /dev/kvm")
    if not QEMU:
        skip("no qemu-system-x86_64")
    if os.cpu_count() < 2:
        skip("needs two CPUs to pin two guests apart")
    tmp = tempfile.mkdtemp(prefix="uni-vmlink-")
    pids = []
    try:
        elf = guest_elf(tmp)
        p1, v1 = start_guest(tmp, elf, "guest-1")
        pids.append(p1)
        p2, v2 = start_guest(tmp, elf, "guest-2")
        pids.append(p2)
        os.sched_setaffinity(v1, {0})
        os.sched_setaffinity(v2, {1})
        time.sleep(0.3)  # let each vCPU run on its CPU
        # A page frame of guest 1's RAM that guest 2 does not map.
        f1 = frames(p1, guest_ram(p1), exclusive=True)
        f2 = frames(p2, guest_ram(p2))
        mine = sorted(set(f1) - set(f2))
        assert mine, "no page frame of guest 1's RAM found"
        pfn = mine[len(mine) // 2]
        addr = pfn * 4096 + 0x240
        # The records, as the kernel would deliver them.
        root = os.path.join(tmp, "host")
        shutil.copytree(os.path.join(SRC, "tests", "fixtures", "health-x86"), root, symlinks=True)
        f = tracegen.formats(os.path.join(root, INST))
        page = tracegen.page([
            f["mc_event"].record(error_type=0, msg="memory read error", label="DIMM_VM", error_count=1, mc_index=0, top_layer=0,
                                 middle_layer=0, lower_layer=-1, address=addr, grain_bits=6, syndrome=0, driver_detail=""),
            f["mce_record"].record(mcgcap=0, mcgstatus=0, status=0x900000000000010a, cpu=1, socketid=0, bank=2, cpuvendor=0),
            # A frame far beyond this machine's RAM (64 TiB): no guest maps it.
            f["mc_event"].record(error_type=0, msg="memory read error", label="DIMM_NONE", error_count=1, mc_index=0,
                                 top_layer=0, middle_layer=1, lower_layer=-1, address=1 << 46, grain_bits=6, syndrome=0,
                                 driver_detail=""),
        ])
        with open(os.path.join(root, INST, "per_cpu", "cpu0", "trace_pipe_raw"), "ab") as t:
            t.write(page)
        db = os.path.join(tmp, "healthlog.db")
        r = subprocess.run([HEALTHD, "--once", "--db", db, "--procfs", "/proc", "--sysfs", os.path.join(root, "sys"),
                            "--set", "retention_days=0", "--set", "sensor_interval_ms=0"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        uri = f"uniserver:///system?procfs=/proc&sysfs={root}/sys&healthlog={db}"
        mem = json.loads(subprocess.run([UNISH, "-c", uri, "--json", "healthlog", "--dimm", "DIMM_VM"], capture_output=True,
                                        text=True, check=True).stdout)
        cpu = json.loads(subprocess.run([UNISH, "-c", uri, "--json", "healthlog", "--core", "1"], capture_output=True,
                                        text=True, check=True).stdout)
        print(f"memory error at 0x{addr:x} (frame 0x{pfn:x}, guest 1 virtual 0x{f1[pfn]:x}): {mem[0].get('event.vms')}")
        print(f"CPU error on core 1: {cpu[0].get('event.vms')}")
        assert mem[0].get("event.vms") == f"guest-1 (pid {p1}): maps_page", mem
        vms = cpu[0].get("event.vms", "")
        # Other tests' guests may share the machine (the suite runs in parallel): only ours are judged.
        assert f"guest-2 (pid {p2}): ran_on vcpu 0" in vms or f"guest-2 (pid {p2}): pinned vcpu 0" in vms, cpu
        assert "guest-1" not in vms, cpu
        # The text output names the VM; a frame no guest maps has no link, in JSON or in text.
        text = subprocess.run([UNISH, "-c", uri, "healthlog", "--dimm", "DIMM_VM"], capture_output=True, text=True).stdout
        assert "may have touched: guest-1" in text, text
        none = json.loads(subprocess.run([UNISH, "-c", uri, "--json", "healthlog", "--dimm", "DIMM_NONE"],
                                         capture_output=True, text=True, check=True).stdout)
        assert len(none) == 1 and "event.vms" not in none[0], none
        text = subprocess.run([UNISH, "-c", uri, "healthlog", "--dimm", "DIMM_NONE"], capture_output=True, text=True).stdout
        assert "DIMM_NONE" in text and "may have touched" not in text, text
        # Each VM's record counts the errors linked to it (dom.errors.*).
        recs = json.loads(subprocess.run([UNISH, "-c", uri, "--json", "domstats", "--all", "--select", "dom.errors."],
                                         capture_output=True, text=True, check=True).stdout)
        g1, g2 = recs["guest-1"], recs["guest-2"]
        assert (g1["dom.errors.ce.count"], g1["dom.errors.ue.count"]) == (1, 0), g1
        assert (g2["dom.errors.ce.count"], g2["dom.errors.ue.count"]) == (1, 0), g2
        print("ok: the memory error is linked to guest 1 only, the CPU error to guest 2 only; each VM's record counts its own")
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
