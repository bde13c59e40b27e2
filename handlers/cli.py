"""`improvebot`: serve Slack (Socket Mode or HTTP) and Teams, chat in the console, migrate, deliver due work.

The terminal is an adapter like Slack and Teams: this module wires the platforms to the core. `improvebot` alone
serves when chat credentials are configured, and otherwise starts the console. Each platform's code is imported
inside the commands that need it, so the console and `tick` start without loading the other SDKs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from bot.core.clock import Clock, FakeClock, SystemClock
from bot.core.config import ConfigError, Settings, load_settings
from bot.wins.digest import preview_digests
from handlers.logs import configure_logging
from storage.db import make_engine, upgrade

log = logging.getLogger("improvebot")


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="improvebot", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="serve Slack")
    mode = serve.add_mutually_exclusive_group()
    mode.add_argument("--socket", action="store_true", help="Socket Mode (the default when SLACK_APP_TOKEN is set)")
    mode.add_argument("--http", action="store_true", help="HTTP: POST /slack/events, GET /healthz")
    serve.add_argument("--port", type=int, help="HTTP port (default: $PORT or 3000)")
    serve.add_argument("--host", default="0.0.0.0", help="HTTP bind address (default 0.0.0.0)")
    sub.add_parser("worker", help="run scheduled work and deliver (beside `serve` with IMPROVE_DELIVERY=worker)")
    sub.add_parser("console", help="chat with the bot in this terminal (local database)")
    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade"])
    tick = sub.add_parser("tick", help="run due work once (check-ins, nudges, digests, undelivered messages)")
    tick.add_argument("--now", help="act as if it were this ISO-8601 time (default: now)")
    digest = sub.add_parser("digest", help="the weekly win announcement")
    digest.add_argument("--preview", action="store_true", required=True, help="print what the next one would say")
    digest.add_argument("--now", help="preview as of this ISO-8601 time (default: now)")
    for name, said in (
        ("erase-user", 'replace a person\'s identity everywhere by "a former teammate"'),
        ("export-user", "write everything held about a person as JSON"),
    ):
        rights = sub.add_parser(name, help=said)
        rights.add_argument("--platform", choices=["slack", "teams", "console"], required=True)
        rights.add_argument("--workspace", required=True, help="the Slack team id (T…), Teams tenant id, or console")
        rights.add_argument("--user", required=True, help="their id there (U…, the AAD object id, @name)")
        if name == "export-user":
            rights.add_argument("--out", help="write the JSON here (default: standard output)")
    reset = sub.add_parser("settings-reset", help="a workspace's settings back to the environment's at next start")
    reset.add_argument("--platform", choices=["slack", "teams", "console"], required=True)
    reset.add_argument("--workspace", required=True, help="the Slack team id (T…), Teams tenant id, or console")
    manifest = sub.add_parser("manifest", help="build a platform's app package")
    manifest.add_argument("platform", choices=["teams"])
    manifest.add_argument("--out", default="improvebot-teams.zip", help="where to write the zip")
    manifest.add_argument("--version", default="1.0.0", help="the app version (raise it to upload an update)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure_logging()
    try:
        settings = load_settings()
        configure_logging(settings.improve_log_level, fmt=settings.improve_log_format)
        serving = settings.slack_configured or settings.teams_configured
        command = args.command or ("serve" if serving else "console")
        if command == "serve":
            socket = socket_mode(args, settings)
            if settings.slack_configured or not settings.teams_configured:
                settings.require_slack(socket=socket)
            if settings.teams_configured:
                settings.require_teams()
            return _serve(
                settings,
                socket=socket,
                port=getattr(args, "port", None),
                host=getattr(args, "host", "0.0.0.0"),
            )
        if command == "worker":
            if not (settings.slack_configured or settings.teams_configured):
                raise ConfigError("nothing to deliver to: neither Slack (SLACK_BOT_TOKEN) nor Teams is configured")
            if settings.slack_configured:
                settings.require_slack(socket=False, worker=True)
            if settings.teams_configured:
                settings.require_teams()
            return _worker(settings)
        if command == "console":
            return _console(settings)
        if command == "db":
            _engine(settings)
            print("database is up to date")
            return 0
        if command == "tick":
            return _tick(settings, _clock(args.now))
        if command == "digest":
            return _digest_preview(settings, _clock(args.now))
        if command == "manifest":
            return _manifest(settings, args.out, args.version)
        if command in ("erase-user", "export-user", "settings-reset"):
            from handlers.rights import erase_user, export_user, reset_settings

            engine = _engine(settings)
            if command == "settings-reset":
                return reset_settings(engine, args.platform, args.workspace)
            if command == "erase-user":
                return erase_user(settings, engine, args.platform, args.workspace, args.user)
            return export_user(engine, args.platform, args.workspace, args.user, args.out)
    except ConfigError as exc:
        print(f"improvebot: {exc}", file=sys.stderr)
        return 2
    return 1


def socket_mode(args: argparse.Namespace, settings: Settings) -> bool:
    """Socket Mode when asked, or by default when an app-level token is configured; HTTP otherwise."""
    if getattr(args, "socket", False):
        return True
    return not getattr(args, "http", False) and bool(settings.slack_app_token)


def _clock(now: str | None) -> Clock:
    if not now:
        return SystemClock()
    try:
        when = datetime.fromisoformat(now)
    except ValueError:
        raise ConfigError(f"--now {now!r} is not an ISO-8601 time (e.g. 2026-11-23T09:00:00Z)") from None
    return FakeClock(when if when.tzinfo else when.replace(tzinfo=UTC))


def _engine(settings: Settings) -> Engine:
    """The migrated database; a URL that does not work is one clear line, not a traceback."""
    try:
        engine = make_engine(settings.database_url, timeout=settings.improve_db_timeout)
        upgrade(engine)
    except (ArgumentError, NoSuchModuleError, OperationalError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ConfigError(f"DATABASE_URL cannot be used ({settings.database_url.split('@')[-1]}): {reason}") from None
    return engine


def _platforms(settings: Settings, engine: Engine, *, socket: bool = False) -> tuple[Any, Any]:
    """The configured platforms: a SlackBot and a TeamsBot, either None when not configured."""
    slack = teams = None
    if settings.slack_configured:
        from handlers.slack.app import build_slack

        slack = build_slack(settings, engine=engine, clock=SystemClock(), socket_mode=socket)
    if settings.teams_configured:
        from handlers.teams.app import build_teams

        teams = build_teams(settings, engine=engine, clock=SystemClock())
    return slack, teams


def _serve(settings: Settings, *, socket: bool, port: int | None, host: str) -> int:
    """Slack (Socket Mode or HTTP) and/or Teams (HTTP, POST /api/messages) in one process, with the scheduler
    (unless IMPROVE_DELIVERY=worker: then `improvebot worker` runs it)."""
    from handlers.server import make_server
    from handlers.web import create_web_app, run_scheduled

    engine = _engine(settings)
    if settings.teams_configured and settings.teams_dev_no_auth:
        for _ in range(3):
            log.warning("TEAMS_DEV_NO_AUTH is on: /api/messages accepts UNAUTHENTICATED requests. "
                        "Development only: never with real credentials on a reachable port.")  # fmt: skip
    slack, teams = _platforms(settings, engine, socket=socket)
    ticks = settings.improve_delivery == "serve"
    if not ticks:
        log.info("IMPROVE_DELIVERY=worker: scheduled work and bulk messages are left to `improvebot worker`")
    port = port or settings.port
    max_body, body_timeout = settings.improve_max_body_bytes, settings.improve_body_timeout

    if not (socket and slack):
        web = create_web_app(
            engine,
            slack,
            teams=teams,
            ticks=ticks,
            max_body=max_body,
            body_timeout=body_timeout,
            db_timeout=settings.improve_db_timeout,
        )
        endpoints = [path for path, on in (("POST /slack/events", slack), ("POST /api/messages", teams)) if on]
        log.info("serving over HTTP on port %s: %s", port, ", ".join(endpoints))
        make_server(web, settings, host=host, port=port).run()
        return 0
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    async def run_socket() -> None:
        platforms = [p for p in (slack, teams) if p is not None]
        # HTTP all the same: /api/messages when Teams is served too, and the probes and /metrics in any case
        web = create_web_app(engine, slack, teams=teams, scheduled=False, max_body=max_body, body_timeout=body_timeout,
                             db_timeout=settings.improve_db_timeout, slack_door=False)  # fmt: skip
        async with run_scheduled(*platforms, ticks=ticks, on_tick=web.state.metrics.ticked):
            work = [AsyncSocketModeHandler(slack.app, settings.slack_app_token).start_async()]
            if teams is not None:  # Teams always needs HTTP: /api/messages beside Socket Mode, with the probes
                work.append(make_server(web, settings, host=host, port=port).serve())
            elif settings.improve_probe_port:  # the probes and /metrics only where asked (a container)
                work.append(make_server(web, settings, host=host, port=settings.improve_probe_port).serve())
            await asyncio.gather(*work)

    log.info("serving Slack in Socket Mode%s", f", Teams over HTTP on port {port}" if teams else "")
    asyncio.run(run_socket())
    return 0


WORKER_POLL = 1.0  # seconds: what the serving processes queued (a DM after a click) goes within about this


def _worker(settings: Settings) -> int:
    """Scheduled work and all delivery, in a process of its own: the serving processes (IMPROVE_DELIVERY=worker)
    then only acknowledge and send what people wait for. Several workers may run at once (claims are leased). Stops
    on SIGTERM or Ctrl-C, releasing what it holds."""
    import signal

    from handlers.server import make_server
    from handlers.web import create_web_app, run_scheduled

    engine = _engine(settings)
    slack, teams = _platforms(settings, engine)
    platforms = [p for p in (slack, teams) if p is not None]
    # no doors; the probes and /metrics on IMPROVE_PROBE_PORT, so a container's health check sees the worker too
    web = create_web_app(engine, slack, teams=teams, scheduled=False, db_timeout=settings.improve_db_timeout,
                         slack_door=False, teams_door=False)  # fmt: skip
    if settings.improve_delivery == "serve":
        log.info("IMPROVE_DELIVERY is not `worker`: the serving processes tick and deliver bulk messages too "
                 "(harmless, each message still goes once; set it on them to leave that to workers)")  # fmt: skip

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        async with run_scheduled(*platforms, poll=WORKER_POLL, on_tick=web.state.metrics.ticked):
            log.info("worker: delivering for %s", ", ".join(type(p).__name__.removesuffix("Bot") for p in platforms))
            port = settings.improve_probe_port  # several workers on one host: only where asked (a container)
            server = make_server(web, settings, host="0.0.0.0", port=port) if port else None
            probes = asyncio.ensure_future(server.serve()) if server else None
            await stop.wait()
            if server is not None and probes is not None:
                server.should_exit = True  # uvicorn's own way out: its lifespan ends cleanly
                await asyncio.gather(probes, return_exceptions=True)
        log.info("worker: stopped")

    asyncio.run(run())
    return 0


def _manifest(settings: Settings, out: str, version: str) -> int:
    from pathlib import Path

    from handlers.teams.manifest import package

    if not settings.teams_client_id:
        raise ConfigError("TEAMS_CLIENT_ID is not set; the package names the bot by its Microsoft app id")
    if not re.fullmatch(r"\d{1,4}\.\d{1,4}\.\d{1,4}", version):
        raise ConfigError(f"--version {version!r} must look like 1.0.0")
    path = package(settings.teams_client_id, Path(out), version=version)
    print(f"wrote {path}: upload it in Teams (Apps → Manage your apps → Upload a custom app)")
    return 0


CONSOLE_LOG = "improvebot-console.log"
CONSOLE_KEY = "improvebot-console.key"


def _console(settings: Settings) -> int:
    from handlers.console.repl import build_console

    def read(prompt: str) -> str | None:
        try:
            return input(prompt)
        except EOFError:
            return None

    configure_logging(settings.improve_log_level, file=CONSOLE_LOG)  # log lines stay out of the chat
    engine = _engine(settings)
    if settings.improve_anonymous_reports and not settings.improve_secret_key.get_secret_value():
        settings = settings.model_copy(update={"improve_secret_key": SecretStr(_console_key())})
    console = build_console(settings, engine=engine, clock=SystemClock(), read=read, write=print)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(console.run())
    print("bye")
    return 0


def _console_key() -> str:
    """The console's own key for anonymous reports, kept beside its database (readable by this user only) when
    IMPROVE_SECRET_KEY is not set: a local chat needs no setup."""
    path = Path(CONSOLE_KEY)
    if not path.exists():
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            file.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def _tick(settings: Settings, clock: Clock) -> int:
    """Run due work once for every configured platform (Slack, Teams)."""
    if not (settings.slack_configured or settings.teams_configured):
        print("nothing to deliver to: neither Slack (SLACK_BOT_TOKEN) nor Teams (TEAMS_CLIENT_ID) is set")
        return 0
    engine = _engine(settings)
    platforms: list[tuple[str, Any]] = []
    if settings.slack_configured:
        from handlers.slack.app import build_slack

        platforms.append(("slack", build_slack(settings, engine=engine, clock=clock)))
    if settings.teams_configured:
        from handlers.teams.app import build_teams

        settings.require_teams()
        platforms.append(("teams", build_teams(settings, engine=engine, clock=clock)))

    async def run() -> int:
        """0 when every platform's tick ran (what it could not deliver is retried by a later tick, as printed);
        1 when one could not run at all (say, the database was unreachable)."""
        could_not = 0
        for name, platform in platforms:
            try:
                await platform.start()
                await asyncio.to_thread(platform.refresh_settings)
                report = await platform.ticker.tick()
            except Exception as exc:
                log.exception("the %s tick could not run", name)
                print(f"{name}: could not run ({type(exc).__name__})", file=sys.stderr)
                could_not += 1
            else:
                print(report.line() if len(platforms) == 1 else f"{name}: {report.line()}")
            finally:
                await platform.stop()
        return could_not

    return 1 if asyncio.run(run()) else 0


def _digest_preview(settings: Settings, clock: Clock) -> int:
    """Print the next announcement of every workspace in the database, as plain text."""
    from handlers.console.render import message_lines

    engine = _engine(settings)
    previews = preview_digests(engine, clock.now())
    if not previews:
        print("no workspace yet: the bot has not been used")
    for name, channel, week, message in previews:
        print(f"--- {name}: {week}, to {channel or '(no wins channel set: IMPROVE_WINS_CHANNEL)'} ---")
        for line in message_lines(message, lambda _action, _value: 0):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
