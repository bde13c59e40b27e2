"""The one validator every platform's form answers go through.

Platforms render a `Form` natively and hand back a dict of raw values (strings, booleans, None); `validate`
turns them into clean values or per-field error messages shown on the form.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

from bot.core.messages import Checkbox, DatePicker, Form, FormValue, NumberInput, Select, TextInput, UserPicker

_USER_ID = re.compile(r"[@\w.:-]{1,100}")
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
        return text
    if isinstance(spec, NumberInput):
        return _number(spec, text)
    if isinstance(spec, Select):
        if text not in {o.value for o in spec.options}:
            raise ValueError("Pick one of the options.")
        return text
    if isinstance(spec, UserPicker):
        if not _USER_ID.fullmatch(text):
            raise ValueError("Pick a person.")
        return text
    if isinstance(spec, DatePicker):
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError("Use a date like 2026-12-31.") from None
    raise ValueError("Unknown field.")


def _number(spec: NumberInput, text: str) -> float | int:
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        raise ValueError("Enter a number.") from None
    if not math.isfinite(number):
        raise ValueError("Enter a number.")
    if not spec.decimal and number != int(number):
        raise ValueError("Enter a whole number.")
    if number < spec.minimum:
        raise ValueError(f"Enter {_fmt(spec.minimum)} or more.")
    if number > spec.maximum:
        raise ValueError(f"Enter {_fmt(spec.maximum)} or less.")
    return number if spec.decimal else int(number)


def _fmt(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:g}"
