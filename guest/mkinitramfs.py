#!/usr/bin/env python3
"""Writes the lsl initramfs: an uncompressed cpio (newc) archive holding lsl-init as /init.

No root needed: device nodes and ownership exist only as archive metadata. Deterministic (every mtime is 0,
inode numbers are sequential), and uncompressed because the kernel unpacks that faster than gzip.
"""
import argparse
import os
import stat
import sys
import tempfile

ROOT_UID = ROOT_GID = 0

# Mount points lsl-init expects; it creates missing ones itself, but having them saves boot time.
DIRECTORIES = ["dev", "proc", "sys", "run", "tmp", "mnt", "mnt/root"]

# With /dev/console in the archive, the kernel can open the console for init before devtmpfs is mounted.
CONSOLE = ("dev/console", 5, 1, 0o600)


def _pad4(length):
    return b"\0" * (-length % 4)


class NewcWriter:
    """Emits cpio "newc" (SVR4 without CRC) entries, the format the kernel's initramfs unpacker reads."""

    def __init__(self, out):
        self._out = out
        self._next_ino = 1

    def _entry(self, name, mode, data=b"", nlink=1, rdev=(0, 0)):
        encoded = name.encode() + b"\0"
        ino = 0 if name == "TRAILER!!!" else self._next_ino
        if ino:
            self._next_ino += 1
        fields = (ino, mode, ROOT_UID, ROOT_GID, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
        header = b"070701" + b"".join(b"%08x" % f for f in fields)
        self._out.write(header + encoded + _pad4(len(header) + len(encoded)))
        self._out.write(data + _pad4(len(data)))

    def directory(self, name, perm=0o755):
        self._entry(name, stat.S_IFDIR | perm, nlink=2)

    def char_device(self, name, major, minor, perm):
        self._entry(name, stat.S_IFCHR | perm, rdev=(major, minor))

    def file(self, name, data, perm):
        self._entry(name, stat.S_IFREG | perm, data=data)

    def trailer(self):
        self._entry("TRAILER!!!", 0)


def write_initramfs(init_path, output):
    with open(init_path, "rb") as f:
        init = f.read()
    if not init.startswith(b"\x7fELF"):
        raise ValueError(f"{init_path} is not an ELF executable")

    out_dir = os.path.dirname(os.path.abspath(output))
    # Write beside the target and rename, so an interrupted build never leaves a truncated initramfs.
    fd, tmp = tempfile.mkstemp(prefix=".initramfs.", dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as out:
            cpio = NewcWriter(out)
            for d in DIRECTORIES:
                cpio.directory(d)
            name, major, minor, perm = CONSOLE
            cpio.char_device(name, major, minor, perm)
            cpio.file("init", init, 0o755)
            cpio.trailer()
        os.chmod(tmp, 0o644)
        os.replace(tmp, output)
    except BaseException:
        os.unlink(tmp)
        raise


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init", required=True, help="the static lsl-init binary to install as /init")
    parser.add_argument("--output", "-o", required=True, help="the cpio archive to write")
    args = parser.parse_args()
    try:
        write_initramfs(args.init, args.output)
    except (OSError, ValueError) as e:
        print(f"mkinitramfs.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
