# lib-deps.sh - the Debian packages kube-uproxy needs, listed once.
#
# Sourced (not run) by contrib/check.sh, contrib/demo.sh and
# tests/bench/run.sh.  deps_install
# installs whatever is missing with apt-get when running as root; as a
# normal user it only names what is missing and lets the build fail later
# with the real error.
# shellcheck shell=bash

# Three lists, so that each script installs only what it uses:
# build: compiler, autotools and the -dev packages configure.ac checks
#   (cmocka too: configure requires it);
# demo: what contrib/demo.sh runs besides kube-uproxy: iproute2 (ip netns),
#   procps (sysctl), nginx-light (the pods), curl, iptables, python3;
# test: what only the test suite needs: openssl (the fake API server's
#   CA), nftables (`nft`, only to read our tables in tests; the daemon
#   never runs it), valgrind (check.sh --valgrind), chromium (the status
#   page test), python3-yaml (contrib manifests checked).
# contrib/demo.sh installs build + demo; contrib/check.sh all three.
KUP_BUILD_DEB_PACKAGES=(
	build-essential autoconf automake libtool pkg-config
	libevent-dev libcurl4-openssl-dev libcjson-dev
	libip4tc-dev libip6tc-dev libyaml-dev libbsd-dev libcmocka-dev
	libnftnl-dev libmnl-dev
)
KUP_DEMO_DEB_PACKAGES=(python3 iproute2 procps nginx-light curl iptables)
KUP_TEST_DEB_PACKAGES=(openssl nftables valgrind chromium python3-yaml)

# What deps_install installs: everything (check.sh), unless a script
# narrows it (deps_install_demo).
KUP_DEB_PACKAGES=(
	"${KUP_BUILD_DEB_PACKAGES[@]}" "${KUP_DEMO_DEB_PACKAGES[@]}"
	"${KUP_TEST_DEB_PACKAGES[@]}"
)

# Bench only (tests/bench/run.sh, `make bench`), never installed by
# check.sh: the load tools and the relays kube-uproxy is compared with.
KUP_BENCH_DEB_PACKAGES=(iperf3 haproxy socat wrk nginx-light python3 dnsmasq-base)

# Print the packages of the list that dpkg does not show as installed.
deps_missing() {
	local p status
	for p in "${KUP_DEB_PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) || status=
		[[ $status == installed ]] || printf '%s\n' "$p"
	done
}

# Install the missing packages (root only).  Returns 0 when nothing is
# missing afterwards, 1 otherwise.
deps_install() {
	local missing
	if ! command -v dpkg-query >/dev/null 2>&1; then
		echo "deps: no dpkg-query (not Debian?): not checking packages" >&2
		return 0
	fi
	mapfile -t missing < <(deps_missing)
	((${#missing[@]} == 0)) && return 0
	if ((EUID != 0)); then
		echo "deps: missing packages (run as root to install):" \
		    "${missing[*]}" >&2
		return 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q || return 1
	# nginx-light would start a system nginx on port 80, but we only need
	# the binary: a temporary policy-rc.d (exit 101, "action forbidden")
	# keeps package scripts from starting services, unless the machine
	# already has its own policy.
	local policy=/usr/sbin/policy-rc.d own_policy=0 rc=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" &&
		    own_policy=1
	fi
	apt-get install -y -q --no-install-recommends "${missing[@]}" || rc=1
	((own_policy)) && rm -f "$policy"
	return "$rc"
}

# deps_install_bench: deps_install for KUP_BENCH_DEB_PACKAGES instead of
# the build and test list (which is left as it was).
deps_install_bench() {
	local saved=("${KUP_DEB_PACKAGES[@]}") rc=0
	KUP_DEB_PACKAGES=("${KUP_BENCH_DEB_PACKAGES[@]}")
	deps_install || rc=1
	KUP_DEB_PACKAGES=("${saved[@]}")
	return "$rc"
}

# deps_install_demo: deps_install for the build and demo lists only (no
# Chromium, no valgrind: the demo does not use them).
deps_install_demo() {
	local saved=("${KUP_DEB_PACKAGES[@]}") rc=0
	KUP_DEB_PACKAGES=("${KUP_BUILD_DEB_PACKAGES[@]}" "${KUP_DEMO_DEB_PACKAGES[@]}")
	deps_install || rc=1
	KUP_DEB_PACKAGES=("${saved[@]}")
	return "$rc"
}
