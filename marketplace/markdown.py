"""Partner-written descriptions (offers, jobs): Markdown rendered to HTML, then sanitised.

markdown-it-py renders CommonMark (raw HTML passes through it); nh3 (the Rust ``ammonia``
sanitiser) then removes scripts with their content, keeps only basic tags, drops every
attribute but a link's ``href`` and ``title``, and sets ``rel="nofollow noopener"`` on
links — so a partner's text can never carry a script or an event handler onto a member's page.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "ul",
    "ol",
    "li",
    "a",
    "blockquote",
    "code",
    "pre",
    "h2",
    "h3",
    "h4",
    "hr",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto"}

# Raw HTML is left to nh3, which removes what is not allowed instead of showing it escaped.
_renderer = MarkdownIt("commonmark")


def render_markdown(text: str | None) -> Markup:
    """Safe HTML for ``text`` (Markdown); empty markup for nothing.

    Rendered once per text and process: the same description read again (every view of an
    offer or a job page) is a dictionary lookup on the text, and an edited text is a new key.
    """
    if not text:
        return Markup("")
    return Markup(_rendered(text))  # noqa: S704 - sanitised in _rendered


# Descriptions are a few kilobytes at most: a few thousand of them is a few megabytes.
@lru_cache(maxsize=4096)
def _rendered(text: str) -> str:
    return sanitise_html(_renderer.render(text))


def sanitise_html(html: str) -> str:
    """``html`` with only the allowed tags, attributes and URL schemes (idempotent)."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener",
    )
