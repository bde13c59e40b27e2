"""Installing to many Slack workspaces (issue 13, #1): the "Add to Slack" page and Slack's redirect back, driven
end to end against the Web API stand-in (oauth.v2.access with and without token rotation); the state is checked and
a forged, reused or missing one refused; two workspaces side by side, each with its own numbering, settings and
token; an org-wide Enterprise Grid install serving each workspace of the org on its own; removing the app deletes
its tokens at once, refuses the workspace's requests, and erases its data once the retention days are over."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import MetaData, create_engine, select, text
from sqlmodel import Session
from sqlmodel import select as select_rows

from bot.core.config import ConfigError
from bot.improvements.report import NO_INTAKE
from handlers.slack.app import NOT_INSTALLED
from handlers.slack.install import BOT_SCOPES
from storage.models import SLACK_BOTS, SLACK_INSTALLATIONS, SLACK_OAUTH_STATES, Improvement, Workspace
from tests.conftest import ALEX, MAYA, make_settings
from tests.support import slack_requests as rq
from tests.support.scan import columns_holding
from tests.support.slack_oauth import CLIENT_ID, CLIENT_SECRET, SlackOAuth
from tests.support.world import REPORT_DEFAULTS, SlackWorld

TEAM_A, TEAM_B = "T0ACME", "T0BETA"
PROBLEMS = iter(["Leads arrive twice in the CRM", "Campaign briefs wait a week for legal",
                 "Quotes need three signatures", "Webinar lists are copied by hand",
                 "Renewals are noticed too late"] * 5)  # fmt: skip


@pytest.fixture
async def installs(db, clock, slack_api) -> AsyncIterator[SlackWorld]:
    settings = make_settings(slack_api, SLACK_BOT_TOKEN="", SLACK_CLIENT_ID=CLIENT_ID,
                             SLACK_CLIENT_SECRET=CLIENT_SECRET)  # fmt: skip
    world = SlackWorld.build(settings, engine=db, clock=clock, stub=slack_api)
    slack_api.tokens = {}  # no workspace has a token until it installs the app
    yield world
    await world.close()


async def _install(world: SlackWorld, oauth: SlackOAuth, team: str | None, *, enterprise: str | None = None) -> Any:
    """A person opens the install page, clicks through to Slack, allows, and Slack sends them back."""
    page = await world.http.get("/slack/install")
    assert page.status_code == 200, page.text
    state = _state_of(page)
    code = oauth.consent(team, enterprise=enterprise)
    return await world.http.get("/slack/oauth_redirect", params={"code": code, "state": state},
                                headers={"Cookie": f"slack-app-oauth-state={state}"})  # fmt: skip


def _state_of(page: Any) -> str:
    link = re.search(r'href="(https://slack.com/oauth/v2/authorize\?[^"]+)"', page.text)
    assert link is not None, page.text
    query = parse_qs(urlparse(link.group(1).replace("&amp;", "&")).query)
    cookie = page.headers["set-cookie"]
    assert f"slack-app-oauth-state={query['state'][0]}" in cookie and "HttpOnly" in cookie
    return query["state"][0]


def intake_of(team: str) -> str:
    return f"C0IN{team[1:]}"


def _ready(world: SlackWorld, team: str, **settings: Any) -> None:
    """The workspace's admin picked its intake channel in /improve settings (tests/settings covers the form)."""
    with Session(world.engine) as session:
        row = session.exec(select_rows(Workspace).where(Workspace.external_id == team)).first() or Workspace(
            platform="slack", external_id=team, created_at=world.clock.now(), settings={}
        )
        row.settings = {**world.bot.workspace_settings.to_json(), "intake_channel": intake_of(team), **settings}
        row.settings_saved_at = world.clock.now()
        session.add(row)
        session.commit()
    world.bot.service.forget_workspace(team)


async def _report(world: SlackWorld, team: str, user: str = ALEX, *, enterprise: str = "", ready: bool = True) -> Any:
    if ready:
        with Session(world.engine) as session:
            found = session.exec(select_rows(Workspace).where(Workspace.external_id == team)).first()
        if found is None or found.settings_saved_at is None:
            _ready(world, team)
    before = len(world.stub.of("views.open"))
    body, kind = rq.slash_command("", user, team=team, response_url=world.stub.response_url)
    if enterprise:
        body += f"&enterprise_id={enterprise}&is_enterprise_install=true".encode()  # as Slack sends for an org install
    assert (await world.send((body, kind))).status_code == 200
    opened = world.stub.of("views.open")
    assert len(opened) == before + 1, "no report form opened"
    view = opened[-1]["view"]
    answers = {**REPORT_DEFAULTS, "problem": f"{next(PROBLEMS)} ({team})"}
    response = await world.send(rq.view_submission(view, rq.state_for(view, answers), user, team=team,
                                                   enterprise=enterprise))  # fmt: skip
    if ready:
        assert response.status_code == 200 and not response.content, response.text
    return response


