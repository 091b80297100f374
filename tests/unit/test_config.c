/* ~/.lslconfig: [lsl]/[wsl2] keys, sizes, warnings that never fail the parse, and the environment on top. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "size.h"

#include "warnings.h"

static int parse(struct lsl_config *c, const char *text)
{
    nwarnings = 0;
    lsl_config_init(c);
    return lsl_config_parse_string(c, text, "~/.lslconfig", collect);
}

static void test_parse_size(void)
{
    static const struct {
        const char *s;
        unsigned long long bytes;
    } ok[] = {
        {"256GB", 256ull << 30},
        {"512M", 512ull << 20},
        {"2G", 2ull << 30},
        {"1048576", 1048576},
        {"4gb", 4ull << 30},
        {"1KiB", 1024},
        {"3 TiB", 3ull << 40},
        {"7b", 7},
        {"1k", 1024},
        {"1T", 1ull << 40},
        {"0", 0},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t v = 1;
        CHECK_EQ(parse_size(ok[i].s, &v), 0);
        CHECK_EQ(v, ok[i].bytes);
    }
    static const char *const bad[] = {"abc", "", "-1", "1.5G", "12X", "G", "1 G B", " 1G", "1GBs"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v;
        CHECK_EQ(parse_size(bad[i], &v), -EINVAL);
    }
    uint64_t v;
    CHECK_EQ(parse_size("99999999999T", &v), -ERANGE);
    CHECK_EQ(parse_size("99999999999999999999999", &v), -ERANGE);
}

static void test_sections_and_keys(void)
{
    struct lsl_config c;
    CHECK_EQ(parse(&c, "# comment\n[wsl2]\nmemory=4GB\nprocessors = 3\nvmIdleTimeout=120000\n"
                       "defaultVhdSize=256GB\nkernelCommandLine = \"quiet loglevel=3\"\n"
                       "catalog=https://example.org/c.json\n"),
             0);
    CHECK_EQ(nwarnings, 0);
    CHECK_EQ(c.memory, 4ull << 30);
    CHECK_EQ(c.processors, 3);
    CHECK_EQ(c.vm_idle_timeout_ms, 120000);
    CHECK_EQ(c.default_vhd_size, 256ull << 30);
    CHECK(c.kernel_cmdline && strcmp(c.kernel_cmdline, "quiet loglevel=3") == 0);
    CHECK(c.catalog && strcmp(c.catalog, "https://example.org/c.json") == 0);
    lsl_config_free(&c);

    /* [lsl] is the same section; keys and section names are case-insensitive; as with WSL, a key set again
     * keeps its first value and says so, naming both lines. */
    CHECK_EQ(parse(&c, "[LSL]\nMEMORY = 512MB\n[wsl2]\nProcessors=1\nmemory=1G\nvmidletimeout=-5\n"), 0);
    CHECK_EQ(nwarnings, 1);
    CHECK(strcmp(warnings[0], "~/.lslconfig:5: memory was set on line 2 already; that value stays") == 0);
    CHECK_EQ(c.memory, 512ull << 20);
    CHECK_EQ(c.processors, 1);
    CHECK_EQ(c.vm_idle_timeout_ms, -1);
    lsl_config_free(&c);
}

