# Entry points. `make` builds the VMM, lsl-init + initramfs and the guest kernel (cached by config hash);
# `make run` boots a guest and runs a command in it; `make check` runs every test; `make bench` the benchmarks.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz

.PHONY: all build asan kernel run check bench fuzz format clean

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

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
