/* swap= in ~/.lslconfig: the guest swaps to a host file the VMM gives it as a disk (lsl.swap=). */
#ifndef LSL_INIT_SWAP_H
#define LSL_INIT_SWAP_H

#include <stdint.h>

#define LSL_SWAP_PAGE 4096

/* Fills page (LSL_SWAP_PAGE bytes) with a version-1 swap header for a device of size bytes, as mkswap
 * writes it. Returns 0, or -EINVAL when size holds fewer than 10 pages. */
int lsl_swap_header(uint8_t *page, uint64_t size);

/* Makes the block device dev a fresh swap area and swaps to it, discarding what it frees (the host file
 * gets the space back). Returns 0 or -errno (logged); the guest runs on without swap then. */
int lsl_swap_start(const char *dev);

#endif
