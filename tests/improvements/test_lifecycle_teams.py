"""The improvement lifecycle on Teams, through signed activities and a connector stand-in."""

from __future__ import annotations

from tests.support.teams_flows import PROPOSAL, REPORT, report, to_approval
from tests.support.teams_world import ALEX, INTAKE, JO, MAYA, TeamsWorld, find_action


async def test_improve_answers_with_the_report_form(teams: TeamsWorld) -> None:
    response = await teams.say(ALEX, "improve Leads arrive twice", teams.personal(ALEX))

    assert response.status_code == 200
    [form] = teams.connector.posts_to(ALEX.personal)
    card = form.cards[0]
    inputs = {b["id"]: b for b in card["body"] if b.get("type", "").startswith("Input.")}
    assert list(inputs) == [
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
    assert inputs["problem"]["value"] == "Leads arrive twice" and inputs["problem"]["maxLength"] == 3000
    assert inputs["problem"]["isRequired"] and not inputs["idea"]["isRequired"]
    assert card["actions"][0]["type"] == "Action.Execute"


async def test_a_mention_in_a_channel_is_stripped_before_matching(teams: TeamsWorld) -> None:
    channel = {"id": "19:general@thread.tacv2", "conversationType": "channel", "isGroup": True}
    await teams.say(ALEX, "improve", channel, mention=True)
    assert teams.connector.posts_to("19:general@thread.tacv2")[-1].cards[0]["body"][0]["text"] == (
        "Report a broken process"
    )


async def test_report_posts_the_card_in_the_intake_channel_and_asks_why_in_its_reply_chain(teams: TeamsWorld) -> None:
    root = await report(teams)

    [card] = teams.connector.posts_to(INTAKE)
    assert "#1 Leads arrive in the CRM twice" in card.text
    assert "≈ 3 h/week × 4 people ≈ 624 h/year ≈ $31,200/year at $50/h" in card.text
    [why] = teams.connector.posts_to(f"{INTAKE};messageid={root}")
    assert "Why #1" in why.text and "<at>Alex</at>" in why.text
    assert why.cards[0]["msteams"]["entities"][0]["mentioned"] == {"id": ALEX.aad, "name": "Alex"}


async def test_the_whole_flow_in_the_reply_chain(teams: TeamsWorld) -> None:
    root = await report(teams)
    chain = teams.thread(root)
    await teams.say(ALEX, "Two web forms", chain)
    await teams.say(JO, "just chatting", chain)  # not the reporter: left alone
    replies = teams.connector.posts_to(f"{INTAKE};messageid={root}")
    assert len(replies) == 2 and "Why #2" in replies[-1].text

    await teams.click(ALEX, replies[-1], "root_cause", chain)
    chain_post = teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1]
    assert "Root cause of #1" in chain_post.text

    response = await teams.click(ALEX, chain_post, "propose", chain)
    assert response.json()["value"] == "I've sent you the form in our 1:1 chat."
    form = teams.connector.posts_to(ALEX.personal)[-1]
    assert "Propose a fix for #1" in form.text
    await teams.submit(ALEX, form, PROPOSAL, teams.personal(ALEX))
    request = teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1]
    assert "<at>Maya</at>" in request.text and "please review" in request.text

    refused = await teams.click(JO, request, "approve", chain)
    assert refused.json()["value"] == "Only approvers can approve a fix. It has been sent to them."
    await teams.click(MAYA, request, "approve", chain)
    [edit] = teams.connector.updates_of(request.response["id"])
    assert "Approved by <at>Maya</at>" in edit.text
    assert not [b for b in edit.cards[0]["body"] if b.get("type") == "ActionSet"]
    assert "Approved, in progress" in teams.connector.updates_of(root)[-1].text

    assignment = teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1]
    assert find_action(assignment, "mark_implemented")
    await teams.click(ALEX, assignment, "mark_implemented", chain)
    form = teams.connector.posts_to(ALEX.personal)[-1]
    await teams.submit(ALEX, form, {"metric_now": "3", "note": "Merged"}, teams.personal(ALEX))
    assert "40/week → 3/week, target 5/week: target met" in teams.connector.updates_of(root)[-1].text


