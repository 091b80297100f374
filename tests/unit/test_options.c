/* lsl-vmm argument parsing, size parsing and kernel command-line assembly (including the host encoder
 * against lsl-init's decoder: the two ends of lsl.cmd= must agree byte for byte). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cmdline.h"
#include "core/cmdline.h"
#include "../../util/log.h" /* not the guest's log.h, earlier on the path */
#include "core/options.h"
#include "size.h"

static int parse(struct vmm_options *o, char *err, const char *first, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "lsl-vmm";
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    static char *keep[32];
    memcpy(keep, argv, sizeof(argv)); /* options point into argv: keep it alive */
    return vmm_options_parse(argc, keep, o, err, 256);
}

static void test_parse_ok(void)
{
    struct vmm_options o;
    char err[256];
    char d1[] = "a.img", d2[] = "b.img,ro";
    CHECK_EQ(parse(&o, err, "-k", "vmlinux", "--initrd", "i.cpio", "-m", "1G", "--cpus", "4", "-d", d1,
                   "--disk", d2, "--root", "/dev/vda", "--console", "--", "sh", "-c", "exit 3", NULL),
             0);
    CHECK(strcmp(o.kernel, "vmlinux") == 0);
    CHECK(strcmp(o.initrd, "i.cpio") == 0);
    CHECK_EQ(o.memory, 1ull << 30);
    CHECK_EQ(o.cpus, 4);
    CHECK_EQ(o.ndisks, 2);
    CHECK(!o.disks[0].readonly && o.disks[1].readonly);
    CHECK(strcmp(o.disks[1].path, "b.img") == 0);
    CHECK(o.console);
    CHECK(o.command && strcmp(o.command[0], "sh") == 0 && strcmp(o.command[2], "exit 3") == 0 &&
          !o.command[3]);
    CHECK(!boot_root_readonly(&o));
    o.root = "/dev/vdb";
    CHECK(boot_root_readonly(&o));
    CHECK_EQ(o.memory, 1ull << 30);
    CHECK_EQ(o.log_level, -1); /* LSL_LOG's, or warn */
    CHECK_EQ(parse(&o, err, "-k", "k", "--log", "INFO", NULL), 0);
    CHECK_EQ(o.log_level, LOG_INFO);
}

static void test_parse_errors(void)
{
    struct vmm_options o;
    char err[256];
    CHECK_EQ(parse(&o, err, "--initrd", "x", NULL), -22);
    CHECK(strstr(err, "kernel") != NULL);
    CHECK_EQ(parse(&o, err, "-k", "k", "-m", "lots", NULL), -22);
    CHECK(strstr(err, "memory") != NULL);
    CHECK_EQ(parse(&o, err, "-k", "k", "-m", "1M", NULL), -22); /* below the minimum */
    /* A bare number is bytes, as in ~/.lslconfig and LSL_VM_MEMORY: 2048 is far too small, and says why. */
    CHECK_EQ(parse(&o, err, "-k", "k", "-m", "2048", NULL), -22);
    CHECK(strstr(err, "without a unit is bytes") != NULL);
    CHECK_EQ(parse(&o, err, "-k", "k", "-c", "0", NULL), -22);
    CHECK_EQ(parse(&o, err, "-k", "k", "-c", "2x", NULL), -22);
    CHECK_EQ(parse(&o, err, "-k", "k", "--bogus", NULL), -22);
    CHECK(strstr(err, "--bogus") != NULL);
    CHECK_EQ(parse(&o, err, "-k", NULL), -22);
    CHECK(strstr(err, "needs a value") != NULL);
    char bad[] = "x.img,rx";
    CHECK_EQ(parse(&o, err, "-k", "k", "-d", bad, NULL), -22);
    CHECK_EQ(parse(&o, err, "-k", "k", "--root", "vda", NULL), -22);
    CHECK_EQ(parse(&o, err, "-k", "k", "--log", "verbose", NULL), -22);
    CHECK(strstr(err, "--log 'verbose'") != NULL);
    CHECK_EQ(parse(&o, err, "--help", NULL), 0);
    CHECK(o.help);
}

