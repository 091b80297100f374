/* distros.json: load and validate with json-c, edit in memory, save atomically under the registry lock. */
#include "registry.h"
#include "json.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "lock.h"
#include "log.h"
#include "macro.h"

#define REGISTRY_FILE    "distros.json"
#define REGISTRY_LOCK    "distros.lock"
#define REGISTRY_VERSION 1
/* Human-readable, tab-indented like the files of earlier (cJSON) versions; no escaped slashes in paths. */
#define REGISTRY_FORMAT                                                                                      \
    (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_PRETTY_TAB | JSON_C_TO_STRING_SPACED |                       \
     JSON_C_TO_STRING_NOSLASHESCAPE)
/* Far beyond any real time, and keeps the conversion to int64_t defined. */
#define CREATED_LIMIT 1e18
/* Far beyond any real registry (a few hundred bytes per distribution); a bigger file is not read. */
#define REGISTRY_MAX (16u << 20)

static bool id_valid(const char *id)
{
    if (strlen(id) != LSL_DISTRO_ID_LEN)
        return false;
    for (const char *p = id; *p; p++)
        if (!isxdigit((unsigned char)*p))
            return false;
    return true;
}

static struct lsl_distro *find_id(const struct lsl_registry *r, const char *id)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcasecmp(r->distros[i].id, id) == 0)
            return &r->distros[i];
    return NULL;
}

int lsl_distro_new_id(const struct lsl_registry *r, char id[LSL_DISTRO_ID_LEN + 1])
{
    do {
        unsigned char raw[LSL_DISTRO_ID_LEN / 2];
        if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
            return -errno;
        for (size_t i = 0; i < sizeof(raw); i++)
            snprintf(id + 2 * i, 3, "%02x", raw[i]);
    } while (r && find_id(r, id));
    return 0;
}

void lsl_distro_free(struct lsl_distro *d)
{
    free(d->dir);
    free(d->image);
    free(d->default_user);
    free(d->oobe_command);
    free(d->new_user);
    d->dir = d->image = d->default_user = d->oobe_command = d->new_user = NULL;
}

struct lsl_distro *lsl_registry_find(const struct lsl_registry *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcasecmp(r->distros[i].name, name) == 0)
            return &r->distros[i];
    return NULL;
}

