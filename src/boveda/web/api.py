"""The JSON API, `/api/v1/…`: each document is the one the CLI prints with `--json` for the same data
(`reconcile`, `statement --format json`/`csv`, `exposure`, `wallet show`, `lots`, `balances`, `audit head`,
`verify`, `alerts --all`), or a site view whose shape lives in the service layer beside it."""

from __future__ import annotations

import bisect

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from boveda.book.json_forms import audit_head_json, balance_json
from boveda.errors import BovedaError
from boveda.report.render_csv import render_csv
from boveda.service.history import period_summary
from boveda.service.published_proofs import latest_valid, of_reserve
from boveda.service.reserve import statement_of
from boveda.service.site import HoldingSnapshot, SiteSnapshot, tx_view
from boveda.service.wallets import wallet_view
from boveda.web.http import cached, current_snapshot, json_body, site_of, version_tag
from boveda.web.openapi import openapi_document
from boveda.web.params import (
    BadRequest,
    NotFound,
    check_names,
    encode_cursor,
    parse_at,
    parse_code,
    parse_cursor,
    parse_kind,
    parse_limit,
    parse_page,
    parse_period,
    parse_txid,
)
from boveda.web.state import LruCache, Site

_WALLET_NAME = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
_positions = LruCache(16)  # (version, height, code) -> the movements' (height, tx_index), for cursors


async def _snapshot(request: Request, allowed: set[str]) -> tuple[Site, SiteSnapshot, int | None]:
    check_names(request.query_params, allowed, strict=True)
    site = site_of(request)
    snapshot = await current_snapshot(site)
    return site, snapshot, parse_at(request.query_params.get("at"), snapshot)


def _holding(site: Site, height: int | None, code: str) -> tuple[SiteSnapshot, HoldingSnapshot]:
    snapshot = site.at(height)
    holding = snapshot.reserve(code)
    if holding is None:
        raise NotFound(f"no reserve {code!r} in this book: see /api/v1/reserves")
    return snapshot, holding


def _summary(site: Site, snapshot: SiteSnapshot, code: str) -> dict:
    reserve = next(r for r in snapshot.reserves if r.code == code)
    holding = snapshot.reserve(code)
    assert holding is not None
    return holding.summary_json(reserve, latest_valid(site.proofs, code, snapshot.height))


async def status(request: Request) -> Response:
    site, snapshot, _ = await _snapshot(request, set())
    document = {"version": version_tag(snapshot, site.proofs_signature), **snapshot.version.to_json(),
                "height": snapshot.height, "proofs": site.proofs_signature, "public": site.config.public}
    if not site.config.public:
        document["last_error"] = site.last_error
    return await cached(request, snapshot, ("status",), lambda: json_body(document), vary_language=False)


async def audit_head(request: Request) -> Response:
    _, snapshot, _ = await _snapshot(request, set())
    return await cached(request, snapshot, ("audit-head",),
                        lambda: json_body(audit_head_json(snapshot.version.audit_head)), vary_language=False)


async def balances(request: Request) -> Response:
    _, snapshot, _ = await _snapshot(request, set())
    document = {"balances": [balance_json(b) for b in snapshot.balances],
                "audit_head": audit_head_json(snapshot.version.audit_head)}
    return await cached(request, snapshot, ("balances",), lambda: json_body(document), vary_language=False)


async def reserves(request: Request) -> Response:
    site, snapshot, height = await _snapshot(request, {"at"})

    def render():
        at = site.at(height)
        return json_body({"height": at.height, "block_hash": at.block_hash_hex,
                          "reserves": [_summary(site, at, r.code) for r in at.reserves]})
    return await cached(request, snapshot, ("reserves", height), render, vary_language=False)


async def reserve(request: Request) -> Response:
    code = parse_code(request.path_params["code"])
    site, snapshot, height = await _snapshot(request, {"at"})
    return await cached(request, snapshot, ("reserve", code, height),
                        lambda: json_body(_summary(site, _holding(site, height, code)[0], code)), vary_language=False)


async def reconciliation(request: Request) -> Response:
    code = parse_code(request.path_params["code"])
    site, snapshot, height = await _snapshot(request, {"at"})
    return await cached(request, snapshot, ("reconciliation", code, height),
                        lambda: json_body(_holding(site, height, code)[1].reconciliation.to_json()),
                        vary_language=False)


def _statement(site: Site, height: int | None, code: str, request: Request):
    period = parse_period(request.query_params)
    return statement_of(site.book, _holding(site, height, code)[1].view, period.period_from, period.period_to)


