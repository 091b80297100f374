#!/usr/bin/env python3
"""Session benchmark: `lsl -e CMD` against ssh into the same guest, in one run on one VM.

Builds a root image (guest/mkdisk.sh) holding vsock-tool, Debian's dropbear with its shared libraries, a fresh
host key and a fresh client key, imports it as the default distribution and runs lsl's service with private
runtime, state and config directories (the user's own VM and distributions are never touched). Measures:
  cold `lsl -e true`: the VM stopped (`lsl --shutdown`) before each run, so it includes the boot;
  warm `lsl -e true`, and `ssh guest true` with OpenSSH against `dropbear -i`, which the guest's
    `vsock-tool listen-exec -u 22` starts per connection (no guest network device: ssh's ProxyCommand is
    bench/vsock-proxy, connecting through the VMM's hybrid-vsock socket);
  stdin -> stdout throughput of `cat` through each, MB in and the same MB out;
  the same bytes through raw vsock (bench/vsock-proxy to `vsock-tool listen`, an echo server in the guest:
    the floor under every session, with no agent, no framing and no pipes) and through a host unix socket
    pair into `cat` (what the host alone does), with the vsock device's kicks and interrupts per MiB moved
    (lsl-vmm's counters in the service log, LSL_VMM_STATS=1);
  interop, the other way: warm `lsl -e lsl-host true` (a host command from the guest), and what it adds to
    `lsl -e true`, against the host's own spawn of /bin/true.
Prints medians, p99 (the max below 100 runs) and the lsl/ssh ratios, with the harness's own cost of starting
a process (/bin/true) for scale. lsl, its VMM and the proxy run from copies in a scratch directory (local_build).
"""
import argparse
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

import lslenv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SSH_PORT = 22
ECHO_PORT = 7001


