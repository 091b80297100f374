/* One agent session (proto/agent.h) over a connected stream, independent of the transport: the vsock
 * listener in lsl-init runs it in a child per connection, the unit tests over a socketpair. */
#ifndef LSL_AGENT_SESSION_H
#define LSL_AGENT_SESSION_H

/* Serves fd to completion: HELLO, one EXEC, the relay, EXIT; closes fd. home is the distribution this
 * process already runs in (its own agent's session), or NULL for the system root, where an EXEC naming a
 * distribution joins it first. Meant for a process of its own:
 * it blocks SIGCHLD (taken through a signalfd) and ignores SIGPIPE while it runs. Errors are reported to
 * the client as ERROR frames, not logged: lsl-vmm copies console errors to the user's terminal. If the
 * client goes away before EXIT, the command's process group gets SIGHUP, then SIGKILL after a grace
 * period, and is reaped. Returns 0 when the session ended as the protocol intends (EXIT sent, or ERROR for
 * a command that could not start), -EPROTO after a protocol violation by the client, -ECONNRESET when it
 * went away, or another -errno for a local failure. */
int agent_session_run(int fd, const char *home);

#endif
