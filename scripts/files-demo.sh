#!/usr/bin/env bash
# make run's host-files part, as a new user would try it (issue 14's acceptance): in a host project
# directory, `lsl -- ls` lists it and `lsl -- make` builds it (the command starts in the matching directory
# under /mnt/host), the host sees what the guest built at once, and an edit made on the host is what the
# guest reads and rebuilds from. Needs make in the distribution (net-demo.sh installs it). Usage:
# files-demo.sh LSL DISTRO
set -uo pipefail
lsl=$1 distro=$2
say() { printf 'files-demo: %s\n' "$*"; }
ms() { date +%s%3N; }

proj=$(mktemp -d "${HOME:-/tmp}/lsl-demo-project.XXXXXX")
trap 'rm -rf "$proj"' EXIT
echo hello >"$proj/greeting.txt"
printf 'LOUD.txt: greeting.txt\n\ttr a-z A-Z <greeting.txt >LOUD.txt\n' >"$proj/Makefile"
cd "$proj" || exit 1
say "lsl -- pwd in $proj: $("$lsl" -d "$distro" -- pwd)"
say "lsl -- ls: $("$lsl" -d "$distro" -- ls | tr '\n' ' ')"
t=$(ms)
"$lsl" -d "$distro" -- make -s || { say "make in the guest failed"; exit 1; }
[ "$(cat LOUD.txt 2>/dev/null)" = HELLO ] || { say "the host does not see what make built: '$(cat LOUD.txt)'"; exit 1; }
say "lsl -- make built LOUD.txt, read on the host: $(cat LOUD.txt) ($(($(ms) - t)) ms)"
sleep 1.1 # a new mtime second for make (and the share's stated 1 s bound, vmm/fs/README.md)
echo 'hello again' >greeting.txt
t=$(ms)
out=$("$lsl" -d "$distro" -- 'make -s && cat LOUD.txt')
[ "$out" = 'HELLO AGAIN' ] || { say "after an edit on the host, the guest rebuilt '$out'"; exit 1; }
say "edited on the host, rebuilt in the guest: $out ($(($(ms) - t)) ms)"
