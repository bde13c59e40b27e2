"""The platforms' own rules for what the bot sends, checked on everything the test suite makes it send:
Slack's Block Kit through slack_sdk's models (a strict round trip: a field they would drop or coerce is an
error too), Teams' Adaptive Cards against Microsoft's schema for the card version we declare."""

from __future__ import annotations

import importlib.resources
import json
from functools import cache
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100


def slack_blocks(blocks: Any, *, limit: int = MESSAGE_BLOCKS) -> list[str]:
    """What is wrong with a `blocks` list, by Slack's rules (empty when nothing)."""
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= limit:
        return [f"{len(blocks) if isinstance(blocks, list) else type(blocks).__name__} blocks (1 to {limit} allowed)"]
    problems = []
    for i, raw in enumerate(blocks):
        try:
            parsed = Block.parse(raw)
            if parsed is None:
                problems.append(f"block {i}: an unknown type {raw.get('type')!r}")
            elif parsed.to_dict() != raw:
                problems.append(f"block {i} ({raw.get('type')}): a key Slack would drop, or empty or mistyped text")
        except Exception as exc:  # slack_sdk raises its own errors, TypeError and KeyError alike
            problems.append(f"block {i} ({raw.get('type')}): {type(exc).__name__}: {exc}")
    return problems


def slack_view(view: dict[str, Any]) -> list[str]:
    problems = []
    try:
        if View(**view).to_dict() != view:
            problems.append("view: a key Slack would drop, or empty or mistyped text")
    except Exception as exc:
        problems.append(f"view: {type(exc).__name__}: {exc}")
    if view.get("type") == "modal" and not view.get("title"):
        problems.append("a modal needs a title")
    return problems + slack_blocks(view.get("blocks"), limit=VIEW_BLOCKS)


def slack_call(method: str, params: dict[str, Any]) -> list[str]:
    """What is wrong with one Web API call the bot made (or a response_url answer)."""
    if method in ("views.open", "views.publish"):
        view = params.get("view")
        return slack_view(json.loads(view) if isinstance(view, str) else view or {})
    if "blocks" in params:
        return slack_blocks(params["blocks"])
    if method in ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url") and not params.get("text"):
        return [f"{method} without blocks or text"]
    return []


@cache
def _card_schema(version: str) -> jsonschema.protocols.Validator:
    text = importlib.resources.files("adaptive_cards").joinpath(f"schemas/schema-{version}.json").read_text()
    schema = json.loads(text)
    return jsonschema.validators.validator_for(schema)(schema)


TEAMS_EXTENSIONS = ("msteams", "choices.data")  # mention entities; the people picker's Graph typeahead


def _without_teams_extensions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_teams_extensions(v) for k, v in node.items() if k not in TEAMS_EXTENSIONS}
    if isinstance(node, list):
        return [_without_teams_extensions(item) for item in node]
    return node


def adaptive_card(card: dict[str, Any]) -> list[str]:
    """What is wrong with a card, by the Adaptive Card schema of its version. Teams' own extensions, which the
    generic schema does not describe, are set aside; everything else must be valid."""
    validator = _card_schema(str(card.get("version", "1.5")))
    errors = list(validator.iter_errors(_without_teams_extensions(card)))
    if not errors:
        return []
    best = best_match(errors)
    detail = "; ".join(sorted({e.message[:160] for e in best.context or []}))[:600] if best.context else ""
    return [f"card: {best.json_path}: {best.message[:200]}" + (f" ({detail})" if detail else "")]
