"""Demo job postings and applications for ``flask seed demo`` (all people are fictional).

Postings of the demo partners (see ``partners.demo``) of several contracts, countries, remote
modes and languages, in French and English (one in French only, to show the fallback), at
every stage a visitor should see: published, closed (filled through the network), expired, a
draft and one waiting in the moderators' queue. The verified demo alumni apply to the open ones
with a small generated PDF CV, and the partner's owner moves the applications along the
pipeline (one carries a private note). Everything goes through the real services, so the
histories, search text, e-mails and audit log are what the site itself would have written.

Each step looks its rows up by a natural key (partner name + French title, job + member) and
creates only what is missing: running it twice changes nothing.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from jobs import application_services
from jobs import services as job_services
from jobs.models import ApplicationStatus, Job, JobStatus
from marketplace.accounts.models import User
from marketplace.accounts.services import find_user
from marketplace.database import utcnow
from marketplace.extensions import db
from marketplace.tasks import site_request_context
from partners.models import Partner, PartnerMember, TeamRole

logger = logging.getLogger(__name__)

MODERATOR = "moderator@example.org"


@dataclass(frozen=True)
class DemoJob:
    """A fictional posting; ``status`` is where the demo leaves it (published by default)."""

    partner: str
    terms: dict[str, Any]
    status: JobStatus = JobStatus.PUBLISHED


@dataclass(frozen=True)
class DemoApplication:
    """A demo alumnus's application to a posting (by French title) and where it stands."""

    job_title_fr: str
    email: str
    status: ApplicationStatus
    cover_letter: str
    note: str | None = None


