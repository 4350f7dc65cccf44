"""Local HTTP servers that play Twilio's Messages API and Slack's Web API and incoming webhook.

Each listens on 127.0.0.1 on a free port, records every request (path, headers, body), and can be
told to fail the next few requests the way the real provider does. Use them as context managers:

    with FakeTwilio() as twilio:
        sms = TwilioSms("AC…", "token", sms_from="+1…", api_base=twilio.url)
        twilio.fail_next(1, status=500)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "0" * 32


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    headers: Mapping[str, str]  # names lower-cased
    body: bytes

    def form(self) -> dict[str, str]:
        """The form-encoded body, one value per name."""
        parsed = parse_qs(self.body.decode(), keep_blank_values=True)
        return {name: values[-1] for name, values in parsed.items()}

    def json(self) -> Any:
        """The JSON body."""
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, headers and a body (a dict is sent as JSON)."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


class FakeServer:
    """A threaded HTTP server on 127.0.0.1; subclasses decide the answer to each request."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._failures: list[Reply] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Recorded(
                    method="POST",
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length),
                )
                reply = fake._handle(request)
                body = reply.body
                raw = json.dumps(body).encode() if isinstance(body, dict) else str(body).encode()
                self.send_response(reply.status)
                kind = "application/json" if isinstance(body, dict) else "text/plain"
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval keeps stop() quick: shutdown waits for the loop's next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """The server's base URL, e.g. http://127.0.0.1:50123."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeServer:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget recorded requests and scripted failures (between tests sharing a server)."""
        with self._lock:
            self.requests.clear()
            self._failures.clear()

    def fail_next(self, count: int, reply: Reply) -> None:
        """Answer the next `count` requests with `reply`, whatever they ask."""
        with self._lock:
            self._failures.extend([reply] * count)

    def _handle(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._failures:
                return self._failures.pop(0)
            return self.answer(request)

    def answer(self, request: Recorded) -> Reply:
        """The answer when no failure is scripted."""
        return Reply(404, {"message": "not found"})


class FakeTwilio(FakeServer):
    """Twilio's Messages API: POST /2010-04-01/Accounts/{sid}/Messages.json answers 201; and
    its Calls API: POST …/Calls.json answers 201 with a queued call (sid CA…)."""

    def __init__(self) -> None:
        super().__init__()
        self._count = 0

    def fail(
        self, count: int = 1, *, status: int, code: int | None = None, message: str = ""
    ) -> None:
        """Fail the next `count` requests with Twilio's error JSON (`code` defaults to none)."""
        body: dict[str, Any] = {"status": status, "message": message or f"error {status}"}
        if code is not None:
            body["code"] = code
            body["more_info"] = f"https://www.twilio.com/docs/errors/{code}"
        self.fail_next(count, Reply(status, body))

    @property
    def messages(self) -> list[dict[str, str]]:
        """The form bodies of every request to the Messages endpoint, failed or not."""
        return [r.form() for r in self.requests if r.path.endswith("/Messages.json")]

    @property
    def calls(self) -> list[Recorded]:
        """Every request to the Calls endpoint, failed or not (StatusCallbackEvent repeats, so
        read it with parse_qs, not form())."""
        return [r for r in self.requests if r.path.endswith("/Calls.json")]

    def answer(self, request: Recorded) -> Reply:
        parts = request.path.split("/")
        # ['', '2010-04-01', 'Accounts', '{sid}', 'Messages.json' or 'Calls.json']
        if (
            len(parts) == 5
            and parts[1:3] == ["2010-04-01", "Accounts"]
            and parts[4] == "Calls.json"
        ):
            return self._call(parts[3], request.form())
        if (
            len(parts) != 5
            or parts[1:3] != ["2010-04-01", "Accounts"]
            or parts[4] != ("Messages.json")
        ):
            return Reply(404, {"status": 404, "code": 20404, "message": "not found"})
        form = request.form()
        with_from = form.get("From")
        if not with_from and not form.get("MessagingServiceSid"):
            return Reply(400, {"status": 400, "code": 21603, "message": "A 'From' is required"})
        self._count += 1
        sid = f"SM{self._count:032x}"
        return Reply(
            201,
            {
                "sid": sid,
                "account_sid": parts[3],
                "to": form.get("To"),
                "from": with_from,
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "body": form.get("Body"),
                "status": "queued" if with_from else "accepted",
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "uri": f"/2010-04-01/Accounts/{parts[3]}/Messages/{sid}.json",
            },
        )

    def _call(self, account_sid: str, form: Mapping[str, str]) -> Reply:
        if not form.get("To") or not form.get("From"):
            return Reply(400, {"status": 400, "code": 21201, "message": "'To' and 'From' needed"})
        if not form.get("Url") and not form.get("Twiml"):
            return Reply(400, {"status": 400, "code": 21205, "message": "'Url' is required"})
        self._count += 1
        sid = f"CA{self._count:032x}"
        return Reply(
            201,
            {
                "sid": sid,
                "account_sid": account_sid,
                "to": form["To"],
                "from": form["From"],
                "status": "queued",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "uri": f"/2010-04-01/Accounts/{account_sid}/Calls/{sid}.json",
            },
        )


class FakeSlack(FakeServer):
    """Slack's Web API under /api/ (chat.postMessage, chat.update), an incoming webhook, and
    interaction response_urls under /actions/ (answering {"ok": true})."""

    WEBHOOK_PATH = "/services/T000/B000/XXXXXXXX"
    RESPONSE_PATH = "/actions/T000/1700000000/abcdef"

    def __init__(self) -> None:
        super().__init__()
        self._count = 0

    @property
    def api_url(self) -> str:
        """The Web API base URL to give slack_sdk's WebClient."""
        return f"{self.url}/api/"

    @property
    def webhook_url(self) -> str:
        """The incoming webhook's URL."""
        return self.url + self.WEBHOOK_PATH

    def fail(
        self,
        count: int = 1,
        *,
        error: str,
        status: int = 200,
        retry_after: int | None = None,
    ) -> None:
        """Fail the next `count` Web API calls: {"ok": false, "error": error}, like Slack."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.fail_next(count, Reply(status, {"ok": False, "error": error}, headers))

    def fail_webhook(
        self, count: int = 1, *, status: int, body: str, retry_after: int | None = None
    ) -> None:
        """Fail the next `count` webhook posts with a plain-text body, like Slack's hooks."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.fail_next(count, Reply(status, body, headers))

    @property
    def response_url(self) -> str:
        """A click's response_url on this fake."""
        return self.url + self.RESPONSE_PATH

    @property
    def responses(self) -> list[Any]:
        """The JSON bodies posted to response_urls."""
        return [r.json() for r in self.requests if r.path.startswith("/actions/")]

    def calls(self, method: str) -> list[Any]:
        """The JSON bodies sent to Web API method `method` (e.g. "chat.postMessage")."""
        return [r.json() for r in self.requests if r.path == f"/api/{method}"]

    @property
    def webhook_posts(self) -> list[Any]:
        """The JSON bodies posted to the incoming webhook."""
        return [r.json() for r in self.requests if r.path == self.WEBHOOK_PATH]

    def answer(self, request: Recorded) -> Reply:
        if request.path == self.WEBHOOK_PATH:
            return Reply(200, "ok")
        if request.path.startswith("/actions/"):
            return Reply(200, {"ok": True})
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return Reply(200, {"ok": False, "error": "not_authed"})
        if request.path == "/api/chat.postMessage":
            body = request.json()
            self._count += 1
            channel = str(body.get("channel", ""))
            # Posting to a user id opens (or reuses) the DM channel, which the reply names.
            if channel[:1] in ("U", "W"):
                channel = "D" + channel[1:]
            ts = f"1700000000.{self._count:06d}"
            return Reply(
                200,
                {"ok": True, "channel": channel, "ts": ts, "message": {"text": body.get("text")}},
            )
        if request.path == "/api/chat.update":
            body = request.json()
            return Reply(
                200,
                {
                    "ok": True,
                    "channel": body.get("channel"),
                    "ts": body.get("ts"),
                    "text": body.get("text"),
                },
            )
        return Reply(404, {"ok": False, "error": "unknown_method"})
