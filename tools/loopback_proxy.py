"""A loopback HTTP proxy: the front of the IAM emulator (tools/iam_emulator.py), and the tests' and benchmarks'
way to add latency, inject faults and count requests.

Clients point their endpoint at `proxy.url`; every request is forwarded to one target base URL (the moto
server) unless the fault hook answers it first (or drops its connection: DROP); a `middleware` (the emulator's
IAM rules) may answer, change or forward each request. The proxy listens on 127.0.0.1 only and refuses any target
that is not a loopback address, so nothing it does can leave the machine. Standard library only.

    with LoopbackProxy("http://127.0.0.1:5000", latency=0.040) as proxy:
        client = boto3.client("iam", endpoint_url=proxy.url, ...)
        proxy.fault = throttle_first(3)  # optional: answer some requests with a canned error
        ...
        print(proxy.requests, proxy.peak_in_flight, proxy.actions())
"""

from __future__ import annotations

import collections
import http.client
import http.server
import ipaddress
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LOOPBACK = "127.0.0.1"
# Headers that describe one hop, not the message (RFC 9110 section 7.6.1): never passed on.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
IAM_ERROR_XML = (
    '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
    "<Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
    "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
)


@dataclass(frozen=True)
class ProxyRequest:
    """What the fault hook sees of a request."""

    number: int  # 1-based, in order of arrival
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def action(self) -> str | None:
        """The AWS query-protocol action (e.g. ListSigningCertificates), or None."""
        form = urllib.parse.parse_qs(self.body.decode("utf-8", "replace")) if self.body else {}
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        values = form.get("Action") or query.get("Action")
        return values[0] if values else None

    def param(self, name: str) -> str | None:
        """A form parameter of the request body, e.g. param('UserName')."""
        values = urllib.parse.parse_qs(self.body.decode("utf-8", "replace")).get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class CannedResponse:
    """An answer the proxy gives instead of forwarding."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class RequestRecord:
    number: int
    action: str | None
    status: int
    injected: bool
    started: float  # time.monotonic()
    seconds: float


FaultHook = Callable[[ProxyRequest], CannedResponse | None]
Answer = tuple[int, list[tuple[str, str]], bytes]
# The target, as the middleware reaches it: forward(request) -> (status, headers, body).
Forward = Callable[[ProxyRequest], Answer]
Middleware = Callable[[ProxyRequest, Forward], Answer]
# What a fault hook returns to close the connection without an answer, as a network fault does.
DROP = CannedResponse(0)
# What a fault hook returns when the endpoint is lost: this connection is closed, and no new one is accepted.
LOST = CannedResponse(1)


def aws_error(code: str, message: str | None = None, status: int = 400) -> CannedResponse:
    """An IAM (query protocol) error response, as botocore parses it: Throttling, ServiceFailure, ..."""
    kind = "Receiver" if status >= 500 else "Sender"
    body = IAM_ERROR_XML.format(kind=kind, code=code, message=message or f"injected {code}").encode()
    return CannedResponse(status, {"Content-Type": "text/xml"}, body)


def _require_loopback(host: str | None) -> None:
    try:
        loopback = host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the proxy only talks to loopback IP addresses, not {host!r}")


class _Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.1 keeps client connections alive, as they are with a real endpoint (every reply has a length).
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and the client's
    # delayed ACK add about 40 ms to every reply.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self._upstream: http.client.HTTPConnection | None = None

    def finish(self) -> None:
        super().finish()
        if self._upstream is not None:
            self._upstream.close()

    def log_message(self, *_args: Any) -> None:
        """Quiet: the proxy keeps its own request log."""

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _forward(self, request: ProxyRequest) -> Answer:
        target = self.server.target
        headers = {**request.headers, "Host": target.netloc}
        for attempt in (1, 2):
            if self._upstream is None:
                self._upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            try:
                self._upstream.request(
                    request.method, target.path.rstrip("/") + request.path, body=request.body, headers=headers
                )
                response = self._upstream.getresponse()
                data = response.read()
                return response.status, response.getheaders(), data
            except (ConnectionError, http.client.HTTPException):
                # The target closed an idle keep-alive connection: open a new one, once.
                self._upstream.close()
                self._upstream = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _handle(self) -> None:
        proxy = self.server.proxy
        number, started = proxy._begin()
        status, injected, action = 502, False, None
        try:
            path = self.path
            if path.startswith(("http://", "https://")):  # absolute form: used as an HTTP proxy
                split = urllib.parse.urlsplit(path)
                _require_loopback(split.hostname)
                path = urllib.parse.urlunsplit(("", "", split.path or "/", split.query, ""))
            body = self._read_body()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            request = ProxyRequest(number, self.command, path, headers, body)
            action = request.action
            if proxy.latency > 0:
                time.sleep(proxy.latency)
            hook = proxy.fault
            canned = hook(request) if hook is not None else None
            if canned is LOST or proxy.lost:
                proxy.lose()
                canned = DROP
            if canned is DROP:
                injected, status = True, 0
                self.close_connection = True
                return
            if canned is not None:
                injected = True
                status, reply_headers, reply = canned.status, list(canned.headers.items()), canned.body
            else:
                key = (self.command, path, body)
                stored = proxy._replayed(key) if action in proxy.replay_actions else None
                if stored is not None:
                    status, reply_headers, reply = stored
                else:
                    middleware = proxy.middleware
                    answer = middleware(request, self._forward) if middleware else self._forward(request)
                    status, reply_headers, reply = answer
                    if action in proxy.replay_actions and status == 200:
                        proxy._record(key, answer)
            self.send_response(status)
            for name, value in reply_headers:
                # send_response already wrote Server and Date; the length is ours to set.
                if name.lower() not in _HOP_BY_HOP and name.lower() not in ("content-length", "server", "date"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply)
        except Exception as exc:  # any failure is the client's 502, never a dead handler thread
            status = 502
            self.close_connection = True  # the request may be half read: do not reuse the connection
            message = f"certops test proxy: {exc.__class__.__name__}: {exc}".encode()
            try:
                self.send_response(502)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(message)))
                self.end_headers()
                self.wfile.write(message)
            except OSError:
                self.close_connection = True
        finally:
            proxy._end(RequestRecord(number, action, status, injected, started, time.monotonic() - started))

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

    def do_CONNECT(self) -> None:
        self.send_error(405, "CONNECT (TLS tunnelling) is not supported by the loopback test proxy")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # Bursts of concurrent connections must not overflow the listen queue (the default is 5).
    request_queue_size = 128

    def __init__(self, proxy: LoopbackProxy, target: urllib.parse.SplitResult, port: int = 0) -> None:
        self.proxy = proxy
        self.target = target
        super().__init__((LOOPBACK, port), _Handler)


class LoopbackProxy:
    """A threaded HTTP proxy on 127.0.0.1 in front of one loopback target.

    latency: seconds added to every request before it is forwarded (or answered by the fault hook).
    fault: called with each ProxyRequest; a CannedResponse it returns is sent instead of forwarding (DROP: the
        connection is closed without an answer).
    middleware: called with each request not answered by `fault`, and the way to forward it; returns the answer.
    replay_actions: read-only actions (e.g. {"ListSigningCertificates"}) whose successful answers are recorded
        the first time and replayed for the same request body afterwards, without asking the target: a benchmark
        then measures the client and the added latency, not the emulator's CPU. clear_replay() forgets them.
    All three may be changed while the proxy runs. Counters: requests, in_flight, peak_in_flight, replays, log.
    """

    def __init__(
        self,
        target: str,
        latency: float = 0.0,
        fault: FaultHook | None = None,
        middleware: Middleware | None = None,
        port: int = 0,
    ) -> None:
        split = urllib.parse.urlsplit(target)
        if split.scheme != "http":
            raise ValueError(f"the proxy forwards plain http only, not {target!r}")
        _require_loopback(split.hostname)
        self.target = split
        self.latency = latency
        self.fault = fault
        self.middleware = middleware
        self._port = port  # 0: any free port
        self.replay_actions: frozenset[str] = frozenset()
        self._answers: dict[tuple[str, str, bytes], tuple[int, list[tuple[str, str]], bytes]] = {}
        self.replays = 0
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.requests = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.log: list[RequestRecord] = []
        self.lost = False

    # -- life cycle -------------------------------------------------------------------------------------------
    def start(self) -> LoopbackProxy:
        if self._server is not None:
            raise RuntimeError("the proxy is already running")
        self._server = _Server(self, self.target, self._port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="loopback-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def lose(self) -> None:
        """The endpoint is lost: from now on every request's connection is closed, and no new one is accepted."""
        with self._lock:
            if self.lost or self._server is None:
                self.lost = True
                return
            self.lost = True
            server = self._server

        # Called from a request's handler thread, never the one that accepts: wait until no connection is accepted.
        server.shutdown()
        server.server_close()

    def __enter__(self) -> LoopbackProxy:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the proxy is not running: call start() first")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    # -- counters ---------------------------------------------------------------------------------------------
    def reset_stats(self) -> None:
        with self._lock:
            self.requests = 0
            self.replays = 0
            self.peak_in_flight = self.in_flight
            self.log = []

    def actions(self) -> collections.Counter[str | None]:
        """How many requests of each AWS action the proxy has seen since the last reset."""
        with self._lock:
            return collections.Counter(record.action for record in self.log)

    def clear_replay(self) -> None:
        with self._lock:
            self._answers.clear()

    def _replayed(self, key: tuple[str, str, bytes]) -> tuple[int, list[tuple[str, str]], bytes] | None:
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self.replays += 1
            return answer

    def _record(self, key: tuple[str, str, bytes], answer: tuple[int, list[tuple[str, str]], bytes]) -> None:
        with self._lock:
            self._answers[key] = answer

    def _begin(self) -> tuple[int, float]:
        with self._lock:
            self.requests += 1
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            return self.requests, time.monotonic()

    def _end(self, record: RequestRecord) -> None:
        with self._lock:
            self.in_flight -= 1
            self.log.append(record)
