"""`boveda statement --format pdf`: a real A4 PDF of the demo statement, read back with poppler's own
tools — its pages ("Page x of y" on each), its fonts (every one embedded), its text (the closing
balance, the holdings total, the audit head, the block hash and the document id, which is the SHA-256
of the statement's canonical JSON), short tables kept whole on one page, the sign-off, Spanish; and
the refusals: no --out, an existing file, a machine without the PDF engine.

Needs poppler-utils (pdfinfo, pdffonts, pdftotext; Debian) and WeasyPrint; skips without them
unless CI=true, where they must be present (.ci/run installs them)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_statement import sample_statement

from boveda.book.audit import canonical_json
from boveda.cli.main import run
from boveda.money import format_btc
from boveda.report.render_pdf import render_pdf

POPPLER = ("pdfinfo", "pdffonts", "pdftotext")


def require_pdf_tools() -> None:
    missing = [tool for tool in POPPLER if shutil.which(tool) is None]
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        missing.append("the weasyprint package (and Pango)")
    if not missing:
        return
    message = f"PDF checks unavailable: missing {', '.join(missing)}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: the PDF tests must run)")
    pytest.skip(message)


def pdfinfo(path: Path) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in out.splitlines())}


def page_texts(path: Path, pages: int) -> list[str]:
    return [subprocess.run(["pdftotext", "-layout", "-f", str(n), "-l", str(n), str(path), "-"],
                           capture_output=True, text=True, check=True).stdout for n in range(1, pages + 1)]


def boveda(capsys, *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    require_pdf_tools()
    folder = tmp_path_factory.mktemp("statement-pdf") / "demo"
    assert run(["demo", "--dir", str(folder)]) == 0
    return folder


def test_the_pdf_of_the_demo_statement_is_a4_with_every_page_numbered_and_every_font_embedded(demo, capsys,
                                                                                              tmp_path):
    book = str(demo / "boveda.db")
    out = tmp_path / "sv.pdf"
    code, said, err = boveda(capsys, "--book", book, "statement", "--reserve", "SV", "--format", "pdf",
                             "--out", str(out))
    assert (code, err) == (0, ""), err
    assert f"written to {out}" in said
    assert out.read_bytes()[:5] == b"%PDF-"
    info = pdfinfo(out)
    pages = int(info["Pages"])
    assert 2 <= pages <= 10, pages
    assert info["Page size"].startswith("595.276 x 841.89 pts (A4)")
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts  # the "emb" column

    code, document, _ = boveda(capsys, "--book", book, "statement", "--reserve", "SV", "--format", "json")
    statement = json.loads(document)
    digest = hashlib.sha256(canonical_json(statement).encode("utf-8")).hexdigest()
    code, head_json, _ = boveda(capsys, "--book", book, "audit", "head", "--json")
    head = json.loads(head_json)
    head_hex = next(v for k, v in head.items() if re.fullmatch(r"[0-9a-f]{64}", str(v)))
    texts = page_texts(out, pages)
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {pages}" in text
        assert digest in text and head_hex in text and statement["block_hash"] in text  # the footer
    whole = "\n".join(texts)
    closing = format_btc(statement["rollforward"]["chain"]["closing_sat"])
    assert re.search(rf"Closing balance\s+{re.escape(closing)}", whole)
    assert f"Total {format_btc(statement['holdings_total_sat'])}" in re.sub(r"\s+", " ", whole)
    assert "Prepared by" in whole and "Reviewed by" in whole and "Signature" in whole


def test_short_tables_are_never_split_across_two_pages(demo, capsys, tmp_path):
    out = tmp_path / "sv.pdf"
    assert boveda(capsys, "--book", str(demo / "boveda.db"), "statement", "--reserve", "SV", "--format", "pdf",
                  "--out", str(out))[0] == 0
    texts = page_texts(out, int(pdfinfo(out)["Pages"]))
    for rows in (("Opening balance", "Closing balance", "adds up"),  # the roll-forward
                 ("WALLET", "sv-vault", "sv-cold", "sv-hot", "Total"),  # the holdings
                 ("Prepared by", "Reviewed by", "Signature")):  # the sign-off
        holding = [n for n, text in enumerate(texts) if all(row in text for row in rows)]
        assert len(holding) == 1, (rows, [[row in text for row in rows] for text in texts])


def test_a_spanish_pdf_of_a_period(demo, capsys, tmp_path):
    out = tmp_path / "sv-es.pdf"
    code, _, err = boveda(capsys, "--book", str(demo / "boveda.db"), "statement", "--reserve", "SV", "--from",
                          "2025-08-01", "--to", "2025-08-15", "--format", "pdf", "--lang", "es", "--out", str(out))
    assert code == 0, err
    pages = int(pdfinfo(out)["Pages"])
    whole = "\n".join(page_texts(out, pages))
    assert f"Página 1 de {pages}" in whole and "Saldo final" in whole and "Elaborado por" in whole
    assert "del 2025-08-01 al 2025-08-15" in whole
    assert "Page 1" not in whole and "Closing balance" not in whole


def test_a_pdf_is_never_written_to_the_terminal_nor_over_a_file(demo, capsys, tmp_path):
    book = str(demo / "boveda.db")
    code, said, err = boveda(capsys, "--book", book, "statement", "--reserve", "SV", "--format", "pdf")
    assert (code, said) == (2, "") and "--out FILE.pdf" in err
    existing = tmp_path / "kept.pdf"
    existing.write_bytes(b"signed copy")
    code, _, err = boveda(capsys, "--book", book, "statement", "--reserve", "SV", "--format", "pdf",
                          "--out", str(existing))
    assert code == 2 and "--force" in err and existing.read_bytes() == b"signed copy"
    code, _, err = boveda(capsys, "--book", book, "statement", "--reserve", "SV", "--lang", "es")
    assert code == 2 and "--lang applies to --format html and pdf" in err


def test_without_the_pdf_engine_the_command_says_what_to_install_and_writes_nothing(demo, capsys, tmp_path,
                                                                                   monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # `import weasyprint` now raises ImportError
    out = tmp_path / "sv.pdf"
    code, said, err = boveda(capsys, "--book", str(demo / "boveda.db"), "statement", "--reserve", "SV",
                             "--format", "pdf", "--out", str(out))
    assert code == 2 and said == ""
    assert "pip install weasyprint" in err and "libpango-1.0-0" in err and len(err.splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_the_pdf_engine_understands_every_rule_of_the_statements_css(caplog, tmp_path):
    require_pdf_tools()
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = render_pdf(sample_statement(), lang="es")
    assert [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")] == []
    (tmp_path / "sample.pdf").write_bytes(pdf)
    assert int(pdfinfo(tmp_path / "sample.pdf")["Pages"]) >= 2


@pytest.mark.parametrize("kept", [True, False], ids=["small table", "long table"])
def test_a_three_row_table_lands_whole_on_one_page_wherever_the_page_ends(tmp_path, kept):
    """Swept across the foot of a page: a three-row table moves whole to the next page; a long one may split."""
    require_pdf_tools()
    from boveda.report.render_html import CSS, SMALL_TABLE_ROWS, _table
    from boveda.report.render_pdf import pdf_engine

    names = ["alpha", "bravo", "charlie"] if kept else [f"row{n:02d}" for n in range(SMALL_TABLE_ROWS + 1)]
    table = _table(("Wallet", "Balance BTC"), [(name, "1.00000000") for name in names], numeric=(1,))
    split = 0
    for spacer_mm in range(200, 262, 3):
        html = f'<html><head><style>{CSS}</style></head><body><div style="height: {spacer_mm}mm"></div>{table}'
        path = tmp_path / f"sweep-{spacer_mm}.pdf"
        path.write_bytes(pdf_engine()(string=html).write_pdf())
        texts = page_texts(path, int(pdfinfo(path)["Pages"]))
        split += sum(1 for text in texts if any(name in text for name in names)) > 1
    assert (split == 0) if kept else (split > 0)
