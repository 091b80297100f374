/* Localhost forwarding, the service's end (proto/fwd.h): a watch stream to the guest's forwarder learns which
 * ports listen in the guest; each becomes a host socket on 127.0.0.1 or ::1 at the same port, and every
 * connection (TCP) or peer (UDP) the host socket takes is relayed over a vsock stream of its own.
 *
 * Why a vsock relay and not libslirp's host forwarding: slirp's hostfwd delivers to the guest's eth0
 * address, so a guest server on 127.0.0.1 or ::1 (the usual default of development servers) cannot be
 * reached that way at all, and each forward would be a rule added on the net device's thread. The relay
 * connects inside the guest to its own loopback, so every listener works, and it rides the vsock device the
 * sessions already use; measured in bench/fwdbench.py (setup latency and throughput beside ssh-style
 * numbers), it is the one path that meets the bound for every kind of listener.
 *
 * Everything runs on the VMM's I/O loop, non-blocking; every buffer is bounded (proto/fwd_pump.h), and a
 * guest that breaks the protocol loses that stream only. */
#ifndef LSL_SERVICE_FWD_H
#define LSL_SERVICE_FWD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fwd.h"

struct fwd;
struct evloop;

/* vsock_path: the VMM's hybrid-vsock socket; socks: socket forwarding's host paths; fds (nfds of them): their
 * listeners handed over by lsl-wake (proto/wake.h), each taken. Returns 0 or -errno (logged). */
int fwd_create(struct evloop *loop, const char *vsock_path, const struct lsl_fwd_policy *policy,
               const struct lsl_fwd_socks *socks, const int *fds, size_t nfds, struct fwd **out);
void fwd_free(struct fwd *f);
/* The service's tick: opens the watch once the guest is up (again after it broke), tells the guest the pace
 * (busy: sessions are open), retries host ports that were taken, ends idle UDP flows. */
void fwd_tick(struct fwd *f, uint64_t now_ns, bool guest_up, bool busy);
/* The status reply's forwards and sockets lines (proto/control.h LSL_CTL_KEY_FORWARDS, _SOCKETS). */
void fwd_status(const struct fwd *f, FILE *out);
void fwd_socks_status(const struct fwd *f, FILE *out);
/* Asks the guest whether the forwarded sockets' guest ends are there, for the next status line. */
void fwd_socks_check(struct fwd *f);
/* The host connections to forwarded sockets open now (a host `docker build` or `docker logs -f` uses the VM
 * as a session does). */
unsigned fwd_unix_relays(const struct fwd *f);
/* The socket listeners there are (bound, or handed over and not yet served), at most max, still ours; then
 * fwd_socks_forget closes our copies once lsl-wake has them: their paths stay, and nothing binds again. */
size_t fwd_socks_listeners(const struct fwd *f, int *fds, size_t max);
void fwd_socks_forget(struct fwd *f);

#endif
