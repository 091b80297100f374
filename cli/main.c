/* lsl: run Linux commands in the per-user VM, with wsl.exe's habits. main parses the command line and hands
 * it to the verb's handler (cli/verbs/, one file per verb) through the table below. */
#include <errno.h>
#include <stdio.h>

#include "args.h"
#include "exitcodes.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "verbs/verbs.h"

#ifndef LSL_VERSION
#define LSL_VERSION "dev"
#endif

static int verb_help(const struct lsl_paths *p, struct lsl_args *a)
{
    (void)p, (void)a;
    lsl_usage(stdout);
    return 0;
}

static int verb_version(const struct lsl_paths *p, struct lsl_args *a)
{
    (void)p, (void)a;
    printf("lsl %s\n", LSL_VERSION);
    return 0;
}

static const struct {
    lsl_verb_fn *fn;
    bool paths; /* needs the runtime and state directories (made on the way) */
} verbs[] = {
    [LSL_ACT_LOGIN] = {lsl_verb_run, true},
    [LSL_ACT_SHELL] = {lsl_verb_run, true},
    [LSL_ACT_EXEC] = {lsl_verb_run, true},
    [LSL_ACT_SHUTDOWN] = {lsl_verb_shutdown, true},
    [LSL_ACT_STATUS] = {lsl_verb_status, true},
    [LSL_ACT_VERSION] = {verb_version, false},
    [LSL_ACT_HELP] = {verb_help, false},
    [LSL_ACT_INSTALL] = {lsl_verb_install, true},
    [LSL_ACT_IMPORT] = {lsl_verb_import, true},
    [LSL_ACT_EXPORT] = {lsl_verb_export, true},
    [LSL_ACT_UNREGISTER] = {lsl_verb_unregister, true},
    [LSL_ACT_SET_DEFAULT] = {lsl_verb_set_default, true},
    [LSL_ACT_LIST] = {lsl_verb_list, true},
    [LSL_ACT_TERMINATE] = {lsl_verb_terminate, true},
    [LSL_ACT_MANAGE] = {lsl_verb_manage, true},
    [LSL_ACT_SET_VERSION] = {lsl_verb_set_version, true},
};

int main(int argc, char **argv)
{
    struct lsl_args a;
    struct lsl_paths p;
    char err[256];
    log_init("lsl");
    int r = lsl_args_parse(argc, argv, &a, err, sizeof(err));
    if (r < 0 || (size_t)a.action >= ARRAY_SIZE(verbs) || !verbs[a.action].fn) {
        log_error("%s", r < 0 && !err[0] ? "out of memory" : r < 0 ? err : "internal error: no handler");
        lsl_args_free(&a);
        return r < 0 && r != -ENOMEM ? LSL_EXIT_USAGE : LSL_EXIT_FAILURE;
    }
    int code =
        verbs[a.action].paths && lsl_paths_init(&p) < 0 ? LSL_EXIT_FAILURE : verbs[a.action].fn(&p, &a);
    lsl_args_free(&a);
    return code;
}
