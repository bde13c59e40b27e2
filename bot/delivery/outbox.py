"""Save first, notify second: messages are rows written in the same transaction as the change they announce."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from bot.core.messages import Message
from storage.models import HomeView, Improvement, OutboxMessage

# a home not opened for this long is not published on changes (opening it publishes it as it is then)
HOME_KEPT_FRESH = timedelta(days=30)


class Outbox:
    """Collects what one use case wants said; bound to its transaction."""

    def __init__(self, session: Session, workspace_id: int, now: datetime) -> None:
        self._session = session
        self._workspace_id = workspace_id
        self._now = now

    def _add(self, kind: str, improvement: Improvement | None, **fields: Any) -> OutboxMessage:
        row = OutboxMessage(
            workspace_id=self._workspace_id,
            improvement_id=improvement.id if improvement else None,
            kind=kind,
            next_attempt_at=self._now,
            created_at=self._now,
            **fields,
        )
        self._session.add(row)
        return row

    def refresh_card(self, improvement: Improvement) -> None:
        """Post the improvement's card (first time) or edit it in place (every time after); the home views of its
        reporter and owner follow."""
        self._add("card", improvement)
        self.refresh_homes([improvement.reporter_id, improvement.owner_id or ""])

    def refresh_homes(self, users: Iterable[str]) -> None:
        """Publish again the home views (Slack's App Home) of those of `users` who opened theirs lately
        (HOME_KEPT_FRESH), once each however many changes come before it goes (a row not yet taken by delivery
        covers them all). A row queued while an earlier one is on its way goes after it, never before (a view
        rendered earlier must not land last)."""
        wanted = {user for user in users if user}
        if not wanted:
            return
        opened = set(
            self._session.exec(
                select(HomeView.user_id).where(
                    HomeView.workspace_id == self._workspace_id,
                    col(HomeView.user_id).in_(wanted),
                    col(HomeView.opened_at) >= self._now - HOME_KEPT_FRESH,
                )
            ).all()
        )
        if not opened:
            return
        waiting: set[str] = set()
        sending: dict[str, int] = {}
        for row_id, user, claimed in self._session.exec(
            select(OutboxMessage.id, OutboxMessage.target, OutboxMessage.claimed_by)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.workspace_id == self._workspace_id,
                OutboxMessage.kind == "home",
                col(OutboxMessage.target).in_(opened),
            )
            .with_for_update()  # a row this change relies on is not claimed (and rendered) before the change commits
        ).all():
            if claimed is None:
                waiting.add(user or "")
            else:
                sending[user or ""] = max(sending.get(user or "", 0), row_id or 0)
        for user in sorted(opened - waiting):
            self._add("home", None, target=user, after_id=sending.get(user))

    def reply(self, improvement: Improvement, message: Message, *, key: str | None = None) -> None:
        """A reply in the improvement's thread; `key` remembers it for a later in-place edit."""
        self._add("thread", improvement, key=key, payload=message.model_dump(mode="json"))

    def edit(self, improvement: Improvement, key: str, message: Message) -> None:
        self._add("update", improvement, key=key, payload=message.model_dump(mode="json"))

    def dm(
        self, user: str, message: Message, *, improvement: Improvement | None = None, key: str | None = None
    ) -> None:
        """A direct message; `key` remembers it (with an improvement) for a later in-place edit."""
        self._add("dm", improvement, target=user, key=key, payload=message.model_dump(mode="json"))

    def chart(self, channel: str, payload: dict[str, Any], *, after: OutboxMessage) -> None:
        """A chart image posted to a channel once `after` has gone out; drawn when it is delivered (the payload
        names its kind: bot.core.registry.Registry.chart)."""
        self._session.flush()  # `after` needs its id
        self._add("chart", None, target=channel, payload=payload, after_id=after.id)

    def thread_chart(self, improvement: Improvement, payload: dict[str, Any]) -> None:
        """A chart image in the improvement's thread, in order with its other messages."""
        self._add("chart", improvement, payload=payload)

    def private(self, user: str, message: Message, *, where: str = "", improvement: Improvement | None = None) -> None:
        """A message only `user` sees, where they acted when the platform can (Slack: ephemeral in `where`), else
        in their direct messages. Like every message it waits out an outage instead of being lost."""
        payload = {"where": where, "message": message.model_dump(mode="json")}
        self._add("private", improvement, target=user, payload=payload)

    def file(self, user: str, payload: dict[str, Any]) -> None:
        """A file only `user` gets, written when it is delivered (its payload names its kind: Registry.file)."""
        self._add("file", None, target=user, payload=payload)

    def post(self, channel: str, message: Message, *, improvement: Improvement | None = None) -> OutboxMessage:
        return self._add("channel", improvement, target=channel, payload=message.model_dump(mode="json"))
