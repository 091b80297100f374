#!/usr/bin/env bash
# End-to-end tests of distributions: import/export, install from a catalog, several at once, wsl.conf.
# Same conventions as run.sh and cli.sh: "PASS name" / "FAIL name: why"; --list; NAME... runs a subset.
source "$(dirname "$0")/lib.sh"
S=$(mktemp -d "${TMPDIR:-/tmp}/lsl-distrotest.XXXXXX")
export XDG_RUNTIME_DIR=$S/rt HOME=$S/home XDG_STATE_HOME=$S/state XDG_CACHE_HOME=$S/cache
export LSL_KERNEL=$LSL_KERNEL_DIR/vmlinux LSL_VM_MEMORY=1G LSL_VM_CPUS=2
unset LSLENV LSL_VM_IDLE_TIMEOUT LSL_ROOTFS
mkdir -p "$XDG_RUNTIME_DIR" "$HOME"
L=$LSL_BUILD/cli/lsl
exec 9>&1 # measurements go to the runner's output even when the test passes (t captures the rest)
here=$(cd "$(dirname "$0")" && pwd)
http_pid=
cleanup() {
	timeout 60 "$L" --shutdown >/dev/null 2>&1
	pkill -f "lsl-vmm --service $XDG_RUNTIME_DIR/lsl" 2>/dev/null
	[ -z "$http_pid" ] || kill "$http_pid" 2>/dev/null
	rm -rf "$S"
}
trap cleanup EXIT

lsl() { lsl_bounded "$@"; }
mktar() { python3 "$here/mktar.py" "$@"; }
registered() { lsl --list --quiet | grep -qx "$1"; }
# Each test makes what it needs itself, so any subset runs alone (tests/run.sh re-runs the tests a wedged
# emulated host never reported, in a fresh one).
tar_of() { [ -f "$S/$1" ] || mktar "$S/$1" "${@:2}"; } # file mktar-args...: made once
ready() { registered "$1" || { tar_of "${@:2}" && lsl --import "$1" "$S/d/$1" "$S/$2"; }; } # name file mktar-args...
# rt: the tar every test of rt starts from, and rt imported from it.
rt_tar() { tar_of rt.tar.gz --hostname rt-host; }
rt_ready() { ready rt rt.tar.gz --hostname rt-host; }
# Nothing of a failed import may be left: not registered, no image, no directory it made.
nothing_left() { # name dir
	! registered "$1" || { echo "$1 is registered"; return 1; }
	[ ! -e "$2" ] || { echo "$2 was left behind: $(ls -la "$2")"; return 1; }
}

