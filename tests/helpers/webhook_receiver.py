"""A webhook receiver for the notification tests: verifies each request's
HMAC-SHA256 signature (`X-Aibomdb-Signature-256: sha256=<hex>`) with the
shared secret, and appends one JSON line per request to OUT:
{"path", "event", "valid", "status", "body"}.

Usage: webhook_receiver.py PORT SECRET_FILE OUT [FAIL_FIRST [FAIL_STATUS [DELAY]]]
The first FAIL_FIRST requests are answered FAIL_STATUS (503 by default: a
receiver that is up but not ready; 410 refuses for good). Each answer waits
DELAY seconds (0 by default: a slow receiver keeps deliveries in flight). Prints `listening on http://127.0.0.1:PORT` when ready.
"""

import hashlib
import hmac
import http.server
import json
import sys
import time

PORT = int(sys.argv[1])
SECRET = open(sys.argv[2]).readline().strip().encode()
OUT = sys.argv[3]
FAIL_FIRST = [int(sys.argv[4]) if len(sys.argv) > 4 else 0]
FAIL_STATUS = int(sys.argv[5]) if len(sys.argv) > 5 else 503
DELAY = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        given = self.headers.get("X-Aibomdb-Signature-256", "")
        valid = hmac.compare_digest(expected, given)
        if FAIL_FIRST[0] > 0:
            FAIL_FIRST[0] -= 1
            status = FAIL_STATUS
        else:
            status = 204 if valid else 401
        with open(OUT, "a") as out:
            out.write(
                json.dumps(
                    {
                        "path": self.path,
                        "event": self.headers.get("X-Aibomdb-Event"),
                        "valid": valid,
                        "status": status,
                        "body": json.loads(body),
                    }
                )
                + "\n"
            )
        time.sleep(DELAY)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print(f"listening on http://127.0.0.1:{PORT}", flush=True)
server.serve_forever()
