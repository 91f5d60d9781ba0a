"""Shared machinery for the fake LLM HTTP servers used in tests.

A ``FakeLLMServer`` runs a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 in a
daemon thread, records every request, and answers completion requests either
from a FIFO queue of scripted outcomes or, when the queue is empty, from
``responder``. Protocol subclasses only describe their wire shapes.

Only the Python standard library is used here; no Django imports.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

Responder = Callable[[Any], str]


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the query string
    headers: dict[str, str]  # lower-case keys
    body: Any  # parsed JSON, or None if the body was empty / not JSON
    raw: bytes
    query: str = ""


@dataclass
class Reply:
    """Everything a protocol needs to render one successful answer."""

    request: RecordedRequest
    text: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:24])
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def body(self) -> dict[str, Any]:
        return self.request.body if isinstance(self.request.body, dict) else {}

    @property
    def model(self) -> str:
        return str(self.body.get("model") or "fake-model")


@dataclass
class _Outcome:
    kind: str  # "reply" | "error" | "malformed" | "cut" | "stall" | "hang" | "redirect"
    location: str = ""
    text: str | None = None
    status: int = 200
    message: str | None = None
    code: str | None = None
    error_type: str | None = None
    retry_after: float | None = None
    body: bytes = b""
    content_type: str = "application/json"
    after_chunks: int = 0
    seconds: float = 0.0
    stream_only: bool = False


def count_words(*texts: str) -> int:
    """Token count used by the fakes: whitespace-separated words, minimum 1."""
    return max(1, sum(len(t.split()) for t in texts))


def text_of(content: Any) -> str:
    """Plain text of a message ``content`` (a string or a list of content blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(text_of(block) for block in content)
    if isinstance(content, dict):
        return text_of(content.get("text") or content.get("content") or "")
    return ""


def sse(data: Any, event: str | None = None) -> bytes:
    """One Server-Sent Event; ``data`` is JSON-encoded unless it is already str/bytes."""
    if not isinstance(data, (str, bytes)):
        data = json.dumps(data, separators=(",", ":"))
    payload = data.encode() if isinstance(data, str) else data
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + payload + b"\n\n"


def ndjson(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response is length-delimited or chunked
    # Headers and body go out as separate small writes; with Nagle's algorithm on, the second waits for the client's
    # delayed ACK (some 40 ms on a kept-alive connection). Real servers send at once, and so does this one.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr request logs
        pass

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, add=False)

    def _dispatch(self) -> None:
        raw = self._read_body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        parts = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            raw=raw,
            query=parts.query,
        )
        fake = self.server.fake
        fake._record(request)
        try:
            fake.route(self, request)
        except (BrokenPipeError, ConnectionResetError):  # client went away (e.g. timed out)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(parts)
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    # -- response helpers -------------------------------------------------
    def send_bytes(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self.send_bytes(status, json.dumps(obj).encode(), "application/json", headers)

    def start_stream(self, content_type: str) -> None:
        """Start a chunked-transfer-encoded body so an abrupt close is detectable."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def abort(self) -> None:
        """Drop the connection without finishing the response."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeLLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], OSError):  # keep real bugs in the fakes visible
            super().handle_error(request, client_address)


class FakeLLMServer:
    """Base class; subclasses implement ``route`` and the protocol shape hooks."""

    protocol = "LLM"
    stream_content_type = "text/event-stream"

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls  # served over HTTPS with this context (servers/tls.py), else plain HTTP
        self._lock = threading.Lock()
        self._queue: deque[_Outcome] = deque()
        self._connections: set[socket.socket] = set()
        self.connections_opened = 0
        self._stopped = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[RecordedRequest] = []
        self.reset()

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> FakeLLMServer:
        if self._httpd is not None:
            return self
        self._stopped.clear()
        self._httpd = _HTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.fake = self
        if self.tls is not None:
            # The handshake happens in the connection's own thread, at its first read: one that fails is counted
            # (connections_opened) and ends that connection only.
            self._httpd.socket = self.tls.wrap_socket(self._httpd.socket, server_side=True,
                                                      do_handshake_on_connect=False)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.02,), name=f"fake-{self.protocol}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopped.set()  # wakes up hanging handlers
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:  # drop idle keep-alive connections
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    def reset(self) -> None:
        """Clear the queue and the recorded requests and restore the defaults."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
        self.responder: Responder = self.default_responder
        self.chunk_size: int | None = None
        self.chunk_delay: float = 0.0

    def default_responder(self, request_json: Any) -> str:
        return f"Hello from fake {self.protocol}."

    # -- scripting ----------------------------------------------------------
    def enqueue_reply(self, text: str) -> None:
        self._push(_Outcome("reply", text=text))

    def enqueue_error(
        self,
        status: int,
        message: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        error_type: str | None = None,
    ) -> None:
        """An HTTP error in the protocol's error shape. ``error_type`` overrides the
        type derived from ``status``; ``code="context_length_exceeded"`` selects the
        protocol's context-window message when no ``message`` is given."""
        self._push(
            _Outcome(
                "error", status=status, message=message, code=code,
                retry_after=retry_after, error_type=error_type,
            )
        )

    def enqueue_malformed(
        self, body: bytes = b"<html>oops", content_type: str = "application/json"
    ) -> None:
        """200 whose payload is not valid JSON. For streaming requests the payload is
        sent inside the protocol's stream framing (one SSE event / NDJSON line)."""
        self._push(_Outcome("malformed", body=body, content_type=content_type))

    def enqueue_stream_cut(self, after_chunks: int = 1, text: str | None = None, stream_only: bool = False) -> None:
        """Streaming: send the preamble and ``after_chunks`` content deltas, then drop
        the connection. Non-streaming: drop the connection without a response.
        ``text`` defaults to the responder's reply. With ``stream_only``, requests that do
        not stream (a pre-flight check) pass it by and are answered by the responder."""
        self._push(_Outcome("cut", text=text, after_chunks=after_chunks, stream_only=stream_only))

    def enqueue_stall(self, after_chunks: int = 1, seconds: float = 5.0, text: str | None = None) -> None:
        """Streaming: send ``after_chunks`` content deltas, then fall silent for ``seconds`` (or until
        ``stop()``) and drop the connection. Non-streaming: silence, then a dropped connection."""
        self._push(_Outcome("stall", text=text, after_chunks=after_chunks, seconds=seconds))

    def enqueue_redirect(self, location: str, status: int = 302) -> None:
        """Answer with a redirect to ``location`` (a 302 turns the client's POST into a GET; a 307 keeps it)."""
        self._push(_Outcome("redirect", status=status, location=location))

    def enqueue_hang(self, seconds: float = 5.0) -> None:
        """Sleep ``seconds`` (or until ``stop()``) and then answer from the responder."""
        self._push(_Outcome("hang", seconds=seconds))

    def _push(self, outcome: _Outcome) -> None:
        with self._lock:
            self._queue.append(outcome)

    def _pop(self, stream: bool = True) -> _Outcome | None:
        with self._lock:
            for outcome in self._queue:
                if stream or not outcome.stream_only:
                    self._queue.remove(outcome)
                    return outcome
            return None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(conn)
            self.connections_opened += add

    def chunks(self, text: str) -> list[str]:
        if self.chunk_size:
            return [text[i : i + self.chunk_size] for i in range(0, len(text), self.chunk_size)]
        parts = re.findall(r"\s*\S+", text)
        rest = text[len("".join(parts)) :]  # trailing whitespace
        return parts + [rest] if rest else parts

    # -- protocol hooks -----------------------------------------------------
    def route(self, handler: Handler, request: RecordedRequest) -> None:
        raise NotImplementedError

    def error_body(
        self, status: int, message: str | None, code: str | None, error_type: str | None
    ) -> Any:
        raise NotImplementedError

    def completion_body(self, reply: Reply) -> Any:
        raise NotImplementedError

    def stream_head(self, reply: Reply) -> Iterable[bytes]:
        return ()

    def stream_delta(self, reply: Reply, delta: str) -> bytes:
        raise NotImplementedError

    def stream_tail(self, reply: Reply) -> Iterable[bytes]:
        return ()

    def stream_frame(self, payload: bytes) -> bytes:
        """Wrap a raw (malformed) payload in the protocol's stream framing."""
        return sse(payload)

    # -- shared request handling --------------------------------------------
    def send_error(
        self,
        handler: Handler,
        status: int,
        message: str | None = None,
        code: str | None = None,
        error_type: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else None
        handler.send_json(status, self.error_body(status, message, code, error_type), headers)

    def serve_completion(self, handler: Handler, request: RecordedRequest, stream: bool) -> None:
        """Answer a completion request from the queue, else from the responder."""
        if not isinstance(request.body, dict):
            return self.send_error(handler, 400, "Request body must be a JSON object.")
        outcome = self._pop(stream) or _Outcome("reply")
        if outcome.kind == "hang":
            if self._stopped.wait(outcome.seconds):
                return handler.abort()
            outcome = _Outcome("reply")
        if outcome.kind == "redirect":
            return handler.send_bytes(outcome.status, b"", "text/plain", {"Location": outcome.location})
        if outcome.kind == "error":
            return self.send_error(
                handler, outcome.status, outcome.message, outcome.code,
                outcome.error_type, outcome.retry_after,
            )
        if outcome.kind == "malformed":
            if not stream:
                return handler.send_bytes(200, outcome.body, outcome.content_type)
            handler.start_stream(self.stream_content_type)
            handler.write_chunk(self.stream_frame(outcome.body))
            return handler.end_stream()
        if outcome.kind == "cut" and not stream:
            return handler.abort()
        if outcome.kind == "stall" and not stream:
            self._stopped.wait(outcome.seconds)
            return handler.abort()

        text = outcome.text
        if text is None:
            try:
                text = self.responder(request.body)
            except Exception as exc:  # surface responder bugs as a server error
                return self.send_error(handler, 500, f"responder failed: {exc!r}")
        reply = Reply(request, text)
        if not stream:
            return handler.send_json(200, self.completion_body(reply))

        handler.start_stream(self.stream_content_type)
        for frame in self.stream_head(reply):
            handler.write_chunk(frame)
        for i, delta in enumerate(self.chunks(text)):
            if outcome.kind in ("cut", "stall") and i >= outcome.after_chunks:
                break
            if i and self.chunk_delay:
                time.sleep(self.chunk_delay)
            handler.write_chunk(self.stream_delta(reply, delta))
        if outcome.kind == "stall":
            self._stopped.wait(outcome.seconds)
        if outcome.kind in ("cut", "stall"):
            return handler.abort()
        for frame in self.stream_tail(reply):
            handler.write_chunk(frame)
        handler.end_stream()
