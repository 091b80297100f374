#!/usr/bin/env bash
# The main job: run a command through lsl, which starts the per-user VM service on first use (kernel, lsl-init
# agent, the built root disk). Where this machine's KVM cannot run standard guests, the same job runs inside
# the emulated KVM host, and the VM is shut down at the end (it cannot outlive the emulated host).
set -euo pipefail
source "$(dirname "$0")/env.sh" build
lsl=$LSL_BUILD/cli/lsl
if bash "$LSL_ROOT/scripts/kvm-usable.sh"; then
	exec "$lsl" -- "$@"
fi
bash "$LSL_ROOT/scripts/kvm-usable.sh" -v || true
script=$LSL_BUILD/run-job.sh
{
	echo 'export XDG_RUNTIME_DIR=/tmp/lsl-run HOME=/tmp/lsl-home'
	printf 'export LSL_KERNEL=%q\n' "$LSL_KERNEL_DIR/vmlinux"
	echo 'mkdir -p "$XDG_RUNTIME_DIR" "$HOME"'
	printf '%q -- ' "$lsl"
	printf '%q ' "$@"
	echo
	echo 'rc=$?'
	printf '%q --shutdown\n' "$lsl"
	echo 'exit $rc'
} >"$script"
exec bash "$LSL_ROOT/tests/vmhost/vmhost.sh" --rw "$LSL_ROOT" "$script"
