#!/usr/bin/env bash
# VM tests for lsl-vmm and lsl-init. Needs a /dev/kvm that runs standard guests (tests/run.sh arranges that,
# using the emulated KVM host where needed). Prints "PASS name", "FAIL name: why" or "SKIP name: why".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = --list ]; then
	sed -n '/^all_tests="/,/"$/p' "$0" | tr -d '"' | sed 's/^all_tests=//'
	exit 0
fi
[ -n "${LSL_VMM:-}" ] || source "$here/../../scripts/env.sh" build
K=$LSL_KERNEL_DIR/vmlinux
DISK=${LSL_TEST_DISK:-$LSL_BUILD/test-root.img}
S=$(mktemp -d "${TMPDIR:-/tmp}/lsl-vmtest.XXXXXX")
trap 'rm -rf "$S"' EXIT

vmm() { timeout 180 "$LSL_VMM" --kernel "$K" --initrd "$LSL_INITRD" "$@"; }
# A guest command on the read-only test root: vm_cmd [lsl-vmm options...] -- CMD...
vm_ro() { vmm --disk "$DISK,ro" --root /dev/vda "$@"; }
fresh_disk() { cp --sparse=always "$DISK" "$S/rw.img"; }

t() { # name function
	local name=$1 out
	if out=$("$2" 2>&1); then
		echo "PASS $name"
	else
		echo "FAIL $name: $(tail -n1 <<<"$out")"
		sed 's/^/    /' <<<"$out" | tail -n 15
	fi
}
expect_rc() { # want cmd...
	local want=$1 rc
	shift
	"$@"
	rc=$?
	[ "$rc" -eq "$want" ] || { echo "exit status $rc, expected $want"; return 1; }
}

