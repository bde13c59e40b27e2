"""Settings: one clear line naming the variable when something is missing or wrong."""

from __future__ import annotations

import pytest

from bot.core.config import ConfigError, load_settings


def test_defaults_are_usable_without_any_environment() -> None:
    settings = load_settings({})
    assert settings.database_url == "sqlite:///improvebot.db"
    assert settings.improve_hourly_rate == 50 and settings.port == 3000
    assert settings.improve_process_areas[:2] == ["Sales", "Marketing"]
    assert not settings.slack_configured


def test_lists_are_comma_separated() -> None:
    settings = load_settings({"IMPROVE_APPROVERS": "U01, S02 ,", "IMPROVE_PROCESS_AREAS": "Leads, Proposals"})
    assert settings.improve_approvers == ["U01", "S02"]
    assert settings.improve_process_areas == ["Leads", "Proposals"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"IMPROVE_HOURLY_RATE": "abc"}, "IMPROVE_HOURLY_RATE is invalid"),
        ({"IMPROVE_HOURLY_RATE": "-5"}, "IMPROVE_HOURLY_RATE is invalid"),
        ({"PORT": "99999"}, "PORT is invalid"),
        ({"IMPROVE_APPROVERS": "maya"}, "IMPROVE_APPROVERS is invalid: 'maya' is not a Slack user id"),
        ({"IMPROVE_INTAKE_CHANNEL": "#improvements"}, "IMPROVE_INTAKE_CHANNEL is invalid: '#improvements' is not a"),
        ({"SLACK_API_URL": "slack.com"}, "SLACK_API_URL is invalid: must be an http(s) URL"),
    ],
)
def test_invalid_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_serving_slack_needs_its_credentials_and_an_intake_channel() -> None:
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-1"})
    with pytest.raises(ConfigError, match=r"^SLACK_SIGNING_SECRET is not set"):
        settings.require_slack(socket=False)
    with pytest.raises(ConfigError, match=r"^SLACK_APP_TOKEN is not set"):
        settings.require_slack(socket=True)
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"})
    with pytest.raises(ConfigError, match=r"^IMPROVE_INTAKE_CHANNEL is not set"):
        settings.require_slack(socket=False)


def test_serving_teams_needs_its_registration_and_an_intake_channel() -> None:
    settings = load_settings({"TEAMS_CLIENT_ID": "11111111-2222-3333-4444-555555555555"})
    assert settings.teams_configured
    with pytest.raises(ConfigError, match=r"^TEAMS_CLIENT_SECRET is not set"):
        settings.require_teams()
    dev = load_settings({"TEAMS_CLIENT_ID": "11111111-2222-3333-4444-555555555555", "TEAMS_DEV_NO_AUTH": "1",
                         "TEAMS_TENANT_ID": "72f988bf-86f1-41af-91ab-2d7cd011db47"})  # fmt: skip
    with pytest.raises(ConfigError, match=r"^TEAMS_INTAKE_CHANNEL is not set"):
        dev.require_teams()
    unsafe = load_settings({"TEAMS_CLIENT_ID": "11111111-2222-3333-4444-555555555555", "TEAMS_DEV_NO_AUTH": "1",
                            "TEAMS_CLIENT_SECRET": "s", "TEAMS_TENANT_ID": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                            "TEAMS_INTAKE_CHANNEL": "19:a@thread.tacv2",
                            "TEAMS_APPROVERS": "aaaaaaaa-0000-0000-0000-000000000002"})  # fmt: skip
    with pytest.raises(ConfigError, match=r"^TEAMS_DEV_NO_AUTH cannot be used with TEAMS_CLIENT_SECRET"):
        unsafe.require_teams()
    with pytest.raises(ConfigError, match=r"^TEAMS_CLIENT_ID is invalid: 'my-bot' is not a GUID"):
        load_settings({"TEAMS_CLIENT_ID": "my-bot"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TEAMS_APPROVERS": "maya@example.com"}, "TEAMS_APPROVERS is invalid: 'maya@example.com' is not an Azure AD"),
        ({"TEAMS_INTAKE_CHANNEL": "General"}, "TEAMS_INTAKE_CHANNEL is invalid: 'General' is not a Teams channel id"),
    ],
)
def test_invalid_teams_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert str(caught.value).startswith(message)
