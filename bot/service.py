"""The product's front door for every platform: commands, clicks, form answers and thread replies.

Handlers parse their platform's payload into these plain calls and render the outcome natively.
Each call: resolve the workspace and the actor's rights, run one use case in one transaction (in a worker
thread, so the event loop stays free for acks), then deliver the outbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot import checkin_views, checkins, forms, lifecycle, views
from bot.clock import Clock
from bot.delivery import Delivery, FlushReport
from bot.lifecycle import Actor, Refused
from bot.messages import Form, FormValue, Message
from bot.ports import Directory
from bot.workspace import WorkspaceRef, WorkspaceSettings, ensure_workspace
from storage import queries
from storage.db import transaction

log = logging.getLogger("improvebot.service")
T = TypeVar("T")


@dataclass(frozen=True)
class OpenForm:
    form: Form


@dataclass(frozen=True)
class Notice:
    """A short private message to the person who acted."""

    text: str


@dataclass(frozen=True)
class FormErrors:
    errors: dict[str, str]


@dataclass(frozen=True)
class Done:
    pass


@dataclass(frozen=True)
class ThreadView:
    channel: str
    ref: str
    messages: list[Message]


Outcome = OpenForm | Notice | FormErrors | Done

STALE = "That button or form is out of date. Scroll to the latest message in the thread."


class ImproveService:
    def __init__(
        self,
        *,
        engine: Engine,
        clock: Clock,
        platform: str,
        settings_for: Callable[[str], WorkspaceSettings],
        directory: Directory,
        delivery: Delivery,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.platform = platform
        self.delivery = delivery
        self._settings_for = settings_for
        self._directory = directory
        self._workspaces: dict[str, WorkspaceRef] = {}
        # SQLite is a local file: a use case's transaction is well under a millisecond of CPU, and handing it to a
        # worker thread costs more (GIL hand-offs delay the acks of concurrent requests; see bench/). PostgreSQL
        # waits on the network, so there the transaction runs in a worker thread and the event loop stays free.
        self._inline_db = engine.dialect.name == "sqlite"

    # -- plumbing ----------------------------------------------------------------------------------

    async def workspace(self, external_id: str) -> WorkspaceRef:
        cached = self._workspaces.get(external_id)
        if cached is not None:
            return cached
        ref = await asyncio.to_thread(self._ensure_workspace, external_id)
        self._workspaces[external_id] = ref
        return ref

    def _ensure_workspace(self, external_id: str) -> WorkspaceRef:
        settings = self._settings_for(external_id)
        for attempt in range(2):
            try:
                with transaction(self.engine) as session:
                    return ensure_workspace(session, self.platform, external_id, settings, self.clock.now())
            except IntegrityError:  # created concurrently by another request: read it on the second pass
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _actor(self, ws: WorkspaceRef, user: str) -> Actor:
        return Actor(user=user, is_approver=await self._directory.is_approver(user, ws.settings.approvers))

    async def _run(self, fn: Callable[[Session], T]) -> T:
        def in_transaction() -> T:
            with transaction(self.engine) as session:
                return fn(session)

        if self._inline_db:
            return in_transaction()
        return await asyncio.to_thread(in_transaction)

    async def deliver(self) -> FlushReport:
        report = await self.delivery.flush()
        for error in report.errors:
            log.warning("delivery: %s", error)
        return report

    # -- reporting ---------------------------------------------------------------------------------

    async def report_form(self, external_id: str, prefill: str, context: dict[str, str]) -> Form:
        ws = await self.workspace(external_id)
        return forms.report_form(ws.settings, prefill, context)

    # -- forms -------------------------------------------------------------------------------------

    def _spec(self, ws: WorkspaceRef, form_id: str) -> Form | None:
        """The shape a submitted form must have, to validate it (no database needed)."""
        if form_id == forms.REPORT:
            return forms.report_form(ws.settings)
        if form_id == forms.PROPOSE:
            return forms.propose_form(0, forms.ProposalPrefill(), {})
        if form_id in (forms.DECLINE, forms.QUESTION):
            return forms.reason_form(form_id, 0, {})
        if form_id == forms.IMPLEMENTED:
            return forms.implemented_form(0, None, None, {})
        if form_id == forms.CHECKIN:
            return forms.checkin_form(0, "holding", None, {})
        return None

    async def form_spec(self, external_id: str, form_id: str) -> Form | None:
        """The shape of a form, to read a platform's answers into (None for an unknown form)."""
        return self._spec(await self.workspace(external_id), form_id)

    async def check_form(
        self, external_id: str, form_id: str, raw: dict[str, FormValue]
    ) -> tuple[dict[str, Any], dict[str, str]] | None:
        """Validate answers (fast, no I/O after the first call): (values, errors), or None for an unknown form."""
        ws = await self.workspace(external_id)
        spec = self._spec(ws, form_id)
        if spec is None:
            return None
        values, errors = forms.validate(spec, raw)
        if form_id == forms.PROPOSE and not errors:
            errors = lifecycle.validate_due_date(values, self.clock.now().date())
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
        """Validate and save. With deliver=False the caller delivers (Slack: after the modal has closed)."""
        checked = await self.check_form(external_id, form_id, raw)
        if checked is None:
            return Notice(STALE)
        values, errors = checked
        if errors:
            return FormErrors(errors)
        ws = await self.workspace(external_id)
        actor = await self._actor(ws, user)
        owner_tz = await self._owner_tz(ws, context) if form_id == forms.IMPLEMENTED else None
        now = self.clock.now()
        try:
            outcome = await self._run(lambda s: self._apply_form(s, ws, actor, form_id, context, values, now, owner_tz))
        except Refused as refusal:
            return Notice(str(refusal))
        except (KeyError, ValueError):
            return Notice(STALE)
        if deliver:
            await self.deliver()
        return outcome

    def _apply_form(
        self,
        session: Session,
        ws: WorkspaceRef,
        actor: Actor,
        form_id: str,
        context: dict[str, str],
        values: dict[str, Any],
        now: datetime,
        owner_tz: str | None = None,
    ) -> Outcome:
        if form_id == forms.REPORT:
            improvement = lifecycle.submit_report(session, ws, actor, values, now)
            return Notice(views.report_received(improvement))
        if form_id == forms.CHECKIN:
            checkins.answer(session, ws, actor, int(context["checkin"]), context.get("answer", ""), values, now)
            return Done()
        improvement_id = int(context["improvement"])
        round_ = int(context["round"]) if "round" in context else None
        if form_id == forms.PROPOSE:
            lifecycle.submit_proposal(session, ws, actor, improvement_id, values, now, resubmit_round=round_)
        elif form_id == forms.DECLINE and round_ is not None:
            lifecycle.decline(session, ws, actor, improvement_id, round_, values["text"], now)
        elif form_id == forms.QUESTION and round_ is not None:
            lifecycle.ask_question(session, ws, actor, improvement_id, round_, values["text"], now)
        elif form_id == forms.IMPLEMENTED:
            improvement = lifecycle.mark_implemented(session, ws, actor, improvement_id, values, now)
            checkins.schedule(session, ws, improvement, owner_tz, now)
        else:
            return Notice(STALE)
        return Done()

    # -- buttons -----------------------------------------------------------------------------------

    async def click(self, external_id: str, user: str, action: str, value: str, *, deliver: bool = True) -> Outcome:
        ws = await self.workspace(external_id)
        try:
            improvement_id, round_ = _parse_value(value)
        except ValueError:
            return Notice(STALE)
        actor = await self._actor(ws, user)
        now = self.clock.now()
        try:
            outcome = await self._run(lambda s: self._apply_click(s, ws, actor, action, improvement_id, round_, now))
        except Refused as refusal:
            return Notice(str(refusal))
        if isinstance(outcome, Done) and deliver:
            await self.deliver()
        return outcome

    async def _owner_tz(self, ws: WorkspaceRef, context: dict[str, str]) -> str | None:
        """The owner's time zone, asked of the platform before the transaction (check-ins land at 10:00 local)."""

        def owner(session: Session) -> str | None:
            improvement = queries.improvement_in(session, ws.id, int(context.get("improvement") or 0))
            return (improvement.owner_id or improvement.reporter_id) if improvement else None

        user = await self._run(owner)
        return await self._directory.timezone(user) if user else None

    def _apply_click(
        self,
        session: Session,
        ws: WorkspaceRef,
        actor: Actor,
        action: str,
        improvement_id: int,
        round_: int | None,
        now: datetime,
    ) -> Outcome:
        if action == views.ROOT_CAUSE:
            lifecycle.root_cause_found(session, ws, actor, improvement_id, now)
            return Done()
        if action == views.PROPOSE:
            return OpenForm(lifecycle.proposal_form(session, ws, actor, improvement_id))
        if action == views.MARK_IMPLEMENTED:
            return OpenForm(lifecycle.implemented_form(session, ws, actor, improvement_id))
        if action in (checkin_views.HOLDING, checkin_views.SLIPPING):
            verdict = "holding" if action == checkin_views.HOLDING else "slipping"
            return OpenForm(checkins.answer_form(session, ws, actor, improvement_id, verdict))
        if action == checkin_views.SNOOZE:
            checkins.snooze(session, ws, actor, improvement_id, now)
            return Done()
        if round_ is None:
            return Notice(STALE)
        if action == views.APPROVE:
            lifecycle.approve(session, ws, actor, improvement_id, round_, now)
            return Done()
        if action == views.DECLINE:
            return OpenForm(lifecycle.check_decision(session, ws, actor, improvement_id, round_, forms.DECLINE))
        if action == views.QUESTION:
            return OpenForm(lifecycle.check_decision(session, ws, actor, improvement_id, round_, forms.QUESTION))
        if action == views.RESUBMIT:
            return OpenForm(lifecycle.proposal_form(session, ws, actor, improvement_id, resubmit_round=round_))
        return Notice(STALE)

    # -- thread replies ----------------------------------------------------------------------------

    async def thread_reply(
        self, external_id: str, *, channel: str, thread: str, user: str, text: str, event_id: str
    ) -> bool:
        """Returns True when the reply was taken as an answer to a why."""
        ws = await self.workspace(external_id)
        now = self.clock.now()
        try:
            improvement = await self._run(
                lambda s: lifecycle.answer_why(
                    s, ws, channel=channel, thread=thread, user=user, text=text, event_id=event_id, now=now
                )
            )
        except IntegrityError:  # the same event processed concurrently by another worker
            return False
        if improvement is not None:
            await self.deliver()
        return improvement is not None

    async def pending_checkins(self, external_id: str, user: str) -> Message:
        """`improve checkins`: the person's check-ins waiting for an answer, with their buttons."""
        ws = await self.workspace(external_id)
        items = await self._run(lambda s: checkins.pending_for(s, ws, user))
        return checkin_views.pending_list(items)

    async def thread_of(self, external_id: str, number: int) -> ThreadView | None:
        """Improvement #number's thread as it reads now (card first), once its card is posted."""
        ws = await self.workspace(external_id)

        def find(session: Session) -> ThreadView | None:
            improvement = queries.improvement_by_number(session, ws.id, number)
            card = queries.posted(session, improvement.id or 0, "card") if improvement else None
            if improvement is None or card is None:
                return None
            latest: dict[str, Message] = {}
            for row in queries.delivered_in_thread(session, improvement.id or 0):
                latest[row.key or f"row:{row.id}"] = Message.model_validate(row.payload)
            head = views.report_card(improvement, queries.whys_of(session, improvement.id or 0), ws.settings)
            return ThreadView(channel=card.channel, ref=card.ref, messages=[head, *latest.values()])

        return await self._run(find)


def _parse_value(value: str) -> tuple[int, int | None]:
    head, _, tail = value.partition(":")
    improvement_id = int(head)
    round_ = int(tail) if tail else None
    if improvement_id <= 0 or (round_ is not None and round_ < 0):
        raise ValueError(value)
    return improvement_id, round_
