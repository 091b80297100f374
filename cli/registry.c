/* distros.json: load and validate with cJSON, edit in memory, save atomically under the registry lock. */
#include "registry.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define REGISTRY_FILE    "distros.json"
#define REGISTRY_LOCK    "distros.lock"
#define REGISTRY_VERSION 1

static void freep(void *p)
{
    free(*(void **)p);
}
#define _cleanup_free_ __attribute__((cleanup(freep)))

bool lsl_distro_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > LSL_DISTRO_NAME_MAX || name[0] == '.' || name[0] == '-')
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return false;
    return true;
}

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
    d->dir = d->image = d->default_user = d->oobe_command = NULL;
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
    char *new_default = r->default_name ? NULL : strdup(d->name);
    if (!copy.dir || !copy.image || !copy.default_user || !copy.oobe_command ||
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

static const char *json_string(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool json_number(const cJSON *obj, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v))
        return false;
    *out = v->valuedouble;
    return true;
}

/* Fills d from one entry; returns NULL or what is wrong with it. */
static const char *distro_from_json(const cJSON *o, struct lsl_distro *d)
{
    const char *name = json_string(o, "name"), *id = json_string(o, "id");
    const char *dir = json_string(o, "dir"), *image = json_string(o, "image");
    const char *user = json_string(o, "default_user"), *oobe = json_string(o, "oobe_command");
    const cJSON *done = cJSON_GetObjectItemCaseSensitive(o, "oobe_done");
    double uid = -1, version = 2, created = 0;
    if (!cJSON_IsObject(o))
        return "an entry is not an object";
    if (!name || !lsl_distro_name_valid(name))
        return "an entry has no valid name";
    if (!id || !id_valid(id))
        return "an entry has no valid id";
    if (!dir || !image)
        return "an entry has no dir or image";
    if ((cJSON_GetObjectItemCaseSensitive(o, "default_uid") && !json_number(o, "default_uid", &uid)) ||
        (cJSON_GetObjectItemCaseSensitive(o, "version") && !json_number(o, "version", &version)) ||
        (cJSON_GetObjectItemCaseSensitive(o, "created") && !json_number(o, "created", &created)) ||
        (done && !cJSON_IsBool(done)) || uid < -1 || uid > INT_MAX)
        return "an entry has a field of the wrong type";
    *d = (struct lsl_distro){
        .dir = (char *)dir,
        .image = (char *)image,
        .default_user = (char *)user,
        .oobe_command = (char *)oobe,
        .default_uid = (int)uid,
        .oobe_done = cJSON_IsTrue(done),
        .version = (int)version,
        .created = (int64_t)created,
    };
    snprintf(d->name, sizeof(d->name), "%s", name);
    snprintf(d->id, sizeof(d->id), "%s", id);
    return NULL;
}

static int read_all(int fd, char **out)
{
    size_t len = 0, cap = 0;
    char *buf = NULL;
    for (;;) {
        if (cap - len < 4096) {
            char *b = realloc(buf, cap + 65536);
            if (!b) {
                free(buf);
                return -ENOMEM;
            }
            buf = b, cap += 65536;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(buf);
            return -e;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    *out = buf;
    return 0;
}

static int registry_load(struct lsl_registry *r)
{
    int fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0)
        return lsl_log_errno(errno, "cannot open %s", r->path);
    _cleanup_free_ char *text = NULL;
    int ret = read_all(fd, &text);
    close(fd);
    if (ret < 0)
        return lsl_log_errno(-ret, "cannot read %s", r->path);

    cJSON *root = cJSON_Parse(text);
    const char *why = NULL;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "distros");
    const cJSON *def = cJSON_GetObjectItemCaseSensitive(root, "default");
    if (!root)
        why = "not JSON";
    else if (!cJSON_IsObject(root) || !cJSON_IsArray(list))
        why = "no \"distros\" array";
    else if (def && !cJSON_IsString(def) && !cJSON_IsNull(def))
        why = "\"default\" is not a string";
    const cJSON *item, *entries = why ? NULL : list;
    cJSON_ArrayForEach(item, entries)
    {
        struct lsl_distro d;
        if ((why = distro_from_json(item, &d)))
            break;
        if ((ret = lsl_registry_add(r, &d)) == -EEXIST) {
            why = "two entries share a name or id";
            break;
        }
        if (ret < 0)
            break;
    }
    if (!why && !ret && cJSON_IsString(def) && lsl_registry_set_default(r, def->valuestring) < 0)
        why = "the default distro is not registered";
    /* lsl_registry_add made the first distro the default; the file's own choice (or none) is what counts. */
    if (!why && !ret && !cJSON_IsString(def)) {
        free(r->default_name);
        r->default_name = NULL;
    }
    cJSON_Delete(root);
    if (why) {
        lsl_log_error("%s is corrupt (%s); fix or move it away, lsl will not overwrite it", r->path, why);
        return -EBADMSG;
    }
    return ret < 0 ? lsl_log_errno(-ret, "cannot load %s", r->path) : 0;
}

