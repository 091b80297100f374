/* --list [-v|-q] [--running|--all]: the registered distributions, which of them run and which is the default;
 * --list --online: what the catalog offers to --install. --running with none running says so as wsl.exe does
 * (and exits 1, which scripts test), silently with -q (exit 0). */
#include "verbs.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "catalog_source.h"
#include "distro_store.h"
#include "distro_vm.h"
#include "exitcodes.h"
#include "macro.h"

static int list_online(const struct lsl_paths *p, bool quiet)
{
    _cleanup_(lsl_catalog_freep) struct lsl_catalog cat = {0};
    int rc = lsl_catalog_load_configured(p, &cat);
    if (rc)
        return rc;
    if (quiet) { /* the names alone, one a line, as --list --quiet: for scripts and completion */
        for (size_t i = 0; i < cat.n; i++)
            printf("%s\n", cat.entries[i].name);
        return 0;
    }
    printf("Distributions lsl --install can install (lsl --install NAME):\n\n  %-20s %s\n", "NAME",
           "FRIENDLY NAME");
    for (size_t i = 0; i < cat.n; i++) {
        const struct lsl_catalog_entry *e = &cat.entries[i];
        printf("%c %-20s %s%s\n", e->is_default ? '*' : ' ', e->name,
               e->friendly_name ? e->friendly_name : e->name,
               e->bootstrap ? " (built locally with mmdebstrap)" : "");
    }
    return 0;
}

int lsl_verb_list(const struct lsl_paths *p, struct lsl_args *a)
{
    if (a->online)
        return list_online(p, a->quiet);
    _cleanup_(lsl_registry_closep) struct lsl_registry reg = {0};
    int rc = lsl_store_open(p, &reg, false);
    if (rc)
        return rc;
    if (reg.n == 0) {
        if (!a->quiet)
            fprintf(stderr,
                    "lsl: no distributions installed; lsl --install installs one (lsl --list --online)\n");
        return a->quiet ? 0 : LSL_EXIT_NOT_FOUND;
    }
    _cleanup_free_ char *running = NULL;
    if (lsl_distro_running(p, &running) < 0)
        return LSL_EXIT_FAILURE;
    size_t shown = 0;
    for (size_t i = 0; i < reg.n; i++)
        shown += !a->running || lsl_distro_in_list(running, reg.distros[i].name);
    if (!shown) {
        if (a->quiet)
            return 0;
        printf("There are no running distributions.\n"); /* wsl.exe's words, on stdout as there */
        return LSL_EXIT_NONE_RUNNING;
    }
    const struct lsl_distro *def_d = lsl_registry_default(&reg);
    const char *def = def_d ? def_d->name : NULL;
    if (a->verbose)
        printf("  %-24s %-10s %s\n", "NAME", "STATE", "VERSION");
    else if (!a->quiet)
        printf("lsl distributions:\n");
    for (size_t i = 0; i < reg.n; i++) {
        const struct lsl_distro *d = &reg.distros[i];
        bool up = lsl_distro_in_list(running, d->name);
        if (a->running && !up)
            continue;
        bool is_def = def && strcasecmp(def, d->name) == 0;
        if (a->quiet)
            printf("%s\n", d->name);
        else if (a->verbose)
            printf("%c %-24s %-10s %d\n", is_def ? '*' : ' ', d->name, up ? "Running" : "Stopped", 2);
        else
            printf("%s%s\n", d->name, is_def ? " (Default)" : "");
    }
    return 0;
}
