"""The CLI: one clear line when the settings or the database cannot be used; which Slack mode `serve` picks."""

from __future__ import annotations

import pytest

from bot.core.config import load_settings
from handlers.cli import main, parser, socket_mode


def test_the_cli_stops_with_one_line_on_bad_settings(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IMPROVE_HOURLY_RATE", "lots")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("improvebot: IMPROVE_HOURLY_RATE is invalid") and "\n" not in err


def test_serve_without_slack_credentials_says_what_is_missing(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main(["serve", "--http"]) == 2
    assert capsys.readouterr().err.strip() == (
        "improvebot: SLACK_BOT_TOKEN is not set; it is needed to serve Slack (see README, Configuration)"
    )


def test_a_database_url_that_does_not_work_is_one_line(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    for url in ("nonsense", "postgresql://nobody@127.0.0.1:1/none", "sqlite:////no/such/dir/x.db"):
        monkeypatch.setenv("DATABASE_URL", url)
        assert main(["db", "upgrade"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("improvebot: DATABASE_URL cannot be used") and "\n" not in err, err


@pytest.mark.parametrize(
    ("argv", "app_token", "socket"),
    [
        (["serve"], "xapp-1", True),
        (["serve"], "", False),
        (["serve", "--http"], "xapp-1", False),
        (["serve", "--socket"], "", True),
        ([], "xapp-1", True),
        ([], "", False),
    ],
)
def test_serve_picks_socket_mode_only_with_an_app_token_or_when_asked(argv, app_token, socket) -> None:
    settings = load_settings({"SLACK_APP_TOKEN": app_token})
    assert socket_mode(parser().parse_args(argv), settings) is socket


def test_the_console_keeps_log_lines_out_of_the_chat(monkeypatch, tmp_path, capsys) -> None:
    import io
    import logging

    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "TEAMS_CLIENT_ID", "TEAMS_DEV_NO_AUTH", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(":wait 8d\n:quit\n"))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        assert main([]) == 0
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], root.level = handlers, level
    out = capsys.readouterr()
    assert "improvebot console: you are @alex" in out.out and "(it is now" in out.out
    assert " INFO " not in out.out + out.err  # the migrations are logged, to the file
    log = (tmp_path / "improvebot-console.log").read_text()
    assert "Running upgrade" in log
