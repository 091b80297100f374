#!/bin/sh
# bench/fsbench.py's workload on DIR, the same script (busybox sh, fsbench-tool, git and find) on the emulated
# host, in lsl's guest over virtio-fs and in QEMU's guest over virtio-9p. Prints RESULT lines, then
# BENCH-DONE. FSB_ONLY="seq small walk git" picks parts; FSB_MIB the size of the sequential file.
set -f # git's -c safe.directory=* below is no glob
D=$1
only=${FSB_ONLY:-seq small walk git}
mib=${FSB_MIB:-1024}
T=fsbench-tool
want() { case " $only " in *" $1 "*) return 0 ;; esac; return 1; }
# In a guest (FSB_GUEST=1): RAM the host has backed already, and the share's readahead window as lsl's guest
# side sets it (4 MiB, guest/distro/automount.c; the same for 9p), so both read in large requests. (Until this
# stop the glob below ran under set -f and set nothing: earlier tables read 128 KiB at a time.)
if [ "${FSB_GUEST:-0}" = 1 ]; then
	set +f # (the glob is wanted here)
	for b in /sys/class/bdi/0:*; do [ -e "$b/read_ahead_kb" ] && echo "${FSB_RA_KB:-4096}" >"$b/read_ahead_kb"; done
	set -f
	# Free page reporting (lsl's balloon) would hand the RAM touched here back to the host whenever a phase
	# frees its cache, and every phase would pay to fault it in again: a memory policy, measured by
	# bench/membench.py, kept out of this file-sharing table (order 11 is past the largest: nothing reported).
	[ -w /sys/module/page_reporting/parameters/page_reporting_order ] &&
		echo 11 >/sys/module/page_reporting/parameters/page_reporting_order
	want seq && $T touch "${FSB_TOUCH_MIB:-1200}"
	# lsl's guest runs its change helper on every share, as lsl-distro starts it: with it, names under the
	# directories the host watches are trusted long (vmm/fs/README.md). A second for its first request.
	[ -n "${FSB_HELPER:-}" ] && { "$FSB_HELPER" "$D" & sleep 1; }
fi
if want seq; then
	$T drop
	$T write "$D/big" "$mib"
	$T drop # the guest's page cache is dropped; the host's still holds the file (tmpfs), for all three
	$T read "$D/big" seq_read
	$T read "$D/big" seq_read_again
	rm -f "$D/big"
	# The guest's own floor for the same read: the file in its RAM (a tmpfs), so no transport at all, only
	# the guest's copy to the reader (natively seq_read is that already: the host's tmpfs keeps the file).
	if [ "${FSB_GUEST:-0}" = 1 ] && mkdir -p /tmp/fsb-ram && mount -t tmpfs -o size=$((mib + 8))m fsb-ram /tmp/fsb-ram; then
		head -c $((mib * 1048576)) /dev/zero >/tmp/fsb-ram/big
		$T read /tmp/fsb-ram/big seq_read_guest_ram
		umount /tmp/fsb-ram
	fi
fi
if want small; then
	$T drop
	$T small "$D/small" 10000
fi
if want walk; then
	$T drop
	$T time walk_first find "$D/linux" -printf '%s %m\n'
	$T time walk find "$D/linux" -printf '%s %m\n'
fi
if want git; then
	$T drop
	g="git -c safe.directory=* -C $D/linux"
	$T time git_status_first $g status --porcelain
	for i in 1 2 3; do $T time git_status $g status --porcelain; done
fi
echo BENCH-DONE
