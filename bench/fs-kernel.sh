#!/usr/bin/env bash
# The guest kernel for bench/fsbench.py: lsl's own (kernel/lsl.config, same source, same recipe) plus 9p over
# virtio, so QEMU's virtio-9p peer and lsl's virtio-fs boot the very same kernel in one run. lsl.config leaves
# 9p out (lsl does not use it); this adds it without touching the product kernel: kernel/build.sh runs from a
# scratch copy whose fragment has three more lines, and caches under its own LSL_CACHE_DIR, so the key, the
# build and the "current" link of the real kernel stay as they are. Prints the kernel directory last.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
base=${LSL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lsl}
work=$(mktemp -d "${TMPDIR:-/tmp}/lsl-fs-kernel.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$root/kernel/build.sh" "$work/build.sh"
{
	cat "$root/kernel/lsl.config"
	printf '\n# bench/fs-kernel.sh: virtio-9p for the QEMU peer of the file-sharing benchmark\n'
	printf 'CONFIG_NETWORK_FILESYSTEMS=y\nCONFIG_NET_9P=y\nCONFIG_NET_9P_VIRTIO=y\nCONFIG_9P_FS=y\n'
} >"$work/lsl.config"
LSL_CACHE_DIR=$base/bench-9p bash "$work/build.sh"
