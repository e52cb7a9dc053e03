"""The ASGI application of `boveda serve`: routes, the security headers, and one handler that turns every
refusal into a one-line reason — JSON under /api/, a page elsewhere — and never shows a traceback."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from boveda.web import api, pages
from boveda.web.http import NO_STORE, SecurityHeaders
from boveda.web.i18n import language, negotiate
from boveda.web.params import SiteError
from boveda.web.state import Site, SiteConfig

log = logging.getLogger("boveda.web")
STATIC = Path(__file__).with_name("static")
CONFIG_ENV = "BOVEDA_SERVE_CONFIG"  # how `boveda serve --workers N` hands its options to each worker


class _Static(StaticFiles):
    async def get_response(self, path: str, scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.setdefault("Cache-Control", "public, max-age=3600")
        return response


def create_app(config: SiteConfig) -> Starlette:
    site = Site(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        site.start()
        try:
            yield
        finally:
            site.stop()

    app = Starlette(
        routes=[*api.ROUTES, *pages.ROUTES, Mount("/static", app=_Static(directory=STATIC), name="static")],
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={SiteError: _refused, HTTPException: _http_error, Exception: _crashed},
        lifespan=lifespan,
    )
    app.state.site = site
    return app


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, reason: str) -> Response:
    headers = {"Cache-Control": NO_STORE}
    if _is_api(request):
        return JSONResponse({"error": reason, "status": status}, status_code=status, headers=headers)
    try:
        lang = language(request.query_params["lang"]) if request.query_params.get("lang") else \
            negotiate(request.headers.get("accept-language"))
    except (SiteError, ValueError):
        lang = language("en")
    body = pages.render_error(lang, status, reason)
    return HTMLResponse(body, status_code=status, headers=headers)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SiteError)
    return _error(request, exc.status, exc.reason)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    reason = {404: "no such page or API route: see /api/v1/openapi.json",
              405: "only GET and HEAD are served: the site is read-only"}.get(exc.status_code, str(exc.detail))
    return _error(request, exc.status_code, reason)


async def _crashed(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error serving %s", request.url.path)
    return _error(request, 500, "internal error: the operator's log has the details")


def config_to_environment(config: SiteConfig) -> str:
    """The options of `boveda serve` as JSON for its workers (the alert reader is passed again by the CLI)."""
    return json.dumps({"book": config.book, "public": config.public,
                       "proofs": None if config.proofs_dir is None else str(config.proofs_dir)})


def config_from_environment() -> SiteConfig:
    """The SiteConfig a `uvicorn --factory` worker rebuilds from BOVEDA_SERVE_CONFIG."""
    options = json.loads(os.environ[CONFIG_ENV])
    return SiteConfig(book=options["book"], public=bool(options.get("public")),
                      proofs_dir=Path(options["proofs"]) if options.get("proofs") else None)
