"""Every template and e-mail shows dates, times and countries through marketplace/i18n.py.

The walk reads each ``{{ … }}`` of ``templates/`` and fails when what people read (text, not
a machine attribute such as ``datetime=`` or ``data-*=``) is a raw ``isoformat()`` /
``strftime()`` or a country code that no ``country`` helper turned into a name.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "templates"
OUTPUT = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
# Attributes whose value is for machines (or a form's own value), never read as text.
MACHINE_ATTRIBUTES = re.compile(
    r"(?:datetime|data-[\w-]+|id|value|href|name|for|class|action|src|srcset|list|min|max)"
    r"\s*=\s*\"[^\"]*$"
)
RAW_DATE = re.compile(r"\b(?:isoformat|strftime)\s*\(")
COUNTRY = re.compile(r"(?:\.country\b|\bcountries\b|\bcountry\b)")
COUNTRY_HELPER = re.compile(
    r"(?:country_name\(|country_names\(|\|\s*countr(?:y|ies)\b|term_value\(\"countries\")"
)
# A form field of its own (a select of names); one limited to two characters is a code input.
FORM_FIELD = re.compile(r"\b(?:form|filters)\.countr(?:y|ies)\b")


def shown_outputs(source: str) -> list[tuple[int, str]]:
    """``(line, expression)`` of each output printed where people read it."""
    found = []
    for match in OUTPUT.finditer(source):
        before = source[: match.start()]
        inside_tag = before.rfind("<") > before.rfind(">")
        if inside_tag and MACHINE_ATTRIBUTES.search(before[before.rfind("<") :]):
            continue
        found.append((before.count("\n") + 1, match.group(1)))
    return found


STRING = re.compile(r"\"[^\"]*\"|'[^']*'")


def problems(path: Path) -> list[str]:
    found = []
    name = path.relative_to(TEMPLATES) if path.is_relative_to(TEMPLATES) else path.name
    for line, shown in shown_outputs(path.read_text(encoding="utf-8")):
        # Words inside quotes are text to translate ("All countries"), not data.
        expression = STRING.sub('""', shown)
        where = f"{name}:{line}: {{{{{shown.strip()}}}}}"
        if RAW_DATE.search(expression):
            found.append(f"{where} shows a raw date (use |date, |datetime or |time)")
        if FORM_FIELD.search(expression):
            if "maxlength=2" in expression.replace(" ", ""):
                found.append(f"{where} asks for a country code (use the country picker)")
            continue
        if COUNTRY.search(expression) and not COUNTRY_HELPER.search(shown):
            found.append(f"{where} shows a country code (use |country or |countries)")
    return found


def test_the_walk_catches_what_it_looks_for(tmp_path):
    sample = tmp_path / "sample.html"
    sample.write_text(
        '<time datetime="{{ at.isoformat() }}">{{ at|datetime }}</time>\n'
        "<p>{{ at.strftime('%Y-%m-%d') }} · {{ profile.country }}</p>\n"
        '<option value="{{ code }}">{{ offer.countries | join(", ") }}</option>\n'
        "<p>{{ profile.country|country }} {{ offer.countries|countries }}</p>\n",
        encoding="utf-8",
    )
    sample_problems = problems(sample)
    assert len(sample_problems) == 3, sample_problems
    assert "raw date" in sample_problems[0]
    assert all("country code" in problem for problem in sample_problems[1:])


def test_no_template_shows_a_raw_date_or_a_country_code():
    paths = sorted(TEMPLATES.rglob("*.html")) + sorted(TEMPLATES.rglob("*.txt"))
    assert len(paths) > 100
    found = [problem for path in paths for problem in problems(path)]
    assert found == []
