/* Running the lsl.cmd= command as PID 1's child and reaping everything until it exits. */
#ifndef LSL_INIT_RUN_H
#define LSL_INIT_RUN_H

#include <signal.h>

/* Fills set with the signals PID 1 keeps blocked and takes with sigwaitinfo(): SIGCHLD, and the shutdown
 * requests busybox's halt/poweroff/reboot send (SIGUSR1, SIGUSR2, SIGTERM) plus SIGINT and SIGPWR. */
void lsl_signals_init_set(sigset_t *set);

/* Blocks that set in PID 1; done first thing, so that no request is lost. Returns 0 or -errno (logged). */
int lsl_signals_block(void);

/* Forks and execs argv (via PATH) in a new session on the console with a clean environment, then reaps
 * every child until that one exits. Returns the status to report: its exit code, 128+N if killed by
 * signal N, LSL_INIT_EXIT_NOTFOUND/NOEXEC if it could not be executed, LSL_INIT_EXIT_SETUP if it could
 * not be started, and 0 if a shutdown was requested (e.g. "poweroff" in a shell) while it ran. */
int lsl_run_command(char *const argv[]);

#endif
