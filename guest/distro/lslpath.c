/* lslpath, WSL's wslpath for lsl's host shares: the same binary as lsl-init, called by that name (a
 * distribution's /usr/bin/lslpath links to its copy in /run/lsl). It reads the map its init wrote
 * (proto/hostshare.h) and translates lexically, as wslpath does. */
#include "lslpath.h"

#include "fileio.h"
#include "hostshare.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage(void)
{
    fprintf(stderr, "usage: lslpath [-a] [-u | -w] PATH\n"
                    "  -u  a host path to its path here (the default)\n"
                    "  -w  a path here to the host's path\n"
                    "  -a  a relative PATH is made absolute from the current directory first\n");
    return 2;
}

int lsl_lslpath_main(int argc, char **argv)
{
    char root[LSL_HOSTSHARE_PATH_MAX], joined[PATH_MAX * 2], cwd[PATH_MAX], out[LSL_HOSTSHARE_PATH_MAX];
    struct lsl_hostshares shares;
    bool to_host = false, absolute = false;
    char *map = NULL;
    const char *path;
    int opt, r;

    while ((opt = getopt(argc, argv, "auw")) != -1) {
        if (opt == 'a')
            absolute = true;
        else if (opt == 'u' || opt == 'w')
            to_host = opt == 'w';
        else
            return usage();
    }
    if (optind != argc - 1 || !argv[optind][0])
        return usage();
    path = argv[optind];
    if (path[0] != '/') {
        /* A relative path means the same on both sides; only -a turns it into this side's absolute one. */
        if (!absolute) {
            puts(path);
            return 0;
        }
        if (!getcwd(cwd, sizeof(cwd))) {
            fprintf(stderr, "lslpath: the current directory: %s\n", strerror(errno));
            return 1;
        }
        snprintf(joined, sizeof(joined), "%s/%s", cwd, path);
        if (!to_host) {
            r = lsl_path_normalize(joined, out, sizeof(out));
            if (r < 0) {
                fprintf(stderr, "lslpath: %s: %s\n", path, strerror(-r));
                return 1;
            }
            puts(out);
            return 0;
        }
        path = joined;
    }
    if (lsl_read_file(LSL_HOSTSHARE_MAP, &map) < 0 || lsl_hostshare_map_parse(map, root, &shares) < 0) {
        free(map);
        fprintf(stderr, "lslpath: no host share is mounted here ([automount] in /etc/wsl.conf)\n");
        return 1;
    }
    free(map);
    r = to_host ? lsl_hostshare_to_host(&shares, root, path, out, sizeof(out))
                : lsl_hostshare_to_guest(&shares, root, path, out, sizeof(out));
    if (r == 1) {
        puts(out);
        return 0;
    }
    if (r == 0)
        fprintf(stderr, "lslpath: %s: not %s\n", argv[optind],
                to_host ? "under a host share's mount point" : "in a host share");
    else
        fprintf(stderr, "lslpath: %s: %s\n", argv[optind], strerror(-r));
    return 1;
}
