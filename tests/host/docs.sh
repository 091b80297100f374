#!/usr/bin/env bash
# The man pages and the shell completions, checked on the host: `bash tests/host/docs.sh BUILD`. One
# "PASS docs/NAME" or "FAIL docs/NAME: why" line per check; always exits 0 (the runner counts the lines).
# Nothing here starts a VM: lsl only reads a registry written by hand into a temporary state directory.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" 2>/dev/null && pwd) || { echo "FAIL docs/build: no build directory ${1:-}"; exit 0; }
lsl=$build/cli/lsl
pass() { echo "PASS docs/$1"; }
fail() { echo "FAIL docs/$1: $2"; }
# name, then the reason it failed ("" passes)
check() { if [ -z "$2" ]; then pass "$1"; else fail "$1" "$2"; fi; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lsl-docs.XXXXXX") || { fail setup "mktemp failed"; exit 0; }
trap 'rm -rf "$tmp"' EXIT

# The first line of a text, on one line, for a FAIL message.
first() { head -n 1 <<<"$1" | cut -c 1-200; }

# --- man pages: they render, and without a warning -------------------------------------------------------
# man-db and groff see different things (man misses an unknown font), so both run when both are there.
for page in docs/lsl.1 docs/lsl.conf.5; do
	name=man-${page#docs/}
	if [ ! -f "$root/$page" ]; then
		fail "$name" "$page is missing"
		continue
	fi
	if ! command -v man >/dev/null && ! command -v groff >/dev/null; then
		fail "$name" "neither man nor groff is installed (apt-get install man-db groff-base)"
		continue
	fi
	why="" warnings=""
	if command -v man >/dev/null; then
		warnings+=$(MANWIDTH=80 man -l --warnings=w "$root/$page" 2>&1 >/dev/null)$'\n'
		grep -q '^NAME' < <(MANWIDTH=80 man -l "$root/$page" 2>/dev/null) || why="man renders no NAME section"
	fi
	if command -v groff >/dev/null; then
		warnings+=$(groff -man -ww -z "$root/$page" 2>&1)
	fi
	warnings=$(grep -v '^$' <<<"$warnings")
	[ -n "$warnings" ] && why="$(first "$warnings")"
	check "$name" "$why"
done

# The roff source as text: \- is -, font changes gone.
roff_text() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' -e 's/\\&//g' "$1"; }

# Header lines of .TP items (the line after .TP), as "SH<TAB>SS<TAB>line": a key is documented when it
# heads an item in its section, not merely when its name appears somewhere in the prose.
tp_heads() {
	roff_text "$1" | awk '
		/^\.SH / { sh = substr($0, 5); gsub(/"/, "", sh); ss = ""; next }
		/^\.SS / { ss = substr($0, 5); gsub(/"/, "", ss); next }
		/^\.TP/ { head = 1; next }
		head { print sh "\t" ss "\t" $0; head = 0 }'
}

# --- lsl.1 names every long option lsl --help prints ----------------------------------------------------
if ! help=$("$lsl" --help 2>&1); then
	fail lsl.1-options "$lsl --help failed: $(first "$help")"
else
	opts=$(grep -oE -e '--[a-z][a-z-]*[a-z]' <<<"$help" | sort -u)
	text=$(roff_text "$root/docs/lsl.1")
	missing=""
	for o in $opts; do
		grep -qE -e "(^|[^a-z-])$o([^a-z-]|\$)" <<<"$text" || missing+=" $o"
	done
	if [ "$(wc -l <<<"$opts")" -lt 20 ]; then
		fail lsl.1-options "found only $(wc -l <<<"$opts") long options in lsl --help: the extraction is broken"
	else
		check lsl.1-options "${missing:+not in docs/lsl.1:$missing}"
	fi
fi

# --- lsl.conf.5 documents every key cli/config.c parses ----------------------------------------------
# The key table, cross-checked against the enum it is indexed by, so that a change of its layout fails
# here instead of checking fewer keys.
config=$root/cli/config.c
keys=$(sed -n '/key_names\[K_COUNT\] = {/,/^};/p' "$config" | sed -nE 's/^[[:space:]]*\[K_[A-Z_]+\] = "([A-Za-z]+)",?$/\1/p')
nenum=$(sed -n '/^enum config_key {/,/^};/p' "$config" | grep -E '^[[:space:]]*K_[A-Z_]+,?[[:space:]]*$' |
	grep -vc K_COUNT)
nkeys=$(grep -c . <<<"$keys")
if [ "$nkeys" -lt 10 ] || [ "$nkeys" != "$nenum" ]; then
	fail lsl.conf.5-keys "read $nkeys key names from cli/config.c's key_names for $nenum keys in its enum"
else
	heads=$(tp_heads "$root/docs/lsl.conf.5" | awk -F '\t' '$1 == "~/.lslconfig" { print $3 }')
	missing=""
	for k in $keys; do
		grep -qE "(^|[^A-Za-z])$k([^A-Za-z]|\$)" <<<"$heads" || missing+=" $k"
	done
	check lsl.conf.5-keys "${missing:+not documented under ~/.lslconfig in docs/lsl.conf.5:$missing}"
fi

# The same for wsl.conf/lsl.conf (cli/distconf.c's wsl_conf_keys): a key with an effect heads an item in
# its [section]; one accepted and ignored is at least named.
distconf=$root/cli/distconf.c
table=$(sed -n '/^static const struct key wsl_conf_keys\[\] = {/,/^};/p' "$distconf" |
	sed -nE 's/^[[:space:]]*\{"([A-Za-z]+)", "([A-Za-z]+)", (KEY_[A-Z]+),.*/\1 \2 \3/p')
nrows=$(sed -n '/^static const struct key wsl_conf_keys\[\] = {/,/^};/p' "$distconf" | grep -c '^[[:space:]]*{"')
if [ "$(grep -c . <<<"$table")" -lt 10 ] || [ "$(grep -c . <<<"$table")" != "$nrows" ]; then
	fail lsl.conf.5-distconf-keys "read $(grep -c . <<<"$table") of $nrows rows of cli/distconf.c's wsl_conf_keys"
else
	all=$(tp_heads "$root/docs/lsl.conf.5")
	text=$(roff_text "$root/docs/lsl.conf.5")
	missing=""
	while read -r section key kind; do
		if [ "$kind" = KEY_IGNORED ]; then
			grep -qE "(^|[^A-Za-z])$key([^A-Za-z]|\$)" <<<"$text" || missing+=" [$section]$key"
		else
			awk -F '\t' -v ss="[$section]" '$2 == ss { print $3 }' <<<"$all" |
				grep -qE "(^|[^A-Za-z])$key([^A-Za-z]|\$)" || missing+=" [$section]$key"
		fi
	done <<<"$table"
	check lsl.conf.5-distconf-keys "${missing:+not documented in docs/lsl.conf.5:$missing}"
fi

# --- bash completion ----------------------------------------------------------------------------------
# A home of its own with two registered distributions (cli/registry.c's distros.json in the state
# directory, cli/paths.c), and lsl on PATH as the completion calls it.
mkdir -p "$tmp/home" "$tmp/state/lsl" "$tmp/run" "$tmp/cache" "$tmp/bin" "$tmp/failbin" "$tmp/cwd"
ln -s "$lsl" "$tmp/bin/lsl"
cat >"$tmp/state/lsl/distros.json" <<EOF
{"default": "alpha", "distros": [
 {"name": "alpha", "id": "0123456789abcdef", "dir": "$tmp/d/alpha", "image": "$tmp/d/alpha/ext4.img"},
 {"name": "Beta-2", "id": "fedcba9876543210", "dir": "$tmp/d/beta", "image": "$tmp/d/beta/ext4.img"}]}
EOF
chmod 600 "$tmp/state/lsl/distros.json"
# An lsl that fails loudly: the completion must stay silent.
printf '#!/bin/sh\necho "lsl: something went wrong" >&2\nexit 255\n' >"$tmp/failbin/lsl"
chmod +x "$tmp/failbin/lsl"
names=$'Beta-2\nalpha' # sorted

# Runs a command in the test's environment and nothing of the caller's (no LSL_* of a developer's shell).
in_env() { # PATHDIR command...
	local dir=$1
	shift
	(cd "$tmp/cwd" && env -i HOME="$tmp/home" XDG_STATE_HOME="$tmp/state" XDG_RUNTIME_DIR="$tmp/run" \
		XDG_CACHE_HOME="$tmp/cache" PATH="$dir:/usr/bin:/bin" TERM=dumb "$@")
}

out=$(in_env "$tmp/bin" lsl --list --quiet 2>&1)
if [ "$(sort <<<"$out")" != "$names" ]; then
	fail bash-registry "lsl --list --quiet read the test registry as '$(tr '\n' ' ' <<<"$out")'"
elif [ -e "$tmp/run/lsl/control" ]; then
	fail bash-registry "lsl --list --quiet started the VM"
else
	pass bash-registry
fi

# COMPREPLY for a command line (its last word the one completed), sorted, one per line; the completion's
# stderr in $tmp/err. $1 is -u or +u: `set -u` on or off while completing.
bash_complete() { # -u|+u PATHDIR WORD...
	local mode=$1 dir=$2
	shift 2
	# shellcheck disable=SC2016 # expanded by the bash -c it is for
	in_env "$dir" bash --norc --noprofile -c '
		set "$1"
		source "$2" || exit 1
		shift 2
		spec=$(complete -p lsl 2>/dev/null)
		fn=${spec#*-F }
		fn=${fn%% *}
		[[ $spec == *"-F "* && -n $fn ]] || { echo "no complete -F ... lsl" >&2; exit 1; }
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		COMPREPLY=()
		"$fn" lsl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" ${COMPREPLY[@]+"${COMPREPLY[@]}"}
	' _ "$mode" "$root/completions/lsl.bash" "$@" 2>"$tmp/err" | sort
}

# name, expected (sorted lines), PATHDIR, words: checked with set -u off and on.
bash_check() {
	local name=$1 want=$2 dir=$3 mode got why=""
	shift 3
	for mode in +u -u; do
		got=$(bash_complete "$mode" "$dir" "$@")
		if [ -s "$tmp/err" ]; then
			why="set $mode: it printed: $(first "$(cat "$tmp/err")")"
		elif [ "$got" != "$want" ]; then
			why="set $mode: '$*' gave '$(tr '\n' ' ' <<<"$got")', not '$(tr '\n' ' ' <<<"$want")'"
			[ -n "$want" ] || why="set $mode: '$*' gave '$(tr '\n' ' ' <<<"$got")', not nothing"
		fi
		[ -n "$why" ] && break
	done
	check "$name" "$why"
}

if [ ! -f "$root/completions/lsl.bash" ]; then
	fail bash-completion "completions/lsl.bash is missing"
else
	bash_check bash-distributions "$names" "$tmp/bin" lsl -d ''
	bash_check bash-distribution-prefix "Beta-2" "$tmp/bin" lsl --distribution B
	bash_check bash-option "--install" "$tmp/bin" lsl --ins
	bash_check bash-export "$names" "$tmp/bin" lsl --export ''
	# The built-in catalog's names (lsl --list --online --quiet; no network for the built-in one).
	bash_check bash-install-catalog "$("$build/cli/lsl" --list --online --quiet 2>/dev/null | sort)" "$tmp/bin" lsl --install ''
	bash_check bash-format $'tar\ntar.gz\ntar.xz\ntar.zst' "$tmp/bin" lsl --export alpha out.tar --format ''
	bash_check bash-shell-type $'login\nnone\nstandard' "$tmp/bin" lsl --shell-type ''
	bash_check bash-user-free-text "" "$tmp/bin" lsl -u ''
	bash_check bash-lsl-fails "" "$tmp/failbin" lsl -d ''
	bash_check bash-no-lsl "" "$tmp/bin" /nonexistent/lsl -t ''
fi

# --- zsh completion -----------------------------------------------------------------------------------
if ! command -v zsh >/dev/null; then
	fail zsh-syntax "zsh is not installed (apt-get install zsh)"
	fail zsh-complete "zsh is not installed (apt-get install zsh)"
elif [ ! -f "$root/completions/_lsl" ]; then
	fail zsh-syntax "completions/_lsl is missing"
else
	if [ "$(head -n 1 "$root/completions/_lsl")" != "#compdef lsl" ]; then
		fail zsh-syntax "completions/_lsl does not start with #compdef lsl"
	elif out=$(zsh -n "$root/completions/_lsl" 2>&1); then
		pass zsh-syntax
	else
		fail zsh-syntax "$(first "$out")"
	fi
	# The real thing: an interactive zsh in a pseudo-terminal, compinit with our directory first, TAB after
	# `lsl -d `; the listing must show both names (the working directory holds no file of those names).
	cat >"$tmp/zcomplete.zsh" <<'EOF'
zmodload zsh/zpty || exit 2
zpty z zsh -f -i
zpty -w z 'PS1="%% "; fpath=("$LSL_COMPDIR" $fpath); autoload -Uz compinit && compinit -u -D; setopt autolist nolistambiguous nobeep; print RE""ADY'
out=
for i in {1..100}; do
	while zpty -r -t z chunk; do out+=$chunk; done
	[[ $out == *READY* ]] && break
	sleep 0.1
done
zpty -w -n z $'lsl -d \t'
out=
for i in {1..100}; do
	while zpty -r -t z chunk; do out+=$chunk; done
	[[ $out == *alpha* && $out == *Beta-2* ]] && break
	sleep 0.1
done
zpty -d z
print -r -- $out
EOF
	out=$(in_env "$tmp/bin" LSL_COMPDIR="$root/completions" timeout 60 zsh -f "$tmp/zcomplete.zsh" 2>&1)
	if grep -q alpha <<<"$out" && grep -q Beta-2 <<<"$out"; then
		pass zsh-complete
	else
		fail zsh-complete "no distribution names after 'lsl -d <TAB>': $(tr -cd '[:print:]' <<<"$out" | tail -c 200)"
	fi
fi

# --- shellcheck, where it is installed ------------------------------------------------------------------
if command -v shellcheck >/dev/null; then
	if out=$(shellcheck -s bash "$root/completions/lsl.bash" "$root/tests/host/docs.sh" 2>&1); then
		pass shellcheck
	else
		fail shellcheck "$(grep -m 1 '^In ' <<<"$out") $(grep -m 1 -oE 'SC[0-9]+.*' <<<"$out")"
	fi
fi
exit 0
