"""The check-in answer form: a fresh reading of the metric (a number) and a note, both optional."""

from __future__ import annotations

from bot.core.messages import Form, NumberInput, TextInput
from bot.core.metrics import Metric
from bot.improvements.forms import MAX_METRIC, measured_intro, reading_label

CHECKIN = "checkin"


def checkin_form(number: int, answer: str, measure: str | None, metric: Metric, context: dict[str, str]) -> Form:
    title = f"#{number} still holding" if answer == "holding" else f"#{number} slipping"
    return Form(
        form_id=CHECKIN,
        title=title,
        submit_label="Send",
        intro=measured_intro(measure, metric),
        context=context,
        fields=[
            NumberInput(
                id="reading",
                label=reading_label(metric),
                minimum=-MAX_METRIC,
                maximum=MAX_METRIC,
                hint="A number: it goes on the fix's control chart.",
            ),
            TextInput(id="note", label="A note for the team", required=False, multiline=True, max_length=1000),
        ],
    )
