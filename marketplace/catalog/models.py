"""Schools of the network and categories of offers."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.extensions import db
from marketplace.i18n import localized


class School(db.Model):
    """A school of the network; alumni say which one they graduated from."""

    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    city: Mapped[str] = mapped_column(String(120))
    country: Mapped[str] = mapped_column(String(2), index=True)
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.city})"

    def __repr__(self) -> str:
        return f"<School {self.name!r}>"


class Category(db.Model):
    """A category of partner offers, named in French and English."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name_fr: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(default=0)

    @property
    def name(self) -> str:
        return localized(self, "name")

    def __repr__(self) -> str:
        return f"<Category {self.slug}>"
