"""What every route shares: security headers on every response, the reader's language, and responses
rendered once per snapshot (with an ETag a proxy can revalidate between blocks)."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from boveda import __version__
from boveda.service.site import SiteSnapshot
from boveda.web.i18n import Lang, LanguageError, language, negotiate
from boveda.web.params import BadRequest
from boveda.web.state import Site

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
)
# Proxies and browsers may keep a copy but must ask again (a 304 costs nothing) before using it: a
# new block can change any figure. A proxy may serve its copy for one second under load.
REVALIDATE = "public, no-cache, s-maxage=1"
NO_STORE = "no-store"
JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"


class SecurityHeaders:
    """Pure ASGI middleware: the security headers on every HTTP response, errors and static files included."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in SECURITY_HEADERS if name not in present]
            await send(message)

        await self.app(scope, receive, with_headers)


def site_of(request: Request) -> Site:
    return request.app.state.site


def reader_language(request: Request) -> tuple[Lang, bool]:
    """The language of `?lang=` (explicit: links keep it) or else of Accept-Language."""
    tag = request.query_params.get("lang")
    if tag:
        try:
            return language(tag), True
        except LanguageError as exc:
            raise BadRequest(str(exc)) from None
    return negotiate(request.headers.get("accept-language")), False


async def current_snapshot(site: Site) -> SiteSnapshot:
    snapshot = site.fresh()
    return snapshot if snapshot is not None else await run_in_threadpool(site.snapshot)


def version_tag(snapshot: SiteSnapshot, proofs_signature: str) -> str:
    """One string naming what every figure of a response depends on (the live script compares it)."""
    v = snapshot.version
    return f"{v.tip_height}:{(v.tip_hash_hex or '')[:16]}:{v.audit_head.seq}:{v.audit_head.hash_hex[:16]}:" \
           f"{proofs_signature}"


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    media_type: str
    etag: str
    extra_headers: tuple[tuple[str, str], ...] = ()


@functools.cache
def code_digest() -> str:
    """The site's own code, templates and texts: a new release changes every ETag (same in every worker)."""
    digest = hashlib.sha256(__version__.encode())
    folder = Path(__file__).parent
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".html", ".toml", ".css", ".js", ".svg"):
            digest.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _etag(snapshot: SiteSnapshot, proofs_signature: str, key: Hashable) -> str:
    digest = hashlib.sha256(repr((code_digest(), version_tag(snapshot, proofs_signature), key)).encode()).hexdigest()
    return f'"{digest[:32]}"'


async def cached(request: Request, snapshot: SiteSnapshot, key: Hashable,
                 render: Callable[[], tuple[bytes, str] | tuple[bytes, str, tuple[tuple[str, str], ...]]],
                 *, vary_language: bool = True) -> Response:
    """The response of `render` for this snapshot and `key` (which names everything else it depends on),
    rendered once; 304 when the client already holds it."""
    site = site_of(request)
    etag = _etag(snapshot, site.proofs_signature, key)
    headers = {"ETag": etag, "Cache-Control": REVALIDATE}
    if vary_language:
        headers["Vary"] = "Accept-Language"
    wanted = request.headers.get("if-none-match")
    if wanted and etag in (tag.strip().removeprefix("W/") for tag in wanted.split(",")):
        return Response(status_code=304, headers=headers)
    hit: Rendered | None = site.renders.get(etag)
    if hit is None:
        result = await run_in_threadpool(render)
        hit = Rendered(result[0], result[1], etag, result[2] if len(result) > 2 else ())
        site.renders.put(etag, hit)
    headers.update(dict(hit.extra_headers))
    return Response(hit.body, media_type=hit.media_type, headers=headers)


def json_body(document: Any) -> tuple[bytes, str]:
    return json.dumps(document, indent=2, ensure_ascii=False).encode(), JSON_TYPE


def link(path: str, lang: Lang | None = None, **params: Any) -> str:
    """A site URL with its query; `lang` is kept only when the reader chose it with ?lang=."""
    query = {k: v for k, v in params.items() if v is not None and v != ""}
    if lang is not None:
        query["lang"] = lang.tag
    return path + ("?" + urlencode(query) if query else "")
