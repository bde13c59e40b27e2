"""An improvement's thread as it reads now: its card, then every message the bot said in it (each as last
edited) with each why's answer right under its question (the console shows threads from this)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bot.core.messages import Message
from bot.core.registry import CardView
from bot.core.workspace import WorkspaceRef
from bot.improvements.anonymous import PASSED_ON
from storage import queries


@dataclass(frozen=True)
class ThreadEntry:
    """One message in a thread after the card: the bot's (`message`), or a person's answer to a why (`who`, `text`)."""

    at: datetime
    message: Message | None = None
    who: str = ""
    text: str = ""


@dataclass(frozen=True)
class ThreadView:
    channel: str
    ref: str
    card: Message
    entries: list[ThreadEntry]  # in the order they were said


def thread_view(session: Session, ws: WorkspaceRef, number: int, card_view: CardView) -> ThreadView | None:
    """None until the improvement's card is posted."""
    improvement = queries.improvement_by_number(session, ws.id, number)
    card = queries.posted(session, improvement.id or 0, "card") if improvement else None
    if improvement is None or card is None:
        return None
    latest: dict[str, ThreadEntry] = {}
    for row in queries.delivered_in_thread(session, improvement.id or 0):
        key = row.key or f"row:{row.id}"
        if row.kind == "update" and key not in latest:
            continue  # an edit of a message outside the thread (a DM)
        at = latest[key].at if key in latest else row.created_at
        latest[key] = ThreadEntry(at=at, message=Message.model_validate(row.payload))
    answers = {  # each right under the question it answers
        why.message_key or f"why:{why.position}": ThreadEntry(
            at=why.answered_at, who=why.answered_by or "", text=why.answer or ""
        )
        for why in queries.whys_of(session, improvement.id or 0)
        if why.answer and why.answered_at and why.answer_ref != PASSED_ON  # said in private: passed on above
    }
    entries: list[ThreadEntry] = []
    for key, entry in latest.items():
        entries += [entry, answers[key]] if key in answers else [entry]
    head = card_view(session, improvement, ws.settings)
    return ThreadView(channel=card.channel, ref=card.ref, card=head, entries=entries)
