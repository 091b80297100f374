#!/usr/bin/env bash
# `make check`: unit tests (normal and ASan/UBSan builds), then the VM tests, directly on this machine's KVM
# or, where it cannot run standard guests, inside the emulated KVM host. Ends with "N passed, M failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/env.sh "${1:-build}"
asan_build=${2:-build-asan}
pass=0 fail=0 skip=0 flaky=0
failed=() flaky_tests=()

record() { # status name [detail]
	case $1 in
	PASS) pass=$((pass + 1)) ;;
	SKIP) skip=$((skip + 1)) ;;
	FLAKY) flaky=$((flaky + 1)); flaky_tests+=("$2") ;;
	*) fail=$((fail + 1)); failed+=("$2") ;;
	esac
}

# Each unit test binary prints "ok   case" / "FAIL case"; a binary that dies without saying so fails too.
run_unit() { # label exe
	local label=$1 exe=$2 out rc line
	out=$(UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 "$exe" 2>&1)
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok   "*) record PASS "$label/${line#ok   }"; echo "PASS $label/${line#ok   }" ;;
		"FAIL "*) record FAIL "$label/${line#FAIL }"; echo "FAIL $label/${line#FAIL }" ;;
		esac
	done <<<"$out"
	if [ $rc -ne 0 ]; then
		grep -q '^FAIL ' <<<"$out" || { record FAIL "$label (exit $rc)"; echo "FAIL $label: exit $rc"; }
		sed 's/^/    /' <<<"$out" | grep -v '^    ok ' | tail -30
	fi
}

echo "== style"
# The sources as clang-format (.clang-format) writes them: `make format` fixes what this reports.
if command -v clang-format >/dev/null; then
	out=$(git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror 2>&1 | grep -o '^[^:]*:[0-9]*' | sort -u)
	if [ -z "$out" ]; then
		record PASS style/clang-format; echo "PASS style/clang-format"
	else
		record FAIL style/clang-format; echo "FAIL style/clang-format: not formatted (make format):"
		sed 's/^/    /' <<<"$out" | head -20
	fi
else
	record SKIP style/clang-format; echo "SKIP style/clang-format: no clang-format"
fi

echo "== unit tests"
for b in "$LSL_BUILD" "$root/$asan_build"; do
	tag=unit; [ "$b" = "$LSL_BUILD" ] || tag=unit-asan
	for exe in "$b"/tests/test-* "$b"/tests/fuzz/test-*; do # fuzz/: the fuzz targets' replays
		[ -f "$exe" ] && [ -x "$exe" ] && run_unit "$tag/$(basename "$exe" | sed 's/^test-//')" "$exe"
	done
done

