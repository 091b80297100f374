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
exec bash "$script" "${args[@]}" </dev/null
