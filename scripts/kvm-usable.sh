#!/usr/bin/env bash
# Exit 0 if this machine's /dev/kvm runs standard (unmodified) guests at hardware speed, 1 if tests must use
# the emulated KVM host (tests/vmhost/vmhost.sh) instead. -v prints one line saying why.
# LSL_VMHOST=1 forces "not usable" (use the emulated host); LSL_VMHOST=0 forces "usable".
set -u
verbose=0
case ${1:-} in
-v) verbose=1 ;;
"") ;;
*) echo "usage: $0 [-v]" >&2; exit 2 ;;
esac
usable() { [ $verbose = 0 ] || echo "kvm: $*"; exit 0; }
unusable() { [ $verbose = 0 ] || echo "kvm: $*; using the emulated KVM host"; exit 1; }

case ${LSL_VMHOST:-} in
1) unusable "LSL_VMHOST=1 asks for it" ;;
0) usable "LSL_VMHOST=0: using /dev/kvm directly" ;;
"") ;;
*) echo "kvm: LSL_VMHOST must be 0 or 1, not '$LSL_VMHOST'" >&2; exit 2 ;;
esac

[ -e /dev/kvm ] || unusable "/dev/kvm is missing"
[ -c /dev/kvm ] || unusable "/dev/kvm is not a character device"
[ -d /sys/module/kvm_pvm ] && unusable "/dev/kvm is PVM (kvm_pvm), cannot run standard guests"
if [ -d /sys/module/kvm_intel ]; then
	vendor=kvm_intel
elif [ -d /sys/module/kvm_amd ]; then
	vendor=kvm_amd
else
	unusable "neither kvm_intel nor kvm_amd is loaded"
fi
grep -qwE 'vmx|svm' /proc/cpuinfo 2>/dev/null || unusable "the CPU shows no vmx/svm (no hardware virtualization)"
# Opening it read-write is the real test (root passes -r/-w even on a mode-000 node; an unbound node fails here).
if ! err=$({ : <>/dev/kvm; } 2>&1); then
	unusable "cannot open /dev/kvm read-write as $(id -un): ${err##*: } (is the user in group kvm?)"
fi
usable "/dev/kvm is usable ($vendor)"
