"""What the benchmark asks of the app: queries, filters, sizes and the issue's targets.

Shared by ``benchmarks/run`` (the load) and ``benchmarks/explain.py`` (the plans), so both
look at the same requests.
"""

from __future__ import annotations

from marketplace.seed_scale import SCALE_PASSWORD

PASSWORD = SCALE_PASSWORD
TREASURER_EMAIL = "treasurer@bench.example.org"
TREASURER_PASSWORD = "bench-treasurer-password-2026"  # noqa: S105 - benchmark database only

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

# Issue 8, point 3: (scenario, minimum share of the ceiling's requests/s, max p99 multiple).
RATIO_TARGETS = {
    "offer search, visitor": (0.35, None),
    "offer search, signed in": (0.15, 8.0),
    "offer page": (0.20, None),
    "redemption": (0.10, None),
}
# Time at the target size over time at the small size (p50), at most.
GROWTH_TARGETS = {
    "treasury dashboard, one year": 2.0,
    "offer search, visitor": 1.3,
}
