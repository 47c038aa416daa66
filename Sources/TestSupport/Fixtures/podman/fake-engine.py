#!/usr/bin/env python3
"""A hostile Docker Engine API on a unix socket, for tests of what real engines never send.

GET /v1.41/containers/json        -> the containers in --list (a JSON file)
GET /v1.41/containers/{id}/json   -> the matching entry of --inspect (a JSON file: {id: object}), else 404
GET /v1.41/events                 -> the lines of --events, verbatim (valid or not), then the stream stays open
Usage: fake-engine.py --socket PATH --list F --inspect F --events F
"""
import argparse
import json
import os
import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler


class UnixHTTPServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def get_request(self):
        request, _ = super().get_request()
        return request, ("local", 0)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

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

    def do_GET(self):
        path = self.path.split("?")[0]
        if path.endswith("/containers/json"):
            with open(ARGS.list) as f:
                return self.send_json(200, json.load(f))
        if path.startswith("/v1.41/containers/") and path.endswith("/json"):
            cid = path[len("/v1.41/containers/"):-len("/json")]
            with open(ARGS.inspect) as f:
                table = json.load(f)
            if cid in table:
                return self.send_json(200, table[cid])
            return self.send_json(404, {"message": "no such container"})
        if path.endswith("/events"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            with open(ARGS.events, "rb") as f:
                for line in f:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                    self.wfile.flush()
            while True:
                time.sleep(1)
        self.send_json(404, {"message": "not found"})


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--socket", required=True)
    p.add_argument("--list", required=True)
    p.add_argument("--inspect", required=True)
    p.add_argument("--events", required=True)
    ARGS = p.parse_args()
    if os.path.exists(ARGS.socket):
        os.unlink(ARGS.socket)
    server = UnixHTTPServer(ARGS.socket, Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
