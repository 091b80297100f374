#!/usr/bin/env python3
"""Distribution import/export benchmark: `lsl --import` of a tar.gz against `tar -xzf` on the host, and
`lsl --export` against `tar -czf` on the host, on the same archive in one run.

The corpus is /usr/include (many small files, like a distribution's tree), packed once as tar.gz and tar.
lsl's numbers include everything a user waits for: the sparse image made with mke2fs, the stream into the
VM over vsock, GNU tar unpacking onto the ext4 disk in the guest, registering. The VM is running already
(a cold start is the session benchmark's business). Throughput is MB of the archive file per second.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

import lslenv


def run(cmd, env=None, **kw):
    t0 = time.monotonic()
    subprocess.run(cmd, env=env, check=True, **kw)
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lsl", required=True)
    ap.add_argument("--corpus", default="/usr/include")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    work, env = lslenv.scratch("lsl-db.")
    lsl = a.lsl
    rows = {}
    try:
        tgz, tar = os.path.join(work, "corpus.tar.gz"), os.path.join(work, "corpus.tar")
        parent, base = os.path.split(a.corpus.rstrip("/"))
        subprocess.run(["tar", "-cf", tar, "-C", parent, base], check=True)
        subprocess.run(["gzip", "-k", "-6", tar], check=True)
        os.rename(tar + ".gz", tgz)
        files = int(subprocess.run(f"tar -tf {tar} | wc -l", shell=True, capture_output=True, text=True).stdout)
        sizes = {"tar.gz": os.path.getsize(tgz), "tar": os.path.getsize(tar)}
        print(f"  corpus {a.corpus}: {files} entries, tar {sizes['tar'] / 1e6:.1f} MB, tar.gz {sizes['tar.gz'] / 1e6:.1f} MB",
              file=sys.stderr)
        run([lsl, "--system", "-e", "true"], env=env)  # the VM runs before anything is timed

        def host_extract(archive, flags):
            out = os.path.join(work, "x")
            os.makedirs(out)
            try:
                return run(["tar", flags, archive, "-C", out])
            finally:
                shutil.rmtree(out)

        for fmt, archive, flags in (("tar.gz", tgz, "-xzf"), ("tar", tar, "-xf")):
            host, imp, exp, host_c = [], [], [], []
            for i in range(a.runs):
                host.append(host_extract(archive, flags))
                name = f"b{i}-{fmt.replace('.', '')}"
                imp.append(run([lsl, "--import", name, os.path.join(work, "d", name), archive], env=env))
                out = os.path.join(work, "out." + fmt)
                exp.append(run([lsl, "--export", name, out], env=env))
                os.unlink(out)
                host_c.append(run(["tar", "-czf" if fmt == "tar.gz" else "-cf", out, "-C", parent, base]))
                os.unlink(out)
                run([lsl, "--unregister", name], env=env)
                print(f"  {fmt} run {i + 1}: import {imp[-1]:.1f} s (host {host[-1]:.1f} s), "
                      f"export {exp[-1]:.1f} s (host {host_c[-1]:.1f} s)", file=sys.stderr)
            rows[fmt] = (host, imp, host_c, exp)
            print(f"  {fmt}: {a.runs} runs done", file=sys.stderr)
    except subprocess.CalledProcessError:
        for log in ("service.log", "console.log"):
            path = os.path.join(work, "state", "lsl", log)
            if os.path.exists(path):
                print(f"--- {log} (tail)", file=sys.stderr)
                print("".join(open(path, errors="replace").readlines()[-25:]), file=sys.stderr)
        raise
    finally:
        subprocess.run([lsl, "--shutdown"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)

    where = ("inside the emulated KVM host (QEMU TCG): both sides run there, lsl's guest one level deeper"
             if os.environ.get("LSL_IN_VMHOST") == "1" else "on this machine")
    print(f"Import/export benchmark, {where}; medians of {a.runs}")
    print(f"peer: GNU tar on the host, same archive ({a.corpus}, {files} entries)")
    print()
    print(f"{'operation':<30} {'lsl':>16} {'host tar':>16} {'lsl/host':>9}")
    for fmt, (host, imp, host_c, exp) in rows.items():
        mb = sizes[fmt] / 1e6
        hi, li = statistics.median(host), statistics.median(imp)
        hc, le = statistics.median(host_c), statistics.median(exp)
        print(f"{'import ' + fmt:<30} {mb / li:10.1f} MB/s {mb / hi:10.1f} MB/s {hi / li:9.2f}")
        print(f"{'  (seconds)':<30} {li:12.2f} s   {hi:12.2f} s")
        print(f"{'export ' + fmt:<30} {mb / le:10.1f} MB/s {mb / hc:10.1f} MB/s {hc / le:9.2f}")
        print(f"{'  (seconds)':<30} {le:12.2f} s   {hc:12.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
