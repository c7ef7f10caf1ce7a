"""``hpo-compss serve``: the dashboard over HTTP, for one user on a shared login node.

The server only reads (``view``). It listens on loopback, on a port the system picks unless one is
asked for, or on a UNIX socket that only its owner may open; either way every request must carry
the random token printed in the URL (``?token=``), so another user of the node who finds the port
cannot read the study. It prints the ``ssh -L`` line that brings it to a laptop. Standard library
only: ``http.server`` with a thread per request.
"""
from __future__ import annotations

import getpass
import json
import os
import secrets
import socket
import socketserver
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import parse_qs, urlsplit

from ..errors import ConfigError
from .page import render_page
from .view import StudyView

#: the laptop's port in the printed ``ssh -L`` line
LAPTOP_PORT = 8787


class Dashboard:
    """The studies served and the token that opens them."""

    def __init__(self, directories: Sequence[str | Path], token: str | None = None):
        self.views = [StudyView(directory) for directory in directories]
        self.token = token or secrets.token_urlsafe(24)

    def warm(self) -> None:
        """Read every journal and make the first view ready (``serve`` does it in the background as it starts:
        a request meanwhile waits for it)."""
        for view in self.views:
            view.state()
        for view in self.views:
            view.parameter_importance()

    def answer(self, path: str, query: dict[str, str]) -> tuple[HTTPStatus, str, bytes]:
        """Status, content type and body for a GET of ``path`` (the token already checked)."""
        if path == "/":
            return HTTPStatus.OK, "text/html; charset=utf-8", render_page(live=True).encode()
        if path == "/api/studies":
            return _json([view.describe() for view in self.views])
        view = self._view(query)
        if view is None:
            return HTTPStatus.NOT_FOUND, "text/plain", b"no such study\n"
        if path == "/api/state":
            return HTTPStatus.OK, "application/json", view.state(_int(query.get("epoch")), _int(query.get("since")))
        if path == "/api/curves":
            return _json(view.learning_curves())
        if path == "/api/importance":
            return _json(view.parameter_importance())
        if path == "/api/trial":
            detail = view.trial_detail(_int(query.get("trial"), -1))
            return _json(detail) if detail is not None else (HTTPStatus.NOT_FOUND, "text/plain", b"no such trial\n")
        return HTTPStatus.NOT_FOUND, "text/plain", b"not found\n"

    def _view(self, query: dict[str, str]) -> StudyView | None:
        index = _int(query.get("study"), -1)
        return self.views[index] if 0 <= index < len(self.views) else None


def _int(text: str | None, default: int = 0) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _json(body: object) -> tuple[HTTPStatus, str, bytes]:
    return HTTPStatus.OK, "application/json", json.dumps(body, separators=(",", ":")).encode()


def _handler(dashboard: Dashboard) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "hpo-compss"
        sys_version = ""

        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            url = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            if not secrets.compare_digest(query.get("token", ""), dashboard.token):
                self._send(HTTPStatus.FORBIDDEN, "text/plain", b"a token is required: open the URL serve printed\n")
                return
            try:
                self._send(*dashboard.answer(url.path, query))
            except (OSError, ValueError) as error:  # a study folder that went away, a journal being replaced
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, "text/plain", f"{error}\n".encode())

        def _send(self, status: HTTPStatus, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Referrer-Policy", "no-referrer")  # the token is in the URL
            self.end_headers()
            self.wfile.write(body)

        def address_string(self) -> str:
            return self.client_address[0] if isinstance(self.client_address, tuple) else "unix-socket"

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the URL carries the token, and a login node's terminal is no place for a request log

    return Handler


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def server_bind(self) -> None:
        old = os.umask(0o177)  # the socket file is its owner's alone
        try:
            super().server_bind()
        finally:
            os.umask(old)


def make_server(dashboard: Dashboard, host: str = "127.0.0.1", port: int = 0,
                socket_path: Path | None = None) -> socketserver.BaseServer:
    """A server for ``dashboard``, bound (not yet serving)."""
    handler = _handler(dashboard)
    if socket_path is not None:
        socket_path = Path(socket_path).resolve()
        if socket_path.exists():
            socket_path.unlink()  # a socket left by a server that died
        return UnixHTTPServer(str(socket_path), handler)
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def how_to_reach(dashboard: Dashboard, server: socketserver.BaseServer) -> list[str]:
    """The lines ``serve`` prints: the URL, and the ``ssh -L`` line to open it from a laptop."""
    name = socket.getfqdn()
    login = f"{getpass.getuser()}@{name if not name.startswith('localhost') else socket.gethostname()}"
    if isinstance(server, UnixHTTPServer):
        target = server.server_address
        here = None
    else:
        host, port = server.server_address[:2]
        target = f"{host}:{port}"
        here = f"http://{host}:{port}/?token={dashboard.token}"
    laptop = f"http://127.0.0.1:{LAPTOP_PORT}/?token={dashboard.token}"
    lines = [f"serving {len(dashboard.views)} study folder(s), read-only"]
    if here:
        lines.append(f"here: {here}")
    else:
        lines.append(f"socket: {target} (only you can open it); here: curl --unix-socket {target} '{laptop}'")
    lines += [f"from your laptop: ssh -N -L {LAPTOP_PORT}:{target} {login}", f"then open: {laptop}"]
    return lines


def serve(directories: Sequence[str | Path], port: int = 0, socket_path: Path | None = None,
          say: Callable[[str], None] = print) -> None:
    """Serve until interrupted."""
    dashboard = Dashboard(directories)
    try:
        server = make_server(dashboard, port=port, socket_path=socket_path)
    except (OSError, OverflowError) as error:
        where = ("--socket", str(socket_path)) if socket_path is not None else ("--port", f"127.0.0.1:{port}")
        raise ConfigError((where[0],), f"cannot listen on {where[1]}: {error.strerror or error}") from None
    threading.Thread(target=dashboard.warm, daemon=True).start()
    for line in how_to_reach(dashboard, server):
        say(line)
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if socket_path is not None:
            Path(socket_path).unlink(missing_ok=True)
