"""`improvebot console`: chat with the real use cases in a terminal, on a local database.

In the spirit of errbot's text backend: type `/improve …`, switch who you are (`:as @maya`), enter an
improvement's thread (`:thread 1`) and reply there, click a numbered button (`:click 3`), fill forms at prompts.
"""

from __future__ import annotations

import asyncio
import heapq
import re
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bot.assembly import assemble
from bot.core.clock import Clock, OffsetClock
from bot.core.commands import Misspelled, Typed, misspelled_text, recognize
from bot.core.config import Settings
from bot.core.identity import sealer_of, stand_in
from bot.core.messages import (
    ChannelPicker,
    Checkbox,
    DatePicker,
    Form,
    FormValue,
    NumberInput,
    PeoplePicker,
    Select,
    TextInput,
    UserPicker,
)
from bot.core.outcomes import UNAVAILABLE, Done, FormErrors, Notice, OpenForm, Outcome, Show
from bot.core.registry import number as number_of
from bot.core.workspace import WorkspaceSettings
from bot.improvements.thread_view import ThreadEntry
from bot.service import ImproveService
from bot.tick import Ticker
from handlers.console.chat import DEFAULT_APPROVERS, INTAKE, WINS, ConsoleChat, ConsoleDirectory
from storage.db import Unavailable

WORKSPACE = "console"
COMMAND = "/improve"
HELP = """Console commands:
  /improve [text]     report a broken process (a form opens at the prompts); /improve help lists the rest
  :as @name           switch who you are (approver: @maya; workspace admin: @sam)
  :thread N           enter the thread of #N (shown as it reads: the bot's messages and people's replies);
                      plain lines are then replies there
  :leave              leave the thread
  :click N            click button [N]
  :dm text            write to the bot in private (how an anonymous reporter answers; "#N text" names the report)
  :wait 7d            let time pass (d, h, m) and run the scheduler: check-ins, nudges, the weekly digest
  :help               this help          :quit   leave the console
At a form prompt, press Enter to keep what is in [brackets] (or skip an optional field), type - to clear an optional
field, or :cancel."""
SHOWN_DEFAULT = 40  # a longer default is shown shortened at the prompt (Enter still keeps all of it)

Reader = Callable[[str], str | None]  # prompt -> the line typed, or None at end of input


class Cancelled(Exception):
    pass


