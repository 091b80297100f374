/* lsl-fetch: the download helper of `lsl --install`, a program of its own so that lsl, which starts for every
 * command, never loads libcurl, OpenSSL and their ~30 shared libraries (a third of a warm `lsl -- true` in
 * the emulated KVM host).
 *   lsl-fetch URL DEST [SHA256]   exit 0: DEST is complete (and verified when SHA256 is given; an existing
 *                                 DEST with that sum is kept without downloading); 6: sha256 mismatch;
 *                                 7: the transfer failed (DEST.partial is kept for resume); 2: bad usage;
 *                                 1: a local error. One error line on stderr, a progress bar on a terminal.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "download.h"
#include "exitcodes.h"

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: lsl-fetch URL DEST [SHA256]\n");
        return LSL_EXIT_USAGE;
    }
    const char *url = argv[1], *dest = argv[2], *sum = argc == 4 ? argv[3] : NULL;
    char have[65], err[512];
    if (sum && access(dest, R_OK) == 0 && lsl_sha256_file(dest, have) == 0 && strcasecmp(have, sum) == 0)
        return 0;
    int r = lsl_download(url, dest, sum, isatty(2), err, sizeof(err));
    if (r == 0)
        return 0;
    fprintf(stderr, "lsl: cannot download %s: %s\n", url, err);
    return r == -EBADMSG  ? LSL_EXIT_CHECKSUM
           : r == -EIO    ? LSL_EXIT_DOWNLOAD
           : r == -EINVAL ? LSL_EXIT_USAGE
                          : 1;
}