def demo_jobs() -> list[DemoJob]:
    """The demo postings (dates relative to today)."""
    return [
        DemoJob(
            "Librairie Voltaire",
            {
                "title_fr": "Libraire (CDI)",
                "description_fr": (
                    "Vous conseillez nos lecteurs, gérez le rayon **littérature étrangère** "
                    "et animez les rencontres d'auteurs du jeudi soir."
                ),
                "contract": "permanent",
                "country": "FR",
                "city": "Paris",
                "remote": "onsite",
                "languages": ["fr"],
                "salary_min": 26000,
                "salary_max": 30000,
                "currency": "EUR",
            },
        ),
        DemoJob(
            "Librairie Voltaire",
            {
                "title_fr": "Stage en communication et réseaux sociaux",
                "title_en": "Communication and social media internship",
                "description_fr": "Six mois pour faire connaître la librairie en ligne.",
                "description_en": "Six months to make the bookshop known online.",
                "contract": "internship",
                "country": "FR",
                "city": "Paris",
                "remote": "hybrid",
                "languages": ["fr", "en"],
            },
        ),
        DemoJob(
            "Air Horizon",
            {
                "title_fr": "VIE analyste revenue management",
                "title_en": "VIE revenue management analyst",
                "description_fr": "Dix-huit mois à Singapour au sein de l'équipe tarifaire.",
                "description_en": "Eighteen months in Singapore with the pricing team.",
                "contract": "vie",
                "country": "SG",
                "city": "Singapore",
                "remote": "onsite",
                "languages": ["en", "fr"],
                "salary_min": 3200,
                "salary_max": 3200,
                "currency": "EUR",
            },
        ),
        DemoJob(
            "Air Horizon",
            {
                "title_fr": "Personnel navigant commercial",
                "title_en": "Cabin crew",
                "description_fr": "Basé à Casablanca, sur nos lignes vers l'Europe et l'Afrique.",
                "description_en": "Based in Casablanca, on our routes to Europe and Africa.",
                "contract": "fixed_term",
                "country": "MA",
                "city": "Casablanca",
                "remote": "onsite",
                "languages": ["ar", "en", "fr"],
            },
        ),
        DemoJob(
            "Air Horizon",
            {
                "title_fr": "Pilote de ligne A320",
                "title_en": "A320 airline pilot",
                "description_fr": "Commandant de bord ou copilote, qualification A320 exigée.",
                "description_en": "Captain or first officer, A320 type rating required.",
                "contract": "permanent",
                "country": "FR",
                "city": "Toulouse",
                "remote": "onsite",
                "languages": ["en", "fr"],
            },
            status=JobStatus.CLOSED,
        ),
        DemoJob(
            "Air Horizon",
            {
                "title_fr": "Développeur·se mobile",
                "title_en": "Mobile developer",
                "description_fr": "Notre application de réservation, en Kotlin et Swift.",
                "description_en": "Our booking app, in Kotlin and Swift.",
                "contract": "permanent",
                "country": "FR",
                "city": "Nantes",
                "remote": "hybrid",
                "languages": ["en", "fr"],
            },
            status=JobStatus.SUBMITTED,
        ),
        DemoJob(
            "CodeCamp Lisboa",
            {
                "title_fr": "Formateur·rice web en freelance",
                "title_en": "Freelance web trainer",
                "description_fr": "Animer des modules JavaScript de notre bootcamp, à distance.",
                "description_en": "Teach JavaScript modules of our bootcamp, remotely.",
                "contract": "freelance",
                "country": "PT",
                "city": "Lisboa",
                "remote": "remote",
                "languages": ["en", "fr", "pt"],
            },
        ),
        DemoJob(
            "CodeCamp Lisboa",
            {
                "title_fr": "Analyste de données junior",
                "title_en": "Junior data analyst",
                "description_fr": "Suivre la réussite de nos anciens élèves, en SQL et Python.",
                "description_en": "Follow our graduates' success, with SQL and Python.",
                "contract": "fixed_term",
                "country": "PT",
                "city": "Lisboa",
                "remote": "hybrid",
                "languages": ["en", "pt"],
                "apply_deadline": (utcnow() - timedelta(days=10)).date().isoformat(),
            },
            status=JobStatus.EXPIRED,
        ),
        DemoJob(
            "CodeCamp Lisboa",
            {
                "title_fr": "Alternance assistant·e pédagogique",
                "title_en": "Teaching assistant apprenticeship",
                "description_fr": "Accompagner les élèves du bootcamp pendant un an.",
                "description_en": "Support the bootcamp's students for a year.",
                "contract": "apprenticeship",
                "country": "PT",
                "city": "Porto",
                "remote": "onsite",
                "languages": ["pt", "en"],
            },
            status=JobStatus.DRAFT,
        ),
    ]


DEMO_APPLICATIONS: list[DemoApplication] = [
    DemoApplication(
        "Libraire (CDI)",
        "bruno@example.org",
        ApplicationStatus.IN_REVIEW,
        "Lecteur passionné, j'ai travaillé deux étés dans une librairie de Madrid.",
        note="Très bon profil, à rappeler en priorité après les vacances.",
    ),
    DemoApplication(
        "Libraire (CDI)",
        "chloe@example.org",
        ApplicationStatus.INTERVIEW,
        "Je souhaite revenir à Paris et faire découvrir la littérature vietnamienne.",
    ),
    DemoApplication(
        "Stage en communication et réseaux sociaux",
        "david@example.org",
        ApplicationStatus.REJECTED,
        "I run the social accounts of a small Montreal theatre.",
    ),
    DemoApplication(
        "VIE analyste revenue management",
        "alice@example.org",
        ApplicationStatus.SUBMITTED,
        "I would love to work in Singapore with a French airline.",
    ),
    DemoApplication(
        "VIE analyste revenue management",
        "chloe@example.org",
        ApplicationStatus.IN_REVIEW,
        "Diplômée en économie, je parle français, anglais et vietnamien.",
    ),
    DemoApplication(
        "Formateur·rice web en freelance",
        "david@example.org",
        ApplicationStatus.INTERVIEW,
        "Fifteen years of JavaScript, and I have taught evening classes.",
    ),
    DemoApplication(
        "Formateur·rice web en freelance",
        "bruno@example.org",
        ApplicationStatus.SUBMITTED,
        "Développeur web depuis dix ans, disponible deux jours par semaine.",
    ),
]


