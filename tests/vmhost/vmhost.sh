#!/usr/bin/env bash
# Run a test script as root inside an emulated KVM host, for machines whose /dev/kvm cannot run standard guests
# (PVM hosts, no vmx/svm; see scripts/kvm-usable.sh). The emulated host is QEMU TCG with an AMD CPU that has
# SVM and NPT, booting Debian's generic kernel, whose kvm_amd gives a /dev/kvm that runs unmodified guests.
#
#   tests/vmhost/vmhost.sh [--mem MB] [--cpus N] [--rw DIR]... [--net] SCRIPT [ARGS...]
#   (defaults: 4096 MB, 1 CPU or LSL_VMHOST_CPUS)
#
# Inside: this machine's / is the root, read-only over virtio-9p; /run, /tmp and /var/tmp are empty tmpfs;
# each --rw DIR is this machine's DIR, read-write, at the same path. `bash SCRIPT ARGS...` runs in the same
# working directory, with the variables LSL_*, CI, PATH, TERM and HOME passed in (plus LSL_IN_VMHOST=1,
# TMPDIR=/tmp; LSL_VMHOST is dropped, since /dev/kvm in there is usable). Its output streams to our stdout
# line by line; we exit with its status, 124 if LSL_VMHOST_TIMEOUT (default 1800) seconds pass first, 1 if the
# emulated host could not be set up or died. LSL_VMHOST_DEBUG=1 shows the guest kernel's messages too;
# LSL_VMHOST_APPEND adds to its kernel command line (module parameters as for modprobe: kvm_amd.npt=0).
# The read-only root is mounted with 9p cache=loose (10x faster exec and stat under TCG), so a file changed on
# this machine while the VM runs may look stale inside; LSL_VMHOST_ROOTCACHE=none makes it fully coherent.
# --rw exports are always uncached. --net gives the emulated host a network (QEMU's user-mode NAT: 10.0.2.15,
# DNS at 10.0.2.3), for jobs that show real internet use; tests run without it and stay offline.
#
# The kernel (from `apt-get download` of the package linux-image-amd64 points to) and a busybox initramfs with
# the needed modules are cached in ${LSL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lsl}/vmhost/, keyed by the
# kernel package version and this recipe, built under a lock into a temporary directory renamed into place.
set -euo pipefail
shopt -s nullglob

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=vmhost

# Modules for the initramfs: the required ones make 9p and /dev/kvm work; the optional ones are there for tests
# that use tap networking or vhost-vsock. Their dependencies are resolved with modinfo at build time.
required_modules="virtio_pci 9pnet_virtio 9p kvm_amd"
optional_modules="tun vhost_net vhost_vsock virtio_net"

die() { echo "$prog: $*" >&2; exit 1; }
usage() {
	sed -n 's/^#   //p' "${BASH_SOURCE[0]}" >&2
	exit "${1:-2}"
}

# --- arguments ---------------------------------------------------------------------------------------------
mem=4096
# One emulated CPU by default. With two, QEMU 7.2's multi-threaded TCG breaks the emulated host under nested
# guests within minutes of vsock traffic (measured with 64 MiB `lsl -- cat` loops: a guest vCPU spins, then
# the emulated kernel panics in exc_page_fault with a guest's GS base, 5 of 5 runs within 1-4 min; also the
# int3/jump-label livelock): cross-CPU code patching and IPIs race in the emulation. QEMU 10.0 (bookworm-
# backports) did no better: both CPUs halted for good within a minute. With one CPU: 99 iterations over
# 20 min, none. Guest-heavy work takes about twice as long; callers that want throughput run several emulated
# hosts side by side (tests/run.sh).
cpus=${LSL_VMHOST_CPUS:-1}
rw=()
net=0
while [ $# -gt 0 ]; do
	case $1 in
	--mem) [ $# -ge 2 ] || usage; mem=$2; shift 2 ;;
	--mem=*) mem=${1#*=}; shift ;;
	--cpus) [ $# -ge 2 ] || usage; cpus=$2; shift 2 ;;
	--cpus=*) cpus=${1#*=}; shift ;;
	--rw) [ $# -ge 2 ] || usage; rw+=("$2"); shift 2 ;;
	--rw=*) rw+=("${1#*=}"); shift ;;
	--net) net=1; shift ;;
	-h | --help) usage 0 ;;
	--) shift; break ;;
	-*) echo "$prog: unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
