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
# The host's programs the interop tests reach, on the PATH the service (and so lsl-interop) inherits: a
# recorder in xdg-open's place (its cwd and argument, a line per call) and a marker found only through it.
mkdir -p "$S/bin" && printf '#!/bin/sh\necho "$PWD $1" >>%s/opened\n' "$S" >"$S/bin/xdg-open" &&
	printf '#!/bin/sh\n' >"$S/bin/lsl-interop-test-path" && chmod 755 "$S/bin/xdg-open" "$S/bin/lsl-interop-test-path" || exit 1
export PATH=$S/bin:$PATH
exec 9>&1 # measurements go to the runner's output even when the test passes (t captures the rest)
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
	out=$(lsl -e uname -s) || return 1
	[ "$out" = Linux ] || { echo "unexpected output: $out"; return 1; }
	[ "$(vmm_count)" = 1 ] || { echo "expected one service process, found $(vmm_count)"; return 1; }
	[ "$(stat -c %a "$XDG_RUNTIME_DIR/lsl")" = 700 ] || { echo "runtime dir not 0700"; return 1; }
	[ "$(stat -c %a "$XDG_RUNTIME_DIR/lsl/control")" = 600 ] || { echo "control socket not 0600"; return 1; }
}
exit_codes() {
	expect_rc 0 lsl -e true && expect_rc 1 lsl -e false && expect_rc 255 lsl -e sh -c 'exit 255' &&
		expect_rc 137 lsl -e sh -c 'kill -9 $$' && expect_rc 143 lsl -e sh -c 'kill -TERM $$' &&
		expect_rc 127 lsl -e no-such-command && expect_rc 3 lsl 'exit 3'
}
binary_64m() {
	head -c 64M /dev/urandom >"$S/in"
	lsl -e cat <"$S/in" >"$S/out" || return 1
	cmp "$S/in" "$S/out" || { echo "64 MiB through stdin/stdout differ"; return 1; }
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# 6 s into a transfer that nobody drains: "VMM-growth-KiB lsl-KiB" (args: vmm-pid its-rss-before lsl-argv-word).
held_back() {
	local pid
	sleep 6
	pid=$(pgrep -n -f "^$L -e sh -c $3") || { echo "lsl is not running"; return 1; }
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
	lsl -e true || return 1
	"$L" -e sh -c 'head -c 100000000 /dev/zero' | { sleep 8; wc -c >"$S/bp-out"; } &
	held=$(held_back "$vmm" "$(rss_kib "$vmm")" head) || return 1
	wait
	arrived_whole stdout bp-out "$held" || return 1
	# And the other way: lsl must not read stdin faster than the command takes it.
	head -c 100000000 /dev/zero | "$L" -e sh -c 'sleep 8; wc -c' >"$S/bp-in" &
	held=$(held_back "$vmm" "$(rss_kib "$vmm")" sleep) || return 1
	wait
	arrived_whole stdin bp-in "$held"
}
stderr_separate() {
	lsl -e sh -c 'echo to-out; echo to-err >&2' >"$S/o" 2>"$S/e" || return 1
	[ "$(cat "$S/o")" = to-out ] && [ "$(cat "$S/e")" = to-err ] || { echo "out=$(cat "$S/o") err=$(cat "$S/e")"; return 1; }
}
stdin_eof() { [ "$(printf 'a\nb\nc\n' | lsl -e wc -l)" = 3 ] || { echo "wc -l did not see EOF after 3 lines"; return 1; }; }
pipe_vs_pty() {
	local out
	out=$(lsl -e tty </dev/null)
	[ "$out" = "not a tty" ] || { echo "with a pipe, tty said: $out"; return 1; }
	# script(1)'s pty adds \r. Its stdin stays open 2 s: at EOF there script types an EOF character into the pty,
	# which lsl (raw mode) forwards and the guest's pty echoes ("^@" before the answer, one run in three).
	out=$(sleep 2 | script -qec "$L -e tty" /dev/null | tr -d '\r' | sed 's/^\^@//')
	[[ $out == /dev/pts/* ]] || { echo "under a pty, tty said: $out"; return 1; }
	# Decided per fd: stdin a terminal, stdout a file.
	sleep 2 | script -qec "$L -e sh -c '[ -t 0 ] && echo in-tty; [ -t 1 ] || echo out-pipe' >$S/mixed" /dev/null >/dev/null
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
		lsl -e sh -c 'sleep 1; echo "session $1"' sh "$i" >"$S/c$i" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do wait "${pids[$i]}" || { echo "session $((i + 1)) failed"; return 1; }; done
	for i in $(seq 1 20); do
		[ "$(cat "$S/c$i")" = "session $i" ] || { echo "session $i said: $(cat "$S/c$i")"; return 1; }
	done
}
cd_user_env() {
	[ "$(lsl --cd /tmp -e pwd)" = /tmp ] || { echo "--cd /tmp"; return 1; }
	[ "$(lsl --cd '~' -e pwd)" = /root ] || { echo "--cd ~"; return 1; }
	lsl -e mkdir -p /root/sub && [ "$(lsl --cd '~/sub' -e pwd)" = /root/sub ] || { echo "--cd ~/sub"; return 1; }
	lsl --cd /no/such/dir -e true 2>"$S/err"
	local rc=$?
	[ $rc = 255 ] && grep -q /no/such/dir "$S/err" || { echo "missing --cd dir: exit $rc, $(cat "$S/err")"; return 1; }
	lsl -u nosuchuser -e true 2>"$S/err"
	rc=$?
	[ $rc = 255 ] && grep -q 'nosuchuser' "$S/err" || { echo "unknown user: exit $rc, $(cat "$S/err")"; return 1; }
	[ "$(FOO=bar LSLENV=FOO lsl -e sh -c 'echo "$FOO"')" = bar ] || { echo "LSLENV did not pass FOO"; return 1; }
	[ -z "$(FOO=bar lsl -e sh -c 'echo "$FOO"')" ] || { echo "FOO passed without LSLENV"; return 1; }
}
locale_and_term() {
	# No glibc locale directory (busybox): the host's locale passes unchanged.
	[ "$(LANG=en_US.UTF-8 lsl -e sh -c 'echo $LANG')" = en_US.UTF-8 ] || { echo "LANG changed without glibc"; return 1; }
	# glibc's layout with only C.utf8 and de_DE.utf8, like a minimal Debian with one generated locale.
	lsl -e mkdir -p /usr/lib/locale/C.utf8 /usr/lib/locale/de_DE.utf8 || return 1
	local out
	out=$(LANG=en_US.UTF-8 LC_TIME=de_DE.UTF-8 LC_ALL=fr_FR.ISO-8859-1 lsl -e sh -c 'echo $LANG $LC_TIME $LC_ALL')
	[ "$out" = "C.UTF-8 de_DE.UTF-8 C" ] || { echo "locales: '$out'"; return 1; }
	lsl -e rm -r /usr/lib/locale || return 1
	# A terminal the distribution has no terminfo entry for becomes one it has.
	[ "$(TERM=xterm-kitty lsl -e sh -c 'echo $TERM')" = xterm-kitty ] || { echo "TERM changed with no fallback"; return 1; }
	lsl -e sh -c 'mkdir -p /usr/share/terminfo/x && : >/usr/share/terminfo/x/xterm-256color' || return 1
	out=$(TERM=xterm-kitty lsl -e sh -c 'echo $TERM')
	[ "$out" = xterm-256color ] || { echo "TERM=xterm-kitty became '$out'"; return 1; }
	lsl -e rm -r /usr/share/terminfo
}
shell_types() {
	local out
	out=$(lsl 'echo $0') && [ "$out" = /bin/sh ] || { echo "standard: \$0 is '$out'"; return 1; }
	out=$(lsl --shell-type login 'echo $0') && [ "$out" = -sh ] || { echo "login: \$0 is '$out'"; return 1; }
	out=$(lsl --shell-type none echo '$0' 'a  b') && [ "$out" = '$0 a  b' ] || { echo "none: '$out'"; return 1; }
	lsl --shell-type bash true 2>"$S/err"
	local rc=$?
	[ $rc = 2 ] && grep -q 'shell-type' "$S/err" || { echo "bad --shell-type: exit $rc, $(cat "$S/err")"; return 1; }
}
clock_sync() {
	# A guest clock a quarter of a century behind: the next command runs on the host's time again.
	lsl -e date -s '2001-01-01 00:00:00' >/dev/null || return 1
	local g h pid
	g=$(lsl -e date +%s) && h=$(date +%s) || return 1
	[ $((h - g)) -le 2 ] && [ $((g - h)) -le 2 ] || { echo "after a command: guest $g, host $h"; return 1; }
	# The service's resync, which it sends when the host has slept, reaches processes already running: this
	# one waits for it (no other session runs meanwhile), then reports the time.
	"$L" -e sh -c 'date -s "2001-01-01 00:00:00" >/dev/null
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
	lsl -e sleep 6 &
	local pid=$! out
	sleep 3
	out=$(lsl --status)
	wait $pid
	# LSL_VM_CPUS and LSL_VM_MEMORY (above) over processors= and memory=; the guest's own memory numbers come
	# from its balloon driver.
	grep -q '^State: *running' <<<"$out" && grep -q '^Sessions: *1$' <<<"$out" && grep -q "^vCPUs: *$LSL_VM_CPUS\$" <<<"$out" &&
		grep -q '^Memory: *1024 MiB guest' <<<"$out" &&
		grep -Eq '^In the guest: [0-9]+ MiB used, [0-9]+ MiB cache, [0-9]+ MiB free of [1-9][0-9]* MiB$' <<<"$out" &&
		grep -Eq '^Given back: +[0-9]+ MiB' <<<"$out" && grep -Eq '^Disks: +test [0-9.]+ GiB on the host' <<<"$out" ||
		{ echo "status: $out"; return 1; }
	# --json: the same for scripts.
	lsl --status --json | python3 -c 'import json, sys
d = json.load(sys.stdin)
assert d["state"] == "running" and d["vcpus"] == int(sys.argv[1]) and d["guest_total_bytes"] > 0, d
assert d["host_rss_bytes"] > 0 and d["given_back_bytes"] >= 0 and "idle_reason" in d, d
t = [x for x in d["disks"] if x["distribution"] == "test"]
assert t and 0 < t[0]["allocated_bytes"] and t[0]["size_bytes"] > 0, d' "$LSL_VM_CPUS" ||
		{ echo "status --json: $(lsl --status --json)"; return 1; }
}
signals_forwarded() {
	# With pipes (no terminal to type ^C into) signals sent to lsl reach the command, which decides the status.
	local sig pid rc
	for sig in INT TERM HUP QUIT; do
		"$L" -e sh -c "trap 'echo got-$sig; exit 7' $sig; while :; do sleep 0.2; done" </dev/null >"$S/sig" &
		pid=$!
		sleep 3
		kill -$sig $pid
		timeout 20 tail --pid=$pid -f /dev/null || { kill -9 $pid; echo "SIG$sig: lsl did not end"; return 1; }
		wait $pid
		rc=$?
		[ $rc = 7 ] && [ "$(cat "$S/sig")" = got-$sig ] || { echo "SIG$sig: exit $rc, said '$(cat "$S/sig")'"; return 1; }
	done
	# Not caught: the command dies of it and lsl reports 128+N.
	"$L" -e sleep 100 </dev/null &
	pid=$!
	sleep 3
	kill -INT $pid
	wait $pid
	rc=$?
	[ $rc = 130 ] || { echo "uncaught SIGINT: exit $rc, not 130"; return 1; }
}
killed_client_cleans_up() {
	"$L" -e sleep 1234 & # not through timeout(1): the client itself must be the one killed
	local pid=$!
	sleep 3
	kill -9 $pid
	wait $pid 2>/dev/null
	local i
	for i in $(seq 1 20); do
		lsl -e sh -c 'ps -o args | grep -q "^sleep 1234"' || return 0
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
	expect_rc 0 lsl -e true
}
shutdown_kills_stubborn() {
	lsl -e sh -c 'trap "" TERM HUP; setsid sh -c "trap \"\" TERM HUP; sleep 1000" </dev/null >/dev/null 2>&1 &' || return 1
	expect_rc 0 lsl --shutdown || return 1
	wait_stopped 30 || return 1
	grep -q '^State: *stopped' <<<"$(lsl --status)" || { echo "status does not say stopped"; return 1; }
}
shutdown_force() {
	"$L" -e sleep 300 &
	local pid=$! rc
	sleep 3
	# A service that no longer answers (stopped here) is killed all the same.
	pkill -STOP -f "lsl-vmm --service $XDG_RUNTIME_DIR/lsl" || { echo "no service to stop"; return 1; }
	timeout 30 "$L" --shutdown --force || { echo "--shutdown --force failed"; return 1; }
	[ "$(vmm_count)" = 0 ] || { echo "the service outlived --shutdown --force"; return 1; }
	timeout 10 tail --pid=$pid -f /dev/null || { echo "lsl -e sleep did not end with its VM"; return 1; }
	wait $pid
	rc=$?
	[ $rc = 255 ] || { echo "lsl -e sleep ended with $rc when its VM was killed, not 255"; return 1; }
	# The killed service left its sockets behind: the next command starts a new VM all the same.
	[ "$(lsl -e echo back)" = back ] || { echo "no new VM after a forced shutdown"; return 1; }
}
two_at_once() {
	wait_stopped 30 || return 1
	lsl -e true &
	local a=$!
	lsl -e true &
	local b=$!
	wait $a && wait $b || { echo "one of the two concurrent starts failed"; return 1; }
	[ "$(vmm_count)" = 1 ] || { echo "$(vmm_count) services after two concurrent starts"; return 1; }
}
shutdown_ends_watch() {
	# The share's helper waits in a FUSE request the guest cannot kill (proto/fs_notify.h, up to 30 s): the
	# guest's poweroff ends that wait, so a shutdown does not sit out the grace periods for it.
	local w off log=$XDG_STATE_HOME/lsl/console.log
	lsl -- true || return 1
	sleep 3
	w=$(lsl --system -e sh -c 'for p in /proc/[0-9]*; do read c <$p/comm; [ "$c" = lsl-fswatch ] && cat $p/wchan; done')
	[ "$w" = request_wait_answer ] || { echo "the helper is not waiting for events: '$w'"; return 1; }
	off=$(stat -c %s "$log") || return 1
	expect_rc 0 lsl --shutdown && wait_stopped 30 || return 1
	! tail -c +$((off + 1)) "$log" | grep -a 'did not exit' || { echo "the poweroff waited for processes"; return 1; }
}
idle_shutdown() {
	expect_rc 0 lsl --shutdown && wait_stopped 30 || return 1
	LSL_VM_IDLE_TIMEOUT=3 lsl -e true || return 1
	wait_stopped 40 || { echo "no idle shutdown within 40 s of a 3 s timeout"; return 1; }
	[ "$(lsl -e echo again)" = again ] || { echo "the next command did not start the VM again"; return 1; }
}
bad_args() {
	"$L" --bogus 2>"$S/err"
	local rc=$?
	[ $rc = 2 ] && [ "$(wc -l <"$S/err")" = 1 ] || { echo "exit $rc: $(cat "$S/err")"; return 1; }
}
# Item 2 of issue 12: the command's exit ends the session (wsl.exe's behaviour), although a background child
# still holds its stdout or terminal; the child runs on.
background_child_returns() {
	local t0 out rc
	t0=$SECONDS
	out=$(lsl -e sh -c 'sleep 100 & echo $! >/tmp/bg-pid; echo hi; exit 3')
	rc=$?
	[ $rc = 3 ] && [ "$out" = hi ] || { echo "pipes: exit $rc, output '$out'"; return 1; }
	[ $((SECONDS - t0)) -lt 40 ] || { echo "pipes: lsl returned after $((SECONDS - t0)) s"; return 1; }
	lsl -e sh -c 'kill -0 "$(cat /tmp/bg-pid)"' || { echo "pipes: the background child is gone"; return 1; }
	# On a terminal (script(1)); the child leaves the shell's group first, or the shell's exit hangs it up.
	t0=$SECONDS
	out=$(sleep 2 | timeout 90 script -qec "$L -e sh -c 'setsid sleep 100 & echo \$! >/tmp/bg-pid; sleep 1; echo hi-pty'" /dev/null |
		tr -d '\r' | sed 's/^\^@//')
	[ "$out" = hi-pty ] || { echo "pty: output '$out'"; return 1; }
	[ $((SECONDS - t0)) -lt 40 ] || { echo "pty: lsl returned after $((SECONDS - t0)) s"; return 1; }
	lsl -e sh -c 'kill -0 "$(cat /tmp/bg-pid)"' || { echo "pty: the background child is gone"; return 1; }
}
# Item 3: supplementary groups past musl's 32 (the agent reads the distribution's /etc/group itself).
many_groups() {
	lsl -e sh -c 'grep -q "^many:" /etc/passwd && exit
		echo "many:x:2000:2000::/tmp:/bin/sh" >>/etc/passwd; echo "many:x:2000:" >>/etc/group
		i=0; while [ $i -lt 70 ]; do echo "g$i:x:$((3000 + i)):nobody,many" >>/etc/group; i=$((i + 1)); done' || return 1
	local out want
	out=$(lsl -u many -e id -G) || return 1
	want="2000 $(seq -s ' ' 3000 3069)"
	[ "$(tr ' ' '\n' <<<"$out" | sort -nu | tr '\n' ' ')" = "$want " ] || { echo "id -G: $out"; return 1; }
}
# lsl-distro's start keys the CLI does not pass yet: the test distribution started again by lsl-distro
# itself (in the system root), with KEY=VALUE... and, when the first word is --port, its agent port from the
# CLI's record (without it, sessions join the distribution through the system agent). Prints start's stdout.
restart_test() {
	local keys=()
	if [ "${1:-}" = --port ]; then
		shift
		keys=("port=$(sed -n 2p "$XDG_RUNTIME_DIR/lsl/distros/test.run")")
	fi
	lsl -e true >/dev/null || return 1
	lsl --system -e sh -c 'dev=$(awk "\$2 == \"/run/lsl/distros/test/root\" {print \$1}" /proc/mounts)
		serial=$(cat "/sys/block/${dev#/dev/}/serial") && lsl-distro stop test >&2 &&
		lsl-distro mount test "$serial" >/dev/null && lsl-distro start test "$@"' sh "${keys[@]}" "$@"
}
# Item 10: [filesystem] umask, for sessions through the distribution's own agent and through the system's.
umask_key() {
	local out want
	want=$(printf '0077\n600')
	restart_test umask=0077 >/dev/null || return 1
	out=$(lsl -e sh -c 'umask; rm -f /tmp/u; touch /tmp/u; stat -c %a /tmp/u') || return 1
	[ "$out" = "$want" ] || { echo "joined from the system agent: $out"; return 1; }
	restart_test --port umask=0077 'boot=umask >/tmp/boot-umask' >/dev/null || return 1
	out=$(lsl -e sh -c 'umask; rm -f /tmp/u; touch /tmp/u; stat -c %a /tmp/u') || return 1
	[ "$out" = "$want" ] || { echo "through its own agent: $out"; return 1; }
	out=$(lsl -e cat /tmp/boot-umask)
	[ "$out" = 0077 ] || { echo "the boot command's umask: $out"; return 1; }
	out=$(restart_test --port umask=0999) || return 1
	[ "$out" = "warning invalid [filesystem] umask '0999'; using 022" ] || { echo "a bad umask: '$out'"; return 1; }
	[ "$(lsl -e sh -c umask)" = 0022 ] || { echo "the default umask: $(lsl -e sh -c umask)"; return 1; }
}
# Item 10: [automount] mountFsTab, on by default; a bad entry is one warning and the distribution works.
fstab_mounts() {
	lsl -e sh -c 'mkdir -p /mnt/ft /mnt/ro /mnt/na && printf "%s\n" "# lsl test" \
		"tmpfs /mnt/ft tmpfs size=1m,mode=0700 0 0" "/etc /mnt/ro none bind,ro 0 0" \
		"tmpfs /mnt/na tmpfs noauto 0 0" "/dev/vdz9 none swap sw 0 0" "proc /proc proc defaults 0 0" \
		"tmpfs /mnt/mk\\040dir tmpfs x-mount.mkdir 0 0" >/etc/fstab' || return 1
	lsl --terminate test || return 1
	local out
	out=$(lsl -e sh -c 'grep -E " /mnt/(ft|ro|na|mk.040dir) " /proc/mounts; touch /mnt/ro/x 2>/dev/null && echo writable; true') || return 1
	grep -q '^tmpfs /mnt/ft tmpfs rw,.*size=1024k,mode=700' <<<"$out" &&
		grep -q ' /mnt/ro ext4 ro,' <<<"$out" && grep -q ' /mnt/mk.040dir tmpfs ' <<<"$out" &&
		! grep -q -e /mnt/na -e writable <<<"$out" || { echo "mounted at start:"; echo "$out"; return 1; }
	[ "$(lsl -e grep -c ' /proc ' /proc/mounts)" = 1 ] || { echo "/proc mounted twice"; return 1; }
	out=$(restart_test) || return 1
	[ -z "$out" ] || { echo "warnings for a good fstab: $out"; return 1; }
	lsl -e sh -c 'echo "nosuch /mnt/bad nosuchfs defaults 0 0" >>/etc/fstab' || return 1
	out=$(restart_test) || return 1
	[ "$(wc -l <<<"$out")" = 1 ] && grep -q '^warning /etc/fstab: line 8: cannot mount nosuch on /mnt/bad: ' <<<"$out" ||
		{ echo "a bad entry: '$out'"; return 1; }
	lsl -e grep -q ' /mnt/ft ' /proc/mounts || { echo "the good entries after a bad one"; return 1; }
	out=$(restart_test fstab=0) || return 1
	[ -z "$out" ] && ! lsl -e grep -q ' /mnt/ft ' /proc/mounts || { echo "fstab=0: '$out'"; return 1; }
	lsl -e rm /etc/fstab && restart_test --port >/dev/null
}
# Item 11: start answers whether users exist, also when the distribution runs already.
user_check() {
	local out
	out=$(restart_test user=root user=ghost user=0 user=4242) || return 1
	[ "$out" = "$(printf 'user yes root\nuser no ghost\nuser yes 0\nuser no 4242')" ] || { echo "stopped: '$out'"; return 1; }
	out=$(lsl --system -e lsl-distro start test user=ghost user=root) || return 1
	[ "$out" = "$(printf 'user no ghost\nuser yes root')" ] || { echo "running: '$out'"; return 1; }
	restart_test --port >/dev/null
}
# Item 12: cgroup2 with nsdelegate, as WSL mounts it, and accepted inside the distribution's namespace.
cgroup_nsdelegate() {
	local out
	out=$(lsl -e grep ' /sys/fs/cgroup ' /proc/mounts) || return 1
	grep -q '^cgroup2 /sys/fs/cgroup cgroup2 .*nsdelegate' <<<"$out" || { echo "mounted as: $out"; return 1; }
	lsl -e sh -c 'mkdir -p /tmp/cg && mount -t cgroup2 -o nsdelegate none /tmp/cg && umount /tmp/cg' ||
		{ echo "nsdelegate refused inside the distribution"; return 1; }
}
# Item 17: /etc/hostname agrees with the UTS name, and is written as a file of its own.
etc_hostname() {
	lsl -e sh -c 'rm -f /etc/hostname /tmp/elsewhere; ln -s /tmp/elsewhere /etc/hostname' || return 1
	lsl --terminate test || return 1
	local out
	out=$(lsl -e sh -c 'hostname; cat /etc/hostname; [ -L /etc/hostname ] && echo link; [ -e /tmp/elsewhere ] && echo followed')
	[ "$out" = "$(printf 'test\ntest')" ] || { echo "hostname, /etc/hostname: $out"; return 1; }
}
# Item 7 (the guest's half): ACTIVITY to the system agent counts what sessions left behind.
activity_count() {
	lsl -e sh -c 'killall -KILL sleep; true' 2>/dev/null || return 1
	local out
	out=$(activity) && [ "$out" = "test 0" ] || { echo "nothing left behind: '$out'"; return 1; }
	lsl -e sh -c 'setsid sleep 300 </dev/null >/dev/null 2>&1 &' || return 1
	out=$(activity) && [ "$out" = "test 1 sleep" ] || { echo "a setsid sleep left behind: '$out'"; return 1; }
	lsl -e killall sleep
}
# "NAME PROCESSES[ WHAT]" per running distribution, from ACTIVITY (proto/agent.h, proto/activity.h) to the agent.
activity() {
	local version
	version=$(sed -n 's/^#define LSL_AGENT_VERSION *\([0-9]*\).*/\1/p' "$(dirname "$0")/../../proto/agent.h")
	python3 - "$XDG_RUNTIME_DIR/lsl/vsock" "$version" <<'PY'
import socket, struct, sys
V = int(sys.argv[2])
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"CONNECT 5000\n")
line = b""
while not line.endswith(b"\n"):
    line += s.recv(1)
assert line.startswith(b"OK"), line
s.sendall(struct.pack("<III", 1, 4, V) + struct.pack("<II", 9, 0))  # HELLO, ACTIVITY
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
frames = []
while data:
    t, n = struct.unpack("<II", data[:8]); frames.append((t, data[8:8 + n])); data = data[8 + n:]
assert frames[0] == (1, struct.pack("<I", V)), frames
t, p = frames[1]
assert t == 22, frames
count, = struct.unpack("<I", p[:4]); p = p[4:]
for _ in range(count):
    procs, n = struct.unpack("<IB", p[:5]); name = p[5:5 + n].decode(); p = p[5 + n:]
    w = p[0]; what = p[1:1 + w].decode(); p = p[1 + w:]  # what they are (proto/activity.h)
    print(name, procs, what) if what else print(name, procs)
assert not p
PY
}
net_names() {
	# A distribution's generated /etc/hosts names the host (host.lsl.internal -> slirp's 10.0.2.2, the host's
	# own loopback) and its resolv.conf slirp's forwarder; by that name the guest reaches a server on the
	# host's 127.0.0.1.
	ip link set lo up 2>/dev/null
	mkdir -p "$S/www" && echo "hello by name" >"$S/www/index.html"
	python3 -m http.server --bind 127.0.0.1 --directory "$S/www" 8085 >/dev/null 2>&1 &
	local srv=$! i out rc=0
	for i in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/8085) 2>/dev/null && break; sleep 0.1; done
	out=$(lsl -e sh -c 'grep -q "^10\.0\.2\.2[[:space:]]*host\.lsl\.internal" /etc/hosts || exit 3
		grep -q "^nameserver 10\.0\.2\.3" /etc/resolv.conf || exit 4
		wget -q -O - http://host.lsl.internal:8085/') || rc=$?
	kill $srv 2>/dev/null
	[ $rc = 0 ] && [ "$out" = "hello by name" ] || { echo "exit $rc (3: hosts, 4: resolv.conf), got '$out'"; return 1; }
}

# Issue 13 items 3-5: localhost forwarding. A guest echo server (net-tool, copied into the distribution) on
# each kind of address is reachable on the host's loopback at the same port; fwd.py on the host measures.
fwd_setup() {
	[ -x "$LSL_BUILD/tests/net-tool" ] || { echo "no net-tool (ninja -C $LSL_BUILD)"; return 1; }
	lsl "$@" -e sh -c 'cat >/bin/net-tool && chmod 755 /bin/net-tool' <"$LSL_BUILD/tests/net-tool" || return 1
	cat >"$S/fwd.py" <<'PY'
import os, socket, sys, threading, time

def conn(addr, port, timeout=5):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((addr, port))
    return s

def echo_ok(s, data):
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        b = s.recv(65536)
        if not b:
            break
        got += b
    return got == data

mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "wait":  # wait ADDR PORT BOUND_MS: the forward answers an echo; prints the ms it took
    t0 = time.monotonic(); bound = float(sys.argv[4]) / 1000
    while True:
        try:
            s = conn(addr, port)
            if echo_ok(s, b"ping\n"):
                print(round((time.monotonic() - t0) * 1000)); sys.exit(0)
        except OSError:
            pass
        if time.monotonic() - t0 > bound:
            print("not reachable"); sys.exit(1)
        time.sleep(0.002)
elif mode == "gone":  # gone ADDR PORT SECONDS: the host port is free again (nothing accepts there)
    t0 = time.monotonic()
    while time.monotonic() - t0 < float(sys.argv[4]):
        try:
            conn(addr, port, 1).close()
        except OSError:
            sys.exit(0)
        time.sleep(0.05)
    sys.exit(1)
elif mode == "udp":  # udp ADDR PORT N: once the forward echoes, N datagrams of 1..1400 bytes, each echoed
    # Bounds for "it works at all", not latency (bench/fwdbench.py measures that): the emulated KVM host can
    # stall its guest for seconds (tests/vmhost/vmhost.sh).
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(0.05)
    t0 = time.monotonic()
    while True:
        s.sendto(b"ping", (addr, port))
        try:
            if s.recvfrom(65536)[0] == b"ping":
                break
        except OSError:
            pass
        if time.monotonic() - t0 > 30:
            print("no echo at all"); sys.exit(1)
    s.settimeout(2)
    while True:  # late echoes of the pings
        try:
            s.settimeout(0.2); s.recvfrom(65536)
        except OSError:
            break
    s.settimeout(10)
    ok = 0
    for i in range(int(sys.argv[4])):
        d = os.urandom(1 + i * 37 % 1400)
        s.sendto(d, (addr, port))
        try:
            ok += s.recvfrom(65536)[0] == d
        except OSError:
            break
    print(ok); sys.exit(0 if ok == int(sys.argv[4]) else 1)
elif mode == "many":  # many ADDR PORT N: N connections at once, 64 KiB each way, byte-exact
    n = int(sys.argv[4]); socks = [conn(addr, port, 60) for _ in range(n)]
    bad = []
    def run(i):
        if not echo_ok(socks[i], os.urandom(65536)):
            bad.append(i)
    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    [t.start() for t in ts]; [t.join() for t in ts]
    print(n - len(bad)); sys.exit(1 if bad else 0)
elif mode == "hold":  # hold ADDR PORT: binds the host port (TCP) and keeps it until killed
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.bind((addr, port)); s.listen(1)
    print("held", flush=True); time.sleep(3600)
PY
}
fwd_serve() { # name lsl-args... : a guest echo server through a session, in the background, once it listens
	local name=$1 i
	shift
	rm -f "$S/$name.out"
	"$L" "$@" >"$S/$name.out" 2>&1 &
	eval "FWD_$name=$!"
	for i in $(seq 600); do grep -q listening "$S/$name.out" 2>/dev/null && return 0; sleep 0.05; done
	echo "guest server $name did not start: $(cat "$S/$name.out")"
	return 1
}
fwd_stop() { local v="FWD_$1"; kill "${!v}" 2>/dev/null; wait "${!v}" 2>/dev/null; }
fwd_why() { # what the forwarding saw, for a failure's report
	echo "  lsl --status: $(lsl --status 2>&1 | grep -A8 '^Ports' | tr '\n' ' ')"
	grep -a 'forward' "$XDG_STATE_HOME/lsl/service.log" | tail -n 6 | sed 's/^/  service: /'
	grep -a 'forwarder' "$XDG_STATE_HOME/lsl/console.log" | tail -n 3 | sed 's/^/  guest: /'
}
# How long a forward may take to answer, for the tests that it happens at all (the times are printed; the
# latency is bench/fwdbench.py's to measure): the emulated KVM host can stall its guest for seconds.
FWD_BOUND_MS=${FWD_BOUND_MS:-5000}
forward_tcp() {
	fwd_setup || return 1
	local c gaddr port yes no h ms rc=0 all=""
	# guest address, port, host addresses that must reach it, host addresses that must not
	for c in "127.0.0.1 8701 127.0.0.1 ::1" "0.0.0.0 8702 127.0.0.1 ::1" "::1 8703 ::1 127.0.0.1" \
		":: 8704 127.0.0.1,::1 -"; do
		read -r gaddr port yes no <<<"$c"
		fwd_serve srv -e net-tool echo tcp "$gaddr" "$port" || return 1
		for h in ${yes//,/ }; do
			ms=$(python3 "$S/fwd.py" wait "$h" "$port" "$FWD_BOUND_MS") || { echo "guest $gaddr:$port on host $h: $ms"; rc=1; }
			all="$all $gaddr:$port->$h=${ms}ms"
		done
		# A guest socket of one family only is not forwarded on the other's host address.
		[ "$no" = - ] || ! python3 "$S/fwd.py" wait "$no" "$port" 1500 >/dev/null || { echo "guest $gaddr:$port reached on host $no"; rc=1; }
		fwd_stop srv
		[ $rc = 0 ] || break
	done
	echo "    listen->forward (first echo after the guest printed listening):$all" >&9
	return $rc
}
forward_release() {
	fwd_setup || return 1
	fwd_serve srv -e net-tool echo tcp 0.0.0.0 8711 || return 1
	python3 "$S/fwd.py" wait 127.0.0.1 8711 "$FWD_BOUND_MS" >/dev/null || { fwd_stop srv; echo "not forwarded"; return 1; }
	lsl --status | grep -q '^Ports: *tcp 127.0.0.1:8711  test  forwarded$' || { echo "status: $(lsl --status)"; fwd_stop srv; return 1; }
	fwd_stop srv
	python3 "$S/fwd.py" gone 127.0.0.1 8711 5 || {
		fwd_why
		# 8711 is 21DF; 0A is LISTEN: whether the guest's server itself is still there
		echo "  guest listeners on 8711: $(lsl -e sh -c 'grep -ci ":21DF 00000000:0000 0A" /proc/net/tcp')"
		echo "the host port stayed taken after the guest closed"
		return 1
	}
	# Free for anyone now.
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 8711))' || { echo "cannot bind 8711"; return 1; }
}
forward_udp() {
	fwd_setup || return 1
	local rc=0 out
	fwd_serve usrv -e net-tool echo udp 0.0.0.0 8721 || return 1
	out=$(python3 "$S/fwd.py" udp 127.0.0.1 8721 200) || { fwd_why; echo "udp v4: $out/200 echoed"; rc=1; }
	fwd_stop usrv
	fwd_serve usrv -e net-tool echo udp ::1 8722 || return 1
	out=$(python3 "$S/fwd.py" udp ::1 8722 50) || { fwd_why; echo "udp v6: $out/50 echoed"; rc=1; }
	fwd_stop usrv
	return $rc
}
# A listener in a container's network namespace inside a distribution (net-tool netns: what Docker or
# `unshare -n` make) is forwarded like one in the VM's, and released when it closes.
forward_container() {
	fwd_setup || return 1
	local rc=0 out ms
	fwd_serve srv -e net-tool netns echo tcp 0.0.0.0 8771 || return 1
	ms=$(python3 "$S/fwd.py" wait 127.0.0.1 8771 "$FWD_BOUND_MS") || { echo "container tcp: $ms"; rc=1; }
	echo "    container listen->forward: ${ms}ms" >&9
	fwd_stop srv
	python3 "$S/fwd.py" gone 127.0.0.1 8771 5 || { echo "the container's port stayed forwarded"; rc=1; }
	fwd_serve usrv -e net-tool netns echo udp ::1 8772 || return 1
	out=$(python3 "$S/fwd.py" udp ::1 8772 50) || { echo "container udp: $out/50 echoed"; rc=1; }
	fwd_stop usrv
	# Noticed by the listen events, not by polling (which the forwarder says it falls back to).
	! grep -a 'forwarder:' "$XDG_STATE_HOME/lsl/console.log" || { echo "the forwarder polls"; rc=1; }
	return $rc
}
forward_in_use() {
	fwd_setup || return 1
	python3 "$S/fwd.py" hold 127.0.0.1 8731 >"$S/hold.out" &
	local hold=$! i rc=0 out
	for i in $(seq 100); do grep -q held "$S/hold.out" && break; sleep 0.05; done
	# The guest's server runs all the same; the host port it would have had is reported as taken.
	fwd_serve srv -e net-tool echo tcp 0.0.0.0 8731 || { kill $hold; return 1; }
	sleep 2
	out=$(lsl --status)
	grep -Eq '^(Ports:)? *tcp 127\.0\.0\.1:8731  test  NOT forwarded: the host port is in use$' <<<"$out" ||
		{ echo "status: $out"; rc=1; }
	grep -q 'forwarding tcp 127.0.0.1:8731: the host port is in use' "$XDG_STATE_HOME/lsl/service.log" ||
		{ echo "not in the service log"; rc=1; }
	lsl -e sh -c 'echo hi | timeout 10 nc -w 2 127.0.0.1 8731' | grep -q hi || { echo "the guest's own server failed"; rc=1; }
	kill $hold
	fwd_stop srv
	return $rc
}
forward_concurrent_200() {
	fwd_setup || return 1
	fwd_serve srv -e net-tool echo tcp 127.0.0.1 8741 || return 1
	local out rc=0
	python3 "$S/fwd.py" wait 127.0.0.1 8741 "$FWD_BOUND_MS" >/dev/null || { fwd_stop srv; echo "not forwarded"; return 1; }
	out=$(python3 "$S/fwd.py" many 127.0.0.1 8741 200) || { echo "$out/200 byte-exact"; rc=1; }
	fwd_stop srv
	return $rc
}
forward_two_distros() {
	"$L" --import test2 "$S/distros/test2" "${LSL_TEST_DISK:-$LSL_BUILD/test-root.img}" --vhd || return 1
	fwd_setup || return 1
	fwd_setup -d test2 || return 1
	local rc=0 out
	fwd_serve a -e net-tool echo tcp 0.0.0.0 8751 || return 1
	fwd_serve b -d test2 -e net-tool echo tcp 0.0.0.0 8752 || { fwd_stop a; return 1; }
	python3 "$S/fwd.py" wait 127.0.0.1 8751 "$FWD_BOUND_MS" >/dev/null || { echo "test's port not forwarded"; rc=1; }
	python3 "$S/fwd.py" wait 127.0.0.1 8752 "$FWD_BOUND_MS" >/dev/null || { echo "test2's port not forwarded"; rc=1; }
	sleep 1 # the names follow the ports
	out=$(lsl --status)
	grep -q 'tcp 127.0.0.1:8751  test  forwarded$' <<<"$out" && grep -q 'tcp 127.0.0.1:8752  test2  forwarded$' <<<"$out" ||
		{ echo "status: $out"; rc=1; }
	fwd_stop a
	fwd_stop b
	lsl --terminate test2 && "$L" --unregister test2 >/dev/null || rc=1
	return $rc
}
forward_disabled() {
	fwd_setup || return 1
	expect_rc 0 lsl --shutdown && wait_stopped 30 || return 1
	printf '[wsl2]\nlocalhostForwarding = false\n' >"$HOME/.lslconfig"
	local rc=0
	fwd_serve srv -e net-tool echo tcp 0.0.0.0 8761 || { rm -f "$HOME/.lslconfig"; return 1; }
	python3 "$S/fwd.py" wait 127.0.0.1 8761 3000 >/dev/null && { echo "forwarded although disabled"; rc=1; }
	lsl --status | grep -q '^Ports: *none forwarded$' || { echo "status: $(lsl --status)"; rc=1; }
	fwd_stop srv
	rm -f "$HOME/.lslconfig"
	expect_rc 0 lsl --shutdown && wait_stopped 30 || return 1
	lsl -e true
	return $rc
}

# Item 1 of issue 12: `--` only ends lsl's options, as with wsl.exe: the words are a command line for the
# user's shell, joined as ssh joins them; -e and --shell-type none exec without a shell.
double_dash_shell() {
	expect_rc 42 lsl -- 'exit 42' || return 1
	local out
	out=$(lsl -- 'cd /tmp && pwd') && [ "$out" = /tmp ] || { echo "cd && pwd: '$out'"; return 1; }
	out=$(lsl -- 'echo $HOME') && [ "$out" = /root ] || { echo "echo \$HOME: '$out'"; return 1; }
	out=$(lsl -- echo 'a  b' '|' tr a-z A-Z) && [ "$out" = "A B" ] || { echo "joined words: '$out'"; return 1; }
	out=$(lsl -e echo '$HOME' 'a  b') && [ "$out" = '$HOME a  b' ] || { echo "-e: '$out'"; return 1; }
	out=$(lsl --shell-type none -- echo '$0') && [ "$out" = '$0' ] || { echo "--shell-type none --: '$out'"; return 1; }
	expect_rc 127 lsl -e 'exit 42' 2>/dev/null
}
# Item 4: WSLENV (and LSLENV) with WSL's flags.
wslenv() {
	local out
	out=$(a=b WSLENV=a/u lsl -- 'echo $a') && [ "$out" = b ] || { echo "WSLENV=a/u: '$out'"; return 1; }
	# (not L: the suite's name for lsl itself)
	out=$(a=1 W=2 E= PA=/x/y LI=/a:/b WSLENV='a:W/w:E:UNSET:PA/p:LI/l:a' LSLENV=a \
		lsl -e sh -c 'echo "${a-unset} ${W-unset} [${E-unset}] ${UNSET-unset} $PA $LI $WSLENV $LSLENV"')
	# /p and /l: host paths, here under the default share of the host's /.
	[ "$out" = "1 unset [] unset /mnt/host/x/y /mnt/host/a:/mnt/host/b a:W/w:E:UNSET:PA/p:LI/l:a a" ] || { echo "flags: '$out'"; return 1; }
}
# Item 5: the distribution's name, as registered, in both spellings.
distro_name_env() {
	local out
	out=$(lsl -d TEST -e sh -c 'echo $LSL_DISTRO_NAME $WSL_DISTRO_NAME') && [ "$out" = "test test" ] ||
		{ echo "-d TEST: '$out'"; return 1; }
	out=$(lsl --system -e sh -c 'echo "${LSL_DISTRO_NAME-none}"') && [ "$out" = none ] || { echo "--system: '$out'"; return 1; }
}
# Item 6: usage errors exit 2 with one line; --list --running with nothing running, as wsl.exe.
usage_errors() {
	local rc
	"$L" -d test -d test true 2>"$S/err"
	rc=$?
	[ $rc = 2 ] && [ "$(wc -l <"$S/err")" = 1 ] || { echo "-d twice: exit $rc, $(cat "$S/err")"; return 1; }
	expect_rc 2 lsl -l -q -v 2>/dev/null && expect_rc 2 lsl -l --all --running 2>/dev/null || return 1
	lsl -e true && lsl --terminate test || return 1
	"$L" -l --running >"$S/out" 2>"$S/err"
	rc=$?
	[ $rc = 1 ] && [ "$(cat "$S/out")" = "There are no running distributions." ] && [ ! -s "$S/err" ] ||
		{ echo "--running, none: exit $rc, out '$(cat "$S/out")', err '$(cat "$S/err")'"; return 1; }
	"$L" -l --running -q >"$S/out" 2>&1
	rc=$?
	[ $rc = 0 ] && [ ! -s "$S/out" ] || { echo "--running -q, none: exit $rc, '$(cat "$S/out")'"; return 1; }
	lsl -e true || return 1
	[ "$(lsl -l --running -q)" = test ] || { echo "--running -q: $(lsl -l --running -q)"; return 1; }
}
# Item 7: what a session left running keeps the VM from its idle stop, and --status says so; once it is gone
# the VM stops. The test's 5 s idle timeout (the service takes it from the lsl that starts it).
idle_keeps_background() {
	expect_rc 0 lsl --shutdown && wait_stopped 30 || return 1
	# busybox's setsid has no -f: run by the shell, it forks by itself (it leads the session's group).
	LSL_VM_IDLE_TIMEOUT=5 lsl -- 'setsid sleep 300 </dev/null >/dev/null 2>&1 &' || return 1
	sleep 20
	[ "$(vmm_count)" = 1 ] || { echo "the VM stopped with a process running"; return 1; }
	local out
	out=$(lsl --status) || return 1
	grep -q '^Processes: *test 1$' <<<"$out" && grep -q '^Idle stop: *not while these run: test (sleep)$' <<<"$out" ||
		{ echo "status: $out"; return 1; }
	out=$(lsl --status --json | python3 -c 'import json, sys; s = json.load(sys.stdin); print(s["processes"]["test"], s["running"]["test"])')
	[ "$out" = "1 ['sleep']" ] || { echo "status --json, what runs: '$out'"; return 1; }
	sleep 10
	[ "$(vmm_count)" = 1 ] || { echo "the VM stopped 30 s in with a process running"; return 1; }
	lsl -e killall sleep || return 1
	wait_stopped 60 || { echo "no idle stop once the process was gone"; return 1; }
	lsl -e true # the next test finds a VM running, as after idle_shutdown
}
# Items 8-11 and 17 through the CLI: a wsl.conf written the Windows way, with WSL's rules, starts the
# distribution with warnings only; its hostname is cleaned, umask and fstab apply, a [user] default that does
# not exist falls back to root with one line.
wsl_conf_rules() {
	lsl -e sh -c 'printf "\r\n  \r\n[foo]\r\na=b\r\n[NETWORK]\r\nHostName = \"my host\" # comment\r\n[network]\r\ngenerateHosts=yes\r\n[filesystem]\r\numask = 0077\r\n[user]\r\ndefault=ghost\r\n" >/etc/wsl.conf
		mkdir -p /mnt/ft; echo "tmpfs /mnt/ft tmpfs size=1m 0 0" >/etc/fstab' || return 1
	lsl --terminate test || return 1
	local out rc
	out=$(lsl -e sh -c 'hostname; cat /etc/hostname; id -u; umask; touch /tmp/um; stat -c %a /tmp/um; grep -c " /mnt/ft " /proc/mounts' 2>"$S/err")
	rc=$?
	lsl -e sh -c 'rm -f /etc/wsl.conf /etc/fstab /tmp/um' && lsl --terminate test || return 1
	[ $rc = 0 ] && [ "$out" = "$(printf 'myhost\nmyhost\n0\n0077\n600\n1')" ] || { echo "exit $rc, inside: $out"; cat "$S/err"; return 1; }
	local want="lsl: test: /etc/wsl.conf:4: unknown key 'foo.a' (ignored)
lsl: test: /etc/wsl.conf:6: 'my host' is no valid hostname; using 'myhost'
lsl: test: /etc/wsl.conf:8: invalid value 'yes' for network.generateHosts: true or false (default kept)
lsl: test: [user] default 'ghost' of its wsl.conf does not exist in it; using root"
	[ "$(cat "$S/err")" = "$want" ] || { echo "warnings:"; cat "$S/err"; return 1; }
}
# Item 14: a default user that does not exist is refused, with one line, and nothing changes.
set_default_user_checked() {
	local rc
	"$L" --manage test --set-default-user ghost 2>"$S/err"
	rc=$?
	[ $rc = 3 ] && [ "$(wc -l <"$S/err")" = 1 ] && grep -q ghost "$S/err" || { echo "exit $rc: $(cat "$S/err")"; return 1; }
	[ "$(lsl -e id -u)" = 0 ] || { echo "the default user changed"; return 1; }
	lsl --manage test --set-default-user root && [ "$(lsl -e id -un)" = root ]
}

# Issue 14 item 3: the host's files in every distribution. The suite runs as the host's root; with the default
# hostShares (host=/) the host's / is /mnt/host, and what the host user owns shows as 1000:1000.
HS=$S/hs # a host directory the tests make
host_share_listed() {
	mkdir -p "$HS/dir" && echo from-host >"$HS/dir/made-on-host" || return 1
	local out
	out=$(lsl -e ls "/mnt/host$HS/dir") && [ "$out" = made-on-host ] || { echo "ls /mnt/host$HS/dir: '$out'"; return 1; }
	# nosuid and nodev whatever the host has: its setuid programs and devices are not the guest's.
	out=$(lsl -e sh -c 'grep " /mnt/host " /proc/mounts') || { echo "no /mnt/host mount"; return 1; }
	[[ $out == *virtiofs*nosuid*nodev* ]] || { echo "mount: $out"; return 1; }
	# Read in large requests: the share's readahead (guest/distro/automount.c).
	out=$(lsl -e sh -c 'cat /sys/class/bdi/$(awk "\$5 == \"/mnt/host\" {print \$3}" /proc/self/mountinfo)/read_ahead_kb') &&
		[ "$out" = 4096 ] ||
		{ echo "readahead: '$out'"; return 1; }
	# Written in the guest, there on the host.
	lsl -e sh -c "echo from-guest >/mnt/host$HS/dir/made-in-guest" || return 1
	[ "$(cat "$HS/dir/made-in-guest")" = from-guest ] || { echo "the guest's write is not on the host"; return 1; }
}
host_share_owner() {
	# A default user with the uid every distribution's first user gets owns the host user's files.
	mkdir -p "$HS" && echo x >"$HS/owned" || return 1
	lsl -e sh -c 'grep -q "^me:" /etc/passwd || { echo "me:x:1000:1000::/tmp:/bin/sh" >>/etc/passwd; echo "me:x:1000:" >>/etc/group; }' &&
		lsl --manage test --set-default-user me || return 1
	local out
	out=$(lsl -e sh -c "id -un; stat -c '%U %G' /mnt/host$HS/owned; echo new >/mnt/host$HS/by-me && echo wrote")
	lsl --manage test --set-default-user root || return 1
	[ "$out" = "$(printf 'me\nme me\nwrote')" ] || { echo "as the default user: '$out'"; return 1; }
	[ "$(stat -c %u "$HS/by-me")" = "$(id -u)" ] || { echo "the guest user's file is not the host user's"; return 1; }
}
host_cwd() {
	mkdir -p "$HS/dir/sub" || return 1
	local out
	out=$(cd "$HS/dir" && lsl -e pwd) && [ "$out" = "/mnt/host$HS/dir" ] || { echo "lsl in $HS/dir: '$out'"; return 1; }
	out=$(cd "$HS/dir" && lsl -- 'pwd; ls -d sub') && [ "$out" = "$(printf '%s\nsub' "/mnt/host$HS/dir")" ] ||
		{ echo "lsl -- in $HS/dir: '$out'"; return 1; }
	# --cd: a relative path is the host's; ~ and absolute paths are the guest's, as before.
	out=$(cd "$HS/dir" && lsl --cd sub -e pwd) && [ "$out" = "/mnt/host$HS/dir/sub" ] || { echo "--cd sub: '$out'"; return 1; }
	out=$(cd "$HS/dir/sub" && lsl --cd ../.. -e pwd) && [ "$out" = "/mnt/host$HS" ] || { echo "--cd ../..: '$out'"; return 1; }
	out=$(cd "$HS/dir" && lsl --cd /tmp -e pwd) && [ "$out" = /tmp ] || { echo "--cd /tmp: '$out'"; return 1; }
	out=$(cd "$HS/dir" && lsl --cd '~' -e pwd) && [ "$out" = /root ] || { echo "--cd ~: '$out'"; return 1; }
	# A host directory the guest cannot enter (the share refuses the host's procfs): the home, as in WSL.
	out=$(cd /proc && lsl -e pwd) && [ "$out" = /root ] || { echo "from the host's /proc: '$out'"; return 1; }
	lsl --system -e true || { echo "--system from a host directory"; return 1; }
}
lslpath_both_ways() {
	mkdir -p "$HS/dir" || return 1
	local out
	out=$(lsl -e lslpath "$HS/dir") && [ "$out" = "/mnt/host$HS/dir" ] || { echo "lslpath: '$out'"; return 1; }
	out=$(lsl -e lslpath -u "$HS/a/../dir/") && [ "$out" = "/mnt/host$HS/dir" ] || { echo "lslpath -u: '$out'"; return 1; }
	out=$(lsl -e lslpath -w "/mnt/host$HS/dir") && [ "$out" = "$HS/dir" ] || { echo "lslpath -w: '$out'"; return 1; }
	out=$(lsl -e lslpath -w /mnt/host) && [ "$out" = / ] || { echo "lslpath -w /mnt/host: '$out'"; return 1; }
	out=$(lsl --cd "/mnt/host$HS" -e lslpath -a -w dir) && [ "$out" = "$HS/dir" ] || { echo "lslpath -a -w: '$out'"; return 1; }
	out=$(lsl -e lslpath rel/x) && [ "$out" = rel/x ] || { echo "lslpath rel/x: '$out'"; return 1; }
	expect_rc 1 lsl -e lslpath -w /etc 2>/dev/null && expect_rc 1 lsl -e lslpath -w /mnt/host/../etc 2>/dev/null &&
		expect_rc 2 lsl -e lslpath 2>/dev/null
}
host_edit_seen() {
	mkdir -p "$HS" && echo one >"$HS/edit" || return 1
	local out
	out=$(cd "$HS" && lsl -- cat edit) && [ "$out" = one ] || { echo "before: '$out'"; return 1; }
	echo two-longer >"$HS/edit"
	sleep 1.2 # the stated bound (vmm/fs/README.md): 1 s, or the helper's revalidation where names are trusted long
	out=$(cd "$HS" && lsl -- cat edit) && [ "$out" = two-longer ] || { echo "after the host's edit: '$out'"; return 1; }
}
# What the guest wrote and closed on the share runs on the host at once: lsl-vmm keeps no write descriptor
# past the guest's close (open-less files, vmm/fs/README.md), which would fail the host's execve with ETXTBSY.
# And the guest runs a program from the share (read through the node's own descriptor).
host_exec_after_write() {
	mkdir -p "$HS" && rm -f "$HS/prog" || return 1
	local out
	lsl -- "printf '#!/bin/sh\necho ran \$1\n' >/mnt/host$HS/prog && chmod 755 /mnt/host$HS/prog" ||
		{ echo "guest: could not write prog"; return 1; }
	out=$("$HS/prog" host 2>&1) && [ "$out" = "ran host" ] || { echo "host exec after the guest's close: '$out'"; return 1; }
	out=$(lsl -e "/mnt/host$HS/prog" guest) && [ "$out" = "ran guest" ] || { echo "guest exec from the share: '$out'"; return 1; }
	# Appended by the guest (an existing file, no CREATE), then run by the host.
	lsl -- "echo 'echo again' >>/mnt/host$HS/prog" || return 1
	out=$("$HS/prog" x 2>&1) && [ "$out" = "$(printf 'ran x\nagain')" ] || { echo "host exec after an append: '$out'"; return 1; }
}
# Item 4: a file watcher in the guest (inotify on a shared directory, as webpack or nodemon keep) hears of
# host-side changes: an edit, a new file, a removal.
host_change_watched() {
	[ -x "$LSL_BUILD/tests/fs-tool" ] || { echo "no fs-tool (ninja -C $LSL_BUILD)"; return 1; }
	mkdir -p "$HS/w" && echo v1 >"$HS/w/app.js" && echo x >"$HS/w/old.js" || return 1
	lsl -e sh -c 'cat >/bin/fs-tool && chmod 755 /bin/fs-tool' <"$LSL_BUILD/tests/fs-tool" || return 1
	"$L" -e fs-tool watch "/mnt/host$HS/w" 60 >"$S/watch.out" 2>&1 &
	local w=$! i t0 rc=0 name all=""
	for i in $(seq 600); do grep -q watching "$S/watch.out" && break; sleep 0.05; done
	grep -q watching "$S/watch.out" || { echo "watcher: $(cat "$S/watch.out")"; kill $w; return 1; }
	for name in app.js new.js old.js; do
		t0=$(date +%s%N)
		case $name in
		app.js) echo v2 >>"$HS/w/app.js" ;;
		new.js) echo n >"$HS/w/new.js" ;;
		old.js) rm "$HS/w/old.js" ;;
		esac
		# an event naming the file, or for a removal one on the directory (IN_ATTRIB of the directory itself)
		for i in $(seq 200); do
			grep -Eq "^event [0-9a-f]+ $name\$" "$S/watch.out" && break
			[ $name = old.js ] && grep -Eq '^event [0-9a-f]+ $' "$S/watch.out" && break
			sleep 0.05
		done
		if [ "$i" = 200 ]; then echo "no event for the host's change of $name: $(tr '\n' ' ' <"$S/watch.out")"; rc=1; fi
		all="$all $name=$((($(date +%s%N) - t0) / 1000000))ms"
	done
	echo "    host change -> guest inotify event:$all" >&9
	[ $rc = 0 ] || echo "the change daemon: $(lsl --system -e sh -c 'grep -l lsl-fswatch /proc/[0-9]*/comm; dmesg | grep fswatch | tail -n 8' | tr '\n' ' ')"
	kill $w
	wait $w 2>/dev/null
	return $rc
}
# Names and attributes under watched directories are trusted for minutes while the change helper runs
# (vmm/fs/README.md): what the host changes there must reach the guest at once through the helper's
# revalidation, not when that trust runs out. An append, a save by rename, a removal, a name the guest was
# told is absent, a file in a listed subdirectory: all seen, timed from the host's changes.
host_change_cached() {
	rm -rf "$HS/c" && mkdir -p "$HS/c/sub" && echo v1 >"$HS/c/edit" && echo old >"$HS/c/swap" && echo x >"$HS/c/gone" || return 1
	cat >"$HS/seen.sh" <<-'EOF'
		cd "$1" || exit 1
		i=0
		while [ $i -lt 100 ]; do # 5 s: the long trust is minutes, so only revalidation gets here
			[ "$(cat edit)" = "$(printf 'v1\nv2-longer')" ] && [ "$(cat swap)" = new ] && ! [ -e gone ] &&
				[ "$(cat new 2>/dev/null)" = n ] && [ "$(ls sub)" = f ] && [ "$(echo $(ls))" = "edit new sub swap" ] && exit 0
			sleep 0.05
			i=$((i + 1))
		done
		echo "edit: $(cat edit | tr '\n' ' ') swap: $(cat swap) gone: $(ls gone 2>&1) new: $(cat new 2>&1) sub: $(ls sub) listed: $(echo $(ls))"
		exit 1
	EOF
	local out t0 g="/mnt/host$HS/c"
	# Still for a second first, so the guest may keep both listings (vmm/fs/ops_dir.c): the host's changes
	# must still show in them.
	sleep 1.1
	out=$(lsl -- "cat $g/edit $g/swap $g/gone; ls $g/sub; test -e $g/new || echo absent; echo \$(ls $g)") &&
		[ "$out" = "$(printf 'v1\nold\nx\nabsent\nedit gone sub swap')" ] || { echo "before: '$out'"; return 1; }
	sleep 1.2 # past the short timeout: what the guest still trusts now, it trusts long
	t0=$(date +%s%N)
	echo v2-longer >>"$HS/c/edit" && echo new >"$HS/c/swap.tmp" && mv "$HS/c/swap.tmp" "$HS/c/swap" &&
		rm "$HS/c/gone" && echo n >"$HS/c/new" && echo s >"$HS/c/sub/f" || return 1
	out=$(lsl -- sh "/mnt/host$HS/seen.sh" "$g") || { echo "not seen within 5 s: $out"; return 1; }
	echo "    host changes (append, rename over, remove, create, create below) seen in the guest: $((($(date +%s%N) - t0) / 1000000)) ms" >&9
}
# autoMemoryReclaim=gradual (the default): a file read once stops costing the host memory within 30 s while
# the command that read it still runs (cold cache trimmed in the guest, the freed pages reported to the host).
rss_kib() { # pid: its VmRSS in KiB, without a fork (the sampler below runs 20 times a second)
	local k v _
	while read -r k v _; do [ "$k" = VmRSS: ] && { echo "$v"; return; }; done <"/proc/$1/status" 2>/dev/null
	echo 0
}
reclaim_gradual() {
	# The file is on the host share: its pages are the guest's page cache, and the distribution's disk stays free.
	# The guest trims its cache while it reads (every 3 s, half of what was read once), so the peak is sampled
	# from the start, 20 times a second; what must hold is that the host's memory rose with the read and is back
	# once the guest let go. How far it rose depends on how fast the read went against those trims (148 MiB
	# here, 123 MiB in a CI run): a quarter of the file is plainly the read, not noise.
	mkdir -p "$HS" && head -c 256M /dev/zero >"$HS/big" || return 1
	local pid base peak now t0 ms=-1 i sampler trace=
	lsl -- true || return 1
	pid=$(lsl --status | awk '/^Service PID:/ {print $3}')
	sleep 5
	base=$(rss_kib "$pid")
	(
		m=0
		while kill -0 "$pid" 2>/dev/null; do
			n=$(rss_kib "$pid")
			[ "$n" -gt "$m" ] && m=$n && echo "$m" >"$S/peak"
			sleep 0.05
		done
	) &
	sampler=$!
	"$L" -- "cat /mnt/host$HS/big >/dev/null && echo read && sleep 45" >"$S/reclaim.out" &
	local job=$!
	for i in $(seq 600); do grep -q read "$S/reclaim.out" && break; sleep 0.1; done
	t0=$(date +%s%N)
	for ((i = 0; $(date +%s%N) - t0 < 32000000000; i++)); do # 30 s allowed, the command sleeps 45
		now=$(rss_kib "$pid")
		[ "$now" -le $((base + 65536)) ] && { ms=$((($(date +%s%N) - t0) / 1000000)); break; }
		# Each second, for the failure's story: RSS, and the guest's free and cache and the balloon's target (MiB).
		((i % 10)) || trace+=" $((now >> 10)):$(control status | awk '$1 ~ /^(guest_free|guest_cache|balloon_target)_bytes$/ {printf "%s%d", s, $2 / 1048576; s = "/"}')"
		sleep 0.1
	done
	kill $sampler 2>/dev/null
	wait $sampler 2>/dev/null
	peak=$(cat "$S/peak" 2>/dev/null || echo 0)
	kill -0 $job 2>/dev/null || { echo "the reading command ended early: $(cat "$S/reclaim.out"); RSS:free/cache/balloon MiB each second:$trace"; return 1; }
	kill $job 2>/dev/null
	wait $job 2>/dev/null
	rm -f "$HS/big"
	echo "    gradual reclaim: RSS ${base} KiB before, up to ${peak} KiB reading 256 MiB, back within 64 MiB ${ms} ms after the read (command still running)" >&9
	[ "$peak" -ge $((base + 64 * 1024)) ] || { echo "reading 256 MiB did not show on the host: ${base} -> ${peak} KiB"; return 1; }
	[ "$ms" -ge 0 ] && [ "$ms" -le 30000 ] || { echo "RSS not back within 64 MiB of ${base} KiB in 30 s: ${now} KiB; RSS:free/cache/balloon MiB each second:$trace"; return 1; }
}
thread_cpu() { # pid name-regex: ns of CPU the pid's threads so named have used (schedstat: guest mode too)
	local t n sum=0
	for t in /proc/$1/task/*; do
		read -r n <"$t/comm" 2>/dev/null && [[ $n =~ $2 ]] || continue
		read -r n _ <"$t/schedstat" && sum=$((sum + n))
	done
	echo $sum
}
vcpu_threads() {
	# Each busy guest thread is a busy host thread, the vCPU's: two loops in the guest, both vCPU threads at
	# work (on a one-CPU host they share it), the rest of the VMM near nothing.
	local pid c0 c1 d0 d1 want=70
	[ "$(nproc)" -ge 2 ] || want=35
	lsl -- true || return 1
	pid=$(lsl --status | awk '/^Service PID:/ {print $3}')
	"$L" -- 'for i in 1 2; do timeout 12 sh -c "while :; do :; done" & done; wait' &
	local job=$! t0
	sleep 4
	t0=$(date +%s%N) c0=$(thread_cpu "$pid" '^lsl-vcpu0$') c1=$(thread_cpu "$pid" '^lsl-vcpu1$')
	sleep 5
	d0=$(thread_cpu "$pid" '^lsl-vcpu0$') d1=$(thread_cpu "$pid" '^lsl-vcpu1$') t0=$(($(date +%s%N) - t0))
	wait $job
	d0=$(((d0 - c0) * 100 / t0)) d1=$(((d1 - c1) * 100 / t0))
	echo "    two busy guest loops: vCPU threads at ${d0} % and ${d1} % of a host CPU ($(nproc) host CPUs)" >&9
	[ "$d0" -ge $want ] && [ "$d1" -ge $want ] || { echo "vCPU threads at ${d0} % and ${d1} %, not ${want} % each"; return 1; }
}
idle_cpu() {
	# An idle VM costs next to nothing: no thread of it polls (one that did would take 10 % and more). < 1 % of
	# a CPU; 3 % under emulation, where each guest wake-up costs ~0.5 ms of exits instead of ~20 us and the
	# other test lane's emulated host shares the machine. There the guest's periodic wake-ups were 2.2 % of
	# a CPU (kcompactd twice a second, the share's event helper and the balloon's statistics once, the
	# reclaimer every 3 s) and are 0.5 % now that each backs off while idle (README, "idle"); this window,
	# 8 s after a command, measured 1.0 %.
	local pid t0 c max=1
	[ "${LSL_IN_VMHOST:-}" != 1 ] || max=3
	lsl -- true || return 1
	pid=$(lsl --status | awk '/^Service PID:/ {print $3}')
	sleep 8
	t0=$(date +%s%N) c=$(thread_cpu "$pid" .)
	sleep 10
	c=$(($(thread_cpu "$pid" .) - c)) t0=$(($(date +%s%N) - t0))
	echo "    idle VM over 10 s: $((c * 1000 / t0)) per mille of a host CPU" >&9
	[ $((c * 100 / t0)) -lt $max ] || { echo "idle VM at $((c * 1000 / t0)) per mille of a host CPU"; return 1; }
}
automount_conf() {
	mkdir -p "$HS/dir" || return 1
	# root= and options: the shares under /win/, read-only; what a bind mount cannot carry is one warning.
	lsl -e sh -c 'printf "[automount]\nroot = /win/\noptions = \"ro,umask=022\"\n" >/etc/wsl.conf' && lsl --terminate test || return 1
	local out rc
	out=$(cd "$HS/dir" && lsl -- "pwd; ls /win/host$HS/dir >/dev/null && echo listed; grep -q \" /mnt/host \" /proc/mounts || echo no-mnt-host
		touch /win/host$HS/ro 2>/dev/null || echo read-only; lslpath $HS" 2>"$S/err")
	rc=$?
	[ $rc = 0 ] && [ "$out" = "$(printf '%s\nlisted\nno-mnt-host\nread-only\n%s' "/win/host$HS/dir" "/win/host$HS")" ] ||
		{ echo "root=/win/: exit $rc, '$out'"; cat "$S/err"; lsl -e rm -f /etc/wsl.conf; return 1; }
	[ "$(cat "$S/err")" = "lsl: test: [automount] options not applied: umask=022" ] ||
		{ echo "warnings:"; cat "$S/err"; lsl -e rm -f /etc/wsl.conf; return 1; }
	# enabled=false: nothing mounted, lsl starts in the home, a host --cd is refused.
	lsl -e sh -c 'printf "[automount]\nenabled = false\n" >/etc/wsl.conf' && lsl --terminate test || return 1
	out=$(cd "$HS/dir" && lsl -- 'pwd; grep -c virtiofs /proc/mounts')
	(cd "$HS" && lsl --cd dir -e true 2>/dev/null)
	rc=$?
	lsl -e rm -f /etc/wsl.conf && lsl --terminate test || return 1
	[ "$out" = "$(printf '/root\n0')" ] || { echo "enabled=false: '$out'"; return 1; }
	[ $rc = 255 ] || { echo "--cd dir with nothing mounted: exit $rc"; return 1; }
}
share_config() {
	# hostShares in ~/.lslconfig takes effect when the VM starts: another directory and name, then none.
	# With hostShareDax the share has a DAX window (vmm/fs/dax.c): mounted dax=inode, the guest's kernel found
	# the window, and a large host file reads the same through it (run.sh's fs_dax goes further).
	mkdir -p "$HS/dir" && head -c $((5 << 20)) /dev/urandom >"$HS/dir/big" || return 1
	expect_rc 0 lsl --shutdown && wait_stopped 30 || return 1
	printf '[wsl2]\nhostShares = data=%s\nhostShareDax = 64MB\n' "$HS" >"$HOME/.lslconfig"
	local out want
	want=$(md5sum <"$HS/dir/big" | cut -d' ' -f1)
	out=$(cd "$HS/dir" && lsl -- 'pwd; grep -q " /mnt/host " /proc/mounts || echo no-host; ls -d /mnt/data/dir; lslpath -w /mnt/data/dir
		md5sum big | cut -d" " -f1; grep -c "/mnt/data virtiofs .*dax=inode" /proc/mounts; dmesg | grep -c "Cache len: 0x4000000"')
	rm -f "$HS/dir/big"
	[ "$out" = "$(printf '/mnt/data/dir\nno-host\n/mnt/data/dir\n%s\n%s\n1\n1' "$HS/dir" "$want")" ] ||
		{ echo "data=$HS: '$out'"; rm -f "$HOME/.lslconfig"; return 1; }
	expect_rc 0 lsl --shutdown && wait_stopped 30 || return 1
	printf '[wsl2]\nhostShares =\n' >"$HOME/.lslconfig"
	out=$(cd "$HS/dir" && lsl -- 'pwd; grep -c virtiofs /proc/mounts')
	rm -f "$HOME/.lslconfig"
	[ "$out" = "$(printf '/root\n0')" ] || { echo "hostShares off: '$out'"; return 1; }
	expect_rc 0 lsl --shutdown && wait_stopped 30 # the next tests find the default again
}
# Issue 17: isolated=true in ~/.lslconfig: no host share and no interop for the whole VM (the service does not
# even listen for it), each said in the guest in one line; the default comes back with the next VM.
isolated_vm() {
	expect_rc 0 lsl --shutdown && wait_stopped 30 || return 1
	printf '[lsl]\nisolated = true\n' >"$HOME/.lslconfig"
	local out rc
	out=$(cd / && lsl -- 'grep -c virtiofs /proc/mounts; lsl-host true' 2>&1)
	rc=$?
	local listening=no
	[ -e "$XDG_RUNTIME_DIR/lsl/vsock_5002" ] && listening=yes
	lsl --status | grep -q '^Interop: *off (isolated=true' || listening="$listening, --status: $(lsl --status | grep Interop)"
	rm -f "$HOME/.lslconfig"
	expect_rc 0 lsl --shutdown && wait_stopped 30 || return 1
	[ $rc = 1 ] && [ "$listening" = no ] && grep -qx 0 <<<"$out" && grep -q 'isolated=true' <<<"$out" ||
		{ echo "exit $rc, interop listener: $listening: '$out'"; return 1; }
}
control() { # request line: the service's reply (proto/control.h)
	python3 - "$XDG_RUNTIME_DIR/lsl/control" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
print(b"".join(iter(lambda: s.recv(4096), b"")).decode(), end="")
PY
}
status_num() { lsl --status --json | python3 -c "import json, sys; print(json.load(sys.stdin).get('$1', -1))"; }
wait_balloon() { # -ge|-le MiB seconds: until the MiB the balloon holds pass that test
	local i held
	for ((i = 0; i < $3 * 2; i++)); do
		held=$(($(status_num balloon_bytes) >> 20))
		test "$held" "$1" "$2" && return 0
		sleep 0.5
	done
	echo "the balloon holds ${held} MiB after $3 s, not $1 $2"
	return 1
}
balloon_request() {
	# A balloon request takes guest memory (the guest sees it gone), the guest takes some back when it runs out
	# (deflate on OOM, no process killed), and "balloon 0" gives it all back. No swap here: with swap the guest
	# would swap before it ran out.
	local before after out
	lsl --system -e swapoff /dev/vdb || return 1
	before=$(lsl -- "awk '/^MemAvailable/ {print \$2}' /proc/meminfo")
	[ "$(control 'balloon 400')" = ok ] || return 1
	wait_balloon -ge 390 30 || return 1
	after=$(lsl -- "awk '/^MemAvailable/ {print \$2}' /proc/meminfo")
	lsl --status | grep -q '^Balloon: .* (a balloon request)$' || { echo "status: $(lsl --status)"; return 1; }
	[ $((before - after)) -ge $((350 * 1024)) ] || { echo "MemAvailable ${before} -> ${after} kB with 400 MiB ballooned"; return 1; }
	# 700 MiB of tmpfs in what is left of 1 GiB: the driver gives pages back as the guest runs out.
	out=$(lsl --system -e sh -c 'mkdir -p /run/oom && mount -t tmpfs -o size=800M oom /run/oom &&
		dd if=/dev/zero of=/run/oom/f bs=1M count=700 2>&1 | tail -n 1; rm -f /run/oom/f; umount /run/oom') ||
		{ echo "filling the guest: $out"; return 1; }
	# What the guest took back stays with it: the host's target follows, and no later config change takes it
	# again (the balloon itself may hold more for a moment: a sweep of the memory the fill freed).
	local held=$(($(status_num balloon_target_bytes) >> 20))
	echo "    balloon: MemAvailable ${before} -> ${after} kB with 400 MiB asked; ${held} MiB asked after the guest filled 700 MiB" >&9
	[ "$held" -lt 390 ] || { echo "the balloon did not deflate when the guest ran out: ${held} MiB asked"; return 1; }
	lsl -- 'dmesg | grep -i "out of memory: killed"' && { echo "the guest killed a process"; return 1; }
	[ "$(control 'balloon 0')" = ok ] && wait_balloon -le 0 30 || return 1
	[ "$(control 'balloon 99999999')" = "error usage: balloon MIB (0 to 16777216)" ] || { echo "a bad request: $(control 'balloon 99999999')"; return 1; }
	expect_rc 0 lsl --shutdown && wait_stopped 30 # swap again for the next tests
}
swap_file() {
	# swap= (default a quarter of memory, rounded up to whole GB: 1 GiB here): the guest swaps to a sparse
	# host file, 0600, that holds what is swapped out and gives the space back once it is freed.
	local f=$XDG_STATE_HOME/lsl/swap.img out held after i
	out=$(lsl -- "awk '/^SwapTotal/ {print \$2}' /proc/meminfo") || return 1
	[ "$out" = 1048572 ] || { echo "SwapTotal ${out} kB, not 1 GiB less its header page"; return 1; }
	[ "$(stat -c %a "$f")" = 600 ] || { echo "$f is $(stat -c %a "$f")"; return 1; }
	# 1.2 GiB in a tmpfs of a 1 GiB guest: a few hundred MiB of it must go to swap.
	out=$(lsl --system -e sh -c 'mkdir -p /run/sw && mount -t tmpfs -o size=1300M sw /run/sw &&
		dd if=/dev/zero of=/run/sw/f bs=1M count=1200 2>/dev/null && awk "/^Swap(Total|Free)/ {print \$2}" /proc/meminfo |
		tr "\n" " "') || { echo "filling memory: $out"; return 1; }
	held=$(du -k "$f" | cut -f1)
	lsl --system -e sh -c 'rm /run/sw/f && umount /run/sw' || return 1
	# What is still swapped out (other processes' pages, pushed out with the tmpfs) stays in the file, and
	# so does each 1 MiB swap cluster that holds any of it: the file may keep that much, and a quarter of
	# what it held besides (clusters discarded whole, slots freed in batches).
	local used=0 left
	for i in $(seq 40); do
		left=$(lsl -- "awk '/^Swap(Total|Free)/ {print \$2}' /proc/meminfo" | tr '\n' ' ') || return 1
		set -- $left
		used=$(($1 - $2))
		after=$(du -k "$f" | cut -f1)
		[ "$after" -le $((used + held / 4)) ] && break
		sleep 0.5
	done
	echo "    swap: SwapTotal/SwapFree with 1.2 GiB in tmpfs: $out kB; file ${held} KiB, then ${after} KiB $((i / 2)) s after the free (${used} KiB still swapped out)" >&9
	set -- $out
	[ $(($1 - $2)) -ge 102400 ] && [ "$held" -ge 102400 ] || { echo "less than 100 MiB swapped: $out kB, file ${held} KiB"; return 1; }
	[ "$after" -le $((used + held / 4)) ] || { echo "the swap file kept ${after} of ${held} KiB after the free, ${used} KiB still swapped out"; return 1; }
	# swap=0: none, from the next start on.
	expect_rc 0 lsl --shutdown && wait_stopped 30 || return 1
	printf '[wsl2]\nswap = 0\n' >"$HOME/.lslconfig"
	out=$(lsl -- "awk '/^SwapTotal/ {print \$2}' /proc/meminfo")
	rm -f "$HOME/.lslconfig"
	[ "$out" = 0 ] || { echo "swap=0: SwapTotal ${out} kB"; return 1; }
	expect_rc 0 lsl --shutdown && wait_stopped 30
}
wslenv_paths() {
	mkdir -p "$HS" || return 1
	local out
	out=$(PA="$HS/x" LI="$HS/a:/etc:rel" WSLENV='PA/p:LI/l' lsl -e sh -c 'echo "$PA $LI"')
	[ "$out" = "/mnt/host$HS/x /mnt/host$HS/a:/mnt/host/etc:rel" ] || { echo "WSLENV /p /l: '$out'"; return 1; }
}

# Issue 17 item 2: host commands from the guest. lsl-host runs a command on the host as the host user, in the
# host's view of the guest's directory (the home when it is on no share), with stdin, output, exit status,
# signals, and the variables WSLENV passes (/p mapped back to host paths); the host's PATH finds it.
interop_host_command() {
	mkdir -p "$HS/proj" && rm -f "$HS/proj/made" || return 1
	local out rc
	out=$(printf 'from the guest\n' | lsl --cd "/mnt/host$HS/proj" -e lsl-host sh -c 'pwd; tr a-z A-Z; id -u; touch made; exit 7')
	rc=$?
	[ $rc = 7 ] && [ "$out" = "$(printf '%s\nFROM THE GUEST\n%s' "$HS/proj" "$(id -u)")" ] || { echo "exit $rc: '$out'"; return 1; }
	[ -f "$HS/proj/made" ] || { echo "the host command's file is not in $HS/proj"; return 1; }
	out=$(lsl --cd "/mnt/host$HS" -e env PA="/mnt/host$HS/x" WSLENV=PA/p:NO/u NO=no lsl-host sh -c 'echo "$PA ${NO:-unset} $(command -v lsl-interop-test-path) ${LSL_LOG:-none}"')
	# (The service logs at info, which host commands never inherit.)
	[ "$out" = "$HS/x unset $S/bin/lsl-interop-test-path none" ] || { echo "variables and PATH: '$out'"; return 1; }
	out=$(lsl --cd /tmp -e lsl-host pwd) && [ "$out" = "$HOME" ] || { echo "from a guest-only directory: '$out', not $HOME"; return 1; }
	expect_rc 143 lsl -e lsl-host sh -c 'kill -TERM $$' && expect_rc 2 lsl -e lsl-host 2>/dev/null || return 1
	# Not found: the shell's status, and lsl-host (not lsl) says so.
	out=$(lsl -e lsl-host no-such-host-command 2>&1)
	rc=$?
	[ $rc = 127 ] && [ "$out" = "lsl-host: no-such-host-command: command not found on the host" ] || { echo "not found: exit $rc: '$out'"; return 1; }
	# --status counts them (5 so far: a usage error never reaches the host).
	[ "$(status_num interop_commands)" -ge 5 ] && lsl --status | grep -q '^Interop: *on (lsl-host; [0-9]* host commands run so far)$' ||
		{ echo "--status: $(lsl --status | grep Interop) ($(status_num interop_commands))"; return 1; }
	# On a terminal: the host command gets a terminal too, of the same size.
	tmux -L lsltest kill-session -t lsl 2>/dev/null
	tmux -L lsltest new-session -d -s lsl -x 90 -y 20 "env XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR HOME=$HOME XDG_STATE_HOME=$XDG_STATE_HOME LSL_KERNEL=$LSL_KERNEL $L -e lsl-host sh -c 'test -t 0 && test -t 1 && stty size && echo tty-both-ends; sleep 30'" || return 1
	wait_screen '^tty-both-ends' 60 && screen | grep -q '^20 90$' || { echo "the terminal's size on the host:"; screen; tmux -L lsltest kill-session -t lsl; return 1; }
	tmux -L lsltest kill-session -t lsl
}
# xdg-open in a distribution without one opens on the host: a file by its host path, a URL as it is, and a
# guest-only file is refused (xdg-open's code 4). The host's xdg-open here is the suite's recorder.
interop_xdg_open() {
	mkdir -p "$HS/proj" && rm -f "$S/opened" || return 1
	lsl --cd "/mnt/host$HS/proj" -e xdg-open . && lsl --cd /tmp -e xdg-open 'https://example.org/a?b=c' || return 1
	[ "$(cat "$S/opened")" = "$(printf '%s %s\n%s %s' "$HS/proj" "$HS/proj" "$HOME" 'https://example.org/a?b=c')" ] ||
		{ echo "the host opened (cwd, argument): $(cat "$S/opened")"; return 1; }
	expect_rc 4 lsl -e xdg-open /etc/hostname 2>/dev/null && expect_rc 2 lsl -e xdg-open /no/such 2>/dev/null
}
# [interop] enabled=false: lsl-host says so in the guest, and the host refuses on its own a guest that
# skips that check (root in it writes the marker lsl-host reads).
interop_off() {
	lsl -e sh -c 'printf "[interop]\nenabled=false\n" >/etc/wsl.conf' && lsl --terminate test || return 1
	local out rc out2 rc2
	out=$(lsl -e lsl-host touch "$S/interop-ran" 2>&1)
	rc=$?
	out2=$(lsl -e sh -c "echo test >/run/lsl/interop && lsl-host touch $S/interop-ran" 2>&1)
	rc2=$?
	lsl -e rm -f /etc/wsl.conf && lsl --terminate test || return 1
	[ $rc = 1 ] && grep -q 'interop is off in this distribution' <<<"$out" || { echo "in the guest: exit $rc: $out"; return 1; }
	[ $rc2 = 1 ] && grep -q 'interop is off for test' <<<"$out2" || { echo "by the host: exit $rc2: $out2"; return 1; }
	[ ! -e "$S/interop-ran" ] || { echo "the command ran on the host"; return 1; }
	lsl -e lsl-host true || { echo "not back on after the wsl.conf went"; return 1; }
}

# Issue 17: `make install` and the Debian package each give an lsl that runs from its own tree, away from the
# build: its own lsl-vmm, kernel and images, none of the build's variables (tests/host/install.sh made both).
installed_lsl() {
	local tree out
	for tree in install deb; do
		[ -x "${LSL_TEST_INSTALLED:-}/$tree/usr/bin/lsl" ] || { echo "no $tree tree in '${LSL_TEST_INSTALLED:-}' (tests/host/install.sh makes it)"; return 1; }
	done
	for tree in install deb; do
		lsl --shutdown >/dev/null && wait_stopped 60 || return 1
		out=$(cd / && env -u LSL_VMM -u LSL_INITRD -u LSL_KERNEL -u LSL_ROOTFS timeout 300 "$LSL_TEST_INSTALLED/$tree/usr/bin/lsl" -e uname -s 2>&1) || { echo "$tree: $out"; return 1; }
		[ "$out" = Linux ] || { echo "$tree: '$out'"; return 1; }
		pgrep -f "^$LSL_TEST_INSTALLED/$tree/usr/libexec/lsl/lsl-vmm --service" >/dev/null ||
			{ echo "$tree: the service is not its own lsl-vmm: $(pgrep -af lsl-vmm)"; return 1; }
	done
	lsl --shutdown >/dev/null && wait_stopped 60
}

all_tests="first_start exit_codes binary_64m backpressure stderr_separate stdin_eof pipe_vs_pty tmux_terminal
	concurrent_20 cd_user_env locale_and_term shell_types clock_sync status_sessions idle_cpu vcpu_threads signals_forwarded
	killed_client_cleans_up malformed_input shutdown_force shutdown_kills_stubborn shutdown_ends_watch two_at_once
	idle_shutdown bad_args background_child_returns many_groups umask_key fstab_mounts user_check
	cgroup_nsdelegate etc_hostname activity_count net_names
	double_dash_shell wslenv distro_name_env usage_errors idle_keeps_background wsl_conf_rules interop_off installed_lsl
	set_default_user_checked forward_tcp forward_release forward_udp forward_in_use forward_concurrent_200
	forward_two_distros forward_container forward_disabled
	host_share_listed host_share_owner host_cwd lslpath_both_ways host_edit_seen host_exec_after_write host_change_watched host_change_cached reclaim_gradual automount_conf
	share_config isolated_vm swap_file balloon_request wslenv_paths interop_host_command interop_xdg_open"
run_suite "$@"