def _numbers(world: SlackWorld) -> dict[str, list[int]]:
    with Session(world.engine) as session:
        rows = session.exec(select_rows(Improvement, Workspace).join(Workspace)).all()
        return {ws.external_id: sorted(i.number for i, w in rows if w.id == ws.id) for _, ws in rows}


def _bots(world: SlackWorld) -> list[dict[str, Any]]:
    with world.engine.connect() as connection:
        return [dict(row) for row in connection.execute(select(SLACK_BOTS)).mappings()]


def _cards(world: SlackWorld) -> list[Any]:
    return [c for c in world.posts() if str(c["channel"]).startswith("C0IN") and not c.get("thread_ts")]


def _cards_by_team(world: SlackWorld) -> list[tuple[str, str]]:
    """(the workspace whose token posted it, the intake channel it went to) of every card."""
    return [(c.team, c["channel"]) for c in _cards(world)]


async def test_the_install_page_links_to_slack_with_every_scope_and_a_state_used_once(installs, slack_api) -> None:
    oauth = SlackOAuth(slack_api)
    page = await installs.http.get("/slack/install")
    link = re.search(r'href="(https://slack.com/oauth/v2/authorize\?[^"]+)"', page.text)
    assert link is not None
    query = parse_qs(urlparse(link.group(1).replace("&amp;", "&")).query)
    assert query["client_id"] == [CLIENT_ID] and query["scope"] == [",".join(BOT_SCOPES)]

    done = await _install(installs, oauth, TEAM_A)

    assert done.status_code == 200 and "Improve is installed in Team T0ACME" in done.text
    assert "/improve settings" in done.text  # what to do next
    [bot] = _bots(installs)
    assert (bot["team_id"], bot["bot_token"], bot["bot_refresh_token"]) == (TEAM_A, oauth.token_of(TEAM_A), None)
    await _report(installs, TEAM_A)
    assert _cards_by_team(installs) == [(TEAM_A, intake_of(TEAM_A))]  # posted with the workspace's token


async def test_a_forged_reused_or_missing_state_or_code_installs_nothing(installs, slack_api) -> None:
    oauth = SlackOAuth(slack_api)
    page = await installs.http.get("/slack/install")
    state = _state_of(page)
    cookie = {"Cookie": f"slack-app-oauth-state={state}"}

    no_cookie = await installs.http.get("/slack/oauth_redirect", params={"code": oauth.consent(TEAM_A), "state": state})
    forged = await installs.http.get("/slack/oauth_redirect",
                                     params={"code": oauth.consent(TEAM_A), "state": "made-up"},
                                     headers={"Cookie": "slack-app-oauth-state=made-up"})  # fmt: skip
    bad_code = await installs.http.get("/slack/oauth_redirect", params={"code": "code-never-given", "state": state},
                                       headers=cookie)  # fmt: skip
    reused = await installs.http.get("/slack/oauth_redirect", params={"code": oauth.consent(TEAM_A), "state": state},
                                     headers=cookie)  # fmt: skip
    cancelled = await installs.http.get("/slack/oauth_redirect", params={"error": "access_denied", "state": state})

    assert [no_cookie.status_code, forged.status_code, bad_code.status_code, reused.status_code] == [400, 401, 401, 401]
    assert cancelled.status_code == 200 and "was cancelled" in cancelled.text
    assert "could not be finished" in reused.text and 'href="/slack/install"' in reused.text
    assert oauth.exchanged == ["code-never-given"]  # the state is checked before any code is exchanged
    assert _bots(installs) == []


