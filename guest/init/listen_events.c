/* See listen_events.h. The programs are hand-assembled (no compiler for BPF in the guest build, and a dozen
 * instructions do not need one); the verifier checks them at load, so a mistake fails loudly at boot (logged
 * with the verifier's words) and the forwarder falls back to polling. */
#include "listen_events.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The BPF ABI (include/uapi/linux/bpf.h), only what is used. */
enum {
    BPF_CMD_MAP_CREATE = 0,
    BPF_CMD_PROG_LOAD = 5,
    BPF_CMD_PROG_ATTACH = 8,
    MAP_RINGBUF = 27,
    PROG_CGROUP_SOCK = 9,
    PROG_SOCK_OPS = 13,
    ATT_SOCK_OPS = 3,
    ATT_INET4_POST_BIND = 12,
    ATT_INET6_POST_BIND = 13,
    ATT_SOCK_RELEASE = 34,
    ATTACH_ALLOW_MULTI = 2, /* beside what a distribution's systemd or Docker attach below */
    FN_CB_FLAGS_SET = 59,
    FN_NETNS_COOKIE = 122,
    FN_RINGBUF_OUTPUT = 130,
    OPS_STATE_CB = 10,
    OPS_LISTEN_CB = 11,
    OPS_STATE_CB_FLAG = 4,
    TCP_STATE_LISTEN = 10,
    PSEUDO_MAP_FD = 1,
    RB_BUSY = 1u << 31,
    RB_DISCARD = 1u << 30,
    RB_HDR = 8,
    SOCKOPT_NETNS_COOKIE = 71, /* SO_NETNS_COOKIE */
};
#define OFF_OPS_OP         0 /* struct bpf_sock_ops */
#define OFF_OPS_ARGS       4
#define OFF_SOCK_PROTOCOL  12 /* struct bpf_sock */
#define OFF_SOCK_SRC_PORT  44
#define OFF_ATTR_EXP_ATT   68 /* union bpf_attr, for BPF_PROG_LOAD */
#define OFF_ATTR_PROG_NAME 48

struct insn {
    uint8_t code;
    uint8_t regs; /* dst in the low nibble, src in the high */
    int16_t off;
    int32_t imm;
};
#define I(c, d, s, o, i)                                                                                     \
    ((struct insn){.code = (c), .regs = (uint8_t)((d) | ((s) << 4)), .off = (o), .imm = (i)})
/* class | size | mode, class | op | source */
#define MOV64_REG(d, s)  I(0x07 | 0xb0 | 0x08, d, s, 0, 0)
#define MOV64_IMM(d, v)  I(0x07 | 0xb0, d, 0, 0, v)
#define ADD64_IMM(d, v)  I(0x07 | 0x00, d, 0, 0, v)
#define LDX_W(d, s, o)   I(0x01 | 0x00 | 0x60, d, s, o, 0)
#define STX_DW(d, s, o)  I(0x03 | 0x18 | 0x60, d, s, o, 0)
#define JEQ_IMM(d, v, o) I(0x05 | 0x10, d, 0, o, v)
#define JNE_IMM(d, v, o) I(0x05 | 0x50, d, 0, o, v)
#define JA(o)            I(0x05 | 0x00, 0, 0, o, 0)
#define CALL(f)          I(0x05 | 0x80, 0, 0, 0, f)
#define EXIT()           I(0x05 | 0x90, 0, 0, 0, 0)
#define LD_MAP_FD(d, fd) I(0x00 | 0x18 | 0x00, d, PSEUDO_MAP_FD, 0, fd), I(0, 0, 0, 0, 0)

/* The record both program kinds write: r6 holds the context, r7 the kind. 11 instructions. */
#define EMIT(map)                                                                                            \
    MOV64_REG(1, 6), CALL(FN_NETNS_COOKIE), STX_DW(10, 0, -16), STX_DW(10, 7, -8), LD_MAP_FD(1, map),        \
        MOV64_REG(2, 10), ADD64_IMM(2, -16), MOV64_IMM(3, 16), MOV64_IMM(4, 0), CALL(FN_RINGBUF_OUTPUT)
