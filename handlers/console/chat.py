"""The console's side of the platform seam: 'posting' prints to the terminal."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bot.core.messages import Message
from bot.core.ports import Destination, Posted
from handlers.console.render import message_lines

INTAKE = "#improvements"
WINS = "#wins"
DEFAULT_APPROVERS = ["@maya"]
ADMINS = ["@sam"]  # the workspace admin: asked when no approver is left to decide


class ConsoleChat:
    """Prints each message; remembers which numbered buttons are live (an edit retires the old ones)."""

    def __init__(self, write: Callable[[str], None], exports: Path = Path("improvebot-exports")) -> None:
        self._write = write
        self._exports = exports
        self._session = uuid.uuid4().hex[:6]  # refs stay unique across console restarts on one database
        self._refs = itertools.count(1)
        self._numbers = itertools.count(1)
        self.buttons: dict[int, tuple[str, str]] = {}
        self._buttons_of: dict[str, list[int]] = {}
        self.threads: dict[str, str] = {}  # card ref -> channel

    def show(self, header: str, ref: str, message: Message) -> None:
        for number in self._buttons_of.pop(ref, []):
            self.buttons.pop(number, None)
        numbers: list[int] = []

        def number_button(action: str, value: str) -> int:
            number = next(self._numbers)
            self.buttons[number] = (action, value)
            numbers.append(number)
            return number

        lines = message_lines(message, number_button)
        self._buttons_of[ref] = numbers
        self._write(header)
        for line in lines:
            self._write("    " + line)

    async def post(self, channel: str, message: Message, *, key: str = "") -> Posted:
        ref = f"m{self._session}.{next(self._refs)}"
        self.threads[ref] = channel
        self.show(f"[{channel}] bot:", ref, message)
        return Posted(channel=channel, ref=ref)

    async def reply(self, channel: str, thread: str, message: Message, *, key: str = "") -> Posted:
        ref = f"m{self._session}.{next(self._refs)}"
        self.show(f"[{channel} › thread {thread}] bot:", ref, message)
        return Posted(channel=channel, ref=ref)

    async def find(self, where: Destination, key: str, since: datetime) -> Posted | None:
        return None  # the console never loses an answer

    async def update(self, channel: str, ref: str, message: Message) -> None:
        self.show(f"[{channel}] bot edited message {ref}:", ref, message)

    async def send_file(self, user: str, filename: str, title: str, content: bytes) -> None:
        """Written into the exports folder (improvebot-exports, in the directory the console runs in)."""
        folder = self._exports
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{user.lstrip('@')}-{filename}"
        await asyncio.to_thread(path.write_bytes, content)
        self._write(f"[DM to {user}] bot: {title}: written to {path} ({len(content):,} bytes)")

    async def upload(self, channel: str, filename: str, title: str, content: bytes, *, thread: str = "") -> None:
        where = f"{channel} thread {thread}" if thread else channel
        self._write(f"[{where}] bot uploaded {filename} ({title}, {len(content):,} bytes)")

    async def image(self, filename: str, title: str, content: bytes, *, key: str) -> str | None:
        """Written into the exports folder; the view names the file."""
        folder = self._exports
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{key[:12]}-{filename}"
        await asyncio.to_thread(path.write_bytes, content)
        return str(path)

    async def forget_image(self, ref: str) -> None:
        """The chart's file in the exports folder goes (only the bot's own charts are named by a ref)."""
        path = Path(ref)
        if path.parent == self._exports and path.suffix == ".png":
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def home(self, user: str, message: Message) -> None:
        """The console's home is asked for (`/improve home`): nothing is pushed."""

    async def private(self, user: str, message: Message, where: str | None) -> None:
        self.show(f"(only {user} sees this)", f"private:{uuid.uuid4().hex}", message)

    async def permalink(self, channel: str, ref: str) -> str | None:
        return None  # the link reads as its text: ":thread N" opens the thread

    async def dm(self, user: str, message: Message, *, key: str = "") -> Posted:
        ref = f"m{self._session}.{next(self._refs)}"
        self.show(f"[DM to {user}] bot:", ref, message)
        return Posted(channel=f"DM {user}", ref=ref)


class ConsoleDirectory:
    """In the console the approvers are names like @maya; @sam is the workspace admin."""

    async def is_approver(self, user: str, approvers: list[str]) -> bool:
        return user in (approvers or ADMINS)

    async def people(self, approvers: list[str]) -> list[str]:
        return list(dict.fromkeys(approvers))

    async def admins(self) -> list[str]:
        return list(ADMINS)

    async def can_post(self, channel: str, *, member: bool = False) -> str | None:
        return None if channel.startswith("#") else "A console channel starts with #, like #improvements."

    async def timezone(self, user: str) -> str | None:
        return None  # the workspace's zone (IMPROVE_TIMEZONE)
