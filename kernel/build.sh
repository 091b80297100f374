#!/usr/bin/env bash
# Builds the lsl guest kernel from Debian's linux-source with kernel/lsl.config, cached outside the clone.
# The cache key is the hash of the fragment, the source package version and recipe_version below, so a
# rebuild happens only when one of them changes. Prints the cache directory (vmlinux, bzImage, config) last.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fragment=$here/lsl.config
tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n1 || true)
[ -n "$tarball" ] || { echo "kernel/build.sh: no /usr/src/linux-source-*.tar.xz; run scripts/deps.sh" >&2; exit 1; }
pkg=$(basename "$tarball" .tar.xz)
version=$(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null || stat -c %s-%Y "$tarball")
recipe_version=1 # bump when the build steps below change what they produce
key=$( { cat "$fragment"; echo "$pkg $version recipe $recipe_version"; } | sha256sum | cut -c1-16)
cache=${LSL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lsl}/kernel
out=$cache/$pkg-$key
# "current" names the build for this checkout's config, so the lsl CLI finds the kernel without a hash.
# Left alone when it already points there, so a read-only cache (the emulated KVM host's view) still works.
link_current() {
	[ "$(readlink "$cache/current" 2>/dev/null)" = "$(basename "$out")" ] && return 0
	ln -sfn "$(basename "$out")" "$cache/current.tmp" && mv -T "$cache/current.tmp" "$cache/current"
}
if [ -f "$out/vmlinux" ] && [ -f "$out/bzImage" ]; then link_current; echo "$out"; exit 0; fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "kernel: building $pkg ($version) with lsl.config, key $key (about 10 minutes, once)" >&2
tar -C "$work" -xf "$tarball"
src=$work/$pkg
make -s -C "$src" allnoconfig KCONFIG_ALLCONFIG="$fragment" >&2
# Report fragment options that Kconfig did not honour (dependencies we missed), so the fragment stays truthful.
bad=0
while IFS= read -r line; do
  case "$line" in CONFIG_*=*) ;; *) continue ;; esac
  opt=${line%%=*}; want=${line#*=}
  got=$(grep -E "^$opt=|^# $opt is not set" "$src/.config" || true)
  if [ "$want" = n ]; then
    case "$got" in "$opt="*) echo "kernel: $opt wanted n, got ${got#*=}" >&2; bad=1 ;; esac
  elif [ "$got" != "$opt=$want" ]; then
    echo "kernel: $opt wanted $want, got '${got:-absent}'" >&2; bad=1
  fi
done < "$fragment"
[ "${LSL_KERNEL_STRICT:-1}" = 0 ] || [ "$bad" = 0 ] || { echo "kernel: lsl.config is not consistent; fix it" >&2; exit 1; }
make -s -C "$src" -j"$(nproc)" vmlinux bzImage >&2
mkdir -p "$work/out"
cp "$src/vmlinux" "$work/out/vmlinux"
strip --strip-debug "$work/out/vmlinux"
cp "$src/arch/x86/boot/bzImage" "$src/.config" "$work/out/"
mv "$work/out/.config" "$work/out/config"
rm -rf "$out" && mv "$work/out" "$out"
link_current
echo "$out"
