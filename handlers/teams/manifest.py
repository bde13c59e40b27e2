"""`improvebot manifest teams`: the Teams app package (manifest.json and both icons, zipped) for
"Upload a custom app". Pure apart from the zip it writes."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from bot.assembly import registry
from bot.core.commands import Grammar
from bot.core.messages import clip
from handlers.teams.render import COMMAND_WORD, REPORT_MESSAGE

MANIFEST_VERSION = "1.25"
ACCENT = "#2B5797"
MAX_COMMANDS = 10  # Teams shows at most ten suggested commands; titles up to 32, descriptions up to 128 characters


def commands(grammar: Grammar, word: str) -> list[dict[str, str]]:
    """The bot's suggested commands, from the one command grammar (the same list `improve help` shows)."""
    return [
        {"title": clip(f"{word} {c.name}".strip(), 32), "description": clip(c.summary, 128)}
        for c in grammar.commands[:MAX_COMMANDS]
    ]


def manifest(bot_id: str, *, version: str = "1.0.0", website: str = "https://github.com/") -> dict[str, Any]:
    scopes = ["personal", "team", "groupChat"]
    return {
        "$schema": f"https://developer.microsoft.com/en-us/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json",
        "manifestVersion": MANIFEST_VERSION,
        "version": version,
        "id": bot_id,
        "developer": {"name": "Improve", "websiteUrl": website, "privacyUrl": website, "termsOfUseUrl": website},
        "name": {"short": "Improve", "full": "Improve: fix broken processes and keep them fixed"},
        "description": {
            "short": "Report a broken process; find its root cause; keep the fix honest.",
            "full": (
                "Type 'improve' the moment a process bites. The bot makes the case (hours and money lost), coaches "
                "a 5 Whys root-cause search in the post's reply chain, lets approvers approve right there, checks "
                "in after 7, 30 and 90 days whether the fix still holds, and posts weekly wins that credit the "
                "person whose idea it was."
            ),
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": ACCENT,
        "bots": [
            {
                "botId": bot_id,
                "scopes": scopes,
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [{"scopes": scopes, "commands": commands(registry().commands, COMMAND_WORD)}],
            }
        ],
        # "Report a broken process" on any message: the report form in a dialog, prefilled with the message
        "composeExtensions": [
            {
                "botId": bot_id,
                "commands": [
                    {
                        "id": REPORT_MESSAGE,
                        "type": "action",
                        "title": "Report a broken process",
                        "description": "Report the broken process this message is about",
                        "context": ["message"],
                        "fetchTask": True,
                    }
                ],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [],
        "webApplicationInfo": {"id": bot_id, "resource": f"api://botid-{bot_id}"},
        # replies in a card's reply chain (the 5 Whys answers) reach the bot without an @mention
        "authorization": {
            "permissions": {"resourceSpecific": [{"name": "ChannelMessage.Read.Group", "type": "Application"}]}
        },
    }


def _icon(size: int, *, outline: bool) -> bytes:
    """A simple mark: an upward arrow in a circle (color: white on accent; outline: white on transparent)."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0) if outline else ACCENT)
    draw = ImageDraw.Draw(image)
    white = (255, 255, 255, 255)
    margin = size // 8
    draw.ellipse([margin, margin, size - margin, size - margin], outline=white, width=max(1, size // 16))
    middle = size // 2
    draw.polygon([(middle, margin * 2), (size - margin * 2.5, middle), (margin * 2.5, middle)], fill=white)
    draw.rectangle([middle - size // 14, middle, middle + size // 14, size - margin * 2], fill=white)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def package(bot_id: str, out: Path, *, version: str = "1.0.0") -> Path:
    """Write the zip Teams takes in "Upload a custom app"; returns its path."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest(bot_id, version=version), indent=2))
        archive.writestr("color.png", _icon(192, outline=False))
        archive.writestr("outline.png", _icon(32, outline=True))
    return out
