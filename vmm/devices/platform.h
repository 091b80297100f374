/* Fixed-function ports of the lsl machine: ACPI PM1 (poweroff), ACPI reset, the i8042 reset line, and
 * lsl-init's exit-status port. */
#ifndef LSL_PLATFORM_H
#define LSL_PLATFORM_H

#include "../core/vm.h"

int platform_create(struct vm *vm);

#endif
