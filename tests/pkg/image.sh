#!/bin/bash
# image.sh - the container image contrib/image.sh builds, checked without
# running a container (this machine cannot: no cgroups for a runtime).
#
# Usage (as root): tests/pkg/image.sh build-deb/kube-uproxy_<v>_<arch>.oci.tar
# Not part of `make check`: it installs podman, skopeo and containerd when
# they are missing, and loads the image into private stores (temporary
# directories, removed at the end; the machine's own stores are not used).
#
#   1. the archive is at most 25 MB;
#   2. podman load accepts it (as docker.io/library/kube-uproxy:<version>,
#      which `kube-uproxy:<version>` names, entrypoint
#      /usr/sbin/kube-uproxy); skopeo reads it both as an OCI archive and
#      as a docker archive (the format `docker load` reads); a private
#      containerd imports it with `ctr -n k8s.io images import` and unpacks
#      it;
#   3. in a writable copy of its root (buildah from the loaded image, then
#      buildah mount), the image's own dynamic loader lists every library
#      of the binary (ldd's question, asked inside the image with chroot)
#      and finds each one;
#   4. the demo's node (contrib/lib-topology.sh: network namespaces, two
#      nginx pods, a client): kube-uproxy runs from the image's root with
#      chroot in the node namespace with the example manifests and legacy
#      iptables; requests from the client to a ClusterIP and a
#      LoadBalancer IP answer from the pods; SIGTERM: exit 0, rules gone.
# The last line is "N passed, M failed".
set -uo pipefail

image=${1:-}
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=
pid=
ctrd_pid=
cid=
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

[[ -n $image && -f $image ]] || { echo "usage: $0 IMAGE.oci.tar" >&2; exit 2; }
image=$(cd "$(dirname "$image")" && pwd)/$(basename "$image")
if ((EUID != 0)); then
	echo "image: SKIP: needs root (network namespaces, chroot, container stores)"
	exit 77
fi
version=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$top/configure.ac")

# shellcheck source=../../contrib/lib-topology.sh
. "$top/contrib/lib-topology.sh"

