#!/usr/bin/env bash
# The main job for now: boot the lsl kernel with lsl-init and a small root disk, run a command, exit with
# its status. Where this machine's KVM cannot run standard guests, the same job runs in the emulated host.
set -euo pipefail
source "$(dirname "$0")/env.sh" build
disk=$LSL_BUILD/demo-root.img
[ -f "$disk" ] || bash "$LSL_ROOT/guest/mkdisk.sh" "$disk" 64 >/dev/null
job=(timeout 300 "$LSL_VMM" --kernel "$LSL_KERNEL_DIR/vmlinux" --initrd "$LSL_INITRD" --cpus 2 --memory 512M
     --disk "$disk,ro" --root /dev/vda --console-log "$LSL_BUILD/demo-console.log" --stats -- "$@")
if bash "$LSL_ROOT/scripts/kvm-usable.sh"; then
  # Kernel messages go to the log; the command's output comes back through the console.
  exec "${job[@]/--stats/--console}"
fi
bash "$LSL_ROOT/scripts/kvm-usable.sh" -v || true
script=$LSL_BUILD/run-job.sh
printf '%q ' "${job[@]/--stats/--console}" > "$script"
exec bash "$LSL_ROOT/tests/vmhost/vmhost.sh" --rw "$LSL_ROOT" "$script"
