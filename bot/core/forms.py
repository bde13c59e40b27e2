"""The one validator every platform's form answers go through.

Platforms render a `Form` natively and hand back a dict of raw values (strings, booleans, None); `validate`
turns them into clean values or per-field error messages shown on the form.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from bot.core.messages import (
    ChannelPicker,
    Checkbox,
    DatePicker,
    Form,
    FormValue,
    NumberInput,
    PeoplePicker,
    Select,
    TextInput,
    UserPicker,
)

USER_ID = re.compile(r"[@\w.:-]{1,100}")  # a platform user id, as a person field and a form context carry it
CHANNEL_ID = re.compile(r"#?[\w.:@;=-]{1,200}")  # a platform's channel or conversation id (the console: #name)
MAX_PEOPLE = 50  # in one people field (approvers)
NOT_A_PERSON = "!"  # what a platform's form reader gives for a person field no people picker could have filled
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Text as people typed it, without the control characters no chat shows (NUL first among them: PostgreSQL
    refuses it) and lone surrogates (no UTF-8 can store them); tabs and line breaks stay."""
    return _CONTROL.sub("", text).strip()


def validate(form: Form, raw: dict[str, FormValue]) -> tuple[dict[str, Any], dict[str, str]]:
    """Clean the raw answers against the form. Returns (values, errors by field id)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in form.fields:
        value = raw.get(spec.id)
        try:
            values[spec.id] = _clean(spec, value)
        except ValueError as exc:
            errors[spec.id] = str(exc)
    return values, errors


def prefilled(form: Form, values: Mapping[str, Any]) -> Form:
    """`form` with `values` (clean answers by field id, as `validate` gives them) as its fields' initial values:
    the form shown again with what was typed."""
    fields = []
    for spec in form.fields:
        value = values.get(spec.id)
        if value is not None:
            spec = spec.model_copy(update={"initial": value.isoformat() if isinstance(value, date) else value})
        fields.append(spec)
    return form.model_copy(update={"fields": fields})


def _clean(spec: Any, value: FormValue) -> Any:
    if isinstance(spec, Checkbox):
        return bool(value) and value not in ("false", "0", "")
    if value is not None and not isinstance(value, str):
        raise ValueError("That is not a valid answer.")
    text = clean_text(value or "")
    if not text:
        if getattr(spec, "required", False):
            raise ValueError("This is required.")
        return None
    if isinstance(spec, TextInput):
        if len(text) > spec.max_length:
            raise ValueError(f"Keep it under {spec.max_length:,} characters (this is {len(text):,}).")
        if len(text) < spec.min_length:
            raise ValueError(f"Say a little more, so others can tell what it is: at least {spec.min_length} "
                             f"characters (this is {len(text)}).")  # fmt: skip
        return text
    if isinstance(spec, NumberInput):
        return _number(spec, text)
    if isinstance(spec, Select):
        if text not in {o.value for o in spec.options}:
            raise ValueError("Pick one of the options.")
        return text
    if isinstance(spec, UserPicker):
        if not USER_ID.fullmatch(text):
            raise ValueError("Pick a person.")
        return text
    if isinstance(spec, PeoplePicker):
        people = list(dict.fromkeys(p for p in re.split(r"[\s,]+", text) if p))
        if len(people) > MAX_PEOPLE or not all(USER_ID.fullmatch(p) for p in people):
            raise ValueError(f"Pick up to {MAX_PEOPLE} people.")
        return people
    if isinstance(spec, ChannelPicker):
        if not CHANNEL_ID.fullmatch(text):
            raise ValueError("Pick a channel.")
        return text
    if isinstance(spec, DatePicker):
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError("Use a date like 2026-12-31.") from None
    raise ValueError("Unknown field.")


_GROUP_SPACES = re.compile(r"[+-]?\d{1,3}([ '\u2019\u00a0\u202f]\d{3})+([.,]\d+)?")  # "1 000", "1'000,5"
_SPACE = re.compile(r"[ '\u2019\u00a0\u202f]")
_PLAIN = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_GROUPED = {  # thousands separator -> whole groups of three, then the other separator as the decimal point
    ",": re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?"),
    ".": re.compile(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?"),
}
_LONE_THOUSANDS = re.compile(r"[+-]?[1-9]\d{0,2}[,.]\d{3}")  # 1,000 / 12.500: a thousand, or a decimal?
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")
USE_A_DOT = "Use a dot for decimals (3.5) and no separator for thousands (1000)."


def parse_number(text: str, *, decimal: bool = True) -> float:
    """A number as people type it, on any platform. `3.5` and `3,5` are 3.5; `1,234.5`, `1.234,5`, `1 234,5` and
    `1'234.5` are what they look like. A lone separator between 1-3 digits (no leading zero) and exactly three
    digits could be either: `1,000` and `1.000` are a thousand where only whole numbers are allowed; where decimals
    are, a dot is the decimal point (`1.000` is 1) and a comma is asked about (`1,500`: "Is that 1.500 or 1500?"),
    rather than read a thousand times too big or too small. Spaces and apostrophes count only between groups of
    three. ValueError for anything else."""
    text = text.strip()
    if _SPACE.search(text):
        if not _GROUP_SPACES.fullmatch(text):
            raise ValueError("Enter a number.")
        text = _SPACE.sub("", text)
    separators = {c for c in text if c in ",."}
    if _LONE_THOUSANDS.fullmatch(text) and not decimal:
        number = float(text.replace(",", "").replace(".", ""))
    elif _LONE_THOUSANDS.fullmatch(text) and "," in text:
        raise ValueError(f"Is that {text.replace(',', '.')} or {text.replace(',', '')}? {USE_A_DOT}")
    elif _PLAIN.fullmatch(text):
        number = float(text)
    elif separators == {","} and _DECIMAL_COMMA.fullmatch(text):  # 3,5 or 0,500: a decimal comma
        number = float(text.replace(",", "."))
    elif (grouped := next((sep for sep, form in _GROUPED.items() if form.fullmatch(text)), None)) is not None:
        point = "." if grouped == "," else ","
        number = float(text.replace(grouped, "").replace(point, "."))
    elif separators and re.fullmatch(r"[+-]?[\d,.]+", text):
        raise ValueError(f"Enter a number. {USE_A_DOT}")
    else:
        raise ValueError("Enter a number.")
    if not math.isfinite(number):
        raise ValueError("Enter a number.")
    return number


def _number(spec: NumberInput, text: str) -> float | int:
    number = parse_number(text, decimal=spec.decimal)
    if not spec.decimal and number != int(number):
        raise ValueError("Enter a whole number.")
    if number < spec.minimum:
        raise ValueError(f"Enter {_fmt(spec.minimum)} or more.")
    if number > spec.maximum:
        raise ValueError(f"Enter {_fmt(spec.maximum)} or less.")
    return number if spec.decimal else int(number)


def _fmt(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:g}"
