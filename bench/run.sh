#!/usr/bin/env bash
# `make bench`: the benchmarks, each printing a table against its peer. Runs in the emulated KVM host when
# this machine's KVM cannot run standard guests (absolute times are then ~10x slower; the ratios still hold).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/env.sh" "${1:-build}"
runs=${LSL_BENCH_RUNS:-10}
job=$LSL_BUILD/bench-job.sh
# The session benchmark's ssh ProxyCommand, built here: it is a bench tool, not part of lsl.
mkdir -p "$LSL_BUILD/bench"
cc -std=gnu17 -O2 -Wall -Wextra -Werror -o "$LSL_BUILD/bench/vsock-proxy" "$root/bench/vsock-proxy.c"
cat >"$job" <<JOB
set -e
echo "== boot"
python3 "$root/bench/bootbench.py" --vmm "$LSL_VMM" --kernel "$LSL_KERNEL_DIR/vmlinux" --initrd "$LSL_INITRD" \
  --memory 512 --cpus 1 --runs $runs
echo
echo "== sessions"
# Scratch HOME and runtime dir: lsl's service must not meet the user's VM (the benchmarks also give lsl their own
# state dirs and distributions).
export HOME=/tmp/lsl-bench-home XDG_RUNTIME_DIR=/tmp/lsl-bench-rt LSL_KERNEL="$LSL_KERNEL_DIR/vmlinux"
mkdir -p "\$HOME" "\$XDG_RUNTIME_DIR"
python3 "$root/bench/sessionbench.py" --lsl "$LSL_BUILD/cli/lsl" --vsock-tool "$LSL_BUILD/tests/vsock-tool" \
  --proxy "$LSL_BUILD/bench/vsock-proxy" --cold-runs ${LSL_BENCH_COLD_RUNS:-5} --warm-runs ${LSL_BENCH_WARM_RUNS:-50}
echo
echo "== distributions"
python3 "$root/bench/distrobench.py" --lsl "$LSL_BUILD/cli/lsl" --runs ${LSL_BENCH_IMPORT_RUNS:-3}
JOB
if bash "$root/scripts/kvm-usable.sh" -v; then
	bash "$job"
else
	bash "$root/tests/vmhost/vmhost.sh" --rw "$root" "$job"
fi
