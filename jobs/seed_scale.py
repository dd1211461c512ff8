"""The jobs' part of ``flask seed scale`` (registered by ``jobs.init_app``): job postings of the
approved partners and applications by verified alumni (without CV files)."""

from __future__ import annotations

from datetime import datetime, timedelta

from marketplace.seed_scale import ScaleSeeder
from marketplace.seed_scale_data import CONTRACTS, JOB_TITLES, LANGUAGES
from marketplace.seed_scale_rows import Picker
from marketplace.text import fold


def seed_jobs(seeder: ScaleSeeder) -> None:
    """Job postings: live ones published in the last 60 days, older ones ended."""
    seeder.jobs: list[tuple[int, datetime, datetime]] = []  # id, open from, open until
    if not seeder.partner_rows:
        return
    first_job = seeder.writer.next_id("jobs")
    first_language = seeder.writer.next_id("job_languages")
    statuses = Picker(
        seeder.rng,
        ["published", "closed", "expired", "archived", "draft", "submitted"],
        [55, 15, 20, 3, 4, 3],
    )
    contract = Picker(seeder.rng, [c for c, _w in CONTRACTS], [w for _c, w in CONTRACTS])
    remote = Picker(seeder.rng, ["onsite", "hybrid", "remote"], [55, 35, 10])
    partner_pick = Picker(
        seeder.rng,
        seeder.partner_rows,
        [1.0 / (i + 1) ** 0.6 for i in range(len(seeder.partner_rows))],
    )
    jobs, languages = [], []
    language_id = first_language
    for n in range(seeder.sizes.jobs):
        job_id = first_job + n
        partner_id, partner_name, partner_country, partner_city = partner_pick()
        title_fr, title_en = seeder.rng.choice(JOB_TITLES)
        country, city = (
            (partner_country, partner_city) if seeder.rng.random() < 0.7 else seeder.place()
        )
        status = statuses()
        kind = contract()
        published = listed_until = closed = submitted = None
        filled = None
        if status == "published":
            published = seeder.now - timedelta(seconds=seeder.rng.random() * 55 * 86400)
        elif status in ("closed", "expired", "archived"):
            published = seeder.moment(before=seeder.now - timedelta(days=61))
        if published is not None:
            listed_until = published + timedelta(days=60)
            submitted = published - timedelta(hours=seeder.rng.randint(2, 72))
            if status == "closed":
                closed = seeder.moment(after=published, before=listed_until)
                filled = seeder.rng.random() < 0.4
            seeder.jobs.append((job_id, published, min(closed or listed_until, seeder.now)))
        elif status == "submitted":
            submitted = seeder.now - timedelta(hours=seeder.rng.randint(1, 200))
        created = (submitted or seeder.now) - timedelta(hours=seeder.rng.randint(1, 96))
        salary_min = salary_max = currency = None
        if kind in ("permanent", "fixed_term", "vie") and seeder.rng.random() < 0.7:
            salary_min = seeder.rng.randrange(25_000, 70_000, 1000)
            salary_max = salary_min + seeder.rng.randrange(0, 30_000, 1000)
            currency = "EUR"
        description_fr = (
            f"{partner_name} recrute un·e {title_fr.lower()} à {city}. "
            "Vous rejoindrez une équipe internationale ; le français est un atout."
        )
        description_en = (
            f"{partner_name} is hiring a {title_en.lower()} in {city}. "
            "You will join an international team; French is a plus."
        )
        jobs.append(
            (
                job_id,
                partner_id,
                status,
                title_fr,
                title_en,
                description_fr,
                description_en,
                kind,
                country,
                city,
                remote(),
                salary_min,
                salary_max,
                currency,
                listed_until,
                filled,
                closed,
                fold(" ".join((title_fr, description_fr, city, partner_name))),
                fold(" ".join((title_en, description_en, city, partner_name))),
                created,
                closed or published or created,
                submitted,
                published,
            )
        )
        chosen = {code for code, weight in LANGUAGES if seeder.rng.random() * 100 < weight}
        for code in sorted(chosen or {"fr"}):
            languages.append((language_id, job_id, code))
            language_id += 1
    seeder.write_rows(
        "jobs",
        (
            "id",
            "partner_id",
            "status",
            "title_fr",
            "title_en",
            "description_fr",
            "description_en",
            "contract",
            "country",
            "city",
            "remote",
            "salary_min",
            "salary_max",
            "currency",
            "listed_until",
            "filled_through_network",
            "closed_at",
            "search_fr",
            "search_en",
            "created_at",
            "updated_at",
            "submitted_at",
            "published_at",
        ),
        jobs,
    )
    seeder.write_rows("job_languages", ("id", "job_id", "language"), languages)


def seed_applications(seeder: ScaleSeeder) -> None:
    """Applications of verified alumni, one per member and job, at every pipeline stage."""
    if not seeder.jobs or not seeder.verified or not seeder.sizes.applications:
        return
    first = seeder.writer.next_id("applications")
    statuses = Picker(
        seeder.rng,
        ["submitted", "in_review", "interview", "offer", "hired", "rejected", "withdrawn"],
        [30, 20, 10, 3, 2, 30, 5],
    )
    job_pick = Picker(
        seeder.rng, seeder.jobs, [1.0 / (i + 1) ** 0.5 for i in range(len(seeder.jobs))]
    )
    taken: set[tuple[int, int]] = set()
    rows = []
    attempts = 0
    target = seeder.sizes.applications
    while len(rows) < target and attempts < target * 3:
        attempts += 1
        job_id, opened, closed = job_pick()
        user_id = seeder.verified[int(seeder.rng.random() * len(seeder.verified))]
        if (job_id, user_id) in taken:
            continue
        taken.add((job_id, user_id))
        submitted = seeder.moment(after=opened, before=closed)
        status = statuses()
        changed = seeder.moment(after=submitted) if status != "submitted" else submitted
        rows.append(
            (
                first + len(rows),
                job_id,
                user_id,
                status,
                "Madame, Monsieur, votre offre correspond à mon parcours.",
                seeder.rng.random() < 0.5,
                submitted,
                changed,
                changed if status == "rejected" else None,
                changed if status == "withdrawn" else None,
            )
        )
    seeder.write_rows(
        "applications",
        (
            "id",
            "job_id",
            "user_id",
            "status",
            "cover_letter",
            "retention_consent",
            "submitted_at",
            "updated_at",
            "rejected_at",
            "withdrawn_at",
        ),
        rows,
    )
