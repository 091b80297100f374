#!/usr/bin/env bash
# VM tests for lsl-vmm and lsl-init. Needs a /dev/kvm that runs standard guests (tests/run.sh arranges that,
# using the emulated KVM host where needed). Prints "PASS name", "FAIL name: why" or "SKIP name: why".
source "$(dirname "$0")/lib.sh"
K=$LSL_KERNEL_DIR/vmlinux
DISK=${LSL_TEST_DISK:-$LSL_BUILD/test-root.img}
S=$(mktemp -d "${TMPDIR:-/tmp}/lsl-vmtest.XXXXXX")
trap 'rm -rf "$S"' EXIT

vmm() { timeout -k 10 180 "$LSL_VMM" --kernel "$K" --initrd "$LSL_INITRD" "$@"; }
# A guest command on the read-only test root: vm_cmd [lsl-vmm options...] -- CMD...
vm_ro() { vmm --disk "$DISK,ro" --root /dev/vda "$@"; }
fresh_disk() { cp --sparse=always "$DISK" "$S/rw.img"; }
# The lsl-vmm process (not its timeout or subshell wrapper) started with --console-log LOG.
vmm_pid_of() { pgrep -n -f "^$LSL_VMM .*--console-log $1"; }
# Stops a VM started in the background (JOB its job, LOG its console log): killing the job reaches neither
# timeout nor lsl-vmm below it, which would run on for minutes beside the next tests.
bg_vm_stop() { # JOB LOG
	local pid
	pid=$(vmm_pid_of "$2")
	[ -z "$pid" ] || kill "$pid" 2>/dev/null
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}


