/* Sizes as users write them, for every host program: ~/.lslconfig's memory= and defaultVhdSize=,
 * --manage --resize, lsl-vmm --memory, LSL_VM_MEMORY. One rule everywhere, WSL's: a bare number is bytes. */
#ifndef LSL_UTIL_SIZE_H
#define LSL_UTIL_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* "256GB", "512M", "2 GiB", "1048576": B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB, case-insensitive, all
 * binary multiples as in WSL; a bare number is bytes. Returns 0, -EINVAL or -ERANGE. */
int parse_size(const char *s, uint64_t *bytes);
/* "1.5 GiB"-style rendering into buf; returns buf. */
const char *format_size(uint64_t bytes, char *buf, size_t len);

#endif
