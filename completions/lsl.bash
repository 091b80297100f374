# bash completion for lsl(1). Source it, or install it as /usr/share/bash-completion/completions/lsl.
# Self-contained (no bash-completion helpers needed), safe under `set -u`, silent when lsl fails. The grammar
# is cli/args.c's: a management verb (--install, --export, ...) only as the first word, then its own
# arguments; otherwise run options, then the command line.

# The lsl being completed (a tilde is not expanded in COMP_WORDS), with its stderr and stdin kept away from
# the terminal: a completion must never print or wait.
_lsl_run() {
	local lsl=${COMP_WORDS[0]-lsl}
	[[ $lsl == \~/* ]] && lsl=${HOME-}/${lsl#\~/}
	# Only what `lsl --list --online` can do needs a bound: a configured catalog may be a slow URL.
	if command -v timeout >/dev/null 2>&1; then
		timeout 10 "$lsl" "$@" </dev/null 2>/dev/null
	else
		command "$lsl" "$@" </dev/null 2>/dev/null
	fi
}

# Appends to COMPREPLY the words that start with $1, whatever they hold: compgen -W would expand them.
_lsl_add() {
	local cur=$1 w
	shift
	for w in "$@"; do
		[[ $w == "$cur"* ]] && COMPREPLY+=("$w")
	done
	return 0
}

# Names from lsl's output are kept only when they are valid distribution names (proto/distro.h), so that a
# strange line can never become a strange completion.
_lsl_valid_name() {
	[[ $1 =~ ^[A-Za-z0-9_][A-Za-z0-9._-]*$ ]]
}

_lsl_distributions() {
	local name names=()
	while IFS= read -r name; do
		_lsl_valid_name "$name" && names+=("$name")
	done < <(_lsl_run --list --quiet)
	_lsl_add "$1" ${names[@]+"${names[@]}"}
}

# `lsl --list --online --quiet`: the catalog's names, one a line (cli/verbs/list.c).
_lsl_catalog() {
	local name names=()
	while IFS= read -r name; do
		_lsl_valid_name "$name" && names+=("$name")
	done < <(_lsl_run --list --online --quiet)
	_lsl_add "$1" ${names[@]+"${names[@]}"}
}

_lsl_files() {
	compopt -o filenames 2>/dev/null # only inside a completion; harmless elsewhere
	local f
	while IFS= read -r f; do
		COMPREPLY+=("$f")
	done < <(compgen -f -- "$1")
}

_lsl_dirs() {
	compopt -o filenames 2>/dev/null
	local f
	while IFS= read -r f; do
		COMPREPLY+=("$f")
	done < <(compgen -d -- "$1")
}

# Completes the value $2 of option $1; returns 1 when $1 takes no value.
_lsl_value() {
	case $1 in
	-d | --distribution | --export | --unregister | -s | --set-default | -t | --terminate | --manage)
		_lsl_distributions "$2" ;;
	--install) _lsl_catalog "$2" ;;
	--cd | --location | --move) _lsl_dirs "$2" ;;
	--from-file) _lsl_files "$2" ;;
	--format) _lsl_add "$2" tar tar.gz tar.xz tar.zst ;;
	--shell-type) _lsl_add "$2" standard login none ;;
	-u | --user | -n | --name | --set-default-user | --resize) ;; # free text
	*) return 1 ;;
	esac
	return 0
}

# --install's and --import's --user U | --no-user, one or the other, into the caller's opts.
_lsl_user_opts() {
	[[ $used == *" -u "* || $used == *" --user "* || $used == *" --no-user "* ]] || opts+=(--user --no-user)
}

_lsl() {
	COMPREPLY=()
	# COMP_WORDS split "--opt=value" at "=" (COMP_WORDBREAKS); join such words again so that the grammar
	# sees one word, as lsl will.
	local words=() cword=0 i w joined=0
	for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
		w=${COMP_WORDS[i]}
		if ((joined)); then
			words[${#words[@]} - 1]+=$w
			joined=0
		elif [[ $w == = && ${#words[@]} -gt 1 && ${words[${#words[@]} - 1]} == --* &&
			${words[${#words[@]} - 1]} != *=* ]]; then
			words[${#words[@]} - 1]+="="
			((i < COMP_CWORD)) && joined=1
		else
			words+=("$w")
		fi
		((i == COMP_CWORD)) && cword=$((${#words[@]} - 1))
	done
	((COMP_CWORD >= ${#COMP_WORDS[@]})) && words+=("") && cword=$((${#words[@]} - 1))
	local cur=${words[cword]-} prev=""
	((cword > 0)) && prev=${words[cword - 1]}

	# --opt=value: complete the value; readline replaces only what follows "=" when "=" breaks words.
	if [[ $cur == --*=* ]]; then
		local opt=${cur%%=*} val=${cur#*=} n
		n=${#COMPREPLY[@]}
		_lsl_value "$opt" "$val" || return 0
		if [[ ${COMP_WORDBREAKS-} != *=* ]]; then
			for ((i = n; i < ${#COMPREPLY[@]}; i++)); do
				COMPREPLY[i]=$opt=${COMPREPLY[i]}
			done
		fi
		return 0
	fi

	local verb=""
	case ${words[1]-} in
	--install | --import | --import-in-place | --export | --unregister | -s | --set-default | -l | --list | -t | --terminate | --manage | --set-version | --set-default-version)
		((cword > 1)) && verb=${words[1]} ;;
	esac

	if [[ -n $verb ]]; then
		# The verb's own arguments: count the positional ones before the cursor, skipping options and
		# the values they take.
		local npos=0 used=" "
		for ((i = 2; i < cword; i++)); do
			w=${words[i]}
			case $w in
			--format | -n | --name | --location | --from-file | --set-default-user | --resize | --move | --version | -u | --user)
				used+="$w "
				((i++)) ;;
			-*) used+="${w%%=*} " ;;
			*) ((npos++)) ;;
			esac
		done
		case $prev in
		--format | -n | --name | --location | --from-file | --set-default-user | --resize | --move | -u | --user)
			_lsl_value "$prev" "$cur"
			return 0 ;;
		--version)
			[[ $verb == --import ]] && _lsl_add "$cur" 2
			return 0 ;;
		esac
		local opts=()
		case $verb in
		--install)
			opts=(--name --location --from-file --no-launch --download-only)
			_lsl_user_opts
			if ((npos == 0)) && [[ $cur != -* ]]; then
				_lsl_catalog "$cur"
				return 0
			fi ;;
		--import)
			opts=(--vhd)
			_lsl_user_opts
			if [[ $cur != -* ]]; then
				case $npos in
				0) ;; # the new name: free text
				1) _lsl_dirs "$cur" ;;
				2) _lsl_files "$cur" ;;
				esac
				return 0
			fi ;;
		--import-in-place)
			_lsl_user_opts
			if [[ $cur != -* ]]; then
				((npos == 1)) && _lsl_files "$cur" # npos 0: the new name, free text
				return 0
			fi ;;
		--export)
			opts=(--format --vhd)
			if [[ $cur != -* ]]; then
				case $npos in
				0) _lsl_distributions "$cur" ;;
				1) _lsl_files "$cur" ;;
				esac
				return 0
			fi ;;
		--manage)
			if ((npos == 0)); then
				[[ $cur != -* ]] && _lsl_distributions "$cur"
				return 0
			fi
			# exactly one of them
			[[ $used == *" --"[smr]* ]] || opts=(--set-default-user --resize --move) ;;
		-l | --list)
			# Only what can still be combined with what is there (cli/args.c's rules).
			local v=0 q=0 ra=0 on=0
			[[ $used == *" -v "* || $used == *" --verbose "* ]] && v=1
			[[ $used == *" -q "* || $used == *" --quiet "* ]] && q=1
			[[ $used == *" --running "* || $used == *" --all "* ]] && ra=1
			[[ $used == *" -o "* || $used == *" --online "* ]] && on=1
			((v || q || on)) || opts+=(-v --verbose)
			((v || q)) || opts+=(-q --quiet)
			((ra || on)) || opts+=(--running --all)
			((on || v || ra)) || opts+=(--online) ;;
		--set-version) # NAME 2
			((npos == 0)) && _lsl_distributions "$cur"
			((npos == 1)) && _lsl_add "$cur" 2
			return 0 ;;
		--set-default-version)
			((npos == 0)) && _lsl_add "$cur" 2
			return 0 ;;
		*) # -s, -t, --unregister: one name
			((npos == 0)) && _lsl_distributions "$cur"
			return 0 ;;
		esac
		# Options not given yet.
		local o keep=()
		for o in ${opts[@]+"${opts[@]}"}; do
			[[ $used == *" $o "* ]] || keep+=("$o")
		done
		_lsl_add "$cur" ${keep[@]+"${keep[@]}"}
		return 0
	fi

	# Run options, up to the command line: after "--", -e CMD or the first word that is not an option,
	# every word is the command's (host files, as a relative path is the same in the guest's share).
	local used=" "
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		case $w in
		-- | -e | --exec)
			_lsl_files "$cur"
			return 0 ;;
		-d | --distribution | -u | --user | --cd | --shell-type)
			used+="$w "
			((i++)) ;;
		-*) used+="${w%%=*} " ;;
		*)
			_lsl_files "$cur"
			return 0 ;;
		esac
	done
	if _lsl_value "$prev" "$cur"; then
		return 0
	fi
	if [[ $cur == -* ]]; then
		local opts=(-e --exec -d --distribution -u --user --cd --shell-type --system --debug-shell --shutdown --force
			--status --json --version --help --) o keep=()
		# The verbs stand alone, first on the line.
		((cword == 1)) && opts+=(--install --import --import-in-place --export -l --list -s --set-default -t --terminate
			--unregister --manage --set-version --set-default-version)
		for o in "${opts[@]}"; do
			case " $o " in
			" -d " | " --distribution ") [[ $used == *" -d "* || $used == *" --distribution "* ]] && continue ;;
			" -u " | " --user ") [[ $used == *" -u "* || $used == *" --user "* ]] && continue ;;
			*) [[ $used == *" $o "* ]] && continue ;;
			esac
			keep+=("$o")
		done
		_lsl_add "$cur" "${keep[@]}"
		return 0
	fi
	_lsl_files "$cur"
	return 0
}

complete -F _lsl lsl
