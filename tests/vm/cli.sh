#!/usr/bin/env bash
# End-to-end tests of the lsl CLI and the per-user service: the VM starts by itself, sessions exec through
# the vsock agent. Same conventions as run.sh: "PASS name" / "FAIL name: why"; --list; NAME... runs a subset.
source "$(dirname "$0")/lib.sh"
S=$(mktemp -d "${TMPDIR:-/tmp}/lsl-clitest.XXXXXX")
export XDG_RUNTIME_DIR=$S/rt HOME=$S/home XDG_STATE_HOME=$S/state
export LSL_KERNEL=$LSL_KERNEL_DIR/vmlinux LSL_VM_MEMORY=1G LSL_VM_CPUS=2
unset LSLENV LSL_VM_IDLE_TIMEOUT LSL_ROOTFS
mkdir -p "$XDG_RUNTIME_DIR" "$HOME"
L=$LSL_BUILD/cli/lsl
# The commands run in the test disk (busybox and the test tools), imported as the default distribution; that
# needs no VM, so the first test still starts it.
"$L" --import test "$S/distros/test" "${LSL_TEST_DISK:-$LSL_BUILD/test-root.img}" --vhd || exit 1
cleanup() {
	timeout 60 "$L" --shutdown >/dev/null 2>&1
	pkill -f "lsl-vmm --service $XDG_RUNTIME_DIR/lsl" 2>/dev/null
	tmux -L lsltest kill-server 2>/dev/null
	rm -rf "$S"
}
trap cleanup EXIT

lsl() { lsl_bounded "$@"; }
vmm_count() { pgrep -c -f "lsl-vmm --service $XDG_RUNTIME_DIR/lsl" || true; }
wait_stopped() { # seconds
	local i
	for ((i = 0; i < $1 * 2; i++)); do
		[ "$(vmm_count)" = 0 ] && return 0
		sleep 0.5
	done
	echo "the service is still running after $1 s"
	return 1
}

