"""What the benchmark asks of the app: queries, filters, sizes and the issue's targets.

Shared by ``benchmarks/run`` (the load) and ``benchmarks/explain.py`` (the plans), so both
look at the same requests.
"""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.seed_scale import SCALE_PASSWORD

PASSWORD = SCALE_PASSWORD
TREASURER_EMAIL = "treasurer@bench.example.org"
TREASURER_PASSWORD = "bench-treasurer-password-2026"  # noqa: S105 - benchmark database only
# Staff enrol their second factor through a mailed link: the benchmark's treasurer is given
# this secret directly (benchmark database only), and signs in with its current code.
TREASURER_TOTP_SECRET = "JBSWY3DPEHPK3PXPBENCHTREASURER22"  # noqa: S105

# Words people type, folded like the search text (seeded offer titles use them).
QUERIES = {
    "offers": ["vols", "hotels", "restaurants", "livres", "coworking", "concerts", "formations"],
    "jobs": ["developpeur", "marketing", "analyste", "designer", "comptable"],
}
# The visitor's and the member's search: words, a category and a country.
SEARCH_FILTERS = "q=hotels&category=travel&country=FR"
SEARCH_PATHS = [
    f"/offers/?q={word}&category={category}&country={country}"
    for word, category in (
        ("vols", "travel"),
        ("hotels", "travel"),
        ("restaurants", "food"),
        ("livres", "culture"),
        ("coworking", "services"),
        ("formations", "training"),
    )
    for country in ("FR", "US", "MA", "DE")
]
JOB_PATHS = [
    f"/jobs/?q={word}&country={country}"
    for word in QUERIES["jobs"]
    for country in ("FR", "US", "ES", "SN")
]

# ``seed scale`` options of each dataset: the target size, and a small one (1,000 offers,
# 2,000 payments) for the "does it grow with the data" ratios.
SIZES = {
    "full": {
        "alumni": 300_000,
        "partners": 3_000,
        "offers": 20_000,
        "jobs": 5_000,
        "redemptions": 1_000_000,
        "applications": 100_000,
        "payments": 200_000,
    },
    "small": {
        "alumni": 5_000,
        "partners": 150,
        "offers": 1_000,
        "jobs": 250,
        "redemptions": 50_000,
        "applications": 5_000,
        "payments": 2_000,
    },
    # For trying the script itself in a minute.
    "tiny": {
        "alumni": 2_000,
        "partners": 60,
        "offers": 400,
        "jobs": 100,
        "redemptions": 5_000,
        "applications": 1_000,
        "payments": 800,
    },
}


@dataclass(frozen=True)
class Scenario:
    """One load scenario: its key (in ``--json`` and ``--only``), its label and its target.

    ``min_ratio`` is the least share of the ceiling's requests/s (5.0: five times the
    ceiling); ``max_p99_multiple`` the most the p99 may be, in multiples of the ceiling's.
    """

    key: str
    label: str
    min_ratio: float | None = None
    max_p99_multiple: float | None = None
    integrity: bool = False  # the redemption limits must hold after the run
    nginx: bool = False  # served through nginx with docs/nginx-cache.conf (--nginx)


# In the order they run. Issue 17's targets (ratios to the ceiling of the same run).
SCENARIOS = (
    Scenario("visitor_offer_search", "offer search, visitor", 0.50),
    Scenario("visitor_job_search", "job search, visitor", 0.50),
    Scenario("visitor_offer_page", "offer page, visitor", 0.50),
    Scenario("signed_in_offer_search", "offer search, signed in", 0.12, 10.0),
    Scenario("signed_in_offer_page", "offer page, signed in", 0.10),
    Scenario("redemption", "API redemption (11 hot offers)", 0.08, integrity=True),
    Scenario("treasury_dashboard", "treasury dashboard, one year", 0.06),
    Scenario("nginx_visitor_offer_search", "offer search, visitor, nginx", 5.0, nginx=True),
    Scenario("nginx_visitor_job_search", "job search, visitor, nginx", 5.0, nginx=True),
    Scenario("nginx_visitor_offer_page", "offer page, visitor, nginx", 5.0, nginx=True),
)
BY_KEY = {scenario.key: scenario for scenario in SCENARIOS}
CEILING_LABEL = "ceiling (bare Flask JSON)"
# Run again on the small dataset: time at the target size over time at the small size (p50).
GROWTH_TARGETS = {
    "treasury_dashboard": (2.0, "dashboard, a year of payments (200,000 vs 2,000)"),
    "visitor_offer_search": (1.3, "offer search (20,000 vs 1,000 offers)"),
}
# Issue 17's Targets table, row by row: the scenarios each row holds (growth rows apart).
TARGET_ROWS = (
    (
        "visitor offer search, visitor job search, visitor offer page ≥ 50 %",
        ("visitor_offer_search", "visitor_job_search", "visitor_offer_page"),
    ),
    (
        "the same through nginx with the README's cache lines (`--nginx`) ≥ 5× the ceiling",
        ("nginx_visitor_offer_search", "nginx_visitor_job_search", "nginx_visitor_offer_page"),
    ),
    ("signed-in offer search ≥ 12 %, p99 ≤ 10× the ceiling's p99", ("signed_in_offer_search",)),
    ("signed-in offer page ≥ 10 %", ("signed_in_offer_page",)),
    ("API redemption (11 hot offers) ≥ 8 %, limits intact", ("redemption",)),
    ("treasury dashboard, one year ≥ 6 %", ("treasury_dashboard",)),
)
