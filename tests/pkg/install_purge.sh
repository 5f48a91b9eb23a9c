#!/bin/bash
# install_purge.sh - piuparts' question, asked on this machine: does the
# package install, run, remove and purge, leaving nothing behind?
#
# Usage (as root): tests/pkg/install_purge.sh build-deb/kube-uproxy_*.deb
# (contrib/package.sh --test runs it).  Not part of `make check`: it
# installs a package into the machine's own dpkg database.
#
#   1. lists every file under /etc, /usr and /var (less the package
#      managers' own caches, logs and databases), with a checksum for
#      /etc, before anything is done;
#   2. dpkg -i: the binary, the man page, the unit and the conffile are
#      where they belong; the unit is neither enabled nor started;
#   3. runs /usr/sbin/kube-uproxy with the installed configuration and
#      the example manifests, in a network namespace of its own, until
#      /healthz says 200, then SIGTERM: it exits 0;
#   4. dpkg --remove: the binary goes, the conffile stays (as Debian wants);
#   5. dpkg --purge: the conffile and /etc/kube-uproxy go too;
#   6. the file list is the same as in step 1.
# The last line is "N passed, M failed".
set -uo pipefail

deb=${1:-}
top=$(cd "$(dirname "$0")/../.." && pwd)
netns=kup-pkg-$$
tmp=
pid=
passed=0
failed=0

ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() { # check WHAT COMMAND...
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
finish() {
	echo "$passed passed, $failed failed"
	((failed == 0))
	exit
}

[[ -n $deb && -f $deb ]] || { echo "usage: $0 PACKAGE.deb" >&2; exit 2; }
if ((EUID != 0)); then
	echo "install_purge: SKIP: needs root (dpkg -i)"
	exit 77
fi
if dpkg-query -W -f='${db:Status-Status}' kube-uproxy 2>/dev/null |
    grep -qv '^not-installed$'; then
	echo "install_purge: kube-uproxy is installed already: purge it first" >&2
	exit 1
fi

cleanup() {
	set +e
	[[ -z $pid ]] || { kill -TERM "$pid"; wait "$pid"; } 2>/dev/null
	ip netns del "$netns" 2>/dev/null
	# Never leave the package behind, whatever failed.
	dpkg-query -W kube-uproxy >/dev/null 2>&1 && dpkg --purge kube-uproxy >/dev/null
	[[ -z $tmp ]] || rm -rf "$tmp"
}
trap cleanup EXIT
tmp=$(mktemp -d /tmp/kup-pkg.XXXXXX)

# Every path under /etc, /usr, /var, and for /etc its content too.
# Left out: what package managers and man-db keep for themselves
# (databases, caches, logs), which any install changes.
snapshot() {
	find /usr /var -xdev \
	    \( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache \
	    -o -path /var/log -o -path /var/tmp -o -path /var/lib/man-db \) \
	    -prune -o -print | sort
	find /etc -xdev -type f -exec md5sum {} + 2>/dev/null | sort -k2
	find /etc -xdev ! -type f | sort
}

snapshot >"$tmp/before"

echo "== dpkg -i $deb"
dpkg -i "$deb" >"$tmp/install.log" 2>&1
check "dpkg -i installs it" \
    test "$(dpkg-query -W -f='${db:Status-Status}' kube-uproxy)" = installed
[[ $(dpkg-query -W -f='${db:Status-Status}' kube-uproxy) == installed ]] ||
    { cat "$tmp/install.log"; finish; }
check "binary in /usr/sbin" test -x /usr/sbin/kube-uproxy
check "man page" test -f /usr/share/man/man8/kube-uproxy.8.gz
check "systemd unit" test -f /lib/systemd/system/kube-uproxy.service
check "config is a conffile" grep -q '^ /etc/kube-uproxy/config.conf ' \
    <(dpkg-query -W -f='${Conffiles}\n' kube-uproxy)
check "unit not enabled" test ! -e \
    /etc/systemd/system/multi-user.target.wants/kube-uproxy.service
if [[ -d /run/systemd/system ]]; then
	check "unit not started" \
	    test "$(systemctl is-active kube-uproxy 2>/dev/null)" != active
fi

echo "== run it: the installed configuration plus the example manifests"
ip netns add "$netns"
ip -n "$netns" link set lo up
ip netns exec "$netns" /usr/sbin/kube-uproxy \
    --config /etc/kube-uproxy/config.conf --iptables none \
    --manifests "$top/contrib/examples" --healthz-bind-address 127.0.0.1:10256 \
    >"$tmp/run.log" 2>&1 &
pid=$!
healthy=0
for _ in $(seq 100); do
	if ip netns exec "$netns" curl -sf --max-time 1 \
	    http://127.0.0.1:10256/healthz >/dev/null 2>&1; then
		healthy=1
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
check "it runs and /healthz answers 200" test "$healthy" = 1
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
check "SIGTERM: exit 0" test "$rc" = 0
((healthy && rc == 0)) || sed 's/^/    /' "$tmp/run.log"
ip netns del "$netns"

echo "== dpkg --remove"
dpkg --remove kube-uproxy >>"$tmp/install.log" 2>&1
check "binary removed" test ! -e /usr/sbin/kube-uproxy
check "unit removed" test ! -e /lib/systemd/system/kube-uproxy.service
check "conffile kept by remove" test -f /etc/kube-uproxy/config.conf

echo "== dpkg --purge"
dpkg --purge kube-uproxy >>"$tmp/install.log" 2>&1
check "purged" test "$(dpkg-query -W -f='${db:Status-Status}' kube-uproxy 2>/dev/null)" != installed
check "/etc/kube-uproxy gone" test ! -e /etc/kube-uproxy

snapshot >"$tmp/after"
# On a quiet machine the two lists are equal.  Another apt-get running at
# the same time (a shared machine) adds its own files: a new or changed
# path that dpkg says belongs to another package is that, not ours; one
# that belongs to nobody was left behind.  (Removed paths are not ours to
# explain: a purge that removed too much would have failed dpkg itself.)
diff "$tmp/before" "$tmp/after" | sed -n 's/^> //p' |
    sed 's/^[0-9a-f]\{32\}  //' | sort -u >"$tmp/new"
: >"$tmp/left"
while IFS= read -r path; do
	owner=$(dpkg -S "$path" 2>/dev/null | head -n 1) || owner=
	[[ -n $owner && $owner != kube-uproxy:* ]] || echo "$path" >>"$tmp/left"
done <"$tmp/new"
others=$(($(wc -l <"$tmp/new") - $(wc -l <"$tmp/left")))
((others == 0)) || echo "note: $others new paths belong to packages installed meanwhile by someone else"
if [[ -s $tmp/left ]]; then
	bad "left behind after purge:"
	sed 's/^/    /' "$tmp/left" | head -n 40
else
	ok "nothing left behind in /etc, /usr, /var"
fi
finish
