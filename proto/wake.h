/* Forwarded sockets that outlive the VM (socket wake): when the service stops the VM for being idle, the
 * host paths of ~/.lslconfig's socketForwarding (Docker's socket) stay, and a connection to one starts the
 * VM again, as Docker Desktop's resource saver does. The listening sockets themselves go from process to
 * process, so a client that connects while the VM stops or starts waits in the listener's backlog and is
 * served, never refused:
 *
 *   lsl-vmm (idle stop) --fds--> lsl-wake (waits) --fds over LSL_WAKE_SOCKET--> lsl (starts lsl-vmm) --fds-->
 *   lsl-vmm (--socket-fd N; serves the backlog once the guest is up)
 *
 * lsl-vmm makes the wake socket itself (before the guest powers off) and hands it to lsl-wake with the
 * listeners, so that it exists as long as they wait. Whoever starts the service next (an lsl a user typed,
 * or lsl-wake's own starter once a client connects) connects to it and sends LSL_WAKE_TAKE; lsl-wake
 * answers with each listener, one byte LSL_WAKE_FD with the fd beside it (SCM_RIGHTS), then LSL_WAKE_END,
 * closes its copies and then the connection (so the taker's end of file means the listeners are its alone),
 * and exits, whether the taker read it all or not (two holders would compete for the clients). LSL_WAKE_LIST
 * (lsl --status while the VM is down) is answered with the host paths, one per line, and nothing changes. lsl
 * --shutdown takes the listeners and closes them: nothing waits after it. Host-only: lsl, lsl-wake and
 * lsl-vmm. */
#ifndef LSL_PROTO_WAKE_H
#define LSL_PROTO_WAKE_H

#define LSL_WAKE_SOCKET "wake" /* in the runtime directory, mode 0600 */
#define LSL_WAKE_TAKE   'T'
#define LSL_WAKE_LIST   'L'
#define LSL_WAKE_FD     'F'
#define LSL_WAKE_END    'E'
/* A client waits this long for lsl-wake's answer (it may still be starting when the old service exits). */
#define LSL_WAKE_ANSWER_MS 5000
/* lsl-wake's options, as lsl-vmm starts it: the wake socket, each listener, each distribution that ran at
 * the idle stop (its starter starts them again: the one whose socket the client wanted is among them). */
#define LSL_WAKE_OPT_WAKE   "--wake-fd"
#define LSL_WAKE_OPT_SOCKET "--socket-fd"
#define LSL_WAKE_OPT_RESUME "--resume"
#define LSL_WAKE_RESUME_MAX 64 /* --resume names at most */

#endif
