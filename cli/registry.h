/* The installed distros: $STATE/distros.json, changed only under an exclusive flock on $STATE/distros.lock
 * held from load to save, and saved atomically (temporary file, fsync, rename), so concurrent lsl processes
 * never lose an update and a crash never leaves half a file. It names every distribution's disk: private
 * (0600), like the disks themselves. */
#ifndef LSL_CLI_REGISTRY_H
#define LSL_CLI_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "distro.h" /* the name rule and LSL_DISTRO_NAME_MAX */

#define LSL_DISTRO_ID_LEN 16 /* hex digits; the virtio-blk serial (at most 20 characters) */

struct lsl_distro {
    char name[LSL_DISTRO_NAME_MAX + 1];
    char id[LSL_DISTRO_ID_LEN + 1]; /* random, stable for the distro's life */
    char *dir;                      /* where its files live (--location) */
    char *image;                    /* its ext4 image */
    char *default_user;             /* "" = root */
    int default_uid;                /* -1 = none recorded */
    char *oobe_command;             /* "" = none */
    bool oobe_done;                 /* the first-boot command ran */
    /* The user its first launch makes and makes the default (own_user.h; "" = none, or made), with the
     * host's uid and gid where they are free in it (-1: the distribution's tools choose). */
    char *new_user;
    int new_uid, new_gid;
    int version;     /* always 2 */
    int64_t created; /* unix time */
};

enum lsl_registry_mode {
    LSL_REGISTRY_READ,  /* no lock: readers see the last complete save */
    LSL_REGISTRY_WRITE, /* exclusive lock until lsl_registry_close */
};

struct lsl_registry {
    char *path;         /* .../distros.json */
    char *default_name; /* NULL = none */
    struct lsl_distro *distros;
    size_t n;
    int lock_fd; /* valid while locked */
    bool locked; /* opened for writing */
};

/* Opens (and in WRITE mode locks, waiting for other writers up to LSL_REGISTRY_LOCK_S) state_dir/distros.json
 * and loads it; a missing file is an empty registry. A corrupt file is one error line and -EBADMSG: never
 * silently reset. Other failures: -errno after one error line (-ETIMEDOUT when the lock stayed taken). On
 * failure r needs no close (closing it is harmless). */
#define LSL_REGISTRY_LOCK_S 900 /* the longest holder: --manage --move copying an image between disks */
int lsl_registry_open(struct lsl_registry *r, const char *state_dir, enum lsl_registry_mode mode);
/* Writes the registry atomically. WRITE mode only (-EPERM otherwise). 0 or -errno after one error line. */
int lsl_registry_save(struct lsl_registry *r);
/* Frees and unlocks. Safe on a zeroed or already closed registry. */
void lsl_registry_close(struct lsl_registry *r);
/* For _cleanup_(lsl_registry_closep) struct lsl_registry reg = {0}; */
static inline void lsl_registry_closep(struct lsl_registry *r)
{
    lsl_registry_close(r);
}

/* By name, case-insensitive like WSL. NULL if absent. */
struct lsl_distro *lsl_registry_find(const struct lsl_registry *r, const char *name);
/* The default distro, NULL if none. */
struct lsl_distro *lsl_registry_default(const struct lsl_registry *r);
/* Copies d (strings duplicated; NULL strings become ""). The first distro becomes the default. Returns 0,
 * -EINVAL (bad name or id), -EEXIST (name or id taken) or -ENOMEM. Nothing is logged. */
int lsl_registry_add(struct lsl_registry *r, const struct lsl_distro *d);
/* Returns 0 or -ENOENT. Removing the default makes the first remaining distro the default, like WSL. */
int lsl_registry_remove(struct lsl_registry *r, const char *name);
/* Returns 0 or -ENOENT. Stores the registered spelling of the name. */
int lsl_registry_set_default(struct lsl_registry *r, const char *name);

/* A fresh random id (16 lowercase hex digits), unique in r if r is not NULL. Returns 0 or -errno. */
int lsl_distro_new_id(const struct lsl_registry *r, char id[LSL_DISTRO_ID_LEN + 1]);
/* Frees the strings of a distro filled by hand (not one owned by a registry). */
void lsl_distro_free(struct lsl_distro *d);

#endif
