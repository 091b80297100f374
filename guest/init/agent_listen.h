/* lsl.agent=1: PID 1 accepts agent sessions on vsock, one child process per connection. */
#ifndef LSL_INIT_AGENT_LISTEN_H
#define LSL_INIT_AGENT_LISTEN_H

/* Listens on AF_VSOCK port LSL_AGENT_PORT and forks a child running agent_session_run() for each
 * connection, reaping every process meanwhile, until a shutdown request (SIGTERM, SIGINT, SIGPWR, SIGUSR1,
 * SIGUSR2, e.g. from "poweroff"). Expects the lsl_signals_block() set to be blocked. Returns the status to
 * power off with: 0 on request, LSL_INIT_EXIT_SETUP when the listener cannot be set up (logged). */
int lsl_agent_serve(void);

#endif
