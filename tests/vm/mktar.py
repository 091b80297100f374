#!/usr/bin/env python3
"""Writes a small distribution as a tar archive without root: busybox, passwd with a user, and one of each
thing an import must keep (owners, modes incl. setuid, xattrs, a hardlink, symlinks, device nodes, a fifo).
  mktar.py OUT [--hostname H] [--format gz|xz|zst|tar] [--distribution-conf TEXT] [--wsl-conf TEXT]
"""
import argparse
import io
import subprocess
import tarfile

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--hostname", default="")
ap.add_argument("--format", default="gz", choices=["gz", "xz", "zst", "tar"])
ap.add_argument("--wsl-conf", default=None, help="/etc/wsl.conf (default: no generated files, the hostname)")
ap.add_argument("--distribution-conf", default=None, help="/etc/wsl-distribution.conf")
ap.add_argument("--busybox", default="/bin/busybox")
a = ap.parse_args()

bb = open(a.busybox, "rb").read()
applets = subprocess.run([a.busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
buf = io.BytesIO()


def add(t, name, typ=tarfile.REGTYPE, data=b"", mode=0o644, uid=0, gid=0, link="", dev=(0, 0), xattrs=None):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.uid, ti.gid, ti.mtime, ti.linkname = typ, mode, uid, gid, 1700000000, link
    ti.devmajor, ti.devminor = dev
    if xattrs:
        ti.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
    if typ == tarfile.REGTYPE:
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    else:
        t.addfile(ti)


wsl_conf = a.wsl_conf
if wsl_conf is None:
    wsl_conf = "[network]\ngenerateHosts = false\ngenerateResolvConf = false\n"
    if a.hostname:
        wsl_conf += f"hostname = {a.hostname}\n"
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    for d, mode, owner in [("bin", 0o755, 0), ("etc", 0o755, 0), ("dev", 0o755, 0), ("proc", 0o555, 0),
                           ("sys", 0o555, 0), ("run", 0o755, 0), ("tmp", 0o1777, 0), ("root", 0o700, 0),
                           ("home", 0o755, 0), ("home/u", 0o750, 1000), ("mnt", 0o755, 0), ("mnt/lsl", 0o755, 0),
                           ("var", 0o755, 0), ("srv", 0o2775, 0)]:
        add(t, d, tarfile.DIRTYPE, mode=mode, uid=owner, gid=owner)
    add(t, "bin/busybox", data=bb, mode=0o755)
    for app in applets:
        if app != "busybox":
            add(t, "bin/" + app, tarfile.SYMTYPE, link="busybox", mode=0o777)
    add(t, "sbin", tarfile.SYMTYPE, link="bin", mode=0o777)
    add(t, "usr", tarfile.SYMTYPE, link=".", mode=0o777)
    add(t, "etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000:U:/home/u:/bin/sh\n")
    add(t, "etc/group", data=b"root:x:0:\nu:x:1000:\n")
    add(t, "etc/wsl.conf", data=wsl_conf.encode())
    if a.hostname:
        # What a distribution's start writes there anyway (WSL does too), so exports compare equal.
        add(t, "etc/hostname", data=(a.hostname + "\n").encode())
    if a.distribution_conf is not None:
        add(t, "etc/wsl-distribution.conf", data=a.distribution_conf.encode())
    add(t, "home/u/file", data=b"hello\n", mode=0o640, uid=1000, gid=1000,
        xattrs={"user.lsl": "x1", "user.other": "two words"})
    add(t, "home/u/hard", tarfile.LNKTYPE, link="home/u/file", mode=0o640, uid=1000, gid=1000)
    add(t, "home/u/sym", tarfile.SYMTYPE, link="file", mode=0o777, uid=1000, gid=1000)
    add(t, "home/u/dangling", tarfile.SYMTYPE, link="/no/such/target", mode=0o777, uid=1000, gid=1000)
    add(t, "bin/suid", data=b"#!/bin/sh\necho suid\n", mode=0o4755)
    add(t, "srv/odd name", data=bytes(range(256)) * 64, mode=0o600, uid=123, gid=456)
    # Not in /dev: a running distribution's /dev is the VM's devtmpfs, as in WSL.
    add(t, "srv/nodes", tarfile.DIRTYPE, mode=0o755)
    add(t, "srv/nodes/null2", tarfile.CHRTYPE, mode=0o666, dev=(1, 3))
    add(t, "srv/nodes/blk2", tarfile.BLKTYPE, mode=0o660, gid=6, dev=(8, 1))
    add(t, "srv/nodes/fifo", tarfile.FIFOTYPE, mode=0o600)
raw = buf.getvalue()
if a.format == "tar":
    data = raw
else:
    tool = {"gz": ["gzip", "-c"], "xz": ["xz", "-c"], "zst": ["zstd", "-q", "-c"]}[a.format]
    data = subprocess.run(tool, input=raw, capture_output=True, check=True).stdout
with open(a.out, "wb") as f:
    f.write(data)
