# Shared by the VM test suites (run.sh, cli.sh): `--list`, the test runner and the assertion helper.
# A suite sources this first, defines its tests and all_tests="...", then calls run_suite "$@".
# shellcheck shell=bash
set -uo pipefail
suite=${BASH_SOURCE[1]}
# `SUITE --list` names the tests; `SUITE NAME...` runs only those (tests/run.sh re-runs what never reported).
if [ "${1:-}" = --list ]; then
	sed -n '/^all_tests="/,/"$/p' "$suite" | tr -d '"' | sed 's/^all_tests=//'
	exit 0
fi
[ -n "${LSL_VMM:-}" ] || source "$(dirname "$suite")/../../scripts/env.sh" build

t() { # name function: "PASS name", "FLAKY name: ..." (passed only on its second try) or "FAIL name: last line"
	local name=$1 out first
	if out=$("$2" 2>&1); then
		echo "PASS $name"
	elif grep -q '^timed out after' <<<"$out" && [ -n "${L:-}" ]; then
		# A command that hung: under TCG the VM can livelock like its host (tests/vmhost/vmhost.sh). One more
		# try on a fresh VM; both outcomes are reported.
		first=$(tail -n 8 <<<"$out")
		echo "note: $name hung; trying it once more on a new VM" # also a sign of life for vmhost's watchdog
		timeout -k 5 60 "$L" --shutdown >/dev/null 2>&1
		pkill -KILL -f "lsl-vmm --service $XDG_RUNTIME_DIR/lsl" 2>/dev/null
		if out=$("$2" 2>&1); then
			echo "FLAKY $name: passed on its second try on a new VM; the first hung:"
			sed 's/^/    /' <<<"$first"
		else
			echo "FAIL $name: $(tail -n1 <<<"$out") (second try; the first hung too)"
			sed 's/^/    /' <<<"$first"
			sed 's/^/    /' <<<"$out" | tail -n 8
		fi
	else
		echo "FAIL $name: $(tail -n1 <<<"$out")"
		sed 's/^/    /' <<<"$out" | tail -n 15
	fi
}
expect_rc() { # want cmd...
	local want=$1 rc
	shift
	"$@"
	rc=$?
	[ "$rc" -eq "$want" ] || { echo "exit status $rc, expected $want: $*"; return 1; }
}
# One lsl command of the CLI suites ($L), bounded: a hung one is killed (lsl forwards SIGTERM to the command
# and waits for it, so a VM that stopped answering needs the KILL). Then the end of the VM's logs, on stderr,
# so a command substitution keeps only the answer. LSL_BOUND_S (default 300) for the few long steps.
lsl_bounded() {
	local rc bound=${LSL_BOUND_S:-300}
	timeout -k 10 "$bound" "$L" "$@"
	rc=$?
	if [ $rc = 124 ] || [ $rc = 137 ]; then
		echo "timed out after $bound s: lsl $*; the VM's console, then the service's log:"
		tail -n 12 "$XDG_STATE_HOME/lsl/console.log" "$XDG_STATE_HOME/lsl/service.log" 2>&1 | sed 's/^/  /'
	fi >&2
	return $rc
}
run_suite() { # [names...]
	local name
	# shellcheck disable=SC2154 # all_tests is the suite's
	for name in ${*:-$all_tests}; do
		t "$name" "$name"
	done
}
