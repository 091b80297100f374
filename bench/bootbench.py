#!/usr/bin/env python3
"""Boot benchmark: lsl-vmm against QEMU microvm on the same KVM, kernel, initramfs, memory and vCPUs.

For each VMM, over N runs: time from process start to lsl-init's boot marker on the serial console, time to
process exit after the guest powers off, and peak RSS of the VMM process excluding guest RAM (sampled from
/proc/PID/smaps; the guest RAM mapping is the one at least half the guest's memory size). Prints a table
with medians, spread (min-max) and the lsl/QEMU ratio.
"""
import argparse
import os
import select
import shutil
import statistics
import subprocess
import sys
import time

MARKER = b"lsl-init: up"


def rss_excluding_guest_ram(pid, guest_bytes):
    """Resident KiB of all mappings except the guest RAM block."""
    total = 0
    skip = False
    try:
        with open(f"/proc/{pid}/smaps", "rb") as f:
            for line in f:
                if line[:1].isdigit() or line[:1] in b"abcdef":
                    lo, hi = line.split(b" ", 1)[0].split(b"-")
                    skip = (int(hi, 16) - int(lo, 16)) >= guest_bytes // 2
                elif line.startswith(b"Rss:") and not skip:
                    total += int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0
    return total


def run_once(cmd, guest_bytes, timeout):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    fd = p.stdout.fileno()
    os.set_blocking(fd, False)
    buf = b""
    t_marker = None
    peak = 0
    next_sample = 0.0
    while True:
        now = time.monotonic()
        if now - t0 > timeout:
            p.kill()
            p.wait()
            raise RuntimeError(f"timeout after {timeout}s: {' '.join(cmd[:3])}...")
        r, _, _ = select.select([fd], [], [], 0.002)
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            if t_marker is None:
                buf = (buf + chunk)[-4096:]
                if MARKER in buf:
                    t_marker = time.monotonic() - t0
        if now >= next_sample:
            peak = max(peak, rss_excluding_guest_ram(p.pid, guest_bytes))
            next_sample = now + 0.01
    p.wait()
    t_exit = time.monotonic() - t0
    if t_marker is None:
        raise RuntimeError(f"no boot marker (exit {p.returncode}): {' '.join(cmd)}")
    return t_marker, t_exit, peak


def fmt_stat(values, unit, scale=1.0):
    med = statistics.median(values) * scale
    return f"{med:8.1f} {unit} ({min(values) * scale:.1f}-{max(values) * scale:.1f})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmm", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--memory", type=int, default=512, help="MiB")
    ap.add_argument("--cpus", type=int, default=1)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()

    cmdline = "console=ttyS0 quiet panic=-1"
    lsl = [a.vmm, "--kernel", a.kernel, "--initrd", a.initrd, "--memory", f"{a.memory}M", "--cpus", str(a.cpus),
           "--cmdline", cmdline, "--console"]
    qemu_bin = shutil.which("qemu-system-x86_64")
    # QEMU's fastest direct-boot machine: microvm with the same vmlinux (PVH entry), no firmware option ROMs,
    # the same virtio-rng device lsl gives every guest, and the serial console on stdout.
    qemu = [qemu_bin, "-M", "microvm,x-option-roms=off,rtc=off", "-accel", "kvm", "-cpu", "host",
            "-m", str(a.memory), "-smp", str(a.cpus), "-nodefaults", "-no-user-config", "-display", "none",
            "-serial", "stdio", "-no-reboot", "-device", "virtio-rng-device",
            "-kernel", a.kernel, "-initrd", a.initrd, "-append", cmdline]
    results = {}
    for name, cmd in (("lsl-vmm", lsl), ("qemu-microvm", qemu)):
        run_once(cmd, a.memory << 20, a.timeout)  # warm the page cache; not counted
        rows = [run_once(cmd, a.memory << 20, a.timeout) for _ in range(a.runs)]
        results[name] = rows
        print(f"  {name}: {a.runs} runs done", file=sys.stderr)

    print(f"Boot benchmark: {a.runs} runs each, {a.memory} MiB, {a.cpus} vCPU, same kernel/initramfs/KVM")
    print(f"kernel {a.kernel}")
    print(f"peer: {subprocess.run([qemu_bin, '--version'], capture_output=True, text=True).stdout.splitlines()[0]}"
          " -M microvm")
    print()
    print(f"{'metric':<34} {'lsl-vmm median (min-max)':<28} {'qemu microvm median (min-max)':<30} {'lsl/qemu':>8}")
    metrics = (("start -> boot marker", 0, "ms", 1000.0), ("start -> exit (poweroff)", 1, "ms", 1000.0),
               ("peak RSS excluding guest RAM", 2, "KiB", 1.0))
    for label, i, unit, scale in metrics:
        l = [r[i] for r in results["lsl-vmm"]]
        q = [r[i] for r in results["qemu-microvm"]]
        ratio = statistics.median(l) / statistics.median(q) if statistics.median(q) else float("nan")
        print(f"{label:<34} {fmt_stat(l, unit, scale):<28} {fmt_stat(q, unit, scale):<30} {ratio:8.2f}")


if __name__ == "__main__":
    main()
