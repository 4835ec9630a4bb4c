"""Swagger UI at ``/docs`` served from this host: an offline NOC sees the page too.

FastAPI's default page loads its script and stylesheet from a CDN. Here the assets come from
the ``swagger-ui-bundle-v2`` package (Swagger UI 5's release files: version 4 cannot render the
OpenAPI 3.1 that FastAPI writes) under ``/docs/static``, and the page references nothing but
this server. ReDoc (another CDN script) is not offered.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
STATIC_URL = "/docs/static"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


def assets_dir() -> str:
    """The folder of Swagger UI's release files, as shipped by ``swagger-ui-bundle-v2``."""
    from swagger_ui_bundle import swagger_ui_path

    return str(swagger_ui_path)


def install(app: FastAPI) -> None:
    """Add ``/docs`` (with its assets) to ``app``, created with ``docs_url=None, redoc_url=None``."""
    app.mount(STATIC_URL, StaticFiles(directory=assets_dir()), name="swagger-ui")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_URL}/favicon-32x32.png",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
