"""`/improve …` on Slack goes through the one command grammar: help generated from it, check-ins, subcommand
words matched whole, a hint for a word that is almost a subcommand, and everything else a report."""

from __future__ import annotations

import pytest

from tests.conftest import ALEX
from tests.support import slack_requests as rq
from tests.support.world import SlackWorld


def answers(slack: SlackWorld) -> list[str]:
    """What the person saw privately, through the command's response_url."""
    return [call.text_of_blocks for call in slack.stub.of("response_url")]


@pytest.mark.parametrize("text", ["help", "HELP", "?", "--help", "help checkins"])
async def test_help_lists_every_subcommand_from_the_grammar(slack: SlackWorld, text: str) -> None:
    await slack.send_command_text(text, ALEX)

    [shown] = answers(slack)
    assert "*/improve* [what's broken] · Report a broken process" in shown
    assert "*/improve checkins* · Your check-ins waiting for an answer" in shown
    assert "*/improve help* · What I can do" in shown
    assert "5 Whys" in shown
    assert not slack.stub.of("views.open")


@pytest.mark.parametrize("text", ["checkins", "checkin", "check-ins", "Check-In"])
async def test_checkins_and_its_spellings_list_the_open_checkins(slack: SlackWorld, text: str) -> None:
    await slack.send_command_text(text, ALEX)

    assert "No check-ins are waiting for you" in answers(slack)[-1]
    assert not slack.stub.of("views.open")


@pytest.mark.parametrize(
    "text",
    [
        "helpdesk tickets get lost between shifts",  # starts like help
        "checkins are never answered by the field team",  # a subcommand word followed by a problem
        "help me, the proposal template is always wrong",
        "Checklists",  # one word that only resembles a subcommand (checkins)
    ],
)
async def test_subcommand_words_match_whole_words_only(slack: SlackWorld, text: str) -> None:
    view = await slack.command(text, ALEX)

    problem = next(b for b in view["blocks"] if b.get("block_id") == "problem")
    assert problem["element"]["initial_value"] == text
    assert not answers(slack)


@pytest.mark.parametrize(("typed", "meant"), [("chekins", "checkins"), ("hlep", "help"), ("checkinz", "checkins")])
async def test_a_word_that_is_almost_a_subcommand_gets_a_hint_not_a_report(
    slack: SlackWorld, typed: str, meant: str
) -> None:
    await slack.send_command_text(typed, ALEX)

    [hint] = answers(slack)
    assert f"I don't know “/improve {typed}”. Did you mean “/improve {meant}”?" in hint
    assert "describe it in a few words" in hint
    assert not slack.stub.of("views.open")


async def test_another_command_pointed_at_the_bot_is_not_taken_for_improve(slack: SlackWorld) -> None:
    response = await slack.send(
        rq.slash_command("leads arrive twice", ALEX, response_url=slack.stub.response_url, command="/improvements")
    )

    assert response.status_code == 200
    [hint] = answers(slack)
    assert "I don't know “/improvements”. Did you mean “/improve”?" in hint
    assert not slack.stub.of("views.open")


async def test_text_longer_than_the_form_takes_comes_back_so_nothing_is_lost(slack: SlackWorld) -> None:
    text = "Leads arrive twice. " + "x" * 2980 + "THE-REST-OF-IT <!channel>"

    view = await slack.command(text, ALEX)

    problem = next(b for b in view["blocks"] if b.get("block_id") == "problem")
    assert problem["element"]["initial_value"] == text[:3000]
    [rest] = answers(slack)
    assert "so it opened with the first part. Here is the rest:" in rest
    assert "THE-REST-OF-IT &lt;!channel&gt;" in rest


@pytest.mark.parametrize("response_url", ["", "http://127.0.0.1:9/response/hook"], ids=["none", "refused"])
async def test_without_a_working_response_url_the_answer_comes_privately(slack: SlackWorld, response_url) -> None:
    await slack.send(rq.slash_command("help", ALEX, response_url=response_url))

    [shown] = [c for c in slack.stub.of("chat.postEphemeral") if c["user"] == ALEX]
    assert "/improve checkins" in shown.text_of_blocks
