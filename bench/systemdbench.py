#!/usr/bin/env python3
"""systemd benchmark (issue 16): what systemd as a distribution's PID 1 costs, against the same distribution
with lsl's own init ([boot] systemd=false in its /etc/wsl.conf), and what Docker adds on top, in one run.

The distribution is Debian minbase with systemd, dbus and logind (tests/vm/mksystemd.sh, built on the host);
the Docker one the same with Debian's docker.io (mksystemd.sh docker: dockerd and containerd enabled, so they
start with the distribution).
Cold start: the VM stopped (lsl --shutdown), then `lsl -d NAME -- true`, which boots the VM, starts the
distribution and (with systemd) waits until systemd says running or degraded. Distribution start: the VM
running, the distribution stopped (lsl -t), then the same command. Memory: what the guest uses (its RAM less
MemAvailable, from lsl --status --json) with the distribution started, less the same with none, so the VM's
own share is not counted twice.
Socket wake (proto/wake.h): the host's docker client (docker.io's, kept beside the tar) runs `docker images`
through the forwarded socket with the VM stopped by its idle stop (5 s here): lsl-wake starts the VM and the
distribution, and the client is answered once dockerd is. Its peers in the same run: the same command cold
through lsl (`lsl -d dk -- docker images`, the VM stopped) and through the socket with the VM up; and what
lsl-wake holds while it waits (its RSS).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import lslenv


def timed(cmd, env):
    t0 = time.monotonic()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t0


def guest_used(lsl, env):
    """The guest's used memory in MiB, once its numbers are fresh (a status asks; the next has them)."""
    time.sleep(3)  # the start's own transients settle
    for _ in range(2):
        st = json.loads(subprocess.run([lsl, "--status", "--json"], env=env, check=True, capture_output=True,
                                       text=True).stdout)
        time.sleep(1.2)
    return (st["guest_total_bytes"] - st["guest_available_bytes"]) / 2**20


