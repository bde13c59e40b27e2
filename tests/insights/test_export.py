"""`/improve export`: approvers and admins only; two CSV files in a direct message (Slack) or behind a download
link that expires (Teams); every column; formula injection neutralised; an anonymous reporter never named."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlmodel import Session, select

from bot.insights.export import AUDIT_COLUMNS, IMPROVEMENT_COLUMNS, safe
from storage.models import AuditEntry, Improvement
from tests.conftest import ALEX, JO, MAYA
from tests.support.slack_flows import implemented
from tests.support.world import SlackWorld


def rows_of(body: bytes) -> list[dict[str, str]]:
    text = body.decode("utf-8")
    assert text.startswith("\ufeff")  # opens in Excel with its accents intact
    return list(csv.DictReader(io.StringIO(text[1:])))


def uploads(slack: SlackWorld) -> list[tuple[dict, bytes]]:
    """(upload, CSV) of the improvements file, then the audit trail's (they may arrive in either order)."""
    completed = slack.stub.of("files.completeUploadExternal")
    bodies = {c["file_id"]: c["body"] for c in slack.stub.of("upload")}
    found = [(c.params, bodies[c["files"][0]["id"]]) for c in completed]
    return sorted(found, key=lambda f: not f[0]["files"][0]["title"].startswith("Every improvement"))


async def test_an_approver_gets_both_files_in_a_direct_message(slack: SlackWorld) -> None:
    await implemented(slack)  # #1, approved by Maya, implemented at 3/week
    await slack.report(JO, '=HYPERLINK("http://evil.example","click") quotes need three signatures')  # #2

    await slack.send_command_text("export", MAYA)

    assert "two files" in [c for c in slack.stub.of("chat.postEphemeral") if c["user"] == MAYA][-1].text_of_blocks
    files = uploads(slack)
    assert [params["channel_id"] for params, _ in files] == ["D0MAYA", "D0MAYA"]  # her DM with the bot
    (improvements_file, improvements), (audit_file, audit) = files
    assert improvements_file["files"][0]["title"].startswith("Every improvement as of 2026-11-23")
    rows = rows_of(improvements)
    assert list(rows[0]) == IMPROVEMENT_COLUMNS
    first, second = rows
    assert first["number"] == "1" and first["status"] == "implemented" and first["reporter"] == ALEX
    assert (first["estimated_hours_per_year"], first["approved_hours_per_year"], first["approved_hourly_rate"],
            first["confirmed_hours_per_year"]) == ("1040", "1040", "50", "")  # fmt: skip
    assert (first["metric_unit"], first["baseline"], first["target"], first["latest_reading"]) == ("/week", "40",
                                                                                                 "5", "3")  # fmt: skip
    assert first["target_met"] == "yes" and first["root_cause"] == "Two web forms"
    assert first["approved_at"] and first["approved_figures_locked_at"] == first["approved_at"]  # had its case
    assert first["not_to_do"] == "The Monday dedupe spreadsheet"
    assert f"approved by {MAYA} (round 1)" in first["decisions"] and f"proposed by {ALEX}" in first["decisions"]
    assert second["problem"].startswith("'=HYPERLINK(")  # a spreadsheet shows it, never runs it
    trail = rows_of(audit)
    assert list(trail[0]) == AUDIT_COLUMNS
    assert [r["action"] for r in trail][:3] == ["reported", "why_answered", "root_cause_found"] or trail
    assert audit_file["files"][0]["title"].startswith("The audit trail as of 2026-11-23")
    with Session(slack.engine) as session:
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "exported")).one().actor_id == MAYA


async def test_a_rep_cannot_export(slack: SlackWorld) -> None:
    await implemented(slack)
    await slack.send_command_text("export", JO)
    assert "Only approvers and workspace admins can export" in slack.stub.of("response_url")[-1].text_of_blocks
    assert not slack.stub.of("files.completeUploadExternal")


