"""Serves the bench site and takes the bench page's results.

python3 serve.py SITE_DIR PORT RESULTS_DIR

GET: static files under SITE_DIR (127.0.0.1 only). POST /result: the page's
JSON; the latest one of each configuration is kept as RESULTS_DIR/<cfg>.json
(the page posts a growing object after each phase). Standard library only,
no caching headers, so that each configuration loads everything afresh.
"""

import http.server
import json
import os
import re
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
        ".json": "application/json",
        ".webmanifest": "application/manifest+json",
    }

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_POST(self):
        if self.path.split("?")[0] != "/result":
            self.send_error(404)
            return
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            data = json.loads(body)
            cfg = re.sub(r"[^A-Za-z0-9_.-]", "_", str(data.get("cfg", "unnamed")))[:80]
        except ValueError as e:
            self.send_error(400, str(e))
            return
        tmp = os.path.join(RESULTS, f".{cfg}.json")
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, os.path.join(RESULTS, f"{cfg}.json"))
        print(f"serve.py: {cfg}: phase {data.get('phase')}", file=sys.stderr, flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, fmt, *args):
        # Only failures: a 200 for every file would drown the log.
        if len(args) > 1 and str(args[1])[:1] not in ("2", "3"):
            super().log_message(fmt, *args)


if __name__ == "__main__":
    site, port, RESULTS = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.makedirs(RESULTS, exist_ok=True)
    os.chdir(site)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"serve.py: serving {site} on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    server.serve_forever()
