"""Demo data: schools, categories, tiers and fictional accounts, loaded by ``flask seed demo``.

Every step creates only what is missing (looked up by its natural key: school name, category
slug, tier code, e-mail), so running the demo seed twice changes nothing. Other packages add
their own steps (partners, offers, jobs) with ``add_demo_step``; steps run in list order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select

from marketplace import audit
from marketplace.accounts.models import AlumniProfile, User, VerificationStatus
from marketplace.accounts.services import (
    create_user,
    find_active_school,
    find_user,
    grant_role,
)
from marketplace.catalog.models import Category, School
from marketplace.database import utcnow
from marketplace.errors import InvalidInput
from marketplace.extensions import db
from marketplace.membership.models import MembershipTier

logger = logging.getLogger(__name__)

# One known password for every demo account (it passes the password policy).
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - public demo data, refused in production


# ---------------------------------------------------------------- accounts


def create_account(
    *,
    email: str,
    password: str,
    full_name: str | None = None,
    locale: str = "fr",
    roles: Iterable[str] = (),
    alumni: bool = False,
    verified: bool = False,
    school: School | None = None,
    totp_secret: str | None = None,
) -> User:
    """A confirmed account, optionally staff and/or alumnus (``verified`` implies alumnus)."""
    roles = list(roles)
    user = create_user(
        email=email,
        password=password,
        full_name=full_name or default_name(email),
        locale=locale,
    )
    user.email_confirmed_at = utcnow()
    for role in roles:
        grant_role(user, role, actor=None)
    if totp_secret:
        user.totp_secret = totp_secret
        user.totp_enabled_at = utcnow()
    if alumni or verified:
        profile = AlumniProfile(
            user=user,
            school=school,
            country=school.country if school else None,
            city=school.city if school else None,
        )
        db.session.add(profile)
        if verified:
            profile.status = VerificationStatus.VERIFIED
            profile.decided_at = utcnow()
    db.session.flush()
    if verified:
        # The moderators' history shows it as an approval made by no one (automatic).
        audit.record(
            "member.approved",
            actor=None,
            object_type="user",
            object_id=user.id,
            profile_id=user.alumni_profile.id,
            via="command",
        )
    logger.info("account %s created confirmed (roles %s)", user.id, sorted(roles))
    return user


def default_name(email: str) -> str:
    """``jean.dupont@x`` → ``Jean Dupont``: a placeholder the person can change."""
    local = email.split("@", 1)[0]
    words = local.replace(".", " ").replace("_", " ").replace("-", " ").split()
    return " ".join(word.capitalize() for word in words) or local


def find_school(name: str | None) -> School | None:
    """The active school of that name, else (no name) the first active school, else None."""
    if name:
        school = find_active_school(name)
        if school is None:
            raise InvalidInput(f"No active school is named {name!r}.")
        return school
    return db.session.scalar(
        select(School).where(School.active.is_(True)).order_by(School.id).limit(1)
    )


# ---------------------------------------------------------------- steps


@dataclass(frozen=True)
class SeedStep:
    """One idempotent part of the demo data; ``run`` returns how many rows it created."""

    name: str
    run: Callable[[], int]


def add_demo_step(name: str, run: Callable[[], int], *, after: str | None = None) -> None:
    """Register a step (once per name), at the end or right after the step named ``after``.

    A step whose ``after`` is not registered yet (its package is imported later) waits for it:
    the order holds whichever package the application imports first.
    """
    waiting = [step.name for steps in WAITING_STEPS.values() for step in steps]
    if name in waiting or any(step.name == name for step in DEMO_STEPS):
        return
    step = SeedStep(name, run)
    names = [existing.name for existing in DEMO_STEPS]
    if after is None:
        _place(step, len(DEMO_STEPS))
    elif after in names:
        _place(step, names.index(after) + 1)
    else:
        WAITING_STEPS.setdefault(after, []).append(step)


def _place(step: SeedStep, index: int) -> None:
    """Insert ``step`` at ``index``, then the steps that waited for it right after it."""
    DEMO_STEPS.insert(index, step)
    for follower in reversed(WAITING_STEPS.pop(step.name, [])):
        _place(follower, index + 1)


def add_demo_login(email: str, description: str) -> None:
    """List a demo account in what ``seed demo`` prints (once per e-mail)."""
    if all(existing != email for existing, _description in DEMO_LOGINS):
        DEMO_LOGINS.append((email, description))


def seed_demo() -> list[tuple[str, int]]:
    """Run every demo step (flushing after each); return (step name, rows created)."""
    report = []
    # Steps whose predecessor was never registered still run, last.
    left = [step for steps in WAITING_STEPS.values() for step in steps]
    for step in DEMO_STEPS + left:
        created = step.run()
        db.session.flush()
        report.append((step.name, created))
    return report


# ---------------------------------------------------------------- reference data

# Public institutions of the French schools-abroad network: (name, city, ISO country).
DEMO_SCHOOLS: list[tuple[str, str, str]] = [
    ("Lycée français Charles de Gaulle", "London", "GB"),
    ("Lycée Français de New York", "New York", "US"),
    ("Lycée français de Madrid", "Madrid", "ES"),
    ("Lycée Jean Mermoz", "Dakar", "SN"),
    ("Lycée Lyautey", "Casablanca", "MA"),
    ("Lycée Pasteur", "São Paulo", "BR"),
    ("Lycée Franco-Mexicain", "Mexico", "MX"),
    ("Lycée Français Jean Renoir", "Munich", "DE"),
    ("Lycée Français de Singapour", "Singapour", "SG"),
    ("Lycée Descartes", "Rabat", "MA"),
    ("Lycée Jean Monnet", "Bruxelles", "BE"),
    ("Lycée français Alexandre Yersin", "Hanoï", "VN"),
    ("Lycée français de Barcelone", "Barcelone", "ES"),
    ("Lycée Victor Hugo", "Marrakech", "MA"),
    ("Lycée français de Vienne", "Vienne", "AT"),
    ("Lycée Antoine de Saint-Exupéry", "Santiago", "CL"),
    ("Lycée Français International de Bangkok", "Bangkok", "TH"),
    ("Lycée français de Pondichéry", "Pondichéry", "IN"),
    ("Lycée franco-argentin Jean Mermoz", "Buenos Aires", "AR"),
    ("Lycée Français de San Francisco", "San Francisco", "US"),
    ("Lycée français de Toronto", "Toronto", "CA"),
    ("Lycée Gustave Flaubert", "La Marsa", "TN"),
    ("Lycée français du Caire", "Le Caire", "EG"),
    ("Grand Lycée Franco-Libanais", "Beyrouth", "LB"),
    ("Lycée Molière", "Rio de Janeiro", "BR"),
    ("Lycée français Charles Lepierre", "Lisbonne", "PT"),
    ("Lycée français de Shanghai", "Shanghai", "CN"),
    ("Lycée français international de Tokyo", "Tokyo", "JP"),
    ("Lycée Français International Georges Pompidou", "Dubaï", "AE"),
    ("Lycée français Chateaubriand", "Rome", "IT"),
]

# (slug, French name, English name), in display order.
DEMO_CATEGORIES: list[tuple[str, str, str]] = [
    ("travel", "Voyages", "Travel"),
    ("culture", "Culture", "Culture"),
    ("training", "Formation", "Training"),
    ("tech", "Tech", "Tech"),
    ("food", "Restauration", "Food"),
    ("services", "Services", "Services"),
]

# (code, French name, English name, amount in cents of EUR); 12 months each.
DEMO_TIERS: list[tuple[str, str, str, int]] = [
    ("young", "Jeune diplômé", "Young graduate", 1500),  # left school 5 years ago at most
    ("standard", "Standard", "Standard", 4000),
    ("benefactor", "Bienfaiteur", "Benefactor", 10000),
]

# Eligibility rules of the demo tiers: years since leaving school, at most.
DEMO_TIER_RULES: dict[str, int] = {"young": 5}


def seed_schools() -> int:
    """The network's schools, by name."""
    existing = set(db.session.scalars(select(School.name)))
    created = 0
    for name, city, country in DEMO_SCHOOLS:
        if name not in existing:
            db.session.add(School(name=name, city=city, country=country))
            created += 1
    return created


