#!/usr/bin/env python3
"""fakeapi.py - a protocol-faithful fake kube-apiserver for kube-uproxy tests.

Serves Services, Endpoints and discovery.k8s.io/v1 EndpointSlices the way
kube-apiserver does on the wire (see /work/shared/K8S-API.md, section 7):
list with limit/continue paging and label/field selectors, watch as a chunked
stream of one JSON event per line with history replay, bookmarks, timeouts,
selector transitions and an in-stream ERROR 410 for compacted history;
discovery documents; bearer-token and client-certificate authentication over
HTTPS with a throwaway CA made with the openssl command line.

A second, plain-HTTP loopback port takes JSON control requests from tests:
change objects, inject faults, stop/start the API listener, read counters.
See README.md next to this file for the control interface.

Python 3 standard library only; one global lock protects all state and a
condition variable wakes watch streams when something is written.
"""

import argparse
import base64
import binascii
import collections
import gzip
import http.server
import json
import os
import random
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

RESOURCES = {
    "services": {"kind": "Service", "apiVersion": "v1", "group": "",
                 "prefix": ("api", "v1")},
    "endpoints": {"kind": "Endpoints", "apiVersion": "v1", "group": "",
                  "prefix": ("api", "v1")},
    "endpointslices": {"kind": "EndpointSlice",
                       "apiVersion": "discovery.k8s.io/v1",
                       "group": "discovery.k8s.io",
                       "prefix": ("apis", "discovery.k8s.io", "v1")},
    # cluster-scoped: no namespace in paths, keys or objects
    "nodes": {"kind": "Node", "apiVersion": "v1", "group": "",
              "prefix": ("api", "v1"), "namespaced": False},
}


def namespaced(resource):
    return RESOURCES[resource].get("namespaced", True)
KIND_TO_RESOURCE = {v["kind"]: k for k, v in RESOURCES.items()}
DISC_GROUP = "discovery.k8s.io"
ENDPOINTS_WARNING = ('299 - "v1 Endpoints is deprecated in v1.33+; '
                     'use discovery.k8s.io/v1 EndpointSlice"')
GZIP_THRESHOLD = 128 * 1024
RECENT_KEEP = 500       # requests kept in counters["recent"]
RAW_KEEP = 100          # raw watch payloads kept (bounds memory)

VERBOSE = False


