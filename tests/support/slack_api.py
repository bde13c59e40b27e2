"""A local stand-in for Slack's Web API (`https://slack.com/api/<method>`), for tests and the benchmark.

It speaks Slack's wire format: form-encoded or JSON bodies with a Bearer token in, `{"ok": …}` JSON out,
HTTP 429 with `Retry-After` when rate limited. It records every call and can be told to fail.
Runs in its own thread, so it is independent of the event loop under test.

Optionally (off unless `rate_limit` is set) it enforces Slack-like rate limits on some methods with token
buckets, one for the workspace and one per channel, answering 429 with `Retry-After` like Slack does.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ts(self) -> str:
        """The ts Slack gave the posted (or updated) message."""
        return str(self.response.get("ts") or self.params.get("ts") or "")

    def __getitem__(self, key: str) -> Any:
        return self.params[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    @property
    def text_of_blocks(self) -> str:
        """All text in the call's blocks, flattened: what a person would read."""
        return _flatten(self.params.get("blocks") or []) + "\n" + str(self.params.get("text", ""))


def _flatten(node: Any) -> str:
    if isinstance(node, dict):
        parts = [node["text"]] if isinstance(node.get("text"), str) else []
        for key, value in node.items():
            if key != "text" or not isinstance(value, str):
                parts.append(_flatten(value))
        return "\n".join(p for p in parts if p)
    if isinstance(node, list):
        return "\n".join(_flatten(item) for item in node)
    return ""


@dataclass
class Failure:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    channel: str | None = None  # only calls to this channel fail
    answer: dict[str, Any] | None = None  # an answer of an unexpected shape (HTTP 200) instead of an error


@dataclass
class RateLimit:
    """Token buckets for `methods`: `rate` calls per second workspace-wide (bursts up to `burst`), and
    `channel_rate` per second per channel (bursts up to `channel_burst`). A call either bucket cannot pay for
    is answered 429 `ratelimited` with `Retry-After` (whole seconds, at least 1) and consumes nothing."""

    rate: float = 100.0
    burst: float = 100.0
    channel_rate: float = 1.0
    channel_burst: float = 5.0
    methods: tuple[str, ...] = ("chat.postMessage",)


class _Bucket:
    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.at = rate, burst, burst, now

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def wait(self) -> float:
        """Seconds until one token is there (0 when it is now)."""
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