[[ $mem =~ ^[0-9]+$ ]] && [ "$mem" -ge 256 ] || die "--mem wants megabytes (at least 256), got '$mem'"
[[ $cpus =~ ^[0-9]+$ ]] && [ "$cpus" -ge 1 ] || die "--cpus (or LSL_VMHOST_CPUS) wants a positive number, got '$cpus'"
timeout_s=${LSL_VMHOST_TIMEOUT:-1800}
[[ $timeout_s =~ ^[0-9]+$ ]] && [ "$timeout_s" -ge 1 ] || die "LSL_VMHOST_TIMEOUT wants seconds, got '$timeout_s'"
rootcache=${LSL_VMHOST_ROOTCACHE:-loose}
case $rootcache in none | loose | mmap) ;; *) die "LSL_VMHOST_ROOTCACHE wants none, loose or mmap, got '$rootcache'" ;; esac
[ "${LSL_IN_VMHOST:-}" != 1 ] || die "already inside the emulated KVM host; run the script directly"

script=$(readlink -f -- "$1") || die "cannot resolve $1"
shift
[ -f "$script" ] && [ -r "$script" ] || die "no readable script $script"
cwd=$(pwd -P)
rw_paths=()
for d in "${rw[@]}"; do
	[ -d "$d" ] || die "--rw $d: not a directory"
	p=$(cd "$d" && pwd -P)
	[ "$p" != / ] || die "--rw /: share a directory, not the whole root"
	rw_paths+=("$p")
done
for p in "$script" "$cwd" "${rw_paths[@]}"; do
	[[ $p != *$'\n'* ]] || die "paths with newlines are not supported: $p"
done

# --- tools -------------------------------------------------------------------------------------------------
command -v qemu-system-x86_64 >/dev/null ||
	die "qemu-system-x86_64 not found: install the Debian package qemu-system-x86 (scripts/deps.sh does)"
[ "$(dpkg-query -W -f '${db:Status-Abbrev}' busybox-static 2>/dev/null)" = "ii " ] && [ -x /bin/busybox ] ||
	die "a static busybox is needed for the initramfs: install the Debian package busybox-static (scripts/deps.sh does)"
for t in modinfo:kmod cpio:cpio flock:util-linux timeout:coreutils; do
	command -v "${t%%:*}" >/dev/null || die "${t%%:*} not found: install the Debian package ${t#*:} (scripts/deps.sh does)"
done

# --- assets ------------------------------------------------------------------------------------------------
cache=${LSL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lsl}/vmhost
mkdir -p "$cache"
# Bump recipe_version when build_assets changes what it makes; init, the module lists and busybox count by content.
recipe_version=1
recipe=$( {
	echo "$recipe_version $required_modules / $optional_modules"
	cat "$here/init"
	/bin/busybox 2>&1 | sed -n 1p
} | sha256sum | cut -c1-12)
apt_opts=(-q)
[ "$(id -u)" = 0 ] && apt_opts+=(-o APT::Sandbox::User=root)

# Prints "PACKAGE VERSION" of the kernel image linux-image-amd64 depends on, from the local apt lists (one
# apt-cache call: each costs most of a second). The metapackage pins the image's version with "(= VERSION)".
kernel_package() {
	apt-cache show --no-all-versions linux-image-amd64 2>/dev/null | awk '
		/^Version:/ { meta = $2 }
		/^Depends:/ && match($0, /linux-image-[0-9][^ ,]*( \(= [^)]*\))?/) {
			n = split(substr($0, RSTART, RLENGTH), f, /[ ()=]+/)
			pkg = f[1]; ver = (n > 1 && f[2] != "") ? f[2] : ""
		}
		END { if (pkg == "") exit 1; print pkg, (ver != "" ? ver : meta) }'
}

