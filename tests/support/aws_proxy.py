"""A loopback reverse proxy in front of the moto harness that injects faults and latency.

Clients point ``AWS_ENDPOINT_URL`` at the proxy; every request is forwarded to
the upstream (the harness URL) unchanged.  For AWS calls (not ``/_harness/*``,
``/moto-api/*`` or the proxy's own ``/_proxy/*``) the proxy can

* add a fixed latency (``latency_ms``) before each call, and
* answer a share of them (``fault_rate``) with a fault of one of these kinds,
  picked from a seeded random generator (``seed``) among ``kinds``:

  ``throttle``     HTTP 503, EC2 ``RequestLimitExceeded`` XML error; not forwarded
  ``unavailable``  plain HTTP 503 with an empty body (as a load balancer answers); not forwarded
  ``drop_before``  connection closed without an answer; not forwarded (request lost)
  ``drop_after``   forwarded and executed upstream, then the connection is closed
                   without an answer (answer lost): the nasty case for
                   non-idempotent calls such as CreateSecurityGroup

The decisions come from one ``random.Random(seed)`` in arrival order, so a run
with the same seed and the same call sequence gets the same faults (with
concurrent clients, the arrival order itself may vary).  Two optional limits
make single faults deterministic: ``actions`` (only calls of these actions can
be faulted) and ``max_faults`` (no fault after that many), e.g. "lose the
answer of the first CreateSecurityGroup"::

    start_proxy(url, fault_rate=1.0, kinds=("drop_after",), actions={"CreateSecurityGroup"}, max_faults=1)

From Python::

    proxy = start_proxy(harness.url, fault_rate=0.3, latency_ms=0, seed=1)
    ... AWS_ENDPOINT_URL=proxy.url ...
    proxy.stats()   # {"requests": .., "forwarded": .., "faults": {kind: n}, "by_action": {..}}
    proxy.stop()

From the command line (repository root)::

    .venv/bin/python -m tests.support.aws_proxy --upstream http://127.0.0.1:5000 --port 0 \\
        --fault-rate 0.3 --latency-ms 50 [--seed 0] [--kinds throttle,drop_after] \\
        [--actions CreateSecurityGroup,...] [--max-faults N] [--port-file F]

It prints ``aws proxy listening on http://127.0.0.1:PORT -> UPSTREAM`` once
ready and serves until SIGTERM/SIGINT; ``GET /_proxy/stats`` returns the
statistics as JSON, ``POST /_proxy/stats/reset`` clears them.  Only loopback
addresses are accepted, for the proxy and for the upstream.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import random
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.serving import serve_until_signalled

THROTTLE, UNAVAILABLE, DROP_BEFORE, DROP_AFTER = "throttle", "unavailable", "drop_before", "drop_after"
ALL_KINDS = (THROTTLE, UNAVAILABLE, DROP_BEFORE, DROP_AFTER)
NO_FAULT_PREFIXES = ("/_harness/", "/moto-api")
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
_UPSTREAM_TIMEOUT = 120.0


def throttle_body(request_id: str | None = None) -> bytes:
    """The EC2 XML error botocore parses as ``RequestLimitExceeded``."""
    return (
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
        "<Message>Request limit exceeded.</Message></Error></Errors>"
        f"<RequestID>{request_id or uuid.uuid4()}</RequestID></Response>"
    ).encode()


def _check_loopback(host: str, what: str) -> None:
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host.strip("[]")).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f"the aws proxy only uses loopback addresses; {what} {host!r} is not one")


def _action(path: str, query: str, body: bytes, headers: Any) -> str:
    """The AWS action of a request, for statistics (query protocol, JSON target, else method+path)."""
    params = parse_qs(query)
    if "Action" not in params and body and "x-www-form-urlencoded" in (headers.get("Content-Type") or ""):
        params = parse_qs(body.decode("utf-8", "replace"))
    if "Action" in params:
        return params["Action"][0]
    target = headers.get("X-Amz-Target")
    return target.rsplit(".", 1)[-1] if target else path


class FaultPlan:
    """Thread-safe, seeded fault decisions and statistics."""

    def __init__(self, fault_rate: float, latency_ms: float, seed: int, kinds: Iterable[str],
                 actions: Iterable[str] | None = None, max_faults: int | None = None) -> None:
        self._lock = threading.Lock()
        self.actions: frozenset[str] | None = None
        self.max_faults: int | None = None
        self.configure(fault_rate=fault_rate, latency_ms=latency_ms, seed=seed, kinds=kinds,
                       actions=actions, max_faults=max_faults)
        self.reset_stats()

    _UNSET: Any = object()

    def configure(self, fault_rate: float | None = None, latency_ms: float | None = None,
                  seed: int | None = None, kinds: Iterable[str] | None = None,
                  actions: Any = _UNSET, max_faults: Any = _UNSET) -> None:
        """Change settings; ``actions``/``max_faults`` accept None (= no limit)."""
        with self._lock:
            if actions is not self._UNSET:
                self.actions = frozenset(actions) if actions is not None else None
            if max_faults is not self._UNSET:
                self.max_faults = None if max_faults is None else int(max_faults)
            if fault_rate is not None:
                if not 0.0 <= fault_rate <= 1.0:
                    raise ValueError(f"fault_rate must be within [0, 1], not {fault_rate}")
                self.fault_rate = float(fault_rate)
            if latency_ms is not None:
                if latency_ms < 0:
                    raise ValueError(f"latency_ms must be >= 0, not {latency_ms}")
                self.latency_ms = float(latency_ms)
            if seed is not None:
                self._random = random.Random(seed)
            if kinds is not None:
                kinds = tuple(kinds)
                unknown = sorted(set(kinds) - set(ALL_KINDS))
                if unknown or not kinds:
                    raise ValueError(f"kinds must be a non-empty subset of {ALL_KINDS}, not {kinds}")
                self.kinds = kinds

    def decide(self, action: str) -> str | None:
        """The fault for the next AWS call (None: forward it normally); counts it."""
        with self._lock:
            kind = None
            eligible = (self.actions is None or action in self.actions) and (
                self.max_faults is None or sum(self._faults.values()) < self.max_faults)
            if eligible and self.fault_rate > 0 and self._random.random() < self.fault_rate:
                kind = self._random.choice(self.kinds)
            self._requests += 1
            self._by_action[action] += 1
            if kind:
                self._faults[kind] += 1
                self._faults_by_action[f"{action}:{kind}"] += 1
            if kind in (None, DROP_AFTER):
                self._forwarded += 1
            return kind

    def count_passthrough(self) -> None:
        with self._lock:
            self._passthrough += 1

    def count_upstream_error(self) -> None:
        with self._lock:
            self._upstream_errors += 1

    def reset_stats(self) -> None:
        with self._lock:
            self._requests = self._forwarded = self._passthrough = self._upstream_errors = 0
            self._faults: Counter[str] = Counter()
            self._by_action: Counter[str] = Counter()
            self._faults_by_action: Counter[str] = Counter()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self._requests,  # AWS calls received (faulted or not)
                "forwarded": self._forwarded,  # AWS calls that reached the upstream (incl. drop_after)
                "faults": {kind: self._faults.get(kind, 0) for kind in ALL_KINDS},
                "faults_total": sum(self._faults.values()),
                "by_action": dict(self._by_action),
                "faults_by_action": dict(self._faults_by_action),
                "passthrough": self._passthrough,  # harness / moto-api calls, never faulted
                "upstream_errors": self._upstream_errors,
                "fault_rate": self.fault_rate,
                "latency_ms": self.latency_ms,
                "kinds": list(self.kinds),
                "actions": sorted(self.actions) if self.actions is not None else None,
                "max_faults": self.max_faults,
            }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # no per-request log lines

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._handle()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET  # noqa: N815

    # ------------------------------------------------------------------
    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        body = self._body()
        split = urlsplit(self.path)
        plan = self.server.plan
        if split.path.startswith("/_proxy/"):
            self._proxy_endpoint(split.path.rstrip("/"))
            return
        if split.path.startswith(NO_FAULT_PREFIXES):
            plan.count_passthrough()
            self._forward_and_answer(body)
            return
        kind = plan.decide(_action(split.path, split.query, body, self.headers))
        if plan.latency_ms:
            time.sleep(plan.latency_ms / 1000.0)
        if kind == THROTTLE:
            self._answer(503, throttle_body(), "text/xml;charset=UTF-8")
        elif kind == UNAVAILABLE:
            self._answer(503, b"", "text/plain")  # empty body: botocore's generic 5xx error (code "503")
        elif kind == DROP_BEFORE:
            self._drop()
        elif kind == DROP_AFTER:
            try:
                self._forward(body)  # executed upstream...
            except OSError:
                plan.count_upstream_error()
            self._drop()  # ...and the answer is lost
        else:
            self._forward_and_answer(body)

    def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        host, port = self.server.upstream
        conn = http.client.HTTPConnection(host, port, timeout=_UPSTREAM_TIMEOUT)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            headers["Connection"] = "close"
            conn.request(self.command, self.path, body=body if body or self.command not in ("GET", "HEAD") else None,
                         headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.reason, resp.getheaders(), data
        finally:
            conn.close()

    def _forward_and_answer(self, body: bytes) -> None:
        try:
            status, reason, headers, data = self._forward(body)
        except OSError as exc:
            self.server.plan.count_upstream_error()
            self._answer(502, f"aws proxy: upstream failed: {exc!r}".encode(), "text/plain")
            return
        self.send_response(status, reason)
        for key, value in headers:
            if key.lower() not in _HOP_BY_HOP and key.lower() not in ("content-length", "date", "server"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _answer(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        """Close the client's connection without a single byte of answer."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _proxy_endpoint(self, path: str) -> None:
        plan = self.server.plan
        if (self.command, path) == ("GET", "/_proxy/stats"):
            self._answer(200, json.dumps(plan.stats()).encode(), "application/json")
        elif (self.command, path) == ("POST", "/_proxy/stats/reset"):
            plan.reset_stats()
            self._answer(200, b'{"reset": true}', "application/json")
        else:
            self._answer(404, json.dumps({"error": f"{self.command} {path} is not a proxy endpoint"}).encode(),
                         "application/json")


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], upstream: tuple[str, int], plan: FaultPlan) -> None:
        super().__init__(address, _Handler)
        self.upstream = upstream
        self.plan = plan


