/* See env_fit.h. glibc finds a locale in /usr/lib/locale/locale-archive (localedef's default, what
 * locale-gen writes) or in a directory /usr/lib/locale/NAME (Debian's C.utf8, localedef --no-archive), under
 * the name as given or with its codeset normalised: "en_US.UTF-8" is stored as "en_US.utf8". The archive is
 * the distribution's file, so every offset in it is checked before use. */
#include "env_fit.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCALE_DIR     "/usr/lib/locale"
#define ARCHIVE_MAGIC  0xde020109u /* glibc's locarchive.h AR_MAGIC, in the C library's byte order */
#define NAME_MAX_LEN   255
#define ARCHIVE_HEAD   32u /* magic, serial, namehash offset/used/size, string offset/used/size */
#define NAMEHASH_ENTRY 12u /* hash value, name offset, record offset */

static uint32_t u32_at(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* glibc's _nl_normalize_codeset on the part of name between '.' and '@': letters lowercased, digits kept,
 * the rest dropped, "iso" in front when only digits remain. Returns false if out is too small. */
static bool normalize(const char *name, char *out, size_t outlen)
{
    const char *dot = strchr(name, '.');
    if (!dot || dot[1] == '\0' || dot[1] == '@')
        return snprintf(out, outlen, "%s", name) < (int)outlen;
    const char *rest = strchrnul(dot + 1, '@');
    bool only_digits = true;
    for (const char *c = dot + 1; c < rest; c++)
        if (isalpha((unsigned char)*c))
            only_digits = false;
    size_t n = (size_t)(dot + 1 - name);
    if (n >= outlen)
        return false;
    memcpy(out, name, n);
    if (only_digits) {
        if (n + 3 >= outlen)
            return false;
        memcpy(out + n, "iso", 3);
        n += 3;
    }
    for (const char *c = dot + 1; c < rest; c++) {
        if (!isalnum((unsigned char)*c))
            continue;
        if (n + 1 >= outlen)
            return false;
        out[n++] = (char)tolower((unsigned char)*c);
    }
    return snprintf(out + n, outlen - n, "%s", rest) < (int)(outlen - n);
}

static bool in_archive(const uint8_t *a, size_t size, const char *const names[2])
{
    if (size < ARCHIVE_HEAD || u32_at(a) != ARCHIVE_MAGIC)
        return false;
    uint64_t table = u32_at(a + 8), entries = u32_at(a + 16);
    if (table > size || entries > (size - table) / NAMEHASH_ENTRY)
        return false;
    for (uint64_t i = 0; i < entries; i++) {
        uint32_t off = u32_at(a + table + i * NAMEHASH_ENTRY + 4);
        if (off == 0 || off >= size) /* an empty slot, or nonsense */
            continue;
        const char *s = (const char *)a + off;
        const char *end = memchr(s, '\0', size - off);
        if (!end)
            continue;
        for (int k = 0; k < 2; k++)
            if ((size_t)(end - s) == strlen(names[k]) && memcmp(s, names[k], (size_t)(end - s)) == 0)
                return true;
    }
    return false;
}

enum agent_locale agent_locale_find(const char *root, const char *name)
{
    char dir[4096], path[4096 + 2 * NAME_MAX_LEN], normal[NAME_MAX_LEN + 1];
    struct stat st;

    if (!name[0] || strcmp(name, "C") == 0 || strcmp(name, "POSIX") == 0)
        return AGENT_LOCALE_AVAILABLE;
    if (snprintf(dir, sizeof(dir), "%s%s", strcmp(root, "/") == 0 ? "" : root, LOCALE_DIR) >=
            (int)sizeof(dir) ||
        stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return AGENT_LOCALE_UNKNOWN;
    /* glibc refuses names that could leave its directory. */
    if (strlen(name) > NAME_MAX_LEN || strchr(name, '/') || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0 || !normalize(name, normal, sizeof(normal)))
        return AGENT_LOCALE_MISSING;
    const char *const names[2] = {name, normal};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[k]);
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return AGENT_LOCALE_AVAILABLE;
    }
    snprintf(path, sizeof(path), "%s/locale-archive", dir);
    bool found = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= (off_t)ARCHIVE_HEAD) {
            size_t size = (size_t)st.st_size;
            void *a = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (a != MAP_FAILED) {
                found = in_archive(a, size, names);
                munmap(a, size);
            }
        }
        close(fd);
    }
    return found ? AGENT_LOCALE_AVAILABLE : AGENT_LOCALE_MISSING;
}