def seed_categories() -> int:
    """Offer categories, by slug."""
    existing = set(db.session.scalars(select(Category.slug)))
    created = 0
    for position, (slug, name_fr, name_en) in enumerate(DEMO_CATEGORIES, start=1):
        if slug not in existing:
            db.session.add(Category(slug=slug, name_fr=name_fr, name_en=name_en, position=position))
            created += 1
    return created


def seed_tiers() -> int:
    """Membership tiers, by code."""
    existing = set(db.session.scalars(select(MembershipTier.code)))
    created = 0
    for position, (code, name_fr, name_en, amount) in enumerate(DEMO_TIERS, start=1):
        if code not in existing:
            db.session.add(
                MembershipTier(
                    code=code,
                    name_fr=name_fr,
                    name_en=name_en,
                    amount=amount,
                    currency="EUR",
                    months=12,
                    position=position,
                    max_years_since_leaving=DEMO_TIER_RULES.get(code),
                )
            )
            created += 1
    return created


# ---------------------------------------------------------------- people (all fictional)

# Fixed, published TOTP secrets so that the demo staff can sign in: `flask users otp EMAIL`.
DEMO_STAFF: list[tuple[str, str, str, str]] = [
    ("admin@example.org", "Hélène Garnier", "admin", "DEMOADMINSECRETAAAAAAAAAAAAAAAAA"),
    ("moderator@example.org", "Marc Lefèvre", "moderator", "DEMOMODERATORSECRETBBBBBBBBBBBBB"),
    ("treasurer@example.org", "Sophie Dubois", "treasurer", "DEMOTREASURERSECRETCCCCCCCCCCCCC"),
]


