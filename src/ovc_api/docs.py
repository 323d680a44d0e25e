"""`/docs` (Swagger UI) and `/redoc` served with their scripts and styles from this package
(the `fastapi-offline` distribution ships the files; MIT/Apache licences travel with it),
never from a CDN: many offices have poor connectivity, and integrators read the docs first.

"Authorize" keeps working with the OAuth2 password flow (the token URL is in the schema);
ReDoc is told not to fetch Google's fonts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
SWAGGER_PARAMETERS = {"persistAuthorization": True}


def install_docs(app: FastAPI, *, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Mount the assets and the two pages (the app is created with docs_url=None)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    redirect_url = f"{docs_url}/oauth2-redirect"

    def page(
        render: Callable[..., HTMLResponse], title: str, urls: dict[str, str], **options: Any
    ) -> Callable[[Request], Awaitable[HTMLResponse]]:
        """A docs page whose URLs (the schema's, the assets') are under the app's root path."""

        async def show(request: Request) -> HTMLResponse:
            root = request.scope.get("root_path", "")
            located = {name: f"{root}{url}" for name, url in urls.items()}
            return render(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{app.title} - {title}",
                **located,
                **options,
            )

        return show

    swagger_ui = page(
        get_swagger_ui_html,
        "Swagger UI",
        {
            "oauth2_redirect_url": redirect_url,
            "swagger_js_url": f"{ASSETS_URL}/swagger-ui-bundle.js",
            "swagger_css_url": f"{ASSETS_URL}/swagger-ui.css",
            "swagger_favicon_url": f"{ASSETS_URL}/favicon.png",
        },
        swagger_ui_parameters=SWAGGER_PARAMETERS,
    )
    redoc = page(
        get_redoc_html,
        "ReDoc",
        {
            "redoc_js_url": f"{ASSETS_URL}/redoc.standalone.js",
            "redoc_favicon_url": f"{ASSETS_URL}/favicon.png",
        },
        with_google_fonts=False,
    )

    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_api_route(docs_url, swagger_ui, include_in_schema=False)
    app.add_api_route(redirect_url, oauth2_redirect, include_in_schema=False)
    app.add_api_route(redoc_url, redoc, include_in_schema=False)
