/* libcurl transfer into DEST.partial with resume, a progress line, and sha256 verification (OpenSSL EVP). */
#include "download.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"

#define CONNECT_TIMEOUT_S 30
#define LOW_SPEED_BYTES   1024 /* slower than this ... */
#define LOW_SPEED_TIME_S  60   /* ... for this long aborts: resumable, unlike a hang */
#define PROGRESS_EVERY_S  0.2

int lsl_sha256_file(const char *path, char hex_out[65])
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ret = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ? 0 : -ENOMEM;
    unsigned char buf[1 << 16];
    while (!ret) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            ret = -errno;
        if (n <= 0)
            break;
        if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
            ret = -EIO;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!ret && (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32))
        ret = -EIO;
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; !ret && i < mdlen; i++)
        snprintf(hex_out + 2 * i, 3, "%02x", md[i]);
    return ret;
}

static bool sha256_hex_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isxdigit((unsigned char)s[n]))
            return false;
    return n == 64;
}

struct transfer {
    CURL *curl;
    int fd;
    curl_off_t offset; /* bytes already in the partial file when the request went out */
    bool checked_status;
    int write_errno;
    bool drew;
    double start, last_draw;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int truncate_partial(struct transfer *t)
{
    if (ftruncate(t->fd, 0) < 0 || lseek(t->fd, 0, SEEK_SET) < 0)
        return -errno;
    t->offset = 0;
    return 0;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *user)
{
    struct transfer *t = user;
    size_t len = size * nmemb, left = len;
    /* A server that ignores the Range header sends the whole file with 200: start the file over. (libcurl
     * usually stops such a transfer itself with CURLE_RANGE_ERROR; this covers the cases it lets through.) */
    if (!t->checked_status) {
        long code = 0;
        curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
        t->checked_status = true;
        if (t->offset > 0 && code == 200 && (t->write_errno = -truncate_partial(t)))
            return 0;
    }
    while (left) {
        ssize_t n = write(t->fd, data, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            t->write_errno = errno;
            return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
        }
        data += n, left -= (size_t)n;
    }
    return len;
}

static void draw_progress(struct transfer *t, curl_off_t done, curl_off_t total)
{
    double elapsed = now_s() - t->start;
    double rate = elapsed > 0 ? (double)(done - t->offset) / elapsed / 1e6 : 0;
    if (total > 0)
        fprintf(stderr, "\r%3d%%  %.1f / %.1f MB  %.1f MB/s\033[K", (int)(100 * done / total),
                (double)done / 1e6, (double)total / 1e6, rate);
    else
        fprintf(stderr, "\r%.1f MB  %.1f MB/s\033[K", (double)done / 1e6, rate);
    t->drew = true;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)ultotal, (void)ulnow;
    struct transfer *t = user;
    double now = now_s();
    if (now - t->last_draw >= PROGRESS_EVERY_S) {
        t->last_draw = now;
        draw_progress(t, t->offset + dlnow, dltotal > 0 ? t->offset + dltotal : 0);
    }
    return 0;
}

static void curl_init_once(void)
{
    static bool done; /* the CLI is single-threaded */
    if (!done)
        done = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

/* One request: resumes from the partial file's end unless restart. Returns the curl code; *http the status.
 */
static CURLcode fetch(const char *url, const char *partial, bool restart, bool progress, long *http,
                      int *sys_errno, char curl_err[CURL_ERROR_SIZE])
{
    struct transfer t = {.fd = -1};
    *http = 0;
    *sys_errno = 0;
    curl_err[0] = '\0';
    t.fd = open(partial, O_WRONLY | O_CREAT | O_CLOEXEC, 0600); /* like everything lsl keeps */
    if (t.fd < 0) {
        *sys_errno = errno;
        return CURLE_WRITE_ERROR;
    }
    off_t end = restart ? 0 : lseek(t.fd, 0, SEEK_END);
    if (end < 0 || (restart && truncate_partial(&t) < 0)) {
        *sys_errno = errno;
        close(t.fd);
        return CURLE_WRITE_ERROR;
    }
    t.offset = end;
    curl_init_once();
    CURLcode res = CURLE_OUT_OF_MEMORY;
    if (!(t.curl = curl_easy_init()))
        goto out;
    CURL *c = t.curl;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85 */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"); /* a redirect never reads local files */
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS | CURLPROTO_FILE));
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, (long)LOW_SPEED_BYTES);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)LOW_SPEED_TIME_S);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "lsl");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    if (t.offset > 0)
        curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)t.offset);
    if (progress) {
        t.start = now_s();
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    }
    res = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, http);
    curl_easy_cleanup(c);
    if (res == CURLE_WRITE_ERROR && t.write_errno)
        *sys_errno = t.write_errno;