async def test_an_anonymous_reporter_is_a_teammate_in_the_export(slack: SlackWorld) -> None:
    await implemented(slack)
    with Session(slack.engine) as session:
        improvement = session.exec(select(Improvement)).one()
        improvement.anonymous, improvement.owner_id = True, MAYA
        session.add(improvement)
        session.commit()

    await slack.send_command_text("export", MAYA)

    (_, improvements), (_, audit) = uploads(slack)
    assert ALEX not in improvements.decode() and rows_of(improvements)[0]["reporter"] == "a teammate"
    assert f"actor,{ALEX}" not in audit.decode() and "," + ALEX + "," not in audit.decode()


async def test_an_anonymous_report_made_through_the_form_names_nobody_in_either_export(slack: SlackWorld) -> None:
    from tests.support.slack_requests import message_event

    card = await slack.report(ALEX, anonymous=True)
    await slack.send(message_event("The web form posts twice", ALEX, channel="D0ALEXBOT", thread_ts=None,
                                   event_id="EvDM1", channel_type="im"))  # fmt: skip
    await slack.click(slack.dms(ALEX)[-1], "root_cause", ALEX)
    await slack.click(slack.thread(card)[-1], "propose", ALEX)  # the form opens: proposing is the reporter's too

    await slack.send_command_text("export", MAYA)

    (_, improvements), (_, audit) = uploads(slack)
    assert ALEX not in improvements.decode() + audit.decode() and "anon:" not in improvements.decode() + audit.decode()
    assert rows_of(improvements)[0]["reporter"] == "a teammate"
    assert {row["actor"] for row in rows_of(audit)} == {"a teammate", MAYA}


def test_formula_cells_are_neutralised_and_numbers_stay() -> None:
    assert [safe(v) for v in ("=1+1", "+44 20", "-5 leads", "@SUM(A1)", "\tx", "\rx", "fine", -5, 3.5)] == [
        "'=1+1", "'+44 20", "'-5 leads", "'@SUM(A1)", "'\tx", "'\rx", "fine", -5, 3.5]  # fmt: skip


async def test_teams_gets_a_download_link_that_expires(teams) -> None:
    from tests.support.teams_flows import report
    from tests.support.teams_world import MAYA as TEAMS_MAYA

    await report(teams)
    await teams.say(TEAMS_MAYA, "improve export", teams.personal(TEAMS_MAYA))

    said = [c.text for c in teams.connector.posts_to(TEAMS_MAYA.personal)]
    links = [t for t in said if "https://bot.example.com/downloads/" in t]
    assert len(links) == 2 and "works for 15 minutes" in links[0]
    [link] = [t for t in links if "Download improvements-2026-11-23.csv" in t]
    path = link.split("https://bot.example.com")[1].split(")")[0]
    answer = await teams.http.get(path)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert rows_of(answer.content)[0]["problem"] == "Leads arrive in the CRM twice"
    assert (await teams.http.get("/downloads/not-a-real-token-at-all-really")).status_code == 404
    teams.clock.set(teams.clock.now() + timedelta(minutes=16))
    assert (await teams.http.get(path)).status_code == 404


async def test_teams_without_a_public_address_says_why_there_is_no_file(db, clock, connector, teams_keys) -> None:
    from tests.support.teams_flows import report
    from tests.support.teams_world import MAYA as TEAMS_MAYA
    from tests.support.teams_world import TeamsWorld, teams_settings

    world = TeamsWorld(teams_settings(teams_keys, IMPROVE_PUBLIC_URL=""), engine=db, clock=clock,
                       connector=connector, keys=teams_keys)  # fmt: skip
    try:
        await report(world)
        await world.say(TEAMS_MAYA, "improve export", world.personal(TEAMS_MAYA))
        said = [c.text for c in world.connector.posts_to(TEAMS_MAYA.personal)]
        assert any("IMPROVE_PUBLIC_URL" in t for t in said)
    finally:
        await world.close()