tmp=$(mktemp -d /tmp/kup-imgtest.XXXXXX)
P=(podman --root "$tmp/storage" --runroot "$tmp/run" --storage-driver vfs)
B=(buildah --root "$tmp/storage" --runroot "$tmp/run" --storage-driver vfs)
cleanup() {
	set +e
	[[ -z $pid ]] || { kill -TERM "$pid"; wait "$pid"; } 2>/dev/null
	topo_kill
	topo_down
	[[ -z $ctrd_pid ]] || { kill "$ctrd_pid"; wait "$ctrd_pid"; } 2>/dev/null
	[[ -z $cid ]] || { "${B[@]}" umount "$cid"; "${B[@]}" rm "$cid"; } >/dev/null 2>&1
	umount -R "$tmp/ctrd/root" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

missing=()
for t in podman:podman skopeo:skopeo buildah:buildah ctr:containerd \
    containerd:containerd; do
	command -v "${t%%:*}" >/dev/null || missing+=("${t#*:}")
done
if ((${#missing[@]})); then
	echo "== installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends "${missing[@]}" >/dev/null ||
	    { echo "image: cannot install ${missing[*]}" >&2; exit 1; }
fi

echo "== $image"
size=$(stat -c %s "$image")
echo "   $size bytes ($((size / 1024)) KiB)"
check "at most 25 MB" test "$size" -le 25000000

echo "== podman load"
"${P[@]}" load -i "$image" >"$tmp/load.log" 2>&1
check "podman load accepts it" grep -q "kube-uproxy:$version" "$tmp/load.log"
# podman names it as docker and containerd do (index.json's
# io.containerd.image.name): `kube-uproxy:<version>` finds it in all three.
ref=docker.io/library/kube-uproxy:$version
check "named $ref" "${P[@]}" image exists "$ref"
entry=$("${P[@]}" image inspect --format '{{json .Config.Entrypoint}}' "$ref" 2>/dev/null)
check "entrypoint /usr/sbin/kube-uproxy (got $entry)" \
    test "$entry" = '["/usr/sbin/kube-uproxy"]'

echo "== skopeo: the two formats in one file"
# The layers as uncompressed digests (diff_ids), which both readings give.
oci=$(skopeo inspect --config "oci-archive:$image" 2>"$tmp/skopeo.err" |
    python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["rootfs"]["diff_ids"]))')
dock=$(skopeo inspect "docker-archive:$image" 2>>"$tmp/skopeo.err" |
    python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["Layers"]))')
check "read as an OCI archive" test -n "$oci"
check "read as a docker archive (docker load), same layers" \
    test -n "$dock" -a "$oci" = "$dock"
[[ -n $oci && -n $dock ]] || sed 's/^/    /' "$tmp/skopeo.err"

echo "== ctr -n k8s.io images import (a private containerd)"
mkdir -p "$tmp/ctrd"
cat >"$tmp/ctrd/config.toml" <<EOF
version = 2
root = "$tmp/ctrd/root"
state = "$tmp/ctrd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$tmp/ctrd/sock"
[ttrpc]
  address = "$tmp/ctrd/sock.ttrpc"
EOF
containerd --config "$tmp/ctrd/config.toml" >"$tmp/ctrd/log" 2>&1 &
ctrd_pid=$!
for _ in $(seq 50); do [[ -S $tmp/ctrd/sock ]] && break; sleep 0.1; done
C=(ctr --address "$tmp/ctrd/sock" -n k8s.io)
"${C[@]}" images import "$image" >"$tmp/ctr.log" 2>&1
check "ctr images import unpacks it" \
    grep -q "unpacking docker.io/library/kube-uproxy:$version .*done" "$tmp/ctr.log"
check "ctr lists docker.io/library/kube-uproxy:$version" \
    grep -q "^docker.io/library/kube-uproxy:$version " <("${C[@]}" images ls 2>/dev/null)
[[ -s $tmp/ctr.log ]] && sed 's/^/    /' "$tmp/ctr.log" | head -n 5
kill "$ctrd_pid"
wait "$ctrd_pid" 2>/dev/null
ctrd_pid=

echo "== the image's root: buildah from the loaded image, mount"
cid=$("${B[@]}" from --pull-never "$ref" 2>"$tmp/buildah.err") ||
    { bad "buildah from $ref: $(cat "$tmp/buildah.err")"; finish; }
root=$("${B[@]}" mount "$cid")
echo "   $root: $(find "$root" -type f | wc -l) files, $(du -sh "$root" | cut -f1)"
check "no shell in the image (only what the binary needs)" test ! -e "$root/bin/sh"

echo "== ldd inside the image (its own loader, chroot)"
chroot "$root" /lib64/ld-linux-x86-64.so.2 --list /usr/sbin/kube-uproxy \
    >"$tmp/ldd" 2>&1
sed 's/^/    /' "$tmp/ldd"
want=$(ldd "$root/usr/sbin/kube-uproxy" | grep -c '=>')
got=$(grep -c '=> /' "$tmp/ldd")
check "every library found ($got of $want)" \
    test "$got" = "$want" -a "$(grep -c 'not found' "$tmp/ldd")" = 0

echo "== run it from the image, in a node made of network namespaces"
why=$(topo_usable) || { echo "image: SKIP the run: $why"; finish; }
mkdir -p "$root/proc" "$root/tmp/examples"
cp "$top"/contrib/examples/*.yaml "$root/tmp/examples/"
topo_up "kup-img-$$" || { bad "topology"; finish; }
topo_nginx 1 "$tmp" && topo_nginx 2 "$tmp"
# ip execs unshare, which execs sh, which execs chroot, which execs the
# daemon: $! is kube-uproxy itself.  A private mount namespace for /proc.
ip netns exec "$TOPO_NODE" unshare -m --propagation private sh -c \
    'mount -t proc proc "$1/proc" && exec chroot "$1" /usr/sbin/kube-uproxy \
    --manifests /tmp/examples --metrics-bind-address 127.0.0.1:10249 \
    --healthz-bind-address 127.0.0.1:10256' sh "$root" \
    >"$tmp/run.log" 2>&1 &
pid=$!
get() { ip netns exec "$1" curl -sS --noproxy '*' --max-time 3 "$2"; }
healthy=0
for _ in $(seq 100); do
	get "$TOPO_NODE" http://127.0.0.1:10256/healthz >/dev/null 2>&1 &&
	    { healthy=1; break; }
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
check "kube-uproxy from the image is healthy" test "$healthy" = 1
rules() { ip netns exec "$TOPO_NODE" iptables-legacy -w 5 -t nat -S | grep -c KUBE; }
for _ in $(seq 50); do (($(rules) > 4)) && break; sleep 0.1; done
check "its nat rules are in the node's table ($(rules) lines)" test "$(rules)" -gt 4
a=$(get "$TOPO_CLIENT" http://198.19.0.10/ 2>&1)
b=$(get "$TOPO_CLIENT" http://198.19.0.10/ 2>&1)
echo "   client \$ curl http://198.19.0.10/ -> $a, then $b"
check "a request to the ClusterIP answers, round robin" \
    test "$a" != "$b" -a "${a%[12]}" = pod -a "${b%[12]}" = pod
c=$(get "$TOPO_CLIENT" http://198.18.100.1:8090/ 2>&1)
echo "   client \$ curl http://198.18.100.1:8090/ -> $c"
check "a request to the LoadBalancer IP answers" test "${c%[12]}" = pod
check "/debug/history answers from the image's binary" \
    grep -q '"servicePort":"default/nginx-svc:http"' \
    <(get "$TOPO_NODE" http://127.0.0.1:10249/debug/history)
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
check "SIGTERM: exit 0" test "$rc" = 0
check "its rules are gone" test "$(rules)" = 0
((healthy && rc == 0)) || sed 's/^/    /' "$tmp/run.log" | tail -n 20
finish
