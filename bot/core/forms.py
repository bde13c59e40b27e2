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
        if not _USER_ID.fullmatch(text):
            raise ValueError("Pick a person.")
        return text
    if isinstance(spec, DatePicker):
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError("Use a date like 2026-12-31.") from None
    raise ValueError("Unknown field.")


_SPACES = re.compile(r"[\s\u00a0\u202f']")  # "1 000", "1 000", "1'000": thousands, whatever the locale
_PLAIN = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_GROUPED = {  # thousands separator -> whole groups of three, then the other separator as the decimal point
    ",": re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?"),
    ".": re.compile(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?"),
}
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")
USE_A_DOT = "Use a dot for decimals (3.5) and no separator for thousands (1000)."


def parse_number(text: str, *, decimal: bool = True) -> float:
    """A number as people type it, on any platform: `3.5` and `3,5` are 3.5; `1,000`, `1.000.000`, `1 000` and
    `1,234.5` are what they look like. A lone separator before exactly three digits (`1,000`, `1.000`) is a
    thousands separator where only whole numbers are allowed, and ambiguous where decimals are: refused with
    USE_A_DOT rather than read a thousand times too big or too small. ValueError for anything else."""
    text = _SPACES.sub("", text)
    separators = {c for c in text if c in ",."}
    lone = text.count(",") + text.count(".") == 1 and re.search(r"[,.]\d{3}$", text) is not None
    if _PLAIN.fullmatch(text) and not (lone and not decimal):
        number = float(text)
    elif lone:  # 1,000 or 1.000: a thousand where only whole numbers are, ambiguous where decimals are
        if decimal:
            raise ValueError(f"Is that {text[:-4]}.{text[-3:]} or {text[:-4]}{text[-3:]}? {USE_A_DOT}")
        number = float(text.replace(",", "").replace(".", ""))
    elif separators == {","} and _DECIMAL_COMMA.fullmatch(text):  # 3,5 (a lone comma not before three digits)
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
