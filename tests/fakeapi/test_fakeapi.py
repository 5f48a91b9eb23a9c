#!/usr/bin/env python3
"""test_fakeapi.py - self-test of the fake kube-apiserver (loopback only).

Starts fakeapi.py twice (HTTPS with a token file and bookmarks every second;
plain HTTP without the discovery.k8s.io group) and checks the behaviours the
C watcher depends on, with CA verification switched on.

Run: python3 tests/fakeapi/test_fakeapi.py [-v]
"""

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
FAKEAPI = os.path.join(HERE, "fakeapi.py")
SAMPLES = os.path.normpath(os.path.join(HERE, "..", "data", "api-samples"))
if not os.path.isdir(SAMPLES):
    SAMPLES = "/work/shared/api-samples"
KP_SELECTOR = ("!service.kubernetes.io/headless,"
               "!service.kubernetes.io/service-proxy-name")


class Server:
    def __init__(self, *extra, token="tok-1"):
        self.dir = tempfile.mkdtemp(prefix="fakeapi-test-")
        self.token_file = os.path.join(self.dir, "token")
        args = [sys.executable, FAKEAPI, "--state-dir", self.dir]
        if token is not None:
            with open(self.token_file, "w") as f:
                f.write(token + "\n")
            args += ["--token-file", self.token_file]
        self.log = open(os.path.join(self.dir, "stderr.log"), "w")
        self.proc = subprocess.Popen(args + list(extra), stderr=self.log)
        ports = os.path.join(self.dir, "ports.json")
        t0 = time.monotonic()
        while not os.path.exists(ports):
            if self.proc.poll() is not None or time.monotonic() - t0 > 15:
                raise RuntimeError("fakeapi did not start")
            time.sleep(0.05)
        with open(ports) as f:
            p = json.load(f)
        self.port, self.cport, self.tls = p["api"], p["control"], \
            p["scheme"] == "https"

    def ssl_ctx(self, cert=False, certdir=None):
        ctx = ssl.create_default_context(cafile=os.path.join(self.dir,
                                                             "ca.crt"))
        if cert:
            d = certdir or self.dir
            ctx.load_cert_chain(os.path.join(d, "client.crt"),
                                os.path.join(d, "client.key"))
        return ctx

    def conn(self, cert=False, timeout=10, certdir=None):
        if self.tls:
            return http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=timeout,
                context=self.ssl_ctx(cert, certdir))
        return http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)

    def request(self, path, token="tok-1", cert=False, timeout=10,
                headers=None):
        """GET path; returns (status, headers dict, body bytes)."""
        c = self.conn(cert, timeout)
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        try:
            c.request("GET", path, headers=h)
            r = c.getresponse()
            body = r.read()
        finally:
            c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body

    def get_json(self, path, **kw):
        st, h, body = self.request(path, **kw)
        return st, json.loads(body) if body.startswith(b"{") else body

    def watch(self, path, token="tok-1", timeout=15):
        c = self.conn(timeout=timeout)
        c.request("GET", path, headers={"Authorization": "Bearer " + token})
        r = c.getresponse()
        return c, r

    def ctl(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.cport, timeout=10)
        data = json.dumps(body).encode() if body is not None else None
        c.request(method, path, body=data,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        out = json.loads(r.read())
        c.close()
        if r.status != 200:
            raise AssertionError("control %s %s: %s %s"
                                 % (method, path, r.status, out))
        return out

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(10)
        self.log.close()
        with open(os.path.join(self.dir, "stderr.log")) as f:
            text = f.read()
        if "Traceback" in text:
            sys.stderr.write(text)
            rc = "traceback in fakeapi stderr"
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


S = None
OLD = None


def setUpModule():
    global S, OLD
    S = Server("--bookmark-interval", "1", "--history", "200",
               "--load", os.path.join(SAMPLES, "service-list.json"),
               "--load", os.path.join(SAMPLES, "endpointslice-list.json"))
    OLD = Server("--plain-http", "--no-discovery-group", token=None)


def tearDownModule():
    for srv in (S, OLD):
        if srv is not None:
            assert srv.stop() == 0, "fakeapi did not exit cleanly on SIGTERM"


def svc(ns, name, labels=None, ip="10.96.1.1", **spec):
    spec = dict({"clusterIP": ip, "type": "ClusterIP",
                 "ports": [{"name": "http", "protocol": "TCP", "port": 80}]},
                **spec)
    return {"kind": "Service", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": ns,
                         "labels": labels or {}},
            "spec": spec}


