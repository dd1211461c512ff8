"""The French and English catalogues cover every string of the code and templates."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {
    "N_": None,
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "_l": None,
    "lazy_gettext": None,
}
METHOD_MAP = [
    ("marketplace/**.py", "python"),
    ("partners/**.py", "python"),
    ("offers/**.py", "python"),
    ("jobs/**.py", "python"),
    ("templates/**.html", "jinja2"),
    ("templates/**.txt", "jinja2"),
]


def _source_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), METHOD_MAP, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


@pytest.fixture(scope="module")
def source_messages() -> set[str]:
    return _source_messages()


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_catalogue_translates_every_string(source_messages, locale):
    path = ROOT / "marketplace" / "translations" / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    translated = {
        message.id if isinstance(message.id, str) else message.id[0]
        for message in catalogue
        if message.id
        and message.string
        and (all(message.string) if isinstance(message.string, tuple) else True)
        and not message.fuzzy
    }
    missing = sorted(source_messages - translated)
    assert missing == [], (
        f"{len(missing)} strings lack a {locale} translation: run make translations-update"
    )


def test_french_is_the_default_locale(client):
    response = client.get("/")
    assert b'<html lang="fr"' in response.data


def test_accept_language_english_is_honoured(client):
    response = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert b'<html lang="en"' in response.data


def test_language_switch_is_remembered_for_visitors(client):
    client.post("/language", data={"locale": "en", "next": "/"})
    assert b'<html lang="en"' in client.get("/", headers={"Accept-Language": "fr"}).data
