"""Running the follower in a test: on a thread with its JSON log captured, a local webhook receiver, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from boveda.book import Book
from boveda.follower.log import FollowLog
from boveda.follower.loop import Follower, FollowOptions, FollowSummary
from boveda.service.chain import ChainOptions, book_route, rpc_client

BOVEDA = [str(Path(sys.executable).with_name("boveda"))]


class RunningFollower:
    """A follower of `rpc_url` for the book at `location`, on a thread; `stop()` joins it."""

    def __init__(self, location: str, rpc_url: str, options: FollowOptions) -> None:
        self.lines: list[dict] = []
        self.book = Book.open(location)
        route = book_route(self.book, ChainOptions(rpc_url=rpc_url))
        log = FollowLog(lambda line: self.lines.append(json.loads(line)), as_json=True)
        self.follower = Follower(self.book, rpc_client(route), options, log)
        self.summary: FollowSummary | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.summary = self.follower.run()
        except BaseException as exc:  # noqa: BLE001 — handed to the test
            self.error = exc

    def events(self, event: str) -> list[dict]:
        return [line for line in list(self.lines) if line["event"] == event]

    def wait_for(self, found: Callable[[dict], bool], timeout_s: float = 20.0) -> dict:
        """The first log line for which `found` holds, waiting up to `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        seen = 0
        while time.monotonic() < deadline:
            lines = list(self.lines)
            for line in lines[seen:]:
                if found(line):
                    return line
            seen = len(lines)
            if self.error is not None:
                raise AssertionError(f"the follower failed: {self.error!r}") from self.error
            if not self.thread.is_alive():
                raise AssertionError(f"the follower stopped: {lines[-5:]}")
            time.sleep(0.01)
        raise AssertionError(f"timed out; last lines: {[line['message'] for line in list(self.lines)[-8:]]}")

    def wait_synced(self, node, timeout_s: float = 20.0) -> dict:
        """The log line of the node's tip block as it is now (by hash: a height may have been reorganised)."""
        tip = node.cli("getbestblockhash")
        return self.wait_for(lambda line: line["event"] == "block" and line["hash"] == tip, timeout_s)

    def stop(self) -> FollowSummary:
        self.follower.stop("the test is done")
        self.thread.join(30)
        assert not self.thread.is_alive(), "the follower did not stop"
        self.book.close()
        if self.error is not None:
            raise self.error
        assert self.summary is not None
        return self.summary


class WebhookReceiver:
    """An HTTP server on a free loopback port keeping every JSON body POSTed to it; `fail_first` answers 500 first."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list[dict] = []
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.attempts += 1
                if receiver.attempts <= fail_first:
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.bodies.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/secret-token-123"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kinds(self) -> list[str]:
        return [body["alert"]["kind"] for body in self.bodies]

    def wait_for(self, count: int, timeout_s: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        while len(self.bodies) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.bodies) >= count, f"the webhook got {self.kinds()}"
        return self.bodies

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def invoke(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`boveda ARGS` run in this process through the console script's `main` (its one error handler included)."""
    from click.testing import CliRunner

    from boveda.cli.main import main

    runner = CliRunner()
    saved_argv, saved_cwd = sys.argv, os.getcwd()
    with runner.isolation(env={"BOVEDA_RPC_URL": None, "BOVEDA_BOOK": None, "COLUMNS": "250"}) as streams:
        sys.argv = ["boveda", *args]
        if cwd is not None:
            os.chdir(cwd)
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.argv = saved_argv
            os.chdir(saved_cwd)
        stdout, stderr = streams[0].getvalue().decode(), streams[1].getvalue().decode()
    return subprocess.CompletedProcess(["boveda", *args], code, stdout, stderr)


def run_boveda(*args: str, cwd: Path, timeout_s: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "250"}
    env.pop("BOVEDA_BOOK", None)
    env.pop("BOVEDA_RPC_URL", None)
    return subprocess.run([*BOVEDA, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout_s,
                          check=False)


def start_boveda(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "COLUMNS": "250", "PYTHONUNBUFFERED": "1"}
    env.pop("BOVEDA_BOOK", None)
    env.pop("BOVEDA_RPC_URL", None)
    return subprocess.Popen([*BOVEDA, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
                            env=env)


def one_line_error(result: subprocess.CompletedProcess, *secrets: str) -> str:
    """The one error line of a refused command (exit 2), checked to hold none of `secrets`."""
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for secret in secrets:
        assert secret not in result.stderr and secret not in result.stdout
    return lines[0]
