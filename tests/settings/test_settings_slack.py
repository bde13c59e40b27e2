"""Settings in chat on Slack (issue 13, #2): `/improve settings` opens every setting for the workspace's admins
(others are refused, a forged submission too); each field's bad values are said on the field, and a channel the
bot cannot post in is refused; saved settings apply at once (the next approval request asks the new approvers,
the weekly announcement moves to its new slot), are audited and announced in one line, and the environment no
longer overwrites them."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from storage.models import AuditEntry, Digest, Workspace
from tests.conftest import ALEX, INTAKE, JO, MAYA, SAM
from tests.support import slack_requests as rq
from tests.support.slack_flows import PROPOSAL, at, implemented, tick_at
from tests.support.world import SlackWorld


async def _open(slack: SlackWorld, user: str = MAYA) -> dict[str, Any]:
    return await slack.command("settings", user)


def _saved(slack: SlackWorld) -> dict[str, Any]:
    with Session(slack.engine) as session:
        row = session.exec(select(Workspace)).one()
        return {**row.settings, "saved_at": row.settings_saved_at}


async def _submit(slack: SlackWorld, view: dict[str, Any], user: str = MAYA, **changes: Any):
    return await slack.submit(view, {**rq.initial_answers(view), **changes}, user)


async def test_only_admins_open_the_settings(slack: SlackWorld) -> None:
    await slack.send_command_text("settings", ALEX)
    assert "Only the workspace's admins" in slack.stub.of("response_url")[-1].text_of_blocks
    view = await _open(slack)  # Maya is a workspace admin
    fields = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert fields["intake_channel"]["type"] == "conversations_select"
    assert fields["intake_channel"]["initial_conversation"] == INTAKE
    assert fields["approvers"]["type"] == "multi_users_select" and fields["approvers"]["initial_users"] == [MAYA]
    assert fields["approver_groups"]["initial_value"] == "S0LEADS"
    assert fields["digest_at"]["initial_value"] == "fri 16:00"

    forged = await _submit(slack, view, ALEX, digest_at="mon 09:00")  # the form's answer sent by a rep
    assert forged.status_code == 200
    assert _saved(slack)["digest_at"] == "fri 16:00" and _saved(slack)["saved_at"] is None


async def test_each_fields_bad_values_are_said_on_the_field(slack: SlackWorld) -> None:
    slack.stub.conversations["C0PUBLIC"] = {"is_member": False}  # public: posts go there, its threads do not
    slack.stub.conversations["C0OLD"] = {"is_archived": True, "is_member": True}
    view = await _open(slack)
    response = await _submit(slack, view, process_areas=" \n ,", checkin_days="0, 800", digest_at="funday 25:00",
                             timezone="Mars/Olympus", approver_groups="X1", hourly_rate="0", retention_days="0",
                             currency=" ")  # fmt: skip
    errors = response.json()["errors"]
    assert set(errors) >= {"hourly_rate", "retention_days", "currency"}  # the fields' own limits first
    response = await _submit(slack, view, process_areas=" \n ,", checkin_days="0, 800", digest_at="funday 25:00",
                             timezone="Europe", fallback_groups="leads")  # fmt: skip
    errors = response.json()["errors"]
    assert set(errors) == {"process_areas", "checkin_days", "digest_at", "timezone", "fallback_groups"}
    response = await _submit(slack, view, intake_channel="C0PUBLIC", wins_channel="C9GONE")
    errors = response.json()["errors"]
    assert "invite it there first" in errors["intake_channel"] and "cannot see that channel" in errors["wins_channel"]
    response = await _submit(slack, view, wins_channel="C0OLD")
    assert "archived" in response.json()["errors"]["wins_channel"]
    assert _saved(slack)["saved_at"] is None


async def test_saved_settings_apply_at_once_are_announced_and_stay(slack: SlackWorld) -> None:
    card = await implemented(slack)  # a win this week; approvers were Maya and the group
    view = await _open(slack)
    response = await _submit(slack, view, approvers=[JO], approver_groups="", digest_at="Mon  09:00",
                             process_areas="Sales\nField marketing")  # fmt: skip
    assert response.status_code == 200 and not response.content  # the modal closes

    saved = _saved(slack)
    assert saved["approvers"] == [JO] and saved["digest_at"] == "mon 09:00" and saved["saved_at"] is not None
    said = [c for c in slack.posts() if c["channel"] == INTAKE and "changed the settings" in c.text_of_blocks]
    assert said and f"<@{MAYA}> changed the settings: approvers, process areas, announcement time." in (
        said[-1].text_of_blocks)  # fmt: skip
    with Session(slack.engine) as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "settings_changed")).one()
        assert entry.actor_id == MAYA and entry.detail["fields"] == ["approvers", "process_areas", "digest_at"]
    assert "Saved (approvers" in slack.ephemerals(MAYA)[-1] or any(
        "Saved (approvers" in c.text_of_blocks for c in slack.dms(MAYA))  # fmt: skip

    # the environment (Maya and the group) no longer overwrites them, at a restart as at any start
    slack.bot.refresh_settings()
    assert _saved(slack)["approvers"] == [JO]
    # the weekly announcement moved: none on Friday, one on Monday at 09:00
    await tick_at(slack, at(27, 16, 5))
    with Session(slack.engine) as session:
        assert not [d for d in session.exec(select(Digest)).all() if d.status == "posted"]
    await tick_at(slack, at(30, 9, 5))
    with Session(slack.engine) as session:
        posted = [d for d in session.exec(select(Digest)).all() if d.status == "posted"]
    assert [d.week for d in posted] == ["2026-W49"] and card is not None


async def test_an_untouched_form_changes_nothing(slack: SlackWorld) -> None:
    view = await _open(slack)
    response = await _submit(slack, view)
    assert response.status_code == 200
    assert _saved(slack)["saved_at"] is None  # the environment still applies
    assert "Nothing changed." in slack.ephemerals(MAYA)[-1] or any(
        "Nothing changed." in c.text_of_blocks for c in slack.dms(MAYA))  # fmt: skip


async def test_new_approvers_are_asked_by_the_next_request(slack: SlackWorld) -> None:
    view = await _open(slack)
    await _submit(slack, view, approvers=[SAM], approver_groups="")
    card = await slack.report(ALEX)
    await slack.reply(card.ts, "Two web forms", ALEX)
    await slack.click(slack.thread(card)[-1], "root_cause", ALEX)
    await slack.click_and_submit(slack.thread(card)[-1], "propose", ALEX, PROPOSAL)
    request = slack.thread(card)[-1]
    assert f"<@{SAM}>" in request.text_of_blocks and f"<@{MAYA}>" not in request.text_of_blocks


async def test_the_operator_can_give_the_settings_back_to_the_environment(
    slack: SlackWorld, monkeypatch, tmp_path
) -> None:
    from handlers.cli import main
    from tests.support.slack_requests import TEAM

    await _submit(slack, await _open(slack), approvers=[JO], approver_groups="")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", slack.engine.url.render_as_string(hide_password=False))
    assert main(["settings-reset", "--platform", "slack", "--workspace", TEAM]) == 0
    slack.bot.refresh_settings()  # the next start
    assert _saved(slack)["approvers"] == [MAYA, "S0LEADS"] and _saved(slack)["saved_at"] is None
