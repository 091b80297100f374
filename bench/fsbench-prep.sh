#!/usr/bin/env bash
# What bench/fsbench.py needs, made on this machine (the emulated host is slow at it and sees this machine's
# files read-only), cached in $LSL_BUILD/bench/ until its inputs change:
#   fsbench-tool   static (musl), the same binary for the host and both guests
#   fs-root.img    the test root plus fsbench-tool, fs-work.sh, and this machine's git and find with their
#                  libraries (the guests run the very programs the host runs)
#   linux-tree.tar the kernel source unpacked as a git work tree, committed and packed. core.checkStat=minimal
#                  and core.trustCtime=false: git status in each place compares sizes and mtimes only, which
#                  survive tar, so no place pays a full re-hash because its inode numbers or owners differ.
# Usage: bench/fsbench-prep.sh BUILD_DIR [--no-tree]   (--no-tree: no walk or git status asked for, no tree made)
# LSL_BENCH_FS_SUBTREE="include/linux arch/x86" makes the tree of only those directories of the source (and its
# top-level .gitignore), in linux-tree-SLUG.tar: a walk and git status an emulated host can finish. Prints the
# tree's path (nothing with --no-tree).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$1/bench
mkdir -p "$out"
if [ ! -x "$out/fsbench-tool" ] || [ "$root/bench/fsbench-tool.c" -nt "$out/fsbench-tool" ]; then
	musl-gcc -std=gnu17 -O2 -static -s -Wall -Wextra -Werror -o "$out/fsbench-tool" "$root/bench/fsbench-tool.c"
fi
# lsl-fswatch: the guest helper lsl runs for every share (guest/distro/share_watch.c), here without distributions.
fswatch=$1/guest/lsl-init
if [ ! -f "$out/fs-root.img" ] || [ "$out/fsbench-tool" -nt "$out/fs-root.img" ] || [ "$root/bench/fs-work.sh" -nt "$out/fs-root.img" ] ||
	[ "$fswatch" -nt "$out/fs-root.img" ]; then
	extra=("$out/fsbench-tool" "$root/bench/fs-work.sh" "$fswatch=/bin/lsl-fswatch")
	for bin in git find; do
		p=$(command -v $bin)
		extra+=("$p=$p")
		while read -r lib; do extra+=("$lib=$lib"); done < <(ldd "$p" | grep -o '/[^ ]*' | sort -u)
	done
	bash "$root/guest/mkdisk.sh" "$out/fs-root.img" 128 "${extra[@]}" >/dev/null
fi
subtree=${LSL_BENCH_FS_SUBTREE:-}
tree=$out/linux-tree${subtree:+-$(printf '%s' "$subtree" | tr -c 'A-Za-z0-9._-' '_')}.tar
if [ "${2:-}" != --no-tree ] && [ ! -f "$tree" ]; then
	tarball=$(ls /usr/src/linux-source-*.tar.xz | sort -V | tail -n1)
	work=$(mktemp -d "$out/tree.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	echo "fsbench: unpacking $tarball${subtree:+ ($subtree)} and making it a git work tree (once, a few minutes)" >&2
	top=$(basename "$tarball" .tar.xz)
	members=()
	for d in $subtree; do members+=("$top/$d"); done
	[ ${#members[@]} = 0 ] || members+=("$top/.gitignore")
	tar -C "$work" -xJf "$tarball" "${members[@]}"
	mv "$work"/linux-source-* "$work/linux"
	(
		cd "$work/linux"
		# Debian's linux-source ignores everything at its top level ("/*"): a kernel tree as upstream has it.
		sed -i -e '\|^/\*$|d' -e '\|^!/debian/$|d' .gitignore
		git init -q
		git config core.checkStat minimal
		git config core.trustCtime false
		git config gc.auto 0
		git add -A
		git -c user.name=lsl -c user.email=lsl@localhost commit -q -m tree
		git gc -q
	)
	tar -C "$work" -cf "$tree.tmp" linux
	mv "$tree.tmp" "$tree"
fi
[ "${2:-}" = --no-tree ] || echo "$tree"