def log(msg):
    sys.stderr.write("fakeapi: %s %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def dumps(obj, pretty=False):
    if pretty:
        return (json.dumps(obj, indent=2) + "\n").encode()
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


def status_obj(code, reason, message, details=None, meta=None):
    st = {"kind": "Status", "apiVersion": "v1", "metadata": meta or {},
          "status": "Failure", "message": message, "reason": reason}
    if details:
        st["details"] = details
    st["code"] = code
    return st


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class BadRequest(Exception):
    pass


# ---------------------------------------------------------------- selectors

def split_top(s):
    """Split on commas that are not inside parentheses."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def parse_label_selector(s):
    """Return a list of (op, key, values) requirements; raise BadRequest."""
    reqs = []
    if not s or not s.strip():
        return reqs
    for part in split_top(s):
        p = part.strip()
        if not p:
            raise BadRequest("unable to parse requirement: empty requirement")
        low = p.replace("\t", " ")
        if " notin " in low or " in " in low:
            op = "notin" if " notin " in low else "in"
            key, rest = low.split(" " + op + " ", 1)
            rest = rest.strip()
            if not (rest.startswith("(") and rest.endswith(")")):
                raise BadRequest("unable to parse requirement: %s" % p)
            vals = {v.strip() for v in rest[1:-1].split(",")}
            reqs.append((op, key.strip(), vals))
        elif p.startswith("!"):
            key = p[1:].strip()
            if not key or any(c in key for c in "=!()"):
                raise BadRequest("unable to parse requirement: %s" % p)
            reqs.append(("!", key, None))
        elif "!=" in p:
            key, val = p.split("!=", 1)
            reqs.append(("!=", key.strip(), val.strip()))
        elif "==" in p:
            key, val = p.split("==", 1)
            reqs.append(("=", key.strip(), val.strip()))
        elif "=" in p:
            key, val = p.split("=", 1)
            reqs.append(("=", key.strip(), val.strip()))
        else:
            if any(c in p for c in "()! "):
                raise BadRequest("unable to parse requirement: %s" % p)
            reqs.append(("exists", p, None))
    for _, key, _ in reqs:
        if not key:
            raise BadRequest("unable to parse requirement: empty key")
    return reqs


def labels_match(reqs, obj):
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for op, key, val in reqs:
        if op == "!" and key in labels:
            return False
        if op == "exists" and key not in labels:
            return False
        if op == "=" and labels.get(key) != val:
            return False
        if op == "!=" and labels.get(key) == val:
            return False
        if op == "in" and labels.get(key) not in val:
            return False
        if op == "notin" and key in labels and labels[key] in val:
            return False
    return True


FIELD_GETTERS = {
    "metadata.name": lambda o: (o.get("metadata") or {}).get("name", ""),
    "metadata.namespace": lambda o: (o.get("metadata") or {}).get(
        "namespace", ""),
    "spec.clusterIP": lambda o: (o.get("spec") or {}).get("clusterIP", ""),
    "spec.type": lambda o: (o.get("spec") or {}).get("type", ""),
    "spec.unschedulable": lambda o: "true" if (o.get("spec") or {}).get(
        "unschedulable") else "false",
}


def parse_field_selector(s, resource):
    reqs = []
    if not s or not s.strip():
        return reqs
    for part in s.split(","):
        p = part.strip()
        if "!=" in p:
            key, val, op = p.split("!=", 1) + ["!="]
        elif "==" in p:
            key, val, op = p.split("==", 1) + ["="]
        elif "=" in p:
            key, val, op = p.split("=", 1) + ["="]
        else:
            raise BadRequest("invalid selector: '%s'; can't understand '%s'"
                             % (s, p))
        key = key.strip()
        allowed = ["metadata.name", "metadata.namespace"]
        if resource == "services":
            allowed += ["spec.clusterIP", "spec.type"]
        elif resource == "nodes":
            # pkg/registry/core/node/strategy.go NodeToSelectableFields
            allowed = ["metadata.name", "spec.unschedulable"]
        if key not in allowed:
            raise BadRequest('"%s" is not a known field selector: only "%s"'
                             % (key, '", "'.join(allowed)))
        reqs.append((op, key, val.strip()))
    return reqs


def fields_match(reqs, obj):
    for op, key, val in reqs:
        got = FIELD_GETTERS[key](obj)
        if (op == "=") != (got == val):
            return False
    return True


# ---------------------------------------------------------------- state

class Event:
    __slots__ = ("rv", "resource", "type", "obj", "prev")

    def __init__(self, rv, resource, etype, obj, prev):
        self.rv, self.resource, self.type = rv, resource, etype
        self.obj, self.prev = obj, prev


class State:
    """All objects, the global resourceVersion, the event history, faults."""

    def __init__(self, history, bookmark_interval, token, token_file,
                 discovery):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.rv = 100
        self.floor = self.rv          # oldest RV a watch may resume from
        self.history = collections.deque()
        self.history_max = max(1, history)
        self.objects = {r: {} for r in RESOURCES}
        self.bookmark_interval = bookmark_interval
        self.token = token
        self.token_file = token_file
        self.discovery = discovery
        self.close_gen = 0
        self.close_mode = ("clean", 0)
        self.status_faults = []
        # raw bytes for watch streams (POST /faults/raw-watch): a list of
        # (seq, resource or None, bytes), the newest RAW_KEEP kept
        self.raw_seq = 0
        self.raw = []
        self.stall_faults = []
        # bumped by POST /faults/clear: stalls under way end at once
        self.stall_gen = 0
        # POST /faults/watch-error: new watches answer with one ERROR event
        self.watch_error_faults = []
        # POST /faults/expire-continue: continue tokens answered with 410
        self.expire_continue = 0
        # POST /faults/huge-list: lists answered with a body of N bytes
        self.huge_list_faults = []
        self.counters = self.new_counters()

    @staticmethod
    def new_counters():
        return {"requests": 0, "lists": 0, "watches": 0, "gets": 0,
                "active_watches": 0, "active_watches_by_resource": {},
                "auth_failures": 0,
                "faults_injected": 0, "stalls": 0, "tls_failures": 0,
                "lists_by_resource": {}, "watches_by_resource": {},
                "requests_by_path": {}, "last_request_headers": {},
                "last_request": "", "recent": []}

    # -- tokens
    def valid_token(self):
        """None if bearer auth is not configured, else the accepted token
        ("" when the token file is empty: nothing is accepted)."""
        if self.token_file:
            try:
                with open(self.token_file) as f:
                    return f.read().strip()
            except OSError:
                return ""
        return self.token

    # -- writes
    def _record(self, resource, etype, obj, prev):
        ev = Event(self.rv, resource, etype, obj, prev)
        self.history.append(ev)
        while len(self.history) > self.history_max:
            old = self.history.popleft()
            self.floor = old.rv
        self.cond.notify_all()

    def apply(self, obj, create_only=False):
        kind = obj.get("kind")
        resource = KIND_TO_RESOURCE.get(kind)
        if resource is None:
            raise BadRequest("unsupported kind %r" % kind)
        # kind and apiVersion first, like the Go encoder
        obj = dict({"kind": kind,
                    "apiVersion": RESOURCES[resource]["apiVersion"]},
                   **{k: v for k, v in json.loads(json.dumps(obj)).items()
                      if k not in ("kind", "apiVersion")})
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise BadRequest("metadata.name is required")
        if namespaced(resource):
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        key = (meta.get("namespace", ""), meta["name"])
        with self.lock:
            prev = self.objects[resource].get(key)
            if prev is not None and create_only:
                raise BadRequest("%s %s/%s already exists"
                                 % (resource, key[0], key[1]))
            self.rv += 1
            if prev is not None:
                meta["uid"] = prev["metadata"]["uid"]
                meta["creationTimestamp"] = \
                    prev["metadata"]["creationTimestamp"]
            else:
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("creationTimestamp", now_rfc3339())
            meta["resourceVersion"] = str(self.rv)
            obj["metadata"] = order_meta(meta)
            self.objects[resource][key] = obj
            etype = "MODIFIED" if prev is not None else "ADDED"
            self._record(resource, etype, obj, prev)
            return etype, self.rv

    def delete(self, resource, ns, name):
        with self.lock:
            prev = self.objects[resource].pop((ns, name), None)
            if prev is None:
                return None
            self.rv += 1
            obj = json.loads(json.dumps(prev))
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self._record(resource, "DELETED", obj, prev)
            return self.rv

    def compact(self):
        with self.lock:
            self.history.clear()
            self.floor = self.rv
            self.cond.notify_all()

    def close_watches(self, mode, code):
        with self.lock:
            self.close_gen += 1
            self.close_mode = (mode, code)
            self.cond.notify_all()

    # -- reads (call with the lock held)
    def snapshot(self, resource, at_rv):
        """Objects of resource as they were at at_rv (rolling back the
        history), or None when at_rv is older than the history window."""
        cur = dict(self.objects[resource])
        if at_rv >= self.rv:
            return cur
        if at_rv < self.floor:
            return None
        for ev in reversed(self.history):
            if ev.rv <= at_rv:
                break
            if ev.resource != resource:
                continue
            meta = ev.obj["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            if ev.prev is None:
                cur.pop(key, None)
            else:
                cur[key] = ev.prev
        return cur

    def events_after(self, cursor):
        """History events with rv > cursor; None if some were dropped."""
        if cursor < self.floor:
            return None
        if not self.history or self.history[-1].rv <= cursor:
            return []
        start = cursor - self.history[0].rv + 1
        return list(self.history)[max(start, 0):]

    # -- faults
    def take_fault(self, faults, path, is_watch):
        """Pop the next matching fault from a list (call with the lock)."""
        now = time.monotonic()
        for f in list(faults):
            if f.get("until") is not None and now > f["until"]:
                faults.remove(f)
                continue
            if f.get("path") and f["path"] not in path:
                continue
            if f.get("watch") is not None and bool(f["watch"]) != is_watch:
                continue
            if f.get("count") is not None:
                f["count"] -= 1
                if f["count"] <= 0:
                    faults.remove(f)
            return f
        return None


META_ORDER = ["name", "generateName", "namespace", "uid", "resourceVersion",
              "generation", "creationTimestamp", "deletionTimestamp",
              "labels", "annotations", "ownerReferences", "finalizers",
              "managedFields"]


def order_meta(meta):
    """ObjectMeta keys in Go struct order (cosmetic, eases diffing)."""
    rank = {k: i for i, k in enumerate(META_ORDER)}
    return {k: meta[k] for k in sorted(meta, key=lambda k: rank.get(k, 99))}


def bookmark_object(resource, rv, initial_end=False):
    info = RESOURCES[resource]
    obj = {"kind": info["kind"], "apiVersion": info["apiVersion"],
           "metadata": {"resourceVersion": str(rv)}}
    if initial_end:
        obj["metadata"]["annotations"] = {"k8s.io/initial-events-end": "true"}
    if resource == "services":
        obj["spec"] = {}
        obj["status"] = {"loadBalancer": {}}
    elif resource == "endpointslices":
        obj.update({"addressType": "", "endpoints": None, "ports": None})
    return obj


def encode_continue(rv, start):
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start},
                     separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(tok):
    try:
        pad = "=" * (-len(tok) % 4)
        d = json.loads(base64.urlsafe_b64decode(tok + pad))
        if d.get("v") != "meta.k8s.io/v1":
            raise ValueError("bad version")
        return int(d["rv"]), str(d["start"])
    except (ValueError, KeyError, TypeError, binascii.Error) as e:
        raise BadRequest("continue key is not valid: %s" % e)


# ---------------------------------------------------------------- API server

class ApiServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, app):
        self.app = app
        self.conns = set()
        self.conns_lock = threading.Lock()
        self.stopping = False
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the per-connection thread, so a
        # slow or broken client cannot block the accept loop.
        if self.app.tls_ctx is not None:
            try:
                request.settimeout(10)
                request = self.app.tls_ctx.wrap_socket(request,
                                                       server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError) as e:
                with self.app.state.lock:
                    self.app.state.counters["tls_failures"] += 1
                if VERBOSE:
                    log("TLS handshake from %s failed: %s"
                        % (client_address[0], e))
                return
        with self.conns_lock:
            self.conns.add(request)
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            with self.conns_lock:
                self.conns.discard(request)
            try:
                request.close()
            except OSError:
                pass

    def shutdown_request(self, request):
        # finish_request closes the (possibly wrapped) socket itself.
        pass

    def kill_connections(self):
        with self.conns_lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class ApiHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def version_string(self):
        return "fakeapi"

    def log_message(self, fmt, *args):
        if VERBOSE:
            log("%s %s" % (self.address_string(), fmt % args))

    # -- response helpers
    def common_headers(self):
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("X-Kubernetes-Pf-Flowschema-Uid", self.app.fs_uid)
        self.send_header("X-Kubernetes-Pf-Prioritylevel-Uid",
                         self.app.pl_uid)

    def send_body(self, code, body, ctype="application/json", headers=None):
        gz = False
        if (len(body) > GZIP_THRESHOLD and "gzip" in
                self.headers.get("Accept-Encoding", "")):
            body = gzip.compress(body)
            gz = True
        self.send_response(code)
        self.common_headers()
        self.send_header("Content-Type", ctype)
        if ctype.startswith("text/plain"):
            self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if gz:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.status_sent = code

    def send_json(self, code, obj, headers=None):
        self.send_body(code, dumps(obj, self.pretty), headers=headers)

    def send_status(self, code, reason, message, details=None, headers=None,
                    meta=None):
        self.send_json(code, status_obj(code, reason, message, details, meta),
                       headers)

    def send_not_found(self):
        self.send_body(404, b"404 page not found\n",
                       "text/plain; charset=utf-8")

    def send_response(self, code, message=None):
        rec = getattr(self, "rec", None)
        if rec is not None:
            rec["status"] = code
        super().send_response(code, message)

    @property
    def app(self):
        return self.server.app

    # -- entry
    def do_GET(self):
        self.status_sent = 0
        self.pretty = False
        self.rec = None
        try:
            self.handle_api()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError,
                socket.timeout):
            self.close_connection = True
        except OSError:
            self.close_connection = True
        if VERBOSE or self.status_sent >= 400:
            log("%s %s -> %s" % (self.command, self.path, self.status_sent))

    def do_POST(self):
        self.status_sent = 0
        self.pretty = False
        self.rec = None
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        self.send_status(405, "MethodNotAllowed",
                         "the server does not allow this method on the "
                         "requested resource")

    do_PUT = do_DELETE = do_PATCH = do_POST

    def handle_api(self):
        app, st = self.app, self.app.state
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        q = {k: v[-1] for k, v in
             urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        ua = self.headers.get("User-Agent", "")
        self.pretty = (q.get("pretty", "").lower() == "true" or
                       ua.startswith(("curl", "Wget", "Mozilla/5.0")))
        is_watch = ("watch" in q and q["watch"].lower() not in
                    ("0", "false")) or "/watch/" in path

        with st.lock:
            c = st.counters
            c["requests"] += 1
            c["requests_by_path"][path] = \
                c["requests_by_path"].get(path, 0) + 1
            hdrs = {}
            for k, v in self.headers.items():
                if k.lower() == "authorization":
                    v = v.split(" ", 1)[0] + " <redacted>"
                hdrs[k] = v
            c["last_request_headers"] = hdrs
            c["last_request"] = "%s %s" % (self.command, self.path)
            # The last RECENT_KEEP requests with their wall-clock start
            # time and final status, so tests can check query strings
            # and the delays between retries.
            self.rec = {"t": round(time.time(), 3),
                        "req": c["last_request"], "ua": ua, "status": 0}
            c["recent"].append(self.rec)
            del c["recent"][:-RECENT_KEEP]
            stall = st.take_fault(st.stall_faults, path, is_watch)
            fault = None
            if stall is None:
                fault = st.take_fault(st.status_faults, path, is_watch)

        if stall is not None:
            with st.lock:
                st.counters["stalls"] += 1
                gen = st.stall_gen
            end = time.monotonic() + stall["seconds"]
            while (time.monotonic() < end and not self.server.stopping
                   and st.stall_gen == gen):
                time.sleep(min(0.05, max(0, end - time.monotonic())))
            if self.server.stopping:
                self.close_connection = True
                return
            with st.lock:
                fault = st.take_fault(st.status_faults, path, is_watch)
        if fault is not None:
            with st.lock:
                st.counters["faults_injected"] += 1
            self.send_fault(fault)
            return

        if not self.authenticate(path):
            return

        parts = [p for p in path.split("/") if p]
        self.route(parts, q, is_watch)

    def send_fault(self, f):
        code = int(f["code"])
        ra = f.get("retry_after")
        hdr = {}
        if code == 429:
            hdr["Retry-After"] = str(ra if ra is not None else 1)
            self.send_body(429, b"Too many requests, please try again "
                           b"later.\n", "text/plain; charset=utf-8", hdr)
            return
        details = {}
        if ra:
            details["retryAfterSeconds"] = int(ra)
            hdr["Retry-After"] = str(ra)
        if code == 401:
            self.send_status(401, "Unauthorized", "Unauthorized",
                             headers=hdr)
        elif code == 403:
            self.send_status(403, "Forbidden", "forbidden by fault "
                             "injection", details or None, hdr)
        elif code == 500:
            details["causes"] = [{"message": "etcdserver: leader changed"}]
            self.send_status(500, "InternalError", "Internal error occurred:"
                             " etcdserver: leader changed", details, hdr)
        elif code == 503:
            if ra is None:
                details["retryAfterSeconds"] = 5
                hdr["Retry-After"] = "5"
            self.send_status(503, "ServiceUnavailable", "the request has been"
                             " made before all known HTTP paths have been "
                             "installed, please try again", details, hdr)
        elif code == 504:
            details["causes"] = [{"reason": "ResourceVersionTooLarge",
                                  "message": "Too large resource version"}]
            self.send_status(504, "Timeout", "Timeout: Too large resource "
                             "version: 99999999, current: %d"
                             % self.app.state.rv, details, hdr)
        elif code == 410:
            self.send_status(410, "Expired", "The resourceVersion for the "
                             "provided list is too old.", headers=hdr)
        else:
            reason = {400: "BadRequest", 404: "NotFound", 409: "Conflict",
                      502: "InternalError"}.get(code, "InternalError")
            self.send_status(code, reason, "injected fault %d" % code,
                             details or None, hdr)

    def authenticate(self, path):
        st = self.app.state
        user = None
        if isinstance(self.connection, ssl.SSLSocket):
            cert = self.connection.getpeercert()
            if cert:
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            user = v
                user = user or "x509"
        if user is not None:
            return True
        authz = self.headers.get("Authorization")
        want = st.valid_token()
        if authz is not None:
            scheme, _, tok = authz.partition(" ")
            if (want and scheme.lower() == "bearer" and
                    tok.strip() == want):
                return True
            with st.lock:
                st.counters["auth_failures"] += 1
            self.send_status(401, "Unauthorized", "Unauthorized")
            return False
        if want is None and not self.app.args.require_auth:
            return True     # no bearer auth configured: open server
        with st.lock:
            st.counters["auth_failures"] += 1
        if self.app.args.anonymous_401:
            self.send_status(401, "Unauthorized", "Unauthorized")
            return False
        res = path.rstrip("/").split("/")[-1] or "/"
        self.send_status(403, "Forbidden", '%s is forbidden: User '
                         '"system:anonymous" cannot list resource "%s" in '
                         'API group "" at the cluster scope' % (res, res),
                         {"kind": res})
        return False

    # -- routing
    def route(self, parts, q, is_watch):
        app = self.app
        if parts in (["healthz"], ["readyz"], ["livez"]):
            self.send_body(200, b"ok", "text/plain; charset=utf-8")
            return
        if parts == ["version"]:
            self.send_json(200, {"major": "1", "minor": "34",
                                 "gitVersion": "v1.34.0-fakeapi",
                                 "platform": "linux/amd64"})
            return
        if parts == ["api"]:
            self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                 "serverAddressByClientCIDRs": [
                                     {"clientCIDR": "0.0.0.0/0",
                                      "serverAddress": "127.0.0.1:%d"
                                      % app.api_port}]})
            return
        disc = app.state.discovery
        if parts == ["apis"]:
            groups = []
            if disc:
                gv = {"groupVersion": "discovery.k8s.io/v1", "version": "v1"}
                groups.append({"name": DISC_GROUP, "versions": [gv],
                               "preferredVersion": gv})
            self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                 "groups": groups})
            return
        if parts == ["apis", DISC_GROUP] and disc:
            gv = {"groupVersion": "discovery.k8s.io/v1", "version": "v1"}
            self.send_json(200, {"kind": "APIGroup", "apiVersion": "v1",
                                 "name": DISC_GROUP, "versions": [gv],
                                 "preferredVersion": gv})
            return
        for prefix in (("api", "v1"), ("apis", DISC_GROUP, "v1")):
            n = len(prefix)
            if tuple(parts[:n]) != prefix:
                continue
            if prefix[0] == "apis" and not disc:
                break
            rest = parts[n:]
            if not rest:
                self.send_resource_list(prefix)
                return
            if rest[0] == "watch":
                rest = rest[1:]
                is_watch = True
            ns, name = None, None
            if len(rest) >= 3 and rest[0] == "namespaces":
                ns, rest = rest[1], rest[2:]
            if len(rest) == 2 and not is_watch:
                name, rest = rest[1], rest[:1]
            if len(rest) != 1 or rest[0] not in RESOURCES or \
                    RESOURCES[rest[0]]["prefix"] != prefix or \
                    (ns is not None and not namespaced(rest[0])):
                break
            if not namespaced(rest[0]):
                ns = ""
            elif name is not None and ns is None:
                break
            resource = rest[0]
            hdr = {"Warning": ENDPOINTS_WARNING} \
                if resource == "endpoints" else {}
            try:
                if name is not None:
                    self.do_get_object(resource, ns, name, hdr)
                elif is_watch:
                    self.do_watch(resource, ns, q, hdr)
                else:
                    self.do_list(resource, ns, q, hdr)
            except BadRequest as e:
                self.send_status(400, "BadRequest", str(e))
            return
        self.send_not_found()

    def send_resource_list(self, prefix):
        gv = "/".join(prefix[1:])
        res = []
        for name, info in RESOURCES.items():
            if info["prefix"] != prefix:
                continue
            res.append({"name": name, "singularName": "",
                        "namespaced": info.get("namespaced", True),
                        "kind": info["kind"],
                        "verbs": ["create", "delete", "deletecollection",
                                  "get", "list", "patch", "update",
                                  "watch"]})
        self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                             "groupVersion": gv, "resources": res})

    def do_get_object(self, resource, ns, name, hdr):
        st = self.app.state
        with st.lock:
            st.counters["gets"] += 1
            obj = st.objects[resource].get((ns, name))
        if obj is None:
            self.send_status(404, "NotFound", '%s "%s" not found'
                             % (resource, name),
                             {"name": name, "kind": resource}, hdr)
            return
        self.send_json(200, obj, hdr)

    # -- list
    def do_list(self, resource, ns, q, hdr):
        st = self.app.state
        info = RESOURCES[resource]
        lsel = parse_label_selector(q.get("labelSelector", ""))
        fsel = parse_field_selector(q.get("fieldSelector", ""), resource)
        rvq = q.get("resourceVersion", "")
        match = q.get("resourceVersionMatch", "")
        cont = q.get("continue", "")
        try:
            limit = int(q.get("limit") or 0)
            rvn = int(rvq) if rvq else None
        except ValueError:
            raise BadRequest("invalid limit or resourceVersion")
        if "sendInitialEvents" in q:
            self.send_invalid("sendInitialEvents",
                              "sendInitialEvents is forbidden for list")
            return
        with st.lock:
            st.counters["lists"] += 1
            lr = st.counters["lists_by_resource"]
            lr[resource] = lr.get(resource, 0) + 1
            huge = st.take_fault(st.huge_list_faults, "/%s?" % resource,
                                 False)
        if huge is not None:
            self.send_huge_list(resource, int(huge["bytes"]), hdr)
            return
        if rvn is not None and rvn > st.rv and not cont:
            # A list for an RV the server has not seen yet waits briefly,
            # then gives up with 504 "Too large resource version".
            with st.lock:
                st.cond.wait_for(lambda: st.rv >= rvn, timeout=1.0)
                cur = st.rv
            if rvn > cur:
                self.send_status(504, "Timeout", "Timeout: Too large resource"
                                 " version: %d, current: %d" % (rvn, cur),
                                 {"causes": [{"reason":
                                              "ResourceVersionTooLarge",
                                              "message": "Too large resource "
                                              "version"}],
                                  "retryAfterSeconds": 1},
                                 dict(hdr, **{"Retry-After": "1"}))
                return
        start = ""
        with st.lock:
            if cont:
                if rvq not in ("", "0"):
                    raise BadRequest("specifying resource version is not "
                                     "allowed when using continue")
                at, start = decode_continue(cont)
                objs = st.snapshot(resource, at)
                if st.expire_continue > 0:
                    # as if the snapshot had been compacted away
                    st.expire_continue -= 1
                    st.counters["faults_injected"] += 1
                    objs = None
                if objs is None:
                    self.send_status(410, "Expired", EXPIRED_CONTINUE_MSG,
                                     meta={"continue": encode_continue(
                                         st.rv, start)}, headers=hdr)
                    return
            elif rvq == "0":
                at, objs, limit = st.rv, dict(st.objects[resource]), 0
            elif rvn is not None and (match == "Exact" or
                                      (limit and match == "")):
                at = rvn
                objs = st.snapshot(resource, at)
                if objs is None:
                    self.send_status(410, "Expired", "The resourceVersion "
                                     "for the provided list is too old.",
                                     headers=hdr)
                    return
            else:
                at, objs = st.rv, dict(st.objects[resource])
        items = []
        for key in sorted(objs):
            k = "%s/%s" % key
            if start and k < start:
                continue
            o = objs[key]
            if ns is not None and key[0] != ns:
                continue
            if not labels_match(lsel, o) or not fields_match(fsel, o):
                continue
            items.append((k, o))
        meta = {"resourceVersion": str(at)}
        if limit and len(items) > limit:
            rest = len(items) - limit
            items = items[:limit]
            meta["continue"] = encode_continue(at, items[-1][0] + "\x00")
            if not lsel and not fsel:
                meta["remainingItemCount"] = rest
        out = []
        for _, o in items:
            o = dict(o)
            o.pop("kind", None)
            o.pop("apiVersion", None)
            out.append(o)
        self.send_json(200, {"kind": info["kind"] + "List",
                             "apiVersion": info["apiVersion"],
                             "metadata": meta, "items": out}, hdr)

    def send_huge_list(self, resource, size, hdr):
        """A 200 list whose body is size bytes of valid items, streamed
        (never held in memory here)."""
        info = RESOURCES[resource]
        head = dumps({"kind": info["kind"] + "List",
                      "apiVersion": info["apiVersion"],
                      "metadata": {"resourceVersion": str(
                          self.app.state.rv)}})[:-2] + b',"items":['
        item = b'{"metadata":{"name":"filler","namespace":"huge"}},'
        block = item * (65536 // len(item))
        with self.app.state.lock:
            self.app.state.counters["faults_injected"] += 1
        self.send_response(200)
        self.common_headers()
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in hdr.items():
            self.send_header(k, v)
        self.end_headers()
        self.status_sent = 200
        self.write_chunk(head)
        sent = len(head)
        while sent + len(block) < size:
            self.write_chunk(block)
            sent += len(block)
        self.write_chunk(item[:-1] + b"]}")
        self.write_chunk(b"")

    def send_invalid(self, field, msg):
        self.send_status(422, "Invalid", 'ListOptions.meta.k8s.io "" is '
                         'invalid: %s: Forbidden: %s' % (field, msg),
                         {"group": "meta.k8s.io", "kind": "ListOptions",
                          "causes": [{"reason": "FieldValueForbidden",
                                      "message": "Forbidden: " + msg,
                                      "field": field}]})

    # -- watch
    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def client_gone(self):
        # The client sends nothing while a watch runs; readability means
        # it closed the connection (or broke the protocol): stop.
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(r)

    def do_watch(self, resource, ns, q, hdr):
        st = self.app.state
        lsel = parse_label_selector(q.get("labelSelector", ""))
        fsel = parse_field_selector(q.get("fieldSelector", ""), resource)
        rvq = q.get("resourceVersion", "")
        bookmarks = q.get("allowWatchBookmarks", "").lower() in ("true", "1")
        sie = q.get("sendInitialEvents")
        match = q.get("resourceVersionMatch", "")
        if sie is not None:
            if match != "NotOlderThan":
                self.send_invalid("resourceVersionMatch", "sendInitialEvents "
                                  "requires setting resourceVersionMatch to "
                                  "NotOlderThan")
                return
            sie = sie.lower() in ("true", "1")
        elif match:
            self.send_invalid("resourceVersionMatch", "resourceVersionMatch "
                              "is forbidden for watch unless "
                              "sendInitialEvents is provided")
            return
        try:
            rvn = int(rvq) if rvq else 0
            # absent or 0: kube-apiserver picks 30-60 min at random
            timeout = float(q.get("timeoutSeconds") or 0)
            if timeout <= 0:
                timeout = random.uniform(1800, 3600)
        except ValueError:
            raise BadRequest("invalid resourceVersion or timeoutSeconds")

        def visible(o):
            if o is None:
                return False
            if ns is not None and o["metadata"].get("namespace", "") != ns:
                return False
            return labels_match(lsel, o) and fields_match(fsel, o)

        def wrap(etype, o):
            return dumps({"type": etype, "object": o})

        first = []
        with st.lock:
            st.counters["watches"] += 1
            wr = st.counters["watches_by_resource"]
            wr[resource] = wr.get(resource, 0) + 1
            close_gen = st.close_gen
            raw_seq = st.raw_seq
            initial = (sie is True) or (sie is None and rvq in ("", "0"))
            expired = False
            werr = st.take_fault(st.watch_error_faults,
                                 "/%s?" % resource, True)
            if werr is not None:
                # accepted, then one ERROR event and the end (as for 410)
                st.counters["faults_injected"] += 1
                expired = True
                code = int(werr["code"])
                first.append(wrap("ERROR", status_obj(
                    code, {410: "Expired"}.get(code, "InternalError"),
                    "too old resource version: %d (%d)" % (rvn, st.floor)
                    if code == 410 else "injected watch error")))
                cursor = rvn
            elif initial:
                for key in sorted(st.objects[resource]):
                    o = st.objects[resource][key]
                    if visible(o):
                        first.append(wrap("ADDED", o))
                cursor = st.rv
                if bookmarks:
                    first.append(wrap("BOOKMARK", bookmark_object(
                        resource, cursor, initial_end=True)))
            elif rvn < st.floor:
                expired = True
                first.append(wrap("ERROR", status_obj(
                    410, "Expired", "too old resource version: %d (%d)"
                    % (rvn, st.floor))))
                cursor = rvn
            else:
                cursor = rvn
            st.counters["active_watches"] += 1
            aw = st.counters["active_watches_by_resource"]
            aw[resource] = aw.get(resource, 0) + 1
        try:
            self.send_response(200)
            self.common_headers()
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            for k, v in hdr.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.flush()
            self.status_sent = 200
            if first:
                self.write_chunk(b"".join(first))
            if expired:
                self.write_chunk(b"")
                return
            self.watch_loop(resource, visible, wrap, cursor, bookmarks,
                            timeout, close_gen, raw_seq)
        finally:
            with st.lock:
                st.counters["active_watches"] -= 1
                aw = st.counters["active_watches_by_resource"]
                aw[resource] -= 1

    def watch_loop(self, resource, visible, wrap, cursor, bookmarks,
                   timeout, close_gen, raw_seq):
        st = self.app.state
        t0 = time.monotonic()
        deadline = t0 + timeout

        def next_bookmark(now):
            if not bookmarks:
                return None
            t = now + st.bookmark_interval
            if deadline - 2 < t:
                t = deadline - 2
            return t if t > now else None

        bm_at = next_bookmark(t0)
        while True:
            out, end, send_bm = [], None, False
            with st.lock:
                while True:
                    now = time.monotonic()
                    if self.server.stopping:
                        end = ("abort", 0)
                        break
                    if st.close_gen != close_gen:
                        end = st.close_mode
                        break
                    if st.raw_seq != raw_seq:
                        out = [data for seq, res, data in st.raw
                               if seq > raw_seq and res in (None, resource)]
                        raw_seq = st.raw_seq
                        if out:
                            break
                    if now >= deadline:
                        end = ("clean", 0)
                        break
                    if st.rv > cursor:
                        evs = st.events_after(cursor)
                        if evs is None:
                            # fell out of the window: slow consumer
                            end = ("clean", 0)
                            break
                        for ev in evs:
                            cursor = ev.rv
                            if ev.resource != resource:
                                continue
                            was, now_ok = visible(ev.prev), visible(ev.obj)
                            if ev.type == "DELETED":
                                if was:
                                    out.append(wrap("DELETED", ev.obj))
                            elif was and now_ok:
                                out.append(wrap("MODIFIED", ev.obj))
                            elif now_ok:
                                out.append(wrap("ADDED", ev.obj))
                            elif was:
                                # stopped matching: old content, new RV
                                o = json.loads(json.dumps(ev.prev))
                                o["metadata"]["resourceVersion"] = \
                                    str(ev.rv)
                                out.append(wrap("DELETED", o))
                        cursor = max(cursor, st.rv)
                        if out:
                            break
                        continue
                    if bm_at is not None and now >= bm_at:
                        send_bm = True
                        bm_at = next_bookmark(now)
                        break
                    wake = deadline
                    if bm_at is not None:
                        wake = min(wake, bm_at)
                    st.cond.wait(min(0.25, max(0.0, wake - now)))
                    if self.client_gone():
                        end = ("gone", 0)
                        break
            if send_bm:
                out.append(wrap("BOOKMARK", bookmark_object(resource,
                                                            cursor)))
            if out:
                self.write_chunk(b"".join(out))
            if end is None:
                continue
            mode, code = end
            if mode == "gone":
                self.close_connection = True
            elif mode == "abort":
                # Drop the TCP connection in the middle of an event.
                part = wrap("BOOKMARK", bookmark_object(resource, cursor))
                try:
                    self.wfile.write(b"%x\r\n%s" % (len(part),
                                                    part[:len(part) // 2]))
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self.close_connection = True
            elif mode == "error":
                reason = {410: "Expired", 500: "InternalError",
                          429: "TooManyRequests", 401: "Unauthorized",
                          403: "Forbidden"}.get(code, "InternalError")
                msg = "too old resource version: %d (%d)" % (cursor,
                                                              cursor) \
                    if code == 410 else "injected watch error"
                self.write_chunk(wrap("ERROR", status_obj(code, reason,
                                                          msg)))
                self.write_chunk(b"")
            else:
                self.write_chunk(b"")
            return


EXPIRED_CONTINUE_MSG = (
    "The provided continue parameter is too old to display a consistent "
    "list result. You can start a new list without the continue parameter,"
    " or use the continue token in this response to retrieve the remainder"
    " of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in "
    "the list.")


# ---------------------------------------------------------------- control

class ControlHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if VERBOSE:
            log("control: " + fmt % args)

    def reply(self, code, obj):
        body = dumps(obj)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if not n:
            return {}
        return json.loads(self.rfile.read(n))

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        try:
            code, obj = self.server.app.control(
                method, urllib.parse.urlsplit(self.path).path,
                self.body() if method != "GET" else {})
        except (BadRequest, ValueError, KeyError, TypeError) as e:
            code, obj = 400, {"error": str(e)}
        self.reply(code, obj)


class App:
    def __init__(self, args):
        self.args = args
        self.state = State(args.history, args.bookmark_interval, args.token,
                           args.token_file, not args.no_discovery_group)
        self.tls_ctx = None
        self.api = None
        self.api_thread = None
        self.api_port = args.port
        self.api_lock = threading.Lock()
        self.fs_uid = str(uuid.uuid4())
        self.pl_uid = str(uuid.uuid4())
        self.stop_event = threading.Event()

    # -- TLS material
    def make_pki(self):
        d = self.args.state_dir

        def run(*cmd):
            subprocess.run(cmd, check=True, cwd=d, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)

        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
              "-nodes"]
        run("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out",
            "ca.crt", "-days", "3", "-subj", "/CN=fakeapi-ca",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        for name, subj, ext in (
                ("server", "/CN=kube-apiserver",
                 "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,"
                 "DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n"),
                ("client", "/O=system:node-proxier/CN=system:kube-proxy",
                 "extendedKeyUsage=clientAuth\n")):
            with open(os.path.join(d, name + ".ext"), "w") as f:
                f.write("basicConstraints=CA:FALSE\n"
                        "keyUsage=critical,digitalSignature\n"
                        "subjectKeyIdentifier=hash\n"
                        "authorityKeyIdentifier=keyid,issuer\n" + ext)
            run("openssl", "req", *ec, "-keyout", name + ".key", "-out",
                name + ".csr", "-subj", subj)
            run("openssl", "x509", "-req", "-in", name + ".csr", "-CA",
                "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
                name + ".crt", "-days", "3", "-extfile", name + ".ext")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(d, "server.crt"),
                            os.path.join(d, "server.key"))
        ctx.load_verify_locations(os.path.join(d, "ca.crt"))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        self.tls_ctx = ctx

    def write_kubeconfig(self):
        d = os.path.abspath(self.args.state_dir)
        tls = self.tls_ctx is not None
        server = "%s://127.0.0.1:%d" % ("https" if tls else "http",
                                        self.api_port)
        cluster = "    server: %s\n" % server
        if tls:
            cluster += "    certificate-authority: %s/ca.crt\n" % d
        users = []
        if self.args.token_file:
            users.append(("token", "    tokenFile: %s\n"
                          % os.path.abspath(self.args.token_file)))
        elif self.args.token:
            users.append(("token", "    token: %s\n" % self.args.token))
        if tls:
            users.append(("cert", "    client-certificate: %s/client.crt\n"
                          "    client-key: %s/client.key\n" % (d, d)))
        if not users:
            users.append(("anonymous", "    {}\n"))
        for fname, first in (("kubeconfig", users[0][0]),
                             ("kubeconfig-cert", users[-1][0])):
            text = ("apiVersion: v1\nkind: Config\nclusters:\n"
                    "- name: fakeapi\n  cluster:\n" + cluster + "users:\n")
            for name, body in users:
                text += "- name: %s\n  user:\n%s" % (name, body)
            text += "contexts:\n"
            for name, _ in users:
                text += ("- name: fakeapi-%s\n  context:\n    cluster: "
                         "fakeapi\n    user: %s\n    namespace: default\n"
                         % (name, name))
            text += "current-context: fakeapi-%s\n" % first
            atomic_write(os.path.join(d, fname), text)

    # -- API listener
    def start_api(self):
        with self.api_lock:
            if self.api is not None:
                return False
            srv = ApiServer(("127.0.0.1", self.api_port), ApiHandler, self)
            self.api_port = srv.server_address[1]
            self.api = srv
            self.api_thread = threading.Thread(
                target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                daemon=True)
            self.api_thread.start()
            log("API listening on 127.0.0.1:%d" % self.api_port)
            return True

    def stop_api(self):
        with self.api_lock:
            srv = self.api
            if srv is None:
                return False
            self.api = None
        srv.stopping = True
        with self.state.lock:
            self.state.cond.notify_all()
        srv.shutdown()
        srv.server_close()
        srv.kill_connections()
        log("API listener stopped")
        return True

    # -- control requests
    def node_change(self, name, what, body):
        """What the cluster does to a Node, as a MODIFIED event: a delete
        held by a finalizer sets deletionTimestamp (deleting); the cluster
        autoscaler adds its taint before draining (taint, untaint)."""
        st = self.state
        with st.lock:
            cur = st.objects["nodes"].get(("", name))
            if cur is None:
                return 404, {"error": "node %s not found" % name}
            obj = json.loads(json.dumps(cur))
        meta = obj["metadata"]
        spec = obj.setdefault("spec", {})
        key = body.get("key", "ToBeDeletedByClusterAutoscaler")
        if what == "deleting":
            meta["deletionTimestamp"] = now_rfc3339()
            meta["deletionGracePeriodSeconds"] = 0
            meta.setdefault("finalizers", ["fakeapi.test/hold"])
        elif what == "taint":
            taints = [t for t in spec.get("taints") or []
                      if t.get("key") != key]
            taints.append({"key": key, "value": str(int(time.time())),
                           "effect": body.get("effect", "NoSchedule")})
            spec["taints"] = taints
        else:
            spec["taints"] = [t for t in spec.get("taints") or []
                              if t.get("key") != key]
            if not spec["taints"]:
                del spec["taints"]
        etype, rv = st.apply(obj)
        return 200, {"type": etype, "resourceVersion": str(rv)}

    def control(self, method, path, body):
        st = self.state
        parts = [p for p in path.split("/") if p]
        if method == "GET":
            if parts == ["healthz"]:
                return 200, {"ok": True}
            if parts == ["counters"]:
                with st.lock:
                    return 200, json.loads(json.dumps(st.counters))
            if parts == ["state"]:
                with st.lock:
                    return 200, {"resourceVersion": st.rv,
                                 "floor": st.floor,
                                 "history": len(st.history),
                                 "listening": self.api is not None,
                                 "discovery": st.discovery,
                                 "objects": {r: len(v) for r, v in
                                             st.objects.items()}}
            if len(parts) == 2 and parts[0] == "objects" and \
                    parts[1] in RESOURCES:
                with st.lock:
                    return 200, {"items": [st.objects[parts[1]][k] for k
                                           in sorted(st.objects[parts[1]])]}
            return 404, {"error": "unknown control path"}
        if method == "DELETE" and len(parts) == 3 and parts[0] == "objects" \
                and parts[1] in RESOURCES and not namespaced(parts[1]):
            parts = [parts[0], parts[1], "", parts[2]]
        if method == "DELETE" and len(parts) == 4 and parts[0] == "objects":
            rv = st.delete(parts[1], parts[2], parts[3])
            if rv is None:
                return 404, {"error": "not found"}
            return 200, {"resourceVersion": str(rv)}
        if method != "POST":
            return 405, {"error": "method not allowed"}
        p = "/".join(parts)
        if p in ("objects", "objects/create"):
            etype, rv = st.apply(body, create_only=(p == "objects/create"))
            return 200, {"type": etype, "resourceVersion": str(rv)}
        if p == "objects/delete":
            res = KIND_TO_RESOURCE.get(body.get("kind"))
            meta = body.get("metadata") or {}
            if res is None:
                raise BadRequest("unsupported kind")
            rv = st.delete(res, meta.get("namespace", "default")
                           if namespaced(res) else "", meta.get("name"))
            if rv is None:
                return 404, {"error": "not found"}
            return 200, {"resourceVersion": str(rv)}
        if len(parts) == 3 and parts[0] == "nodes" and \
                parts[2] in ("deleting", "taint", "untaint"):
            return self.node_change(parts[1], parts[2], body)
        if p == "load":
            n = load_list(st, body)
            return 200, {"loaded": n, "resourceVersion": str(st.rv)}
        if p == "token":
            if self.args.token_file:
                atomic_write(self.args.token_file, body["token"] + "\n")
            else:
                st.token = body["token"]
            return 200, {"ok": True}
        if p == "config":
            with st.lock:
                if "bookmark_interval" in body:
                    st.bookmark_interval = float(body["bookmark_interval"])
                if "history" in body:
                    st.history_max = max(1, int(body["history"]))
            return 200, {"ok": True}
        if p == "discovery":
            with st.lock:
                st.discovery = bool(body.get("endpointslices", True))
            return 200, {"discovery": st.discovery}
        if p == "faults/close-watches":
            st.close_watches(body.get("mode", "clean"),
                             int(body.get("code", 0)))
            return 200, {"ok": True}
        if p == "faults/compact":
            st.compact()
            return 200, {"floor": st.floor}
        if p in ("faults/status", "faults/stall"):
            f = {"path": body.get("path"), "watch": body.get("watch"),
                 "count": body.get("count"), "until": None}
            if body.get("duration") is not None:
                f["until"] = time.monotonic() + float(body["duration"])
            elif f["count"] is None:
                f["count"] = 1
            if p == "faults/status":
                f["code"] = int(body["code"])
                f["retry_after"] = body.get("retry_after")
                lst = st.status_faults
            else:
                f["seconds"] = float(body["seconds"])
                lst = st.stall_faults
            with st.lock:
                lst.append(f)
            return 200, {"ok": True}
        if p == "faults/watch-error":
            res = body.get("resource")
            if res is not None and res not in RESOURCES:
                raise BadRequest("unknown resource %r" % res)
            f = {"code": int(body.get("code", 500)),
                 "path": "/%s?" % res if res else None,
                 "count": body.get("count"), "until": None}
            if body.get("duration") is not None:
                f["until"] = time.monotonic() + float(body["duration"])
            elif f["count"] is None:
                f["count"] = 1
            with st.lock:
                st.watch_error_faults.append(f)
            return 200, {"ok": True}
        if p == "faults/huge-list":
            res = body.get("resource")
            if res is not None and res not in RESOURCES:
                raise BadRequest("unknown resource %r" % res)
            f = {"bytes": int(body["bytes"]), "count": body.get("count", 1),
                 "path": "/%s?" % res if res else None, "until": None}
            with st.lock:
                st.huge_list_faults.append(f)
            return 200, {"ok": True}
        if p == "faults/expire-continue":
            with st.lock:
                st.expire_continue = int(body.get("count", 1))
            return 200, {"ok": True}
        if p == "faults/raw-watch":
            res = body.get("resource")
            if res is not None and res not in RESOURCES:
                raise BadRequest("unknown resource %r" % res)
            if "data_b64" in body:
                data = base64.b64decode(body["data_b64"])
            else:
                data = body["data"].encode()
            with st.lock:
                st.raw_seq += 1
                st.raw.append((st.raw_seq, res, data))
                del st.raw[:-RAW_KEEP]
                st.cond.notify_all()
                n = st.counters["active_watches"]
            return 200, {"ok": True, "active_watches": n}
        if p == "faults/clear":
            with st.lock:
                st.status_faults.clear()
                st.stall_faults.clear()
                st.stall_gen += 1
                st.watch_error_faults.clear()
                st.huge_list_faults.clear()
                st.expire_continue = 0
            return 200, {"ok": True}
        if p == "counters/reset":
            with st.lock:
                active = st.counters["active_watches"]
                by_res = st.counters["active_watches_by_resource"]
                st.counters = st.new_counters()
                st.counters["active_watches"] = active
                st.counters["active_watches_by_resource"] = by_res
            return 200, {"ok": True}
        if p == "listener/stop":
            return 200, {"stopped": self.stop_api()}
        if p == "listener/start":
            return 200, {"started": self.start_api()}
        if p == "listener/restart":
            self.stop_api()
            down = float(body.get("down_seconds", 0))
            if down > 0:
                threading.Timer(down, self.start_api).start()
                return 200, {"restarting_in": down}
            self.start_api()
            return 200, {"started": True}
        return 404, {"error": "unknown control path"}

    def run(self):
        a = self.args
        os.makedirs(a.state_dir, exist_ok=True)
        if not a.plain_http:
            self.make_pki()
        for f in a.load or ():
            with open(f) as fh:
                n = load_list(self.state, json.load(fh))
            log("loaded %d objects from %s" % (n, f))
        self.start_api()
        ctl = http.server.ThreadingHTTPServer(("127.0.0.1", a.control_port),
                                              ControlHandler)
        ctl.daemon_threads = True
        ctl.app = self
        threading.Thread(target=ctl.serve_forever, daemon=True).start()
        self.write_kubeconfig()
        atomic_write(os.path.join(a.state_dir, "ports.json"), json.dumps(
            {"api": self.api_port, "control": ctl.server_address[1],
             "scheme": "http" if a.plain_http else "https",
             "pid": os.getpid()}) + "\n")
        log("control on 127.0.0.1:%d, state in %s"
            % (ctl.server_address[1], a.state_dir))
        signal.signal(signal.SIGTERM, lambda *_: self.stop_event.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop_event.set())
        while not self.stop_event.wait(1.0):
            pass
        log("terminating")
        self.stop_api()
        ctl.shutdown()
        ctl.server_close()
        return 0


def load_list(st, doc):
    """Apply every item of a List document; items may lack kind."""
    if "items" not in doc:
        st.apply(doc)
        return 1
    kind = doc.get("kind", "List")
    item_kind = kind[:-4] if kind.endswith("List") and kind != "List" \
        else None
    n = 0
    for it in doc["items"] or ():
        it = dict(it)
        if item_kind and "kind" not in it:
            it["kind"] = item_kind
        meta = dict(it.get("metadata") or {})
        meta.pop("resourceVersion", None)
        it["metadata"] = meta
        st.apply(it)
        n += 1
    return n


def atomic_write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    global VERBOSE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--control-port", type=int, default=0)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--token")
    g.add_argument("--token-file")
    ap.add_argument("--bookmark-interval", type=float, default=60.0)
    ap.add_argument("--history", type=int, default=1000,
                    help="events kept for watch replay (default 1000)")
    ap.add_argument("--plain-http", action="store_true")
    ap.add_argument("--no-discovery-group", action="store_true",
                    help="do not serve discovery.k8s.io (404 like an old "
                    "server)")
    ap.add_argument("--anonymous-401", action="store_true",
                    help="no credentials -> 401 instead of 403")
    ap.add_argument("--require-auth", action="store_true",
                    help="over TLS without a token: demand a client cert")
    ap.add_argument("--load", action="append",
                    help="JSON List (e.g. a ServiceList) to load at start")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    VERBOSE = args.verbose
    return App(args).run()


if __name__ == "__main__":
    sys.exit(main())
