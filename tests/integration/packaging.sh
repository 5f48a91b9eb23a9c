#!/bin/bash
# packaging.sh - what can be checked of the packaging without installing
# anything: the package's version is configure's, debian/ uses the dh
# sequencer with debhelper-compat, the unit is neither enabled nor
# started by the package, the example configuration becomes the conffile
# the unit reads, the DaemonSet runs the image contrib/image.sh names, and
# the demo installs no test-only package (Chromium, valgrind) while
# check.sh does.  Building and installing the package and the image is
# contrib/package.sh --test and tests/pkg/image.sh (root, not make check).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

TOP=$(cd "$TESTS_SRCDIR/.." && pwd)
[ -d "$TOP/debian" ] || skip "no debian/ in $TOP (a dist tarball without it?)"

version=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$TOP/configure.ac")
expect_match "configure.ac version" "$version" '^[0-9]+\.[0-9]+\.[0-9]+$'
expect_eq "debian/changelog version is configure.ac's" \
    "$(sed -n '1s/^kube-uproxy (\([^)]*\)).*/\1/p' "$TOP/debian/changelog")" "$version"
control=$(cat "$TOP/debian/control")
expect_match "Build-Depends debhelper-compat" "$control" 'debhelper-compat \(= 1[0-9]\)'
for lib in libevent-dev libcurl4-openssl-dev libcjson-dev libip4tc-dev \
    libip6tc-dev libyaml-dev libbsd-dev libcmocka-dev; do
	expect_match "Build-Depends $lib (configure checks it)" "$control" "[ ,]$lib"
done
rules=$(cat "$TOP/debian/rules")
expect_match "dh sequencer" "$rules" $'\n\tdh \\$@'
expect_match "unit not enabled, not started" "$rules" \
    'dh_installsystemd --no-enable --no-start'
expect_match "example config installed as the unit's file" "$(echo "$rules" | tr '\n\\' '  ')" \
    'contrib/kube-uproxy.conf[^/]*debian/kube-uproxy/etc/kube-uproxy/config.conf'
expect_match "the unit reads that file" "$(cat "$TOP/contrib/kube-uproxy.service")" \
    'ExecStart=/usr/sbin/kube-uproxy --config=/etc/kube-uproxy/config.conf'
expect_match "the unit is packaged" "$(cat "$TOP/debian/kube-uproxy.install")" \
    '^contrib/kube-uproxy.service lib/systemd/system/$'
# Every lintian override says why (a comment line before it).
for f in "$TOP"/debian/*lintian-overrides; do
	[ -e "$f" ] || continue
	awk '!/^#/ && NF && prev !~ /^#/ { bad = 1 } { prev = $0 } END { exit bad }' "$f" ||
	    fail "$f: an override without a comment saying why"
done

ds=$(cat "$TOP/contrib/kube-uproxy-daemonset.yaml")
expect_match "DaemonSet runs kube-uproxy:$version" "$ds" \
    "^ +image: kube-uproxy:$version\$"
expect_match "image.sh names the same image" "$(cat "$TOP/contrib/image.sh")" \
    'kube-uproxy:\$version'

for s in package.sh image.sh; do
	bash -n "$TOP/contrib/$s" || fail "contrib/$s: syntax"
done
for s in install_purge.sh image.sh; do
	bash -n "$TOP/tests/pkg/$s" || fail "tests/pkg/$s: syntax"
done

# The package lists: demo = build + demo, check = all three.
# shellcheck source=../../contrib/lib-deps.sh
. "$TOP/contrib/lib-deps.sh"
demo=" ${KUP_BUILD_DEB_PACKAGES[*]} ${KUP_DEMO_DEB_PACKAGES[*]} "
all=" ${KUP_DEB_PACKAGES[*]} "
for p in chromium valgrind; do
	case $demo in *" $p "*) fail "the demo would install $p" ;; esac
	case $all in *" $p "*) ;; *) fail "check.sh would not install $p" ;; esac
done
for p in nginx-light curl iproute2 iptables libevent-dev; do
	case $demo in *" $p "*) ;; *) fail "the demo would not install $p" ;; esac
done
expect_match "demo.sh installs the demo lists" "$(cat "$TOP/contrib/demo.sh")" \
    $'\ndeps_install_demo \\|\\|'
expect_match "check.sh installs everything" "$(cat "$TOP/contrib/check.sh")" \
    $'\nif ! deps_install; then'
pass