import_export_roundtrip() {
	rt_tar && lsl --import rt "$S/d/rt" "$S/rt.tar.gz" || return 1
	# Checked from inside: owners, modes, setuid, device numbers, the hardlink, symlinks.
	local out
	out=$(lsl -d rt -e sh -c 'stat -c "%n %u %g %a %h" /home/u/file /home/u/hard /bin/suid "/srv/odd name" /srv;
		stat -c "%n %t:%T %a" /srv/nodes/null2 /srv/nodes/blk2; readlink /home/u/sym; readlink /home/u/dangling;
		[ -p /srv/nodes/fifo ] && echo fifo; hostname') || return 1
	local want="/home/u/file 1000 1000 640 2
/home/u/hard 1000 1000 640 2
/bin/suid 0 0 4755 1
/srv/odd name 123 456 600 1
/srv 0 0 2775 3
/srv/nodes/null2 1:3 666
/srv/nodes/blk2 8:1 660
file
/no/such/target
fifo
rt-host"
	[ "$out" = "$want" ] || { echo "inside the distribution:"; echo "$want" >"$S/want"; echo "$out" | diff "$S/want" -; return 1; }
	# Then out again, as tar: the same tree, byte for byte, xattrs included, besides what lsl itself puts on
	# a distribution's disk as WSL does (/mnt/c's mount point, /usr/bin/wslpath): the host share's mount point
	# and the links to lslpath, lsl-host and xdg-open.
	lsl --export rt "$S/rt-out.tar" || return 1
	python3 "$here/treediff.py" "$S/rt.tar.gz" "$S/rt-out.tar" "${lsl_made[@]}"
}
lsl_made=(--ignore mnt/host)
for tool in lslpath lsl-host xdg-open; do lsl_made+=(--ignore "usr/bin/$tool" --ignore "bin/$tool"); done
export_formats() {
	rt_ready || return 1
	local f
	for f in tar.gz tar.xz tar.zst; do
		lsl --export rt "$S/out.$f" || return 1
		python3 "$here/treediff.py" "$S/rt.tar.gz" "$S/out.$f" "${lsl_made[@]}" >/dev/null || { echo "export as $f differs"; return 1; }
		lsl --import "rt-$f" "$S/d/rt-$f" "$S/out.$f" || return 1
		[ "$(lsl -d "rt-$f" -e cat /home/u/file)" = hello ] || { echo "re-import of $f"; return 1; }
		lsl --unregister "rt-$f" || return 1
	done
	# To stdout, and from stdin.
	lsl --export rt - --format tar.zst | lsl --import rt-pipe "$S/d/rt-pipe" - || return 1
	[ "$(lsl -d rt-pipe -e stat -c %u:%a /home/u/file)" = 1000:640 ] || { echo "pipe round trip"; return 1; }
	lsl --unregister rt-pipe
}
wsl_file() {
	# A .wsl file: a tar.gz with /etc/wsl-distribution.conf, whose OOBE command runs once, on the first launch
	# of an interactive shell (items 15 and 16 of issue 12: wsl.exe's rules). The file is read as WSL reads it:
	# quotes are removed wherever they are, so the ones the command needs are escaped.
	mktar "$S/w.wsl" --distribution-conf '[oobe]
command = /bin/sh -c \"echo ran >> /root/oobe-runs\"
defaultUid = 1000
defaultName = Test
[shortcut]
icon = /usr/share/icon.ico' || return 1
	lsl --install --from-file "$S/w.wsl" --name w --location "$S/d/w" --no-launch || return 1
	# A launch with a command runs no first-run setup: root, as in WSL until the setup is done.
	[ "$(lsl -d w -e id -u)" = 0 ] || { echo "default user before the first shell: $(lsl -d w -e id -u)"; return 1; }
	lsl -d w -e test ! -e /root/oobe-runs || { echo "the first-run setup ran for a command"; return 1; }
	# The first interactive shells, two at once: the setup runs once, then defaultUid is the default user.
	local a b out
	lsl -d w </dev/null >/dev/null 2>"$S/oobe-a" &
	a=$!
	lsl -d w </dev/null >/dev/null 2>"$S/oobe-b" &
	b=$!
	wait $a && wait $b || { echo "a first launch failed: $(cat "$S/oobe-a" "$S/oobe-b")"; return 1; }
	lsl -d w </dev/null >/dev/null || return 1
	out=$(lsl -d w -u root -e cat /root/oobe-runs)
	[ "$out" = ran ] || { echo "OOBE ran: '$out'"; return 1; }
	[ "$(lsl -d w -e id -u)" = 1000 ] || { echo "the default user is not defaultUid 1000"; return 1; }
	[ "$(lsl -d w -u root -e id -u)" = 0 ] || return 1
	# Item 11: a registered default user that no longer exists: root, with one line.
	lsl -d w -u root -e sed -i '/^u:/d' /etc/passwd && lsl --terminate w || return 1
	out=$(lsl -d w -e id -u 2>"$S/err") && [ "$out" = 0 ] || { echo "without user 1000: '$out'"; return 1; }
	[ "$(cat "$S/err")" = "lsl: w: its default user '1000' does not exist in it; using root" ] ||
		{ echo "warning: $(cat "$S/err")"; return 1; }
	# --import of the same file: no first-run setup at all.
	lsl --import wi "$S/d/wi" "$S/w.wsl" || return 1
	lsl -d wi </dev/null >/dev/null || return 1
	[ "$(lsl -d wi -e sh -c 'test ! -e /root/oobe-runs && id -u')" = 0 ] || { echo "--import ran the setup"; return 1; }
	lsl --unregister wi || return 1
	# Without --name the distribution is called what its wsl-distribution.conf says, as with wsl.exe, and the
	# install launches that one (not the default): its first-run setup runs there.
	out=$(lsl --install --from-file "$S/w.wsl" --location "$S/d/w-named" </dev/null 2>&1) || { echo "install: $out"; return 1; }
	registered Test || { echo "not registered as its defaultName Test: $(lsl -l -q)"; return 1; }
	[ "$(lsl -d Test -u root -e cat /root/oobe-runs)" = ran ] || { echo "the install did not launch Test"; return 1; }
	[ "$(lsl -d w -u root -e cat /root/oobe-runs)" = ran ] || { echo "w's setup ran again"; return 1; }
	lsl --unregister Test || return 1
	mktar "$S/plain.tar.gz" || return 1
	expect_rc 2 lsl --install --from-file "$S/plain.tar.gz" --location "$S/d/plain" || return 1
	nothing_left plain "$S/d/plain"
}
# Item 13: an export holds its distribution: another export, -t, --unregister and --manage of it are refused
# with one line while it runs (it is kept running by a reader that takes nothing until then), and work after.
export_exclusive() {
	rt_tar || return 1
	registered ex || lsl --import ex "$S/d/ex" "$S/rt.tar.gz" || return 1
	lsl -d ex -e sh -c 'head -c 64000000 /dev/urandom >/big' || return 1
	rm -f "$S/ex-go" # the reader takes nothing until it exists, so the export holds ex until the refusals are checked
	lsl --export ex - | { while [ ! -e "$S/ex-go" ]; do sleep 0.2; done; cat >/dev/null; } &
	local pid=$! i cmd xpid=
	# Until that export holds ex: its own pid in a hold file (rt's, from an earlier export, says "export" too).
	for ((i = 0; i < 150; i++)); do
		xpid=${xpid:-$(pgrep -f -x -- "$L --export ex -" | head -n1)}
		[ -n "$xpid" ] && grep -qsx "export $xpid" "$XDG_STATE_HOME"/lsl/locks/*.hold && break
		sleep 0.2
	done
	[ "$i" -lt 150 ] || { echo "the first export did not take its hold in 30 s"; kill $pid; return 1; }
	for cmd in "--export ex $S/ex2.tar" "--terminate ex" "--unregister ex" "--manage ex --resize 3GB"; do
		# shellcheck disable=SC2086 # the words of cmd
		expect_rc 8 lsl $cmd 2>"$S/err" || { kill $pid; return 1; }
		[ "$(wc -l <"$S/err")" = 1 ] && grep -q 'ex is being exported' "$S/err" || { echo "$cmd: $(cat "$S/err")"; kill $pid; return 1; }
	done
	touch "$S/ex-go"
	[ ! -e "$S/ex2.tar" ] && [ ! -e "$S/ex2.tar.lsl-partial" ] || { echo "the refused export left a file"; return 1; }
	wait $pid || { echo "the export that held it failed"; return 1; }
	lsl --terminate ex && lsl --unregister ex && ! registered ex
}
serve_http() { # dir: an HTTP server on 127.0.0.1 serving dir; sets port
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	python3 -m http.server --bind 127.0.0.1 --directory "$1" "$port" >"$S/http.log" 2>&1 &
	http_pid=$!
	local i
	for ((i = 0; i < 50; i++)); do
		python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "the HTTP server did not start"
	return 1
}
install_http() {
	mkdir -p "$S/www"
	mktar "$S/www/good.tar.xz" --format xz --hostname good-host || return 1
	local sum
	sum=$(sha256sum "$S/www/good.tar.xz" | cut -d' ' -f1)
	serve_http "$S/www" || return 1
	cat >"$S/catalog.json" <<JSON
{"distributions": [
 {"name": "good", "friendlyName": "Good test", "default": true,
  "download": {"amd64": {"url": "http://127.0.0.1:$port/good.tar.xz", "sha256": "$sum"}}},
 {"name": "badsum", "friendlyName": "Wrong checksum",
  "download": {"amd64": {"url": "http://127.0.0.1:$port/good.tar.xz", "sha256": "$(printf '0%.0s' {1..64})"}}},
 {"name": "missing",
  "download": {"amd64": {"url": "http://127.0.0.1:$port/nope.tar.gz", "sha256": "$(printf '1%.0s' {1..64})"}}}
]}
JSON
	printf '[wsl2]\ncatalog = %s\nnoSuchKey = 1\n' "$S/catalog.json" >"$HOME/.lslconfig"
	lsl --list --online 2>"$S/warn" >"$S/online" && grep -q 'Good test' "$S/online" || { echo "--list --online"; return 1; }
	# An entry without a friendly name shows its name there.
	grep -q '^  missing  *missing$' "$S/online" || { echo "--list --online: $(cat "$S/online")"; return 1; }
	grep -q "noSuchKey" "$S/warn" || { echo "no warning for an unknown config key: $(cat "$S/warn")"; return 1; }
	printf '[wsl2]\ncatalog = %s\n' "$S/catalog.json" >"$HOME/.lslconfig"
	lsl --install good --location "$S/d/good" --no-launch 2>/dev/null || return 1
	[ "$(lsl -d good -e hostname)" = good-host ] || return 1
	# A name taken already is refused at once, before anything is fetched again.
	rm -f "$XDG_CACHE_HOME/lsl/downloads/$sum" || return 1
	expect_rc 4 lsl --install good --location "$S/d/good2" --no-launch 2>"$S/err" || return 1
	[ "$(cat "$S/err")" = "lsl: a distribution named 'good' already exists" ] && [ ! -e "$XDG_CACHE_HOME/lsl/downloads/$sum" ] ||
		{ echo "--install of a taken name: '$(cat "$S/err")'; $(ls "$XDG_CACHE_HOME/lsl/downloads")"; return 1; }
	expect_rc 6 lsl --install badsum --location "$S/d/badsum" --no-launch 2>"$S/err" || return 1
	# Its progress line ("downloading ...") and one error line.
	[ "$(grep -c '^lsl: cannot' "$S/err")" = 1 ] && grep -q sha256 "$S/err" || { echo "error: $(cat "$S/err")"; return 1; }
	nothing_left badsum "$S/d/badsum" || return 1
	! ls "$XDG_CACHE_HOME"/lsl/downloads/* 2>/dev/null | grep -v "/$sum\$" || { echo "a stray download is left"; return 1; }
	expect_rc 7 lsl --install missing --location "$S/d/missing" --no-launch 2>"$S/err" || return 1
	nothing_left missing "$S/d/missing" || return 1
	expect_rc 3 lsl --install no-such-distro --no-launch 2>/dev/null
}
corrupt_archives() {
	rt_tar || return 1
	head -c 300000 "$S/rt.tar.gz" >"$S/trunc.tar.gz"
	expect_rc 5 lsl --import trunc "$S/d/trunc" "$S/trunc.tar.gz" 2>"$S/err" || return 1
	[ "$(wc -l <"$S/err")" = 1 ] || { echo "more than one error line: $(cat "$S/err")"; return 1; }
	nothing_left trunc "$S/d/trunc" || return 1
	head -c 100000 /dev/urandom >"$S/junk.tar"
	expect_rc 5 lsl --import junk "$S/d/junk" "$S/junk.tar" 2>/dev/null || return 1
	nothing_left junk "$S/d/junk" || return 1
	# A gzip stream whose middle is garbage.
	{ head -c 20000 "$S/rt.tar.gz"; head -c 20000 /dev/urandom; tail -c +40001 "$S/rt.tar.gz"; } >"$S/mangled.tar.gz"
	expect_rc 5 lsl --import mangled "$S/d/mangled" "$S/mangled.tar.gz" 2>/dev/null || return 1
	nothing_left mangled "$S/d/mangled" || return 1
	expect_rc 5 lsl --import notext4 "$S/d/notext4" "$S/junk.tar" --vhd 2>/dev/null || return 1
	expect_rc 3 lsl --import nofile "$S/d/nofile" "$S/does-not-exist.tar" 2>/dev/null || return 1
	nothing_left nofile "$S/d/nofile"
}
name_collisions() {
	rt_ready || return 1
	expect_rc 4 lsl --import rt "$S/d/rt2" "$S/rt.tar.gz" 2>/dev/null || return 1
	expect_rc 4 lsl --import RT "$S/d/rt3" "$S/rt.tar.gz" 2>/dev/null || return 1 # names are case-insensitive
	expect_rc 4 lsl --import other "$S/d/rt" "$S/rt.tar.gz" 2>/dev/null || return 1 # rt's disk is there
	[ -f "$S/d/rt/ext4.img" ] || { echo "the collision touched rt's disk"; return 1; }
	expect_rc 2 lsl --import "bad/name" "$S/d/x" "$S/rt.tar.gz" 2>/dev/null || return 1
	expect_rc 2 lsl --import onlyname 2>/dev/null || return 1
	expect_rc 3 lsl --unregister no-such 2>/dev/null || return 1
	expect_rc 255 lsl -d no-such -e true 2>/dev/null
}
two_at_once() {
	mktar "$S/a.tar.gz" --hostname host-a && mktar "$S/b.tar" --format tar --hostname host-b || return 1
	lsl --import a "$S/d/a" "$S/a.tar.gz" && lsl --import b "$S/d/b" "$S/b.tar" || return 1
	# A long-running process in a, then b starts: both run, each with its own hostname and PID 1.
	lsl -d a -e sh -c 'sleep 300 </dev/null >/dev/null 2>&1 & echo $! > /run/sleeper' || return 1
	[ "$(lsl -d a -e hostname)" = host-a ] && [ "$(lsl -d b -e hostname)" = host-b ] || { echo "hostnames"; return 1; }
	[ "$(lsl -d a -e sh -c 'cat /proc/1/comm; ps | grep -c "[s]leep 300"')" = "$(printf 'init\n1')" ] ||
		{ echo "a's PID 1 or sleeper: $(lsl -d a -e ps)"; return 1; }
	lsl -d b -e sh -c '! ps | grep -q "[s]leep 300"' || { echo "b sees a's processes"; return 1; }
	lsl --list --verbose >"$S/l" || return 1
	grep -Eq '^[* ] +a +Running' "$S/l" && grep -Eq '^[* ] +b +Running' "$S/l" || { echo "list: $(cat "$S/l")"; return 1; }
	lsl --terminate b || return 1
	lsl --list --verbose | grep -Eq '^[* ] +b +Stopped' || { echo "b is not Stopped after -t"; return 1; }
	lsl -d a -e sh -c 'kill -0 $(cat /run/sleeper)' || { echo "terminating b disturbed a"; return 1; }
	lsl --list --running --quiet >"$S/l" || return 1
	grep -qx a "$S/l" && ! grep -qx b "$S/l" || { echo "running: $(cat "$S/l")"; return 1; }
	# Files are shared through /mnt/lsl, and b comes back when used again.
	lsl -d a -e sh -c 'echo from-a > /mnt/lsl/x' && [ "$(lsl -d b -e cat /mnt/lsl/x)" = from-a ] ||
		{ echo "/mnt/lsl is not shared"; return 1; }
}
own_agent() {
	# A running distribution's commands are forked by its own init's session processes (no namespace join
	# per command); a port record that is stale or missing falls back to the system agent, never to the
	# wrong distribution.
	ready a a.tar.gz --hostname host-a && ready b b.tar --format tar --hostname host-b || return 1
	lsl -d a -e true && lsl -d b -e true || return 1
	local run=$XDG_RUNTIME_DIR/lsl/distros pa pb out
	pa=$(sed -n 2p "$run/a.run") && pb=$(sed -n 2p "$run/b.run") || return 1
	[ -n "$pa" ] && [ -n "$pb" ] && [ "$pa" != 0 ] && [ "$pa" != "$pb" ] || { echo "ports: a=$pa b=$pb"; return 1; }
	out=$(lsl -d a -e sh -c 'echo $(cat /proc/$PPID/comm) $(cut -d" " -f4 /proc/$PPID/stat)') || return 1
	[ "$out" = "lsl-session 1" ] || { echo "the command's parent (comm, its parent): $out"; return 1; }
	out=$(lsl -d a -e sh -c 'tr -d "\\0" </proc/1/cmdline') || return 1
	[ "$out" = init ] || { echo "PID 1's command line: $out"; return 1; }
	printf '\n%s\n' "$pb" >"$run/a.run"
	[ "$(lsl -d a -e hostname)" = host-a ] || { echo "with b's port in a's record"; return 1; }
	rm "$run/a.run"
	[ "$(lsl -d a -e hostname)" = host-a ] || { echo "without a record"; return 1; }
	lsl --terminate b || return 1
	printf '\n%s\n' "$pb" >"$run/a.run"
	[ "$(lsl -d a -e hostname)" = host-a ] || { echo "with a port nobody listens on"; return 1; }
	[ "$(lsl -d b -e hostname)" = host-b ] || { echo "b after -t"; return 1; }
}
disk_space_returns() {
	# Deleting a gigabyte gives it back to the host without an fstrim: the disk is mounted with discard, and
	# virtio-blk punches the discarded ranges out of the image at the next journal commit.
	ready a a.tar.gz --hostname host-a || return 1
	local img=$S/d/a/ext4.img before grown after i
	lsl -d a -e sync || return 1
	before=$(du -k "$img" | cut -f1)
	lsl -d a -e sh -c 'head -c 1073741824 /dev/zero > /big && sync' || return 1
	grown=$(du -k "$img" | cut -f1)
	lsl -d a -e rm /big || return 1
	for i in $(seq 40); do
		after=$(du -k "$img" | cut -f1)
		[ "$after" -le $((grown - 943718)) ] && break
		sleep 0.5
	done
	echo "    image: ${before} KiB, ${grown} KiB with 1 GiB written, ${after} KiB $((i / 2)) s after the delete" >&9
	[ "$grown" -gt $((before + 1000000)) ] || { echo "the write did not reach the image"; return 1; }
	[ "$after" -le $((grown - 943718)) ] || { echo "less than 0.9 GiB came back in 20 s"; return 1; }
}
disk_held_after_stop() {
	# A process outside the distribution that joined its mounts keeps its file system alive after its init
	# is gone. The disk must not be taken out of the VM under it: --terminate says so and fails; once the
	# holder is gone, the distribution starts and stops as usual, its data intact.
	ready a a.tar.gz --hostname host-a || return 1
	lsl -d a -e sh -c 'echo kept > /kept' || return 1
	local init
	init=$(lsl --system -e cut -d' ' -f1 /run/lsl/distros/a/init) && [ -n "$init" ] || { echo "a's init: $init"; return 1; }
	lsl --system -e sh -c "setsid nsenter -t $init -m -r /bin/sleep 300 </dev/null >/dev/null 2>&1 & echo \$! > /run/holder" || return 1
	expect_rc 255 lsl --terminate a 2>"$S/err" || return 1
	grep -q 'busy' "$S/err" || { echo "the error: $(cat "$S/err")"; return 1; }
	lsl --system -e sh -c 'kill $(cat /run/holder)' || return 1
	[ "$(lsl -d a -e cat /kept)" = kept ] || { echo "after the failed stop"; return 1; }
	lsl --terminate a || return 1
	[ "$(lsl -d a -e cat /kept)" = kept ] || { echo "after the stop"; return 1; }
}
manage_and_list() {
	rt_ready || return 1
	lsl --manage rt --set-default-user u || return 1
	# wsl.conf's [user] default would win; rt's has none.
	[ "$(lsl -d rt -e id -un)" = u ] || { echo "default user: $(lsl -d rt -e id -un)"; return 1; }
	lsl --set-default rt || return 1
	lsl --list --verbose | grep -Eq '^\* +rt ' || { echo "rt is not the default: $(lsl -l -v)"; return 1; }
	[ "$(lsl -e hostname)" = rt-host ] || return 1
	# Down to 2 GB, then up by one: the file and the file system follow (df shows less: the journal stays).
	local kb kb2
	lsl --manage rt --resize 2GB || return 1
	[ "$(stat -c %s "$S/d/rt/ext4.img")" = $((2 << 30)) ] || { echo "image size after --resize 2GB"; return 1; }
	kb=$(lsl -d rt -e df -k / | awk 'NR==2 {print $2}')
	lsl --manage rt --resize 3GB || return 1
	kb2=$(lsl -d rt -e df -k / | awk 'NR==2 {print $2}')
	[ $((kb2 - kb)) -gt 1000000 ] && [ $((kb2 - kb)) -lt 1100000 ] || { echo "df: $kb KiB at 2GB, $kb2 KiB at 3GB"; return 1; }
	expect_rc 2 lsl --manage rt --resize lots 2>/dev/null || return 1
	# Below what its files use: refused in one line, the disk as it was.
	expect_rc 9 lsl --manage rt --resize 16MB 2>"$S/err" || return 1
	[ "$(wc -l <"$S/err")" = 1 ] && grep -q 'too small' "$S/err" || { echo "shrink refusal: $(cat "$S/err")"; return 1; }
	[ "$(stat -c %s "$S/d/rt/ext4.img")" = $((3 << 30)) ] || { echo "image size after a refused shrink"; return 1; }
	[ "$(lsl -d rt -u root -e cat /home/u/file)" = hello ] || { echo "rt after a refused shrink"; return 1; }
	lsl --manage rt --move "$S/moved/rt" || return 1
	[ -f "$S/moved/rt/ext4.img" ] && [ ! -e "$S/d/rt/ext4.img" ] || { echo "not moved"; return 1; }
	[ "$(lsl -d rt -u root -e cat /home/u/file)" = hello ] || return 1
	lsl --unregister rt || return 1
	! registered rt && [ ! -e "$S/moved/rt" ] || { echo "unregister left $(ls "$S/moved")"; return 1; }
}
private_files() {
	# Other local users read nothing of a distribution: the state directory and a distribution's directory 0700,
	# its disk, the registry, the logs and every export 0600, whatever the umask. A state directory an older lsl
	# left 0755 is made private on the next run, without a word.
	umask 022
	rt_ready || return 1
	local st=$XDG_STATE_HOME/lsl f m
	lsl -d rt -e true || return 1
	lsl --export rt "$S/priv.tar" && lsl --export rt "$S/priv.img" --vhd || return 1
	lsl --install --from-file "$S/rt.tar.gz" --name priv --no-launch || return 1 # the default place: $st/distros
	for f in "$st" "$S/d/rt" "$st/distros/priv"; do
		m=$(stat -c %a "$f") && [ "$m" = 700 ] || { echo "$f has mode $m, not 700"; return 1; }
	done
	for f in "$S/d/rt/ext4.img" "$st/distros/priv/ext4.img" "$st/distros.json" "$st/service.log" "$st/console.log" \
		"$S/priv.tar" "$S/priv.img"; do
		m=$(stat -c %a "$f") && [ "$m" = 600 ] || { echo "$f has mode $m, not 600"; return 1; }
	done
	lsl --unregister priv || return 1
	chmod 755 "$st" && lsl --list >/dev/null 2>"$S/err" || return 1
	[ "$(stat -c %a "$st")" = 700 ] && [ ! -s "$S/err" ] || { echo "old state dir: $(stat -c %a "$st"), said: $(cat "$S/err")"; return 1; }
	# An export never writes through a symlink someone put where its partial file goes, and leaves it alone.
	ln -sf "$S/victim" "$S/sym.tar.lsl-partial"
	expect_rc 4 lsl --export rt "$S/sym.tar" 2>/dev/null || return 1
	[ ! -e "$S/victim" ] && [ -L "$S/sym.tar.lsl-partial" ] && [ ! -e "$S/sym.tar" ] || { echo "the symlink was followed"; return 1; }
	rm -f "$S/sym.tar.lsl-partial"
	# --vhd to stdout is a usage error before anything happens: the running distribution keeps running.
	lsl -d rt -e true || return 1
	expect_rc 2 lsl --export rt - --vhd 2>/dev/null </dev/null || return 1
	lsl --list --verbose | grep -Eq '^[* ] +rt +Running' || { echo "rt was stopped by a refused --export --vhd -"; return 1; }
}
# WSL's --import-in-place: an ext4 image becomes a distribution where it lies (made 0600, not copied), runs,
# cannot be a second distribution's disk too, and --unregister deletes it (as WSL does) and nothing else.
import_in_place() {
	rt_ready || return 1
	local img=$S/inplace/disk.img ino
	mkdir -p "$S/inplace" && touch "$S/inplace/mine" && rm -f "$img" || return 1
	lsl --export rt "$img" --vhd && chmod 644 "$img" && ino=$(stat -c %i "$img") || return 1
	lsl --import-in-place ip "$img" || return 1
	[ "$(stat -c %a:%i "$img")" = "600:$ino" ] || { echo "the image is $(stat -c %a:%i "$img"), not 600:$ino (made private, not copied)"; return 1; }
	[ "$(lsl -d ip -e cat /etc/hostname)" = rt-host ] || { echo "ip does not run from its image"; return 1; }
	expect_rc 4 lsl --import-in-place ip2 "$S/inplace/../inplace/disk.img" 2>"$S/err" &&
		grep -q "is already the disk of ip" "$S/err" && ! registered ip2 || { echo "a second distribution on the image: $(cat "$S/err")"; return 1; }
	expect_rc 5 lsl --import-in-place ip3 "$S/inplace/mine" 2>/dev/null && ! registered ip3 || return 1
	[ "$(stat -c %a "$S/inplace/mine")" != 600 ] || { echo "a refused file was made private"; return 1; }
	lsl --unregister ip || return 1
	[ ! -e "$img" ] && [ -e "$S/inplace/mine" ] || { echo "after --unregister: $(ls -la "$S/inplace")"; return 1; }
}
# Item 12 of issue 12: /mnt/lsl has shared mount propagation, as WSL's /mnt/wsl: a mount made under it in one
# distribution shows in the others, also in one started later, and stopping one does not take it away.
mnt_lsl_propagation() {
	ready a a.tar.gz --hostname host-a && ready b b.tar --format tar --hostname host-b || return 1
	lsl -d a -e true && lsl -d b -e true || return 1
	lsl -d a -e sh -c 'mkdir -p /mnt/lsl/m && mount -t tmpfs m-of-a /mnt/lsl/m && echo from-a >/mnt/lsl/m/f' || return 1
	[ "$(lsl -d b -e cat /mnt/lsl/m/f 2>&1)" = from-a ] || { echo "b does not see a's mount: $(lsl -d b -e grep /mnt/lsl /proc/mounts)"; return 1; }
	lsl --terminate b && lsl --terminate a || return 1
	[ "$(lsl -d b -e cat /mnt/lsl/m/f 2>&1)" = from-a ] || { echo "gone with a: $(lsl -d b -e grep /mnt/lsl /proc/mounts)"; return 1; }
	lsl -d b -e umount /mnt/lsl/m || return 1
	[ "$(lsl -d a -e sh -c 'grep -c " /mnt/lsl/m " /proc/mounts')" = 0 ] || { echo "the unmount in b did not reach a"; return 1; }
}

# systemd as PID 1 (guest/distro/systemd.c), in Debian with systemd built on the host (tests/vm/mksystemd.sh).
sd_ready() {
	[ -s "${LSL_TEST_SYSTEMD_TAR:-}" ] || { echo "no systemd test distribution: LSL_TEST_SYSTEMD_TAR='${LSL_TEST_SYSTEMD_TAR:-}' (tests/vm/mksystemd.sh makes it)"; return 1; }
	registered sd || lsl --import sd "$S/d/sd" "$LSL_TEST_SYSTEMD_TAR"
}
processes_are() { # "NAME N": until lsl --status counts that for NAME (refreshed by the status before; the
	# line lists every running distribution: "sd 0, a 0")
	local i out
	for i in $(seq 20); do
		out=$(lsl --status | sed -n 's/^Processes: *//p')
		tr ',' '\n' <<<"$out" | sed 's/^ *//' | grep -qx "$1" && return 0
		sleep 1
	done
	echo "processes keeping the VM up: '$out', not '$1'; in the distribution: $(lsl -d sd -e ps -eo pid,comm,cgroup --no-headers | tr '\n' ';')"
	return 1
}
systemd_boot() {
	# On by default where the distribution has systemd: systemd is PID 1 and lsl waited until it was up.
	sd_ready || return 1
	local out t0 cold i
	t0=$(date +%s%N)
	out=$(lsl -d sd -e sh -c 'cat /proc/1/comm; systemctl is-system-running; systemd-detect-virt -c') || { echo "$out"; return 1; }
	cold=$((($(date +%s%N) - t0) / 1000000))
	local comm state virt
	{ read -r comm; read -r state; read -r virt; } <<<"$out"
	[ "$comm" = systemd ] || { echo "PID 1 is '$comm', not systemd"; return 1; }
	[ "$state" = running ] || [ "$state" = degraded ] || { echo "systemd is '$state' once lsl let the command run"; return 1; }
	[ "$virt" = container-other ] || { echo "systemd-detect-virt -c: '$virt'"; return 1; }
	# The units that would fight lsl are masked at runtime, the distribution's files untouched.
	out=$(lsl -d sd -e sh -c 'systemctl is-enabled systemd-timesyncd.service console-getty.service; find /etc -lname /dev/null | wc -l')
	[ "$out" = "masked-runtime
masked-runtime
0" ] || { echo "time sync and console getty, masked at runtime only: '$out'"; return 1; }
	[ "$state" = running ] || echo "    degraded, failed units: $(lsl -d sd -e systemctl --failed --plain --no-legend | tr '\n' ' ')" >&9
	# A user's commands get the user's manager, as a login through logind would: /run/user/UID, systemctl --user.
	lsl -d sd -e sh -c 'id u1 >/dev/null 2>&1 || useradd -m -u 1000 u1' || return 1
	out=$(lsl -d sd -u u1 -e sh -c 'echo "$XDG_RUNTIME_DIR"; systemctl --user is-system-running --wait') || true
	[ "$out" = "/run/user/1000
running" ] || [ "$out" = "/run/user/1000
degraded" ] || { echo "the user's manager: '$out'"; return 1; }
	# On a terminal, inside a logind session of its own, as a login's through pam_systemd: loginctl knows it
	# (on that pty), the command runs in its scope, and it ends with the command (the next command's is the
	# only one left). script(1) gives lsl a terminal, and echoes a ^@ of its own first.
	on_tty() { script -qec "$L $*" /dev/null </dev/null | tr -d '\r' | sed 's/^\^@//'; }
	out=$(on_tty "-d sd -u u1 -e sh -c 'echo \$XDG_SESSION_CLASS \$XDG_SESSION_TYPE; loginctl show-session \$XDG_SESSION_ID -p Name -p Service -p State -p TTY -p Type | LC_ALL=C sort | tr \"\\n\" \" \"; echo; tty; grep -c /user-1000.slice/session-\$XDG_SESSION_ID.scope\$ /proc/self/cgroup'") || true
	[[ "$out" =~ ^"user tty"$'\n'"Name=u1 Service=lsl State=active TTY=pts/"([0-9]+)" Type=tty "$'\n'"/dev/pts/"([0-9]+)$'\n'1$ ]] &&
		[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] || { echo "the logind session of a command on a terminal: '$out'"; return 1; }
	out=$(on_tty "-d sd -u u1 -e sh -c 'for i in \$(seq 50); do [ \$(loginctl list-sessions --no-legend | wc -l) = 1 ] && break; sleep 0.2; done; loginctl list-sessions --no-legend | wc -l'") || true
	[ "$out" = 1 ] || { echo "sessions once the last command ended: '$out' (not 1)"; return 1; }
	# Without a terminal (a script's command): the user's manager, no session (spawn.c says why).
	out=$(lsl -d sd -u u1 -e sh -c 'echo "${XDG_SESSION_ID:-none} $XDG_RUNTIME_DIR"') && [ "$out" = "none /run/user/1000" ] ||
		{ echo "a command without a terminal: '$out'"; return 1; }
	# What a session costs a command (measured, not a limit): warm, on a terminal (a session each) and not.
	local t_tty t_user t_root
	t0=$(date +%s%N) && on_tty -d sd -u u1 -e true >/dev/null && t_tty=$((($(date +%s%N) - t0) / 1000000)) || return 1
	t0=$(date +%s%N) && lsl -d sd -u u1 -e true && t_user=$((($(date +%s%N) - t0) / 1000000)) || return 1
	t0=$(date +%s%N) && lsl -d sd -e true && t_root=$((($(date +%s%N) - t0) / 1000000)) || return 1
	echo "    warm lsl -e true as a user in the systemd distribution: ${t_tty} ms on a terminal (a logind session), ${t_user} ms without; root ${t_root} ms" >&9
	# What keeps the VM up (idle stop): not systemd's machinery nor a user's manager; a service it runs, yes.
	processes_are 'sd 0' || return 1
	lsl -d sd -e systemd-run --quiet --unit=lslbusy sleep 300 || return 1
	processes_are 'sd 1' || return 1
	status_says '^Idle stop: *not while these run: \(.*, \)\?sd (lslbusy\.service)' || return 1
	lsl -d sd -e systemctl stop lslbusy || return 1
	# A unit enabled in the distribution starts at its next boot; its output is in the journal; a timer fires.
	lsl -d sd -e sh -c 'printf "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/echo lsl-unit-ran\nExecStop=/bin/touch /var/lib/lsltest-stopped\n[Install]\nWantedBy=multi-user.target\n" >/etc/systemd/system/lsltest.service &&
		printf "[Service]\nType=oneshot\nExecStart=/bin/touch /run/lsl-timer-fired\n" >/etc/systemd/system/lsltick.service &&
		printf "[Timer]\nOnActiveSec=2s\nAccuracySec=100ms\n[Install]\nWantedBy=timers.target\n" >/etc/systemd/system/lsltick.timer &&
		systemctl enable lsltest.service lsltick.timer 2>/dev/null' || return 1
	t0=$(date +%s%N)
	expect_rc 0 lsl -t sd || return 1
	local stop=$((($(date +%s%N) - t0) / 1000000))
	out=$(lsl -d sd -e sh -c 'rm -f /var/lib/lsltest-stopped; systemctl is-active lsltest.service; journalctl -b -u lsltest.service -o cat | grep -c lsl-unit-ran;
		for i in $(seq 100); do [ -e /run/lsl-timer-fired ] && break; sleep 0.2; done; ls /run/lsl-timer-fired') || { echo "$out"; return 1; }
	[ "$out" = "active
1
/run/lsl-timer-fired" ] || { echo "enabled unit, journal, timer: '$out'"; return 1; }
	# The VM's shutdown with systemd running stops it cleanly too: the next mount replays no journal.
	t0=$(date +%s%N)
	expect_rc 0 lsl --shutdown || return 1
	for i in $(seq 120); do pgrep -f "lsl-vmm --service $XDG_RUNTIME_DIR/lsl" >/dev/null || break; sleep 0.5; done
	local down=$((($(date +%s%N) - t0) / 1000000))
	out=$(lsl -d sd -e ls /var/lib/lsltest-stopped && lsl --system -e sh -c 'dmesg | grep -c "recovery complete"')
	[ "$out" = "/var/lib/lsltest-stopped
0" ] || { echo "after lsl --shutdown, the unit's stop and the disk's journal replays: '$out'"; return 1; }
	echo "    systemd: cold start to a command ${cold} ms (state ${state}); lsl -t with systemd running ${stop} ms, lsl --shutdown ${down} ms" >&9
	# [boot] initTimeout (WSL's, milliseconds): the command runs once it is over, boot done or not, and the
	# warning names what is still starting (under emulation this boot takes longer than a second).
	lsl -d sd -e sh -c 'printf "[boot]\ninitTimeout=1000\n" >/etc/wsl.conf' && expect_rc 0 lsl -t sd || return 1
	# (Its state then, if systemd listens yet.)
	out=$(lsl -d sd -e sh -c 'systemctl is-system-running 2>/dev/null' 2>"$S/err")
	case $out in
	running | degraded) [ ! -s "$S/err" ] ;;
	*) grep -Eqx "lsl: sd: systemd is still (starting|initializing) after 1 s( \(starting [^)]+\))?; going on" "$S/err" ;;
	esac || { echo "initTimeout=1000: '$out'; $(cat "$S/err")"; return 1; }
	echo "    systemd with initTimeout=1000: $out; $(cat "$S/err")" >&9
	# Sessions that join it from outside (through the system's agent, as past the distributions with an agent
	# of their own) take its [filesystem] umask, not systemd's: lsl-distro started by hand without a port,
	# and initTimeout 0 (no wait at all).
	lsl --system -e sh -c 'dev=$(awk "\$2 == \"/run/lsl/distros/sd/root\" {print \$1}" /proc/mounts)
		serial=$(cat "/sys/block/${dev#/dev/}/serial") && lsl-distro stop sd >&2 &&
		lsl-distro mount sd "$serial" >/dev/null && lsl-distro start sd umask=0077 inittimeout=0' || return 1
	out=$(lsl -d sd -e sh -c 'cat /proc/1/comm; umask')
	[ "$out" = "systemd
0077" ] || { echo "joined from outside with umask=0077: '$out'"; return 1; }
	# [boot] systemd=false: lsl's own init, as before.
	lsl -d sd -e sh -c 'printf "[boot]\nsystemd=false\n" >/etc/wsl.conf' && expect_rc 0 lsl -t sd || return 1
	t0=$(date +%s%N)
	out=$(lsl -d sd -e cat /proc/1/comm) || return 1
	echo "    without systemd: cold start to a command $((($(date +%s%N) - t0) / 1000000)) ms" >&9
	[ "$out" = init ] || { echo "systemd=false: PID 1 is '$out'"; return 1; }
	lsl -d sd -e rm /etc/wsl.conf && expect_rc 0 lsl -t sd
}

# [boot] keepAlive: a distribution that keeps the VM up with nothing running in it, or whose processes never do.
status_says() { # grep-pattern: until lsl --status shows it (each status asks the guest for a fresh count)
	local i out
	for i in $(seq 20); do
		out=$(lsl --status) && grep -q "$1" <<<"$out" && return 0
		sleep 1
	done
	echo "lsl --status never said '$1':"
	echo "$out"
	return 1
}
keep_alive() {
	rt_ready || return 1
	lsl -d rt -e sh -c 'printf "[boot]\nkeepAlive=true\n" >/etc/lsl.conf' && expect_rc 0 lsl -t rt || return 1
	lsl -d rt -e true || return 1
	status_says '^Processes:.*[ ,]rt 0 (keepAlive: keeps the VM up)' && status_says '^Idle stop: *not while these run: rt (keepAlive)$' || return 1
	# (No running distribution has Docker's socket: the host's path listens, and the status says so.)
	status_says "^Sockets: *$XDG_RUNTIME_DIR/lsl/docker.sock -> /run/docker.sock  listening; nothing there in the guest now" || return 1
	lsl -d rt -e sh -c 'printf "[boot]\nkeepAlive=false\n" >/etc/lsl.conf' && expect_rc 0 lsl -t rt || return 1
	lsl -d rt -e sh -c 'sleep 300 </dev/null >/dev/null 2>&1 &' || return 1
	status_says '^Processes:.*[ ,]rt 1 (keepAlive=false: not counted)' && status_says '^Idle stop: *in ' || return 1
	# Unset: what runs there keeps the VM up, and the status names it (the other distributions the suite
	# left running hold nothing).
	lsl -d rt -e rm /etc/lsl.conf && expect_rc 0 lsl -t rt || return 1
	lsl -d rt -e sh -c 'sleep 300 </dev/null >/dev/null 2>&1 &' || return 1
	status_says '^Idle stop: *not while these run: rt (sleep)$' || return 1
	expect_rc 0 lsl -t rt
}

# Docker in a distribution with systemd (Debian's docker.io), driven from inside and from the host's own
# docker client (docker.io's, kept beside the tar by mksystemd.sh) through the forwarded socket.
dk_ready() {
	[ -s "${LSL_TEST_DOCKER_TAR:-}" ] || { echo "no docker test distribution: LSL_TEST_DOCKER_TAR='${LSL_TEST_DOCKER_TAR:-}' (tests/vm/mksystemd.sh docker makes it)"; return 1; }
	registered dk || lsl --import dk "$S/d/dk" "$LSL_TEST_DOCKER_TAR"
}
# vm_gone [SECONDS]: waits (60 s by default) until this user's lsl-vmm is gone.
vm_gone() {
	local i
	for i in $(seq $((${1:-60} * 2))); do pgrep -f "lsl-vmm --service $XDG_RUNTIME_DIR/lsl" >/dev/null || return 0; sleep 0.5; done
	return 1
}
docker_host() {
	local out t0 i sock=$XDG_RUNTIME_DIR/lsl/docker.sock docker=${LSL_TEST_DOCKER_TAR}-cli/docker
	# Its steps take minutes each under emulation: each says when it is done, on the runner's output, so
	# that the emulated host's stall watch (LSL_VMHOST_STALL, 400 s of silence) sees the test alive.
	t0=$(date +%s%N)
	dk_ready || return 1
	echo "    docker: the 416 MB distribution imported in $((($(date +%s%N) - t0) / 1000000)) ms" >&9
	# A tiny image made offline: busybox-static's binary and its links, through docker import.
	t0=$(date +%s%N)
	# Under emulation runc's first container takes minutes with Debian's packages of 12-06 (runc create ~70 s,
	# then the exit): a bound of 15 min, and a line every minute for the stall watch.
	(while sleep 60; do echo "    docker: first run still going ($((($(date +%s%N) - t0) / 1000000000)) s)" >&9; done) &
	local beat=$!
	out=$(LSL_BOUND_S=900 lsl -d dk -e sh -c 'set -e; mkdir -p /tmp/bb/bin /tmp/bb/www; cp /bin/busybox /tmp/bb/bin/
		for c in sh echo cat httpd; do ln -sf busybox /tmp/bb/bin/$c; done; echo hello-from-a-container >/tmp/bb/www/index.html
		tar -C /tmp/bb -c . | docker import - lslbb >/dev/null; docker run --rm lslbb echo ok' 2>"$S/err")
	local rc=$?
	kill $beat 2>/dev/null
	wait $beat 2>/dev/null
	[ $rc = 0 ] || { echo "docker in the distribution: $out; $(cat "$S/err")"; return 1; }
	[ "$out" = ok ] || { echo "docker run --rm lslbb echo ok: '$out'; $(cat "$S/err")"; return 1; }
	# Under emulation dockerd's start can outlast lsl's bound on systemd's boot (120 s): lsl then says what
	# is still starting and goes on, and docker.socket holds the client until dockerd answers. Anything
	# else on stderr is a failure.
	if [ -s "$S/err" ]; then
		grep -Evq "^lsl: dk: systemd is still (starting|initializing) after 120 s( \(starting [^)]+\))?; going on$" "$S/err" &&
			{ echo "what lsl said on the first run: '$(cat "$S/err")'"; return 1; }
		echo "    docker: $(cat "$S/err")" >&9
	fi
	echo "    docker: cold start with dockerd, image import and first run $((($(date +%s%N) - t0) / 1000000)) ms" >&9
	# The host's docker client through the forwarded socket, as a user's would: DOCKER_HOST at lsl's path.
	[ -S "$sock" ] || { echo "no socket at $sock: $(lsl --status | grep -A2 Sockets)"; return 1; }
	out=$(DOCKER_HOST=unix://$sock "$docker" images --format '{{.Repository}}' 2>&1) || { echo "host docker images: $out"; return 1; }
	grep -qx lslbb <<<"$out" || { echo "host docker images: '$out'"; return 1; }
	lsl --status | grep -q "^Sockets: *$sock -> /run/docker.sock  forwarded" || { echo "status: $(lsl --status)"; return 1; }
	# A published port: the container's server answers on the host's localhost (docker-proxy listens in
	# the VM; localhost forwarding takes it from there).
	out=$(DOCKER_HOST=unix://$sock "$docker" run -d --name lslweb -p 18080:80 lslbb httpd -f -p 80 -h /www 2>&1) || { echo "host docker run -p: $out"; return 1; }
	for i in $(seq 120); do
		out=$(curl -s --max-time 5 http://127.0.0.1:18080/) && [ "$out" = hello-from-a-container ] && break
		sleep 0.5
	done
	[ "$out" = hello-from-a-container ] || { echo "localhost:18080 from the host: '$out'; $(lsl --status | grep -A3 Ports)"; return 1; }
	DOCKER_HOST=unix://$sock "$docker" rm -f lslweb >/dev/null || return 1
	# The socket goes with the VM; a live socket at the path is never taken over.
	expect_rc 0 lsl --shutdown || return 1
	vm_gone || return 1
	[ ! -e "$sock" ] || { echo "$sock left after the VM stopped"; return 1; }
	# Socket wake (proto/wake.h): dockerd with no container does not keep the VM up; at the idle stop the
	# socket stays, held by lsl-wake, and the host's docker starts the VM and dk again (the idle timeout of
	# 5 s goes with the service's environment to the VM lsl-wake starts).
	LSL_VM_IDLE_TIMEOUT=5 lsl -d dk -e true || return 1
	vm_gone 360 || { echo "no idle stop with dockerd idle: $(lsl --status)"; return 1; }
	[ -S "$sock" ] && pgrep -x lsl-wake >/dev/null || { echo "after the idle stop: no $sock or no lsl-wake"; return 1; }
	lsl --status | grep -q "^Sockets: *$sock  waiting: a client starts the VM$" || { echo "status while down: $(lsl --status)"; return 1; }
	t0=$(date +%s%N)
	out=$(DOCKER_HOST=unix://$sock timeout 600 "$docker" images --format '{{.Repository}}' 2>&1) || { tail -n 12 "$XDG_STATE_HOME/lsl/service.log"; echo "host docker images on a stopped VM, after $((($(date +%s%N) - t0) / 1000000)) ms: $out"; return 1; }
	grep -qx lslbb <<<"$out" || { echo "host docker images on a stopped VM: '$out'"; return 1; }
	echo "    docker: host docker images with the VM stopped (wake, boot, dk's systemd, dockerd) $((($(date +%s%N) - t0) / 1000000)) ms" >&9
	t0=$(date +%s%N)
	DOCKER_HOST=unix://$sock "$docker" images >/dev/null || return 1
	echo "    docker: the same with the VM up $((($(date +%s%N) - t0) / 1000000)) ms" >&9
	! pgrep -x lsl-wake >/dev/null || { echo "lsl-wake still there after the VM started"; return 1; }
	# The woken VM idles out again (5 s); an lsl the user types takes the socket from lsl-wake as it starts
	# the VM; after the next idle stop --shutdown ends the wait: nothing is left.
	vm_gone 360 && [ -S "$sock" ] && pgrep -x lsl-wake >/dev/null || { echo "no second idle stop with lsl-wake"; return 1; }
	LSL_VM_IDLE_TIMEOUT=5 lsl -d dk -e true && ! pgrep -x lsl-wake >/dev/null || { echo "lsl -d dk did not take the socket from lsl-wake"; return 1; }
	out=$(DOCKER_HOST=unix://$sock timeout 600 "$docker" images --format '{{.Repository}}' 2>&1) && grep -qx lslbb <<<"$out" ||
		{ echo "host docker images after lsl took the socket over: $out"; return 1; }
	vm_gone 360 && [ -S "$sock" ] && pgrep -x lsl-wake >/dev/null || { echo "no third idle stop with lsl-wake"; return 1; }
	expect_rc 0 lsl --shutdown || return 1
	[ ! -e "$sock" ] && ! pgrep -x lsl-wake >/dev/null || { echo "after --shutdown: $(ls -l "$sock" 2>&1) $(pgrep -a lsl-wake)"; return 1; }
}

# Issue 17: a distribution with no user of its own gets one at its first launch of any kind: --user's name
# (by default the host user's; root, here, keeps root), the default user from then on, in the admin group
# with sudo without a password; the first launch's input is its command's. --no-user keeps root.
own_user() {
	[ -s "${LSL_TEST_SYSTEMD_TAR:-}" ] || { echo "no systemd test distribution (tests/vm/mksystemd.sh makes it)"; return 1; }
	rt_tar || return 1
	local out
	# Debian (shadow's useradd, sudo).
	lsl --import ou "$S/d/ou" "$LSL_TEST_SYSTEMD_TAR" --user alice || return 1
	# (Debian's useradd adds the group users too.)
	out=$(lsl -d ou -e sh -c 'id -un; id -Gn | tr " " "\n" | grep -x sudo; sudo -n id -u; getent passwd alice | cut -d: -f7' 2>"$S/err") || { echo "$out; $(cat "$S/err")"; return 1; }
	[ "$out" = "alice
sudo
0
/bin/bash" ] || { echo "the first launch as the new user: '$out'; $(cat "$S/err")"; return 1; }
	grep -Eqx "lsl: ou: made your user alice \(uid 1000, groups alice,sudo(,users)?, sudo without a password\); it is the default user" "$S/err" ||
		{ echo "what the first launch said: '$(cat "$S/err")'"; return 1; }
	out=$(lsl -d ou -e id -un 2>"$S/err") && [ "$out" = alice ] && [ ! -s "$S/err" ] || { echo "the second launch: '$out' '$(cat "$S/err")'"; return 1; }
	lsl --unregister ou || return 1
	# busybox's adduser, and a first launch whose input is its command's, started in a host directory: the
	# command starts in its place under /mnt/host, as every launch does (the setup's start is no excuse).
	# (A directory bob may enter: $S is root's alone.)
	local here
	lsl --import ob "$S/d/ob" "$S/rt.tar.gz" --user bob && here=$(mktemp -d /tmp/lsl-here.XXXXXX) && chmod 0755 "$here" || return 1
	out=$(cd "$here" && echo piped-in | lsl -d ob -e sh -c 'cat; id -un; pwd' 2>"$S/err")
	rmdir "$here"
	[ "$out" = "piped-in
bob
/mnt/host$here" ] || { echo "busybox, with input, in $here: '$out'; $(cat "$S/err")"; return 1; }
	# --no-user, and the host user root: root stays.
	lsl --import on "$S/d/on" "$S/rt.tar.gz" --no-user && lsl --import oh "$S/d/oh" "$S/rt.tar.gz" || return 1
	[ "$(lsl -d on -e id -u)" = 0 ] && [ "$(lsl -d oh -e id -u)" = 0 ] || { echo "--no-user or a root host user: not root"; return 1; }
	expect_rc 2 lsl --import ox "$S/d/ox" "$S/rt.tar.gz" --user Bob 2>/dev/null || return 1
	for out in ob on oh; do lsl --unregister $out || return 1; done
}

# ... and by default the host user's name (lowercased), as the owner its files have in the guest: lsl run by
# a user of no passwd entry here (uid 4321, USER=Zed) whose hostShareOwner is 4321:4321, with a home,
# runtime and state of its own, and /dev/kvm as its group gives it.
own_user_host() {
	rt_tar || return 1
	local h out kvm groups i
	h=$(mktemp -d /tmp/lsl-as4321.XXXXXX) && cp "$S/rt.tar.gz" "$LSL_KERNEL_DIR/vmlinux" "$h/" &&
		mkdir -p "$h/home" "$h/rt" "$h/state" "$h/cache" && printf '[lsl]\nhostShareOwner = 4321:4321\n' >"$h/home/.lslconfig" &&
		chown -R 4321:4321 "$h" && chmod 0711 "$h" || return 1
	# The emulated host's /dev/kvm is root's alone; elsewhere the kvm group opens it, as for any user.
	[ "${LSL_IN_VMHOST:-}" != 1 ] || chmod 0666 /dev/kvm
	kvm=$(getent group kvm | cut -d: -f3)
	groups=(--clear-groups)
	[ -z "$kvm" ] || groups=(--groups "$kvm")
	as4321() {
		(cd / && setpriv --reuid 4321 --regid 4321 "${groups[@]}" env HOME="$h/home" XDG_RUNTIME_DIR="$h/rt" \
			XDG_STATE_HOME="$h/state" XDG_CACHE_HOME="$h/cache" USER=Zed LSL_KERNEL="$h/vmlinux" timeout 300 "$L" "$@")
	}
	# as4321 --script DIR ARGS: lsl ARGS on a terminal of its own, its input this function's.
	as4321_script() {
		local dir=$1
		shift
		printf '%q ' "$L" "$@" >"$dir/cmd" && chmod 0644 "$dir/cmd" || return 1
		(cd / && setpriv --reuid 4321 --regid 4321 "${groups[@]}" env HOME="$h/home" XDG_RUNTIME_DIR="$h/rt" \
			XDG_STATE_HOME="$h/state" XDG_CACHE_HOME="$h/cache" USER=Zed LSL_KERNEL="$h/vmlinux" \
			timeout 300 script -qec "sh $dir/cmd" /dev/null)
	}
	# On a terminal (script(1)'s pty) --import asks the user's name (the host's, lower-cased, offered), as
	# WSL's first launch does: a name that is no Linux user name is asked again; the answer is the user the
	# first launch makes, with the host user's uid. (Without a terminal nothing is asked: not tested in a VM any more.)
	local asked asked_rc=0
	asked=$(printf 'Not A Name\nzoe\n' | as4321_script "$h" --import oz "$h/d" "$h/rt.tar.gz") &&
		out=$(as4321 -d oz -e sh -c 'id -un; id -u; id -g' 2>&1) || asked_rc=1
	# --install of a catalog entry lsl bootstraps asks first, not after minutes of mmdebstrap (which fails
	# here at once: no mirror answers, uid 4321 has no subordinate ids).
	local boot boot_rc=0
	printf '{"distributions": [{"name": "bs", "bootstrap": {"tool": "mmdebstrap", "suite": "bookworm", "mirror": "http://127.0.0.1:9/debian"}}]}\n' >"$h/catalog.json" &&
		printf '[wsl2]\ncatalog = %s\n' "$h/catalog.json" >>"$h/home/.lslconfig" && chown 4321:4321 "$h/catalog.json" || return 1
	boot=$(printf 'zoe\n' | as4321_script "$h" --install bs --no-launch) || boot_rc=$?
	as4321 --shutdown >/dev/null 2>&1
	for i in $(seq 60); do pgrep -f "lsl-vmm --service $h/rt/lsl" >/dev/null || break; sleep 0.5; done
	rm -rf "$h"
	asked=$(tr -d '\r' <<<"$asked")
	[ $asked_rc = 0 ] || { echo "--import on a terminal as uid 4321, then its first launch: '$asked' '$out'"; return 1; }
	# (The terminal's echo of the input may come before the questions: only their count and order checked.)
	[ "$(grep -Fo "lsl: oz: the name of your user in it (sudo without a password; Ctrl-C: none) [zed]: " <<<"$asked" | wc -l)" = 2 ] &&
		grep -Fq "[zed]: lsl: 'Not A Name' is no user name there: a-z or _ first, then a-z, 0-9, _ or -, at most 32" <<<"$asked" ||
		{ echo "the name question on a terminal (USER=Zed): '$asked'"; return 1; }
	[ "$out" = "lsl: oz: made your user zoe (uid 4321, groups zoe); it is the default user
zoe
4321
4321" ] || { echo "the first launch after answering zoe: '$out'"; return 1; }
	boot=$(tr -d '\r' <<<"$boot")
	local q b
	q=$(grep -Fbo "lsl: bs: the name of your user in it" <<<"$boot" | head -n 1 | cut -d: -f1)
	b=$(grep -Fbo "lsl: building bs" <<<"$boot" | head -n 1 | cut -d: -f1)
	[ "$boot_rc" != 0 ] && [ -n "$q" ] && [ -n "$b" ] && [ "$q" -lt "$b" ] ||
		{ echo "--install of a bootstrapped entry on a terminal (rc $boot_rc): the question must come before the build: '$boot'"; return 1; }
}

all_tests="import_export_roundtrip export_formats wsl_file install_http corrupt_archives name_collisions
two_at_once own_agent disk_space_returns disk_held_after_stop manage_and_list private_files import_in_place mnt_lsl_propagation export_exclusive
keep_alive systemd_boot own_user own_user_host docker_host"
run_suite "$@"