boot_marker() {
	expect_rc 0 vmm --console-log "$S/boot.log" || return 1
	grep -Eq '^lsl-init: up uptime=[0-9]+\.[0-9]+s' "$S/boot.log" || { echo "no boot marker in console log"; return 1; }
}
exit_0() { expect_rc 0 vm_ro -- /bin/sh -c 'exit 0'; }
exit_1() { expect_rc 1 vm_ro -- /bin/false; }
exit_42() { expect_rc 42 vm_ro -- /bin/sh -c 'exit 42'; }
exit_signal() { expect_rc 137 vm_ro -- /bin/sh -c 'kill -9 $$'; }
exit_not_found() {
	vm_ro -- /no/such/program 2>"$S/err"
	local rc=$?
	[ $rc -eq 127 ] || { echo "exit status $rc, expected 127"; return 1; }
	grep -q 'lsl-init: error:.*no/such/program' "$S/err" || { echo "no lsl-init error line on stderr"; return 1; }
}
console_output() {
	local out
	out=$(vm_ro --console -- /bin/echo hello-from-the-guest) || return 1
	grep -q '^hello-from-the-guest' <<<"$out" || { echo "guest output missing: $out"; return 1; }
}
args_binary_safe() {
	# Quotes, spaces, empty and non-ASCII arguments reach the guest command unchanged.
	expect_rc 0 vm_ro -- /bin/sh -c '[ "$1" = "a \"b\"  c" ] && [ -z "$2" ] && [ "$3" = "é;*?" ] && [ $# -eq 3 ]' \
		sh 'a "b"  c' '' 'é;*?'
}
disk_persists() {
	fresh_disk
	expect_rc 0 vmm --disk "$S/rw.img" --root /dev/vda -- /bin/sh -c 'echo written-by-the-guest > /persist.txt' || return 1
	debugfs -R 'cat /persist.txt' "$S/rw.img" 2>/dev/null | grep -q written-by-the-guest || { echo "file not on the host image"; return 1; }
	e2fsck -fn "$S/rw.img" >/dev/null 2>&1 || { echo "filesystem not clean after poweroff"; return 1; }
}
loop_on_demand() {
	# The kernel makes no loop devices at boot (kernel/lsl.config): losetup gets one from /dev/loop-control.
	fresh_disk
	expect_rc 0 vmm --disk "$S/rw.img" --root /dev/vda -- /bin/sh -c '[ ! -e /dev/loop0 ] || exit 3
		dd if=/dev/zero of=/loop.img bs=1M count=4 2>/dev/null && losetup -f /loop.img || exit 4
		[ -b /dev/loop0 ] && [ "$(cat /sys/block/loop0/size)" = 8192 ] || exit 5'
}
disk_serial() { expect_rc 0 vm_ro -- /bin/sh -c '[ "$(cat /sys/block/vda/serial)" = lsl-disk0 ]'; }
lazy_memory() {
	# A 2 GiB guest that has booted and runs a command must cost the host far less than 2 GiB.
	vm_ro --memory 2G --console-log "$S/lazy.log" -- /bin/sleep 60 &
	local pid=$! vmm_pid rss=0 i
	for i in $(seq 1 90); do
		grep -q '^lsl-init: up' "$S/lazy.log" 2>/dev/null && break
		sleep 1
	done
	sleep 2
	vmm_pid=$(vmm_pid_of "$S/lazy.log")
	[ -n "$vmm_pid" ] && rss=$(awk '/^VmRSS/ {print $2}' "/proc/$vmm_pid/status")
	kill -TERM $pid 2>/dev/null
	wait $pid 2>/dev/null
	[ "$rss" -gt 0 ] && [ "$rss" -lt 131072 ] || { echo "lsl-vmm RSS ${rss} KiB for a booted 2 GiB guest"; return 1; }
	echo "lsl-vmm RSS ${rss} KiB for a booted 2 GiB guest"
}
disk_readonly() {
	vm_ro -- /bin/touch /should-fail
	local rc=$?
	[ $rc -eq 1 ] || { echo "writing to a read-only disk gave $rc, expected 1"; return 1; }
}
second_disk() {
	fresh_disk
	expect_rc 0 vmm --disk "$DISK,ro" --disk "$S/rw.img" --root /dev/vda -- /bin/sh -c \
		'mount -t ext4 /dev/vdb /mnt && echo second > /mnt/second.txt && umount /mnt' || return 1
	debugfs -R 'cat /second.txt' "$S/rw.img" 2>/dev/null | grep -q second || { echo "second disk not written"; return 1; }
}
discard_frees_space() {
	# What a delete and fstrim give back of 24 MiB written in an earlier boot: measured between the two boots,
	# so that what ext4 writes besides (its journal, the inode tables it zeroes in the background for a while
	# after each mount: up to 10 MiB in one boot here, more the slower the machine) does not hide it.
	fresh_disk
	local full after
	expect_rc 0 vmm --disk "$S/rw.img" --root /dev/vda -- /bin/sh -c 'dd if=/dev/zero of=/big bs=1M count=24 2>/dev/null && sync' ||
		return 1
	full=$(du -k "$S/rw.img" | cut -f1)
	expect_rc 0 vmm --disk "$S/rw.img" --root /dev/vda -- /bin/sh -c 'rm /big && sync && fstrim /' || return 1
	after=$(du -k "$S/rw.img" | cut -f1)
	echo "    discard: $((full - after)) KiB of the image given back by the delete and fstrim of 24576 KiB" >&9
	[ $((full - after)) -ge 16384 ] || { echo "only $((full - after)) KiB given back after delete + fstrim of 24 MiB"; return 1; }
}
multi_vcpu() {
	expect_rc 4 vm_ro --cpus 4 -- /bin/sh -c 'exit $(grep -c ^processor /proc/cpuinfo)' || return 1
	expect_rc 2 vm_ro --cpus 2 -- /bin/nproc --all 2>/dev/null || expect_rc 0 vm_ro --cpus 2 -- /bin/sh -c '[ $(nproc) = 2 ]'
}
rng_works() { expect_rc 0 vm_ro -- /bin/sh -c '[ "$(head -c 4096 /dev/hwrng | wc -c)" -eq 4096 ]'; }
guest_reboot() { expect_rc 0 vm_ro -- /bin/reboot -f; }
bzimage_boots() {
	expect_rc 0 timeout 180 "$LSL_VMM" --kernel "$LSL_KERNEL_DIR/bzImage" --initrd "$LSL_INITRD" --console-log "$S/bz.log" || return 1
	grep -q '^lsl-init: up' "$S/bz.log" || { echo "no boot marker"; return 1; }
}
panic_reported() {
	timeout 180 "$LSL_VMM" --kernel "$K" 2>"$S/err"
	local rc=$?
	[ $rc -eq 124 ] || { echo "exit status $rc, expected 124 (panic)"; return 1; }
	grep -q 'guest kernel panic: Kernel panic - not syncing' "$S/err" || { echo "no panic line: $(cat "$S/err")"; return 1; }
}
sigterm_stops() {
	# SIGTERM to lsl-vmm itself (not to a wrapper) stops the VM and exits 128+15.
	vm_ro --console-log "$S/term.log" -- /bin/sleep 600 &
	local pid=$! i
	for i in $(seq 1 90); do
		grep -q '^lsl-init: up' "$S/term.log" 2>/dev/null && break
		sleep 1
	done
	local vmm_pid
	vmm_pid=$(vmm_pid_of "$S/term.log")
	[ -n "$vmm_pid" ] || { echo "lsl-vmm not found"; return 1; }
	kill -TERM "$vmm_pid"
	local rc=0
	wait $pid || rc=$?
	[ $rc -eq 143 ] || { echo "exit status $rc, expected 143"; return 1; }
}
# Malformed input: one clear line on stderr, exit 125, never a crash.
bad_input() { # pattern lsl-vmm-args...
	local pattern=$1 rc lines
	shift
	timeout 60 "$LSL_VMM" "$@" 2>"$S/err" >/dev/null
	rc=$?
	lines=$(wc -l <"$S/err")
	[ $rc -eq 125 ] || { echo "exit status $rc, expected 125: $(cat "$S/err")"; return 1; }
	[ "$lines" -eq 1 ] || { echo "expected one error line, got $lines: $(cat "$S/err")"; return 1; }
	grep -q "$pattern" "$S/err" || { echo "unexpected message: $(cat "$S/err")"; return 1; }
}
bad_kernel_missing() { bad_input 'cannot open kernel' --kernel "$S/nope"; }
bad_kernel_not_linux() {
	head -c 65536 /dev/urandom >"$S/junk"
	bad_input 'not a Linux kernel' --kernel "$S/junk" && bad_input 'not an x86-64 Linux kernel' --kernel /bin/sh
}
bad_memory() { bad_input "more than this host's RAM" --kernel "$K" --memory 64T; }
bad_disk() { bad_input 'cannot open disk' --kernel "$K" --disk "$S/nope.img" && mkdir -p "$S/d" && bad_input 'not a regular file' --kernel "$K" --disk "$S/d,ro"; }
bad_initrd() { bad_input 'cannot open initrd' --kernel "$K" --initrd "$S/nope"; }
bad_option() { bad_input 'unknown option' --kernel "$K" --frobnicate; }
bad_disk_size() { # --disk and a disk slot take the same images: whole 512-byte sectors
	head -c 1000 /dev/zero >"$S/odd.img" && bad_input 'not a multiple of 512' --kernel "$K" --disk "$S/odd.img" &&
		: >"$S/empty.img" && bad_input 'empty' --kernel "$K" --disk "$S/empty.img,ro"
}
console_log_private() {
	# The console is the user's data: a new log is created 0600 whatever the umask, and an old one others could
	# read is made private. No boot needed: the log is opened before a missing disk fails the start.
	(umask 022 && "$LSL_VMM" --kernel "$K" --console-log "$S/new.log" --disk "$S/nope.img" 2>/dev/null)
	[ "$(stat -c %a "$S/new.log")" = 600 ] || { echo "new console log has mode $(stat -c %a "$S/new.log")"; return 1; }
	echo old >"$S/old.log" && chmod 644 "$S/old.log"
	"$LSL_VMM" --kernel "$K" --console-log "$S/old.log" --disk "$S/nope.img" 2>/dev/null
	[ "$(stat -c %a "$S/old.log")" = 600 ] || { echo "old console log kept mode $(stat -c %a "$S/old.log")"; return 1; }
}
blk_limits() {
	# The guest's block layer takes the per-request limits the device advertises, and a whole-disk read and an
	# fstrim stay within them: not one request fails.
	fresh_disk
	vmm --disk "$S/rw.img" --root /dev/vda --stats -- /bin/sh -c 'q=/sys/block/vda/queue
		[ "$(cat $q/max_segments)" = 254 ] && [ "$(cat $q/max_segment_size)" = 65536 ] &&
			[ "$(cat $q/max_discard_segments)" = 16 ] && [ "$(cat $q/discard_max_hw_bytes)" = 1073741824 ] ||
			{ grep . $q/max_segments $q/max_segment_size $q/max_discard_segments $q/discard_max_hw_bytes; exit 3; }
		cat /dev/vda >/dev/null && fstrim /' 2>"$S/limits.err"
	local rc=$?
	[ $rc -eq 0 ] || { echo "exit status $rc: $(cat "$S/limits.err")"; return 1; }
	grep -q 'virtio-blk .* errors 0 malformed 0$' "$S/limits.err" || { echo "blk: $(grep virtio-blk "$S/limits.err")"; return 1; }
}
# The guest reads virtio-mmio registers as memory (KVM maps lsl-vmm's register page read-only) and its ACK
# of a used-buffer interrupt goes to an ioeventfd: 2,048 direct 4 KiB reads, each its own interrupt, cost
# next to no exits to userspace (two per interrupt when every register access exited).
mmio_reads_are_memory() {
	vmm --disk "$DISK,ro" --root /dev/vda --stats -- /bin/sh -c 'dd if=/dev/vda of=/dev/null bs=4k count=2048 iflag=direct 2>/dev/null' 2>"$S/mmio.err"
	local rc=$? exits irqs
	[ $rc -eq 0 ] || { echo "exit status $rc: $(tail -3 "$S/mmio.err")"; return 1; }
	exits=$(sed -n 's/.*exits to userspace: [0-9]* port I\/O, \([0-9]*\) MMIO.*/\1/p' "$S/mmio.err")
	irqs=$(sed -n 's/.*virtio-blk #0 .* irqs \([0-9]*\) .*/\1/p' "$S/mmio.err")
	echo "    $exits MMIO exits to userspace for $irqs disk interrupts" >&9
	[ "${irqs:-0}" -ge 2048 ] || { echo "only ${irqs:-no} disk interrupts: $(grep virtio-blk "$S/mmio.err")"; return 1; }
	[ "${exits:-99999}" -lt 500 ] || { echo "${exits:-?} MMIO exits for $irqs interrupts: register reads exit"; return 1; }
}
# The test root plus /bin/disk-tool, kept in the build tree (mkfs under TCG is slow) until the tool changes.
DT_DISK=$LSL_BUILD/disk-root.img
dt_disk() {
	local tool=$LSL_BUILD/tests/disk-tool
	[ -x "$tool" ] || { echo "no $tool (ninja -C $LSL_BUILD)"; return 1; }
	if [ ! -f "$DT_DISK" ] || [ "$tool" -nt "$DT_DISK" ]; then
		bash "$LSL_ROOT/guest/mkdisk.sh" "$DT_DISK" 32 "$tool" >/dev/null || return 1
	fi
}
# What the guest saw flushed survives a kill of lsl-vmm: numbered 4 KiB blocks written on a second disk, each
# followed by fdatasync (a FLUSH) and reported once that returned; SIGKILL mid-way; a new boot reads every
# block reported. (Through the io_uring: writes and flushes in flight when the process dies.)
blk_flush_survives_kill() {
	dt_disk || return 1
	truncate -s 64M "$S/data.img"
	vmm --disk "$DT_DISK,ro" --disk "$S/data.img" --root /dev/vda --console --console-log "$S/stamp.log" -- \
		/bin/sh -c 'disk-tool stamp /dev/vdb 16000' >"$S/stamp.out" 2>&1 &
	local pid=$! i n out
	for i in $(seq 900); do grep -q '^stamped 40' "$S/stamp.out" && break; sleep 0.1; done
	kill -KILL "$(vmm_pid_of "$S/stamp.log")" 2>/dev/null
	wait $pid
	n=$(grep -c '^stamped' "$S/stamp.out")
	[ "$n" -ge 41 ] || { echo "only $n blocks stamped before the kill: $(tail -3 "$S/stamp.out")"; return 1; }
	out=$(vmm --disk "$DT_DISK,ro" --disk "$S/data.img" --root /dev/vda --console -- /bin/disk-tool check /dev/vdb "$n")
	grep -q "^stamps $n/$n" <<<"$out" || { echo "after the kill: $out (expected all $n)"; return 1; }
}
# Many 4 KiB requests in flight at once (32 threads with O_DIRECT), reads and writes, and a sequential pass:
# not one fails, and the device reports no error.
blk_in_flight() {
	dt_disk || return 1
	truncate -s 64M "$S/data.img"
	vmm --disk "$DT_DISK,ro" --disk "$S/data.img" --root /dev/vda --console --stats -- /bin/sh -c \
		'disk-tool rand write /dev/vdb 32 2 32 && disk-tool rand read /dev/vdb 32 2 32 && disk-tool seq-write /dev/vdb 32 &&
		disk-tool seq-read /dev/vdb 32' >"$S/inflight.out" 2>&1 || { echo "$(tail -5 "$S/inflight.out")"; return 1; }
	grep -c '^rand-\|^seq-' "$S/inflight.out" | grep -qx 4 || { echo "$(tail -5 "$S/inflight.out")"; return 1; }
	[ "$(grep -c 'virtio-blk .* errors 0 malformed 0$' "$S/inflight.out")" = 2 ] ||
		{ echo "blk: $(grep virtio-blk "$S/inflight.out")"; return 1; }
}

