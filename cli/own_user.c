/* See own_user.h. The host user's name comes from /etc/passwd by uid (lsl is static and calls nothing of
 * glibc's that needs NSS), else $USER: a directory user (LDAP, sssd) is in neither only when USER is unset.
 */
#include "own_user.h"

#include "config.h"
#include "macro.h"
#include "paths.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool lsl_user_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > LSL_USER_NAME_MAX || !(islower((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

/* The name of uid in /etc/passwd, else $USER, into out ("" if neither). */
static void host_user_name(uid_t uid, char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen("/etc/passwd", "re");
    char line[1024];
    while (f && fgets(line, sizeof(line), f)) {
        char *name = strtok(line, ":"), *pw = strtok(NULL, ":"), *id = strtok(NULL, ":"), *end;
        if (name && pw && id && strtoul(id, &end, 10) == uid && *end == '\0' && *id) {
            snprintf(out, len, "%s", name);
            break;
        }
    }
    if (f)
        fclose(f);
    const char *env = getenv("USER");
    if (!out[0] && env)
        snprintf(out, len, "%s", env);
}

bool lsl_own_user_plan(const char *asked, const struct lsl_distro *d, struct lsl_own_user *u)
{
    *u = (struct lsl_own_user){.uid = -1, .gid = -1};
    /* Its own first-run setup makes its user (a .wsl file's OOBE): not ours to. */
    if ((d->oobe_command && d->oobe_command[0]) || d->default_uid >= 0 || (asked && !asked[0]))
        return false;
    uid_t uid = getuid();
    if (asked) {
        snprintf(u->name, sizeof(u->name), "%s", asked);
    } else {
        if (uid == 0) /* root on the host: root in there too */
            return false;
        char name[256];
        host_user_name(uid, name, sizeof(name));
        for (char *c = name; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (!lsl_user_name_valid(name)) {
            fprintf(
                stderr,
                "lsl: %s: your user name '%s' is no Linux user name there, so root stays its default user "
                "(--user NAME picks one)\n",
                d->name, name);
            return false;
        }
        snprintf(u->name, sizeof(u->name), "%s", name);
    }
    /* The ids the host user's files have under /mnt/host, so that they are this user's there. */
    _cleanup_(lsl_config_freep) struct lsl_config c = {0};
    lsl_config_load_user(&c);
    u->uid = (int)c.share_uid;
    u->gid = (int)c.share_gid;
    return true;
}

/* $1 name, $2 uid, $3 gid (-1: any), $4 the distribution's name for messages. Debian's adduser where it is
 * (Debian, Ubuntu: what their own first launch uses), else shadow's useradd (Fedora, Arch, a minbase
 * Debian), else busybox's adduser (Alpine), else (an image with none) the files, written as those tools
 * write them: the first free uid from 1000, a group of its own, a locked password, the home from /etc/skel.
 * bash where the distribution has it, else the tool's shell. */
static const char script[] =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; exec 1>&2\n"
    "name=$1 uid=$2 gid=$3 distro=$4\n"
    "has() { cut -d: -f\"$2\" \"$1\" 2>/dev/null | grep -qxF -- \"$3\"; }\n"
    "has /etc/passwd 1 \"$name\" && exit 0\n"
    "[ \"$uid\" != -1 ] && has /etc/passwd 3 \"$uid\" && uid=-1\n"
    "has /etc/group 1 \"$name\" || { [ \"$gid\" != -1 ] && has /etc/group 3 \"$gid\" && gid=-1; }\n"
    "admin=\n"
    "for g in sudo wheel admin; do has /etc/group 1 \"$g\" && { admin=$g; break; }; done\n"
    "shell=\n"
    "[ -x /bin/bash ] && shell=/bin/bash\n"
    "if [ -x /usr/sbin/adduser ] && head -n 1 /usr/sbin/adduser | grep -q perl; then\n"
    "  has /etc/group 1 \"$name\" || if [ \"$gid\" = -1 ]; then addgroup --quiet \"$name\"; "
    "else addgroup --quiet --gid \"$gid\" \"$name\"; fi || exit\n"
    "  set -- --quiet --disabled-password --ingroup \"$name\"\n"
    "  if adduser --help 2>&1 | grep -q -- --comment; then set -- \"$@\" --comment ''; "
    "else set -- \"$@\" --gecos ''; fi\n"
    "  [ \"$uid\" = -1 ] || set -- \"$@\" --uid \"$uid\"\n"
    "  [ -z \"$shell\" ] || set -- \"$@\" --shell \"$shell\"\n"
    "  adduser \"$@\" \"$name\" || exit\n"
    "  [ -z \"$admin\" ] || adduser --quiet \"$name\" \"$admin\" || exit\n"
    "elif command -v useradd >/dev/null 2>&1; then\n"
    "  has /etc/group 1 \"$name\" || if [ \"$gid\" = -1 ]; then groupadd \"$name\"; "
    "else groupadd -g \"$gid\" \"$name\"; fi || exit\n"
    "  set -- -m -g \"$name\"\n"
    "  [ \"$uid\" = -1 ] || set -- \"$@\" -u \"$uid\"\n"
    "  [ -z \"$admin\" ] || set -- \"$@\" -G \"$admin\"\n"
    "  [ -z \"$shell\" ] || set -- \"$@\" -s \"$shell\"\n"
    "  useradd \"$@\" \"$name\" || exit\n"
    "elif command -v adduser >/dev/null 2>&1; then\n"
    "  has /etc/group 1 \"$name\" || if [ \"$gid\" = -1 ]; then addgroup \"$name\"; "
    "else addgroup -g \"$gid\" \"$name\"; fi || exit\n"
    "  set -- -D -G \"$name\"\n"
    "  [ \"$uid\" = -1 ] || set -- \"$@\" -u \"$uid\"\n"
    "  [ -z \"$shell\" ] || set -- \"$@\" -s \"$shell\"\n"
    "  adduser \"$@\" \"$name\" || exit\n"
    "  [ -z \"$admin\" ] || addgroup \"$name\" \"$admin\" || exit\n"
    "else\n"
    "  [ \"$uid\" != -1 ] || { uid=1000; while has /etc/passwd 3 \"$uid\"; do uid=$((uid + 1)); done; }\n"
    "  if has /etc/group 1 \"$name\"; then gid=$(grep \"^$name:\" /etc/group | cut -d: -f3)\n"
    "  else\n"
    "    [ \"$gid\" != -1 ] || { gid=$uid; while has /etc/group 3 \"$gid\"; do gid=$((gid + 1)); done; }\n"
    "    echo \"$name:x:$gid:\" >>/etc/group || exit\n"
    "  fi\n"
    "  echo \"$name:x:$uid:$gid::/home/$name:${shell:-/bin/sh}\" >>/etc/passwd || exit\n"
    "  [ ! -f /etc/shadow ] || echo \"$name:!:$(($(date +%s) / 86400)):0:99999:7:::\" >>/etc/shadow || exit\n"
    "  if [ -n \"$admin\" ]; then\n"
    "    awk -F: -v OFS=: -v g=\"$admin\" -v n=\"$name\" '$1 == g { $4 = $4 == \"\" ? n : $4 \",\" n } 1' "
    "\\\n"
    "      /etc/group >/etc/group.lsl-new && cat /etc/group.lsl-new >/etc/group && rm -f /etc/group.lsl-new "
    "|| exit\n"
    "  fi\n"
    "  mkdir -p \"/home/$name\" && { [ ! -d /etc/skel ] || cp -a /etc/skel/. \"/home/$name/\"; } &&\n"
    "    chown -R \"$uid:$gid\" \"/home/$name\" && chmod 0700 \"/home/$name\" || exit\n"
    "fi\n"
    "sudo=\n"
    "if [ -d /etc/sudoers.d ]; then\n"
    "  printf '%s ALL=(ALL:ALL) NOPASSWD: ALL\\n' \"$name\" >\"/etc/sudoers.d/lsl-$name\" &&\n"
    "    chmod 0440 \"/etc/sudoers.d/lsl-$name\" || exit\n"
    "  sudo=', sudo without a password'\n"
    "fi\n"
    "if [ -d /etc/doas.d ]; then\n"
    "  printf 'permit nopass %s\\n' \"$name\" >\"/etc/doas.d/lsl-$name.conf\" || exit\n"
    "  sudo=\"$sudo, doas without a password\"\n"
    "fi\n"
    "echo \"lsl: $distro: made your user $name (uid $(id -u \"$name\"), groups $(id -Gn \"$name\" | tr ' ' "
    ",)$sudo);"
    " it is the default user\"\n";

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

void lsl_own_user_ask(FILE *in, FILE *out, const char *distro, struct lsl_own_user *u)
{
    /* Ctrl-C here is an answer, not an abort: nothing is left half-registered. (Unless SIGINT is ignored,
     * as in a background job: then it stays ignored.) */
    struct sigaction sa = {.sa_handler = on_interrupt}, old; /* no SA_RESTART: the read returns */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, NULL, &old);
    if (old.sa_handler != SIG_IGN)
        sigaction(SIGINT, &sa, NULL);
    interrupted = 0;
    char line[256];
    for (int tries = 0; tries < 3; tries++) {
        fprintf(out,
                "lsl: %s: the name of your user in it (sudo without a password; Ctrl-C: none) [%s]: ", distro,
                u->name);
        fflush(out);
        if (!fgets(line, sizeof(line), in)) {
            fputc('\n', out);
            if (interrupted) {
                fprintf(out, "lsl: %s: no user of your own: root stays its default user\n", distro);
                u->name[0] = '\0';
            }
            clearerr(in);
            break;
        }
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            break;
        if (lsl_user_name_valid(line)) {
            memcpy(u->name, line, strlen(line) + 1); /* valid: at most LSL_USER_NAME_MAX */
            break;
        }
        fprintf(out, "lsl: '%s' is no user name there: a-z or _ first, then a-z, 0-9, _ or -, at most %d\n",
                line, LSL_USER_NAME_MAX);
    }
    sigaction(SIGINT, &old, NULL);
}

void lsl_own_user_command(const struct lsl_own_user *u, const char *distro, char nums[2][16],
                          const char *argv[9])
{
    snprintf(nums[0], 16, "%d", u->uid);
    snprintf(nums[1], 16, "%d", u->gid);
    const char *v[9] = {"/bin/sh", "-c", script, "lsl-own-user", u->name, nums[0], nums[1], distro, NULL};
    memcpy(argv, v, sizeof(v));
}
