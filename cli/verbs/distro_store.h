/* Where a distribution lives on the host, for the verbs that create, change or remove one: its registry
 * entry (looked up, registered, committed) and its directory and disk image. */
#ifndef LSL_CLI_DISTRO_STORE_H
#define LSL_CLI_DISTRO_STORE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "paths.h"
#include "registry.h"

/* Opens the registry (locked for a change when lock is set). 0, or an exit code after one error line. */
int lsl_store_open(const struct lsl_paths *p, struct lsl_registry *reg, bool lock);
/* Opens the registry and finds NAME in it (*d points into reg): 0, or LSL_EXIT_NOT_FOUND / another exit code
 * after one error line. reg needs closing either way (a _cleanup_(lsl_registry_closep) one closes itself). */
int lsl_store_lookup(const struct lsl_paths *p, const char *name, struct lsl_registry *reg, bool lock,
                     struct lsl_distro **d);
/* lsl_store_lookup_held, then stops NAME if it runs, so its disk is out of the VM: what changing the image
 * needs. */
int lsl_store_lookup_stopped(const struct lsl_paths *p, const char *name, struct lsl_registry *reg, bool lock,
                             const char *verb, struct lsl_distro **d, int *hold_fd);
/* The path of distribution d's lock file for what ("hold", "oobe"): $STATE/locks/ID.WHAT, the directory made
 * on the way. 0, or LSL_EXIT_FAILURE after one error line. */
int lsl_store_lock_path(const struct lsl_paths *p, const struct lsl_distro *d, const char *what, char *out,
                        size_t len);
/* Holds distribution NAME for verb ("export", "terminate", ...) with an exclusive flock on its hold file, so
 * that an export never interleaves with another export, a -t, an --unregister or a --manage of its disk: an
 * export under way refuses the others at once with one line (LSL_EXIT_BUSY); other holders are waited for,
 * up to LSL_STORE_HOLD_WAIT_S. Then looks NAME up like lsl_store_lookup (the registry locked for a change if
 * lock is set) and checks it is still the distribution held. On success *hold_fd is the lock (closing it lets
 * go). 0, or an exit code after one error line. */
#define LSL_STORE_HOLD_WAIT_S 60
int lsl_store_lookup_held(const struct lsl_paths *p, const char *name, struct lsl_registry *reg, bool lock,
                          const char *verb, struct lsl_distro **d, int *hold_fd);
/* Saves a registry opened for a change: 0 or LSL_EXIT_FAILURE after one error line. */
int lsl_store_commit(struct lsl_registry *reg);
/* Replaces a malloc'd string field (NULL value: ""). 0 or -ENOMEM. */
int lsl_store_set_str(char **field, const char *value);

/* NAME is valid and not registered: 0, or LSL_EXIT_USAGE / LSL_EXIT_EXISTS after one error line. */
int lsl_store_check_new_name(const struct lsl_paths *p, const char *name);
/* Registers NAME with IMAGE in DIR, disk id ID, and the first-run settings of its wsl-distribution.conf (its
 * text; NULL: none, as for --import, which runs no first-run setup); where those name no user, the one its
 * first launch makes (own_user, as lsl_own_user_plan takes it). 0 or an exit code after one error line. */
int lsl_store_register(const struct lsl_paths *p, const char *name, const char *dir, const char *image,
                       const char *id, const char *distribution_conf, const char *own_user);

/* The directory and disk image of a new (or moved) distribution. */
struct lsl_store_place {
    char dir[PATH_MAX];     /* absolute, since the service opens the image from elsewhere */
    char image[PATH_MAX];   /* dir/ext4.img */
    char created[PATH_MAX]; /* the first directory make created, "" if none: what unmake takes away */
};
/* Fills place for DIR (relative to the working directory): 0, or LSL_EXIT_FAILURE after one error line;
 * LSL_EXIT_EXISTS when the image is there already. */
int lsl_store_place_for(struct lsl_store_place *place, const char *dir);
/* Creates place->dir and its missing parents, private (0700). 0 or LSL_EXIT_FAILURE after one error line. */
int lsl_store_place_make(struct lsl_store_place *place);
/* Takes away what lsl_store_place_make created (only directories that are empty again). */
void lsl_store_place_unmake(const struct lsl_store_place *place);

/* defaultVhdSize from ~/.lslconfig: the virtual size of a new image. */
uint64_t lsl_store_default_vhd_size(void);
/* One error line for a name that is not registered; returns LSL_EXIT_NOT_FOUND. */
int lsl_store_no_such(const char *name);

#endif