static void test_defaults(void)
{
    struct lsl_config c;
    CHECK_EQ(parse(&c, ""), 0);
    CHECK_EQ(c.memory, LSL_CONFIG_DEFAULT_MEMORY);
    CHECK_EQ(c.processors, LSL_CONFIG_DEFAULT_PROCESSORS);
    CHECK_EQ(c.vm_idle_timeout_ms, LSL_CONFIG_DEFAULT_IDLE_TIMEOUT_MS);
    CHECK_EQ(c.default_vhd_size, LSL_CONFIG_DEFAULT_VHD_SIZE);
    CHECK(!c.kernel && !c.kernel_cmdline && !c.catalog);
    /* WSL's: half the host's RAM, every CPU, gradual reclaim. */
    CHECK_EQ(c.memory,
             (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE) / 2 & ~((1ull << 20) - 1));
    CHECK_EQ(c.processors, (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
    CHECK(strcmp(c.memory_reclaim, "gradual") == 0);
    lsl_config_free(&c);
    /* autoMemoryReclaim in WSL's spelling, any case; a bad value warns and keeps the default. */
    CHECK_EQ(parse(&c, "[wsl2]\nautoMemoryReclaim = DropCache\n"), 0);
    CHECK(nwarnings == 0 && strcmp(c.memory_reclaim, "dropcache") == 0);
    lsl_config_free(&c);
    CHECK_EQ(parse(&c, "[wsl2]\nautomemoryreclaim=sometimes\n"), 0);
    CHECK(nwarnings == 1 && strstr(warnings[0], "invalid value 'sometimes' for automemoryreclaim"));
    CHECK(strcmp(c.memory_reclaim, "gradual") == 0);
    lsl_config_free(&c);
    /* swap: WSL's default is a quarter of memory rounded up to whole GB; 0 turns it off; swapFile as kernel=.
     */
    CHECK_EQ(parse(&c, "[wsl2]\nmemory=6GB\n"), 0);
    CHECK(c.swap == -1 && !c.swap_file && lsl_config_swap_bytes(&c) == 2ull << 30);
    lsl_config_free(&c);
    CHECK_EQ(parse(&c, "[wsl2]\nmemory=1G\n"), 0);
    CHECK_EQ(lsl_config_swap_bytes(&c), 1ull << 30);
    lsl_config_free(&c);
    CHECK_EQ(parse(&c, "[wsl2]\nswap=0\nswapFile=~/sw.img\n"), 0);
    CHECK(nwarnings == 0 && lsl_config_swap_bytes(&c) == 0);
    CHECK(c.swap_file && strcmp(c.swap_file + strlen(c.swap_file) - 7, "/sw.img") == 0);
    lsl_config_free(&c);
    CHECK_EQ(parse(&c, "[wsl2]\nswap=512MB\nswapfile=relative.img\n"), 0);
    CHECK(nwarnings == 1 && strstr(warnings[0], "invalid value 'relative.img' for swapfile"));
    CHECK(lsl_config_swap_bytes(&c) == 512ull << 20 && !c.swap_file);
    lsl_config_free(&c);
    CHECK_EQ(parse(&c, "[wsl2]\nswap=lots\n"), 0);
    CHECK(nwarnings == 1 && c.swap == -1);
    lsl_config_free(&c);
    /* hostShareDax: off by default; whole 2 MB ranges, at most 64 GB; anything else warns, default kept. */
    CHECK_EQ(parse(&c, "[wsl2]\nmemory=1G\n"), 0);
    CHECK_EQ(c.share_dax, 0);
    lsl_config_free(&c);
    CHECK_EQ(parse(&c, "[wsl2]\nhostShareDax = 1GB\n"), 0);
    CHECK(nwarnings == 0 && c.share_dax == 1ull << 30);
    lsl_config_free(&c);
    const char *bad_dax[] = {"[wsl2]\nhostShareDax=3MB\n", "[wsl2]\nhostShareDax=65GB\n",
                             "[wsl2]\nhostShareDax=big\n"};
    for (unsigned i = 0; i < 3; i++) {
        CHECK_EQ(parse(&c, bad_dax[i]), 0);
        CHECK(nwarnings == 1 && strstr(warnings[0], "for hostShareDax") && c.share_dax == 0);
        lsl_config_free(&c);
    }
}

static void test_unknown_warns(void)
{
    struct lsl_config c;
    CHECK_EQ(parse(&c, "[wsl2]\nmemory=1G\nx=1\n[experimental]\nsparseVhd=true\nautoMemoryReclaim=gradual\n"),
             0);
    CHECK_EQ(nwarnings, 2); /* one for the key, one for the whole unknown section */
    CHECK(strcmp(warnings[0], "~/.lslconfig:3: unknown key 'x' in [wsl2] (ignored)") == 0);
    CHECK(strcmp(warnings[1], "~/.lslconfig:5: unknown section [experimental] (ignored)") == 0);
    CHECK_EQ(c.memory, 1ull << 30);
    lsl_config_free(&c);

    CHECK_EQ(parse(&c, "memory=1G\n"), 0);
    CHECK_EQ(nwarnings, 1);
    CHECK(strstr(warnings[0], ":1: 'memory' outside a section") != NULL);
    CHECK_EQ(c.memory, LSL_CONFIG_DEFAULT_MEMORY);
    lsl_config_free(&c);
}

static void test_bad_values(void)
{
    struct lsl_config c;
    CHECK_EQ(parse(&c, "[wsl2]\nmemory=abc\nprocessors=0\nvmIdleTimeout=soon\ndefaultVhdSize=0\nmemory=1G\n"
                       "kernel=relative/vmlinux\nprocessors=2x\n"),
             0);
    CHECK_EQ(nwarnings, 7);
    CHECK(strcmp(warnings[0], "~/.lslconfig:2: invalid value 'abc' for memory (default kept)") == 0);
    CHECK(strstr(warnings[1], ":3: invalid value '0' for processors") != NULL);
    /* The first memory= was bad: WSL keeps the default then, and the second is a repeat all the same. */
    CHECK(strstr(warnings[4], ":6: memory was set on line 2 already") != NULL);
    CHECK(strstr(warnings[5], ":7: invalid value 'relative/vmlinux' for kernel") != NULL);
    CHECK_EQ(c.memory, LSL_CONFIG_DEFAULT_MEMORY);
    CHECK_EQ(c.processors, LSL_CONFIG_DEFAULT_PROCESSORS);
    CHECK_EQ(c.vm_idle_timeout_ms, LSL_CONFIG_DEFAULT_IDLE_TIMEOUT_MS);
    CHECK_EQ(c.default_vhd_size, LSL_CONFIG_DEFAULT_VHD_SIZE);
    CHECK(!c.kernel);
    lsl_config_free(&c);

    /* Lines that are not WSL's grammar: a warning each, and the lines after them still count. A long line is
     * no problem (inih, before, cut them at 200 bytes). */
    char long_line[400];
    memset(long_line, 'a', sizeof(long_line) - 1);
    long_line[sizeof(long_line) - 1] = '\0';
    char text[600];
    snprintf(text, sizeof(text), "[wsl2\n[wsl2]\ngarbage\nkernelCommandLine=%s\nprocessors=4\n; semicolon\n",
             long_line);
    CHECK_EQ(parse(&c, text), 0);
    CHECK_EQ(nwarnings, 3);
    CHECK(strstr(warnings[0], ":1: expected ']' after the section name (line ignored)") != NULL);
    CHECK(strstr(warnings[1], ":3: expected '=' after 'garbage' (line ignored)") != NULL);
    CHECK(strstr(warnings[2], ":6: expected a key") != NULL); /* ';' starts no comment in WSL's files */
    CHECK_EQ(c.processors, 4);
    CHECK(c.kernel_cmdline && strlen(c.kernel_cmdline) == sizeof(long_line) - 1);
    lsl_config_free(&c);

    /* An indented line is a key of its own, not a continuation of the previous value. */
    CHECK_EQ(parse(&c, "[wsl2]\nmemory=1G\n   processors=5\n"), 0);
    CHECK_EQ(nwarnings, 0);
    CHECK_EQ(c.memory, 1ull << 30);
    CHECK_EQ(c.processors, 5);
    lsl_config_free(&c);
}

static void test_kernel_path(void)
{
    struct lsl_config c;
    setenv("HOME", "/home/tester", 1);
    CHECK_EQ(parse(&c, "[wsl2]\nkernel=~/kernels/vmlinux\n"), 0);
    CHECK(c.kernel && strcmp(c.kernel, "/home/tester/kernels/vmlinux") == 0);
    lsl_config_free(&c);
    CHECK_EQ(parse(&c, "[wsl2]\nkernel=\"/boot/vmlinuz\"\nkernel=~/a\n"), 0); /* the first stays */
    CHECK(c.kernel && strcmp(c.kernel, "/boot/vmlinuz") == 0);
    CHECK_EQ(nwarnings, 1);
    lsl_config_free(&c);
}

static void test_load_file(void)
{
    char dir[] = "/tmp/lsl-config-XXXXXX", path[256];
    CHECK(mkdtemp(dir) != NULL);
    setenv("HOME", dir, 1);
    snprintf(path, sizeof(path), "%s/.lslconfig", dir);
    struct lsl_config c;
    nwarnings = 0;
    CHECK_EQ(lsl_config_load(&c, path, collect), 0); /* missing: defaults, silently */
    CHECK_EQ(nwarnings, 0);
    CHECK_EQ(c.memory, LSL_CONFIG_DEFAULT_MEMORY);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("[wsl2]\r\nmemory=3GB\r\nbogus=1\r\n", f); /* edited on Windows */
        fclose(f);
    }
    CHECK_EQ(lsl_config_load(&c, path, collect), 0);
    CHECK_EQ(c.memory, 3ull << 30);
    CHECK_EQ(nwarnings, 1);
    CHECK(strcmp(warnings[0], "~/.lslconfig:3: unknown key 'bogus' in [wsl2] (ignored)") == 0);
    lsl_config_free(&c);
    unlink(path);
    rmdir(dir);
}

static void test_env_wins(void)
{
    struct lsl_config c;
    CHECK_EQ(parse(&c, "[wsl2]\nmemory=4G\nprocessors=4\nvmIdleTimeout=5000\nkernel=/a\n"), 0);
    setenv("LSL_VM_MEMORY", "1G", 1);
    setenv("LSL_VM_CPUS", "x", 1);
    setenv("LSL_VM_IDLE_TIMEOUT", "30", 1);
    setenv("LSL_KERNEL", "/b", 1);
    nwarnings = 0;
    lsl_config_apply_env(&c, collect);
    CHECK_EQ(c.memory, 1ull << 30);
    CHECK_EQ(c.processors, 4); /* bad: the file's value stays */
    CHECK_EQ(nwarnings, 1);
    CHECK(strstr(warnings[0], "LSL_VM_CPUS='x'") != NULL);
    CHECK_EQ(c.vm_idle_timeout_ms, 30000);
    CHECK(c.kernel && strcmp(c.kernel, "/b") == 0);
    setenv("LSL_VM_IDLE_TIMEOUT", "-1", 1);
    lsl_config_apply_env(&c, collect);
    CHECK_EQ(c.vm_idle_timeout_ms, -1);
    lsl_config_free(&c);
    unsetenv("LSL_VM_MEMORY");
    unsetenv("LSL_VM_CPUS");
    unsetenv("LSL_VM_IDLE_TIMEOUT");
    unsetenv("LSL_KERNEL");
}

/* vmIdleTimeout and LSL_VM_IDLE_TIMEOUT of any size: clamped to what lsl-vmm takes, with a warning, and
 * turned into --idle-timeout seconds without overflowing (LLONG_MAX ms once wrapped to a negative: never). */
static void test_idle_timeout_bounds(void)
{
    struct lsl_config c;
    CHECK_EQ(parse(&c, "[wsl2]\nvmIdleTimeout=9223372036854775807\n"), 0);
    CHECK_EQ(nwarnings, 1);
    CHECK(nwarnings == 1 && strstr(warnings[0], "vmIdleTimeout") && strstr(warnings[0], "maximum"));
    CHECK_EQ(c.vm_idle_timeout_ms, LSL_IDLE_TIMEOUT_MAX_S * 1000LL);
    CHECK_EQ(lsl_config_idle_timeout_s(&c), LSL_IDLE_TIMEOUT_MAX_S);
    CHECK_EQ(parse(&c, "[wsl2]\nvmIdleTimeout=9223372036854775806\n"), 0);
    CHECK_EQ(lsl_config_idle_timeout_s(&c), LSL_IDLE_TIMEOUT_MAX_S);
    CHECK_EQ(parse(&c, "[wsl2]\nvmIdleTimeout=99999999999999999999999\n"), 0); /* not a long long: refused */
    CHECK_EQ(nwarnings, 1);
    CHECK_EQ(c.vm_idle_timeout_ms, LSL_CONFIG_DEFAULT_IDLE_TIMEOUT_MS);
    CHECK_EQ(parse(&c, "[wsl2]\nvmIdleTimeout=1000000000\n"), 0); /* the maximum itself: no warning */
    CHECK_EQ(nwarnings, 0);
    CHECK_EQ(lsl_config_idle_timeout_s(&c), LSL_IDLE_TIMEOUT_MAX_S);
    CHECK_EQ(parse(&c, "[wsl2]\nvmIdleTimeout=1\n"), 0);
    CHECK_EQ(lsl_config_idle_timeout_s(&c), 1); /* rounded up: 1 ms is not "stop at once" */
    CHECK_EQ(parse(&c, "[wsl2]\nvmIdleTimeout=-9223372036854775807\n"), 0);
    CHECK_EQ(lsl_config_idle_timeout_s(&c), -1);

    lsl_config_init(&c);
    setenv("LSL_VM_IDLE_TIMEOUT", "9223372036854775",
           1); /* once the largest taken; * 1000 + 999 overflowed */
    nwarnings = 0;
    lsl_config_apply_env(&c, collect);
    CHECK_EQ(nwarnings, 1);
    CHECK(nwarnings == 1 && strstr(warnings[0], "LSL_VM_IDLE_TIMEOUT") && strstr(warnings[0], "maximum"));
    CHECK_EQ(lsl_config_idle_timeout_s(&c), LSL_IDLE_TIMEOUT_MAX_S);
    setenv("LSL_VM_IDLE_TIMEOUT", "9223372036854775807", 1);
    lsl_config_apply_env(&c, collect);
    CHECK_EQ(lsl_config_idle_timeout_s(&c), LSL_IDLE_TIMEOUT_MAX_S);
    unsetenv("LSL_VM_IDLE_TIMEOUT");
    lsl_config_free(&c);
}

/* localhostForwarding and its port lists: WSL's boolean, lists checked by proto/fwd.h and kept as written. */
static void test_localhost_forwarding(void)
{
    struct lsl_config c;
    CHECK_EQ(parse(&c, "[wsl2]\n"), 0);
    CHECK(c.localhost_forwarding && !c.forward_ports && !c.forward_exclude);
    lsl_config_free(&c);
    CHECK_EQ(parse(&c, "[wsl2]\nlocalhostforwarding=FALSE\nlocalhostForwardingPorts = 3000-3999, 8080\n"
                       "localhostForwardingExclude=5432\n"),
             0);
    CHECK_EQ(nwarnings, 0);
    CHECK(!c.localhost_forwarding);
    CHECK(c.forward_ports && !strcmp(c.forward_ports, "3000-3999, 8080"));
    CHECK(c.forward_exclude && !strcmp(c.forward_exclude, "5432"));
    lsl_config_free(&c);
    /* Bad values warn and leave the default: forwarding on, every port. */
    CHECK_EQ(parse(&c, "[wsl2]\nlocalhostForwarding=no\nlocalhostForwardingPorts=80-\n"
                       "localhostForwardingExclude=70000\n"),
             0);
    CHECK_EQ(nwarnings, 3);
    CHECK(strstr(warnings[0], ":2: invalid value 'no' for localhostForwarding") != NULL);
    CHECK(strstr(warnings[1], ":3: invalid value '80-' for localhostForwardingPorts") != NULL);
    CHECK(c.localhost_forwarding && !c.forward_ports && !c.forward_exclude);
    lsl_config_free(&c);
    /* An empty allow list forwards nothing, which is not the same as no list. */
    CHECK_EQ(parse(&c, "[wsl2]\nlocalhostForwardingPorts=\n"), 0);
    CHECK_EQ(nwarnings, 0);
    CHECK(c.forward_ports != NULL);
    lsl_config_free(&c);
}

/* socketForwarding: Docker's socket by default, a list as proto/fwd.h parses it, ~/ expanded; empty: none. */
static void test_socket_forwarding(void)
{
    struct lsl_config c;
    setenv("HOME", "/home/u", 1);
    CHECK_EQ(parse(&c, "[wsl2]\n"), 0);
    CHECK(c.sockets.n == 1 && !strcmp(c.sockets.s[0].guest.path, "/run/docker.sock") &&
          !strcmp(c.sockets.s[0].host, "docker.sock"));
    lsl_config_free(&c);
    CHECK_EQ(parse(&c, "[lsl]\nsocketForwarding = deb:/run/x.sock=~/x.sock; /run/docker.sock=/tmp/d.sock\n"),
             0);
    CHECK_EQ(nwarnings, 0);
    CHECK(c.sockets.n == 2 && !strcmp(c.sockets.s[0].host, "/home/u/x.sock") &&
          !strcmp(c.sockets.s[0].guest.distro, "deb") && !strcmp(c.sockets.s[1].host, "/tmp/d.sock"));
    lsl_config_free(&c);
    CHECK_EQ(parse(&c, "[lsl]\nsocketForwarding=\n"), 0);
    CHECK_EQ(c.sockets.n, 0);
    lsl_config_free(&c);
    /* A bad list warns and keeps the default. */
    CHECK_EQ(parse(&c, "[lsl]\nsocketForwarding=run/docker.sock=x\n"), 0);
    CHECK_EQ(nwarnings, 1);
    CHECK(strstr(warnings[0], "invalid value 'run/docker.sock=x' for socketForwarding") != NULL);
    CHECK(c.sockets.n == 1 && !strcmp(c.sockets.s[0].host, "docker.sock"));
    lsl_config_free(&c);
}

int main(void)
{
    /* The tests decide the environment: none of the caller's overrides leak in. */
    unsetenv("LSL_VM_MEMORY");
    unsetenv("LSL_VM_CPUS");
    unsetenv("LSL_VM_IDLE_TIMEOUT");
    unsetenv("LSL_KERNEL");
    RUN(test_parse_size);
    RUN(test_sections_and_keys);
    RUN(test_defaults);
    RUN(test_unknown_warns);
    RUN(test_bad_values);
    RUN(test_kernel_path);
    RUN(test_load_file);
    RUN(test_env_wins);
    RUN(test_idle_timeout_bounds);
    RUN(test_localhost_forwarding);
    RUN(test_socket_forwarding);
    return CHECK_DONE();
}
