/* wsl.exe-compatible argument parsing for lsl. */
#include "args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "exitcodes.h"
#include "own_user.h"

void lsl_usage(FILE *f)
{
    fprintf(
        f,
        "usage: lsl [options] [--] [COMMAND LINE]\n"
        "       lsl [options] -e COMMAND [ARG...]\n"
        "Runs Linux commands in the lsl VM, which starts on first use and stops when idle.\n\n"
        "  (no command)             the default user's login shell\n"
        "  COMMAND LINE             its words joined with spaces (as ssh joins them) and run by the\n"
        "                           user's shell: lsl 'ls -la | wc -l', lsl -- 'exit 42'\n"
        "  --                       ends lsl's options: what follows is the command line, as above\n"
        "  -e, --exec CMD [ARG...]  run CMD directly with these arguments, no shell\n"
        "  -d, --distribution NAME  the distribution to use\n"
        "  -u, --user USER          run as USER (default: the distribution's default user)\n"
        "      --cd DIR             working directory (~ and ~/DIR: in the Linux home)\n"
        "      --shell-type standard|login|none\n"
        "                           the command line through the shell (standard), a login shell,\n"
        "                           or exec'd word by word without one (none)\n"
        "      --system             use the VM's system root instead of a distribution\n"
        "      --debug-shell        the same (wsl.exe's shell in its VM)\n"
        "      --shutdown [--force] stop the VM and everything running in it (--force: kill it at once)\n"
        "      --status [--json]    VM state, uptime, memory, vCPUs, and what keeps it from its idle\n"
        "                           stop (sessions, processes they left running) or when it comes\n"
        "      --version, --help\n\n"
        "Distributions:\n"
        "  --install [NAME] [--name X] [--location DIR] [--from-file FILE] [--no-launch] [--download-only]\n"
        "            [--user U | --no-user]\n"
        "                           install from the catalog (lsl --list --online) or a local file\n"
        "  --import NAME DIR FILE|- [--vhd] [--user U | --no-user]\n"
        "                           a tar, tar.gz, tar.xz, tar.zst or .wsl file (--vhd: an ext4 image)\n"
        "  --import-in-place NAME FILE [--user U | --no-user]\n"
        "                           the ext4 image FILE is the disk where it lies, not copied (made\n"
        "                           0600; --unregister deletes it, as with WSL)\n"
        "                           Any import: a distribution without a default user of its own gets\n"
        "                           yours on its first launch: named like you (--user: U), as the owner\n"
        "                           of your files under /mnt/host where free (hostShareOwner), with\n"
        "                           passwordless sudo; --no-user keeps root\n"
        "  --export NAME FILE|- [--format tar|tar.gz|tar.xz|tar.zst] [--vhd]\n"
        "  -l, --list [-v | -q] [--running | --all] [--online]\n"
        "  -s, --set-default NAME   -t, --terminate NAME   --unregister NAME\n"
        "  --manage NAME --set-default-user USER | --resize SIZE | --move DIR\n"
        "  --set-version NAME 2, --set-default-version 2\n"
        "                           for WSL's scripts: every distribution is version 2 already\n\n"
        "Each of stdin, stdout and stderr is a pseudo-terminal in the VM when it is a terminal here, a pipe\n"
        "otherwise. Variables named in WSLENV or LSLENV (NAME[/FLAGS]:..., WSL's flags u w p l) are passed\n"
        "through; LSL_DISTRO_NAME and WSL_DISTRO_NAME name the distribution.\n"
        "Exit status: the command's (128+N if killed by signal N); %d when lsl itself fails. Management\n"
        "commands exit 0, or: %d unknown distribution, user or file, %d name or file already exists, %d bad "
        "or\n"
        "corrupt archive or image, %d checksum mismatch, %d download failed, %d the distribution is busy\n"
        "(being exported), %d --resize below what its files need, %d other failure. Bad arguments exit %d;\n"
        "--list --running with none running, 1.\n",
        LSL_EXIT_FAILURE, LSL_EXIT_NOT_FOUND, LSL_EXIT_EXISTS, LSL_EXIT_BAD_ARCHIVE, LSL_EXIT_CHECKSUM,
        LSL_EXIT_DOWNLOAD, LSL_EXIT_BUSY, LSL_EXIT_TOO_SMALL, LSL_EXIT_FAILURE, LSL_EXIT_USAGE);
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

static const struct {
    const char *s, *l;
    enum lsl_action action;
    int nargs; /* positional arguments after the verb; -1: optional NAME */
} verbs[] = {
    {"--install", "--install", LSL_ACT_INSTALL, -1},
    {"--import", "--import", LSL_ACT_IMPORT, 3},
    {"--import-in-place", "--import-in-place", LSL_ACT_IMPORT, 2},
    {"--export", "--export", LSL_ACT_EXPORT, 2},
    {"--unregister", "--unregister", LSL_ACT_UNREGISTER, 1},
    {"-s", "--set-default", LSL_ACT_SET_DEFAULT, 1},
    {"-l", "--list", LSL_ACT_LIST, 0},
    {"-t", "--terminate", LSL_ACT_TERMINATE, 1},
    {"--manage", "--manage", LSL_ACT_MANAGE, 1},
    {"--set-version", "--set-version", LSL_ACT_SET_VERSION, 2},
    {"--set-default-version", "--set-default-version", LSL_ACT_SET_VERSION, 1},
};

/* A management verb and its own options; they stand alone on the command line, as with wsl.exe. */
static int parse_verb(int argc, char **argv, int v, struct lsl_args *a, char *err, size_t errlen)
{
    const char *verb = argv[1];
    const char *pos[3] = {NULL, NULL, NULL};
    int npos = 0, want = verbs[v].nargs;
    a->action = verbs[v].action;
    a->in_place = a->vhd = !strcmp(verbs[v].l, "--import-in-place"); /* WSL's: the image where it lies */
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i], *val;
        if (a->action == LSL_ACT_LIST && (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")))
            a->verbose = true;
        else if (a->action == LSL_ACT_LIST && (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")))
            a->quiet = true;
        else if (a->action == LSL_ACT_LIST && !strcmp(arg, "--running"))
            a->running = true;
        else if (a->action == LSL_ACT_LIST && !strcmp(arg, "--all"))
            a->all = true; /* every distribution is listed anyway: none is ever half-installed */
        else if (a->action == LSL_ACT_LIST && (!strcmp(arg, "-o") || !strcmp(arg, "--online")))
            a->online = true;
        else if (((a->action == LSL_ACT_IMPORT && !a->in_place) || a->action == LSL_ACT_EXPORT) &&
                 !strcmp(arg, "--vhd"))
            a->vhd = true;
        else if (a->action == LSL_ACT_IMPORT && !a->in_place && is_opt(arg, "--version", "--version")) {
            if (!(val = value_of(argc, argv, &i, "--version", "--version")) || strcmp(val, "2") != 0)
                return lsl_errmsg(err, errlen, "--import --version: only 2 exists here");
        } else if (a->action == LSL_ACT_EXPORT && is_opt(arg, "--format", "--format")) {
            if (!(val = value_of(argc, argv, &i, "--format", "--format")) || !*val)
                return lsl_errmsg(err, errlen, "--format needs tar, tar.gz, tar.xz or tar.zst");
            a->format = val;
        } else if (a->action == LSL_ACT_INSTALL && is_opt(arg, "-n", "--name")) {
            if (!(val = value_of(argc, argv, &i, "-n", "--name")) || !*val)
                return lsl_errmsg(err, errlen, "--name needs a name");
            a->new_name = val;
        } else if (a->action == LSL_ACT_INSTALL && is_opt(arg, "--location", "--location")) {
            if (!(val = value_of(argc, argv, &i, "--location", "--location")) || !*val)
                return lsl_errmsg(err, errlen, "--location needs a directory");
            a->dir = val;
        } else if (a->action == LSL_ACT_INSTALL && is_opt(arg, "--from-file", "--from-file")) {
            if (!(val = value_of(argc, argv, &i, "--from-file", "--from-file")) || !*val)
                return lsl_errmsg(err, errlen, "--from-file needs a file");
            a->file = val;
        } else if (a->action == LSL_ACT_INSTALL && !strcmp(arg, "--no-launch")) {
            a->no_launch = true;
        } else if (a->action == LSL_ACT_INSTALL && !strcmp(arg, "--download-only")) {
            a->download_only = true; /* fetch or bootstrap into the cache, print its path, install nothing */
        } else if (a->action == LSL_ACT_INSTALL &&
                   (!strcmp(arg, "--web-download") || !strcmp(arg, "--legacy"))) {
            ; /* wsl.exe's transport choices: every download here is a web download */
        } else if ((a->action == LSL_ACT_INSTALL || a->action == LSL_ACT_IMPORT) &&
                   is_opt(arg, "-u", "--user")) {
            if (!(val = value_of(argc, argv, &i, "-u", "--user")) || !lsl_user_name_valid(val))
                return lsl_errmsg(err, errlen,
                                  "--user needs a Linux user name: a lowercase letter or '_', then up to 31 "
                                  "lowercase letters, digits, '_' or '-'");
            a->new_user = val;
        } else if ((a->action == LSL_ACT_INSTALL || a->action == LSL_ACT_IMPORT) &&
                   !strcmp(arg, "--no-user")) {
            a->no_user = true;
        } else if (a->action == LSL_ACT_MANAGE && is_opt(arg, "--set-default-user", "--set-default-user")) {
            if (!(val = value_of(argc, argv, &i, "--set-default-user", "--set-default-user")) || !*val)
                return lsl_errmsg(err, errlen, "--set-default-user needs a user name");
            a->default_user = val;
        } else if (a->action == LSL_ACT_MANAGE && is_opt(arg, "--resize", "--resize")) {
            if (!(val = value_of(argc, argv, &i, "--resize", "--resize")) || !*val)
                return lsl_errmsg(err, errlen, "--resize needs a size, e.g. 512GB");
            a->resize = val;
        } else if (a->action == LSL_ACT_MANAGE && is_opt(arg, "--move", "--move")) {
            if (!(val = value_of(argc, argv, &i, "--move", "--move")) || !*val)
                return lsl_errmsg(err, errlen, "--move needs a directory");
            a->dir = val;
        } else if (arg[0] == '-' && arg[1]) {
            return lsl_errmsg(err, errlen, "unknown option '%s' for %s (see lsl --help)", arg, verb);
        } else if (npos < (want < 0 ? 1 : want)) {
            pos[npos++] = arg;
        } else {
            return lsl_errmsg(err, errlen, "too many arguments for %s (see lsl --help)", verb);
        }
    }
    if (want > 0 && npos < want)
        return lsl_errmsg(err, errlen, "%s needs %s (see lsl --help)", verb,
                          a->in_place                        ? "NAME FILE"
                          : a->action == LSL_ACT_IMPORT      ? "NAME DIR FILE"
                          : a->action == LSL_ACT_EXPORT      ? "NAME FILE"
                          : a->action == LSL_ACT_SET_VERSION ? (want == 2 ? "NAME 2" : "2")
                                                             : "a distribution name");
    a->name = pos[0] ? pos[0] : "";
    if (a->action == LSL_ACT_SET_VERSION) {
        /* wsl.exe's WSL 1 or WSL 2: every distribution here runs in the VM, as WSL 2's do. */
        const char *version = want == 1 ? pos[0] : pos[1];
        a->name = want == 1 ? "" : pos[0];
        if (!strcmp(version, "1"))
            return lsl_errmsg(err, errlen,
                              "there is no version 1 here: every distribution runs in the VM, as with WSL 2");
        if (strcmp(version, "2") != 0)
            return lsl_errmsg(err, errlen, "%s wants 2, the only version there is", verb);
    } else if (a->in_place) {
        a->file = pos[1];
        if (!strcmp(a->file, "-"))
            return lsl_errmsg(err, errlen, "--import-in-place needs a file name, not -");
    } else if (a->action == LSL_ACT_IMPORT) {
        a->dir = pos[1];
        a->file = pos[2];
        if (a->vhd && !strcmp(a->file, "-"))
            return lsl_errmsg(err, errlen, "--import --vhd needs a file name, not -");
    } else if (a->action == LSL_ACT_EXPORT) {
        a->file = pos[1];
        if (a->vhd && !strcmp(a->file, "-"))
            return lsl_errmsg(err, errlen, "--export --vhd needs a file name, not -");
    }
    if (a->new_user && a->no_user)
        return lsl_errmsg(err, errlen, "--user and --no-user cannot be combined");
    if (a->action == LSL_ACT_MANAGE && !!a->default_user + !!a->resize + !!a->dir != 1)
        return lsl_errmsg(err, errlen, "--manage needs one of --set-default-user, --resize or --move");
    /* wsl.exe's own combinations of --list options that make no sense. */
    if (a->action == LSL_ACT_LIST && a->quiet && a->verbose)
        return lsl_errmsg(err, errlen, "--quiet and --verbose cannot be combined");
    if (a->action == LSL_ACT_LIST && a->all && a->running)
        return lsl_errmsg(err, errlen, "--all and --running cannot be combined");
    if (a->action == LSL_ACT_LIST && a->online && (a->verbose || a->running || a->all))
        return lsl_errmsg(err, errlen, "--online cannot be combined with --verbose, --running or --all");
    return 0;
}

int lsl_args_parse(int argc, char **argv, struct lsl_args *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    a->action = LSL_ACT_LOGIN;
    err[0] = '\0';
    if (argc > 1)
        for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++)
            if (strcmp(argv[1], verbs[v].s) == 0 || strcmp(argv[1], verbs[v].l) == 0)
                return parse_verb(argc, argv, (int)v, a, err, errlen);
    int i = 1;
    const char *action_opt = NULL; /* the option that chose a verb other than running something */
    for (; i < argc; i++) {
        const char *arg = argv[i], *v;
        if (strcmp(arg, "--") == 0) {
            i++; /* wsl.exe's meaning: lsl's options end, the rest is still a command line for the shell */
            break;
        } else if (strcmp(arg, "-e") == 0 || strcmp(arg, "--exec") == 0) {
            if (i + 1 >= argc)
                return lsl_errmsg(err, errlen, "%s needs a command", arg);
            a->action = LSL_ACT_EXEC;
            a->argv = &argv[i + 1];
            return 0;
        } else if (is_opt(arg, "-d", "--distribution")) {
            if (a->distro) /* wsl.exe refuses it too: which one was meant? */
                return lsl_errmsg(err, errlen, "%s given twice (the distribution is '%s' already)", arg,
                                  a->distro);
            if (!(v = value_of(argc, argv, &i, "-d", "--distribution")) || !*v)
                return lsl_errmsg(err, errlen, "%s needs a distribution name", arg);
            a->distro = v;
        } else if (is_opt(arg, "-u", "--user")) {
            if (!(v = value_of(argc, argv, &i, "-u", "--user")) || !*v)
                return lsl_errmsg(err, errlen, "%s needs a user name", arg);
            a->user = v;
        } else if (is_opt(arg, "--cd", "--cd")) {
            if (!(v = value_of(argc, argv, &i, "--cd", "--cd")) || !*v)
                return lsl_errmsg(err, errlen, "--cd needs a directory");
            a->cd = v;
        } else if (is_opt(arg, "--shell-type", "--shell-type")) {
            v = value_of(argc, argv, &i, "--shell-type", "--shell-type");
            if (v && !strcmp(v, "standard"))
                a->shell_type = LSL_SHELL_STANDARD;
            else if (v && !strcmp(v, "login"))
                a->shell_type = LSL_SHELL_LOGIN;
            else if (v && !strcmp(v, "none"))
                a->shell_type = LSL_SHELL_NONE;
            else
                return lsl_errmsg(err, errlen, "--shell-type needs standard, login or none");
        } else if (strcmp(arg, "--force") == 0) {
            a->force = true;
        } else if (strcmp(arg, "--system") == 0 || strcmp(arg, "--debug-shell") == 0) {
            /* wsl.exe's --debug-shell: a shell in its VM for diagnostics, which the system root is here */
            a->system = true;
        } else if (strcmp(arg, "--shutdown") == 0) {
            a->action = LSL_ACT_SHUTDOWN;
            action_opt = arg;
        } else if (strcmp(arg, "--status") == 0) {
            a->action = LSL_ACT_STATUS;
            action_opt = arg;
        } else if (strcmp(arg, "--json") == 0) {
            a->json = true;
        } else if (strcmp(arg, "--version") == 0 || strcmp(arg, "-v") == 0) {
            a->action = LSL_ACT_VERSION;
            action_opt = arg;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "-?") == 0) {
            a->action = LSL_ACT_HELP;
            action_opt = arg;
        } else if (arg[0] == '-' && arg[1]) {
            return lsl_errmsg(err, errlen, "unknown option '%s' (see lsl --help)", arg);
        } else {
            break; /* the command line starts here */
        }
    }
    if (a->force && a->action != LSL_ACT_SHUTDOWN)
        return lsl_errmsg(err, errlen, "--force goes with --shutdown");
    if (a->json && a->action != LSL_ACT_STATUS)
        return lsl_errmsg(err, errlen, "--json goes with --status");
    if (i < argc) {
        if (a->action != LSL_ACT_LOGIN)
            return lsl_errmsg(err, errlen, "'%s' cannot be combined with a command", action_opt);
        /* `lsl -- WORDS` is `lsl WORDS`: with --shell-type none the words are exec'd, else joined. */
        if (a->shell_type == LSL_SHELL_NONE) {
            a->action = LSL_ACT_EXEC;
            a->argv = &argv[i];
            return 0;
        }
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
