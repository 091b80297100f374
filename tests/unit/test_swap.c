/* lsl-init's swap header (guest/init/swap.c) against mkswap's: the same page but for mkswap's random uuid. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "swap.h"

#define UUID_AT  1036 /* sws_uuid[16], after version, last_page and nr_badpages */
#define UUID_LEN 16

int main(void)
{
    uint8_t ours[LSL_SWAP_PAGE], theirs[LSL_SWAP_PAGE];
    CHECK_EQ(lsl_swap_header(ours, 9 * LSL_SWAP_PAGE + 4095), -EINVAL);
    CHECK_EQ(lsl_swap_header(ours, 10 * LSL_SWAP_PAGE), 0);
    CHECK(memcmp(ours + LSL_SWAP_PAGE - 10, "SWAPSPACE2", 10) == 0);
    CHECK(ours[1028] == 9 && ours[1029] == 0); /* last_page: the last usable page's index */
    /* A size off the page grid: the partial page is not counted, as mkswap does. */
    CHECK_EQ(lsl_swap_header(ours, (64ull << 20) + 4095), 0);

    char path[] = "/tmp/lsl-swap-test.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && ftruncate(fd, (64 << 20) + 4095) == 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "PATH=$PATH:/sbin:/usr/sbin mkswap -q %s >/dev/null 2>&1", path);
    if (system(cmd) != 0) {
        printf("mkswap not found: header compared field by field only\n");
        CHECK(ours[1024] == 1 && ours[1028] == 0xff && ours[1029] == 0x3f); /* version 1, 16383 */
    } else {
        CHECK(pread(fd, theirs, sizeof(theirs), 0) == (ssize_t)sizeof(theirs));
        memset(theirs + UUID_AT, 0, UUID_LEN);
        CHECK(memcmp(ours, theirs, sizeof(ours)) == 0);
    }
    close(fd);
    unlink(path);
    return CHECK_DONE();
}