@dataclass
class SlackApiStub:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # user id -> users.info "user" fields
    groups: dict[str, list[str]] = field(default_factory=dict)  # user-group id -> member ids
    team_id: str = "T0001"
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    latency: float = 0.0
    socket_url: str = ""  # what apps.connections.open hands out (a local Socket Mode stand-in)
    rate_limit: RateLimit | None = None  # None: no rate limits (unless told to fail with `fail`)
    rate_limited: list[Call] = field(default_factory=list)  # calls answered 429 by `rate_limit`

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._buckets: dict[str, _Bucket] = {}  # "" is the workspace's; the others are channels

    # -- control -------------------------------------------------------------------------------

    def start(self) -> str:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload, headers = stub.handle(self.command, self.path, dict(self.headers), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    @property
    def response_url(self) -> str:
        return self.url.replace("/api/", "/response/hook")

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def fail(self, method: str, *, times: int = 1, status: int = 200, error: str | None = None,
             retry_after: int | None = None, channel: str | None = None,
             answer: dict[str, Any] | None = None) -> None:  # fmt: skip
        """The next `times` calls of `method` (to `channel`, if given) fail: an HTTP status (500, 429 …) and/or
        a Slack error code, or an answer of a shape Slack never sends."""
        with self._lock:
            self.failures.setdefault(method, []).extend(
                [Failure(status=status, error=error, retry_after=retry_after, channel=channel, answer=answer)] * times
            )

    def of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.failures.clear()
            self.rate_limited.clear()
            self._buckets.clear()

    def _throttle(self, method: str, params: dict[str, Any]) -> int | None:
        """With `rate_limit` on: None if the call may go (its tokens are taken), else the Retry-After seconds.
        Called with the lock held."""
        limit = self.rate_limit
        if limit is None or method not in limit.methods:
            return None
        now = time.monotonic()
        channel = str(params.get("channel", ""))
        buckets = [
            self._buckets.setdefault("", _Bucket(limit.rate, limit.burst, now)),
            self._buckets.setdefault("#" + channel, _Bucket(limit.channel_rate, limit.channel_burst, now)),
        ]
        for bucket in buckets:
            bucket.refill(now)
        wait = max(bucket.wait() for bucket in buckets)
        if wait > 0:
            self.rate_limited.append(Call(method, params))
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.tokens -= 1
        return None

    # -- Slack's side --------------------------------------------------------------------------

    def handle(self, verb: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
        if self.latency:
            threading.Event().wait(self.latency)
        parsed = urlparse(path)
        if parsed.path.startswith("/upload/"):  # step 2 of files_upload_v2: the file's bytes
            with self._lock:
                self.calls.append(Call("upload", {"file_id": parsed.path.rsplit("/", 1)[-1], "body": body}))
            return 200, {"ok": True}, {}
        params: dict[str, Any] = dict(parse_qsl(parsed.query))
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if body:
            if "json" in content_type:
                params.update(json.loads(body))
            else:
                params.update(dict(parse_qsl(body.decode())))
        for key in ("blocks", "view", "attachments", "files"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        if parsed.path.startswith("/response/"):
            with self._lock:
                self.calls.append(Call("response_url", params))
            return 200, {"ok": True}, {}
        method = parsed.path.rsplit("/", 1)[-1]
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        with self._lock:
            queue = self.failures.get(method) or []
            target = params.get("channel")
            failure = next((f for f in queue if f.channel in (None, target)), None)
            if failure is not None:
                queue.remove(failure)
            token = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
            if failure is None and auth != f"Bearer {token}":
                failure = Failure(error="invalid_auth")
            if failure is None and self.rate_limit is not None:
                retry_after = self._throttle(method, params)
                if retry_after is not None:
                    failure = Failure(status=429, retry_after=retry_after)
        if failure is None:
            answer = self._answer(method, params)
            with self._lock:
                self.calls.append(Call(method, params, answer))
            return 200, answer, {}
        if failure.answer is not None:
            return 200, failure.answer, {}
        extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
        if failure.status == 429 and failure.error is None:
            return 429, {"ok": False, "error": "ratelimited"}, extra
        if failure.status >= 500:
            return failure.status, {"ok": False, "error": failure.error or "internal_error"}, extra
        return failure.status, {"ok": False, "error": failure.error or "unknown_error"}, extra

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        answers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": lambda p: {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": self.team_id,
                                    "team": "Acme", "url": "https://acme.slack.com/"},
            "chat.postMessage": self._post,
            "apps.connections.open": lambda p: {"ok": True, "url": self.socket_url},
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": lambda p: {"ok": True, "files": p.get("files")},
            "chat.update": lambda p: {"ok": True, "channel": p.get("channel"), "ts": p.get("ts")},
            "chat.postEphemeral": lambda p: {"ok": True, "message_ts": self._next_ts()},
            "views.open": lambda p: {"ok": True, "view": {"id": f"V{self._next_ts()}"}},
            "users.info": self._user_info,
            "usergroups.users.list": lambda p: {"ok": True, "users": self.groups.get(str(p.get("usergroup")), [])},
        }  # fmt: skip
        answer = answers.get(method)
        return answer(params) if answer else {"ok": True}

    def _user_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user"))
        return {"ok": True, "user": {"id": user, **self.users.get(user, {})}}

    def _upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ts):06d}"
        return {"ok": True, "file_id": file_id, "upload_url": self.url.replace("/api/", f"/upload/{file_id}")}

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def _post(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        if channel.startswith(("U", "W")):
            channel = "D" + channel[1:]  # posting to a user id lands in the DM with the bot
        ts = self._next_ts()
        return {"ok": True, "channel": channel, "ts": ts, "message": {"ts": ts, "text": params.get("text")}}
