"""/api/v1/docs: the API reference from vendored Swagger UI, under the site's CSP."""

from __future__ import annotations

import re


def test_the_reference_page_uses_only_vendored_assets(client):
    response = client.get("/api/v1/docs", headers={"Accept-Language": "en"})

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-spec-url="/api/v1/openapi.json"' in html
    sources = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert sources == [
        "/static/vendor/swagger-ui/swagger-ui.css",
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/js/api-docs.js",
    ]
    for source in sources:
        served = client.get(source)
        assert served.status_code == 200
        served.close()
    # No inline script: the CSP without 'unsafe-inline' applies as everywhere.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


def test_the_vendored_swagger_ui_keeps_its_licence(client):
    served = client.get("/static/vendor/swagger-ui/LICENSE")
    assert served.status_code == 200
    served.close()
