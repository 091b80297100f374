#!/usr/bin/env python3
"""Memory benchmark (issue 15): how fast memory the guest frees comes back to the host.

lsl-vmm (virtio-balloon free page reporting, vmm/devices/balloon.c) against QEMU microvm with
virtio-balloon-device,free-page-reporting=on, same kernel, initramfs, root disk, memory and vCPUs. In each
guest: 2 GiB written to a tmpfs, then removed. Sampled on the host: the VMM process's RSS (guest RAM
included) idle after boot, with the 2 GiB in use, and after the rm; the time until RSS is back within 64 MiB
of idle (the issue's acceptance bound) and RSS 5 s after the rm. Medians of N runs.

With --build-disk (bench/membench-prep.sh): a build in each guest, gcc -O2 compiling lsl-init's sources from
a read-only disk: RSS idle, at its peak during the build, when it ends and 60 s later, the build's time, and
the host CPU the idle VM takes over the last IDLE_S of those 60 s (all its threads, vCPUs included);
lsl-vmm once with each autoMemoryReclaim policy (lsl.reclaim=, guest/init/reclaim.c), QEMU without one (what
a guest without lsl-init's policy keeps). What a policy costs a build is its time against disabled.
"""
import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import time

GUEST = ("mount -t tmpfs -o size={tmp}M t /mnt && echo mem-base && sleep 10 && "
         "dd if=/dev/zero of=/mnt/f bs=1M count={mib} 2>/dev/null && echo mem-full && sleep 6 && "
         "rm /mnt/f && echo mem-freed && sleep 600")

BUILD = ("mount -t tmpfs -o size=256M t /mnt && echo mem-base && sleep 10 && echo build-start && cd /src && "
         "for f in guest/*/*.c proto/*.c util/io.c util/unix_socket.c; do TMPDIR=/mnt gcc -std=gnu17 -D_GNU_SOURCE "
         "-O2 -pipe -nostdinc -B{gccinc}/../ -isystem {gccinc} -isystem /usr/include/x86_64-linux-musl -Iproto -Iutil "
         "-Iguest/init -Iguest/agent -Iguest/distro -c $f -o /mnt/${{f##*/}}.o || exit 1; done && echo build-done && "
         "sleep 600")
BUILD_AFTER_S = 60  # past gradual's full drop after 30 s idle, and its reporting
IDLE_S = 20  # the idle VM's host CPU is measured over the last this many seconds of those


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_ns(pid):
    """CPU time of all of pid's threads so far (schedstat: guest mode included), in ns."""
    total = 0
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                    total += int(f.read().split()[0])
    except OSError:
        pass
    return total


def wait_for(log, marker, p, deadline):
    while time.time() < deadline:
        try:
            with open(log, "rb") as f:
                if marker in f.read():
                    return True
        except OSError:
            pass
        if p.poll() is not None:
            return False
        time.sleep(0.05)
    return False