const char *agent_locale_substitute(const char *root, const char *value)
{
    char normal[NAME_MAX_LEN + 1];

    if (agent_locale_find(root, value) != AGENT_LOCALE_MISSING)
        return NULL;
    /* A UTF-8 terminal stays UTF-8 where the C library has C.UTF-8 (glibc 2.35 and every Debian). */
    const char *dot = strchr(value, '.');
    bool utf8 = dot && normalize(value, normal, sizeof(normal)) &&
                strncmp(normal + (dot - value), ".utf8", 5) == 0 &&
                (normal[(dot - value) + 5] == '\0' || normal[(dot - value) + 5] == '@');
    if (utf8 && agent_locale_find(root, "C.UTF-8") == AGENT_LOCALE_AVAILABLE)
        return "C.UTF-8";
    return "C";
}

/* ncurses' places (besides TERMINFO and TERMINFO_DIRS, which make the entry the user's business): each
 * holds DIR/<first letter>/NAME, or DIR/<first letter in hex>/NAME as on file systems without case. */
static bool terminfo_exists(const char *root, const char *home, const char *term)
{
    static const char *const dirs[] = {"/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo",
                                       "/usr/lib/terminfo", "/usr/share/lib/terminfo"};
    char path[4096];
    struct stat st;
    const char *r = strcmp(root, "/") == 0 ? "" : root;

    for (size_t i = 0; i <= sizeof(dirs) / sizeof(dirs[0]); i++) {
        char dir[4096];
        if (i < sizeof(dirs) / sizeof(dirs[0]))
            snprintf(dir, sizeof(dir), "%s%s", r, dirs[i]);
        else if (home && home[0] == '/')
            snprintf(dir, sizeof(dir), "%s%s/.terminfo", r, home);
        else
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%c/%s", dir, term[0], term) < sizeof(path) &&
            stat(path, &st) == 0 && S_ISREG(st.st_mode))
            return true;
        if ((size_t)snprintf(path, sizeof(path), "%s/%02x/%s", dir, (unsigned char)term[0], term) <
                sizeof(path) &&
            stat(path, &st) == 0 && S_ISREG(st.st_mode))
            return true;
    }
    return false;
}

const char *agent_term_substitute(const char *root, const char *home, const char *term)
{
    static const char *const fallbacks[] = {"xterm-256color", "xterm"};

    /* Names with '/' or a leading '.' are paths to ncurses, not entries: leave those to it. */
    if (!term[0] || strchr(term, '/') || term[0] == '.' || strlen(term) > NAME_MAX_LEN ||
        terminfo_exists(root, home, term))
        return NULL;
    for (size_t i = 0; i < sizeof(fallbacks) / sizeof(fallbacks[0]); i++)
        if (terminfo_exists(root, home, fallbacks[i]))
            return fallbacks[i];
    return NULL;
}

bool agent_env_has(char *const env[], const char *name)
{
    size_t n = strlen(name);
    for (; *env; env++)
        if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
            return true;
    return false;
}

static bool locale_variable(const char *entry)
{
    return strncmp(entry, "LANG=", 5) == 0 || (strncmp(entry, "LC_", 3) == 0 && strchr(entry, '='));
}

int agent_env_fit(const char *root, const char *home, char **env, char **owned)
{
    bool own_terminfo = agent_env_has(env, "TERMINFO") || agent_env_has(env, "TERMINFO_DIRS");
    size_t n = 0;
    for (char **e = env; *e; e++) {
        const char *eq = strchr(*e, '='), *repl = NULL;
        if (!eq)
            continue;
        if (locale_variable(*e))
            repl = agent_locale_substitute(root, eq + 1);
        else if (strncmp(*e, "TERM=", 5) == 0 && !own_terminfo)
            repl = agent_term_substitute(root, home, eq + 1);
        if (!repl)
            continue;
        char *s = NULL;
        if (asprintf(&s, "%.*s=%s", (int)(eq - *e), *e, repl) < 0)
            return -ENOMEM;
        owned[n++] = s;
        *e = s;
    }
    return 0;
}
