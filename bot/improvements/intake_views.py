"""What similar reports at intake look like: the report form again with the offer at its top, and the reply that
carries a voice's own words into the thread of the problem it joined. Pure functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.forms import prefilled
from bot.core.messages import Form, Mention, Message, Option, Paragraph, Quote, Select, clip, spans

CHOICE = "similar"  # the field the offer adds to the report form
NEW = "new"  # its answer for "report it as new"; any other is an improvement's id
OFFERED = "offered"  # in the form's context: "id:number" of each problem offered, comma-separated
QUOTE_LIMIT = 500


@dataclass(frozen=True)
class Match:
    """An open problem a new report looks like."""

    id: int
    number: int
    problem: str
    voices: int
    score: float


def _title(match: Match, limit: int) -> str:
    return f"#{match.number} “{clip(' '.join(match.problem.split()), limit)}”"


def choice_field(options: Sequence[tuple[str, str]]) -> Select:
    """The offer's question; `options`: (improvement id, what it is called) of each open problem offered."""
    voice = [Option(value=value, label=clip(f"Add my voice to {label}", 75)) for value, label in options]
    return Select(id=CHOICE, label="Is it the same problem?",
                  options=[*voice, Option(value=NEW, label="No, report it as new")])  # fmt: skip


def offer_form(report: Form, values: Mapping[str, Any], context: Mapping[str, str], found: Sequence[Match]) -> Form:
    """`report` (the report form) with what was typed, and the similar open problems offered first."""
    first = found[0]
    voices = f" ({first.voices + 1:,} people so far)" if first.voices else ""
    also = ", ".join(_title(m, 60) for m in found[1:])
    intro = (
        f"This looks like {_title(first, 120)}{voices}{f', or {also}' if also else ''}. Add your voice to it "
        "instead: you count once, what you wrote goes into its thread, and its case grows with you. Or report it "
        "as new."
    )
    field = choice_field([(str(m.id), _title(m, 45)) for m in found])
    context = {**context, OFFERED: ",".join(f"{m.id}:{m.number}" for m in found)}
    form = prefilled(report, values)
    return form.model_copy(update={"intro": intro, "submit_label": "Continue", "context": context,
                                   "fields": [field, *form.fields]})  # fmt: skip


def voice_reply(user: str, values: Mapping[str, Any]) -> Message:
    """In the joined problem's thread: the new voice, in their own words."""
    blocks: list[Any] = [
        Paragraph(spans=spans("🙋 ", Mention(user=user), " says this bites them too:")),
        Quote(spans=spans(clip(str(values.get("problem") or ""), QUOTE_LIMIT))),
    ]
    if values.get("customers_notice") and not values.get("customers_how"):
        blocks.append(Paragraph(spans=spans("They say customers notice it.")))
    for key, label in (("customers_how", "How customers notice it"), ("idea", "Their idea")):
        if values.get(key):
            blocks.append(Paragraph(spans=spans(f"{label}: {clip(str(values[key]), QUOTE_LIMIT)}")))
    return Message(summary="Someone says this bites them too", blocks=blocks)
