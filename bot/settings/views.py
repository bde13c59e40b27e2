"""What the bot says when the settings change. Pure functions."""

from __future__ import annotations

from bot.core.messages import Mention, Message, Paragraph, Span, Text


def changed(actor: str, what: list[str]) -> Message:
    """'⚙️ @maya changed the settings: approvers, announcement time.'"""
    line: list[Span] = [Text(text="⚙️ "), Mention(user=actor), Text(text=f" changed the settings: {', '.join(what)}.")]
    return Message(summary="The settings changed", blocks=[Paragraph(spans=line)])