@dataclass(frozen=True)
class DemoAlumnus:
    """A fictional alumnus of the demo, at one stage of verification."""

    email: str
    full_name: str
    school: str
    graduation_year: int
    city: str
    country: str
    locale: str = "fr"
    status: VerificationStatus = VerificationStatus.VERIFIED
    moderator_message: str | None = None
    refusal_reason: str | None = None


DEMO_ALUMNI: list[DemoAlumnus] = [
    DemoAlumnus(
        "alice@example.org",
        "Alice Morel",
        "Lycée français Charles de Gaulle",
        2012,
        "London",
        "GB",
        locale="en",
    ),
    DemoAlumnus(
        "bruno@example.org", "Bruno Petit", "Lycée français de Madrid", 2008, "Paris", "FR"
    ),
    DemoAlumnus(
        "chloe@example.org", "Chloé Nguyen", "Lycée français Alexandre Yersin", 2016, "Hanoï", "VN"
    ),
    DemoAlumnus(
        "david@example.org",
        "David Haddad",
        "Grand Lycée Franco-Libanais",
        2004,
        "Montréal",
        "CA",
        locale="en",
    ),
    DemoAlumnus(
        "emma@example.org",
        "Emma Diallo",
        "Lycée Jean Mermoz",
        2019,
        "Dakar",
        "SN",
        status=VerificationStatus.PENDING,
    ),
    DemoAlumnus(
        "farid@example.org",
        "Farid Benali",
        "Lycée Lyautey",
        2014,
        "Lyon",
        "FR",
        status=VerificationStatus.INFO_REQUESTED,
        moderator_message=(
            "Merci de joindre une copie de votre diplôme du baccalauréat ou un certificat "
            "de scolarité du lycée."
        ),
    ),
    DemoAlumnus(
        "gabriel@example.org",
        "Gabriel Souza",
        "Lycée Molière",
        2011,
        "Rio de Janeiro",
        "BR",
        status=VerificationStatus.REFUSED,
        refusal_reason="evidence_insufficient",
        moderator_message="Aucun justificatif ne permet de rattacher ce compte au lycée indiqué.",
    ),
]


DEMO_DECISIONS = {
    VerificationStatus.VERIFIED: "member.approved",
    VerificationStatus.INFO_REQUESTED: "member.info_requested",
    VerificationStatus.REFUSED: "member.refused",
}


def seed_staff() -> int:
    """Admin, moderator and treasurer, with two-factor already enrolled."""
    created = 0
    for email, full_name, role, secret in DEMO_STAFF:
        if find_user(email) is None:
            create_account(
                email=email,
                password=DEMO_PASSWORD,
                full_name=full_name,
                roles=[role],
                totp_secret=secret,
            )
            created += 1
    return created


def seed_alumni() -> int:
    """Verified, pending, asked-for-information and refused alumni."""
    moderator = find_user("moderator@example.org")
    schools = {school.name: school for school in db.session.scalars(select(School))}
    created = 0
    for person in DEMO_ALUMNI:
        if find_user(person.email) is not None:
            continue
        user = create_account(
            email=person.email,
            password=DEMO_PASSWORD,
            full_name=person.full_name,
            locale=person.locale,
        )
        now = utcnow()
        decided = person.status != VerificationStatus.PENDING
        profile = AlumniProfile(
            user=user,
            school=schools.get(person.school),
            graduation_year=person.graduation_year,
            city=person.city,
            country=person.country,
            status=person.status,
            decided_at=now if decided else None,
            decided_by_id=moderator.id if decided and moderator else None,
            refusal_reason=person.refusal_reason,
            moderator_message=person.moderator_message,
        )
        db.session.add(profile)
        db.session.flush()
        if decided:
            # The decision in the moderators' history, as if the demo moderator had made it.
            audit.record(
                DEMO_DECISIONS[person.status],
                actor=moderator,
                object_type="user",
                object_id=user.id,
                profile_id=profile.id,
                reason=person.refusal_reason,
                message=person.moderator_message,
            )
        created += 1
    return created


# Demo accounts of other packages that ``seed demo`` prints: (e-mail, what it shows).
DEMO_LOGINS: list[tuple[str, str]] = [
    ("alice@example.org", "verified alumna (English)"),
    ("bruno@example.org", "verified alumnus"),
    ("emma@example.org", "alumna waiting for verification"),
]

# Steps registered with an ``after`` step that is not registered yet, by that step's name.
WAITING_STEPS: dict[str, list[SeedStep]] = {}

DEMO_STEPS: list[SeedStep] = [
    SeedStep("schools", seed_schools),
    SeedStep("categories", seed_categories),
    SeedStep("membership tiers", seed_tiers),
    SeedStep("staff", seed_staff),
    SeedStep("alumni", seed_alumni),
]
