/* virtio-rng: entropy for the guest from the host. */
#ifndef LSL_RNG_H
#define LSL_RNG_H

#include "../core/vm.h"

int rng_create(struct vm *vm);

#endif
