"""Stand-in executables for llama-server, to test how we report a server that cannot run, without building one.

Each is named `llama-server` (status() recognises the server by that name) inside a folder of its own.
"""
import stat
import sys
from pathlib import Path

KILLS_ITSELF_WITH_SIGILL = """#!/bin/sh
echo "load_backend: loaded CPU backend from ./libggml-cpu.so"
kill -ILL $$
"""

EXITS_WITH_STATUS_1 = """#!/bin/sh
echo "error: unknown argument: --no-cache-prompt"
exit 1
"""

# Answers /health and a 1-token completion the way llama-server does.
WORKS = f"""#!{sys.executable}
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

port = int(sys.argv[sys.argv.index("--port") + 1])

class Handler(BaseHTTPRequestHandler):
    def _json(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._json({{"status": "ok"}})

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._json({{"choices": [{{"text": " Paris", "index": 0}}], "usage": {{"completion_tokens": 1}}}})

    def log_message(self, *args):
        pass

print("main: server is listening on 127.0.0.1:%d" % port, flush=True)
HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


def write_standin(folder: Path, script: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "llama-server"
    path.write_text(script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path
