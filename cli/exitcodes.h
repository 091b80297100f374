/* Exit codes of the lsl CLI that are its own, not the Linux command's. Like ssh, lsl uses 255 for its own
 * failures (cannot start the VM, lost the connection, bad arguments), so scripts can tell them apart. */
#ifndef LSL_CLI_EXITCODES_H
#define LSL_CLI_EXITCODES_H

#define LSL_EXIT_FAILURE 255

/* Management commands (--install, --import, ...) run no Linux command, so their failures get codes that say
 * what was wrong with the input. */
#define LSL_EXIT_USAGE       2 /* bad arguments to a management command */
#define LSL_EXIT_NOT_FOUND   3 /* no such distribution (registered or in the catalog) */
#define LSL_EXIT_EXISTS      4 /* the name is taken, or the target file or image exists */
#define LSL_EXIT_BAD_ARCHIVE 5 /* not a tar/.wsl archive, corrupt or truncated, or not an ext4 image */
#define LSL_EXIT_CHECKSUM    6 /* a download's sha256 does not match the catalog */
#define LSL_EXIT_DOWNLOAD    7 /* the download failed (network, HTTP error) */

#endif
