"""Offer descriptions: the shared Markdown renderer of the core (``marketplace.markdown``)."""

from marketplace.markdown import render_markdown  # noqa: F401
