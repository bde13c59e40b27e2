"""`improve …` on Teams goes through the one command grammar: help generated from it, check-ins, the command word
matched whole (`improvements` is a hint, not a report), and a hint for a word that is almost a subcommand."""

from __future__ import annotations

import pytest

from handlers.teams.manifest import manifest
from tests.support.teams_world import ALEX, TeamsWorld

CHANNEL = {"id": "19:general@thread.tacv2", "conversationType": "channel", "isGroup": True}


def said_to(teams: TeamsWorld, conversation: str) -> list[str]:
    return [call.text for call in teams.connector.posts_to(conversation)]


def form_prefill(teams: TeamsWorld, conversation: str) -> str | None:
    """The problem the report form opened with, if the last message is that form."""
    cards = teams.connector.posts_to(conversation)[-1].cards
    inputs = [b for b in cards[0]["body"] if b.get("id") == "problem"] if cards else []
    return inputs[0].get("value") if inputs else None


@pytest.mark.parametrize("text", ["improve help", "improve ?", "Improve HELP", "/improve help"])
async def test_help_lists_every_subcommand_from_the_grammar(teams: TeamsWorld, text: str) -> None:
    await teams.say(ALEX, text, teams.personal(ALEX))

    [shown] = said_to(teams, ALEX.personal)
    assert "**improve** [what's broken] · Report a broken process" in shown
    assert "**improve checkins** · Your check-ins waiting for an answer" in shown
    assert "**improve help** · What I can do" in shown


async def test_anything_else_in_the_personal_chat_gets_the_same_help(teams: TeamsWorld) -> None:
    await teams.say(ALEX, "hello there", teams.personal(ALEX))

    [shown] = said_to(teams, ALEX.personal)
    assert "**improve checkins** · Your check-ins waiting for an answer" in shown


@pytest.mark.parametrize("text", ["improve checkins", "improve checkin", "improve check-ins"])
async def test_checkins_and_its_spellings_list_the_open_checkins(teams: TeamsWorld, text: str) -> None:
    await teams.say(ALEX, text, teams.personal(ALEX))

    assert "No check-ins are waiting for you" in said_to(teams, ALEX.personal)[-1]


@pytest.mark.parametrize("text", ["improvements", "improvements leads arrive twice", "imporve"])
async def test_the_command_word_matches_as_a_whole_word_only(teams: TeamsWorld, text: str) -> None:
    await teams.say(ALEX, text, teams.personal(ALEX))

    [hint] = said_to(teams, ALEX.personal)
    assert f"I don't know “{text.split()[0]}”. Did you mean “improve”?" in hint
    assert form_prefill(teams, ALEX.personal) is None


async def test_subcommand_words_match_whole_words_only(teams: TeamsWorld) -> None:
    await teams.say(ALEX, "improve helpdesk tickets get lost", teams.personal(ALEX))

    assert form_prefill(teams, ALEX.personal) == "helpdesk tickets get lost"


async def test_a_word_that_is_almost_a_subcommand_gets_a_hint(teams: TeamsWorld) -> None:
    await teams.say(ALEX, "improve chekins", teams.personal(ALEX))

    [hint] = said_to(teams, ALEX.personal)
    assert "I don't know “improve chekins”. Did you mean “improve checkins”?" in hint


async def test_in_a_channel_commands_need_the_mention(teams: TeamsWorld) -> None:
    await teams.say(ALEX, "improve help", CHANNEL)
    assert said_to(teams, CHANNEL["id"]) == []

    await teams.say(ALEX, "improve help", CHANNEL, mention=True)
    [shown] = said_to(teams, CHANNEL["id"])
    assert "**improve checkins**" in shown


async def test_text_longer_than_the_form_takes_comes_back_so_nothing_is_lost(teams: TeamsWorld) -> None:
    text = "Leads arrive twice. " + "x" * 2980 + "THE-REST-OF-IT [Approve](https://evil.example)"

    await teams.say(ALEX, f"improve {text}", teams.personal(ALEX))

    form, rest = teams.connector.posts_to(ALEX.personal)
    assert next(b for b in form.cards[0]["body"] if b.get("id") == "problem")["value"] == text[:3000]
    assert "so it opened with the first part. Here is the rest:" in rest.text
    assert "THE-REST-OF-IT [Approve] (https://evil.example)" in rest.text  # shown, not a link


def test_the_manifest_suggests_the_grammars_commands() -> None:
    [command_list] = manifest("11111111-2222-3333-4444-555555555555")["bots"][0]["commandLists"]
    assert [c["title"] for c in command_list["commands"]] == [
        "improve", "improve checkins", "improve list", "improve show", "improve home", "improve export",
        "improve settings", "improve help"]  # fmt: skip
    assert all(len(c["description"]) <= 128 for c in command_list["commands"])
