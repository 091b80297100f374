/* 16550A UART on COM1: the guest console, copied to a log file and (on request) to the terminal. */
#ifndef LSL_SERIAL_H
#define LSL_SERIAL_H

#include "../core/vm.h"

/* log_fd / out_fd may be -1. */
int serial_create(struct vm *vm, int log_fd, int out_fd);
/* Writes out whatever partial line is buffered (at exit). */
void serial_flush(struct serial *s);
/* Console input (from a terminal) for the guest to read. */
void serial_input(struct serial *s, const uint8_t *buf, size_t len);

#endif
