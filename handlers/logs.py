"""Logging an attacker cannot drive: every record is one line (control characters escaped, long messages cut),
tracebacks are indented so no line of theirs can pass for a record, and the libraries that see raw requests
(Bolt, the Teams SDK, uvicorn, the HTTP clients) log only warnings unless IMPROVE_LOG_LEVEL=debug."""

from __future__ import annotations

import logging
import re
from typing import Any

from pythonjsonlogger.json import JsonFormatter

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MAX_MESSAGE = 2000
# loggers that see raw requests or responses; at INFO some of them log whole bodies
QUIET = (
    "slack_bolt",
    "slack_sdk",
    "improvebot.bolt",
    "microsoft_teams",
    "microsoft_teams.common.http.client",  # the SDK copies this one's own level onto httpx's
    "msal",
    "dotenv",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "httpx",
    "httpcore",
    "aiohttp",
    "apscheduler",
)
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")  # C0, DEL, C1, line and paragraph separators


def escape(text: str) -> str:
    """`text` on one line: newlines and other control characters as visible escapes (\\n, \\x1b)."""
    return _CONTROL.sub(_visible, text)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return "\\n" if code == 10 else f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class OneLine(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        message = escape(record.message)
        if len(message) > MAX_MESSAGE:
            message = f"{message[:MAX_MESSAGE]}… ({len(message) - MAX_MESSAGE:,} more characters)"
        record.message = message
        return super().formatMessage(record)

    def formatException(self, ei: object) -> str:
        text = super().formatException(ei)  # type: ignore[arg-type]
        return "\n".join("    | " + escape(line) for line in text.splitlines())


class OneJson(JsonFormatter):
    """IMPROVE_LOG_FORMAT=json: one JSON object a line (time, level, logger, message, and the traceback as a
    string), for log collectors; long messages cut as in text."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        message = str(log_data.get("message", ""))
        if len(message) > MAX_MESSAGE:
            log_data["message"] = f"{message[:MAX_MESSAGE]}… ({len(message) - MAX_MESSAGE:,} more characters)"
        return log_data


def configure_logging(level: str = "info", *, file: str | None = None, fmt: str = "text") -> None:
    """Our own loggers at `level` (debug, info, warning); the request-facing libraries at WARNING unless debug.
    `file`: write there instead of to stderr (the console keeps its chat free of log lines); `fmt`: text (one
    escaped line a record) or json (one object a line)."""
    handler: logging.Handler = logging.FileHandler(file, encoding="utf-8") if file else logging.StreamHandler()
    json_names = {"levelname": "level", "name": "logger", "asctime": "time"}
    json = OneJson("%(asctime)s %(levelname)s %(name)s %(message)s", rename_fields=json_names)
    handler.setFormatter(json if fmt == "json" else OneLine(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper()))
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
    hold_bodies()


def hold_bodies() -> None:
    """The platform SDKs dump whole requests at DEBUG (whom a DM goes to, and what it says): never at debug, or
    an anonymous reporter would be named in the log beside their report. Their other lines stay."""
    for name in QUIET:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:  # NOTSET included: it would follow the root down to DEBUG
            logger.setLevel(logging.INFO)
    # each request's URL at INFO, a 1:1 chat's id in it (the Teams SDK copies its client's level onto httpx's)
    for name in ("httpx", "httpcore", "microsoft_teams.common.http.client"):
        logging.getLogger(name).setLevel(logging.WARNING)
