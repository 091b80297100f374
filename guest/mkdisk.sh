#!/usr/bin/env bash
# Creates an ext4 disk image holding a busybox root, for the tests and the demo, without root privileges.
# Usage: guest/mkdisk.sh OUT.img [SIZE_MiB=64] [FILE...]   (LSL_BUSYBOX overrides /bin/busybox)
# Each FILE (a static executable, e.g. a test helper) is installed as /bin/<its name>; a FILE written SRC=/DEST
# is copied to the absolute path DEST in the image instead, keeping its mode (a dynamic program and its libraries,
# keys, config), with parent directories made as needed.
set -euo pipefail

prog=${0##*/}
die() {
    echo "$prog: $*" >&2
    exit 1
}

if [ $# -lt 1 ] || [ -z "$1" ]; then
    echo "usage: $prog OUT.img [SIZE_MiB=64] [FILE...]" >&2
    exit 2
fi
out=$1
shift
size=64
case ${1:-} in [0-9]*) size=$1; shift ;; '') [ $# -eq 0 ] || die "size must be a whole number of MiB, got ''" ;; esac
extra=("$@")
placed=()
for f in "${extra[@]}"; do
    case $f in
    *=/*) src=${f%%=*} dest=${f#*=} ;;
    *=*) die "$f: the destination after = must be an absolute path" ;;
    *) src=$f dest= ;;
    esac
    [ -f "$src" ] && [ -r "$src" ] || die "extra file $src not found"
    case /$dest/ in */../*) die "$f: the destination must not contain .." ;; esac
    [ -n "$dest" ] && placed+=("$f")
done
case $size in '' | *[!0-9]*) die "size must be a whole number of MiB, got '$size'" ;; esac
[ "$size" -ge 8 ] || die "size must be at least 8 MiB, got $size"

busybox=${LSL_BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || die "$busybox not found; install busybox-static (apt-get install busybox-static)"
# The disk holds no libc, so a dynamically linked busybox (package busybox) would not run there; a dynamic
# ELF names its loader near the start of the file.
if LC_ALL=C head -c 4096 "$busybox" | LC_ALL=C grep -qaE 'ld-linux|ld-musl'; then
    die "$busybox is dynamically linked; install busybox-static (apt-get install busybox-static)"
fi
# mkfs.ext4 and debugfs live in sbin, which an ordinary user's PATH may lack.
PATH=$PATH:/usr/sbin:/sbin
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not found; install e2fsprogs"
applets=$("$busybox" --list) || die "$busybox --list failed"

outdir=$(dirname -- "$out")
if [ ! -d "$outdir" ] || [ ! -w "$outdir" ]; then
    die "cannot write to directory $outdir"
fi
tmp=$out.tmp
work=$(mktemp -d "${TMPDIR:-/tmp}/lsl-mkdisk.XXXXXX")
staging=$work/root
cleanup() {
    rm -rf "$work"
    rm -f "$tmp"
}
trap cleanup EXIT

# The root: busybox with a symlink per applet in /bin, and the other bin directories pointing there so that
# "#!/usr/bin/env" and /sbin/poweroff work too.
mkdir -p "$staging"/{bin,dev,etc,home,mnt,proc,root,run,sys,tmp,usr,var/log,var/tmp}
chmod 1777 "$staging/tmp" "$staging/var/tmp"
chmod 0700 "$staging/root"
cp "$busybox" "$staging/bin/busybox"
chmod 0755 "$staging/bin/busybox"
for applet in $applets; do
    [ "$applet" = busybox ] || ln -s busybox "$staging/bin/$applet"
done
for f in "${extra[@]}"; do
    case $f in *=/*) continue ;; esac
    name=$(basename -- "$f")
    rm -f "$staging/bin/$name"
    cp -- "$f" "$staging/bin/$name"
    chmod 0755 "$staging/bin/$name"
done
ln -s bin "$staging/sbin"
ln -s ../bin "$staging/usr/bin"
ln -s ../bin "$staging/usr/sbin"
# After the bin links, so that /usr/sbin/x and /sbin/x land in /bin like the busybox applets.
for f in "${placed[@]}"; do
    src=${f%%=*} dest=$staging${f#*=}
    mkdir -p -- "$(dirname -- "$dest")"
    rm -f -- "$dest"
    cp -L --preserve=mode -- "$src" "$dest"
done

printf 'root:x:0:0:root:/root:/bin/sh\n' >"$staging/etc/passwd"
printf 'root:x:0:\n' >"$staging/etc/group"
printf 'lsl\n' >"$staging/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$staging/etc/hosts"
chmod 0644 "$staging"/etc/*

rm -f "$tmp"
truncate -s "${size}M" "$tmp"
# 256-byte inodes: the small-disk default of 128 makes the kernel warn about 2038 timestamps on every mount.
mkfs.ext4 -q -F -I 256 -L lsl-root -E root_owner=0:0 -d "$staging" "$tmp" ||
    die "mkfs.ext4 failed to create $tmp"

# mkfs.ext4 -d copies the staging files' owner; without root that is the caller, so give everything to root.
if [ "$(id -u)" != 0 ]; then
    command -v debugfs >/dev/null || die "debugfs not found; install e2fsprogs"
    (cd "$staging" && find . -mindepth 1 | while IFS= read -r path; do
        printf 'sif "%s" uid 0\nsif "%s" gid 0\n' "${path#.}" "${path#.}"
    done) >"$work/chown.debugfs"
    # debugfs exits 0 even when a request fails; anything on stderr but its version banner is an error.
    debugfs -w -f "$work/chown.debugfs" "$tmp" >/dev/null 2>"$work/debugfs.err" || true
    if grep -v '^debugfs [0-9]' "$work/debugfs.err" >&2; then
        die "debugfs could not give the files to root"
    fi
fi

mv -f "$tmp" "$out"