def q(**params):
    return "?" + urllib.parse.urlencode(params)


def read_events(resp, n):
    out = []
    for _ in range(n):
        line = resp.readline()
        if not line:
            break
        out.append(json.loads(line))
    return out


class Auth(unittest.TestCase):
    def test_token(self):
        st, body = S.get_json("/api/v1/services")
        self.assertEqual(st, 200)
        self.assertEqual(body["kind"], "ServiceList")

    def test_wrong_token_401(self):
        st, body = S.get_json("/api/v1/services", token="nope")
        self.assertEqual(st, 401)
        self.assertEqual(body["kind"], "Status")
        self.assertEqual(body["reason"], "Unauthorized")
        self.assertEqual(body["code"], 401)

    def test_anonymous_403(self):
        st, body = S.get_json("/api/v1/services", token=None)
        self.assertEqual(st, 403)
        self.assertIn("system:anonymous", body["message"])

    def test_client_cert(self):
        st, body = S.get_json("/apis/discovery.k8s.io/v1/endpointslices",
                              token=None, cert=True)
        self.assertEqual(st, 200)
        self.assertEqual(body["kind"], "EndpointSliceList")

    def test_foreign_client_cert_rejected(self):
        d = tempfile.mkdtemp(prefix="fakeapi-rogue-")
        try:
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                 os.path.join(d, "client.key"), "-out",
                 os.path.join(d, "client.crt"), "-days", "1", "-subj",
                 "/CN=rogue"], check=True, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            c = S.conn(cert=True, certdir=d)
            with self.assertRaises((ssl.SSLError, ConnectionError)):
                c.request("GET", "/api/v1/services")
                c.getresponse().read()
            c.close()
        finally:
            shutil.rmtree(d)

    def test_token_rotation(self):
        S.ctl("POST", "/token", {"token": "tok-2"})
        try:
            self.assertEqual(S.request("/api/v1/services")[0], 401)
            self.assertEqual(S.request("/api/v1/services",
                                       token="tok-2")[0], 200)
        finally:
            S.ctl("POST", "/token", {"token": "tok-1"})
        self.assertEqual(S.request("/api/v1/services")[0], 200)

    def test_kubeconfig_written(self):
        with open(os.path.join(S.dir, "kubeconfig")) as f:
            kc = f.read()
        self.assertIn("server: https://127.0.0.1:%d" % S.port, kc)
        self.assertIn("tokenFile: " + S.token_file, kc)
        self.assertIn("client-certificate: ", kc)

    def test_counters_never_hold_tokens(self):
        S.request("/api/v1/endpoints")
        c = S.ctl("GET", "/counters")
        self.assertNotIn("tok-1", json.dumps(c))
        self.assertEqual(c["last_request_headers"]["Authorization"],
                         "Bearer <redacted>")
        self.assertGreaterEqual(c["requests_by_path"]["/api/v1/endpoints"],
                                1)