first_start() {
	# No VM yet: the first command starts it, prints the answer, and the service stays up for the next.
	[ "$(vmm_count)" = 0 ] || { echo "a service was already running"; return 1; }
	local out
	out=$(lsl -- uname -s) || return 1
	[ "$out" = Linux ] || { echo "unexpected output: $out"; return 1; }
	[ "$(vmm_count)" = 1 ] || { echo "expected one service process, found $(vmm_count)"; return 1; }
	[ "$(stat -c %a "$XDG_RUNTIME_DIR/lsl")" = 700 ] || { echo "runtime dir not 0700"; return 1; }
	[ "$(stat -c %a "$XDG_RUNTIME_DIR/lsl/control")" = 600 ] || { echo "control socket not 0600"; return 1; }
}
exit_codes() {
	expect_rc 0 lsl -- true && expect_rc 1 lsl -- false && expect_rc 255 lsl -- sh -c 'exit 255' &&
		expect_rc 137 lsl -- sh -c 'kill -9 $$' && expect_rc 143 lsl -- sh -c 'kill -TERM $$' &&
		expect_rc 127 lsl -- no-such-command && expect_rc 3 lsl 'exit 3'
}
binary_64m() {
	head -c 64M /dev/urandom >"$S/in"
	lsl -- cat <"$S/in" >"$S/out" || return 1
	cmp "$S/in" "$S/out" || { echo "64 MiB through stdin/stdout differ"; return 1; }
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# 6 s into a transfer that nobody drains: "VMM-growth-KiB lsl-KiB" (args: vmm-pid its-rss-before lsl-argv-word).
held_back() {
	local pid
	sleep 6
	pid=$(pgrep -n -f "^$L -- sh -c $3") || { echo "lsl is not running"; return 1; }
	echo "$(($(rss_kib "$1") - $2)) $(rss_kib "$pid")"
}
arrived_whole() { # direction file "vmm-KiB lsl-KiB"
	local vmm_kib=${3% *} lsl_kib=${3#* }
	[ "$(cat "$S/$2")" = 100000000 ] || { echo "$1: $(cat "$S/$2") bytes arrived, not 100000000"; return 1; }
	[ "$vmm_kib" -lt 32768 ] && [ "$lsl_kib" -lt 32768 ] ||
		{ echo "$1 piled up: VMM +$vmm_kib KiB, lsl $lsl_kib KiB"; return 1; }
}
backpressure() {
	# 100 MB that nobody reads for 8 s must wait where it is made, not pile up in the VMM or in lsl.
	local vmm held
	vmm=$(pgrep -f "lsl-vmm --service $XDG_RUNTIME_DIR/lsl") || { echo "no service"; return 1; }
	lsl -- true || return 1
	"$L" -- sh -c 'head -c 100000000 /dev/zero' | { sleep 8; wc -c >"$S/bp-out"; } &
	held=$(held_back "$vmm" "$(rss_kib "$vmm")" head) || return 1
	wait
	arrived_whole stdout bp-out "$held" || return 1
	# And the other way: lsl must not read stdin faster than the command takes it.
	head -c 100000000 /dev/zero | "$L" -- sh -c 'sleep 8; wc -c' >"$S/bp-in" &
	held=$(held_back "$vmm" "$(rss_kib "$vmm")" sleep) || return 1
	wait
	arrived_whole stdin bp-in "$held"
}
stderr_separate() {
	lsl -- sh -c 'echo to-out; echo to-err >&2' >"$S/o" 2>"$S/e" || return 1
	[ "$(cat "$S/o")" = to-out ] && [ "$(cat "$S/e")" = to-err ] || { echo "out=$(cat "$S/o") err=$(cat "$S/e")"; return 1; }
}
stdin_eof() { [ "$(printf 'a\nb\nc\n' | lsl -- wc -l)" = 3 ] || { echo "wc -l did not see EOF after 3 lines"; return 1; }; }
pipe_vs_pty() {
	local out
	out=$(lsl -- tty </dev/null)
	[ "$out" = "not a tty" ] || { echo "with a pipe, tty said: $out"; return 1; }
	# script(1)'s pty adds \r. Its stdin stays open 2 s: at EOF there script types an EOF character into the pty,
	# which lsl (raw mode) forwards and the guest's pty echoes ("^@" before the answer, one run in three).
	out=$(sleep 2 | script -qec "$L -- tty" /dev/null | tr -d '\r' | sed 's/^\^@//')
	[[ $out == /dev/pts/* ]] || { echo "under a pty, tty said: $out"; return 1; }
	# Decided per fd: stdin a terminal, stdout a file.
	sleep 2 | script -qec "$L -- sh -c '[ -t 0 ] && echo in-tty; [ -t 1 ] || echo out-pipe' >$S/mixed" /dev/null >/dev/null
	[ "$(tr -d '\r' <"$S/mixed" | tr '\n' ' ')" = "in-tty out-pipe " ] || { echo "mixed: $(cat "$S/mixed")"; return 1; }
}
screen() { tmux -L lsltest capture-pane -p -t lsl; }
wait_screen() { # regex seconds
	local i
	for ((i = 0; i < $2 * 4; i++)); do
		screen | grep -Eq "$1" && return 0
		sleep 0.25
	done
	echo "screen never showed /$1/:"
	screen
	return 1
}
tmux_terminal() {
	tmux -L lsltest new-session -d -s lsl -x 80 -y 24 "env XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR HOME=$HOME XDG_STATE_HOME=$XDG_STATE_HOME LSL_KERNEL=$LSL_KERNEL $L" || return 1
	wait_screen '[#$] *$' 60 || return 1
	tmux -L lsltest send-keys -t lsl 'stty size' Enter
	wait_screen '^24 80' 20 || return 1
	tmux -L lsltest resize-window -t lsl -x 100 -y 30
	sleep 1
	tmux -L lsltest send-keys -t lsl 'stty size' Enter
	wait_screen '^30 100' 20 || return 1
	tmux -L lsltest send-keys -t lsl 'sleep 300' Enter
	sleep 2
	tmux -L lsltest send-keys -t lsl C-c
	tmux -L lsltest send-keys -t lsl 'echo alive-$((6*7))' Enter
	wait_screen '^alive-42' 20 || return 1
	tmux -L lsltest send-keys -t lsl 'exit' Enter
	local i
	for ((i = 0; i < 40; i++)); do
		tmux -L lsltest has-session -t lsl 2>/dev/null || return 0
		sleep 0.25
	done
	echo "the login shell did not end on exit"
	return 1
}
concurrent_20() {
	local i pids=()
	for i in $(seq 1 20); do
		lsl -- sh -c 'sleep 1; echo "session $1"' sh "$i" >"$S/c$i" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do wait "${pids[$i]}" || { echo "session $((i + 1)) failed"; return 1; }; done
	for i in $(seq 1 20); do
		[ "$(cat "$S/c$i")" = "session $i" ] || { echo "session $i said: $(cat "$S/c$i")"; return 1; }
	done
}
cd_user_env() {
	[ "$(lsl --cd /tmp -- pwd)" = /tmp ] || { echo "--cd /tmp"; return 1; }
	[ "$(lsl --cd '~' -- pwd)" = /root ] || { echo "--cd ~"; return 1; }
	lsl -- mkdir -p /root/sub && [ "$(lsl --cd '~/sub' -- pwd)" = /root/sub ] || { echo "--cd ~/sub"; return 1; }
	lsl --cd /no/such/dir -- true 2>"$S/err"
	local rc=$?
	[ $rc = 255 ] && grep -q /no/such/dir "$S/err" || { echo "missing --cd dir: exit $rc, $(cat "$S/err")"; return 1; }
	lsl -u nosuchuser -- true 2>"$S/err"
	rc=$?
	[ $rc = 255 ] && grep -q 'nosuchuser' "$S/err" || { echo "unknown user: exit $rc, $(cat "$S/err")"; return 1; }
	[ "$(FOO=bar LSLENV=FOO lsl -- sh -c 'echo "$FOO"')" = bar ] || { echo "LSLENV did not pass FOO"; return 1; }
	[ -z "$(FOO=bar lsl -- sh -c 'echo "$FOO"')" ] || { echo "FOO passed without LSLENV"; return 1; }
}
locale_and_term() {
	# No glibc locale directory (busybox): the host's locale passes unchanged.
	[ "$(LANG=en_US.UTF-8 lsl -- sh -c 'echo $LANG')" = en_US.UTF-8 ] || { echo "LANG changed without glibc"; return 1; }
	# glibc's layout with only C.utf8 and de_DE.utf8, like a minimal Debian with one generated locale.
	lsl -- mkdir -p /usr/lib/locale/C.utf8 /usr/lib/locale/de_DE.utf8 || return 1
	local out
	out=$(LANG=en_US.UTF-8 LC_TIME=de_DE.UTF-8 LC_ALL=fr_FR.ISO-8859-1 lsl -- sh -c 'echo $LANG $LC_TIME $LC_ALL')
	[ "$out" = "C.UTF-8 de_DE.UTF-8 C" ] || { echo "locales: '$out'"; return 1; }
	lsl -- rm -r /usr/lib/locale || return 1
	# A terminal the distribution has no terminfo entry for becomes one it has.
	[ "$(TERM=xterm-kitty lsl -- sh -c 'echo $TERM')" = xterm-kitty ] || { echo "TERM changed with no fallback"; return 1; }
	lsl -- sh -c 'mkdir -p /usr/share/terminfo/x && : >/usr/share/terminfo/x/xterm-256color' || return 1
	out=$(TERM=xterm-kitty lsl -- sh -c 'echo $TERM')
	[ "$out" = xterm-256color ] || { echo "TERM=xterm-kitty became '$out'"; return 1; }
	lsl -- rm -r /usr/share/terminfo
}
shell_types() {
	local out
	out=$(lsl 'echo $0') && [ "$out" = /bin/sh ] || { echo "standard: \$0 is '$out'"; return 1; }
	out=$(lsl --shell-type login 'echo $0') && [ "$out" = -sh ] || { echo "login: \$0 is '$out'"; return 1; }
	out=$(lsl --shell-type none echo '$0' 'a  b') && [ "$out" = '$0 a  b' ] || { echo "none: '$out'"; return 1; }
	lsl --shell-type bash true 2>"$S/err"
	local rc=$?
	[ $rc = 255 ] && grep -q 'shell-type' "$S/err" || { echo "bad --shell-type: exit $rc, $(cat "$S/err")"; return 1; }
}
clock_sync() {
	# A guest clock a quarter of a century behind: the next command runs on the host's time again.
	lsl -- date -s '2001-01-01 00:00:00' >/dev/null || return 1
	local g h pid
	g=$(lsl -- date +%s) && h=$(date +%s) || return 1
	[ $((h - g)) -le 2 ] && [ $((g - h)) -le 2 ] || { echo "after a command: guest $g, host $h"; return 1; }
	# The service's resync, which it sends when the host has slept, reaches processes already running: this
	# one waits for it (no other session runs meanwhile), then reports the time.
	"$L" -- sh -c 'date -s "2001-01-01 00:00:00" >/dev/null
		for i in $(seq 60); do sleep 1; [ "$(date +%Y)" = 2001 ] || break; done; date +%s' >"$S/clk" &
	pid=$!
	sleep 2
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"clock\n")
assert s.recv(64) == b"ok\n"' "$XDG_RUNTIME_DIR/lsl/control" || { echo "control: clock refused"; return 1; }
	wait $pid || return 1
	g=$(cat "$S/clk") h=$(date +%s)
	[ $((h - g)) -le 3 ] && [ $((g - h)) -le 3 ] || { echo "after the service's resync: guest $g, host $h"; return 1; }
}
status_sessions() {
	lsl -- sleep 6 &
	local pid=$! out
	sleep 3
	out=$(lsl --status)
	wait $pid
	grep -q '^State: *running' <<<"$out" && grep -q '^Sessions: *1$' <<<"$out" && grep -q '^vCPUs: *2$' <<<"$out" ||
		{ echo "status: $out"; return 1; }
}
signals_forwarded() {
	# With pipes (no terminal to type ^C into) signals sent to lsl reach the command, which decides the status.
	local sig pid rc
	for sig in INT TERM HUP QUIT; do
		"$L" -- sh -c "trap 'echo got-$sig; exit 7' $sig; while :; do sleep 0.2; done" </dev/null >"$S/sig" &
		pid=$!
		sleep 3
		kill -$sig $pid
		timeout 20 tail --pid=$pid -f /dev/null || { kill -9 $pid; echo "SIG$sig: lsl did not end"; return 1; }
		wait $pid
		rc=$?
		[ $rc = 7 ] && [ "$(cat "$S/sig")" = got-$sig ] || { echo "SIG$sig: exit $rc, said '$(cat "$S/sig")'"; return 1; }
	done
	# Not caught: the command dies of it and lsl reports 128+N.
	"$L" -- sleep 100 </dev/null &
	pid=$!
	sleep 3
	kill -INT $pid
	wait $pid
	rc=$?
	[ $rc = 130 ] || { echo "uncaught SIGINT: exit $rc, not 130"; return 1; }
}
killed_client_cleans_up() {
	"$L" -- sleep 1234 & # not through timeout(1): the client itself must be the one killed
	local pid=$!
	sleep 3
	kill -9 $pid
	wait $pid 2>/dev/null
	local i
	for i in $(seq 1 20); do
		lsl -- sh -c 'ps -o args | grep -q "^sleep 1234"' || return 0
		sleep 0.5
	done
	echo "the guest process outlived its killed lsl"
	return 1
}
malformed_input() {
	# Garbage on the vsock socket and broken frames to the agent must not take the service down.
	python3 - "$XDG_RUNTIME_DIR/lsl/vsock" <<'PY' || return 1
import socket, struct, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX); s.connect(path); s.sendall(b"\x00\xffgarbage\n" * 100); s.close()
s = socket.socket(socket.AF_UNIX); s.connect(path); s.sendall(b"CONNECT 5000\n")
assert s.recv(64).startswith(b"OK"), "no OK"
s.sendall(struct.pack("<II", 1, 4) + struct.pack("<I", 1) + struct.pack("<II", 2, 0xffffffff) + b"x" * 64)
s.settimeout(30)
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
s.close()
PY
	expect_rc 0 lsl -- true
}
shutdown_kills_stubborn() {
	lsl -- sh -c 'trap "" TERM HUP; setsid sh -c "trap \"\" TERM HUP; sleep 1000" </dev/null >/dev/null 2>&1 &' || return 1
	expect_rc 0 lsl --shutdown || return 1
	wait_stopped 30 || return 1
	grep -q '^State: *stopped' <<<"$(lsl --status)" || { echo "status does not say stopped"; return 1; }
}
shutdown_force() {
	"$L" -- sleep 300 &
	local pid=$! rc
	sleep 3
	# A service that no longer answers (stopped here) is killed all the same.
	pkill -STOP -f "lsl-vmm --service $XDG_RUNTIME_DIR/lsl" || { echo "no service to stop"; return 1; }
	timeout 30 "$L" --shutdown --force || { echo "--shutdown --force failed"; return 1; }
	[ "$(vmm_count)" = 0 ] || { echo "the service outlived --shutdown --force"; return 1; }
	timeout 10 tail --pid=$pid -f /dev/null || { echo "lsl -- sleep did not end with its VM"; return 1; }
	wait $pid
	rc=$?
	[ $rc = 255 ] || { echo "lsl -- sleep ended with $rc when its VM was killed, not 255"; return 1; }
	# The killed service left its sockets behind: the next command starts a new VM all the same.
	[ "$(lsl -- echo back)" = back ] || { echo "no new VM after a forced shutdown"; return 1; }
}
two_at_once() {
	wait_stopped 30 || return 1
	lsl -- true &
	local a=$!
	lsl -- true &
	local b=$!
	wait $a && wait $b || { echo "one of the two concurrent starts failed"; return 1; }
	[ "$(vmm_count)" = 1 ] || { echo "$(vmm_count) services after two concurrent starts"; return 1; }
}
idle_shutdown() {
	expect_rc 0 lsl --shutdown && wait_stopped 30 || return 1
	LSL_VM_IDLE_TIMEOUT=3 lsl -- true || return 1
	wait_stopped 40 || { echo "no idle shutdown within 40 s of a 3 s timeout"; return 1; }
	[ "$(lsl -- echo again)" = again ] || { echo "the next command did not start the VM again"; return 1; }
}
bad_args() {
	"$L" --bogus 2>"$S/err"
	local rc=$?
	[ $rc = 255 ] && [ "$(wc -l <"$S/err")" = 1 ] || { echo "exit $rc: $(cat "$S/err")"; return 1; }
}

all_tests="first_start exit_codes binary_64m backpressure stderr_separate stdin_eof pipe_vs_pty tmux_terminal
	concurrent_20 cd_user_env locale_and_term shell_types clock_sync status_sessions signals_forwarded
	killed_client_cleans_up malformed_input shutdown_force shutdown_kills_stubborn two_at_once
	idle_shutdown bad_args"
run_suite "$@"
