#!/usr/bin/env python3
"""A small Kubernetes API server for tests: pods only, speaking the real list/watch protocol.

- GET /api/v1/pods?limit=N&continue=T   PodList, paged, metadata.resourceVersion = the current version.
- GET /api/v1/pods?watch=1&resourceVersion=RV&allowWatchBookmarks=true&timeoutSeconds=S
      chunked stream of {"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": ...}, one per line:
      first every change after RV, then live changes, a BOOKMARK every --bookmark-seconds, and the stream ends
      after S seconds. RV older than the compaction point gives an ERROR event with a 410 Status (as a real
      server does), or an HTTP 410 when --gone-as-http is set.
- Bearer token (--token) and/or client certificates (--client-ca) are checked; 401 otherwise.

Tests drive it through a control directory: each file `*.json` there holds one command, applied in name order,
then renamed to `*.done`:
  {"op": "add" | "modify", "pod": {...}}   {"op": "delete", "uid": "..."}   {"op": "expire"}
  {"op": "garbage", "line": "..."}  (a raw line sent to every open watch)  {"op": "close-watches"}

Started with --port 0 it binds 127.0.0.1 on a free port and writes it to --port-file.
"""
import argparse
import copy
import glob
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self):
        self.lock = threading.Condition()
        self.version = 1000
        self.pods = {}            # uid -> pod
        self.log = []             # (version, type, pod)
        self.compacted = 0        # versions <= this are gone (watching from them gives 410)
        self.generation = 0       # bumped by close-watches/expire to end open watches
        self.raw = []             # (seq, line) garbage lines
        self.raw_seq = 0

    def bump(self, pod):
        self.version += 1
        pod.setdefault("metadata", {})["resourceVersion"] = str(self.version)
        return self.version

    def apply(self, cmd):
        with self.lock:
            op = cmd.get("op")
            if op in ("add", "modify"):
                pod = copy.deepcopy(cmd["pod"])
                uid = pod["metadata"]["uid"]
                kind = "MODIFIED" if uid in self.pods else "ADDED"
                v = self.bump(pod)
                self.pods[uid] = pod
                self.log.append((v, kind, copy.deepcopy(pod)))
            elif op == "delete":
                pod = self.pods.pop(cmd["uid"], None)
                if pod is not None:
                    v = self.bump(pod)
                    self.log.append((v, "DELETED", copy.deepcopy(pod)))
            elif op == "expire":
                # Everything up to now is compacted away; the next version starts a new history.
                self.version += 1
                self.compacted = self.version - 1
                self.log = []
                self.generation += 1
            elif op == "garbage":
                self.raw_seq += 1
                self.raw.append((self.raw_seq, cmd["line"]))
            elif op == "close-watches":
                self.generation += 1
            self.lock.notify_all()


STATE = State()
REQUESTS = []


