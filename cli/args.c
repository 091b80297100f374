/* wsl.exe-compatible argument parsing for lsl. */
#include "args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"

void lsl_usage(FILE *f)
{
    fprintf(f,
            "usage: lsl [options] [COMMAND LINE]\n"
            "       lsl [options] -- COMMAND [ARG...]\n"
            "Runs Linux commands in the lsl VM, which starts on first use and stops when idle.\n\n"
            "  (no command)             the default user's login shell\n"
            "  COMMAND LINE             run through the user's shell, like `wsl ls -la | wc`\n"
            "  -e, --exec CMD [ARG...]  run CMD directly, without a shell (same as `-- CMD ARG...`)\n"
            "  -d, --distribution NAME  the distribution to use\n"
            "  -u, --user USER          run as USER (default: the distribution's default user)\n"
            "      --cd DIR             working directory (~ is the Linux home)\n"
            "      --shutdown           stop the VM and everything running in it\n"
            "      --status             VM state, uptime, memory, vCPUs and sessions\n"
            "      --version, --help\n\n"
            "Each of stdin, stdout and stderr is a pseudo-terminal in the VM when it is a terminal here, a pipe\n"
            "otherwise. Variables named in LSLENV (colon-separated) are passed through, as WSLENV does.\n"
            "Exit status: the command's (128+N if killed by signal N); %d when lsl itself fails.\n",
            LSL_EXIT_FAILURE);
}

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Options that take a value, in both spellings. */
static const char *value_of(int argc, char **argv, int *i, const char *s, const char *l)
{
    const char *arg = argv[*i];
    size_t ll = strlen(l);
    if (strcmp(arg, s) == 0 || strcmp(arg, l) == 0) {
        if (*i + 1 >= argc)
            return NULL;
        return argv[++*i];
    }
    if (strncmp(arg, l, ll) == 0 && arg[ll] == '=')
        return arg + ll + 1;
    return NULL;
}

static bool is_opt(const char *arg, const char *s, const char *l)
{
    size_t ll = strlen(l);
    return strcmp(arg, s) == 0 || strcmp(arg, l) == 0 || (strncmp(arg, l, ll) == 0 && arg[ll] == '=');
}

static char *join(int argc, char **argv)
{
    size_t len = 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = malloc(len), *p = s;
    if (!s)
        return NULL;
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        memcpy(p, argv[i], n);
        p += n;
        *p++ = ' ';
    }
    p[argc ? -1 : 0] = '\0';
    return s;
}

int lsl_args_parse(int argc, char **argv, struct lsl_args *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    a->action = LSL_ACT_LOGIN;
    err[0] = '\0';
    int i = 1;
    for (; i < argc; i++) {
        const char *arg = argv[i], *v;
        if (strcmp(arg, "--") == 0 || strcmp(arg, "-e") == 0 || strcmp(arg, "--exec") == 0) {
            if (i + 1 >= argc)
                return fail(err, errlen, "%s needs a command", arg);
            a->action = LSL_ACT_EXEC;
            a->argv = &argv[i + 1];
            return 0;
        } else if (is_opt(arg, "-d", "--distribution")) {
            if (!(v = value_of(argc, argv, &i, "-d", "--distribution")) || !*v)
                return fail(err, errlen, "%s needs a distribution name", arg);
            a->distro = v;
        } else if (is_opt(arg, "-u", "--user")) {
            if (!(v = value_of(argc, argv, &i, "-u", "--user")) || !*v)
                return fail(err, errlen, "%s needs a user name", arg);
            a->user = v;
        } else if (is_opt(arg, "--cd", "--cd")) {
            if (!(v = value_of(argc, argv, &i, "--cd", "--cd")) || !*v)
                return fail(err, errlen, "--cd needs a directory");
            a->cd = v;
        } else if (strcmp(arg, "--shutdown") == 0) {
            a->action = LSL_ACT_SHUTDOWN;
        } else if (strcmp(arg, "--status") == 0) {
            a->action = LSL_ACT_STATUS;
        } else if (strcmp(arg, "--version") == 0 || strcmp(arg, "-v") == 0) {
            a->action = LSL_ACT_VERSION;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "-?") == 0) {
            a->action = LSL_ACT_HELP;
        } else if (arg[0] == '-' && arg[1]) {
            return fail(err, errlen, "unknown option '%s' (see lsl --help)", arg);
        } else {
            break; /* the command line starts here */
        }
    }
    if (i < argc) {
        if (a->action != LSL_ACT_LOGIN)
            return fail(err, errlen, "'%s' cannot be combined with a command", argv[i - 1]);
        a->action = LSL_ACT_SHELL;
        a->shell_line = join(argc - i, &argv[i]);
        if (!a->shell_line)
            return -ENOMEM;
    }
    return 0;
}

void lsl_args_free(struct lsl_args *a)
{
    free(a->shell_line);
    a->shell_line = NULL;
}
