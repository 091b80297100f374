# Sourced by the run, test and bench scripts: where the built pieces are. Needs `make` to have run.
# shellcheck shell=bash
LSL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LSL_BUILD=$(cd "$LSL_ROOT/${1:-build}" && pwd)
LSL_KERNEL_DIR=$(bash "$LSL_ROOT/kernel/build.sh")
LSL_VMM=$LSL_BUILD/vmm/lsl-vmm
LSL_INITRD=$LSL_BUILD/guest/initramfs.cpio
export LSL_ROOT LSL_BUILD LSL_KERNEL_DIR LSL_VMM LSL_INITRD
