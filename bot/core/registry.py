"""The interaction registry: what each capability offers, declared next to its use cases and dispatched by the
service. Buttons (action id -> handler), forms (form id -> spec, checks, apply), subcommands of the command
grammar, thread replies, tick jobs, listeners of domain events, and the two views delivery renders late (the
improvement's card, the weekly chart). Adding a button is one `registry.button(...)` line in its capability."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol, TypeVar

from sqlmodel import Session

from bot.core.commands import Grammar, Subcommand
from bot.core.messages import Form, Message
from bot.core.outcomes import Actor, Outcome
from bot.core.ports import Directory
from bot.core.workspace import WorkspaceRef, WorkspaceSettings
from storage.models import Improvement

T = TypeVar("T")


@dataclass(frozen=True)
class Act:
    """One interaction, inside its transaction: where, who, when."""

    session: Session
    ws: WorkspaceRef
    actor: Actor
    now: datetime
    registry: Registry

    def publish(self, event: object) -> None:
        """Tell the capabilities that listen for this kind of event, in the same transaction."""
        for listener in self.registry.listeners(type(event)):
            listener(self, event)


MAX_ID = 2**31 - 1  # the database's integer: an id beyond it names nothing, and must never reach a query


def number(text: str) -> int:
    """A row id or round as a platform sent it back to us: plain ASCII digits within the database's integer."""
    if not re.fullmatch(r"[0-9]{1,10}", text, re.ASCII) or int(text) > MAX_ID:
        raise ValueError(f"not an id: {text[:20]!r}")
    return int(text)


@dataclass(frozen=True)
class Target:
    """What a button points at: its value `id` or `id:round`."""

    id: int
    round: int | None = None

    @classmethod
    def parse(cls, value: str) -> Target | None:
        head, colon, tail = value.partition(":")
        try:
            target = cls(number(head), number(tail) if colon else None)
        except ValueError:
            return None
        return target if target.id > 0 else None


ButtonHandler = Callable[[Act, Target], Outcome]


@dataclass(frozen=True)
class Button:
    handler: ButtonHandler
    needs_round: bool = False  # the value must name the approval round it was offered in


@dataclass(frozen=True)
class Answer:
    """A submitted form's clean values, the context it was opened with, and what `prepare` looked up."""

    context: dict[str, str]
    values: dict[str, Any]
    prepared: Any = None

    def id(self, key: str) -> int:
        """An id the form was opened with; a missing or odd one raises (the service answers "out of date")."""
        return number(self.context[key])


class Lookup(Protocol):
    """What a form's `prepare` step may use before its transaction: reads, and the platform's directory."""

    @property
    def ws(self) -> WorkspaceRef: ...

    @property
    def user(self) -> str: ...

    @property
    def directory(self) -> Directory: ...

    async def read(self, fn: Callable[[Session], T]) -> T: ...


@dataclass(frozen=True)
class FormHandler:
    spec: Callable[[WorkspaceSettings], Form]  # the shape answers are validated against (no database)
    apply: Callable[[Act, Answer], Outcome]  # in the transaction
    check: Callable[[dict[str, Any], date], dict[str, str]] | None = None  # rules across fields, per field id
    prepare: Callable[[Lookup, dict[str, str]], Awaitable[Any]] | None = None  # platform lookups, before it
    # the shape for an answer whose context says a question was added on the way (bot.core.outcomes.AskFirst)
    reshape: Callable[[Form, dict[str, str]], Form] | None = None
    # checks of the answers that ask the platform (can the bot post in that channel?), before the transaction
    verify: Callable[[Lookup, dict[str, Any]], Awaitable[dict[str, str]]] | None = None
    admin: bool = False  # the person's admin rights are looked up (Actor.is_admin) for `apply` to decide on
    workspace_changed: bool = False  # it changes the workspace's settings: read them again after it


