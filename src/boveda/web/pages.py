"""The site's pages, rendered on the server from one snapshot (fast without JavaScript; `live.js` only
swaps in the page again when a new block is synced). Jinja2 escapes every value it prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from boveda.book.domain import Account, AccountKind, LotState
from boveda.errors import BovedaError
from boveda.reconcile.model import EXTERNAL, Movement, MovementKind, Severity
from boveda.service.history import period_summary
from boveda.service.published_proofs import latest_valid, of_reserve
from boveda.service.site import HoldingSnapshot, SiteSnapshot, tx_view
from boveda.web import words
from boveda.web.charts import flows_chart, holdings_chart
from boveda.web.http import (
    HTML_TYPE,
    cached,
    code_digest,
    current_snapshot,
    link,
    reader_language,
    site_of,
    version_tag,
)
from boveda.web.i18n import LANGUAGES, Lang, language
from boveda.web.params import NotFound, Period, check_names, parse_at, parse_code, parse_page, parse_period, parse_txid
from boveda.web.state import Site

TEMPLATES = Path(__file__).with_name("templates")
MOVEMENTS_PER_PAGE = 50
ADDRESSES_SHOWN = 100
DISCREPANCIES_SHOWN = 200
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                   trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class Page:
    """What every template is given: the reader's language, links that keep it, and the snapshot shown."""

    lang: Lang
    explicit: bool
    site: Site
    snapshot: SiteSnapshot  # the tip's (the header's "synced to block")
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    pinned: bool = False  # a page ?at= a past block: new blocks do not change it

    def _(self, text: str) -> str:
        return self.lang._(text)

    def url(self, path: str, **params: Any) -> str:
        return link(path, self.lang if self.explicit else None, **params)

    def here(self, **changes: Any) -> str:
        return link(self.path, self.lang if self.explicit else None, **{**self.params, **changes})

    def language_links(self) -> list[tuple[str, str, bool]]:
        """English and Spanish; Spanish keeps the reader's region, else Latin America's number format
        (El Salvador writes 6,126.49985990, as CLDR's es-419 does; bare `es` is Spain's 6.126,49985990)."""
        names, fallback = {"en": "English", "es": "Español"}, {"en": "en", "es": "es-419"}
        return [(names[code], link(self.path, self.lang if code == self.lang.code else language(fallback[code]),
                                   **self.params), code == self.lang.code) for code in LANGUAGES]

    def asset(self, name: str) -> str:
        """A static file's URL, new with every release of the site (so browsers may keep it an hour)."""
        return f"/static/{name}?v={code_digest()}"

    @property
    def version(self) -> str:
        return version_tag(self.snapshot, self.site.proofs_signature)

    @property
    def public(self) -> bool:
        return self.site.config.public

    def btc(self, amount_sat: int | None, signed: bool = False) -> str:
        return "" if amount_sat is None else self.lang.btc(amount_sat, signed=signed)

    def day(self, value: date | None) -> str:
        return self.lang.day(value)

    def words(self, name: str, *args: Any) -> str:
        return getattr(words, name)(self.lang, *args)


def render(name: str, page: Page, **context: Any) -> tuple[bytes, str]:
    return _env.get_template(name).render(page=page, _=page._, **context).encode(), HTML_TYPE


def render_error(lang: Lang, status: int, reason: str) -> str:
    """An error page that needs no snapshot (the book may be unreadable)."""
    return _env.get_template("error.html").render(lang=lang, _=lang._, status=status, reason=reason,
                                                  css=f"/static/site.css?v={code_digest()}")


async def _page(request: Request, allowed: set[str]) -> tuple[Site, SiteSnapshot, Lang, bool]:
    lang, explicit = reader_language(request)
    check_names(request.query_params, allowed | {"lang"}, strict=False)
    site = site_of(request)
    return site, await current_snapshot(site), lang, explicit


# -- home -------------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    site, snapshot, lang, explicit = await _page(request, set())
    page = Page(lang, explicit, site, snapshot, "/")
    # The operator's alerts change without a block or a book event (a spend seen in the mempool): they are
    # read at every request of the operator's view and are part of what the rendered page depends on.
    alerts = await run_in_threadpool(_operator_alerts, site)
    shown = None if alerts is None else tuple((a["id"], a["acknowledged_by"], a["resolution"]) for a in alerts)

    def draw() -> tuple[bytes, str]:
        cards = [_card(page, snapshot, r.code) for r in snapshot.reserves]
        custody = [(state, count, amount) for state, count, amount in snapshot.custody.totals() if count]
        return render("home.html", page, cards=cards, custody=custody, alerts=alerts)
    return await cached(request, snapshot, ("home", lang.tag, explicit, shown), draw)


def _operator_alerts(site: Site) -> list[dict] | None:
    if site.config.alerts is None or site.config.public:
        return None
    try:
        return site.config.alerts(site.book)
    except BovedaError:  # a book without the follower's tables: nothing to show
        return None


@dataclass(frozen=True)
class Card:
    code: str
    name: str
    holding: HoldingSnapshot
    verified: Any
    holdings_svg: str
    flows_svg: str


def _card(page: Page, snapshot: SiteSnapshot, code: str, css_suffix: str = "") -> Card:
    holding = snapshot.reserve(code)
    assert holding is not None
    suffix = css_suffix or f"-{code}"
    flagged = _critical_days(holding)
    return Card(code, holding.title, holding, latest_valid(page.site.proofs, code, snapshot.height),
                holdings_chart(holding.days, page.lang, until=holding.view.block_date, css_id=f"holdings{suffix}"),
                flows_chart(holding.flows, page.lang, until=holding.view.block_date, flagged=flagged,
                            css_id=f"flows{suffix}",
                            link=lambda day: page.url(f"/reserves/{code}", **{"from": day, "to": day}) + "#movements"))


