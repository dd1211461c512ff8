"""Public offer pages: listing with search and filters, the offer page."""

from __future__ import annotations

from flask import Blueprint

from offers import moderation, portal, wallet

bp = Blueprint("offers", __name__, url_prefix="/offers")
bp.register_blueprint(portal.bp)
bp.register_blueprint(moderation.bp)
bp.register_blueprint(wallet.bp)
