"""A stand-in Hugging Face Hub on 127.0.0.1 that answers like the real one does for gated and
missing repositories (status codes and the `X-Error-Code` header huggingface_hub reads).

It lets the real download path (transformers -> huggingface_hub -> HTTP) meet real gated and
not-found answers on a machine that cannot reach the hub.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _HubHandler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        if "gated" in self.path:
            status, code = 403, "GatedRepo"
            message = "Access to model acme/gated-model is restricted. You must be authenticated."
        else:
            status, code, message = 404, "RepoNotFound", "Repository not found"
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json")
        body = b'{"error": "' + message.encode() + b'"}'
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = _answer  # noqa: N815 (http.server's naming)
    do_HEAD = _answer  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def fake_hub() -> Iterator[str]:
    """Serve the fake hub on a free loopback port; yields its URL; stops it afterwards."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HubHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