async def test_two_workspaces_side_by_side_keep_their_numbering_settings_and_tokens(installs, slack_api, db) -> None:
    oauth = SlackOAuth(slack_api)
    assert (await _install(installs, oauth, TEAM_A)).status_code == 200
    assert (await _install(installs, oauth, TEAM_B)).status_code == 200
    refused = await _report(installs, TEAM_A, ready=False)  # nobody picked its intake channel yet
    told = refused.text + " ".join(str(c.params.get("text")) for c in slack_api.calls)
    assert NO_INTAKE in told and _numbers(installs) == {}
    _ready(installs, TEAM_A)
    _ready(installs, TEAM_B, hourly_rate=90.0)  # B's admin also set its own rate

    await _report(installs, TEAM_A)
    await _report(installs, TEAM_B)
    await _report(installs, TEAM_A, MAYA)

    assert _numbers(installs) == {TEAM_A: [1, 2], TEAM_B: [1]}
    assert _cards_by_team(installs) == [(TEAM_A, intake_of(TEAM_A)), (TEAM_B, intake_of(TEAM_B)),
                                        (TEAM_A, intake_of(TEAM_A))]  # fmt: skip
    money = [re.findall(r"\$[\d,]+", card.text_of_blocks) for card in _cards(installs)]
    assert money[0] == money[2] != money[1]  # the same report costs more at B's rate
    installs.bot.refresh_settings()  # a restart: the configuration overwrites no workspace's own
    with Session(db) as session:
        kept = {w.external_id: w.settings["intake_channel"] for w in session.exec(select_rows(Workspace)).all()}
    assert kept == {TEAM_A: intake_of(TEAM_A), TEAM_B: intake_of(TEAM_B)}


async def test_a_rotating_token_is_refreshed_before_it_expires(installs, slack_api) -> None:
    oauth = SlackOAuth(slack_api, rotation=True, expires_in=3600)  # within Bolt's 2 hours: refreshed at first use
    assert (await _install(installs, oauth, TEAM_A)).status_code == 200
    [installed] = _bots(installs)
    assert installed["bot_refresh_token"] and installed["bot_token_expires_at"] is not None

    await _report(installs, TEAM_A)

    refreshed = [c for c in slack_api.of("oauth.v2.access") if c.params.get("grant_type") == "refresh_token"]
    assert refreshed, "the expiring token was not refreshed"
    assert _cards(installs)[0].team == TEAM_A
    assert len(refreshed) == 1  # once, whoever needed it (Bolt's authorize and delivery share it)
    newest = max(_bots(installs), key=lambda row: row["id"])
    assert newest["bot_token"] == oauth.token_of(TEAM_A) != installed["bot_token"]


async def test_a_request_from_a_workspace_without_the_app_creates_nothing(installs, slack_api) -> None:
    response = await installs.send(rq.slash_command("Leads twice", ALEX, team=TEAM_B,
                                                    response_url=slack_api.response_url))  # fmt: skip
    assert response.status_code == 200 and response.json()["text"] == NOT_INSTALLED
    assert slack_api.of("views.open") == [] and _numbers(installs) == {}


async def test_removing_the_app_deletes_its_tokens_and_erases_its_data_after_retention(installs, slack_api, db) -> None:
    oauth = SlackOAuth(slack_api)
    await _install(installs, oauth, TEAM_A)
    await _install(installs, oauth, TEAM_B)
    await _report(installs, TEAM_A)
    await _report(installs, TEAM_B)
    oauth.revoke(TEAM_A)

    event = {"type": "app_uninstalled", "event_ts": "1800000000.000100"}
    assert (await installs.send(rq.event_body(event, "Ev0UNINSTALL", TEAM_A))).status_code == 200

    assert [row["team_id"] for row in _bots(installs)] == [TEAM_B]
    refused = await installs.send(rq.slash_command("again", ALEX, team=TEAM_A, response_url=slack_api.response_url))
    assert refused.json()["text"] == NOT_INSTALLED
    with Session(db) as session:
        gone = session.exec(select_rows(Workspace).where(Workspace.external_id == TEAM_A)).one()
        assert gone.uninstalled_at is not None
        gone_id = gone.id

    installs.clock.advance(days=29)
    await installs.bot.ticker.tick()
    assert _numbers(installs) == {TEAM_A: [1], TEAM_B: [1]}  # kept for the retention days

    installs.clock.advance(days=2)
    await installs.bot.ticker.tick()
    assert _numbers(installs) == {TEAM_B: [1]}
    with db.connect() as connection:
        for table in ("workspace", "improvement", "outbox_message", "audit_entry", "posted_message"):
            where = "id" if table == "workspace" else "workspace_id"
            count = connection.execute(text(f"SELECT count(*) FROM {table} WHERE {where} = :id"), {"id": gone_id})
            assert count.scalar() == 0, table
    assert columns_holding(db, f"({TEAM_A})") == []  # its report's text is nowhere


async def test_a_revoked_bot_token_is_the_app_removed_and_installing_again_stops_the_clock(installs, slack_api, db):
    oauth = SlackOAuth(slack_api)
    await _install(installs, oauth, TEAM_A)
    await _report(installs, TEAM_A)
    event = {"type": "tokens_revoked", "tokens": {"bot": ["UBOT"]}}
    assert (await installs.send(rq.event_body(event, "Ev0REVOKED", TEAM_A))).status_code == 200
    assert _bots(installs) == []

    assert (await _install(installs, oauth, TEAM_A)).status_code == 200
    with Session(db) as session:
        assert session.exec(select_rows(Workspace)).one().uninstalled_at is None
    installs.clock.advance(days=40)
    await installs.bot.ticker.tick()
    await _report(installs, TEAM_A)
    assert _numbers(installs) == {TEAM_A: [1, 2]}  # nothing erased, the numbering goes on


