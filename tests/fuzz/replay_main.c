/* Runs a fuzz target once over its committed corpus and crash reproducers, without libFuzzer: how
 * `make check` runs every target in the normal (gcc) and the ASan/UBSan builds. Prints "ok   <target>", or
 * "FAIL <target>: <file>" naming the input that crashed, hung, leaked or broke an invariant. Given paths
 * (files or directories), it runs those in this process instead, for gdb or a reproducer before committing.
 * FUZZ_TARGET, FUZZ_CORPUS and FUZZ_REPRO come from tests/fuzz/meson.build. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz.h"

#if defined(__SANITIZE_ADDRESS__)
#define REPLAY_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REPLAY_LSAN 1
#endif
#endif
#ifdef REPLAY_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* libFuzzer's -timeout in tests/fuzz/run.sh is 10 s; a replay under ASan on a busy machine gets more. */
#define TIMEOUT_SECONDS 60

/* Shared with the parent, which names the input when the child dies of it: a sanitizer report, a signal,
 * a failed FUZZ_CHECK or the alarm all end the child, and the parent needs no handler for any of them. */
struct progress {
    char current[4096]; /* the input being run, "" between inputs */
    bool reported;      /* the child printed its own FAIL line */
};
static struct progress *progress;

static void fail(const char *path, const char *why)
{
    printf("FAIL %s: %s%s\n", FUZZ_TARGET, path, why);
    fflush(stdout);
    if (progress)
        progress->reported = true;
}

/* Runs one input from its own allocation of exactly its size, so reading past it is an ASan report. */
static bool run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) < 0) {
        fail(path, " (cannot read)");
        if (f)
            fclose(f);
        return false;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *data = malloc(size ? size : 1);
    bool ok = data && fread(data, 1, size, f) == size;
    fclose(f);
    if (!ok) {
        fail(path, " (cannot read)");
        free(data);
        return false;
    }
    if (progress)
        snprintf(progress->current, sizeof(progress->current), "%s", path);
    alarm(TIMEOUT_SECONDS);
    LLVMFuzzerTestOneInput(data, size);
    alarm(0);
    free(data);
#ifdef REPLAY_LSAN
    /* Leaks are findings too: check after each input, while it is known which one leaked. */
    if (__lsan_do_recoverable_leak_check()) {
        fail(path, " (leak)");
        ok = false;
    }
#endif
    if (progress)
        progress->current[0] = '\0';
    return ok;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Inputs are the files of a directory but the dot files (.gitkeep keeps an empty one in git). */
static int keep(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* Runs a file, or every file of a directory in name order; counts them into *n. */
static bool run_path(const char *path, size_t *n)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        fail(path, " (missing)");
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        ++*n;
        return run_file(path);
    }
    struct dirent **list;
    int count = scandir(path, &list, keep, by_name);
    if (count < 0) {
        fail(path, " (cannot list)");
        return false;
    }
    bool ok = true;
    for (int i = 0; i < count; i++) {
        char file[4096];
        snprintf(file, sizeof(file), "%s/%s", path, list[i]->d_name);
        if (stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
            ++*n;
            ok &= run_file(file);
        }
        free(list[i]);
    }
    free(list);
    return ok;
}

static bool replay_committed(void)
{
    size_t n = 0;
    bool ok = run_path(FUZZ_CORPUS, &n);
    if (ok && n == 0) {
        fail(FUZZ_CORPUS, " (no inputs: every target has a seed corpus)");
        ok = false;
    }
    return run_path(FUZZ_REPRO, &n) && ok;
}

int main(int argc, char **argv)
{
    bool ok = true;
    size_t n = 0;
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            ok &= run_path(argv[i], &n);
        if (ok)
            printf("ok   %s\n", FUZZ_TARGET);
        return ok ? 0 : 1;
    }

    progress = mmap(NULL, sizeof(*progress), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    FUZZ_CHECK(progress != MAP_FAILED);
    fflush(stdout);
    pid_t pid = fork();
    FUZZ_CHECK(pid >= 0);
    if (pid == 0)
        _exit(replay_committed() ? 0 : 1);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        FUZZ_CHECK(errno == EINTR);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("ok   %s\n", FUZZ_TARGET);
        return 0;
    }
    if (!progress->reported || progress->current[0]) {
        char why[64];
        if (WIFSIGNALED(status))
            snprintf(why, sizeof(why), " (%s)",
                     WTERMSIG(status) == SIGALRM ? "timeout" : strsignal(WTERMSIG(status)));
        else
            snprintf(why, sizeof(why), " (exit %d)", WEXITSTATUS(status));
        fail(progress->current[0] ? progress->current : "after the last input", why);
    }
    return 1;
}
