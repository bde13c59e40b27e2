"""What the sustain check-ins offer, registered in one place: `checkins` (the person's open check-ins), the
check-in buttons and answer form, check-ins scheduled when a fix is implemented, and the tick's due work."""

from __future__ import annotations

from bot.core.commands import Invocation, Subcommand
from bot.core.domain import Status
from bot.core.metrics import Metric
from bot.core.outcomes import Done, OpenForm, Outcome, Show
from bot.core.registry import Act, Answer, FormHandler, Registry, Target, TickJob
from bot.improvements.implemented import Implemented
from bot.improvements.records import Moved
from bot.sustain import checkins, control_chart, cycle, forms, reminders, signals, views


def register(registry: Registry) -> None:
    registry.command(
        Subcommand(
            name="checkins",
            aliases=("check-ins", "checkin", "check-in"),
            summary="Your check-ins waiting for an answer, with their buttons.",
            run=_pending,
        )
    )
    registry.button(views.HOLDING, lambda act, t: _answer_form(act, t, "holding"))
    registry.button(views.SLIPPING, lambda act, t: _answer_form(act, t, "slipping"))
    registry.button(views.SNOOZE, _snooze)
    registry.button(views.SIGNAL_SLIPPING, lambda act, t: _after_signal(act, t, slipping=True))
    registry.button(views.SIGNAL_HOLDS, lambda act, t: _after_signal(act, t, slipping=False))
    registry.form(
        forms.CHECKIN,
        FormHandler(spec=lambda _settings: forms.checkin_form(0, "holding", None, Metric(), {}), apply=_answered),
    )
    registry.chart("xmr", control_chart.xmr_chart)
    registry.subscribe(Implemented, _schedule)
    registry.subscribe(Moved, _moved)
    registry.tick(TickJob("check-ins", checkins.queue_due, repeat=True))
    registry.tick(TickJob("nudges", checkins.queue_nudges))
    registry.tick(TickJob("missed", checkins.mark_missed))
    registry.tick(TickJob("reminders planned", reminders.plan_missing, repeat=True))
    registry.tick(TickJob("reminders", reminders.queue_due, repeat=True))


def _pending(act: Act, _invocation: Invocation) -> Outcome:
    return Show(views.pending_list(checkins.pending_for(act.session, act.ws, act.actor.user)))


def _answer_form(act: Act, target: Target, verdict: str) -> Outcome:
    return OpenForm(checkins.answer_form(act.session, act.ws, act.actor, target.id, verdict))


def _snooze(act: Act, target: Target) -> Outcome:
    checkins.snooze(act.session, act.ws, act.actor, target.id, act.now)
    return Done()


def _after_signal(act: Act, target: Target, *, slipping: bool) -> Outcome:
    improvement = signals.after_signal(act.session, act.ws, act.actor, target.id, slipping, act.now)
    act.publish(Moved(improvement))  # back in progress (its due date again), or sustained
    return Done()


def _answered(act: Act, answer: Answer) -> Outcome:
    checkin = answer.id("checkin")
    improvement = checkins.answer(
        act.session, act.ws, act.actor, checkin, answer.context.get("answer", ""), answer.values, act.now
    )
    reminders.plan(act.session, act.ws, improvement, act.now)  # slipping: back in progress, its due date again
    return Done()


def _moved(act: Act, event: Moved) -> None:
    """Re-plan the reminders; a closed improvement's check-ins are cancelled with them."""
    reminders.plan(act.session, act.ws, event.improvement, act.now)
    if event.improvement.status == Status.CLOSED.value:
        cycle.cancel_open(act.session, event.improvement.id or 0)


def _schedule(act: Act, event: Implemented) -> None:
    checkins.schedule(act.session, act.ws, event.improvement, event.owner_tz, act.now)
