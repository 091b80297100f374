#!/usr/bin/env bash
# Installs the Debian packages needed to build and test lsl. Idempotent: does nothing when all are installed,
# otherwise one `apt-get update` and one `apt-get install`. Runs as root, or through sudo otherwise.
set -euo pipefail

packages=(
	# lsl itself (meson build, C)
	build-essential meson ninja-build pkg-config
	musl-tools     # musl-gcc: the guest's init and agents are small static binaries
	python3        # test scripts
	clang-format   # style check of the C sources
	# make fuzz: libFuzzer targets (tests/fuzz), built with clang; the fuzzer and sanitizer runtimes
	clang libclang-rt-14-dev
	libslirp-dev   # lsl-vmm's virtio-net: the user-mode NAT (vmm/devices/net_slirp.c)
	liburing-dev   # lsl-vmm's virtio-blk: requests in flight through io_uring (vmm/devices/blk_aio.c)
	# distro management in the CLI (cli/config.c, catalog.c, registry.c, download.c)
	# (lsl links inih and json-c statically: both packages ship the .a)
	libinih-dev          # ~/.lslconfig and the distros' wsl.conf
	libjson-c-dev        # the distro catalog and the installed-distro registry
	libcurl4-openssl-dev # distro downloads (http, https, file), resumable
	mmdebstrap           # the catalog's bootstrap entries (Debian, the default) build the root filesystem locally
	# guest kernel: `make vmlinux bzImage` of Debian's source (kernel/build.sh)
	linux-source   # /usr/src/linux-source-6.1.tar.xz
	bc bison flex  # Kconfig and kernel build scripts
	libelf-dev     # objtool (stack validation, ORC unwinder) links libelf
	libssl-dev     # host tools in certs/ and scripts/ link libcrypto; so does lsl (sha256 of downloads)
	xz-utils       # unpacks the .tar.xz source
	cpio           # kernel build (kheaders) and the emulated host's initramfs
	e2fsprogs      # mkfs.ext4 -d: guest root filesystem images; distro images (mke2fs, e2fsck, resize2fs)
	# the VM's system root (guest/mksystem.sh copies them in): import and export of distributions
	tar gzip bzip2 zstd
	# emulated KVM host for machines whose /dev/kvm cannot run standard guests (tests/vmhost/vmhost.sh)
	qemu-system-x86
	busybox-static # the emulated host's initramfs has no libc
	kmod           # modinfo: load order of the emulated host's kernel modules
	ca-certificates # apt-get download of the emulated host's kernel from https mirrors
	curl           # make run: `curl localhost:8000` on the host reaches a server in the guest
	# tests
	util-linux     # flock, mount, unshare, script
	procps         # ps, pgrep, pkill
	tmux           # terminal sessions in interactive-shell tests
	man-db groff-base zsh # tests/host/docs.sh: the man pages render, the zsh completion completes
	locales        # localedef: a real locale archive for the agent's locale check (tests/unit/test_locale.c)
	# benchmarks (make bench)
	dropbear-bin   # the ssh server in the guest, the peer of `lsl --` (bench/sessionbench.py)
	openssh-client # ssh and ssh-keygen, the host side of that peer
)

missing=()
for p in "${packages[@]}"; do
	[ "$(dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || missing+=("$p")
done
if [ ${#missing[@]} = 0 ]; then
	echo "deps: all ${#packages[@]} packages are installed"
	exit 0
fi

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		echo "deps: need root (or sudo) to install: ${missing[*]}" >&2
		exit 1
	fi
}

echo "deps: installing ${missing[*]}"
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