#define EMIT_LEN 11

struct attr_map_create {
    uint32_t map_type, key_size, value_size, max_entries, map_flags;
};
struct attr_prog_load {
    uint32_t prog_type, insn_cnt;
    uint64_t insns, license;
    uint32_t log_level, log_size;
    uint64_t log_buf;
    uint32_t kern_version, prog_flags;
    char prog_name[16];
    uint32_t prog_ifindex, expected_attach_type;
};
struct attr_prog_attach {
    uint32_t target_fd, attach_bpf_fd, attach_type, attach_flags, replace_bpf_fd;
};
_Static_assert(offsetof(struct attr_prog_load, expected_attach_type) == OFF_ATTR_EXP_ATT, "bpf_attr layout");
_Static_assert(offsetof(struct attr_prog_load, prog_name) == OFF_ATTR_PROG_NAME, "bpf_attr layout");

/* The record: what the programs put in r7. */
enum { REC_TCP_LISTEN = 1, REC_TCP_CLOSED, REC_UDP_BOUND, REC_UDP_GONE };

#define RING_SIZE (16u << 10) /* 682 records between two drains; a fuller ring says LISTEN_EV_LOST */

static long bpf(int cmd, void *attr, size_t size)
{
    return syscall(SYS_bpf, cmd, attr, size);
}

static int prog_load(int type, int expected_attach, const struct insn *insns, size_t n, const char *name)
{
    static char log[4096];
    struct attr_prog_load a = {
        .prog_type = (uint32_t)type,
        .insn_cnt = (uint32_t)n,
        .insns = (uint64_t)(uintptr_t)insns,
        .license = (uint64_t)(uintptr_t) "GPL",
        .expected_attach_type = (uint32_t)expected_attach,
    };
    snprintf(a.prog_name, sizeof(a.prog_name), "%s", name);
    long fd = bpf(BPF_CMD_PROG_LOAD, &a, sizeof(a));
    if (fd >= 0)
        return (int)fd;
    int err = errno;
    /* Again with the verifier's log, for the console. */
    a.log_level = 1;
    a.log_size = sizeof(log);
    a.log_buf = (uint64_t)(uintptr_t)log;
    log[0] = '\0';
    if (bpf(BPF_CMD_PROG_LOAD, &a, sizeof(a)) < 0 && log[0]) {
        for (char *c = log; *c; c++)
            *c = *c == '\n' ? '|' : *c;
        lsl_log_info("forwarder: the %s program was refused (%.600s)", name, log);
    }
    return -err;
}

static int attach(int cgroup_root, int prog, int type)
{
    struct attr_prog_attach a = {
        .target_fd = (uint32_t)cgroup_root,
        .attach_bpf_fd = (uint32_t)prog,
        .attach_type = (uint32_t)type,
        .attach_flags = ATTACH_ALLOW_MULTI,
    };
    return bpf(BPF_CMD_PROG_ATTACH, &a, sizeof(a)) < 0 ? -errno : 0;
}

/* TCP: a socket entering LISTEN asks for state callbacks, so that leaving LISTEN is seen too. */
static int load_sock_ops(int map)
{
    const struct insn p[] = {
        MOV64_REG(6, 1),
        LDX_W(2, 6, OFF_OPS_OP),
        JEQ_IMM(2, OPS_LISTEN_CB, 5),               /* to listen: */
        JNE_IMM(2, OPS_STATE_CB, EMIT_LEN + 8),     /* to out: */
        LDX_W(2, 6, OFF_OPS_ARGS),                  /* args[0]: the old state */
        JNE_IMM(2, TCP_STATE_LISTEN, EMIT_LEN + 6), /* to out: */
        MOV64_IMM(7, REC_TCP_CLOSED),
        JA(4), /* to emit: */
        /* listen: */
        MOV64_REG(1, 6),
        MOV64_IMM(2, OPS_STATE_CB_FLAG),
        CALL(FN_CB_FLAGS_SET),
        MOV64_IMM(7, REC_TCP_LISTEN),
        /* emit: */
        EMIT(map),
        /* out: */
        MOV64_IMM(0, 1),
        EXIT(),
    };
    return prog_load(PROG_SOCK_OPS, ATT_SOCK_OPS, p, sizeof(p) / sizeof(p[0]), "lsl_listen_tcp");
}

