"""`make run`: silent recipe (the demo logins are printed once, by `seed demo`), and the app's
URLs follow PORT and STRIPE_PORT."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_recipe() -> list[str]:
    text = (ROOT / "Makefile").read_text()
    match = re.search(r"^run:.*\n((?:\t.*\n|\n)+)", text, re.MULTILINE)
    assert match, "no run target"
    return [line[1:] for line in match.group(1).splitlines() if line.startswith("\t")]


def test_the_run_recipe_is_silent_and_prints_no_login_of_its_own():
    recipe = run_recipe()
    # With .ONESHELL, "@" on the first line keeps make from echoing the whole recipe.
    assert recipe[0].startswith("@")
    assert not [line for line in recipe if "@example.org" in line and "otp" not in line]


def test_port_and_stripe_port_reach_the_apps_addresses():
    dry_run = subprocess.run(
        ["make", "-n", "run", "PORT=5123", "STRIPE_PORT=8555"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    serve = next(line for line in dry_run.splitlines() if " run --host " in line)
    assert "SITE_URL=http://127.0.0.1:5123" in serve
    assert "STRIPE_API_BASE=http://127.0.0.1:8555" in serve
    assert "STRIPE_JS_URL=http://127.0.0.1:8555/js.stripe.com/v3/" in serve
    assert serve.endswith("--port 5123")
    seed = next(line for line in dry_run.splitlines() if " seed demo" in line)
    assert "STRIPE_API_BASE=http://127.0.0.1:8555" in seed
    assert "localstripe --port 8555" in dry_run
