"""`boveda labels import/export`: BIP-329 wallet labels, in and out."""

from __future__ import annotations

import click

from boveda.cli.common import FORCE_OPTION, JSON_OPTION, _echo_json, _group, _open_book, say
from boveda.cli.params import SafePath
from boveda.labels import export_lines, import_labels
from boveda.outfiles import atomic_text
from boveda.service.labels import holding_scope


@click.command("import")
@click.argument("file", type=SafePath(exists=True, dir_okay=False))
@click.option("--replace", is_flag=True, help="Remove every stored label first (default: merge into them).")
@JSON_OPTION
@click.pass_context
def labels_import(ctx: click.Context, file: str, replace: bool, as_json: bool) -> None:
    """Import a BIP-329 labels FILE (JSON Lines: tx, addr, pubkey, input, output, xpub records).

    Every line is checked first; one bad line refuses the whole file, naming the line, and nothing
    is imported. A record for a label already stored (same type, ref and origin) updates the fields
    it gives and keeps those it omits; --replace starts from no labels. Records of types BIP-329
    does not define are skipped, as the BIP asks, and counted.

    \b
    Example:
      boveda labels import sparrow-labels.jsonl
      boveda labels import labels.jsonl --replace
    """
    with _open_book(ctx) as book:
        done = import_labels(book, file, replace=replace)
    if as_json:
        _echo_json({"import_id": done.import_id, "file_sha256": done.file_sha256, "records": done.records,
                    "added": done.added, "updated": done.updated, "removed": done.removed if replace else 0,
                    "skipped_lines": [i.line_number for i in done.ignored]})
        return
    removed = f", {done.removed} removed first" if replace else ""
    say(f"imported {done.records} records from {file}: {done.added} labels added, {done.updated} updated{removed} "
        f"(import {done.import_id}, sha256 {done.file_sha256})")
    if done.ignored:
        lines = ", ".join(f"{i.line_number} ({i.kind})" for i in done.ignored[:5])
        more = f" and {len(done.ignored) - 5} more" if len(done.ignored) > 5 else ""
        say(f"note: skipped {len(done.ignored)} records of types BIP-329 does not define: lines {lines}{more}",
            err=True)


@click.command("export")
@click.option("--holding", metavar="reserve:CODE|custody:CASE",
              help="Only the labels of this holding's wallets: their addresses, transactions, keys and origins.")
@click.option("--out", "out_path", type=SafePath(dir_okay=False), help="Write to this file (default: stdout).")
@FORCE_OPTION
@click.pass_context
def labels_export(ctx: click.Context, holding: str | None, out_path: str | None, force: bool) -> None:
    """Export the stored labels as BIP-329 JSON Lines, in import order, each line as it was imported.

    \b
    Example:
      boveda labels export --out labels.jsonl
      boveda labels export --holding reserve:SV > sv-labels.jsonl
    """
    with _open_book(ctx) as book:
        scope = holding_scope(book, holding) if holding is not None else None
        lines = list(export_lines(book, scope))
    if out_path is None:
        for line in lines:
            click.echo(line)  # checked at import: no control, line-separator or bidi character outside escapes
        return
    with atomic_text(out_path, force=force) as out:
        out.writelines(f"{line}\n" for line in lines)
    say(f"exported {len(lines)} labels to {out_path}")


def register(cli: click.Group) -> None:
    labels = _group(cli, "labels", "BIP-329 wallet labels: import, export, shown beside addresses.")
    labels.add_command(labels_import)
    labels.add_command(labels_export)