# Lists "NAME required|optional" in load order, dependencies first, for modules under $1 (an extracted tree).
module_order() {
	local kdir=$1 f n
	declare -gA mod_path=() mod_seen=()
	while IFS= read -r f; do
		n=${f##*/}; n=${n%%.ko*}; n=${n//-/_}
		mod_path[$n]=$f
	done < <(find "$kdir" -name '*.ko*')
	visit() { # name need
		local n=$1 need=$2 d deps
		[ -z "${mod_seen[$n]:-}" ] || return 0
		if [ -z "${mod_path[$n]:-}" ]; then
			[ "$need" = optional ] && { echo "$prog: note: module $n not in this kernel, skipped" >&2; return 0; }
			grep -qE "/${n//_/[-_]}\.ko\$" "$kdir/../modules.builtin" 2>/dev/null && return 0
			die "kernel module $n not found in the kernel package"
		fi
		mod_seen[$n]=1
		deps=$(modinfo -F depends "${mod_path[$n]}") || die "modinfo failed on ${mod_path[$n]}"
		for d in ${deps//,/ }; do visit "${d//-/_}" "$need"; done
		echo "$n $need"
	}
	for n in $required_modules; do visit "$n" required; done
	for n in $optional_modules; do visit "$n" optional; done
}

# Downloads the kernel package into a new $cache/.build.* directory and prints its path; fails if offline.
fetch_kernel() { # pkg ver
	local work
	work=$(mktemp -d "$cache/.build.XXXXXX")
	echo "$prog: preparing the emulated host's kernel and initramfs from $1 $2 (once per kernel version)" >&2
	if ! (cd "$work" && apt-get download "${apt_opts[@]}" "$1=$2" >/dev/null); then
		rm -rf "$work"
		return 1
	fi
	echo "$work"
}

build_assets() { # work pkg dest
	local work=$1 pkg=$2 dest=$3 kdir vml n need f
	dpkg-deb -x "$work/${pkg}_"*.deb "$work/x"
	mkdir -p "$work/out" "$work/ir"/{bin,dev,proc,sys,mods,newroot,runinfo}
	vml=("$work/x/boot/vmlinuz-"*)
	[ ${#vml[@]} = 1 ] || die "expected one vmlinuz in $pkg, found ${#vml[@]}"
	cp "${vml[0]}" "$work/out/vmlinuz"
	kdir=("$work/x/lib/modules/"*/kernel)
	[ ${#kdir[@]} = 1 ] || die "expected one module tree in $pkg"
	module_order "${kdir[0]}" >"$work/ir/mods/order"
	while read -r n need; do
		f=${mod_path[$n]}
		case $f in
		*.ko) cp "$f" "$work/ir/mods/$n.ko" ;;
		*.ko.xz) xz -dc "$f" >"$work/ir/mods/$n.ko" ;;
		*.ko.zst) zstd -qdc "$f" >"$work/ir/mods/$n.ko" ;;
		*.ko.gz) gzip -dc "$f" >"$work/ir/mods/$n.ko" ;;
		*) die "unknown module format $f" ;;
		esac
	done <"$work/ir/mods/order"
	cp /bin/busybox "$work/ir/bin/busybox"
	cp "$here/init" "$work/ir/init"
	chmod 755 "$work/ir/init" "$work/ir/bin/busybox"
	(cd "$work/ir" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$work/out/initrd.gz"
	printf '%s\nrecipe %s\nmodules: %s\n' "$(basename "$work/${pkg}_"*.deb)" "$recipe" "$(cut -d' ' -f1 "$work/ir/mods/order" | xargs)" \
		>"$work/out/info"
	mv -T "$work/out" "$dest"
	rm -rf "$work"
}

ensure_assets() {
	local pv="" key dest="" d newest="" work
	pv=$(kernel_package) || {
		if [ "$(id -u)" = 0 ]; then
			echo "$prog: apt lists do not know linux-image-amd64; running apt-get update" >&2
			apt-get update -qq >&2 || true
			pv=$(kernel_package) || true
		fi
	}
	if [ -n "$pv" ]; then
		key=$(printf '%s_%s' "${pv% *}" "${pv#* }" | tr -c 'A-Za-z0-9._+~-' '_')-$recipe
		dest=$cache/$key
		if [ ! -f "$dest/info" ]; then
			exec 8>"$cache/.lock"
			flock -w 1800 8 || die "timed out waiting for the lock $cache/.lock"
			rm -rf "$cache"/.build.* # leftovers of interrupted builds; we hold the lock, so none is running
			if [ ! -f "$dest/info" ]; then
				if work=$(fetch_kernel "${pv% *}" "${pv#* }"); then
					build_assets "$work" "${pv% *}" "$dest"
				else
					echo "$prog: warning: could not download ${pv% *} ${pv#* }" >&2
					dest=""
				fi
			fi
			exec 8>&-
		fi
	fi
	if [ -z "$dest" ]; then # offline or no apt lists: the newest complete assets we have, if any
		for d in "$cache"/linux-image-*-"$recipe"; do
			[ -f "$d/info" ] && { [ -z "$newest" ] || [ "$d/info" -nt "$newest/info" ]; } && newest=$d
		done
		[ -n "$newest" ] || die "cannot get the kernel package linux-image-amd64 points to: run apt-get update as root, then try again"
		echo "$prog: warning: using cached $(head -n 1 "$newest/info")" >&2
		dest=$newest
	fi
	touch "$dest/used" 2>/dev/null || true
	# Drop other versions nobody has started in the last 10 minutes (QEMU reads them only at start).
	for d in "$cache"/linux-image-*; do
		[ "$d" != "$dest" ] && [ -z "$(find "$d/used" -mmin -10 2>/dev/null)" ] && rm -rf "$d"
	done
	assets=$dest
}
ensure_assets

# --- the run directory (exported read-only into the VM as lslrun) ------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lsl-vmhost.XXXXXX")
qpid=""
# shellcheck disable=SC2317 # called from traps
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
# shellcheck disable=SC2317
on_signal() {
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null
	echo "$prog: interrupted; stopping the emulated host" >&2
	exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP

share=$tmp/share
mkdir "$share"
nonce=lsl-vmhost-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
echo "$nonce" >"$share/nonce"
cp "$script" "$share/script"
cp "$here/runner.sh" "$share/runner.sh"
{
	path=${PATH:-/usr/local/bin:/usr/bin:/bin}
	for d in /usr/local/sbin /usr/sbin /sbin; do [[ :$path: == *:$d:* ]] || path=$path:$d; done
	for v in $(compgen -e); do
		case $v in
		LSL_VMHOST) ;;
		LSL_* | CI | TERM | HOME) printf 'export %s=%q\n' "$v" "${!v}" ;;
		esac
	done
	printf 'export PATH=%q LSL_IN_VMHOST=1 TMPDIR=/tmp\n' "$path"
	printf 'script=%q\ncwd=%q\nargs=(' "$script" "$cwd"
	[ $# = 0 ] || printf ' %q' "$@"
	printf ' )\n'
} >"$share/env"

# QEMU option values escape a comma by doubling it.
qarg() { printf '%s' "${1//,/,,}"; }
# shellcheck disable=SC2054 # commas separate QEMU sub-options
qemu=(qemu-system-x86_64 -name lsl-vmhost -M q35 -accel tcg,thread=multi -cpu EPYC,+svm,+npt
	-m "$mem" -smp "$cpus" -nodefaults -no-user-config -display none -no-reboot
	-chardev file,id=con,path=/dev/stdout -serial chardev:con
	-kernel "$(qarg "$assets/vmlinuz")" -initrd "$(qarg "$assets/initrd.gz")"
	-fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap
	-device virtio-9p-pci,fsdev=root,mount_tag=lslroot
	-fsdev "local,id=run,path=$(qarg "$share"),security_model=none,readonly=on,multidevs=remap"
	-device virtio-9p-pci,fsdev=run,mount_tag=lslrun
	-chardev "pipe,id=mon,path=$(qarg "$tmp/mon")" -mon chardev=mon,mode=readline)
mkfifo "$tmp/mon.in" "$tmp/mon.out"
: >"$share/mounts"
i=0
# Parents before children, so a nested --rw is mounted on top of its parent's mount.
while IFS= read -r p; do
	[ -n "$p" ] || continue
	qemu+=(-fsdev "local,id=rw$i,path=$(qarg "$p"),security_model=none,multidevs=remap"
		-device "virtio-9p-pci,fsdev=rw$i,mount_tag=lslrw$i")
	printf 'lslrw%d %s\n' "$i" "$p" >>"$share/mounts"
	i=$((i + 1))
done < <([ ${#rw_paths[@]} = 0 ] || printf '%s\n' "${rw_paths[@]}" | LC_ALL=C sort -u)
append="console=ttyS0 panic=-1 mitigations=off tsc=reliable nokaslr lsl.rootcache=$rootcache"
if [ "$net" = 1 ]; then
	qemu+=(-netdev user,id=net0 -device virtio-net-pci,netdev=net0)
	append+=" lsl.net=1"
fi
if [ "${LSL_VMHOST_DEBUG:-0}" = 1 ]; then append+=" loglevel=7"; else append+=" quiet loglevel=1"; fi
[ -z "${LSL_VMHOST_APPEND:-}" ] || append+=" $LSL_VMHOST_APPEND"
qemu+=(-append "$append")

# --- run ---------------------------------------------------------------------------------------------------
echo "$prog: starting the emulated KVM host (QEMU TCG, $mem MB, $cpus vCPUs) for $script" >&2
start=$SECONDS
exec 3< <(exec timeout --foreground -k 10 "$timeout_s" "${qemu[@]}" </dev/null 2>"$tmp/qemu.err")
qpid=$!
# Pass console lines through as they come (mawk reads whole blocks unless -W interactive). The line carrying the
# nonce is the status, written to a file instead; what follows it is the kernel powering off, dropped.
awk=(awk)
case $(awk -W version 2>&1) in *mawk*) awk+=(-W interactive) ;; esac
# Where each emulated CPU is, from QEMU's monitor, to tell a wedged emulated kernel (a CPU at the same address
# look after look) from a guest or a test that hangs. The emulated host boots with nokaslr, so its addresses
# can be looked up in its /proc/kallsyms (Debian's System.map is a placeholder). EFER without SVME (0x1000)
# means the emulated host itself, running no VM; with it, the host or (QEMU shows the guest's registers while
# one runs) the lsl guest.
where() {
	mon 'info registers -a' |
		awk '/^CPU#/ { cpu = $0 } /^RIP=/ { rip = $0 } /^CR0=/ { cr3 = $3 } /^EFER=/ { print "  " cpu " " rip " " cr3 " " $1 }' ||
		true
}
# Monitor commands (one per line) and their answers. What an earlier look left unread goes first, so that
# answers never mix. The fifo is opened read-write, so that the write never blocks, even with QEMU gone; cat
# ends by its timeout (the monitor keeps its pipe open), which errexit must not see.
mon() {
	local fd
	timeout 0.3 cat "$tmp/mon.out" >/dev/null 2>&1 || true
	exec {fd}<>"$tmp/mon.in" || return 0
	printf '%s\n' "$1" >&"$fd"
	exec {fd}>&-
	{ timeout 3 cat "$tmp/mon.out" 2>/dev/null || true; } | tr -d '\r'
}
# QEMU 7.2's TCG can lose a wakeup: an interrupt for the emulated host sits in its local APIC's IRR and is never
# taken. Seen both ways: the emulated host halted (HLT=1, interrupts on) with its timer's vector pending
# (docker_host: 4 runs of 5, at minute 2 of runc's first container; CI's vm-distro), and the lsl guest running
# on, its vCPU spinning in mutex_spin_on_owner for the lock of a vCPU thread the emulated host never got the
# timer tick to switch to (the docker distribution's import in a fresh `make check`, twice in a row). Either
# way it lasts until something else interrupts the emulated host, and sits out the stall watch. Any new
# interrupt ends it: a shift key pressed and released on its (unused) keyboard. Looked for after 20 s of
# silence: a vector above the processor priority's class in IRR at two looks 2 s apart, with the CPU halted
# both times or at the same spot both times (within 64 bytes: a spin). A busy emulated host often shows a
# timer vector pending while it runs with interrupts off, at a different place each look: not this. The CPU
# looked at is the monitor's, CPU 0. Sets look_at: HLT=0|1 and the RIP, for same_spot and the message.
lost_wakeup() {
	local out rip
	out=$(mon $'info registers\ninfo lapic')
	rip=$(grep -m1 '^RIP=' <<<"$out") || return 1
	local hlt=${rip##*HLT=} addr=${rip%% *}
	look_at="${hlt:0:1} ${addr#RIP=}"
	awk '$1 == "IRR" { for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/ && $i + 0 > irr) irr = $i + 0 }
		{ for (i = 1; i < NF; i++) if ($i == "PPR") ppr = $(i + 1) }
		END { p = 0; h = "0123456789abcdef"; ppr = tolower(ppr); sub(/^0x/, "", ppr)
			for (i = 1; i <= length(ppr); i++) p = p * 16 + index(h, substr(ppr, i, 1)) - 1
			exit !(irr && int(irr / 16) > int(p / 16)) }' <<<"$out"
}
# Two looks ("HLT addr", from lost_wakeup) at the same spot: both halted, or within 64 bytes of each other.
same_spot() {
	local h1=${1%% *} a1=${1#* } h2=${2%% *} a2=${2#* } d
	[ "$h1" = 1 ] && [ "$h2" = 1 ] && return 0
	[[ $a1 =~ ^[0-9a-f]+$ && $a2 =~ ^[0-9a-f]+$ ]] || return 1
	d=$((16#$a1 - 16#$a2)) # 64-bit wrap-around keeps the difference right
	((d < 64 && d > -64))
}
# Under TCG the emulated host's own kernel can wedge (seen: soft lockups of every vCPU for minutes on a loaded
# machine; both CPUs looping between exc_int3 and the jump label in __schedule that KVM flips as VMs come and
# go: a translation that kept the int3 of the code patching); then nothing inside times out. LSL_VMHOST_STALL seconds without a line of output from the script
# (the emulated kernel's own messages do not count) ends the run (124).
stall_s=${LSL_VMHOST_STALL:-0}
[[ $stall_s =~ ^[0-9]+$ ]] || die "LSL_VMHOST_STALL wants seconds, got '$stall_s'"
: >"$tmp/heartbeat"
wpid=""
if [ "$stall_s" -gt 0 ]; then
	(
		while sleep 5; do
			age=$(($(date +%s) - $(stat -c %Y "$tmp/heartbeat" 2>/dev/null || date +%s)))
			if [ "$age" -ge 20 ] && [ "$age" -lt "$stall_s" ] && lost_wakeup && first=$look_at && sleep 2 &&
				lost_wakeup && same_spot "$first" "$look_at"; then
				mon 'sendkey shift' >/dev/null
				echo "$prog: the emulated host kept an interrupt pending (QEMU TCG lost a wakeup; CPU 0 at HLT=${look_at% *} RIP=${look_at#* }) after ${age}s of silence: woken with a key press" >&2
			fi
			if [ "$age" -ge "$stall_s" ]; then
				echo "$prog: no output for ${age}s (LSL_VMHOST_STALL): the emulated host or the test is stuck; stopping it" >&2
				for k in 1 2; do echo "$prog: emulated CPUs (look $k of 2):" >&2; where >&2; sleep 2; done
				: >"$tmp/stalled"
				kill -TERM "$qpid" 2>/dev/null
				exit 0
			fi
		done
	) &
	wpid=$!
fi
"${awk[@]}" -v tag="$nonce " -v statusf="$tmp/status" -v beat="$tmp/heartbeat" '
	done { next }
	{ sub(/\r+$/, "") }
	(i = index($0, tag)) > 0 {
		if (i > 1) print substr($0, 1, i - 1)
		print substr($0, i + length(tag)) > statusf
		close(statusf)
		fflush()
		done = 1
		next
	}
	# The emulated host kernel'"'"'s own complaints ("[  469.09] watchdog: BUG: soft lockup") are no sign of life.
	{ print; fflush(); if ($0 !~ /^\[ *[0-9]+\.[0-9]+\] /) { printf "" > beat; close(beat) } }' <&3 &
apid=$!
exec 3<&-
wait "$apid" || true
[ -z "$wpid" ] || kill "$wpid" 2>/dev/null || true
qrc=0
wait "$qpid" || qrc=$?
qpid=""
elapsed=$((SECONDS - start))
status=$(cat "$tmp/status" 2>/dev/null || true)
qerr() { grep -v -e "TCG doesn't support requested feature" -e '^$' "$tmp/qemu.err" >&2 || true; }

case $status in
"exit "[0-9]*)
	rc=${status#exit }
	[ "${LSL_VMHOST_DEBUG:-0}" != 1 ] || echo "$prog: script exited $rc after ${elapsed}s" >&2
	exit "$rc"
	;;
setup-failed)
	qerr
	die "the emulated KVM host could not be set up (see the message above)"
	;;
esac
qerr
[ ! -e "$tmp/stalled" ] || exit 124
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "$prog: timed out after ${timeout_s}s (LSL_VMHOST_TIMEOUT); killed QEMU" >&2
	exit 124
fi
die "the emulated KVM host stopped after ${elapsed}s before the script finished (QEMU exit status $qrc, no status line)"
