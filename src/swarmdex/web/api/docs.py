"""The API's documentation page, /api/docs: Swagger UI served by the site itself.

FastAPI's own page loads Swagger UI from a CDN and starts it with an inline script: the
site's Content-Security-Policy blocks both (the page stayed blank), and a CDN would learn
who reads the docs. Here the Swagger UI files come from the `swagger-ui-bundle-v2` package
(Swagger UI's own release files, Apache-2.0) and the start-up script is a static file of
the site (`static/api-docs.js`), so the page works under the site's policy. It only adds
`connect-src 'self'`, for Swagger UI to fetch the OpenAPI document and "Try it out".
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path

from swarmdex.web.api import PREFIX

__all__ = ["ASSETS", "DOCS", "router"]

DOCS: Final = "/api/docs"
ASSETS: Final = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})
_FILES: Final = Path(str(swagger_ui_path))
_POLICY: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_PAGE: Final = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>API documentation</title>
<link rel="stylesheet" href="{DOCS}/swagger-ui.css">
<link rel="icon" type="image/png" href="{DOCS}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi="{PREFIX}/openapi.json"></div>
<script src="{DOCS}/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body>
</html>
"""

router = APIRouter(include_in_schema=False)


@router.get(DOCS)
async def docs() -> HTMLResponse:
    return HTMLResponse(_PAGE, headers={"Content-Security-Policy": _POLICY})


@router.get(DOCS + "/{name}")
async def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(404)
    return FileResponse(_FILES / name)
