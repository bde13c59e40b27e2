"""Pure renderers for the terminal: messages as plain lines, buttons numbered so they can be clicked."""

from __future__ import annotations

from collections.abc import Callable

from bot.core.identity import stand_in
from bot.core.messages import (
    Actions,
    Block,
    Bold,
    Context,
    Fields,
    Heading,
    Image,
    Link,
    Mention,
    Message,
    Paragraph,
    Quote,
    Span,
)

NumberButton = Callable[[str, str], int]  # (action, value) -> the number the user types to click it


def inline(parts: list[Span]) -> str:
    out = []
    for part in parts:
        if isinstance(part, Mention) and stand_in(part.user):  # an anonymous reporter, an erased person
            out.append(stand_in(part.user) or "")
        elif isinstance(part, Mention):
            out.append(part.user if part.user.startswith("@") else f"@{part.user}")
        elif isinstance(part, Bold):
            stripped = part.text.rstrip()
            out.append(f"*{stripped}*{part.text[len(stripped) :]}")
        elif isinstance(part, Link):
            out.append(f"{part.text} ({part.url})")
        else:
            out.append(part.text)
    return "".join(out)


def block_lines(block: Block, number_button: NumberButton) -> list[str]:
    if isinstance(block, Heading):
        return [f"== {block.text} =="]
    if isinstance(block, Paragraph):
        return inline(block.spans).splitlines() or [""]
    if isinstance(block, Quote):
        return ["> " + line for line in inline(block.spans).splitlines() or [""]]
    if isinstance(block, Fields):
        return [f"{item.label}: {inline(item.spans)}" for item in block.items]
    if isinstance(block, Context):
        return [f"({inline(block.spans)})"]
    if isinstance(block, Actions):
        return ["  ".join(f"[{number_button(b.action, b.value)}] {b.label}" for b in block.buttons)]
    if isinstance(block, Image):
        return [f"[{block.title}: {block.ref}]"]
    return []


def message_lines(message: Message, number_button: NumberButton) -> list[str]:
    lines: list[str] = []
    for block in message.blocks:
        lines.extend(block_lines(block, number_button))
    return lines
