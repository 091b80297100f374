/* Exit codes of the lsl CLI that are its own, not the Linux command's. Like ssh, lsl uses 255 for its own
 * failures (cannot start the VM, lost the connection, bad arguments), so scripts can tell them apart. */
#ifndef LSL_CLI_EXITCODES_H
#define LSL_CLI_EXITCODES_H

#define LSL_EXIT_FAILURE 255

#endif
