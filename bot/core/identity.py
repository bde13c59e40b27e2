"""Who an anonymous reporter is, kept sealed: the product shows and stores a pseudonym ("anon:…") wherever a
person's id would go, and keeps the real id only encrypted (Fernet, a key derived from IMPROVE_SECRET_KEY), so it
is opened only to reach that person (a DM) or to recognise them when they act.

Several keys, comma separated, rotate the key: the first seals, any of them opens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.core.config import ConfigError, Settings

PSEUDONYM = "anon:"  # how every pseudonym starts; no platform's user id does
TEAMMATE = "a teammate"  # how a pseudonym is shown
FORMER = "former:"  # how the id an erased person's was replaced with starts (bot.rights)
FORMER_TEAMMATE = "a former teammate"
MIN_SECRET = 16


def is_pseudonym(user: str | None) -> bool:
    return bool(user) and str(user).startswith(PSEUDONYM)


def stand_in(user: str) -> str | None:
    """How an id that names nobody is shown (an anonymous reporter's pseudonym, an erased person); None for a
    person's id, which is shown as a mention."""
    if user.startswith(PSEUDONYM):
        return TEAMMATE
    return FORMER_TEAMMATE if user.startswith(FORMER) else None


def new_pseudonym() -> str:
    """A fresh pseudonym: random, so it says nothing of the person and links none of their reports."""
    return PSEUDONYM + secrets.token_hex(8)


def _derived(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret.encode())


def _fernet(secret: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derived(secret, b"improvebot anonymous reporter")))


class Sealer:
    def __init__(self, secrets_: list[str]) -> None:
        if not secrets_ or any(len(s) < MIN_SECRET for s in secrets_):
            raise ConfigError(f"IMPROVE_SECRET_KEY is invalid: each key needs at least {MIN_SECRET} characters")
        self._keys = MultiFernet([_fernet(s) for s in secrets_])
        self._digest_key = _derived(secrets_[0], b"improvebot digest")

    def seal(self, user: str) -> str:
        return self._keys.encrypt(user.encode()).decode()

    def digest(self, text: str) -> str:
        """A keyed digest of `text` (an id kept only to recognise it again): without the key, it cannot be
        matched against guesses."""
        return hmac.new(self._digest_key, text.encode(), hashlib.sha256).hexdigest()[:48]

    def unseal(self, token: str | None) -> str | None:
        """The id `token` sealed; None when no key of this deployment sealed it (a lost or changed key)."""
        if not token:
            return None
        try:
            return self._keys.decrypt(token.encode()).decode()
        except (InvalidToken, ValueError):
            return None


def sealer_of(settings: Settings) -> Sealer | None:
    """The deployment's sealer; None when anonymous reports are off and no key is set. Anonymous reports without
    a key are refused at start-up: a reporter's id would have nowhere safe to go."""
    keys = [k.strip() for k in settings.improve_secret_key.get_secret_value().split(",") if k.strip()]
    if not keys:
        if settings.improve_anonymous_reports:
            raise ConfigError(
                "IMPROVE_SECRET_KEY is not set; anonymous reports need it to keep reporters' ids encrypted. Set it "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))') or turn anonymous reports "
                "off with IMPROVE_ANONYMOUS_REPORTS=false (see README, Anonymous reports)"
            )
        return None
    return Sealer(keys)