class List(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for i in range(5):
            S.ctl("POST", "/objects", svc("page", "s%d" % i,
                                          ip="10.96.2.%d" % i))

    def test_samples_loaded(self):
        st, body = S.get_json("/api/v1/namespaces/default/services")
        names = [i["metadata"]["name"] for i in body["items"]]
        self.assertEqual(names, ["db", "kubernetes", "web"])
        for it in body["items"]:
            self.assertNotIn("kind", it)
            self.assertNotIn("apiVersion", it)
            self.assertTrue(it["metadata"]["uid"])
            self.assertTrue(it["metadata"]["creationTimestamp"])
            self.assertLessEqual(int(it["metadata"]["resourceVersion"]),
                                 int(body["metadata"]["resourceVersion"]))

    def test_pagination_consistent(self):
        base = "/api/v1/namespaces/page/services"
        st, p1 = S.get_json(base + q(limit=2))
        self.assertEqual(st, 200)
        rv = p1["metadata"]["resourceVersion"]
        self.assertEqual(p1["metadata"]["remainingItemCount"], 3)
        # a write between pages must not show up in the continuation
        S.ctl("POST", "/objects", svc("page", "s3", ip="10.96.9.9"))
        names = [i["metadata"]["name"] for i in p1["items"]]
        tok = p1["metadata"]["continue"]
        pages = 1
        while tok:
            st, p = S.get_json(base + q(limit=2, **{"continue": tok}))
            self.assertEqual(st, 200)
            self.assertEqual(p["metadata"]["resourceVersion"], rv)
            for it in p["items"]:
                if it["metadata"]["name"] == "s3":
                    self.assertEqual(it["spec"]["clusterIP"], "10.96.2.3")
            names += [i["metadata"]["name"] for i in p["items"]]
            tok = p["metadata"].get("continue")
            pages += 1
        self.assertEqual(names, ["s0", "s1", "s2", "s3", "s4"])
        self.assertEqual(pages, 3)

    def test_limit_ignored_for_rv0(self):
        st, p = S.get_json("/api/v1/namespaces/page/services"
                           + q(limit=2, resourceVersion=0))
        self.assertEqual(len(p["items"]), 5)
        self.assertNotIn("continue", p["metadata"])

    def test_no_remaining_count_with_selector(self):
        st, p = S.get_json("/api/v1/namespaces/page/services"
                           + q(limit=2, labelSelector=KP_SELECTOR))
        self.assertIn("continue", p["metadata"])
        self.assertNotIn("remainingItemCount", p["metadata"])

    def test_expired_continue_410(self):
        base = "/api/v1/namespaces/page/services"
        st, p1 = S.get_json(base + q(limit=2))
        S.ctl("POST", "/objects", svc("page", "s4", ip="10.96.7.7"))
        S.ctl("POST", "/faults/compact")
        st, body = S.get_json(base + q(
            limit=2, **{"continue": p1["metadata"]["continue"]}))
        self.assertEqual(st, 410)
        self.assertEqual(body["reason"], "Expired")
        self.assertIn("continue parameter is too old", body["message"])
        # the fresh token continues inconsistently (sees the new s4)
        st, p2 = S.get_json(base + q(
            limit=10, **{"continue": body["metadata"]["continue"]}))
        self.assertEqual(st, 200)
        self.assertEqual([i["metadata"]["name"] for i in p2["items"]],
                         ["s2", "s3", "s4"])
        self.assertEqual(p2["items"][2]["spec"]["clusterIP"], "10.96.7.7")

    def test_bad_continue_400(self):
        st, body = S.get_json("/api/v1/services" + q(**{"continue": "xx"}))
        self.assertEqual(st, 400)

    def test_too_large_rv_504(self):
        st, h, body = S.request("/api/v1/services" + q(
            resourceVersion=99999999))
        self.assertEqual(st, 504)
        self.assertEqual(h.get("retry-after"), "1")
        self.assertIn("Too large resource version", json.loads(body)[
            "message"])

    def test_get_object_and_404(self):
        st, o = S.get_json("/api/v1/namespaces/page/services/s1")
        self.assertEqual((st, o["kind"], o["apiVersion"]),
                         (200, "Service", "v1"))
        st, o = S.get_json("/api/v1/namespaces/page/services/none")
        self.assertEqual((st, o["reason"]), (404, "NotFound"))

    def test_endpoints_warning(self):
        st, h, _ = S.request("/api/v1/endpoints")
        self.assertEqual(st, 200)
        self.assertIn("deprecated", h.get("warning", ""))


class Selectors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        objs = [("plain", {"app": "web"}),
                ("headless", {"app": "web",
                              "service.kubernetes.io/headless": ""}),
                ("other", {"app": "db",
                           "service.kubernetes.io/service-proxy-name": "x"}),
                ("nolabel", {})]
        for name, labels in objs:
            S.ctl("POST", "/objects", svc("sel", name, labels))

    def names(self, sel, field=None):
        params = {"labelSelector": sel}
        if field:
            params["fieldSelector"] = field
        st, body = S.get_json("/api/v1/namespaces/sel/services" + q(**params))
        self.assertEqual(st, 200, body)
        return sorted(i["metadata"]["name"] for i in body["items"])

    def test_label_forms(self):
        self.assertEqual(self.names(KP_SELECTOR), ["nolabel", "plain"])
        self.assertEqual(self.names("app"), ["headless", "other", "plain"])
        self.assertEqual(self.names("!app"), ["nolabel"])
        self.assertEqual(self.names("app=web"), ["headless", "plain"])
        self.assertEqual(self.names("app!=web"), ["nolabel", "other"])
        self.assertEqual(self.names("app=web,!service.kubernetes.io/"
                                    "headless"), ["plain"])
        self.assertEqual(self.names("app in (db,x)"), ["other"])

    def test_field_selector(self):
        self.assertEqual(self.names("", "metadata.name=plain"), ["plain"])
        self.assertEqual(self.names("", "metadata.name!=plain"),
                         ["headless", "nolabel", "other"])
        st, body = S.get_json("/api/v1/services"
                              + q(fieldSelector="spec.selector=x"))
        self.assertEqual((st, body["reason"]), (400, "BadRequest"))

    def test_bad_label_selector(self):
        st, body = S.get_json("/api/v1/services" + q(labelSelector="a b"))
        self.assertEqual(st, 400)


class Nodes(unittest.TestCase):
    """Cluster-scoped Nodes, watched by name as kube-proxy does."""

    def node(self, name, zone):
        return {"kind": "Node", "apiVersion": "v1",
                "metadata": {"name": name, "namespace": "ignored",
                             "labels": {"topology.kubernetes.io/zone": zone}}}

    def test_nodes(self):
        S.ctl("POST", "/objects", self.node("n-a", "zone-a"))
        S.ctl("POST", "/objects", self.node("n-b", "zone-b"))
        sel = q(fieldSelector="metadata.name=n-a")
        st, body = S.get_json("/api/v1/nodes" + sel)
        self.assertEqual(st, 200, body)
        self.assertEqual(body["kind"], "NodeList")
        self.assertEqual([i["metadata"]["name"] for i in body["items"]],
                         ["n-a"])
        self.assertNotIn("namespace", body["items"][0]["metadata"])
        rv = body["metadata"]["resourceVersion"]
        st, body = S.get_json("/api/v1/nodes/n-b")
        self.assertEqual((st, body["metadata"]["name"]), (200, "n-b"))
        st, _ = S.get_json("/api/v1/namespaces/default/nodes")
        self.assertEqual(st, 404)
        st, body = S.get_json("/api/v1/nodes" + q(fieldSelector="spec.x=1"))
        self.assertEqual(st, 400)

        c, r = S.watch("/api/v1/nodes" + q(
            watch=1, resourceVersion=rv, timeoutSeconds=5,
            fieldSelector="metadata.name=n-a"))

        def writer():
            time.sleep(0.2)
            S.ctl("POST", "/nodes/n-b/taint", {})
            S.ctl("POST", "/nodes/n-a/taint", {})
            S.ctl("POST", "/nodes/n-a/untaint", {})
            S.ctl("POST", "/nodes/n-a/deleting", {})
            S.ctl("DELETE", "/objects/nodes/n-a")
        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.1)
        aw = S.ctl("GET", "/counters")["active_watches_by_resource"]
        self.assertEqual(aw.get("nodes"), 1)
        evs = read_events(r, 4)
        t.join()
        c.close()
        self.assertEqual([e["type"] for e in evs],
                         ["MODIFIED", "MODIFIED", "MODIFIED", "DELETED"])
        self.assertEqual(evs[0]["object"]["spec"]["taints"][0]["key"],
                         "ToBeDeletedByClusterAutoscaler")
        self.assertNotIn("taints", evs[1]["object"]["spec"])
        self.assertIn("deletionTimestamp", evs[2]["object"]["metadata"])


