"""`boveda`: the root command group, its global options and its one error handler."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from boveda import __version__
from boveda.cli.common import EXIT_BAD_INPUT, EXIT_CHECK_FAILED  # noqa: F401  (re-exported for callers)
from boveda.errors import BovedaError
from boveda.text import one_line


class BovedaGroup(click.Group):
    """Turns every BovedaError into one line on stderr and exit code 2: never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BovedaError as exc:
            click.echo(f"error: {one_line(str(exc))}", err=True)
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
@click.option(
    "--by",
    "operator",
    envvar="BOVEDA_OPERATOR",
    metavar="NAME",
    help="Who makes the change, recorded (and hashed) with every audited event (env BOVEDA_OPERATOR); "
         "required on a PostgreSQL book, the OS user by default on a SQLite one.",
)
@click.option("--approved-by", metavar="NAME", help="Who approved the change, recorded beside the operator.")
@click.pass_context
def cli(ctx: click.Context, book: str, operator: str | None, approved_by: str | None) -> None:
    """Bóveda keeps the book of record for a sovereign bitcoin reserve and proves it against the chain."""
    ctx.ensure_object(dict)
    ctx.obj["book"] = book
    ctx.obj["operator"] = operator
    ctx.obj["approved_by"] = approved_by


def _register_commands() -> None:
    from boveda.cli import (
        anchor_commands,
        audit_commands,
        book_commands,
        chain_commands,
        entry_commands,
        facts_commands,
        follow_commands,
        labels_commands,
        proof_commands,
        reconcile_commands,
        spend_commands,
        wallet_commands,
        web_commands,
    )

    for module in (chain_commands, book_commands, entry_commands, audit_commands, wallet_commands, reconcile_commands, proof_commands,
                   follow_commands, web_commands, labels_commands, facts_commands, spend_commands, anchor_commands):
        module.register(cli)


_register_commands()


def run(argv: Sequence[str] | None = None) -> int:
    """`boveda ARGV` (default: the process's arguments); returns the exit code. Every refusal is one
    line on stderr, usage errors exit 2 like bad input. Tests call this in-process."""
    try:
        code = cli.main(args=list(argv) if argv is not None else None, prog_name="boveda", standalone_mode=False)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "boveda"
        click.echo(f"error: {one_line(exc.format_message())} (see {where} --help)", err=True)
        return EXIT_BAD_INPUT
    except click.ClickException as exc:
        click.echo(f"error: {one_line(exc.format_message())}", err=True)
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_BAD_INPUT)
    except OSError as exc:  # a file or folder the system refused (read-only, full, gone) past every check
        where = f" {exc.filename}" if exc.filename else ""
        click.echo(f"error: cannot use{one_line(where)}: {exc.strerror or type(exc).__name__}", err=True)
        return EXIT_BAD_INPUT
    return code if isinstance(code, int) else 0


def main() -> None:
    """The console script."""
    sys.exit(run())


if __name__ == "__main__":
    sys.exit(main())
