"""The door in front of the Teams SDK on `/api/messages`. The SDK accepts a token without `exp`, allows five
minutes of skew, skips the `serviceurl` check when the body has no `serviceUrl`, and answers a malformed activity
with a 500 and a traceback that quotes the body. Here, before the SDK sees anything: the token is checked strictly
(401), then the activity's shape, both the fields our listeners store and the SDK's own parsing (400); kinds the
SDK does not model are acknowledged and ignored (200). Every refusal is one log line with a reason."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from microsoft_teams.api import ActivityTypeAdapter
from microsoft_teams.api.auth.cloud_environment import CloudEnvironment
from microsoft_teams.apps.auth import TokenValidator
from microsoft_teams.apps.events import CoreActivity
from pydantic import BaseModel, ConfigDict, Field, ValidationError

LEEWAY = 120  # seconds of clock skew a token may have (the SDK allows 300)
REFRESH_AT_MOST_EVERY = 30.0  # seconds: a token naming a key we do not know fetches the key set no more often

Guid = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]


_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"  # ids end up in URLs and in the database
Text40 = Annotated[str, Field(max_length=40, pattern=_PRINTABLE)]
Text100 = Annotated[str, Field(max_length=100, pattern=_PRINTABLE)]
Text200 = Annotated[str, Field(max_length=200, pattern=_PRINTABLE)]  # what the database keeps of an id


class _Shape(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", populate_by_name=True)


class _Account(_Shape):
    id: Text200 | None = None
    aad_object_id: Guid | None = Field(default=None, alias="aadObjectId")


class _Conversation(_Shape):
    id: Text200
    tenant_id: Text100 | None = Field(default=None, alias="tenantId")
    conversation_type: Text40 | None = Field(default=None, alias="conversationType")


class _IdOnly(_Shape):
    id: Text200 | None = None


class _ChannelData(_Shape):
    tenant: _IdOnly | None = None
    team: _IdOnly | None = None
    channel: _IdOnly | None = None


class _Activity(_Shape):
    """The fields our listeners read and store, at the lengths the database keeps."""

    type: Text40
    id: Text200 | None = None
    service_url: Annotated[str, Field(pattern=r"^https?://", max_length=300)] = Field(alias="serviceUrl")
    sender: _Account | None = Field(default=None, alias="from")
    recipient: _Account | None = None
    conversation: _Conversation | None = None
    channel_data: _ChannelData | None = Field(default=None, alias="channelData")
    entities: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Verdict:
    status: int  # 0: hand it to the SDK; otherwise answer with this status
    reason: str = ""  # for the one log line: never the body


PASS = Verdict(0)


class Tokens:
    """Bot Framework tokens, checked before the SDK's own check: signed by Microsoft's current keys, issued for
    this bot, with an expiry (at most LEEWAY seconds of skew), and for the very serviceUrl the activity names."""

    def __init__(self, client_id: str, cloud: CloudEnvironment) -> None:
        options = TokenValidator.for_service(client_id, cloud=cloud).options
        self._issuers = list(options.valid_issuers)
        self._audiences = list(options.valid_audiences)
        self._keys = jwt.PyJWKClient(options.jwks_uri or "", timeout=10, lifespan=300)
        self._refreshed = 0.0
        self._fetcher = ThreadPoolExecutor(1, thread_name_prefix="teams-keys")  # never queued behind other work

    def _key(self, token: str) -> Any:
        kid = jwt.get_unverified_header(token).get("kid")
        keys = {key.key_id: key for key in self._keys.get_signing_keys()}
        if kid not in keys and time.monotonic() - self._refreshed > REFRESH_AT_MOST_EVERY:
            self._refreshed = time.monotonic()
            keys = {key.key_id: key for key in self._keys.get_signing_keys(refresh=True)}
        if kid not in keys:
            raise jwt.InvalidKeyError("a key Microsoft does not publish")
        return keys[kid].key

    async def problem(self, authorization: str, body: dict[str, Any]) -> str | None:
        """None when the request carries such a token; else why not (for the log)."""
        if not authorization.startswith("Bearer "):
            return "no bearer token"
        token = authorization.removeprefix("Bearer ")
        try:
            key = await asyncio.get_running_loop().run_in_executor(
                self._fetcher, self._key, token
            )  # HTTP: off the loop
            claims = jwt.decode(token, key, algorithms=["RS256"], audience=self._audiences, issuer=self._issuers,
                                leeway=LEEWAY, options={"require": ["exp", "iss", "aud"]})  # fmt: skip
        except (jwt.PyJWTError, OSError, ValueError) as exc:
            return f"a token refused ({type(exc).__name__})"
        claimed, named = claims.get("serviceurl"), body.get("serviceUrl")
        if not (isinstance(claimed, str) and isinstance(named, str)) or claimed.rstrip("/") != named.rstrip("/"):
            return "a token for another serviceUrl"
        return None


def inspect(body: dict[str, Any]) -> Verdict:
    """An authenticated body: hand it to the SDK, acknowledge and ignore it, or refuse it as malformed."""
    try:
        _Activity.model_validate(body)
    except ValidationError as exc:
        return Verdict(400, f"a malformed activity ({_where(exc)})")
    try:
        core = CoreActivity.model_validate(body).model_dump(by_alias=True, exclude_none=True)
        ActivityTypeAdapter.validate_python(core)
    except ValidationError as exc:
        if exc.errors()[0]["type"] in ("union_tag_invalid", "union_tag_not_found"):
            return Verdict(200, f"an activity of a kind the Teams SDK does not model ({_where(exc)})")
        return Verdict(400, f"a malformed {str(body['type'])[:40]!r} activity ({_where(exc)})")
    except (ValueError, RecursionError):  # pydantic's "maximum serialization depth" and the like
        return Verdict(400, "an activity nested deeper than any real one")
    return PASS


def _where(exc: ValidationError) -> str:
    return ".".join(str(part) for part in exc.errors()[0]["loc"])[:80] or "the activity"
