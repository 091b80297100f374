/* The wire protocol between the host (lsl CLI, service) and the agent in lsl-init, over one vsock stream per
 * session: length-prefixed little-endian frames. Shared by host and guest; plain C, no dependencies.
 *
 * A session: the client connects to the agent's port, both sides send HELLO, the client may send CLOCK, then
 * one EXEC, the agent answers STARTED (or ERROR and closes), then STDIN/STDOUT/STDERR/SIGNAL/WINSIZE flow
 * until the agent sends EXIT and closes. Control frames never wait behind data: stdin is credit-based (the
 * client sends at most what the agent granted with STDIN_CREDIT), so the agent can always read the socket.
 * Output is backpressured by the stream itself: an agent whose writes block stops reading the command's
 * output. */
#ifndef LSL_PROTO_AGENT_H
#define LSL_PROTO_AGENT_H

#include <stdint.h>

#define LSL_AGENT_PORT 5000 /* vsock port the agent listens on */
/* A running distribution's own agent listens on LSL_DISTRO_PORT_BASE + its disk slot: sessions served there
 * start inside its namespaces (no join per command). Below 1024, so only root in the guest can bind one. */
#define LSL_DISTRO_PORT_BASE  1000
#define LSL_DISTRO_PORT_SLOTS 24
#define LSL_DISTRO_PORT_OK(port)                                                                             \
    ((port) >= LSL_DISTRO_PORT_BASE && (port) < LSL_DISTRO_PORT_BASE + LSL_DISTRO_PORT_SLOTS)
/* Interop, the other way: a guest program (lsl-host) connects to the host (CID 2) on this port and is the
 * client of the same session, the host's lsl-interop the server. Its EXEC names the calling distribution, no
 * user (the host user is the only one), a host cwd (the guest's, through the host shares; "" = the host
 * home) and the variables WSLENV passes; CLOCK is ignored, SHUTDOWN and ACTIVITY are protocol errors. */
#define LSL_INTEROP_PORT  5002       /* a plain number: control.h spells it into LSL_INTEROP_SOCKET */
#define LSL_AGENT_VERSION 5          /* 2: EXEC names a distribution; 3: CLOCK; 4: ACTIVITY; 5: CWD_OR_HOME */
#define LSL_FRAME_MAX     (1u << 20) /* payload bytes; larger frames are a protocol error */
#define LSL_STDIN_WINDOW  (256u << 10) /* initial stdin credit the agent grants with STARTED */

struct lsl_frame_hdr {
    uint32_t type; /* enum lsl_frame_type */
    uint32_t len;  /* payload bytes that follow, <= LSL_FRAME_MAX */
};

enum lsl_frame_type {
    /* Both directions. */
    LSL_HELLO = 1, /* payload: u32 version; must be the first frame each way */

    /* Client to agent. */
    LSL_EXEC = 2,      /* payload: struct lsl_exec, then strings (see below) */
    LSL_STDIN = 3,     /* payload: bytes for the command's stdin (len > 0, within granted credit) */
    LSL_STDIN_EOF = 4, /* no payload: close the command's stdin */
    LSL_SIGNAL = 5,    /* payload: u32 signal number, sent to the command's process group */
    LSL_WINSIZE = 6,   /* payload: u16 rows, u16 cols: resize the session's pty */
    LSL_SHUTDOWN = 7,  /* no payload, instead of EXEC: power the guest off the orderly way (every process gets
                        * SIGTERM, then SIGKILL; disks are synced and unmounted); the agent just closes */
    LSL_CLOCK = 8,     /* payload: u64 the host's CLOCK_REALTIME in ns, right after HELLO: the agent sets the
                        * guest's clock to it when the guest is off (kvm-clock does not count the host's
                        * suspend). The session may end here: the service's resync after the host slept. */
    LSL_ACTIVITY = 9,  /* no payload, instead of EXEC, to the system agent (LSL_AGENT_PORT) only: what keeps
                        * the running distributions busy besides open sessions, for the service's idle stop.
                        * The agent answers ACTIVITY_REPLY and closes; a distribution's own agent takes it
                        * for a protocol error. */

    /* Agent to client. */
    LSL_STARTED = 16,       /* payload: u32 pid of the command (in the agent's namespace) */
    LSL_STDOUT = 17,        /* payload: bytes */
    LSL_STDERR = 18,        /* payload: bytes */
    LSL_EXIT = 19,          /* payload: u32 status: exit code 0-255, or 128+N when killed by signal N */
    LSL_ERROR = 20,         /* payload: u32 code (enum lsl_error), then a UTF-8 message (no NUL) */
    LSL_STDIN_CREDIT = 21,  /* payload: u32 more bytes of stdin the client may send */
    LSL_ACTIVITY_REPLY = 22 /* payload: per running distribution, its name and how many processes run in it
                             * besides its init and lsl's own session processes (proto/activity.h) */
};

/* How each of the command's stdin/stdout/stderr is connected: decided per host fd by the client. */
enum lsl_stdio_mode {
    LSL_STDIO_PIPE = 0, /* a pipe: binary-safe, no line discipline */
    LSL_STDIO_PTY = 1,  /* the session's pty (one per session, shared by every fd in this mode) */
};

#define LSL_EXEC_LOGIN 0x1 /* argv[0] is run as a login shell (argv[0] gets a leading '-') */
/* A cwd that cannot be entered means the user's home instead of LSL_ERR_NO_CWD: lsl's own guess (the guest
 * path of the host directory lsl runs in, WSL's /mnt/c habit) must not keep a command from running. */
#define LSL_EXEC_CWD_OR_HOME 0x2
#define LSL_EXEC_FLAGS_KNOWN (LSL_EXEC_LOGIN | LSL_EXEC_CWD_OR_HOME) /* any other bit: a malformed EXEC */

/* EXEC payload: this struct, then NUL-terminated strings in order: cwd, user, distro, argv[0..argc-1],
 * env[0..envc-1] ("NAME=value"). An empty cwd means the user's home, "~/DIR" DIR below it; an empty user
 * means root; an empty distro means the system root (the VM's own disk, where lsl-distro manages the
 * distributions), otherwise the command joins the namespaces of that running distribution (LSL_ERR_NO_DISTRO
 * if it is not running); an empty argv[0] means the user's login shell from the guest's passwd (what `lsl`
 * and `lsl CMD LINE` run). The command gets exactly env (the agent adds nothing but what a login does: HOME,
 * USER, LOGNAME, SHELL when missing). */
struct lsl_exec {
    uint32_t flags;      /* LSL_EXEC_* */
    uint8_t stdio[3];    /* enum lsl_stdio_mode for stdin, stdout, stderr */
    uint8_t reserved;    /* 0 */
    uint16_t rows, cols; /* initial pty size when any fd is a pty */
    uint32_t argc;       /* >= 1 */
    uint32_t envc;
};

enum lsl_error {
    LSL_ERR_PROTOCOL = 1,  /* malformed or unexpected frame: the agent closes the session */
    LSL_ERR_NOT_FOUND = 2, /* command not found (the client exits 127) */
    LSL_ERR_NO_EXEC = 3,   /* command not executable (126) */
    LSL_ERR_NO_USER = 4,   /* unknown user */
    LSL_ERR_NO_CWD = 5,    /* cannot change to the working directory */
    LSL_ERR_INTERNAL = 6,  /* fork, pty or similar failed */
    LSL_ERR_NO_DISTRO = 7, /* the distribution named in EXEC is not running (the client starts it, retries) */
    LSL_ERR_DENIED = 8, /* interop: the host does not run commands for that distribution (off, or isolated) */
};

#endif
