/* Agent listeners: PID 1 serves the system root on LSL_AGENT_PORT (lsl.agent=1), each distribution's PID 1
 * serves that distribution on its own port. */
#ifndef LSL_INIT_AGENT_LISTEN_H
#define LSL_INIT_AGENT_LISTEN_H

#include <signal.h>

/* A non-blocking AF_VSOCK listener on port, or -errno (logged). */
int lsl_agent_listen(unsigned port);

/* Serves listener until a signal of stop arrives, and returns that signal's number (or -errno when the
 * loop itself fails, logged). Each connection is served by agent_session_run(conn, home) in a process of
 * its own, forked ahead of time: a spare process waits in accept(), and the next spare is forked while
 * the first one's session runs, so no fork stands between a client and its command. Every child is reaped
 * meanwhile (the caller is an init). Expects SIGCHLD and stop to be blocked; the sessions get an empty
 * signal mask. */
int lsl_agent_serve_on(int listener, const char *home, const sigset_t *stop);

/* PID 1's agent: LSL_AGENT_PORT, the system root, until a shutdown request (SIGTERM, SIGINT, SIGPWR,
 * SIGUSR1, SIGUSR2, e.g. from "poweroff"). Expects the lsl_signals_block() set to be blocked. Returns the
 * status to power off with: 0 on request, LSL_INIT_EXIT_SETUP when the listener cannot be set up. */
int lsl_agent_serve(void);

#endif
