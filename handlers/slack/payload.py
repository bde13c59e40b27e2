"""Reading Slack payloads defensively: a missing or odd field reads as empty instead of raising."""

from __future__ import annotations

from typing import Any


def dig(body: Any, *path: str | int) -> str:
    """body[path…] as a string, or "" when any step is missing or of the wrong type."""
    node = body
    for step in path:
        if isinstance(step, int):
            node = node[step] if isinstance(node, list) and -len(node) <= step < len(node) else None
        else:
            node = node.get(step) if isinstance(node, dict) else None
        if node is None:
            return ""
    return node if isinstance(node, str) else str(node) if isinstance(node, int | float) else ""


def team_of(body: Any) -> str:
    return dig(body, "team", "id") or dig(body, "user", "team_id") or dig(body, "team_id")


def enterprise_of(body: Any) -> str:
    """The Enterprise Grid organisation a payload comes from ("" outside one)."""
    return (
        dig(body, "enterprise", "id")
        or dig(body, "enterprise_id")
        or dig(body, "team", "enterprise_id")
        or dig(body, "authorizations", 0, "enterprise_id")
    )