class Watch(unittest.TestCase):
    def list_rv(self, ns):
        st, body = S.get_json("/api/v1/namespaces/%s/services" % ns)
        return body["metadata"]["resourceVersion"]

    def test_replay_and_timeout(self):
        rv = self.list_rv("replay")
        S.ctl("POST", "/objects", svc("replay", "a"))
        S.ctl("POST", "/objects", svc("replay", "a", ip="10.96.3.3"))
        S.ctl("POST", "/objects", svc("other-ns", "zz"))
        S.ctl("DELETE", "/objects/services/replay/a")
        t0 = time.monotonic()
        c, r = S.watch("/api/v1/namespaces/replay/services" + q(
            watch="true", resourceVersion=rv, timeoutSeconds=2))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Content-Type"), "application/json")
        self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
        evs = [json.loads(line) for line in r.read().splitlines()]
        elapsed = time.monotonic() - t0
        c.close()
        self.assertEqual([e["type"] for e in evs],
                         ["ADDED", "MODIFIED", "DELETED"])
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs]
        self.assertEqual(rvs, sorted(rvs))
        self.assertEqual(rvs[2] - rvs[1], 2)  # other-ns event skipped
        self.assertEqual(evs[0]["object"]["kind"], "Service")
        self.assertEqual(evs[2]["object"]["spec"]["clusterIP"], "10.96.3.3")
        self.assertTrue(1.5 <= elapsed < 4, elapsed)

    def test_live_and_selector_transitions(self):
        rv = self.list_rv("live")
        c, r = S.watch("/api/v1/namespaces/live/services" + q(
            watch=1, resourceVersion=rv, timeoutSeconds=10,
            labelSelector=KP_SELECTOR))

        def writer():
            time.sleep(0.2)
            S.ctl("POST", "/objects", svc("live", "b", {"app": "b"}))
            S.ctl("POST", "/objects", svc("live", "b", {
                "app": "b", "service.kubernetes.io/service-proxy-name": "p"}))
            S.ctl("POST", "/objects", svc("live", "b", {"app": "b"}))
            S.ctl("POST", "/objects", svc("live", "b", {"app": "c"}))
            S.ctl("DELETE", "/objects/services/live/b")
        t = threading.Thread(target=writer)
        t.start()
        evs = read_events(r, 5)
        t.join()
        c.close()
        self.assertEqual([e["type"] for e in evs],
                         ["ADDED", "DELETED", "ADDED", "MODIFIED", "DELETED"])
        # stopped matching: old (matching) labels with the new RV
        self.assertEqual(evs[1]["object"]["metadata"]["labels"], {"app": "b"})
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs]
        self.assertEqual(rvs, list(range(rvs[0], rvs[0] + 5)))
        self.assertEqual(evs[4]["object"]["metadata"]["labels"], {"app": "c"})

    def test_bookmarks_and_pre_timeout(self):
        rv = self.list_rv("bm")
        t0 = time.monotonic()
        c, r = S.watch("/apis/discovery.k8s.io/v1/namespaces/bm/"
                       "endpointslices" + q(
                           watch="true", resourceVersion=rv,
                           allowWatchBookmarks="true", timeoutSeconds=4))
        evs = [json.loads(line) for line in r.read().splitlines()]
        elapsed = time.monotonic() - t0
        c.close()
        self.assertGreaterEqual(len(evs), 2)
        for e in evs:
            self.assertEqual(e["type"], "BOOKMARK")
            o = e["object"]
            self.assertEqual(o["kind"], "EndpointSlice")
            self.assertEqual(list(o["metadata"]), ["resourceVersion"])
            self.assertIsNone(o["endpoints"])
            self.assertGreaterEqual(int(o["metadata"]["resourceVersion"]),
                                    int(rv))
        self.assertTrue(3.5 <= elapsed < 6, elapsed)

    def test_compacted_history_410(self):
        rv = self.list_rv("gone")
        S.ctl("POST", "/objects", svc("gone", "g"))
        S.ctl("POST", "/faults/compact")
        floor = S.ctl("GET", "/state")["floor"]
        c, r = S.watch("/api/v1/services" + q(watch="true",
                                              resourceVersion=rv))
        self.assertEqual(r.status, 200)
        evs = [json.loads(line) for line in r.read().splitlines()]
        c.close()
        self.assertEqual(len(evs), 1)
        self.assertEqual(evs[0]["type"], "ERROR")
        st = evs[0]["object"]
        self.assertEqual((st["kind"], st["code"], st["reason"]),
                         ("Status", 410, "Expired"))
        self.assertEqual(st["message"], "too old resource version: %s (%d)"
                         % (rv, floor))
        # a list at the compacted RV with a limit is an exact read -> 410
        s, body = S.get_json("/api/v1/services" + q(limit=1,
                                                    resourceVersion=rv))
        self.assertEqual((s, body["reason"]), (410, "Expired"))

    def test_history_window(self):
        # the window (200 events) slides: an RV 201 writes back is gone
        rv = self.list_rv("win")
        for i in range(201):
            S.ctl("POST", "/objects", svc("win", "w", ip="10.96.4.%d"
                                          % (i % 250)))
        c, r = S.watch("/api/v1/services" + q(watch="true",
                                              resourceVersion=rv))
        evs = [json.loads(line) for line in r.read().splitlines()]
        c.close()
        self.assertEqual(evs[0]["object"]["code"], 410)

    def test_initial_events(self):
        S.ctl("POST", "/objects", svc("init", "i1"))
        S.ctl("POST", "/objects", svc("init", "i2"))
        c, r = S.watch("/api/v1/namespaces/init/services" + q(
            watch="true", allowWatchBookmarks="true", timeoutSeconds=5))
        evs = read_events(r, 3)
        c.close()
        self.assertEqual([e["type"] for e in evs],
                         ["ADDED", "ADDED", "BOOKMARK"])
        self.assertEqual(evs[2]["object"]["metadata"]["annotations"],
                         {"k8s.io/initial-events-end": "true"})
        st, body = S.get_json("/api/v1/services" + q(
            watch="true", sendInitialEvents="true"))
        self.assertEqual((st, body["reason"]), (422, "Invalid"))
        st, body = S.get_json("/api/v1/services" + q(
            watch="true", resourceVersionMatch="NotOlderThan"))
        self.assertEqual(st, 422)


