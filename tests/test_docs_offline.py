"""`/docs` and `/redoc` render in a real headless Chromium that can reach nothing but the
API itself: every script and style comes from the package, none from a CDN.

Chromium is Debian's (`apt-get install chromium`, done by .ci/run); without it these tests
skip and say why.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest

from ovc_api.settings import Settings

from .test_client import LiveServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(settings) as live:
        yield live


def rendered_dom(url: str, tmp_path: object) -> str:
    """The page's DOM after its scripts ran, every host but 127.0.0.1 unresolvable."""
    assert CHROMIUM is not None
    result = subprocess.run(  # noqa: S603 - a fixed program and arguments
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={tmp_path}",
            # Offline: any other host (a CDN, Google's fonts) fails to resolve.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=15000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_swagger_ui_renders_the_operations_offline(server: LiveServer, tmp_path: object) -> None:
    dom = rendered_dom(f"{server.url}/docs", tmp_path)
    assert "cdn.jsdelivr.net" not in dom
    # Operations rendered by Swagger UI's script (absent from the served HTML itself).
    assert 'id="operations-children-create_child"' in dom
    assert 'id="operations-cases-list_cases"' in dom
    # "Authorize" for the OAuth2 password flow.
    assert "btn authorize" in dom


def test_redoc_renders_the_operations_offline(server: LiveServer, tmp_path: object) -> None:
    dom = rendered_dom(f"{server.url}/redoc", tmp_path)
    assert "Record a child (likely duplicates answer 409 unless confirmed)" in dom
    assert "fonts.googleapis.com" not in dom


def test_docs_assets_come_from_the_api(server: LiveServer) -> None:
    import httpx

    page = httpx.get(f"{server.url}/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in page
    assert "cdn" not in page
    script = httpx.get(f"{server.url}/docs-assets/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert len(script.content) > 100_000
