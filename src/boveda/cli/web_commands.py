"""`boveda serve`: the transparency site and its JSON API, under uvicorn, over the book opened read-only."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from boveda.book import Book
from boveda.book.store import describe
from boveda.cli.common import _location
from boveda.follower.alerts import list_alerts
from boveda.service.site import site_version
from boveda.web import SiteConfig, create_app
from boveda.web.app import CONFIG_ENV, config_from_environment, config_to_environment
from boveda.web.readonly import open_readonly


def operator_alerts(book: Book) -> list[dict[str, Any]]:
    """Every alert of the follower, as `boveda alerts --all --json` lists them."""
    return [alert.to_json() for alert in list_alerts(book, include_acknowledged=True)]


def worker_app():
    """What each uvicorn worker runs (`--workers N`): the app, from the options `serve` put in the environment."""
    config = config_from_environment()
    return create_app(replace(config, alerts=None if config.public else operator_alerts))


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port.")
@click.option("--public", is_flag=True,
              help="For the internet: hide the operator's fields (the follower's alerts, entries citing transactions "
                   "not confirmed yet).")
@click.option("--proofs", "proofs_dir", type=click.Path(path_type=Path, file_okay=False),
              help="A folder of published proof bundles (*.json): each is verified against the book's chain at "
                   "start-up and whenever it changes, offered for download, and the latest valid one is shown as "
                   "'verified'.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes (each keeps its own snapshot of the book).")
@click.option("--access-log", is_flag=True, help="Log every request on stderr.")
@click.pass_context
def serve_command(ctx: click.Context, host: str, port: int, public: bool, proofs_dir: Path | None, workers: int,
                  access_log: bool) -> None:
    """Serve the public transparency site and its JSON API (/api/v1/, OpenAPI at /api/v1/openapi.json)
    from the book, which is opened read-only: every reserve on chain, claimed by the book and verified by
    proofs, its addresses, movements in plain words, discrepancies and custody by legal state, in English
    and Spanish. Pages follow new synced blocks live. Put it behind a TLS reverse proxy for the internet.

    \b
    Example:
      boveda --book /tmp/boveda-demo/boveda.db serve --proofs /tmp/boveda-demo
      boveda --book postgresql://reader@db.example/reserve serve --public --host 0.0.0.0 --port 8080 --workers 2
    """
    import uvicorn

    location = _location(ctx)
    book = open_readonly(location)  # refuses a missing book or an old schema now, in one line
    try:
        version = site_version(book)
    finally:
        book.close()
    config = SiteConfig(book=location, public=public, proofs_dir=proofs_dir.resolve() if proofs_dir else None)
    where = "nothing synced yet" if version.tip_height is None else f"synced to block {version.tip_height}"
    click.echo(f"serving {describe(location)} read-only ({where}; {'public' if public else 'operator'} view) on "
               f"http://{host}:{port}/ with {workers} worker(s); Ctrl-C stops", err=True)
    options: dict[str, Any] = {"host": host, "port": port, "log_level": "info" if access_log else "warning",
                               "access_log": access_log, "server_header": False, "proxy_headers": True}
    if workers == 1:
        uvicorn.run(create_app(replace(config, alerts=None if public else operator_alerts)), **options)
        return
    os.environ[CONFIG_ENV] = config_to_environment(config)
    uvicorn.run("boveda.cli.web_commands:worker_app", factory=True, workers=workers, **options)


def register(cli: click.Group) -> None:
    cli.add_command(serve_command)