class Faults(unittest.TestCase):
    def tearDown(self):
        S.ctl("POST", "/faults/clear")

    def test_500_for_next_k(self):
        S.ctl("POST", "/faults/status", {"code": 500, "count": 2})
        for _ in range(2):
            st, body = S.get_json("/api/v1/services")
            self.assertEqual((st, body["reason"]), (500, "InternalError"))
        self.assertEqual(S.request("/api/v1/services")[0], 200)

    def test_429_retry_after(self):
        S.ctl("POST", "/faults/status", {"code": 429, "retry_after": 3,
                                         "watch": True})
        self.assertEqual(S.request("/api/v1/services")[0], 200)
        st, h, body = S.request("/api/v1/services?watch=true")
        self.assertEqual(st, 429)
        self.assertEqual(h["retry-after"], "3")
        self.assertTrue(h["content-type"].startswith("text/plain"))
        self.assertEqual(body, b"Too many requests, please try again "
                         b"later.\n")

    def test_503_for_duration(self):
        S.ctl("POST", "/faults/status", {"code": 503, "duration": 0.6,
                                         "retry_after": 1})
        st, h, _ = S.request("/api/v1/services")
        st2, _, _ = S.request("/api/v1/endpoints")
        self.assertEqual((st, st2, h["retry-after"]), (503, 503, "1"))
        time.sleep(0.7)
        self.assertEqual(S.request("/api/v1/services")[0], 200)

    def test_401_fault(self):
        S.ctl("POST", "/faults/status", {"code": 401})
        self.assertEqual(S.request("/api/v1/services")[0], 401)
        self.assertEqual(S.request("/api/v1/services")[0], 200)

    def test_stall(self):
        S.ctl("POST", "/faults/stall", {"seconds": 1.2, "count": 1})
        t0 = time.monotonic()
        self.assertEqual(S.request("/api/v1/services")[0], 200)
        self.assertGreaterEqual(time.monotonic() - t0, 1.1)
        S.ctl("POST", "/faults/stall", {"seconds": 2, "count": 1})
        with self.assertRaises(socket.timeout):
            S.request("/api/v1/services", timeout=0.5)

    def test_close_watches_clean_and_abort(self):
        c, r = S.watch("/api/v1/services" + q(watch="true",
                                              resourceVersion=0))
        read_events(r, 1)
        time.sleep(0.2)
        S.ctl("POST", "/faults/close-watches", {"mode": "clean"})
        r.read()        # ends with the zero-length chunk, no exception
        c.close()
        c, r = S.watch("/api/v1/services" + q(watch="true",
                                              resourceVersion=0))
        read_events(r, 1)
        time.sleep(0.2)
        S.ctl("POST", "/faults/close-watches", {"mode": "abort"})
        with self.assertRaises((http.client.IncompleteRead,
                                http.client.HTTPException, OSError)):
            r.read()
        c.close()

    def test_error_event(self):
        rv = S.ctl("GET", "/state")["resourceVersion"]
        c, r = S.watch("/api/v1/services" + q(watch="true",
                                              resourceVersion=rv))
        time.sleep(0.3)
        S.ctl("POST", "/faults/close-watches", {"mode": "error",
                                                "code": 500})
        evs = [json.loads(line) for line in r.read().splitlines()]
        c.close()
        self.assertEqual(evs[-1]["type"], "ERROR")
        self.assertEqual(evs[-1]["object"]["code"], 500)

    def test_raw_watch(self):
        rv = S.ctl("GET", "/state")["resourceVersion"]
        c, r = S.watch("/api/v1/services" + q(watch="true",
                                              resourceVersion=rv))
        time.sleep(0.3)
        out = S.ctl("POST", "/faults/raw-watch",
                    {"resource": "services", "data": "{\"type\":garbage\n"})
        self.assertGreaterEqual(out["active_watches"], 1)
        S.ctl("POST", "/faults/raw-watch",
              {"resource": "endpoints", "data": "not-for-services\n"})
        time.sleep(0.3)
        S.ctl("POST", "/faults/close-watches", {"mode": "clean"})
        body = r.read()
        c.close()
        self.assertIn(b'{"type":garbage\n', body)
        self.assertNotIn(b"not-for-services", body)

    def test_raw_watch_bytes(self):
        rv = S.ctl("GET", "/state")["resourceVersion"]
        c, r = S.watch("/api/v1/services" + q(watch="true",
                                              resourceVersion=rv))
        time.sleep(0.3)
        raw = b'{"a":"\x00\xff"}\n'
        S.ctl("POST", "/faults/raw-watch",
              {"data_b64": base64.b64encode(raw).decode()})
        time.sleep(0.3)
        S.ctl("POST", "/faults/close-watches", {"mode": "clean"})
        body = r.read()
        c.close()
        self.assertIn(raw, body)

    def test_watch_error_fault(self):
        S.ctl("POST", "/faults/watch-error", {"code": 500, "count": 2,
                                              "resource": "services"})
        rv = S.ctl("GET", "/state")["resourceVersion"]
        # not for another resource
        c, r = S.watch("/apis/discovery.k8s.io/v1/endpointslices" +
                       q(watch="true", resourceVersion=rv), timeout=2)
        self.assertEqual(r.status, 200)
        c.close()
        for _ in range(2):
            c, r = S.watch("/api/v1/services" + q(watch="true",
                                                  resourceVersion=rv))
            self.assertEqual(r.status, 200)
            evs = [json.loads(line) for line in r.read().splitlines()]
            c.close()
            self.assertEqual(len(evs), 1)
            self.assertEqual(evs[0]["type"], "ERROR")
            self.assertEqual(evs[0]["object"]["code"], 500)
        # the third is a normal watch again
        c, r = S.watch("/api/v1/services" + q(watch="true",
                                              resourceVersion=rv,
                                              timeoutSeconds=1))
        self.assertEqual([e["type"] for e in
                          (json.loads(x) for x in r.read().splitlines())
                          if e["type"] == "ERROR"], [])
        c.close()

    def test_expire_continue_fault(self):
        for i in range(3):
            S.ctl("POST", "/objects", svc("exp", "e%d" % i))
        base = "/api/v1/namespaces/exp/services"
        st, p1 = S.get_json(base + q(limit=1))
        S.ctl("POST", "/faults/expire-continue", {"count": 1})
        st, body = S.get_json(base + q(
            limit=1, **{"continue": p1["metadata"]["continue"]}))
        self.assertEqual(st, 410)
        self.assertIn("continue parameter is too old", body["message"])
        st, p2 = S.get_json(base + q(
            limit=1, **{"continue": p1["metadata"]["continue"]}))
        self.assertEqual(st, 200)

    def test_huge_list_fault(self):
        S.ctl("POST", "/faults/huge-list", {"resource": "endpoints",
                                            "bytes": 300000})
        st, body = S.get_json("/api/v1/endpoints")
        self.assertEqual(st, 200)
        self.assertGreater(len(json.dumps(body)), 250000)
        self.assertEqual(body["kind"], "EndpointsList")
        st, body = S.get_json("/api/v1/endpoints")
        self.assertLess(len(json.dumps(body)), 250000)

    def test_recent_requests(self):
        t0 = time.time()
        st, _, _ = S.request("/api/v1/services?limit=7&marker=recent",
                             headers={"User-Agent": "kube-uproxy/test"})
        self.assertEqual(st, 200)
        S.request("/api/v1/services?marker=recent401", token="wrong")
        recent = S.ctl("GET", "/counters")["recent"]
        mine = [r for r in recent if "marker=recent" in r["req"]]
        self.assertEqual(len(mine), 2)
        self.assertEqual(mine[0]["req"],
                         "GET /api/v1/services?limit=7&marker=recent")
        self.assertEqual(mine[0]["ua"], "kube-uproxy/test")
        self.assertEqual(mine[0]["status"], 200)
        self.assertEqual(mine[1]["status"], 401)
        self.assertLessEqual(abs(mine[0]["t"] - t0), 2.0)

    def test_restart_listener(self):
        st, before = S.get_json("/api/v1/services")
        S.ctl("POST", "/listener/stop")
        with self.assertRaises(ConnectionRefusedError):
            S.request("/api/v1/services", timeout=2)
        S.ctl("POST", "/listener/restart", {"down_seconds": 0.3})
        time.sleep(0.6)
        st, after = S.get_json("/api/v1/services")
        self.assertEqual(st, 200)
        self.assertEqual(after["metadata"]["resourceVersion"],
                         before["metadata"]["resourceVersion"])
        self.assertEqual(len(after["items"]), len(before["items"]))


