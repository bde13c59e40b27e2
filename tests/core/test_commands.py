"""The command grammar and the registry, on their own: what a typed line asks for, and what may be registered."""

from __future__ import annotations

import pytest

from bot.assembly import registry
from bot.core.commands import Grammar, Misspelled, Parsed, Subcommand, Typed, Unknown, recognize
from bot.core.outcomes import Done
from bot.core.registry import FormHandler, Registry, Target


def _noop(act, invocation):  # a handler is never run here
    return Done()


@pytest.fixture
def grammar() -> Grammar:
    return registry().commands


def test_the_fallback_takes_anything_that_is_no_subcommand(grammar: Grammar) -> None:
    for text, args in [("", ""), ("  Leads arrive twice \n", "Leads arrive twice"), ("help me out", "help me out")]:
        parsed = grammar.parse(text)
        assert isinstance(parsed, Parsed) and parsed.command is grammar.fallback and parsed.args == args


def test_subcommands_match_their_words_and_aliases_in_any_case(grammar: Grammar) -> None:
    for text, name, args in [("help", "help", ""), ("HELP checkins", "help", "checkins"), ("?", "help", ""),
                             ("Check-Ins", "checkins", ""), ("checkin", "checkins", ""), ("checkins?", "checkins", ""),
                             ("help!", "help", "")]:  # fmt: skip
        parsed = grammar.parse(text)
        assert isinstance(parsed, Parsed) and (parsed.command.name, parsed.args) == (name, args)


def test_a_subcommand_that_takes_nothing_followed_by_words_is_a_report(grammar: Grammar) -> None:
    parsed = grammar.parse("checkins are never answered")
    assert isinstance(parsed, Parsed) and parsed.command is grammar.fallback


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("chekins", "checkins"), ("checkinz", "checkins"), ("chcekins", "checkins"), ("checkinss", "checkins"),
     ("hlep", "help"), ("ehlp", "help"), ("Hlep!", "help"), ("check-isn", "checkins")],
)  # fmt: skip
def test_a_lone_typo_of_a_subcommand_gets_a_suggestion(grammar: Grammar, typed: str, meant: str) -> None:
    assert grammar.parse(typed) == Unknown(typed=typed, suggestion=meant)


@pytest.mark.parametrize(
    "text",
    ["Checklists", "checks", "checkers", "chickens", "Helm", "heap", "held", "kelp", "helps", "helper", "halp",
     "invoicing", "hello", "x", "chekins are late", "#12 is the bill number", "#"],
)  # fmt: skip
def test_a_real_word_that_only_resembles_a_subcommand_is_a_report(grammar: Grammar, text: str) -> None:
    parsed = grammar.parse(text)
    assert isinstance(parsed, Parsed) and parsed.command is grammar.fallback and parsed.args == text


def test_help_is_generated_fallback_first_and_help_last(grammar: Grammar) -> None:
    lines = [block.spans[0].text for block in grammar.help("/improve").blocks if block.kind == "paragraph"]
    assert lines == ["/improve", "/improve checkins", "/improve list", "/improve show", "/improve home",
                     "/improve export", "/improve settings", "/improve help"]  # fmt: skip


def test_a_number_after_a_hash_is_the_improvement_it_names(grammar: Grammar) -> None:
    for text in ("#12", "#12?", "show 12", "show #12"):
        parsed = grammar.parse(text)
        assert isinstance(parsed, Parsed) and parsed.command.name == "show" and parsed.args.lstrip("#") == "12"


def test_a_subcommand_added_later_is_listed_before_help(grammar: Grammar) -> None:
    grammar.add(Subcommand(name="digest", summary="This week's wins, now.", run=_noop))
    lines = [block.spans[0].text for block in grammar.help("improve").blocks if block.kind == "paragraph"]
    assert lines[-2:] == ["improve digest", "improve help"]


def test_a_word_cannot_be_registered_twice() -> None:
    grammar = Grammar()
    grammar.add(Subcommand(name="list", summary=".", run=_noop, aliases=("ls",)))
    with pytest.raises(ValueError, match="'ls' is already registered"):
        grammar.add(Subcommand(name="ls", summary=".", run=_noop))
    grammar.add(Subcommand(name="", summary=".", run=_noop, args=".*"))
    with pytest.raises(ValueError, match="fallback is already registered"):
        grammar.add(Subcommand(name="", summary=".", run=_noop, args=".*"))


def test_nor_a_button_or_a_form() -> None:
    interactions = Registry()
    interactions.button("approve", lambda act, target: Done())
    with pytest.raises(ValueError, match="button 'approve'"):
        interactions.button("approve", lambda act, target: Done())
    form = FormHandler(spec=lambda settings: None, apply=lambda act, answer: Done())
    interactions.form("report", form)
    with pytest.raises(ValueError, match="form 'report'"):
        interactions.form("report", form)


@pytest.mark.parametrize(
    ("line", "seen"),
    [
        ("/improve", Typed("")),
        ("/IMPROVE leads\narrive twice", Typed("leads\narrive twice")),
        ("/improvements", Misspelled("/improvements")),
        ("/imporve leads", Misspelled("/imporve")),
        ("/improve: leads", Typed("leads")),
        ("/Improve!", Typed("")),
        ("/approve", None),
        ("/thread 1", None),
        ("", None),
    ],
)
def test_the_command_word_is_recognized_as_a_whole_word(line: str, seen: Typed | Misspelled | None) -> None:
    assert recognize(line, "/improve") == seen


@pytest.mark.parametrize(
    ("value", "target"),
    [("12", Target(12)), ("12:3", Target(12, 3)), ("12:0", Target(12, 0)), ("", None), ("abc", None),
     ("-1:1", None), ("0", None), ("1:-2", None), ("1:x", None), ("1:2:3", None)],
)  # fmt: skip
def test_button_values_are_parsed_or_refused(value: str, target: Target | None) -> None:
    assert Target.parse(value) == target
