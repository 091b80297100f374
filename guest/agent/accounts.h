/* A distribution's account files, read as hostile input: /etc/passwd and /etc/group parsed with the rules
 * musl's getpwent/getgrent use, from a bounded read that never leaves the distribution's root. The agent
 * takes supplementary groups from here (musl's initgroups stops at 32), lsl-distro checks users. */
#ifndef LSL_AGENT_ACCOUNTS_H
#define LSL_AGENT_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The kernel's NGROUPS_MAX (musl's header says 32, its own limit). */
#define LSL_NGROUPS_MAX 65536
/* The largest account file read; a group file with LSL_NGROUPS_MAX groups fits easily. */
#define LSL_ACCOUNT_FILE_MAX (16u << 20)

/* Reads root/path (resolved as if root were "/": symlinks and ".." never lead out of it) when it is a
 * regular file of at most max bytes, into a malloc'd NUL-terminated buffer. Returns its length, or -errno
 * (-ENOENT, -EFBIG when larger, -EINVAL when no regular file). */
long agent_read_in_root(const char *root, const char *path, size_t max, char **out);

/* The groups user belongs to according to a group file's text: primary first, then every group that lists
 * user as a member, each once, at most max. Lines that are not "name:password:GID:members" are skipped,
 * as musl does. Returns how many were stored. */
size_t agent_groups_parse(const char *text, size_t len, const char *user, gid_t primary, gid_t *out,
                          size_t max);

/* The same from the current root's /etc/group (the distribution's, once the agent has entered it): a
 * malloc'd array in *out. A missing file gives the primary group alone. Returns the count or -errno. */
long agent_groups_load(const char *user, gid_t primary, gid_t **out);

/* Whether a passwd file's text has user: as a name, or (all digits, and no such name) as a UID. */
bool agent_passwd_has(const char *text, size_t len, const char *user);

#endif
