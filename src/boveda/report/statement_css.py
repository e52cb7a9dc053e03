"""The statement page's style sheet: the screen and print layout every engine reads (``CSS``), and the rules
only browsers know (``BROWSER_CSS``), left out of the PDF so that its engine meets nothing it ignores."""

MONO = 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace'

CSS = """
:root { --ink: #1b1f24; --muted: #5b6470; --line: #d9dde3; --soft: #f5f6f8;
        --critical: #b00020; --warning: #9a5b00; --review: #5a4fcf; --ok: #1e7b4a; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1040px; padding: 28px 32px 48px; color: var(--ink); background: #fff;
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--ink);
     text-transform: uppercase; letter-spacing: .04em; }
h3 { font-size: 14px; margin: 14px 0 6px; }
p { margin: 6px 0; }
.meta { color: var(--muted); margin: 0; }
.mono, code { font-family: MONO; font-size: 12px; }
.hash { word-break: break-all; }
.txid { font-family: MONO; font-size: 12px; display: inline-block; max-width: 14ch; overflow: hidden;
        text-overflow: ellipsis; white-space: nowrap; vertical-align: bottom; cursor: text; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 10px; margin-top: 18px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; background: var(--soft); min-width: 0; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .figure { font: 600 18px/1.3 MONO; font-variant-numeric: tabular-nums; margin-top: 2px; overflow-wrap: anywhere; }
.card .sub { color: var(--muted); font-size: 12px; }
.card.bad { border-color: var(--critical); background: #fdf0f2; }
.card.good { border-color: var(--ok); background: #eef8f2; }
ul.findings { margin: 0; padding: 0; list-style: none; }
ul.findings li { margin: 6px 0; padding: 8px 12px; border-left: 4px solid var(--line); background: var(--soft); }
ul.findings li.critical { border-color: var(--critical); }
ul.findings li.warning { border-color: var(--warning); }
ul.findings li.review { border-color: var(--review); }
.ok { color: var(--ok); font-weight: 600; }
.badge { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 11px; font-weight: 600;
         color: #fff; text-transform: uppercase; letter-spacing: .03em; }
.badge.critical { background: var(--critical); } .badge.warning { background: var(--warning); }
.badge.review { background: var(--review); }
table { width: 100%; border-collapse: collapse; margin: 6px 0; font-size: 12.5px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
td.nowrap { white-space: nowrap; }
th { font-size: 11px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; font-family: MONO; }
tr.total td { font-weight: 600; border-top: 2px solid var(--ink); }
tr.flagged td { background: #fdf0f2; }
table.rollforward { max-width: 560px; }
table.discrepancies tr:first-child td { border-bottom: 0; padding-bottom: 0; }
table.discrepancies tr.detail td { color: var(--muted); padding-top: 2px; }
.figure-box { margin: 8px 0 4px; }
svg.chart { display: block; width: 100%; max-width: 720px; height: auto; }
ul.legend { list-style: none; padding: 0; margin: 6px 0 0; display: flex; flex-wrap: wrap; gap: 4px 16px;
            font-size: 12px; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 5px;
          vertical-align: -1px; }
.note { color: var(--muted); font-size: 12px; }
footer { margin-top: 32px; padding-top: 8px; border-top: 1px solid var(--line); color: var(--muted); font-size: 12px; }
@page { size: A4; margin: 14mm 12mm 16mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 9.5pt; }
  h2 { break-after: avoid; margin-top: 16px; }
  h3 { break-after: avoid; }
  .figure-box, .cards, .card, ul.findings li, tr, tbody.finding, .keep { break-inside: avoid; }
  thead { display: table-header-group; }
  table { font-size: 8pt; }
  th, td { padding: 3px 4px; }
  /* 22 and 32 characters a line at DejaVu Sans Mono's advance (0.602 em): 3 and 2 lines a txid */
  .txid { max-width: none; width: 31mm; white-space: normal; word-break: break-all; font-size: 6.5pt; }
  table.discrepancies .txid { width: 45mm; }
  td.num + td { padding-left: 8px; }
  .card .figure { font-size: 12pt; }
  svg.chart { max-width: 100%; }
}
""".replace("MONO", MONO)
# For browsers only (the PDF engine knows none of it): colours kept in print, a txid selected whole by one
# click (to copy), two cards a row on a narrow screen.
BROWSER_CSS = """
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.txid { user-select: all; }
@media screen and (max-width: 720px) { .cards { grid-template-columns: repeat(2, 1fr); } body { padding: 16px; } }
"""
