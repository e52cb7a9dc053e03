"""`boveda serve`: the public transparency site and its JSON API, over the book opened read-only.

`create_app(SiteConfig(book=...))` builds the ASGI application; `boveda.cli.web_commands` runs it
under uvicorn.
"""

from boveda.web.app import create_app
from boveda.web.state import SiteConfig

__all__ = ["SiteConfig", "create_app"]