class Discovery(unittest.TestCase):
    def test_discovery_on(self):
        st, body = S.get_json("/api")
        self.assertEqual(body["versions"], ["v1"])
        st, body = S.get_json("/apis")
        self.assertIn("discovery.k8s.io",
                      [g["name"] for g in body["groups"]])
        st, body = S.get_json("/apis/discovery.k8s.io/v1")
        self.assertEqual(body["groupVersion"], "discovery.k8s.io/v1")
        self.assertIn("endpointslices",
                      [r["name"] for r in body["resources"]])
        st, body = S.get_json("/api/v1")
        self.assertEqual(sorted(r["name"] for r in body["resources"]),
                         ["endpoints", "nodes", "services"])
        self.assertEqual([r["namespaced"] for r in body["resources"]
                          if r["name"] == "nodes"], [False])

    def test_unknown_version_plain_404(self):
        st, h, body = S.request("/apis/discovery.k8s.io/v1beta1/"
                                "endpointslices")
        self.assertEqual((st, body), (404, b"404 page not found\n"))
        self.assertTrue(h["content-type"].startswith("text/plain"))

    def test_toggle_off(self):
        S.ctl("POST", "/discovery", {"endpointslices": False})
        try:
            st, body = S.get_json("/apis")
            self.assertEqual(body["groups"], [])
            self.assertEqual(S.request("/apis/discovery.k8s.io/v1")[0], 404)
            self.assertEqual(S.request(
                "/apis/discovery.k8s.io/v1/endpointslices")[0], 404)
        finally:
            S.ctl("POST", "/discovery", {"endpointslices": True})
        self.assertEqual(S.request(
            "/apis/discovery.k8s.io/v1/endpointslices")[0], 200)

    def test_old_server_plain_http(self):
        st, h, body = OLD.request("/apis/discovery.k8s.io/v1/endpointslices",
                                  token=None)
        self.assertEqual((st, body), (404, b"404 page not found\n"))
        st, body = OLD.get_json("/api/v1/endpoints", token=None)
        self.assertEqual((st, body["kind"]), (200, "EndpointsList"))
        st, body = OLD.get_json("/apis", token=None)
        self.assertEqual(body["groups"], [])


