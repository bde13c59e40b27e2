"""The forms of the improvement lifecycle: report, propose a fix, decline or ask, implemented.
Their answers are validated by bot.core.forms.validate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.core.domain import CloseReason, Frequency
from bot.core.messages import Checkbox, DatePicker, Form, NumberInput, Option, Select, TextInput, UserPicker
from bot.core.metrics import Direction, Metric, better, number_text
from bot.core.workspace import WorkspaceSettings

REPORT = "report"
PROPOSE = "propose"
DECLINE = "decline"
QUESTION = "question"
IMPLEMENTED = "implemented"
EDIT_REPORT = "edit_report"
CLOSE = "close"

OTHER_AREA = "Other"
MAX_PROBLEM = 3000
MIN_PROBLEM = 10  # "x" is not a report: nobody else could tell what is broken
MAX_HOURS_PER_WEEK = 60  # per person: more than a full working week is not a lost hour, it is a typo
MAX_PEOPLE = 1000
MAX_CUSTOMERS_HOW = 300
MAX_SHORT = 200
MAX_UNIT = 40
MAX_METRIC = 1_000_000_000  # a reading beyond a billion is a typo


ANONYMOUS = Checkbox(
    id="anonymous", label="Anonymous", option_label="Report anonymously: the card will say “a teammate”"
)


SHARED = "shared"  # in a command's context: the form it opens is a card everyone in the conversation sees (Teams)


def without_anonymity(form: Form) -> Form:
    """The report form as a card in a channel: who opened it is seen there, so it cannot be anonymous."""
    intro = f"{form.intro} To report anonymously, write “improve” in your chat with the bot."
    return form.model_copy(update={"fields": [f for f in form.fields if f.id != ANONYMOUS.id], "intro": intro})


def report_form(settings: WorkspaceSettings, prefill: str = "", context: dict[str, str] | None = None) -> Form:
    areas = [Option(value=a, label=a) for a in settings.process_areas if a != OTHER_AREA]
    areas.append(Option(value=OTHER_AREA, label=OTHER_AREA))
    return Form(
        form_id=REPORT,
        title="Report a broken process",
        submit_label="Report",
        intro="Whoever sees the problem is the best person to fix it. Tell us what bites, and roughly how much.",
        context=context or {},
        fields=[
            TextInput(
                id="problem",
                label="What's broken?",
                multiline=True,
                max_length=MAX_PROBLEM,
                min_length=MIN_PROBLEM,
                initial=prefill[:MAX_PROBLEM] or None,
                placeholder="e.g. Every campaign email is reviewed three times by eight people",
            ),
            Select(id="area", label="Process area", options=areas),
            Select(
                id="frequency",
                label="How often does it bite?",
                options=[Option(value=f.value, label=f.label) for f in Frequency],
                initial=Frequency.WEEKLY.value,
            ),
            NumberInput(
                id="hours_per_week",
                label="Hours lost per week (per person)",
                maximum=MAX_HOURS_PER_WEEK,
                hint="A rough guess is fine: it makes the case for fixing it.",
            ),
            NumberInput(id="people", label="People affected", decimal=False, minimum=1, maximum=MAX_PEOPLE),
            Checkbox(id="customers_notice", label="Customers", option_label="Customers notice this"),
            TextInput(
                id="customers_how",
                label="How do customers notice it?",
                required=False,
                max_length=MAX_CUSTOMERS_HOW,
                placeholder="e.g. They get two welcome emails",
            ),
            TextInput(
                id="idea",
                label="Your idea for a fix",
                required=False,
                multiline=True,
                max_length=MAX_PROBLEM,
            ),
            *([ANONYMOUS] if settings.anonymous_reports else []),
        ],
    )


@dataclass(frozen=True)
class ReportFacts:
    problem: str
    area: str
    frequency: str
    hours_per_week: float | None
    people: int | None
    customers_notice: bool
    customers_how: str | None = None
    voices: int = 0  # people who said Me too (counted in `people` until approval)


LOCKED_CASE = ("hours_per_week", "people")


def edit_report_form(
    settings: WorkspaceSettings, number: int, facts: ReportFacts, context: dict[str, str], *, locked: bool = False
) -> Form:
    """The report's facts, prefilled: the same fields and limits as the report (the idea stays as it was said).
    `locked`: the case was approved, so its hours and people are no longer the report's to change."""
    initial = {
        "problem": facts.problem,
        "area": facts.area,
        "frequency": facts.frequency,
        "hours_per_week": facts.hours_per_week,
        "people": facts.people,
        "customers_notice": facts.customers_notice,
        "customers_how": facts.customers_how,
    }
    fields = []
    for field in report_form(settings).fields:
        if field.id not in initial or (locked and field.id in LOCKED_CASE):
            continue
        update: dict[str, object] = {"initial": initial[field.id]}
        if isinstance(field, Select) and initial[field.id] not in {o.value for o in field.options}:
            update["initial"] = None  # an area since removed from the settings: pick a current one
        if field.id == "people" and facts.voices:
            update["hint"] = f"Includes the {facts.voices:,} who said Me too; the number you save stands."
        fields.append(field.model_copy(update=update))
    return Form(
        form_id=EDIT_REPORT,
        title=f"Edit #{number}'s report",
        submit_label="Save",
        intro="Fix a typo or a number: the card and the case are updated in place, and the thread is told."
        + (" The case was approved, so its hours and people stay as approved." if locked else ""),
        context=context,
        fields=fields,
    )


