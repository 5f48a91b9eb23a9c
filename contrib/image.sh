#!/bin/bash
# image.sh - build the container image kube-uproxy:<version> from Debian
# packages alone: no base image, nothing pulled from any image registry.
#
# Usage (as root on Debian 12, from anywhere):
#   contrib/image.sh [--deb FILE] [--out DIR]
#
#   1. takes the Debian package (FILE, or builds it with contrib/package.sh)
#      and unpacks it into an empty root file system;
#   2. asks the dynamic loader which shared libraries /usr/sbin/kube-uproxy
#      loads (ldd: the whole closure, libc included), finds the Debian
#      package of each (dpkg -S), downloads those packages (apt-get
#      download: Debian 12's current versions) and unpacks them into the root
#      with dpkg-deb -x; only their copyright files are kept of their
#      documentation, and glibc's iconv modules are left out (the binary
#      never converts character sets);
#   3. adds what a root file system needs around them: /etc/ld.so.cache
#      (ldconfig -r), /etc/nsswitch.conf, /tmp and /run (the xtables lock);
#   4. builds the image with buildah from `scratch`, entrypoint
#      /usr/sbin/kube-uproxy, in a private store (the machine's own
#      container storage is not touched);
#   5. writes DIR/kube-uproxy_<version>_<arch>.oci.tar (default DIR:
#      ./build-deb): an OCI image layout (oci-layout, index.json, blobs)
#      with gzip-compressed layers, plus the manifest.json that `docker
#      save` writes, so that one file loads everywhere:
#        podman load -i FILE                    (OCI archive)
#        docker load -i FILE                    (manifest.json, any version)
#        ctr -n k8s.io images import FILE       (containerd, e.g. kubelet's)
#      All three name it docker.io/library/kube-uproxy:<version>, which is
#      what the short name kube-uproxy:<version> (the DaemonSet's) means.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build-deb
deb=
tmp=

usage() {
	echo "usage: $0 [--deb FILE] [--out DIR]" >&2
	exit 2
}
die() {
	echo "image: $*" >&2
	exit 1
}

