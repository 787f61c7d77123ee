"""A static HTTP server for a directory laid out like the OSV data export
(https://osv-vulnerabilities.storage.googleapis.com), as the feed sync
tests need it:

- strong ETags (SHA-256 of the content) and If-None-Match -> 304, as GCS does;
- every request's method, path and status appended to ROOT/../requests.log;
- while ROOT/../drop-zip exists, a request for an `all.zip` gets its full
  Content-Length and half of the body, then the connection is closed (a
  download cut off mid-archive).

Usage: osv_export_server.py ROOT. Prints `listening on http://127.0.0.1:PORT`.
"""

import hashlib
import http.server
import os
import sys
import urllib.parse

ROOT = os.path.abspath(sys.argv[1])
CONTROL = os.path.dirname(ROOT)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle's algorithm
    # and the client's delayed ACK stall every keep-alive response by 40 ms.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def record(self, status):
        with open(os.path.join(CONTROL, "requests.log"), "a") as log:
            log.write(f"{self.command} {self.path} {status}\n")

    def do_GET(self):
        rel = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        path = os.path.normpath(os.path.join(ROOT, rel))
        if not path.startswith(ROOT + os.sep) or not os.path.isfile(path):
            self.record(404)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(path, "rb") as f:
            body = f.read()
        etag = '"' + hashlib.sha256(body).hexdigest() + '"'
        if self.headers.get("If-None-Match") == etag:
            self.record(304)
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        drop = path.endswith("all.zip") and os.path.exists(os.path.join(CONTROL, "drop-zip"))
        self.record("200-dropped" if drop else 200)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.end_headers()
        if drop:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
