"""Block Kit as Slack's own rules want it: long text never cut inside an escape or a mention, no empty blocks."""

from __future__ import annotations

from bot.core.messages import Mention, Message, Paragraph, Text
from handlers.slack import render
from tests.support import validators


def test_a_cut_never_falls_inside_an_entity_or_a_mention() -> None:
    escaped = render.escape("a" * 2995 + "&<>")  # the cut would fall inside "&amp;"
    cut = render.clip_markup(escaped, 3000)
    assert cut.endswith("a…") and len(cut) <= 3000

    mentions = render.mrkdwn([Text(text="x" * 2990), Mention(user="U0123456789")])
    cut = render.clip_markup(mentions, 3000)
    assert cut.endswith("x…") and "<@U" not in cut


def test_long_hostile_text_renders_to_blocks_slack_takes() -> None:
    message = Message(summary="s", blocks=[Paragraph(spans=[Text(text="<&>" * 2000), Mention(user="U0ALEX")])])
    rendered = render.message(message)
    assert validators.slack_blocks(rendered["blocks"]) == []
    text = rendered["blocks"][0]["text"]["text"]
    assert text.count("&") == text.count(";") and text.count("<") == text.count(">")


def test_a_message_without_blocks_sends_none() -> None:
    assert render.message(Message(summary="Saved as #1", blocks=[])) == {"text": "Saved as #1"}
