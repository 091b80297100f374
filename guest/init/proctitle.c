/* See proctitle.h. The kernel reads /proc/PID/cmdline from the memory between the first argument's start
 * and the last one's end, so writing there (NUL-padded) changes what ps prints. */
#include "proctitle.h"

#include <string.h>
#include <sys/prctl.h>

static char *area;
static size_t area_len;

void lsl_proctitle_init(int argc, char **argv)
{
    if (argc < 1 || !argv[0])
        return;
    /* Only the contiguous run of arguments, as the kernel laid them out. */
    char *end = argv[0] + strlen(argv[0]) + 1;
    for (int i = 1; i < argc && argv[i] == end; i++)
        end = argv[i] + strlen(argv[i]) + 1;
    area = argv[0];
    area_len = (size_t)(end - argv[0]);
}

void lsl_proctitle_set(const char *title)
{
    (void)prctl(PR_SET_NAME, title);
    if (!area || area_len < 2)
        return;
    memset(area, 0, area_len);
    strncpy(area, title, area_len - 1);
}
