/* Fuzz target: the installed-distro registry (cli/registry.h), through the only door it has, a state dir:
 * the input becomes distros.json. A file another tool or a crash mangled is refused with -EBADMSG; one that
 * loads keeps the registry's rules, and saving and loading it again gives the same registry. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fuzz.h"
#include "registry.h"

static char state[64];
static char json[128];
static char lock[128];

/* A state dir per input, on tmpfs when there is one: each input is a write, a load and maybe a save. */
static void state_init(void)
{
    snprintf(state, sizeof(state), "%s/lsl-fuzz-registry-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    FUZZ_CHECK(mkdtemp(state) != NULL);
    snprintf(json, sizeof(json), "%s/distros.json", state);
    snprintf(lock, sizeof(lock), "%s/distros.lock", state);
}

static void check_registry(const struct lsl_registry *r)
{
    for (size_t i = 0; i < r->n; i++) {
        const struct lsl_distro *d = &r->distros[i];
        FUZZ_CHECK(lsl_distro_name_valid(d->name));
        FUZZ_CHECK(strlen(d->id) == LSL_DISTRO_ID_LEN);
        FUZZ_CHECK(d->dir && d->image && d->default_user && d->oobe_command);
        FUZZ_CHECK(lsl_registry_find(r, d->name) == d); /* unique names */
    }
    FUZZ_CHECK(!r->default_name || lsl_registry_default(r) != NULL);
}

static bool same(const struct lsl_registry *a, const struct lsl_registry *b)
{
    if (a->n != b->n || !a->default_name != !b->default_name)
        return false;
    if (a->default_name && strcmp(a->default_name, b->default_name) != 0)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const struct lsl_distro *x = &a->distros[i], *y = &b->distros[i];
        if (strcmp(x->name, y->name) || strcmp(x->id, y->id) || strcmp(x->dir, y->dir) ||
            strcmp(x->image, y->image) || strcmp(x->default_user, y->default_user) ||
            strcmp(x->oobe_command, y->oobe_command) || x->default_uid != y->default_uid ||
            x->oobe_done != y->oobe_done || x->version != y->version || x->created != y->created)
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    state_init();
    int fd = open(json, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(write(fd, data, size) == (ssize_t)size);
    close(fd);

    struct lsl_registry r, again;
    int ret = lsl_registry_open(&r, state, LSL_REGISTRY_WRITE);
    FUZZ_CHECK(ret == 0 || ret == -EBADMSG || ret == -ENOMEM);
    if (ret == 0) {
        check_registry(&r);
        FUZZ_CHECK(lsl_registry_save(&r) == 0);
        FUZZ_CHECK(lsl_registry_open(&again, state, LSL_REGISTRY_READ) == 0);
        FUZZ_CHECK(same(&r, &again));
        lsl_registry_close(&again);
        /* Removing the default makes the first remaining distro the default. */
        if (lsl_registry_default(&r)) {
            FUZZ_CHECK(lsl_registry_remove(&r, r.default_name) == 0);
            FUZZ_CHECK(r.n == 0 || lsl_registry_default(&r) == &r.distros[0]);
            check_registry(&r);
        }
        lsl_registry_close(&r);
    }
    unlink(json);
    unlink(lock);
    rmdir(state);
    return 0;
}
