/* Shutting the guest down: stop every process, leave the root disk clean, report the status, power off. */
#ifndef LSL_INIT_POWEROFF_H
#define LSL_INIT_POWEROFF_H

/* Never returns: PID 1 exiting would panic the kernel. status is reported through LSL_EXIT_PORT (0-255). */
_Noreturn void lsl_poweroff(int status);

#endif
