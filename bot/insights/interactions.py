"""What visible data offers, registered in one place: `list` and `#12` (answered privately, through the outbox so
their thread links resolve), `home` (the person's home view, rendered by the service: bot.insights.home), `export`
(two CSV files, written when they are delivered), the team chart, and forgetting expired download links."""

from __future__ import annotations

from bot.core.audit import audit
from bot.core.commands import Invocation, Subcommand
from bot.core.messages import Message, Paragraph, Text
from bot.core.outcomes import Done, Notice, Outcome, ShowHome
from bot.core.registry import Act, Registry, TickJob
from bot.delivery.outbox import Outbox
from bot.improvements.card import card_of
from bot.insights import export, lists, team, team_chart, views
from storage import downloads, queries


def register(registry: Registry) -> None:
    registry.command(
        Subcommand(
            name="list",
            summary="The open improvements, what customers notice and what bites most people first (only you see it).",
            usage=f"[{lists.USAGE}]",
            # a filter word first: "/improve list prices are wrong" is a report, not a list
            args=r"((mine|waiting|area|status)\b.{0,200})?",
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

    registry.command(
        Subcommand(
            name="home",
            summary="Your home: what waits on you, your improvements, the team's figures and charts.",
            reads=False,
            run=lambda _act, _invocation: ShowHome(),
        )
    )
    registry.command(
        Subcommand(
            name="export",
            summary="Approvers and admins: every improvement and the audit trail as CSV files, in a direct message.",
            rights=True,
            admin=True,
            run=_export,
        )
    )
    registry.file("export", export.render)
    registry.chart(team.CHART, team_chart.draw)
    registry.tick(TickJob("downloads expired", lambda session, _platform, now: downloads.purge(session, now)))


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


def _export(act: Act, invocation: Invocation) -> Outcome:
    if not (act.actor.is_approver or act.actor.is_admin):
        return Notice("Only approvers and workspace admins can export the improvements.")
    outbox = Outbox(act.session, act.ws.id, act.now)
    said = "Exporting: two files (every improvement, and the audit trail) arrive in a direct message."
    outbox.private(act.actor.user, Message(summary=said, blocks=[Paragraph(spans=[Text(text=said)])]),
                   where=_where(invocation))  # fmt: skip
    day = act.now.date().isoformat()
    for kind, title in ((export.IMPROVEMENTS, "Every improvement"), (export.AUDIT, "The audit trail")):
        outbox.file(act.actor.user, {"file": "export", "export": kind, "workspace_id": act.ws.id, "day": day,
                                     "title": f"{title} as of {day} (CSV)"})  # fmt: skip
    audit(act.session, act.ws.id, None, act.actor.user, "exported", act.now)
    return Done()


def _show(act: Act, invocation: Invocation) -> Outcome:
    number = int(invocation.args.lstrip("#"))
    improvement = queries.improvement_by_number(act.session, act.ws.id, number)
    if improvement is None:
        return Notice(views.not_found(number, invocation.word))
    message = views.one(card_of(act.session, improvement, act.ws.settings), improvement)
    Outbox(act.session, act.ws.id, act.now).private(act.actor.user, message, where=_where(invocation))
    return Done()
