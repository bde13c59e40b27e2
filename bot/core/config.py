"""Settings: read once from the environment (and a `.env` file) into one typed object.

Nothing here runs at import time; `load_settings()` is called by the CLI and the result is passed down.
A missing or invalid value stops start-up with one line that names the variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.core.calendar import weekly

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_AREAS = ("Sales", "Marketing", "Sales ops", "Customer success")

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_APPROVER_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")
_AAD_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class ConfigError(Exception):
    """A setting is missing or invalid; the message is one line naming the variable."""


def _split_list(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


MAX_AREAS_TEXT = 3000  # all process areas, one per line: what one text field of a Slack form holds


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = DEFAULT_SLACK_API_URL
    # installing to many workspaces (Slack's OAuth flow: /slack/install), instead of one SLACK_BOT_TOKEN
    slack_client_id: str = Field(default="", max_length=40, pattern=r"^([0-9]+\.[0-9]+)?$")
    slack_client_secret: SecretStr = SecretStr("")
    database_url: str = "sqlite:///improvebot.db"
    improve_intake_channel: str = ""
    improve_wins_channel: str = ""
    improve_approvers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    improve_fallback_approvers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    improve_hourly_rate: float = Field(default=50.0, gt=0, le=100_000)
    improve_currency: str = Field(default="$", max_length=5)
    improve_process_areas: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_AREAS))
    improve_checkin_days: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [7, 30, 90])
    improve_digest_at: str = "fri 16:00"
    improve_timezone: str = "UTC"
    improve_digest_when_empty: Literal["note", "skip"] = "note"
    improve_remind_approval_days: int = Field(default=2, ge=0, le=60)
    improve_escalate_approval_days: int = Field(default=2, ge=0, le=60)
    improve_nudge_whys_days: int = Field(default=3, ge=0, le=60)
    improve_stall_whys_days: int = Field(default=10, ge=0, le=120)
    port: int = Field(default=3000, ge=1, le=65535)
    improve_probe_port: int = Field(default=0, ge=0, le=65535)  # Socket Mode and workers: /healthz, /readyz, /metrics
    improve_max_body_bytes: int = Field(default=512 * 1024, ge=16 * 1024, le=50 * 1024 * 1024)
    improve_body_timeout: float = Field(default=10.0, gt=0, le=300)
    improve_max_connections: int = Field(default=200, ge=1, le=100_000)
    improve_keepalive_timeout: int = Field(default=5, ge=1, le=600)
    improve_log_level: Literal["debug", "info", "warning"] = "info"
    improve_log_format: Literal["text", "json"] = "text"
    # anonymous reports (bot/core/identity.py): offered in the report form; the key seals the reporter's id
    improve_anonymous_reports: bool = True
    improve_retention_days: int = Field(default=30, ge=1, le=3650)
    improve_secret_key: SecretStr = SecretStr("")
    # where people reach this server (https://bot.example.com): Teams exports are downloaded from it
    improve_public_url: str = Field(
        default="",
        max_length=300,
        pattern=r"^((https://[^\s/?#]+|http://(localhost|127\.0\.0\.1)(:\d+)?)(/[^\s?#]*)?)?$",
    )  # https (download links carry their key), or http on this machine
    improve_db_timeout: float = Field(default=1.0, gt=0, le=60)
    improve_send_timeout: float = Field(default=30.0, ge=1, le=300)
    improve_delivery_concurrency: int = Field(default=128, ge=1, le=1000)
    improve_delivery: Literal["serve", "worker"] = "serve"
    improve_slack_posts_per_second: float = Field(default=5.0, gt=0, le=1000)
    improve_slack_channel_posts_per_second: float = Field(default=1.0, gt=0, le=100)
    improve_slack_channel_burst: int = Field(default=3, ge=1, le=100)
    improve_teams_messages_per_second: float = Field(default=50.0, gt=0, le=1000)
    improve_teams_conversation_messages_per_second: float = Field(default=0.5, gt=0, le=100)
    teams_client_id: str = ""
    teams_client_secret: str = ""
    teams_tenant_id: str = ""
    teams_intake_channel: str = ""
    teams_wins_channel: str = ""
    teams_approvers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    teams_fallback_approvers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    teams_dev_no_auth: bool = False
    teams_service_url: str = "https://smba.trafficmanager.net/teams/"
    teams_openid_url: str = ""  # tests and sovereign clouds: where the Bot Framework signing keys are published

    @field_validator(
        "improve_approvers",
        "improve_fallback_approvers",
        "improve_process_areas",
        "improve_checkin_days",
        "teams_approvers",
        "teams_fallback_approvers",
        mode="before",
    )
    @classmethod
    def _lists(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("teams_approvers", "teams_fallback_approvers")
    @classmethod
    def _teams_approvers(cls, value: list[str]) -> list[str]:
        for item in value:
            if not _AAD_ID.match(item):
                raise ValueError(f"{item!r} is not an Azure AD object id (a GUID like 8f0c…-…)")
        return [item.lower() for item in value]

    @field_validator("teams_client_id", "teams_tenant_id")
    @classmethod
    def _guid(cls, value: str) -> str:
        """A GUID (the tenant: one or more, comma-separated: the organisations served)."""
        parts = [part.strip() for part in value.split(",") if part.strip()]
        for part in parts:
            if not _AAD_ID.match(part):
                raise ValueError(f"{part!r} is not a GUID (copy it from the Azure Bot / Entra ID overview)")
        return ",".join(parts).lower()

    @property
    def teams_tenants(self) -> list[str]:
        """The Microsoft 365 organisations served (an allow-list); empty: every one the app is installed in."""
        return [part for part in self.teams_tenant_id.split(",") if part]

    @field_validator("teams_intake_channel", "teams_wins_channel")
    @classmethod
    def _teams_channel(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith("19:"):
            raise ValueError(f"{value!r} is not a Teams channel id (19:…@thread.tacv2; see README)")
        return value

    @field_validator("improve_checkin_days")
    @classmethod
    def _checkin_days(cls, value: list[int]) -> list[int]:
        if not value or len(value) > 10 or any(day < 1 or day > 730 for day in value):
            raise ValueError("give 1 to 10 day counts between 1 and 730, e.g. 7,30,90")
        return sorted(set(value))

    @field_validator("improve_digest_at")
    @classmethod
    def _digest_at(cls, value: str) -> str:
        return weekly(value)

    @field_validator("improve_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of zones, like "Europe"
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("improve_process_areas")
    @classmethod
    def _areas(cls, value: list[str]) -> list[str]:
        if len(value) > 90:
            raise ValueError("at most 90 process areas")
        if any(len(item) > 60 for item in value):
            raise ValueError("each process area is at most 60 characters")
        if len("\n".join(value)) > MAX_AREAS_TEXT:
            raise ValueError(f"the process areas take at most {MAX_AREAS_TEXT:,} characters in all")
        return value or list(DEFAULT_AREAS)

    @field_validator("improve_approvers", "improve_fallback_approvers")
    @classmethod
    def _approvers(cls, value: list[str]) -> list[str]:
        for item in value:
            if not _APPROVER_ID.match(item):
                raise ValueError(f"{item!r} is not a Slack user id (U…/W…) or user-group id (S…)")
        return value

    @field_validator("improve_intake_channel", "improve_wins_channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        value = value.strip()
        if value and not _CHANNEL_ID.match(value):
            raise ValueError(f"{value!r} is not a Slack channel id (C…, G…); copy it from the channel's details")
        return value

    # -- what the configuration allows -------------------------------------------------------------

    @property
    def slack_configured(self) -> bool:
        return bool(self.slack_bot_token or self.slack_client_id)

    @property
    def slack_oauth(self) -> bool:
        """Installed through Slack's OAuth flow, each workspace with its own token (else: one SLACK_BOT_TOKEN)."""
        return bool(self.slack_client_id)

    @property
    def teams_configured(self) -> bool:
        return bool(self.teams_client_id or self.teams_client_secret or self.teams_tenant_id) or self.teams_dev_no_auth

    def require_teams(self) -> None:
        """Serving Teams needs the bot's app registration, its tenant, channels and approvers; one clear line for
        the first one missing."""
        needed = [("TEAMS_CLIENT_ID", self.teams_client_id)]
        if not self.teams_dev_no_auth:
            needed.append(("TEAMS_CLIENT_SECRET", self.teams_client_secret))
        if self.teams_tenant_id:  # the first organisation named is served as configured from its first day
            needed += [
                ("TEAMS_INTAKE_CHANNEL", self.teams_intake_channel),
                ("TEAMS_APPROVERS", ",".join(self.teams_approvers)),  # Teams has no admin fallback
            ]
        for name, value in needed:
            if not value:
                raise ConfigError(f"{name} is not set; it is needed to serve Teams (see README, Microsoft Teams)")
        if self.teams_dev_no_auth and self.teams_client_secret:
            raise ConfigError(
                "TEAMS_DEV_NO_AUTH cannot be used with TEAMS_CLIENT_SECRET: unauthenticated requests could make the "
                "bot send its real token anywhere"
            )

    def require_slack(self, *, socket: bool, worker: bool = False) -> None:
        """Serving Slack needs these (a `worker`, which only sends, needs no way in); one clear line for the first
        one missing."""
        if self.slack_oauth:
            self._require_oauth(socket=socket)
        needed = [] if self.slack_oauth else [("SLACK_BOT_TOKEN", self.slack_bot_token)]
        if socket and not worker:
            needed.append(("SLACK_APP_TOKEN", self.slack_app_token))
        elif not worker:
            needed.append(("SLACK_SIGNING_SECRET", self.slack_signing_secret))
        if not self.slack_oauth:  # installed to many, each workspace's admin picks its channel
            needed.append(("IMPROVE_INTAKE_CHANNEL", self.improve_intake_channel))
        for name, value in needed:
            if not value:
                raise ConfigError(f"{name} is not set; it is needed to serve Slack (see README, Configuration)")
        if socket and not worker and not self.slack_app_token.startswith("xapp-"):
            raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")

    def _require_oauth(self, *, socket: bool) -> None:
        if self.slack_bot_token:
            raise ConfigError(
                "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set: use a bot token for one workspace, or the client "
                "id and secret to install to many (see README, Installing to Slack)"
            )
        if not self.slack_client_secret.get_secret_value():
            raise ConfigError("SLACK_CLIENT_SECRET is not set; it is needed to install to Slack workspaces (OAuth)")
        if socket:
            raise ConfigError(
                "installing to many workspaces (SLACK_CLIENT_ID) needs the HTTP server: run without --socket"
            )


def load_settings(env: Mapping[str, str] | None = None, *, env_file: str | None = ".env") -> Settings:
    """Load settings from the process environment (or `env`, for tests); raise ConfigError on bad input."""
    try:
        if env is None:
            return Settings(_env_file=env_file)  # type: ignore[call-arg]
        values: dict[str, Any] = {key.lower(): value for key, value in env.items()}
        return Settings.model_validate(values)  # explicit values only: the process environment is not read
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "setting"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name} is invalid: {message}") from None