int lsl_registry_open(struct lsl_registry *r, const char *state_dir, enum lsl_registry_mode mode)
{
    *r = (struct lsl_registry){.lock_fd = -1};
    if (asprintf(&r->path, "%s/%s", state_dir, REGISTRY_FILE) < 0) {
        r->path = NULL;
        return lsl_log_errno(ENOMEM, "registry");
    }
    int ret;
    if (mode == LSL_REGISTRY_WRITE) {
        _cleanup_free_ char *lock = NULL;
        if (asprintf(&lock, "%s/%s", state_dir, REGISTRY_LOCK) < 0) {
            lock = NULL;
            ret = lsl_log_errno(ENOMEM, "registry");
            goto fail;
        }
        r->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (r->lock_fd < 0) {
            ret = lsl_log_errno(errno, "cannot open %s", lock);
            goto fail;
        }
        while ((ret = flock(r->lock_fd, LOCK_EX)) < 0 && errno == EINTR)
            ;
        if (ret < 0) {
            ret = lsl_log_errno(errno, "cannot lock %s", lock);
            goto fail;
        }
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
    if (r->lock_fd >= 0)
        close(r->lock_fd); /* drops the flock */
    *r = (struct lsl_registry){.lock_fd = -1};
}

/* --- saving --- */

static cJSON *registry_to_json(const struct lsl_registry *r)
{
    cJSON *root = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(root, "distros");
    bool ok = root && list && cJSON_AddNumberToObject(root, "version", REGISTRY_VERSION) &&
              (r->default_name ? cJSON_AddStringToObject(root, "default", r->default_name)
                               : cJSON_AddNullToObject(root, "default"));
    for (size_t i = 0; ok && i < r->n; i++) {
        const struct lsl_distro *d = &r->distros[i];
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_AddItemToArray(list, o) && cJSON_AddStringToObject(o, "name", d->name) &&
             cJSON_AddStringToObject(o, "id", d->id) && cJSON_AddStringToObject(o, "dir", d->dir) &&
             cJSON_AddStringToObject(o, "image", d->image) &&
             cJSON_AddStringToObject(o, "default_user", d->default_user) &&
             cJSON_AddNumberToObject(o, "default_uid", d->default_uid) &&
             cJSON_AddStringToObject(o, "oobe_command", d->oobe_command) &&
             cJSON_AddBoolToObject(o, "oobe_done", d->oobe_done) &&
             cJSON_AddNumberToObject(o, "version", d->version) &&
             cJSON_AddNumberToObject(o, "created", (double)d->created);
    }
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        buf += n, len -= (size_t)n;
    }
    return 0;
}

int lsl_registry_save(struct lsl_registry *r)
{
    if (r->lock_fd < 0) {
        lsl_log_error("internal error: registry saved without its lock");
        return -EPERM;
    }
    cJSON *root = registry_to_json(r);
    _cleanup_free_ char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    _cleanup_free_ char *tmp = NULL;
    if (!text || asprintf(&tmp, "%s.XXXXXX", r->path) < 0) {
        tmp = NULL;
        return lsl_log_errno(ENOMEM, "cannot save %s", r->path);
    }
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return lsl_log_errno(errno, "cannot create %s", tmp);
    int ret = fchmod(fd, 0644) < 0 ? -errno : 0;
    if (!ret)
        ret = write_all(fd, text, strlen(text));
    if (!ret)
        ret = write_all(fd, "\n", 1);
    /* Data on disk before the rename makes it visible: a crash leaves the old file or the new one. */
    if (!ret && fsync(fd) < 0)
        ret = -errno;
    if (close(fd) < 0 && !ret)
        ret = -errno;
    if (!ret && rename(tmp, r->path) < 0)
        ret = -errno;
    if (ret < 0) {
        unlink(tmp);
        return lsl_log_errno(-ret, "cannot save %s", r->path);
    }
    char *slash = strrchr(tmp, '/');
    if (slash) {
        *slash = '\0';
        int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd); /* the rename itself; best effort */
            close(dfd);
        }
    }
    return 0;
}
