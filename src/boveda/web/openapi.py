"""The OpenAPI 3.1 document of `/api/v1/…`, served at `/api/v1/openapi.json` (and checked by the tests
with openapi-spec-validator). Amounts are satoshis (integers); txids are 64 hex digits in display order."""

from __future__ import annotations

from typing import Any

from boveda import __version__

_INT = {"type": "integer"}
_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_NINT = {"type": ["integer", "null"]}
_BOOL = {"type": "boolean"}
_DAY = {"type": "string", "format": "date"}
_TXID = {"type": "string", "pattern": "^[0-9a-f]{64}$"}


def _obj(required: dict[str, Any] | None = None, **optional: Any) -> dict[str, Any]:
    properties = {**(required or {}), **optional}
    return {"type": "object", "properties": properties, "required": sorted(required or {}),
            "additionalProperties": True}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": schema}


SCHEMAS: dict[str, Any] = {
    "Error": _obj({"error": _STR, "status": _INT}),
    "AuditHead": _obj({"seq": _INT, "hash": _STR}),
    "Status": _obj({"version": _STR, "tip": {"type": ["object", "null"]}, "audit_head": _ref("AuditHead"),
                    "height": _INT, "proofs": _STR, "public": _BOOL}),
    "Movement": _obj({"txid": _TXID, "height": _INT, "tx_index": _INT, "date": _DAY,
                      "kind": {"enum": ["inflow", "outflow", "internal", "mixed"]}, "amount_sat": _INT,
                      "fee_sat": _NINT, "in_sat": _INT, "out_sat": _INT, "counterparty": _STR, "transfer": _BOOL,
                      "entry_id": _NINT, "entry_ids": _list(_INT)}),
    "Discrepancy": _obj({"kind": _STR, "severity": {"enum": ["critical", "warning", "review"]},
                         "txid": _NSTR, "amount_sat": _INT, "detail": _STR}),
    "Reconciliation": _obj({"reserve": _STR, "account": _STR, "height": _INT, "block_hash": _STR,
                            "chain_balance_sat": _INT, "book_balance_sat": _INT, "has_critical": _BOOL,
                            "movements": _list(_ref("Movement")), "discrepancies": _list(_ref("Discrepancy")),
                            "totals": {"type": "object"}}),
    "ReserveSummary": _obj({"code": _STR, "name": _STR, "height": _INT, "chain_balance_sat": _INT,
                            "book_balance_sat": _INT, "change_7d_sat": _INT, "change_30d_sat": _INT,
                            "verified": {"type": ["object", "null"]}}),
    "Entry": _obj({"entry_id": _INT, "kind": _STR, "date": _DAY, "amount_sat": _INT, "postings": _list(_obj()),
                   "txids": _list(_TXID)}),
    "Lot": _obj({"lot_id": _INT, "case": _STR, "amount_sat": _INT, "state": _STR, "transitions": _list(_obj())}),
    "Proof": _obj({"file": _STR, "valid": _BOOL, "verified_sat": _INT, "report": {"type": ["object", "null"]}}),
}


def _param(name: str, where: str, description: str, schema: dict[str, Any] | None = None,
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path", "description": description,
            "schema": schema or _STR}


AT = _param("at", "query", "A synced block height, or a date YYYY-MM-DD (its last synced block); default: the tip.")
FROM = _param("from", "query", "First day of the period (YYYY-MM-DD, inclusive).", _DAY)
TO = _param("to", "query", "Last day of the period (YYYY-MM-DD, inclusive).", _DAY)
CODE = _param("code", "path", "The reserve's code, e.g. SV.")
LIMIT = _param("limit", "query", "Page size, 1–500 (default 100).", {"type": "integer", "minimum": 1, "maximum": 500})
PAGE = _param("page", "query", "Page number from 1.", {"type": "integer", "minimum": 1})


def _get(summary: str, schema: dict[str, Any], parameters: list[dict[str, Any]] = (), *,
         media: str = "application/json") -> dict[str, Any]:
    errors = {status: {"description": text, "content": {"application/json": {"schema": _ref("Error")}}}
              for status, text in (("400", "A bad parameter: the reason in one line."),
                                   ("404", "No such reserve, wallet or transaction."),
                                   ("503", "The book has nothing synced yet, or cannot be read now."))}
    return {"get": {"summary": summary, "parameters": list(parameters), "responses": {
        "200": {"description": "OK. ETag and Cache-Control let a proxy keep it until the next block.",
                "content": {media: {"schema": schema}}},
        "304": {"description": "Not modified since the ETag given in If-None-Match."}, **errors}}}


