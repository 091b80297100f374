#!/usr/bin/env bash
# make run's network part, as a new user would try it (issue 13's acceptance): the distribution installs a
# package from Debian's archive through the VM's NAT, and a server started in it answers on the host's
# localhost, forwarded without anything configured (make is for files-demo.sh). Needs a route to
# deb.debian.org (make check never runs this; it stays offline). Usage: net-demo.sh LSL DISTRO
set -uo pipefail
lsl=$1 distro=$2
say() { printf 'net-demo: %s\n' "$*"; }
ms() { date +%s%3N; }

t=$(ms)
"$lsl" -d "$distro" -u root -- 'apt-get update -q && apt-get install -y -q --no-install-recommends curl python3 make' \
	>/dev/null || { say "apt-get in $distro failed: is Debian's archive reachable from here?"; exit 1; }
say "apt-get update && apt-get install curl python3 make in $distro: $(($(ms) - t)) ms"
"$lsl" -d "$distro" -e curl -sS -o /dev/null -w 'net-demo: curl in the guest: HTTP %{http_code} from %{url_effective}\n' \
	http://deb.debian.org/debian/ || exit 1

out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$lsl" -d "$distro" -- python3 -u -m http.server 8000 >"$out" 2>&1 &
srv=$!
for _ in $(seq 1200); do grep -q 'Serving HTTP' "$out" && break; sleep 0.05; done
grep -q 'Serving HTTP' "$out" || { say "the guest's server did not start: $(cat "$out")"; kill $srv; exit 1; }
t=$(ms)
until curl -s -o /dev/null http://localhost:8000/; do
	[ $(($(ms) - t)) -lt 10000 ] || { say "localhost:8000 on the host did not answer in 10 s"; kill $srv; exit 1; }
	sleep 0.01
done
say "curl localhost:8000 on the host answered $(($(ms) - t)) ms after the guest's server said it was serving:"
curl -s http://localhost:8000/ | grep -m1 -o '<title>.*</title>'
kill $srv
wait $srv 2>/dev/null
exit 0