static void test_parse_vsock(void)
{
    struct vmm_options o;
    char err[256];
    CHECK_EQ(parse(&o, err, "-k", "k", NULL), 0);
    CHECK(!o.vsock);
    CHECK_EQ(o.cid, 3);
    CHECK_EQ(parse(&o, err, "-k", "k", "--vsock", "/tmp/v.sock", "--cid", "42", NULL), 0);
    CHECK(o.vsock && strcmp(o.vsock, "/tmp/v.sock") == 0);
    CHECK_EQ(o.cid, 42);
    CHECK_EQ(parse(&o, err, "-k", "k", "--cid", "4294967294", NULL), 0);
    CHECK_EQ(o.cid, 4294967294u);
    CHECK_EQ(parse(&o, err, "-k", "k", "--cid", "2", NULL), -22); /* the host's CID */
    CHECK(strstr(err, "--cid") != NULL);
    CHECK_EQ(parse(&o, err, "-k", "k", "--cid", "0", NULL), -22);
    CHECK_EQ(parse(&o, err, "-k", "k", "--cid", "-5", NULL), -22);
    CHECK_EQ(parse(&o, err, "-k", "k", "--cid", "4294967295", NULL), -22); /* VMADDR_CID_ANY */
    CHECK_EQ(parse(&o, err, "-k", "k", "--cid", "3x", NULL), -22);
    CHECK_EQ(parse(&o, err, "-k", "k", "--vsock", "", NULL), -22);
    CHECK_EQ(parse(&o, err, "-k", "k", "--vsock", NULL), -22);
    CHECK(strstr(err, "needs a value") != NULL);
}

/* Localhost forwarding's switches, as lsl hands ~/.lslconfig's keys to the service. */
static void test_parse_forwarding(void)
{
    struct vmm_options o;
    char err[256];
    CHECK_EQ(parse(&o, err, "-k", "k", NULL), 0);
    CHECK(o.forward.enabled && lsl_fwd_policy_allows(&o.forward, 8000));
    CHECK_EQ(parse(&o, err, "-k", "k", "--no-localhost-forwarding", NULL), 0);
    CHECK(!lsl_fwd_policy_allows(&o.forward, 8000));
    CHECK_EQ(parse(&o, err, "-k", "k", "--forward-ports", "8000-8010", "--forward-exclude", "8005", NULL), 0);
    CHECK(lsl_fwd_policy_allows(&o.forward, 8000) && !lsl_fwd_policy_allows(&o.forward, 8005) &&
          !lsl_fwd_policy_allows(&o.forward, 22));
    CHECK_EQ(parse(&o, err, "-k", "k", "--forward-ports", " ", NULL), 0); /* the empty list: no port */
    CHECK(!lsl_fwd_policy_allows(&o.forward, 8000));
    CHECK_EQ(parse(&o, err, "-k", "k", "--forward-ports", "0", NULL), -22);
    CHECK(strstr(err, "--forward-ports") != NULL);
    CHECK_EQ(parse(&o, err, "-k", "k", "--forward-exclude", "1-x", NULL), -22);
    CHECK(strstr(err, "--forward-exclude") != NULL);
    /* Socket forwards: absolute host paths (the CLI resolved them), each once. */
    CHECK_EQ(parse(&o, err, "-k", "k", NULL), 0);
    CHECK_EQ(o.sockets.n, 0);
    CHECK_EQ(parse(&o, err, "-k", "k", "--forward-socket", "/run/docker.sock=/r/docker.sock",
                   "--forward-socket", "deb:/run/a.sock=/r/a.sock", NULL),
             0);
    CHECK(o.sockets.n == 2 && !strcmp(o.sockets.s[1].guest.distro, "deb") &&
          !strcmp(o.sockets.s[1].host, "/r/a.sock"));
    CHECK_EQ(parse(&o, err, "-k", "k", "--forward-socket", "/run/docker.sock=docker.sock", NULL), -22);
    CHECK(strstr(err, "--forward-socket") != NULL);
    CHECK_EQ(parse(&o, err, "-k", "k", "--forward-socket", "/a=/x", "--forward-socket", "/b=/x", NULL), -22);
    /* Socket wake (proto/wake.h): listeners handed over as fds above stdio, lsl-wake by an absolute path. */
    CHECK_EQ(
        parse(&o, err, "-k", "k", "--socket-fd", "7", "--socket-fd", "9", "--waker", "/x/lsl-wake", NULL), 0);
    CHECK(o.nsocket_fds == 2 && o.socket_fds[0] == 7 && o.socket_fds[1] == 9 &&
          !strcmp(o.waker, "/x/lsl-wake"));
    CHECK_EQ(parse(&o, err, "-k", "k", NULL), 0);
    CHECK(o.nsocket_fds == 0 && o.waker == NULL);
    CHECK_EQ(parse(&o, err, "-k", "k", "--socket-fd", "2", NULL), -22);
    CHECK(strstr(err, "--socket-fd") != NULL);
    CHECK_EQ(parse(&o, err, "-k", "k", "--socket-fd", "7x", NULL), -22);
    CHECK_EQ(parse(&o, err, "-k", "k", "--waker", "lsl-wake", NULL), -22);
    CHECK(strstr(err, "--waker") != NULL);
}

