/* Downloads with libcurl into DEST.partial (resumed on the next try), verified by sha256 before the atomic
 * rename to DEST. http, https and file URLs. */
#ifndef LSL_CLI_DOWNLOAD_H
#define LSL_CLI_DOWNLOAD_H

#include <stdbool.h>
#include <stddef.h>

/* Fetches url to dest. sha256_hex (64 hex digits, any case) is required unless NULL is passed on purpose (no
 * verification). progress draws a one-line bar on stderr (pass isatty(2)). Returns:
 *   0        dest is complete and verified;
 *   -EBADMSG the checksum did not match: "sha256 mismatch: expected X, got Y" in err, nothing left behind;
 *   -EIO     the transfer failed (network, HTTP >= 400): curl's reason in err; dest.partial is kept for
 * resume; -EINVAL  a malformed sha256_hex; other -errno for local file errors (reason in err). Nothing is
 * printed besides the bar. */
int lsl_download(const char *url, const char *dest, const char *sha256_hex, bool progress, char *err,
                 size_t errlen);
/* sha256 of a file as 64 lowercase hex digits. Returns 0 or -errno. */
int lsl_sha256_file(const char *path, char hex_out[65]);

#endif
