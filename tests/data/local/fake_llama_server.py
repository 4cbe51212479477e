#!/usr/bin/env python3
"""A stand-in for llama.cpp's ``llama-server`` used by tests/test_local.py.

Parses the flags briefing passes, records its pid and argv as JSON in ``$FAKE_LLAMA_RECORD``
(when set), and behaves according to ``$FAKE_LLAMA_MODE``:

* ``ok`` (default): ``/health`` answers 503 for ``$FAKE_LLAMA_LOADING`` seconds (default 0.3),
  then 200; ``/v1/models`` lists the alias;
* ``crash``: writes an error to stderr and exits 1 at once;
* ``hang``: ``/health`` answers 503 forever;
* ``stubborn``: like ``ok`` but ignores SIGTERM (only SIGKILL stops it).

Standard library only.
"""

import argparse
import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-m", "--model", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--alias", default="")
    parser.add_argument("-t", "--threads", type=int)
    parser.add_argument("-c", "--ctx-size", type=int)
    parser.add_argument("-np", "--parallel", type=int)
    args, _unknown = parser.parse_known_args()

    record = os.environ.get("FAKE_LLAMA_RECORD")
    if record:
        with open(record + ".tmp", "w", encoding="utf-8") as fh:
            json.dump({"pid": os.getpid(), "argv": sys.argv[1:]}, fh)
        os.replace(record + ".tmp", record)

    mode = os.environ.get("FAKE_LLAMA_MODE", "ok")
    print(f"fake llama-server starting, mode {mode}", flush=True)
    if mode == "crash":
        print(f"error: failed to load model '{args.model}': fake crash", file=sys.stderr)
        return 1
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ready_at = time.monotonic() + float(os.environ.get("FAKE_LLAMA_LOADING", "0.3"))
    alias = args.alias or os.path.basename(args.model)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/health":
                if mode == "hang" or time.monotonic() < ready_at:
                    self._json(503, {"error": {"code": 503, "message": "Loading model"}})
                else:
                    self._json(200, {"status": "ok"})
            elif self.path == "/v1/models":
                self._json(200, {"object": "list", "data": [{"id": alias, "object": "model"}]})
            else:
                self._json(404, {"error": {"code": 404, "message": "File Not Found"}})

        def _json(self, code: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"listening on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