async def statement(request: Request) -> Response:
    code = parse_code(request.path_params["code"])
    site, snapshot, height = await _snapshot(request, {"at", "from", "to"})
    period = parse_period(request.query_params)
    return await cached(request, snapshot, ("statement", code, height, period),
                        lambda: json_body(_statement(site, height, code, request).to_json()), vary_language=False)


async def movements_csv(request: Request) -> Response:
    code = parse_code(request.path_params["code"])
    site, snapshot, height = await _snapshot(request, {"at", "from", "to"})
    period = parse_period(request.query_params)
    name = f"movements-{code}-{height if height is not None else snapshot.height}.csv"
    return await cached(request, snapshot, ("csv", code, height, period), lambda: (
        render_csv(_statement(site, height, code, request)).encode(), "text/csv; charset=utf-8",
        (("Content-Disposition", f'attachment; filename="{name}"'),)), vary_language=False)


async def movements(request: Request) -> Response:
    code = parse_code(request.path_params["code"])
    site, snapshot, height = await _snapshot(request, {"at", "from", "to", "kind", "cursor", "limit"})
    q = request.query_params
    period, kind = parse_period(q), parse_kind(q.get("kind"))
    after, limit = parse_cursor(q.get("cursor")), parse_limit(q.get("limit"))

    def render():
        at, holding = _holding(site, height, code)
        r = holding.reconciliation
        low, high = period.period_from, period.period_to
        chosen = r.movements
        if low or high or kind:
            chosen = tuple(m for m in chosen if (kind is None or m.kind is kind) and (low is None or m.block_date >= low)
                           and (high is None or m.block_date <= high))
            positions = [(m.height, m.tx_index) for m in chosen]
        else:
            key = (at.version, at.height, code)
            positions = _positions.get(key)
            if positions is None:
                positions = [(m.height, m.tx_index) for m in chosen]
                _positions.put(key, positions)
        start = 0 if after is None else bisect.bisect_right(positions, after)
        page = chosen[start:start + limit]
        more = start + limit < len(chosen)
        return json_body({"reserve": r.reserve, "account": str(r.account), "height": r.height,
                          "block_hash": r.block_hash_hex, "period": {"from": _iso(low), "to": _iso(high)},
                          "kind": None if kind is None else kind.value, "total": len(chosen),
                          "movements": [m.to_json() for m in page],
                          "next_cursor": encode_cursor(page[-1].height, page[-1].tx_index) if more and page else None})
    return await cached(request, snapshot, ("movements", code, height, period, kind, after, limit), render,
                        vary_language=False)


async def period(request: Request) -> Response:
    code = parse_code(request.path_params["code"])
    site, snapshot, height = await _snapshot(request, {"at", "from", "to"})
    chosen = parse_period(request.query_params)
    return await cached(request, snapshot, ("period", code, height, chosen), lambda: json_body({
        "reserve": code, "height": _holding(site, height, code)[1].reconciliation.height,
        **period_summary(_holding(site, height, code)[1].reconciliation, chosen.period_from, chosen.period_to)
        .to_json()}), vary_language=False)


async def history(request: Request) -> Response:
    code = parse_code(request.path_params["code"])
    site, snapshot, height = await _snapshot(request, {"at"})

    def render():
        holding = _holding(site, height, code)[1]
        return json_body({"reserve": code, "height": holding.reconciliation.height,
                          "days": [p.to_json() for p in holding.days], "flows": [f.to_json() for f in holding.flows]})
    return await cached(request, snapshot, ("history", code, height), render, vary_language=False)


async def addresses(request: Request) -> Response:
    code = parse_code(request.path_params["code"])
    site, snapshot, height = await _snapshot(request, {"at", "page", "limit"})
    page, limit = parse_page(request.query_params.get("page")), parse_limit(request.query_params.get("limit"))

    def render():
        holding = _holding(site, height, code)[1]
        rows = holding.addresses[(page - 1) * limit: page * limit]
        return json_body({"reserve": code, "height": holding.reconciliation.height, "page": page, "limit": limit,
                          "total": len(holding.addresses), "addresses": [a.to_json() for a in rows]})
    return await cached(request, snapshot, ("addresses", code, height, page, limit), render, vary_language=False)


