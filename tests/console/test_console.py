"""The console: a newcomer walks the whole flow in a terminal, with the real use cases and database."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from bot.core.clock import FakeClock
from bot.core.config import load_settings
from handlers.console.repl import build_console

Line = str | Callable[[str], str]  # a typed line, or one decided by what the screen shows at that moment


class Terminal:
    def __init__(self, lines: list[Line]) -> None:
        self._lines: Iterator[Line] = iter(lines)
        self.out: list[str] = []

    def read(self, prompt: str) -> str | None:
        item = next(self._lines, None)
        line = item(self.screen) if callable(item) else item
        self.out.append(f"{prompt}{line if line is not None else ''}")
        return line

    def write(self, text: str) -> None:
        self.out.append(text)

    @property
    def screen(self) -> str:
        return "\n".join(self.out)


def click(label: str) -> Callable[[str], str]:
    """Click the button labelled `label` that the screen shows last."""
    return lambda screen: ":click " + re.findall(rf"\[(\d+)\] {re.escape(label)}", screen)[-1]


async def run(db, clock: FakeClock, lines: list[Line], exports: Path | None = None, *,
              anonymity: bool = False) -> Terminal:  # fmt: skip
    """`anonymity`: the report form offers "Report anonymously" (one more prompt)."""
    terminal = Terminal(lines)
    env = {"IMPROVE_SECRET_KEY": "console-tests-secret-key", "IMPROVE_ANONYMOUS_REPORTS": str(anonymity).lower()}
    console = build_console(load_settings(env), engine=db, clock=clock, read=terminal.read, write=terminal.write,
                            exports=exports or Path("/nonexistent/exports"))  # fmt: skip
    await console.run()
    return terminal


REPORT = ["/improve Leads arrive in the CRM twice", "", "1", "1", "3", "4", "y", "They get two welcome emails", ""]


async def test_the_console_reads_a_decimal_comma_and_explains_an_ambiguous_number(db, clock: FakeClock) -> None:
    terminal = await run(db, clock, ["/improve Leads arrive twice", "", "1", "1", "1,500", "2", "n", "", "", "3,5"])
    screen = terminal.screen
    assert "Is that 1.500 or 1500? Use a dot for decimals" in screen
    assert "≈ 3.5 h/week × 2 people" in screen


async def test_a_newcomer_walks_the_whole_flow_in_the_console(db, clock: FakeClock) -> None:
    proposal = ["One form, one webhook", "Duplicate leads per week", "/week", "", "40", "5", "", "", ""]
    terminal = await run(db, clock, [
        *REPORT, ":thread 1", "Two web forms", "Sales and marketing each built one", click("Root cause found"),
        click("Propose a fix"), *proposal,
        click("Approve"),  # @alex may not approve
        ":as @maya", click("Approve"),
        ":as @alex", click("Mark implemented"), "3", "Merged the forms",
    ])  # fmt: skip
    screen = terminal.screen
    assert "== #1 Leads arrive in the CRM twice ==" in screen
    assert "≈ 3 h/week × 4 people ≈ 624 h/year ≈ $31,200/year at $50/h" in screen
    assert "Why #3" in screen and "> Sales and marketing each built one" in screen
    assert "please review" in screen and "@maya" in screen
    assert "(only you see this) Only approvers can approve a fix." in screen
    assert "✅ Approved by @maya" in screen
    assert "[DM to @alex] bot:" in screen
    assert "*Before → after:* 40/week → 3/week, target 5/week: target met" in screen
    assert "Status: ✅ Implemented" in screen


async def test_the_sole_approver_reports_and_proposes_and_the_admin_decides(db, clock: FakeClock) -> None:
    proposal = ["One form, one webhook", "Duplicate leads per week", "", "", "", "", "", "", ""]
    terminal = await run(db, clock, [
        ":as @maya", *REPORT, ":thread 1", "Two web forms", click("Root cause found"), click("Propose a fix"),
        *proposal, click("Approve"),  # Maya reported it
        ":as @sam", click("Approve"),
    ])  # fmt: skip
    screen = terminal.screen
    assert "@maya proposes a fix. @sam, please review." in screen
    assert "Nobody approves their own report or proposal, so the workspace admins are asked." in screen
    assert "[DM to @sam] bot:" in screen and "Open #1's thread to approve" in screen
    assert "(only you see this) You reported #1, so someone else has to approve it." in screen
    assert "✅ Approved by @sam" in screen


async def test_a_restarted_console_shows_the_thread_with_live_buttons(db, clock: FakeClock) -> None:
    await run(db, clock, [*REPORT, ":thread 1", "Two web forms", click("Root cause found")])

    terminal = await run(
        db, clock, [":thread 1", click("Propose a fix"), "One form", "Dupes per week", "", "", "", "", "", "", ""]
    )

    assert "--- the thread of #1, as it reads now ---" in terminal.screen
    assert "Status: 🎯 Root cause found" in terminal.screen
    assert "please review" in terminal.screen


async def test_the_thread_shows_what_people_said_and_not_the_dms(db, clock: FakeClock) -> None:
    proposal = ["One form, one webhook", "Duplicate leads per week", "", "", "", "", "", "", ""]
    await run(db, clock, [
        *REPORT, ":thread 1", "Two web forms", ":as @jo", "same here, it bites us weekly", ":as @alex",
        click("Root cause found"), click("Propose a fix"), *proposal, ":as @maya", click("Approve"),
        ":as @alex", click("Mark implemented"), "3", "", ":leave",
        ":wait 8d", click("Still holding"), "2", "",  # the check-in DM is edited in place: a DM, not the thread
    ])  # fmt: skip
    terminal = await run(db, clock, [":thread 1"])  # after a restart: what was saved
    screen = terminal.screen.split("--- the thread of #1, as it reads now ---")[-1]
    assert "  @alex: Two web forms" in screen
    assert screen.index("*Why #1*") < screen.index("@alex: Two web forms") < screen.index("*Why #2*")
    assert "says it is still holding" in screen and "✅ Still holding" not in screen  # the DM's edit is no reply
    assert "✅ Approved by @maya" in screen


async def test_the_thread_keeps_conversation_said_in_this_session(db, clock: FakeClock) -> None:
    terminal = await run(db, clock, [*REPORT, ":thread 1", "Two web forms", ":as @jo", "same here", ":thread 1"])
    screen = terminal.screen.split("--- the thread of #1, as it reads now ---")[-1]
    assert screen.index("@alex: Two web forms") < screen.index("@jo: same here")


async def test_form_errors_are_shown_and_only_those_fields_asked_again(db, clock: FakeClock) -> None:
    lines = ["/improve", "", "1", "1", "-3", "4", "n", "", "", "Leads twice", "2"]
    terminal = await run(db, clock, lines)
    screen = terminal.screen
    assert "! What's broken?: This is required." in screen
    assert "! Hours lost per week (per person): Enter 0 or more." in screen
    assert "== #1 Leads twice ==" in screen
    assert "≈ 2 h/week × 4 people" in screen


async def test_unknown_commands_and_buttons_get_a_hint(db, clock: FakeClock) -> None:
    terminal = await run(db, clock, [":frobnicate", ":click 99", ":thread 7", ":as maya", "hello", ":help"])
    screen = terminal.screen
    assert "Unknown command :frobnicate. Type :help." in screen
    assert "No live button [99]." in screen
    assert "There is no improvement #7" in screen
    assert "Usage: :as @name" in screen
    assert "the bot listens in improvement threads" in screen
    assert ":thread N" in screen


async def test_a_number_in_a_thread_is_an_answer_and_only_click_clicks(db, clock: FakeClock) -> None:
    terminal = await run(db, clock, [*REPORT, "3", ":thread 1", "2", ":leave", "[4]"])
    screen = terminal.screen
    assert "(to click button [3], type :click 3)" in screen  # outside a thread: a hint, not a click
    assert "Why #2" in screen  # in the thread: "2" answered Why #1
    assert "(to click button [4], type :click 4)" in screen


async def test_prompts_ask_a_bad_choice_again_at_once_and_dash_clears(db, clock: FakeClock) -> None:
    long_problem = "Every campaign email is reviewed three times by eight people before it goes"
    terminal = await run(db, clock, [
        f"/improve {long_problem}", "", "9", "1", "x", "", "3", "4", "maybe", "n", "-", "-",
    ])  # fmt: skip
    screen = terminal.screen
    assert "[Every campaign email is reviewed three…]" in screen  # a long default, shortened
    assert screen.count("(type a number from 1 to 5)") == 1  # area 9: asked again at once
    assert "(type a number from 1 to 4)" in screen  # frequency "x"
    assert re.search(r"How often does it bite\?( \(optional\))? \[2\]: ", screen)  # the default, by number
    assert "(type y or n)" in screen
    assert "== #1 Every campaign email" in screen and "  ! " not in screen  # no error after the whole form


async def test_cancel_at_a_prompt_saves_nothing(db, clock: FakeClock) -> None:
    terminal = await run(db, clock, ["/improve", "Leads twice", ":cancel", ":thread 1"])
    assert "(cancelled)" in terminal.screen
    assert "There is no improvement #1" in terminal.screen


async def test_replies_after_a_restart_reach_the_right_improvement(db, clock: FakeClock) -> None:
    await run(db, clock, REPORT)
    second = ["/improve The proposal template is always wrong", "", "1", "2", "", "", "n", "", ""]
    terminal = await run(db, clock, [*second, ":thread 2", "Nobody owns the template"])
    screen = terminal.screen
    assert "Why #2" in screen and "> Nobody owns the template" in screen
    terminal = await run(db, clock, [":thread 1"])
    assert "Why #2" not in terminal.screen  # #1 is still at its first why


async def test_waiting_a_week_brings_the_checkin_and_the_weekly_digest(db, clock: FakeClock) -> None:
    proposal = ["One form, one webhook", "Duplicate leads per week", "/week", "", "40", "5", "", "", ""]
    terminal = await run(db, clock, [
        *REPORT, ":thread 1", "Two web forms", click("Root cause found"), click("Propose a fix"), *proposal,
        ":as @maya", click("Approve"), ":as @alex", click("Mark implemented"), "3", "",
        ":wait 8d", "/improve checkins", click("Still holding"), "2", "holding fine",
    ])  # fmt: skip
    screen = terminal.screen
    assert "[DM to @alex] bot:" in screen and "Check-in 1 of 3" in screen
    assert "1 check-in(s) waiting for your answer" in screen
    assert "*✅ Still holding*" in screen and "Reading: 2/week" in screen.replace("*", "")
    assert "[#wins] bot:" in screen and "This week's wins" in screen
    assert "bot uploaded hours-given-back.png" in screen
    assert "Usage: :wait 7d" in (await run(db, clock, [":wait soon"])).screen


async def test_the_command_goes_through_the_same_grammar_as_slack_and_teams(db, clock: FakeClock) -> None:
    terminal = await run(db, clock, [
        "/improve help", "/improve checkin", "/improvements leads arrive twice", "/improve chekins", "/frobnicate",
        "/improve helpdesk tickets get lost", ":cancel",
    ])  # fmt: skip
    screen = terminal.screen
    assert "*/improve* [what's broken] · Report a broken process" in screen
    assert "*/improve checkins* · Your check-ins waiting for an answer" in screen
    assert "No check-ins are waiting for you." in screen
    assert "I don't know “/improvements”. Did you mean “/improve”?" in screen
    assert "I don't know “/improve chekins”. Did you mean “/improve checkins”?" in screen
    assert "Unknown command /frobnicate. Type /improve help, or :help for the console's own." in screen
    assert "What's broken? [helpdesk tickets get lost]: :cancel" in screen
    assert screen.count("--- Report a broken process ---") == 1  # only the last line opened the form


async def test_lists_one_improvement_and_the_export_in_the_console(db, clock: FakeClock, tmp_path: Path) -> None:
    proposal = ["One form, one webhook", "Duplicate leads per week", "/week", "", "40", "5", "", "", ""]
    terminal = await run(db, clock, [
        *REPORT, ":thread 1", "Two web forms", click("Root cause found"), click("Propose a fix"), *proposal,
        ":as @maya", click("Approve"), ":as @alex", click("Mark implemented"), "12", "", ":leave",
        "/improve list mine", "/improve #1", "/improve export", ":as @maya", "/improve export",
    ], exports=tmp_path)  # fmt: skip
    screen = terminal.screen
    assert "*1 improvement (yours, open)*" in screen
    line = "*#1 Leads arrive in the CRM twice* · ✅ Implemented · Sales · ≈ 624 h/year (approved) · customers notice"
    assert line + " · thread" in screen
    assert "*Before → after:* 40/week → 12/week, target 5/week: not yet met" in screen
    assert "Only approvers and workspace admins can export the improvements." in screen
    written = sorted(os.listdir(tmp_path))
    assert written == ["maya-audit-trail-2026-11-23.csv", "maya-improvements-2026-11-23.csv"]
    with open(tmp_path / "maya-improvements-2026-11-23.csv", encoding="utf-8-sig") as file:  # noqa: ASYNC230
        assert "Leads arrive in the CRM twice" in file.read()


async def test_the_home_view_in_the_console(db, clock: FakeClock, tmp_path: Path) -> None:
    proposal = ["One form, one webhook", "Duplicate leads per week", "/week", "", "40", "5", "", "", ""]
    terminal = await run(db, clock, [
        *REPORT, ":thread 1", "Two web forms", click("Root cause found"), click("Propose a fix"), *proposal, ":leave",
        ":as @maya", "/improve home", click("Approve"), "/improve home",
    ], exports=tmp_path)  # fmt: skip
    screen = terminal.screen
    first, second = screen.split("== Waiting on you ==")[1:3]
    assert "📝 Decide the fix of *#1 Leads arrive in the CRM twice*" in first and "] Approve" in first
    assert "Nothing waits on you right now" in second
    assert "== Team ==" in screen and "fewer than 3 people reported this quarter" in screen
    assert "[Team charts (as of" in screen and "team-charts.png]" in screen  # the picture, written beside the exports
    assert [name for name in os.listdir(tmp_path) if name.endswith("team-charts.png")]


async def test_a_report_like_an_open_problem_is_offered_and_only_the_choice_is_asked(db, clock: FakeClock) -> None:
    like_it = ["/improve Leads come into the CRM twice", "", "1", "1", "2", "3", "n", "", "Merge the forms"]
    terminal = await run(db, clock, [*REPORT, ":as @jo", *like_it, "1", ":as @sam", *like_it, "2"])
    screen = terminal.screen
    assert "This looks like #1 “Leads arrive in the CRM twice”" in screen
    assert "1. Add my voice to #1 “Leads arrive in the CRM twice”" in screen and "2. No, report it as new" in screen
    assert "Counted: 1 person says this bites them too" in screen
    assert "@jo says this bites them too" in screen and "Their idea: Merge the forms" in screen
    assert "Thanks! Saved as #2" in screen  # Sam chose to report it as new
    assert screen.count("What's broken?") == 3  # the offer asked only its own question


async def test_an_anonymous_report_in_the_console_is_answered_with_dm(db, clock: FakeClock) -> None:
    terminal = await run(db, clock, [
        *REPORT, "y", ":dm Two web forms", ":as @maya", ":thread 1", ":leave", ":as @alex", ":dm hello",
    ], anonymity=True)  # fmt: skip
    screen = terminal.screen
    card = screen[screen.index("== #1 Leads arrive in the CRM twice ==") :]
    assert "a teammate" in card
    assert "You reported #1 anonymously" in screen and "#1 · Why #2" in screen
    thread = screen[screen.index("@maya> :thread 1") : screen.index("@maya #1 thread> :leave")]
    assert "The reporter answered Why #1" in thread and "> Two web forms" in thread and "@alex" not in thread
    assert "anon:" not in screen  # the answer is shown once, as passed on: nobody's id
    assert "#1 · Why #3" in screen  # whatever the reporter writes during the 5 Whys answers the open why


async def test_the_admin_changes_a_setting_in_the_console(db, clock: FakeClock) -> None:
    keep = [""] * 10  # intake, wins, approvers and groups, fallback approvers and groups, rate, currency, areas, days
    rest = [""] * 8  # time zone, quiet weeks, four reminder delays, anonymity, retention
    terminal = await run(db, clock, ["/improve settings", ":as @sam", "/improve settings", *keep, "mon 09:00", *rest])
    screen = terminal.screen
    assert "Only the workspace's admins" in screen  # @alex first
    assert "Saved (announcement time). It applies now." in screen
    assert "@sam changed the settings: announcement time." in screen


async def test_a_revealed_reporters_answer_shows_once_in_the_console_thread(db, clock: FakeClock) -> None:
    terminal = await run(db, clock, [
        *REPORT, "y", ":dm Two web forms", click("Reveal myself"), click("Yes, show my name"), ":as @maya",
        ":thread 1",
    ], anonymity=True)  # fmt: skip
    screen = terminal.screen
    assert "names you as its reporter now" in screen
    thread = screen[screen.index("@maya> :thread 1") :]
    assert "The reporter answered Why #1" in thread and "@alex: Two web forms" not in thread  # passed on, once
