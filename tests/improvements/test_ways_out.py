"""Ways out (issue 10, #4), on Slack through signed requests: close with a reason (withdrawn, won't fix, duplicate
of #N), reopen, and edit the report or the fix, each from the card's buttons."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import AuditEntry, Checkin, Improvement
from tests.conftest import ALEX, JO, MAYA, WINS
from tests.support.slack_api import Call
from tests.support.slack_flows import PROPOSAL, at, checkin_dms, implemented, open_form, tick_at, to_approval
from tests.support.world import SlackWorld, find_button, has_button


def card_of(slack: SlackWorld, card: Call) -> Call:
    """The card as it reads now, with its live buttons."""
    edits = slack.updates(card.ts)
    return edits[-1] if edits else card


def options(view: dict, block_id: str) -> list[str]:
    block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
    return [o["value"] for o in block["element"]["options"]]


def status_of(slack: SlackWorld, number: int) -> str:
    with Session(slack.engine) as session:
        return session.exec(select(Improvement).where(Improvement.number == number)).one().status


async def test_the_reporter_withdraws_and_it_leaves_every_list(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    assert [find_button(card, a)["text"]["text"] for a in ("edit_report", "close")] == ["Edit report", "Close…"]

    view = await open_form(slack, card, "close", ALEX)
    assert view is not None and options(view, "reason") == ["withdrawn", "duplicate"]  # not an approver
    response = await slack.submit(view, {"reason": "withdrawn", "note": "Sorted it out with ops"}, ALEX)
    assert response.status_code == 200 and not response.content

    assert "🗂️ #1 is closed: withdrawn by" in slack.thread(card)[-1].text_of_blocks
    now = card_of(slack, card)
    assert f"Closed: withdrawn by <@{ALEX}>" in now.text_of_blocks and "Sorted it out with ops" in now.text_of_blocks
    assert has_button(now, "reopen") and not has_button(now, "close")
    replies = len(slack.thread(card))
    await slack.reply(card.ts, "An answer after all", ALEX)  # no longer a 5 Whys: left alone
    assert len(slack.thread(card)) == replies

    await tick_at(slack, at(27, 16))  # the nudge's time, and Friday's note
    assert slack.dms(ALEX) == []
    [note] = [c for c in slack.posts() if c["channel"] == WINS]
    assert "#1" not in note.text_of_blocks


async def test_wont_fix_is_an_approvers_and_needs_a_reason(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    view = await open_form(slack, card, "close", JO)
    assert view is not None and options(view, "reason") == ["duplicate"]
    await slack.submit(view, {"reason": "wont_fix", "note": "no"}, JO)  # a tampered choice
    assert "Only an approver can close #1 as won't fix." in slack.ephemerals(JO)[-1]
    assert status_of(slack, 1) == "investigating"

    view = await open_form(slack, card, "close", MAYA)
    assert view is not None and options(view, "reason") == ["wont_fix", "duplicate"]
    response = await slack.submit(view, {"reason": "wont_fix"}, MAYA)
    assert response.json()["errors"] == {
        "note": "Say why it won't be fixed: the reporter and the team deserve a reason."
    }
    assert status_of(slack, 1) == "investigating"

    await slack.submit(view, {"reason": "wont_fix", "note": "The CRM migration replaces both forms in March"}, MAYA)
    assert f"Closed: won't fix, decided by <@{MAYA}>" in slack.card_now(card)
    assert "The CRM migration replaces both forms in March" in slack.thread(card)[-1].text_of_blocks


async def test_a_duplicate_adds_its_reporter_to_the_original(slack: SlackWorld) -> None:
    first = await slack.report(ALEX, hours_per_week=2, people=10)
    second = await slack.report(JO, "Leads show up twice in the CRM")
    view = await open_form(slack, second, "close", JO)
    assert view is not None

    for answer, error in ((None, "Which improvement does it duplicate?"), (2, "cannot duplicate itself"),
                          (99, "There is no #99 in this workspace.")):  # fmt: skip
        response = await slack.submit(view, {"reason": "duplicate", "duplicate_of": answer}, JO)
        assert error in response.json()["errors"]["duplicate_of"]
    await slack.submit(view, {"reason": "duplicate", "duplicate_of": 1}, JO)

    assert f"Closed: a duplicate of #1, closed by <@{JO}>" in slack.card_now(second)
    joined = slack.thread(first)[-1].text_of_blocks
    assert f"#2 was closed as a duplicate of this one: <@{JO}> is affected too (people affected: 10 → 11; " in joined
    assert "1 person says this bites them too)" in joined
    assert "≈ 2 h/week × 11 people" in slack.card_now(first)

    await slack.click(card_of(slack, second), "reopen", JO)  # not an approver
    assert "Only an approver can reopen #2." in slack.ephemerals(JO)[-1]
    await slack.click(card_of(slack, second), "reopen", MAYA)
    assert "#2 was reopened by" in slack.thread(second)[-1].text_of_blocks
    assert status_of(slack, 2) == "investigating" and "× 10 people" in slack.card_now(first)
    await slack.reply(second.ts, "Two web forms", JO)  # its 5 Whys go on
    assert "Why #2" in slack.thread(second)[-1].text_of_blocks


async def test_a_closed_improvements_buttons_are_refused(slack: SlackWorld) -> None:
    card, request = await to_approval(slack)
    view = await open_form(slack, card_of(slack, card), "close", ALEX)
    assert view is not None
    await slack.submit(view, {"reason": "withdrawn"}, ALEX)

    await slack.click(request, "approve", MAYA)
    assert slack.ephemerals(MAYA)[-1] == "#1 is closed; an approver can reopen it from its card."
    assert status_of(slack, 1) == "closed"


async def test_closing_an_implemented_fix_cancels_its_checkins_and_a_reopen_restarts_it(slack: SlackWorld) -> None:
    card = await implemented(slack)
    other = await slack.report(JO, "Leads arrive in the CRM twice, again")
    view = await open_form(slack, card_of(slack, card), "close", ALEX)
    assert view is not None
    await slack.submit(view, {"reason": "duplicate", "duplicate_of": 2}, ALEX)
    assert "× 5 people" in slack.card_now(other)
    with Session(slack.engine) as session:
        assert {c.status for c in session.exec(select(Checkin))} == {"cancelled"}
    await tick_at(slack, at(30, 15))
    assert checkin_dms(slack) == []

    await slack.click(card_of(slack, card), "reopen", MAYA)
    assert "Approved, in progress" in slack.card_now(card)
    reopened = slack.thread(card)[-1]
    assert has_button(reopened, "mark_implemented") and "when the fix is in place again" in reopened.text_of_blocks
    await slack.click_and_submit(reopened, "mark_implemented", ALEX, {"metric_now": "2"})
    assert "Implemented" in slack.card_now(card) and "unverified" not in slack.card_now(card)
    assert "× 4 people" in slack.card_now(other)  # 4 + 1 while closed as its duplicate, counted there no more


async def test_editing_the_report_fixes_a_typo_in_place(slack: SlackWorld) -> None:
    card = await slack.report(ALEX, hours_per_week=6.5, people=1000)
    assert "$16,900,000/year" in slack.card_now(card)

    assert await open_form(slack, card, "edit_report", JO) is None  # not the reporter, owner or an approver
    assert "Only the reporter, the owner or an approver can edit #1." in slack.ephemerals(JO)[-1]
    view = await open_form(slack, card, "edit_report", ALEX)
    assert view is not None
    people = next(b for b in view["blocks"] if b.get("block_id") == "people")
    assert people["element"]["initial_value"] == "1000"

    await slack.submit(view, {"problem": "Leads arrive in the CRM twice", "area": "Sales", "frequency": "weekly",
                              "hours_per_week": "6.5", "people": "10", "customers_notice": False}, ALEX)  # fmt: skip

    assert "≈ 6.5 h/week × 10 people ≈ 3,380 h/year ≈ $169,000/year" in slack.card_now(card)
    line = slack.thread(card)[-1].text_of_blocks
    assert "edited the report: people affected 1,000 → 10." in line and "The estimate now: ≈ 6.5 h/week" in line
    with Session(slack.engine) as session:
        [entry] = session.exec(select(AuditEntry).where(AuditEntry.action == "edited")).all()
        assert entry.actor_id == ALEX


async def test_editing_the_fix_before_approval_replaces_the_request(slack: SlackWorld) -> None:
    card, request = await to_approval(slack)
    view = await open_form(slack, card_of(slack, card), "edit_fix", ALEX)
    assert view is not None

    await slack.submit(view, {**PROPOSAL, "countermeasure": "One form, one webhook, one owner"}, ALEX)

    assert "✏️ Replaced by an edited proposal from" in slack.updates(request.ts)[-1].text_of_blocks
    new_request = slack.thread(card)[-1]
    assert "One form, one webhook, one owner" in new_request.text_of_blocks and has_button(new_request, "approve")
    await slack.click(request, "approve", MAYA)  # the old round's button
    assert "already been answered" in slack.ephemerals(MAYA)[-1]
    await slack.click(new_request, "approve", MAYA)
    assert "Approved, in progress" in slack.card_now(card)


async def test_editing_an_approved_fix_starts_a_new_approval_round(slack: SlackWorld) -> None:
    card, request = await to_approval(slack)
    await slack.click(request, "approve", MAYA)
    view = await open_form(slack, card_of(slack, card), "edit_fix", ALEX)
    assert view is not None

    await slack.submit(view, {**PROPOSAL, "countermeasure": "Merge the forms and retire the old webhook"}, ALEX)

    assert "edited the approved fix, so it goes through approval again" in slack.thread(card)[-2].text_of_blocks
    assert "Awaiting approval" in slack.card_now(card)
    assert has_button(slack.thread(card)[-1], "approve")
    with Session(slack.engine) as session:
        assert session.exec(select(Improvement)).one().approval_round == 2


async def test_a_fix_reopened_from_in_progress_gets_a_button_of_its_own(slack: SlackWorld) -> None:
    card, request = await to_approval(slack)
    await slack.click(request, "approve", MAYA)
    assignment = slack.thread(card)[-1]
    view = await open_form(slack, card_of(slack, card), "close", ALEX)
    assert view is not None
    await slack.submit(view, {"reason": "withdrawn"}, ALEX)
    await slack.click(card_of(slack, card), "reopen", MAYA)
    reopened = slack.thread(card)[-1]

    await slack.click_and_submit(reopened, "mark_implemented", ALEX, {"metric_now": "2"})

    assert "Implemented" in slack.card_now(card)
    assert slack.updates(reopened.ts) and not has_button(slack.updates(reopened.ts)[-1], "mark_implemented")
    assert slack.updates(assignment.ts) == []  # the first assignment is its own message, left as it was


async def test_a_declined_edit_of_an_approved_fix_leaves_the_approved_fix_in_progress(slack: SlackWorld) -> None:
    card, request = await to_approval(slack)
    await slack.click(request, "approve", MAYA)
    view = await open_form(slack, card_of(slack, card), "edit_fix", ALEX)
    assert view is not None
    await slack.submit(view, {**PROPOSAL, "countermeasure": "Buy a new CRM", "due_date": "2027-03-01"}, ALEX)
    edit_request = slack.thread(card)[-1]

    await slack.click_and_submit(edit_request, "decline", MAYA, {"text": "Too big for now"})

    assert "Approved, in progress" in slack.card_now(card) and "One form, one webhook" in slack.card_now(card)
    assert "Buy a new CRM" not in slack.card_now(card) and "2026-12-15" in slack.card_now(card)
    stands = slack.thread(card)[-1]
    assert (
        "declined the edit of the fix" in stands.text_of_blocks and "The approved fix stands" in stands.text_of_blocks
    )
    await slack.click_and_submit(stands, "mark_implemented", ALEX, {"metric_now": "2"})
    assert "Implemented" in slack.card_now(card)


async def test_an_overdue_fix_edited_to_a_later_date_is_not_overdue_once_approved_again(slack: SlackWorld) -> None:
    card, request = await to_approval(slack)
    await slack.click(request, "approve", MAYA)
    await tick_at(slack, at(16, 10, month=12))
    assert "overdue" in slack.card_now(card)

    view = await open_form(slack, card_of(slack, card), "edit_fix", ALEX)
    assert view is not None
    await slack.submit(view, {**PROPOSAL, "due_date": "2027-03-01"}, ALEX)
    await slack.click(slack.thread(card)[-1], "approve", MAYA)

    assert "Approved, in progress" in slack.card_now(card) and "overdue" not in slack.card_now(card)


async def test_editing_the_problem_edits_the_first_why_that_quotes_it(slack: SlackWorld) -> None:
    card = await slack.report(ALEX, "Leads arive twice in the CRM")
    why1 = slack.thread(card)[-1]
    view = await open_form(slack, card, "edit_report", ALEX)
    assert view is not None
    await slack.submit(view, {"problem": "Leads arrive twice in the CRM", "area": "Sales", "frequency": "weekly",
                              "hours_per_week": "3", "people": "4", "customers_notice": False}, ALEX)  # fmt: skip
    assert "Leads arrive twice in the CRM" in slack.updates(why1.ts)[-1].text_of_blocks
    assert "the problem." in slack.thread(card)[-1].text_of_blocks
