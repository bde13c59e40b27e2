"""The seam between the product and a chat platform. bot/ depends on these protocols only.

Slack, Teams and the console each implement them once (handlers/<platform>/port.py).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from bot.core.messages import Message

# Set while bulk messages (check-ins, digests, channel posts) are sent: a platform that paces its sends lets the
# messages people are waiting for (a reply in a thread, an edited card) go first.
BULK: ContextVar[bool] = ContextVar("improvebot_bulk", default=False)

# Set by delivery for each send: whether it may still go (its claim is still safely held). A platform that waits
# before sending (pacing, Retry-After) asks right before the request and raises a retryable ChatError if not.
SENDABLE: ContextVar[Callable[[], bool]] = ContextVar("improvebot_sendable", default=lambda: True)


# The platform's id of the workspace the work under way is for (a Slack team id): set where a request comes in and,
# for each message, by delivery. A platform installed in many workspaces sends with that workspace's token.
WORKSPACE: ContextVar[str] = ContextVar("improvebot_workspace", default="")


@dataclass(frozen=True)
class Posted:
    """Where a posted message lives: enough to edit it or reply under it later."""

    channel: str
    ref: str


@dataclass(frozen=True)
class Destination:
    """Where a new message goes: a channel (`post`), a thread in a channel (`reply`), or a person's direct
    messages (`dm`, `target` is the person)."""

    kind: Literal["post", "reply", "dm"]
    target: str
    thread: str = ""


class ChatError(Exception):
    """A send failed. `retryable` errors (rate limits, outages, a channel the bot is not in yet) are retried
    by a later tick with backoff; others are given up after a few attempts. `unknown`: the request may have
    reached the platform (it timed out, or the connection dropped, after it was sent): the message may be
    there, so it is looked for (ChatPort.find) before it is ever sent again. `retry_after`: the platform asked
    for this many seconds of quiet (a rate limit). `gone`: the person (or the surface, e.g. Slack's Home tab) is
    not there any more: nothing sent to them can arrive."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        unknown: bool = False,
        retry_after: float | None = None,
        gone: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = (retryable or unknown) and not gone
        self.unknown = unknown
        self.retry_after = retry_after
        self.gone = gone


class ChatPort(Protocol):
    """Outgoing messages. Every method raises ChatError when the platform did not take the message. `key`
    (unique per message, the outbox row's) travels with a new message where the platform keeps it, so `find`
    can tell later whether a send whose answer was lost arrived."""

    async def post(self, channel: str, message: Message, *, key: str = "") -> Posted: ...

    async def reply(self, channel: str, thread: str, message: Message, *, key: str = "") -> Posted: ...

    async def update(self, channel: str, ref: str, message: Message) -> None: ...

    async def dm(self, user: str, message: Message, *, key: str = "") -> Posted: ...

    async def find(self, where: Destination, key: str, since: datetime) -> Posted | None:
        """Where the message sent with `key` to `where` landed, when it did (at or after `since`); None when
        it surely did not. Raises ChatError when the platform cannot be asked right now. A platform that
        offers no way to look answers None, and such a message may then arrive twice."""
        ...

    async def private(self, user: str, message: Message, where: str | None) -> None:
        """A message only `user` sees: where they acted (`where`, a channel) when the platform can show it there
        to them alone, else in their direct messages."""
        ...

    async def upload(self, channel: str, filename: str, title: str, content: bytes, *, thread: str = "") -> None:
        """Post an image (a chart) to a channel, or in the thread `thread` of it."""
        ...

    async def send_file(self, user: str, filename: str, title: str, content: bytes) -> None:
        """A file (an export) only `user` gets: in their direct messages where the platform takes files, else a
        link to download it that expires."""
        ...

    async def permalink(self, channel: str, ref: str) -> str | None:
        """A link that opens the posted message (and its thread) for people; None when there is none."""
        ...

    async def image(self, filename: str, title: str, content: bytes, *, key: str) -> str | None:
        """Make a PNG showable inside messages (an Image block's `ref`): Slack uploads it and answers its file
        id; Teams answers the URL of `key` on the bot's own server (None without a public address). Made once
        per image; raises ChatError when the platform did not take it."""
        ...

    async def forget_image(self, ref: str) -> None:
        """An image made by `image` is no longer shown anywhere (a newer chart replaced it): Slack deletes the
        file; elsewhere there is nothing to do (the bot's own server stops serving it). Raises ChatError."""
        ...

    async def home(self, user: str, message: Message) -> None:
        """Publish `user`'s home view (Slack: the App Home tab). A platform whose home is asked for by the viewer
        (Teams' refreshing card, the console) does nothing."""
        ...


class Directory(Protocol):
    """Who people are on the platform: group membership and admin rights, for authorization."""

    async def is_approver(self, user: str, approvers: list[str]) -> bool:
        """True when `user` is listed in `approvers` (users or groups), or, with an empty list, is an admin."""
        ...

    async def timezone(self, user: str) -> str | None:
        """The person's IANA time zone, when the platform knows it."""
        ...

    async def people(self, approvers: list[str]) -> list[str]:
        """The people `approvers` names, user groups expanded to their members, in order, each once. Raises
        ChatError when the platform cannot be asked right now."""
        ...

    async def admins(self) -> list[str]:
        """The workspace's admins and owners (people, no bots), where the platform has them. Raises ChatError
        when the platform cannot be asked right now."""
        ...

    async def can_post(self, channel: str, *, member: bool = False) -> str | None:
        """What stops the bot from posting in `channel` (with `member`: from reading it too, as in the intake
        channel, where it reads the threads), in a sentence for the person choosing it; None when nothing it can
        see does (or when the platform cannot tell right now)."""
        ...
