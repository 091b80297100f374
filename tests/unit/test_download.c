/* lsl_download against a small HTTP server on 127.0.0.1 (python3, started here) and file:// URLs: verified
 * downloads, checksum mismatch, resume with Range, servers that ignore or refuse the range, HTTP errors. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "download.h"

/* /range/NAME honours Range (416 past the end), /norange/NAME ignores it, /redirect/NAME answers 302 to
 * /range/NAME; every request is logged as "PATH RANGE". */
static const char server_py[] =
    "import http.server, os, sys\n"
    "root, log = sys.argv[1], sys.argv[2]\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def log_message(self, *a): pass\n"
    "    def do_GET(self):\n"
    "        rng = self.headers.get('Range')\n"
    "        with open(log, 'a') as f: f.write('%s %s\\n' % (self.path, rng))\n"
    "        kind, _, name = self.path.lstrip('/').partition('/')\n"
    "        path = os.path.join(root, name)\n"
    "        if kind == 'redirect':\n"
    "            self.send_response(302); self.send_header('Location', '/range/' + name)\n"
    "            self.send_header('Content-Length', '0'); self.end_headers(); return\n"
    "        if kind not in ('range', 'norange') or not name or '/' in name or not os.path.isfile(path):\n"
    "            self.send_error(404); return\n"
    "        data = open(path, 'rb').read()\n"
    "        start = 0\n"
    "        if kind == 'range' and rng and rng.startswith('bytes='):\n"
    "            start = int(rng[6:].split('-')[0])\n"
    "            if start >= len(data):\n"
    "                self.send_response(416); self.send_header('Content-Range', 'bytes */%d' % len(data))\n"
    "                self.send_header('Content-Length', '0'); self.end_headers(); return\n"
    "            self.send_response(206)\n"
    "            self.send_header('Content-Range', 'bytes %d-%d/%d' % (start, len(data) - 1, len(data)))\n"
    "        else:\n"
    "            self.send_response(200)\n"
    "        self.send_header('Content-Length', str(len(data) - start)); self.end_headers()\n"
    "        self.wfile.write(data[start:])\n"
    "s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
    "os.write(1, b'%d\\n' % s.server_port)\n" /* one write: the test stops reading at the newline */
    "s.serve_forever()\n";

#define FILE_SIZE 300000
#define PREFIX    100000

static char dir[] = "/tmp/lsl-download-XXXXXX";
static char src[256], dest[256], partial[280], logpath[256], sha[65], base[64];
static unsigned char content[FILE_SIZE];
static pid_t server = -1;

static int start_server(void)
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    server = fork();
    if (server == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execlp("python3", "python3", "-c", server_py, dir, logpath, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    /* Up to the newline: a port read in two pieces would be a wrong port. */
    char buf[32] = "";
    size_t len = 0;
    while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
        ssize_t n = read(p[0], buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(p[0]);
    int port = memchr(buf, '\n', len) ? atoi(buf) : 0;
    if (port <= 0)
        return -1;
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    return 0;
}

static void stop_server(void)
{
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
        server = -1;
    }
}

static bool dest_is_content(void)
{
    FILE *f = fopen(dest, "rb");
    if (!f)
        return false;
    static unsigned char got[FILE_SIZE + 1];
    size_t n = fread(got, 1, sizeof(got), f);
    fclose(f);
    return n == FILE_SIZE && memcmp(got, content, FILE_SIZE) == 0;
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static off_t size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(data, 1, len, f) == len);
    if (f)
        fclose(f);
}

static void reset(void)
{
    unlink(dest);
    unlink(partial);
    unlink(logpath);
}

static bool log_has(const char *line)
{
    FILE *f = fopen(logpath, "r");
    char buf[256];
    bool found = false;
    while (f && fgets(buf, sizeof(buf), f))
        found |= strncmp(buf, line, strlen(line)) == 0 && buf[strlen(line)] == '\n';
    if (f)
        fclose(f);
    return found;
}

static int get(const char *path, const char *want_sha, char *err, size_t errlen)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", base, path);
    int r = lsl_download(url, dest, want_sha, false, err, errlen);
    if (r < 0)
        fprintf(stderr, "lsl_download %s: %d: %s\n", url, r, err); /* what a failed CHECK below is about */
    return r;
}

static void test_sha256_file(void)
{
    char path[300], hex[65];
    snprintf(path, sizeof(path), "%s/abc", dir);
    write_file(path, "abc", 3);
    CHECK_EQ(lsl_sha256_file(path, hex), 0);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    CHECK_EQ(lsl_sha256_file("/nonexistent", hex), -ENOENT);
    unlink(path);
}

static void test_verified(void)
{
    char err[512] = "";
    reset();
    CHECK_EQ(get("/range/src.bin", sha, err, sizeof(err)), 0);
    CHECK(dest_is_content());
    CHECK(!exists(partial));
    /* The checksum compares case-insensitively; redirects are followed. */
    char upper[65];
    for (int i = 0; i < 65; i++)
        upper[i] = (char)(sha[i] >= 'a' && sha[i] <= 'f' ? sha[i] - 32 : sha[i]);
    reset();
    CHECK_EQ(get("/redirect/src.bin", upper, err, sizeof(err)), 0);
    CHECK(dest_is_content());
    CHECK(log_has("/redirect/src.bin None") && log_has("/range/src.bin None"));
}

