#!/bin/bash
# nodeport_held.sh - a nodePort that cannot be held is not redirected
# (issue 11, point 3).  Another program on the node listens on the port a
# Service asks for as its nodePort: kube-uproxy cannot bind it, warns once
# naming the Service and port, and installs no NodePort rule, so that
# program keeps its connections (the Service's clusterIP works as usual).
# When the program goes, the hold is retried: the port is held and the
# NodePort rules appear, answered by the pods.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
e2e_begin
e2e_pods

# The squatter: a program of the node with TCP port 30080.  It resets
# what it accepts, so no TIME_WAIT is left on the port after it (a
# TIME_WAIT keeps kube-uproxy from holding the port, as it should).
backend_in "$NODE" squatter tcp-reset 0.0.0.0:30080 --name squatter
SQUATTER=${T_PIDS##* }
write_manifest web.yaml "$(m_service name=web ip=198.19.0.10 type=NodePort \
    nodeport=30080 port=http/TCP/80)
---
$(nginx_slice web)"
start_proxy
wait_proxy_port default/web http >/dev/null
wait_rules 3 default/web:http 2
expect_answer "the clusterIP while the nodePort is someone else's" \
    "$CLIENT" http://198.19.0.10/
sleep 1.5		# a sync and a retry later, still no NodePort rule
expect_eq "NodePort rules of a nodePort not held" \
    "$(count_rules_of default/web:http KUBE-NODEPORT-CONTAINER)" 0
expect_eq "rules of default/web:http" "$(count_rules_of default/web:http)" 2
# curl's "connection reset" (56): the squatter answered, not a pod.
expect_eq "the client at nodeIP:30080 (the squatter's)" \
    "$(e2e_curl "$CLIENT" "http://$NODE_IP:30080/")" ERROR:56
expect_eq "warnings about the nodePort (one, naming the Service)" \
    "$(log_count 'service default/web:http: cannot hold nodePort 30080/TCP, not redirecting it')" 1

# The squatter goes: the hold is retried, the NodePort rules come.
kill "$SQUATTER"
wait "$SQUATTER" 2>/dev/null
wait_rules 5 default/web:http 4
expect_answer "nodeIP:30080 once held" "$CLIENT" "http://$NODE_IP:30080/"
expect_eq "held-now lines" \
    "$(log_count 'service default/web:http: nodePort 30080/TCP held now')" 1
expect_eq "warnings in all" "$(log_count 'cannot hold nodePort')" 1
stop_proxy
pass
