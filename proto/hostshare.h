/* The host's shared directories as both sides see them: the list ~/.lslconfig's hostShares gives
 * ("NAME=HOSTDIR;NAME=HOSTDIR"), which the service passes to lsl-vmm --share (NAME is the virtio-fs tag) and
 * lsl-distro start passes on to the distribution, and the path translation between a host path and its
 * guest path (ROOT/NAME/..., ROOT being the distribution's [automount] root, WSL's /mnt/ of /mnt/c). One
 * parser and one translation for the CLI (cwd, --cd, WSLENV /p) and the guest (lsl-distro, lslpath). Plain
 * C, no dependencies. */
#ifndef LSL_PROTO_HOSTSHARE_H
#define LSL_PROTO_HOSTSHARE_H

#include <stdbool.h>
#include <stddef.h>

#define LSL_HOSTSHARES_MAX      8    /* lsl-vmm's --share limit (VMM_MAX_SHARES) */
#define LSL_HOSTSHARE_NAME_MAX  36   /* a virtio-fs tag (virtio 1.2, 5.11.4) */
#define LSL_HOSTSHARE_PATH_MAX  1024 /* a host directory, and any path translated */
#define LSL_HOSTSHARES_DEFAULT  "host=/"
#define LSL_HOSTSHARE_ROOT_DFLT "/mnt/" /* WSL's [automount] root */

struct lsl_hostshare {
    char name[LSL_HOSTSHARE_NAME_MAX + 1]; /* tag and the directory's name under the root */
    char host[LSL_HOSTSHARE_PATH_MAX];     /* absolute, normalized: no "//", ".", "..", trailing '/' */
};

struct lsl_hostshares {
    size_t n;
    struct lsl_hostshare s[LSL_HOSTSHARES_MAX];
};

/* A share's name: 1-36 of [A-Za-z0-9._-], not starting with '.' or '-' (a tag, and a path component). */
bool lsl_hostshare_name_valid(const char *name);

/* Parses "NAME=HOSTDIR" entries separated by ';' (blanks around an entry ignored; an empty text or entry is
 * nothing). A host directory is absolute, made of printable characters other than ';', and is normalized.
 * Returns 0, or -EINVAL with a one-line reason in err (names twice, too many, a bad name or path). */
int lsl_hostshares_parse(const char *text, struct lsl_hostshares *out, char *err, size_t errlen);
/* The canonical text of a list (what parse reads back). Returns its length, or -1 when it does not fit. */
int lsl_hostshares_format(const struct lsl_hostshares *s, char *out, size_t len);

/* An absolute path with "//", "." and ".." removed lexically (".." of "/" is "/"), no trailing '/'. Returns
 * 0, -EINVAL (not absolute, or a control character), -ENAMETOOLONG. */
int lsl_path_normalize(const char *path, char *out, size_t len);

/* host path -> the guest path under root (an [automount] root such as "/mnt/"): the share whose host
 * directory holds path most closely. Returns 1 with out filled, 0 when no share holds it, -EINVAL (path or
 * root not absolute) or -ENAMETOOLONG. */
int lsl_hostshare_to_guest(const struct lsl_hostshares *s, const char *root, const char *path, char *out,
                           size_t len);
/* The other way: a guest path under root/NAME -> the host path. Same returns. */
int lsl_hostshare_to_host(const struct lsl_hostshares *s, const char *root, const char *path, char *out,
                          size_t len);

/* What a distribution knows of the shares, for lslpath: LSL_HOSTSHARE_MAP in it holds two lines, its
 * [automount] root and the list ("/mnt/\nhost=/\n"); written by its init when shares are mounted. */
#define LSL_HOSTSHARE_MAP "/run/lsl/hostshares"
/* The map's text into out. Returns its length, or -1 when it does not fit. */
int lsl_hostshare_map_format(const char *root, const struct lsl_hostshares *s, char *out, size_t len);
/* Reads a map's text: root (normalized) into root[LSL_HOSTSHARE_PATH_MAX], the list into s. 0 or -EINVAL. */
int lsl_hostshare_map_parse(const char *text, char *root, struct lsl_hostshares *s);

#endif
