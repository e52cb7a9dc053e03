"""The statement as a PDF an official can sign: the HTML statement printed on A4 by WeasyPrint, with
"page x of y", the document id (the statement's digest), the audit head and the block in every page's
footer, and a sign-off block (prepared by, reviewed by).

WeasyPrint, not the system's Chromium: both render the demo statement in about a second here, but
WeasyPrint is a pinned Python dependency that implements CSS paged media itself (margin boxes,
``counter(pages)``, ``break-inside``), needs no browser, no sandbox to switch off and a third of the
memory, and it only needs Pango from the system, which Debian and Ubuntu ship as libpango-1.0-0.
"""

from __future__ import annotations

import os
from pathlib import Path

from boveda.book.domain import AuditHead
from boveda.errors import BovedaError
from boveda.outfiles import atomic_text
from boveda.report.i18n import Words, words
from boveda.report.render_html import html_document, period_text, statement_digest
from boveda.report.render_html import html_text as _e
from boveda.report.statement import Statement
from boveda.report.statement_css import MONO

INSTALL_HINT = ("install it with `pip install weasyprint` (a dependency of Bóveda) and, on Debian or Ubuntu, "
                "`apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core`")


class PdfUnavailable(BovedaError):
    """The PDF engine (WeasyPrint and the Pango library under it) cannot be loaded on this machine."""


def pdf_engine():
    """WeasyPrint's HTML class; PdfUnavailable naming what to install when it or Pango is missing."""
    try:
        from weasyprint import HTML
    except ImportError:
        raise PdfUnavailable(f"PDF statements need WeasyPrint, which is not installed: {INSTALL_HINT}") from None
    except OSError as exc:  # WeasyPrint loads Pango, HarfBuzz and fontconfig with cffi at import
        raise PdfUnavailable(f"PDF statements need the Pango library, which cannot be loaded ({exc}): "
                             f"{INSTALL_HINT}") from None
    return HTML


def render_pdf(statement: Statement, *, audit_head: AuditHead | None = None, lang: str = "en") -> bytes:
    """The PDF of ``statement`` in ``lang`` (en, es)."""
    html = pdf_html(statement, audit_head=audit_head, lang=lang)
    return pdf_engine()(string=html, base_url=os.devnull).write_pdf()


def pdf_html(statement: Statement, *, audit_head: AuditHead | None = None, lang: str = "en") -> str:
    """The HTML that :func:`render_pdf` prints: the statement with page furniture and the sign-off."""
    w = words(lang)
    return html_document(statement, w, audit_head=audit_head, css=_paged_css(statement, w, audit_head),
                         closing=[_sign_off(statement, w)])


def write_pdf(path: str | os.PathLike[str], pdf: bytes, *, force: bool = False) -> Path:
    """``pdf`` into ``path`` as :mod:`boveda.outfiles` writes text: never over an existing file unless
    forced, never half-written."""
    with atomic_text(path, force=force) as out:
        out.flush()
        out.buffer.write(pdf)
    return Path(path)


def _paged_css(s: Statement, w: Words, audit_head: AuditHead | None) -> str:
    footer = [f"{w._('Document id')}  {statement_digest(s)}"]
    if audit_head is not None:
        footer.append(f"{w._('Audit head')}  {audit_head.hash_hex}  ({w._('event')} {audit_head.seq})")
    footer.append(f"{w._('Block')} {s.height}  {s.block_hash_hex}")
    running = f"{w._('Reserve statement')} · {s.reserve} · {period_text(s, w)}"
    page = f'"{_css(w._("Page"))} " counter(page) " {_css(w._("of"))} " counter(pages)'
    return f"""
@page {{
  size: A4; margin: 16mm 14mm 24mm;
  @top-left {{ content: "{_css(running)}"; font: 7.5pt "DejaVu Sans", sans-serif; color: #5b6470; }}
  @bottom-left {{ content: "{_css(chr(10).join(footer))}"; white-space: pre; font: 6.5pt/1.45 {MONO};
                  color: #5b6470; vertical-align: top; padding-top: 3mm; }}
  @bottom-right {{ content: {page}; font: 8pt "DejaVu Sans", sans-serif; color: #1b1f24; vertical-align: top;
                   padding-top: 3mm; white-space: nowrap; }}
}}
@page :first {{ @top-left {{ content: none; }} }}
body {{ max-width: none; padding: 0; font: 9.5pt/1.4 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }}
h1 {{ font-size: 17pt; }}
.cards {{ gap: 6px; }}
.card {{ padding: 6px 8px; }}
.card .label, .card .sub {{ font-size: 7pt; }}
footer {{ font-size: 7.5pt; }}
section.sign-off {{ break-inside: avoid; }}
.signatures {{ display: flex; gap: 12mm; margin-top: 4mm; }}
.signatory {{ flex: 1; }}
.signatory h3 {{ margin: 0 0 3mm; }}
.signatory p {{ margin: 0; padding: 7mm 0 1mm; border-bottom: 1px solid #1b1f24; color: #5b6470; font-size: 7.5pt; }}
"""


def _sign_off(s: Statement, w: Words) -> str:
    fields = "".join(f"<p>{_e(w._(name))}</p>" for name in ("Name", "Position", "Date", "Signature"))
    people = "".join(f'<div class="signatory"><h3>{_e(w._(role))}</h3>{fields}</div>'
                     for role in ("Prepared by", "Reviewed by"))
    return (f'<section class="sign-off"><h2>{_e(w._("Sign-off"))}</h2>'
            f'<p class="note">{_e(w._(SIGN_OFF_NOTE))} <span class="mono hash">{statement_digest(s)}</span></p>'
            f'<div class="signatures">{people}</div></section>')


SIGN_OFF_NOTE = ("By signing, each signatory attests to this statement as it stands on every page, identified by its "
                 "document id (the SHA-256 of its JSON form, boveda statement --format json):")


def _css(text: str) -> str:
    """Text inside a CSS string: backslashes, quotes and newlines escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\A ")