def close_form(number: int, reasons: list[CloseReason], context: dict[str, str]) -> Form:
    return Form(
        form_id=CLOSE,
        title=f"Close #{number}",
        submit_label="Close it",
        intro="A closed improvement leaves every list, reminder and check-in. An approver can reopen it.",
        context=context,
        fields=[
            Select(id="reason", label="Why close it?", options=[Option(value=r.value, label=r.label) for r in reasons],
                   initial=reasons[0].value if len(reasons) == 1 else None),
            TextInput(id="note", label="A word for the team (required for won't fix)", required=False, multiline=True,
                      max_length=1000),
            NumberInput(id="duplicate_of", label="Duplicate of # (for a duplicate)", decimal=False, minimum=1,
                        maximum=10_000_000),
        ],
    )  # fmt: skip


@dataclass(frozen=True)
class ProposalPrefill:
    countermeasure: str | None = None
    measure: str | None = None
    unit: str | None = None
    direction: str | None = None
    baseline: float | None = None
    target: float | None = None
    baseline_was: str | None = None  # what was typed before metrics were numbers, where it did not parse
    target_was: str | None = None
    not_to_do: str | None = None
    owner: str | None = None
    due_date: str | None = None


def propose_form(number: int, prefill: ProposalPrefill, context: dict[str, str]) -> Form:
    return Form(
        form_id=PROPOSE,
        title=f"Propose a fix for #{number}",
        submit_label="Ask for approval",
        intro="Name the fix, how you will know it worked, and what work it lets someone stop doing.",
        context=context,
        fields=[
            TextInput(id="countermeasure", label="The fix (countermeasure)", multiline=True,
                      initial=prefill.countermeasure),
            TextInput(id="measure", label="How will we measure it?", multiline=True, max_length=1000,
                      initial=prefill.measure,
                      placeholder="e.g. Duplicate leads per week, counted in the CRM every Friday"),
            TextInput(id="unit", label="Unit", required=False, max_length=MAX_UNIT, initial=prefill.unit,
                      placeholder="e.g. duplicates/week, %, hours"),
            Select(id="direction", label="Which way is better?", options=DIRECTIONS,
                   initial=prefill.direction or Direction.LOWER.value),
            NumberInput(id="baseline", label="Baseline now (a number)", minimum=-MAX_METRIC, maximum=MAX_METRIC,
                        initial=prefill.baseline, hint=_was(prefill.baseline_was)),
            NumberInput(id="target", label="Target (a number)", minimum=-MAX_METRIC, maximum=MAX_METRIC,
                        initial=prefill.target, hint=_was(prefill.target_was)),
            TextInput(id="not_to_do", label="What work does it let someone stop doing?", required=False,
                      multiline=True, max_length=1000, initial=prefill.not_to_do,
                      placeholder="e.g. The Monday dedupe spreadsheet"),
            UserPicker(id="owner", label="Owner", initial=prefill.owner),
            DatePicker(id="due_date", label="Due date", initial=prefill.due_date),
        ],
    )  # fmt: skip


DIRECTIONS = [Option(value=d.value, label=d.label.capitalize()) for d in Direction]


def _was(text: str | None) -> str | None:
    return f"Was written as “{text}”: enter it as a number, so progress can be measured." if text else None


def check_metric(values: dict[str, Any]) -> dict[str, str]:
    """A target that is worse than the baseline (the way the metric gets better) is a mix-up of the two."""
    baseline, target = values.get("baseline"), values.get("target")
    direction = Direction(values.get("direction") or Direction.LOWER.value)
    if baseline is None or target is None or baseline == target or better(target, baseline, direction):
        return {}
    other = Direction.HIGHER if direction is Direction.LOWER else Direction.LOWER
    side = "below" if direction is Direction.LOWER else "above"
    return {"target": f"With {direction.label}, the target should be {side} the baseline ({number_text(baseline)}). "
                      f"Or is {other.label}?"}  # fmt: skip


def reason_form(form_id: str, number: int, context: dict[str, str]) -> Form:
    if form_id == DECLINE:
        title, label, submit = f"Decline #{number}", "Why is it declined?", "Decline"
    else:
        title, label, submit = f"Ask about #{number}", "Your question", "Ask"
    return Form(
        form_id=form_id,
        title=title,
        submit_label=submit,
        context=context,
        fields=[TextInput(id="text", label=label, multiline=True, max_length=MAX_PROBLEM)],
    )


def reading_label(metric: Metric) -> str:
    return f"What does the metric read now? ({metric.unit})" if metric.unit else "What does the metric read now?"


def measured_intro(measure: str | None, metric: Metric) -> str | None:
    """'Measured by: Duplicate leads per week (baseline 40/week, target 5/week)'."""
    if not measure:
        return None
    numbers = [f"{name} {shown}" for name, shown in (("baseline", metric.baseline_shown),
                                                       ("target", metric.target_shown)) if shown]  # fmt: skip
    return f"Measured by: {measure}" + (f" ({', '.join(numbers)})" if numbers else "")


def implemented_form(number: int, measure: str | None, metric: Metric, context: dict[str, str]) -> Form:
    return Form(
        form_id=IMPLEMENTED,
        title=f"#{number} implemented",
        submit_label="Mark implemented",
        intro=measured_intro(measure, metric),
        context=context,
        fields=[
            NumberInput(
                id="metric_now", label=reading_label(metric), required=True, minimum=-MAX_METRIC, maximum=MAX_METRIC
            ),
            TextInput(id="note", label="A note for the team", required=False, multiline=True, max_length=1000),
        ],
    )