class Proxy:
    """Handle on a running proxy: ``.url``, ``.stats()``, ``.configure(...)``, ``.stop()``."""

    def __init__(self, server: _ProxyServer, thread: threading.Thread, upstream_url: str) -> None:
        self._server = server
        self._thread = thread
        self.upstream_url = upstream_url
        self.port = server.server_address[1]
        self.url = f"http://{server.server_address[0]}:{self.port}"

    def stats(self) -> dict[str, Any]:
        return self._server.plan.stats()

    def reset_stats(self) -> None:
        self._server.plan.reset_stats()

    def configure(self, **changes: Any) -> None:
        """Change ``fault_rate``, ``latency_ms``, ``seed`` (restarts the sequence), ``kinds``,
        ``actions`` or ``max_faults`` live (``max_faults`` counts the faults since the last stats reset)."""
        self._server.plan.configure(**changes)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = None  # type: ignore[assignment]

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_proxy(upstream_url: str, fault_rate: float = 0.0, latency_ms: float = 0, seed: int = 0,
                kinds: Iterable[str] = ALL_KINDS, port: int = 0, host: str = "127.0.0.1",
                actions: Iterable[str] | None = None, max_faults: int | None = None) -> Proxy:
    """Serve the proxy on loopback in daemon threads; ``port=0`` picks a free port.

    ``actions``: only these AWS actions can be faulted (default: all); ``max_faults``:
    stop injecting after that many faults (default: no limit)."""
    split = urlsplit(upstream_url)
    if split.scheme != "http" or not split.hostname or not split.port:
        raise ValueError(f"upstream must be http://HOST:PORT, not {upstream_url!r}")
    _check_loopback(split.hostname, "upstream")
    _check_loopback(host, "listen address")
    if ":" in host:
        raise ValueError("the aws proxy listens on IPv4 loopback (127.0.0.1 or localhost)")
    plan = FaultPlan(fault_rate, latency_ms, seed, kinds, actions, max_faults)
    server = _ProxyServer((host, port), (split.hostname, split.port), plan)
    thread = threading.Thread(target=server.serve_forever, name=f"aws-proxy-{server.server_address[1]}", daemon=True)
    thread.start()
    return Proxy(server, thread, upstream_url.rstrip("/"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.aws_proxy",
                                     description="loopback AWS reverse proxy with fault injection and latency")
    parser.add_argument("--upstream", required=True, help="URL of the moto harness, e.g. http://127.0.0.1:5000")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of AWS calls answered with a fault")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added latency per AWS call")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault decisions")
    parser.add_argument("--kinds", default=",".join(ALL_KINDS), help=f"comma-separated subset of {','.join(ALL_KINDS)}")
    parser.add_argument("--actions", help="comma-separated AWS actions that may be faulted (default: all)")
    parser.add_argument("--max-faults", type=int, help="stop injecting faults after this many")
    parser.add_argument("--port-file", type=Path, help="write the chosen port to this file")
    args = parser.parse_args(argv)
    try:
        proxy = start_proxy(args.upstream, args.fault_rate, args.latency_ms, args.seed,
                            [k.strip() for k in args.kinds.split(",") if k.strip()], args.port, args.host,
                            [a.strip() for a in args.actions.split(",") if a.strip()] if args.actions else None,
                            args.max_faults)
    except ValueError as err:
        parser.error(str(err))
    return serve_until_signalled(proxy, f"aws proxy listening on {proxy.url} -> {proxy.upstream_url}", args.port_file)


if __name__ == "__main__":
    sys.exit(main())