def demo_cv(full_name: str) -> bytes:
    """A small valid one-page PDF showing ``full_name`` (offsets computed, so it opens)."""
    text = full_name.encode("latin-1", "replace").replace(b"\\", b"").replace(b"(", b"")
    text = text.replace(b")", b"")
    stream = b"BT /F1 18 Tf 72 720 Td (" + text + b" - CV) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _moderator() -> User:
    moderator = find_user(MODERATOR)
    if moderator is None:
        raise RuntimeError(
            f"The demo moderator {MODERATOR} is missing (the staff step runs first)."
        )
    return moderator


def _owner(partner_id: int) -> User | None:
    return db.session.scalar(
        select(User)
        .join(PartnerMember, PartnerMember.user_id == User.id)
        .where(PartnerMember.partner_id == partner_id, PartnerMember.role == TeamRole.OWNER)
        .order_by(PartnerMember.id)
        .limit(1)
    )


def _find_job(partner_name: str, title_fr: str) -> Job | None:
    return db.session.scalar(
        select(Job)
        .join(Partner, Partner.id == Job.partner_id)
        .where(Partner.name == partner_name, Job.title_fr == title_fr)
    )


def _build_job(demo: DemoJob, partner: Partner, owner: User, moderator: User) -> Job:
    job = job_services.create_job(partner, actor=owner, data=demo.terms)
    if demo.status == JobStatus.DRAFT:
        return job
    job_services.submit_job(job, actor=owner)
    if demo.status == JobStatus.SUBMITTED:
        return job
    job_services.approve_job(job, actor=moderator)
    if demo.status == JobStatus.CLOSED:
        job_services.close_job(job, actor=owner, filled_through_network=True)
    elif demo.status == JobStatus.EXPIRED:
        # What the nightly task does to a posting whose application deadline has passed.
        job_services.expire_job(job)
    return job


def seed_jobs() -> int:
    """Postings of every contract and stage, through the partner and moderator services."""
    moderator = _moderator()
    created = 0
    with site_request_context():
        for demo in demo_jobs():
            partner = db.session.scalar(select(Partner).where(Partner.name == demo.partner))
            owner = _owner(partner.id) if partner is not None else None
            if partner is None or owner is None:
                continue
            if _find_job(demo.partner, demo.terms["title_fr"]) is not None:
                continue
            _build_job(demo, partner, owner, moderator)
            created += 1
    return created


def seed_applications() -> int:
    """Applications of the verified demo alumni with a PDF CV, at several pipeline stages."""
    partners = {demo.terms["title_fr"]: demo.partner for demo in demo_jobs()}
    created = 0
    with site_request_context():
        for demo in DEMO_APPLICATIONS:
            job = _find_job(partners[demo.job_title_fr], demo.job_title_fr)
            user = find_user(demo.email)
            if job is None or user is None or not user.is_verified_alumnus:
                continue
            if job.status != JobStatus.PUBLISHED or application_services.has_applied(job, user):
                continue
            owner = _owner(job.partner_id)
            if owner is None:
                continue
            slug = demo.email.split("@", 1)[0]
            application = application_services.apply_to_job(
                job=job,
                user=user,
                cv_stream=io.BytesIO(demo_cv(user.full_name)),
                cv_name=f"cv-{slug}.pdf",
                cover_letter=demo.cover_letter,
            )
            if demo.status != ApplicationStatus.SUBMITTED:
                application_services.change_status(
                    application=application, to_status=demo.status, actor=owner
                )
            if demo.note:
                application_services.add_note(application=application, author=owner, body=demo.note)
            created += 1
    return created
