#!/usr/bin/env bash
# `make deb`: a Debian package of this tree's build. `make install PREFIX=/usr` into a staging root, then a
# control file whose Depends are what dpkg-shlibdeps finds for the installed programs, libslirp0 (lsl-vmm
# loads it when a VM gets a network, so dpkg-shlibdeps cannot see it), plus the tools lsl runs
# on the host (mke2fs, e2fsck and resize2fs for distribution images; mmdebstrap for the catalog's default,
# Debian, built locally, and uidmap, whose newuidmap lets it build as an ordinary user: mmdebstrap only
# recommends it, and without it and fakechroot it cannot pick a mode at all; tar to read a .wsl file's
# settings), then dpkg-deb. Prints the package's path: BUILD/deb/lsl_VERSION_ARCH.deb, which
# `apt install ./lsl_*.deb` installs on Debian 12.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$root" && cd "${1:-build}" && pwd)
version=$(meson introspect --projectinfo "$build" | python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
arch=$(dpkg --print-architecture)
stage=$(mktemp -d "$build/deb-stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

make -C "$root" --no-print-directory install BUILD="$build" PREFIX=/usr DESTDIR="$stage/root" >&2

# dpkg-shlibdeps wants a source package's debian/control to stand in.
mkdir -p "$stage/src/debian" "$stage/root/DEBIAN"
printf 'Source: lsl\n\nPackage: lsl\nArchitecture: any\n' >"$stage/src/debian/control"
elves=()
for f in "$stage"/root/usr/bin/* "$stage"/root/usr/libexec/lsl/*; do
	[ "$(head -c4 "$f" | od -An -c | tr -d ' ')" = 177ELF ] && elves+=("$f")
done
shlibs=$(cd "$stage/src" && dpkg-shlibdeps -O "${elves[@]}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')

size=$(du -sk --exclude=DEBIAN "$stage/root" | cut -f1)
cat >"$stage/root/DEBIAN/control" <<EOF
Package: lsl
Version: $version
Architecture: $arch
Maintainer: lsl developers <lsl@localhost>
Installed-Size: $size
Depends: ${shlibs:+$shlibs, }libslirp0 (>= 4.7), e2fsprogs, mmdebstrap, uidmap, tar
Section: admin
Priority: optional
Description: Linux distributions in a lightweight VM, WSL 2 style
 lsl runs a real Linux kernel in an invisible KVM virtual machine that starts on
 demand, with unchanged distributions in it: their shells and commands from the
 host's terminal (wsl.exe's options), the host's files under /mnt/host, their
 ports on the host's localhost, memory given back when idle, systemd and Docker.
 Needs read-write access to /dev/kvm; runs as an ordinary user.
EOF
mkdir -p "$build/deb"
deb=$build/deb/lsl_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage/root" "$deb" >&2
echo "$deb"