async def test_an_org_wide_install_serves_each_workspace_of_the_org_on_its_own(installs, slack_api) -> None:
    oauth = SlackOAuth(slack_api)
    done = await _install(installs, oauth, None, enterprise="E0ORG")
    assert done.status_code == 200, done.text

    await _report(installs, TEAM_A, enterprise="E0ORG")
    await _report(installs, TEAM_B, enterprise="E0ORG")
    await _report(installs, TEAM_B, MAYA, enterprise="E0ORG")

    assert _numbers(installs) == {TEAM_A: [1], TEAM_B: [1, 2]}
    assert {team for team, _ in _cards_by_team(installs)} == {"E0ORG"}  # each sent with the org's token


@pytest.fixture
def broken(tmp_path) -> Any:
    """A database that cannot be reached (its file's folder does not exist)."""
    engine = create_engine(f"sqlite:///{tmp_path}/missing/db.sqlite")
    yield engine
    engine.dispose()


async def test_a_database_failing_midway_is_a_page_saying_to_try_again(installs, slack_api, broken) -> None:
    oauth = SlackOAuth(slack_api)
    page = await installs.http.get("/slack/install")
    state = _state_of(page)
    working, installs.bot.oauth.states.engine = installs.bot.oauth.states.engine, broken
    try:
        back = await installs.http.get("/slack/oauth_redirect", params={"code": oauth.consent(TEAM_A), "state": state},
                                       headers={"Cookie": f"slack-app-oauth-state={state}"})  # fmt: skip
        again = await installs.http.get("/slack/install")
    finally:
        installs.bot.oauth.states.engine = working
    assert back.status_code == 503 and "try again" in back.text and 'href="/slack/install"' in back.text
    assert again.status_code == 503 and oauth.exchanged == [] and _bots(installs) == []


async def test_an_uninstall_the_database_cannot_take_yet_is_asked_again(installs, slack_api, broken) -> None:
    oauth = SlackOAuth(slack_api)
    await _install(installs, oauth, TEAM_A)
    event = rq.event_body({"type": "app_uninstalled"}, "Ev0UNINSTALL", TEAM_A)
    working, installs.bot.tokens._engine = installs.bot.tokens._engine, broken
    try:
        first = await installs.send(event)
    finally:
        installs.bot.tokens._engine = working
    assert first.status_code == 503 and [row["team_id"] for row in _bots(installs)] == [TEAM_A]
    assert (await installs.send(event)).status_code == 200  # Slack's retry
    assert _bots(installs) == []


def test_the_tables_are_the_libraries_own() -> None:
    """storage/models/installs.py declares slack-sdk's tables for Alembic: they must stay the library's."""
    theirs = MetaData()
    built = [
        SQLAlchemyInstallationStore.build_bots_table(theirs, "slack_bots"),
        SQLAlchemyInstallationStore.build_installations_table(theirs, "slack_installations"),
        SQLAlchemyOAuthStateStore.build_oauth_states_table(theirs, "slack_oauth_states"),
    ]
    for mine, library in zip((SLACK_BOTS, SLACK_INSTALLATIONS, SLACK_OAUTH_STATES), built, strict=True):
        shape = [(c.name, repr(c.type), c.nullable, c.primary_key) for c in library.columns]
        assert [(c.name, repr(c.type), c.nullable, c.primary_key) for c in mine.columns] == shape, mine.name
        assert {(i.name, tuple(c.name for c in i.columns)) for i in mine.indexes} == {
            (i.name, tuple(c.name for c in i.columns)) for i in library.indexes
        }


@pytest.mark.parametrize(
    ("env", "socket", "says"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": "s"}, False, "both set"),
        ({"SLACK_CLIENT_ID": CLIENT_ID}, False, "SLACK_CLIENT_SECRET is not set"),
        ({"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": "s", "SLACK_APP_TOKEN": "xapp-1"}, True, "--socket"),
    ],
)
def test_installing_to_many_is_configured_one_way(env: dict[str, str], socket: bool, says: str) -> None:
    from bot.core.config import load_settings

    settings = load_settings({"SLACK_SIGNING_SECRET": "x", "IMPROVE_INTAKE_CHANNEL": "C0INTAKE", **env})
    with pytest.raises(ConfigError, match=re.escape(says)):
        settings.require_slack(socket=socket)
