"""nginx in front of gunicorn for ``benchmarks/run --nginx``: README's lines, its cache file.

``docs/nginx-cache.conf`` is included as it is (only its cache folder is the run's own), and
the ``location /`` block repeats README's deploy section (``tests/test_benchmark_report.py``
checks both), so the benchmark measures what the README tells people to run.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NGINX_CACHE_CONF = ROOT / "docs" / "nginx-cache.conf"
# The one path of docs/nginx-cache.conf that is the deployment's: each run has its own cache.
NGINX_CACHE_PATH = "/var/cache/nginx/marketplace"


def config(listen: int, upstream: str, cache_folder: Path, temp: Path) -> str:
    """An nginx.conf for the run: docs/nginx-cache.conf as is (its cache folder aside),
    in front of gunicorn with the proxy lines of README's deploy section."""
    cache_lines = NGINX_CACHE_CONF.read_text()
    if NGINX_CACHE_PATH not in cache_lines:
        raise SystemExit(f"{NGINX_CACHE_CONF} no longer names {NGINX_CACHE_PATH}: update the run")
    (temp / "cache.conf").write_text(cache_lines.replace(NGINX_CACHE_PATH, str(cache_folder)))
    return f"""
daemon off;
worker_processes auto;
pid {temp}/nginx.pid;
error_log {temp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {temp}/cache.conf;
    upstream marketplace {{
        server {upstream};
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{listen};
        location / {{
            proxy_pass http://marketplace;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""
