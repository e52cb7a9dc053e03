"""`boveda`: the root command group, its global options and its one error handler."""

from __future__ import annotations

import sys

import click

from boveda import __version__
from boveda.cli.common import EXIT_BAD_INPUT, EXIT_CHECK_FAILED  # noqa: F401  (re-exported for callers)
from boveda.errors import BovedaError


class BovedaGroup(click.Group):
    """Turns every BovedaError into one line on stderr and exit code 2: never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BovedaError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_BAD_INPUT)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(cls=BovedaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="boveda")
@click.option(
    "--book",
    envvar="BOVEDA_BOOK",
    default="boveda.db",
    show_default=True,
    help="The book: a SQLite file path, or a postgresql:// URL (env BOVEDA_BOOK).",
)
@click.pass_context
def cli(ctx: click.Context, book: str) -> None:
    """Bóveda keeps the book of record for a sovereign bitcoin reserve and proves it against the chain."""
    ctx.ensure_object(dict)
    ctx.obj["book"] = book


def _register_commands() -> None:
    from boveda.cli import (
        audit_commands,
        book_commands,
        chain_commands,
        proof_commands,
        reconcile_commands,
        wallet_commands,
    )

    for module in (chain_commands, book_commands, audit_commands, wallet_commands, reconcile_commands, proof_commands):
        module.register(cli)


_register_commands()


def main() -> None:
    """The console script: every refusal is one line on stderr; usage errors exit 2 like bad input."""
    try:
        code = cli.main(prog_name="boveda", standalone_mode=False)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "boveda"
        click.echo(f"error: {exc.format_message()} (see {where} --help)", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    sys.exit(main())
