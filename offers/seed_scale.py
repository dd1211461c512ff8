"""The offers' part of ``flask seed scale`` (registered by ``offers.init_app``): offers of the
approved partners, redemptions by verified alumni, and the placements paid featured payments
bought."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from marketplace.extensions import db
from marketplace.seed_scale import EMAIL_DOMAIN, ScaleSeeder
from marketplace.seed_scale_data import CODE_ALPHABET, GENERIC_NOUNS, OFFER_COLUMNS, OFFER_NOUNS
from marketplace.seed_scale_rows import Picker, period_key
from marketplace.text import fold
from offers.models import Offer


@dataclass
class ScaleOffer:
    """An offer as the redemption and payment steps need it."""

    id: int
    partner_id: int
    status: str
    method: str
    shared_code: str | None
    ttl: int | None
    per_member_limit: int
    period: str
    window: tuple[datetime, datetime] | None  # when it could be redeemed
    total_limit: int | None = None
    redeemed: int = 0


def seed_offers(seeder: ScaleSeeder) -> None:
    """Offers of approved partners: mostly published, dated over two years."""
    if not seeder.partner_rows:
        seeder.offers: list[ScaleOffer] = []
        return
    first_offer = seeder.writer.next_id("offers")
    first_country = seeder.writer.next_id("offer_countries")
    statuses = Picker(
        seeder.rng,
        [
            "published",
            "paused",
            "expired",
            "archived",
            "draft",
            "submitted",
            "changes_requested",
            "rejected",
        ],
        [75, 3, 10, 3, 4, 3, 1, 1],
    )
    methods = Picker(
        seeder.rng, ["shared_code", "generated_codes", "voucher", "link"], [45, 25, 15, 15]
    )
    periods = Picker(seeder.rng, ["ever", "month", "week"], [70, 18, 12])
    # A few big partners hold many offers (long tail).
    partner_pick = Picker(
        seeder.rng,
        seeder.partner_rows,
        [1.0 / (i + 1) ** 0.6 for i in range(len(seeder.partner_rows))],
    )
    category_pick = Picker(
        seeder.rng, seeder.categories or [(None, "")], [1] * max(len(seeder.categories), 1)
    )
    seeder.offers = []
    offer_rows, country_rows = [], []
    country_id = first_country
    for n in range(seeder.sizes.offers):
        offer_id = first_offer + n
        partner_id, partner_name, partner_country, partner_city = partner_pick()
        category_id, slug = category_pick()
        noun_fr, noun_en = seeder.rng.choice(OFFER_NOUNS.get(slug, GENERIC_NOUNS))
        pct = seeder.rng.choice((5, 10, 15, 20, 25, 30, 40, 50))
        online = seeder.rng.random() < 0.25
        city = (
            None if online else (partner_city if seeder.rng.random() < 0.7 else seeder.place()[1])
        )
        status = statuses()
        created = seeder.moment()
        published = starts = ends = submitted = None
        window = None
        if status in ("published", "paused", "expired", "archived"):
            submitted = created + timedelta(hours=seeder.rng.randint(1, 48))
            published = submitted + timedelta(hours=seeder.rng.randint(1, 72))
            if published >= seeder.now:
                published = seeder.now - timedelta(minutes=5)
            starts = published if seeder.rng.random() < 0.5 else None
            if status == "expired":
                ends = seeder.moment(after=published, before=seeder.now - timedelta(hours=1))
            elif status == "published" and seeder.rng.random() < 0.5:
                ends = seeder.now + timedelta(days=seeder.rng.randint(7, 365))
            window = (published, min(ends or seeder.now, seeder.now))
        elif status != "draft":
            submitted = created + timedelta(hours=seeder.rng.randint(1, 48))
        method = methods()
        period = periods()
        per_member = (
            1 if period == "ever" and seeder.rng.random() < 0.85 else seeder.rng.choice((1, 2, 3))
        )
        shared = f"ALUMNI{pct}-{offer_id}" if method == "shared_code" else None
        ttl = (
            seeder.rng.choice((15, 60))
            if method == "generated_codes" and seeder.rng.random() < 0.2
            else None
        )
        audience = "members" if seeder.rng.random() < 0.15 else "alumni"
        title_fr = f"-{pct} % sur {noun_fr} chez {partner_name}"
        title_en = f"{pct}% off {noun_en} at {partner_name}"
        summary_fr = f"Remise de {pct} % pour les anciens élèves du réseau."
        summary_en = f"{pct}% discount for alumni of the network."
        description_fr = (
            f"Présentez votre code pour bénéficier de {pct} % de réduction sur {noun_fr}."
            f"\n\nValable {'en ligne' if online else 'à ' + (city or '')}."
        )
        description_en = (
            f"Show your code to get {pct}% off {noun_en}."
            f"\n\nValid {'online' if online else 'in ' + (city or '')}."
        )
        search = {
            "fr": fold(
                " ".join(p for p in (title_fr, summary_fr, description_fr, city, partner_name) if p)
            ),
            "en": fold(
                " ".join(p for p in (title_en, summary_en, description_en, city, partner_name) if p)
            ),
        }
        english_only = seeder.rng.random() < 0.1
        offer_rows.append(
            (
                offer_id,
                partner_id,
                category_id,
                status,
                None if english_only else title_fr,
                title_en,
                None if english_only else summary_fr,
                summary_en,
                None if english_only else description_fr,
                description_en,
                city,
                online,
                starts,
                ends,
                audience,
                method,
                shared,
                f"https://partner{partner_id}.{EMAIL_DOMAIN}/alumni" if method == "link" else None,
                None,  # total_limit: set after the redemptions are drawn
                per_member,
                period,
                ttl,
                0,  # redeemed_count: idem
                "" if english_only else search["fr"],
                search["en"],
                created,
                published or submitted or created,
                submitted,
                published,
            )
        )
        seeder.offers.append(
            ScaleOffer(
                offer_id, partner_id, status, method, shared, ttl, per_member, period, window
            )
        )
        # Where it applies: the partner's country mostly, sometimes two, sometimes worldwide.
        draw = seeder.rng.random()
        countries: list[str] = []
        if online and draw < 0.4 or draw < 0.05:
            countries = []
        else:
            countries = [partner_country]
            if draw > 0.9:
                extra = seeder.country()[0]
                if extra != partner_country:
                    countries.append(extra)
        for code in countries:
            country_rows.append((country_id, offer_id, code))
            country_id += 1
    seeder.offer_rows = offer_rows
    seeder.offer_country_rows = country_rows


def seed_redemptions(seeder: ScaleSeeder) -> None:
    """Redemptions by verified alumni within each offer's dates and limits; then the
    offers themselves, with ``redeemed_count`` equal to their redemptions."""
    redeemable = [offer for offer in seeder.offers if offer.window is not None]
    redemptions: list[tuple] = []
    if redeemable and seeder.verified and seeder.sizes.redemptions:
        first = seeder.writer.next_id("redemptions")
        # Popular offers take most redemptions (Zipf-like).
        offer_pick = Picker(
            seeder.rng, redeemable, [1.0 / (i + 1) ** 0.8 for i in range(len(redeemable))]
        )
        used: Counter[tuple[int, int, str]] = Counter()
        verified = seeder.verified
        attempts = 0
        while (
            len(redemptions) < seeder.sizes.redemptions and attempts < seeder.sizes.redemptions * 3
        ):
            attempts += 1
            offer = offer_pick()
            user_id = verified[int(seeder.rng.random() * len(verified))]
            moment = seeder.moment(*offer.window)
            key = period_key(offer.period, moment)
            slot = (offer.id, user_id, key)
            sequence = used[slot] + 1
            if sequence > offer.per_member_limit:
                continue
            used[slot] = sequence
            offer.redeemed += 1
            code = voucher = expires = validated = None
            if offer.method == "shared_code":
                code = offer.shared_code
            elif offer.method == "generated_codes":
                code = "".join(seeder.rng.choices(CODE_ALPHABET, k=10))
            elif offer.method == "voucher":
                # The id makes it unique across runs; the random part makes it unguessable.
                voucher = f"{first + len(redemptions):x}-{seeder.rng.getrandbits(128):032x}"
                if seeder.rng.random() < 0.5:
                    validated = moment + timedelta(minutes=seeder.rng.randint(1, 600))
            if offer.ttl:
                expires = moment + timedelta(minutes=offer.ttl)
            redemptions.append(
                (
                    first + len(redemptions),
                    offer.id,
                    user_id,
                    key,
                    sequence,
                    code,
                    voucher,
                    moment,
                    expires,
                    validated,
                )
            )
    # A third of the offers that were published carry a total limit above what they gave.
    limits: dict[int, int] = {}
    for offer in seeder.offers:
        if offer.window is not None and seeder.rng.random() < 0.3:
            headroom = seeder.rng.choice((50, 200, 1000, 10000))
            offer.total_limit = offer.redeemed + headroom
            limits[offer.id] = offer.total_limit
    counts = {offer.id: offer.redeemed for offer in seeder.offers}
    limit_at = OFFER_COLUMNS.index("total_limit")
    count_at = OFFER_COLUMNS.index("redeemed_count")

    def offer_rows() -> Iterator[tuple]:
        for row in seeder.offer_rows:
            row = list(row)
            row[limit_at] = limits.get(row[0])
            row[count_at] = counts.get(row[0], 0)
            yield tuple(row)

    seeder.write_rows("offers", OFFER_COLUMNS, offer_rows())
    seeder.write_rows("offer_countries", ("id", "offer_id", "country"), seeder.offer_country_rows)
    seeder.write_rows(
        "redemptions",
        (
            "id",
            "offer_id",
            "user_id",
            "period_key",
            "sequence",
            "code",
            "voucher_token",
            "redeemed_at",
            "expires_at",
            "validated_at",
        ),
        redemptions,
    )
    del seeder.offer_rows, seeder.offer_country_rows


def write_featured_placements(seeder: ScaleSeeder) -> None:
    """The placements the paid featured payments bought; running ones list their offer first."""
    placements = seeder.paid_placements
    first = seeder.writer.next_id("featured_placements")
    featured_until: dict[int, datetime] = {}
    rows = []
    for n, (offer, payment_id, at, days) in enumerate(placements):
        ends = at + timedelta(days=days)
        rows.append((first + n, offer.id, payment_id, at, ends, at))
        if ends > seeder.now:
            featured_until[offer.id] = max(ends, featured_until.get(offer.id, ends))
    seeder.write_rows(
        "featured_placements",
        ("id", "offer_id", "payment_id", "starts_at", "ends_at", "created_at"),
        rows,
    )
    # Offers with a placement still running are listed first until it ends.
    for offer_id, until in featured_until.items():
        db.session.execute(
            Offer.__table__.update().where(Offer.id == offer_id).values(featured_until=until)
        )