def _critical_days(holding: HoldingSnapshot) -> list[date]:
    return sorted({d.on for d in holding.reconciliation.discrepancies if d.on and d.severity is Severity.CRITICAL})


# -- a reserve --------------------------------------------------------------------------------


async def reserve(request: Request) -> Response:
    code = parse_code(request.path_params["code"])
    site, snapshot, lang, explicit = await _page(request, {"at", "from", "to", "page"})
    q = request.query_params
    height, chosen, number = parse_at(q.get("at"), snapshot), parse_period(q), parse_page(q.get("page"))
    params = {"at": q.get("at") or None, "from": q.get("from") or None, "to": q.get("to") or None}
    page = Page(lang, explicit, site, snapshot, f"/reserves/{code}", params, pinned=height is not None)

    def draw() -> tuple[bytes, str]:
        at = site.at(height)
        if at.reserve(code) is None:
            raise NotFound(f"no reserve {code!r} in this book")
        card = _card(page, at, code, "")
        r = card.holding.reconciliation
        moves = [m for m in r.movements if _in(chosen, m.block_date)][::-1]
        pages = max(1, -(-len(moves) // MOVEMENTS_PER_PAGE))
        shown = moves[(number - 1) * MOVEMENTS_PER_PAGE: number * MOVEMENTS_PER_PAGE]
        flagged: dict[str, list[str]] = {}
        for d in r.discrepancies:
            if d.txid_hex:
                flagged.setdefault(d.txid_hex, []).append(d.kind.value)
        return render("reserve.html", page, card=card, at=at, r=r, period=chosen,
                      summary=period_summary(r, chosen.period_from, chosen.period_to), moves=shown,
                      move_count=len(moves), page_number=min(number, pages), pages=pages, flagged=flagged,
                      entries=at.entries, discrepancies=r.discrepancies[:DISCREPANCIES_SHOWN],
                      addresses=card.holding.addresses[:ADDRESSES_SHOWN], reserve=at.reserve(code),
                      policy=next(x for x in at.reserves if x.code == code),
                      proofs=of_reserve(site.proofs, code)[:5], explicit_at=q.get("at") or "")
    return await cached(request, snapshot, ("reserve", code, height, params["at"], chosen, number, lang.tag, explicit),
                        draw)


def _in(period: Period, day: date) -> bool:
    return (period.period_from is None or day >= period.period_from) and (period.period_to is None or
                                                                         day <= period.period_to)


# -- custody ----------------------------------------------------------------------------------


async def custody(request: Request) -> Response:
    site, snapshot, lang, explicit = await _page(request, set())
    page = Page(lang, explicit, site, snapshot, "/custody")

    def draw() -> tuple[bytes, str]:
        summary = snapshot.custody
        cases = {c.number: c for c in summary.cases}
        by_state = [(state, [lot for lot in summary.lots if lot.state is state]) for state in LotState]
        holdings = {c.number: snapshot.holdings.get(Account.custody(c.number)) for c in summary.cases}
        return render("custody.html", page, summary=summary, totals=summary.totals(), by_state=by_state,
                      cases=cases, holdings=holdings, codes={r.account: r.code for r in snapshot.reserves})
    return await cached(request, snapshot, ("custody", lang.tag, explicit), draw)


# -- a transaction ----------------------------------------------------------------------------


async def transaction(request: Request) -> Response:
    txid = parse_txid(request.path_params["txid"])
    site, snapshot, lang, explicit = await _page(request, set())
    page = Page(lang, explicit, site, snapshot, f"/tx/{txid}")

    def draw() -> tuple[bytes, str]:
        view = tx_view(site.book, snapshot, txid, public=site.config.public)
        if view is None:
            raise NotFound(f"transaction {txid} touches no tracked holding and no entry cites it")
        titles = {h.account: h.title for h in snapshot.holdings.values()}
        codes = {r.account: r.code for r in snapshot.reserves}
        return render("tx.html", page, view=view, titles=titles, codes=codes)
    return await cached(request, snapshot, ("tx", txid, lang.tag, explicit), draw)


# -- files ------------------------------------------------------------------------------------


async def proof_file(request: Request) -> Response:
    site = site_of(request)
    name = request.path_params["name"]
    path = site.shelf.path(name) if site.shelf is not None else None
    if path is None or not path.is_file():
        raise NotFound(f"no published proof bundle {name[:80]!r}")
    return FileResponse(path, media_type="application/json", filename=name,
                        headers={"Cache-Control": "public, no-cache"})


async def favicon(request: Request) -> Response:
    return FileResponse(Path(__file__).with_name("static") / "favicon.svg", media_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})


def holding_link(page: Page, account: Account, codes: dict[Account, str]) -> str | None:
    if account in codes:
        return page.url(f"/reserves/{codes[account]}")
    if account.kind is AccountKind.CUSTODY:
        return page.url("/custody") + f"#case-{account.name}"
    return None


_env.globals.update(holding_link=holding_link, EXTERNAL=EXTERNAL, MovementKind=MovementKind, Severity=Severity,
                    AccountKind=AccountKind)
_env.filters["short"] = lambda text, n=12: "" if not text else (text if len(text) <= 2 * n else
                                                               f"{text[:n]}…{text[-6:]}")
_env.tests["movement"] = lambda value: isinstance(value, Movement)

ROUTES: list[Route] = [
    Route("/", home),
    Route("/reserves/{code}", reserve),
    Route("/custody", custody),
    Route("/tx/{txid}", transaction),
    Route("/proofs/{name}", proof_file),
    Route("/favicon.ico", favicon),
]

