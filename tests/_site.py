"""Helpers of the transparency site's tests: the demo built once, the site served by a real uvicorn on a
free loopback port (in a thread), and the CLI run as a user runs it, to compare documents."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from boveda.web import SiteConfig, create_app

BOVEDA = [sys.executable, "-m", "boveda.cli.main"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(config: SiteConfig) -> Iterator[str]:
    """The site of `config` under uvicorn in a thread; yields its base URL, stopped on exit."""
    app = create_app(config)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def run_cli(book: str, *args: str) -> subprocess.CompletedProcess:
    """`boveda --book BOOK ARGS…` in a subprocess, as a user runs it."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*BOVEDA, "--book", book, *args], capture_output=True, text=True, env=env, timeout=120,
                          check=False)


def cli_json(book: str, *args: str) -> dict:
    done = run_cli(book, *args)
    assert done.stdout, f"boveda {' '.join(args)} printed nothing: {done.stderr}"
    return json.loads(done.stdout)


_BATCH = """
import json, sys
from click.testing import CliRunner
from boveda.cli.main import cli
book, commands = sys.argv[1], json.loads(sys.stdin.read())
runner = CliRunner()
results = []
for command in commands:
    done = runner.invoke(cli, ["--book", book, *command], catch_exceptions=False)
    results.append({"stdout": done.stdout, "exit_code": done.exit_code})
print(json.dumps(results))
"""


def cli_outputs(book: str, commands: Sequence[Sequence[str]]) -> dict[tuple[str, ...], str]:
    """The stdout of each `boveda --book BOOK COMMAND…`, all run by the CLI's own click group in one fresh
    Python process (a process per command would spend a second each importing the same modules)."""
    done = subprocess.run([sys.executable, "-c", _BATCH, book], input=json.dumps([list(c) for c in commands]),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return {tuple(command): result["stdout"] for command, result in zip(commands, json.loads(done.stdout))}


def demo_folder(root: Path) -> Path:
    """The demo built into `root / "demo"` (the shipped scenario: two reserves, three cases, proofs)."""
    from boveda.demo import run_demo

    folder = root / "demo"
    run_demo(folder)
    return folder
