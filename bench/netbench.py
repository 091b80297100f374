#!/usr/bin/env python3
"""Network benchmark: lsl-vmm --net against QEMU's -netdev user (the same libslirp) on the same KVM, kernel,
initramfs, test disk, memory and vCPUs.

In each boot the guest (tests/guest/net-tool.c) runs three measurements against servers on the host's
loopback, reached through slirp's host alias 10.0.2.2: guest->host TCP throughput (it writes for SECONDS,
the host counts), host->guest TCP throughput (the host writes for SECONDS), and connection setup latency (N
connections one after another, each until the server's first byte). Both VMMs' guests open the connections,
so both go through the same slirp TCP path (a host-initiated connection would need QEMU's hostfwd and lsl's
port forwarding, which is not slirp's). Boots alternate between the VMMs so a slow spell of the emulated
machine weighs on both; the table shows medians over the runs, the spread and the lsl/QEMU ratio.
A third row, lsl with the guest's MTU at 1500 (what QEMU's user network has), shows what the large MTU buys.
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

PORT_SINK, PORT_SOURCE, PORT_GREET = 5201, 5202, 5203


def serve(port, handler):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(64)

    def loop():
        while True:
            c, _ = ls.accept()
            threading.Thread(target=handler, args=(c,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()


def sink(c):
    """guest->host: counts until EOF, answers with the count."""
    n = 0
    buf = bytearray(1 << 20)
    while True:
        r = c.recv_into(buf)
        if not r:
            break
        n += r
    c.sendall(b"%d\n" % n)
    c.close()


def make_source(seconds):
    data = memoryview(b"y" * (1 << 20))

    def source(c):
        """host->guest: writes for `seconds`, then closes."""
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < seconds:
                c.sendall(data)
        except OSError:
            pass
        c.close()

    return source


def greet(c):
    c.sendall(b"!")
    c.close()


def hexcmd(argv):
    return "".join(a.encode().hex() + "00" for a in argv)


def run_guest(cmd, timeout):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                       timeout=timeout)
    out = p.stdout.decode(errors="replace")
    res = {}
    m = re.search(r"^send \d+ bytes [\d.]+ s ([\d.]+) MB/s", out, re.M)
    if m:
        res["g2h"] = float(m.group(1))
    m = re.search(r"^recv \d+ bytes [\d.]+ s ([\d.]+) MB/s", out, re.M)
    if m:
        res["h2g"] = float(m.group(1))
    m = re.search(r"^connect \d+ p50 ([\d.]+) ms p95 ([\d.]+) ms", out, re.M)
    if m:
        res["conn50"], res["conn95"] = float(m.group(1)), float(m.group(2))
    if len(res) != 4:
        raise RuntimeError(f"guest did not report all measurements (exit {p.returncode}):\n{out[-3000:]}")
    stats = [l for l in out.splitlines() if l.startswith("lsl-vmm: virtio-net")]
    return res, stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmm", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--disk", required=True, help="test root with /bin/net-tool")
    ap.add_argument("--memory", type=int, default=512, help="MiB")
    ap.add_argument("--cpus", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--connections", type=int, default=50)
    a = ap.parse_args()

    subprocess.run(["ip", "link", "set", "lo", "up"], check=False)
    serve(PORT_SINK, sink)
    serve(PORT_SOURCE, make_source(a.seconds))
    serve(PORT_GREET, greet)

    gw = "10.0.2.2"
    script = (f"net-tool send {gw} {PORT_SINK} {a.seconds} && net-tool recv {gw} {PORT_SOURCE} && "
              f"net-tool connect {gw} {PORT_GREET} {a.connections}")
    base = "console=ttyS0 quiet panic=-1"
    lsl = [a.vmm, "--kernel", a.kernel, "--initrd", a.initrd, "--memory", f"{a.memory}M", "--cpus", str(a.cpus),
           "--disk", f"{a.disk},ro", "--root", "/dev/vda", "--net", "--console", "--stats", "--",
           "/bin/sh", "-c", script]
    lsl1500 = lsl[:-1] + ["ip link set eth0 mtu 1500 && " + script]
    qemu_bin = shutil.which("qemu-system-x86_64")
    append = f"{base} lsl.root=/dev/vda lsl.rootflags=ro lsl.cmd={hexcmd(['/bin/sh', '-c', script])}"
    qemu = [qemu_bin, "-M", "microvm,x-option-roms=off,rtc=off", "-accel", "kvm", "-cpu", "host",
            "-m", str(a.memory), "-smp", str(a.cpus), "-nodefaults", "-no-user-config", "-display", "none",
            "-serial", "stdio", "-no-reboot", "-device", "virtio-rng-device",
            "-drive", f"id=d0,file={a.disk},format=raw,if=none,readonly=on", "-device", "virtio-blk-device,drive=d0",
            "-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0",
            "-kernel", a.kernel, "-initrd", a.initrd, "-append", append]
    vmms = (("lsl-vmm", lsl), ("qemu -netdev user", qemu), ("lsl-vmm, guest MTU 1500", lsl1500))
    results = {name: [] for name, _ in vmms}
    timeout = 3 * a.seconds + a.connections * 2 + 240
    for i in range(a.runs):
        for name, cmd in vmms:
            res, stats = run_guest(cmd, timeout)
            results[name].append(res)
            print(f"  run {i + 1} {name}: {res}", file=sys.stderr)
            for line in stats:
                print(f"    {line}", file=sys.stderr)

    print(f"Network benchmark: {a.runs} boots each, {a.memory} MiB, {a.cpus} vCPU, same kernel/initramfs/disk/KVM;")
    print(f"TCP for {a.seconds:g} s each way and {a.connections} connections, guest to the host's loopback via 10.0.2.2")
    qv = subprocess.run([qemu_bin, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"peer: {qv} -M microvm, virtio-net-device, -netdev user (libslirp, MTU 1500)")
    print()
    cols = [name for name, _ in vmms]
    print(f"{'metric':<30}" + "".join(f"{c + ' median (min-max)':<36}" for c in cols) + f"{'lsl/qemu':>9}")
    metrics = (("guest->host TCP", "g2h", "MB/s", True), ("host->guest TCP", "h2g", "MB/s", True),
               ("connection setup p50", "conn50", "ms", False), ("connection setup p95", "conn95", "ms", False))
    for label, key, unit, higher in metrics:
        row = f"{label:<30}"
        meds = {}
        for c in cols:
            v = [r[key] for r in results[c]]
            meds[c] = statistics.median(v)
            row += f"{f'{meds[c]:.1f} {unit} ({min(v):.1f}-{max(v):.1f})':<36}"
        q = meds["qemu -netdev user"]
        ratio = (meds["lsl-vmm"] / q if higher else q / meds["lsl-vmm"]) if q and meds["lsl-vmm"] else float("nan")
        print(row + f"{ratio:8.2f}x")
    print("(lsl/qemu: how many times better lsl is: throughput ratio, or QEMU's latency over lsl's)")


if __name__ == "__main__":
    main()
