/* See hostshares.h. */
#include "hostshares.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "io.h"
#include "macro.h"

#define RECORD_NAME "hostshares"
#define RECORD_MAX  (LSL_HOSTSHARES_MAX * (LSL_HOSTSHARE_NAME_MAX + LSL_HOSTSHARE_PATH_MAX + 2) + 64)

int lsl_hostshares_record(const struct lsl_paths *p, const struct lsl_config *c)
{
    char path[PATH_MAX], tmp[PATH_MAX], list[RECORD_MAX], text[RECORD_MAX + 32];
    int r, n;
    if ((r = lsl_path_join(path, p->runtime, RECORD_NAME)) < 0 ||
        (r = lsl_path_join(tmp, p->runtime, RECORD_NAME ".new")) < 0)
        return r;
    if (lsl_hostshares_format(&c->shares, list, sizeof(list)) < 0)
        return -ENAMETOOLONG;
    n = snprintf(text, sizeof(text), "%u:%u\n%s\n", c->share_uid, c->share_gid, list);
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    if ((r = write_full(fd, text, (size_t)n)) < 0)
        return r;
    return rename(tmp, path) < 0 ? -errno : 0;
}

int lsl_hostshares_record_parse(const char *text, struct lsl_host_view *v)
{
    char *end, err[160];
    unsigned long uid = strtoul(text, &end, 10), gid;
    if (end == text || *end != ':')
        return -EINVAL;
    text = end + 1;
    gid = strtoul(text, &end, 10);
    if (end == text || *end != '\n' || uid > 0xfffffffe || gid > 0xfffffffe)
        return -EINVAL;
    text = end + 1;
    char list[RECORD_MAX];
    size_t n = strcspn(text, "\n");
    if (n >= sizeof(list))
        return -EINVAL;
    memcpy(list, text, n);
    list[n] = '\0';
    v->uid = (unsigned)uid;
    v->gid = (unsigned)gid;
    return lsl_hostshares_parse(list, &v->shares, err, sizeof(err));
}

void lsl_host_view_load(const struct lsl_paths *p, const char *root, struct lsl_host_view *v)
{
    char path[PATH_MAX];
    _cleanup_free_ char *text = NULL;
    snprintf(v->root, sizeof(v->root), "%s", root ? root : "");
    if (lsl_path_join(path, p->runtime, RECORD_NAME) == 0) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 && read_fd_text(fd, RECORD_MAX + 32, &text, NULL) == 0 &&
            lsl_hostshares_record_parse(text, v) == 0)
            return;
    }
    _cleanup_(lsl_config_freep) struct lsl_config c;
    lsl_config_load_user(&c);
    v->shares = c.shares;
    v->uid = c.share_uid;
    v->gid = c.share_gid;
}

size_t lsl_host_view_env(struct lsl_host_view *v)
{
    size_t n = 0;
    if (!v->root[0])
        return 0;
    for (size_t i = 0; i < v->shares.n; i++) {
        const char *host = v->shares.s[i].host;
        if (lsl_hostshare_to_guest(&v->shares, v->root, host, v->guest[n], sizeof(v->guest[n])) != 1)
            continue;
        /* env.h's host paths have no trailing '/': the host's "/" is the empty prefix. */
        v->env[n] = (struct lsl_env_share){.host = strcmp(host, "/") == 0 ? "" : host, .guest = v->guest[n]};
        n++;
    }
    return n;
}

int lsl_exec_cwd(const struct lsl_host_view *v, const char *cd, const char *host_cwd, char *out, size_t len,
                 uint32_t *flags, char *err, size_t errlen)
{
    char joined[PATH_MAX * 2];
    out[0] = '\0';
    if (cd && (cd[0] == '/' || cd[0] == '~')) {
        if (strcmp(cd, "~") != 0 && (size_t)snprintf(out, len, "%s", cd) >= len)
            return snprintf(err, errlen, "--cd %s: too long", cd), -ENAMETOOLONG;
        return 0;
    }
    if (!cd) {
        if (!v->root[0] || !host_cwd || host_cwd[0] != '/')
            return 0;
        if (lsl_hostshare_to_guest(&v->shares, v->root, host_cwd, out, len) == 1)
            *flags |= LSL_EXEC_CWD_OR_HOME;
        else
            out[0] = '\0'; /* the home, as before shares */
        return 0;
    }
    /* A relative --cd is where the user types it: on the host. */
    if (!host_cwd || host_cwd[0] != '/')
        return snprintf(err, errlen, "--cd %s: the current host directory is unknown", cd), -ENOENT;
    snprintf(joined, sizeof(joined), "%s/%s", host_cwd, cd);
    int r = v->root[0] ? lsl_hostshare_to_guest(&v->shares, v->root, joined, out, len) : 0;
    if (r == 1)
        return 0;
    out[0] = '\0';
    snprintf(err, errlen, "--cd %s: %s", cd,
             r == 0 && v->root[0]    ? "the host directory is in no host share (hostShares in ~/.lslconfig)"
             : r == 0 || !v->root[0] ? "the distribution mounts no host share ([automount] in its wsl.conf)"
                                     : strerror(-r));
    return -ENOENT;
}