async def exposure(request: Request) -> Response:
    code = parse_code(request.path_params["code"])
    site, snapshot, _ = await _snapshot(request, set())

    def render():
        holding = _holding(site, None, code)[1]
        if holding.exposure is None:
            raise NotFound(f"reserve {code!r} has no wallets synced yet")
        return json_body(holding.exposure.to_json())
    return await cached(request, snapshot, ("exposure", code), render, vary_language=False)


async def wallet(request: Request) -> Response:
    name = request.path_params["name"]
    if not name or len(name) > 100 or not set(name) <= _WALLET_NAME:
        raise NotFound(f"no wallet {name[:40]!r}")
    site, snapshot, height = await _snapshot(request, {"at"})

    def render():
        if name not in {w.name for w in site.book.wallets()}:
            raise NotFound(f"no wallet {name!r} in this book")
        try:
            return json_body(wallet_view(site.book, name, height).to_json())
        except BovedaError as exc:
            raise BadRequest(str(exc)) from None
    return await cached(request, snapshot, ("wallet", name, height), render, vary_language=False)


async def custody(request: Request) -> Response:
    _, snapshot, _ = await _snapshot(request, set())
    return await cached(request, snapshot, ("custody",), lambda: json_body(snapshot.custody.to_json()),
                        vary_language=False)


async def transaction(request: Request) -> Response:
    txid = parse_txid(request.path_params["txid"])
    site, snapshot, height = await _snapshot(request, {"at"})

    def render():
        view = tx_view(site.book, site.at(height), txid, public=site.config.public)
        if view is None:
            raise NotFound(f"transaction {txid} touches no tracked holding and no entry cites it")
        return json_body(view.to_json())
    return await cached(request, snapshot, ("tx", txid, height), render, vary_language=False)


async def proofs(request: Request) -> Response:
    site, snapshot, _ = await _snapshot(request, set())
    return await cached(request, snapshot, ("proofs",), lambda: json_body(
        {"proofs": [p.to_json() for p in site.proofs if p.bundle is not None or not site.config.public]}),
        vary_language=False)


async def proofs_latest(request: Request) -> Response:
    site, snapshot, _ = await _snapshot(request, set())

    def render():
        latest = []
        for r in snapshot.reserves:
            chosen = latest_valid(site.proofs, r.code) or next(iter(of_reserve(site.proofs, r.code)), None)
            latest.append({"reserve": r.code, "proof": None if chosen is None else chosen.to_json()})
        return json_body({"note": "a valid proof shows control of at least the coins it lists, at its block",
                          "proofs": latest})
    return await cached(request, snapshot, ("proofs-latest",), render, vary_language=False)


async def alerts(request: Request) -> Response:
    """Read at every request: alerts change without a block or a book event (the mempool watch)."""
    site, _, _ = await _snapshot(request, set())
    if site.config.public or site.config.alerts is None:
        raise NotFound("alerts are not published by this site")

    def read() -> list[dict]:
        try:
            return site.config.alerts(site.book)
        except BovedaError as exc:
            raise NotFound(f"no alerts here: {exc}") from None
    return JSONResponse({"alerts": await run_in_threadpool(read)}, headers={"Cache-Control": "no-store"})


async def openapi(request: Request) -> Response:
    check_names(request.query_params, set(), strict=True)
    site = site_of(request)
    document = openapi_document(alerts=not site.config.public and site.config.alerts is not None)
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})


def _iso(day) -> str | None:
    return None if day is None else day.isoformat()


ROUTES = [
    Route("/api/v1/openapi.json", openapi),
    Route("/api/v1/status", status),
    Route("/api/v1/audit/head", audit_head),
    Route("/api/v1/balances", balances),
    Route("/api/v1/reserves", reserves),
    Route("/api/v1/reserves/{code}", reserve),
    Route("/api/v1/reserves/{code}/reconciliation", reconciliation),
    Route("/api/v1/reserves/{code}/statement", statement),
    Route("/api/v1/reserves/{code}/movements", movements),
    Route("/api/v1/reserves/{code}/movements.csv", movements_csv),
    Route("/api/v1/reserves/{code}/period", period),
    Route("/api/v1/reserves/{code}/history", history),
    Route("/api/v1/reserves/{code}/addresses", addresses),
    Route("/api/v1/reserves/{code}/exposure", exposure),
    Route("/api/v1/wallets/{name}", wallet),
    Route("/api/v1/custody", custody),
    Route("/api/v1/tx/{txid}", transaction),
    Route("/api/v1/proofs", proofs),
    Route("/api/v1/proofs/latest", proofs_latest),
    Route("/api/v1/alerts", alerts),
]
