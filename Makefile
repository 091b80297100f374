# Entry points. `make` builds the VMM, lsl-init + initramfs and the guest kernel (cached by config hash);
# `make run` boots a guest and runs a command in it; `make check` runs every test; `make bench` the benchmarks.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz

.PHONY: all build asan kernel run check bench fuzz format clean install deb

all: build kernel

$(BUILD)/build.ninja:
	meson setup $(BUILD) -Dwerror=true

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Unit tests also run under AddressSanitizer and UndefinedBehaviorSanitizer (any UB report is fatal).
$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=all

asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

kernel:
	@bash kernel/build.sh >/dev/null

run: all
	@bash scripts/run.sh $(CMD)

check: all asan
	@bash tests/run.sh $(BUILD) $(ASAN_BUILD)

# libFuzzer targets (tests/fuzz/README.md): clang with ASan+UBSan, the whole tree instrumented for coverage;
# each runs FUZZ_SECONDS (default 60) on its committed corpus. FUZZ_TARGETS="virtq args" picks some.
$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dwerror=true -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dc_args='-fsanitize=fuzzer-no-link -fno-sanitize-recover=all'

fuzz: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) fuzz
	@bash tests/fuzz/run.sh $(FUZZ_BUILD)

bench: all
	@bash bench/run.sh $(BUILD)

# `make install [PREFIX=/usr/local] [DESTDIR=]`: lsl on PATH; lsl-vmm, lsl-fetch, lsl-interop, lsl-wake in PREFIX/libexec/lsl;
# the kernel and guest images in PREFIX/lib/lsl, where an installed lsl looks (cli/paths.c); the man pages
# and the bash and zsh completions. `make deb`: a Debian package of that, in $(BUILD)/deb.
PREFIX ?= /usr/local
install: all
	meson configure $(BUILD) -Dprefix=$(PREFIX)
	ninja -C $(BUILD) >/dev/null # the new prefix into the install plan; nothing is rebuilt
	meson install -C $(BUILD) --no-rebuild --quiet --strip $(if $(DESTDIR),--destdir $(abspath $(DESTDIR)))
	install -Dm644 "$$(bash kernel/build.sh)/vmlinux" "$(DESTDIR)$(PREFIX)/lib/lsl/vmlinux"

deb: all
	@bash scripts/mkdeb.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
