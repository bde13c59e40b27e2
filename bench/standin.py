"""The Slack Web API stand-in in a process of its own (so it does not share the load generator's GIL), as the
benchmarks start, ask and stop it: each benchmark's `_serve_stub(conn, *args)` serves it, sends what it serves on
(its URLs) once it is up, then answers the messages the benchmark sends until "stop"."""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any


class StartError(Exception):
    """A server (or the stand-in) did not come up."""


def start_process(target: Callable[..., None], *args: Any, timeout: float) -> tuple[Any, Connection, Any]:
    """`target(conn, *args)` in a spawned process: (the process, our end of the pipe, its first message)."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=target, args=(theirs, *args), daemon=True, name="slack-api-stub")
    process.start()
    if not ours.poll(timeout):
        process.kill()
        raise StartError("the Slack API stand-in did not start")
    return process, ours, ours.recv()


@dataclass
class StandInProcess:
    process: multiprocessing.process.BaseProcess
    conn: Connection

    def ask(self, message: str) -> Any:
        self.conn.send(message)
        return self.conn.recv()

    @staticmethod
    def settled(read: Callable[[], Any], quiet_s: float, timeout_s: float) -> Any:
        """`read()` once it has not changed for `quiet_s` (or when `timeout_s` has passed)."""
        deadline = time.monotonic() + timeout_s
        last = read()
        while time.monotonic() < deadline:
            time.sleep(quiet_s)
            now = read()
            if now == last:
                break
            last = now
        return last

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send("stop")
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()


def serve(conn: Connection, stub: Any, answers: dict[str, Callable[[], Any]]) -> None:
    """Serve `stub` (a tests.support.slack_api.SlackApiStub) in this process: send its URL, then answer each
    message named in `answers` with what its function returns, until "stop" (or the other end closes)."""
    stub.start()
    conn.send(stub.url)
    while True:
        try:
            message = conn.recv()
        except EOFError:
            break
        if message not in answers:
            break
        conn.send(answers[message]())
    stub.stop()