def tail(values):
    """p99 by nearest rank; below 100 runs that is the max, and the label says so."""
    s = sorted(values)
    return s[max(0, -(-99 * len(s) // 100) - 1)], ("p99" if len(s) >= 100 else "max")


def shared_libs(prog):
    """The files `ldd PROG` resolves, the loader included."""
    out = subprocess.run(["ldd", prog], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) > parts.index("=>") + 1 and parts[parts.index("=>") + 1].startswith("/"):
            libs.append(parts[parts.index("=>") + 1])
        elif parts and parts[0].startswith("/"):
            libs.append(parts[0])
    return libs


def local_build(work, lsl, proxy, env):
    """Copies of the binaries under test and what lsl starts, in WORK, and ENV pointing lsl at them. Inside
    the emulated KVM host the project tree is an uncached 9p share that is read again on every exec (about
    60 ms for lsl's 1.3 MB, none for ssh from the cached root): from a local file system, as on a user's
    machine, the two start on equal terms. Returns the paths of lsl's and the proxy's copies."""
    build = os.path.dirname(os.path.dirname(os.path.abspath(lsl)))
    copies = {
        "lsl": (lsl, None),
        "lsl-vmm": (env.get("LSL_VMM") or os.path.join(build, "vmm", "lsl-vmm"), "LSL_VMM"),
        "initramfs.cpio": (env.get("LSL_INITRD") or os.path.join(build, "guest", "initramfs.cpio"), "LSL_INITRD"),
        "system.img": (os.path.join(build, "guest", "system.img"), "LSL_ROOTFS"),
        "lsl-interop": (env.get("LSL_INTEROP") or os.path.join(build, "cli", "lsl-interop"), "LSL_INTEROP"),
        "vsock-proxy": (proxy, None),
    }
    bindir = os.path.join(work, "bin")
    os.makedirs(bindir)
    for name, (src, var) in copies.items():
        subprocess.run(["cp", "--sparse=always", src, os.path.join(bindir, name)], check=True)
        if var:
            env[var] = os.path.join(bindir, name)
    return os.path.join(bindir, "lsl"), os.path.join(bindir, "vsock-proxy")


def build_image(work, vsock_tool, dropbear):
    """The bench root image and the client's private key, both fresh in WORK."""
    keys = os.path.join(work, "keys")
    os.makedirs(keys)
    hostkey, client = os.path.join(keys, "hostkey"), os.path.join(keys, "id")
    subprocess.run(["dropbearkey", "-t", "ed25519", "-f", hostkey], check=True, capture_output=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lsl-bench", "-f", client], check=True)
    auth = os.path.join(keys, "authorized_keys")
    shutil.copy(client + ".pub", auth)
    shells = os.path.join(keys, "shells")
    with open(shells, "w") as f:
        f.write("/bin/sh\n")
    for path, mode in ((hostkey, 0o600), (auth, 0o600), (shells, 0o644)):
        os.chmod(path, mode)
    files = [vsock_tool, f"{dropbear}=/usr/sbin/dropbear", f"{hostkey}=/etc/dropbear/key",
             f"{auth}=/root/.ssh/authorized_keys", f"{shells}=/etc/shells"]
    files += [f"{lib}={lib}" for lib in shared_libs(dropbear)]
    image = os.path.join(work, "root.img")
    subprocess.run(["bash", os.path.join(ROOT, "guest", "mkdisk.sh"), image, "96"] + files, check=True)
    return image, client


def run_group(cmd, env, timeout):
    """Runs CMD in a process group of its own, so that a timeout kills its helpers too (ssh's ProxyCommand
    keeps the stderr pipe open otherwise). Returns (returncode, stderr bytes)."""
    p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        _, err = p.communicate()
        raise RuntimeError(f"{shlex.join(cmd)}: no answer in {timeout} s: {err.decode(errors='replace')[-2000:]}")
    return p.returncode, err


def timed(cmd, env, timeout):
    t0 = time.monotonic()
    rc, err = run_group(cmd, env, timeout)
    dt = time.monotonic() - t0
    if rc != 0:
        raise RuntimeError(f"{shlex.join(cmd)}: exit {rc}: {err.decode(errors='replace')[-500:]}")
    return dt


def throughput(cmd, env, data, timeout, quiet=False):
    """MB/s of DATA through CMD's stdin and back out of its stdout (checked to be the same bytes). QUIET: None
    instead of an error."""
    p = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = []
    threading.Thread(target=lambda: err.append(p.stderr.read()), daemon=True).start()

    def feed():
        try:
            view = memoryview(data)
            for off in range(0, len(data), 1 << 20):
                p.stdin.write(view[off:off + (1 << 20)])
            p.stdin.close()
        except BrokenPipeError:
            pass

    t0 = time.monotonic()
    threading.Thread(target=feed, daemon=True).start()
    fd = p.stdout.fileno()
    chunks = []
    got = 0
    while True:
        if time.monotonic() - t0 > timeout:
            p.kill()
            raise RuntimeError(f"timeout after {timeout}s: {shlex.join(cmd)}")
        c = os.read(fd, 1 << 20)
        if not c:
            break
        chunks.append(c)
        got += len(c)
    rc = p.wait(timeout=timeout)
    dt = time.monotonic() - t0
    if rc != 0 or got != len(data) or b"".join(chunks) != data:
        if quiet:
            return None
        time.sleep(0.1)
        raise RuntimeError(f"{shlex.join(cmd)}: exit {rc}, {got} of {len(data)} bytes back"
                           f"{' (different)' if got == len(data) else ''}: {b''.join(err).decode(errors='replace')[-500:]}")
    return len(data) / 1e6 / dt


def socketpair_throughput(data, timeout):
    """MB/s of DATA through a unix socket pair into `cat` and back: the host's own floor."""
    a, b = socket.socketpair()
    p = subprocess.Popen(["cat"], stdin=b, stdout=b)
    b.close()

    def feed():
        a.sendall(data)
        a.shutdown(socket.SHUT_WR)

    t0 = time.monotonic()
    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    got = bytearray()
    a.settimeout(timeout)
    while len(got) < len(data):
        c = a.recv(1 << 20)
        if not c:
            break
        got += c
    dt = time.monotonic() - t0
    feeder.join(timeout)  # its shutdown() may come after the last byte is back
    a.close()
    p.wait(timeout=timeout)
    if bytes(got) != data:
        raise RuntimeError(f"socket pair: {len(got)} of {len(data)} bytes back")
    return len(data) / 1e6 / dt


def vsock_stats(log):
    """Every (kicks, interrupts, bytes in + out) of the vsock device in the service log, oldest first."""
    try:
        with open(log, errors="replace") as f:
            text = f.read()
    except OSError:
        return []
    found = re.findall(r"^lsl-vmm: virtio-vsock +#\d+ kicks (\d+) irqs (\d+) reqs \d+ in (\d+) B out (\d+) B", text,
                       re.M)
    return [(int(k), int(i), int(bi) + int(bo)) for k, i, bi, bo in found]


def stop_counters(lsl, env, log, timeout):
    """Stops the VM and returns the vsock counters its service logged on the way out (None if it did not)."""
    seen = len(vsock_stats(log))
    timed([lsl, "--shutdown"], env, timeout)
    deadline = time.monotonic() + 10  # the service writes them as it exits, after the VM stopped
    while time.monotonic() < deadline:
        stats = vsock_stats(log)
        if len(stats) > seen:
            return stats[-1]
        time.sleep(0.1)
    return None


def vsock_banner(sock_path, port, timeout):
    """True when the guest's PORT answers the VMM's CONNECT handshake and sends an ssh banner."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(sock_path)
            s.sendall(f"CONNECT {port}\n".encode())
            buf = b""
            while b"SSH-" not in buf and len(buf) < 4096:
                c = s.recv(4096)
                if not c:
                    return False
                buf += c
            return buf.startswith(b"OK ")
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lsl", default=os.path.join(ROOT, "build", "cli", "lsl"))
    ap.add_argument("--vsock-tool", default=os.path.join(ROOT, "build", "tests", "vsock-tool"))
    ap.add_argument("--proxy", required=True, help="built bench/vsock-proxy.c")
    ap.add_argument("--kernel", default=os.environ.get("LSL_KERNEL"))
    ap.add_argument("--dropbear", default="/usr/sbin/dropbear")
    ap.add_argument("--ssh", default="/usr/bin/ssh")
    ap.add_argument("--cold-runs", type=int, default=5)
    ap.add_argument("--warm-runs", type=int, default=50)
    ap.add_argument("--mb", type=int, default=int(os.environ.get("LSL_BENCH_MB", "64")), help="MiB through cat")
    ap.add_argument("--timeout", type=float, default=300)
    a = ap.parse_args()
    for need in (a.lsl, a.vsock_tool, a.proxy, a.dropbear, a.ssh):
        if not os.access(need, os.X_OK):
            sys.exit(f"sessionbench: {need} not found (dropbear: apt-get install dropbear-bin; see scripts/deps.sh)")

    work, env = lslenv.scratch("lsl-sb.")
    env["LSL_VMM_STATS"] = "1"  # the service's device counters in its log at each stop
    if a.kernel:
        env["LSL_KERNEL"] = a.kernel
    try:
        a.lsl, a.proxy = local_build(work, a.lsl, a.proxy, env)
        lsl = [a.lsl, "-e"]  # exec, no shell in between: the session itself is measured
        image, client_key = build_image(work, a.vsock_tool, a.dropbear)
        # The bench disk becomes the default distribution: `lsl -e` and ssh reach the same processes' world.
        subprocess.run([a.lsl, "--import", "bench", os.path.join(work, "distro"), image, "--vhd"], env=env,
                       check=True)
        print(f"  image built ({os.path.getsize(image) >> 20} MiB) and imported", file=sys.stderr)
        timed(lsl + ["true"], env, a.timeout)  # disk copy and page cache warm-up; not counted

        cold = []
        for _ in range(a.cold_runs):
            timed([a.lsl, "--shutdown"], env, a.timeout)
            cold.append(timed(lsl + ["true"], env, a.timeout))
        print(f"  cold lsl: {a.cold_runs} runs done", file=sys.stderr)

        # The ssh server side: a session of its own that lasts the whole run (a command backgrounded inside a
        # session would be killed with the session's process group when it returns).
        server = subprocess.Popen(lsl + ["vsock-tool", "listen-exec", "-u", str(SSH_PORT), "/usr/sbin/dropbear",
                                         "-i", "-s", "-j", "-k", "-r", "/etc/dropbear/key"],
                                  env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        vsock = os.path.join(env["XDG_RUNTIME_DIR"], "lsl", "vsock")
        deadline = time.monotonic() + 30
        while not vsock_banner(vsock, SSH_PORT, 10):
            if time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"dropbear does not answer on guest vsock port {SSH_PORT}: "
                                   f"{server.communicate()[1].decode(errors='replace')[-1500:]}")
            time.sleep(0.2)
        ssh = [a.ssh, "-F", "/dev/null", "-T", "-i", client_key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
               "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
               "-o", f"ProxyCommand={shlex.quote(a.proxy)} {shlex.quote(vsock)} {SSH_PORT}", "root@lsl-guest"]
        # First connection, also warming dropbear and its libraries into the page cache; -v tells where it stops.
        rc, err = run_group(ssh[:1] + ["-v"] + ssh[1:] + ["true"], env, 60)
        if rc != 0:
            raise RuntimeError(f"ssh into the guest failed (exit {rc}):\n{err.decode(errors='replace')[-3000:]}")

        warm = {"spawn": [timed(["/bin/true"], env, a.timeout) for _ in range(a.warm_runs)],
                # Each client's own start, no connection: how much of a round trip is just exec and loading.
                "lsl start": [timed([a.lsl, "--version"], env, a.timeout) for _ in range(a.warm_runs)],
                "ssh start": [timed([a.ssh, "-V"], env, a.timeout) for _ in range(a.warm_runs)]}
        # Interleaved, so that a slow spell of the (emulated) machine weighs on both columns alike.
        warm["lsl"], warm["ssh"], warm["interop"] = [], [], []
        for _ in range(a.warm_runs):
            for name, cmd in (("lsl", lsl), ("ssh", ssh), ("interop", lsl + ["lsl-host"])):
                warm[name].append(timed(cmd + ["true"], env, a.timeout))
        print(f"  warm lsl and ssh: {a.warm_runs} runs each, interleaved", file=sys.stderr)
        data = os.urandom(a.mb << 20)
        tput = {"lsl": [], "ssh": [], "raw vsock": [], "socket pair": []}
        per_mib = {}

        def runs(name, fn):
            for _ in range(3):
                try:
                    tput[name].append(fn())
                except RuntimeError as e:  # reported in the table, the other numbers stand
                    print(f"  {name} failed: {e}", file=sys.stderr)
            print(f"  {name}: {len(tput[name])} of 3 runs done", file=sys.stderr)

        runs("ssh", lambda: throughput(ssh + ["cat"], env, data, a.timeout))
        server.kill()
        server.wait()
        # Each of the two vsock streams on a boot of its own, so that the device's counters at the service's
        # stop are that stream's (and a session's own few frames).
        log = os.path.join(env["XDG_STATE_HOME"], "lsl", "service.log")
        timed([a.lsl, "--shutdown"], env, a.timeout)
        runs("lsl", lambda: throughput(lsl + ["cat"], env, data, a.timeout))
        per_mib["lsl"] = stop_counters(a.lsl, env, log, a.timeout)
        echo = subprocess.Popen(lsl + ["vsock-tool", "listen", str(ECHO_PORT)], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while throughput([a.proxy, vsock, str(ECHO_PORT)], env, b"ready", 10, quiet=True) is None:
            if time.monotonic() > deadline:
                echo.kill()
                raise RuntimeError(f"no echo on guest vsock port {ECHO_PORT}: "
                                   f"{echo.communicate()[1].decode(errors='replace')[-1500:]}")
            time.sleep(0.2)
        runs("raw vsock", lambda: throughput([a.proxy, vsock, str(ECHO_PORT)], env, data, a.timeout))
        echo.kill()
        echo.wait()
        per_mib["raw vsock"] = stop_counters(a.lsl, env, log, a.timeout)
        runs("socket pair", lambda: socketpair_throughput(data, a.timeout))
    finally:
        subprocess.run([a.lsl, "--shutdown"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=a.timeout)
        shutil.rmtree(work, ignore_errors=True)

    ssh_version = subprocess.run([a.ssh, "-V"], capture_output=True, text=True).stderr.strip()
    where = ("inside the emulated KVM host (QEMU TCG; absolute times ~10x slower than hardware KVM)"
             if os.environ.get("LSL_IN_VMHOST") == "1" else "on this machine's KVM")
    print(f"Session benchmark: lsl against ssh into the same guest, one VM, {where}")
    print(f"kernel {env.get('LSL_KERNEL', '(lsl default)')}; VM {env.get('LSL_VM_CPUS', '2')} vCPU, "
          f"{env.get('LSL_VM_MEMORY', '2G')}")
    print(f"peer: {ssh_version} -> dropbear -i (Debian dropbear-bin) over vsock port {SSH_PORT} "
          "(ProxyCommand bench/vsock-proxy)")
    print()
    print(f"{'metric':<34} {'lsl':<26} {'ssh':<26} {'lsl/ssh':>8} {'ssh/lsl':>8}")
    c_med = statistics.median(cold)
    c_tail, c_lbl = tail(cold)
    print(f"{f'cold lsl -e true ({len(cold)} runs)':<34} {f'{c_med * 1000:8.1f} ms ({c_lbl} {c_tail * 1000:.1f})':<26} "
          f"{'-':<26} {'-':>8} {'-':>8}")
    spawn = f"{statistics.median(warm['spawn']) * 1000:8.1f} ms"
    print(f"{'harness: spawn /bin/true, median':<34} {spawn:<26} {'(in both columns)':<26} {'-':>8} {'-':>8}")
    ls, ss = statistics.median(warm["lsl start"]), statistics.median(warm["ssh start"])
    print(f"{'client start (--version, -V)':<34} {f'{ls * 1000:8.1f} ms':<26} {f'{ss * 1000:8.1f} ms':<26} "
          f"{ls / ss:8.3f} {ss / ls:8.1f}")
    for stat in ("median", "tail"):
        l = warm["lsl"]
        s = warm["ssh"]
        if stat == "median":
            lv, sv, lbl = statistics.median(l), statistics.median(s), "median"
        else:
            (lv, lbl), (sv, _) = tail(l), tail(s)
        label = f"warm true, {lbl} ({len(l)} runs)"
        print(f"{label:<34} {f'{lv * 1000:8.1f} ms':<26} {f'{sv * 1000:8.1f} ms':<26} {lv / sv:8.3f} {sv / lv:8.1f}")
    # Interop, the other way: a host command from the guest (lsl-host -> the service -> lsl-interop), on top of
    # the session that runs lsl-host; its own cost against the host's plain fork and exec of /bin/true.
    iv, lv = statistics.median(warm["interop"]), statistics.median(warm["lsl"])
    host_spawn = f"host spawn {statistics.median(warm['spawn']) * 1000:.1f} ms"
    print(f"{'lsl -e lsl-host true, median':<34} {f'{iv * 1000:8.1f} ms':<26} {'-':<26} {'-':>8} {'-':>8}")
    print(f"{'  of which the host command':<34} {f'{(iv - lv) * 1000:8.1f} ms':<26} {host_spawn:<26} {'-':>8} {'-':>8}")
    if tput["lsl"] and tput["ssh"]:
        lt, st = statistics.median(tput["lsl"]), statistics.median(tput["ssh"])
        label = f"cat {a.mb} MiB in+out, median of {min(len(tput['lsl']), len(tput['ssh']))}"
        print(f"{label:<34} {f'{lt:8.1f} MB/s':<26} {f'{st:8.1f} MB/s':<26} {lt / st:8.2f} {st / lt:8.2f}")
    else:
        print(f"{'cat ' + str(a.mb) + ' MiB in+out':<34} failed (see above)")
    print()
    print(f"Streams: {a.mb} MiB in and the same out, medians of 3 (min-max); vsock kicks and interrupts per MiB the "
          "device moved, over that boot")
    print(f"{'path':<40} {'MB/s':<24} {'kicks/MiB':>10} {'irqs/MiB':>10} {'of raw vsock':>13}")
    raw = statistics.median(tput["raw vsock"]) if tput["raw vsock"] else None
    for name, label in (("lsl", "lsl -e cat (session)"), ("raw vsock", "raw vsock: vsock-proxy <-> echo server"),
                        ("socket pair", "host unix socket pair <-> cat")):
        v = tput[name]
        if not v:
            print(f"{label:<40} failed (see above)")
            continue
        m = statistics.median(v)
        c = per_mib.get(name)
        k, q = (f"{c[0] / (c[2] / (1 << 20)):10.1f}", f"{c[1] / (c[2] / (1 << 20)):10.1f}") if c and c[2] else ("-", "-")
        ratio = f"{m / raw:12.2f}x" if raw else "-"
        print(f"{label:<40} {f'{m:8.1f} ({min(v):.1f}-{max(v):.1f})':<24} {k:>10} {q:>10} {ratio:>13}")
    if raw and tput["lsl"]:
        share = statistics.median(tput["lsl"]) / raw
        print(f"acceptance (session stream >= 80 % of raw vsock): {share * 100:.0f} % -> "
              f"{'PASS' if share >= 0.8 else 'FAIL'}")
    speedup = statistics.median(warm["ssh"]) / statistics.median(warm["lsl"])
    print()
    print(f"acceptance (warm `lsl -e true` at least 10x faster than ssh, medians): {speedup:.1f}x -> "
          f"{'PASS' if speedup >= 10 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