class RawWire(unittest.TestCase):
    def test_chunked_framing(self):
        rv = OLD.ctl("POST", "/objects", svc("raw", "r1"))["resourceVersion"]
        OLD.ctl("POST", "/objects", svc("raw", "r2"))
        sock = socket.create_connection(("127.0.0.1", OLD.port), timeout=10)
        sock.sendall(b"GET /api/v1/services?watch=true&resourceVersion=%d"
                     b"&timeoutSeconds=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                     % (int(rv) - 1))
        data = b""
        while not data.endswith(b"\r\n0\r\n\r\n"):
            b = sock.recv(65536)
            if not b:
                break
            data += b
        sock.close()
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertIn(b"\r\nTransfer-Encoding: chunked", head)
        self.assertIn(b"\r\nContent-Type: application/json", head)
        payload = b""
        while True:
            size, _, body = body.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            payload += body[:n]
            self.assertEqual(body[n:n + 2], b"\r\n")
            body = body[n + 2:]
        self.assertEqual(body, b"\r\n")
        lines = payload.split(b"\n")
        self.assertEqual(lines[-1], b"")
        evs = [json.loads(x) for x in lines[:-1]]
        self.assertEqual([e["object"]["metadata"]["name"] for e in evs],
                         ["r1", "r2"])


if __name__ == "__main__":
    unittest.main(verbosity=2 if "-v" in sys.argv else 1,
                  argv=[a for a in sys.argv if a != "-v"])
