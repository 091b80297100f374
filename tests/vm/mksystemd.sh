#!/usr/bin/env bash
# The test distribution with systemd (issue 16's tests): Debian's minbase with systemd, dbus and logind,
# built with mmdebstrap from Debian's archive on this host (the tests themselves stay offline), kept in the
# cache under a name from its package list, so it is built once. Prints the tar's path.
# Usage: mksystemd.sh  (LSL_CACHE_DIR or XDG_CACHE_HOME pick the cache, as for the kernel)
set -euo pipefail
packages=systemd,systemd-sysv,dbus,libpam-systemd,procps
key=$(printf 'bookworm minbase %s nodoc' "$packages" | sha256sum | cut -c1-12)
dir=${LSL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lsl}/testdistro
out=$dir/systemd-$key.tar
if [ ! -s "$out" ]; then
	mkdir -p "$dir"
	log=$dir/systemd-$key.log
	# Documentation, manuals and translations left out: a third less to import in every test run.
	if ! mmdebstrap --variant=minbase --include="$packages" \
		--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
		bookworm "$out.new.tar" http://deb.debian.org/debian >"$log" 2>&1; then
		rm -f "$out.new.tar"
		echo "mksystemd.sh: mmdebstrap failed (Debian's archive unreachable?); see $log" >&2
		exit 1
	fi
	mv "$out.new.tar" "$out"
fi
echo "$out"
