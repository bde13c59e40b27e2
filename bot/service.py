"""The product's front door for every platform: commands, clicks, form answers and thread replies.

Handlers parse their platform's payload into these plain calls and render the outcome natively. Each call
resolves the workspace and the actor's rights, finds what a capability registered for it (bot.core.registry),
runs it in one transaction (in a worker thread on PostgreSQL, so the event loop stays free for acks), then
delivers the outbox.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

from cachetools import TTLCache
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.core.clock import Clock
from bot.core.commands import Invocation, Unknown, unknown_text
from bot.core.forms import clean_text, validate
from bot.core.identity import Sealer
from bot.core.messages import Form, FormValue, Message
from bot.core.openings import INSTANCE, claim, claim_key, stamped
from bot.core.outcomes import (
    STALE,
    UNAVAILABLE,
    Actor,
    AskFirst,
    Done,
    FormErrors,
    Invalid,
    Notice,
    OpenForm,
    Outcome,
    Refused,
    Show,
    ShowHome,
)
from bot.core.ports import ChatError, Directory
from bot.core.registry import Act, Answer, FormHandler, Registry, Reply, ReplyHandler, Target
from bot.core.workspace import WorkspaceRef, WorkspaceSettings, ensure_workspace
from bot.delivery.sender import Delivery, FlushReport
from bot.improvements.thread_view import ThreadView, thread_view
from bot.insights.home import Homes
from storage import queries
from storage.db import Runner, Unavailable, transaction

log = logging.getLogger("improvebot.service")
T = TypeVar("T")
MAX_CACHED_WORKSPACES = 1000
VERIFY_WAIT = 2.0  # seconds a form's platform checks may take before the answer is taken as it is
WORKSPACE_TTL = 30.0  # seconds a workspace's settings are reused before read again (saved in chat elsewhere)
# after a click, what it queued goes at once (people-facing first) beside at most a few bulk messages; a backlog
# of bulk messages is the tick's to drain
REQUEST_FLUSH_BUDGET = 2.0
REQUEST_FLUSH_WINDOW = 8


@dataclass(frozen=True)
class _Lookup:
    """What a form's `prepare` step may use (bot.core.registry.Lookup)."""

    ws: WorkspaceRef
    user: str
    directory: Directory
    run: Callable[[Callable[[Session], Any]], Awaitable[Any]]

    async def read(self, fn: Callable[[Session], T]) -> T:
        return await self.run(fn)


