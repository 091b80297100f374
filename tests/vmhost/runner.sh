#!/bin/bash
# shellcheck disable=SC2154 # script, cwd and args come from /run/lsl-vmhost/env
# Runs inside the emulated KVM host, under chroot into this machine's / (see tests/vmhost/init), with an empty
# environment. /run/lsl-vmhost/env (written by vmhost.sh) exports the passed-through variables and sets
# script, cwd and args; this execs `bash SCRIPT ARGS...` in the caller's working directory.
set -u
# shellcheck disable=SC1091 # written per run by vmhost.sh
. /run/lsl-vmhost/env || { echo "vmhost: cannot read /run/lsl-vmhost/env" >&2; exit 1; }

# A script that lives under /tmp, /var/tmp or /run on the host is hidden here by the tmpfs: put our copy there.
if [ ! -f "$script" ]; then
	mkdir -p "${script%/*}" && cp /run/lsl-vmhost/script "$script" ||
		{ echo "vmhost: cannot place $script inside the emulated host" >&2; exit 1; }
fi
if ! cd "$cwd" 2>/dev/null; then
	mkdir -p "$cwd" && cd "$cwd" || { echo "vmhost: cannot enter $cwd inside the emulated host" >&2; exit 1; }
	echo "vmhost: note: $cwd is under a scratch tmpfs inside the emulated host, so it starts empty here" >&2
fi
# One idle VM (in-kernel irqchip, one vCPU that never runs) held for the whole run. Without it, every VM a test
# starts and stops takes KVM's usage counts from 0 to 1 and back: the preempt-notifier and APIC static keys
# flip, and the kernel patches its own code (int3 first, then the new instruction) while the other CPU runs
# it. Under multi-threaded TCG a CPU can keep a stale translation holding the int3: the trap handler finds
# the int3 gone and resumes at the same address, for ever (seen: both CPUs looping between exc_int3 and the
# jump label in __schedule). With the counts held at 1 or more nothing is patched after this VM: one patch
# per run instead of two per test VM. (Taking the other CPUs offline around it hung the emulated host.)
# (python3: the test scripts need it anyway.)
keeper_start() {
	python3 -c '
import fcntl, os, signal, sys
kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
vm = fcntl.ioctl(kvm, 0xAE01, 0)   # KVM_CREATE_VM
fcntl.ioctl(vm, 0xAE60, 0)         # KVM_CREATE_IRQCHIP
fcntl.ioctl(vm, 0xAE41, 0)         # KVM_CREATE_VCPU 0
print("ready", flush=True)
sys.stdout.close()
signal.pause()' </dev/null >/run/lsl-vmhost/keeper 2>&1 &
	for _ in $(seq 200); do
		[ -s /run/lsl-vmhost/keeper ] && break
		sleep 0.05
	done
	grep -qx ready /run/lsl-vmhost/keeper ||
		echo "vmhost: note: no idle VM to keep KVM's usage counts up ($(tail -n1 /run/lsl-vmhost/keeper)); wedges are more likely" >&2
}
if command -v python3 >/dev/null; then
	keeper_start
else
	echo "vmhost: note: no python3 for the idle VM that keeps KVM's usage counts up; wedges are more likely" >&2
fi
exec bash "$script" "${args[@]}" </dev/null
