/* See catalog_source.h. */
#include "catalog_source.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "exitcodes.h"
#include "log.h"
#include "macro.h"

extern const char lsl_builtin_catalog[];

int lsl_fetch(const char *url, const char *dest, const char *sha256)
{
    char helper[PATH_MAX];
    if (lsl_own_path(LSL_OWN_FETCH, helper, sizeof(helper)) < 0)
        return LSL_EXIT_FAILURE;
    pid_t pid = fork();
    if (pid < 0)
        return log_errno(errno, "fork"), LSL_EXIT_FAILURE;
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        execl(helper, "lsl-fetch", url, dest, sha256, (char *)NULL);
        fprintf(stderr, "lsl: cannot run %s: %s\n", helper, strerror(errno));
        _exit(LSL_EXIT_FAILURE);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return LSL_EXIT_FAILURE;
    return WIFEXITED(st) ? WEXITSTATUS(st) : LSL_EXIT_FAILURE;
}

int lsl_catalog_load_configured(const struct lsl_paths *p, struct lsl_catalog *cat)
{
    _cleanup_(lsl_config_freep) struct lsl_config c = {0};
    char err[512] = "";
    lsl_config_load_user(&c);
    int r;
    if (!c.catalog) {
        r = lsl_catalog_parse(cat, lsl_builtin_catalog, "the built-in catalog", err, sizeof(err));
    } else if (strstr(c.catalog, "://")) {
        char path[PATH_MAX];
        r = lsl_path_fmt(path, sizeof(path), "%s/catalog.json", p->runtime);
        if (r == 0) {
            unlink(path);
            r = lsl_fetch(c.catalog, path, NULL) == 0 ? lsl_catalog_load_file(cat, path, err, sizeof(err))
                                                      : -EIO;
        } else {
            snprintf(err, sizeof(err), "the runtime directory's path is too long");
        }
    } else {
        r = lsl_catalog_load_file(cat, c.catalog, err, sizeof(err));
    }
    if (r < 0 && err[0])
        log_error("the distribution catalog %s: %s", c.catalog ? c.catalog : "(built in)", err);
    return r < 0 ? LSL_EXIT_FAILURE : 0;
}