static void test_parse_disk_slots(void)
{
    struct vmm_options o;
    char err[256];
    CHECK_EQ(parse(&o, err, "-k", "k", NULL), 0);
    CHECK_EQ(o.disk_slots, 0);
    CHECK_EQ(parse(&o, err, "-k", "k", "--disk-slots", "24", NULL), 0);
    CHECK_EQ(o.disk_slots, 24);
    CHECK_EQ(parse(&o, err, "-k", "k", "--disk-slots", "25", NULL), -22);
    CHECK(strstr(err, "--disk-slots") != NULL);
    CHECK_EQ(parse(&o, err, "-k", "k", "--disk-slots", "-1", NULL), -22);
    CHECK_EQ(parse(&o, err, "-k", "k", "--disk-slots", "2x", NULL), -22);
    /* 32 virtio-mmio devices: disks and slots share 29 of them with rng, vsock and the balloon. */
    char d[7][8];
    for (int i = 0; i < 7; i++)
        snprintf(d[i], sizeof(d[i]), "%d.img", i);
    CHECK_EQ(parse(&o, err, "-k", "k", "-d", d[0], "-d", d[1], "-d", d[2], "-d", d[3], "-d", d[4], "-d", d[5],
                   "--disk-slots", "23", NULL),
             0);
    CHECK_EQ(parse(&o, err, "-k", "k", "-d", d[0], "-d", d[1], "-d", d[2], "-d", d[3], "-d", d[4], "-d", d[5],
                   "--disk-slots", "24", NULL),
             -22);
    CHECK(strstr(err, "too many") != NULL);
}

static void test_parse_size(void)
{
    uint64_t v;
    /* One rule for every program (issue 11: lsl-vmm took a bare number as MiB, the CLI as bytes). */
    CHECK_EQ(parse_size("512", &v), 0);
    CHECK_EQ(v, 512);
    CHECK_EQ(parse_size("2 GiB", &v), 0);
    CHECK_EQ(v, 2ull << 30);
    CHECK_EQ(parse_size("2G", &v), 0);
    CHECK_EQ(v, 2ull << 30);
    CHECK_EQ(parse_size("2GiB", &v), 0);
    CHECK_EQ(v, 2ull << 30);
    CHECK_EQ(parse_size("64k", &v), 0);
    CHECK_EQ(v, 64ull << 10);
    CHECK_EQ(parse_size("100B", &v), 0);
    CHECK_EQ(v, 100);
    CHECK_EQ(parse_size("", &v), -22);
    CHECK_EQ(parse_size("-1G", &v), -22);
    CHECK_EQ(parse_size("1Q", &v), -22);
    CHECK_EQ(parse_size("1GBx", &v), -22);
    CHECK_EQ(parse_size("99999999999999T", &v), -34);
}

