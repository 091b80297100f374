#!/usr/bin/env bash
# `make install` and `make deb` from this build, checked on the host: `bash tests/host/install.sh BUILD OUT`.
# Installs into OUT/install (PREFIX=/usr, DESTDIR) and unpacks the package into OUT/deb, where the VM test
# cli.sh's installed_lsl runs each tree's lsl from outside the build. One "PASS install/NAME" or
# "FAIL install/NAME: why" line per check. The build's prefix is put back as it was.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
out=$2
pass() { echo "PASS install/$1"; }
fail() { echo "FAIL install/$1: $2"; }

prefix=$(meson introspect --buildoptions "$build" | python3 -c 'import json, sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
restore() { meson configure "$build" -Dprefix="$prefix" >/dev/null && ninja -C "$build" >/dev/null; }
rm -rf "$out" && mkdir -p "$out" || exit 0

# The FHS layout an installed lsl looks in (cli/paths.c lsl_own_path), and nothing from the build tree.
want="usr/bin/lsl usr/libexec/lsl/lsl-vmm usr/libexec/lsl/lsl-fetch usr/libexec/lsl/lsl-interop usr/libexec/lsl/lsl-wake usr/lib/lsl/vmlinux usr/lib/lsl/initramfs.cpio
usr/lib/lsl/system.img usr/share/man/man1/lsl.1 usr/share/man/man5/lsl.conf.5
usr/share/bash-completion/completions/lsl usr/share/zsh/vendor-completions/_lsl"
if log=$(make -C "$root" --no-print-directory install BUILD="$build" PREFIX=/usr DESTDIR="$out/install" 2>&1); then
	missing=$(for f in $want; do [ -e "$out/install/$f" ] || echo "$f"; done)
	strays=$(cd "$out/install" && find . -type f | grep -v -e '^./usr/bin/' -e '^./usr/libexec/lsl/' -e '^./usr/lib/lsl/' -e '^./usr/share/')
	if [ -n "$missing$strays" ]; then
		fail make-install "missing: $(echo $missing); not in the layout: $(echo $strays)"
	else
		pass make-install
	fi
else
	fail make-install "$(tail -n 5 <<<"$log")"
fi

if deb=$(bash "$root/scripts/mkdeb.sh" "$build" 2>"$out/deb.log"); then
	depends=$(dpkg-deb -f "$deb" Depends)
	contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
	# lsl-fetch links libcurl (dpkg-shlibdeps finds it); lsl-vmm loads libslirp (mkdeb.sh names it); an
	# ordinary user's mmdebstrap needs newuidmap (uidmap), which mmdebstrap only recommends.
	if grep -q 'libslirp0' <<<"$depends" && grep -q 'libcurl' <<<"$depends" && grep -q mmdebstrap <<<"$depends" &&
		grep -qw uidmap <<<"$depends" &&
		grep -qx './usr/bin/lsl' <<<"$contents" && grep -qx './usr/lib/lsl/vmlinux' <<<"$contents" &&
		grep -qx './usr/libexec/lsl/lsl-wake' <<<"$contents"; then
		pass deb
	else
		fail deb "Depends: '$depends'; $(wc -l <<<"$contents") files"
	fi
	# What `apt install ./lsl_*.deb` would do, without doing it: every dependency resolvable from the archive.
	if sim=$(apt-get install --simulate --no-install-recommends "$deb" 2>&1); then
		pass deb-installable
	else
		fail deb-installable "$(grep -E '^E:|Depends' <<<"$sim" | head -n 3 | tr '\n' ' ')"
	fi
	dpkg-deb -x "$deb" "$out/deb"
else
	fail deb "$(tail -n 5 "$out/deb.log")"
	fail deb-installable "no package"
fi
restore || fail prefix-restored "meson configure -Dprefix=$prefix failed"
exit 0
