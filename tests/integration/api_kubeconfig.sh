#!/bin/bash
# api_kubeconfig.sh - where the daemon finds the API and its credentials:
# --kubeconfig with a token, a tokenFile, client certificate files, embedded
# *-data, relative paths, insecure-skip-tls-verify, the JSON form; $KUBECONFIG;
# the in-cluster environment; --master overriding the server; --manifests
# ignoring $KUBECONFIG.  Refused at start (exit 1, one line): no source, an
# exec plugin, a missing CA file.  A CA that does not match the server: the
# daemon stays up, unsynced, retrying.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend a tcp-name 127.0.0.11:$P
fakeapi_start
api_apply "$(j_service name=web port=http/TCP/80)" \
    "$(j_slice name=web port=http/TCP/$P ep=127.0.0.11)"
D=$API_DIR
b64() { base64 -w0 <"$1"; }
mkdir "$T_DIR/kc"

# kc NAME CLUSTER-LINES USER-LINES [SERVER]: write $T_DIR/kc/NAME (YAML).
kc() {
	cat >"$T_DIR/kc/$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster:
    server: ${4:-$API_URL}
$2
users:
- name: u1
  user:
$3
contexts:
- name: ctx
  context: {cluster: c1, user: u1, namespace: default}
current-context: ctx
EOF
}
kc token "    certificate-authority: $D/ca.crt" "    token: $API_TOKEN"
kc data "    certificate-authority-data: $(b64 "$D/ca.crt")" \
    "    client-certificate-data: $(b64 "$D/client.crt")
    client-key-data: $(b64 "$D/client.key")"
