"""The partners' part of ``flask seed scale`` (registered by ``partners.init_app``): partner
plans, approved partners with their owners, and the periods paid partner plans bought."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.seed_scale import EMAIL_DOMAIN, ScaleSeeder
from marketplace.seed_scale_data import PARTNER_NAMES, PARTNER_PREFIXES, USER_COLUMNS
from marketplace.seed_scale_rows import Picker, slugify
from partners.models import PartnerPlan, PlanKind


def partner_plans() -> dict[str, tuple[int, str, int, int]]:
    """An active plan of each kind: (id, code, amount, days); created when missing."""
    defaults = {
        PlanKind.PARTNERSHIP: ("scale-partnership", "Partenariat annuel", 60000, 365),
        PlanKind.FEATURED: ("scale-featured", "Mise en avant 30 jours", 9900, 30),
    }
    plans: dict[str, tuple[int, str, int, int]] = {}
    for kind, (code, name, amount, days) in defaults.items():
        plan = db.session.scalar(
            select(PartnerPlan)
            .where(PartnerPlan.kind == kind, PartnerPlan.active.is_(True))
            .order_by(PartnerPlan.position, PartnerPlan.id)
            .limit(1)
        )
        if plan is None:
            plan = PartnerPlan(
                code=code,
                kind=kind,
                name_fr=name,
                name_en=name,
                amount=amount,
                currency="eur",
                days=days,
            )
            db.session.add(plan)
            db.session.flush()
        plans[str(kind.value)] = (plan.id, plan.code, plan.amount, plan.days)
    return plans


def seed_partners(seeder: ScaleSeeder) -> None:
    """Partner companies (mostly approved), each with an owner account (and the plans the
    payments step sells them)."""
    seeder.plans = partner_plans()
    first_partner = seeder.writer.next_id("partners")
    first_user = seeder.writer.next_id("users")
    first_member = seeder.writer.next_id("partner_members")
    statuses = Picker(seeder.rng, ["approved", "pending", "refused"], [95, 3, 2])
    partners, users, members = [], [], []
    seeder.partner_rows: list[tuple[int, str, str, str]] = []  # approved: id, name, country, city
    seeder.partner_owner: dict[int, tuple[int, str, str]] = {}
    for n in range(seeder.sizes.partners):
        partner_id = first_partner + n
        owner_id = first_user + n
        name = (
            f"{seeder.rng.choice(PARTNER_PREFIXES)} {seeder.rng.choice(PARTNER_NAMES)} {partner_id}"
        )
        country, city = seeder.place()
        applied = seeder.moment(before=seeder.now - timedelta(days=30))
        status = statuses()
        contact = seeder.person_name()
        email = f"partner{owner_id}@{EMAIL_DOMAIN}"
        users.append((owner_id, email, seeder.password_hash, contact, "fr", applied, applied, 1))
        partners.append(
            (
                partner_id,
                name,
                f"scale-{slugify(name)}",
                country,
                f"https://partner{partner_id}.{EMAIL_DOMAIN}",
                f"{name} : partenaire du réseau à {city}.",
                contact,
                email,
                status,
                "Activité hors du champ du réseau." if status == "refused" else None,
                applied,
                applied + timedelta(days=2) if status != "pending" else None,
            )
        )
        members.append((first_member + n, partner_id, owner_id, "owner", applied))
        if status == "approved":
            seeder.partner_rows.append((partner_id, name, country, city))
        seeder.partner_owner[partner_id] = (owner_id, contact, email)
    seeder.write_rows("users", USER_COLUMNS, users)
    seeder.write_rows(
        "partners",
        (
            "id",
            "name",
            "slug",
            "country",
            "website",
            "description",
            "contact_name",
            "contact_email",
            "status",
            "refusal_reason",
            "applied_at",
            "decided_at",
        ),
        partners,
    )
    seeder.write_rows(
        "partner_members",
        ("id", "partner_id", "user_id", "role", "created_at"),
        members,
    )


def write_plan_periods(seeder: ScaleSeeder) -> None:
    """The partnership periods the paid partner plan payments bought."""
    plan_periods = seeder.paid_plans
    first = seeder.writer.next_id("partner_plan_periods")
    seeder.write_rows(
        "partner_plan_periods",
        ("id", "partner_id", "plan_id", "starts_on", "ends_on", "payment_id", "created_at"),
        (
            (first + n, partner_id, plan_id, day, day + timedelta(days=days), payment_id, at)
            for n, (partner_id, plan_id, day, days, payment_id, at) in enumerate(plan_periods)
        ),
    )
