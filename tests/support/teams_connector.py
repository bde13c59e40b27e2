"""A local stand-in for the Bot Framework connector (an activity's `serviceUrl`): records every call in the
wire format Teams uses (/v3/conversations/…), answers like the connector, and can be told to fail."""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ConnectorCall:
    method: str
    path: str
    auth: str | None
    body: Any
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def conversation(self) -> str:
        parts = self.path.split("/")
        return parts[3] if len(parts) > 3 else ""

    @property
    def cards(self) -> list[dict[str, Any]]:
        attachments = (self.body or {}).get("attachments") or []
        return [a["content"] for a in attachments if a.get("contentType") == "application/vnd.microsoft.card.adaptive"]

    @property
    def text(self) -> str:
        """Every text in the activity and its cards, flattened: what a person would read."""
        return _flatten(self.body)


def _flatten(node: Any) -> str:
    if isinstance(node, dict):
        found = [str(node[k]) for k in ("text", "title", "value", "label") if isinstance(node.get(k), str)]
        return "\n".join(found + [_flatten(v) for k, v in node.items() if not isinstance(v, str)])
    if isinstance(node, list):
        return "\n".join(_flatten(item) for item in node)
    return ""


class ConnectorStub:
    def __init__(self) -> None:
        self.calls: list[ConnectorCall] = []
        self.roster: dict[str, dict[str, str]] = {}  # AAD object id -> {"id": "29:…", "name": …}
        self.failures: list[int | tuple[int, int]] = []  # HTTP statuses the next calls answer with (429, Retry-After)
        self._ids = itertools.count(1000)
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                status, out = stub.answer(self.command, self.path, self.headers.get("Authorization"), body)
                data = json.dumps(out).encode()
                self.send_response(status)
                if "retryAfter" in out:
                    self.send_header("Retry-After", str(out["retryAfter"]))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_PUT = do_GET = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, method: str, path: str, auth: str | None, body: Any) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if self.failures:
                failure = self.failures.pop(0)
                status, retry_after = failure if isinstance(failure, tuple) else (failure, None)
                error: dict[str, Any] = {"error": {"code": "ServiceError", "message": "failing on purpose"}}
                if retry_after is not None:
                    error["retryAfter"] = retry_after
                return status, error
            if method == "POST" and path.rstrip("/") == "/v3/conversations":
                member = ((body or {}).get("members") or [{}])[0].get("id", "user")
                out = {"id": f"a:personal-{member}", "activityId": str(next(self._ids))}
            elif method == "GET" and "/members/" in path:
                aad = path.rsplit("/", 1)[-1]
                if aad not in self.roster:
                    self.calls.append(ConnectorCall(method, path, auth, body, {}))
                    return 404, {"error": {"code": "MemberNotFoundInConversation", "message": "not a member"}}
                out = {**self.roster[aad], "aadObjectId": aad}
            elif method == "DELETE":
                out = {}
            elif method == "PUT":
                out = {"id": path.rsplit("/", 1)[-1]}
            else:
                out = {"id": str(next(self._ids))}
            self.calls.append(ConnectorCall(method, path, auth, body, out))
            return (201 if method == "POST" else 200), out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- what Teams received ---------------------------------------------------------------------

    def posts_to(self, conversation: str) -> list[ConnectorCall]:
        return [c for c in self.calls if c.method == "POST" and c.conversation == conversation]

    def updates_of(self, activity_id: str) -> list[ConnectorCall]:
        return [c for c in self.calls if c.method == "PUT" and c.path.endswith(f"/activities/{activity_id}")]