@contextlib.contextmanager
def guest(cmd, log, timeout):
    """The VMM started on cmd, once its guest is up and settled: (process, deadline, idle RSS in KiB)."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        end = time.time() + timeout
        if not wait_for(log, b"mem-base", p, end):
            raise RuntimeError("the guest never started: " + " ".join(cmd[:2]))
        time.sleep(6)
        yield p, end, rss_kib(p.pid)
    finally:
        p.kill()
        p.wait()


def run_once(cmd, log, timeout):
    with guest(cmd, log, timeout) as (p, end, base):
        if not wait_for(log, b"mem-full", p, end):
            raise RuntimeError("the guest never filled its tmpfs")
        time.sleep(2)
        full = rss_kib(p.pid)
        if not wait_for(log, b"mem-freed", p, end):
            raise RuntimeError("the guest never freed its tmpfs")
        t0 = time.time()
        back, at5 = None, None
        while time.time() - t0 < 60:
            now = rss_kib(p.pid)
            if back is None and now <= base + 65536:
                back = time.time() - t0
            if at5 is None and time.time() - t0 >= 5:
                at5 = now
            if back is not None and at5 is not None:
                break
            time.sleep(0.05)
        return base, full, at5 if at5 is not None else rss_kib(p.pid), back


def marker_times(log, markers, p, deadline):
    """Host times at which each marker showed up in the console log, polled every 50 ms; the RSS peak
    between the first and the last."""
    seen, peak = {}, 0
    while len(seen) < len(markers) and time.time() < deadline and p.poll() is None:
        try:
            with open(log, "rb") as f:
                text = f.read()
        except OSError:
            text = b""
        for m in markers:
            if m not in seen and m in text:
                seen[m] = time.time()
        if markers[0] in seen:
            peak = max(peak, rss_kib(p.pid))
        time.sleep(0.05)
    if len(seen) < len(markers):
        raise RuntimeError("the guest build did not finish: " + ", ".join(m.decode() for m in markers if m not in seen))
    return seen, peak


def build_once(cmd, log, timeout):
    with guest(cmd, log, timeout) as (p, end, base):
        seen, peak = marker_times(log, [b"build-start", b"build-done"], p, end)
        done = rss_kib(p.pid)
        time.sleep(BUILD_AFTER_S - IDLE_S)
        c0, t0 = cpu_ns(p.pid), time.monotonic()
        time.sleep(IDLE_S)
        idle = (cpu_ns(p.pid) - c0) / 1e6 / (time.monotonic() - t0)  # per mille of one CPU
        return base, peak, done, rss_kib(p.pid), seen[b"build-done"] - seen[b"build-start"], idle


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmm", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--disk", required=True)
    ap.add_argument("--memory", type=int, default=3072, help="MiB")
    ap.add_argument("--mib", type=int, default=2048, help="what the guest takes and frees")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--work", default="/tmp/lsl-membench")
    ap.add_argument("--build-disk", help="bench/membench-prep.sh's image: adds the build workload")
    ap.add_argument("--build-runs", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    script = GUEST.format(tmp=a.mib + 64, mib=a.mib)
    qemu_bin = shutil.which("qemu-system-x86_64")

    def command(name, script, log, disk, reclaim=None):
        if name == "lsl-vmm":
            return [a.vmm, "--kernel", a.kernel, "--initrd", a.initrd, "--memory", f"{a.memory}M", "--cpus", "1",
                    "--disk", disk + ",ro", "--root", "/dev/vda", "--console-log", log] + \
                (["--append", "lsl.reclaim=" + reclaim] if reclaim else []) + ["--", "/bin/sh", "-c", script]
        hexcmd = "".join(s.encode().hex() + "00" for s in ["/bin/sh", "-c", script])
        append = f"console=ttyS0 quiet panic=-1 lsl.root=/dev/vda lsl.rootflags=ro lsl.cmd={hexcmd}"
        return [qemu_bin, "-M", "microvm", "-accel", "kvm", "-cpu", "host", "-m", str(a.memory),
                "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                "-serial", "file:" + log, "-kernel", a.kernel, "-initrd", a.initrd, "-append", append,
                "-drive", f"id=root,file={disk},format=raw,if=none,readonly=on",
                "-device", "virtio-blk-device,drive=root",
                "-device", "virtio-balloon-device,free-page-reporting=on"]

    def fresh_log(tag):
        log = os.path.join(a.work, tag + ".log")
        if os.path.exists(log):
            os.unlink(log)
        return log

    results = {}
    for name in ("lsl-vmm", "qemu"):
        rows = []
        for i in range(a.runs):
            log = fresh_log(f"{name}-{i}")
            rows.append(run_once(command(name, script, log, a.disk), log, a.timeout))
            print(f"  {name} run {i + 1}: {rows[-1]}", file=sys.stderr)
        results[name] = rows
    builds = {}
    if a.build_disk:
        gccinc = subprocess.run(["gcc", "-print-file-name=include"], capture_output=True, text=True).stdout.strip()
        bscript = BUILD.format(gccinc=gccinc)
        for name, reclaim in (("lsl-vmm", "gradual"), ("lsl-vmm", "dropcache"), ("lsl-vmm", "disabled"),
                              ("qemu", None)):
            rows = []
            for i in range(a.build_runs):
                log = fresh_log(f"build-{name}-{reclaim}-{i}")
                rows.append(build_once(command(name, bscript, log, a.build_disk, reclaim), log, a.timeout))
                print(f"  build {name} {reclaim or ''} run {i + 1}: {rows[-1]}", file=sys.stderr)
            builds[f"{name} {reclaim}" if reclaim else name] = rows

    print(f"Memory benchmark: the guest writes {a.mib} MiB to a tmpfs and removes it; {a.memory} MiB, 1 vCPU guests, "
          f"same kernel, medians of {a.runs}")
    print(f"peer: {subprocess.run([qemu_bin, '--version'], capture_output=True, text=True).stdout.splitlines()[0]}"
          " -M microvm, virtio-balloon-device,free-page-reporting=on")
    print()
    print(f"{'metric':<44} {'lsl-vmm':>12} {'qemu':>12} {'lsl/qemu':>9}")
    labels = ("RSS idle after boot (MiB)", f"RSS with {a.mib} MiB in use (MiB)", "RSS 5 s after the guest freed it (MiB)",
              "time until within 64 MiB of idle (s)")
    for i, label in enumerate(labels):
        l = med([r[i] for r in results["lsl-vmm"]])
        q = med([r[i] for r in results["qemu"]])
        scale = 1 / 1024 if i < 3 else 1.0
        fmt = lambda v: "never" if v is None else (f"{v * scale:.0f}" if i < 3 else f"{v:.2f}")
        ratio = f"{l / q:.2f}" if l is not None and q else "-"
        print(f"{label:<44} {fmt(l):>12} {fmt(q):>12} {ratio:>9}")
    never = sum(1 for r in results["lsl-vmm"] if r[3] is None)
    if never:
        print(f"(lsl-vmm: {never} of {a.runs} runs not back within 64 MiB in 60 s)")
    if not builds:
        return
    print()
    print(f"Build: gcc -O2 -c of lsl-init's sources (read-only disk, objects to a tmpfs); lsl-vmm with each "
          f"autoMemoryReclaim policy, QEMU without one; medians of {a.build_runs}")
    names = list(builds)
    print(f"{'metric':<36}" + "".join(f"{n:>20}" for n in names))
    labels = ("RSS idle after boot (MiB)", "RSS peak during the build (MiB)", "RSS when the build ends (MiB)",
              f"RSS {BUILD_AFTER_S} s after it (MiB)", "build time (s)",
              f"idle host CPU, last {IDLE_S} s (per mille)")
    for i, label in enumerate(labels):
        cells = [med([r[i] for r in builds[n]]) for n in names]
        print(f"{label:<36}" + "".join(f"{(c / 1024 if i < 4 else c):>20.{0 if i < 4 else 1}f}" for c in cells))
    off = med([r[4] for r in builds["lsl-vmm disabled"]])
    for n in ("lsl-vmm gradual", "lsl-vmm dropcache"):
        print(f"{n}: build time {med([r[4] for r in builds[n]]) / off:.2f}x disabled's")


if __name__ == "__main__":
    main()