def offers(call, verb: str) -> bool:
    try:
        return bool(find_action(call, verb))
    except AssertionError:
        return False


async def test_only_the_latest_why_offers_root_cause_found_in_teams(teams: TeamsWorld) -> None:
    root = await report(teams)
    chain = teams.thread(root)
    await teams.say(ALEX, "Two web forms", chain)
    why2 = teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1]
    assert find_action(why2, "root_cause")
    await teams.say(ALEX, "Marketing and sales each built one", chain)

    [settled] = teams.connector.updates_of(why2.response["id"])  # edited in place once Why #3 was asked
    assert "Why #2" in settled.text and not offers(settled, "root_cause")
    why3 = teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1]
    assert "Why #3" in why3.text and find_action(why3, "root_cause")


async def test_form_errors_are_shown_on_the_card_with_the_answers_kept(teams: TeamsWorld) -> None:
    await teams.say(ALEX, "improve", teams.personal(ALEX))
    form = teams.connector.posts_to(ALEX.personal)[-1]

    response = await teams.submit(ALEX, form, {**REPORT, "problem": "Leads twice", "people": "10000"},
                                  teams.personal(ALEX))  # fmt: skip

    body = response.json()
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    card = body["value"]
    errors = [b["text"] for b in card["body"] if b.get("color") == "Attention"]
    assert errors == ["Enter 1,000 or less."]
    assert next(b for b in card["body"] if b.get("id") == "problem")["value"] == "Leads twice"
    assert not teams.connector.posts_to(INTAKE)


async def test_decline_with_a_reason_from_the_approvers_private_form(teams: TeamsWorld) -> None:
    root = await to_approval(teams)
    chain = teams.thread(root)
    request = teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1]

    response = await teams.click(MAYA, request, "decline", chain)
    assert response.json()["value"] == "I've sent you the form in our 1:1 chat."
    form = teams.connector.posts_to(MAYA.personal)[-1]
    empty = await teams.submit(MAYA, form, {"text": ""}, teams.personal(MAYA))
    assert [b["text"] for b in empty.json()["value"]["body"] if b.get("color") == "Attention"] == ["This is required."]
    await teams.submit(MAYA, form, {"text": "We replace the CRM in January"}, teams.personal(MAYA))

    assert "Declined by <at>Maya</at>" in teams.connector.updates_of(request.response["id"])[-1].text
    assert "We replace the CRM in January" in teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1].text
    assert "Declined" in teams.connector.updates_of(root)[-1].text


async def test_the_reporter_withdraws_from_the_card_and_an_approver_reopens(teams: TeamsWorld) -> None:
    root = await report(teams)
    chain = teams.thread(root)
    [card] = teams.connector.posts_to(INTAKE)

    await teams.click(ALEX, card, "close", chain)
    form = teams.connector.posts_to(ALEX.personal)[-1]
    reasons = next(b for b in form.cards[0]["body"] if b.get("id") == "reason")
    assert [c["value"] for c in reasons["choices"]] == ["withdrawn", "duplicate"]
    await teams.submit(ALEX, form, {"reason": "withdrawn", "note": "", "duplicate_of": ""}, teams.personal(ALEX))

    closed = teams.connector.updates_of(root)[-1]
    assert "Closed: withdrawn by Alex" in closed.text  # a fact: the name, not a mention
    refused = await teams.click(JO, closed, "reopen", chain)
    assert refused.json()["value"] == "Only an approver can reopen #1."
    await teams.click(MAYA, closed, "reopen", chain)
    assert "Finding the root cause" in teams.connector.updates_of(root)[-1].text