/* UDP: a socket bound (bind() done: its port is set), or released. */
static int load_sock_bind(int map, int attach_type, const char *name)
{
    const struct insn p[] = {
        MOV64_REG(6, 1),
        LDX_W(2, 6, OFF_SOCK_PROTOCOL),
        JNE_IMM(2, 17 /* IPPROTO_UDP */, EMIT_LEN + 3),
        LDX_W(2, 6, OFF_SOCK_SRC_PORT),
        JEQ_IMM(2, 0, EMIT_LEN + 1),
        MOV64_IMM(7, REC_UDP_BOUND),
        EMIT(map),
        MOV64_IMM(0, 1),
        EXIT(),
    };
    return prog_load(PROG_CGROUP_SOCK, attach_type, p, sizeof(p) / sizeof(p[0]), name);
}

/* The release hook may not read the port (6.1's verifier): every UDP socket, filtered in user space. */
static int load_sock_release(int map)
{
    const struct insn p[] = {
        MOV64_REG(6, 1),
        LDX_W(2, 6, OFF_SOCK_PROTOCOL),
        JNE_IMM(2, 17 /* IPPROTO_UDP */, EMIT_LEN + 1),
        MOV64_IMM(7, REC_UDP_GONE),
        EMIT(map),
        MOV64_IMM(0, 1),
        EXIT(),
    };
    return prog_load(PROG_CGROUP_SOCK, ATT_SOCK_RELEASE, p, sizeof(p) / sizeof(p[0]), "lsl_release_udp");
}

int listen_events_open(struct listen_events *le, int cgroup_root, uint64_t own_cookie)
{
    struct attr_map_create m = {.map_type = MAP_RINGBUF, .max_entries = RING_SIZE};
    long page = sysconf(_SC_PAGESIZE);
    int progs[4] = {-1, -1, -1, -1}, r = 0;

    memset(le, 0, sizeof(*le));
    le->ring = (int)bpf(BPF_CMD_MAP_CREATE, &m, sizeof(m));
    if (le->ring < 0)
        return -errno;
    le->own_cookie = own_cookie;
    le->size = RING_SIZE;
    void *cons = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, le->ring, 0);
    void *prod = mmap(NULL, (size_t)page + 2 * RING_SIZE, PROT_READ, MAP_SHARED, le->ring, page);
    if (cons == MAP_FAILED || prod == MAP_FAILED) {
        r = -errno;
        goto fail;
    }
    le->consumer = cons;
    le->producer = prod;
    le->data = (const uint8_t *)prod + page;

    progs[0] = load_sock_ops(le->ring);
    progs[1] = load_sock_bind(le->ring, ATT_INET4_POST_BIND, "lsl_bind_udp4");
    progs[2] = load_sock_bind(le->ring, ATT_INET6_POST_BIND, "lsl_bind_udp6");
    progs[3] = load_sock_release(le->ring);
    /* All loaded before any is attached: a refusal leaves nothing behind. */
    for (int i = 0; i < 4 && r == 0; i++)
        r = progs[i] < 0 ? progs[i] : 0;
    static const int types[4] = {ATT_SOCK_OPS, ATT_INET4_POST_BIND, ATT_INET6_POST_BIND, ATT_SOCK_RELEASE};
    for (int i = 0; i < 4 && r == 0; i++)
        r = attach(cgroup_root, progs[i], types[i]);
    /* Attached programs hold themselves and the map; the fds are not needed. (An attach failing part-way
     * leaves the earlier ones attached, harmless: their records are simply never read.) */
    for (int i = 0; i < 4; i++)
        if (progs[i] >= 0)
            close(progs[i]);
    if (r == 0)
        return 0;
