/* Your own user (issue 17), as WSL's first launch asks for one: a distribution that names no default user
 * of its own (no defaultUid or first-run command in its wsl-distribution.conf at install, no [user] default
 * in its wsl.conf at the launch) gets one at its first launch, named like the host user (or --user), with
 * the uid and gid the host user's files have in the guest (hostShareOwner, default 1000:1000) where they
 * are free in it, so that files under /mnt/host are the user's on both sides; in its admin group (sudo,
 * wheel) with sudo (or doas) without a password; the default user from then on. A host user root keeps root,
 * as --no-user does. On a terminal, lsl --install and --import ask for the name first (the host user's the
 * default; --install of an entry lsl bootstraps asks before the bootstrap). run.c's first_launch runs the
 * command below. */
#ifndef LSL_OWN_USER_H
#define LSL_OWN_USER_H

#include <stdbool.h>
#include <stdio.h>

#include "registry.h"

#define LSL_USER_NAME_MAX 32

struct lsl_own_user {
    char name[LSL_USER_NAME_MAX + 1];
    int uid, gid; /* hostShareOwner's; -1: the distribution's tools choose */
};

/* A name every distribution's tools take: [a-z_][a-z0-9_-]*, at most LSL_USER_NAME_MAX. */
bool lsl_user_name_valid(const char *s);

/* Whether d (its first-run fields from its wsl-distribution.conf filled in) is to get a user, into *u. asked:
 * --user NAME, "" for --no-user, NULL for the host user's name (lowercased; one note on stderr when even
 * that is no valid name, and root stays). */
bool lsl_own_user_plan(const char *asked, const struct lsl_distro *d, struct lsl_own_user *u);

/* On a terminal, as WSL's first launch does: asks for the name on out and reads it from in, the planned
 * name (u->name) the default an empty line or the end of input keeps; an answer that is no valid name is
 * asked again, three times at most, then the default stands. Ctrl-C (SIGINT) empties u->name: no user
 * of one's own, as --no-user. */
void lsl_own_user_ask(FILE *in, FILE *out, const char *distro, struct lsl_own_user *u);

/* The command making u in distribution distro, as root: /bin/sh -c SCRIPT with u's fields, into argv (9
 * slots, NULL-terminated); nums holds the numbers' text. It exits 0 when the user exists (made now, or
 * there already), and writes only to stderr: one line saying what it made. */
void lsl_own_user_command(const struct lsl_own_user *u, const char *distro, char nums[2][16],
                          const char *argv[9]);

#endif
