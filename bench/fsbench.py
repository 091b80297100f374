#!/usr/bin/env python3
"""File sharing benchmark (issue 14): the same workload (bench/fs-work.sh) on a directory of the (emulated)
host three ways in one run - natively on the host, in lsl's guest over virtio-fs, and in QEMU's guest over
virtio-9p (QEMU's -virtfs as a virtio-mmio device, msize 512000 and cache=loose: its fastest mount) - with the
same guest kernel (bench/fs-kernel.sh: lsl's, plus 9p), the same tools (a static fsbench-tool; the host's git
and find, copied with their libraries onto the guests' root disk) and the same files: 1 GiB written and read
sequentially, 10,000 1 KiB files created, stat'ed, read and removed, and the unpacked kernel source (a git
work tree) walked with find and checked with git status. Runs as root (drop_caches, KVM for QEMU).

The shared directory is on tmpfs, so the host's side costs the same for all three and what differs is the
transport. Reads after a write are measured with the guest's page cache dropped (the host's tmpfs keeps the
file), once more warm; "first" walks and git status run right after the guest dropped its caches.
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

METRICS = [  # name, unit, higher is better
    ("seq_write", "MB/s", True),
    ("seq_read", "MB/s", True),
    ("seq_read_again", "MB/s", True),
    ("seq_read_guest_ram", "MB/s", True),  # the guest's own floor: the same read from its tmpfs
    ("small_create", "s", False),
    ("small_stat", "s", False),
    ("small_read", "s", False),
    ("small_unlink", "s", False),
    ("walk_first", "s", False),
    ("walk", "s", False),
    ("git_status_first", "s", False),
    ("git_status", "s", False),
]


def parse_results(text):
    res = {}
    for line in text.splitlines():
        line = line.strip().replace("\r", "")
        i = line.find("RESULT ")
        if i < 0:
            continue
        f = line[i:].split()
        if len(f) >= 3:
            try:
                res.setdefault(f[1], []).append(float(f[2]))
            except ValueError:
                pass
    return {k: statistics.median(v) for k, v in res.items()}


def wait_for(path, marker, proc, deadline):
    while time.time() < deadline:
        try:
            with open(path, "rb") as f:
                if marker in f.read():
                    return True
        except FileNotFoundError:
            pass
        if proc.poll() is not None:
            try:
                with open(path, "rb") as f:
                    return marker in f.read()
            except FileNotFoundError:
                return False
        time.sleep(0.5)
    return False


def run_native(a, share):
    env = dict(os.environ, PATH=os.path.dirname(a.tool) + ":" + os.environ["PATH"], FSB_ONLY=a.only,
               FSB_MIB=str(a.mib))
    t0 = time.time()
    p = subprocess.run(["/bin/busybox", "sh", a.work_script, share], env=env, capture_output=True, text=True,
                       timeout=a.timeout)
    sys.stderr.write(p.stderr)
    print(f"  native: {time.time() - t0:.0f} s", file=sys.stderr)
    return parse_results(p.stdout)


def guest_command(mount, helper=""):
    return f"{mount} && FSB_GUEST=1 FSB_HELPER={helper} FSB_ONLY='{{only}}' FSB_MIB={{mib}} fs-work.sh /mnt"


def run_lsl(a, share, opts, work):
    log = os.path.join(work, "lsl-%d.log" % time.time_ns())
    cmd = [a.vmm, "--kernel", a.kernel, "--initrd", a.initrd, "--memory", f"{a.memory}M", "--cpus", str(a.cpus),
           "--disk", a.disk + ",ro", "--root", "/dev/vda", "--share", f"bench={share}{opts}", "--stats",
           "--console-log", log, "--", "/bin/sh", "-c",
           guest_command("mount -t virtiofs -o dax=inode bench /mnt", "" if a.no_helper else "lsl-fswatch").format(
               only=a.only, mib=a.mib)]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
    with open(log, errors="replace") as f:
        out = f.read()
    for line in p.stderr.splitlines():
        if "virtio-fs" in line:
            print("    " + line, file=sys.stderr)
    if "BENCH-DONE" not in out:
        print(f"  lsl{opts}: failed (exit {p.returncode}); console tail:\n" + out[-2000:] + p.stderr[-1000:],
              file=sys.stderr)
    print(f"  lsl{opts}: {time.time() - t0:.0f} s", file=sys.stderr)
    return parse_results(out)


def run_qemu(a, share, work):
    log = os.path.join(work, "qemu-%d.log" % time.time_ns())
    argv = ["/bin/sh", "-c", guest_command(
        "mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=" + a.p9_cache + " bench /mnt").format(
        only=a.only, mib=a.mib)]
    hexcmd = "".join(s.encode().hex() + "00" for s in argv)
    append = f"console=ttyS0 quiet panic=-1 lsl.root=/dev/vda lsl.rootflags=ro lsl.cmd={hexcmd}"
    cmd = ["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-cpu", "host", "-m", str(a.memory),
           "-smp", str(a.cpus), "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
           "-serial", "file:" + log, "-kernel", a.kernel, "-initrd", a.initrd, "-append", append,
           "-drive", f"id=root,file={a.disk},format=raw,if=none,readonly=on",
           "-device", "virtio-blk-device,drive=root",
           "-fsdev", f"local,id=bench,path={share},security_model=none,multidevs=remap",
           "-device", "virtio-9p-device,fsdev=bench,mount_tag=bench"]
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ok = wait_for(log, b"BENCH-DONE", p, time.time() + a.timeout)
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    try:
        _, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    with open(log, errors="replace") as f:
        out = f.read()
    if not ok:
        print("  qemu 9p: failed; console tail:\n" + out[-2000:] + err.decode(errors="replace")[-1000:],
              file=sys.stderr)
    print(f"  qemu 9p (cache={a.p9_cache}): {time.time() - t0:.0f} s", file=sys.stderr)
    return parse_results(out)


def fmt(v, unit):
    if v is None:
        return "-"
    return f"{v:.0f} {unit}" if unit == "MB/s" else f"{v:.2f} s"


def ratio(lsl, other, higher):
    if lsl is None or other is None or lsl == 0 or other == 0:
        return "-"
    return f"{(lsl / other if higher else other / lsl):.2f}x"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmm", required=True)
    ap.add_argument("--kernel", required=True, help="a vmlinux with 9p (bench/fs-kernel.sh)")
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--disk", required=True, help="root disk with fsbench-tool, fs-work.sh, git, find")
    ap.add_argument("--tool", required=True, help="fsbench-tool for the host")
    ap.add_argument("--work-script", required=True)
    ap.add_argument("--tree", required=True, help="tar of the kernel source with its git repository")
    ap.add_argument("--memory", type=int, default=2048)
    ap.add_argument("--cpus", type=int, default=1)
    ap.add_argument("--only", default="seq small walk git")
    ap.add_argument("--mib", type=int, default=1024, help="size of the sequential file")
    ap.add_argument("--p9-cache", default="loose")
    ap.add_argument("--variant", action="append", default=[],
                    help="NAME=,OPTS: another lsl column with --share options (e.g. threads2=,threads=2)")
    ap.add_argument("--no-native", action="store_true")
    ap.add_argument("--no-qemu", action="store_true")
    ap.add_argument("--no-helper", action="store_true",
                    help="lsl's guest without its change helper: no host watches, the 1 s timeout only")
    ap.add_argument("--timeout", type=int, default=2400)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="lsl-fsb.", dir="/tmp")
    share = os.path.join(work, "share")
    os.makedirs(share)
    try:
        # Two phases, so the 1 GiB file and the 1.6 GB tree never sit in the emulated host's RAM together.
        wanted = a.only.split()
        phases = [p for p in (["seq", "small"], ["walk", "git"]) if any(w in wanted for w in p)]
        cols = {}
        order = []

        def add(name, res):
            if name not in cols:
                cols[name] = {}
                order.append(name)
            cols[name].update(res)

        for ph in phases:
            a.only = " ".join(w for w in ph if w in wanted)
            if "walk" in ph or "git" in ph:
                t0 = time.time()
                subprocess.run(["tar", "-xf", a.tree, "-C", share], check=True)
                print(f"  kernel tree unpacked in {time.time() - t0:.0f} s", file=sys.stderr)
            if not a.no_native:
                add("native", run_native(a, share))
            add("lsl", run_lsl(a, share, "", work))
            for v in a.variant:
                name, _, opts = v.partition("=")
                add("lsl " + name, run_lsl(a, share, opts, work))
            if not a.no_qemu:
                add("9p", run_qemu(a, share, work))
            subprocess.run(["rm", "-rf", share], check=True)
            os.makedirs(share)
        cols = [(n, cols[n]) for n in order]
        names = [c[0] for c in cols]
        d = dict(cols)
        head = ["metric"] + names
        if "native" in d:
            head.append("lsl vs native")
        if "9p" in d:
            head.append("lsl vs 9p")
        rows = [head]
        for m, unit, higher in METRICS:
            if not any(m in c for _, c in cols):
                continue
            row = [m + (" (MB/s)" if unit == "MB/s" else " (s)")] + [fmt(c.get(m), unit) for _, c in cols]
            if "native" in d:
                row.append(ratio(d["lsl"].get(m), d["native"].get(m), higher))
            if "9p" in d:
                row.append(ratio(d["lsl"].get(m), d["9p"].get(m), higher))
            rows.append(row)
        # The sizes measured, in the table's own output: a smaller run (LSL_BENCH_FS_MIB) must not pass for
        # the 1 GiB one.
        sizes = []
        if "seq" in wanted:
            sizes.append(f"sequential file {a.mib} MiB")
        if "small" in wanted:
            sizes.append("10,000 files of 1 KiB")
        if "walk" in wanted or "git" in wanted:
            with tarfile.open(a.tree) as t:
                files = sum(1 for m in t if m.isfile() and "/.git/" not in m.name)
            sizes.append(f"the kernel source as a git work tree ({os.path.basename(a.tree)}, {files:,} files)")
        print("sizes: " + "; ".join(sizes) + f"; {a.cpus} vCPU, {a.memory} MiB guests")
        w = [max(len(r[i]) for r in rows) for i in range(len(head))]
        for r in rows:
            print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))
        print("(ratios: how many times lsl's speed the peer's is; > 1 is lsl faster)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
