#!/usr/bin/env bash
# Creates the system root the lsl service boots (the counterpart of WSL's system distro): busybox, lsl-distro
# (lsl-init under that name) and the host's GNU tar and compressors with their shared libraries, which unpack
# and pack distributions with owners, modes, xattrs, ACLs, hardlinks and device nodes intact.
# Usage: guest/mksystem.sh OUT.img LSL_INIT [FILE...]   (FILEs as guest/mkdisk.sh takes them)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: $0 OUT.img LSL_INIT [FILE...]" >&2; exit 2; }
out=$1 init=$2
shift 2

files=("$init=/bin/lsl-distro")
libs=()
for prog in tar gzip xz zstd bzip2; do
	path=$(command -v "$prog") || { echo "$0: $prog not found (see scripts/deps.sh)" >&2; exit 1; }
	files+=("$path=/bin/$prog")
	# ldd lines: "libx.so => /path (addr)" and "/lib64/ld-linux-x86-64.so.2 (addr)".
	while read -r lib; do libs+=("$lib"); done < <(ldd "$path" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
done
for lib in $(printf '%s\n' "${libs[@]}" | sort -u); do
	files+=("$lib=$lib")
done
exec bash "$here/mkdisk.sh" "$out" 64 "${files[@]}" "$@"
