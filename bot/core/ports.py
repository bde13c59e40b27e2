"""The seam between the product and a chat platform. bot/ depends on these protocols only.

Slack, Teams and the console each implement them once (handlers/<platform>/port.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.core.messages import Message


@dataclass(frozen=True)
class Posted:
    """Where a posted message lives: enough to edit it or reply under it later."""

    channel: str
    ref: str


class ChatError(Exception):
    """A send failed. `retryable` errors (rate limits, outages, a channel the bot is not in yet) are retried
    by a later tick with backoff; others are given up after a few attempts."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class ChatPort(Protocol):
    """Outgoing messages. Every method raises ChatError when the platform did not take the message."""

    async def post(self, channel: str, message: Message) -> Posted: ...

    async def reply(self, channel: str, thread: str, message: Message) -> Posted: ...

    async def update(self, channel: str, ref: str, message: Message) -> None: ...

    async def dm(self, user: str, message: Message) -> Posted: ...

    async def private(self, user: str, message: Message, where: str | None) -> None:
        """A message only `user` sees: where they acted (`where`, a channel) when the platform can show it there
        to them alone, else in their direct messages."""
        ...

    async def upload(self, channel: str, filename: str, title: str, content: bytes) -> None:
        """Post an image (a chart) to a channel."""
        ...


class Directory(Protocol):
    """Who people are on the platform: group membership and admin rights, for authorization."""

    async def is_approver(self, user: str, approvers: list[str]) -> bool:
        """True when `user` is listed in `approvers` (users or groups), or, with an empty list, is an admin."""
        ...

    async def timezone(self, user: str) -> str | None:
        """The person's IANA time zone, when the platform knows it."""
        ...
