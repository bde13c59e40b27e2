"""The control chart after a check-in's reading, and what follows when the reading signals: called out in the
thread and, when the owner had said "still holding", one question to them, "is it slipping?"."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.core.audit import audit
from bot.core.calendar import zone
from bot.core.clock import as_utc
from bot.core.domain import Status
from bot.core.messages import clip
from bot.core.outcomes import Actor, Refused
from bot.core.workspace import WorkspaceRef
from bot.delivery.outbox import Outbox
from bot.improvements import readings
from bot.improvements.card import title_of
from bot.improvements.ledger import metric_of
from bot.sustain import control, cycle
from bot.sustain import views as checkin_views
from storage.models import Checkin, Improvement


def signal_key(checkin: Checkin) -> str:
    return f"signal:{checkin.id}"


def control_of(session: Session, ws: WorkspaceRef, improvement: Improvement) -> tuple[dict[str, Any] | None, list[str]]:
    """The fix's control chart (once it has its baseline and two readings in this cycle), and what the latest
    reading signals (beyond a limit on the wrong side, or worse than the baseline)."""
    metric = metric_of(improvement)
    points = [(as_utc(r.at), float(r.value or 0)) for r in readings.of_cycle(session, improvement)]
    chart = None
    if control.charted(metric, points):
        title = clip(improvement.measure or title_of(improvement), 80)
        chart = control.payload(improvement.number, title, metric, points, zone(ws.settings.timezone))
    return chart, control.judge(metric, [value for _, value in points]).signals


def ask(checkin: Checkin, improvement: Improvement, signals: list[str], outbox: Outbox) -> None:
    """ "Is it slipping?" to the owner; until they answer, the fix is not sustained."""
    checkin.signal = cycle.ASKED
    asking = checkin_views.is_it_slipping(checkin, improvement, signals)
    outbox.dm(checkin.owner_id, asking, improvement=improvement, key=signal_key(checkin))


def after_signal(
    session: Session, ws: WorkspaceRef, actor: Actor, checkin_id: int, slipping: bool, now: datetime
) -> Improvement:
    """The answer to "is it slipping?", once: slipping reopens the fix as a slipping check-in would; holding is
    noted, and a fix whose every check-in now held is sustained."""
    checkin, improvement = cycle.load(session, ws, checkin_id)
    if actor.user != checkin.owner_id and not actor.is_approver:
        raise Refused("Only the owner of the fix (or an approver) can answer this.")
    live = checkin.cycle == improvement.cycle and improvement.status == Status.IMPLEMENTED.value
    if checkin.signal != cycle.ASKED or not live:
        raise Refused(f"#{improvement.number} has moved on since this reading; nothing to answer.")
    checkin.signal = "slipping" if slipping else "holding"
    session.add(checkin)
    outbox = Outbox(session, ws.id, now)
    outbox.edit(improvement, signal_key(checkin), checkin_views.signal_answered(checkin, improvement, slipping))
    if slipping:
        outbox.reply(improvement, checkin_views.slipping_after_all(improvement, checkin, actor.user))
    cycle.settle(session, ws, improvement, checkin, outbox, now, slipping=slipping)
    audit(session, ws.id, improvement, actor.user, "signal_slipping" if slipping else "signal_holding", now,
          checkin=checkin.position)  # fmt: skip
    return improvement
