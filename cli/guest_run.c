/* See guest_run.h. Output the caller wants is captured by the session itself (struct lsl_capture), within
 * fixed limits, instead of being spooled to a file first: whatever the guest sends, lsl holds at most
 * LSL_GUEST_OUT_MAX + LSL_GUEST_ERR_KEEP bytes of it. */
#include "guest_run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "macro.h"
#include "service.h"
#include "session_client.h"

/* The last line of text that says what went wrong: GNU tar ends its complaints with lines that only say
 * that it gave up. */
static void last_line(const char *text, size_t len, char *err, size_t errlen)
{
    static const char *const generic[] = {"Error is not recoverable", "Exiting with failure status",
                                          "Child returned status"};
    const char *end = text + len, *fallback = NULL, *fallback_end = NULL;
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
        for (size_t i = 0; i < ARRAY_SIZE(generic); i++)
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
                  int out_fd, char **out, size_t *out_len, char *err, size_t errlen)
{
    _cleanup_close_ int null_in = -1, null_out = -1;
    struct lsl_capture out_cap = {.mode = LSL_CAPTURE_HEAD, .max = LSL_GUEST_OUT_MAX};
    struct lsl_capture err_cap = {.mode = LSL_CAPTURE_TAIL, .max = LSL_GUEST_ERR_KEEP};
    bool keep = out_fd < 0 && out;
    int status;

    err[0] = '\0';
    if (out)
        *out = NULL;
    if (out_len)
        *out_len = 0;
    if (in_fd < 0 && (in_fd = null_in = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    if (out_fd < 0 && !keep && (out_fd = null_out = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
        return -errno;
    struct lsl_exec_request req = {.argv = argv, .distro = distro};
    char serr[256] = "";
    struct lsl_session_io io = {.fds = {in_fd, out_fd, -1},
                                .capture = {NULL, keep ? &out_cap : NULL, &err_cap},
                                .errbuf = serr,
                                .errlen = sizeof(serr),
                                .connect_port = LSL_AGENT_PORT};
    status = lsl_service_exec(p, &req, &io);
    if (status == -EMSGSIZE)
        snprintf(err, errlen, "malformed answer from the VM (more than %u bytes)", LSL_GUEST_OUT_MAX);
    else if (status < 0)
        snprintf(err, errlen, "%s", serr[0] ? serr : strerror(-status));
    else if (err_cap.len)
        last_line(err_cap.data, err_cap.len, err, errlen);
    free(err_cap.data);
    if (status == 0 && keep) {
        /* An empty answer still comes back as "" (the session allocates only for output). */
        if (!out_cap.data && !(out_cap.data = strdup("")))
            return -ENOMEM;
        *out = TAKE_PTR(out_cap.data);
        if (out_len)
            *out_len = out_cap.len;
    }
    free(out_cap.data);
    return status;
}
