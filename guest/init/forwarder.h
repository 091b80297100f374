/* The guest's end of localhost forwarding (proto/fwd.h): one process beside PID 1's agent that tells the
 * service which ports listen in the VM's network namespace and, for each connection the host accepted on
 * one of them, connects to the guest's loopback and relays. */
#ifndef LSL_INIT_FORWARDER_H
#define LSL_INIT_FORWARDER_H

#include <sys/types.h>

/* Forks the forwarder (listening on vsock LSL_FWD_PORT). Returns its PID or -errno (logged). */
pid_t lsl_fwd_start(void);

#endif
