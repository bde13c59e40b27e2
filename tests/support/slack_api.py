"""A local stand-in for Slack's Web API (`https://slack.com/api/<method>`), for tests and the benchmark.

It speaks Slack's wire format: form-encoded or JSON bodies with a Bearer token in, `{"ok": …}` JSON out,
HTTP 429 with `Retry-After` when rate limited. It records every call and can be told to fail, including the
failures that leave the caller unsure: a call Slack carried out but answered too late (`slow`), or whose
connection dropped before the answer (`drop`). What chat.postMessage posted can be read back with
conversations.history and conversations.replies (with each message's `metadata` when `include_all_metadata`).
Runs in its own thread, so it is independent of the event loop under test.

Optionally (off unless `rate_limit` is set) it enforces Slack-like rate limits on some methods with token
buckets, one for the workspace and one per channel, answering 429 with `Retry-After` like Slack does.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import socket
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
    team: str = ""  # the workspace whose token made the call

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
    accepted: str | None = None  # "slow" or "drop": the call is carried out, then answered late or not at all
    delay: float = 0.0  # with accepted="slow": seconds before the answer


@dataclass
class RateLimit:
    """Token buckets for `methods`: `rate` calls per second per workspace (bursts up to `burst`), and
    `channel_rate` per second per channel (bursts up to `channel_burst`). A call either bucket cannot pay for
    is answered 429 `ratelimited` with `Retry-After` (whole seconds, at least 1) and consumes nothing."""

    rate: float = 100.0
    burst: float = 100.0
    channel_rate: float = 1.0
    channel_burst: float = 5.0
    methods: tuple[str, ...] = ("chat.postMessage",)
    reject: float = 0.0  # this share of calls is answered 429 (Retry-After 1 s) at random, as a busy Slack does
    seed: int = 7


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
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)  # channel id -> conversations.info fields
    team_id: str = "T0001"
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    latency: float = 0.0
    socket_url: str = ""  # what apps.connections.open hands out (a local Socket Mode stand-in)
    rate_limit: RateLimit | None = None  # None: no rate limits (unless told to fail with `fail`)
    rate_limited: list[Call] = field(default_factory=list)  # calls answered 429 by `rate_limit`
    now: Callable[[], float] = time.time  # Slack's clock, for message ts (tests hand in their fake clock's)
    tokens: dict[str, str] = field(default_factory=dict)  # bot token -> its workspace (BOT_TOKEN: `team_id`)
    # methods answered elsewhere (tests/support/slack_oauth.py): (params, headers) -> answer, no bot token needed
    extra: dict[str, Callable[[dict[str, Any], dict[str, str]], dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._buckets: dict[str, _Bucket] = {}  # "@T…": a workspace's; "#C…": a channel's
        self.messages: dict[str, list[dict[str, Any]]] = {}  # channel -> what chat.postMessage posted there
        self._random = random.Random(self.rate_limit.seed if self.rate_limit else 7)

    # -- control -------------------------------------------------------------------------------

    def start(self) -> str:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Slack's API does

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
                after = headers.pop("X-Stub-After", "")
                if after == "drop":  # carried out, and the connection is cut before any answer
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if after:  # carried out, answered late (the caller may have given up by then)
                    threading.Event().wait(float(after))
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the caller stopped waiting
                    self.close_connection = True

        class Server(ThreadingHTTPServer):
            request_queue_size = 1024  # many connections at once (the default 5 drops connects under load)

        self._server = Server(("127.0.0.1", 0), Handler)
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

    def slow(self, method: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` calls of `method` are carried out, and answered only after `seconds`."""
        with self._lock:
            self.failures.setdefault(method, []).extend([Failure(accepted="slow", delay=seconds)] * times)

    def drop(self, method: str, *, times: int = 1) -> None:
        """The next `times` calls of `method` are carried out, and their connection is cut before the answer."""
        with self._lock:
            self.failures.setdefault(method, []).extend([Failure(accepted="drop")] * times)

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Every message chat.postMessage posted (to `channel`, a conversation id), in order."""
        with self._lock:
            return [m for c, ms in self.messages.items() if channel in (None, c) for m in ms]

    def of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.failures.clear()
            self.rate_limited.clear()
            self._buckets.clear()
            self.messages.clear()

    def _throttle(self, method: str, params: dict[str, Any], team: str = "") -> int | None:
        """With `rate_limit` on: None if the call may go (its tokens are taken), else the Retry-After seconds.
        Called with the lock held."""
        limit = self.rate_limit
        if limit is None or method not in limit.methods:
            return None
        if limit.reject and self._random.random() < limit.reject:
            self.rate_limited.append(Call(method, params))
            return 1
        now = time.monotonic()
        channel = str(params.get("channel", ""))
        buckets = [
            self._buckets.setdefault("@" + team, _Bucket(limit.rate, limit.burst, now)),  # each workspace's own
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
            team = self._team_of(method, auth.removeprefix("Bearer "))
            if failure is None and team is None:
                failure = Failure(error="invalid_auth")
            if failure is None and self.rate_limit is not None:
                retry_after = self._throttle(method, params, team or "")
                if retry_after is not None:
                    failure = Failure(status=429, retry_after=retry_after)
        if failure is None or failure.accepted:
            answer = self.extra[method](params, headers) if method in self.extra else self._answer(method, params, team)
            with self._lock:
                self.calls.append(Call(method, params, answer, team or ""))
            if failure is not None:
                return 200, answer, {"X-Stub-After": "drop" if failure.accepted == "drop" else str(failure.delay)}
            return 200, answer, {}
        if failure.answer is not None:
            return 200, failure.answer, {}
        extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
        if failure.status == 429 and failure.error is None:
            return 429, {"ok": False, "error": "ratelimited"}, extra
        if failure.status >= 500:
            return failure.status, {"ok": False, "error": failure.error or "internal_error"}, extra
        return failure.status, {"ok": False, "error": failure.error or "unknown_error"}, extra

    def _team_of(self, method: str, token: str) -> str | None:
        """The workspace a call is made for: its token's (None: a token Slack does not know, or revoked)."""
        if method in self.extra:
            return ""
        if method == "apps.connections.open":
            return self.team_id if token == APP_TOKEN else None
        if token in self.tokens:
            return self.tokens[token]
        return self.team_id if token == BOT_TOKEN and not self.tokens else None

    def _answer(self, method: str, params: dict[str, Any], team: str | None = None) -> dict[str, Any]:
        answers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": lambda p: {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": team or self.team_id,
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
            "conversations.open": lambda p: {"ok": True, "channel": {"id": self._dm_of(str(p.get("users", "")))}},
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "users.list": self._users_list,
            "chat.getPermalink": self._permalink,
            "conversations.info": self._conversation,
        }  # fmt: skip
        answer = answers.get(method)
        return answer(params) if answer else {"ok": True}

    def _conversation(self, params: dict[str, Any]) -> dict[str, Any]:
        """A channel the stand-in knows (`conversations`); any other C0… is a public channel the bot is in. As in
        Slack, a private channel the bot is not in is not found."""
        channel = str(params.get("channel", ""))
        known = self.conversations.get(channel) or ({"is_member": True} if channel.startswith("C0") else None)
        if known is None or (known.get("is_private") and not known.get("is_member")):
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": {"id": channel, "is_private": False, "is_archived": False, **known}}

    def _user_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user"))
        return {"ok": True, "user": {"id": user, **self.users.get(user, {})}}

    def _users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        """Every member the stand-in knows (`users`), paged like Slack: `limit`, an opaque `cursor`."""
        members = [{"id": user, **fields} for user, fields in sorted(self.users.items())]
        start, limit = int(params.get("cursor") or 0), min(int(params.get("limit") or 100), 1000)
        more = start + limit < len(members)
        return {"ok": True, "members": members[start : start + limit],
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}  # fmt: skip

    def _permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(params.get("channel", "")), str(params.get("message_ts", ""))
        with self._lock:
            known = any(m["ts"] == ts for m in self.messages.get(channel, []))
        if not known:
            return {"ok": False, "error": "message_not_found"}
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"https://acme.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ts):06d}"
        return {"ok": True, "file_id": file_id, "upload_url": self.url.replace("/api/", f"/upload/{file_id}")}

    def _next_ts(self) -> str:
        """Slack's ts: the time it posted, in seconds, and a counter that keeps every ts unique and rising."""
        return f"{int(self.now())}.{next(self._ts):06d}"

    @staticmethod
    def _dm_of(user: str) -> str:
        return "D" + user[1:] if user.startswith(("U", "W")) else user

    def _post(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._dm_of(str(params.get("channel", "")))  # posting to a user id lands in the DM with the bot
        ts = self._next_ts()
        message: dict[str, Any] = {"type": "message", "ts": ts, "text": params.get("text"), "bot_id": "BBOT"}
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        metadata = params.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if metadata is not None:
            if not (isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str)
                    and isinstance(metadata.get("event_payload"), dict)):  # fmt: skip
                return {"ok": False, "error": "invalid_metadata_format"}
            message["metadata"] = metadata
        with self._lock:
            self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": {"ts": ts, "text": params.get("text")}}

    def _page(self, messages: list[dict[str, Any]], params: dict[str, Any], newest_first: bool) -> dict[str, Any]:
        """Slack's paging: `oldest`/`latest` bounds (exclusive), `limit` (default 100), an opaque `cursor`."""
        oldest, latest = float(params.get("oldest") or 0), float(params.get("latest") or math.inf)
        chosen = [m for m in messages if oldest < float(m["ts"]) < latest]
        chosen.sort(key=lambda m: float(m["ts"]), reverse=newest_first)
        start = int(params.get("cursor") or 0)
        limit = min(int(params.get("limit") or 100), 1000)
        page = chosen[start : start + limit]
        if str(params.get("include_all_metadata", "")).lower() not in ("true", "1"):
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = start + limit < len(chosen)
        meta = {"next_cursor": str(start + limit) if more else ""}
        return {"ok": True, "messages": page, "has_more": more, "response_metadata": meta}

    def _history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        if channel.startswith(("U", "W")):
            return {"ok": False, "error": "channel_not_found"}  # history wants the DM's own id
        with self._lock:
            top = [m for m in self.messages.get(channel, []) if m.get("thread_ts") in (None, m["ts"])]
        return self._page(top, params, newest_first=True)

    def _replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, thread = str(params.get("channel", "")), str(params.get("ts", ""))
        with self._lock:
            chain = [m for m in self.messages.get(channel, []) if thread in (m["ts"], m.get("thread_ts"))]
        if not chain:
            return {"ok": False, "error": "thread_not_found"}
        return self._page(chain, params, newest_first=False)
