/* Service mode of lsl-vmm: the per-user background VM. It owns the VM's life beyond the guest: the control
 * socket (control.c), the idle stop (idle.h decides), the clock push after the host slept, and the errands it
 * sends the guest's agent (orderly poweroff, clock, what sessions left running). Built on top of a created
 * VM, which knows nothing of it. */
#ifndef LSL_SERVICE_H
#define LSL_SERVICE_H

#include <stdint.h>
#include <stdio.h>

#include "../core/vm.h"

struct service;
struct lsl_ctl_request;

/* Listens on o->service's DIR/control (mode 0600) and starts the 1 s tick; the service options of o
 * (options.h: the idle timeout, < 0 never; localhost forwarding and socket forwarding with the listeners
 * handed over; interop; lsl-wake) are read here, the fds taken. The service is freed with the VM. */
struct vmm_options;
int service_create(struct vm *vm, const struct vmm_options *o);

/* control.c: the socket's clients, served on the loop without ever blocking it. Each request line, parsed,
 * goes to serve(opaque, request, out), which writes the whole reply to out (the service's requests; a unit
 * test's stand-ins). Listens on path (mode 0600); errors are logged. On failure *out may be set: free it. */
struct control;
struct evloop;
typedef void (*control_serve_fn)(void *opaque, const struct lsl_ctl_request *r, FILE *out);
int control_create(struct evloop *loop, const char *path, control_serve_fn serve, void *opaque,
                   struct control **out);
/* Drops clients that have not sent their line, or taken any of their reply, by their deadline. */
void control_tick(struct control *c, uint64_t now);
void control_free(struct control *c);

#endif
