#!/usr/bin/env bash
# The build workload's disk for bench/membench.py: the test root plus this machine's gcc (driver, cc1, as and
# their libraries), gcc's and musl's headers, and lsl's guest sources under /src: the guest compiles what
# lsl-init is made of (guest/meson.build: guest/, proto/, and util's io.c and unix_socket.c). Cached in $1/bench/build-root.img until the compiler or the sources change.
# Usage: bench/membench-prep.sh BUILD_DIR   (prints the image's path)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$1/bench/build-root.img
mkdir -p "$1/bench"
gcc=$(readlink -f "$(command -v gcc)")
cc1=$("$gcc" -print-prog-name=cc1)
as=$(readlink -f "$(command -v as)")
gccinc=$("$gcc" -print-file-name=include)
musl=/usr/include/x86_64-linux-musl
[ -x "$cc1" ] && [ -d "$musl" ] || { echo "membench-prep: needs gcc and musl-dev" >&2; exit 1; }
srcs=$(cd "$root" && ls guest/*/*.c guest/*/*.h proto/*.c proto/*.h util/io.c util/unix_socket.c util/*.h)
stale=$( [ ! -f "$out" ] && echo new || (cd "$root" && find $srcs bench/membench-prep.sh "$gcc" "$cc1" -newer "$out" | head -n1))
if [ -n "$stale" ]; then
	extra=("$gcc=/usr/bin/gcc" "$cc1=$cc1" "$as=/usr/bin/as")
	for p in "$gcc" "$cc1" "$as"; do
		while read -r lib; do extra+=("$lib=$lib"); done < <(ldd "$p" | grep -o '/[^ ]*' | sort -u)
	done
	while read -r f; do extra+=("$f=$f"); done < <(find "$gccinc" "$musl" -type f)
	for f in $srcs; do extra+=("$root/$f=/src/$f"); done
	bash "$root/guest/mkdisk.sh" "$out.tmp" 160 "${extra[@]}" >/dev/null
	mv "$out.tmp" "$out"
fi
echo "$out"