fail:
    if (cons != MAP_FAILED)
        munmap(cons, (size_t)page);
    if (prod != MAP_FAILED)
        munmap(prod, (size_t)page + 2 * RING_SIZE);
    close(le->ring);
    le->ring = -1;
    return r;
}

unsigned listen_events_drain(struct listen_events *le)
{
    uint64_t cons = *le->consumer, prod = __atomic_load_n(le->producer, __ATOMIC_ACQUIRE);
    unsigned what = 0;

    if (prod - cons > le->size / 2)
        what |= LISTEN_EV_LOST;
    while (cons < prod) {
        const uint8_t *rec = le->data + (cons & (le->size - 1));
        uint32_t hdr = __atomic_load_n((const uint32_t *)rec, __ATOMIC_ACQUIRE);
        if (hdr & RB_BUSY)
            break; /* still being written: its commit wakes us again */
        uint32_t len = hdr & ~(RB_BUSY | RB_DISCARD);
        if (!(hdr & RB_DISCARD) && len == 16) {
            uint64_t cookie, kind;
            memcpy(&cookie, rec + RB_HDR, 8);
            memcpy(&kind, rec + RB_HDR + 8, 8);
            what |= kind == REC_TCP_LISTEN   ? LISTEN_EV_TCP_LISTEN
                    : kind == REC_TCP_CLOSED ? LISTEN_EV_TCP_CLOSED
                    : kind == REC_UDP_BOUND  ? LISTEN_EV_UDP_BOUND
                                             : LISTEN_EV_UDP_GONE;
            if (cookie != le->own_cookie)
                what |= LISTEN_EV_FOREIGN;
        }
        cons += (len + RB_HDR + 7) & ~7u;
    }
    __atomic_store_n(le->consumer, cons, __ATOMIC_RELEASE);
    return what;
}

uint64_t listen_events_netns_cookie(int fd)
{
    uint64_t cookie = 0;
    socklen_t len = sizeof(cookie);
    if (getsockopt(fd, SOL_SOCKET, SOCKOPT_NETNS_COOKIE, &cookie, &len) < 0)
        return 0;
    return cookie;
}

void listen_events_abi(struct listen_events_abi *abi)
{
    *abi = (struct listen_events_abi){
        .map_ringbuf = MAP_RINGBUF,
        .prog_cgroup_sock = PROG_CGROUP_SOCK,
        .prog_sock_ops = PROG_SOCK_OPS,
        .att_sock_ops = ATT_SOCK_OPS,
        .att_inet4_post_bind = ATT_INET4_POST_BIND,
        .att_inet6_post_bind = ATT_INET6_POST_BIND,
        .att_sock_release = ATT_SOCK_RELEASE,
        .fn_cb_flags_set = FN_CB_FLAGS_SET,
        .fn_netns_cookie = FN_NETNS_COOKIE,
        .fn_ringbuf_output = FN_RINGBUF_OUTPUT,
        .ops_listen_cb = OPS_LISTEN_CB,
        .ops_state_cb = OPS_STATE_CB,
        .ops_state_cb_flag = OPS_STATE_CB_FLAG,
        .tcp_listen = TCP_STATE_LISTEN,
        .off_ops_op = OFF_OPS_OP,
        .off_ops_args = OFF_OPS_ARGS,
        .off_sock_protocol = OFF_SOCK_PROTOCOL,
        .off_sock_src_port = OFF_SOCK_SRC_PORT,
        .off_attr_expected_attach_type = OFF_ATTR_EXP_ATT,
        .off_attr_prog_name = OFF_ATTR_PROG_NAME,
    };
}
