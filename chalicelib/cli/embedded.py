"""An embedded DynamoDB-compatible server: moto's server in a thread, no Docker, no AWS."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class EmbeddedAws:
    """moto's server on 127.0.0.1. Requests are handled one at a time: moto's backends have no
    locks, and DynamoDB's conditional writes and transactions must stay atomic under load."""

    def __init__(self, port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self._lock = threading.Lock()
        moto_app = DomainDispatcherApplication(create_backend_app)
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", port, self._serialised(moto_app), threaded=True, request_handler=_Quiet
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The endpoint to give boto3 and PynamoDB."""
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> EmbeddedAws:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()

    def _serialised(self, app: WSGIApp) -> WSGIApp:
        def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            with self._lock:
                # Read the whole reply inside the lock so no other request interleaves with it.
                return list(app(environ, start_response))

        return serve


class _Quiet(WSGIRequestHandler):
    """No access log: every DynamoDB call would otherwise print a line."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None
