"""GET /api/v1/categories."""

from __future__ import annotations

from flask_smorest import Blueprint
from sqlalchemy import select

from marketplace.catalog.models import Category
from marketplace.catalog.schemas import CategorySchema
from marketplace.extensions import db

bp = Blueprint("catalog_api", __name__, url_prefix="/categories", description="Offer categories")


@bp.get("")
@bp.response(200, CategorySchema(many=True))
def list_categories():
    """Every category, in the caller's language."""
    return db.session.scalars(select(Category).order_by(Category.position, Category.slug)).all()
