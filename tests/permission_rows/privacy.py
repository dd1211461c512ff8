"""Privacy pages (issue 7, points 1-2): public legal pages, the register and page edits for
admins, "my data" for anyone signed in; an unknown withdrawal token → 404."""

ROWS = {
    # endpoint:              anon pend veri mod  tres adm
    "privacy.policy": (200, 200, 200, 200, 200, 200),
    "privacy.legal_notice": (200, 200, 200, 200, 200, 200),
    "privacy.partners": (200, 200, 200, 200, 200, 200),
    "privacy.register": (302, 403, 403, 403, 403, 200),
    "privacy.edit": (302, 403, 403, 403, 403, 200),
    "privacy.me": (302, 200, 200, 200, 200, 200),
    "privacy.withdraw": (404, 404, 404, 404, 404, 404),
}
ARGUMENTS = {"page_slug": "privacy"}
