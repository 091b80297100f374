/* Where the catalog and the downloads come from: ~/.lslconfig's catalog= (a URL or a file) or the built-in
 * catalog, and lsl-fetch, the helper that downloads (shared by --install and --list --online). */
#ifndef LSL_CLI_CATALOG_SOURCE_H
#define LSL_CLI_CATALOG_SOURCE_H

#include "catalog.h"
#include "paths.h"

/* Runs lsl-fetch (next to this lsl) for url into dest, checked against sha256 (NULL: unchecked). Returns its
 * exit code: 0, LSL_EXIT_CHECKSUM, LSL_EXIT_DOWNLOAD... (it printed the error line), or LSL_EXIT_FAILURE. */
int lsl_fetch(const char *url, const char *dest, const char *sha256);
/* The catalog this user's lsl uses, validated (catalog.h). Returns 0 or an exit code after one error line. */
int lsl_catalog_load_configured(const struct lsl_paths *p, struct lsl_catalog *cat);
static inline void lsl_catalog_freep(struct lsl_catalog *cat)
{
    lsl_catalog_free(cat);
}

#endif