def openapi_document(*, alerts: bool) -> dict[str, Any]:
    paths = {
        "/api/v1/status": _get("The synced tip and audit head the site shows (poll it for new blocks).",
                               _ref("Status")),
        "/api/v1/audit/head": _get("The audit log's head, as `boveda audit head --json`.", _ref("AuditHead")),
        "/api/v1/balances": _get("Every account's book balance, as `boveda balances --json`.", _obj()),
        "/api/v1/reserves": _get("Every reserve: on chain, claimed by the book, verified by a proof.",
                                 _obj({"height": _INT, "reserves": _list(_ref("ReserveSummary"))}), [AT]),
        "/api/v1/reserves/{code}": _get("One reserve in a few figures.", _ref("ReserveSummary"), [CODE, AT]),
        "/api/v1/reserves/{code}/reconciliation": _get(
            "Movements, discrepancies and totals, as `boveda reconcile --json`.", _ref("Reconciliation"), [CODE, AT]),
        "/api/v1/reserves/{code}/statement": _get(
            "The statement, as `boveda statement --format json`.", _obj({"format": _INT}), [CODE, AT, FROM, TO]),
        "/api/v1/reserves/{code}/movements": _get(
            "Movements in chain order, a page at a time: pass the previous page's next_cursor.",
            _obj({"height": _INT, "total": _INT, "movements": _list(_ref("Movement")), "next_cursor": _NSTR}),
            [CODE, AT, FROM, TO, _param("kind", "query", "inflow, outflow, internal or mixed."),
             _param("cursor", "query", "next_cursor of the previous page."), LIMIT]),
        "/api/v1/reserves/{code}/movements.csv": _get(
            "The period's movements as CSV, as `boveda statement --format csv`.", _STR, [CODE, AT, FROM, TO],
            media="text/csv"),
        "/api/v1/reserves/{code}/period": _get(
            "The period's roll-forward: opening, inflows, outflows, internal moves, fees, closing.", _obj(),
            [CODE, AT, FROM, TO]),
        "/api/v1/reserves/{code}/history": _get("Balances (on chain and book) and flows by day.", _obj(), [CODE, AT]),
        "/api/v1/reserves/{code}/addresses": _get(
            "Each address paid: balance, coins, received, first and last use, exposure.", _obj(),
            [CODE, AT, PAGE, LIMIT]),
        "/api/v1/reserves/{code}/exposure": _get("Exposure, as `boveda exposure --reserve CODE --json`.", _obj(),
                                                 [CODE]),
        "/api/v1/wallets/{name}": _get("A wallet at a height, as `boveda wallet show NAME --json`.", _obj(),
                                       [_param("name", "path", "The wallet's name."), AT]),
        "/api/v1/custody": _get("Cases and lots by legal state; `lots` as `boveda lots --json`.",
                                _obj({"cases": _list(_obj()), "lots": _list(_ref("Lot")), "totals": _list(_obj())})),
        "/api/v1/tx/{txid}": _get("One transaction: its block, what it did to each tracked holding, the entries "
                                  "citing it.", _obj({"txid": _TXID, "holdings": _list(_obj()),
                                                      "entries": _list(_ref("Entry"))}),
                                  [_param("txid", "path", "64 hex digits.", _TXID), AT]),
        "/api/v1/proofs": _get("Every published proof bundle with its verification (`boveda verify --json`).",
                               _obj({"proofs": _list(_ref("Proof"))})),
        "/api/v1/proofs/latest": _get("Each reserve's latest valid proof bundle (else its latest).", _obj()),
    }
    if alerts:
        paths["/api/v1/alerts"] = _get("The follower's alerts, as `boveda alerts --all --json` (operator only).",
                                       _obj({"alerts": _list(_obj())}))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Bóveda transparency API", "version": __version__,
                 "description": "A sovereign bitcoin reserve's book of record, proved against the blockchain. "
                                "Read-only. Amounts in satoshis; every figure names its block."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }
