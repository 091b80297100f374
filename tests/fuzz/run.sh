#!/usr/bin/env bash
# `make fuzz`: runs each libFuzzer target of the fuzz build for FUZZ_SECONDS (default 60) on its committed
# corpus, merges what found new coverage back into it and writes any crash, leak or timeout into
# tests/fuzz/repro/<target>/, where make check replays it. FUZZ_TARGETS="a b" picks targets; FUZZ_MERGE=0
# leaves the corpus alone; FUZZ_MINIMIZE=1 also drops corpus files whose coverage others have (seed-* stay).
# Exits 1 if any target failed. Usage: tests/fuzz/run.sh [BUILD_DIR]
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
build=${1:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||')}
# -max_len keeps corpus files small; -timeout flags an input as hung long before make check's replay would;
# -close_fd_mask=3 silences the parsers' own error lines (sanitizer and libFuzzer reports still come out).
opts=(-max_len=4096 -timeout=10 -rss_limit_mb=2048 -close_fd_mask=3 -print_final_stats=1)
# Merges count edges only, not hit counts: the committed corpus keeps one input per edge it was first to
# reach (tens to a few hundred small files), and fuzzing finds the hit-count variety again within seconds.
merge=(-merge=1 -use_counters=0)
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

fuzz_stat() { # log name
	sed -n "s/^stat::$2: *//p" "$1" | tail -1
}

failed=()
for t in $targets; do
	exe=$build/tests/fuzz/fuzz-$t corpus=tests/fuzz/corpus/$t repro=tests/fuzz/repro/$t log=$build/fuzz-$t.log
	if [ ! -x "$exe" ]; then
		echo "FAIL $t: no $exe (is $t in tests/fuzz/meson.build?)"
		failed+=("$t")
		continue
	fi
	mkdir -p "$repro"
	new=$(mktemp -d "${TMPDIR:-/tmp}/lsl-fuzz-$t.XXXXXX")
	before=$(ls "$corpus" | wc -l)
	start=$SECONDS
	# New inputs go to the first directory, the committed corpus only gets what the merge below picks.
	"$exe" "${opts[@]}" -max_total_time="$seconds" -artifact_prefix="$repro/" "$new" "$corpus" >"$log" 2>&1
	rc=$? took=$((SECONDS - start))
	if [ $rc = 0 ] && [ "${FUZZ_MERGE:-1}" = 1 ] && [ -n "$(ls "$new")" ]; then
		"$exe" "${opts[@]}" "${merge[@]}" "$corpus" "$new" >>"$log" 2>&1 || rc=$?
	fi
	if [ $rc = 0 ] && [ "${FUZZ_MINIMIZE:-0}" = 1 ]; then
		min=$(mktemp -d "${TMPDIR:-/tmp}/lsl-fuzz-$t.XXXXXX")
		if "$exe" "${opts[@]}" "${merge[@]}" "$min" "$corpus" >>"$log" 2>&1; then
			# The merge names files by their SHA-1; seeds keep their names and their copies go.
			for s in "$corpus"/seed-*; do
				[ -f "$s" ] && rm -f "$min/$(sha1sum <"$s" | cut -d' ' -f1)"
			done
			find "$corpus" -type f ! -name 'seed-*' -delete
			cp "$min"/* "$corpus"/ 2>/dev/null
		else
			rc=$?
		fi
		rm -rf "$min"
	fi
	rm -rf "$new"
	line="$t: $(fuzz_stat "$log" number_of_executed_units) runs in ${took}s, $(fuzz_stat "$log" average_exec_per_sec) exec/s,"
	line="$line $(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2) edges, corpus $before -> $(ls "$corpus" | wc -l) files"
	if [ $rc = 0 ]; then
		echo "ok   $line"
	else
		echo "FAIL $line (exit $rc; log $log)"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*fuzz invariant failed|artifact_prefix.*Test unit written to)' "$log" |
			sed 's/^/    /' | head -5
		failed+=("$t")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: failed: ${failed[*]} (reproducers in tests/fuzz/repro/; replay one with" \
		"$build/tests/fuzz/fuzz-TARGET FILE, or without clang build/tests/fuzz/test-fuzz-TARGET FILE)"
	exit 1
fi
