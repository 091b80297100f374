/* Runtime, state and build paths for the lsl CLI. Both directories are private: the runtime one holds the
 * sockets that run commands in the VM, the state one every distribution's disk, its logs and the registry
 * (ssh keeps ~/.ssh the same way). */
#include "paths.h"

#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

int lsl_path_fmt(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, len, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int lsl_path_join(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

int lsl_mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST) /* as the XDG base directory spec asks */
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* Creates path 0700, or makes an existing one private without a word, as an older lsl left it 0755. It must
 * be ours: the runtime directory may sit in /tmp, where another user could have made it first (and there a
 * symlink is not followed); the state directory lives in the home, where a symlink to another disk is the
 * user's own doing. */
static int private_dir(const char *path, bool follow)
{
    int r = lsl_mkdir_p(path, 0700);
    if (r < 0)
        return log_errno(-r, "cannot create %s", path);
    struct stat st;
    if ((follow ? stat(path, &st) : lstat(path, &st)) < 0)
        return log_errno(errno, "cannot stat %s", path);
    if (!S_ISDIR(st.st_mode) || st.st_uid != getuid()) {
        log_error("%s is not a directory owned by you", path);
        return -EPERM;
    }
    if ((st.st_mode & 0777) != 0700 && chmod(path, 0700) < 0)
        return log_errno(errno, "cannot make %s private", path);
    return 0;
}

/* Installed, where lsl is PREFIX/bin/lsl and PREFIX/libexec/lsl/lsl-vmm exists (make install's layout, the
 * package's); else this build's tree, where lsl is BUILD/cli/lsl. */
/* Where this lsl's tree is (PREFIX or BUILD; "" for /bin/lsl, whose PREFIX is /) and whether it is an
 * installed one: found once per process, as lsl_paths_init asks for four files. 0 or -errno. */
static int own_layout(const char **top, bool *installed)
{
    static char root[PATH_MAX];
    static int found; /* 0 not yet, 1 in a build tree, 2 installed */
    if (!found) {
        ssize_t n = readlink("/proc/self/exe", root, sizeof(root) - 1);
        if (n <= 0)
            return log_errno(errno, "cannot find my own executable");
        root[n] = '\0';
        *strrchr(root, '/') = '\0'; /* PREFIX/bin or BUILD/cli; lsl-wake's PREFIX/libexec/lsl */
        size_t rl = strlen(root);
        if (rl >= 12 && strcmp(root + rl - 12, "/libexec/lsl") == 0)
            root[rl - 4] = '\0';
        char *end = strrchr(root, '/');
        if (end)
            *end = '\0';
        char probe[PATH_MAX + 32];
        snprintf(probe, sizeof(probe), "%s/libexec/lsl/lsl-vmm", root);
        found = access(probe, X_OK) == 0 ? 2 : 1;
    }
    *top = root;
    *installed = found == 2;
    return 0;
}

int lsl_own_path(enum lsl_own_file f, char *out, size_t len)
{
    const char *top;
    bool installed;
    int r = own_layout(&top, &installed);
    if (r < 0)
        return r;
    static const char *const in_tree[] = {
        [LSL_OWN_VMM] = "vmm/lsl-vmm",         [LSL_OWN_FETCH] = "cli/lsl-fetch",
        [LSL_OWN_INTEROP] = "cli/lsl-interop", [LSL_OWN_INITRD] = "guest/initramfs.cpio",
        [LSL_OWN_ROOTFS] = "guest/system.img", [LSL_OWN_WAKE] = "cli/lsl-wake",
    };
    static const char *const in_prefix[] = {
        [LSL_OWN_VMM] = "libexec/lsl/lsl-vmm",         [LSL_OWN_FETCH] = "libexec/lsl/lsl-fetch",
        [LSL_OWN_INTEROP] = "libexec/lsl/lsl-interop", [LSL_OWN_INITRD] = "lib/lsl/initramfs.cpio",
        [LSL_OWN_ROOTFS] = "lib/lsl/system.img",       [LSL_OWN_KERNEL] = "lib/lsl/vmlinux",
        [LSL_OWN_WAKE] = "libexec/lsl/lsl-wake",
    };
    if (installed) {
        r = lsl_path_fmt(out, len, "%s/%s", top, in_prefix[f]);
    } else if (f == LSL_OWN_KERNEL) {
        /* Built by kernel/build.sh into the cache, outside the clone: "current" is this checkout's. */
        const char *cache = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        r = cache && *cache
                ? lsl_path_fmt(out, len, "%s/lsl/kernel/current/vmlinux", cache)
                : lsl_path_fmt(out, len, "%s/.cache/lsl/kernel/current/vmlinux", home ? home : "");
    } else {
        r = lsl_path_fmt(out, len, "%s/%s", top, in_tree[f]);
    }
    if (r < 0)
        log_error("the path of lsl's %s is too long", in_prefix[f]);
    return r;
}

int lsl_paths_init(struct lsl_paths *p)
{
    memset(p, 0, sizeof(*p));
    const char *home = getenv("HOME");
    if (!home || !*home) {
        log_error("HOME is not set");
        return -EINVAL;
    }
    const char *xdg_runtime = getenv("XDG_RUNTIME_DIR");
    if (xdg_runtime && *xdg_runtime)
        snprintf(p->runtime, sizeof(p->runtime), "%s/lsl", xdg_runtime);
    else /* no session manager (CI, ssh without pam_systemd): a per-user directory checked like one */
        snprintf(p->runtime, sizeof(p->runtime), "/tmp/lsl-%u", (unsigned)getuid());
    const char *xdg_state = getenv("XDG_STATE_HOME");
    if (xdg_state && *xdg_state)
        snprintf(p->state, sizeof(p->state), "%s/lsl", xdg_state);
    else
        snprintf(p->state, sizeof(p->state), "%s/.local/state/lsl", home);

    const char *e;
    int r = 0;
    if ((e = getenv("LSL_VMM")) && *e)
        snprintf(p->vmm, sizeof(p->vmm), "%s", e);
    else
        r = lsl_own_path(LSL_OWN_VMM, p->vmm, sizeof(p->vmm));
    if ((e = getenv("LSL_INITRD")) && *e)
        snprintf(p->initrd, sizeof(p->initrd), "%s", e);
    else if (!r)
        r = lsl_own_path(LSL_OWN_INITRD, p->initrd, sizeof(p->initrd));
    if ((e = getenv("LSL_ROOTFS")) && *e)
        snprintf(p->rootfs, sizeof(p->rootfs), "%s", e);
    else if (!r)
        r = lsl_own_path(LSL_OWN_ROOTFS, p->rootfs, sizeof(p->rootfs));
    if ((e = getenv("LSL_KERNEL")) && *e)
        snprintf(p->kernel, sizeof(p->kernel), "%s", e);
    else if (!r)
        r = lsl_own_path(LSL_OWN_KERNEL, p->kernel, sizeof(p->kernel));
    if (r < 0)
        return r;
    if ((r = private_dir(p->runtime, false)) < 0)
        return r;
    return private_dir(p->state, true);
}

void lsl_config_load_user(struct lsl_config *c)
{
    const char *home = getenv("HOME");
    char path[PATH_MAX];
    if (home && *home && snprintf(path, sizeof(path), "%s/.lslconfig", home) < (int)sizeof(path))
        (void)lsl_config_load(c, path, NULL); /* an unreadable file was reported; the defaults stand */
    else
        lsl_config_init(c);
    lsl_config_apply_env(c, NULL);
}
