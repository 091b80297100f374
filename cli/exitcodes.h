/* Exit codes of the lsl CLI that are its own, not the Linux command's. Like ssh, lsl uses 255 for its own
 * failures (cannot start the VM, lost the connection), so scripts can tell them apart; a command line lsl
 * cannot parse exits 2 before anything runs, like most Unix tools. */
#ifndef LSL_CLI_EXITCODES_H
#define LSL_CLI_EXITCODES_H

#define LSL_EXIT_FAILURE 255

/* Management commands (--install, --import, ...) run no Linux command, so their failures get codes that say
 * what was wrong with the input. */
#define LSL_EXIT_USAGE       2 /* bad arguments (any verb) */
#define LSL_EXIT_NOT_FOUND   3 /* no such distribution (registered or in the catalog), user or file */
#define LSL_EXIT_EXISTS      4 /* the name is taken, or the target file or image exists */
#define LSL_EXIT_BAD_ARCHIVE 5 /* not a tar/.wsl archive, corrupt or truncated, or not an ext4 image */
#define LSL_EXIT_CHECKSUM    6 /* a download's sha256 does not match the catalog */
#define LSL_EXIT_DOWNLOAD    7 /* the download failed (network, HTTP error) */
#define LSL_EXIT_BUSY        8 /* the distribution is being exported (or changed) by another lsl: try later */
#define LSL_EXIT_TOO_SMALL   9 /* --resize below what the distribution's files need */

/* --list --running with nothing running: 1, as wsl.exe's scripts expect (lsl's own codes start at 2). */
#define LSL_EXIT_NONE_RUNNING 1

#endif
