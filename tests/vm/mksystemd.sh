#!/usr/bin/env bash
# The test distributions with systemd (issue 16's tests): Debian's minbase with systemd, dbus, logind and
# sudo ("systemd"), and the same with Debian's docker.io and busybox-static for a tiny image ("docker"), built
# with mmdebstrap from Debian's archive on this host (the tests themselves stay offline), kept in the cache
# under a name from its package list, so each is built once. The docker flavour also keeps the docker
# client from docker.io's package beside the tar (…-cli/docker), the host's client the tests drive through
# the forwarded socket. Prints the tar's path.
# Usage: mksystemd.sh [systemd|docker]  (LSL_CACHE_DIR or XDG_CACHE_HOME pick the cache, as for the kernel)
set -euo pipefail
flavour=${1:-systemd}
packages=systemd,systemd-sysv,dbus,libpam-systemd,procps
case $flavour in
systemd) packages=$packages,sudo ;; # sudo: issue 17's own user gets it without a password
docker) packages=$packages,docker.io,busybox-static ;;
*) echo "mksystemd.sh: no flavour '$flavour' (systemd, docker)" >&2; exit 2 ;;
esac
key=$(printf 'bookworm minbase %s nodoc' "$packages" | sha256sum | cut -c1-12)
dir=${LSL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lsl}/testdistro
out=$dir/$flavour-$key.tar
if [ ! -s "$out" ]; then
	mkdir -p "$dir"
	log=$dir/$flavour-$key.log
	# Documentation, manuals and translations left out: a third less to import in every test run.
	if ! mmdebstrap --variant=minbase --include="$packages" \
		--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
		bookworm "$out.new.tar" http://deb.debian.org/debian >"$log" 2>&1; then
		rm -f "$out.new.tar"
		echo "mksystemd.sh: mmdebstrap failed (Debian's archive unreachable?); see $log" >&2
		exit 1
	fi
	if [ "$flavour" = docker ]; then
		# The client from the same package, out of the tar just made (no install on this host).
		rm -rf "$out-cli" && mkdir -p "$out-cli"
		tar -xf "$out.new.tar" -C "$out-cli" --strip-components=3 ./usr/bin/docker
	fi
	mv "$out.new.tar" "$out"
fi
echo "$out"
