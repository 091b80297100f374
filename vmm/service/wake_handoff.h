/* The idle stop's hand-over of the forwarded sockets' listeners to lsl-wake (proto/wake.h). */
#ifndef LSL_SERVICE_WAKE_HANDOFF_H
#define LSL_SERVICE_WAKE_HANDOFF_H

#include <stddef.h>

/* Makes DIR's wake socket and starts program with it and the n listeners fds (our copies stay ours: the
 * caller closes them once this succeeded) and the distributions to start again (resume, nresume names).
 * Returns 0, or -errno (logged) with nothing started and the wake socket gone. */
int wake_handoff(const char *dir, const char *program, const int *fds, size_t n, const char *const *resume,
                 size_t nresume);

#endif
