#!/usr/bin/env python3
"""Localhost forwarding benchmark (issue 13): how soon a guest listener is reachable on the host, what a
forwarded connection costs to set up, and what forwarding costs an idle VM.

lsl's service runs with private state; the test root with net-tool (tests/guest/net-tool.c) is imported as
the default distribution. Measured:
  listen->forward  a guest echo server is started by a session (`lsl -e net-tool echo tcp 127.0.0.1 PORT`,
                   a new port each run); from the moment its "listening" line reaches the host until an echo
                   through 127.0.0.1:PORT on the host works (connect attempts every 2 ms). The line itself
                   travels the session's stdout, so the time is, if anything, short by that hop.
  setup            one forwarded connection after another to a listening guest server: connect, one byte
                   echoed, close; beside it the same against an echo server on the host's own loopback (the
                   floor any forward sits on).
  idle CPU         the service's CPU time (VMM with its vCPU threads) over IDLE seconds with no session,
                   forwarding on and then, after a restart, localhostForwarding=false.
Prints p50/p95 for the latencies and CPU percent for idle.
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

import lslenv


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def echo_once(addr, port, timeout=5):
    s = socket.create_connection((addr, port), timeout=timeout)
    try:
        s.sendall(b"x")
        return s.recv(1) == b"x"
    finally:
        s.close()


def service_pid(env):
    rt = os.path.join(env["XDG_RUNTIME_DIR"], "lsl")
    out = subprocess.run(["pgrep", "-f", "lsl-vmm --service " + rt], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(lsl, env, seconds):
    subprocess.run([lsl, "-e", "true"], env=env, check=True)
    time.sleep(35)  # past the service's busy window after the last session
    pid = service_pid(env)
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lsl", required=True)
    ap.add_argument("--disk", required=True, help="a root image with net-tool in /bin")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--connects", type=int, default=200)
    ap.add_argument("--idle", type=int, default=30)
    a = ap.parse_args()
    work, env = lslenv.scratch("lsl-fwdbench.")
    subprocess.run([a.lsl, "--import", "bench", os.path.join(work, "distro"), a.disk, "--vhd"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    try:
        subprocess.run([a.lsl, "-e", "true"], env=env, check=True)
        # listen -> forward
        lat = []
        for i in range(a.runs):
            port = 9100 + i
            p = subprocess.Popen([a.lsl, "-e", "net-tool", "echo", "tcp", "127.0.0.1", str(port)], env=env,
                                 stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
            line = p.stdout.readline()
            t0 = time.monotonic()
            assert line.strip() == b"listening", line
            while True:
                try:
                    if echo_once("127.0.0.1", port):
                        break
                except OSError:
                    pass
                if time.monotonic() - t0 > 10:
                    sys.exit(f"port {port}: not forwarded within 10 s")
                time.sleep(0.002)
            lat.append((time.monotonic() - t0) * 1000)
            p.terminate()
            p.wait()
        # setup latency: forwarded, and the host's own loopback for scale
        p = subprocess.Popen([a.lsl, "-e", "net-tool", "echo", "tcp", "0.0.0.0", "9099"], env=env,
                             stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        p.stdout.readline()
        while True:
            try:
                if echo_once("127.0.0.1", 9099):
                    break
            except OSError:
                time.sleep(0.01)
        fwd = []
        for _ in range(a.connects):
            t = time.monotonic()
            assert echo_once("127.0.0.1", 9099)
            fwd.append((time.monotonic() - t) * 1000)
        p.terminate()
        p.wait()
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(64)

        def serve():
            while True:
                c, _ = ls.accept()
                c.sendall(c.recv(1))
                c.close()

        threading.Thread(target=serve, daemon=True).start()
        local = []
        for _ in range(a.connects):
            t = time.monotonic()
            assert echo_once("127.0.0.1", ls.getsockname()[1])
            local.append((time.monotonic() - t) * 1000)
        # idle CPU, forwarding on, then off; each from a fresh VM, so the work above does not weigh on one
        subprocess.run([a.lsl, "--shutdown"], env=env, check=True)
        on = idle_cpu(a.lsl, env, a.idle)
        subprocess.run([a.lsl, "--shutdown"], env=env, check=True)
        with open(os.path.join(env["HOME"], ".lslconfig"), "w") as f:
            f.write("[wsl2]\nlocalhostForwarding=false\n")
        off = idle_cpu(a.lsl, env, a.idle)
    finally:
        subprocess.run([a.lsl, "--shutdown"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["rm", "-rf", work])
    print(f"{'localhost forwarding':32} {'p50':>9} {'p95':>9}")
    print(f"{'listen->forward (ms)':32} {statistics.median(lat):9.1f} {pct(lat, 95):9.1f}   ({a.runs} listeners)")
    print(f"{'forwarded connection setup (ms)':32} {statistics.median(fwd):9.2f} {pct(fwd, 95):9.2f}"
          f"   ({a.connects} connections, 1 byte echoed)")
    print(f"{'host loopback, for scale (ms)':32} {statistics.median(local):9.2f} {pct(local, 95):9.2f}")
    print(f"idle VM CPU over {a.idle} s: {on:.2f}% with forwarding, {off:.2f}% with localhostForwarding=false")


if __name__ == "__main__":
    main()
