#!/usr/bin/env python3
"""Compares the file trees in two tar archives (any compression): names, types, modes, owners, sizes,
contents, link targets, device numbers, xattrs, and which names are hardlinks of each other (an archive
may store either name of a hardlinked pair as the file). Exits 0 when identical, else prints differences.
  treediff.py A B [--ignore PATH]...
"""
import argparse
import hashlib
import io
import subprocess
import sys
import tarfile

ap = argparse.ArgumentParser()
ap.add_argument("a")
ap.add_argument("b")
ap.add_argument("--ignore", action="append", default=[])
args = ap.parse_args()


def tree(path):
    entries, links = {}, {}
    with open(path, "rb") as f:
        head = f.read(4)
    # Python's tarfile has no zstd: decompress that one first.
    src = (dict(fileobj=io.BytesIO(subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout))
           if head == b"\x28\xb5\x2f\xfd" else dict(name=path))
    with tarfile.open(**src) as t:
        for m in t:
            name = m.name.removeprefix("./").rstrip("/")
            if not name or name == "." or name == "lost+found" or name.startswith("lost+found/"):
                continue
            if name in args.ignore:
                continue
            xattrs = tuple(sorted((k, v) for k, v in m.pax_headers.items() if k.startswith("SCHILY.xattr.")))
            digest = hashlib.sha256(t.extractfile(m).read()).hexdigest() if m.isreg() else ""
            if m.islnk():
                target = m.linkname.removeprefix("./")
                links.setdefault(target, {target}).add(name)
                continue
            entries[name] = (m.type if m.type != tarfile.AREGTYPE else tarfile.REGTYPE, oct(m.mode), m.uid, m.gid,
                             m.size if m.isreg() else 0, digest, m.linkname if m.issym() else "",
                             (m.devmajor, m.devminor) if m.ischr() or m.isblk() else (0, 0), xattrs)
    # Every name of a hardlink group gets the group's file attributes, and the group itself is compared.
    groups = set()
    for target, names in links.items():
        for n in names:
            if target in entries:
                entries[n] = entries[target]
        groups.add(tuple(sorted(names)))
    return entries, groups


ea, ga = tree(args.a)
eb, gb = tree(args.b)
bad = 0
for name in sorted(set(ea) | set(eb)):
    if ea.get(name) != eb.get(name):
        print(f"{name}: {ea.get(name)} != {eb.get(name)}")
        bad += 1
if ga != gb:
    print(f"hardlink groups differ: {sorted(ga)} != {sorted(gb)}")
    bad += 1
print(f"{len(ea)} and {len(eb)} entries, {bad} differences")
sys.exit(1 if bad else 0)
