"""``/api/v1/docs``: the API reference, Swagger UI on ``/api/v1/openapi.json``.

Swagger UI is vendored (``static/vendor/swagger-ui``, npm ``swagger-ui-dist``): no CDN, and
it starts from a static script, so the page keeps the site's CSP (no inline script).
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")


@bp.get("/docs")
def index():
    """The interactive reference of every API operation."""
    return render_template(
        "api_docs/index.html",
        spec_url=f"{current_app.config['OPENAPI_URL_PREFIX']}/{current_app.config['OPENAPI_JSON_PATH']}",
    )
