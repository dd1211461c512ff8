"""Demo data of the treasury: the association's (fictional) identity printed on documents."""

from __future__ import annotations

from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.payments.models import AssociationDetails
from marketplace.seed import add_demo_step

DEMO_ASSOCIATION = {
    "name": "Association des anciens élèves des lycées français du monde (démo)",
    "address": "12 rue des Exemples\n75000 Paris\nFrance",
    # Fictional numbers that pass the checks (SIRET Luhn key, RNA shape).
    "siret": "12345678200010",
    "rna": "W751234567",
    "email": "tresorerie@example.org",
    "vat_note": "TVA non applicable, art. 293 B du CGI",
}


def seed_association() -> int:
    """The association's details, if no row exists yet."""
    if db.session.scalar(select(func.count(AssociationDetails.id))):
        return 0
    db.session.add(AssociationDetails(**DEMO_ASSOCIATION))
    return 1


add_demo_step("association details", seed_association, after="staff")