# --- virtio-vsock (--vsock): hybrid unix sockets both ways, with vsock-tool on a second test disk ---------
VS_TOOL=$LSL_BUILD/tests/vsock-tool
exec 9>&1 # measurements go to the runner's output even when the test passes (t captures the rest)
VS_DISK=$LSL_BUILD/vsock-root.img
vs_disk() { # the test root plus /bin/vsock-tool, kept in the build tree (mkfs under TCG is slow) until it changes
	[ -x "$VS_TOOL" ] || { echo "no $VS_TOOL (ninja -C $LSL_BUILD)"; return 1; }
	if [ ! -f "$VS_DISK" ] || [ "$VS_TOOL" -nt "$VS_DISK" ]; then
		bash "$LSL_ROOT/guest/mkdisk.sh" "$VS_DISK" 32 "$VS_TOOL" >/dev/null || return 1
	fi
	# The host end: echo clients, a one-shot server and a refused-connection check (python3, no TCG compile).
	cat >"$S/vs.py" <<'PY'
import hashlib, os, selectors, socket, sys, time

def connect(uds, port, deadline):
    # The guest's listener may not be up yet: a refused CONNECT closes without "OK"; retry until deadline.
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(uds)
            s.sendall(b"CONNECT %d\n" % port)
            line = b""
            while not line.endswith(b"\n"):
                c = s.recv(1)
                if not c:
                    break
                line += c
            if line.startswith(b"OK "):
                return s
        except OSError:
            pass
        s.close()
        if time.time() > deadline:
            sys.exit("no OK from the guest for port %d" % port)
        time.sleep(0.3)

def echo(uds, port, nconn, size):
    data = os.urandom(size)
    socks = [connect(uds, port, time.time() + 90) for _ in range(nconn)]
    t0 = time.time()
    sel = selectors.DefaultSelector()
    st = {}
    for s in socks:
        s.setblocking(False)
        st[s] = [0, bytearray()]
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    live = nconn
    while live:
        for key, ev in sel.select(timeout=60):
            s = key.fileobj
            sent, got = st[s]
            if ev & selectors.EVENT_WRITE:
                if sent < size:
                    try:
                        sent += s.send(data[sent:sent + 262144])
                    except BlockingIOError:
                        pass
                    st[s][0] = sent
                if sent == size:
                    s.shutdown(socket.SHUT_WR)
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                try:
                    b = s.recv(262144)
                except BlockingIOError:
                    continue
                if b:
                    got += b
                else:
                    sel.unregister(s)
                    live -= 1
        else:
            if not sel.get_map():
                break
    dt = time.time() - t0
    for s in socks:
        got = st[s][1]
        if len(got) != size or got != data:
            sys.exit("echo mismatch: sent %d bytes, got %d back" % (size, len(got)))
        s.close()
    print("    vsock: %d x %d KiB echoed in %.1f s: %.1f MiB/s each way" % (nconn, size >> 10, dt, nconn * size / dt / 2**20))

def serve(path, out):
    l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    l.bind(path)
    l.listen(1)
    l.settimeout(120)
    c, _ = l.accept()
    data = bytearray()
    while True:
        b = c.recv(262144)
        if not b:
            break
        data += b
    open(out, "wb").write(data)
    c.sendall(b"thanks %d\n" % len(data))
    c.close()

def refused(uds, port):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(uds)
    s.settimeout(10)
    t0 = time.time()
    s.sendall(b"CONNECT %d\n" % port)
    b = s.recv(64)
    if b:
        sys.exit("connect to a port nobody listens on answered %r" % b)
    print("refused in %.2f s" % (time.time() - t0))

cmd = sys.argv[1]
if cmd == "echo":
    echo(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
elif cmd == "serve":
    serve(sys.argv[2], sys.argv[3])
else:
    refused(sys.argv[2], int(sys.argv[3]))
PY
}
# Boots the vsock disk in the background with a guest command; vs_stop ends it.
vs_boot() { # log guest-shell-command
	rm -f "$S/v.sock" "$S/$1"
	# A plain command, not the vmm function: $! must be timeout itself, which passes vs_stop's SIGTERM on to
	# lsl-vmm (a function's subshell would die alone and leave the VM holding the test's output pipe).
	timeout 180 "$LSL_VMM" --kernel "$K" --initrd "$LSL_INITRD" --disk "$VS_DISK,ro" --root /dev/vda \
		--vsock "$S/v.sock" --console-log "$S/$1" --stats -- /bin/sh -c "$2" >/dev/null 2>"$S/$1.err" &
	VS_PID=$!
}
vs_stop() {
	kill -TERM "$VS_PID" 2>/dev/null
	wait "$VS_PID" 2>/dev/null
	grep 'virtio-vsock' "$S/$1.err" | sed 's/^/    /' >&9 || true
}
vs_wait_log() { # log pattern: waits for the guest to print it (boot under TCG takes a while)
	local i
	for i in $(seq 1 300); do
		grep -q "$2" "$S/$1" 2>/dev/null && return 0
		kill -0 "$VS_PID" 2>/dev/null || break
		sleep 0.3
	done
	echo "guest never printed '$2'"; cat "$S/$1"; return 1
}
vs_echo() { # log connections bytes-each: the guest echoes every stream back; the host checks each byte
	vs_disk || return 1
	vs_boot "$1" 'vsock-tool listen 5000 & sleep 600'
	local rc=0 out
	if vs_wait_log "$1" 'listening on port 5000'; then
		out=$(timeout 240 python3 "$S/vs.py" echo "$S/v.sock" 5000 "$2" "$3") || rc=1
		echo "$out" >&9
	else
		rc=1
	fi
	vs_stop "$1"
	return $rc
}
vsock_echo_64m() { vs_echo vs1.log 1 $((64 << 20)); }
vsock_echo_20_conns() { vs_echo vs2.log 20 $((1 << 20)); }
vsock_guest_to_host() {
	vs_disk || return 1
	rm -f "$S/v.sock_6000" "$S/got"
	timeout 200 python3 "$S/vs.py" serve "$S/v.sock_6000" "$S/got" &
	local srv=$! i
	for i in $(seq 1 100); do [ -S "$S/v.sock_6000" ] && break; sleep 0.1; done
	# The guest sends its busybox, half-closes, and must read the server's reply after that.
	expect_rc 0 vmm --disk "$VS_DISK,ro" --root /dev/vda --vsock "$S/v.sock" -- /bin/sh -c \
		'[ "$(vsock-tool connect 2 6000 < /bin/busybox)" = "thanks $(wc -c < /bin/busybox)" ]' || { kill $srv; return 1; }
	wait $srv || { echo "host server failed"; return 1; }
	cmp "$S/got" "${LSL_BUSYBOX:-/bin/busybox}" || { echo "the host received different bytes"; return 1; }
}
vsock_refused() {
	vs_disk || return 1
	# Guest to a host port nobody serves: connect fails at once; then host to a guest port nobody serves.
	vs_boot vs4.log 'vsock-tool connect 2 6001 </dev/null; echo "guest-connect-rc=$?"; sleep 600'
	local rc=0
	vs_wait_log vs4.log 'guest-connect-rc=' || rc=1
	grep -q 'guest-connect-rc=1' "$S/vs4.log" || { echo "guest connect to a dead port: $(grep rc= "$S/vs4.log")"; rc=1; }
	grep -q 'vsock-tool: connect:' "$S/vs4.log" || { echo "no connect error from vsock-tool"; rc=1; }
	[ $rc -eq 0 ] && { timeout 60 python3 "$S/vs.py" refused "$S/v.sock" 5001 || rc=1; }
	vs_stop vs4.log
	return $rc
}

# --- disk slots (--disk-slots): media attached and detached over the service's control socket at run time ---
ctl() { # request: sends one line to the test service's control socket, prints the reply
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
r = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    r += b
sys.stdout.write(r.decode())' "$S/svc/control" "$1"
}
expect_reply() { # request want
	local got
	got=$(ctl "$1")
	[ "$got" = "$2" ] || { echo "'$1' answered '$got', expected '$2'"; return 1; }
}
# The guest (root vda, slots vdb and vdc) waits for a disk whose serial is t1, reads and writes it; the host
# detaches it once unmounted and puts a second image with serial t2 into the same slot. Kept short: the
# script travels hex-encoded on the kernel command line.
SLOTS_GUEST='for d in /sys/block/vd[bc]; do [ -z "$(cat $d/serial)" ] && [ $(cat $d/size) = 0 ] || exit 3; done
w() { for i in $(seq 900); do for d in /sys/block/vd[bc]; do [ "$(cat $d/serial)" = $1 ] && [ $(cat $d/size) -gt 0 ] && echo /dev/${d##*/} && return; done; sleep .1; done; exit 4; }
a=$(w t1) || exit 4
mount -t ext4 $a /mnt || exit 5
echo "phase1 $a $(cat /mnt/hello.txt)"
echo from-guest >/mnt/guest.txt && umount /mnt || exit 6
echo umounted
while [ $(cat /sys/block/${a#/dev/}/size) != 0 ]; do sleep .1; done
echo ejected-seen
b=$(w t2) || exit 4
mount -t ext4 -o ro $b /mnt || exit 7
echo "phase2 $b $(cat /mnt/hello.txt)"
umount /mnt
dmesg | grep -E "vd[bc]" | sed "s/^/dmesg: /"'
disk_slots() {
	local i1=$S/slot1.img i2=$S/slot2.img t0=$SECONDS rc=0
	mkdir -p "$S/c1" "$S/c2" "$S/svc"
	echo from-host-1 >"$S/c1/hello.txt"
	echo from-host-2 >"$S/c2/hello.txt"
	PATH=$PATH:/usr/sbin:/sbin mke2fs -q -t ext4 -F -d "$S/c1" "$i1" 16M && PATH=$PATH:/usr/sbin:/sbin \
		mke2fs -q -t ext4 -F -d "$S/c2" "$i2" 16M || { echo "mke2fs failed"; return 1; }
	rm -f "$S/slots.log"
	LSL_LOG=info timeout 180 "$LSL_VMM" --kernel "$K" --initrd "$LSL_INITRD" --disk "$DISK,ro" --root /dev/vda \
		--service "$S/svc" --idle-timeout -1 --disk-slots 2 --console-log "$S/slots.log" \
		-- /bin/sh -c "$SLOTS_GUEST" >/dev/null 2>"$S/slots.err" &
	VS_PID=$!
	vs_wait_log slots.log '^lsl-init: up' || rc=1
	[ $rc -eq 0 ] && expect_reply disks "ok" && expect_reply "attach t1 $i1" "ok 0" &&
		expect_reply "attach t1 $i1" "ok 0" && expect_reply "disks" "ok
0 t1 $i1" || rc=1
	[ $rc -eq 0 ] && ctl "attach t1 $i2" | grep -q "^error t1 is already attached" || { echo "t1 to another image was not refused"; rc=1; }
	[ $rc -eq 0 ] && ctl status | grep -qx 'disks_attached 1' || { echo "status: $(ctl status | tr '\n' ' ')"; rc=1; }
	[ $rc -eq 0 ] && vs_wait_log slots.log '^umounted' && expect_reply "detach t1" ok || rc=1
	[ $rc -eq 0 ] && expect_reply "detach t1" "error t1 is not attached" || rc=1
	if [ $rc -eq 0 ]; then
		debugfs -R 'cat /guest.txt' "$i1" 2>/dev/null | grep -qx from-guest || { echo "the guest's write is not in the image"; rc=1; }
		PATH=$PATH:/usr/sbin:/sbin e2fsck -fn "$i1" >/dev/null 2>&1 || { echo "image not clean after umount and detach"; rc=1; }
	fi
	[ $rc -eq 0 ] && vs_wait_log slots.log '^ejected-seen' && expect_reply "attach t2 $i2" "ok 0" || rc=1
	[ $rc -eq 0 ] && { wait "$VS_PID" || { echo "guest script failed: exit $?"; rc=1; }; }
	[ $rc -eq 0 ] || { kill -TERM "$VS_PID" 2>/dev/null; wait "$VS_PID" 2>/dev/null; }
	local p1 p2
	p1=$(tr -d '\r' <"$S/slots.log" | grep '^phase1 ') p2=$(tr -d '\r' <"$S/slots.log" | grep '^phase2 ')
	[ "${p1#phase1 /dev/vd? }" = from-host-1 ] && [ "${p2#phase2 /dev/vd? }" = from-host-2 ] || { echo "guest read '$p1' '$p2'"; rc=1; }
	[ "${p1:7:8}" = "${p2:7:8}" ] || { echo "the second image came up in another device: $p1 / $p2"; rc=1; }
	grep -q 'blk slot 0: inserted t1 (16 MiB)' "$S/slots.err" || { echo "no insert log line: $(cat "$S/slots.err")"; rc=1; }
	grep -E '^dmesg: ' "$S/slots.log" | sed 's/^/    /' >&9
	echo "    disk_slots: $((SECONDS - t0)) s" >&9
	[ $rc -eq 0 ] || { grep -v '^dmesg: ' "$S/slots.log" | tail -n 8; cat "$S/slots.err"; echo "disk_slots failed (why above)"; }
	return $rc
}
# A disk of 3 TiB put in a slot and taken out: its capacity changes two config words at once (6442450944
# sectors: the high word too), which lsl-vmm writes into its register page with the page away from the
# guest (virtio_mmio.c device_changed); the guest must read the whole new value, then zero.
disk_slot_wide() {
	local img=$S/wide.img rc=0
	truncate -s 3T "$img" || { echo "no 3 TiB sparse file here"; return 1; }
	mkdir -p "$S/svc"
	LSL_LOG=info timeout 180 "$LSL_VMM" --kernel "$K" --initrd "$LSL_INITRD" --disk "$DISK,ro" --root /dev/vda \
		--service "$S/svc" --idle-timeout -1 --disk-slots 1 --console-log "$S/wide.log" \
		-- /bin/sh -c 'echo wide-up; s=/sys/block/vdb/size
			for i in $(seq 900); do [ "$(cat $s)" = 6442450944 ] && break; sleep .1; done; echo "wide-seen $(cat $s)"
			for i in $(seq 900); do [ "$(cat $s)" = 0 ] && break; sleep .1; done; echo "wide-gone $(cat $s)"' \
		>/dev/null 2>"$S/wide.err" &
	VS_PID=$!
	vs_wait_log wide.log '^wide-up' && expect_reply "attach w1 $img" "ok 0" && vs_wait_log wide.log '^wide-seen' &&
		expect_reply "detach w1" ok || rc=1
	[ $rc -eq 0 ] && { wait "$VS_PID" || { echo "guest exit $?"; rc=1; }; }
	[ $rc -eq 0 ] || { kill -TERM "$VS_PID" 2>/dev/null; wait "$VS_PID" 2>/dev/null; }
	local seen gone
	seen=$(tr -d '\r' <"$S/wide.log" | sed -n 's/^wide-seen //p') gone=$(tr -d '\r' <"$S/wide.log" | sed -n 's/^wide-gone //p')
	[ "$seen" = 6442450944 ] && [ "$gone" = 0 ] || { echo "guest read '$seen' sectors in, '$gone' out; $(tail -3 "$S/wide.err")"; rc=1; }
	! grep 'register page' "$S/wide.err" || rc=1 # the page went back to the guest each time
	return $rc
}
disk_slots_many() {
	# 24 slots make 27 virtio-mmio devices on 9 IRQ lines: the root disk, rng and vsock share theirs with slots.
	mkdir -p "$S/svc24"
	expect_rc 0 vmm --disk "$DISK,ro" --root /dev/vda --service "$S/svc24" --idle-timeout -1 --disk-slots 24 \
		--console-log "$S/many.log" -- /bin/sh -c '[ $(ls -d /sys/block/vd* | wc -l) = 25 ] &&
		[ -z "$(cat /sys/block/vdy/serial)" ] && [ "$(cat /sys/block/vda/serial)" = lsl-disk0 ] &&
		cat /bin/* >/dev/null && grep virtio /proc/interrupts' >/dev/null || { tail -n 20 "$S/many.log"; return 1; }
	tr -d '\r' <"$S/many.log" | grep -E '^ *[0-9]+:.*virtio' | sed 's/^/    /' >&9
}

# --- virtio-net (--net): libslirp's NAT to the emulated host's loopback, with net-tool on a test disk ------
NET_TOOL=$LSL_BUILD/tests/net-tool
NET_DISK=$LSL_BUILD/net-root.img
# Host ends: an HTTP server (IPv4 or IPv6 loopback), a UDP echo server and a DNS server answering every A
# query with one address (documentation range: data only, nothing ever connects to it).
net_setup() {
	[ -x "$NET_TOOL" ] || { echo "no $NET_TOOL (ninja -C $LSL_BUILD)"; return 1; }
	if [ ! -f "$NET_DISK" ] || [ "$NET_TOOL" -nt "$NET_DISK" ]; then
		bash "$LSL_ROOT/guest/mkdisk.sh" "$NET_DISK" 32 "$NET_TOOL" >/dev/null || return 1
	fi
	ip link set lo up 2>/dev/null
	cat >"$S/net.py" <<'PY'
import http.server, os, socket, socketserver, sys

kind = sys.argv[1]
def ready():  # the test waits for this file: python starts slowly under TCG
    open(os.environ["NET_READY"], "w").close()
if kind == "http":  # http ADDR PORT: GET / answers "hello from the host"
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            b = b"hello from the host\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)
        def log_message(self, *a):
            pass
    class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
        address_family = socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET
    srv = S((sys.argv[2], int(sys.argv[3])), H)
    ready()
    srv.serve_forever()
elif kind == "udp":  # udp PORT: echo every datagram
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", int(sys.argv[2])))
    ready()
    while True:
        d, a = s.recvfrom(65536)
        s.sendto(d, a)
else:  # dns ADDR A.B.C.D: port 53, every A question gets that answer, anything else none
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[2], 53))
    ans = socket.inet_aton(sys.argv[3])
    ready()
    while True:
        q, a = s.recvfrom(4096)
        if len(q) < 12:
            continue
        end = 12
        while end < len(q) and q[end]:
            end += 1 + q[end]
        question = q[12:end + 5]
        qtype = q[end + 1:end + 3]
        r = q[:2] + b"\x81\x80" + b"\x00\x01" + (b"\x00\x01" if qtype == b"\x00\x01" else b"\x00\x00") + b"\x00\x00\x00\x00" + question
        if qtype == b"\x00\x01":
            r += b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x05\x00\x04" + ans
        s.sendto(r, a)
PY
}
net_serve() { # kind args...: a host server in the background (net_stop_servers ends it), once it listens
	local i
	rm -f "$S/net-ready"
	NET_READY=$S/net-ready python3 "$S/net.py" "$@" &
	NET_PIDS="${NET_PIDS:-} $!"
	for i in $(seq 300); do [ -e "$S/net-ready" ] && return 0; sleep 0.1; done
	echo "host server $* did not start"
	return 1
}
net_stop_servers() { [ -z "${NET_PIDS:-}" ] || kill $NET_PIDS 2>/dev/null; NET_PIDS=; }
# The guest command on the net disk with --net; its console in $S/$1, lsl-vmm's stats in $S/$1.err.
net_vm() { # log guest-shell-command
	timeout -k 10 240 "$LSL_VMM" --kernel "$K" --initrd "$LSL_INITRD" --disk "$NET_DISK,ro" --root /dev/vda --net \
		--stats --console-log "$S/$1" -- /bin/sh -c "$2" 2>"$S/$1.err"
}
net_report() { grep 'virtio-net' "$S/$1.err" | sed 's/^/    /' >&9; }
net_http_host() {
	net_setup || return 1
	net_serve http 127.0.0.1 8081
	local rc=0
	# By the gateway address, and by host.lsl.internal as the distributions' /etc/hosts names it (here on a
	# read-only root: a bind-mounted copy).
	net_vm http.log 'wget -q -O - http://10.0.2.2:8081/ | grep -q "hello from the host" || exit 3
		mount -t tmpfs t /tmp && printf "10.0.2.2\thost.lsl.internal\n" >/tmp/hosts && mount --bind /tmp/hosts /etc/hosts &&
		wget -q -O - http://host.lsl.internal:8081/ | grep -q "hello from the host" || exit 4' || rc=$?
	net_stop_servers
	net_report http.log
	[ $rc = 0 ] || { echo "guest exit $rc (3: by address, 4: by name)"; tail -5 "$S/http.log"; return 1; }
}
net_ipv6_host() {
	net_setup || return 1
	net_serve http ::1 8082
	local rc=0
	net_vm v6.log 'ip -6 addr show dev eth0 | grep -q "fec0::15/64" || exit 3
		wget -q -O - "http://[fec0::2]:8082/" | grep -q "hello from the host" || exit 4' || rc=$?
	net_stop_servers
	[ $rc = 0 ] || { echo "guest exit $rc (3: no address, 4: no HTTP over IPv6)"; tail -5 "$S/v6.log"; return 1; }
}
net_udp_echo() {
	net_setup || return 1
	net_serve udp 7781
	local rc=0
	net_vm udp.log 'net-tool udp 10.0.2.2 7781 200' || rc=$?
	net_stop_servers
	grep '^udp' "$S/udp.log" | sed 's/^/    /' >&9
	[ $rc = 0 ] || { echo "guest exit $rc"; tail -5 "$S/udp.log"; return 1; }
}
net_dns_follows_host() {
	# slirp's forwarder answers from the host's resolv.conf as it is now: a test file bind-mounted over the
	# emulated host's, naming one local server, then rewritten in place to name another while the VM runs.
	net_setup || return 1
	[ -e /etc/resolv.conf ] || touch /etc/resolv.conf 2>/dev/null
	printf 'nameserver 127.0.0.1\n' >"$S/resolv.conf"
	mount --bind "$S/resolv.conf" /etc/resolv.conf || { echo "cannot bind-mount a test resolv.conf"; return 1; }
	net_serve dns 127.0.0.1 198.51.100.1
	net_serve dns 127.0.0.42 198.51.100.2
	net_vm dns.log 'for i in $(seq 120); do nslookup lsl-test.example 10.0.2.3 2>&1 | grep -o "198\.51\.100\.[12]" | sed "s/^/answer /"; sleep 0.5; done' &
	local vm=$! i rc=1
	for i in $(seq 300); do grep -q 'answer 198.51.100.1' "$S/dns.log" 2>/dev/null && break; sleep 0.5; done
	if grep -q 'answer 198.51.100.1' "$S/dns.log"; then
		printf 'nameserver 127.0.0.42\n' >"$S/resolv.conf" # same inode, other size: what slirp's stat sees
		local t0=$SECONDS
		for i in $(seq 60); do grep -q 'answer 198.51.100.2' "$S/dns.log" && { rc=0; break; }; sleep 0.5; done
		[ $rc = 0 ] && echo "    dns: the new server answered $((SECONDS - t0)) s after the host's resolv.conf changed" >&9
	fi
	bg_vm_stop $vm "$S/dns.log"
	umount /etc/resolv.conf
	net_stop_servers
	[ $rc = 0 ] || { echo "answers: $(grep -c answer "$S/dns.log") ($(grep answer "$S/dns.log" | sort | uniq -c | tr '\n' ' '))"; return 1; }
}
net_flood_malformed() {
	# Malformed, truncated and full-size frames through AF_PACKET, and a spray of UDP flows: the NAT drops
	# what is wrong, the VMM stays up, and the network still works afterwards.
	net_setup || return 1
	net_serve http 127.0.0.1 8083
	local rc=0
	net_vm flood.log 'net-tool flood 3000 && wget -q -O - http://10.0.2.2:8083/ | grep -q "hello from the host" || exit 3' || rc=$?
	net_stop_servers
	grep '^flood' "$S/flood.log" | sed 's/^/    /' >&9
	net_report flood.log
	[ $rc = 0 ] || { echo "guest exit $rc"; tail -5 "$S/flood.log"; cat "$S/flood.log.err"; return 1; }
}
# Memory flows back (virtio-balloon free page reporting, vmm/devices/balloon.c): the guest fills 1 GiB of
# tmpfs and removes it; lsl-vmm's RSS (guest RAM included) rises by about that, then falls back to within
# 64 MiB of where it was. Timed from the guest's rm.
balloon_gives_back() {
	vm_ro --memory 2G --console-log "$S/bal.log" -- /bin/sh -c 'mount -t tmpfs -o size=1100M t /mnt && echo bal-base &&
		sleep 8 && dd if=/dev/zero of=/mnt/f bs=1M count=1024 2>/dev/null && echo bal-full && sleep 8 &&
		rm /mnt/f && echo bal-freed && sleep 120' &
	local vm=$! i pid base=0 full=0 now=0 t0 ms=-1
	rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0; }
	for i in $(seq 600); do grep -q '^bal-base' "$S/bal.log" 2>/dev/null && break; sleep 0.2; done
	sleep 5
	pid=$(vmm_pid_of "$S/bal.log")
	[ -n "$pid" ] && base=$(rss)
	for i in $(seq 900); do grep -q '^bal-full' "$S/bal.log" 2>/dev/null && break; sleep 0.2; done
	sleep 2
	full=$(rss)
	for i in $(seq 300); do grep -q '^bal-freed' "$S/bal.log" 2>/dev/null && break; sleep 0.1; done
	t0=$(date +%s%N)
	for i in $(seq 600); do
		now=$(rss)
		[ "$now" -gt 0 ] && [ "$now" -le $((base + 65536)) ] && { ms=$((($(date +%s%N) - t0) / 1000000)); break; }
		sleep 0.1
	done
	bg_vm_stop $vm "$S/bal.log"
	echo "    lsl-vmm RSS: ${base} KiB idle, ${full} KiB with 1 GiB used, ${now} KiB after the guest freed it (in ${ms} ms)" >&9
	grep 'virtio-balloon' "$S/bal.log" | head -n 3 | sed 's/^/    /' >&9
	[ "$base" -gt 0 ] && [ "$full" -ge $((base + 900 * 1024)) ] || { echo "the guest's 1 GiB did not show: ${base} -> ${full} KiB"; return 1; }
	[ "$ms" -ge 0 ] || { echo "RSS not back within 64 MiB of ${base} KiB in 60 s: ${now} KiB"; return 1; }
}
net_rss_idle() {
	# lsl-vmm's resident memory without the guest's RAM, with the network used once and then idle: <= 4 MiB.
	net_setup || return 1
	net_serve http 127.0.0.1 8084
	net_vm rss.log 'wget -q -O /dev/null http://10.0.2.2:8084/ && echo net-used && sleep 600' &
	local vm=$! i pid kib=0 huge=0 pss=0
	for i in $(seq 300); do grep -q '^net-used' "$S/rss.log" 2>/dev/null && break; sleep 0.5; done
	sleep 3
	pid=$(vmm_pid_of "$S/rss.log")
	[ -n "$pid" ] && read -r kib huge pss <<<"$(python3 -c '
import sys
t = h = p = big = 0
for l in open(sys.argv[1]):
    f = l.split()
    if "-" in f[0] and ":" not in f[0]:
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        big = hi - lo >= 256 << 20  # the guest RAM mapping (512 MiB)
    elif f[0] == "Rss:" and not big:
        t += int(f[1])
    elif f[0] == "AnonHugePages:" and not big:
        h += int(f[1])
    elif f[0] == "Pss:" and not big:
        p += int(f[1])
print(t, h, p)' "/proc/$pid/smaps")"
	bg_vm_stop $vm "$S/rss.log"
	net_stop_servers
	# PSS shares the libraries' pages (libc, glib under libslirp) with the host's other users of them.
	echo "    lsl-vmm RSS without guest RAM, net idle after use: $kib KiB, PSS $pss KiB (transparent huge pages: $huge KiB)" >&9
	grep -q '^net-used' "$S/rss.log" || { echo "the guest never reached the host"; return 1; }
	[ "$kib" -gt 0 ] && [ "$kib" -le 4096 ] || { echo "RSS without guest RAM $kib KiB (limit 4096)"; return 1; }
}

# --- virtio-fs (--share): host directories the guest mounts with mount -t virtiofs TAG DIR -------------------
# The guest's script is too long for the kernel command line: it comes in through a read-only share of its own.
fs_prepare() {
	rm -rf "$S/fs" && mkdir -p "$S/fs/share/sub" "$S/fs/ro" "$S/fs/scripts" || return 1
	echo from-host >"$S/fs/share/hello.txt"
	echo secret >"$S/fs/secret.txt" # beside the share: the guest must never read it
	ln -s ../secret.txt "$S/fs/share/rel-out"
	ln -s "$S/fs/secret.txt" "$S/fs/share/abs-out"
	echo read-only >"$S/fs/ro/file.txt"
}
# fs_vm LOG SCRIPT [lsl-vmm options]: the test root (read-only), shares rw, ro and scripts, SCRIPT run in the guest.
fs_vm() {
	local log=$1 script=$2
	shift 2
	cp "$script" "$S/fs/scripts/t.sh"
	timeout -k 10 300 "$LSL_VMM" --kernel "$K" --initrd "$LSL_INITRD" --disk "$DISK,ro" --root /dev/vda --stats \
		--share "hostshare=$S/fs/share${FS_OPTS:-}" --share "roshare=$S/fs/ro,ro" --share "scripts=$S/fs/scripts,ro" \
		--console-log "$S/$log" "$@" -- /bin/sh -c 'mount -t tmpfs t /tmp && mkdir /tmp/s &&
			mount -t virtiofs scripts /tmp/s && exec /bin/sh /tmp/s/t.sh' 2>"$S/$log.err"
}
fs_report() { grep 'virtio-fs' "$S/$1.err" | sed 's/^/    /' >&9; }
# fs_done LOG RC: the guest's script got to fs-done; else what it said, and the logs' tails.
fs_done() {
	fs_report "$1"
	grep -q '^fs-done' "$S/$1" 2>/dev/null && return 0
	echo "guest: $(grep -E '^fs-fail|^dmesg' "$S/$1" 2>/dev/null | tr '\n' ' ') (exit $2)"
	tail -5 "$S/$1" "$S/$1.err" 2>/dev/null
	return 1
}
fs_posix() {
	fs_prepare || return 1
	cat >"$S/fs-posix.sh" <<'SH'
set -e
mkdir /tmp/rw /tmp/ro
mount -t virtiofs hostshare /tmp/rw
mount -t virtiofs roshare /tmp/ro
cd /tmp/rw
fail() { echo "fs-fail: $*"; exit 1; }
[ "$(cat hello.txt)" = from-host ] || fail "host file content"
[ "$(stat -c %u:%g hello.txt)" = 1000:1000 ] || fail "owner $(stat -c %u:%g hello.txt), expected 1000:1000"
echo from-guest >sub/g.txt && mv sub/g.txt sub/h.txt
[ "$(cat sub/h.txt)" = from-guest ] || fail "rename"
ln -s h.txt sub/link && ln sub/h.txt sub/hard
[ "$(cat sub/link)" = from-guest ] && [ "$(stat -c %h sub/h.txt)" = 2 ] || fail "links"
printf 'a\n' >>sub/h.txt && printf 'b\n' >>sub/h.txt && [ "$(tail -n 2 sub/h.txt | tr -d '\n')" = ab ] || fail "append"
dd if=/dev/urandom of=big bs=1M count=16 2>/dev/null && sync
md5sum big | cut -d' ' -f1 >big.md5
echo 3 >/proc/sys/vm/drop_caches
[ "$(md5sum big | cut -d' ' -f1)" = "$(cat big.md5)" ] || fail "read back after dropping the cache"
truncate -s 5G sparse && [ "$(stat -c %s sparse)" = 5368709120 ] && rm sparse || fail "sparse 5G"
echo one >unlinked && exec 3<unlinked && rm unlinked && [ "$(cat <&3)" = one ] || fail "unlink while open"
exec 3<&-
mkdir d && touch d/x && ! rmdir d 2>/dev/null && rm d/x && rmdir d || fail "mkdir/rmdir"
mkfifo fifo && [ -p fifo ] && rm fifo || fail "fifo"
for l in rel-out abs-out; do cat "$l" 2>/dev/null && fail "$l leaked the host file beside the share"; done
[ "$(readlink abs-out)" != "" ] || fail "readlink"
[ "$(cd /tmp/rw/.. && pwd)" = /tmp ] || fail "the share's parent is the mount point's"
[ "$(ls -a | wc -l)" -ge 8 ] || fail "readdir: $(ls -a)"
[ "$(cat /tmp/ro/file.txt)" = read-only ] || fail "ro read"
touch /tmp/ro/new 2>/dev/null && fail "created a file on the read-only share"
(echo x >/tmp/ro/file.txt) 2>/dev/null && fail "wrote the read-only share"
rm /tmp/ro/file.txt 2>/dev/null && fail "removed from the read-only share"
[ "$(cat /tmp/ro/file.txt)" = read-only ] || fail "ro content changed"
/tmp/s/fs-tool locks /tmp/rw/lockfile >/tmp/locks.out 2>&1 || fail "locks: $(cat /tmp/locks.out)"
cd /
umount /tmp/rw /tmp/ro
dmesg | grep -i -E 'virtio.fs|fuse' | sed 's/^/dmesg: /'
echo fs-done
SH
	cp "$LSL_BUILD/tests/fs-tool" "$S/fs/scripts/" || return 1
	fs_vm fs1.log "$S/fs-posix.sh"
	fs_done fs1.log $? || return 1
	[ "$(cat "$S/fs/share/sub/h.txt" | head -1)" = from-guest ] || { echo "host: sub/h.txt"; return 1; }
	[ "$(readlink "$S/fs/share/sub/link")" = h.txt ] || { echo "host: symlink"; return 1; }
	[ "$(stat -c %h "$S/fs/share/sub/h.txt")" = 2 ] || { echo "host: hard link"; return 1; }
	[ "$(stat -c %u "$S/fs/share/big")" = "$(id -u)" ] || { echo "host: new files belong to $(stat -c %u "$S/fs/share/big")"; return 1; }
	[ "$(md5sum <"$S/fs/share/big" | cut -d' ' -f1)" = "$(cat "$S/fs/share/big.md5")" ] || { echo "host: big differs"; return 1; }
	[ ! -e "$S/fs/ro/new" ] && [ "$(cat "$S/fs/ro/file.txt")" = read-only ] || { echo "host: the read-only share changed"; return 1; }
	grep -q 'virtio-fs hostshare: .*malformed 0 ' "$S/fs1.log.err" || { echo "counters: $(grep virtio-fs "$S/fs1.log.err")"; return 1; }
}
fs_host_edit_seen() {
	# A host-side edit reaches the guest within the attribute timeout (1 s) plus the guest's polling.
	fs_prepare || return 1
	echo v1 >"$S/fs/share/edit.txt"
	cat >"$S/fs-edit.sh" <<'SH'
mkdir /tmp/rw && mount -t virtiofs hostshare /tmp/rw || exit 3
cat /tmp/rw/edit.txt >/dev/null
echo fs-ready
i=0
while [ $i -lt 600 ]; do
	v=$(cat /tmp/rw/edit.txt)
	[ "$v" = v2-longer ] && { echo "fs-seen $(cat /proc/uptime | cut -d' ' -f1)"; exit 0; }
	i=$((i + 1))
	sleep 0.1
done
exit 4
SH
	fs_vm fs2.log "$S/fs-edit.sh" &
	local vm=$! i t0 t1
	for i in $(seq 1 600); do grep -q '^fs-ready' "$S/fs2.log" 2>/dev/null && break; sleep 0.2; done
	grep -q '^fs-ready' "$S/fs2.log" || { bg_vm_stop $vm "$S/fs2.log"; echo "guest never got ready"; return 1; }
	sleep 1
	t0=$(date +%s.%N)
	echo v2-longer >"$S/fs/share/edit.txt.new" && mv "$S/fs/share/edit.txt.new" "$S/fs/share/edit.txt"
	for i in $(seq 1 300); do grep -q '^fs-seen' "$S/fs2.log" 2>/dev/null && break; sleep 0.05; done
	t1=$(date +%s.%N)
	wait $vm
	local rc=$?
	grep -q '^fs-seen' "$S/fs2.log" || { echo "the guest never saw the host's edit (exit $rc)"; return 1; }
	local ms
	ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
	echo "    fs: host edit seen by the guest after ${ms} ms (bound: 1000 ms attribute timeout + polling)" >&9
	[ "$ms" -lt 3000 ] || { echo "seen after $ms ms"; return 1; }
}
fs_dax() {
	# The DAX window (--share ...,dax=MIB, vmm/fs/dax.c): large files are read and written in place through it,
	# extending writes and small files go the FUSE way, and a file the host truncates while the guest has it
	# mapped leaves the guest running (KVM's EFAULT mended with zeroes) instead of stopping the VM.
	fs_prepare || return 1
	local sh=$S/fs/share
	head -c $((8 << 20)) /dev/urandom >"$sh/dax.bin" && md5sum <"$sh/dax.bin" | cut -d' ' -f1 >"$sh/dax.md5"
	head -c $((4 << 20)) /dev/urandom >"$sh/trunc.bin"
	cp "$sh/dax.bin" "$S/fs/expect.bin"
	dd if=/dev/zero of="$S/fs/expect.bin" bs=4096 seek=100 count=1 conv=notrunc 2>/dev/null
	cat >"$S/fs-dax.sh" <<'SH'
set -e
fail() { echo "fs-fail: $*"; exit 1; }
mkdir /tmp/rw && mount -t virtiofs -o dax=inode hostshare /tmp/rw
dmesg | grep -q 'Cache len' || fail "no DAX window: $(dmesg | grep -i virtio | tr '\n' ' ')"
cd /tmp/rw
[ "$(md5sum dax.bin | cut -d' ' -f1)" = "$(cat dax.md5)" ] || fail "read through the window"
dd if=/dev/zero of=dax.bin bs=4096 seek=100 count=1 conv=notrunc 2>/dev/null || fail "write in place"
dd if=/dev/urandom of=grow.bin bs=1M count=3 2>/dev/null && sync || fail "extending write"
md5sum grow.bin | cut -d' ' -f1 >grow.md5
echo 3 >/proc/sys/vm/drop_caches
[ "$(md5sum grow.bin | cut -d' ' -f1)" = "$(cat grow.md5)" ] || fail "read back a file that grew"
head -c 300000 /dev/urandom >>grow.bin || fail "append"
md5sum grow.bin | cut -d' ' -f1 >grow.md5 # through the mapping the read made, past the old end: the host compares
cat trunc.bin >/dev/null
exec 3<trunc.bin # read through this fd later: no lookup refreshes the size the guest knows
echo fs-ready
i=0
while [ ! -e truncated ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
[ -e truncated ] || fail "the host never truncated"
dd of=/dev/null bs=1M <&3 2>/dev/null || true
echo fs-done
SH
	FS_OPTS=,dax=64 fs_vm fs3.log "$S/fs-dax.sh" &
	local vm=$! i
	for i in $(seq 1 900); do grep -q -E '^fs-ready|^fs-fail' "$S/fs3.log" 2>/dev/null && break; sleep 0.2; done
	truncate -s 4096 "$sh/trunc.bin" && touch "$sh/truncated"
	wait $vm
	fs_done fs3.log $? || return 1
	cmp -s "$sh/dax.bin" "$S/fs/expect.bin" || { echo "host: the in-place write did not land"; return 1; }
	[ "$(md5sum <"$sh/grow.bin" | cut -d' ' -f1)" = "$(cat "$sh/grow.md5")" ] || { echo "host: grow.bin differs"; return 1; }
	local line mapped mended
	line=$(grep 'virtio-fs hostshare:' "$S/fs3.log.err")
	mapped=$(sed -n 's/.*; dax \([0-9]*\) mapped.*/\1/p' <<<"$line")
	mended=$(sed -n 's/.* \([0-9]*\) mended.*/\1/p' <<<"$line")
	[ "${mapped:-0}" -ge 4 ] || { echo "ranges mapped: ${mapped:-none} ($line)"; return 1; }
	[ "${mended:-0}" -ge 1 ] || { echo "nothing mended after the truncate ($line)"; return 1; }
	[[ $line == *"malformed 0 "* ]] || { echo "counters: $line"; return 1; }
}

all_tests="boot_marker exit_0 exit_1 exit_42 exit_signal exit_not_found console_output args_binary_safe
	disk_persists loop_on_demand disk_serial lazy_memory disk_readonly second_disk discard_frees_space multi_vcpu rng_works
	guest_reboot bzimage_boots panic_reported sigterm_stops bad_kernel_missing bad_kernel_not_linux bad_memory
	bad_disk bad_initrd bad_option bad_disk_size console_log_private blk_limits mmio_reads_are_memory blk_flush_survives_kill blk_in_flight vsock_echo_64m vsock_echo_20_conns vsock_guest_to_host vsock_refused disk_slots
	disk_slot_wide disk_slots_many net_http_host net_ipv6_host net_udp_echo net_dns_follows_host net_flood_malformed net_rss_idle balloon_gives_back fs_posix fs_host_edit_seen fs_dax"
run_suite "$@"
