/* 16550A UART on COM1: the guest console, output only, copied to a log file and (on request) to stdout. */
#ifndef LSL_SERIAL_H
#define LSL_SERIAL_H

#include "../core/vm.h"

/* log_fd / out_fd may be -1. */
int serial_create(struct vm *vm, int log_fd, int out_fd);
/* Writes out whatever partial line is buffered (at exit). */
void serial_flush(struct serial *s);

#endif