@dataclass(frozen=True)
class Reply:
    """A message in a thread the bot may own."""

    channel: str
    thread: str
    text: str
    ids: tuple[str, ...]  # every id the platform gives this message (event id, channel and ts): a retry under
    # any one of them is the same message
    ref: str = ""  # the message's own id (Slack: channel and ts; Teams: the activity id), stable across edits
    kind: Literal["new", "edited", "deleted"] = "new"  # an edit or a deletion of the message `ref`


ReplyHandler = Callable[[Act, Reply], bool]  # True when it was taken (and something should be delivered)


@dataclass(frozen=True)
class TickJob:
    label: str  # as counted in the tick's report line
    run: Callable[[Session, str, datetime], int]  # (session, platform, now) -> how many it queued (or settled)
    repeat: bool = False  # work in batches: run again, each time in a new transaction, until a run queues nothing


CardView = Callable[[Session, Improvement, WorkspaceSettings], Message]
ChartImage = Callable[[dict[str, Any]], bytes]  # a chart's outbox payload in, PNG out
FileContent = Callable[[Session, dict[str, Any]], tuple[str, bytes]]  # a file's outbox payload in: (name, bytes)
Listener = Callable[[Act, Any], None]


class HomePublisher(Protocol):
    """Home views for delivery (bot.insights.home.Homes): rendered as they read now, and published."""

    async def of_workspace(self, workspace_id: int, user: str) -> Message: ...

    async def publish(self, workspace_id: int, user: str, message: Message) -> None: ...


class Registry:
    def __init__(self) -> None:
        self.buttons: dict[str, Button] = {}
        self.forms: dict[str, FormHandler] = {}
        self.commands = Grammar()
        self.replies: list[ReplyHandler] = []
        self.privates: list[ReplyHandler] = []  # a person's message in their direct chat with the bot
        self.tick_jobs: list[TickJob] = []
        self.card: CardView | None = None
        self.charts: dict[str, ChartImage] = {}
        self.files: dict[str, FileContent] = {}
        self._listeners: dict[type, list[Listener]] = {}

    def button(self, action: str, handler: ButtonHandler, *, needs_round: bool = False) -> None:
        if action in self.buttons:
            raise ValueError(f"the button {action!r} is already registered")
        self.buttons[action] = Button(handler, needs_round)

    def form(self, form_id: str, handler: FormHandler) -> None:
        if form_id in self.forms:
            raise ValueError(f"the form {form_id!r} is already registered")
        self.forms[form_id] = handler

    def command(self, command: Subcommand) -> None:
        self.commands.add(command)

    def reply(self, handler: ReplyHandler) -> None:
        self.replies.append(handler)

    def private(self, handler: ReplyHandler) -> None:
        """A message someone wrote to the bot in private (its `thread` empty): True when it was taken."""
        self.privates.append(handler)

    def tick(self, job: TickJob) -> None:
        self.tick_jobs.append(job)

    def subscribe(self, event: type, listener: Listener) -> None:
        self._listeners.setdefault(event, []).append(listener)

    def listeners(self, event: type) -> list[Listener]:
        return self._listeners.get(event, [])

    def views(self, *, card: CardView) -> None:
        self.card = card

    def chart(self, kind: str, image: ChartImage) -> None:
        """How a chart of this kind (its payload's "chart") is drawn when it is delivered."""
        if kind in self.charts:
            raise ValueError(f"the chart {kind!r} is already registered")
        self.charts[kind] = image

    def file(self, kind: str, content: FileContent) -> None:
        """How a file of this kind (its payload's "file") is written when it is delivered (an export)."""
        if kind in self.files:
            raise ValueError(f"the file {kind!r} is already registered")
        self.files[kind] = content

    def write(self, session: Session, payload: dict[str, Any]) -> tuple[str, bytes]:
        return self.files[str(payload.get("file", ""))](session, payload)

    def draw(self, payload: dict[str, Any]) -> bytes:
        """A chart's PNG, drawn by the capability that registered its kind (an old row without one: weekly)."""
        return self.charts[str(payload.get("chart", "weekly"))](payload)
