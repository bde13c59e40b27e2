"""`/improve list`: the open improvements (bot.improvements.ranking, then newest first), narrowed by `mine`,
`waiting`, `area <name>` and `status <status>` (they combine); `/improve #12`: one improvement. Private to the
person asking."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from sqlalchemy import func
from sqlmodel import Session, col, or_, select

from bot.core.domain import Status
from bot.core.outcomes import Actor
from bot.core.workspace import WorkspaceRef
from bot.improvements.ranking import ranked
from bot.insights.waiting import waiting_on
from storage.models import Improvement

PAGE = 15  # lines in one answer: the rest is counted, and the filters say how to narrow it
DONE = (Status.CLOSED.value, Status.SUSTAINED.value)  # not open: listed only when asked for by status

STATUS_WORDS: dict[str, Status] = {
    **{s.value.replace("_", " "): s for s in Status},
    **{s.label.lower(): s for s in Status},
    "whys": Status.INVESTIGATING,
    "root cause": Status.ROOT_CAUSE_FOUND,
    "approval": Status.AWAITING_APPROVAL,
    "question": Status.QUESTION_ASKED,
    "in progress": Status.APPROVED,
    "done": Status.IMPLEMENTED,
}
USAGE = "mine · waiting · area <name> · status <status>"


@dataclass(frozen=True)
class Query:
    mine: bool = False
    waiting: bool = False
    area: str | None = None
    status: Status | None = None

    @property
    def said(self) -> str:
        """How the answer names what was asked: 'yours, in Sales, approved'."""
        parts = ["waiting on you" if self.waiting else "", "yours" if self.mine else ""]
        parts += [f"in {self.area}" if self.area else "", self.status.label.lower() if self.status else "open"]
        return ", ".join(p for p in parts if p)


class BadQuery(ValueError):
    pass


def parse(args: str, areas: list[str]) -> Query:
    """'mine area sales status in progress' -> Query. An area is matched without regard to case; an unknown
    area or status is refused with what there is."""
    text = " ".join(args.lower().split())
    query = Query()
    while text:
        word, _, rest = text.partition(" ")
        if word == "mine":
            query, text = replace(query, mine=True), rest
        elif word == "waiting":
            query, text = replace(query, waiting=True), rest
        elif word in ("area", "status"):
            value, text = _value(rest)
            by_phrase = {a.lower(): a for a in areas} if word == "area" else STATUS_WORDS
            phrase = next((p for p in sorted(by_phrase, key=len, reverse=True) if value.startswith(p)), None)
            if phrase is None:
                if word == "area":
                    raise BadQuery(f"There is no process area “{value[:40]}”. Areas: {', '.join(areas)}.")
                statuses = ", ".join(s.label.lower() for s in Status)
                raise BadQuery(f"There is no status “{value[:40]}”. Statuses: {statuses}.")
            if word == "area":
                query = replace(query, area=next(a for a in areas if a.lower() == phrase))
            else:
                query = replace(query, status=STATUS_WORDS[phrase])
            text = (value[len(phrase) :].strip() + " " + text).strip()
        else:
            raise BadQuery(f"I can list by {USAGE}; “{word[:40]}” is none of those.")
    return query


def _value(text: str) -> tuple[str, str]:
    """What follows `area`/`status`: everything up to the next filter word."""
    match = re.search(r"\b(mine|waiting|area|status)\b", text)
    return (text[: match.start()].strip(), text[match.start() :]) if match else (text.strip(), "")


def run(session: Session, ws: WorkspaceRef, actor: Actor, query: Query) -> tuple[list[Improvement], int]:
    """The first PAGE improvements the query asks for, ranked then newest first, and how many there are in all."""
    conditions = [col(Improvement.workspace_id) == ws.id]
    if query.status is not None:
        conditions.append(col(Improvement.status) == query.status.value)
    else:
        conditions.append(col(Improvement.status).notin_(DONE))
    if query.area is not None:
        conditions.append(func.lower(Improvement.area) == query.area.lower())
    if query.mine:
        conditions.append(or_(col(Improvement.reporter_id) == actor.user, col(Improvement.owner_id) == actor.user))
    if query.waiting:
        ids = [imp.id for imp in waiting_on(session, ws, actor).improvements]
        conditions.append(col(Improvement.id).in_(ids))
    total = session.exec(select(func.count()).select_from(Improvement).where(*conditions)).one()
    rows = session.exec(
        select(Improvement).where(*conditions).order_by(*ranked(), col(Improvement.number).desc()).limit(PAGE)
    ).all()
    return list(rows), int(total)