struct lsl_distro *lsl_registry_default(const struct lsl_registry *r)
{
    return r->default_name ? lsl_registry_find(r, r->default_name) : NULL;
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

int lsl_registry_add(struct lsl_registry *r, const struct lsl_distro *d)
{
    if (!lsl_distro_name_valid(d->name) || !id_valid(d->id))
        return -EINVAL;
    if (lsl_registry_find(r, d->name) || find_id(r, d->id))
        return -EEXIST;
    struct lsl_distro *grown = realloc(r->distros, (r->n + 1) * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    r->distros = grown;
    struct lsl_distro copy = *d;
    copy.dir = dup_or_empty(d->dir);
    copy.image = dup_or_empty(d->image);
    copy.default_user = dup_or_empty(d->default_user);
    copy.oobe_command = dup_or_empty(d->oobe_command);
    copy.new_user = dup_or_empty(d->new_user);
    char *new_default = r->default_name ? NULL : strdup(d->name);
    if (!copy.dir || !copy.image || !copy.default_user || !copy.oobe_command || !copy.new_user ||
        (!r->default_name && !new_default)) {
        lsl_distro_free(&copy);
        free(new_default);
        return -ENOMEM;
    }
    if (new_default)
        r->default_name = new_default;
    r->distros[r->n++] = copy;
    return 0;
}

int lsl_registry_set_default(struct lsl_registry *r, const char *name)
{
    struct lsl_distro *d = lsl_registry_find(r, name);
    if (!d)
        return -ENOENT;
    char *copy = strdup(d->name);
    if (!copy)
        return -ENOMEM;
    free(r->default_name);
    r->default_name = copy;
    return 0;
}

int lsl_registry_remove(struct lsl_registry *r, const char *name)
{
    struct lsl_distro *d = lsl_registry_find(r, name);
    if (!d)
        return -ENOENT;
    bool was_default = r->default_name && strcasecmp(r->default_name, d->name) == 0;
    lsl_distro_free(d);
    size_t i = (size_t)(d - r->distros);
    memmove(d, d + 1, (r->n - i - 1) * sizeof(*d));
    r->n--;
    if (was_default) {
        free(r->default_name);
        r->default_name = NULL;
        if (r->n)
            return lsl_registry_set_default(r, r->distros[0].name);
    }
    return 0;
}

/* --- loading --- */

/* An optional number member in [min, max]; absent leaves *out. False if present and anything else. */
static bool json_number(const json_object *obj, const char *key, double min, double max, double *out)
{
    json_object *v;
    if (!json_object_object_get_ex(obj, key, &v))
        return true;
    /* Not json_object_get_double alone: it turns "12" into 12. */
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
        return false;
    *out = json_object_get_double(v);
    return *out >= min && *out <= max; /* false for NaN, which json-c parses */
}

/* Fills d from one entry; returns NULL or what is wrong with it. */
static const char *distro_from_json(const json_object *o, struct lsl_distro *d)
{
    const char *name = lsl_json_string(o, "name"), *id = lsl_json_string(o, "id");
    const char *dir = lsl_json_string(o, "dir"), *image = lsl_json_string(o, "image");
    const char *user = lsl_json_string(o, "default_user"), *oobe = lsl_json_string(o, "oobe_command");
    const char *new_user = lsl_json_string(o, "new_user");
    json_object *done;
    bool has_done = json_object_object_get_ex(o, "oobe_done", &done);
    double uid = -1, version = 2, created = 0, new_uid = -1, new_gid = -1;
    if (!json_object_is_type(o, json_type_object))
        return "an entry is not an object";
    if (!name || !lsl_distro_name_valid(name))
        return "an entry has no valid name";
    if (!id || !id_valid(id))
        return "an entry has no valid id";
    if (!dir || !image)
        return "an entry has no dir or image";
    if (!json_number(o, "default_uid", -1, INT_MAX, &uid) ||
        !json_number(o, "version", INT_MIN, INT_MAX, &version) ||
        !json_number(o, "created", -CREATED_LIMIT, CREATED_LIMIT, &created) ||
        !json_number(o, "new_uid", -1, INT_MAX, &new_uid) ||
        !json_number(o, "new_gid", -1, INT_MAX, &new_gid) ||
        (has_done && !json_object_is_type(done, json_type_boolean)))
        return "an entry has a field of the wrong type";
    *d = (struct lsl_distro){
        .dir = (char *)dir,
        .image = (char *)image,
        .default_user = (char *)user,
        .oobe_command = (char *)oobe,
        .default_uid = (int)uid,
        .oobe_done = has_done && json_object_get_boolean(done),
        .new_user = (char *)new_user,
        .new_uid = (int)new_uid,
        .new_gid = (int)new_gid,
        .version = (int)version,
        .created = (int64_t)created,
    };
    snprintf(d->name, sizeof(d->name), "%s", name);
    snprintf(d->id, sizeof(d->id), "%s", id);
    return NULL;
}

/* Fills r from the parsed file; returns NULL or what is wrong with it, *ret a -errno of its own. */
static const char *registry_from_json(struct lsl_registry *r, const json_object *root, int *ret)
{
    json_object *list, *def;
    bool has_def = json_object_object_get_ex(root, "default", &def);
    if (!json_object_object_get_ex(root, "distros", &list) || !json_object_is_type(list, json_type_array))
        return "no \"distros\" array";
    if (has_def && !json_object_is_type(def, json_type_string) && !json_object_is_type(def, json_type_null))
        return "\"default\" is not a string";
    size_t n = json_object_array_length(list);
    for (size_t i = 0; i < n; i++) {
        struct lsl_distro d;
        const char *why = distro_from_json(json_object_array_get_idx(list, i), &d);
        if (why)
            return why;
        if ((*ret = lsl_registry_add(r, &d)) == -EEXIST)
            return "two entries share a name or id";
        if (*ret < 0)
            return NULL;
    }
    if (json_object_is_type(def, json_type_string))
        return lsl_registry_set_default(r, json_object_get_string(def)) < 0
                   ? "the default distro is not registered"
                   : NULL;
    /* lsl_registry_add made the first distro the default; the file's own choice (none) is what counts. */
    free(r->default_name);
    r->default_name = NULL;
    return NULL;
}

static int registry_load(struct lsl_registry *r)
{
    _cleanup_close_ int fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0)
        return log_errno(errno, "cannot open %s", r->path);
    _cleanup_free_ char *text = NULL;
    int ret = read_fd_text(fd, REGISTRY_MAX, &text, NULL);
    if (ret < 0)
        return log_errno(-ret, "cannot read %s", r->path);

    json_object *root;
    const char *why = lsl_json_parse(text, &root) ? registry_from_json(r, root, &ret) : "not JSON";
    json_object_put(root);
    if (why) {
        log_error("%s is corrupt (%s); fix or move it away, lsl will not overwrite it", r->path, why);
        return -EBADMSG;
    }
    return ret < 0 ? log_errno(-ret, "cannot load %s", r->path) : 0;
}

int lsl_registry_open(struct lsl_registry *r, const char *state_dir, enum lsl_registry_mode mode)
{
    *r = (struct lsl_registry){.lock_fd = -1};
    if (asprintf(&r->path, "%s/%s", state_dir, REGISTRY_FILE) < 0) {
        r->path = NULL;
        return log_errno(ENOMEM, "registry");
    }
    int ret;
    if (mode == LSL_REGISTRY_WRITE) {
        _cleanup_free_ char *lock = NULL;
        if (asprintf(&lock, "%s/%s", state_dir, REGISTRY_LOCK) < 0) {
            lock = NULL;
            ret = log_errno(ENOMEM, "registry");
            goto fail;
        }
        ret = r->lock_fd = lsl_lock_take(lock, LSL_REGISTRY_LOCK_S);
        if (ret == -ETIMEDOUT)
            log_error("another lsl has held %s for %d s (a --manage --move or --resize under way?)", lock,
                      LSL_REGISTRY_LOCK_S);
        else if (ret < 0)
            log_errno(-ret, "cannot lock %s", lock);
        if (ret < 0)
            goto fail;
        r->locked = true;
    }
    if ((ret = registry_load(r)) < 0)
        goto fail;
    return 0;
fail:
    lsl_registry_close(r);
    return ret;
}

void lsl_registry_close(struct lsl_registry *r)
{
    for (size_t i = 0; i < r->n; i++)
        lsl_distro_free(&r->distros[i]);
    free(r->distros);
    free(r->default_name);
    free(r->path);
    if (r->locked)
        close(r->lock_fd); /* drops the flock */
    *r = (struct lsl_registry){.lock_fd = -1};
}

/* --- saving --- */

/* Adds v to o (an object, or an array if key is NULL), which then owns it. False, v freed, if v is NULL (out
 * of memory) or cannot be added. */
static bool add(json_object *o, const char *key, json_object *v)
{
    if (o && v && (key ? json_object_object_add(o, key, v) : json_object_array_add(o, v)) == 0)
        return true;
    json_object_put(v);
    return false;
}

/* NULL for a NULL string, so that the save fails instead of json_object_new_string crashing. */
static json_object *new_string(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static json_object *distro_to_json(const struct lsl_distro *d)
{
    json_object *o = json_object_new_object();
    bool ok = add(o, "name", new_string(d->name)) && add(o, "id", new_string(d->id)) &&
              add(o, "dir", new_string(d->dir)) && add(o, "image", new_string(d->image)) &&
              add(o, "default_user", new_string(d->default_user)) &&
              add(o, "default_uid", json_object_new_int(d->default_uid)) &&
              add(o, "oobe_command", new_string(d->oobe_command)) &&
              add(o, "oobe_done", json_object_new_boolean(d->oobe_done)) &&
              add(o, "new_user", new_string(d->new_user)) &&
              add(o, "new_uid", json_object_new_int(d->new_uid)) &&
              add(o, "new_gid", json_object_new_int(d->new_gid)) &&
              add(o, "version", json_object_new_int(d->version)) &&
              add(o, "created", json_object_new_int64(d->created));
    if (!ok) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* Keys in the order earlier (cJSON) versions wrote them. */
static json_object *registry_to_json(const struct lsl_registry *r)
{
    json_object *root = json_object_new_object(), *list = json_object_new_array();
    bool ok = add(root, "distros", list) && add(root, "version", json_object_new_int(REGISTRY_VERSION)) &&
              (r->default_name ? add(root, "default", new_string(r->default_name))
                               : json_object_object_add(root, "default", NULL) == 0); /* null */
    for (size_t i = 0; ok && i < r->n; i++)
        ok = add(list, NULL, distro_to_json(&r->distros[i]));
    if (!ok) {
        json_object_put(root);
        return NULL;
    }
    return root;
}

/* Replaces path by text and a newline, atomically. 0 or -errno after one error line. */
static int write_file(const char *path, const char *text)
{
    _cleanup_free_ char *tmp = NULL;
    if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
        tmp = NULL;
        return log_errno(ENOMEM, "cannot save %s", path);
    }
    int fd = mkostemp(tmp, O_CLOEXEC); /* 0600: the registry names where every disk is */
    if (fd < 0)
        return log_errno(errno, "cannot create %s", tmp);
    int ret = write_full(fd, text, strlen(text));
    if (!ret)
        ret = write_full(fd, "\n", 1);
    /* Data on disk before the rename makes it visible: a crash leaves the old file or the new one. */
    if (!ret && fsync(fd) < 0)
        ret = -errno;
    if (close(fd) < 0 && !ret)
        ret = -errno;
    if (!ret && rename(tmp, path) < 0)
        ret = -errno;
    if (ret < 0) {
        unlink(tmp);
        return log_errno(-ret, "cannot save %s", path);
    }
    char *slash = strrchr(tmp, '/');
    if (slash) {
        *slash = '\0';
        _cleanup_close_ int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
            fsync(dfd); /* the rename itself; best effort */
    }
    return 0;
}

int lsl_registry_save(struct lsl_registry *r)
{
    if (!r->locked) {
        log_error("internal error: registry saved without its lock");
        return -EPERM;
    }
    json_object *root = registry_to_json(r);
    const char *text = root ? json_object_to_json_string_ext(root, REGISTRY_FORMAT) : NULL; /* root's */
    int ret = text ? write_file(r->path, text) : log_errno(ENOMEM, "cannot save %s", r->path);
    json_object_put(root);
    return ret;
}