static void test_cmdline_roundtrip(void)
{
    char *argv[] = {"/bin/sh", "-c", "echo \"quoted\" 'and' spaces  ", "", "\xff\x01 bytes", NULL};
    struct boot_cmdline c = {0};
    CHECK_EQ(boot_cmdline_add(&c, "  console=ttyS0 quiet  "), 0);
    CHECK_EQ(boot_cmdline_add(&c, " virtio_mmio.device=4K@0xd0000000:5"), 0);
    CHECK_EQ(boot_cmdline_add_root(&c, "/dev/vda", true), 0);
    CHECK_EQ(boot_cmdline_add_command(&c, argv), 0);
    CHECK_EQ(boot_cmdline_add(&c, "   "), 0);
    CHECK(strncmp(c.buf,
                  "console=ttyS0 quiet virtio_mmio.device=4K@0xd0000000:5 lsl.root=/dev/vda lsl.rootflags=ro "
                  "lsl.cmd=",
                  97) == 0);
    CHECK(c.buf[c.len - 1] != ' ');
    CHECK(strchr(c.buf, '"') == NULL); /* binary-safe: nothing the kernel's parser would interpret */

    char *root = NULL, *flags = NULL, *hex = NULL;
    CHECK_EQ(lsl_cmdline_get(c.buf, "lsl.root=", &root), 1);
    CHECK(root && strcmp(root, "/dev/vda") == 0);
    bool ro = false;
    CHECK_EQ(lsl_cmdline_get(c.buf, "lsl.rootflags=", &flags), 1);
    CHECK_EQ(lsl_rootflags_parse(flags, &ro), 0);
    CHECK(ro);
    CHECK_EQ(lsl_cmdline_get(c.buf, "lsl.cmd=", &hex), 1);
    char **out = NULL;
    CHECK_EQ(lsl_hex_argv_decode(hex, &out), 5);
    for (int i = 0; out && i < 5; i++)
        CHECK(strcmp(out[i], argv[i]) == 0);
    CHECK(out && out[5] == NULL);
    free(out);
    free(root);
    free(flags);
    free(hex);
    free(c.buf);

    char *none[] = {NULL};
    struct boot_cmdline e = {0};
    CHECK_EQ(boot_cmdline_add_command(&e, none), -22);
    free(e.buf);
}

static void test_guest_decoder_rejects(void)
{
    char **out = (char **)1;
    CHECK_EQ(lsl_hex_argv_decode("", &out), -22);
    CHECK(out == NULL);
    CHECK_EQ(lsl_hex_argv_decode("616", &out), -22);    /* odd length */
    CHECK_EQ(lsl_hex_argv_decode("6161", &out), -22);   /* no terminating NUL */
    CHECK_EQ(lsl_hex_argv_decode("61zz00", &out), -22); /* not hex */
    char *v = NULL;
    CHECK_EQ(lsl_cmdline_get("a=1 -- lsl.cmd=00", "lsl.cmd=", &v), 0); /* after "--" belongs to init */
    CHECK(v == NULL);
}

int main(void)
{
    RUN(test_parse_ok);
    RUN(test_parse_errors);
    RUN(test_parse_vsock);
    RUN(test_parse_disk_slots);
    RUN(test_parse_forwarding);
    RUN(test_parse_size);
    RUN(test_cmdline_roundtrip);
    RUN(test_guest_decoder_rejects);
    return CHECK_DONE();
}
