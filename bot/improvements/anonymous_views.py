"""What the bot says around an anonymous report: to the reporter in private (the 5 Whys, questions, reveal), and
in the thread when it passes their words on as "the reporter". Pure functions: rows in, Message out. The
reporter is never mentioned: the thread names them "the reporter", the card "a teammate"."""

from __future__ import annotations

from bot.core.messages import Actions, Bold, Button, Context, Mention, Message, Paragraph, Quote, Text, clip
from bot.core.messages import spans as text_spans
from bot.improvements.card import button_value
from bot.improvements.views import why_buttons
from storage.models import Improvement

REVEAL = "reveal"  # asks to confirm
REVEAL_CONFIRMED = "reveal_confirmed"
QUOTE_LIMIT = 1500


def _reveal_button(improvement: Improvement) -> Button:
    return Button(label="Reveal myself", action=REVEAL, value=button_value(improvement))


def welcome(improvement: Improvement) -> Message:
    """The first private message: how the anonymous 5 Whys work, and the way out of anonymity."""
    return Message(
        summary=f"You reported #{improvement.number} anonymously",
        blocks=[
            Paragraph(spans=[Bold(text=f"You reported #{improvement.number} anonymously.")]),
            Paragraph(
                spans=text_spans(
                    "Nobody can see it was you: the card says “a teammate”. The 5 Whys happen here: reply in this "
                    "chat and I pass each answer on to its thread as the reporter's. Approvers' questions reach "
                    "you here too."
                )
            ),
            Context(
                spans=text_spans(
                    "To own the fix, reveal yourself: your name goes on the card. Until then nobody can read "
                    "who you are, not even an admin."
                )
            ),
            Actions(buttons=[_reveal_button(improvement)]),
        ],
    )


def why_in_private(improvement: Improvement, position: int, quoted: str, *, again: bool = False) -> Message:
    that = "this" if position == 1 else "that"
    blocks: list = [
        Paragraph(
            spans=[
                Bold(text=f"#{improvement.number} · Why #{position}" + (" (again)" if again else "")),
                Text(text=f": why does {that} happen?"),
            ]
        ),
        Quote(spans=text_spans(clip(quoted, QUOTE_LIMIT))),
        Context(spans=text_spans("Reply here with your answer; it goes into the thread as the reporter's.")),
    ]
    if position > 1:
        blocks.append(why_buttons(improvement, position))
    return Message(summary=f"#{improvement.number} · Why #{position}: why does {that} happen?", blocks=blocks)


def _passed_on(said: str, text: str) -> Message:
    """In the thread: the reporter's words, as the bot passes them on."""
    return Message(
        summary=said,
        blocks=[
            Paragraph(spans=[Bold(text=said), Text(text=" (passed on)")]),
            Quote(spans=text_spans(clip(text, QUOTE_LIMIT))),
        ],
    )


def answer_passed_on(improvement: Improvement, position: int, answer: str) -> Message:
    """The reporter's answer to a why."""
    return _passed_on(f"The reporter answered Why #{position}", answer)


def words_passed_on(improvement: Improvement, text: str) -> Message:
    """What the reporter wrote in private outside the 5 Whys (an answer to a question)."""
    return _passed_on("The reporter says", text)


def passed_on(improvement: Improvement) -> Message:
    return Message(
        summary=f"Passed on to #{improvement.number}",
        blocks=[Context(spans=text_spans(f"Passed on to #{improvement.number}'s thread as the reporter's words."))],
    )


def question_relayed(improvement: Improvement, asker: str, question: str) -> Message:
    return Message(
        summary=f"A question about #{improvement.number}",
        blocks=[
            Paragraph(spans=[Mention(user=asker), Text(text=f" asks about #{improvement.number}:")]),
            Quote(spans=text_spans(clip(question, QUOTE_LIMIT))),
            Context(spans=text_spans("Reply here: I pass your answer on to the thread as the reporter's.")),
        ],
    )


def which_one(numbers: list[int]) -> Message:
    named = ", ".join(f"#{n}" for n in numbers)
    return Message(
        summary="Which report is it about?",
        blocks=[
            Paragraph(
                spans=text_spans(
                    f"You reported {named} anonymously: start your message with the number it is about, e.g. "
                    f"“#{numbers[-1]} because …”. Nothing was passed on."
                )
            )
        ],
    )


def confirm_reveal(improvement: Improvement) -> Message:
    return Message(
        summary=f"Show your name on #{improvement.number}?",
        blocks=[
            Paragraph(
                spans=text_spans(
                    f"Show your name on #{improvement.number}? Everyone will see you reported it, its card and "
                    "thread will name you, and you can own its fix. This cannot be undone."
                )
            ),
            Actions(
                buttons=[
                    Button(
                        label="Yes, show my name",
                        action=REVEAL_CONFIRMED,
                        value=button_value(improvement),
                        style="danger",
                    ),
                ]
            ),
        ],
    )


def revealed(improvement: Improvement) -> Message:
    """In the thread: the reporter stepped forward."""
    return Message(
        summary=f"#{improvement.number}'s reporter revealed themselves",
        blocks=[
            Paragraph(
                spans=[
                    Mention(user=improvement.reporter_id),
                    Text(text=f" reported #{improvement.number} and now puts their name to it."),
                ]
            )
        ],
    )
