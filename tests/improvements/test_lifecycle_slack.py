"""The whole first flow on Slack, through signed requests: report -> 5 Whys -> proposal -> approval -> done."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import AuditEntry, Improvement
from tests.conftest import ALEX, INTAKE, JO, MAYA
from tests.support.slack_flows import PROPOSAL, to_approval, to_root_cause
from tests.support.world import SlackWorld, find_button, has_button


async def test_slash_command_opens_the_report_form_prefilled(slack: SlackWorld) -> None:
    view = await slack.command("Eight people review every email three times", ALEX)

    assert view["callback_id"] == "report"
    assert view["title"]["text"] == "Report a broken process"
    fields = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert list(fields) == [
        "problem",
        "area",
        "frequency",
        "hours_per_week",
        "people",
        "customers_notice",
        "customers_how",
        "idea",
        "anonymous",
    ]
    assert fields["problem"]["element"]["initial_value"] == "Eight people review every email three times"
    assert fields["problem"]["element"]["max_length"] == 3000
    areas = [o["value"] for o in fields["area"]["element"]["options"]]
    assert areas[-1] == "Other" and "Sales" in areas
    frequencies = [o["value"] for o in fields["frequency"]["element"]["options"]]
    assert frequencies == ["daily", "weekly", "monthly", "rarely"]
    assert fields["hours_per_week"]["optional"] and fields["people"]["optional"] and fields["idea"]["optional"]
    assert not fields["problem"]["optional"]


async def test_report_posts_a_numbered_card_with_the_case_and_asks_the_first_why(slack: SlackWorld) -> None:
    card = await slack.report(ALEX, "Leads arrive in the CRM twice", hours_per_week=3, people=4)

    assert card["channel"] == INTAKE
    text = card.text_of_blocks
    assert "#1 Leads arrive in the CRM twice" in text
    assert f"<@{ALEX}>" in text
    assert "≈ 3 h/week × 4 people ≈ 624 h/year ≈ $31,200/year at $50/h" in text
    assert "Sales" in text
    [why] = slack.thread(card)
    assert "Why #1" in why.text_of_blocks and f"<@{ALEX}>" in why.text_of_blocks
    assert "Leads arrive in the CRM twice" in why.text_of_blocks

    second = await slack.report(JO, "The proposal template is always wrong")
    assert "#2 The proposal template" in second.text_of_blocks


async def test_whys_are_asked_one_at_a_time_quoting_the_last_answer(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    await slack.reply(card.ts, "Two web forms both create leads", ALEX)

    thread = slack.thread(card)
    assert len(thread) == 2
    assert "Why #2" in thread[1].text_of_blocks
    assert "Two web forms both create leads" in thread[1].text_of_blocks
    assert has_button(thread[1], "root_cause")

    await slack.reply(card.ts, "I think it's the webhook", JO)  # someone else chiming in is left alone
    assert len(slack.thread(card)) == 2


async def test_five_answers_end_in_the_root_cause_chain(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    answers = [f"answer {n}" for n in range(1, 6)]
    for answer in answers:
        await slack.reply(card.ts, answer, ALEX)

    thread = slack.thread(card)
    assert [("Why #" in m.text_of_blocks) for m in thread] == [True] * 5 + [False]
    chain = thread[-1].text_of_blocks
    assert "Root cause of #1" in chain
    assert chain.index("answer 1") < chain.index("answer 4") < chain.index("Root cause →") < chain.index("answer 5")
    assert has_button(thread[-1], "propose")
    assert "Root cause found" in slack.card_now(card)
    assert "answer 5" in slack.card_now(card)
    for why in thread[1:5]:  # Why #2 … #5: each settled in place, no live Root cause found left
        [settled] = slack.updates(why.ts)
        assert not has_button(settled, "root_cause")


async def test_root_cause_button_closes_the_whys_early(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    await slack.reply(card.ts, "Two web forms", ALEX)
    await slack.reply(card.ts, "Marketing and sales each built one", ALEX)
    why3 = slack.thread(card)[-1]

    await slack.click(why3, "root_cause", ALEX)

    chain = slack.thread(card)[-1]
    assert "Root cause → Marketing and sales each built one" in chain.text_of_blocks.replace("*", "")
    await slack.reply(card.ts, "a late reply is conversation, not a why", ALEX)
    assert slack.thread(card)[-1] is chain or slack.thread(card)[-1].ts == chain.ts


async def test_only_the_latest_why_offers_root_cause_found(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    await slack.reply(card.ts, "Two web forms", ALEX)
    why2 = slack.thread(card)[-1]
    await slack.reply(card.ts, "Marketing and sales each built one", ALEX)
    why3 = slack.thread(card)[-1]

    [settled] = slack.updates(why2.ts)  # edited in place once Why #3 was asked
    assert not has_button(settled, "root_cause") and "Why #2" in settled.text_of_blocks
    assert "Answered in this thread" in settled.text_of_blocks
    assert has_button(why3, "root_cause") and not slack.updates(why3.ts)

    await slack.click(why2, "root_cause", ALEX)  # the old button, clicked before its edit arrived
    assert "the 5 Whys have moved on" in slack.ephemerals(ALEX)[-1]
    assert "Root cause of" not in slack.thread(card)[-1].text_of_blocks  # the chain is still open

    await slack.click(why3, "root_cause", ALEX)

    [closed] = slack.updates(why3.ts)  # the chain is closed: no live button is left anywhere
    assert not has_button(closed, "root_cause")
    chain = slack.thread(card)[-1].text_of_blocks.replace("*", "")
    assert "Root cause → Marketing and sales each built one" in chain


async def test_proposal_asks_the_approvers_in_the_thread(slack: SlackWorld) -> None:
    card, chain = await to_root_cause(slack)
    opened_before = len(slack.stub.of("views.open"))
    await slack.click(chain, "propose", ALEX)
    view = slack.stub.of("views.open")[opened_before]["view"]
    assert view["callback_id"] == "propose"
    owner = next(b for b in view["blocks"] if b.get("block_id") == "owner")
    assert owner["element"]["initial_user"] == ALEX

    await slack.submit(view, PROPOSAL, ALEX)

    request = slack.thread(card)[-1]
    text = request.text_of_blocks
    assert f"<@{MAYA}>" in text and "<!subteam^S0LEADS>" in text
    assert "One form, one webhook" in text and "40/week → 5/week (lower is better)" in text
    assert "The Monday dedupe spreadsheet" in text
    assert [e["action_id"] for e in request["blocks"][-1]["elements"]] == ["approve", "decline", "question"]
    assert "Awaiting approval" in slack.card_now(card)


async def test_approve_edits_the_request_in_place_and_tells_the_owner(slack: SlackWorld) -> None:
    card, request = await to_approval(slack)

    await slack.click(request, "approve", MAYA)

    [edit] = slack.updates(request.ts)
    assert f"✅ Approved by <@{MAYA}>" in edit.text_of_blocks
    assert not any(b["type"] == "actions" for b in edit["blocks"])
    assert "Approved, in progress" in slack.card_now(card)
    assignment = slack.thread(card)[-1]
    assert f"<@{ALEX}> it's yours" in assignment.text_of_blocks
    assert has_button(assignment, "mark_implemented")
    [dm] = slack.dms(ALEX)
    assert "you are its owner" in dm.text_of_blocks


async def test_mark_implemented_shows_before_and_after_on_the_card(slack: SlackWorld) -> None:
    card, request = await to_approval(slack)
    await slack.click(request, "approve", MAYA)
    assignment = slack.thread(card)[-1]

    await slack.click_and_submit(assignment, "mark_implemented", ALEX, {"metric_now": "3", "note": "Merged"})

    assert "Before → after: 40/week → 3/week, target 5/week: target met" in slack.card_now(card).replace("*", "")
    assert "Implemented" in slack.card_now(card)
    assert "marked #1 implemented" in slack.thread(card)[-1].text_of_blocks
    edit = slack.updates(assignment.ts)[-1]
    assert not has_button(edit, "mark_implemented")
    with Session(slack.engine) as session:
        improvement = session.exec(select(Improvement)).one()
        assert improvement.status == "implemented" and improvement.metric_now_value == 3
        actions = [a.action for a in session.exec(select(AuditEntry).order_by(AuditEntry.id)).all()]
    assert actions == ["reported", "answered_why", "root_cause_found", "proposed", "approved", "implemented"]


async def test_decline_needs_a_reason_and_posts_it_in_the_thread(slack: SlackWorld) -> None:
    card, request = await to_approval(slack)
    opened = len(slack.stub.of("views.open"))
    await slack.click(request, "decline", MAYA)
    view = slack.stub.of("views.open")[opened]["view"]

    empty = await slack.submit(view, {"text": "  "}, MAYA)
    assert empty.json() == {"response_action": "errors", "errors": {"text": "This is required."}}
    assert not slack.updates(request.ts)

    await slack.submit(view, {"text": "We are replacing the CRM in January"}, MAYA)
    assert f"🚫 Declined by <@{MAYA}>" in slack.updates(request.ts)[-1].text_of_blocks
    reason = slack.thread(card)[-1]
    assert "We are replacing the CRM in January" in reason.text_of_blocks
    assert "Declined" in slack.card_now(card)


async def test_question_then_resubmit_starts_a_new_approval_round(slack: SlackWorld) -> None:
    card, request = await to_approval(slack)
    await slack.click_and_submit(request, "question", MAYA, {"text": "Who maintains the webhook?"})

    question = slack.thread(card)[-1]
    assert "Who maintains the webhook?" in question.text_of_blocks
    assert "Question asked" in slack.card_now(card)
    await slack.reply(card.ts, "Ops does, Priya has agreed", ALEX)  # the answer is conversation in the thread

    await slack.click_and_submit(
        question, "resubmit", ALEX, {**PROPOSAL, "countermeasure": "One form, one webhook (Ops)"}
    )

    second = slack.thread(card)[-1]
    assert "One form, one webhook (Ops)" in second.text_of_blocks
    assert find_button(second, "approve")["value"].endswith(":2")
    old_click = await slack.click(request, "approve", MAYA)  # the first round's buttons are stale
    assert old_click.status_code == 200
    assert "already been answered" in slack.ephemerals(MAYA)[-1]
    await slack.click(second, "approve", MAYA)
    assert "Approved, in progress" in slack.card_now(card)
