"""Rows of the permission table for the treasury dashboard and exceptions queue (issue 6).

The summary API (``treasury_api.summary``) is already in tests/test_permissions.py.
"""

ROWS = {
    # endpoint:                 anon pend veri mod  tres adm
    "treasury.dashboard": (302, 403, 403, 403, 200, 200),
    "treasury.exceptions": (302, 403, 403, 403, 200, 200),
}