def wait_for_wake(lsl, env, bound_s=600):
    """Until the VM stopped by its idle stop and lsl-wake holds the sockets; lsl-wake's pid."""
    end = time.monotonic() + bound_s
    while time.monotonic() < end:
        st = json.loads(subprocess.run([lsl, "--status", "--json"], env=env, check=True, capture_output=True,
                                       text=True).stdout)
        if st["state"] == "stopped" and st.get("sockets"):
            pids = subprocess.run(["pgrep", "-x", "lsl-wake"], capture_output=True, text=True).stdout.split()
            if pids:
                return int(pids[0])
        time.sleep(1)
    raise RuntimeError("no idle stop with lsl-wake holding the socket")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def socket_wake(lsl, env, docker, runs):
    """Medians (s) of docker images: woken through the socket, cold through lsl, warm through the socket; and
    lsl-wake's RSS (KiB)."""
    sock = os.path.join(env["XDG_RUNTIME_DIR"], "lsl", "docker.sock")
    denv = dict(env, LSL_VM_IDLE_TIMEOUT="5", DOCKER_HOST="unix://" + sock)
    wake, cold, warm, rss = [], [], [], []
    for _ in range(runs):
        subprocess.run([lsl, "--shutdown"], env=env, check=True)
        cold.append(timed([lsl, "-d", "dk", "--", "docker", "images"], denv))
        warm.append(timed([docker, "images"], denv))
        pid = wait_for_wake(lsl, env)
        rss.append(rss_kib(pid))
        wake.append(timed([docker, "images"], denv))
        print(f"  socket wake: woken {wake[-1]:.2f} s, cold lsl {cold[-1]:.2f} s, warm {warm[-1]:.2f} s, "
              f"lsl-wake {rss[-1]} KiB", file=sys.stderr)
    subprocess.run([lsl, "--shutdown"], env=env, check=True)
    return statistics.median(wake), statistics.median(cold), statistics.median(warm), statistics.median(rss)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lsl", required=True)
    ap.add_argument("--tar", required=True, help="the distribution (tests/vm/mksystemd.sh)")
    ap.add_argument("--docker-tar", help="the one with docker.io (tests/vm/mksystemd.sh docker)")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    work, env = lslenv.scratch("lsl-sdb.")
    lsl = a.lsl
    rows = {}
    try:
        modes = [("systemd", "sd", ""), ("lsl init", "sd", "[boot]\nsystemd=false\n")]
        subprocess.run([lsl, "--import", "sd", os.path.join(work, "sd"), a.tar], env=env, check=True)
        if a.docker_tar:
            subprocess.run([lsl, "--import", "dk", os.path.join(work, "dk"), a.docker_tar], env=env, check=True)
            modes.append(("systemd + docker", "dk", ""))
        subprocess.run([lsl, "--shutdown"], env=env, check=True)
        for mode, name, conf in modes:
            subprocess.run([lsl, "-d", name, "-u", "root", "-e", "sh", "-c", f"printf '{conf}' >/etc/wsl.conf"],
                           env=env, check=True)
            subprocess.run([lsl, "--shutdown"], env=env, check=True)
            cold, start, mem = [], [], []
            for _ in range(a.runs):
                cold.append(timed([lsl, "-d", name, "--", "true"], env))
                subprocess.run([lsl, "-t", name], env=env, check=True)
                base = guest_used(lsl, env)
                start.append(timed([lsl, "-d", name, "--", "true"], env))
                mem.append(guest_used(lsl, env) - base)
                subprocess.run([lsl, "--shutdown"], env=env, check=True)
            rows[mode] = (statistics.median(cold), statistics.median(start), statistics.median(mem))
            print(f"  {mode}: cold {cold}, start {start}, memory {mem}", file=sys.stderr)
        if a.docker_tar:
            wake = socket_wake(lsl, env, a.docker_tar + "-cli/docker", a.runs)
    finally:
        subprocess.run([lsl, "--shutdown"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
    sd, init = rows["systemd"], rows["lsl init"]
    print(f"systemd as PID 1, medians of {a.runs} (Debian minbase + systemd, dbus, logind)")
    print(f"  {'':34} {'systemd':>10} {'lsl init':>10} {'ratio':>7}")
    print(f"  {'cold lsl -d NAME -- true (s)':34} {sd[0]:10.2f} {init[0]:10.2f} {sd[0] / init[0]:6.2f}x")
    print(f"  {'distribution start, VM up (s)':34} {sd[1]:10.2f} {init[1]:10.2f} {sd[1] / init[1]:6.2f}x")
    print(f"  {'guest memory it adds (MiB)':34} {sd[2]:10.1f} {init[2]:10.1f}")
    if "systemd + docker" in rows:
        dk = rows["systemd + docker"]
        print("with Docker (docker.io: dockerd and containerd started with the distribution), against systemd alone")
        print(f"  {'':34} {'+docker':>10} {'systemd':>10} {'ratio':>7}")
        print(f"  {'cold lsl -d NAME -- true (s)':34} {dk[0]:10.2f} {sd[0]:10.2f} {dk[0] / sd[0]:6.2f}x")
        print(f"  {'distribution start, VM up (s)':34} {dk[1]:10.2f} {sd[1]:10.2f} {dk[1] / sd[1]:6.2f}x")
        print(f"  {'guest memory it adds (MiB)':34} {dk[2]:10.1f} {sd[2]:10.1f} {'':>7} (dockerd + containerd: {dk[2] - sd[2]:.1f})")
        print("socket wake: the host's `docker images` with the VM stopped by its idle stop, against the same cold")
        print("through lsl and through the socket with the VM up")
        print(f"  {'woken through the socket (s)':34} {wake[0]:10.2f}")
        print(f"  {'cold: lsl -d dk -- docker images (s)':34} {wake[1]:10.2f} {'':10} {wake[0] / wake[1]:6.2f}x")
        print(f"  {'VM up, through the socket (s)':34} {wake[2]:10.2f}")
        print(f"  {'lsl-wake while it waits (KiB RSS)':34} {wake[3]:10.0f}")


if __name__ == "__main__":
    main()