def control_loop(directory):
    while True:
        for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
            try:
                with open(path) as f:
                    cmd = json.load(f)
                STATE.apply(cmd)
            except Exception as e:  # report, never die: the test reads the .done file
                cmd = {"error": str(e)}
            os.rename(path, path[:-5] + ".done")
        time.sleep(0.01)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    token = None

    def log_message(self, fmt, *args):
        sys.stdout.write("%s\n" % (fmt % args))
        sys.stdout.flush()

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def status(self, code, reason, message):
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code}

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        REQUESTS.append(self.path)
        if Handler.token is not None:
            auth = self.headers.get("Authorization", "")
            if auth != "Bearer " + Handler.token and not getattr(self.connection, "getpeercert", lambda: None)():
                return self.send_json(401, self.status(401, "Unauthorized", "Unauthorized"))
        if url.path != "/api/v1/pods":
            return self.send_json(404, self.status(404, "NotFound", "the server could not find the requested resource"))
        if q.get("watch") in ("1", "true"):
            return self.watch(q)
        return self.list(q)

    def list(self, q):
        with STATE.lock:
            items = [copy.deepcopy(p) for _, p in sorted(STATE.pods.items(), key=lambda kv: kv[1]["metadata"]["name"])]
            version = STATE.version
        limit = int(q.get("limit", "0") or 0)
        start = 0
        if q.get("continue"):
            try:
                token = json.loads(urllib.parse.unquote(q["continue"]))
                start, version = token["start"], token["rv"]
            except Exception:
                return self.send_json(400, self.status(400, "BadRequest", "bad continue token"))
        page = items[start:start + limit] if limit else items[start:]
        meta = {"resourceVersion": str(version)}
        if limit and start + limit < len(items):
            meta["continue"] = json.dumps({"start": start + limit, "rv": version})
        self.send_json(200, {"kind": "PodList", "apiVersion": "v1", "metadata": meta, "items": page})

    def chunk(self, obj_or_line):
        line = obj_or_line if isinstance(obj_or_line, str) else json.dumps(obj_or_line)
        data = (line + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, q):
        try:
            since = int(q.get("resourceVersion", "0") or 0)
        except ValueError:
            return self.send_json(400, self.status(400, "BadRequest", "bad resourceVersion"))
        timeout = float(q.get("timeoutSeconds", "300"))
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        with STATE.lock:
            too_old = since != 0 and since <= STATE.compacted
            generation = STATE.generation
            raw_seen = STATE.raw_seq
        if too_old and ARGS.gone_as_http:
            return self.send_json(410, self.status(410, "Gone", "too old resource version: %d (%d)" % (since, STATE.compacted)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            if too_old:
                self.chunk({"type": "ERROR", "object": self.status(410, "Expired",
                           "too old resource version: %d (%d)" % (since, STATE.compacted))})
                return self.end_chunks()
            sent = since
            end = time.time() + timeout
            next_bookmark = time.time() + ARGS.bookmark_seconds
            while True:
                with STATE.lock:
                    if STATE.generation != generation:
                        if sent <= STATE.compacted and not ARGS.gone_as_http:
                            self.chunk({"type": "ERROR", "object": self.status(410, "Expired", "too old resource version")})
                        break
                    pending = [(v, t, p) for (v, t, p) in STATE.log if v > sent]
                    raws = [(s, l) for (s, l) in STATE.raw if s > raw_seen]
                    if not pending and not raws:
                        wait = min(end, next_bookmark) - time.time()
                        if wait > 0:
                            STATE.lock.wait(wait)
                        pending = [(v, t, p) for (v, t, p) in STATE.log if v > sent]
                        raws = [(s, l) for (s, l) in STATE.raw if s > raw_seen]
                    current = STATE.version
                for s, l in raws:
                    self.chunk(l)
                    raw_seen = s
                for v, t, p in pending:
                    self.chunk({"type": t, "object": p})
                    sent = v
                now = time.time()
                if now >= end:
                    break
                if bookmarks and now >= next_bookmark:
                    sent = max(sent, current)
                    self.chunk({"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1",
                                "metadata": {"resourceVersion": str(sent),
                                             "annotations": {"k8s.io/initial-events-end": "true"}}}})
                    next_bookmark = now + ARGS.bookmark_seconds
            self.end_chunks()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    def end_chunks(self):
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--pods", nargs="*", default=[])
    p.add_argument("--control", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--client-ca")
    p.add_argument("--token")
    p.add_argument("--bookmark-seconds", type=float, default=1.0)
    p.add_argument("--gone-as-http", action="store_true")
    ARGS = p.parse_args()
    Handler.token = ARGS.token
    for path in ARGS.pods:
        with open(path) as f:
            pod = json.load(f)
        STATE.apply({"op": "add", "pod": pod})
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    server.daemon_threads = True
    if ARGS.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.cert, ARGS.key)
        if ARGS.client_ca:
            ctx.load_verify_locations(ARGS.client_ca)
            ctx.verify_mode = ssl.CERT_OPTIONAL
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=control_loop, args=(ARGS.control,), daemon=True).start()
    with open(ARGS.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(ARGS.port_file + ".tmp", ARGS.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