kc insecure "    insecure-skip-tls-verify: true" "    token: $API_TOKEN"
kc master "    certificate-authority: $D/ca.crt" "    token: $API_TOKEN" https://127.0.0.1:1
kc exec "    certificate-authority: $D/ca.crt" \
    "    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: /bin/echo
      args: [\"{}\"]
      interactiveMode: Never"
kc noca "    certificate-authority: $T_DIR/kc/missing-ca.crt" "    token: $API_TOKEN"
mkdir "$T_DIR/kc/rel"
cat >"$T_DIR/kc/rel/config" <<EOF
apiVersion: v1
kind: Config
current-context: ctx
contexts:
- name: other
  context: {cluster: nowhere, user: nobody}
- name: ctx
  context: {cluster: c1, user: u1}
clusters:
- name: nowhere
  cluster: {server: "https://127.0.0.1:1"}
- name: c1
  cluster:
    certificate-authority: ../../api/ca.crt
    server: "$API_URL"
users:
- name: nobody
  user: {token: wrong}
- name: u1
  user:
    tokenFile: ../../api/token
EOF
cat >"$T_DIR/kc/json" <<EOF
{"apiVersion": "v1", "kind": "Config", "current-context": "ctx",
 "clusters": [{"name": "c1", "cluster": {"server": "$API_URL",
   "certificate-authority-data": "$(b64 "$D/ca.crt")"}}],
 "users": [{"name": "u1", "user": {"token": "$API_TOKEN"}}],
 "contexts": [{"name": "ctx", "context": {"cluster": "c1", "user": "u1"}}]}
EOF
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$T_DIR/kc/other-ca.key" -out "$T_DIR/kc/other-ca.crt" -days 2 \
    -subj /CN=other-ca >/dev/null 2>&1 || hard_error "openssl: other CA"
kc badca "    certificate-authority: $T_DIR/kc/other-ca.crt" "    token: $API_TOKEN"

# works WHAT [flags]: the daemon (PROXY_ENV, flags) syncs and serves web.
works() {
	local what=$1 pp
	shift
	log "--- $what"
	start_proxy_nowait "$@"
	poll $((15 * T_SLOW)) healthz_ok || fail "$what: /healthz not 200 after 15s"
	pp=$(wait_proxy_port default/web http)
	expect_all "$what: web" "$(client names 127.0.0.1 "$pp" 2)" a
	stop_proxy
	PROXY_ENV=()
	expect_eq "$what: lines of the log with the token" \
	    "$(grep -cF -- "$API_TOKEN" "$T_DIR/kube-uproxy.log")" 0
}

works "token" --kubeconfig "$T_DIR/kc/token"
works "tokenFile (fakeapi's kubeconfig)" --kubeconfig "$API_KUBECONFIG"
works "client certificate files" --kubeconfig "$D/kubeconfig-cert"
works "embedded CA, certificate and key data" --kubeconfig "$T_DIR/kc/data"
works "relative paths, second context" --kubeconfig "$T_DIR/kc/rel/config"
works "insecure-skip-tls-verify" --kubeconfig "$T_DIR/kc/insecure"
works "JSON kubeconfig" --kubeconfig "$T_DIR/kc/json"
works "--master overriding the server" --kubeconfig "$T_DIR/kc/master" --master "$API_URL"
PROXY_ENV=("KUBECONFIG=$T_DIR/kc/does-not-exist:$T_DIR/kc/token")
works "\$KUBECONFIG"
mkdir "$T_DIR/sa"
cp "$D/token" "$D/ca.crt" "$T_DIR/sa/"
echo kube-system >"$T_DIR/sa/namespace"
PROXY_ENV=(KUBERNETES_SERVICE_HOST=127.0.0.1 "KUBERNETES_SERVICE_PORT=$API_PORT"
    "KUBE_UPROXY_SERVICEACCOUNT_DIR=$T_DIR/sa")
works "in-cluster environment"

# --manifests: files only, even with $KUBECONFIG set.
log "--- --manifests with \$KUBECONFIG set"
write_manifest files.yaml "$(m_service name=files port=http/TCP/80)
---
$(m_slice name=files port=http/TCP/$P ep=127.0.0.11)"
api_post /counters/reset
KUBECONFIG=$T_DIR/kc/token start_proxy
wait_proxy_port default/files http >/dev/null
expect_eq "web with --manifests" "$(proxy_port default/web http || echo absent)" absent
expect_eq "API requests with --manifests" "$(api_counter 'd["requests"]')" 0
stop_proxy

# Refused at start.
one_line_exit1() {
	expect_eq "$1: exit status" "$RUN_RC" 1
	expect_eq "$1: lines on stderr" "$(printf '%s\n' "$RUN_ERR" | grep -c .)" 1
	log "$1: $RUN_ERR"
}
log "--- refused configurations"
run_proxy_exit
one_line_exit1 "no source"
run_proxy_exit --kubeconfig "$T_DIR/kc/exec"
expect_eq "exec plugin: exit status" "$RUN_RC" 1
expect_match "exec plugin: message" "$RUN_ERR" 'exec.*not supported|not supported.*exec'
log "exec plugin: $RUN_ERR"
run_proxy_exit --kubeconfig "$T_DIR/kc/noca"
one_line_exit1 "missing CA file"
expect_match "missing CA file: message" "$RUN_ERR" 'missing-ca\.crt'
run_proxy_exit --kubeconfig "$T_DIR/kc/does-not-exist"
one_line_exit1 "missing --kubeconfig file"

# A CA that did not sign the server's certificate: up, unsynced, retrying.
log "--- wrong CA"
api_post /counters/reset
start_proxy_nowait --kubeconfig "$T_DIR/kc/badca"
tls_retries() { daemon_alive; [ "$(api_counter 'd["tls_failures"]')" -ge 2 ]; }
wait_for 10 "two failed TLS handshakes" tls_retries
expect_eq "/healthz with a wrong CA" "$(healthz_status)" 503
wait_for 5 "failed requests counted" api_metric_above 0 kube_uproxy_api_errors_total
expect_eq "kube_uproxy_api_up with a wrong CA" "$(api_metric kube_uproxy_api_up)" 0
expect_eq "kube_uproxy_api_synced with a wrong CA" "$(api_metric kube_uproxy_api_synced)" 0
stop_proxy

expect_eq "lines of the log with the token" \
    "$(grep -cF -- "$API_TOKEN" "$T_DIR/kube-uproxy.log")" 0
pass
