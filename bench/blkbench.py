#!/usr/bin/env python3
"""Disk benchmark: a distribution's disk (virtio-blk, served by lsl-vmm from an image file) against the same
image file used directly on the host, in the same run.

In each boot the guest (tests/guest/disk-tool.c) runs, on a raw second disk with O_DIRECT (the device path,
not the guest's page cache): a sequential write (1 MiB writes, then fdatasync), a sequential read, and
4 KiB random reads and writes at queue depth 1 and 32 (as many threads, each with one request out) over the
first SPAN MiB. The host runs the same tool on the image file itself, through the page cache as lsl-vmm
serves it: the host's limit for this design. lsl-vmm runs twice: with its io_uring (requests in flight,
completed as they finish; the default) and with LSL_BLK_SYNC=1 (each request served synchronously on the
I/O thread, as before), so the table shows what the ring buys. Beside each boot: the disk's kicks
(notifications, each a VM exit) and interrupts per MiB moved, from lsl-vmm --stats. Medians over the runs.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

TESTS = ("seq-write", "seq-read", "rand-read qd1", "rand-read qd32", "rand-write qd1", "rand-write qd32")


def commands(tool, path, mib, seconds, span):
    return [f"{tool} seq-write {path} {mib}", f"{tool} seq-read {path} {mib}",
            f"{tool} rand read {path} 1 {seconds} {span}", f"{tool} rand read {path} 32 {seconds} {span}",
            f"{tool} rand write {path} 1 {seconds} {span}", f"{tool} rand write {path} 32 {seconds} {span}"]


def parse(out):
    res = {}
    for m in re.finditer(r"^seq-(write|read) \d+ MiB [\d.]+ s ([\d.]+) MB/s", out, re.M):
        res[f"seq-{m.group(1)}"] = float(m.group(2))
    for m in re.finditer(r"^rand-(read|write) qd (\d+) \d+ ops [\d.]+ s (\d+) iops", out, re.M):
        res[f"rand-{m.group(1)} qd{m.group(2)}"] = float(m.group(3))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmm", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--disk", required=True, help="test root with /bin/disk-tool")
    ap.add_argument("--tool", required=True, help="disk-tool, for the host's side")
    ap.add_argument("--memory", type=int, default=512, help="MiB")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mib", type=int, default=256, help="sequential size")
    ap.add_argument("--seconds", type=float, default=5, help="each random test")
    ap.add_argument("--span", type=int, default=256, help="MiB the random tests spread over")
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="lsl-blkbench.")
    image = os.path.join(work, "scratch.img")
    size = max(a.mib, a.span) + 16
    script = " && ".join(commands("disk-tool", "/dev/vdb", a.mib, a.seconds, a.span))
    lsl = [a.vmm, "--kernel", a.kernel, "--initrd", a.initrd, "--memory", f"{a.memory}M", "--cpus", "1",
           "--disk", f"{a.disk},ro", "--disk", image, "--root", "/dev/vda", "--console", "--stats", "--",
           "/bin/sh", "-c", script]
    modes = ("lsl-vmm io_uring", "lsl-vmm sync", "host file")
    results = {m: [] for m in modes}
    per_mib = {m: [] for m in modes[:2]}
    timeout = 6 * a.seconds + a.mib + 600
    for i in range(a.runs):
        for mode in modes:
            with open(image, "wb") as f:
                f.truncate(size << 20)
            if mode == "host file":
                out = ""
                for c in commands(a.tool, image, a.mib, a.seconds, a.span):
                    out += subprocess.run(c.split(), capture_output=True, text=True, timeout=timeout).stdout
            else:
                env = dict(os.environ, LSL_BLK_SYNC="1" if mode.endswith("sync") else "0")
                p = subprocess.run(lsl, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   timeout=timeout, env=env)
                out = p.stdout.decode(errors="replace")
                # The second virtio-blk device is the scratch disk.
                devs = re.findall(r"^lsl-vmm: virtio-blk +#\d+ kicks (\d+) irqs (\d+) reqs \d+ in (\d+) B out (\d+) B",
                                  out, re.M)
                if len(devs) >= 2:
                    kicks, irqs, bin_, bout = (int(x) for x in devs[1])
                    mib = max((bin_ + bout) / (1 << 20), 1e-9)
                    per_mib[mode].append((kicks / mib, irqs / mib))
            res = parse(out)
            if len(res) != len(TESTS):
                raise RuntimeError(f"{mode}: not every measurement reported:\n{out[-3000:]}")
            results[mode].append(res)
            print(f"  run {i + 1} {mode}: {res}", file=sys.stderr)
    os.unlink(image)
    os.rmdir(work)

    print(f"Disk benchmark: {a.runs} runs; guest: raw virtio-blk disk, O_DIRECT, 1 vCPU, {a.memory} MiB; host: the same "
          f"image file through its page cache")
    print(f"sequential {a.mib} MiB in 1 MiB requests (the write ends with fdatasync); random 4 KiB for {a.seconds:g} s "
          f"over {a.span} MiB")
    print()
    print(f"{'test':<18}" + "".join(f"{m + ' median (min-max)':<34}" for m in modes) + f"{'uring/host':>11}{'uring/sync':>11}")
    for t in TESTS:
        unit = "MB/s" if t.startswith("seq") else "IOPS"
        row = f"{t:<18}"
        med = {}
        for m in modes:
            v = [r[t] for r in results[m]]
            med[m] = statistics.median(v)
            row += f"{f'{med[m]:.1f} {unit} ({min(v):.0f}-{max(v):.0f})':<34}"
        host, uring, sync = med["host file"], med["lsl-vmm io_uring"], med["lsl-vmm sync"]
        print(row + f"{uring / host if host else float('nan'):10.2f}x{uring / sync if sync else float('nan'):10.2f}x")
    for m, v in per_mib.items():
        if v:
            k = statistics.median(x[0] for x in v)
            q = statistics.median(x[1] for x in v)
            print(f"{m}: {k:.1f} kicks and {q:.1f} interrupts per MiB moved (the scratch disk, whole boot)")


if __name__ == "__main__":
    main()