while (($#)); do
	case $1 in
	--deb) (($# >= 2)) || usage; deb=$2; shift ;;
	--out) (($# >= 2)) || usage; out=$2; shift ;;
	-h | --help) usage ;;
	*) echo "$0: unknown option $1" >&2; usage ;;
	esac
	shift
done

((EUID == 0)) || die "run as root (buildah, and apt-get for missing tools)"
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d /tmp/kup-image.XXXXXX)
B=(buildah --root "$tmp/storage" --runroot "$tmp/run" --storage-driver vfs)
ctr=
cleanup() {
	set +e
	[[ -z $ctr ]] || "${B[@]}" rm "$ctr" >/dev/null 2>&1
	# vfs layers are plain directories; buildah leaves nothing mounted.
	rm -rf "$tmp"
}
trap cleanup EXIT

if ! command -v buildah >/dev/null; then
	echo "image: installing buildah"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends buildah || die "cannot install buildah"
fi

version=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$top/configure.ac")
arch=$(dpkg --print-architecture)
if [[ -z $deb ]]; then
	"$top/contrib/package.sh" --out "$out" || die "building the package failed"
	deb=$out/kube-uproxy_${version}_$arch.deb
fi
[[ -f $deb ]] || die "no package $deb"
deb_version=$(dpkg-deb -f "$deb" Version)
[[ $deb_version == "$version" ]] ||
    die "$deb is version $deb_version, the source $version"

root=$tmp/root
mkdir "$root"
dpkg-deb -x "$deb" "$root"
bin=$root/usr/sbin/kube-uproxy
[[ -x $bin ]] || die "$deb has no /usr/sbin/kube-uproxy"

# Every shared object the loader maps for the binary, by path: both
# "libx.so => /path (addr)" lines and the loader's own "/path (addr)".
mapfile -t libs < <(ldd "$bin" | awk '
	$2 == "=>" && $3 ~ /^\// { print $3 }
	$1 ~ /^\// { print $1 }' | sort -u)
((${#libs[@]} > 0)) || die "ldd names no library for $bin"
grep -q 'not found' < <(ldd "$bin") && die "ldd: a library is missing here: $(ldd "$bin" | grep 'not found')"

# The package that ships each library.  dpkg knows a file by the name its
# package shipped, and on a merged-/usr system /lib is /usr/lib: ask for
# each path as named, as resolved, and with and without /usr, all in one
# dpkg -S (which reads its whole file database every time it runs).
variants() {
	local r
	r=$(readlink -f "$1")
	printf '%s\n' "$1" "$r" "${1#/usr}" "/usr$1" "${r#/usr}" "/usr$r"
}
mapfile -t asked < <(for l in "${libs[@]}"; do variants "$l"; done | sort -u)
declare -A owner=()
while IFS= read -r line; do
	# "pkg:arch: /path" or "pkg: /path"; diversions ("diversion by") skipped.
	[[ $line == *": /"* && $line != diversion* ]] || continue
	owner[${line#*: }]=${line%%: /*}
done < <(dpkg -S "${asked[@]}" 2>/dev/null)
pkgs=()
for l in "${libs[@]}"; do
	p=
	while IFS= read -r v; do
		[[ -n ${owner[$v]:-} ]] && { p=${owner[$v]%%:*}; break; }
	done < <(variants "$l")
	[[ -n $p ]] || die "no Debian package ships $l"
	pkgs+=("$p")
done
mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
echo "image: ${#libs[@]} libraries from ${#pkgs[@]} packages: ${pkgs[*]}"

mkdir "$tmp/debs"
# apt fetches as the _apt user where it can (else it warns and fetches as root).
chmod 755 "$tmp"
chown _apt "$tmp/debs" 2>/dev/null || true
# Debian 12's current version of each (security updates included): the
# same sonames as those ldd just found here, whatever version this
# machine has installed (tests/pkg/image.sh runs ldd again inside).
(cd "$tmp/debs" && apt-get download -q "${pkgs[@]}" >/dev/null) ||
    die "apt-get download failed (apt-get update first?)"
for f in "$tmp"/debs/*.deb; do
	dpkg-deb -x "$f" "$root"
done

# Trim what no process in the image reads: documentation but for the
# copyright files, manual pages, locales, the systemd unit (a container
# has no systemd), and glibc's character set converters.
find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root/usr/share/man" "$root/usr/share/info" "$root/usr/share/locale" \
    "$root/usr/share/lintian" "$root/usr/share/bug" "$root/lib/systemd" \
    "$root"/usr/lib/*-linux-gnu/gconv

mkdir -p "$root/etc" "$root/tmp" "$root/run" "$root/var/lib/kube-uproxy"
chmod 1777 "$root/tmp"
echo 'include /etc/ld.so.conf.d/*.conf' >"$root/etc/ld.so.conf"
ldconfig -r "$root"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
    >"$root/etc/hosts"

# One layer: the root as a tarball, owned by root, in a stable order.
tar -C "$root" --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime=@0 -cf "$tmp/root.tar" .

ctr=$("${B[@]}" from scratch)
"${B[@]}" add "$ctr" "$tmp/root.tar" / >/dev/null
"${B[@]}" config --entrypoint '["/usr/sbin/kube-uproxy"]' --cmd '' \
    --env PATH=/usr/sbin:/usr/bin:/sbin:/bin --workingdir / \
    --os linux --arch "$arch" \
    --label org.opencontainers.image.title=kube-uproxy \
    --label org.opencontainers.image.version="$version" \
    --label org.opencontainers.image.description="Kubernetes service proxy in user space" \
    "$ctr"
"${B[@]}" commit -q --format oci "$ctr" "localhost/kube-uproxy:$version" >/dev/null
"${B[@]}" rm "$ctr" >/dev/null
ctr=
"${B[@]}" push -q "localhost/kube-uproxy:$version" \
    "oci-archive:$tmp/oci.tar:kube-uproxy:$version"

# Add docker's manifest.json and containerd's name to the OCI layout.
mkdir "$tmp/layout"
tar -C "$tmp/layout" -xf "$tmp/oci.tar"
python3 - "$tmp/layout" "$version" <<'PY'
import json, os, sys
d, version = sys.argv[1], sys.argv[2]
idx = json.load(open(os.path.join(d, "index.json")))
desc = idx["manifests"][0]
blob = lambda digest: os.path.join("blobs", *digest.split(":", 1))
man = json.load(open(os.path.join(d, blob(desc["digest"]))))
ann = desc.setdefault("annotations", {})
ann["org.opencontainers.image.ref.name"] = "kube-uproxy:" + version
ann["io.containerd.image.name"] = "docker.io/library/kube-uproxy:" + version
json.dump(idx, open(os.path.join(d, "index.json"), "w"), separators=(",", ":"))
# docker load reads this; the layers it names are the gzip blobs.
json.dump([{
    "Config": blob(man["config"]["digest"]),
    "RepoTags": ["kube-uproxy:" + version],
    "Layers": [blob(l["digest"]) for l in man["layers"]],
}], open(os.path.join(d, "manifest.json"), "w"), separators=(",", ":"))
PY
image=$out/kube-uproxy_${version}_$arch.oci.tar
(cd "$tmp/layout" && tar --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime=@0 -cf "$image" oci-layout index.json manifest.json blobs)

size=$(stat -c %s "$image")
unpacked=$(du -sk "$root" | cut -f1)
echo "image: $image"
echo "image: kube-uproxy:$version, $((size / 1024)) KiB as loaded (layers gzip-compressed), $((unpacked / 1024)) MiB unpacked"
