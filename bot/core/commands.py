"""The command grammar, one for every platform: Slack's `/improve`, Teams' `improve`, the console's `/improve`.

A subcommand is the whole first word (or one of its aliases) followed by what it accepts; anything else is the
problem text that prefills the report form (the fallback). A lone word that is a typo of a subcommand is answered
with a hint instead of becoming a one-word report. `help` is built in and generated from what is registered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rapidfuzz.distance import DamerauLevenshtein, Levenshtein

from bot.core.messages import Bold, Context, Message, Paragraph, Text, clip
from bot.core.outcomes import Outcome, Show

if TYPE_CHECKING:
    from bot.core.registry import Act

_WORD = re.compile(r"[a-z][a-z-]{2,24}", re.IGNORECASE)


def typo_of(typed: str, words: list[str]) -> str | None:
    """The word `typed` is a typo of: one letter wrong, missing or extra, or two neighbours swapped; for a word
    under five letters only the swap (`hlep` is help, but Helm, held and kelp are words of their own)."""
    typed = typed.lower()
    for word in words:
        if DamerauLevenshtein.distance(typed, word, score_cutoff=1) != 1:
            continue
        if len(word) < 5 and Levenshtein.distance(typed, word) != 2:  # one Damerau edit, two plain: a swap
            continue
        return word
    return None


def _bare(word: str) -> str:
    """A first word without the punctuation people put after it (`improve:`, `checkins?`)."""
    return word.rstrip(":;,.!?") or word


@dataclass(frozen=True)
class Invocation:
    args: str  # what followed the subcommand (for the fallback: the whole text)
    context: dict[str, str]  # where it was typed (the platform's channel or conversation)
    word: str  # the command as this platform spells it (/improve, improve), for messages that name it


CommandHandler = Callable[["Act", Invocation], Outcome]


@dataclass(frozen=True)
class Subcommand:
    name: str  # "" for the fallback: the command alone, or followed by the problem text
    summary: str  # one line (app manifests list it too)
    run: CommandHandler
    aliases: tuple[str, ...] = ()
    args: str | None = None  # a pattern the rest must match in full; None: nothing may follow the word
    usage: str = ""  # shown after the name in help, e.g. "[what's broken]"
    rights: bool = False  # needs the person's approver rights (a lookup on the platform)
    admin: bool = False  # needs to know whether the person is an admin (the fallback approvers, the platform's admins)
    detail: str = ""  # more, shown under the line in help
    reads: bool = True  # False: it never touches the database, so it runs at once (no worker thread on PostgreSQL)

    def accepts(self, rest: str) -> bool:
        if self.args is None:
            return not rest
        return re.fullmatch(self.args, rest, re.IGNORECASE | re.DOTALL) is not None


@dataclass(frozen=True)
class Parsed:
    command: Subcommand
    args: str


@dataclass(frozen=True)
class Unknown:
    """A lone word that is no subcommand but looks like one."""

    typed: str
    suggestion: str


@dataclass(frozen=True)
class Typed:
    """The command word, as a whole word, and what follows it."""

    rest: str


@dataclass(frozen=True)
class Misspelled:
    """A first word that only looks like the command word (/improvements, /imporve)."""

    typed: str


def _split(text: str) -> tuple[str, str]:
    parts = text.strip().split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


def _help(act: Act, invocation: Invocation) -> Outcome:
    return Show(act.registry.commands.help(invocation.word))


HELP = Subcommand(
    name="help", summary="What I can do: this list.", run=_help, aliases=("?", "-h", "--help"), args=r"\S*", reads=False
)


class Grammar:
    def __init__(self) -> None:
        self.fallback: Subcommand | None = None
        self._subcommands: list[Subcommand] = []
        self._by_word: dict[str, Subcommand] = {}
        self.add(HELP)

    def add(self, command: Subcommand) -> None:
        if not command.name:
            if self.fallback is not None:
                raise ValueError("the command's fallback is already registered")
            self.fallback = command
            return
        for word in (command.name, *command.aliases):
            if word.lower() in self._by_word:
                raise ValueError(f"the subcommand word {word!r} is already registered")
            self._by_word[word.lower()] = command
        self._subcommands.append(command)

    @property
    def commands(self) -> list[Subcommand]:
        """The fallback first, then every subcommand in the order registered (help last)."""
        rest = [c for c in self._subcommands if c is not HELP]
        return [*([self.fallback] if self.fallback else []), *rest, HELP]

    def parse(self, text: str) -> Parsed | Unknown:
        """What `text` (everything after the command word) asks for."""
        text = text.strip()
        head, rest = _split(text)
        if re.fullmatch(r"#[0-9]{1,9}", _bare(head)) and "#" in self._by_word:  # "#12": the subcommand "#"
            head, rest = "#", (_bare(head)[1:] + " " + rest).strip()
        command = self._by_word.get(_bare(head).lower())
        if command is not None and command.accepts(rest):
            return Parsed(command, rest)
        if command is None and not rest and _WORD.fullmatch(_bare(head)):
            meant = typo_of(_bare(head), list(self._by_word))
            if meant:
                return Unknown(typed=head, suggestion=self._by_word[meant].name)
        if self.fallback is None:
            raise LookupError("no capability registered the command's fallback")
        return Parsed(self.fallback, text)

    def help(self, word: str) -> Message:
        blocks: list = []
        for command in self.commands:
            label = f"{word} {command.name}".strip()
            usage = f" {command.usage}" if command.usage else ""
            blocks.append(Paragraph(spans=[Bold(text=label), Text(text=f"{usage} · {command.summary}")]))
            if command.detail:
                blocks.append(Context(spans=[Text(text=command.detail)]))
        return Message(summary=f"What {word} does", blocks=blocks)


def unknown_text(unknown: Unknown, word: str) -> str:
    return (
        f"I don't know “{word} {clip(unknown.typed, 40)}”. Did you mean “{word} {unknown.suggestion}”? "
        f"“{word} help” lists everything I can do; to report a problem, describe it in a few words."
    )


def recognize(line: str, word: str) -> Typed | Misspelled | None:
    """`word` (e.g. /improve) as the whole first word of `line`, and what follows it. A first word that only looks
    like it (/improvements) is a near miss, so it is neither taken for a report nor silently ignored."""
    head, rest = _split(line)
    bare = _bare(head).lower()
    if bare == word:
        return Typed(rest)
    if bare.startswith(word) or typo_of(bare.lstrip("/"), [word.lstrip("/")]):
        return Misspelled(head)
    return None


def misspelled_text(misspelled: Misspelled, word: str) -> str:
    return f"I don't know “{clip(misspelled.typed, 40)}”. Did you mean “{word}”? “{word} help” shows what it does."
