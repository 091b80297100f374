/* The configuration file grammar of wsl.conf, lsl.conf, wsl-distribution.conf and ~/.lslconfig: WSL's own
 * (src/shared/configfile/configfile.cpp in microsoft/WSL), rule by rule, so a file WSL reads means the same
 * here: [section] and key names of letters and digits, case-insensitive to the key tables; `key = value` with
 * double quotes removed wherever they are, `#` starting a comment outside quotes, the escapes \\ \" \b \n \t
 * and a backslash at the end of a line continuing it; blanks and CRs around everything ignored. Nothing a
 * file holds is an error: a line that is none of these is one warning and skipped, the lines after it still
 * count (WSL stops reading wsl.conf at such a line; it skips it in .wslconfig, which is what lsl does for
 * both). */
#ifndef LSL_CLI_CONFFILE_H
#define LSL_CLI_CONFFILE_H

#include <stdbool.h>

/* Receives one warning, without the "lsl: " prefix or a newline. NULL prints "lsl: <line>" on stderr. */
typedef void (*lsl_warn_fn)(const char *line);
/* Formats one warning and hands it to warn (or stderr). */
void lsl_warn(lsl_warn_fn warn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Called per `key = value`, the value unquoted and unescaped; section is "" before the first [section];
 * line is the 1-based line the key is on. */
typedef void (*lsl_ini_handler)(void *user, int line, const char *section, const char *key,
                                const char *value);
/* Parses text (NUL-terminated; a NUL ends it) and calls handler for each key. Lines that break the grammar
 * are one warning each, "name:LINE: what (line ignored)". Returns 0 or -ENOMEM. */
int lsl_ini_parse_string(const char *text, const char *name, lsl_warn_fn warn, lsl_ini_handler handler,
                         void *user);

/* WSL's booleans: true/false (any case), 1/0. Returns 0 or -EINVAL. */
int lsl_parse_bool(const char *s, bool *out);
/* WSL's integers: strtol with base 0 (so 0022 is octal, 0x12 hex, 18 decimal), the whole string, an int.
 * Returns 0 or -EINVAL. */
int lsl_parse_int(const char *s, int *out);

#endif
