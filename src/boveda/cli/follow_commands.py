"""`boveda sync --follow` (the face of the follower), `boveda alerts`, `boveda alerts ack`."""

from __future__ import annotations

import click

from boveda.book import Book
from boveda.cli.common import JSON_OPTION, _echo_json, _open_book, _table, say
from boveda.cli.params import ALERT_ID
from boveda.errors import ChainError
from boveda.follower.alerts import acknowledge, list_alerts
from boveda.follower.log import FollowLog
from boveda.follower.loop import Follower, FollowOptions
from boveda.follower.webhook import check_webhook_url
from boveda.money import format_btc
from boveda.service.chain import ChainOptions, book_route, remember_route, rpc_client
from boveda.text import escape_json_text


def follow(book: Book, chain: ChainOptions, options: FollowOptions, *, log_json: bool) -> None:
    """Runs the follower until a bound, a signal or a refusal; exit 2 if the node was unreachable at the end."""
    for url in options.webhooks:
        check_webhook_url(url)
    route = book_route(book, chain)
    log = FollowLog((lambda line: click.echo(escape_json_text(line))) if log_json else say, as_json=log_json)
    client = rpc_client(route)
    summary = Follower(book, client, options, log).run()
    if summary.node_reachable or summary.blocks_synced:
        remember_route(book, route)
    if not summary.node_reachable:
        raise ChainError(f"the node at {route.endpoint().url} was still unreachable when the follower stopped "
                         f"({summary.stopped_because})")


@click.group("alerts", invoke_without_command=True)
@click.option("--all", "include_all", is_flag=True, help="Also list the alerts already acknowledged.")
@JSON_OPTION
@click.pass_context
def alerts_group(ctx: click.Context, include_all: bool, as_json: bool) -> None:
    """The follower's alerts: critical findings in new blocks (coins out with no authorising entry, a
    claimed purchase that is internal, an amount mismatch) and unconfirmed spends of watched coins
    (pending_outflow). Lists those not acknowledged yet; `boveda alerts ack` acknowledges one.

    \b
    Example:
      boveda alerts
      boveda alerts --all --json
      boveda alerts ack 3 --by "M. Ortiz, treasury"
    """
    if ctx.invoked_subcommand is not None:
        if include_all or as_json:
            raise click.UsageError("options before 'ack' belong to 'boveda alerts'")
        return
    with _open_book(ctx) as book:
        alerts = list_alerts(book, include_acknowledged=include_all)
    if as_json:
        _echo_json({"alerts": [a.to_json() for a in alerts]})
        return
    if not alerts:
        click.echo("no alerts" if include_all else "no alerts to acknowledge (boveda alerts --all lists every one)")
        return

    def state(alert) -> str:
        parts = [f"resolved: {alert.resolution.value}"] if alert.resolution else []
        parts.append(f"acknowledged by {alert.acknowledged_by}" if alert.acknowledged else "open")
        return "; ".join(parts)

    _table([(str(a.alert_id), a.raised_at, "-" if a.height is None else str(a.height), a.holding, a.kind.value,
             format_btc(a.amount_sat), a.txid_hex, state(a)) for a in alerts],
           ("ID", "RAISED", "HEIGHT", "HOLDING", "KIND", "BTC", "TXID", "STATE"))


@alerts_group.command("ack")
@click.argument("alert_id", metavar="ID", type=ALERT_ID)
@click.option("--by", "by", required=True, metavar="NAME", help="Who acknowledges it (kept in the audit log).")
@JSON_OPTION
@click.pass_context
def alerts_ack(ctx: click.Context, alert_id: int, by: str, as_json: bool) -> None:
    """Acknowledge alert ID: an audited event naming who and when. An unknown or already acknowledged
    alert is refused and nothing is written.

    \b
    Example:
      boveda alerts ack 3 --by "M. Ortiz, treasury"
    """
    with _open_book(ctx) as book:
        alert = acknowledge(book, alert_id, by)
    if as_json:
        _echo_json({"alert_id": alert.alert_id, "acknowledged_by": alert.acknowledged_by,
                    "acknowledged_at": alert.acknowledged_at})
        return
    say(f"alert {alert.alert_id} ({alert.kind.value} {alert.holding} {alert.txid_hex}) acknowledged by "
        f"{alert.acknowledged_by} at {alert.acknowledged_at}")


def register(cli: click.Group) -> None:
    cli.add_command(alerts_group)