class ImproveService:
    def __init__(
        self,
        *,
        engine: Engine,
        clock: Clock,
        platform: str,
        registry: Registry,
        settings_for: Callable[[str], WorkspaceSettings],
        directory: Directory,
        delivery: Delivery,
        runner: Runner,
        command: str = "/improve",
        bulk: bool = True,
        homes: Homes | None = None,
        sealer: Sealer | None = None,
    ) -> None:
        """`command`: the command as this platform spells it, for the messages that name it. `runner`: where
        transactions run (off the event loop, bounded: storage.db.Runner). `bulk=False`: after a request, send
        only what people wait for (bulk DMs and posts are an `improvebot worker`'s)."""
        self.engine = engine
        self.clock = clock
        self.platform = platform
        self.registry = registry
        self.delivery = delivery
        self.command_word = command
        self._settings_for = settings_for
        self._directory = directory
        self._workspaces: TTLCache[str, WorkspaceRef] = TTLCache(maxsize=MAX_CACHED_WORKSPACES, ttl=WORKSPACE_TTL)
        self._runner = runner
        self._bulk = bulk
        self._homes = homes
        self._sealer = sealer

    # -- plumbing ----------------------------------------------------------------------------------

    async def workspace(self, external_id: str) -> WorkspaceRef:
        cached = self._workspaces.get(external_id)
        if cached is not None:
            return cached
        ref = await self._runner.run(lambda: self._ensure_workspace(external_id))
        self._workspaces[external_id] = ref
        return ref

    def forget_workspace(self, external_id: str) -> None:
        """Its settings changed outside a form (a new organisation's first admin): read again at its next use."""
        self._workspaces.pop(external_id, None)

    def _ensure_workspace(self, external_id: str) -> WorkspaceRef:
        settings = self._settings_for(external_id)
        for attempt in range(2):
            try:
                with transaction(self.engine) as session:
                    return ensure_workspace(
                        session, self.platform, external_id, settings, self.clock.now(), self._sealer
                    )
            except IntegrityError:  # created concurrently by another request: read it on the second pass
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _actor(self, ws: WorkspaceRef, user: str) -> Actor:
        return Actor(user=user, is_approver=await self._directory.is_approver(user, ws.settings.approvers))

    async def _is_admin(self, ws: WorkspaceRef, user: str) -> bool:
        """One of the fallback approvers (or of their user groups), or of the platform's admins and owners (False
        when it cannot tell)."""
        fallback = ws.settings.fallback_approvers
        try:
            if fallback and await self._directory.is_approver(user, fallback):
                return True
            return user in await self._directory.admins()
        except ChatError:
            return False

    async def _run(self, fn: Callable[[Session], T], *, inline: bool = False) -> T:
        if inline:
            with transaction(self.engine) as session:
                return fn(session)
        return await self._runner.transaction(self.engine, fn)

    async def _act(self, ws: WorkspaceRef, actor: Actor, fn: Callable[[Act], T], *, reads: bool = True) -> T:
        """Run a registered handler in one transaction (one that reads nothing runs at once, in this thread)."""
        now = self.clock.now()
        return await self._run(lambda session: fn(Act(session, ws, actor, now, self.registry)), inline=not reads)

    async def deliver(self) -> FlushReport:
        """Send what is due. Called after a change is saved: a failure here never turns that into an error for the
        person who acted (the next flush or tick sends what is left)."""
        try:
            budget, window = REQUEST_FLUSH_BUDGET, REQUEST_FLUSH_WINDOW
            report = await self.delivery.flush(budget=budget, window=window, bulk=self._bulk)
        except Exception:
            log.exception("delivery failed; the next flush retries")
            return FlushReport()
        return report  # each failure is logged where it happens (bot.delivery)

    # -- the command -------------------------------------------------------------------------------

    async def command(self, external_id: str, user: str, text: str, context: dict[str, str]) -> Outcome:
        """`/improve <text>`: a subcommand of the grammar, or the problem text that prefills the report form."""
        try:
            return await self._command(external_id, user, text, context)
        except Unavailable:
            return Notice(UNAVAILABLE)

    async def _command(self, external_id: str, user: str, text: str, context: dict[str, str]) -> Outcome:
        ws = await self.workspace(external_id)
        parsed = self.registry.commands.parse(text)
        if isinstance(parsed, Unknown):
            return Notice(unknown_text(parsed, self.command_word))
        command = parsed.command
        actor = await self._actor(ws, user) if command.rights else Actor(user)
        if command.admin:
            actor = replace(actor, is_admin=await self._is_admin(ws, user))
        invocation = Invocation(args=parsed.args, context=context, word=self.command_word)
        try:
            outcome = await self._act(ws, actor, lambda act: command.run(act, invocation), reads=command.reads)
        except Refused as refusal:
            return Notice(str(refusal))
        if isinstance(outcome, Done):  # it answered through the outbox (a list whose thread links resolve there)
            await self.deliver()
        if isinstance(outcome, ShowHome):
            return Show(await self._home(ws, user, in_message=True))
        return stamped(outcome)

    async def report_message(self, external_id: str, user: str, text: str, context: dict[str, str]) -> Outcome:
        """Report a broken process from a message (Slack's message shortcut, Teams' message action): the report
        form, prefilled with the message's text; `context` names its author and link (bot.improvements.report)."""
        report = self.registry.commands.fallback
        assert report is not None, "no capability registered the report"
        try:
            ws = await self.workspace(external_id)
            invocation = Invocation(args=clean_text(text), context=context, word=self.command_word)
            outcome = await self._act(ws, Actor(user), lambda act: report.run(act, invocation), reads=report.reads)
        except Unavailable:
            return Notice(UNAVAILABLE)
        return stamped(outcome)

    async def home(self, external_id: str, user: str, *, opened: bool = False, notice: str = "") -> Message:
        """`user`'s home view as it reads now, links resolved (`opened`: Slack's App Home was opened: published
        again on changes). Raises Unavailable when it cannot be read."""
        return await self._home(await self.workspace(external_id), user, opened=opened, notice=notice)

    async def publish_home(self, external_id: str, user: str, message: Message) -> None:
        """Push `user`'s home view to them (Slack's App Home). Raises ChatError, Unavailable."""
        assert self._homes is not None, "no home views in this assembly"
        await self._homes.publish((await self.workspace(external_id)).id, user, message)

    async def _home(
        self, ws: WorkspaceRef, user: str, *, opened: bool = False, notice: str = "", in_message: bool = False
    ) -> Message:
        assert self._homes is not None, "no home views in this assembly"
        home = await self._homes.render(ws, user, opened=opened, notice=notice, in_message=in_message)
        return await self.delivery.linked(home)

    async def form_spec(self, external_id: str, form_id: str, context: dict[str, str] | None = None) -> Form | None:
        """The shape of a form as opened with `context`, to read a platform's answers into (None for an unknown
        form)."""
        handler = self.registry.forms.get(form_id)
        if handler is None:
            return None
        spec = handler.spec((await self.workspace(external_id)).settings)
        return handler.reshape(spec, context or {}) if handler.reshape else spec

    async def check_form(
        self, external_id: str, form_id: str, raw: dict[str, FormValue], context: dict[str, str] | None = None
    ) -> tuple[dict[str, Any], dict[str, str]] | None:
        """Validate answers (fast, no I/O after the first call): (values, errors), or None for an unknown form."""
        handler = self.registry.forms.get(form_id)
        spec = await self.form_spec(external_id, form_id, context)
        if handler is None or spec is None:
            return None
        values, errors = validate(spec, raw)
        if handler.check is not None and not errors:
            errors = handler.check(values, self.clock.now().date())
        return values, errors

    async def submit_form(
        self,
        external_id: str,
        user: str,
        form_id: str,
        context: dict[str, str],
        raw: dict[str, FormValue],
        *,
        deliver: bool = True,
    ) -> Outcome:
        """Validate and save. With deliver=False the caller delivers (Slack: after the modal has closed). Raises
        Unavailable when it could not be saved, so the platform can keep the form open with what was typed."""
        checked = await self.check_form(external_id, form_id, raw, context)
        if checked is None:
            return Notice(STALE)
        values, errors = checked
        if errors:
            return FormErrors(errors)
        handler = self.registry.forms[form_id]
        ws = await self.workspace(external_id)
        actor = await self._actor(ws, user)
        if handler.admin:
            actor = replace(actor, is_admin=await self._is_admin(ws, user))
        instance = context.get(INSTANCE)

        def once(act: Act, prepared: Any) -> Outcome:
            return handler.apply(act, Answer(context, values, prepared)) if claim(act, instance) else Done()

        try:
            lookup = _Lookup(ws, user, self._directory, self._run)
            problems = await self._verify(handler, lookup, values, actor)
            if problems:
                return FormErrors(problems)
            prepared = await handler.prepare(lookup, context) if handler.prepare else None
            outcome = await self._act(ws, actor, lambda act: once(act, prepared))
            if handler.workspace_changed:
                self._workspaces.pop(external_id, None)  # here at once; other instances within WORKSPACE_TTL
        except Refused as refusal:
            return Notice(str(refusal))
        except Invalid as invalid:
            return FormErrors(invalid.errors)
        except AskFirst as ask:  # nothing saved: the same form again, one question added; the same opening (its
            return OpenForm(ask.form)  # instance stays, so the form and its offer are answered once between them)
        except (KeyError, ValueError):  # a context that is not one we opened the form with
            return Notice(STALE)
        except IntegrityError:
            if instance is not None and await self._run(
                lambda session: queries.event_seen(session, ws.id, claim_key(instance, user))
            ):
                return Done()  # the same answer, saved by a request that arrived at the same moment
            raise
        if deliver:
            await self.deliver()
        return outcome

    async def _verify(self, handler: FormHandler, lookup: _Lookup, values: dict[str, Any], actor: Actor) -> dict:
        """The platform's checks of the answers, for whoever may save them (the refusal comes from `apply`), within
        VERIFY_WAIT: what could not be checked in time is not held against the answer."""
        if handler.verify is None or (handler.admin and not actor.is_admin):
            return {}
        try:
            return await asyncio.wait_for(handler.verify(lookup, values), VERIFY_WAIT)
        except (TimeoutError, ChatError):
            return {}

    # -- buttons -----------------------------------------------------------------------------------

    async def click(self, external_id: str, user: str, action: str, value: str, *, deliver: bool = True) -> Outcome:
        try:
            return await self._click(external_id, user, action, value, deliver=deliver)
        except Unavailable:
            return Notice(UNAVAILABLE)

    async def _click(self, external_id: str, user: str, action: str, value: str, *, deliver: bool) -> Outcome:
        button = self.registry.buttons.get(action)
        target = Target.parse(value)
        if button is None or target is None or (button.needs_round and target.round is None):
            return Notice(STALE)
        ws = await self.workspace(external_id)
        actor = await self._actor(ws, user)
        try:
            outcome = await self._act(ws, actor, lambda act: button.handler(act, target))
        except Refused as refusal:
            return Notice(str(refusal))
        if isinstance(outcome, Done | Notice) and deliver:  # a notice may come with changes (Me too: the card)
            await self.deliver()
        return stamped(outcome)

    # -- thread replies ----------------------------------------------------------------------------

    async def thread_reply(
        self,
        external_id: str,
        *,
        channel: str,
        thread: str,
        user: str,
        text: str,
        ids: tuple[str, ...],
        deliver: bool = True,
        ref: str = "",
        kind: Literal["new", "edited", "deleted"] = "new",
    ) -> bool:
        """Returns True when a capability took the reply (an answer to a why). `ids`: every id the platform gives
        the message; it is taken once, whichever of them a retry carries. `ref`: the message's own id; with
        `kind` "edited" or "deleted", the message `ref` was changed (`text`, its new text) or deleted. Raises
        Unavailable when it could not be looked at (the caller makes sure it is sent again, or says so)."""
        reply = Reply(channel=channel, thread=thread, text=text, ids=tuple(i for i in ids if i), ref=ref, kind=kind)
        return await self._offer(external_id, user, reply, self.registry.replies, deliver=deliver, raced=False)

    async def private_message(
        self, external_id: str, *, channel: str, user: str, text: str, ids: tuple[str, ...], deliver: bool = True
    ) -> bool:
        """A message `user` wrote to the bot in their direct chat (`channel`). True when a capability took it (an
        anonymous reporter's answer, passed on); False: the platform answers it (with help). Raises Unavailable
        when it could not be looked at."""
        # only keyed digests of its ids are kept: which direct chat wrote when is not written down
        digest = self._sealer.digest if self._sealer else (lambda i: hashlib.sha256(i.encode()).hexdigest()[:48])
        message = Reply(channel=channel, thread="", text=text, ids=tuple(digest(i) for i in ids if i))
        return await self._offer(external_id, user, message, self.registry.privates, deliver=deliver, raced=True)

    async def _offer(
        self, external_id: str, user: str, message: Reply, handlers: list[ReplyHandler], *, deliver: bool, raced: bool
    ) -> bool:
        """Offer a message to the capabilities that take such messages; `raced`: what to answer when the same
        message was taken concurrently by another worker."""
        ws = await self.workspace(external_id)

        def take(act: Act) -> bool:
            return any(handler(act, message) for handler in handlers)

        try:
            taken = await self._act(ws, Actor(user), take)
        except IntegrityError:  # the same event processed concurrently by another worker
            return raced
        if taken and deliver:
            await self.deliver()
        return taken

    async def thread_of(self, external_id: str, number: int) -> ThreadView | None:
        """Improvement #number's thread as it reads now (card first), once its card is posted."""
        ws = await self.workspace(external_id)
        card_view = self.registry.card
        assert card_view is not None, "no capability registered the improvement's card"
        return await self._run(lambda session: thread_view(session, ws, number, card_view))
