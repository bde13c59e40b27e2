"""The door in front of the Teams SDK: strict tokens (an expiry, little skew, the activity's own serviceUrl),
malformed activities answered 400 and unknown kinds 200, never a 500 or a traceback; and the SDK's own
environment (its CLIENT_SECRET, parent-directory .env files) cannot switch authentication off or on."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.core.config import ConfigError
from handlers.teams.app import build_teams
from tests.support.teams_world import ALEX, TeamsWorld, outbound_token, teams_settings

ROOT = Path(__file__).resolve().parents[2]


def no_trace(caplog) -> None:
    assert not [r for r in caplog.records if r.exc_info or r.levelname in ("ERROR", "CRITICAL")]


async def say(teams: TeamsWorld, token: str | None = "sign", **changes: object):
    activity = teams.activity(ALEX, teams.personal(ALEX), type="message", text="improve help")
    activity.update(changes)
    return await teams.send(activity, token=token)


@pytest.mark.parametrize(
    "claims",
    [
        lambda now: {"exp": None},  # the SDK accepted a token that never expires
        lambda now: {"exp": now - 150, "nbf": now - 900, "iat": now - 900},
        lambda now: {"nbf": now + 150},
        lambda now: {"aud": "someone-else"},
        lambda now: {"iss": "https://sts.windows.net/evil/"},
        lambda now: {"serviceurl": "https://evil.example/"},
    ],
    ids=["no exp", "expired 150 s", "not valid for 150 s", "other audience", "other issuer", "other serviceurl"],
)
async def test_a_token_that_is_not_strictly_right_gets_401(teams: TeamsWorld, caplog, claims) -> None:
    activity = teams.activity(ALEX, teams.personal(ALEX), type="message", text="improve help")
    token = teams.keys.sign(activity["serviceUrl"], **claims(int(time.time())))

    response = await teams.send(activity, token=f"Bearer {token}")

    assert response.status_code == 401
    assert teams.connector.calls == []
    refusals = [r.getMessage() for r in caplog.records if r.name == "improvebot.teams"]
    assert len(refusals) == 1 and refusals[0].startswith("refused a Teams request (401): ")
    no_trace(caplog)


async def test_a_little_skew_is_tolerated(teams: TeamsWorld) -> None:
    activity = teams.activity(ALEX, teams.personal(ALEX), type="message", text="improve help")
    token = teams.keys.sign(activity["serviceUrl"], exp=int(time.time()) - 60, iat=None, nbf=None)
    assert (await teams.send(activity, token=f"Bearer {token}")).status_code == 200


async def test_a_body_without_a_service_url_cannot_borrow_the_tokens(teams: TeamsWorld, caplog) -> None:
    activity = teams.activity(ALEX, teams.personal(ALEX), type="message", text="improve help")
    token = teams.keys.sign(activity.pop("serviceUrl"))
    assert (await teams.send({**activity, "serviceUrl": None}, token=f"Bearer {token}")).status_code == 401
    no_trace(caplog)


async def test_unknown_keys_fetch_the_key_set_at_most_once_in_a_while(teams: TeamsWorld, caplog) -> None:
    await say(teams)  # the known key set is fetched once
    before = teams.keys.fetches
    activity = teams.activity(ALEX, teams.personal(ALEX), type="message", text="improve help")
    for n in range(5):
        token = teams.keys.sign(activity["serviceUrl"], kid=f"forged-{n}")
        assert (await teams.send(activity, token=f"Bearer {token}")).status_code == 401
    assert teams.keys.fetches - before <= 1
    no_trace(caplog)


@pytest.mark.parametrize(
    "changes",
    [
        {"text": 5},
        {"from": "alex"},
        {"from": {"id": "29:1", "aadObjectId": "not-a-guid"}},
        {"conversation": None},
        {"conversation": {"id": "a:" + "x" * 500, "conversationType": "personal"}},
        {"channelData": "tenant"},
        {"channelData": {"tenant": {"id": "t" * 300}}},
        {"entities": "clientInfo"},
        {"type": None},
        {"timestamp": "yesterday"},
        {"recipient": 5},
    ],
)
async def test_a_malformed_activity_gets_400(teams: TeamsWorld, caplog, changes) -> None:
    response = await say(teams, **changes)

    assert response.status_code == 400
    assert teams.connector.calls == []
    no_trace(caplog)


@pytest.mark.parametrize("changes", [{"type": "foo"}, {"type": "invoke", "name": "made/up", "value": {}}])
async def test_kinds_the_sdk_does_not_model_are_acknowledged(teams: TeamsWorld, caplog, changes) -> None:
    response = await say(teams, **changes)

    assert response.status_code == 200
    assert teams.connector.calls == []
    no_trace(caplog)


def test_the_sdks_own_client_secret_cannot_take_over(monkeypatch, db, clock, teams_keys) -> None:
    monkeypatch.setenv("CLIENT_SECRET", "from-a-shell")
    with pytest.raises(ConfigError, match="CLIENT_SECRET is set"):
        build_teams(teams_settings(teams_keys), engine=db, clock=clock, token=outbound_token)
    no_auth = teams_settings(teams_keys, TEAMS_CLIENT_SECRET="", TEAMS_DEV_NO_AUTH="1")
    with pytest.raises(ConfigError, match="TEAMS_DEV_NO_AUTH cannot be used while a client secret is set"):
        build_teams(no_auth, engine=db, clock=clock)


def test_a_dotenv_file_above_the_working_directory_is_not_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CLIENT_SECRET=leaked\nDANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS=true\n")
    work = tmp_path / "deploy" / "app"
    work.mkdir(parents=True)
    probe = (
        "import os, handlers.teams; print(os.environ.get('CLIENT_SECRET'), os.environ.get('PYTHON_DOTENV_DISABLED'))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CLIENT_SECRET", "PYTHON_DOTENV_DISABLED")}
    done = subprocess.run([sys.executable, "-c", probe], cwd=work, env={**env, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "None"]