echo "== host tests"
# Installing and packaging (its trees are run by the VM test cli.sh installed_lsl), the man pages and the
# completions. Each script prints one PASS or FAIL line per check.
export LSL_TEST_INSTALLED=$LSL_BUILD/test-installed
for script in tests/host/install.sh tests/host/docs.sh; do
	while IFS= read -r line; do
		echo "$line"
		case $line in
		PASS\ *) record PASS "host/${line#PASS }" ;;
		FAIL\ *) name=${line#FAIL } && record FAIL "host/${name%%:*}" ;;
		esac
	done < <(bash "$script" "$LSL_BUILD" "$LSL_TEST_INSTALLED" 2>&1)
done

echo "== VM tests"
export LSL_TEST_DISK=$LSL_BUILD/test-root.img
[ -f "$LSL_TEST_DISK" ] || bash guest/mkdisk.sh "$LSL_TEST_DISK" 64 >/dev/null
# Debian with systemd for the systemd tests, built here from Debian's archive once (cached); without it
# those tests fail and say why.
LSL_TEST_SYSTEMD_TAR=$(bash tests/vm/mksystemd.sh) || LSL_TEST_SYSTEMD_TAR=
LSL_TEST_DOCKER_TAR=$(bash tests/vm/mksystemd.sh docker) || LSL_TEST_DOCKER_TAR=
export LSL_TEST_SYSTEMD_TAR LSL_TEST_DOCKER_TAR
# Inside the emulated host every test has its own timeout; silence for longer than that means the emulated
# host itself wedged, and the tests that did not report run again in a fresh one.
export LSL_VMHOST_STALL=${LSL_VMHOST_STALL:-400}
# The emulated host runs with one CPU (tests/vmhost/vmhost.sh says why), so there the suites run in two
# lanes at once, one emulated host each, to keep both of this machine's cores busy.
lanes=1
if bash scripts/kvm-usable.sh -v; then
	vm_out() { bash "$@"; }
else
	vm_out() { bash tests/vmhost/vmhost.sh --rw "$root" "$@"; }
	lanes=2
fi
# A lane prints its suites' output and, for the tally, one "@@ STATUS suite/name" line per test.
run_vm() { # suite-script [names...]
	local line name status
	while IFS= read -r line; do
		case $line in
		"VM-RUNNER-EXIT "*)
			vm_rc=${line#* }
			continue
			;;
		esac
		echo "$line"
		case $line in
		PASS\ * | FAIL\ * | SKIP\ * | FLAKY\ *)
			name=${line#* }
			name=${name%%[: ]*}
			reported[$name]=1
			# A pass in a re-run (a fresh emulated host after the first wedged) is a pass only on re-run.
			status=${line%% *}
			[ "$status" = PASS ] && [ "$rerun" = 1 ] && status=FLAKY
			echo "@@ $status $suite/$name"
			;;
		esac
	done < <(vm_out "$@" 2>&1; echo "VM-RUNNER-EXIT $?")
}
run_suite() { # suite-script [suite-name test-names...] (default: vm-SCRIPT, all its tests)
	local script=$1 name reruns=0 before=0 missing=() start=$SECONDS tests
	if [ $# -gt 1 ]; then
		suite=$2
		tests=("${@:3}")
	else
		suite=vm-$(basename "$script" .sh)
		read -ra tests <<<"$(bash "$script" --list | tr '\n' ' ')"
	fi
	echo "-- $suite"
	declare -A reported=()
	vm_rc=0 rerun=0
	run_vm "$script" "${tests[@]}"
	# A wedge is rare but not once per run: up to two fresh emulated hosts for what never reported, as long
	# as each attempt gets further.
	while :; do
		missing=()
		for name in "${tests[@]}"; do
			[ -n "${reported[$name]:-}" ] || missing+=("$name")
		done
		# (Nothing reported and no stall: the suite itself is broken, and a re-run would only say so again.)
		[ ${#missing[@]} -gt 0 ] && { [ ${#reported[@]} -gt 0 ] || [ "$vm_rc" = 124 ]; } && [ $reruns -lt 2 ] || break
		[ $reruns = 0 ] || [ ${#missing[@]} -lt "$before" ] || break
		before=${#missing[@]}
		reruns=$((reruns + 1))
		echo "$suite: runner exited $vm_rc before ${#missing[@]} tests reported; running them again: ${missing[*]}"
		rerun=1
		run_vm "$script" "${missing[@]}"
	done
	for name in "${tests[@]}"; do
		[ -n "${reported[$name]:-}" ] || { echo "FAIL $name: never ran"; echo "@@ FAIL $suite/$name (never ran)"; }
	done
	[ "$vm_rc" = 0 ] || [ ${#missing[@]} -gt 0 ] || { echo "FAIL $suite: runner exited $vm_rc"; echo "@@ FAIL $suite (runner exit $vm_rc)"; }
	echo "$suite: $((SECONDS - start)) s"
}
# Suites: tests/vm/run.sh (lsl-vmm and lsl-init), tests/vm/cli.sh (the lsl CLI and the service),
# tests/vm/distro.sh (distributions), whose Docker test (a Debian system with dockerd: 40 % of its time) is
# a suite of its own, vm-docker, so that the two lanes take about as long: run.sh and the rest of distro.sh in
# the first, cli.sh and vm-docker in the second (12-06, a fresh make check: run.sh 459 s, vm-distro 768 s,
# cli.sh 723 s, vm-docker 485 s). With two lanes the first streams as it runs, the second is shown when both
# are done.
docker=(docker_host)
read -ra distro_rest <<<"$(bash tests/vm/distro.sh --list | tr -s " \t" "\n" | grep -vxF "${docker[0]}" | tr '\n' ' ')"
tally=$(mktemp -d "${TMPDIR:-/tmp}/lsl-check.XXXXXX")
if [ $lanes = 2 ]; then
	{
		run_suite tests/vm/cli.sh
		run_suite tests/vm/distro.sh vm-docker "${docker[@]}"
	} >"$tally/lane2" 2>&1 &
	lane2=$!
	{ run_suite tests/vm/run.sh; run_suite tests/vm/distro.sh vm-distro "${distro_rest[@]}"; } 2>&1 |
		tee "$tally/lane1" | grep -v '^@@ '
	wait "$lane2"
	grep -v '^@@ ' "$tally/lane2"
else
	{
		run_suite tests/vm/run.sh
		run_suite tests/vm/cli.sh
		run_suite tests/vm/distro.sh vm-distro "${distro_rest[@]}"
		run_suite tests/vm/distro.sh vm-docker "${docker[@]}"
	} 2>&1 | tee -a "$tally/lane1" | grep -v '^@@ '
fi
while read -r _ status name; do
	record "$status" "$name"
done < <(cat "$tally"/lane* | grep '^@@ ')
rm -rf "$tally"

if [ ${#failed[@]} -gt 0 ]; then
	echo "failed:"
	printf '  %s\n' "${failed[@]}"
fi
if [ ${#flaky_tests[@]} -gt 0 ]; then
	echo "flaky (passed only when run again; not counted as passed):"
	printf '  %s\n' "${flaky_tests[@]}"
fi
# The last line is always exactly "N passed, M failed"; flaky and skipped tests are counted just above it.
[ $flaky -eq 0 ] || echo "$flaky flaky (passed only when run again; not counted as passed)"
[ $skip -eq 0 ] || echo "$skip skipped"
echo "tests took $((SECONDS / 60)) min $((SECONDS % 60)) s"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
