"""What visible data offers, registered in one place: `list` and `#12` (answered privately, through the outbox so
their thread links resolve)."""

from __future__ import annotations

from bot.core.commands import Invocation, Subcommand
from bot.core.outcomes import Done, Notice, Outcome
from bot.core.registry import Act, Registry
from bot.delivery.outbox import Outbox
from bot.improvements.card import card_of
from bot.insights import lists, views


def register(registry: Registry) -> None:
    registry.command(
        Subcommand(
            name="list",
            aliases=("ls", "search"),
            summary="The open improvements, newest first (only you see it).",
            usage=f"[{lists.USAGE}]",
            args=r".{0,200}",
            rights=True,  # `waiting` includes the approvals an approver may decide
            run=_list,
        )
    )
    registry.command(
        Subcommand(
            name="show",
            aliases=("#",),
            summary="One improvement: its card as it reads now and a link to its thread (only you see it).",
            usage="#12",
            args=r"#?[0-9]{1,9}",
            run=_show,
        )
    )


def _where(invocation: Invocation) -> str:
    return invocation.context.get("channel", "")


def _list(act: Act, invocation: Invocation) -> Outcome:
    try:
        query = lists.parse(invocation.args, act.ws.settings.process_areas)
    except lists.BadQuery as exc:
        return Notice(str(exc))
    rows, total = lists.run(act.session, act.ws, act.actor, query)
    message = views.listing(rows, total, query, act.ws.settings, invocation.word)
    Outbox(act.session, act.ws.id, act.now).private(act.actor.user, message, where=_where(invocation))
    return Done()


def _show(act: Act, invocation: Invocation) -> Outcome:
    number = int(invocation.args.lstrip("#"))
    improvement = lists.find(act.session, act.ws, number)
    if improvement is None:
        return Notice(views.not_found(number, invocation.word))
    message = views.one(card_of(act.session, improvement, act.ws.settings), improvement)
    Outbox(act.session, act.ws.id, act.now).private(act.actor.user, message, where=_where(invocation))
    return Done()
