"""`/improve list` and `/improve #12` on Slack: private answers, newest first, filters that combine, a link to
each thread, and a clear word for a filter that names nothing."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import Improvement
from tests.conftest import ALEX, JO, MAYA
from tests.support.slack_flows import at, implemented, tick_at
from tests.support.world import SlackWorld


def _last_private(slack: SlackWorld, user: str) -> str:
    calls = [c for c in slack.stub.of("chat.postEphemeral") if c["user"] == user]
    return calls[-1].text_of_blocks


async def test_the_list_shows_open_improvements_newest_first_with_their_threads(slack: SlackWorld) -> None:
    await implemented(slack)  # #1: implemented, Alex's
    await slack.report(JO, "Quotes need three signatures", area="Marketing", hours_per_week=1, people=3)  # #2
    await slack.report(JO, "The CRM logs everyone out at noon")  # #3

    await slack.send_command_text("list", ALEX)

    shown = _last_private(slack, ALEX)
    assert shown.index("#3 The CRM logs everyone out at noon") < shown.index("#2 Quotes need three signatures")
    assert shown.index("#2 Quotes") < shown.index("#1 Leads arrive in the CRM twice")
    assert "3 improvements (open), newest first" in shown
    assert "#1 Leads arrive in the CRM twice* · ✅ Implemented · Sales · ≈ 1,040 h/year (approved)" in shown
    assert "≈ 156 h/year (estimated)" in shown  # 1 h/week x 3 people
    ephemeral = [c for c in slack.stub.of("chat.postEphemeral") if c["user"] == ALEX][-1]
    links = [e for b in ephemeral["blocks"] for e in b.get("text", {}).get("text", "").split("<")[1:]]
    assert any(link.startswith("https://") and "|thread>" in link for link in links)  # each line links its thread


async def test_filters_combine_and_a_filter_that_names_nothing_says_what_there_is(slack: SlackWorld) -> None:
    await implemented(slack)  # #1 Alex's, Sales
    await slack.report(JO, "Quotes need three signatures", area="Marketing")  # #2 Jo's
    await slack.report(ALEX, "Price lists are out of date", area="Marketing")  # #3 Alex's

    await slack.send_command_text("list mine area marketing", ALEX)
    shown = _last_private(slack, ALEX)
    assert "#3 Price lists" in shown and "#2" not in shown and "#1 " not in shown
    assert "1 improvement (yours, in Marketing, open)" in shown

    await slack.send_command_text("list status implemented", ALEX)
    assert "#1 Leads arrive" in _last_private(slack, ALEX) and "#3" not in _last_private(slack, ALEX)

    await slack.send_command_text("list area Finance", ALEX)
    refused = slack.stub.of("response_url")[-1].text_of_blocks
    assert "There is no process area “finance”." in refused and "Sales" in refused
    await slack.send_command_text("list status nearly", ALEX)
    assert "There is no status “nearly”" in slack.stub.of("response_url")[-1].text_of_blocks
    await slack.send_command_text("list mine everything", ALEX)
    assert "“everything” is none of those" in slack.stub.of("response_url")[-1].text_of_blocks


async def test_waiting_lists_what_waits_on_the_person(slack: SlackWorld) -> None:
    from tests.support.slack_flows import to_approval

    await to_approval(slack)  # #1 waits for Maya's approval
    await slack.report(JO, "Quotes need three signatures")  # #2: Jo's whys wait on Jo

    await slack.send_command_text("list waiting", MAYA)
    assert "#1 Leads arrive" in _last_private(slack, MAYA) and "#2" not in _last_private(slack, MAYA)
    await slack.send_command_text("list waiting", JO)
    assert "#2 Quotes" in _last_private(slack, JO) and "#1 Leads" not in _last_private(slack, JO)
    await slack.send_command_text("list waiting", ALEX)  # reported and proposed #1: someone else decides it
    assert "No improvements waiting on you" in _last_private(slack, ALEX)


async def test_one_improvement_by_its_number(slack: SlackWorld) -> None:
    card = await implemented(slack)

    await slack.send_command_text("#1", JO)

    shown = _last_private(slack, JO)
    assert "#1 Leads arrive in the CRM twice" in shown and "Approved: ≈ 1,040 h/year" in shown.replace("*", "")
    assert "Open #1's thread" in shown
    await slack.send_command_text("show 99", JO)
    assert "There is no #99 in this workspace." in slack.stub.of("response_url")[-1].text_of_blocks
    with Session(slack.engine) as session:
        assert session.exec(select(Improvement)).one().number == 1
    assert card


async def test_a_closed_or_sustained_improvement_leaves_the_open_list(slack: SlackWorld) -> None:
    await implemented(slack)
    with Session(slack.engine) as session:
        improvement = session.exec(select(Improvement)).one()
        improvement.status = "sustained"
        session.add(improvement)
        session.commit()
    await tick_at(slack, at(24, 9))
    await slack.send_command_text("list", ALEX)
    assert "Nothing is open" in _last_private(slack, ALEX)
    await slack.send_command_text("list status sustained", ALEX)
    assert "#1 Leads arrive" in _last_private(slack, ALEX)


async def test_a_report_that_starts_with_list_is_a_report(slack: SlackWorld) -> None:
    view = await slack.command("list prices are wrong in the proposal template", ALEX)
    problem = next(b for b in view["blocks"] if b.get("block_id") == "problem")
    assert problem["element"]["initial_value"] == "list prices are wrong in the proposal template"