boot_marker() {
	expect_rc 0 vmm --console-log "$S/boot.log" || return 1
	grep -Eq '^lsl-init: up uptime=[0-9]+\.[0-9]+s' "$S/boot.log" || { echo "no boot marker in console log"; return 1; }
}
exit_0() { expect_rc 0 vm_ro -- /bin/sh -c 'exit 0'; }
exit_1() { expect_rc 1 vm_ro -- /bin/false; }
exit_42() { expect_rc 42 vm_ro -- /bin/sh -c 'exit 42'; }
exit_signal() { expect_rc 137 vm_ro -- /bin/sh -c 'kill -9 $$'; }
exit_not_found() {
	vm_ro -- /no/such/program 2>"$S/err"
	local rc=$?
	[ $rc -eq 127 ] || { echo "exit status $rc, expected 127"; return 1; }
	grep -q 'lsl-init: error:.*no/such/program' "$S/err" || { echo "no lsl-init error line on stderr"; return 1; }
}
console_output() {
	local out
	out=$(vm_ro --console -- /bin/echo hello-from-the-guest) || return 1
	grep -q '^hello-from-the-guest' <<<"$out" || { echo "guest output missing: $out"; return 1; }
}
args_binary_safe() {
	# Quotes, spaces, empty and non-ASCII arguments reach the guest command unchanged.
	expect_rc 0 vm_ro -- /bin/sh -c '[ "$1" = "a \"b\"  c" ] && [ -z "$2" ] && [ "$3" = "é;*?" ] && [ $# -eq 3 ]' \
		sh 'a "b"  c' '' 'é;*?'
}
disk_persists() {
	fresh_disk
	expect_rc 0 vmm --disk "$S/rw.img" --root /dev/vda -- /bin/sh -c 'echo written-by-the-guest > /persist.txt' || return 1
	debugfs -R 'cat /persist.txt' "$S/rw.img" 2>/dev/null | grep -q written-by-the-guest || { echo "file not on the host image"; return 1; }
	e2fsck -fn "$S/rw.img" >/dev/null 2>&1 || { echo "filesystem not clean after poweroff"; return 1; }
}
disk_serial() { expect_rc 0 vm_ro -- /bin/sh -c '[ "$(cat /sys/block/vda/serial)" = lsl-disk0 ]'; }
lazy_memory() {
	# A 2 GiB guest that has booted and runs a command must cost the host far less than 2 GiB.
	vm_ro --memory 2G --console-log "$S/lazy.log" -- /bin/sleep 60 &
	local pid=$! vmm_pid rss=0 i
	for i in $(seq 1 90); do
		grep -q '^lsl-init: up' "$S/lazy.log" 2>/dev/null && break
		sleep 1
	done
	sleep 2
	vmm_pid=$(pgrep -P $pid -x lsl-vmm)
	[ -n "$vmm_pid" ] && rss=$(awk '/^VmRSS/ {print $2}' "/proc/$vmm_pid/status")
	kill -TERM $pid 2>/dev/null
	wait $pid 2>/dev/null
	[ "$rss" -gt 0 ] && [ "$rss" -lt 131072 ] || { echo "lsl-vmm RSS ${rss} KiB for a booted 2 GiB guest"; return 1; }
	echo "lsl-vmm RSS ${rss} KiB for a booted 2 GiB guest"
}
disk_readonly() {
	vm_ro -- /bin/touch /should-fail
	local rc=$?
	[ $rc -eq 1 ] || { echo "writing to a read-only disk gave $rc, expected 1"; return 1; }
}
second_disk() {
	fresh_disk
	expect_rc 0 vmm --disk "$DISK,ro" --disk "$S/rw.img" --root /dev/vda -- /bin/sh -c \
		'mount -t ext4 /dev/vdb /mnt && echo second > /mnt/second.txt && umount /mnt' || return 1
	debugfs -R 'cat /second.txt' "$S/rw.img" 2>/dev/null | grep -q second || { echo "second disk not written"; return 1; }
}
discard_frees_space() {
	fresh_disk
	local before after
	before=$(du -k "$S/rw.img" | cut -f1)
	expect_rc 0 vmm --disk "$S/rw.img" --root /dev/vda -- /bin/sh -c \
		'dd if=/dev/zero of=/big bs=1M count=24 2>/dev/null && sync && rm /big && sync && fstrim /' || return 1
	after=$(du -k "$S/rw.img" | cut -f1)
	[ $((after - before)) -lt 8192 ] || { echo "image grew by $((after - before)) KiB after delete + fstrim"; return 1; }
}
multi_vcpu() {
	expect_rc 4 vm_ro --cpus 4 -- /bin/sh -c 'exit $(grep -c ^processor /proc/cpuinfo)' || return 1
	expect_rc 2 vm_ro --cpus 2 -- /bin/nproc --all 2>/dev/null || expect_rc 0 vm_ro --cpus 2 -- /bin/sh -c '[ $(nproc) = 2 ]'
}
rng_works() { expect_rc 0 vm_ro -- /bin/sh -c '[ "$(head -c 4096 /dev/hwrng | wc -c)" -eq 4096 ]'; }
guest_reboot() { expect_rc 0 vm_ro -- /bin/reboot -f; }
bzimage_boots() {
	expect_rc 0 timeout 180 "$LSL_VMM" --kernel "$LSL_KERNEL_DIR/bzImage" --initrd "$LSL_INITRD" --console-log "$S/bz.log" || return 1
	grep -q '^lsl-init: up' "$S/bz.log" || { echo "no boot marker"; return 1; }
}
panic_reported() {
	timeout 180 "$LSL_VMM" --kernel "$K" 2>"$S/err"
	local rc=$?
	[ $rc -eq 124 ] || { echo "exit status $rc, expected 124 (panic)"; return 1; }
	grep -q 'guest kernel panic: Kernel panic - not syncing' "$S/err" || { echo "no panic line: $(cat "$S/err")"; return 1; }
}
sigterm_stops() {
	vm_ro -- /bin/sleep 600 &
	local pid=$!
	sleep 5
	kill -TERM $pid
	local rc=0
	wait $pid || rc=$?
	[ $rc -eq 143 ] || { echo "exit status $rc, expected 143"; return 1; }
}
# Malformed input: one clear line on stderr, exit 125, never a crash.
bad_input() { # pattern lsl-vmm-args...
	local pattern=$1 rc lines
	shift
	timeout 60 "$LSL_VMM" "$@" 2>"$S/err" >/dev/null
	rc=$?
	lines=$(wc -l <"$S/err")
	[ $rc -eq 125 ] || { echo "exit status $rc, expected 125: $(cat "$S/err")"; return 1; }
	[ "$lines" -eq 1 ] || { echo "expected one error line, got $lines: $(cat "$S/err")"; return 1; }
	grep -q "$pattern" "$S/err" || { echo "unexpected message: $(cat "$S/err")"; return 1; }
}
bad_kernel_missing() { bad_input 'cannot open kernel' --kernel "$S/nope"; }
bad_kernel_not_linux() {
	head -c 65536 /dev/urandom >"$S/junk"
	bad_input 'not a Linux kernel' --kernel "$S/junk" && bad_input 'not an x86-64 Linux kernel' --kernel /bin/sh
}
bad_memory() { bad_input "more than this host's RAM" --kernel "$K" --memory 64T; }
bad_disk() { bad_input 'cannot open disk' --kernel "$K" --disk "$S/nope.img" && mkdir -p "$S/d" && bad_input 'not a regular file' --kernel "$K" --disk "$S/d,ro"; }
bad_initrd() { bad_input 'cannot open initrd' --kernel "$K" --initrd "$S/nope"; }
bad_option() { bad_input 'unknown option' --kernel "$K" --frobnicate; }

all_tests="boot_marker exit_0 exit_1 exit_42 exit_signal exit_not_found console_output args_binary_safe
	disk_persists disk_serial lazy_memory disk_readonly second_disk discard_frees_space multi_vcpu rng_works
	guest_reboot bzimage_boots panic_reported sigterm_stops bad_kernel_missing bad_kernel_not_linux bad_memory
	bad_disk bad_initrd bad_option"
# `run.sh --list` names the tests; `run.sh NAME...` runs only those (tests/run.sh re-runs what never reported).
for name in ${*:-$all_tests}; do
	t "$name" "$name"
done