class Console:
    def __init__(
        self,
        service: ImproveService,
        chat: ConsoleChat,
        read: Reader,
        write: Callable[[str], None],
        ticker: Ticker,
        clock: OffsetClock | None = None,
    ) -> None:
        self.service = service
        self.ticker = ticker
        self.clock = clock
        self.chat = chat
        self.read = read
        self.write = write
        self.user = "@alex"
        self.thread: tuple[str, str, int] | None = None  # (channel, card ref, number)
        self.chatter: dict[int, list[ThreadEntry]] = {}  # what people said in threads that was not an answer

    def _prompt(self) -> str:
        where = f" #{self.thread[2]} thread" if self.thread else ""
        return f"{self.user}{where}> "

    async def run(self) -> None:
        self.write(
            "improvebot console: you are @alex; @maya is an approver, @sam the workspace admin. Type :help for help."
        )
        await self.service.deliver()
        while True:
            line = await asyncio.to_thread(self.read, self._prompt())
            if line is None or line.strip() in (":quit", ":q", ":exit"):
                return
            try:
                await self.handle(line.strip())
            except Cancelled:
                self.write("(cancelled)")
            except Unavailable:
                self.write(f"(only you see this) {UNAVAILABLE}")

    async def handle(self, line: str) -> None:
        if not line:
            return
        typed = recognize(line, COMMAND) if line.startswith("/") else None
        if isinstance(typed, Typed):
            await self._answer(await self.service.command(WORKSPACE, self.user, typed.rest, {}))
        elif isinstance(typed, Misspelled):
            self.write(f"(only you see this) {misspelled_text(typed, COMMAND)}")
        elif line.startswith("/"):
            self.write(f"Unknown command {line.split()[0]}. Type {COMMAND} help, or :help for the console's own.")
        elif line.startswith(":wait"):
            await self._wait(line[len(":wait") :].strip())
        elif line.startswith(":as"):
            self._switch_user(line[3:].strip())
        elif line.startswith(":thread"):
            await self._enter_thread(line[len(":thread") :].strip())
        elif line == ":leave":
            self.thread = None
        elif line.startswith(":dm"):
            await self._private(line[len(":dm") :].strip())
        elif line.startswith(":click"):
            await self._click(line.removeprefix(":click").strip(" []"))
        elif self.thread is None and re.fullmatch(r"\[?\d+\]?", line):  # in a thread, a number is a reply
            self.write(f"(to click button [{line.strip('[]')}], type :click {line.strip('[]')})")
        elif line == ":help":
            self.write(HELP)
        elif line.startswith(":"):
            self.write(f"Unknown command {line.split()[0]}. Type :help.")
        elif self.thread is not None:
            channel, ref, number = self.thread
            taken = await self.service.thread_reply(
                WORKSPACE, channel=channel, thread=ref, user=self.user, text=line, ids=(str(uuid.uuid4()),)
            )
            if not taken:  # conversation: kept for :thread N (an answer is kept by the 5 Whys themselves)
                self.chatter.setdefault(number, []).append(ThreadEntry(at=self.service.clock.now(), who=self.user,
                                                                       text=line))  # fmt: skip
        else:
            self.write("(said in the channel; the bot listens in improvement threads. :thread N enters one.)")

    async def _private(self, text: str) -> None:
        taken = await self.service.private_message(
            WORKSPACE, channel=f"dm:{self.user}", user=self.user, text=text, ids=(str(uuid.uuid4()),)
        )
        if not taken:
            self.write("(the bot, in private) I pass on what people who reported anonymously write to me here. To "
                       f"report a broken process, type {COMMAND}.")  # fmt: skip

    async def _wait(self, arg: str) -> None:
        match = re.fullmatch(r"(\d{1,4})([dhm])", arg)
        if not match or self.clock is None:
            self.write("Usage: :wait 7d (or 3h, 30m)")
            return
        amount, unit = int(match.group(1)), match.group(2)
        unit_name = {"d": "days", "h": "hours", "m": "minutes"}[unit]
        remaining = timedelta(**{unit_name: amount})
        while remaining > timedelta():  # hour by hour, as the scheduler would: nothing due is jumped over
            step = min(remaining, timedelta(hours=1))
            self.clock.offset += step
            remaining -= step
            await self.ticker.tick()
        self.write(f"(it is now {self.clock.now():%a %d %b %Y %H:%M} UTC)")

    def _switch_user(self, name: str) -> None:
        if not re.fullmatch(r"@[\w.-]{1,40}", name):
            self.write("Usage: :as @name")
            return
        self.user = name
        self.write(f"You are now {name}.")

    async def _enter_thread(self, arg: str) -> None:
        try:
            number = number_of(arg.lstrip("#"))
        except ValueError:
            number = 0  # no improvement has it
        found = await self.service.thread_of(WORKSPACE, number)
        if found is None:
            self.write(f"There is no improvement #{arg} with a posted card.")
            return
        self.thread = (found.channel, found.ref, number)
        self.write(f"--- the thread of #{number}, as it reads now ---")
        self.chat.show("card:", f"history:{number}:0", found.card)
        said = heapq.merge(found.entries, self.chatter.get(number, []), key=lambda entry: entry.at)
        for i, entry in enumerate(said, 1):
            if entry.message is not None:
                self.chat.show("  bot:", f"history:{number}:{i}", entry.message)
            else:
                self.write(f"  {stand_in(entry.who) or entry.who}: {entry.text}")
        self.write(f"In the thread of #{number}. Lines you type are replies; :leave to leave.")

    async def _click(self, arg: str) -> None:
        button = self.chat.buttons.get(int(arg)) if re.fullmatch(r"[0-9]{1,6}", arg) else None
        if button is None:
            self.write(f"No live button [{arg}]. Buttons disappear when their message is edited.")
            return
        await self._answer(await self.service.click(WORKSPACE, self.user, *button))

    async def _answer(self, outcome: Outcome) -> None:
        """What the service answered the person at the keyboard (only they see it)."""
        if isinstance(outcome, OpenForm):
            if outcome.leftover:
                self.write(f"(only you see this) {outcome.LEFTOVER}\n{outcome.leftover}")
            await self._fill_and_submit(outcome.form)
        elif isinstance(outcome, Show):
            self.chat.show("(only you see this)", f"private:{uuid.uuid4().hex}", outcome.message)
        else:
            self._show(outcome)

    async def _fill_and_submit(self, form: Form, answered: dict[str, FormValue] | None = None) -> None:
        """Ask each field (but those `answered` already), submit, and ask again what the answer got wrong."""
        self.write(f"--- {form.title} ---")
        if form.intro:
            self.write(form.intro)
        raw: dict[str, FormValue] = dict(answered or {})
        todo = [spec for spec in form.fields if spec.id not in raw]
        while True:
            for spec in todo:
                raw[spec.id] = await self._ask(spec)
            outcome = await self.service.submit_form(WORKSPACE, self.user, form.form_id, form.context, raw)
            if isinstance(outcome, OpenForm):  # one more question before it is saved; the rest stays as typed
                await self._fill_and_submit(outcome.form, raw)
                return
            if not isinstance(outcome, FormErrors):
                self._show(outcome)
                return
            for field_id, error in outcome.errors.items():
                self.write(f"  ! {form.field(field_id).label}: {error}")
            todo = [spec for spec in form.fields if spec.id in outcome.errors]

    async def _ask(self, spec: Any) -> FormValue:
        optional = "" if getattr(spec, "required", False) else " (optional)"
        if isinstance(spec, Select):
            for i, option in enumerate(spec.options, 1):
                self.write(f"  {i}. {option.label}")
            initial = next((i for i, o in enumerate(spec.options, 1) if o.value == spec.initial), None)
            while True:  # a bad choice is asked again at once, not after the whole form
                answer = await self._line(f"{spec.label}{optional} [{initial or 'number'}]: ")
                if re.fullmatch(r"[0-9]{1,4}", answer) and 1 <= int(answer) <= len(spec.options):
                    return spec.options[int(answer) - 1].value
                if not answer and (spec.initial or not getattr(spec, "required", False)):
                    return spec.initial
                self.write(f"  (type a number from 1 to {len(spec.options)})")
        if isinstance(spec, Checkbox):
            while True:
                answer = (await self._line(f"{spec.option_label}? [{'Y/n' if spec.initial else 'y/N'}]: ")).lower()
                if answer in ("", "n", "no", "y", "yes"):
                    return spec.initial if not answer else answer in ("y", "yes")
                self.write("  (type y or n)")
        default = spec.initial if isinstance(spec, TextInput | UserPicker | ChannelPicker | DatePicker) else None
        if isinstance(spec, PeoplePicker):
            default = ", ".join(spec.initial) or None
        if isinstance(spec, NumberInput) and spec.initial is not None:
            default = f"{spec.initial:g}"
        shown = ""
        if default:
            text = str(default).replace("\n", " ")
            shown = f" [{text if len(text) <= SHOWN_DEFAULT else text[: SHOWN_DEFAULT - 1].rstrip() + '…'}]"
        if isinstance(spec, DatePicker):
            shown += " (YYYY-MM-DD)"
        answer = await self._line(f"{spec.label}{optional}{shown}: ")
        if answer == "-" and not getattr(spec, "required", False):
            return None  # cleared
        return answer or default

    async def _line(self, prompt: str) -> str:
        line = await asyncio.to_thread(self.read, "  " + prompt)
        if line is None or line.strip() == ":cancel":
            raise Cancelled
        return line.strip()

    def _show(self, outcome: Outcome) -> None:
        if isinstance(outcome, Notice):
            self.write(f"(only you see this) {outcome.text}")
        elif isinstance(outcome, Done):
            pass


def build_console(
    settings: Settings,
    *,
    engine: Engine,
    clock: Clock,
    read: Reader,
    write: Callable[[str], None],
    exports: Path = Path("improvebot-exports"),
) -> Console:
    chat = ConsoleChat(write, exports)
    clock = moving = OffsetClock(clock)
    workspace_settings = replace(
        WorkspaceSettings.from_settings(settings, intake_channel=INTAKE),
        wins_channel=WINS,
        approvers=list(DEFAULT_APPROVERS),
    )
    core = assemble(
        engine=engine,
        clock=clock,
        platform="console",
        db_timeout=settings.improve_db_timeout,
        chat=chat,
        directory=ConsoleDirectory(),
        settings_for=lambda _ws: workspace_settings,
        sealer=sealer_of(settings),
        command=COMMAND,
    )
    return Console(core.service, chat, read, write, core.ticker, moving)
