#!/usr/bin/env bash
# The main job: install the default distribution (Debian, built with mmdebstrap from Debian's archive) with
# `lsl --install`, list it, and run a command in it (default: its name and `uname -a`, then the network:
# apt-get from Debian's archive in the guest and a guest server reached on the host's localhost,
# scripts/net-demo.sh; then host files: make in a host project directory, scripts/files-demo.sh). The VM
# starts by itself on first use. Where this machine's KVM cannot run standard guests, the same job runs
# inside the emulated KVM host, given a user-mode network for it (the root filesystem is built here first,
# into lsl's download cache, which the emulated host sees read-only), and the VM is shut down at the end.
set -euo pipefail
source "$(dirname "$0")/env.sh" build
lsl=$LSL_BUILD/cli/lsl
demo=0
[ $# -gt 0 ] || { set -- sh -c '. /etc/os-release && echo "$PRETTY_NAME" && uname -a'; demo=1; }
job() { # the same steps wherever they run
	printf 'lsl --list --quiet | grep -qix debian || lsl --install debian --no-launch || exit\n'
	printf 'lsl --list --verbose\n'
	printf 'lsl -d debian -e '
	printf '%q ' "$@"
	printf '|| exit\n'
	[ $demo = 0 ] || printf 'bash %q %q debian || exit\n' "$LSL_ROOT/scripts/net-demo.sh" "$lsl"
	[ $demo = 0 ] || printf 'bash %q %q debian\n' "$LSL_ROOT/scripts/files-demo.sh" "$lsl"
}
if bash "$LSL_ROOT/scripts/kvm-usable.sh"; then
	lsl() { "$lsl" "$@"; }
	eval "$(job "$@")"
	exit
fi
bash "$LSL_ROOT/scripts/kvm-usable.sh" -v || true
cache=${XDG_CACHE_HOME:-$HOME/.cache}
XDG_CACHE_HOME=$cache "$lsl" --install debian --download-only >/dev/null
script=$LSL_BUILD/run-job.sh
{
	# One vCPU: the emulated host has one CPU (tests/vmhost/vmhost.sh says why); a second would only share it.
	echo 'export XDG_RUNTIME_DIR=/tmp/lsl-run HOME=/tmp/lsl-home LSL_VM_CPUS=1'
	printf 'export XDG_CACHE_HOME=%q LSL_KERNEL=%q\n' "$cache" "$LSL_KERNEL_DIR/vmlinux"
	echo 'mkdir -p "$XDG_RUNTIME_DIR" "$HOME"'
	printf 'lsl() { %q "$@"; }\n' "$lsl"
	job "$@"
	echo 'rc=$?'
	echo 'lsl --shutdown'
	echo 'exit $rc'
} >"$script"
net=()
[ $demo = 0 ] || net=(--net)
exec bash "$LSL_ROOT/tests/vmhost/vmhost.sh" --rw "$LSL_ROOT" "${net[@]}" "$script"
