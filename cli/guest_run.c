/* See guest_run.h. Output is captured through memfds: the session writes them like any local fd, and a
 * regular file never blocks the relay. */
#include "guest_run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "control.h"
#include "distro.h"
#include "service.h"
#include "session.h"

/* The whole of a memfd as a NUL-terminated string. */
static char *slurp(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return NULL;
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        return NULL;
    ssize_t n = pread(fd, buf, (size_t)st.st_size, 0);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

/* The last line of text that says what went wrong: GNU tar ends its complaints with lines that only say
 * that it gave up. */
static void last_line(const char *text, char *err, size_t errlen)
{
    static const char *const generic[] = {"Error is not recoverable", "Exiting with failure status",
                                          "Child returned status"};
    const char *end = text + strlen(text), *fallback = NULL, *fallback_end = NULL;
    while (end > text) {
        while (end > text && (end[-1] == '\n' || end[-1] == '\r'))
            end--;
        const char *start = end;
        while (start > text && start[-1] != '\n')
            start--;
        if (start == end)
            break;
        if (!fallback) {
            fallback = start;
            fallback_end = end;
        }
        bool boring = false;
        for (size_t i = 0; i < sizeof(generic) / sizeof(generic[0]); i++)
            boring |= memmem(start, (size_t)(end - start), generic[i], strlen(generic[i])) != NULL;
        if (!boring) {
            snprintf(err, errlen, "%.*s", (int)(end - start), start);
            return;
        }
        end = start;
    }
    if (fallback)
        snprintf(err, errlen, "%.*s", (int)(fallback_end - fallback), fallback);
}

int lsl_guest_run(const struct lsl_paths *p, const char *distro, const char *const *argv, int in_fd,
                  int out_fd, char **out, char *err, size_t errlen)
{
    int null = -1, out_mem = -1, err_mem = -1, status;
    err[0] = '\0';
    if (in_fd < 0 && (in_fd = null = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        status = -errno;
        goto out;
    }
    if (out_fd < 0) {
        out_fd = out_mem =
            out ? memfd_create("lsl-out", MFD_CLOEXEC) : open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (out_fd < 0) {
            status = -errno;
            goto out;
        }
    }
    if ((err_mem = memfd_create("lsl-err", MFD_CLOEXEC)) < 0) {
        status = -errno;
        goto out;
    }
    struct lsl_exec_request req = {.argv = argv, .distro = distro};
    char serr[256] = "";
    struct lsl_session_io io = {.fds = {in_fd, out_fd, err_mem},
                                .errbuf = serr,
                                .errlen = sizeof(serr),
                                .connect_port = LSL_AGENT_PORT};
    status = lsl_service_exec(p, &req, &io);
    if (status < 0) {
        snprintf(err, errlen, "%s", serr[0] ? serr : strerror(-status));
        goto out;
    }
    char *e = slurp(err_mem);
    if (e) {
        last_line(e, err, errlen);
        free(e);
    }
    if (out && out_mem >= 0 && !(*out = slurp(out_mem)))
        status = -ENOMEM;
out:
    if (null >= 0)
        close(null);
    if (out_mem >= 0)
        close(out_mem);
    if (err_mem >= 0)
        close(err_mem);
    return status;
}

int lsl_control(const struct lsl_paths *p, const struct lsl_ctl_request *req, char *value, size_t valuelen,
                char *err, size_t errlen)
{
    char buf[8192];
    struct lsl_ctl_reply reply;
    int r = lsl_service_request(p, req, buf, sizeof(buf), &reply);
    if (r < 0) {
        snprintf(err, errlen, "the VM service did not answer: %s", r == -EPROTO ? reply.error : strerror(-r));
        return r;
    }
    if (!reply.ok) {
        snprintf(err, errlen, "%s", reply.error);
        return -EIO;
    }
    if (value)
        snprintf(value, valuelen, "%s", reply.value);
    return 0;
}

int lsl_disk_attach(const struct lsl_paths *p, const char *id, const char *image, int *slot, char *err,
                    size_t errlen)
{
    struct lsl_ctl_request req = {.verb = LSL_CTL_ATTACH, .id = id, .path = image};
    char value[32], *end;
    int r = lsl_control(p, &req, value, sizeof(value), err, errlen);
    if (r < 0)
        return r;
    long n = strtol(value, &end, 10);
    if (slot)
        *slot = value[0] && !*end && n >= 0 && n < LSL_DISK_SLOTS_MAX ? (int)n : -1;
    return 0;
}

int lsl_disk_detach(const struct lsl_paths *p, const char *id, char *err, size_t errlen)
{
    struct lsl_ctl_request req = {.verb = LSL_CTL_DETACH, .id = id};
    return lsl_control(p, &req, NULL, 0, err, errlen);
}
