#!/bin/bash
# package.sh - build the Debian package kube-uproxy_<version>_<arch>.deb.
#
# Usage (as root on Debian 12, from anywhere):
#   contrib/package.sh [--out DIR] [--test] [--no-lint]
#
#   1. installs what building a package takes (dpkg-dev, debhelper,
#      lintian) and the Build-Depends of debian/control (apt-get build-dep);
#   2. copies the source tree (the files git knows, or everything but the
#      build directories) to a temporary directory, so that the package
#      build's autoreconf and clean never touch this checkout or its
#      ./build;
#   3. runs `dpkg-buildpackage -us -uc -b` there (the unit tests run as
#      part of it) and puts the .deb in DIR (default ./build-deb);
#   4. runs lintian on the .deb: any error or warning fails the script
#      (overrides, each with its reason, are in debian/*.lintian-overrides);
#   5. with --test, installs it, runs it, removes and purges it, and
#      checks that nothing is left behind (tests/pkg/install_purge.sh).
#      This changes the machine's package database: run it on a machine
#      or root you can spare.
#
# The version is configure.ac's; debian/changelog must name the same one
# (checked here), so the file is kube-uproxy_0.1.0_amd64.deb for 0.1.0.
# As a normal user nothing is installed: the tools must already be there.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build-deb
run_test=0
lint=1
tmp=

usage() {
	echo "usage: $0 [--out DIR] [--test] [--no-lint]" >&2
	exit 2
}
die() {
	echo "package: $*" >&2
	exit 1
}

while (($#)); do
	case $1 in
	--out) (($# >= 2)) || usage; out=$2; shift ;;
	--test) run_test=1 ;;
	--no-lint) lint=0 ;;
	-h | --help) usage ;;
	*) echo "$0: unknown option $1" >&2; usage ;;
	esac
	shift
done

cleanup() { [[ -z $tmp ]] || rm -rf "$tmp"; }
trap cleanup EXIT

# The version, as AC_INIT says it, and as the changelog's top entry does.
version=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$top/configure.ac")
[[ -n $version ]] || die "no version in configure.ac's AC_INIT"
deb_version=$(sed -n '1s/^kube-uproxy (\([^)]*\)).*/\1/p' "$top/debian/changelog")
[[ $deb_version == "$version" ]] ||
    die "debian/changelog says $deb_version, configure.ac $version: add a changelog entry (dch -v $version)"

if ((EUID == 0)); then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends dpkg-dev debhelper \
	    fakeroot lintian
	# build-dep reads debian/control of the directory given.
	apt-get build-dep -y -q "$top/"
else
	echo "package: not root: the build tools and Build-Depends must be installed already" >&2
fi

tmp=$(mktemp -d /tmp/kup-package.XXXXXX)
src=$tmp/kube-uproxy-$version
mkdir "$src"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# Tracked files and new ones not ignored: what a commit would hold.
	(cd "$top" && git ls-files -z --cached --others --exclude-standard |
	    xargs -0 cp --parents -t "$src")
else
	tar -C "$top" --exclude='./build*' --exclude=./.git -cf - . |
	    tar -C "$src" -xf -
fi

echo "package: dpkg-buildpackage -us -uc -b in $src"
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1 || {
	tail -n 40 "$tmp/build.log" >&2
	die "dpkg-buildpackage failed (the last 40 lines are above)"
}
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=kube-uproxy_${version}_$arch.deb
[[ -f $tmp/$deb ]] || die "no $deb was built"
mkdir -p "$out"
cp "$tmp/$deb" "$out/"
deb=$(cd "$out" && pwd)/$deb
echo "package: $deb ($(stat -c %s "$deb") bytes)"
dpkg-deb --contents "$deb" | awk '{ print "   ", $1, $6, $7, $8 }'

if ((lint)); then
	command -v lintian >/dev/null || die "lintian is not installed"
	echo "package: lintian $deb"
	# --fail-on: errors and warnings fail; info and pedantic tags are shown.
	lintian --info --display-info --fail-on error,warning "$deb" ||
	    die "lintian found errors or warnings"
	echo "package: lintian: no error, no warning"
fi

if ((run_test)); then
	bash "$top/tests/pkg/install_purge.sh" "$deb" || die "install/purge test failed"
fi
