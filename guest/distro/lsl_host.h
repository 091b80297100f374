/* Interop from a distribution: lsl-host runs a host command (proto/agent.h's LSL_INTEROP_PORT), xdg-open
 * opens a file or URL on the host's desktop. Both are the lsl-init binary called by that name, through links
 * its init makes to its copy in /run/lsl (as lslpath's). */
#ifndef LSL_DISTRO_LSL_HOST_H
#define LSL_DISTRO_LSL_HOST_H

#include <stdbool.h>

#define LSL_HOST_TOOL      "lsl-host"
#define LSL_HOST_OPEN_TOOL "xdg-open"

/* lsl-host CMD [ARG...]: CMD runs on the host as the host user, in the host directory of the current one
 * when that is on a host share (else the host home), with stdin, stdout, stderr, the terminal and signals
 * relayed; the variables WSLENV names go along (/p, /l mapped to host paths). Exits with CMD's status; 1
 * when the host would not or could not run it (one line), 2 for bad usage. */
int lsl_host_main(int argc, char **argv);
/* xdg-open FILE|URL: the host's xdg-open with FILE's host path (it must be on a host share) or the URL.
 * xdg-open's exit codes: 1 bad usage, 2 no such file, 4 the host could not open it. */
int lsl_host_open_main(int argc, char **argv);

/* In a distribution's init, with its root in place: LSL_INTEROP_FILE holds name when interop is on for it
 * (else it is removed), and /usr/bin/lsl-host and /usr/bin/xdg-open link to the copy lslpath's install
 * made, each unless the distribution has a file of that name (as /usr/bin/lslpath). */
void distro_interop_install(const char *name, bool on);

#endif