out:
    if (t.drew)
        fputs("\r\033[K", stderr);
    /* On disk before it can be renamed into place (and kept for a resume after a crash). */
    if (fsync(t.fd) < 0 && res == CURLE_OK) {
        *sys_errno = errno;
        res = CURLE_WRITE_ERROR;
    }
    if (close(t.fd) < 0 && res == CURLE_OK) {
        *sys_errno = errno;
        res = CURLE_WRITE_ERROR;
    }
    return res;
}

static bool file_empty(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && st.st_size == 0;
}

int lsl_download(const char *url, const char *dest, const char *sha256_hex, bool progress, char *err,
                 size_t errlen)
{
    if (sha256_hex && !sha256_hex_valid(sha256_hex)) {
        snprintf(err, errlen, "invalid sha256 '%s' (64 hex digits)", sha256_hex);
        return -EINVAL;
    }
    _cleanup_free_ char *partial = NULL;
    if (asprintf(&partial, "%s.partial", dest) < 0) {
        partial = NULL;
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    char curl_err[CURL_ERROR_SIZE], got[65];
    long http;
    int sys_errno, ret = 0;
    CURLcode res = fetch(url, partial, false, progress, &http, &sys_errno, curl_err);
    /* The partial file cannot be resumed: the server ignores ranges (CURLE_RANGE_ERROR), or the range is past
     * its end (416: often a file that is already complete, or one that changed on the server). */
    bool restart = res == CURLE_RANGE_ERROR || res == CURLE_BAD_DOWNLOAD_RESUME ||
                   (res == CURLE_HTTP_RETURNED_ERROR && http == 416);
    if (restart && http == 416 && sha256_hex && lsl_sha256_file(partial, got) == 0 &&
        strcasecmp(got, sha256_hex) == 0)
        res = CURLE_OK, restart = false;
    if (restart)
        res = fetch(url, partial, true, progress, &http, &sys_errno, curl_err);
    if (res != CURLE_OK) {
        if (sys_errno) {
            snprintf(err, errlen, "cannot write %s: %s", partial, strerror(sys_errno));
            ret = -sys_errno;
        } else {
            snprintf(err, errlen, "%s: %s", url, *curl_err ? curl_err : curl_easy_strerror(res));
            ret = -EIO;
        }
        if (file_empty(partial)) /* nothing worth resuming */
            unlink(partial);
        return ret;
    }
    if (sha256_hex) {
        if ((ret = lsl_sha256_file(partial, got)) < 0) {
            snprintf(err, errlen, "cannot read %s: %s", partial, strerror(-ret));
            return ret;
        }
        if (strcasecmp(got, sha256_hex) != 0) {
            snprintf(err, errlen, "sha256 mismatch: expected %s, got %s", sha256_hex, got);
            unlink(partial); /* resuming a corrupt file would only reproduce the mismatch */
            return -EBADMSG;
        }
    }
    if (rename(partial, dest) < 0) {
        ret = -errno;
        snprintf(err, errlen, "cannot rename %s to %s: %s", partial, dest, strerror(errno));
    }
    return ret;
}