static void test_mismatch(void)
{
    char err[512] = "", want[200];
    const char *wrong = "0000000000000000000000000000000000000000000000000000000000000000";
    reset();
    CHECK_EQ(get("/range/src.bin", wrong, err, sizeof(err)), -EBADMSG);
    snprintf(want, sizeof(want), "sha256 mismatch: expected %s, got %s", wrong, sha);
    CHECK(strcmp(err, want) == 0);
    CHECK(!exists(dest));
    CHECK(!exists(partial));
    CHECK_EQ(get("/range/src.bin", "nothex", err, sizeof(err)), -EINVAL);
}

static void test_resume(void)
{
    char err[512] = "";
    reset();
    write_file(partial, content, PREFIX);
    CHECK_EQ(get("/range/src.bin", sha, err, sizeof(err)), 0);
    CHECK(dest_is_content());
    CHECK(!exists(partial));
    CHECK(log_has("/range/src.bin bytes=100000-")); /* only the rest was asked for */
}

static void test_range_ignored(void)
{
    char err[512] = "";
    reset();
    write_file(partial, content, PREFIX);
    CHECK_EQ(get("/norange/src.bin", sha, err, sizeof(err)), 0);
    CHECK(dest_is_content()); /* not the prefix twice: the file started over */
    CHECK(log_has("/norange/src.bin bytes=100000-") && log_has("/norange/src.bin None"));
}

static void test_range_past_end(void)
{
    char err[512] = "";
    static unsigned char junk[FILE_SIZE + 5000];
    memset(junk, 'j', sizeof(junk));
    reset();
    write_file(partial, junk, sizeof(junk)); /* longer than the file: 416, then from zero */
    CHECK_EQ(get("/range/src.bin", sha, err, sizeof(err)), 0);
    CHECK(dest_is_content());
    CHECK(log_has("/range/src.bin None"));

    /* Already complete (a crash between download and rename): 416, the checksum matches, no second request.
     */
    reset();
    write_file(partial, content, FILE_SIZE);
    CHECK_EQ(get("/range/src.bin", sha, err, sizeof(err)), 0);
    CHECK(dest_is_content());
    CHECK(!log_has("/range/src.bin None"));
}

static void test_http_error(void)
{
    char err[512] = "";
    reset();
    CHECK_EQ(get("/range/missing.bin", sha, err, sizeof(err)), -EIO);
    CHECK(strstr(err, "404") != NULL);
    CHECK(!exists(dest));
    CHECK(!exists(partial)); /* nothing worth resuming */
}

static void test_file_url(void)
{
    char err[512] = "", url[300];
    snprintf(url, sizeof(url), "file://%s", src);
    reset();
    CHECK_EQ(lsl_download(url, dest, sha, true, err, sizeof(err)), 0); /* with the progress line, on stderr */
    CHECK(dest_is_content());
    reset();
    write_file(partial, content, PREFIX);
    CHECK_EQ(lsl_download(url, dest, sha, false, err, sizeof(err)), 0);
    CHECK(dest_is_content());
    reset();
    snprintf(url, sizeof(url), "file://%s/nothere", dir);
    CHECK_EQ(lsl_download(url, dest, sha, false, err, sizeof(err)), -EIO);
    CHECK(!exists(dest));
}

/* Runs last: the server is gone, the connection is refused, the partial file stays for the next try. */
static void test_network_failure_keeps_partial(void)
{
    char err[512] = "";
    reset();
    stop_server();
    write_file(partial, content, PREFIX);
    CHECK_EQ(get("/range/src.bin", sha, err, sizeof(err)), -EIO);
    CHECK(*err != '\0');
    CHECK_EQ(size_of(partial), PREFIX);
    CHECK(!exists(dest));
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(src, sizeof(src), "%s/src.bin", dir);
    snprintf(dest, sizeof(dest), "%s/dest.img", dir);
    snprintf(partial, sizeof(partial), "%s.partial", dest);
    snprintf(logpath, sizeof(logpath), "%s/requests.log", dir);
    for (size_t i = 0; i < FILE_SIZE; i++)
        content[i] = (unsigned char)((i * 2654435761u) >> 13);
    write_file(src, content, FILE_SIZE);
    CHECK_EQ(lsl_sha256_file(src, sha), 0);
    if (start_server() < 0) {
        fprintf(stderr, "cannot start the python3 HTTP server\n");
        stop_server();
        return 1;
    }
    RUN(test_sha256_file);
    RUN(test_verified);
    RUN(test_mismatch);
    RUN(test_resume);
    RUN(test_range_ignored);
    RUN(test_range_past_end);
    RUN(test_http_error);
    RUN(test_file_url);
    RUN(test_network_failure_keeps_partial);
    stop_server();
    reset();
    unlink(src);
    rmdir(dir);
    return CHECK_DONE();
}
