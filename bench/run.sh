#!/usr/bin/env bash
# `make bench`: the benchmarks, each printing a table against its peer. Runs in the emulated KVM host when
# this machine's KVM cannot run standard guests (absolute times are then ~10x slower; the ratios still hold).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/env.sh" "${1:-build}"
runs=${LSL_BENCH_RUNS:-10}
job=$LSL_BUILD/bench-job.sh
cat >"$job" <<JOB
set -e
echo "== boot"
python3 "$root/bench/bootbench.py" --vmm "$LSL_VMM" --kernel "$LSL_KERNEL_DIR/vmlinux" --initrd "$LSL_INITRD" \
  --memory 512 --cpus 1 --runs $runs
JOB
if bash "$root/scripts/kvm-usable.sh" -v; then
	bash "$job"
else
	bash "$root/tests/vmhost/vmhost.sh" --rw "$root" "$job"
fi
