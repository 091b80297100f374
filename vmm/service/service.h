/* Service mode of lsl-vmm: the per-user background VM. It owns the VM's life beyond the guest: the control
 * socket (control.c), the idle stop, the clock push after the host slept, and the errands it sends the
 * guest's agent (orderly poweroff, clock). Built on top of a created VM, which knows nothing of it. */
#ifndef LSL_SERVICE_H
#define LSL_SERVICE_H

#include <stdint.h>
#include <stdio.h>

#include "../core/vm.h"

struct service;
struct lsl_ctl_request;

/* Listens on DIR/control (mode 0600) and starts the 1 s tick. idle_timeout_s < 0 disables the idle stop.
 * The service is freed with the VM. */
int service_create(struct vm *vm, const char *dir, int idle_timeout_s);

/* For control.c: serves one parsed request, writing the whole reply to out. */
void service_request(struct service *s, const struct lsl_ctl_request *r, FILE *out);

/* control.c: the socket's clients, served without ever blocking the I/O thread. */
struct control;
int control_create(struct vm *vm, struct service *s, const char *path, struct control **out);
/* Drops clients that have not sent their line by their deadline. */
void control_tick(struct control *c, uint64_t now);
void control_free(struct control *c);

#endif
